/*
 * struct tern_core's DNS, host and connection entries: the drivers' view
 * of core/dns and core/net.  (The message writer and the waiting-message
 * entries are core/deliver/remote.c.)
 */
#include "net/svc.h"

#include "config/config.h"
#include "config/lists.h"
#include "dns/dns.h"
#include "lib/arena.h"
#include "net/net.h"

int
svc_dns_lookup(struct tern_ctx *ctx, const char *name, int type,
	struct tern_dns_record **out, char **err_out)
{
	(void)ctx;
	return dns_lookup(name, type, out, err_out);
}

int
svc_host_find(struct tern_ctx *ctx, const char *name, unsigned flags,
	int port, int mx, struct tern_host **out, char **err_out)
{
	(void)ctx;
	return dns_host_find(name, flags, port, mx, out, err_out);
}

int
svc_host_list_parse(struct tern_ctx *ctx, const char *list,
	struct tern_host **out, char **err_out)
{
	(void)ctx;
	return dns_host_list_parse(list, out, err_out);
}

bool
svc_host_is_self(struct tern_ctx *ctx, const char *address)
{
	(void)ctx;
	return dns_host_is_self(address);
}

int
svc_host_is_local(struct tern_ctx *ctx, const char *name,
	const char *address, char **err_out)
{
	int rc;

	if (address != NULL && dns_host_is_self(address))
		return TERN_OK;
	if (name == NULL || conf.hosts_treat_as_local == NULL)
		return TERN_FAIL;
	rc = list_match_ctx(ctx, TERN_LIST_DOMAIN, conf.hosts_treat_as_local,
		name, NULL, err_out);
	if (rc == TERN_DEFER || rc == TERN_ERROR)
		*err_out = arena_printf(arena_msg, "hosts_treat_as_local: "
			"checking %s: %s", name, *err_out);
	return rc == TERN_ERROR ? TERN_DEFER : rc;
}

void
svc_host_list_shuffle(struct tern_host **list)
{
	dns_host_list_shuffle(list);
}

struct tern_conn *
svc_conn_open(struct tern_ctx *ctx, const char *name, const char *address,
	int port, int timeout, char **err_out)
{
	(void)ctx;
	return net_open(name, address, port, timeout, err_out);
}

void
svc_conn_write(struct tern_conn *c, const char *p, size_t n)
{
	net_write(c, p, n);
}

int
svc_conn_flush(struct tern_ctx *ctx, struct tern_conn *c, int timeout,
	char **err_out)
{
	(void)ctx;
	return net_flush(c, timeout, err_out);
}

int
svc_conn_read_line(struct tern_ctx *ctx, struct tern_conn *c, int timeout,
	char **line_out, char **err_out)
{
	(void)ctx;
	return net_read_line(c, timeout, line_out, err_out);
}

int
svc_conn_starttls(struct tern_ctx *ctx, struct tern_conn *c,
	const char *sni, bool verify, const char *ca, int timeout,
	char **err_out)
{
	(void)ctx;
	return net_starttls(c, sni, verify, ca, timeout, err_out);
}

void
svc_conn_close(struct tern_conn *c)
{
	net_close(c);
}
