#include "lib/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

/*
 * Blocks are chained newest first.  A request larger than the default
 * block size gets a block of its own, so big messages do not waste room.
 */
struct block {
	struct block *prev;
	size_t        size;
	size_t        used;
	_Alignas(max_align_t) unsigned char data[];
};

struct arena {
	const char   *name;
	struct block *top;
};

#define BLOCK_SIZE 16384u
#define ALIGN      (sizeof(max_align_t))

struct arena *arena_perm, *arena_conn, *arena_msg, *arena_scratch;

void
arena_init_all(void)
{
	if (arena_perm != NULL)
		return;
	arena_perm = arena_new("perm");
	arena_conn = arena_new("conn");
	arena_msg = arena_new("msg");
	arena_scratch = arena_new("scratch");
}

struct arena *
arena_new(const char *name)
{
	struct arena *a = calloc(1, sizeof(*a));

	if (a == NULL)
		tern_panic("arena %s: out of memory", name);
	a->name = name;
	return a;
}

static struct block *
block_new(struct arena *a, size_t need)
{
	size_t size = need > BLOCK_SIZE ? need : BLOCK_SIZE;
	size_t total;
	struct block *b;

	if (__builtin_add_overflow(size, sizeof(struct block), &total))
		tern_panic("arena %s: allocation of %zu bytes overflows",
			a->name, need);
	b = malloc(total);
	if (b == NULL)
		tern_panic("arena %s: out of memory for %zu bytes", a->name,
			need);
	b->size = size;
	b->used = 0;
	b->prev = a->top;
	a->top = b;
	return b;
}

void *
arena_alloc(struct arena *a, size_t n)
{
	struct block *b = a->top;
	size_t need;

	if (__builtin_add_overflow(n, ALIGN - 1, &need))
		tern_panic("arena %s: allocation of %zu bytes overflows",
			a->name, n);
	need &= ~(ALIGN - 1);
	if (need == 0)
		need = ALIGN;
	if (b == NULL || b->size - b->used < need)
		b = block_new(a, need);
	b->used += need;
	return b->data + b->used - need;
}

void *
arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);

	memset(p, 0, n);
	return p;
}

char *
arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;
	char *p;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		tern_panic("arena %s: bad format \"%s\"", a->name, fmt);
	p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *
arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

struct arena_mark
arena_mark(struct arena *a)
{
	struct arena_mark m = { a->top, a->top ? a->top->used : 0 };

	return m;
}

void
arena_release(struct arena *a, struct arena_mark m)
{
	while (a->top != NULL && a->top != m.block) {
		struct block *prev = a->top->prev;

		free(a->top);
		a->top = prev;
	}
	if (a->top != NULL)
		a->top->used = m.used;
}

void
arena_reset(struct arena *a)
{
	while (a->top != NULL && a->top->prev != NULL) {
		struct block *prev = a->top->prev;

		free(a->top);
		a->top = prev;
	}
	if (a->top != NULL)
		a->top->used = 0;
}

void
arena_free(struct arena *a)
{
	arena_release(a, (struct arena_mark){ NULL, 0 });
	free(a);
}
