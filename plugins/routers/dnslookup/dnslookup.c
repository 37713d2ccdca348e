/*
 * The dnslookup router: route a remote domain by its MX records (sorted
 * by preference, equal preferences in random order), or its A and AAAA
 * records when it has no MX, as the book describes.  IP-literal domains
 * ("user@[192.0.2.1]") are routed here too (Exim 3 had a separate
 * ipliteral router).
 *
 * DNS results: NXDOMAIN fails the address ("unrouteable mail domain");
 * a server failure or timeout defers it (never "no MX"); an MX host with
 * no address is skipped, and when no MX host has an address the address
 * is deferred; an MX record holding an IP address instead of a name is
 * ignored unless allow_mx_to_ip is set.  When the lowest-numbered MX is
 * this host, `self` decides (Exim 3: freeze, defer, fail, send, pass,
 * reroute:domain); when a higher one is, only the hosts preferred to us
 * are used (we are a backup MX).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <tern/module.h>
#include <tern/net.h>

#include "mx.h"

struct dnslookup_opts {
	const char *self;                /* freeze|defer|fail|send|pass|reroute:d */
	bool        allow_mx_to_ip;
	bool        pass_on_timeout;
	const char *ignore_target_hosts; /* host list */
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct dnslookup_opts, field, dflt)

static const struct tern_option dnslookup_options[] = {
	O("allow_mx_to_ip",      BOOL,     allow_mx_to_ip,      "false"),
	O("ignore_target_hosts", HOSTLIST, ignore_target_hosts, NULL),
	O("pass_on_timeout",     BOOL,     pass_on_timeout,     "false"),
	O("self",                STRING,   self,                "freeze"),
	TERN_OPT_END
};

static const struct tern_core *core;

static uint32_t
rnd(uint32_t n)
{
	return arc4random_uniform(n);
}

static int
fail_with(struct tern_ctx *ctx, struct tern_address *addr, int rc,
	const char *text)
{
	addr->message = core->strdup(ctx, text);
	return rc;
}

static bool
is_ip_text(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Append the addresses of one MX host; false when its lookup deferred. */
static bool
add_mx_host(struct tern_instance *inst, struct tern_ctx *ctx,
	const struct tern_dns_record *mx, struct tern_host ***tail)
{
	const struct dnslookup_opts *o = inst->opts;
	struct tern_host *found = NULL;
	char *err = NULL;
	int rc;

	if (is_ip_text(mx->data) && !o->allow_mx_to_ip) {
		core->log(ctx, TERN_LOG_MAIN, "dnslookup %s: MX record for %s "
			"holds an IP address (%s): ignored (allow_mx_to_ip is "
			"false)", inst->name, mx->name, mx->data);
		return true;
	}
	rc = core->host_find(ctx, mx->data, TERN_HF_BYDNS, 0, mx->pref, &found,
		&err);
	if (rc == TERN_DEFER)
		return false;
	if (rc != TERN_OK) {
		core->log(ctx, TERN_LOG_DEBUG, "dnslookup: MX host %s of %s: %s",
			mx->data, mx->name, err != NULL ? err : "no address");
		return true;
	}
	for (struct tern_host *h = found; h != NULL; h = h->next) {
		**tail = h;
		*tail = &h->next;
	}
	**tail = NULL;
	return true;
}

/* The hosts of an MX list, in order; DEFER/FAIL with addr->message. */
static int
mx_hosts(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, struct tern_dns_record *mx,
	struct tern_host **out)
{
	struct tern_dns_record *v[256];
	struct tern_host **tail = out;
	size_t n = 0;
	bool deferred = false;

	for (; mx != NULL && n < 256; mx = mx->next)
		v[n++] = mx;
	mx_sort(v, n, rnd);
	if (n == 1 && (v[0]->data[0] == '\0' || strcmp(v[0]->data, ".") == 0))
		return fail_with(ctx, addr, TERN_FAIL, core->printf(ctx,
			"domain %s does not accept mail (null MX)", addr->domain));
	*out = NULL;
	for (size_t i = 0; i < n; i++)
		if (!add_mx_host(inst, ctx, v[i], &tail))
			deferred = true;
	if (*out != NULL)
		return TERN_OK;
	return fail_with(ctx, addr, TERN_DEFER, deferred ?
		core->printf(ctx, "host lookups for the MX hosts of %s deferred",
		addr->domain) : core->printf(ctx, "all relevant MX records for "
		"%s point to non-existent hosts", addr->domain));
}

/* Drop hosts matching ignore_target_hosts. */
static void
drop_ignored(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_host **list)
{
	const struct dnslookup_opts *o = inst->opts;

	if (o->ignore_target_hosts == NULL)
		return;
	while (*list != NULL) {
		char *err = NULL;

		if (core->match_list(ctx, TERN_LIST_HOST, o->ignore_target_hosts,
		    (*list)->address, &err) == TERN_OK)
			*list = (*list)->next;
		else
			list = &(*list)->next;
	}
}

/* `self`: the lowest MX (or the IP literal) is this host. */
static int
handle_self(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const struct tern_host *h)
{
	const char *self = ((const struct dnslookup_opts *)inst->opts)->self;
	const char *what = core->printf(ctx, "lowest numbered MX record for %s "
		"points to local host %s [%s]", addr->domain, h->name, h->address);
	char *err = NULL;

	if (strcmp(self, "send") == 0)
		return TERN_OK;
	if (strcmp(self, "pass") == 0)
		return TERN_DECLINE;
	if (strcmp(self, "defer") == 0)
		return fail_with(ctx, addr, TERN_DEFER, what);
	if (strcmp(self, "fail") == 0)
		return fail_with(ctx, addr, TERN_FAIL, what);
	if (strncmp(self, "reroute:", 8) == 0) {
		const char *to = core->printf(ctx, "%s@%s", addr->local_part,
			self + 8);

		if (core->add_child(ctx, addr, to, &err) == NULL)
			return fail_with(ctx, addr, TERN_ERROR, core->printf(ctx,
				"self = %s: %s", self, err));
		return TERN_OK;
	}
	return fail_with(ctx, addr, TERN_ERROR, what); /* freeze */
}

/*
 * This host among the hosts: at the top, `self` decides; lower down,
 * only the hosts preferred to it are kept.  DECLINE-style results as
 * handle_self; TERN_OK to go on with *list.
 */
/*
 * Is h this host: its address ours, or (core ABI 1.5) its name in
 * hosts_treat_as_local?  TERN_OK, TERN_FAIL, TERN_DEFER (*err_out).
 */
static int
is_local(struct tern_ctx *ctx, const struct tern_host *h, char **err_out)
{
	if (core->size >= offsetof(struct tern_core, host_is_local) +
	    sizeof core->host_is_local && core->host_is_local != NULL)
		return core->host_is_local(ctx, h->name, h->address, err_out);
	return core->host_is_self(ctx, h->address) ? TERN_OK : TERN_FAIL;
}

static int
check_self(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, struct tern_host **list)
{
	struct tern_host **pp;
	int pref;
	char *err = NULL;

	for (pp = list; *pp != NULL; pp = &(*pp)->next) {
		int rc = is_local(ctx, *pp, &err);

		if (rc == TERN_DEFER)
			return fail_with(ctx, addr, TERN_DEFER, err);
		if (rc == TERN_OK)
			break;
	}
	if (*pp == NULL)
		return TERN_OK;
	if ((*pp)->mx < 0 || (*pp)->mx == (*list)->mx)
		return handle_self(inst, ctx, addr, *pp);
	pref = (*pp)->mx;
	for (pp = list; *pp != NULL && (*pp)->mx < pref; pp = &(*pp)->next)
		;
	*pp = NULL;
	return TERN_OK;
}

/* "[192.0.2.1]" or "[IPv6:2001:db8::1]" as a host. */
static int
ip_literal(struct tern_ctx *ctx, struct tern_address *addr,
	struct tern_host **out)
{
	const char *d = addr->domain + 1;
	size_t n = strlen(d);
	char *ip;
	char *err = NULL;

	if (n < 2 || d[n - 1] != ']')
		return fail_with(ctx, addr, TERN_FAIL, "bad IP literal domain");
	if (strncasecmp(d, "ipv6:", 5) == 0) {
		d += 5;
		n -= 5;
	}
	ip = core->printf(ctx, "%.*s", (int)(n - 1), d);
	if (core->host_find(ctx, ip, 0, 0, -1, out, &err) != TERN_OK ||
	    strcmp((*out)->address, ip) != 0)
		return fail_with(ctx, addr, TERN_FAIL, core->printf(ctx,
			"bad IP address in domain literal %s", addr->domain));
	return TERN_OK;
}

/* Hosts for a domain name: MX, else A/AAAA. */
static int
domain_hosts(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, struct tern_host **out)
{
	struct tern_dns_record *mx = NULL;
	char *err = NULL;
	int rc = core->dns_lookup(ctx, addr->domain, TERN_DNS_MX, &mx, &err);

	if (rc == TERN_OK)
		return mx_hosts(inst, ctx, addr, mx, out);
	if (rc == TERN_FAIL)
		return fail_with(ctx, addr, TERN_FAIL, core->printf(ctx,
			"unrouteable mail domain \"%s\"", addr->domain));
	if (rc == TERN_DECLINE)
		rc = core->host_find(ctx, addr->domain, TERN_HF_BYDNS, 0, -1, out,
			&err);
	if (rc == TERN_FAIL) {
		addr->message = err;
		return TERN_DECLINE; /* no MX and no address: Unrouteable */
	}
	if (rc == TERN_DEFER) {
		addr->message = err;
		if (((const struct dnslookup_opts *)inst->opts)->pass_on_timeout)
			return TERN_DECLINE;
	}
	return rc;
}

static int
dnslookup_route(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	struct tern_host *hosts = NULL;
	int rc;

	if (addr->domain == NULL || addr->domain[0] == '\0')
		return TERN_DECLINE;
	rc = addr->domain[0] == '[' ? ip_literal(ctx, addr, &hosts) :
		domain_hosts(inst, ctx, addr, &hosts);
	if (rc != TERN_OK)
		return rc;
	drop_ignored(inst, ctx, &hosts);
	if (hosts == NULL) {
		addr->message = core->printf(ctx, "all hosts for %s are in "
			"ignore_target_hosts", addr->domain);
		return TERN_DECLINE;
	}
	rc = check_self(inst, ctx, addr, &hosts);
	if (rc != TERN_OK)
		return rc;
	addr->hosts = hosts;
	return TERN_OK;
}

static int
dnslookup_load(const struct tern_core *c, char **err_out)
{
	if (c->size < offsetof(struct tern_core, continued_conn) +
	    sizeof(c->continued_conn)) {
		*err_out = "this core has no DNS services (ABI 1.1 needed)";
		return TERN_ERROR;
	}
	core = c;
	return TERN_OK;
}

static int
dnslookup_init(struct tern_instance *inst, char **err_out)
{
	const char *self = ((const struct dnslookup_opts *)inst->opts)->self;
	static const char *const ok[] = { "freeze", "defer", "fail", "send",
		"pass", NULL };

	for (size_t i = 0; ok[i] != NULL; i++)
		if (strcmp(self, ok[i]) == 0)
			return TERN_OK;
	if (strncmp(self, "reroute:", 8) == 0 && self[8] != '\0')
		return TERN_OK;
	*err_out = "self must be freeze, defer, fail, send, pass or "
		"reroute:<domain>";
	return TERN_ERROR;
}

TERN_MODULE(dnslookup) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_ROUTER,
	.name = "dnslookup",
	.version = "1.0",
	.options = dnslookup_options,
	.opts_size = sizeof(struct dnslookup_opts),
	.load = dnslookup_load,
	.init = dnslookup_init,
	.router = { .route = dnslookup_route },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
