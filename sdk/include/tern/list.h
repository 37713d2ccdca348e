/*
 * Tern SDK: walking an Exim-style list in a driver that reads one itself
 * (a server list, say).  Items are separated by ':' or, when the list
 * starts with "<c", by c; a doubled separator stands for itself; white
 * space around an item is dropped, and empty items are skipped.  Header
 * only: no ABI.
 */
#ifndef TERN_LIST_H
#define TERN_LIST_H

#include <stddef.h>

/*
 * The next item of *listp into buf (n bytes, NUL-terminated; a longer
 * item is cut): its length, or 0 at the end.  *sep_inout starts as '\0'
 * and keeps the separator between calls.
 */
static inline size_t
tern_list_next(const char **listp, char *sep_inout, char *buf, size_t n)
{
	const char *p = *listp;
	size_t len;

	if (p == NULL || n == 0)
		return 0;
	if (*sep_inout == '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		*sep_inout = ':';
		if (p[0] == '<' && p[1] != '\0' && p[1] != ' ') {
			*sep_inout = p[1];
			p += 2;
		}
	}
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (*p == '\0') {
			*listp = p;
			return 0;
		}
		for (len = 0; *p != '\0'; p++) {
			if (*p == *sep_inout) {
				if (p[1] != *sep_inout)
					break;
				p++;
			}
			if (len + 1 < n)
				buf[len++] = *p;
		}
		if (*p != '\0')
			p++;
		while (len > 0 && (buf[len - 1] == ' ' || buf[len - 1] == '\t'))
			len--;
		buf[len] = '\0';
		if (len > 0) {
			*listp = p;
			return len;
		}
	}
}

#endif
