/* The smtp transport: shared between smtp.c (hosts) and session.c. */
#ifndef TERN_PLUGINS_TRANSPORTS_SMTP_SMTP_H
#define TERN_PLUGINS_TRANSPORTS_SMTP_SMTP_H

#include <stdbool.h>
#include <stdint.h>

#include <tern/module.h>
#include <tern/net.h>

struct smtp_opts {
	const char *port;              /* number or service name; "smtp" */
	const char *hosts;             /* expandable host list */
	bool        hosts_override;
	bool        hosts_randomize;
	const char *fallback_hosts;
	int         connect_timeout;
	int         command_timeout;
	int         data_timeout;
	int         final_timeout;
	const char *helo_data;         /* expandable */
	const char *hosts_require_tls;
	const char *hosts_avoid_tls;
	const char *tls_verify_hosts;
	const char *tls_verify_certificates;
	const char *tls_sni;           /* expandable; default: the host name */
	bool        tls_tempfail_tryclear;
	const char *hosts_require_auth;
	const char *hosts_try_auth;
	int         max_rcpt;
	int         size_addition;
	bool        allow_localhost;
};

/* What the peer said in its EHLO reply; kept with the connection. */
struct smtp_caps {
	bool        is_esmtp;
	bool        has_pipelining;
	bool        has_size;
	uint64_t    size_max;          /* 0: no limit given */
	bool        has_8bitmime;
	bool        has_starttls;
	const char *auth_mechs;        /* "PLAIN LOGIN" or NULL */
	bool        is_authenticated;
};

/*
 * The optional parts of the log lines (log_selector, docs/log.md), read
 * once per transport call.
 */
struct smtp_log {
	bool port;       /* outgoing_port: ":port" after each IP address */
	bool interface;  /* incoming_interface and outgoing_interface: I= */
	bool cipher;     /* tls_cipher: X= */
	bool verified;   /* tls_certificate_verified: CV= */
	bool peerdn;     /* tls_peerdn: DN= */
	bool confirm;    /* smtp_confirmation: C= */
	bool pipelining; /* pipelining: L */
};

/* One transport call. */
struct smtp_job {
	struct tern_instance     *inst;
	struct tern_ctx          *ctx;
	const struct smtp_opts   *o;
	struct tern_address      *batch;
	const struct tern_msginfo *mi;
	int                       port;     /* the transport's default port */
	int                       has_8bit; /* -1 not known yet */
	const char               *err;      /* last host-level error */
	int                       err_errno;
	const char               *wait_key; /* first host tried, for -qq/wait */
	bool                      tried;    /* a host was due and tried */
	struct smtp_log           log;
};

/* A host-level outcome of a conversation. */
enum smtp_host_rc {
	SMTP_HOST_OK = 0,   /* the conversation went; per-address results set */
	SMTP_HOST_DEFER,    /* try the next host with what is still pending */
	SMTP_HOST_TLS_FAIL, /* TLS failed: the caller may retry in clear */
};

extern const struct tern_core *smtp_core;

/* Is the address still waiting for a result? */
static inline bool
smtp_is_pending(const struct tern_address *a)
{
	return !(a->flags & TERN_AF_RESULT);
}

/* Give a its own result (text copied into ctx memory). */
void smtp_set_result(struct smtp_job *j, struct tern_address *a, int rc,
	const char *text, const struct tern_conn *c);

/*
 * What the "=>" lines of the addresses in v[0..n) that c delivered add
 * after the host: " L" (pipelining), " C=..." (the server's reply r).
 */
void smtp_log_delivered(struct smtp_job *j, const struct tern_conn *c,
	struct tern_address **v, size_t n, const char *reply);

/* Does host h match a host list option?  NULL list: no. */
bool smtp_host_match(struct smtp_job *j, const char *list,
	const struct tern_host *h);

/* The effective port for h. */
int smtp_host_port(const struct smtp_job *j, const struct tern_host *h);

/*
 * session.c.  Open (banner, EHLO, STARTTLS, AUTH) a connection to h:
 * SMTP_HOST_OK with *c_out set, or DEFER / TLS_FAIL with j->err.
 */
enum smtp_host_rc smtp_session_open(struct smtp_job *j,
	const struct tern_host *h, bool may_tls, struct tern_conn **c_out);
/* Deliver the pending addresses down c (one or more transactions). */
enum smtp_host_rc smtp_session_send(struct smtp_job *j, struct tern_conn *c);
/* QUIT (when the connection is still good) and close. */
void smtp_session_close(struct smtp_job *j, struct tern_conn *c);

/* caps.c: read one EHLO reply text (lines joined by '\n') into caps. */
void smtp_parse_ehlo(const char *text, struct smtp_caps *caps,
	char *(*dup)(void *arg, const char *s), void *arg);

#endif
