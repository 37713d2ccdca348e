/*
 * The TLS client for outgoing SMTP (STARTTLS), with OpenSSL 3.  The
 * socket stays non-blocking: every SSL call that wants to read or write
 * waits with poll() under the caller's timeout.  Certificates are checked
 * only when asked (tls_verify_hosts), against the given CA file or
 * directory or the system's store, with the peer's name.
 */
#include "net/net.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <tern/rc.h>

#include "lib/arena.h"
#include "log/log.h"
#include "log/selector.h"
#include "tls/tls.h"

static const char *
ssl_error_text(void)
{
	unsigned long e = ERR_get_error();
	char text[256];

	if (e == 0)
		return errno != 0 ? strerror(errno) : "unknown TLS error";
	ERR_error_string_n(e, text, sizeof(text));
	ERR_clear_error();
	return arena_strdup(arena_msg, text);
}

/* Wait as SSL asks after ret; 0 to try again, -1 (errno set) to stop. */
static int
ssl_wait(struct net_conn *c, int ret, int timeout)
{
	int e = SSL_get_error(c->ssl, ret);

	if (e == SSL_ERROR_WANT_READ)
		return net_wait(c->pub.fd, false, timeout);
	if (e == SSL_ERROR_WANT_WRITE)
		return net_wait(c->pub.fd, true, timeout);
	if (e == SSL_ERROR_ZERO_RETURN)
		errno = ECONNRESET;
	else if (e != SSL_ERROR_SYSCALL || errno == 0)
		errno = EPROTO;
	return -1;
}

static SSL_CTX *
client_ctx(bool verify, const char *ca, char **err_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct stat st;
	int ok;

	if (ctx == NULL) {
		*err_out = arena_printf(arena_msg, "SSL_CTX_new: %s",
			ssl_error_text());
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (!verify)
		return ctx;
	if (ca == NULL || ca[0] == '\0' || strcmp(ca, "system") == 0)
		ok = SSL_CTX_set_default_verify_paths(ctx);
	else if (stat(ca, &st) == 0 && S_ISDIR(st.st_mode))
		ok = SSL_CTX_load_verify_locations(ctx, NULL, ca);
	else
		ok = SSL_CTX_load_verify_locations(ctx, ca, NULL);
	if (!ok) {
		*err_out = arena_printf(arena_msg, "cannot load CA certificates "
			"from %s: %s", ca != NULL ? ca : "system", ssl_error_text());
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* The name (or address) the certificate must carry. */
static int
set_peer_name(SSL *ssl, const char *sni, bool verify)
{
	bool is_ip = strchr(sni, ':') != NULL ||
		strspn(sni, "0123456789.") == strlen(sni);

	if (!is_ip && !SSL_set_tlsext_host_name(ssl, sni))
		return 0;
	if (!verify)
		return 1;
	if (is_ip)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), sni);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	return SSL_set1_host(ssl, sni);
}

static void
set_info(struct net_conn *c, bool verify)
{
	const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
	const char *version = SSL_get_version(c->ssl);
	int bits = 0;

	SSL_CIPHER_get_bits(ci, &bits);
	if (strncmp(version, "TLSv", 4) == 0)
		version = arena_printf(arena_msg, "TLS%s", version + 4); /* Exim */
	c->pub.is_tls = true;
	c->pub.tls_verified = verify;
	c->pub.tls_info = arena_printf(arena_msg, "%s:%s:%d",
		version, SSL_CIPHER_get_name(ci), bits);
	/* Only for DN= on the "=>" lines: formatting it costs. */
	if (LOG_SEL(tls_peerdn))
		c->pub.tls_peerdn = tls_peer_subject(arena_msg, c->ssl);
}

int
net_starttls(struct tern_conn *pc, const char *sni, bool verify,
	const char *ca, int timeout, char **err_out)
{
	struct net_conn *c = NET_CONN(pc);
	int r;

	if ((c->ssl_ctx = client_ctx(verify, ca, err_out)) == NULL)
		return TERN_DEFER;
	c->ssl = SSL_new(c->ssl_ctx);
	if (c->ssl == NULL || !SSL_set_fd(c->ssl, pc->fd) ||
	    !set_peer_name(c->ssl, sni != NULL ? sni : pc->host_address,
	    verify)) {
		*err_out = arena_printf(arena_msg, "TLS setup: %s",
			ssl_error_text());
		goto out_fail;
	}
	ERR_clear_error();
	while ((r = SSL_connect(c->ssl)) != 1) {
		if (ssl_wait(c, r, timeout) != 0) {
			long v = SSL_get_verify_result(c->ssl);

			*err_out = v != X509_V_OK ? arena_printf(arena_msg,
				"TLS certificate verification failed for %s: %s",
				sni, X509_verify_cert_error_string(v)) :
				arena_printf(arena_msg, "TLS handshake with %s [%s]: %s",
				pc->host_name, pc->host_address, errno == ETIMEDOUT ?
				"timeout" : ssl_error_text());
			goto out_fail;
		}
	}
	set_info(c, verify);
	return TERN_OK;
out_fail:
	net_tls_close(c);
	c->is_broken = true;
	return TERN_DEFER;
}

long
net_tls_read(struct net_conn *c, char *p, size_t n, int timeout)
{
	for (;;) {
		size_t got = 0;
		int r = SSL_read_ex(c->ssl, p, n, &got);

		if (r == 1)
			return (long)got;
		if (ssl_wait(c, r, timeout) != 0)
			return errno == ECONNRESET ? 0 : -1;
	}
}

int
net_tls_write(struct net_conn *c, const char *p, size_t n, int timeout)
{
	while (n > 0) {
		size_t put = 0;
		int r = SSL_write_ex(c->ssl, p, n, &put);

		if (r == 1) {
			p += put;
			n -= put;
			continue;
		}
		if (ssl_wait(c, r, timeout) != 0)
			return -1;
	}
	return 0;
}

void
net_tls_close(struct net_conn *c)
{
	if (c->ssl != NULL) {
		if (!c->is_broken)
			SSL_shutdown(c->ssl); /* one close_notify, no waiting */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->ssl_ctx != NULL) {
		SSL_CTX_free(c->ssl_ctx);
		c->ssl_ctx = NULL;
	}
}
