#include "aliaslist.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char          *word;
	enum alias_item_kind kind;
} specials[] = {
	{ ":include:", AI_INCLUDE },
	{ ":fail:", AI_FAIL },
	{ ":defer:", AI_DEFER },
	{ ":blackhole:", AI_BLACKHOLE },
	{ ":unknown:", AI_UNKNOWN },
};

static bool
is_sep(char c)
{
	return c == ',' || c == '\n' || isspace((unsigned char)c);
}

/*
 * End of the item starting at s: the first ',' or newline outside quotes
 * and comments.  NULL on an unmatched quote or parenthesis.
 */
static const char *
item_end(const char *s, const char **err_out)
{
	bool quoted = false;
	int depth = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && s[1] != '\0') {
			s++;
		} else if (*s == '"' && depth == 0) {
			quoted = !quoted;
		} else if (quoted) {
			continue;
		} else if (*s == '(') {
			depth++;
		} else if (*s == ')' && depth > 0) {
			depth--;
		} else if (depth == 0 && (*s == ',' || *s == '\n')) {
			break;
		}
	}
	if (quoted) {
		*err_out = "missing closing quote";
		return NULL;
	}
	if (depth > 0) {
		*err_out = "missing ')' after comment";
		return NULL;
	}
	return s;
}

static char *
trimmed_dup(const char *s, size_t len)
{
	while (len > 0 && isspace((unsigned char)*s)) {
		s++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		len--;
	return strndup(s, len);
}

/* :fail: / :defer: text: the rest of the list, newlines made spaces. */
static char *
rest_text(const char *s)
{
	char *t = trimmed_dup(s, strlen(s));

	if (t != NULL)
		for (char *p = t; *p != '\0'; p++)
			if (*p == '\n' || *p == '\r' || *p == '\t')
				*p = ' ';
	return t;
}

static int
special_item(const char **cursor, struct alias_item *item,
	const char **err_out)
{
	const char *s = *cursor, *end;

	for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
		size_t n = strlen(specials[i].word);

		if (strncasecmp(s, specials[i].word, n) != 0)
			continue;
		item->kind = specials[i].kind;
		s += n;
		if (item->kind == AI_FAIL || item->kind == AI_DEFER) {
			item->text = rest_text(s);
			*cursor = s + strlen(s);
			return item->text ? 1 : -1;
		}
		if ((end = item_end(s, err_out)) == NULL)
			return -1;
		item->text = item->kind == AI_INCLUDE ?
			trimmed_dup(s, (size_t)(end - s)) : strdup("");
		*cursor = end;
		if (item->kind == AI_INCLUDE && item->text != NULL &&
		    item->text[0] == '\0') {
			*err_out = "no file name after :include:";
			free(item->text);
			return -1;
		}
		return item->text ? 1 : -1;
	}
	return 0;
}

/* "..." wrapping the whole item: the unquoted text, else NULL. */
static char *
unquote_whole(const char *s, size_t len)
{
	char *out;
	size_t n = 0;

	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return NULL;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	for (size_t i = 1; i < len - 1; i++) {
		if (s[i] == '\\' && i + 1 < len - 1)
			i++;
		else if (s[i] == '"') {
			free(out); /* "a"@"b": not one quoted string */
			return NULL;
		}
		out[n++] = s[i];
	}
	out[n] = '\0';
	return out;
}

/* Classify one non-special item of length len (already trimmed). */
static int
plain_item(const char *s, size_t len, struct alias_item *item)
{
	char *unq = unquote_whole(s, len);

	if (unq != NULL && (unq[0] == '|' || unq[0] == '/')) {
		item->kind = unq[0] == '|' ? AI_PIPE : AI_FILE;
		item->text = unq;
		return 1;
	}
	free(unq);
	if (s[0] == '|' || s[0] == '/') {
		item->kind = s[0] == '|' ? AI_PIPE : AI_FILE;
		item->text = strndup(s, len);
		return item->text ? 1 : -1;
	}
	item->kind = AI_ADDRESS;
	item->text = alias_bare_address(s, len);
	if (item->text == NULL)
		return -1;
	if (item->text[0] == '\0') {
		free(item->text);
		return 0; /* "<>" or only a comment: nothing */
	}
	return 1;
}

int
alias_next_item(const char **cursor, struct alias_item *item,
	const char **err_out)
{
	const char *s = *cursor, *end;
	int rc;

	*err_out = "out of memory";
	for (;;) {
		while (is_sep(*s))
			s++;
		*cursor = s;
		if (*s == '\0')
			return 0;
		if (*s == ':' && (rc = special_item(cursor, item, err_out)) != 0)
			return rc;
		if ((end = item_end(s, err_out)) == NULL)
			return -1;
		*cursor = end;
		while (end > s && isspace((unsigned char)end[-1]))
			end--;
		rc = plain_item(s, (size_t)(end - s), item);
		if (rc != 0)
			return rc;
		s = *cursor;
	}
}

void
alias_strip_comments(char *text)
{
	char *line = text, *p;

	while (*line != '\0') {
		for (p = line; *p == ' ' || *p == '\t'; p++)
			;
		if (*p == '#')
			while (*p != '\0' && *p != '\n')
				*p++ = ' ';
		p = strchr(p, '\n');
		if (p == NULL)
			break;
		line = p + 1;
	}
}

/*
 * Copy s[0..len) without (comments) outside quotes; when a <route-addr>
 * appears outside quotes, keep only its inside.  A leading backslash
 * (the "do not alias further" mark of forward files) is dropped.
 */
char *
alias_bare_address(const char *s, size_t len)
{
	char *out = malloc(len + 1), *t;
	size_t n = 0, start = 0;
	bool quoted = false, angle = false;
	int depth = 0;

	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < len && depth == 0) {
			out[n++] = c;
			out[n++] = s[++i];
			continue;
		}
		if (quoted || depth > 0) {
			if (c == '"' && depth == 0)
				quoted = false;
			else if (c == '(' && !quoted)
				depth++;
			else if (c == ')' && !quoted)
				depth--;
			if (depth == 0 && c != ')')
				out[n++] = c;
			continue;
		}
		if (c == '(') {
			depth++;
		} else if (c == '<' && !angle) {
			angle = true;
			n = 0; /* drop the display name */
		} else if (c == '>' && angle) {
			break;
		} else {
			if (c == '"')
				quoted = true;
			out[n++] = c;
		}
	}
	out[n] = '\0';
	while (start < n && isspace((unsigned char)out[start]))
		start++;
	if (out[start] == '\\')
		start++;
	t = trimmed_dup(out + start, n - start);
	free(out);
	return t;
}

int
alias_has_domain(const char *addr)
{
	bool quoted = false;

	for (; *addr != '\0'; addr++) {
		if (*addr == '\\' && addr[1] != '\0')
			addr++;
		else if (*addr == '"')
			quoted = !quoted;
		else if (*addr == '@' && !quoted)
			return 1;
	}
	return 0;
}
