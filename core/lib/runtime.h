/* Facts about this process and its invocation, set up by main(). */
#ifndef TERN_CORE_LIB_RUNTIME_H
#define TERN_CORE_LIB_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>

struct runtime {
	const char  *progname;     /* basename of argv[0] */
	const char  *self_exe;     /* path of the running binary, for re-exec */
	const char  *config_file;  /* -C, or the default */
	const char **defines;      /* -D NAME=VALUE given, NULL-terminated */
	char       **argv;         /* as started, for SIGHUP re-exec */
	uid_t        real_uid;     /* the caller */
	gid_t        real_gid;
	const char  *caller_login; /* the caller's login name */
	bool         caller_trusted; /* root, tern_user, trusted_users */
	uid_t        tern_uid;     /* tern_user, or the caller when not root */
	gid_t        tern_gid;
	bool         started_as_root;
	bool         debug;        /* -d */
};

extern struct runtime rt;

/*
 * Run as tern_uid/tern_gid: real and effective ids change, supplementary
 * groups are dropped.  Started as root, root stays only as the saved
 * set-user-id, so that a delivery process can take it back (with
 * runtime_regain_root) to switch to a recipient for a local delivery;
 * files written meanwhile (the spool) belong to tern_user.  A no-op when
 * not started as root.  Dies (tern_die) when it cannot.
 */
void runtime_drop_privilege(void);

/*
 * Become tern_uid/tern_gid for good: no saved root.  For processes that
 * read network data (the SMTP reception process).  A no-op when not
 * started as root.  Dies when it cannot.
 */
void runtime_drop_privilege_for_good(void);

/* Delivery: take root back (only possible when started as root). */
bool runtime_regain_root(void);

/*
 * Give up the saved root for good, staying tern_uid/tern_gid, without
 * taking root back first (so that no failure can leave the process
 * root).  Dies (tern_die) when it cannot.  A no-op when not started as
 * root.
 */
void runtime_give_up_root(void);

/* Switch for good to uid/gid (a local delivery child).  -1 on failure. */
int runtime_become_user(uid_t uid, gid_t gid, bool init_groups,
	const char *login);

#endif
