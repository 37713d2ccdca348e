/*
 * The TLS server side of an SMTP connection (STARTTLS and
 * tls_on_connect_ports), with OpenSSL 3.  One connection per process.
 */
#ifndef TERN_CORE_TLS_TLS_H
#define TERN_CORE_TLS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "receive/receive.h"

struct tls_server;
struct ssl_st;
struct arena;

/*
 * The subject of the peer's certificate (RFC 2253, control characters
 * escaped), in a; NULL when it showed none.  For $tls_in_peerdn and the
 * DN= of either end's log lines.
 */
const char *tls_peer_subject(struct arena *a, const struct ssl_st *ssl);

/*
 * May STARTTLS be offered to host (an IP address, NULL for a local
 * caller)?  True when tls_certificate is set and host matches
 * tls_advertise_hosts.
 */
bool tls_server_offered(const char *host);

/*
 * Is port one of tls_on_connect_ports (TLS from the first byte)?
 */
bool tls_port_is_on_connect(int port);

/*
 * The ports the daemon listens on: `ports` plus every entry of
 * tls_on_connect_ports not already in it (arena_perm).
 */
const char *tls_listen_ports(const char *ports);

/*
 * Run the server handshake on fd (made non-blocking), taking at most
 * timeout seconds.  On success the session (arena_conn), with
 * smtp_in_vars.tls_* set; NULL with *err_out (arena_conn) otherwise --
 * the connection is then unusable and must be closed.
 */
struct tls_server *tls_server_start(int fd, int timeout, char **err_out);

/*
 * Read and write through the session: as read(2)/write(2), each step
 * waiting at most timeout seconds (0 = no limit): -1 with errno
 * (ETIMEDOUT, ECONNRESET, EPROTO) on failure.
 */
ssize_t tls_server_read(struct tls_server *t, char *buf, size_t n,
	int timeout);
ssize_t tls_server_write(struct tls_server *t, const char *buf, size_t n,
	int timeout);

/* The reading side for rcv_source. */
const struct rcv_io *tls_server_io(struct tls_server *t);

/* Send close_notify (best effort) and free the session. */
void tls_server_close(struct tls_server *t);

#endif
