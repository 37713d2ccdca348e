/*
 * The ldap lookup: types ldap (one entry; the values of its attributes),
 * ldapm (several entries) and ldapdn (the DN of one entry), over ldap://,
 * ldaps:// and ldapi:// URLs (RFC 4516), with Exim's options before the
 * URL (user=, pass=, nettime=, time=, size=) and ldap_default_servers
 * for URLs without a host, tried in order.
 *
 * A server that cannot be reached or bound to is never "not found": when
 * every server failed, the lookup is TERN_DEFER.  One connection per
 * server and bind identity is kept open for the life of the process.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/time.h>

#define LDAP_DEPRECATED 0
#include <lber.h>
#include <ldap.h>

#include <tern/module.h>

#include "query.h"

#define NETTIME_DEFAULT 5   /* seconds to connect */
#define TIME_DEFAULT    30  /* seconds for a search */

static const struct tern_core *core;

struct conn {
	char        *uri;
	char        *user;  /* "" for anonymous */
	char        *pass;
	LDAP        *ld;
	pid_t        pid;   /* the process that opened it */
	struct conn *next;
};

static struct conn *conns;

static bool
same(const char *a, const char *b)
{
	return strcmp(a != NULL ? a : "", b != NULL ? b : "") == 0;
}

/*
 * Forget c; close it only if this process opened it.  A connection
 * inherited across fork() (a reception process forks the delivery) is
 * the parent's: talking on it, or closing it properly, would break the
 * parent's session, so the child leaves it alone and opens its own.
 */
static void
conn_drop(struct conn *c)
{
	struct conn **pp;

	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->ld != NULL && c->pid == getpid())
		ldap_unbind_ext_s(c->ld, NULL, NULL);
	free(c->uri);
	free(c->user);
	free(c->pass);
	free(c);
}

/* Is rc a failure of the server or the network (try another)? */
static bool
is_server_error(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
		rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY ||
		rc == LDAP_TIMELIMIT_EXCEEDED || rc == LDAP_OTHER ||
		rc == LDAP_UNWILLING_TO_PERFORM;
}

/* Connect and bind.  OK with *ld_out, or DEFER with *err_out. */
static int
open_ld(struct tern_ctx *ctx, const char *uri, const struct lq_opts *o,
	LDAP **ld_out, char **err_out)
{
	struct timeval nt = { o->nettime ? o->nettime : NETTIME_DEFAULT, 0 };
	struct timeval ot = { nt.tv_sec + (o->time ? o->time : TIME_DEFAULT),
		0 };
	struct berval cred = { 0, NULL };
	int v3 = LDAP_VERSION3, rc;
	LDAP *ld = NULL;

	rc = ldap_initialize(&ld, uri);
	if (rc != LDAP_SUCCESS) {
		*err_out = core->printf(ctx, "%s: %s", uri, ldap_err2string(rc));
		return TERN_DEFER;
	}
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &nt);
	ldap_set_option(ld, LDAP_OPT_TIMEOUT, &ot);
	ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF);
	if (o->pass != NULL) {
		cred.bv_val = (char *)o->pass;
		cred.bv_len = strlen(o->pass);
	}
	rc = ldap_sasl_bind_s(ld, o->user != NULL ? o->user : "",
		LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		*err_out = core->printf(ctx, "%s: bind as \"%s\": %s", uri,
			o->user != NULL ? o->user : "", ldap_err2string(rc));
		ldap_unbind_ext_s(ld, NULL, NULL);
		return TERN_DEFER;
	}
	*ld_out = ld;
	return TERN_OK;
}

/* The cached connection for (uri, user, pass), opened when needed. */
static int
get_conn(struct tern_ctx *ctx, const char *uri, const struct lq_opts *o,
	struct conn **out, bool *is_cached_out, char **err_out)
{
	struct conn *c, *next;
	LDAP *ld;
	int rc;

	for (c = conns; c != NULL; c = next) {
		next = c->next;
		if (c->pid != getpid())
			conn_drop(c);
	}
	for (c = conns; c != NULL; c = c->next)
		if (strcmp(c->uri, uri) == 0 && same(c->user, o->user) &&
		    same(c->pass, o->pass)) {
			*out = c;
			*is_cached_out = true;
			return TERN_OK;
		}
	if ((rc = open_ld(ctx, uri, o, &ld, err_out)) != TERN_OK)
		return rc;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->uri = strdup(uri)) == NULL ||
	    (c->user = strdup(o->user ? o->user : "")) == NULL ||
	    (c->pass = strdup(o->pass ? o->pass : "")) == NULL) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		if (c != NULL) {
			free(c->uri);
			free(c->user);
		}
		free(c);
		*err_out = core->strdup(ctx, "out of memory");
		return TERN_DEFER;
	}
	c->ld = ld;
	c->pid = getpid();
	c->next = conns;
	conns = c;
	*out = c;
	*is_cached_out = false;
	return TERN_OK;
}

/* One entry's values into dst (NULL: count).  *nvals_out counts them. */
static size_t
format_entry(LDAP *ld, LDAPMessage *e, bool is_quoted, char *dst,
	size_t *nvals_out)
{
	BerElement *ber = NULL;
	size_t o = 0, nattr = 0;

	for (char *a = ldap_first_attribute(ld, e, &ber); a != NULL;
	    a = ldap_next_attribute(ld, e, ber)) {
		struct berval **vals = ldap_get_values_len(ld, e, a);
		int nv = vals != NULL ? ldap_count_values_len(vals) : 0;

		if (nv > 0 && is_quoted) {
			size_t al = strlen(a);

			if (nattr > 0 && dst != NULL)
				dst[o] = ' ';
			o += nattr > 0;
			if (dst != NULL) {
				memcpy(dst + o, a, al);
				memcpy(dst + o + al, "=\"", 2);
			}
			o += al + 2;
		}
		for (int i = 0; i < nv; i++) {
			if (i > 0 || (!is_quoted && *nvals_out > 0)) {
				if (dst != NULL)
					memcpy(dst + o, ", ", 2);
				o += 2;
			}
			o += lq_put_value(dst != NULL ? dst + o : NULL,
				vals[i]->bv_val, vals[i]->bv_len, is_quoted);
			(*nvals_out)++;
		}
		if (nv > 0 && is_quoted) {
			if (dst != NULL)
				dst[o] = '"';
			o++;
			nattr++;
		}
		if (vals != NULL)
			ldap_value_free_len(vals);
		ldap_memfree(a);
	}
	if (ber != NULL)
		ber_free(ber, 0);
	return o;
}

/* Every entry (ldapm: one a line) into dst (NULL: count). */
static size_t
format_all(LDAP *ld, LDAPMessage *res, bool is_quoted, char *dst,
	size_t *nvals_out)
{
	size_t o = 0;
	int n = 0;

	*nvals_out = 0;
	for (LDAPMessage *e = ldap_first_entry(ld, res); e != NULL;
	    e = ldap_next_entry(ld, e), n++) {
		size_t before = *nvals_out;

		if (n > 0) {
			if (dst != NULL)
				dst[o] = '\n';
			o++;
		}
		if (!is_quoted)
			*nvals_out = 0; /* ", " joins values within an entry */
		o += format_entry(ld, e, is_quoted, dst != NULL ? dst + o : NULL,
			nvals_out);
		if (!is_quoted)
			*nvals_out += before;
	}
	return o;
}

/* The lookup's value from a search result.  OK, FAIL or DEFER. */
static int
result_value(struct tern_ctx *ctx, LDAP *ld, LDAPMessage *res,
	const char *type, const LDAPURLDesc *lud, char **value_out,
	char **err_out)
{
	int n = ldap_count_entries(ld, res);
	bool is_quoted;
	size_t len, nvals;
	char *v;

	if (n <= 0)
		return TERN_FAIL;
	if (n > 1 && strcmp(type, "ldapm") != 0) {
		*err_out = core->printf(ctx, "LDAP search found %d entries where "
			"%s wants one (use ldapm for several)", n, type);
		return TERN_DEFER;
	}
	if (strcmp(type, "ldapdn") == 0) {
		char *dn = ldap_get_dn(ld, ldap_first_entry(ld, res));

		if (dn == NULL)
			return TERN_FAIL;
		*value_out = core->strdup(ctx, dn);
		ldap_memfree(dn);
		return TERN_OK;
	}
	is_quoted = lud->lud_attrs == NULL || lud->lud_attrs[0] == NULL ||
		lud->lud_attrs[1] != NULL;
	len = format_all(ld, res, is_quoted, NULL, &nvals);
	if (nvals == 0)
		return TERN_FAIL; /* the entry has none of the attributes */
	v = core->alloc(ctx, len + 1);
	format_all(ld, res, is_quoted, v, &nvals);
	v[len] = '\0';
	*value_out = v;
	return TERN_OK;
}

/* One search on c.  LDAP result code; *res_out to be freed. */
static int
search(struct conn *c, const LDAPURLDesc *lud, const struct lq_opts *o,
	LDAPMessage **res_out)
{
	struct timeval tv = { o->time ? o->time : TIME_DEFAULT, 0 };

	*res_out = NULL;
	return ldap_search_ext_s(c->ld, lud->lud_dn != NULL ? lud->lud_dn : "",
		lud->lud_scope == LDAP_SCOPE_DEFAULT ? LDAP_SCOPE_SUBTREE :
		lud->lud_scope, lud->lud_filter != NULL ? lud->lud_filter :
		"(objectClass=*)", lud->lud_attrs, 0, NULL, NULL, &tv,
		o->size, res_out);
}

/* Try one server: OK/FAIL (done), DEFER (try the next), ERROR. */
static int
try_server(struct tern_ctx *ctx, const char *uri, const char *type,
	const LDAPURLDesc *lud, const struct lq_opts *o, char **value_out,
	char **err_out)
{
	LDAPMessage *res = NULL;
	struct conn *c;
	bool is_cached;
	int rc, lrc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = get_conn(ctx, uri, o, &c, &is_cached, err_out)) != TERN_OK)
			return rc;
		lrc = search(c, lud, o, &res);
		if (!is_server_error(lrc) || !is_cached)
			break;
		/* a cached connection the server has closed: reopen once */
		if (res != NULL)
			ldap_msgfree(res);
		res = NULL;
		conn_drop(c);
	}
	if (lrc == LDAP_SUCCESS || lrc == LDAP_SIZELIMIT_EXCEEDED)
		rc = result_value(ctx, c->ld, res, type, lud, value_out, err_out);
	else if (lrc == LDAP_NO_SUCH_OBJECT)
		rc = TERN_FAIL;
	else {
		*err_out = core->printf(ctx, "%s: search: %s", uri,
			ldap_err2string(lrc));
		rc = is_server_error(lrc) ? TERN_DEFER : TERN_ERROR;
		if (is_server_error(lrc))
			conn_drop(c);
	}
	if (res != NULL)
		ldap_msgfree(res);
	return rc;
}

static int
ldap_find(struct tern_ctx *ctx, void *handle, const char *type,
	const char *query, char **value_out, char **err_out)
{
	char *q = core->strdup(ctx, query), server[1024], item[1024], uri[1100];
	const char *why = "not an LDAP URL", *list;
	struct lq_opts o;
	LDAPURLDesc *lud = NULL;
	size_t slen;
	char sep = '\0', scheme[8];
	int rc = TERN_DEFER, tried = 0;

	(void)handle;
	if (lq_parse(q, &o, &why) < 0 ||
	    lq_url_server(o.url, server, sizeof(server), &slen) < 0) {
		*err_out = core->printf(ctx, "ldap: %s in \"%s\"", why, query);
		return TERN_ERROR;
	}
	if (ldap_url_parse(o.url, &lud) != LDAP_URL_SUCCESS) {
		*err_out = core->printf(ctx, "ldap: bad LDAP URL \"%s\"", o.url);
		return TERN_ERROR;
	}
	snprintf(scheme, sizeof(scheme), "%.*s", (int)slen, o.url);
	if (server[0] != '\0' || strcmp(scheme, "ldapi") == 0) {
		if (server[0] == '\0')
			snprintf(server, sizeof(server), "ldapi://");
		rc = try_server(ctx, server, type, lud, &o, value_out, err_out);
		tried = 1;
	} else {
		list = core->main_option("ldap_default_servers");
		while (rc == TERN_DEFER &&
		    tern_list_next(&list, &sep, item, sizeof(item)) > 0) {
			lq_server_uri(item, scheme, uri, sizeof(uri));
			rc = try_server(ctx, uri, type, lud, &o, value_out, err_out);
			if (rc == TERN_DEFER)
				core->log(ctx, TERN_LOG_MAIN, "ldap: %s", *err_out);
			tried++;
		}
	}
	if (tried == 0) {
		snprintf(uri, sizeof(uri), "%s:///", scheme);
		rc = try_server(ctx, uri, type, lud, &o, value_out, err_out);
	}
	ldap_free_urldesc(lud);
	return rc;
}

/* A query type has no file to open; the handle only lets close() run. */
static int handle_token;

static int
ldap_open(struct tern_ctx *ctx, const char *type, const char *file,
	void **handle_out, char **err_out)
{
	(void)ctx;
	(void)type;
	(void)file;
	(void)err_out;
	*handle_out = &handle_token;
	return TERN_OK;
}

static void
ldap_close_all(void *handle)
{
	(void)handle;
	while (conns != NULL)
		conn_drop(conns);
}

static int
ldap_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

static const char *const ldap_types[] = { "ldap", "ldapm", "ldapdn", NULL };

TERN_MODULE(ldap) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_LOOKUP,
	.name = "ldap",
	.version = "1.0",
	.load = ldap_load,
	.lookup = {
		.types = ldap_types,
		.is_query = 1,
		.open = ldap_open,
		.find = ldap_find,
		.close = ldap_close_all,
	},
};
