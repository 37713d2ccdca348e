/*
 * Expansion variables: $local_part, $domain, $sender_address ... and the
 * header variables $h_subject: ...
 *
 * Each has a flag saying whether its value can come from outside (the
 * network or a user's file).  Two are vouched for at run time: $local_part
 * once a director or a local_parts list accepted it by looking it up
 * (TERN_AF_LP_CHECKED), and $domain once the address is in a local domain
 * (it is being directed, or was accepted by a director).
 */
#include "expand/expand_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <tern/module.h>

#include "config/config.h"
#include "deliver/ctx.h"
#include "lib/buf.h"
#include "lib/arena.h"
#include "log/selector.h"
#include "smtp_in/vars.h"
#include "spool/spool.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0"
#endif

enum var_id {
	V_LOCAL_PART, V_DOMAIN, V_HOME, V_LOCAL_PART_DATA, V_LP_PREFIX,
	V_LP_SUFFIX, V_ORIG_LP, V_ORIG_DOMAIN, V_PARENT_LP, V_PARENT_DOMAIN,
	V_ADDRESS_PIPE, V_ADDRESS_FILE,
	V_SENDER, V_RETURN_PATH, V_SENDER_HOST, V_SENDER_HOST_NAME, V_SENDER_HELO,
	V_MESSAGE_ID, V_MESSAGE_SIZE, V_AUTH_ID, V_RCV_PROTOCOL,
	V_SENDER_DOMAIN, V_SENDER_LP, V_INTERFACE, V_INTERFACE_PORT,
	V_HOST_PORT,
	V_PRIMARY, V_QUALIFY, V_SPOOL_DIR, V_TOD_LOG, V_TOD_FULL,
	V_TOD_BSDINBOX, V_TOD_EPOCH, V_VALUE,
	V_VERSION, V_RECEIVED_FOR, V_SENDER_RCVHOST, V_SENDER_IDENT,
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
	/* an affix equals an item of the director's list: checked */
	{ "local_part_prefix", V_LP_PREFIX, false },
	{ "local_part_suffix", V_LP_SUFFIX, false },
	{ "original_local_part", V_ORIG_LP, true },
	{ "original_domain", V_ORIG_DOMAIN, true },
	{ "parent_local_part", V_PARENT_LP, true },
	{ "parent_domain", V_PARENT_DOMAIN, true },
	{ "address_pipe", V_ADDRESS_PIPE, false },
	{ "address_file", V_ADDRESS_FILE, false },
	{ "sender_address", V_SENDER, true },
	{ "return_path", V_RETURN_PATH, true },
	/* printed by inet_ntop from the socket, not read from the client */
	{ "sender_host_address", V_SENDER_HOST, false },
	{ "sender_host_port", V_HOST_PORT, false },
	/* Exim's names, and the older ones it still accepts */
	{ "received_ip_address", V_INTERFACE, false },
	{ "interface_address", V_INTERFACE, false },
	{ "received_port", V_INTERFACE_PORT, false },
	{ "interface_port", V_INTERFACE_PORT, false },
	{ "sender_address_domain", V_SENDER_DOMAIN, true },
	{ "sender_address_local_part", V_SENDER_LP, true },
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
	{ "tod_bsdinbox", V_TOD_BSDINBOX, false },
	{ "tod_epoch", V_TOD_EPOCH, false },
	{ "value", V_VALUE, true }, /* see var_tainted */
	{ "version_number", V_VERSION, false },
	{ "message_exim_id", V_MESSAGE_ID, false },
	/* the one recipient, while the Received: header is being made */
	{ "received_for", V_RECEIVED_FOR, true },
	{ "sender_rcvhost", V_SENDER_RCVHOST, true },
	/* the login of a local submission; Tern makes no ident calls */
	{ "sender_ident", V_SENDER_IDENT, true },
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

/*
 * Whose local part and domain a pipe or file address shows: as in Exim,
 * those of the address that was redirected to it (its nearest mail
 * ancestor).  A mail address shows its own.
 */
static const struct tern_address *
lp_owner(const struct tern_address *a)
{
	while (a != NULL && a->kind != TERN_ADDR_MAIL && a->parent != NULL)
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
	case V_LOCAL_PART:      return lp_owner(a)->local_part;
	case V_DOMAIN:          return lp_owner(a)->domain;
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
sender_part(struct xp *x, const char *snd, bool is_domain)
{
	const char *at = snd != NULL ? strrchr(snd, '@') : NULL;

	if (snd == NULL)
		return NULL;
	if (is_domain)
		return at != NULL ? at + 1 : "";
	return at != NULL ? arena_strndup(x->a, snd, (size_t)(at - snd)) : snd;
}

/*
 * $sender_rcvhost, as Exim makes it for Received: headers: the host's
 * verified name with "([ip]:port helo=NAME)", or "[ip]" with
 * "(port=N helo=NAME)"; the port only with log_selector +incoming_port
 * (Tern's default), helo= only when it differs from the name.
 */
static const char *
sender_rcvhost(struct xp *x)
{
	const struct message *m = x->ctx != NULL ? x->ctx->msg : NULL;
	const char *helo = "", *port = "";
	bool named;

	if (m == NULL || m->host_address == NULL)
		return NULL;
	named = m->host_name != NULL;
	if (m->helo_name != NULL && (!named ||
	    strcasecmp(m->helo_name, m->host_name) != 0))
		helo = arena_printf(x->a, "helo=%s", m->helo_name);
	if (LOG_SEL(incoming_port))
		port = arena_printf(x->a, named ? ":%d" : "port=%d",
			m->host_port);
	if (named)
		return arena_printf(x->a, "%s ([%s]%s%s%s)", m->host_name,
			m->host_address, port, *helo != '\0' ? " " : "", helo);
	if (*port == '\0' && *helo == '\0')
		return arena_printf(x->a, "[%s]", m->host_address);
	return arena_printf(x->a, "[%s] (%s%s%s)", m->host_address, port,
		*port != '\0' && *helo != '\0' ? " " : "", helo);
}

static const char *
message_var(struct xp *x, enum var_id id)
{
	const struct tern_ctx *c = x->ctx;
	const struct message *m = c != NULL ? c->msg : NULL;

	switch (id) {
	case V_SENDER:
		return m != NULL ? m->sender : c != NULL ? c->sender : NULL;
	case V_RETURN_PATH: /* a transport's return_path, once expanded */
		if (c != NULL && c->return_path != NULL)
			return c->return_path;
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
	case V_INTERFACE:        return m != NULL ? m->interface_address : NULL;
	case V_INTERFACE_PORT:
		if (m == NULL || m->interface_address == NULL)
			return NULL;
		return arena_printf(x->a, "%d", m->interface_port);
	case V_HOST_PORT:
		if (m == NULL || m->host_address == NULL)
			return NULL;
		return arena_printf(x->a, "%d", m->host_port);
	case V_SENDER_DOMAIN:
	case V_SENDER_LP:
		return sender_part(x, m != NULL ? m->sender :
			c != NULL ? c->sender : NULL, id == V_SENDER_DOMAIN);
	default:
		return NULL;
	}
}

static const char *
time_var(struct xp *x, enum var_id id)
{
	char tbuf[64];
	time_t now = time(NULL);
	struct tm tm;
	size_t n;

	if (id == V_TOD_EPOCH)
		return arena_printf(x->a, "%lld", (long long)now);
	localtime_r(&now, &tm);
	if (id == V_TOD_FULL)
		n = strftime(tbuf, sizeof(tbuf), "%a, %d %b %Y %H:%M:%S %z", &tm);
	else if (id == V_TOD_BSDINBOX)
		n = strftime(tbuf, sizeof(tbuf), "%a %b %e %H:%M:%S %Y", &tm);
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
	case V_VERSION:   return TERN_VERSION;
	case V_RECEIVED_FOR: return x->ctx != NULL ? x->ctx->received_for : NULL;
	case V_SENDER_RCVHOST: return sender_rcvhost(x);
	case V_SENDER_IDENT:
		return x->ctx != NULL && x->ctx->msg != NULL &&
			x->ctx->msg->local ? x->ctx->msg->ident : NULL;
	case V_PRIMARY:   return conf.primary_hostname;
	case V_QUALIFY:   return conf.qualify_domain;
	case V_SPOOL_DIR: return conf.spool_directory;
	case V_TOD_LOG:
	case V_TOD_FULL:
	case V_TOD_BSDINBOX:
	case V_TOD_EPOCH: return time_var(x, id);
	case V_VALUE:     return x->value;
	default:
		break;
	}
	if (id <= V_ADDRESS_FILE)
		return address_var(cur_addr(x), id);
	return message_var(x, id);
}

/* Is the current address's domain one of ours (it reached a director)? */
static bool
is_local_domain(struct xp *x)
{
	const struct address_item *a = x->ctx != NULL ? x->ctx->addr : NULL;

	if (a == NULL)
		return false;
	if (x->ctx->inst != NULL && x->ctx->inst->kind == TERN_KIND_DIRECTOR)
		return true;
	return a->handled_by != NULL &&
		a->handled_by->kind == TERN_KIND_DIRECTOR;
}

static bool
var_tainted(struct xp *x, enum var_id id, bool is_tainted)
{
	const struct tern_address *a = cur_addr(x);

	switch (id) {
	case V_LOCAL_PART:
		a = lp_owner(a);
		return a == NULL || !(a->flags & TERN_AF_LP_CHECKED);
	case V_DOMAIN:
		return !is_local_domain(x);
	case V_VALUE:
		return x->is_value_tainted;
	default:
		return is_tainted;
	}
}

bool
xp_var(struct xp *x, const char *name, struct xp_val *out)
{
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		if (strcmp(vars[i].name, name) != 0)
			continue;
		out->s = var_value(x, vars[i].id);
		out->is_tainted = var_tainted(x, vars[i].id,
			vars[i].is_tainted);
		/* No message yet (SMTP reception): the session's value. */
		if (out->s == NULL)
			(void)smtp_in_var(name, &out->s, &out->is_tainted);
		return true;
	}
	/* $auth1..$auth3, $tls_in_cipher ... (core/smtp_in/vars.c) */
	return smtp_in_var(name, &out->s, &out->is_tainted);
}

/* "Name: value\n" of h matches name (caseless)?  Then the value. */
static const char *
header_value(const struct header *h, const char *name, size_t nlen)
{
	if (h->type == HDR_DELETED || h->len <= nlen || h->text[nlen] != ':' ||
	    strncasecmp(h->text, name, nlen) != 0)
		return NULL;
	return h->text + nlen + 1;
}

/*
 * Append one header's value: trimmed of surrounding white space and
 * joined to an earlier one by a newline (h_, bh_), or raw (rh_).  False
 * when it does not fit.
 */
static bool
add_header_value(struct buf *b, const char *v, size_t len, bool is_raw)
{
	if (!is_raw) {
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == '\n' || v[len - 1] == ' ' ||
		    v[len - 1] == '\t' || v[len - 1] == '\r'))
			len--;
		if (b->len > 0 && !buf_addc(b, '\n'))
			return false;
	}
	return buf_add(b, v, len);
}

bool
xp_header_var(struct xp *x, const char *name, struct xp_val *out)
{
	const struct message *m = x->ctx != NULL ? x->ctx->msg : NULL;
	const char *hname = strchr(name, '_');
	bool is_raw = name[0] == 'r', found = false;
	const char *base = name[0] == 'r' || name[0] == 'b' ? name + 1 : name;
	struct buf b;
	size_t nlen;

	if (hname == NULL || (strncmp(base, "h_", 2) != 0 &&
	    strncmp(base, "header_", 7) != 0))
		return false;
	hname++;
	nlen = strlen(hname);
	out->s = NULL;
	out->is_tainted = true; /* whatever the client wrote */
	if (m == NULL)
		return true;
	buf_init(&b, x->a, XP_MAX_OUT);
	for (const struct header *h = m->headers; h != NULL; h = h->next) {
		const char *v = header_value(h, hname, nlen);

		if (v == NULL)
			continue;
		if (!add_header_value(&b, v, h->len - (size_t)(v - h->text),
		    is_raw))
			break;
		found = true;
	}
	if (found)
		out->s = b.p;
	return true;
}
