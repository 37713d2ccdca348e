/*
 * Outgoing connections for remote transports: TCP connect with a
 * timeout, buffered line I/O with per-call timeouts, and the TLS client
 * (OpenSSL).  Connections live in arena_msg.
 */
#ifndef TERN_CORE_NET_NET_H
#define TERN_CORE_NET_NET_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/core.h>
#include <tern/net.h>

#include "lib/buf.h"

struct ssl_st;
struct ssl_ctx_st;

struct net_conn {
	struct tern_conn   pub;
	struct buf         out;      /* written, not yet sent */
	char               in[4096]; /* read, not yet returned */
	size_t             in_pos, in_len;
	struct ssl_st     *ssl;
	struct ssl_ctx_st *ssl_ctx;
	bool               is_broken; /* an I/O error or timeout happened */
};

#define NET_CONN(c) ((struct net_conn *)(void *)(c))

/* See tern/core.h for these services. */
struct tern_conn *net_open(const char *name, const char *address, int port,
	int timeout, char **err_out);
void net_write(struct tern_conn *c, const char *p, size_t n);
int net_flush(struct tern_conn *c, int timeout, char **err_out);
int net_read_line(struct tern_conn *c, int timeout, char **line_out,
	char **err_out);
/* Send the contents of fd (from offset 0) down c.  TERN_OK or DEFER. */
int net_send_file(struct tern_conn *c, int fd, int timeout, char **err_out);
/*
 * Plain connections only: make the socket blocking with a send timeout
 * (so that a writer of plain fds can use it), or non-blocking again.
 */
int net_set_blocking(struct tern_conn *c, bool is_blocking, int timeout);
void net_close(struct tern_conn *c);
bool net_is_broken(const struct tern_conn *c);

/* Raw I/O under the buffers: through TLS when it is up.  -1 + errno. */
long net_raw_read(struct net_conn *c, char *p, size_t n, int timeout);
int net_raw_write(struct net_conn *c, const char *p, size_t n, int timeout);
/* Wait for fd to be readable (want_write false) or writable. 0/-1. */
int net_wait(int fd, bool want_write, int timeout);

/* tls_client.c */
int net_starttls(struct tern_conn *c, const char *sni, bool verify,
	const char *ca, int timeout, char **err_out);
long net_tls_read(struct net_conn *c, char *p, size_t n, int timeout);
int net_tls_write(struct net_conn *c, const char *p, size_t n, int timeout);
void net_tls_close(struct net_conn *c);

#endif
