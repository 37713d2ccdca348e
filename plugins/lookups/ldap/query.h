/*
 * The ldap lookup's text handling, free of libldap and of the core so
 * that unit tests link it: the options before the URL, the server lists,
 * and the value format (Exim's).
 */
#ifndef TERN_PLUGINS_LOOKUPS_LDAP_QUERY_H
#define TERN_PLUGINS_LOOKUPS_LDAP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/list.h>

/* user="cn=..." pass=secret nettime=5 time=10 size=1 ldap://... */
struct lq_opts {
	const char *user;   /* bind DN, NULL: anonymous */
	const char *pass;
	int         nettime; /* seconds to connect, 0: the default */
	int         time;    /* seconds for the search, 0: the default */
	int         size;    /* most entries wanted, 0: no limit */
	const char *url;     /* the rest: an RFC 4516 LDAP URL */
};

/*
 * Parse q, which is modified in place (quotes and backslashes removed).
 * 0, or -1 with *why_out (a static text).
 */
int lq_parse(char *q, struct lq_opts *o, const char **why_out);

/*
 * The "scheme://hostport" part of url, copied to buf (size n): "" when
 * the URL names no host ("ldap:///...": use ldap_default_servers).
 * *scheme_len_out is the length of "ldap", "ldaps" or "ldapi"; -1 when
 * url is not an LDAP URL.
 */
int lq_url_server(const char *url, char *buf, size_t n,
	size_t *scheme_len_out);


/*
 * A server from ldap_default_servers ("host", "host:port", or a URL) as
 * a URI with scheme (the URL's: ldap or ldaps) into buf.
 */
void lq_server_uri(const char *item, const char *scheme, char *buf,
	size_t n);

/*
 * Append value v (len bytes) to dst for Exim's formats: with is_quoted
 * (several attributes: attr="v1, v2"), '"' and '\' get a backslash; in
 * either case a comma is doubled, since ", " separates values.  dst may
 * be NULL: only the length is returned.
 */
size_t lq_put_value(char *dst, const char *v, size_t len, bool is_quoted);

#endif
