/* The mysql lookup's text handling; see server.h. */
#include "server.h"

#include <stdlib.h>
#include <string.h>

/* Copy [p, end) into dst (size n).  -1 when it does not fit. */
static int
copy_part(char *dst, size_t n, const char *p, const char *end)
{
	size_t len = (size_t)(end - p);

	if (len >= n)
		return -1;
	memcpy(dst, p, len);
	dst[len] = '\0';
	return 0;
}

static int
parse_host(const char *p, const char *end, struct ms_server *s,
	const char **why_out)
{
	const char *paren = memchr(p, '(', (size_t)(end - p));
	const char *colon = memchr(p, ':', (size_t)(end - p));

	if (paren != NULL) {
		if (end[-1] != ')' || copy_part(s->socket, sizeof(s->socket),
		    paren + 1, end - 1) < 0 || copy_part(s->host,
		    sizeof(s->host), p, paren) < 0) {
			*why_out = "bad host(socket)";
			return -1;
		}
		return 0;
	}
	if (colon != NULL) {
		char *e;
		long port = strtol(colon + 1, &e, 10);

		if (e != end || port <= 0 || port > 65535) {
			*why_out = "bad port";
			return -1;
		}
		s->port = (unsigned)port;
		end = colon;
	}
	if (copy_part(s->host, sizeof(s->host), p, end) < 0) {
		*why_out = "host name too long";
		return -1;
	}
	return 0;
}

int
ms_parse_server(const char *spec, struct ms_server *s, const char **why_out)
{
	const char *s1 = strchr(spec, '/'), *paren = strchr(spec, '('), *s2, *s3;

	memset(s, 0, sizeof(*s));
	/* host(/run/mysqld/mysqld.sock)/...: the socket path has slashes */
	if (paren != NULL && (s1 == NULL || paren < s1)) {
		const char *close = strchr(paren, ')');

		s1 = close != NULL ? strchr(close, '/') : NULL;
	}
	if (s1 == NULL || (s2 = strchr(s1 + 1, '/')) == NULL ||
	    (s3 = strchr(s2 + 1, '/')) == NULL) {
		*why_out = "want host/database/user/password";
		return -1;
	}
	if (parse_host(spec, s1, s, why_out) < 0)
		return -1;
	if (copy_part(s->db, sizeof(s->db), s1 + 1, s2) < 0 ||
	    copy_part(s->user, sizeof(s->user), s2 + 1, s3) < 0 ||
	    copy_part(s->pass, sizeof(s->pass), s3 + 1, s3 + 1 + strlen(s3 + 1))
	    < 0) {
		*why_out = "a field is too long";
		return -1;
	}
	return 0;
}

const char *
ms_split_servers(const char *q, char *buf, size_t n,
	const char **servers_out)
{
	const char *p = q, *semi;

	*servers_out = NULL;
	while (*p == ' ' || *p == '\t' || *p == '\n')
		p++;
	if (strncmp(p, "servers", 7) != 0)
		return q;
	p += 7;
	while (*p == ' ')
		p++;
	if (*p != '=' || (semi = strchr(p, ';')) == NULL ||
	    copy_part(buf, n, p + 1, semi) < 0)
		return q;
	*servers_out = buf;
	return semi + 1;
}

static bool
needs_quotes(const char *v, size_t len)
{
	if (len == 0)
		return true;
	for (size_t i = 0; i < len; i++)
		if (v[i] == ' ' || v[i] == '\t' || v[i] == '\n' || v[i] == '"' ||
		    v[i] == '=' || v[i] == '\\')
			return true;
	return false;
}

size_t
ms_put_field(char *dst, const char *name, const char *v, size_t len,
	bool is_first)
{
	bool is_quoted = name != NULL && needs_quotes(v, len);
	size_t o = 0, nl = name != NULL ? strlen(name) : 0;

	if (name != NULL) {
		if (!is_first) {
			if (dst != NULL)
				dst[o] = ' ';
			o++;
		}
		if (dst != NULL) {
			memcpy(dst + o, name, nl);
			dst[o + nl] = '=';
		}
		o += nl + 1;
	}
	if (is_quoted) {
		if (dst != NULL)
			dst[o] = '"';
		o++;
	}
	for (size_t i = 0; i < len; i++) {
		if (is_quoted && (v[i] == '"' || v[i] == '\\')) {
			if (dst != NULL)
				dst[o] = '\\';
			o++;
		}
		if (dst != NULL)
			dst[o] = v[i];
		o++;
	}
	if (is_quoted) {
		if (dst != NULL)
			dst[o] = '"';
		o++;
	}
	return o;
}
