/* Pure helpers of the plaintext authenticator: see fields.h. */
#include "fields.h"

#include <string.h>

size_t
pt_split_nul(const char *data, size_t len, char *copy, const char **fields,
	size_t max)
{
	size_t n = 0;
	const char *p = copy, *end = copy + len;

	memcpy(copy, data, len);
	copy[len] = '\0';
	while (n < max) {
		fields[n++] = p;
		p += strlen(p);
		if (p >= end)
			break;
		p++; /* past the NUL */
	}
	return n;
}

size_t
pt_unescape_caret(const char *s, char *out)
{
	size_t j = 0;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (s[i] == '^' && s[i + 1] == '^') {
			out[j++] = '^';
			i++;
		} else if (s[i] == '^') {
			out[j++] = '\0';
		} else {
			out[j++] = s[i];
		}
	}
	return j;
}

bool
pt_list_next(const char **lp, char *sep, char *out)
{
	const char *p = *lp;
	size_t j = 0;

	if (*sep == '\0') {
		*sep = ':';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '<' && p[1] != '\0' && p[1] != ' ' && p[1] != '\t') {
			*sep = p[1];
			p += 2;
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return false;
	for (; *p != '\0'; p++) {
		if (*p == *sep) {
			if (*sep != ':' || p[1] != ':')
				break;
			p++;
		}
		out[j++] = *p;
	}
	while (j > 0 && (out[j - 1] == ' ' || out[j - 1] == '\t'))
		j--;
	out[j] = '\0';
	/* As in Exim, "a :" is one item and ":" one empty item. */
	if (*p == *sep)
		p++;
	*lp = p;
	return true;
}
