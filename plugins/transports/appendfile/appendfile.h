/*
 * appendfile's parts, free of the core so that unit tests link them:
 * mbox.c and maildir.c do the file work and call back to write the
 * message; lock.c does dot-file and fcntl locking.
 *
 * Every function that can fail fills err (errlen bytes) with a message
 * naming the file, and leaves errno as the failing call set it.
 */
#ifndef TERN_PLUGINS_TRANSPORTS_APPENDFILE_APPENDFILE_H
#define TERN_PLUGINS_TRANSPORTS_APPENDFILE_APPENDFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/rc.h>
#include <tern/str.h>

/* Write the message to fd: 0, or -1 with err filled and errno kept. */
typedef int (*af_writer_fn)(void *arg, int fd, char *err, size_t errlen);

struct af_lock_opts {
	bool use_lockfile;     /* path.lock, created with link() */
	bool use_fcntl;        /* F_SETLK on the open file */
	int  interval;         /* seconds between attempts */
	int  retries;          /* attempts before giving up */
	int  lockfile_timeout; /* seconds after which a lock file is stale */
	int  lockfile_mode;
};

enum af_create { AF_CREATE_ANYWHERE, AF_CREATE_BELOWHOME, AF_CREATE_INHOME };

/* The MTA's own quota (quota, quota_filecount, quota_is_inclusive). */
struct af_quota {
	uint64_t bytes;     /* 0 = none */
	uint64_t files;     /* a Maildir's files; 0 = none */
	bool     inclusive; /* the new message counts (Exim's default) */
	uint64_t msg_size;
};

/*
 * Is a mailbox of size bytes and files files full for a message?  NULL,
 * or the kind of quota it would exceed.
 */
const char *af_quota_exceeded(const struct af_quota *q, uint64_t size,
	uint64_t files);

struct mbox_params {
	const char    *path;
	int            mode;
	bool           mode_fail_narrower;
	bool           create_directory;
	int            directory_mode;
	bool           allow_symlink;
	bool           file_must_exist;
	bool           check_owner;
	enum af_create create_file;
	const char    *home;     /* for create_file; may be NULL */
	struct af_lock_opts lock;
	struct af_quota quota;   /* its files count is not used */
	af_writer_fn   write;
	void          *arg;
};

/*
 * Append to an mbox: open (creating it as allowed), lock, write, fsync.
 * On a failure after the file was opened it is truncated back to its
 * old size.  TERN_OK, or TERN_DEFER with err; *errno_out is the errno
 * behind a failure (0 when none).
 */
int mbox_deliver(const struct mbox_params *p, char *err, size_t errlen,
	int *errno_out) TERN_MUST_CHECK;

struct maildir_params {
	const char  *dir;
	bool         create_directory;
	int          directory_mode;
	int          mode;
	struct af_quota quota;
	const char  *tag;      /* maildir_tag: added to the name in new/ */
	af_writer_fn write;
	void        *arg;
	/*
	 * Called with arg just before the fsync that commits the link into
	 * new/ (ordered file systems only), to share that commit with
	 * another delivery (core sync_share).  NULL: none.
	 */
	int        (*share)(void *arg);
	/*
	 * spool_directory: new/ is fsynced unless it is on the spool's
	 * file system (and that orders metadata).  NULL: always fsync.
	 */
	const char  *spool_dir;
};

/* Deliver into dir/new via dir/tmp.  TERN_OK, or TERN_DEFER with err. */
int maildir_deliver(const struct maildir_params *p, char *err, size_t errlen,
	int *errno_out) TERN_MUST_CHECK;

/* "Maildir unique name: <sec>.M<usec>P<pid>Q<n>.<host>" into buf. */
void maildir_unique_name(char *buf, size_t len);

/*
 * What a Maildir delivery asks once per process (the host name, and
 * whether renames on the spool's file system need a directory fsync),
 * asked now: called by init, in the process that read the configuration,
 * so that the daemon's children inherit the answers.
 */
void maildir_prepare(const char *spool_dir);

/* Make err say what failed writing path (e the errno, may be 0). */
void af_write_error(char *err, size_t errlen, const char *path, int e);

/* mkdir -p path with mode.  0, or -1 with errno. */
int af_mkdir_p(const char *path, int mode);

/*
 * Take path.lock: *lockname_out (malloc'ed) names it for dotlock_release.
 * 0, or -1 with err (errno EAGAIN when it stayed locked).
 */
int dotlock_acquire(const char *path, const struct af_lock_opts *o,
	char **lockname_out, char *err, size_t errlen);
void dotlock_release(char *lockname);

/* fcntl write lock on fd, retried.  0, or -1 with err and errno. */
int fcntl_lock(int fd, const char *path, const struct af_lock_opts *o,
	char *err, size_t errlen);

#endif
