/*
 * STARTTLS (RFC 3207) and TLS on connect (tls_on_connect_ports).
 *
 * The command-injection defence: whatever the client sent after
 * "STARTTLS" in clear text, before the handshake, is thrown away --
 * never read as commands of the encrypted session -- and the session
 * starts again from nothing (EHLO required, envelope empty).
 */
#include "smtp_in/smtp_int.h"

#include <string.h>

#include "config/config.h"
#include "lib/arena.h"
#include "log/log.h"
#include "smtp_in/vars.h"
#include "tls/tls.h"

bool
smtp_check_starttls(struct smtp_sess *s, const char *args)
{
	if (s->tls != NULL) {
		smtp_reply(s, "554 5.5.1 TLS already active");
		return false;
	}
	if (!s->tls_offered) {
		smtp_reply(s, "503 5.5.1 STARTTLS not advertised");
		return false;
	}
	if (*args != '\0') {
		smtp_reply(s, "501 5.5.4 no arguments allowed");
		return false;
	}
	return true;
}

/* Handshake on the session's socket; false (logged) on failure. */
static bool
starttls_handshake(struct smtp_sess *s)
{
	char *err = NULL;

	s->tls = tls_server_start(s->in_fd, conf.smtp_receive_timeout, &err);
	if (s->tls == NULL) {
		log_write(TERN_LOG_MAIN, NULL,
			"TLS error on connection from %s: %s", s->peer, err);
		s->done = true;
		return false;
	}
	rcv_source_init(&s->src, s->in_fd, conf.smtp_receive_timeout);
	s->src.io = tls_server_io(s->tls);
	DEBUG("TLS up: %s", smtp_in_vars.tls_cipher);
	return true;
}

void
smtp_act_starttls(struct smtp_sess *s, const char *args)
{
	size_t dropped = rcv_source_discard(&s->src);

	(void)args;
	smtp_log_incomplete(s, "STARTTLS");
	if (dropped > 0)
		log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
			"SMTP command pipelined after STARTTLS from %s: %zu byte%s discarded",
			s->who, dropped, dropped == 1 ? "" : "s");
	smtp_reply(s, "220 2.0.0 Ready to start TLS");
	if (!smtp_flush(s))
		return;
	if (!starttls_handshake(s))
		return;
	/* RFC 3207 4.2: forget everything learnt in clear text. */
	smtp_reset_envelope(s);
	s->helo = NULL;
	s->esmtp = false;
	s->tls_offered = s->auth_offered = s->pipelining = false;
}

bool
smtp_tls_on_connect(struct smtp_sess *s)
{
	if (conf.tls_certificate == NULL || *conf.tls_certificate == '\0') {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"TLS on connect from %s: no tls_certificate is set",
			s->peer);
		return false;
	}
	s->tls_on_connect = true;
	return starttls_handshake(s);
}
