/* manualroute: parsing route_list items (pure; unit-tested). */
#ifndef TERN_PLUGINS_ROUTERS_MANUALROUTE_ROUTE_LIST_H
#define TERN_PLUGINS_ROUTERS_MANUALROUTE_ROUTE_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* How to find the addresses of the host names of an item. */
enum mr_lookup { MR_LOOKUP_DEFAULT = 0, MR_LOOKUP_BYNAME, MR_LOOKUP_BYDNS };

struct mr_item {
	char          *domains;   /* the domain pattern (a domain list) */
	char          *hosts;     /* the host list, unexpanded */
	enum mr_lookup lookup;
	int            randomize; /* -1 unset, 0 no_randomize, 1 randomize */
};

/*
 * Split the next item off *listp ("<sep" at the start of the list changes
 * the separator from ';'; *sep_inout starts at '\0').  Returns the item
 * (malloc'ed, caller frees) or NULL at the end.
 */
char *mr_next_item(const char **listp, char *sep_inout);

/*
 * Parse one item: "pattern  hosts  [options]" where hosts may be in
 * double quotes (when it contains white space) and options are
 * randomize, no_randomize, byname, bydns.  The strings point into
 * item, which is modified.  An item with only a pattern has hosts "".
 * 0, or -1 with *err_out (static text).
 */
int mr_parse_item(char *item, struct mr_item *out, const char **err_out);

#endif
