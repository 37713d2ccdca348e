/* String expansion ($variables, ${lookup...}, ${if...} ...). */
#ifndef TERN_CORE_EXPAND_EXPAND_H
#define TERN_CORE_EXPAND_EXPAND_H

#include <stdbool.h>

struct tern_ctx;
struct arena;

/*
 * Expand tmpl in the context ctx (its message and current address give
 * the variables; ctx may be NULL for -be and main-option expansions).
 * Result in arena a.  TERN_OK, TERN_FAIL (forced failure), TERN_DEFER
 * (a lookup could not be done), TERN_ERROR (*err_out: bad template).
 */
int expand_string(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	char **out, char **err_out);

/* Look a variable up by name ("local_part"), NULL if unset/unknown. */
const char *expand_var(struct tern_ctx *ctx, const char *name);

#endif
