/* route_list items: "domains  hosts  options", separated by ';'. */
#include "route_list.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *
mr_next_item(const char **listp, char *sep_inout)
{
	const char *p = *listp, *start;
	char *item;
	size_t n;

	if (*sep_inout == '\0') {
		while (isspace((unsigned char)*p))
			p++;
		*sep_inout = ';';
		if (p[0] == '<' && p[1] != '\0' && ispunct((unsigned char)p[1])) {
			*sep_inout = p[1];
			p += 2;
		}
	}
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0') {
			*listp = p;
			return NULL;
		}
		start = p;
		while (*p != '\0' && *p != *sep_inout)
			p++;
		n = (size_t)(p - start);
		if (*p != '\0')
			p++;
		while (n > 0 && isspace((unsigned char)start[n - 1]))
			n--;
		if (n > 0)
			break;
	}
	*listp = p;
	item = malloc(n + 1);
	if (item == NULL)
		return NULL;
	memcpy(item, start, n);
	item[n] = '\0';
	return item;
}

/* Cut the next white-space separated word (or "quoted string"). */
static char *
next_word(char **pp, const char **err_out)
{
	char *p = *pp, *w;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0')
		return NULL;
	if (*p == '"') {
		w = ++p;
		while (*p != '\0' && *p != '"')
			p++;
		if (*p != '"') {
			*err_out = "unterminated quoted host list";
			return NULL;
		}
	} else {
		w = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	return w;
}

int
mr_parse_item(char *item, struct mr_item *out, const char **err_out)
{
	char *p = item, *w;

	*err_out = NULL;
	memset(out, 0, sizeof(*out));
	out->randomize = -1;
	if ((out->domains = next_word(&p, err_out)) == NULL) {
		if (*err_out == NULL)
			*err_out = "empty route_list item";
		return -1;
	}
	out->hosts = next_word(&p, err_out);
	if (out->hosts == NULL) {
		out->hosts = p;
		return *err_out != NULL ? -1 : 0;
	}
	while ((w = next_word(&p, err_out)) != NULL) {
		if (strcmp(w, "randomize") == 0)
			out->randomize = 1;
		else if (strcmp(w, "no_randomize") == 0)
			out->randomize = 0;
		else if (strcmp(w, "byname") == 0)
			out->lookup = MR_LOOKUP_BYNAME;
		else if (strcmp(w, "bydns") == 0)
			out->lookup = MR_LOOKUP_BYDNS;
		else {
			*err_out = "unknown option in route_list item (want "
				"randomize, no_randomize, byname or bydns)";
			return -1;
		}
	}
	return *err_out != NULL ? -1 : 0;
}
