/*
 * Reading the source of a dbm file: the lsearch format (docs/config.md,
 * "lsearch"), record by record, with line numbers for messages.
 *
 * A record is a key at the start of a line ("quoted" with backslash
 * escapes, or up to white space or ':'), an optional ':', and its value
 * to the end of the line.  Lines that start with white space continue
 * the value (joined with one space, trailing white space dropped); '#'
 * lines and blank lines are skipped.  This is exactly what an lsearch
 * lookup finds in the same file.
 */
#ifndef TERN_TOOLS_DBMBUILD_SOURCE_H
#define TERN_TOOLS_DBMBUILD_SOURCE_H

#include <stddef.h>
#include <stdio.h>

/*
 * Called for each record: key and value are NUL-terminated and only
 * valid during the call; line is where the key is.  Return 0 to go on,
 * non-zero to stop the parse (dbm_source_parse then returns it).
 */
typedef int (*dbm_record_fn)(void *arg, const char *key, const char *value,
	long line);

/*
 * Parse all of f, calling fn for each record in order.  Returns 0; -1 on
 * a syntax error or a read error, with err filled as "name:line: what";
 * or what fn returned when it stopped the parse.
 */
int dbm_source_parse(FILE *f, const char *name, dbm_record_fn fn, void *arg,
	char *err, size_t errlen);

#endif
