#include "lib/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "lib/arena.h"

void
buf_init(struct buf *b, struct arena *a, size_t max)
{
	b->arena = a;
	b->cap = 64;
	b->p = arena_alloc(a, b->cap);
	b->p[0] = '\0';
	b->len = 0;
	b->max = max ? max : SIZE_MAX - 1;
}

static bool
buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (__builtin_add_overflow(b->len, n, &want) || want > b->max)
		return false;
	if (want < b->cap)
		return true;
	cap = b->cap;
	while (cap <= want)
		if (__builtin_mul_overflow(cap, 2, &cap))
			return false;
	p = arena_alloc(b->arena, cap);
	memcpy(p, b->p, b->len + 1);
	b->p = p;
	b->cap = cap;
	return true;
}

bool
buf_add(struct buf *b, const void *p, size_t n)
{
	if (!buf_grow(b, n))
		return false;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return true;
}

bool
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

bool
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

bool
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !buf_grow(b, (size_t)n))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

void
buf_clear(struct buf *b)
{
	b->len = 0;
	b->p[0] = '\0';
}

char *
str_printable(struct arena *a, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *out = arena_alloc(a, len * 4 + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			*o++ = '\\'; *o++ = 'r';
		} else if (c == '\n') {
			*o++ = '\\'; *o++ = 'n';
		} else if (c == '\\') {
			*o++ = '\\'; *o++ = '\\';
		} else if (c < 0x20 || c == 0x7f) {
			*o++ = '\\'; *o++ = 'x';
			*o++ = hex[c >> 4]; *o++ = hex[c & 15];
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

int
str_casecmp(const char *a, const char *b)
{
	for (;; a++, b++) {
		int ca = (unsigned char)*a, cb = (unsigned char)*b;

		if (ca >= 'A' && ca <= 'Z')
			ca += 'a' - 'A';
		if (cb >= 'A' && cb <= 'Z')
			cb += 'a' - 'A';
		if (ca != cb || ca == 0)
			return ca - cb;
	}
}

char *
str_lower(struct arena *a, const char *s)
{
	char *p = arena_strdup(a, s);

	for (char *q = p; *q; q++)
		if (*q >= 'A' && *q <= 'Z')
			*q += 'a' - 'A';
	return p;
}
