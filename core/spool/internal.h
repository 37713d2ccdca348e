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
#include <sys/types.h>

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

/*
 * openat(dfd, path, flags | O_NOATIME): a spool file's reads must not
 * update its atime, a change of the inode for the journal to commit (and
 * to wait for) on every delivery's first read of a file just written.
 * Without O_NOATIME where the process may not use it (it neither owns
 * the file nor has CAP_FOWNER: an admin's -bp); then no more tries.
 */
int spool_openat(int dfd, const char *path, int flags, mode_t mode);

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
/*
 * Parse a first line for whichever message it names: false when it is
 * not a first line, or does not name a valid message id.
 */
bool spool_first_line_any(const char *line, char id_out[MESSAGE_ID_LEN + 1],
	uint64_t *off_out);

/*
 * The check record, "C " and SPOOL_CHECK_HEX hex digits, follows the
 * header section's end line: the first half of the SHA-256 of the file's
 * bytes from SPOOL_FIRST_LINE_LEN up to the end line's end, or up to
 * SPOOL_CHECK_SPAN when the file is longer.  Only that part of a file can
 * ever have held another message (files of at most SPOOL_REUSE_SIZE bytes
 * go to pool/), so it tells a message from a mixture of two that a power
 * cut left.  See docs/spool.md.
 */
#define SPOOL_CHECK_HEX  32
#define SPOOL_CHECK_LEN  (2 + SPOOL_CHECK_HEX + 1)
#define SPOOL_CHECK_SPAN SPOOL_REUSE_SIZE

/*
 * The check digest of the bytes [SPOOL_FIRST_LINE_LEN, min(end,
 * SPOOL_CHECK_SPAN)): those before `from` read from fd, those from `from`
 * on taken from p.  0, or -1 with errno.
 */
int spool_check_digest(int fd, off_t from, const char *p, off_t end,
	char hex[SPOOL_CHECK_HEX + 1]) TERN_MUST_CHECK;

/*
 * This process has fd open for message id (committed or being received);
 * the next record goes at end.
 */
void spool_open_add(const char *id, int fd, bool committed, off_t end);
/*
 * The file open as fd is pool/slot, not yet input/ID-M ("" once it is).
 * spool_open_slot: that name, or NULL; spool_open_id: the message id;
 * spool_slot_open: does this process have pool/slot open as a message;
 * spool_parked_fd: the fd of committed message id kept in pool/, or -1.
 */
void spool_open_set_slot(int fd, const char *slot);
const char *spool_open_slot(int fd);
const char *spool_open_id(int fd);
bool spool_slot_open(const char *slot);
int spool_parked_fd(const char *id);
/* fd is closed (or replaced by new_fd, whose records end at new_end). */
void spool_open_drop(int fd, int new_fd, off_t new_end);
/*
 * Append a record to the message file open as fd: at the end of its
 * records, which is not the end of a file taken from pool/.  0 or -1.
 */
int spool_append(int fd, const char *p, size_t n) TERN_MUST_CHECK;
/*
 * Where the records of fd end, as this process wrote or read them, when
 * that is all the file holds: -1 when it is not known (a write failed
 * part way).  A file from before this boot holds nothing after them
 * either: its first locked read zeroed it (spool_read).
 */
off_t spool_open_end(int fd);
/*
 * One past the last byte of fd that is not NUL (0: all NULs), read from
 * the end: where the records end when nothing else tells (no record holds
 * a NUL, and a reused file is NULs after its content), and everything a
 * file holds, whatever a crash left.  -1 with errno on a read error.
 */
off_t spool_content_end(int fd);
/* Zeros over [off, off+len) of fd.  0, or -1 with errno. */
int spool_write_zeros(int fd, off_t off, off_t len);
/* Are the n bytes at p all NUL? */
bool spool_all_nul(const char *p, size_t n);
/* Fresh ids tried when a message file's name is taken. */
#define NEW_ID_TRIES 20

/*
 * The file open as fd is in the format before check records (no
 * -boot_id): it is never reused.
 */
void spool_open_legacy(int fd);
/* May the file open as fd be emptied for reuse (not a legacy file)? */
bool spool_open_reusable(int fd);
/* This boot's id (/proc/sys/kernel/random/boot_id), or "". */
const char *spool_boot_id(void);

/*
 * pool/: emptied message files kept for reuse (reuse.c).  A file of at
 * most SPOOL_REUSE_SIZE bytes, all NULs, whose blocks are allocated: a
 * message written into it is made durable by an fdatasync that commits
 * no metadata.
 *
 * spool_reuse_take: an emptied file from pool/, locked, its first line
 * "m->id not committed" (a fresh m->id when it has none), its name
 * (pool/N) into slot; -1 when there is none (or spool_reuse_max is 0).
 * It stays pool/N (parked, spool_data_park) until spool_reuse_name.
 */
int spool_reuse_take(struct message *m, char slot[16]);
/*
 * The file open as fd is still pool/N (spool_open_slot): rename it to
 * input/ID-M, never over another file.  0 (or nothing to do), -1 when
 * it stays in pool/ (logged to the paniclog).
 */
int spool_reuse_name(int fd);
/* Is reuse on (spool_reuse_max, spool_sync, a disk, a boot id)?  Cached. */
bool spool_reuse_on(void);
/*
 * Empty m's file (locked, open as m->data_fd) and move it to pool/
 * instead of removing it.  0, or -1 when it is not kept (too big, the
 * pool full, an error): the caller removes it.
 */
int spool_reuse_put(struct message *m);

/*
 * The file open (and locked) as fd, at path, whose first
 * line is `first`, holds another message than its name says (a crash
 * undid its renames): when that message is committed and matches its
 * check record, rename the file to input/ID-M and log it.  0 moved, 1 not
 * such a message (*err_out may say why), -1 the rename failed (logged).
 */
int spool_recover(const char *path, int fd, const char *first, char **err_out);

/* Apply the D records in text (the records after the header section). */
void spool_apply_records(struct message *m, const char *text, size_t len);

/* Add address to m->delivered (arena a) unless it is already there. */
void spool_add_delivered(struct arena *a, struct message *m,
	const char *address);

#endif
