/* Pure parsing for SMTP commands: no I/O, no configuration. */
#include "smtp_in/smtp_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"

static bool
helo_literal_valid(const char *s, size_t len)
{
	if (len < 3 || s[len - 1] != ']')
		return false;
	for (size_t i = 1; i < len - 1; i++)
		if (!isxdigit((unsigned char)s[i]) && strchr(".:Iv", s[i]) ==
		    NULL && strchr("iPV", s[i]) == NULL)
			return false;
	return true;
}

bool
smtp_helo_valid(const char *s)
{
	size_t len = strlen(s);

	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0 || len > 255)
		return false;
	if (s[0] == '[')
		return helo_literal_valid(s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		/* underscores are common in real hostnames; allow them */
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
	}
	return true;
}

const char *
smtp_after_keyword(const char *line, const char *keyword)
{
	size_t n = strlen(keyword);

	if (strncasecmp(line, keyword, n) != 0)
		return NULL;
	line += n;
	while (*line == ' ')
		line++;
	return line;
}

static int
param_size(const char *val, size_t vlen, struct smtp_mail_params *p,
	const char **err_out)
{
	char *end;
	unsigned long long v;

	if (vlen == 0 || !isdigit((unsigned char)*val)) {
		*err_out = "5.5.4 invalid SIZE parameter";
		return 501;
	}
	errno = 0;
	v = strtoull(val, &end, 10);
	if ((size_t)(end - val) != vlen || errno != 0) {
		*err_out = "5.5.4 invalid SIZE parameter";
		return 501;
	}
	p->size = v;
	p->has_size = true;
	return 0;
}

static int
param_one(const char *kw, size_t klen, const char *val, size_t vlen,
	struct smtp_mail_params *p, const char **err_out)
{
	if (klen == 4 && strncasecmp(kw, "SIZE", 4) == 0 && val != NULL)
		return param_size(val, vlen, p, err_out);
	if (klen == 4 && strncasecmp(kw, "BODY", 4) == 0 && val != NULL) {
		if (vlen == 4 && strncasecmp(val, "7BIT", 4) == 0) {
			p->body = 7;
			return 0;
		}
		if (vlen == 8 && strncasecmp(val, "8BITMIME", 8) == 0) {
			p->body_8bit = true;
			p->body = 8;
			return 0;
		}
		*err_out = "5.5.4 invalid BODY parameter";
		return 501;
	}
	*err_out = "5.5.4 unsupported parameter";
	return 555;
}

int
smtp_parse_mail_params(const char *rest, struct smtp_mail_params *p,
	const char **err_out)
{
	memset(p, 0, sizeof(*p));
	for (;;) {
		const char *kw, *eq, *val = NULL;
		size_t len, vlen = 0;
		int rc;

		while (*rest == ' ')
			rest++;
		if (*rest == '\0')
			return 0;
		kw = rest;
		len = strcspn(rest, " ");
		rest += len;
		eq = memchr(kw, '=', len);
		if (eq != NULL) {
			val = eq + 1;
			vlen = len - (size_t)(val - kw);
			len = (size_t)(eq - kw);
		}
		rc = param_one(kw, len, val, vlen, p, err_out);
		if (rc != 0)
			return rc;
	}
}

char *
smtp_unquote_local(struct arena *a, const char *local)
{
	size_t n = strlen(local), j = 0;
	char *out = arena_alloc(a, n + 1);

	for (size_t i = 0; i < n; i++) {
		if (local[i] == '"')
			continue;
		if (local[i] == '\\' && i + 1 < n)
			i++;
		out[j++] = local[i];
	}
	out[j] = '\0';
	return out;
}

const char *
smtp_split_verb(const char *line, size_t *verb_len)
{
	size_t n = strcspn(line, " \t");

	*verb_len = n;
	line += n;
	while (*line == ' ' || *line == '\t')
		line++;
	return line;
}
