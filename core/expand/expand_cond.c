/*
 * Conditions of ${if ...}: eq, eqi, match, exists, def:, numeric
 * comparisons, and{} / or{}, and "!" negation.
 */
#include "expand/expand_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/rc.h>

#include "lib/buf.h"

static int
number(struct xp *x, const char *s, long long *out)
{
	char *end;
	long long mult = 1;

	errno = 0;
	*out = strtoll(s, &end, 0);
	if (end != s && (*end == 'K' || *end == 'k')) {
		mult = 1024;
		end++;
	} else if (end != s && (*end == 'M' || *end == 'm')) {
		mult = 1024 * 1024;
		end++;
	}
	if (end == s || *end != '\0')
		return xp_error(x, TERN_ERROR, "\"%s\" is not a number", s);
	/* Beyond 64 bits, with or without its K or M: one message. */
	if (errno == ERANGE || __builtin_mul_overflow(*out, mult, out))
		return xp_error(x, TERN_ERROR, "\"%s\" is out of range", s);
	return TERN_OK;
}

/* ==, =, <, >, <=, >= on two numbers. */
static int
numeric(struct xp *x, const char *op, const char *a, const char *b,
	bool *res)
{
	long long na, nb;
	int rc;

	if ((rc = number(x, a, &na)) != TERN_OK ||
	    (rc = number(x, b, &nb)) != TERN_OK)
		return rc;
	if (strcmp(op, "==") == 0 || strcmp(op, "=") == 0)
		*res = na == nb;
	else if (strcmp(op, "<") == 0)
		*res = na < nb;
	else if (strcmp(op, ">") == 0)
		*res = na > nb;
	else if (strcmp(op, "<=") == 0)
		*res = na <= nb;
	else
		*res = na >= nb;
	return TERN_OK;
}

/* Two-argument conditions. */
static int
cond_two(struct xp *x, const char *name, bool skip, bool *res)
{
	char *a, *b;
	bool is_a_tainted;
	int rc;

	if ((rc = xp_arg(x, skip, &a)) != TERN_OK)
		return rc;
	is_a_tainted = x->arg_tainted;
	if ((rc = xp_arg(x, skip, &b)) != TERN_OK || skip)
		return rc;
	if (strcmp(name, "eq") == 0)
		*res = strcmp(a, b) == 0;
	else if (strcmp(name, "eqi") == 0)
		*res = str_casecmp(a, b) == 0;
	else if (strcmp(name, "match") == 0) {
		/* captures are pieces of the subject, and as tainted as it */
		rc = xp_regex_match(x, a, b, res);
		if (rc == TERN_OK && *res)
			x->is_cap_tainted = is_a_tainted;
		return rc;
	} else
		return numeric(x, name, a, b, res);
	return TERN_OK;
}

/* and {{c1}{c2}...} / or {{c1}{c2}...}, short-circuit. */
static int
cond_combine(struct xp *x, bool is_and, bool skip, bool *res)
{
	bool decided = false;
	int rc;

	*res = is_and;
	xp_skip_space(x);
	if (*x->p != '{')
		return xp_error(x, TERN_ERROR, "missing { after \"%s\"",
			is_and ? "and" : "or");
	x->p++;
	for (;;) {
		bool sub = false;

		xp_skip_space(x);
		if (*x->p == '}')
			break;
		if (*x->p != '{')
			return xp_error(x, TERN_ERROR, "missing { in \"%s\" list",
				is_and ? "and" : "or");
		x->p++;
		rc = xp_cond(x, skip || decided, &sub);
		if (rc != TERN_OK || (rc = xp_close(x, "condition")) != TERN_OK)
			return rc;
		if (!skip && !decided && sub != is_and) {
			*res = sub;
			decided = true;
		}
	}
	x->p++;
	return TERN_OK;
}

/* def:name or def:$name: the variable is set and not empty. */
static int
cond_def(struct xp *x, bool skip, bool *res)
{
	char name[64];
	struct xp_val v;

	if (*x->p != ':')
		return xp_error(x, TERN_ERROR, "\"def\" must be followed by \":\"");
	x->p++;
	if (*x->p == '$')
		x->p++;
	if (xp_header_name(x, name, sizeof(name), false)) {
		if (!skip && xp_header_var(x, name, &v))
			*res = v.s != NULL && v.s[0] != '\0';
		return TERN_OK;
	}
	if (xp_name(x, name, sizeof(name), false) == 0)
		return xp_error(x, TERN_ERROR, "missing variable name after def:");
	if (!xp_var(x, name, &v)) {
		if (skip)
			return TERN_OK;
		return xp_error(x, TERN_ERROR, "unknown variable name \"%s\"", name);
	}
	*res = v.s != NULL && v.s[0] != '\0';
	return TERN_OK;
}

static int
cond_one(struct xp *x, const char *name, bool skip, bool *res)
{
	char *a;
	int rc;

	if ((rc = xp_arg(x, skip, &a)) != TERN_OK || skip)
		return rc;
	if (strcmp(name, "exists") == 0) {
		*res = access(a, F_OK) == 0;
		return TERN_OK;
	}
	/* bool */
	if (str_casecmp(a, "true") == 0 || str_casecmp(a, "yes") == 0 ||
	    strcmp(a, "1") == 0)
		*res = true;
	else if (str_casecmp(a, "false") == 0 || str_casecmp(a, "no") == 0 ||
	    strcmp(a, "0") == 0 || a[0] == '\0')
		*res = false;
	else
		return xp_error(x, TERN_ERROR, "\"%s\" is not a boolean", a);
	return TERN_OK;
}

static size_t
cond_name(struct xp *x, char *name, size_t size)
{
	size_t n = 0;

	if (strchr("=<>", *x->p) == NULL || *x->p == '\0')
		return xp_name(x, name, size, false);
	while (*x->p != '\0' && strchr("=<>", *x->p) != NULL && n + 1 < size)
		name[n++] = *x->p++;
	name[n] = '\0';
	return n;
}

int
xp_cond(struct xp *x, bool skip, bool *res_out)
{
	static const char *const two[] = {
		"eq", "eqi", "match", "==", "=", "<", ">", "<=", ">=",
	};
	char name[32];
	bool neg = false, res = false;
	int rc = TERN_ERROR;

	xp_skip_space(x);
	while (*x->p == '!') {
		neg = !neg;
		x->p++;
		xp_skip_space(x);
	}
	if (cond_name(x, name, sizeof(name)) == 0)
		return xp_error(x, TERN_ERROR, "missing condition at \"%.20s\"", x->p);
	for (size_t i = 0; i < sizeof(two) / sizeof(two[0]); i++)
		if (strcmp(name, two[i]) == 0)
			rc = cond_two(x, name, skip, &res);
	if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0)
		rc = cond_combine(x, name[0] == 'a', skip, &res);
	else if (strcmp(name, "def") == 0)
		rc = cond_def(x, skip, &res);
	else if (strcmp(name, "exists") == 0 || strcmp(name, "bool") == 0)
		rc = cond_one(x, name, skip, &res);
	else if (rc == TERN_ERROR && x->rc == TERN_OK)
		return xp_error(x, TERN_ERROR, "unknown condition \"%s\"", name);
	if (rc != TERN_OK)
		return rc;
	*res_out = !skip && (res != neg);
	return TERN_OK;
}
