/*
 * Appending to an mbox file.  The file is opened without following
 * symbolic links and must be a regular file with one link; it is locked
 * (dot-file, then fcntl) before its size is taken, and a failed write
 * truncates it back, so a reader never sees half a message.
 */
#include "appendfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A failure: err from fmt and errno, *errno_out, TERN_DEFER. */
#define FAILED(fmt, ...) do { \
		int e_ = errno; \
		snprintf(err, errlen, fmt ": %s", __VA_ARGS__, strerror(e_)); \
		*errno_out = e_; \
		errno = e_; \
	} while (0)

static int
parent_dir(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n == 0 || n >= len)
		return -1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return 0;
}

/* Does create_file allow creating p->path? */
static int
may_create(const struct mbox_params *p, char *err, size_t errlen)
{
	char dir[4096];
	size_t hl;

	if (p->create_file == AF_CREATE_ANYWHERE)
		return 1;
	if (p->home == NULL || p->home[0] != '/' ||
	    parent_dir(p->path, dir, sizeof dir) < 0 ||
	    strstr(p->path, "/../") != NULL)
		goto out_refuse;
	hl = strlen(p->home);
	while (hl > 1 && p->home[hl - 1] == '/')
		hl--;
	if (p->create_file == AF_CREATE_INHOME) {
		if (strlen(dir) == hl && strncmp(dir, p->home, hl) == 0)
			return 1;
	} else if (strncmp(p->path, p->home, hl) == 0 && p->path[hl] == '/') {
		return 1;
	}
out_refuse:
	snprintf(err, errlen, "mailbox %s does not exist and create_file=%s "
		"forbids creating it (home %s)", p->path,
		p->create_file == AF_CREATE_INHOME ? "inhome" : "belowhome",
		p->home ? p->home : "unset");
	return 0;
}

/* Existing file: wider modes are narrowed; narrower ones refused. */
static int
check_mode(const struct mbox_params *p, int fd, const struct stat *st,
	char *err, size_t errlen, int *errno_out)
{
	int m = (int)(st->st_mode & 07777);

	if (m == p->mode)
		return 0;
	if ((m & ~p->mode) != 0) {
		if (fchmod(fd, (mode_t)p->mode) == 0)
			return 0;
		FAILED("failed to change the mode of mailbox %s to %o", p->path,
			p->mode);
		return -1;
	}
	if (!p->mode_fail_narrower)
		return 0;
	snprintf(err, errlen, "mailbox %s has the wrong mode %o (%o wanted)",
		p->path, m, p->mode);
	*errno_out = 0;
	return -1;
}

/* fd is what path named when we looked?  Checks on an existing file. */
static int
check_existing(const struct mbox_params *p, int fd, const struct stat *lst,
	char *err, size_t errlen, int *errno_out)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		FAILED("fstat of mailbox %s failed", p->path);
		return -1;
	}
	*errno_out = 0;
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "mailbox %s is not a regular file",
			p->path);
		return -1;
	}
	if (!S_ISLNK(lst->st_mode) &&
	    (st.st_dev != lst->st_dev || st.st_ino != lst->st_ino))
		return 1; /* replaced under us: look again */
	if (st.st_nlink != 1) {
		snprintf(err, errlen, "mailbox %s has too many links (%lu)",
			p->path, (unsigned long)st.st_nlink);
		return -1;
	}
	if (p->check_owner && st.st_uid != geteuid()) {
		snprintf(err, errlen, "mailbox %s is owned by uid %lu, not %lu",
			p->path, (unsigned long)st.st_uid,
			(unsigned long)geteuid());
		return -1;
	}
	return check_mode(p, fd, &st, err, errlen, errno_out);
}

static int
open_existing(const struct mbox_params *p, const struct stat *lst,
	int *fd_out, char *err, size_t errlen, int *errno_out)
{
	int flags = O_WRONLY | O_APPEND | O_NOCTTY | O_CLOEXEC | O_NONBLOCK;
	int fd, rc;

	*errno_out = 0;
	if (S_ISLNK(lst->st_mode) && !p->allow_symlink) {
		snprintf(err, errlen, "mailbox %s is a symbolic link", p->path);
		return -1;
	}
	if (!S_ISLNK(lst->st_mode) && !S_ISREG(lst->st_mode)) {
		snprintf(err, errlen, "mailbox %s is not a regular file",
			p->path);
		return -1;
	}
	if (!p->allow_symlink)
		flags |= O_NOFOLLOW;
	fd = open(p->path, flags);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		FAILED("failed to open mailbox %s", p->path);
		return -1;
	}
	rc = check_existing(p, fd, lst, err, errlen, errno_out);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

static void
sync_dir_of(const char *path)
{
	char dir[4096];
	int fd;

	if (parent_dir(path, dir, sizeof dir) < 0)
		return;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/* Create the file (and its directory).  0, 1 (exists now), -1. */
static int
create_new(const struct mbox_params *p, int *fd_out, char *err,
	size_t errlen, int *errno_out)
{
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW |
		O_NOCTTY | O_CLOEXEC;
	char dir[4096];
	int fd;

	*errno_out = 0;
	if (p->file_must_exist) {
		snprintf(err, errlen, "mailbox %s does not exist "
			"(file_must_exist is set)", p->path);
		return -1;
	}
	if (!may_create(p, err, errlen))
		return -1;
	fd = open(p->path, flags, p->mode);
	if (fd < 0 && errno == ENOENT && p->create_directory &&
	    parent_dir(p->path, dir, sizeof dir) == 0) {
		if (af_mkdir_p(dir, p->directory_mode) < 0) {
			FAILED("failed to create directory %s", dir);
			return -1;
		}
		fd = open(p->path, flags, p->mode);
	}
	if (fd < 0) {
		if (errno == EEXIST)
			return 1;
		FAILED("failed to create mailbox %s", p->path);
		return -1;
	}
	if (fchmod(fd, (mode_t)p->mode) < 0) {
		FAILED("failed to set the mode of mailbox %s", p->path);
		close(fd);
		return -1;
	}
	sync_dir_of(p->path);
	*fd_out = fd;
	return 0;
}

/* Open or create the mailbox, retrying a few races.  0 or -1. */
static int
open_mbox(const struct mbox_params *p, int *fd_out, char *err, size_t errlen,
	int *errno_out)
{
	struct stat lst;
	int rc;

	for (int tries = 0; tries < 10; tries++) {
		if (lstat(p->path, &lst) == 0)
			rc = open_existing(p, &lst, fd_out, err, errlen,
				errno_out);
		else if (errno == ENOENT)
			rc = create_new(p, fd_out, err, errlen, errno_out);
		else {
			FAILED("failed to stat mailbox %s", p->path);
			return -1;
		}
		if (rc <= 0)
			return rc;
	}
	snprintf(err, errlen, "mailbox %s keeps changing under us", p->path);
	*errno_out = 0;
	return -1;
}

/* Locked and open: check the quota, write, fsync; undo on failure. */
static int
append_locked(const struct mbox_params *p, int fd, char *err, size_t errlen,
	int *errno_out)
{
	struct stat st;
	int e;

	if (fstat(fd, &st) < 0) {
		FAILED("fstat of mailbox %s failed", p->path);
		return -1;
	}
	if (af_quota_exceeded(&p->quota, (uint64_t)st.st_size, 0) != NULL) {
		snprintf(err, errlen, "mailbox is full (MTA-imposed quota "
			"exceeded while writing to %s)", p->path);
		*errno_out = EDQUOT;
		return -1;
	}
	if (p->write(p->arg, fd, err, errlen) == 0 && fsync(fd) == 0)
		return 0;
	e = errno;
	af_write_error(err, errlen, p->path, e);
	*errno_out = e;
	if (ftruncate(fd, st.st_size) < 0) {
		size_t n = strlen(err);

		snprintf(err + n, errlen - n, "; truncating it back failed: %s",
			strerror(errno));
	}
	return -1;
}

/*
 * A new mailbox in a missing directory: make the directory first, as the
 * lock file goes there too.  0, or -1 with err.
 */
static int
prepare_dir(const struct mbox_params *p, char *err, size_t errlen,
	int *errno_out)
{
	char dir[4096];
	struct stat st;

	if (!p->create_directory || p->file_must_exist ||
	    lstat(p->path, &st) == 0 || errno != ENOENT ||
	    parent_dir(p->path, dir, sizeof dir) < 0 ||
	    stat(dir, &st) == 0 || errno != ENOENT)
		return 0;
	if (!may_create(p, err, errlen))
		return -1;
	if (af_mkdir_p(dir, p->directory_mode) == 0)
		return 0;
	FAILED("failed to create directory %s", dir);
	return -1;
}

int
mbox_deliver(const struct mbox_params *p, char *err, size_t errlen,
	int *errno_out)
{
	char *lockname = NULL;
	int fd = -1, rc = TERN_DEFER;

	*errno_out = 0;
	err[0] = '\0';
	if (prepare_dir(p, err, errlen, errno_out) < 0)
		return TERN_DEFER;
	if (p->lock.use_lockfile &&
	    dotlock_acquire(p->path, &p->lock, &lockname, err, errlen) < 0) {
		*errno_out = errno;
		return TERN_DEFER;
	}
	if (open_mbox(p, &fd, err, errlen, errno_out) < 0)
		goto out_unlock;
	if (p->lock.use_fcntl &&
	    fcntl_lock(fd, p->path, &p->lock, err, errlen) < 0) {
		*errno_out = errno;
		goto out_close;
	}
	if (append_locked(p, fd, err, errlen, errno_out) == 0)
		rc = TERN_OK;
out_close:
	if (close(fd) < 0 && rc == TERN_OK) {
		FAILED("error closing mailbox %s", p->path);
		rc = TERN_DEFER;
	}
out_unlock:
	dotlock_release(lockname);
	return rc;
}

const char *
af_quota_exceeded(const struct af_quota *q, uint64_t size, uint64_t files)
{
	uint64_t add = q->inclusive ? q->msg_size : 0;

	if (q->bytes > 0 && (size > q->bytes || add > q->bytes - size))
		return "quota";
	if (q->files > 0 && files + (q->inclusive ? 1 : 0) > q->files)
		return "file count quota";
	return NULL;
}

void
af_write_error(char *err, size_t errlen, const char *path, int e)
{
	char why[1024];

	if (e == ENOSPC || e == EDQUOT) {
		snprintf(err, errlen, "mailbox is full (writing to %s: %s)",
			path, strerror(e));
		return;
	}
	if (err[0] != '\0' && strstr(err, path) != NULL)
		return;
	snprintf(why, sizeof why, "%s", err[0] != '\0' ? err :
		e != 0 ? strerror(e) : "unknown error");
	snprintf(err, errlen, "error writing to %s: %s", path, why);
}

int
af_mkdir_p(const char *path, int mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *s = buf + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(buf, (mode_t)mode) < 0 && errno != EEXIST)
			return -1;
		*s = c;
		if (c == '\0')
			break;
	}
	return 0;
}
