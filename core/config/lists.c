/*
 * Exim-style lists: iteration with separator change, and matching of
 * domains, hosts, addresses and local parts against their items.  A lookup
 * that cannot be done is TERN_DEFER, never "no match".
 */
#include "config/lists.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/config.h"
#include "config/internal.h"
#include "dns/dns.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lookup/lookup.h"
#include "modules/modules.h"

#define MAX_LIST_DEPTH 16

struct subject {
	enum tern_list_kind kind;
	const char *item;       /* as given */
	const char *local;      /* address lists: local part */
	const char *domain;     /* address lists: domain (may be "") */
	const char *host_name;  /* host lists: known name or NULL */
	bool        has_ip;     /* host lists: item parsed as an address */
	unsigned char ip[16];   /* IPv4 as ::ffff:a.b.c.d */
	bool        is_caseful; /* "+caseful" seen (address lists) */
	struct tern_ctx *ctx;   /* for expanding lookup queries; may be NULL */
	struct list_caps *caps; /* what wildcards and groups matched, or NULL */
};

/* Record what a wildcard or a regex group matched as the next $n. */
static void
cap_add(struct list_caps *c, const char *p, size_t n)
{
	if (c != NULL && c->n < LIST_MAX_CAPS)
		c->cap[c->n++] = arena_strndup(arena_msg, p, n);
}

static int match_list(const struct subject *s, const char *list, int depth,
	char **err_out);
static int check_item(enum tern_list_kind kind, const char *item,
	bool is_full, char **err_out);

const char *
list_next(const char **listp, char *sep_inout)
{
	const char *p = *listp;
	struct buf b;

	if (p == NULL)
		return NULL;
	if (*sep_inout == '\0') {
		while (isspace((unsigned char)*p))
			p++;
		*sep_inout = ':';
		if (p[0] == '<' && p[1] != '\0' && ispunct((unsigned char)p[1])) {
			*sep_inout = p[1];
			p += 2;
		}
	}
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0') {
			*listp = p;
			return NULL;
		}
		buf_init(&b, arena_scratch, 0);
		for (int depth = 0; *p != '\0'; p++) {
			/*
			 * Inside "${...}" (the expanded query of a lookup item,
			 * "${quote_mysql:$domain}") a separator is text.
			 */
			if (p[0] == '$' && p[1] == '{')
				depth++;
			else if (*p == '{' && depth > 0 && p[-1] != '$')
				depth++;
			else if (*p == '}' && depth > 0)
				depth--;
			if (*p == *sep_inout && depth == 0) {
				if (p[1] != *sep_inout)
					break;
				p++; /* doubled separator: a literal one */
			}
			if (!buf_addc(&b, *p))
				return NULL;
		}
		if (*p != '\0')
			p++;
		while (b.len > 0 && isspace((unsigned char)b.p[b.len - 1]))
			b.p[--b.len] = '\0';
		if (b.len > 0) {
			*listp = p;
			return b.p;
		}
	}
}

static const char *
list_kind_name(enum tern_list_kind kind)
{
	switch (kind) {
	case TERN_LIST_DOMAIN:    return "domainlist";
	case TERN_LIST_HOST:      return "hostlist";
	case TERN_LIST_ADDRESS:   return "addresslist";
	case TERN_LIST_LOCALPART: return "localpartlist";
	default:                  return NULL;
	}
}

/* "type;rest": the lookup type (scratch) and *rest_out, or NULL. */
static char *
lookup_item(const char *item, const char **rest_out)
{
	const char *semi = strchr(item, ';');
	const char *p;

	if (semi == NULL || semi == item)
		return NULL;
	for (p = item; p < semi; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '-')
			return NULL;
	p = semi + 1;
	while (isspace((unsigned char)*p))
		p++;
	*rest_out = p;
	return arena_strndup(arena_scratch, item, (size_t)(semi - item));
}

/* Parse "a.b.c.d", "v6" or either with "/bits"; bits in v6 terms. */
static bool
parse_ip(const char *text, unsigned char ip[16], int *bits_out)
{
	const char *slash = strchr(text, '/');
	char *addr;
	int bits = -1;

	if (slash != NULL) {
		char *end;
		long v = strtol(slash + 1, &end, 10);

		if (slash[1] == '\0' || *end != '\0' || v < 0 || v > 128)
			return false;
		bits = (int)v;
		addr = arena_strndup(arena_scratch, text, (size_t)(slash - text));
	} else {
		addr = arena_strdup(arena_scratch, text);
	}
	/* "::1" in a colon list reads as ":1"; take it as meant. */
	if (addr[0] == ':' && addr[1] != ':')
		addr = arena_printf(arena_scratch, ":%s", addr);
	if (!dns_ip_bytes(addr, ip))
		return false;
	if (strchr(addr, ':') == NULL) { /* IPv4: bits of the mapped form */
		if (bits > 32)
			return false;
		bits = bits < 0 ? 128 : bits + 96;
	} else if (bits < 0) {
		bits = 128;
	}
	if (bits_out != NULL)
		*bits_out = bits;
	return true;
}

static bool
ip_prefix_equal(const unsigned char a[16], const unsigned char b[16], int bits)
{
	int bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[bytes] ^ b[bytes]) & (0xff << (8 - rest)) & 0xff) == 0;
}

/* Does the item look like an address or a CIDR rather than a host name? */
static bool
looks_like_ip(const char *item)
{
	if (strchr(item, ':') != NULL || strchr(item, '/') != NULL)
		return true;
	for (const char *p = item; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			return false;
	return true;
}

static pcre2_code *
regex_compile(const char *pattern, bool is_caseless, char **err_out)
{
	int code;
	PCRE2_SIZE off;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern,
		PCRE2_ZERO_TERMINATED, is_caseless ? PCRE2_CASELESS : 0,
		&code, &off, NULL);

	if (re == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(code, msg, sizeof(msg));
		*err_out = arena_printf(arena_perm,
			"bad regular expression \"%s\" at offset %zu: %s",
			pattern, (size_t)off, (char *)msg);
	}
	return re;
}

/* OK match, FAIL no match, ERROR bad pattern.  caps: its groups. */
static int
regex_match(const char *pattern, const char *subject, bool is_caseless,
	struct list_caps *caps, char **err_out)
{
	pcre2_code *re = regex_compile(pattern, is_caseless, err_out);
	pcre2_match_data *md;
	int rc;

	if (re == NULL)
		return TERN_ERROR;
	md = pcre2_match_data_create_from_pattern(re, NULL);
	rc = pcre2_match(re, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md,
		NULL);
	if (rc > 0 && caps != NULL) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		/* $0 stays the whole subject; the groups follow what an
		 * earlier part (a local part's "*") captured. */
		for (int i = 1; i < rc; i++)
			if (ov[2 * i] == PCRE2_UNSET)
				cap_add(caps, "", 0);
			else
				cap_add(caps, subject + ov[2 * i],
					ov[2 * i + 1] - ov[2 * i]);
	}
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0 ? TERN_OK : TERN_FAIL;
}

static int
str_eq(const char *a, const char *b, bool is_caseless)
{
	return (is_caseless ? str_casecmp(a, b) : strcmp(a, b)) == 0;
}

/*
 * "*suffix" wildcard, "*" alone, or a literal.  caps: what the "*"
 * stood for.
 */
static bool
wild_match(const char *pat, const char *subj, bool is_caseless,
	struct list_caps *caps)
{
	size_t pl, sl;

	if (pat[0] != '*')
		return str_eq(pat, subj, is_caseless);
	pat++;
	pl = strlen(pat);
	sl = strlen(subj);
	if (pl > sl || !str_eq(pat, subj + sl - pl, is_caseless))
		return false;
	cap_add(caps, subj, sl - pl);
	return true;
}

/* Domain patterns (also host names and address domains). */
static int
domain_pattern(const char *pat, const char *domain, struct list_caps *caps,
	char **err_out)
{
	if (pat[0] == '^')
		return regex_match(pat, domain, true, caps, err_out);
	if (strcmp(pat, "@") == 0)
		return conf.primary_hostname != NULL &&
			str_casecmp(conf.primary_hostname, domain) == 0
			? TERN_OK : TERN_FAIL;
	if (pat[0] == '@')
		return TERN_FAIL; /* @[], @mx_any ...: not supported (yet) */
	return wild_match(pat, domain, true, caps) ? TERN_OK : TERN_FAIL;
}

static int
lookup_match(const struct subject *s, const char *type, const char *rest,
	char **err_out)
{
	const struct tern_module *mod;
	const char *key = s->item;
	char *value;

	mod = module_load_lookup(type, NULL, err_out);
	if (mod == NULL)
		return TERN_ERROR;
	if (mod->lookup.is_query) {
		char *query;
		int rc = expand_list_query(s->ctx, s->kind, s->item, rest, &query,
			err_out);

		if (rc == TERN_FAIL)
			return TERN_FAIL; /* forced failure: no match */
		if (rc != TERN_OK)
			return rc;
		return lookup_find(s->ctx, type, NULL, query, &value, err_out);
	}
	if (s->kind == TERN_LIST_DOMAIN || s->kind == TERN_LIST_LOCALPART)
		key = str_lower(arena_scratch, key);
	return lookup_find(NULL, type, rest, key, &value, err_out);
}

static int
address_pattern(const struct subject *s, const char *pat, char **err_out)
{
	const char *at = strrchr(pat, '@');
	const char *lp;
	bool is_caseless = !s->is_caseful;

	if (pat[0] == '^')
		return regex_match(pat, s->item, is_caseless, s->caps, err_out);
	if (at == NULL)
		return domain_pattern(pat, s->domain, s->caps, err_out);
	lp = arena_strndup(arena_scratch, pat, (size_t)(at - pat));
	if (lp[0] != '\0' && !wild_match(lp, s->local, is_caseless, s->caps))
		return TERN_FAIL;
	if (at[1] == '\0')
		return s->domain[0] == '\0' ? TERN_OK : TERN_FAIL;
	return domain_pattern(at + 1, s->domain, s->caps, err_out);
}

/*
 * Host lists may look the SMTP client up (list_host_lookups): its name
 * for items that need one, the addresses of a plain host name.  Only in
 * the reception's process, and only for that client, so that the daemon
 * never waits for the DNS and a delivery never asks about its servers.
 */
static bool host_lookups;
static unsigned char lookup_ip[16];

/*
 * Internal to host lists: the item needs the client's name, or a host's
 * addresses, and they cannot be found (+include_unknown, +ignore_unknown).
 */
#define LIST_UNKNOWN 1000

void
list_host_lookups(const char *client_ip)
{
	host_lookups = client_ip != NULL && parse_ip(client_ip, lookup_ip,
		NULL);
}

static bool
may_look_up(const struct subject *s)
{
	return host_lookups && s->has_ip && memcmp(s->ip, lookup_ip, 16) == 0;
}

/* The subject's host name for a pattern that needs one, or NULL. */
static int
host_name_for(const struct subject *s, const char **name_out,
	char **err_out)
{
	int rc;

	*name_out = s->host_name;
	if (s->host_name != NULL)
		return TERN_OK;
	if (!may_look_up(s))
		return TERN_FAIL;
	rc = dns_host_name(s->item, name_out, err_out);
	return rc == TERN_DEFER ? TERN_DEFER : rc == TERN_OK ? TERN_OK :
		LIST_UNKNOWN;
}

static int
host_pattern(const struct subject *s, const char *pat, char **err_out)
{
	unsigned char ip[16];
	const char *name;
	int bits, rc;

	if (strcmp(pat, "*") == 0)
		return TERN_OK;
	if (looks_like_ip(pat)) {
		if (!parse_ip(pat, ip, &bits)) {
			*err_out = arena_printf(arena_msg,
				"bad IP address or network \"%s\"", pat);
			return TERN_ERROR;
		}
		return s->has_ip && ip_prefix_equal(ip, s->ip, bits)
			? TERN_OK : TERN_FAIL;
	}
	/* A plain name (or "@"): is the client one of its addresses? */
	if (pat[0] != '*' && pat[0] != '^') {
		const char *host = strcmp(pat, "@") == 0 ?
			conf.primary_hostname : pat;

		if (host == NULL || host[0] == '@' || /* @[], @mx_any ... */
		    host[strspn(host, "abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")] != '\0')
			return TERN_FAIL; /* no host name: nothing to look up */
		if (s->host_name != NULL && str_casecmp(host, s->host_name) == 0)
			return TERN_OK;
		if (!may_look_up(s))
			return TERN_FAIL;
		rc = dns_name_has_ip(host, TERN_HF_BYNAME, s->item, err_out);
		return rc == TERN_DEFER ? TERN_DEFER : rc == TERN_OK ?
			TERN_OK : rc == TERN_FAIL ? LIST_UNKNOWN : TERN_FAIL;
	}
	rc = host_name_for(s, &name, err_out);
	if (rc != TERN_OK)
		return rc;
	return domain_pattern(pat, name, NULL, err_out);
}

static int
named_list_match(const struct subject *s, const char *name, int depth,
	char **err_out)
{
	const char *kname = list_kind_name(s->kind);
	const struct named_list *nl = kname ? config_find_list(kname, name)
		: NULL;

	if (nl == NULL) {
		*err_out = arena_printf(arena_msg, "unknown %s \"%s\"",
			kname ? kname : "named list", name);
		return TERN_ERROR;
	}
	if (depth >= MAX_LIST_DEPTH) {
		*err_out = arena_printf(arena_msg,
			"named lists nested too deeply at \"%s\"", name);
		return TERN_ERROR;
	}
	return match_list(s, nl->value, depth + 1, err_out);
}

/* One item, without its "!". */
static int
match_item(const struct subject *s, const char *pat, int depth,
	char **err_out)
{
	const char *type, *rest;

	if (pat[0] == '+')
		return named_list_match(s, pat + 1, depth, err_out);
	if ((type = lookup_item(pat, &rest)) != NULL)
		return lookup_match(s, type, rest, err_out);
	switch (s->kind) {
	case TERN_LIST_DOMAIN:
		return domain_pattern(pat, s->item, NULL, err_out);
	case TERN_LIST_HOST:
		return host_pattern(s, pat, err_out);
	case TERN_LIST_ADDRESS:
		return address_pattern(s, pat, err_out);
	case TERN_LIST_LOCALPART:
		if (pat[0] == '^')
			return regex_match(pat, s->item, true, NULL, err_out);
		return wild_match(pat, s->item, true, NULL) ? TERN_OK :
			TERN_FAIL;
	case TERN_LIST_STRING:
		if (pat[0] == '^')
			return regex_match(pat, s->item, false, s->caps,
				err_out);
		return strcmp(pat, s->item) == 0 ? TERN_OK : TERN_FAIL;
	}
	return TERN_ERROR;
}

/*
 * An item written "\N...\N", as Exim's expanded lists take a regular
 * expression that must not be expanded: lists are not expanded here, so
 * the markers go.
 */
static const char *
unwrap_n(const char *item)
{
	size_t n = strlen(item);

	if (n >= 4 && item[0] == '\\' && item[1] == 'N' &&
	    item[n - 2] == '\\' && item[n - 1] == 'N')
		return arena_strndup(arena_scratch, item + 2, n - 4);
	return item;
}

static bool
is_list_flag(const char *item)
{
	static const char *const flags[] = { "+caseful", "+include_unknown",
		"+ignore_unknown", "+include_defer", "+ignore_defer", NULL };

	for (int i = 0; flags[i] != NULL; i++)
		if (strcmp(item, flags[i]) == 0)
			return true;
	return false;
}

static int
match_list(const struct subject *s, const char *list, int depth,
	char **err_out)
{
	struct subject local = *s;
	char sep = '\0';
	const char *item;
	bool last_negated = false;
	enum { UNKNOWN_FAILS, UNKNOWN_MATCHES, UNKNOWN_SKIPPED } unknown =
		UNKNOWN_FAILS;

	while ((item = list_next(&list, &sep)) != NULL) {
		bool is_negated = false;
		int rc;

		if (is_list_flag(item)) {
			if (strcmp(item, "+caseful") == 0)
				local.is_caseful = true;
			else if (strcmp(item, "+include_unknown") == 0)
				unknown = UNKNOWN_MATCHES;
			else if (strcmp(item, "+ignore_unknown") == 0)
				unknown = UNKNOWN_SKIPPED;
			continue;
		}
		while (*item == '!') {
			is_negated = !is_negated;
			item++;
			while (isspace((unsigned char)*item))
				item++;
		}
		if (local.caps != NULL)
			local.caps->n = 1; /* $0 stays: the whole address */
		rc = match_item(&local, unwrap_n(item), depth, err_out);
		/* As in Exim: a host whose name (or a name whose address) cannot
		 * be found makes the whole list fail, unless told otherwise. */
		if (rc == LIST_UNKNOWN) {
			if (unknown == UNKNOWN_SKIPPED)
				continue;
			return unknown == UNKNOWN_MATCHES ? TERN_OK : TERN_FAIL;
		}
		if (rc == TERN_OK)
			return is_negated ? TERN_FAIL : TERN_OK;
		if (rc != TERN_FAIL)
			return rc;
		last_negated = is_negated;
	}
	/* As in Exim: a list ending in a negative item ("! +local_domains")
	 * matches whatever no item matched. */
	return last_negated ? TERN_OK : TERN_FAIL;
}

int
list_match(enum tern_list_kind kind, const char *list, const char *item,
	const char *host_name, char **err_out)
{
	return list_match_ctx(NULL, kind, list, item, host_name, err_out);
}

/* The subject of a match: item split as its kind needs (arena_scratch). */
static void
subject_init(struct subject *s, struct tern_ctx *ctx,
	enum tern_list_kind kind, const char *item, const char *host_name,
	struct list_caps *caps)
{
	*s = (struct subject){ .kind = kind, .item = item,
		.host_name = host_name, .ctx = ctx, .caps = caps };
	if (caps != NULL) {
		caps->n = 0;
		cap_add(caps, item, strlen(item));
	}
	if (kind == TERN_LIST_HOST)
		s->has_ip = parse_ip(item, s->ip, NULL);
	if (kind == TERN_LIST_ADDRESS) {
		const char *at = strrchr(item, '@');

		s->local = at ? arena_strndup(arena_scratch, item,
			(size_t)(at - item)) : item;
		s->domain = at ? at + 1 : "";
	}
}

int
list_match_ctx(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *list, const char *item, const char *host_name,
	char **err_out)
{
	struct arena_mark m = arena_mark(arena_scratch);
	struct subject s;
	int rc;

	if (list == NULL || item == NULL)
		return TERN_FAIL;
	subject_init(&s, ctx, kind, item, host_name, NULL);
	rc = match_list(&s, list, 0, err_out);
	arena_release(arena_scratch, m);
	return rc;
}

int
list_match_item(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *pattern, const char *item, bool is_caseful,
	struct list_caps *caps, char **err_out)
{
	struct arena_mark m = arena_mark(arena_scratch);
	struct subject s;
	int rc;

	subject_init(&s, ctx, kind, item, NULL, caps);
	s.is_caseful = is_caseful;
	rc = match_item(&s, pattern, 0, err_out);
	if (rc == LIST_UNKNOWN)
		rc = TERN_FAIL;
	arena_release(arena_scratch, m);
	return rc;
}

int
list_check_item(enum tern_list_kind kind, const char *item, char **err_out)
{
	return check_item(kind, item, false, err_out);
}

/* The lookup type exists (loading its module); file types need a path. */
static int
check_lookup(const char *type, const char *rest, char **err_out)
{
	const struct tern_module *mod = module_load_lookup(type, NULL, err_out);

	if (mod == NULL)
		return -1;
	if (!mod->lookup.is_query && rest[0] != '/') {
		*err_out = arena_printf(arena_perm,
			"lookup %s: file name \"%s\" is not absolute", type, rest);
		return -1;
	}
	return 0;
}

/* Check one item (without "!"); full: named lists and modules too. */
static int
check_item(enum tern_list_kind kind, const char *item, bool is_full,
	char **err_out)
{
	const char *type, *rest;
	unsigned char ip[16];

	if (strchr(item, '$') != NULL || is_list_flag(item))
		return 0; /* expanded at use */
	if (item[0] == '+') {
		const char *kname = list_kind_name(kind);
		const struct named_list *nl;

		if (!is_full)
			return 0;
		for (nl = cfg.lists; nl != NULL; nl = nl->next)
			if (strcmp(nl->name, item + 1) == 0 &&
			    (kname == NULL || strcmp(nl->kind, kname) == 0))
				return 0;
		*err_out = arena_printf(arena_perm, "unknown %s \"%s\"",
			kname ? kname : "named list", item + 1);
		return -1;
	}
	if ((type = lookup_item(item, &rest)) != NULL) {
		if (*rest == '\0') {
			*err_out = arena_printf(arena_perm,
				"lookup item \"%s\" has no file or query", item);
			return -1;
		}
		return is_full ? check_lookup(type, rest, err_out) : 0;
	}
	if (item[0] == '^') {
		pcre2_code *re = regex_compile(item, false, err_out);

		if (re == NULL)
			return -1;
		pcre2_code_free(re);
		return 0;
	}
	if (kind == TERN_LIST_HOST && looks_like_ip(item) &&
	    !parse_ip(item, ip, NULL)) {
		*err_out = arena_printf(arena_perm,
			"bad IP address or network \"%s\"", item);
		return -1;
	}
	return 0;
}

static int
check_list(enum tern_list_kind kind, const char *list, bool is_full,
	char **err_out)
{
	struct arena_mark m = arena_mark(arena_scratch);
	char sep = '\0';
	const char *item, *inner;
	int rc = 0;

	if (list == NULL)
		return 0;
	while (rc == 0 && (item = list_next(&list, &sep)) != NULL) {
		while (*item == '!' || isspace((unsigned char)*item))
			item++;
		if (*item == '\0') {
			*err_out = arena_strdup(arena_perm,
				"\"!\" without an item");
			rc = -1;
			break;
		}
		inner = unwrap_n(item);
		if (inner != item && inner[0] == '^') {
			/* "\N^...$\N": a regular expression, whatever "$" it
			 * has (lists are not expanded) */
			pcre2_code *re = regex_compile(inner, false, err_out);

			rc = re != NULL ? 0 : -1;
			pcre2_code_free(re);
			continue;
		}
		rc = check_item(kind, inner, is_full, err_out);
	}
	arena_release(arena_scratch, m);
	return rc;
}

int
list_check(enum tern_list_kind kind, const char *list, char **err_out)
{
	return check_list(kind, list, true, err_out);
}

int
list_check_syntax(enum tern_list_kind kind, const char *list,
	char **err_out)
{
	return check_list(kind, list, false, err_out);
}
