/*
 * Retry rules: parsing "F,2h,15m; G,16h,1h,1.5; F,4d,6h", computing the
 * next try, and matching a rule's pattern and error fields.  Pure logic,
 * unit-tested in retry_test.c.
 */
#include "retry/retry.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "lib/buf.h"

#include <tern/rc.h>

/* Next comma-separated field of *pp, trimmed, in arena a. */
static char *
field(struct arena *a, const char **pp)
{
	const char *p = *pp, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p + strcspn(p, ",");
	*pp = *end == ',' ? end + 1 : end;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return arena_strndup(a, p, (size_t)(end - p));
}

static int
parse_time(const char *s, int *out)
{
	char *err = NULL;

	if (*s == '\0' || option_parse_value(TERN_OPT_TIME, s, out, &err) != 0)
		return -1;
	return *out >= 0 ? 0 : -1;
}

/* One rule "G,16h,1h,1.5" into *it; false on a syntax error. */
static bool
parse_item(struct arena *a, const char *text, struct retry_item *it)
{
	const char *p = text;
	char *kind = field(a, &p), *cut = field(a, &p), *iv = field(a, &p);
	char *fac = *p != '\0' ? field(a, &p) : NULL, *end;

	if (strlen(kind) != 1 || *p != '\0')
		return false;
	it->kind = (char)toupper((unsigned char)kind[0]);
	if (it->kind != 'F' && it->kind != 'G' && it->kind != 'H')
		return false;
	if (parse_time(cut, &it->cutoff) != 0 ||
	    parse_time(iv, &it->interval) != 0 || it->interval <= 0)
		return false;
	it->factor = 1.0;
	if (it->kind == 'F')
		return fac == NULL;
	if (fac == NULL)
		return false;
	it->factor = strtod(fac, &end);
	return *fac != '\0' && *end == '\0' && it->factor > 1.0 &&
		it->factor < 1000.0;
}

int
retry_parse_rules(struct arena *a, const char *text,
	struct retry_item **items_out, size_t *n_out, char **err_out)
{
	const char *list = text;
	char sep = ';';
	const char *r;
	size_t n = 0, cap = 8;
	struct retry_item *items = arena_zalloc(a, cap * sizeof(*items));

	while ((r = list_next(&list, &sep)) != NULL) {
		struct retry_item it;

		if (!parse_item(a, r, &it)) {
			*err_out = arena_printf(a, "retry rule: bad rule \"%s\"", r);
			return -1;
		}
		if (n > 0 && it.cutoff <= items[n - 1].cutoff) {
			*err_out = arena_printf(a, "retry rule: \"%s\": cutoff "
				"times must increase", r);
			return -1;
		}
		if (n == cap) {
			struct retry_item *more = arena_zalloc(a, 2 * cap *
				sizeof(*more));

			memcpy(more, items, n * sizeof(*items));
			items = more;
			cap *= 2;
		}
		items[n++] = it;
	}
	*items_out = items;
	*n_out = n;
	return 0;
}

time_t
retry_next_time(const struct retry_item *items, size_t n,
	time_t first_failed, time_t now, time_t prev_gap, uint32_t rnd,
	bool *expired_out)
{
	time_t elapsed = now - first_failed;
	const struct retry_item *it = NULL;
	double gap, low;
	uint64_t span;

	*expired_out = false;
	for (size_t i = 0; i < n && it == NULL; i++)
		if (elapsed < items[i].cutoff)
			it = &items[i];
	if (it == NULL) {
		*expired_out = true;
		return now + (n > 0 ? items[n - 1].interval : 0);
	}
	switch (it->kind) {
	case 'F':
		return now + it->interval;
	case 'G':
		gap = prev_gap < it->interval ? it->interval :
			(double)prev_gap * it->factor;
		break;
	default: /* 'H': somewhere between the last gap and G's */
		low = prev_gap < it->interval ? it->interval : (double)prev_gap;
		gap = low * it->factor - low;
		span = gap >= 1.0 && gap < 4e9 ? (uint64_t)gap : 0;
		gap = low + (span > 0 ? (double)(rnd % span) : 0.0);
		break;
	}
	if (gap > 365.0 * 86400.0)
		gap = 365.0 * 86400.0;
	return now + (time_t)gap;
}

/* Compare one character of a rule's error field with a class. */
static bool
class_char_match(char r, char c)
{
	r = (char)tolower((unsigned char)r);
	c = (char)tolower((unsigned char)c);
	return r == c || (r == 'x' && isdigit((unsigned char)c));
}

bool
retry_class_match(const char *rule_error, const char *error_class)
{
	size_t i;

	if (strcmp(rule_error, "*") == 0)
		return true;
	if (error_class == NULL)
		return false;
	for (i = 0; rule_error[i] != '\0' && error_class[i] != '\0'; i++)
		if (!class_char_match(rule_error[i], error_class[i]))
			return false;
	if (rule_error[i] != '\0')
		return false;
	return error_class[i] == '\0' || error_class[i] == '_';
}

bool
retry_key_match(const char *pattern, const char *key)
{
	const char *at, *item = key;
	enum tern_list_kind kind = TERN_LIST_DOMAIN;
	char *err = NULL;

	if (strcmp(pattern, "*") == 0)
		return true;
	if (strncmp(key, "T:", 2) == 0 || strncmp(key, "R:", 2) == 0) {
		/* "T:host:ip[:port]": match the host name (or the ip) */
		const char *h = key + 2, *colon = strchr(h, ':');

		item = colon != NULL ? arena_strndup(arena_scratch, h,
			(size_t)(colon - h)) : h;
		if (list_match(TERN_LIST_DOMAIN, pattern, item, NULL, &err) ==
		    TERN_OK)
			return true;
		if (colon == NULL)
			return false;
		item = arena_strndup(arena_scratch, colon + 1,
			strcspn(colon + 1, ":"));
		return list_match(TERN_LIST_HOST, pattern, item, NULL, &err) ==
			TERN_OK;
	}
	/* "top@dom:/path" or "top@dom:|cmd": match the address it came from */
	if ((at = strstr(key, ":/")) != NULL || (at = strstr(key, ":|")) != NULL)
		key = item = arena_strndup(arena_scratch, key,
			(size_t)(at - key));
	at = strrchr(key, '@');
	if (strchr(pattern, '@') != NULL)
		kind = TERN_LIST_ADDRESS;
	else if (at != NULL)
		item = at + 1;
	return list_match(kind, pattern, item, NULL, &err) == TERN_OK;
}
