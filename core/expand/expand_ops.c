/*
 * Operators ${name:argument} and the ${extract} item.
 */
#include "expand/expand_int.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tern/rc.h>

#include "expand/quote.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "modules/modules.h"

static const char hash_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/* "length_3" with prefix "length" -> 3 numbers parsed into n[]. */
static int
op_numbers(const char *op, const char *prefix, long n[2])
{
	size_t pl = strlen(prefix);
	const char *p = op + pl;
	int count = 0;

	if (strncmp(op, prefix, pl) != 0)
		return -1;
	while (*p == '_' && count < 2) {
		char *end;

		errno = 0;
		n[count] = strtol(p + 1, &end, 10);
		if (end == p + 1)
			return -1;
		/* out of range: a negative value, which every user rejects */
		if (errno == ERANGE || n[count] > INT_MAX)
			n[count] = LONG_MIN;
		count++;
		p = end;
	}
	return *p == '\0' ? count : -1;
}

/*
 * ${hash_N_M:s}: N characters chosen from the first M (default 26) of
 * [a-zA-Z0-9], mixing every byte of s; s itself when not longer than N.
 * Exim's textual hash, so hashed directory layouts stay compatible.
 */
static int
op_hash(struct xp *x, long n, long m, const char *s, char **out)
{
	size_t len = strlen(s);
	unsigned char *h;

	if (m <= 0 || (size_t)m > sizeof(hash_chars) - 1 || n <= 0)
		return xp_error(x, TERN_ERROR, "bad arguments to ${hash: %ld, %ld",
			n, m);
	if ((size_t)n >= len) {
		*out = arena_strdup(x->a, s);
		return TERN_OK;
	}
	h = (unsigned char *)arena_strdup(x->a, s);
	for (size_t j = (size_t)n, i = 0; j < len; j++) {
		unsigned c = (unsigned char)s[j];
		unsigned shift = (c + (unsigned)j) & 7;

		h[i] ^= (unsigned char)((c << shift) | (c >> (8 - shift)));
		if (++i >= (size_t)n)
			i = 0;
	}
	for (long i = 0; i < n; i++)
		h[i] = (unsigned char)hash_chars[h[i] % (unsigned long)m];
	h[n] = '\0';
	*out = (char *)h;
	return TERN_OK;
}

/* ${nhash_N:s} -> 0..N-1; ${nhash_N_M:s} -> "a/b" with a < N, b < M. */
static int
op_nhash(struct xp *x, int count, const long nm[2], const char *s, char **out)
{
	static const unsigned primes[] = {
		2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59,
		61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113,
	};
	const size_t np = sizeof(primes) / sizeof(primes[0]);
	unsigned long total = 0;
	size_t i = 0;

	if (count < 1 || nm[0] <= 0 || (count == 2 && nm[1] <= 0))
		return xp_error(x, TERN_ERROR, "bad arguments to ${nhash:");
	for (; *s != '\0'; s++) {
		if (i == 0)
			i = np - 1;
		total += primes[i--] * (unsigned char)*s;
	}
	if (count == 1) {
		*out = arena_printf(x->a, "%lu", total % (unsigned long)nm[0]);
		return TERN_OK;
	}
	/* both at most INT_MAX (op_numbers), so the product fits */
	total = (unsigned long)(total %
		((unsigned long long)nm[0] * (unsigned long long)nm[1]));
	*out = arena_printf(x->a, "%lu/%lu", total / (unsigned long)nm[1],
		total % (unsigned long)nm[1]);
	return TERN_OK;
}

/* The addr-spec of "Name <a@b>" or "a@b". */
static char *
addr_spec(struct xp *x, const char *s)
{
	const char *lt = strrchr(s, '<'), *gt;

	if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
		return arena_strndup(x->a, lt + 1, (size_t)(gt - lt - 1));
	while (*s == ' ' || *s == '\t')
		s++;
	return arena_strdup(x->a, s);
}

/* Quote a key for an lsearch file when it needs it. */
static char *
quote_lsearch(struct xp *x, const char *s)
{
	size_t len = strlen(s);
	char *r, *o;

	if (s[0] != '\0' && strpbrk(s, " \t:\"#\\") == NULL)
		return arena_strdup(x->a, s);
	r = o = arena_alloc(x->a, 2 * len + 3);
	*o++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	return r;
}

/*
 * ${quote_local_part:s}: s as it stands when it is a dot-atom (RFC 5322
 * atext and single inner dots), else a quoted string with '"' and '\\'
 * escaped, as Exim's operator does.
 */
static char *
quote_local_part(struct xp *x, const char *s)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	bool is_atom = *s != '\0' && *s != '.';
	size_t len = strlen(s);
	char *r, *o;

	for (const char *p = s; *p != '\0' && is_atom; p++)
		is_atom = isalnum((unsigned char)*p) || strchr(atext, *p) ||
			(*p == '.' && p[1] != '.' && p[1] != '\0');
	if (is_atom)
		return arena_strdup(x->a, s);
	r = o = arena_alloc(x->a, 2 * len + 3);
	*o++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	*o++ = '"';
	*o = '\0';
	return r;
}

static int
op_quote(struct xp *x, const char *type, const char *s, char **out)
{
	const struct tern_module *mod;
	char *err = NULL;

	if (strcmp(type, "local_part") == 0) {
		*out = quote_local_part(x, s);
		return TERN_OK;
	}
	if (strcmp(type, "lsearch") == 0) {
		*out = quote_lsearch(x, s);
		return TERN_OK;
	}
	/* In the core, so that quoting needs no client library loaded. */
	if (strcmp(type, "ldap") == 0 || strcmp(type, "ldap_dn") == 0) {
		*out = quote_ldap(x->a, s, type[4] == '_');
		return TERN_OK;
	}
	if (strcmp(type, "mysql") == 0) {
		*out = quote_mysql(x->a, s);
		return TERN_OK;
	}
	mod = module_load_lookup(type, NULL, &err);
	if (mod == NULL)
		return xp_error(x, TERN_ERROR, "${quote_%s: %s", type,
			err != NULL ? err : "unknown lookup type");
	*out = mod->lookup.quote != NULL ? mod->lookup.quote(x->ctx, s) :
		quote_lsearch(x, s);
	return TERN_OK;
}

static char *
change_case(struct xp *x, const char *s, bool upper)
{
	char *r = arena_strdup(x->a, s);

	for (char *p = r; *p != '\0'; p++) {
		if (upper && *p >= 'a' && *p <= 'z')
			*p -= 'a' - 'A';
		else if (!upper && *p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	}
	return r;
}

static int
op_split(struct xp *x, const char *op, const char *s, char **out)
{
	char *spec = addr_spec(x, s), *at = strrchr(spec, '@');

	if (strcmp(op, "address") == 0)
		*out = spec;
	else if (strcmp(op, "domain") == 0)
		*out = at != NULL ? at + 1 : arena_strdup(x->a, "");
	else {
		if (at != NULL)
			*at = '\0';
		*out = spec;
	}
	return TERN_OK;
}

/* length_N / l_N and substr_M_N / s_M_N. */
static int
op_substr(struct xp *x, int count, const long n[2], bool is_substr,
	const char *s, char **out)
{
	size_t len = strlen(s), start = 0, want;

	if (count != (is_substr ? 2 : 1) || n[0] < 0 || n[count - 1] < 0)
		return xp_error(x, TERN_ERROR, "bad number in ${%s_",
			is_substr ? "substr" : "length");
	if (is_substr)
		start = (size_t)n[0] < len ? (size_t)n[0] : len;
	want = (size_t)n[count - 1];
	if (want > len - start)
		want = len - start;
	*out = arena_strndup(x->a, s + start, want);
	return TERN_OK;
}

int
xp_operator(struct xp *x, const char *op, const char *arg, char **out)
{
	long n[2] = { -1, -1 };
	int c;

	if (strcmp(op, "lc") == 0 || strcmp(op, "uc") == 0) {
		*out = change_case(x, arg, op[0] == 'u');
		return TERN_OK;
	}
	if (strcmp(op, "domain") == 0 || strcmp(op, "local_part") == 0 ||
	    strcmp(op, "address") == 0)
		return op_split(x, op, arg, out);
	if (strcmp(op, "strlen") == 0) {
		*out = arena_printf(x->a, "%zu", strlen(arg));
		return TERN_OK;
	}
	if (strncmp(op, "quote_", 6) == 0)
		return op_quote(x, op + 6, arg, out);
	if ((c = op_numbers(op, "length", n)) >= 0 ||
	    (c = op_numbers(op, "l", n)) >= 0)
		return op_substr(x, c, n, false, arg, out);
	if ((c = op_numbers(op, "substr", n)) >= 0 ||
	    (c = op_numbers(op, "s", n)) >= 0)
		return op_substr(x, c, n, true, arg, out);
	if ((c = op_numbers(op, "nhash", n)) >= 0 ||
	    (c = op_numbers(op, "nh", n)) >= 0)
		return op_nhash(x, c, n, arg, out);
	if ((c = op_numbers(op, "hash", n)) >= 1 ||
	    (c = op_numbers(op, "h", n)) >= 1)
		return op_hash(x, n[0], c == 2 ? n[1] : 26, arg, out);
	return xp_error(x, TERN_ERROR, "unknown expansion operator \"%s\"", op);
}

/* Field n (1-based; negative from the end; 0 the whole) split at sep. */
static bool
extract_field(struct xp *x, long n, const char *sep, const char *s,
	char **out)
{
	size_t nf = 1, want, len = strlen(s);
	const char *start = s;
	/* |n| without negating LONG_MIN */
	unsigned long mag = n < 0 ? 0UL - (unsigned long)n : (unsigned long)n;

	if (n == 0) {
		*out = arena_strdup(x->a, s);
		return true;
	}
	for (const char *p = s; *p != '\0'; p++)
		if (strchr(sep, *p) != NULL)
			nf++;
	if (mag > nf)
		return false;
	want = n > 0 ? (size_t)mag : nf + 1 - (size_t)mag;
	for (size_t f = 1; f < want; f++)
		start += strcspn(start, sep) + 1;
	len = strcspn(start, sep);
	*out = arena_strndup(x->a, start, len);
	return true;
}

/* "key=value key2="quoted value"": the value of key (caseless). */
static bool
extract_key(struct xp *x, const char *key, const char *s, char **out)
{
	size_t kl = strlen(key);

	while (*s != '\0') {
		const char *name, *v;
		char *val, *o;

		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == ',')
			s++;
		name = s;
		while (*s != '\0' && *s != '=' && *s != ' ' && *s != '\t')
			s++;
		v = s;
		while (*v == ' ' || *v == '\t')
			v++;
		if (*v == '=')
			v++;
		while (*v == ' ' || *v == '\t')
			v++;
		val = o = arena_alloc(x->a, strlen(v) + 1);
		if (*v == '"') {
			for (v++; *v != '\0' && *v != '"'; v++) {
				if (*v == '\\' && v[1] != '\0')
					v++;
				*o++ = *v;
			}
			if (*v == '"')
				v++;
		} else {
			size_t l = strcspn(v, " \t\n");

			memcpy(o, v, l);
			o += l;
			v += l;
		}
		*o = '\0';
		if ((size_t)(s - name) == kl && strncasecmp(name, key, kl) == 0) {
			*out = val;
			return true;
		}
		s = v;
	}
	return false;
}

static bool
is_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* ${extract{key}{string}...} or ${extract{n}{sep}{string}...} */
int
xp_item_extract(struct xp *x, struct buf *out, bool skip)
{
	char *what, *sep = NULL, *s, *val = NULL;
	bool found;
	int rc;

	if ((rc = xp_arg(x, skip, &what)) != TERN_OK)
		return rc;
	if (is_number(what) && (rc = xp_arg(x, skip, &sep)) != TERN_OK)
		return rc;
	if ((rc = xp_arg(x, skip, &s)) != TERN_OK)
		return rc;
	if (sep != NULL)
		found = extract_field(x, strtol(what, NULL, 10), sep, s, &val);
	else
		found = extract_key(x, what, s, &val);
	/* a piece of the string, as tainted as the string */
	return xp_yes_no(x, out, skip, found, val, x->arg_tainted, val,
		"${extract");
}
