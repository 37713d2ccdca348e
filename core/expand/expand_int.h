/* Private to core/expand: the parser state shared by its files. */
#ifndef TERN_CORE_EXPAND_EXPAND_INT_H
#define TERN_CORE_EXPAND_EXPAND_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/buf.h"

struct tern_ctx;
struct arena;

#define XP_MAX_CAPTURES 10
#define XP_MAX_DEPTH    50   /* nesting of ${...} */
#define XP_MAX_OUT      (1024u * 1024) /* any one expansion result */

/*
 * A value produced while expanding, and whether it came from outside
 * (the network, a user's file) without a lookup or a check vouching
 * for it.
 */
struct xp_val {
	const char *s;
	bool        is_tainted;
};

/*
 * One expansion in progress.  `skip` means "parse only": the branch of an
 * ${if} not taken is read for syntax but its lookups are not done and its
 * "fail" does not fire.
 */
struct xp {
	struct tern_ctx *ctx;
	struct arena    *a;
	const char      *p;        /* cursor into the template */
	const char      *value;    /* $value in the current {yes} branch */
	const char      *cap[XP_MAX_CAPTURES]; /* $0..$9 from the last match */
	int              ncap;
	int              depth;
	int              rc;       /* first non-OK result */
	char            *err;
	/*
	 * Taint: is_tainted is true once tainted text went into the output
	 * being assembled.  xp_arg() expands its argument with a fresh flag,
	 * leaves that argument's taint in arg_tainted and restores
	 * is_tainted: an item ORs an argument's taint back in only when the
	 * argument (or something derived from it) is output, so the key of a
	 * lookup or the operands of a condition never taint the result.
	 */
	bool             is_tainted;
	bool             arg_tainted;
	bool             is_value_tainted; /* $value */
	bool             is_cap_tainted;   /* $0..$9 */
};

/* Set x->rc (if still OK) and a formatted error; returns rc. */
int xp_error(struct xp *x, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Expand from x->p up to the end of the template or, with brace_ends, an
 * unmatched '}' (not consumed), appending to out.  Text is assembled even
 * when skipping; only lookups, "fail" and errors of the skipped branch are
 * suppressed.  Returns TERN_OK or x->rc.
 */
int xp_string(struct xp *x, struct buf *out, bool skip, bool brace_ends);
/* Expect "{", expand the argument, expect "}": *val_out in x->a. */
int xp_arg(struct xp *x, bool skip, char **val_out);
void xp_skip_space(struct xp *x);
/* Expect '}' after optional space, naming `what` in the error. */
int xp_close(struct xp *x, const char *what);
/*
 * A name at x->p: letters, digits, '_' (and "-*@" for lookup types when
 * is_type).  Returns its length (0: none; the name is cut at size - 1).
 */
size_t xp_name(struct xp *x, char *name, size_t size, bool is_type);
/*
 * The optional "{yes}{no}" / "{yes}fail" part of ${if}, ${lookup} and
 * ${extract}, then the closing '}'.  With no branches the result is dflt
 * when is_true.  $value is `value` inside {yes}.
 */
int xp_yes_no(struct xp *x, struct buf *out, bool skip, bool is_true,
	const char *value, bool is_value_tainted, const char *dflt,
	const char *what);
/* Append to out, with an error when the result grows too long. */
int xp_add(struct xp *x, struct buf *out, const char *s, size_t n);

/*
 * The lookup function ${lookup} calls: lookup_find, replaced by unit
 * tests with a fake.
 */
extern int (*xp_lookup_fn)(struct tern_ctx *ctx, const char *type,
	const char *file, const char *key, char **value_out, char **err_out);

/* Variables (expand_vars.c).  false when the name is unknown. */
bool xp_var(struct xp *x, const char *name, struct xp_val *out);

/*
 * Header variables: name is "h_subject", "header_subject", "rh_…",
 * "bh_…" (without the colon).  false when name is not of that form.
 */
bool xp_header_var(struct xp *x, const char *name, struct xp_val *out);

/*
 * At x->p, "h_Name:" (or header_, rh_, rheader_, bh_, bheader_): put
 * "h_Name" in name, move past the colon and return true; otherwise leave
 * x->p alone and return false.  With is_braced, the colon must be followed
 * by '}' (so that ${h_3:text}, the hash operator, is not taken for one).
 */
bool xp_header_name(struct xp *x, char *name, size_t size, bool is_braced);

/* ${if cond ...}: parse (and evaluate unless skip) one condition. */
int xp_cond(struct xp *x, bool skip, bool *res_out);

/* Operators ${op:arg}: op is the full name ("length_3"). */
int xp_operator(struct xp *x, const char *op, const char *arg, char **out);

/* ${extract{...}...}: after the item name. */
int xp_item_extract(struct xp *x, struct buf *out, bool skip);

/* Regular expressions (PCRE2). */
int xp_regex_match(struct xp *x, const char *subject, const char *re,
	bool *matched_out);
int xp_regex_subst(struct xp *x, const char *subject, const char *re,
	const char *repl, char **out);

#endif
