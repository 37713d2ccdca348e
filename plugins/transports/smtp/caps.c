/* The ESMTP keywords of an EHLO reply (pure; unit-tested). */
#include "smtp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Does line start with keyword, followed by the end, ' ' or '='? */
static const char *
keyword(const char *line, const char *kw)
{
	size_t n = strlen(kw);

	if (strncasecmp(line, kw, n) != 0)
		return NULL;
	if (line[n] == '\0')
		return line + n;
	if (line[n] == ' ' || line[n] == '=')
		return line + n + 1;
	return NULL;
}

static void
one_line(const char *line, struct smtp_caps *caps,
	char *(*dup)(void *arg, const char *s), void *arg)
{
	const char *v;

	if (keyword(line, "PIPELINING") != NULL)
		caps->has_pipelining = true;
	else if (keyword(line, "8BITMIME") != NULL)
		caps->has_8bitmime = true;
	else if (keyword(line, "STARTTLS") != NULL)
		caps->has_starttls = true;
	else if ((v = keyword(line, "SIZE")) != NULL) {
		caps->has_size = true;
		caps->size_max = isdigit((unsigned char)*v) ?
			strtoull(v, NULL, 10) : 0;
	} else if ((v = keyword(line, "AUTH")) != NULL && *v != '\0' &&
	    caps->auth_mechs == NULL)
		caps->auth_mechs = dup(arg, v);
}

void
smtp_parse_ehlo(const char *text, struct smtp_caps *caps,
	char *(*dup)(void *arg, const char *s), void *arg)
{
	char line[1024];
	const char *p = strchr(text, '\n'); /* the first line is a greeting */

	caps->is_esmtp = true;
	caps->has_pipelining = caps->has_8bitmime = caps->has_starttls = false;
	caps->has_size = false;
	caps->size_max = 0;
	caps->auth_mechs = NULL;
	while (p != NULL) {
		const char *start = p + 1, *end = strchr(start, '\n');
		size_t n = end != NULL ? (size_t)(end - start) : strlen(start);

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, start, n);
		line[n] = '\0';
		one_line(line, caps, dup, arg);
		p = end;
	}
}
