/* Pure helpers of the plaintext authenticator (no core, no I/O). */
#ifndef TERN_PLUGINS_AUTH_PLAINTEXT_FIELDS_H
#define TERN_PLUGINS_AUTH_PLAINTEXT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Split data (len bytes, may hold NULs) at each NUL into at most max
 * strings, pointing into copy (len + 1 bytes, filled here).  Returns
 * the number of strings (at least 1, "" for empty data).
 */
size_t pt_split_nul(const char *data, size_t len, char *copy,
	const char **fields, size_t max);

/*
 * client_send items: "^" stands for a NUL, "^^" for a literal "^".
 * Writes into out (at least strlen(s) bytes), returns the length.
 */
size_t pt_unescape_caret(const char *s, char *out);

/*
 * The next item of an Exim list in *lp ("::" is a literal colon, a
 * leading "<c" sets another separator), trimmed, into out (at least
 * strlen(*lp) + 1 bytes).  False at the end of the list.
 */
bool pt_list_next(const char **lp, char *sep, char *out);

#endif
