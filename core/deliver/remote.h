/*
 * The core's side of remote delivery: messages waiting for a host
 * ("wait-<transport>" hints), a connection handed on to the next message
 * for the same host, the message written down a connection, and -qq's
 * first pass (route, do local deliveries, only remember remote ones).
 */
#ifndef TERN_CORE_DELIVER_REMOTE_H
#define TERN_CORE_DELIVER_REMOTE_H

#include <stdbool.h>

#include <tern/core.h>
#include <tern/net.h>

/* The services (tern/core.h "Remote delivery"). */
void remote_wait_record(struct tern_ctx *ctx, const char *host_key);
int remote_wait_deliver(struct tern_ctx *ctx, struct tern_conn *c,
	const char *host_key);
struct tern_conn *remote_continued_conn(struct tern_ctx *ctx);
/* Is this delivery one that remote_wait_deliver runs for another? */
bool remote_continuing(void);
/* From now on, remote_wait_deliver starts nothing in this process. */
void remote_no_continuation(void);
int remote_write_message(struct tern_ctx *ctx, struct tern_conn *c,
	unsigned flags, const struct tern_address *batch, int timeout,
	char **err_out);

/* "ip" or "ip:port" (when the host names its own port). */
const char *remote_host_key(const struct tern_host *h);

/*
 * Parse a router's fallback_hosts into a->pub.fallback_hosts (names
 * unresolved; the transport looks them up).  Logs a bad list.
 */
void remote_set_fallback(struct tern_address *a, const char *list,
	const char *router);

#endif
