/* Arenas: allocations that share a lifetime and are freed together. */
#ifndef TERN_CORE_LIB_ARENA_H
#define TERN_CORE_LIB_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include <tern/str.h>

struct arena;

struct arena_mark {
	void  *block;
	size_t used;
};

/*
 * The process-wide arenas.  perm: configuration, lives until exit.
 * conn: one SMTP connection.  msg: one message (reset after each message).
 * scratch: mark and release inside a function.
 */
extern struct arena *arena_perm, *arena_conn, *arena_msg, *arena_scratch;

void arena_init_all(void);
struct arena *arena_new(const char *name);
/* Never returns NULL: panics when memory runs out.  Aligned for any type. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) TERN_PRINTF(2, 3);
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
	TERN_PRINTF(2, 0);
struct arena_mark arena_mark(struct arena *a);
void arena_release(struct arena *a, struct arena_mark m);
/* Free everything but keep the first block for reuse. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
