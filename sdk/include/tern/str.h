/* Tern SDK: counted strings, and the tainted-string type. */
#ifndef TERN_STR_H
#define TERN_STR_H

#include <stddef.h>

/* printf-style checking: format string is argument f, values from a. */
#define TERN_PRINTF(f, a) __attribute__((format(printf, f, a)))
/* The result must be looked at (writes, fsync, rename ...). */
#define TERN_MUST_CHECK   __attribute__((warn_unused_result))

/* A view: not NUL-terminated in general, owned by someone else. */
struct tern_str {
	const char *p;
	size_t      len;
};

/* A view of a string literal: TERN_STR_LIT("abc") has len 3. */
#define TERN_STR_LIT(s) ((struct tern_str){ (s), sizeof(s) - 1 })

/*
 * Data that came from the network or from a user's file.  A different type
 * from struct tern_str so that it cannot be passed where a template or a
 * path is expected; see tern_core.untaint_check.
 */
struct tern_tainted {
	struct tern_str s;
};

#endif
