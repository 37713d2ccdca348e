/* Matching items against Exim-style lists. */
#ifndef TERN_CORE_CONFIG_LISTS_H
#define TERN_CORE_CONFIG_LISTS_H

#include <tern/core.h>

/*
 * Match `item` against `list` of kind.  Lists are colon-separated ("::" is a
 * literal colon; a leading "<c" changes the separator).  Items: literals
 * (domains and local parts compared caselessly), "*" wildcards at the start
 * ("*.example.test"), "@" (primary_hostname), "!" negation (first match
 * wins), "+name" named lists, "lsearch;/file" (and any lookup type) items,
 * and for hosts: IPv4/IPv6 addresses, CIDR "a.b.c.d/n", "*" and host
 * names (see list_host_lookups).  Regular expressions start with "^".
 *
 * Returns TERN_OK (matched), TERN_FAIL (no match or negated match),
 * TERN_DEFER (a lookup could not be done; *err_out), TERN_ERROR (a bad
 * item; *err_out).
 */
int list_match(enum tern_list_kind kind, const char *list, const char *item,
	const char *host_name, char **err_out);

/*
 * As list_match; the queries of query-style lookup items ("mysql;select
 * ... '${quote_mysql:$local_part}'") are expanded with ctx's variables
 * (ctx may be NULL) and the item being matched (see expand_list_query).
 */
int list_match_ctx(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *list, const char *item, const char *host_name,
	char **err_out);

/*
 * What a match captured, for rewrite rules' $0..$9 (arena_msg): cap[0]
 * is the whole item, then what each "*" of the pattern stood for (its
 * local part's, then its domain's) and a regular expression's groups.
 */
#define LIST_MAX_CAPS 10
struct list_caps {
	const char *cap[LIST_MAX_CAPS];
	int         n;
};

/*
 * pattern as one item (its colons are its own, as in a rewrite rule's
 * pattern), local parts compared with case if is_caseful; *caps (may be
 * NULL) what it captured.  Returns as list_match.
 */
int list_match_item(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *pattern, const char *item, bool is_caseful,
	struct list_caps *caps, char **err_out);

/*
 * Let host lists look up client_ip (the SMTP reception's client; NULL:
 * none) in this process: an item that needs the host's name
 * ("*.example.test", a regular expression) finds it with dns_host_name
 * (host_lookup_order), and a plain host name is looked up (getaddrinfo)
 * and matches when the client is one of its addresses.  For any other
 * address, such items match only a host_name passed in.
 */
void list_host_lookups(const char *client_ip);

/* Iterate over a list: returns the next item (arena_scratch) or NULL. */
const char *list_next(const char **listp, char *sep_inout);

/* Check a list's syntax at config time: 0 or -1 with *err_out. */
int list_check(enum tern_list_kind kind, const char *list, char **err_out);

#endif
