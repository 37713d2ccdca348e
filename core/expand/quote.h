/* Quoting for query-style lookups: ${quote_ldap:}, ${quote_ldap_dn:}, ${quote_mysql:}. */
#ifndef TERN_CORE_EXPAND_QUOTE_H
#define TERN_CORE_EXPAND_QUOTE_H

#include <stdbool.h>

struct arena;

/*
 * s made safe inside an LDAP URL (arena a, never NULL).  As Exim does, two
 * levels: first LDAP's own escaping, then URL encoding (%XX) of every byte
 * but letters, digits and !$'-._~()*.
 *   filter (is_dn false, RFC 4515): * ( ) \ become \2A \28 \29 \5C, so
 *     "a*" reaches the server as the value a\2A and matches only "a*";
 *   DN (is_dn true, RFC 4514): \ , + " < > ; get a backslash, as do a
 *     leading space or '#' and a trailing space.
 */
char *quote_ldap(struct arena *a, const char *s, bool is_dn);

/*
 * s for a MySQL/MariaDB string literal (between quotes): ' " \ get a
 * backslash; newline, CR, tab, backspace and ^Z become \n \r \t \b \Z.
 */
char *quote_mysql(struct arena *a, const char *s);

#endif
