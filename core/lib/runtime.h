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
 * Drop to tern_uid/tern_gid for good (no saved root).  A no-op when not
 * running as root.  Dies (tern_die) when it cannot.
 */
void runtime_drop_privilege(void);

#endif
