/* Lookups through lookup modules, with handles cached per process. */
#ifndef TERN_CORE_LOOKUP_LOOKUP_H
#define TERN_CORE_LOOKUP_LOOKUP_H

struct tern_ctx;

/*
 * Look key up in file with lookup type (e.g. "lsearch"); for query types
 * file is NULL and key is the query.  The module is loaded on first use
 * (module_load_lookup) and its open handle cached for the process.
 * Value in arena_msg.  TERN_OK found, TERN_FAIL not found, TERN_DEFER
 * cannot tell now, TERN_ERROR bad type/file (*err_out).
 */
int lookup_find(struct tern_ctx *ctx, const char *type, const char *file,
	const char *key, char **value_out, char **err_out);

/* Is type a known lookup type name (loading its module)?  0 / -1. */
int lookup_check_type(const char *type, const char *where, char **err_out);

/* Close every cached handle (before fork of a long-lived process). */
void lookup_close_all(void);

#endif
