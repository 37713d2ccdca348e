/*
 * The lsearch file format, free of the core so that unit tests link it.
 *
 * A record is a key at the start of a line, optionally followed by ':',
 * then its value to the end of the line.  Lines that start with white
 * space continue the value (joined with one space); '#' lines and blank
 * lines are skipped.  A key may be quoted "..." with backslash escapes.
 */
#ifndef TERN_PLUGINS_LOOKUPS_LSEARCH_PARSE_H
#define TERN_PLUGINS_LOOKUPS_LSEARCH_PARSE_H

#include <stdio.h>

/*
 * Split a record's first line (no newline) into its key and the start of
 * its value.  *key_out is malloc'ed.  Returns 0, or -1 on an unterminated
 * quoted key or an empty key (the line is then ignored).
 */
int lsearch_parse_key(const char *line, char **key_out, const char **rest_out);

/*
 * Decides whether a key in the file matches: 1 yes, 0 no, -1 give up
 * (the callback keeps its own error text).
 */
typedef int (*lsearch_match_fn)(void *arg, const char *file_key);

/*
 * Read f from its start and return the value of the first record whose
 * key `match` accepts.  1: found, *value_out malloc'ed; 0: not found;
 * -1: match gave up; -2: read error (errno set).
 */
int lsearch_scan(FILE *f, lsearch_match_fn match, void *arg,
	char **value_out);

/* Caseless compare, or "*suffix" wildcard (a lone "*" matches anything). */
int lsearch_wild_match(const char *pattern, const char *subject);

/*
 * Does IP address ip lie in pattern ("192.0.2.1", "192.0.2.0/24",
 * "2001:db8::/32")?  1 yes, 0 no, -1 pattern or ip is not an address.
 * An IPv4-mapped IPv6 ip is compared as IPv4.
 */
int lsearch_ip_match(const char *pattern, const char *ip);

#endif
