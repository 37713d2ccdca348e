/*
 * String expansion: the parser and the items ${lookup}, ${if}, ${sg}.
 * Variables are in expand_vars.c, conditions in expand_cond.c, operators
 * (${lc:...}) in expand_ops.c, extract in expand_extract.c.
 *
 * The parser is one recursive descent over the template.  Text that came
 * from a variable is only ever copied, never parsed again, so a local part
 * such as "${if ...}" stays literal.  Taint flows with the text: see
 * struct xp in expand_int.h.
 */
#include "expand/expand.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <tern/rc.h>

#include "deliver/ctx.h"
#include "expand/expand_int.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "lookup/lookup.h"
#include "spool/spool.h"

int (*xp_lookup_fn)(struct tern_ctx *ctx, const char *type,
	const char *file, const char *key, char **value_out, char **err_out)
	= lookup_find;

int
xp_error(struct xp *x, int rc, const char *fmt, ...)
{
	va_list ap;

	if (x->rc != TERN_OK)
		return x->rc;
	x->rc = rc;
	va_start(ap, fmt);
	x->err = arena_vprintf(x->a, fmt, ap);
	va_end(ap);
	return rc;
}

int
xp_add(struct xp *x, struct buf *out, const char *s, size_t n)
{
	if (!buf_add(out, s, n))
		return xp_error(x, TERN_ERROR, "expansion result longer than %u bytes",
			XP_MAX_OUT);
	return TERN_OK;
}

void
xp_skip_space(struct xp *x)
{
	while (*x->p == ' ' || *x->p == '\t' || *x->p == '\n' || *x->p == '\r')
		x->p++;
}

static bool
is_name_char(char c, bool is_type)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_')
		return true;
	return is_type && (c == '-' || c == '*' || c == '@');
}

size_t
xp_name(struct xp *x, char *name, size_t size, bool is_type)
{
	size_t n = 0;

	while (is_name_char(*x->p, is_type)) {
		if (n + 1 < size)
			name[n] = *x->p;
		n++;
		x->p++;
	}
	name[n < size ? n : size - 1] = '\0';
	return n;
}

int
xp_close(struct xp *x, const char *what)
{
	xp_skip_space(x);
	if (*x->p != '}')
		return xp_error(x, TERN_ERROR, "missing } at end of %s", what);
	x->p++;
	return TERN_OK;
}

int
xp_arg(struct xp *x, bool skip, char **val_out)
{
	bool was_tainted = x->is_tainted;
	struct buf b;
	int rc;

	xp_skip_space(x);
	if (*x->p != '{')
		return xp_error(x, TERN_ERROR, "missing { at \"%.20s\"", x->p);
	x->p++;
	buf_init(&b, x->a, XP_MAX_OUT);
	x->is_tainted = false;
	rc = xp_string(x, &b, skip, true);
	x->arg_tainted = x->is_tainted;
	x->is_tainted = was_tainted;
	if (rc != TERN_OK)
		return rc;
	if (*x->p != '}')
		return xp_error(x, TERN_ERROR, "missing } at end of argument");
	x->p++;
	*val_out = b.p;
	return TERN_OK;
}

/* "fail" as a word at the cursor. */
static bool
at_fail(struct xp *x)
{
	return strncmp(x->p, "fail", 4) == 0 && !is_name_char(x->p[4], false);
}

/*
 * $value is the value found inside {yes} only; the outer $value (of an
 * enclosing lookup) is back in force after it, and in {no}.
 */
int
xp_yes_no(struct xp *x, struct buf *out, bool skip, bool is_true,
	const char *value, bool is_value_tainted, const char *dflt,
	const char *what)
{
	const char *old_value = x->value;
	bool old_value_tainted = x->is_value_tainted, yes_t, no_t = false;
	char *yes = NULL, *no = NULL;
	bool has_fail = false;
	int rc;

	xp_skip_space(x);
	if (*x->p == '}') {
		x->p++;
		if (skip || !is_true || dflt == NULL)
			return TERN_OK;
		x->is_tainted |= is_value_tainted;
		return xp_add(x, out, dflt, strlen(dflt));
	}
	if (value != NULL) {
		x->value = value;
		x->is_value_tainted = is_value_tainted;
	}
	rc = xp_arg(x, skip || !is_true, &yes);
	yes_t = x->arg_tainted;
	x->value = old_value;
	x->is_value_tainted = old_value_tainted;
	if (rc != TERN_OK)
		return rc;
	xp_skip_space(x);
	if (*x->p == '{') {
		rc = xp_arg(x, skip || is_true, &no);
		no_t = x->arg_tainted;
	} else if (at_fail(x)) {
		x->p += 4;
		has_fail = true;
	}
	if (rc != TERN_OK || (rc = xp_close(x, what)) != TERN_OK || skip)
		return rc;
	if (is_true) {
		x->is_tainted |= yes_t;
		return xp_add(x, out, yes, strlen(yes));
	}
	if (has_fail)
		return xp_error(x, TERN_FAIL, "forced failure in %s", what);
	x->is_tainted |= no_t;
	return no != NULL ? xp_add(x, out, no, strlen(no)) : TERN_OK;
}

/* ${lookup{key}type{file}...} or ${lookup type{query}...} */
static int
item_lookup(struct xp *x, struct buf *out, bool skip)
{
	char type[64], *key = NULL, *file = NULL, *val = NULL, *lerr = NULL;
	bool found = false;
	int rc;

	xp_skip_space(x);
	if (*x->p == '{' && (rc = xp_arg(x, skip, &key)) != TERN_OK)
		return rc;
	xp_skip_space(x);
	if (xp_name(x, type, sizeof(type), true) == 0)
		return xp_error(x, TERN_ERROR, "missing lookup type in ${lookup");
	if ((rc = xp_arg(x, skip, key != NULL ? &file : &key)) != TERN_OK)
		return rc;
	if (!skip) {
		rc = xp_lookup_fn(x->ctx, type, file, key, &val, &lerr);
		if (rc == TERN_OK)
			found = true;
		else if (rc == TERN_DEFER)
			return xp_error(x, TERN_DEFER, "%s lookup of \"%s\" deferred: %s",
				type, key, lerr != NULL ? lerr : "unknown reason");
		else if (rc != TERN_FAIL)
			return xp_error(x, TERN_ERROR, "%s lookup of \"%s\": %s", type,
				key, lerr != NULL ? lerr : "failed");
	}
	/* What a lookup found vouches for itself: $value is clean. */
	return xp_yes_no(x, out, skip, found, val, false, val, "${lookup");
}

/* ${if cond {yes}{no}} */
static int
item_if(struct xp *x, struct buf *out, bool skip)
{
	bool res = false;
	int rc = xp_cond(x, skip, &res);

	if (rc != TERN_OK)
		return rc;
	return xp_yes_no(x, out, skip, res, NULL, false, "true", "${if");
}

/* ${sg{subject}{regex}{replacement}} */
static int
item_sg(struct xp *x, struct buf *out, bool skip)
{
	char *subj, *re, *repl, *res;
	bool is_t;
	int rc;

	if ((rc = xp_arg(x, skip, &subj)) != TERN_OK)
		return rc;
	is_t = x->arg_tainted;
	if ((rc = xp_arg(x, skip, &re)) != TERN_OK ||
	    (rc = xp_arg(x, skip, &repl)) != TERN_OK ||
	    (rc = xp_close(x, "${sg")) != TERN_OK || skip)
		return rc;
	is_t |= x->arg_tainted;
	if ((rc = xp_regex_subst(x, subj, re, repl, &res)) != TERN_OK)
		return rc;
	x->is_tainted |= is_t;
	return xp_add(x, out, res, strlen(res));
}

static const struct {
	const char *name;
	int (*fn)(struct xp *x, struct buf *out, bool skip);
} items[] = {
	{ "lookup", item_lookup },
	{ "if", item_if },
	{ "sg", item_sg },
	{ "extract", xp_item_extract },
};

/*
 * A variable's value goes into the output as it is (never expanded
 * again), and its taint with it — except in a branch that is skipped.
 */
static int
put_var(struct xp *x, struct buf *out, const char *name, bool skip)
{
	struct xp_val v;

	if (name[0] >= '0' && name[0] <= '9' && name[1] == '\0') {
		int i = name[0] - '0';

		v.s = i < x->ncap ? x->cap[i] : "";
		if (!skip)
			x->is_tainted |= x->is_cap_tainted;
		return xp_add(x, out, v.s, strlen(v.s));
	}
	if (xp_header_var(x, name, &v)) {
		/* found: fall through to the common tail below */
	} else if (!xp_var(x, name, &v)) {
		if (skip)
			return TERN_OK;
		return xp_error(x, TERN_ERROR, "unknown variable name \"%s\"", name);
	}
	if (v.s == NULL)
		return TERN_OK;
	if (!skip)
		x->is_tainted |= v.is_tainted;
	return xp_add(x, out, v.s, strlen(v.s));
}

/* ${op:arg} after the name and the colon. */
static int
braced_operator(struct xp *x, struct buf *out, const char *op, bool skip)
{
	struct buf arg;
	char *res;
	int rc;

	buf_init(&arg, x->a, XP_MAX_OUT);
	if ((rc = xp_string(x, &arg, skip, true)) != TERN_OK)
		return rc;
	if ((rc = xp_close(x, "operator argument")) != TERN_OK)
		return rc;
	rc = xp_operator(x, op, arg.p, &res);
	if (rc != TERN_OK)
		return skip ? (x->rc = TERN_OK) : rc;
	return xp_add(x, out, res, strlen(res));
}

/* After "${": a variable, an operator or an item. */
static int
braced(struct xp *x, struct buf *out, bool skip)
{
	char name[64];
	int rc = TERN_ERROR;

	if (++x->depth > XP_MAX_DEPTH)
		return xp_error(x, TERN_ERROR, "expansion nested too deeply");
	if (xp_header_name(x, name, sizeof(name), true)) {
		x->p++; /* the '}' */
		rc = put_var(x, out, name, skip);
		x->depth--;
		return rc;
	}
	if (xp_name(x, name, sizeof(name), false) == 0)
		return xp_error(x, TERN_ERROR, "missing name after \"${\"");
	if (*x->p == '}') {
		x->p++;
		rc = put_var(x, out, name, skip);
	} else if (*x->p == ':') {
		x->p++;
		rc = braced_operator(x, out, name, skip);
	} else {
		size_t i;

		for (i = 0; i < sizeof(items) / sizeof(items[0]); i++)
			if (strcmp(items[i].name, name) == 0)
				break;
		if (i == sizeof(items) / sizeof(items[0]))
			return xp_error(x, TERN_ERROR,
				"unknown expansion item \"%s\"", name);
		rc = items[i].fn(x, out, skip);
	}
	x->depth--;
	return rc;
}

static int
dollar(struct xp *x, struct buf *out, bool skip)
{
	char name[64];
	size_t n;

	x->p++;
	if (*x->p == '{') {
		x->p++;
		return braced(x, out, skip);
	}
	if (xp_header_name(x, name, sizeof(name), false))
		return put_var(x, out, name, skip);
	n = xp_name(x, name, sizeof(name), false);
	if (n == 0)
		return xp_error(x, TERN_ERROR,
			"\"$\" not followed by a name or \"{\" (use \\$ for a dollar)");
	if (n >= sizeof(name))
		return xp_error(x, TERN_ERROR, "variable name too long");
	return put_var(x, out, name, skip);
}

static int
escape(struct xp *x, struct buf *out)
{
	char c;

	x->p++;
	switch (*x->p) {
	case '\0':
		return xp_error(x, TERN_ERROR, "backslash at end of string");
	case 'n':
		c = '\n';
		break;
	case 't':
		c = '\t';
		break;
	case 'r':
		c = '\r';
		break;
	case 'N': { /* \N...\N: copied as it is (regular expressions) */
		const char *start = x->p + 1, *end = strstr(start, "\\N");
		size_t n = end != NULL ? (size_t)(end - start) : strlen(start);

		x->p = start + n + (end != NULL ? 2 : 0);
		return xp_add(x, out, start, n);
	}
	default:
		c = *x->p;
		break;
	}
	x->p++;
	return xp_add(x, out, &c, 1);
}

int
xp_string(struct xp *x, struct buf *out, bool skip, bool brace_ends)
{
	int rc = TERN_OK;

	while (*x->p != '\0' && rc == TERN_OK) {
		size_t n;

		if (*x->p == '}' && brace_ends)
			break;
		if (*x->p == '\\') {
			rc = escape(x, out);
			continue;
		}
		if (*x->p == '$') {
			rc = dollar(x, out, skip);
			continue;
		}
		n = strcspn(x->p + 1, brace_ends ? "\\$}" : "\\$") + 1;
		rc = xp_add(x, out, x->p, n);
		x->p += n;
	}
	return rc;
}

static const char *const header_prefixes[] = {
	"h_", "header_", "rh_", "rheader_", "bh_", "bheader_", NULL,
};

bool
xp_header_name(struct xp *x, char *name, size_t size, bool is_braced)
{
	const char *p = x->p, *start;
	size_t n;
	int i;

	for (i = 0; header_prefixes[i] != NULL; i++)
		if (strncmp(p, header_prefixes[i], strlen(header_prefixes[i])) == 0)
			break;
	if (header_prefixes[i] == NULL)
		return false;
	start = p + strlen(header_prefixes[i]);
	for (p = start; *p > ' ' && *p < 127 && *p != ':' && *p != '}'; p++)
		;
	if (p == start || *p != ':' || (is_braced && p[1] != '}'))
		return false;
	n = (size_t)(p - x->p);
	if (n >= size)
		return false;
	memcpy(name, x->p, n);
	name[n] = '\0';
	x->p = p + 1;
	return true;
}

/*
 * The expansion proper; *is_tainted_out may be NULL.  caps: $0..$9 to
 * start with (ncap of them), as a match left them.
 */
static int
expand_caps(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	const char *const *caps, int ncap, char **out, bool *is_tainted_out,
	char **err_out)
{
	struct xp x;
	struct buf b;
	int rc;

	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.a = a;
	x.p = tmpl;
	x.value = ctx != NULL ? ctx->lookup_value : NULL;
	for (int i = 0; i < ncap && i < XP_MAX_CAPTURES; i++)
		x.cap[x.ncap++] = caps[i] != NULL ? caps[i] : "";
	buf_init(&b, a, XP_MAX_OUT);
	rc = xp_string(&x, &b, false, false);
	if (rc == TERN_OK) {
		*out = b.p;
		if (is_tainted_out != NULL)
			*is_tainted_out = x.is_tainted;
		return TERN_OK;
	}
	if (err_out != NULL)
		*err_out = x.err != NULL ? x.err : arena_strdup(a, "expansion failed");
	return rc;
}

static int
expand_full(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	char **out, bool *is_tainted_out, char **err_out)
{
	return expand_caps(ctx, a, tmpl, NULL, 0, out, is_tainted_out,
		err_out);
}

int
expand_string_caps(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	const char *const *caps, int ncap, char **out, char **err_out)
{
	return expand_caps(ctx, a, tmpl, caps, ncap, out, NULL, err_out);
}

int
expand_string(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	char **out, char **err_out)
{
	return expand_full(ctx, a, tmpl, out, NULL, err_out);
}

int
expand_string_taint(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	char **out, bool *is_tainted_out, char **err_out)
{
	return expand_full(ctx, a, tmpl, out, is_tainted_out, err_out);
}

int
expand_path(struct tern_ctx *ctx, struct arena *a, const char *tmpl,
	const char *what, char **out, char **err_out)
{
	const char *id = ctx != NULL && ctx->msg != NULL ? ctx->msg->id : NULL;
	bool is_tainted = false;
	char *res = NULL;
	int rc = expand_full(ctx, a, tmpl, &res, &is_tainted, err_out);

	if (rc != TERN_OK)
		return rc;
	if (!is_tainted) {
		*out = res;
		return TERN_OK;
	}
	*err_out = arena_printf(a, "tainted %s \"%s\" (from \"%s\"): data "
		"from outside may not be used in a %s unless a lookup or a "
		"check produced it", what, str_printable(a, res, strlen(res)),
		tmpl, what);
	log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "%s", *err_out);
	return TERN_DEFER;
}

const char *
expand_var(struct tern_ctx *ctx, const char *name)
{
	struct xp x;
	struct xp_val v;

	memset(&x, 0, sizeof(x));
	x.ctx = ctx;
	x.a = arena_msg;
	x.value = ctx != NULL ? ctx->lookup_value : NULL;
	if (!xp_var(&x, name, &v))
		return NULL;
	return v.s;
}
