#include "source.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* One record being collected. */
struct record {
	char  *key;
	char  *value;
	size_t len;
	long   line;
};

static bool
is_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s == '\0';
}

/* Append part (leading and trailing white space dropped), one space
 * between parts.  0, or -1 when out of memory. */
static int
append(struct record *r, const char *part)
{
	size_t plen;
	char *nv;

	while (isspace((unsigned char)*part))
		part++;
	plen = strlen(part);
	while (plen > 0 && isspace((unsigned char)part[plen - 1]))
		plen--;
	if (plen == 0)
		return 0;
	nv = realloc(r->value, r->len + plen + 2);
	if (nv == NULL)
		return -1;
	if (r->len > 0)
		nv[r->len++] = ' ';
	memcpy(nv + r->len, part, plen);
	r->len += plen;
	nv[r->len] = '\0';
	r->value = nv;
	return 0;
}

/* Hand the collected record to fn and forget it. */
static int
flush(struct record *r, dbm_record_fn fn, void *arg)
{
	int rc = 0;

	if (r->key != NULL)
		rc = fn(arg, r->key, r->value != NULL ? r->value : "", r->line);
	free(r->key);
	free(r->value);
	memset(r, 0, sizeof *r);
	return rc;
}

static int
start(struct record *r, const char *line, long n, const char *name,
	char *err, size_t errlen)
{
	const char *rest;

	if (lsearch_parse_key(line, &r->key, &rest) < 0) {
		if (line[0] == '"')
			snprintf(err, errlen, "%s:%ld: missing closing quote "
				"in key", name, n);
		else
			snprintf(err, errlen, "%s:%ld: missing key before "
				"\"%.40s\"", name, n, line);
		return -1;
	}
	r->line = n;
	r->value = strdup("");
	if (r->value == NULL || append(r, rest) < 0) {
		snprintf(err, errlen, "%s:%ld: out of memory", name, n);
		return -1;
	}
	return 0;
}

int
dbm_source_parse(FILE *f, const char *name, dbm_record_fn fn, void *arg,
	char *err, size_t errlen)
{
	struct record r = { NULL, NULL, 0, 0 };
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long n = 0;
	int rc = 0;

	while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
		n++;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((size_t)len != strlen(line)) {
			snprintf(err, errlen, "%s:%ld: NUL byte in line", name, n);
			rc = -1;
		} else if (line[0] == '#' || is_blank(line)) {
			continue;
		} else if (isspace((unsigned char)line[0])) {
			if (r.key == NULL) {
				snprintf(err, errlen, "%s:%ld: continuation line "
					"with no key before it", name, n);
				rc = -1;
			} else if (append(&r, line) < 0) {
				snprintf(err, errlen, "%s:%ld: out of memory",
					name, n);
				rc = -1;
			}
		} else if ((rc = flush(&r, fn, arg)) == 0) {
			rc = start(&r, line, n, name, err, errlen);
		}
	}
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = flush(&r, fn, arg);
	free(r.key);
	free(r.value);
	free(line);
	return rc;
}
