/* struct tern_core's remote-delivery entries (core/dns, core/net). */
#ifndef TERN_CORE_NET_SVC_H
#define TERN_CORE_NET_SVC_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/core.h>
#include <tern/net.h>

int svc_dns_lookup(struct tern_ctx *ctx, const char *name, int type,
	struct tern_dns_record **out, char **err_out);
int svc_host_find(struct tern_ctx *ctx, const char *name, unsigned flags,
	int port, int mx, struct tern_host **out, char **err_out);
int svc_host_list_parse(struct tern_ctx *ctx, const char *list,
	struct tern_host **out, char **err_out);
bool svc_host_is_self(struct tern_ctx *ctx, const char *address);
/*
 * core->host_is_local: address is ours (svc_host_is_self), or name is in
 * hosts_treat_as_local.  OK, FAIL, or DEFER (*err_out) when the list
 * could not be checked.
 */
int svc_host_is_local(struct tern_ctx *ctx, const char *name,
	const char *address, char **err_out);
void svc_host_list_shuffle(struct tern_host **list);
struct tern_conn *svc_conn_open(struct tern_ctx *ctx, const char *name,
	const char *address, int port, int timeout, char **err_out);
void svc_conn_write(struct tern_conn *c, const char *p, size_t n);
int svc_conn_flush(struct tern_ctx *ctx, struct tern_conn *c, int timeout,
	char **err_out);
int svc_conn_read_line(struct tern_ctx *ctx, struct tern_conn *c,
	int timeout, char **line_out, char **err_out);
int svc_conn_starttls(struct tern_ctx *ctx, struct tern_conn *c,
	const char *sni, bool verify, const char *ca, int timeout,
	char **err_out);
void svc_conn_close(struct tern_conn *c);

#endif
