/* RFC 5321 / RFC 5322 address syntax. */
#ifndef TERN_CORE_ADDRESS_ADDRESS_H
#define TERN_CORE_ADDRESS_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

struct arena;

/*
 * Parse the path in "MAIL FROM:" / "RCPT TO:" after the colon: "<a@b>",
 * "<>" (allowed when allow_empty), source routes "<@x,@y:a@b>" (the route
 * is dropped), quoted local parts.  *addr_out is the address (arena a),
 * *rest_out points at ESMTP parameters after the '>'.  On error, -1 and
 * *err_out is a text for a 501 reply (without the code).
 */
int address_parse_path(struct arena *a, const char *s, bool allow_empty,
	char **addr_out, const char **rest_out, char **err_out);

/*
 * As address_parse_path, and with allow_unqualified a path without a
 * domain ("<user>") is accepted too (local callers: -bs); the caller
 * qualifies it.  "<postmaster>" is always accepted (RFC 5321 4.5.1).
 */
int address_parse_path2(struct arena *a, const char *s, bool allow_empty,
	bool allow_unqualified, char **addr_out, const char **rest_out,
	char **err_out);

/*
 * Check a whole address "local@domain" (as parsed, without <>): NULL if
 * valid, else a static text saying what is wrong ("domain missing",
 * "bad character in local part" ...).
 */
const char *address_check(const char *addr, bool allow_unqualified);

/*
 * Split "local@domain" at the last '@' outside quotes: *local_out and
 * *domain_out (lower-cased) in arena a; *domain_out is NULL if there is
 * no '@'.  -1 with *err_out on a syntax error.
 */
int address_split(struct arena *a, const char *addr, char **local_out,
	char **domain_out, char **err_out);

/* Qualify an unqualified address with domain (arena a). */
char *address_qualify(struct arena *a, const char *addr, const char *domain);

/*
 * Extract the addr-specs from an RFC 5322 address-list header value
 * ("To: A <a@x>, b@y (comment), group: c@z;"), as a NULL-terminated
 * array in arena a.  -1 with *err_out on a syntax error.
 */
int address_list_extract(struct arena *a, const char *value, char ***list_out,
	char **err_out);

/*
 * Where each address of an address-list header value is: the addr-spec
 * as written (value[spec_start..spec_end), comments or folding inside it
 * included) and the whole mailbox around it, display name and angle
 * brackets included (value[item_start..item_end)).  For rewriting header
 * addresses in place.  The NULL-terminated list's order; *n_out of them,
 * in arena a.  -1 with *err_out as address_list_extract.
 */
struct address_span {
	char  *address;     /* as address_list_extract gives it */
	size_t spec_start, spec_end;
	size_t item_start, item_end;
};
int address_list_spans(struct arena *a, const char *value,
	struct address_span **spans_out, size_t *n_out, char **err_out);

/* Is s a valid RFC 5321 domain (or [IP literal])? */
bool address_domain_valid(const char *s);
/* Is s a valid dot-atom or quoted-string local part? */
bool address_local_part_valid(const char *s);

#endif
