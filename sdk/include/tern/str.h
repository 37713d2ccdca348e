/* Tern SDK: counted strings, and the tainted-string type. */
#ifndef TERN_STR_H
#define TERN_STR_H

#include <stddef.h>

#define TERN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define TERN_MUST_CHECK   __attribute__((warn_unused_result))

/* A view: not NUL-terminated in general, owned by someone else. */
struct tern_str {
	const char *p;
	size_t      len;
};

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
