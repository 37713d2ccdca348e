/* Private to core/smtp_in: the session and the verb handlers. */
#ifndef TERN_CORE_SMTP_IN_SMTP_INT_H
#define TERN_CORE_SMTP_IN_SMTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/buf.h"
#include "receive/receive.h"
#include "smtp_in/smtp_in.h"
#include "spool/spool.h"

struct tls_server;

/* RFC 5321 allows 512; we accept up to 1000 bytes including CRLF. */
#define SMTP_CMD_MAX 1000
/* Commands smtp_no_mail lists (Exim's C=). */
#define SMTP_HAD_MAX 20

struct smtp_sess {
	const struct smtp_conn_info *ci;
	struct rcv_source src;
	int         out_fd;
	struct buf  out;         /* replies not yet written (pipelining) */
	const char *peer;        /* "[ip]", for "connection from ..." logs */
	const char *who;         /* "H=[ip]" or "U=login", for rejections */
	const char *helo;        /* arena_conn */
	const char *host_name;   /* the client's verified name, once known */
	bool        esmtp;
	int         unknown;     /* unrecognized commands so far */
	bool        done;        /* QUIT, drop, or the connection is gone */
	/* TLS and AUTH (starttls.c, auth.c), synchronisation (sync.c). */
	int         in_fd;
	struct tls_server *tls;  /* non-NULL once TLS is up */
	bool        tls_offered; /* STARTTLS in the last EHLO */
	bool        auth_offered;/* AUTH in the last EHLO */
	bool        pipelining;  /* PIPELINING in the last EHLO */
	bool        pipelining_used; /* a command came before the reply to
	                                MAIL or RCPT (log_selector) */
	bool        tls_on_connect; /* TLS from the first byte */
	const char *authenticated_id; /* non-NULL: AUTH succeeded (may relay) */
	int         auth_failures;
	int         synprot_errors;
	/* For the connection's log lines (connlog.c). */
	long long   start_ms;    /* log_clock_ms() at the start, for D= */
	const char *cmd;         /* the command being handled, or NULL */
	bool        had_mail;    /* a MAIL command came (smtp_no_mail) */
	const char *had[SMTP_HAD_MAX]; /* the last verbs, a ring */
	size_t      nhad;
	/* The envelope (arena_msg, reset after each message and by RSET). */
	bool        has_sender;
	const char *sender;
	char        body_8bitmime; /* BODY= on MAIL: 0 (none), 7, 8 */
	struct recipient *rcpts;
	size_t      nrcpts, cap;
};

/* One SMTP verb: check the state (replying if wrong), then act. */
struct smtp_verb {
	const char *name;
	bool (*check)(struct smtp_sess *s, const char *args);
	void (*act)(struct smtp_sess *s, const char *args);
};

extern const struct smtp_verb smtp_verbs[];

void smtp_reply(struct smtp_sess *s, const char *fmt, ...) TERN_PRINTF(2, 3);
/* Write buffered replies; false (and s->done) when the peer is gone. */
bool smtp_flush(struct smtp_sess *s);
void smtp_reset_envelope(struct smtp_sess *s);
/* A rejection: mainlog and rejectlog. */
void smtp_reject_log(struct smtp_sess *s, const char *fmt, ...)
	TERN_PRINTF(2, 3);
/*
 * One whose mainlog line a log_selector name governs (size_reject ...):
 * main says whether it is on; rejectlog has it in any case, as in Exim.
 */
void smtp_reject_log_sel(struct smtp_sess *s, bool main, const char *fmt,
	...) TERN_PRINTF(3, 4);

/*
 * Take in the client's name once a lookup found it (host_lookup, a host
 * list, helo_verify_hosts): s->who, $sender_host_name,
 * $host_lookup_failed.
 */
void smtp_host_refresh(struct smtp_sess *s);

/* STARTTLS (starttls.c); TLS before the banner on tls_on_connect_ports. */
bool smtp_check_starttls(struct smtp_sess *s, const char *args);
void smtp_act_starttls(struct smtp_sess *s, const char *args);
bool smtp_tls_on_connect(struct smtp_sess *s);

/* AUTH (auth.c): the EHLO keyword line, or NULL; the verb. */
const char *smtp_auth_ehlo_line(struct smtp_sess *s);
bool smtp_check_auth(struct smtp_sess *s, const char *args);
void smtp_act_auth(struct smtp_sess *s, const char *args);

/*
 * Synchronisation (sync.c): false (after replying 554, logging and
 * ending the session) when the client sent more input than it may
 * before our reply: before the banner, or after a command that must
 * end a pipelined group (any command when PIPELINING was not offered).
 */
bool smtp_sync_banner_ok(struct smtp_sess *s);
bool smtp_sync_command_ok(struct smtp_sess *s, const char *verb,
	const char *line);
/* Count a syntax or protocol error (5xx reply); drop past the limit. */
void smtp_synprot_error(struct smtp_sess *s, const char *reply);
/* Bytes the client sent that we have not read yet (buffered or TLS). */
bool smtp_input_pending(struct smtp_sess *s);

/*
 * The connection's mainlog lines (connlog.c), each written only when its
 * log_selector name is on: docs/log.md.
 */
void smtp_log_connection_start(const struct smtp_sess *s);
void smtp_log_closed(const struct smtp_sess *s, const char *how);
/* EOF or a read error (error: its text, or NULL) while waiting for a
 * command. */
void smtp_log_lost(const struct smtp_sess *s, const char *error);
void smtp_log_command_timeout(const struct smtp_sess *s);
void smtp_log_data_lost(const struct smtp_sess *s, bool timeout);
/* A transaction given up (what: "RSET", "QUIT", "connection lost" ...). */
void smtp_log_incomplete(const struct smtp_sess *s, const char *what);
/* A 500, 501 or 555 reply (syntax) or a 503 (protocol) to s->cmd. */
void smtp_log_synprot(const struct smtp_sess *s, const char *reply);
void smtp_had(struct smtp_sess *s, const char *verb);
void smtp_log_no_mail(const struct smtp_sess *s);

void smtp_act_mail(struct smtp_sess *s, const char *args);
void smtp_act_rcpt(struct smtp_sess *s, const char *args);
void smtp_act_data(struct smtp_sess *s, const char *args);
void smtp_act_vrfy(struct smtp_sess *s, const char *args);

/* Pure parsing helpers (parse.c). */

/* Is s a HELO/EHLO argument we accept (a domain or an address literal)? */
bool smtp_helo_valid(const char *s);

/*
 * If line starts with keyword ("FROM:", caseless), the text after it
 * with leading spaces skipped, else NULL.
 */
const char *smtp_after_keyword(const char *line, const char *keyword);

/* The MAIL FROM parameters we know. */
struct smtp_mail_params {
	uint64_t size;     /* SIZE=, 0 if absent */
	bool     has_size;
	bool     body_8bit;
	char     body;     /* BODY=: 0 absent, 7 (7BIT), 8 (8BITMIME) */
};

/*
 * Parse ESMTP parameters "KEY=VALUE ..." after MAIL FROM:<...>.  0, or
 * the SMTP reply code (501, 555) with *err_out ("5.5.4 text") static.
 */
int smtp_parse_mail_params(const char *rest, struct smtp_mail_params *p,
	const char **err_out);

/* A local part with quotes and backslashes removed (arena a). */
char *smtp_unquote_local(struct arena *a, const char *local);

/* Split a command line: *verb_len is the verb's length, returns the args. */
const char *smtp_split_verb(const char *line, size_t *verb_len);

#endif
