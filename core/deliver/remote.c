/*
 * Remote delivery support in the delivery process.  A message that could
 * not go to a host (or whose remote delivery -qq postponed) is remembered
 * in the "wait-<transport>" hints under the host's key.  When the smtp
 * transport has delivered a message to a host, it asks for the others
 * waiting for it: they are delivered here, in this process, one after the
 * other, and their transport finds the open connection waiting for it
 * (continued_conn) instead of opening another.  Exim passes the socket to
 * a new process; in one process the TLS session can be kept too.
 */
#include "deliver/remote.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "deliver/deliver_int.h"
#include "dns/dns.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "modules/modules.h"
#include "net/net.h"
#include "spool/spool.h"

/* Exim's connection_max_messages (smtp transport) default is 500. */
#define WAIT_MAX_IDS      200
#define CONTINUE_MAX_MSGS 500

static struct {
	struct tern_conn         *conn;
	const struct driver_inst *transport;
	int                       depth;
} cont;

const char *
remote_host_key(const struct tern_host *h)
{
	if (h->port > 0)
		return arena_printf(arena_msg, "%s:%d", h->address, h->port);
	return h->address;
}

static const char *
wait_db(const struct tern_ctx *ctx)
{
	return arena_printf(arena_msg, "wait-%s", ctx->inst != NULL ?
		ctx->inst->pub.name : "-");
}

static bool
hints_usable(void)
{
	return core_services.hints_get != NULL &&
		core_services.hints_put != NULL;
}

/* The ids in a wait record ("id id id"), as text. */
static char *
wait_read(struct tern_ctx *ctx, const char *db, const char *key)
{
	void *val = NULL;
	size_t len = 0;

	if (core_services.hints_get(ctx, db, key, &val, &len) != TERN_OK)
		return arena_strdup(arena_msg, "");
	return arena_strndup(arena_msg, val, len);
}

void
remote_wait_record(struct tern_ctx *ctx, const char *host_key)
{
	const char *db = wait_db(ctx), *id;
	char *ids;
	struct buf b;
	int n = 0;

	if (ctx == NULL || ctx->msg == NULL || !hints_usable())
		return;
	id = ctx->msg->id;
	ids = wait_read(ctx, db, host_key);
	if (strstr(ids, id) != NULL)
		return;
	for (const char *p = ids; *p != '\0'; p++)
		n += *p == ' ';
	if (n >= WAIT_MAX_IDS)
		return; /* enough to keep a connection busy */
	buf_init(&b, arena_msg, 0);
	if (!buf_printf(&b, "%s%s%s", ids, ids[0] != '\0' ? " " : "", id))
		return;
	if (core_services.hints_put(ctx, db, host_key, b.p, b.len) != TERN_OK)
		DEBUG("%s: cannot record wait for %s", id, host_key);
}

/* Take the first waiting id other than skip (arena_msg), or NULL. */
static char *
wait_pop(struct tern_ctx *ctx, const char *db, const char *key,
	const char *skip)
{
	char *ids = wait_read(ctx, db, key), *id = NULL, *save = NULL;
	struct buf rest;

	buf_init(&rest, arena_msg, 0);
	for (char *t = strtok_r(ids, " ", &save); t != NULL;
	    t = strtok_r(NULL, " ", &save)) {
		if (strcmp(t, skip) == 0)
			continue;
		if (id == NULL && strlen(t) == MESSAGE_ID_LEN) {
			id = t;
			continue;
		}
		if (!buf_printf(&rest, "%s%s", rest.len > 0 ? " " : "", t))
			break;
	}
	if (rest.len > 0)
		(void)core_services.hints_put(ctx, db, key, rest.p, rest.len);
	else if (core_services.hints_del != NULL)
		(void)core_services.hints_del(ctx, db, key);
	return id;
}

/* DELIVER_NO_ROOT: other messages may need the root we do not have. */
static bool no_continuation;

int
remote_wait_deliver(struct tern_ctx *ctx, struct tern_conn *c,
	const char *host_key)
{
	const char *db, *self;
	int n = 0;

	if (ctx == NULL || ctx->msg == NULL || cont.depth > 0 ||
	    no_continuation || !hints_usable())
		return 0;
	db = wait_db(ctx);
	self = ctx->msg->id;
	while (n < CONTINUE_MAX_MSGS && !net_is_broken(c)) {
		char *id = wait_pop(ctx, db, host_key, self);

		if (id == NULL)
			break;
		DEBUG("%s: continuing the connection to %s with %s", self,
			host_key, id);
		cont.conn = c;
		cont.transport = ctx->inst;
		cont.depth++;
		(void)deliver_message(id, 0);
		cont.depth--;
		cont.conn = NULL;
		cont.transport = NULL;
		n++;
	}
	return n;
}

bool
remote_continuing(void)
{
	return cont.depth > 0;
}

void
remote_no_continuation(void)
{
	no_continuation = true;
}

struct tern_conn *
remote_continued_conn(struct tern_ctx *ctx)
{
	if (cont.conn == NULL || ctx == NULL || ctx->inst != cont.transport ||
	    net_is_broken(cont.conn))
		return NULL;
	return cont.conn;
}

static int
write_via_memfd(struct tern_ctx *ctx, struct tern_conn *c, unsigned flags,
	const struct tern_address *batch, const struct hdr_changes *hc,
	int timeout, char **err_out)
{
	int fd = memfd_create("tern-message", MFD_CLOEXEC), rc;

	if (fd < 0) {
		*err_out = arena_printf(arena_msg, "memfd_create: %m");
		return TERN_DEFER;
	}
	rc = deliver_write_message_hc(ctx->msg, fd, flags, batch, hc,
		&ctx->written, err_out);
	if (rc == TERN_OK)
		rc = net_send_file(c, fd, timeout, err_out);
	close(fd);
	return rc;
}

int
remote_write_message(struct tern_ctx *ctx, struct tern_conn *c,
	unsigned flags, const struct tern_address *batch, int timeout,
	char **err_out)
{
	const struct hdr_changes *hc;
	int rc;

	if ((rc = transport_write_begin(ctx, &hc, err_out)) != TERN_OK ||
	    (rc = net_flush(c, timeout, err_out)) != TERN_OK)
		return rc;
	flags = transport_write_flags(ctx, flags);
	if (c->is_tls)
		return write_via_memfd(ctx, c, flags, batch, hc, timeout,
			err_out);
	/* Plain: straight from the spool to the socket. */
	if (net_set_blocking(c, true, timeout) != 0) {
		*err_out = arena_printf(arena_msg, "socket options: %m");
		return TERN_DEFER;
	}
	rc = deliver_write_message_hc(ctx->msg, c->fd, flags, batch, hc,
		&ctx->written, err_out);
	if (rc != TERN_OK) {
		NET_CONN(c)->is_broken = true;
		*err_out = arena_printf(arena_msg, "%s [%s]: %s", c->host_name,
			c->host_address, errno == EAGAIN || errno == EWOULDBLOCK ?
			"timeout sending the message" : *err_out);
	}
	if (net_set_blocking(c, false, 0) != 0 && rc == TERN_OK) {
		*err_out = arena_printf(arena_msg, "socket options: %m");
		rc = TERN_DEFER;
	}
	return rc;
}

void
remote_set_fallback(struct tern_address *a, const char *list,
	const char *router)
{
	char *err = NULL;

	if (list == NULL || a->fallback_hosts != NULL)
		return;
	if (dns_host_list_parse(list, &a->fallback_hosts, &err) != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"router %s: fallback_hosts: %s", router, err);
		a->fallback_hosts = NULL;
		return;
	}
	for (struct tern_host *h = a->fallback_hosts; h != NULL; h = h->next)
		h->flags |= TERN_HOST_FALLBACK;
}
