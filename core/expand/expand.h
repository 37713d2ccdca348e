/* String expansion ($variables, ${lookup...}, ${if...} ...). */
#ifndef TERN_CORE_EXPAND_EXPAND_H
#define TERN_CORE_EXPAND_EXPAND_H

#include <stdbool.h>

#include <tern/core.h>

struct tern_ctx;
struct tern_tainted;
struct arena;

/*
 * Expand tmpl in the context ctx (its message and current address give
 * the variables; ctx may be NULL for -be and main-option expansions).
 * Result in arena a.  TERN_OK, TERN_FAIL (forced failure), TERN_DEFER
 * (a lookup could not be done), TERN_ERROR (*err_out: bad template).
 */
int expand_string(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	char **out, char **err_out);

/*
 * As expand_string, with $0..$(ncap-1) set from caps (a rewrite rule's
 * wildcards, for its replacement).
 */
int expand_string_caps(struct tern_ctx *ctx, struct arena *a,
	const char *tmpl, const char *const *caps, int ncap, char **out,
	char **err_out);

/*
 * As expand_string, and *is_tainted_out tells whether data from outside
 * (the network, a user's file) went into the result unvouched for: a
 * variable such as $local_part or $h_subject: that no lookup or check
 * produced.  What a lookup found ($value) and a local part a director
 * accepted by looking it up are clean.
 */
int expand_string_taint(struct tern_ctx *ctx, struct arena *a,
	const char *tmpl, char **out, bool *is_tainted_out, char **err_out);

/*
 * Expand tmpl for use as (or in) a file or command path; `what` names the
 * use in messages ("file", "command").  A tainted result is refused:
 * logged to the mainlog and paniclog, TERN_DEFER with *err_out, so the
 * address waits for an administrator instead of anything being opened
 * or run.  Otherwise as expand_string.
 */
int expand_path(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	const char *what, char **out, char **err_out);

/*
 * The tern_core services expand_path and expand_tainted (sdk tern/core.h),
 * in the arena of ctx (arena_msg when it has none).
 */
int expand_svc_path(struct tern_ctx *ctx, const char *tmpl, char **out,
	char **err_out);
int expand_svc_tainted(struct tern_ctx *ctx, const char *tmpl,
	char **clean_out, struct tern_tainted *tainted_out, char **err_out);

/*
 * The query of a query-style lookup item of a list of kind, expanded with
 * the item being matched as $domain (domain lists), $local_part (local
 * part lists; $domain from ctx's address), $local_part and $domain
 * (address lists) or $sender_host_address (host lists, without a
 * message).  ctx may be NULL.  *out in arena_msg.  As expand_string.
 */
int expand_list_query(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *item, const char *query, char **out, char **err_out);

/* Look a variable up by name ("local_part"), NULL if unset/unknown. */
const char *expand_var(struct tern_ctx *ctx, const char *name);

#endif
