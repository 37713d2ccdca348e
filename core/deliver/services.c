/*
 * The core-services table handed to every module (sdk tern/core.h): the
 * only way a driver reaches logging, memory, expansion, lookups, lists,
 * child addresses and the message.
 */
#include "modules/modules.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "deliver/ctx.h"
#include "deliver/deliver.h"
#include "deliver/deliver_int.h"
#include "deliver/remote.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/io.h"
#include "lib/users.h"
#include "log/log.h"
#include "log/selector.h"
#include "lookup/lookup.h"
#include "net/svc.h"
#include "retry/svc.h"
#include "rewrite/rewrite.h"
#include "smtp_in/auth_svc.h"
#include "spool/spool.h"

static struct arena *
ctx_arena(const struct tern_ctx *ctx)
{
	return ctx != NULL && ctx->arena != NULL ? ctx->arena : arena_msg;
}

static void svc_log(struct tern_ctx *ctx, int where, const char *fmt, ...)
	TERN_PRINTF(3, 4);
static char *svc_printf(struct tern_ctx *ctx, const char *fmt, ...)
	TERN_PRINTF(2, 3);

static void
svc_log(struct tern_ctx *ctx, int where, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(where, ctx != NULL && ctx->msg != NULL ? ctx->msg->id : NULL,
		fmt, ap);
	va_end(ap);
}

static void *
svc_alloc(struct tern_ctx *ctx, size_t n)
{
	return arena_alloc(ctx_arena(ctx), n);
}

static char *
svc_strdup(struct tern_ctx *ctx, const char *s)
{
	return arena_strdup(ctx_arena(ctx), s);
}

static char *
svc_printf(struct tern_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = arena_vprintf(ctx_arena(ctx), fmt, ap);
	va_end(ap);
	return s;
}

static int
svc_expand(struct tern_ctx *ctx, const char *tmpl, char **out,
	char **err_out)
{
	return expand_string(ctx, ctx_arena(ctx), tmpl, out, err_out);
}

static int
svc_lookup(struct tern_ctx *ctx, const char *type, const char *file,
	const char *key, char **value_out, char **err_out)
{
	return lookup_find(ctx, type, file, key, value_out, err_out);
}

/*
 * A module's host lists are about the hosts it talks to (the smtp
 * transport's hosts_require_tls ..., dnslookup's ignore_target_hosts),
 * never the client that sent the message: no host name goes with them.
 */
static int
svc_match_list(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *list, const char *item, char **err_out)
{
	return list_match_ctx(ctx, kind, list, item, NULL, err_out);
}

/* "text" without surrounding blanks and one level of double quotes. */
static const char *
child_text(struct arena *a, const char *text)
{
	size_t n;

	while (*text == ' ' || *text == '\t')
		text++;
	n = strlen(text);
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t' ||
	    text[n - 1] == '\n'))
		n--;
	if (n >= 2 && text[0] == '"' && text[n - 1] == '"' &&
	    (text[1] == '|' || text[1] == '/'))
		return arena_strndup(a, text + 1, n - 2);
	if (n >= 2 && text[0] == '<' && text[n - 1] == '>')
		return arena_strndup(a, text + 1, n - 2);
	return arena_strndup(a, text, n);
}

static struct tern_address *
svc_add_child(struct tern_ctx *ctx, struct tern_address *parent,
	const char *text, char **err_out)
{
	struct arena *ar = ctx_arena(ctx);
	const char *t = child_text(ar, text);
	enum tern_addr_kind kind = TERN_ADDR_MAIL;
	const char *qualify = parent->domain;
	struct address_item *c, **tail;

	if (t[0] == '|') {
		kind = TERN_ADDR_PIPE;
	} else if (t[0] == '/') {
		kind = TERN_ADDR_FILE;
	} else if (t[0] == '~' && t[1] == '/') {
		if (parent->home == NULL) {
			*err_out = arena_printf(ar, "\"%s\": no home directory for "
				"%s", t, parent->address);
			return NULL;
		}
		kind = TERN_ADDR_FILE;
		t = arena_printf(ar, "%s%s", parent->home, t + 1);
	} else if (t[0] == '\0') {
		*err_out = arena_strdup(ar, "empty address");
		return NULL;
	}
	if (qualify == NULL)
		qualify = conf.qualify_recipient != NULL ? conf.qualify_recipient :
			conf.qualify_domain;
	c = addr_new(kind, t, qualify, err_out);
	if (c == NULL)
		return NULL;
	/* As in Exim, a redirection's new addresses go through the T rules
	 * (the generic option rewrite, true by default). */
	if (kind == TERN_ADDR_MAIL && ctx->inst != NULL &&
	    (ctx->inst->kind == TERN_KIND_DIRECTOR ||
	    ctx->inst->kind == TERN_KIND_ROUTER) &&
	    ctx->inst->g.route.rewrite && rewrite_any(RW_ENVTO)) {
		const char *new = rewrite_address(ctx->msg, c->pub.address,
			RW_ENVTO, NULL);

		if (new != c->pub.address &&
		    (c = addr_new(kind, new, qualify, err_out)) == NULL)
			return NULL;
	}
	c->pub.parent = parent;
	c->parent_item = ADDR_ITEM(parent);
	c->depth = ADDR_ITEM(parent)->depth + 1;
	for (tail = &ctx->children; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = c;
	return &c->pub;
}

static bool
has_high_bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return true;
	return false;
}

static int
svc_sync_share(struct tern_ctx *ctx, int wait_ms)
{
	(void)ctx;
	return deliver_sync_share(wait_ms * 1000L);
}

static int
svc_find_user(struct tern_ctx *ctx, const char *name, struct tern_user *out,
	char **err_out)
{
	struct user_entry u;
	int rc = users_find(name, &u), e = errno;

	switch (rc) {
	case 1:
		out->name = arena_strdup(ctx_arena(ctx), u.name);
		out->home = arena_strdup(ctx_arena(ctx), u.home);
		out->uid = u.uid;
		out->gid = u.gid;
		return TERN_OK;
	case 0:
		return TERN_DECLINE;
	default:
		*err_out = arena_printf(ctx_arena(ctx),
			"cannot look up user %s: %s", name, strerror(e));
		errno = e;
		return TERN_DEFER;
	}
}

static int
svc_message_8bit(struct tern_ctx *ctx)
{
	const struct message *m = ctx != NULL ? ctx->msg : NULL;
	const struct hdr_changes *hc = NULL;
	char buf[65536], *err = NULL;
	off_t off;

	if (m == NULL)
		return 0;
	/* What the transport's headers_add adds is written too. */
	if (transport_hdr_changes(ctx, &hc, &err) == TERN_OK && hc != NULL &&
	    has_high_bit(hc->add, strlen(hc->add)))
		return 1;
	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED && has_high_bit(h->text, h->len))
			return 1;
	if (m->data_fd < 0)
		return -1;
	for (off = m->body_offset; m->body_end == 0 || off < m->body_end;) {
		size_t want = sizeof(buf);
		ssize_t n;

		if (m->body_end != 0 && (off_t)want > m->body_end - off)
			want = (size_t)(m->body_end - off);
		n = io_pread_full(m->data_fd, buf, want, off);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (has_high_bit(buf, (size_t)n))
			return 1;
		off += n;
	}
	return 0;
}

static const struct tern_msginfo *
svc_message(struct tern_ctx *ctx)
{
	struct tern_msginfo *mi = arena_zalloc(ctx_arena(ctx), sizeof(*mi));
	const struct message *m = ctx != NULL ? ctx->msg : NULL;

	if (m == NULL) {
		mi->id = "";
		mi->sender = ctx != NULL && ctx->sender != NULL ? ctx->sender : "";
		mi->received_protocol = "local";
		mi->sender_host_address = ctx != NULL ? ctx->host_address : NULL;
		return mi;
	}
	mi->id = m->id;
	mi->sender = ctx->return_path != NULL ? ctx->return_path :
		m->sender != NULL ? m->sender : "";
	mi->size = m->size;
	mi->received = m->received;
	mi->received_protocol = m->received_protocol;
	mi->sender_host_address = m->host_address;
	return mi;
}

static int
svc_write_message(struct tern_ctx *ctx, int fd, unsigned flags,
	const struct tern_address *batch, char **err_out)
{
	return transport_write_message(ctx, fd, flags, batch, err_out);
}

static const char *
svc_main_option(const char *name)
{
	return config_main_option_text(name);
}

static bool
svc_is_verify(struct tern_ctx *ctx)
{
	return ctx != NULL && ctx->verify;
}

const struct tern_core core_services = {
	.size = sizeof(struct tern_core),
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.log = svc_log,
	.alloc = svc_alloc,
	.strdup = svc_strdup,
	.printf = svc_printf,
	.expand = svc_expand,
	.lookup = svc_lookup,
	.match_list = svc_match_list,
	.add_child = svc_add_child,
	.message = svc_message,
	.write_message = svc_write_message,
	.main_option = svc_main_option,
	.is_verify = svc_is_verify,
	/* Hints databases and retry records (core/hints, core/retry) */
	.hints_get = svc_hints_get,
	.hints_put = svc_hints_put,
	.hints_del = svc_hints_del,
	.retry_due = svc_retry_due,
	.retry_record = svc_retry_record,
	/* Taint (core/expand/expand_svc.c) */
	.expand_path = expand_svc_path,
	.expand_tainted = expand_svc_tainted,
	/* Remote delivery (core/dns, core/net, core/deliver/remote.c) */
	.dns_lookup = svc_dns_lookup,
	.host_find = svc_host_find,
	.host_list_parse = svc_host_list_parse,
	.host_is_self = svc_host_is_self,
	.conn_open = svc_conn_open,
	.conn_write = svc_conn_write,
	.conn_flush = svc_conn_flush,
	.conn_read_line = svc_conn_read_line,
	.conn_starttls = svc_conn_starttls,
	.conn_write_message = remote_write_message,
	.conn_close = svc_conn_close,
	.wait_record = remote_wait_record,
	.wait_deliver = remote_wait_deliver,
	.continued_conn = remote_continued_conn,
	/* SMTP AUTH (core/smtp_in/auth_svc.c) */
	.auth_challenge = auth_svc_challenge,
	.auth_set_var = auth_svc_set_var,
	.b64_encode = auth_svc_b64_encode,
	.b64_decode = auth_svc_b64_decode,
	.auth_client = auth_svc_client,
	/* Pipe transport output (core/deliver/return_output.c) */
	.set_return_output = return_output_set,
	/* Message content */
	.message_8bit = svc_message_8bit,
	/* Host lists (core/dns/hostlist.c) */
	.host_list_shuffle = svc_host_list_shuffle,
	/* Shared journal commits (core/deliver/share.c) */
	.sync_share = svc_sync_share,
	/* Users (core/lib/users.c) */
	.find_user = svc_find_user,
	/* Logging (core/log/selector.c) */
	.log_selected = log_selected_name,
	/* Remote delivery (core/net/svc.c) */
	.host_is_local = svc_host_is_local,
};
