/* The ldap lookup's text handling; see query.h. */
#include "query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A word "name=value" or "name="quoted value"": unquoted in place. */
static char *
take_value(char **pp)
{
	char *p = *pp, *v = p, *o = p;

	if (*p == '"') {
		v = o = ++p;
		while (*p != '\0' && *p != '"') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p++;
		}
		if (*p != '"')
			return NULL;
		p++;
	} else {
		while (*p != '\0' && *p != ' ' && *p != '\t') {
			if (*p == '\\' && p[1] != '\0')
				p++;
			*o++ = *p++;
		}
	}
	if (*p != '\0')
		p++;
	*o = '\0';
	*pp = p;
	return v;
}

static int
number(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end != '\0' || v < 0 || v > 86400)
		return -1;
	*out = (int)v;
	return 0;
}

int
lq_parse(char *q, struct lq_opts *o, const char **why_out)
{
	char *p = q;

	memset(o, 0, sizeof(*o));
	for (;;) {
		char *name, *eq, *val;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (strncmp(p, "ldap://", 7) == 0 || strncmp(p, "ldaps://", 8) == 0 ||
		    strncmp(p, "ldapi://", 8) == 0)
			break;
		if (*p == '\0') {
			*why_out = "no ldap://, ldaps:// or ldapi:// URL";
			return -1;
		}
		name = p;
		if ((eq = strchr(p, '=')) == NULL) {
			*why_out = "option without \"=\" before the URL";
			return -1;
		}
		*eq = '\0';
		p = eq + 1;
		if ((val = take_value(&p)) == NULL) {
			*why_out = "unterminated quoted option value";
			return -1;
		}
		if (strcmp(name, "user") == 0)
			o->user = val;
		else if (strcmp(name, "pass") == 0)
			o->pass = val;
		else if (strcmp(name, "nettime") == 0 ||
		    strcmp(name, "connect") == 0) {
			if (number(val, &o->nettime) < 0)
				goto bad_number;
		} else if (strcmp(name, "time") == 0) {
			if (number(val, &o->time) < 0)
				goto bad_number;
		} else if (strcmp(name, "size") == 0) {
			if (number(val, &o->size) < 0)
				goto bad_number;
		} else if (strcmp(name, "dereference") != 0 &&
		    strcmp(name, "referrals") != 0) {
			*why_out = "unknown option before the URL (user, pass, "
				"nettime, time, size)";
			return -1;
		}
	}
	o->url = p;
	return 0;
bad_number:
	*why_out = "bad number in an option (nettime, time, size)";
	return -1;
}

int
lq_url_server(const char *url, char *buf, size_t n, size_t *scheme_len_out)
{
	const char *colon = strstr(url, "://"), *host, *end;

	if (colon == NULL || (colon - url != 4 && colon - url != 5) ||
	    strncmp(url, "ldap", 4) != 0)
		return -1;
	*scheme_len_out = (size_t)(colon - url);
	host = colon + 3;
	end = host + strcspn(host, "/?");
	if (end == host) {
		buf[0] = '\0';
		return 0;
	}
	if ((size_t)(end - url) >= n)
		return -1;
	memcpy(buf, url, (size_t)(end - url));
	buf[end - url] = '\0';
	return 0;
}

void
lq_server_uri(const char *item, const char *scheme, char *buf, size_t n)
{
	if (strstr(item, "://") != NULL)
		snprintf(buf, n, "%s", item);
	else
		snprintf(buf, n, "%s://%s", scheme, item);
}

size_t
lq_put_value(char *dst, const char *v, size_t len, bool is_quoted)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		bool is_special = v[i] == ',' ||
			(is_quoted && (v[i] == '"' || v[i] == '\\'));

		if (is_special) {
			if (dst != NULL)
				dst[o] = v[i] == ',' ? ',' : '\\';
			o++;
		}
		if (dst != NULL)
			dst[o] = v[i];
		o++;
	}
	return o;
}
