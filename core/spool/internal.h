/*
 * Shared by the spool's files: the header-section codec, field escaping,
 * the first line of ID-M, and the table of the ID-M files this process
 * has open (for spool_msglog).
 */
#ifndef TERN_CORE_SPOOL_INTERNAL_H
#define TERN_CORE_SPOOL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/*
 * The complete header section of m, up to and including its end line
 * (SPOOL_HEADER_END), into b.  False when b is full.
 */
bool spool_header_encode(struct buf *b, const struct message *m)
	TERN_MUST_CHECK;

/*
 * Parse the header section at the start of text (from file `path`, for
 * message m->id) into m, strings in arena a; *used_out is its length up
 * to and including its end line.  -1 with *err_out naming path and line
 * on any malformation.
 */
int spool_header_decode(struct arena *a, const char *path, const char *text,
	size_t len, struct message *m, size_t *used_out, char **err_out);

/*
 * About the last keep bytes of m's message log (whole lines, without
 * "L "); *dropped_out: older lines were left out.  For a rewrite, which
 * carries the log forward: it must not grow with every queue run.
 */
int spool_log_tail(const struct message *m, size_t keep, char **text_out,
	size_t *len_out, bool *dropped_out, char **err_out);

/* The line that ends the header section. */
#define SPOOL_HEADER_END "."

/* "ID-M 0123456789abcdef\n": the first line, and body_offset. */
#define SPOOL_FIRST_LINE_LEN (MESSAGE_ID_LEN + 2 + 1 + 16 + 1)

/* The first line of ID-M for id with header offset off into line. */
void spool_first_line(char line[SPOOL_FIRST_LINE_LEN + 1], const char *id,
	uint64_t off);
/* Parse a first line: false when it is not one for id. */
bool spool_first_line_parse(const char *line, const char *id,
	uint64_t *off_out);

/* Write all of [p, p+n) to fd (at its offset, or its end with O_APPEND). */

/* This process has fd open for message id (committed or being received). */
void spool_open_add(const char *id, int fd, bool committed);
/* fd is closed (or replaced by new_fd, when >= 0). */
void spool_open_drop(int fd, int new_fd);

/* spool_directory, or the built-in default. */
const char *spool_base(void);

/*
 * fsync spool_directory/input, unless spool_sync is false or the file
 * system of fd commits a new file's directory entry with the file's own
 * fsync (docs/spool.md).
 */
int spool_fsync_input(int fd, char **err_out) TERN_MUST_CHECK;

/* Apply the D records in text (the records after the header section). */
void spool_apply_records(struct message *m, const char *text, size_t len);

/* Add address to m->delivered (arena a) unless it is already there. */
void spool_add_delivered(struct arena *a, struct message *m,
	const char *address);

#endif
