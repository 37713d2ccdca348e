/*
 * Splitting an alias value (or an :include: file) into its items, free of
 * the core so that unit tests link it.
 *
 * Items are separated by commas or newlines outside "quotes" and
 * (comments).  An item is an address (user, user@dom, Name <user@dom>,
 * "quoted local"@dom), a pipe |command, a file /path, or one of the
 * special items :include:path, :fail: text, :defer: text, :blackhole:
 * and :unknown:.  The text of :fail: and :defer: is the rest of the list.
 */
#ifndef TERN_PLUGINS_DIRECTORS_ALIASFILE_ALIASLIST_H
#define TERN_PLUGINS_DIRECTORS_ALIASFILE_ALIASLIST_H

#include <stddef.h>

enum alias_item_kind {
	AI_ADDRESS = 1,
	AI_PIPE,      /* text starts with '|' */
	AI_FILE,      /* text starts with '/' */
	AI_INCLUDE,   /* text is the path */
	AI_FAIL,      /* text is the message, may be empty */
	AI_DEFER,
	AI_BLACKHOLE, /* text is empty */
	AI_UNKNOWN,
};

struct alias_item {
	enum alias_item_kind kind;
	char *text; /* malloc'ed */
};

/*
 * The next item from *cursor, which is advanced past it.  Returns 1 with
 * *item filled, 0 at the end of the list, -1 on a syntax error (*err_out
 * is static text; the rest of the list cannot be read).
 */
int alias_next_item(const char **cursor, struct alias_item *item,
	const char **err_out);

/*
 * Blank out, in place, every line of an included file whose first
 * non-blank character is '#'.
 */
void alias_strip_comments(char *text);

/* The address inside "Name <addr> (comment)": malloc'ed, or NULL. */
char *alias_bare_address(const char *s, size_t len);

/* Is there an '@' outside quotes in addr? */
int alias_has_domain(const char *addr);

#endif
