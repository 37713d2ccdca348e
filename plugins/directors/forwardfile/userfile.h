/*
 * Reading a user's file (a .forward, or an :include: file it names) as
 * that user, and checking who owns it and who may write it.  Free of the
 * core, so that unit tests link it.
 */
#ifndef TERN_PLUGINS_DIRECTORS_FORWARDFILE_USERFILE_H
#define TERN_PLUGINS_DIRECTORS_FORWARDFILE_USERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Whom to read as: a user (has_ids), or ourselves. */
struct userfile_ids {
	bool        has_ids;
	uid_t       uid;
	gid_t       gid;
	const char *login; /* for initgroups; may be NULL */
};

/*
 * Read all of path (at most max bytes) into a malloc'ed, NUL-terminated
 * string.  When this process may regain root (root, or root kept as the
 * saved set-user-id: docs/process.md) and ids names someone else, the
 * file is opened with the effective ids and groups of that user, which
 * are restored before returning; otherwise it is opened as ourselves.
 * Returns 0 with *text_out and *st_out (fstat of what was opened), or -1
 * with errno (EFBIG past max; EPERM when the ids could not be changed).
 * Aborts if the original ids cannot be restored.
 */
int userfile_read(const char *path, const struct userfile_ids *ids,
	size_t max, char **text_out, struct stat *st_out);

/*
 * Will userfile_read open files with the rights of ids' user: true when
 * ids names no user, names ourselves, or we can switch to it.
 */
bool userfile_as_user(const struct userfile_ids *ids);

/* Who may own a file: owners and owngroups, resolved once (NULL: no check). */
struct userfile_owners {
	uid_t *owners;
	size_t nowners;
	gid_t *groups;
	size_t ngroups;
};

/*
 * Resolve the colon lists owners and owngroups (names or numbers; either
 * may be NULL) into *out's malloc'ed arrays.  Returns 0, or -1 with the
 * reason (the name that is no user or group) written into why.
 */
int userfile_owners_set(struct userfile_owners *out, const char *owners,
	const char *owngroups, char *why, size_t whylen);

/*
 * Is st acceptable?  Not a regular file, any bit of modemask set in its
 * mode, an owner outside owners[] or a group outside groups[] (each check
 * only when its array is not NULL) make it bad.  Returns NULL when it is
 * fine, else a description written into why.
 */
const char *userfile_check(const struct stat *st, int modemask,
	const uid_t *owners, size_t nowners, const gid_t *groups,
	size_t ngroups, char *why, size_t whylen);

#endif
