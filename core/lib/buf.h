/* Growable byte buffers with a hard maximum, in an arena. */
#ifndef TERN_CORE_LIB_BUF_H
#define TERN_CORE_LIB_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/str.h>

struct arena;

struct buf {
	struct arena *arena;
	char         *p;    /* always NUL-terminated */
	size_t        len;
	size_t        cap;
	size_t        max;  /* 0: SIZE_MAX */
};

void buf_init(struct buf *b, struct arena *a, size_t max);
/* False (buffer unchanged) when the maximum would be passed. */
bool buf_add(struct buf *b, const void *p, size_t n) TERN_MUST_CHECK;
bool buf_addc(struct buf *b, char c) TERN_MUST_CHECK;
bool buf_adds(struct buf *b, const char *s) TERN_MUST_CHECK;
bool buf_printf(struct buf *b, const char *fmt, ...) TERN_PRINTF(2, 3)
	TERN_MUST_CHECK;
void buf_clear(struct buf *b);

/* A copy of s with CR, LF and other controls shown as \r \n \xNN. */
char *str_printable(struct arena *a, const char *s, size_t len);
/* Case-insensitive ASCII compare. */
int str_casecmp(const char *a, const char *b);
char *str_lower(struct arena *a, const char *s);

#endif
