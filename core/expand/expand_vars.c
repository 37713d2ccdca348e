/*
 * Expansion variables: $local_part, $domain, $sender_address ...
 * Each has a flag saying whether its value can come from outside (the
 * network or a user's file), for the taint checks to come.
 */
#include "expand/expand_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "deliver/ctx.h"
#include "lib/arena.h"
#include "spool/spool.h"

enum var_id {
	V_LOCAL_PART, V_DOMAIN, V_HOME, V_LOCAL_PART_DATA, V_LP_PREFIX,
	V_LP_SUFFIX, V_ORIG_LP, V_ORIG_DOMAIN, V_PARENT_LP, V_PARENT_DOMAIN,
	V_ADDRESS_PIPE, V_ADDRESS_FILE,
	V_SENDER, V_SENDER_HOST, V_SENDER_HOST_NAME, V_SENDER_HELO,
	V_MESSAGE_ID, V_MESSAGE_SIZE, V_AUTH_ID, V_RCV_PROTOCOL,
	V_PRIMARY, V_QUALIFY, V_SPOOL_DIR, V_TOD_LOG, V_TOD_FULL, V_VALUE,
};

static const struct {
	const char *name;
	enum var_id id;
	bool        is_tainted;
} vars[] = {
	{ "local_part", V_LOCAL_PART, true },
	{ "domain", V_DOMAIN, true },
	{ "home", V_HOME, false },
	{ "local_part_data", V_LOCAL_PART_DATA, false },
	{ "local_part_prefix", V_LP_PREFIX, true },
	{ "local_part_suffix", V_LP_SUFFIX, true },
	{ "original_local_part", V_ORIG_LP, true },
	{ "original_domain", V_ORIG_DOMAIN, true },
	{ "parent_local_part", V_PARENT_LP, true },
	{ "parent_domain", V_PARENT_DOMAIN, true },
	{ "address_pipe", V_ADDRESS_PIPE, false },
	{ "address_file", V_ADDRESS_FILE, false },
	{ "sender_address", V_SENDER, true },
	{ "sender_host_address", V_SENDER_HOST, true },
	{ "sender_host_name", V_SENDER_HOST_NAME, true },
	{ "sender_helo_name", V_SENDER_HELO, true },
	{ "message_id", V_MESSAGE_ID, false },
	{ "message_size", V_MESSAGE_SIZE, false },
	{ "authenticated_id", V_AUTH_ID, true },
	{ "received_protocol", V_RCV_PROTOCOL, false },
	{ "primary_hostname", V_PRIMARY, false },
	{ "qualify_domain", V_QUALIFY, false },
	{ "spool_directory", V_SPOOL_DIR, false },
	{ "tod_log", V_TOD_LOG, false },
	{ "tod_full", V_TOD_FULL, false },
	{ "value", V_VALUE, true },
};

static const struct tern_address *
cur_addr(struct xp *x)
{
	if (x->ctx == NULL || x->ctx->addr == NULL)
		return NULL;
	return &x->ctx->addr->pub;
}

static const struct tern_address *
top_addr(const struct tern_address *a)
{
	while (a != NULL && a->parent != NULL)
		a = a->parent;
	return a;
}

static const char *
address_var(const struct tern_address *a, enum var_id id)
{
	const struct tern_address *p;

	if (a == NULL)
		return NULL;
	switch (id) {
	case V_LOCAL_PART:      return a->local_part;
	case V_DOMAIN:          return a->domain;
	case V_HOME:            return a->home;
	case V_LOCAL_PART_DATA: return a->local_part_data;
	case V_LP_PREFIX:       return a->local_part_prefix;
	case V_LP_SUFFIX:       return a->local_part_suffix;
	case V_ADDRESS_PIPE:
		return a->kind == TERN_ADDR_PIPE ? a->address : NULL;
	case V_ADDRESS_FILE:
		return a->kind == TERN_ADDR_FILE ? a->address : NULL;
	case V_ORIG_LP:
		return top_addr(a)->local_part;
	case V_ORIG_DOMAIN:
		return top_addr(a)->domain;
	case V_PARENT_LP:
		p = a->parent;
		return p != NULL ? p->local_part : NULL;
	case V_PARENT_DOMAIN:
		p = a->parent;
		return p != NULL ? p->domain : NULL;
	default:
		return NULL;
	}
}

static const char *
message_var(struct xp *x, enum var_id id)
{
	const struct tern_ctx *c = x->ctx;
	const struct message *m = c != NULL ? c->msg : NULL;

	switch (id) {
	case V_SENDER:
		return m != NULL ? m->sender : c != NULL ? c->sender : NULL;
	case V_SENDER_HOST:
		return m != NULL ? m->host_address :
			c != NULL ? c->host_address : NULL;
	case V_SENDER_HOST_NAME: return m != NULL ? m->host_name : NULL;
	case V_SENDER_HELO:      return m != NULL ? m->helo_name : NULL;
	case V_MESSAGE_ID:       return m != NULL ? m->id : NULL;
	case V_AUTH_ID:          return m != NULL ? m->authenticated_id : NULL;
	case V_RCV_PROTOCOL:     return m != NULL ? m->received_protocol : NULL;
	case V_MESSAGE_SIZE:
		if (m == NULL)
			return NULL;
		return arena_printf(x->a, "%" PRIu64, m->size);
	default:
		return NULL;
	}
}

static const char *
time_var(struct xp *x, bool is_full)
{
	char tbuf[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	localtime_r(&now, &tm);
	if (is_full)
		n = strftime(tbuf, sizeof(tbuf), "%a, %d %b %Y %H:%M:%S %z", &tm);
	else
		n = strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	if (n == 0)
		return "";
	return arena_strdup(x->a, tbuf);
}

static const char *
var_value(struct xp *x, enum var_id id)
{
	switch (id) {
	case V_PRIMARY:   return conf.primary_hostname;
	case V_QUALIFY:   return conf.qualify_domain;
	case V_SPOOL_DIR: return conf.spool_directory;
	case V_TOD_LOG:   return time_var(x, false);
	case V_TOD_FULL:  return time_var(x, true);
	case V_VALUE:     return x->value;
	default:
		break;
	}
	if (id <= V_ADDRESS_FILE)
		return address_var(cur_addr(x), id);
	return message_var(x, id);
}

bool
xp_var(struct xp *x, const char *name, struct xp_val *out)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (strcmp(vars[i].name, name) != 0)
			continue;
		out->s = var_value(x, vars[i].id);
		out->is_tainted = vars[i].is_tainted;
		return true;
	}
	return false;
}
