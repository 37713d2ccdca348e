/*
 * Hints databases: spool_directory/db/NAME, one LMDB file each (with
 * NAME-lock beside it).  Only hints: every caller copes with a missing,
 * unreadable or deleted database, and losing one loses no mail.
 *   retry           retry records (core/retry)
 *   wait-TRANSPORT  messages waiting for a host (-qq, remote transports)
 */
#ifndef TERN_CORE_HINTS_HINTS_H
#define TERN_CORE_HINTS_HINTS_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/*
 * The spool directory the databases live under; NULL (the default) means
 * spool_directory from the configuration.  The tools set it from their
 * command line.
 */
extern const char *hints_spool_override;

/* spool_directory/db/NAME (arena_scratch); NULL when name is unsafe. */
const char *hints_path(const char *db);

/*
 * Read key: TERN_OK with *val_out (a copy in arena a, NUL-terminated
 * beyond *len_out), TERN_FAIL not found (or no database), TERN_DEFER the
 * database cannot be used now (logged with -d).
 */
int hints_read(const char *db, const char *key, struct arena *a,
	void **val_out, size_t *len_out);

/* Store key (creating the database).  TERN_OK or TERN_DEFER. */
int hints_write(const char *db, const char *key, const void *val,
	size_t len);

/* Delete key.  TERN_OK (also when absent) or TERN_DEFER. */
int hints_delete(const char *db, const char *key);

/*
 * Walk every record in key order.  fn returns HINTS_KEEP, HINTS_DELETE
 * (only with write) or HINTS_STOP.  key and val are only valid during
 * the call; key is NUL-terminated.  0, 1 when the database does not
 * exist, -1 with *err_out (arena_scratch).
 */
enum { HINTS_KEEP = 0, HINTS_DELETE = 1, HINTS_STOP = 2 };
typedef int (*hints_walk_fn)(const char *key, const void *val, size_t len,
	void *arg);
int hints_walk(const char *db, bool write, hints_walk_fn fn, void *arg,
	char **err_out);

#endif
