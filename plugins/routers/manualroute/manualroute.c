/*
 * The manualroute router: route_list says which hosts serve which
 * domains — the smarthost setup.  Items are "domains  hosts  options",
 * separated by ';'.  Host names are looked up (DNS, then the system's
 * resolver; or as the item's byname/bydns says); IP addresses and ports
 * ("host::port", "[ip]:port") are taken as written.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tern/module.h>
#include <tern/net.h>

#include "route_list.h"

struct manualroute_opts {
	const char *route_list;
	bool        hosts_randomize;
	const char *host_find_failed; /* freeze|defer|fail|decline|pass|ignore */
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct manualroute_opts, field, dflt)

static const struct tern_option manualroute_options[] = {
	O("host_find_failed", STRING, host_find_failed, "freeze"),
	O("hosts_randomize",  BOOL,   hosts_randomize,  "false"),
	O("route_list",       STRING, route_list,       NULL),
	TERN_OPT_END
};

static const struct tern_core *core;

/*
 * hosts_randomize: the core's shuffle (ABI 1.1; an older core keeps the
 * order).
 */
static void
shuffle(struct tern_host **list)
{
	if (core->size >= offsetof(struct tern_core, host_list_shuffle) +
	    sizeof core->host_list_shuffle && core->host_list_shuffle != NULL)
		core->host_list_shuffle(list);
}

/* host_find_failed for one host; TERN_OK means "ignore it". */
static int
find_failed(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const char *err)
{
	const char *how = ((const struct manualroute_opts *)inst->opts)->
		host_find_failed;

	addr->message = core->printf(ctx, "manualroute %s: %s", inst->name, err);
	if (strcmp(how, "ignore") == 0)
		return TERN_OK;
	if (strcmp(how, "defer") == 0)
		return TERN_DEFER;
	if (strcmp(how, "fail") == 0)
		return TERN_FAIL;
	if (strcmp(how, "decline") == 0 || strcmp(how, "pass") == 0)
		return TERN_DECLINE;
	return TERN_ERROR; /* freeze */
}

static unsigned
lookup_flags(enum mr_lookup l)
{
	return l == MR_LOOKUP_BYNAME ? TERN_HF_BYNAME : TERN_HF_BYDNS;
}

/* Give every named host its addresses, in place. */
static int
resolve(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const struct mr_item *it,
	struct tern_host **list)
{
	while (*list != NULL) {
		struct tern_host *h = *list, *found = NULL, *last;
		char *err = NULL;
		int rc;

		if (h->address != NULL) {
			list = &h->next;
			continue;
		}
		rc = core->host_find(ctx, h->name, lookup_flags(it->lookup),
			h->port, -1, &found, &err);
		if (rc == TERN_FAIL && it->lookup == MR_LOOKUP_DEFAULT)
			rc = core->host_find(ctx, h->name, TERN_HF_BYNAME, h->port,
				-1, &found, &err);
		if (rc == TERN_DEFER) {
			addr->message = err;
			return TERN_DEFER;
		}
		if (rc != TERN_OK) {
			if ((rc = find_failed(inst, ctx, addr, err)) != TERN_OK)
				return rc;
			*list = h->next; /* ignored */
			continue;
		}
		for (last = found; last->next != NULL; last = last->next)
			;
		last->next = h->next;
		*list = found;
		list = &last->next;
	}
	return TERN_OK;
}

static int
use_item(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const struct mr_item *it)
{
	const struct manualroute_opts *o = inst->opts;
	struct tern_host *hosts = NULL;
	char *text = it->hosts, *err = NULL;
	int rc;

	if (strchr(text, '$') != NULL &&
	    (rc = core->expand(ctx, it->hosts, &text, &err)) != TERN_OK) {
		addr->message = core->printf(ctx, "manualroute %s: failed to "
			"expand \"%s\": %s", inst->name, it->hosts,
			rc == TERN_FAIL ? "forced failure" : err);
		return rc == TERN_FAIL ? TERN_DECLINE : rc;
	}
	if (text[0] == '\0')
		return TERN_OK; /* the transport's hosts option supplies them */
	if (core->host_list_parse(ctx, text, &hosts, &err) != TERN_OK) {
		addr->message = core->printf(ctx, "manualroute %s: %s", inst->name,
			err);
		return TERN_ERROR;
	}
	if (it->randomize == 1 || (it->randomize < 0 && o->hosts_randomize))
		shuffle(&hosts);
	if ((rc = resolve(inst, ctx, addr, it, &hosts)) != TERN_OK)
		return rc;
	if (hosts == NULL) {
		addr->message = core->printf(ctx, "manualroute %s: no host of "
			"\"%s\" could be found", inst->name, text);
		return TERN_DEFER;
	}
	addr->hosts = hosts;
	return TERN_OK;
}

static int
manualroute_route(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	const struct manualroute_opts *o = inst->opts;
	const char *list = o->route_list;
	char sep = '\0', *item;

	if (list == NULL || addr->domain == NULL)
		return TERN_DECLINE;
	while ((item = mr_next_item(&list, &sep)) != NULL) {
		struct mr_item it;
		const char *perr = NULL;
		char *err = NULL;
		int rc;

		if (mr_parse_item(item, &it, &perr) != 0) {
			addr->message = core->printf(ctx, "manualroute %s: "
				"route_list item \"%s\": %s", inst->name, item, perr);
			free(item);
			return TERN_ERROR;
		}
		rc = core->match_list(ctx, TERN_LIST_DOMAIN, it.domains,
			addr->domain, &err);
		if (rc == TERN_FAIL) {
			free(item); /* no match: next item */
			continue;
		}
		if (rc == TERN_OK)
			rc = use_item(inst, ctx, addr, &it);
		else
			addr->message = core->printf(ctx, "manualroute %s: %s",
				inst->name, err != NULL ? err : "lookup deferred");
		free(item);
		return rc;
	}
	return TERN_DECLINE;
}

static int
manualroute_load(const struct tern_core *c, char **err_out)
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
manualroute_init(struct tern_instance *inst, char **err_out)
{
	const struct manualroute_opts *o = inst->opts;
	static const char *const ok[] = { "freeze", "defer", "fail", "decline",
		"pass", "ignore", NULL };
	const char *list = o->route_list;
	char sep = '\0', *item;

	size_t i;

	for (i = 0; ok[i] != NULL && strcmp(o->host_find_failed, ok[i]) != 0;
	    i++)
		;
	if (ok[i] == NULL) {
		*err_out = "host_find_failed must be freeze, defer, fail, "
			"decline, pass or ignore";
		return TERN_ERROR;
	}
	if (list == NULL) {
		*err_out = "route_list is not set";
		return TERN_ERROR;
	}
	while ((item = mr_next_item(&list, &sep)) != NULL) {
		struct mr_item it;
		const char *perr = NULL;
		int rc = mr_parse_item(item, &it, &perr);

		free(item);
		if (rc != 0) {
			*err_out = (char *)perr;
			return TERN_ERROR;
		}
	}
	return TERN_OK;
}

TERN_MODULE(manualroute) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_ROUTER,
	.name = "manualroute",
	.version = "1.0",
	.options = manualroute_options,
	.opts_size = sizeof(struct manualroute_opts),
	.load = manualroute_load,
	.init = manualroute_init,
	.router = { .route = manualroute_route },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
