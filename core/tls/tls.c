/*
 * TLS server with OpenSSL 3: the context (certificate, key, ciphers,
 * TLS 1.2 at least), SNI, the handshake and record I/O with a timeout
 * on every step.  The socket is non-blocking once TLS starts, so that
 * no read or write can outlast smtp_receive_timeout.
 */
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "config/config.h"
#include "config/lists.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "smtp_in/vars.h"

struct tls_server {
	SSL            *ssl;
	int             fd;
	struct rcv_io   io;
	const char     *cert_path;  /* the certificate the context holds */
};

/* The last OpenSSL error as text (arena_conn); clears the queue. */
static char *
tls_error(const char *what)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return arena_printf(arena_conn, "%s: %s", what,
			errno != 0 ? strerror(errno) : "failed");
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return arena_printf(arena_conn, "%s: %s", what, buf);
}

/* Expand an option; NULL (unset or empty) or the text; -1 on failure. */
static int
tls_expand_option(const char *name, const char *tmpl, char **out,
	char **err_out)
{
	char *err = NULL;

	*out = NULL;
	if (tmpl == NULL || *tmpl == '\0')
		return 0;
	if (expand_string(NULL, arena_conn, tmpl, out, &err) != TERN_OK) {
		*err_out = arena_printf(arena_conn, "expansion of %s failed: %s",
			name, err != NULL ? err : "forced failure");
		return -1;
	}
	if (**out == '\0')
		*out = NULL;
	return 0;
}

static int tls_sni_callback(SSL *ssl, int *alert, void *arg);

/* A context for one certificate/key pair (already expanded paths). */
static SSL_CTX *
tls_ctx_new(const char *cert, const char *key, char **err_out)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		*err_out = tls_error("SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* No renegotiation (DoS, injection), no compression (CRIME). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
		SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (conf.tls_require_ciphers != NULL &&
	    SSL_CTX_set_cipher_list(ctx, conf.tls_require_ciphers) != 1) {
		*err_out = tls_error("tls_require_ciphers");
		goto out_free;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*err_out = tls_error(arena_printf(arena_conn,
			"tls_certificate \"%s\"", cert));
		goto out_free;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key != NULL ? key : cert,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
		*err_out = tls_error(arena_printf(arena_conn,
			"tls_privatekey \"%s\"", key != NULL ? key : cert));
		goto out_free;
	}
	SSL_CTX_set_tlsext_servername_callback(ctx, tls_sni_callback);
	return ctx;
out_free:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Expand tls_certificate/tls_privatekey now and build a context. */
static SSL_CTX *
tls_ctx_expanded(const char **cert_out, char **err_out)
{
	char *cert, *key;

	if (tls_expand_option("tls_certificate", conf.tls_certificate, &cert,
	    err_out) < 0 || tls_expand_option("tls_privatekey",
	    conf.tls_privatekey, &key, err_out) < 0)
		return NULL;
	if (cert == NULL) {
		*err_out = "tls_certificate expanded to nothing";
		return NULL;
	}
	*cert_out = cert;
	return tls_ctx_new(cert, key, err_out);
}

/*
 * A server name is a host name: letters, digits, '-', '.', '_' and no
 * "..": anything else is ignored, so that $tls_in_sni can never carry
 * a path or an expansion.
 */
static bool
tls_sni_valid(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > 253 || strstr(name, "..") != NULL || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_')
			return false;
	}
	return true;
}

/* SNI: note the name; a certificate that depends on it is reloaded. */
static int
tls_sni_callback(SSL *ssl, int *alert, void *arg)
{
	struct tls_server *t = SSL_get_app_data(ssl);
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	const char *cert = NULL;
	char *err = NULL;
	SSL_CTX *ctx;

	(void)arg;
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	if (!tls_sni_valid(name)) {
		log_write(TERN_LOG_MAIN, NULL,
			"TLS: ignored a bad server name (SNI) \"%s\" from [%s]",
			str_printable(arena_scratch, name, strlen(name)),
			smtp_in_vars.host_address != NULL ?
			smtp_in_vars.host_address : "local");
		return SSL_TLSEXT_ERR_NOACK;
	}
	smtp_in_vars.tls_sni = arena_strdup(arena_conn, name);
	if (t == NULL || strchr(conf.tls_certificate, '$') == NULL)
		return SSL_TLSEXT_ERR_OK;
	ctx = tls_ctx_expanded(&cert, &err);
	if (ctx == NULL) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"TLS: certificate for SNI \"%s\": %s", name, err);
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	if (strcmp(cert, t->cert_path) != 0) {
		SSL_set_SSL_CTX(ssl, ctx);
		t->cert_path = cert;
	}
	SSL_CTX_free(ctx); /* SSL_set_SSL_CTX took its own reference */
	return SSL_TLSEXT_ERR_OK;
}

/* Wait until fd is readable/writable; deadline 0 = none.  0 or -1. */
static int
tls_wait(int fd, bool is_write, time_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = is_write ? POLLOUT : POLLIN };
	int n, ms = -1;

	for (;;) {
		if (deadline != 0) {
			time_t left = deadline - time(NULL);

			if (left <= 0) {
				errno = ETIMEDOUT;
				return -1;
			}
			ms = (int)left * 1000;
		}
		n = poll(&pfd, 1, ms);
		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/*
 * After an SSL_* call returned r <= 0: wait and retry (0), or give up
 * (-1, errno set).  A clean close_notify sets *is_eof_out.
 */
static int
tls_retry(struct tls_server *t, int r, time_t deadline, bool *is_eof_out)
{
	int e = SSL_get_error(t->ssl, r);

	switch (e) {
	case SSL_ERROR_WANT_READ:
		return tls_wait(t->fd, false, deadline);
	case SSL_ERROR_WANT_WRITE:
		return tls_wait(t->fd, true, deadline);
	case SSL_ERROR_ZERO_RETURN:
		*is_eof_out = true;
		return -1;
	case SSL_ERROR_SYSCALL:
		if (errno == 0)
			errno = ECONNRESET;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

static time_t
tls_deadline(int timeout)
{
	return timeout > 0 ? time(NULL) + timeout : 0;
}

ssize_t
tls_server_read(struct tls_server *t, char *buf, size_t n, int timeout)
{
	time_t deadline = tls_deadline(timeout);
	bool is_eof = false;

	for (;;) {
		size_t got = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_read_ex(t->ssl, buf, n, &got);
		if (r == 1)
			return (ssize_t)got;
		if (tls_retry(t, r, deadline, &is_eof) < 0)
			return is_eof ? 0 : -1;
	}
}

ssize_t
tls_server_write(struct tls_server *t, const char *buf, size_t n,
	int timeout)
{
	time_t deadline = tls_deadline(timeout);
	bool is_eof = false;

	for (;;) {
		size_t done = 0;
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_write_ex(t->ssl, buf, n, &done);
		if (r == 1)
			return (ssize_t)done;
		if (tls_retry(t, r, deadline, &is_eof) < 0) {
			if (is_eof)
				errno = EPIPE;
			return -1;
		}
	}
}

static ssize_t
tls_io_read(void *arg, char *buf, size_t n, int timeout)
{
	return tls_server_read(arg, buf, n, timeout);
}

const struct rcv_io *
tls_server_io(struct tls_server *t)
{
	return &t->io;
}

/* "TLSv1.3" -> "TLS1.3", as Exim logs it. */
static const char *
tls_version_text(const SSL *ssl)
{
	const char *v = SSL_get_version(ssl);

	if (strncmp(v, "TLSv", 4) == 0)
		return arena_printf(arena_conn, "TLS%s", v + 4);
	return arena_strdup(arena_conn, v);
}

const char *
tls_peer_subject(struct arena *a, const SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	const char *dn = NULL;
	char *p = NULL;
	BIO *b;
	long n;

	if (peer == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
	n = BIO_get_mem_data(b, &p);
	if (n > 0)
		dn = str_printable(a, p, (size_t)n);
	BIO_free(b);
	return dn;
}

/* After the handshake: $tls_in_cipher, $tls_in_ver, $tls_in_peerdn. */
static void
tls_note_session(const SSL *ssl)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	X509 *peer = SSL_get0_peer_certificate(ssl);

	smtp_in_vars.tls_version = tls_version_text(ssl);
	smtp_in_vars.tls_cipher = arena_printf(arena_conn, "%s:%s:%d",
		smtp_in_vars.tls_version, SSL_CIPHER_get_name(c),
		SSL_CIPHER_get_bits(c, NULL));
	smtp_in_vars.tls_cipher_std = SSL_CIPHER_standard_name(c);
	if (peer != NULL) {
		/* A certificate is only asked for (tls_verify_hosts) with
		 * SSL_VERIFY_PEER, so a bad one fails the handshake: this is
		 * "yes" today, but says what OpenSSL found. */
		smtp_in_vars.tls_verified = SSL_get_verify_result(ssl) ==
			X509_V_OK ? "yes" : "no";
		smtp_in_vars.tls_peerdn = tls_peer_subject(arena_conn, ssl);
	}
}

/* tls_verify_hosts: ask this client for a certificate and check it. */
static int
tls_setup_verify(SSL_CTX *ctx, SSL *ssl, char **err_out)
{
	const char *cas = conf.tls_verify_certificates;
	char *err = NULL;

	if (conf.tls_verify_hosts == NULL || smtp_in_vars.host_address == NULL ||
	    list_match(TERN_LIST_HOST, conf.tls_verify_hosts,
	    smtp_in_vars.host_address, NULL, &err) != TERN_OK)
		return 0;
	if (cas == NULL || strcmp(cas, "system") == 0) {
		if (SSL_CTX_set_default_verify_paths(ctx) != 1)
			goto out_err;
	} else if (SSL_CTX_load_verify_locations(ctx, cas, NULL) != 1) {
		goto out_err;
	}
	SSL_set_verify(ssl, SSL_VERIFY_PEER |
		SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
out_err:
	*err_out = tls_error(arena_printf(arena_conn,
		"tls_verify_certificates \"%s\"", cas));
	return -1;
}

static int
tls_handshake(struct tls_server *t, int timeout, char **err_out)
{
	time_t deadline = tls_deadline(timeout);
	bool is_eof = false;

	for (;;) {
		int r;

		ERR_clear_error();
		errno = 0;
		r = SSL_accept(t->ssl);
		if (r == 1)
			return 0;
		if (tls_retry(t, r, deadline, &is_eof) < 0) {
			*err_out = errno == ETIMEDOUT ?
				"timeout during the TLS handshake" :
				tls_error("TLS handshake");
			return -1;
		}
	}
}

/*
 * OpenSSL writes with write(2), not send(MSG_NOSIGNAL): a peer that has
 * gone would kill us with SIGPIPE.  A handler (not SIG_IGN) is reset by
 * exec, so programs started later still get the default.
 */
static void
tls_sigpipe(int sig)
{
	(void)sig;
}

struct tls_server *
tls_server_start(int fd, int timeout, char **err_out)
{
	struct tls_server *t = arena_zalloc(arena_conn, sizeof(*t));
	struct sigaction sa = { .sa_handler = tls_sigpipe };
	SSL_CTX *ctx;
	int fl;

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGPIPE, &sa, NULL);

	ctx = tls_ctx_expanded(&t->cert_path, err_out);
	if (ctx == NULL)
		return NULL;
	t->fd = fd;
	t->ssl = SSL_new(ctx);
	if (t->ssl == NULL) {
		*err_out = tls_error("SSL_new");
		goto out_ctx;
	}
	SSL_set_app_data(t->ssl, t);
	if (tls_setup_verify(ctx, t->ssl, err_out) < 0)
		goto out_ssl;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    SSL_set_fd(t->ssl, fd) != 1) {
		*err_out = tls_error("TLS on the socket");
		goto out_ssl;
	}
	if (tls_handshake(t, timeout, err_out) < 0)
		goto out_ssl;
	SSL_CTX_free(ctx); /* the SSL keeps its own reference */
	tls_note_session(t->ssl);
	t->io = (struct rcv_io){ .read = tls_io_read, .arg = t };
	return t;
out_ssl:
	SSL_free(t->ssl);
out_ctx:
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_server_close(struct tls_server *t)
{
	if (t == NULL || t->ssl == NULL)
		return;
	(void)SSL_shutdown(t->ssl);
	SSL_free(t->ssl);
	t->ssl = NULL;
}
