/* Shared by the spool's files: the -H codec and field escaping. */
#ifndef TERN_CORE_SPOOL_INTERNAL_H
#define TERN_CORE_SPOOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "spool/spool.h"

struct arena;
struct buf;

/*
 * Append s to b with '\\' as "\\\\" and control characters as "\xNN", so
 * that a field is one line and may be followed by a tab separator.
 */
bool spool_field_put(struct buf *b, const char *s) TERN_MUST_CHECK;
/* Undo spool_field_put on [s, s+len) into arena a; NULL if malformed. */
char *spool_field_get(struct arena *a, const char *s, size_t len);

/* The complete text of m's -H file into b.  False when b is full. */
bool spool_header_encode(struct buf *b, const struct message *m)
	TERN_MUST_CHECK;

/*
 * Parse the text of -H file `path` (for message m->id) into m, strings in
 * arena a.  -1 with *err_out naming path and line on any malformation.
 */
int spool_header_decode(struct arena *a, const char *path, const char *text,
	size_t len, struct message *m, char **err_out);

/* spool_directory, or the built-in default. */
const char *spool_base(void);

/* fsync spool_directory/input (unless spool_sync is false). */
int spool_fsync_input(char **err_out) TERN_MUST_CHECK;

/* Mark the addresses in the text of a -J file delivered in m. */
void spool_apply_journal(struct message *m, const char *text, size_t len);

/* Add address to m->delivered (arena a) unless it is already there. */
void spool_add_delivered(struct arena *a, struct message *m,
	const char *address);

#endif
