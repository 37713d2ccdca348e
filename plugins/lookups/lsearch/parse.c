#include "parse.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool
is_blank_line(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	return *s == '\0';
}

static const char *
skip_space(const char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char
unescape_char(const char **sp)
{
	const char *s = *sp;
	char c = *s++;

	switch (c) {
	case 'n': c = '\n'; break;
	case 't': c = '\t'; break;
	case 'r': c = '\r'; break;
	default: break;
	}
	*sp = s;
	return c;
}

/* A quoted key: s points after the opening quote. */
static int
parse_quoted(const char *s, char **key_out, const char **rest_out)
{
	char *key = malloc(strlen(s) + 1);
	size_t n = 0;

	if (key == NULL)
		return -1;
	while (*s != '\0' && *s != '"') {
		if (*s == '\\' && s[1] != '\0') {
			s++;
			key[n++] = unescape_char(&s);
		} else {
			key[n++] = *s++;
		}
	}
	if (*s != '"') {
		free(key);
		return -1;
	}
	key[n] = '\0';
	*key_out = key;
	*rest_out = s + 1;
	return 0;
}

int
lsearch_parse_key(const char *line, char **key_out, const char **rest_out)
{
	const char *s = line, *rest;
	char *key;
	size_t n;

	if (*s == '"') {
		if (parse_quoted(s + 1, &key, &rest) < 0)
			return -1;
	} else {
		n = strcspn(s, ": \t\r\n");
		if (n == 0)
			return -1;
		key = strndup(s, n);
		if (key == NULL)
			return -1;
		rest = s + n;
	}
	rest = skip_space(rest);
	if (*rest == ':')
		rest = skip_space(rest + 1);
	*key_out = key;
	*rest_out = rest;
	return 0;
}

/* Append part (trailing white space dropped) to *v, one space between. */
static int
value_append(char **v, size_t *len, const char *part)
{
	size_t plen = strlen(part);
	char *nv;

	while (plen > 0 && isspace((unsigned char)part[plen - 1]))
		plen--;
	if (plen == 0)
		return 0;
	nv = realloc(*v, *len + plen + 2);
	if (nv == NULL)
		return -1;
	if (*len > 0)
		nv[(*len)++] = ' ';
	memcpy(nv + *len, part, plen);
	*len += plen;
	nv[*len] = '\0';
	*v = nv;
	return 0;
}

static void
chomp(char *line, ssize_t *n)
{
	while (*n > 0 && (line[*n - 1] == '\n' || line[*n - 1] == '\r'))
		line[--*n] = '\0';
}

/* Does the record starting on line match?  1, 0, -1 (give up). */
static int
record_matches(const char *line, lsearch_match_fn match, void *arg,
	const char **rest_out)
{
	char *key;
	int rc;

	if (lsearch_parse_key(line, &key, rest_out) < 0)
		return 0;
	rc = match(arg, key);
	free(key);
	return rc;
}

int
lsearch_scan(FILE *f, lsearch_match_fn match, void *arg, char **value_out)
{
	char *line = NULL, *value = NULL;
	size_t cap = 0, vlen = 0;
	const char *rest;
	bool found = false;
	ssize_t n;
	int rc = 0;

	rewind(f);
	while ((n = getline(&line, &cap, f)) >= 0) {
		chomp(line, &n);
		if (line[0] == '#' || is_blank_line(line))
			continue;
		if (isspace((unsigned char)line[0])) {
			if (found && value_append(&value, &vlen,
			    skip_space(line)) < 0)
				goto out_nomem;
			continue;
		}
		if (found)
			break;
		rc = record_matches(line, match, arg, &rest);
		if (rc < 0)
			goto out;
		if (rc > 0) {
			found = true;
			value = strdup("");
			if (value == NULL || value_append(&value, &vlen, rest) < 0)
				goto out_nomem;
		}
	}
	if (!found && ferror(f)) {
		rc = -2;
		goto out;
	}
	free(line);
	if (!found)
		return 0;
	*value_out = value;
	return 1;

out_nomem:
	errno = ENOMEM;
	rc = -2;
out:
	free(line);
	free(value);
	return rc;
}

int
lsearch_wild_match(const char *pattern, const char *subject)
{
	size_t plen, slen;

	if (pattern[0] != '*')
		return strcasecmp(pattern, subject) == 0;
	pattern++;
	plen = strlen(pattern);
	slen = strlen(subject);
	if (plen > slen)
		return 0;
	return strcasecmp(subject + slen - plen, pattern) == 0;
}

struct ipaddr {
	int     family;
	uint8_t a[16];
	int     len; /* bytes */
};

static int
parse_ip(const char *s, struct ipaddr *ip)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	if (inet_pton(AF_INET, s, ip->a) == 1) {
		ip->family = AF_INET;
		ip->len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, ip->a) != 1)
		return -1;
	ip->family = AF_INET6;
	ip->len = 16;
	if (memcmp(ip->a, v4mapped, sizeof v4mapped) == 0) {
		memmove(ip->a, ip->a + 12, 4);
		ip->family = AF_INET;
		ip->len = 4;
	}
	return 0;
}

static int
prefix_equal(const uint8_t *a, const uint8_t *b, int bits)
{
	int whole = bits / 8, rem = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, (size_t)whole) != 0)
		return 0;
	if (rem == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rem));
	return (a[whole] & mask) == (b[whole] & mask);
}

int
lsearch_ip_match(const char *pattern, const char *ip)
{
	struct ipaddr p, s;
	char addr[64];
	const char *slash = strchr(pattern, '/');
	size_t alen = slash ? (size_t)(slash - pattern) : strlen(pattern);
	long bits;
	char *end;

	if (alen >= sizeof addr)
		return -1;
	memcpy(addr, pattern, alen);
	addr[alen] = '\0';
	if (parse_ip(addr, &p) < 0 || parse_ip(ip, &s) < 0)
		return -1;
	bits = p.len * 8;
	if (slash != NULL) {
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || bits < 0 ||
		    bits > (strchr(addr, ':') != NULL ? 128 : 32))
			return -1;
		/* "::ffff:192.0.2.0/120" was mapped to IPv4 above. */
		if (p.len == 4 && strchr(addr, ':') != NULL)
			bits -= 96;
		if (bits < 0)
			return -1;
	}
	if (p.family != s.family)
		return 0;
	return prefix_equal(p.a, s.a, (int)bits);
}
