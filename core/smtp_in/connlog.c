/*
 * The mainlog lines about an SMTP connection rather than a message, in
 * Exim's words, each under its log_selector name (docs/log.md): the
 * connection's start and end (smtp_connection), a session without MAIL
 * (smtp_no_mail), an abandoned transaction (smtp_incomplete_transaction),
 * syntax and protocol errors, and a connection lost or timed out
 * (lost_incoming_connection).  Each costs nothing when its selector is
 * off but for the command history smtp_no_mail keeps.
 */
#include "smtp_in/smtp_int.h"

#include <stdio.h>
#include <string.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "smtp_in/vars.h"

/* How long the connection has lasted, for D=. */
static const char *
conn_duration(const struct smtp_sess *s)
{
	return log_duration(log_clock_ms() - s->start_ms);
}

/*
 * The client as Exim's host_and_ident: "(helo) [ip]:port" (the port with
 * incoming_port), then I=[ip]:port (incoming_interface) and Ci=pid
 * (connection_id); "H=" before it with tag.  A local -bs caller is its
 * login name ("U=login").
 */
/* The client, "(helo) [ip]:port I=[ip]:port" (log_client), or -bs's login. */
static const char *
conn_client(const struct smtp_sess *s, const char *login_default)
{
	const struct smtp_conn_info *ci = s->ci;

	if (ci->host_address == NULL)
		return rt.caller_login != NULL ? rt.caller_login :
			login_default;
	return log_client(arena_scratch, s->host_name, s->helo, ci->host_address,
		ci->host_port, ci->interface_address, ci->interface_port);
}

/*
 * Exim's host_and_ident: the client, then Ci=pid (connection_id); "H="
 * (or "U=" for a local -bs caller) before it with tag.
 */
static const char *
smtp_host_ident(const struct smtp_sess *s, bool tag)
{
	return arena_printf(arena_scratch, "%s%s%s", !tag ? "" :
		s->ci->host_address != NULL ? "H=" : "U=",
		conn_client(s, "unknown"), log_conn_id(arena_scratch));
}

/*
 * Exim's smtp_get_connection_info: "SMTP connection Ci=pid from
 * (helo) [ip]:port I=[ip]:port", or "from login" for -bs.
 */
static const char *
conn_info(const struct smtp_sess *s)
{
	return arena_printf(arena_scratch, "SMTP connection%s from %s",
		log_conn_id(arena_scratch), conn_client(s, "NULL"));
}

void
smtp_log_connection_start(const struct smtp_sess *s)
{
	const struct smtp_conn_info *ci = s->ci;

	if (!LOG_SEL(smtp_connection))
		return;
	if (ci->host_address == NULL) {
		log_write(TERN_LOG_MAIN, NULL, "%s", conn_info(s));
		return;
	}
	log_write(TERN_LOG_MAIN, NULL, "%s (TCP/IP connection count = %d)",
		conn_info(s), ci->count);
}

void
smtp_log_closed(const struct smtp_sess *s, const char *how)
{
	if (LOG_SEL(smtp_connection))
		log_write(TERN_LOG_MAIN, NULL, "%s D=%s closed %s",
			conn_info(s), conn_duration(s), how);
}

void
smtp_log_lost(const struct smtp_sess *s, const char *error)
{
	const char *err = error != NULL ?
		arena_printf(arena_scratch, " (error: %s)", error) : "";

	/* Exim: a client that just drops the call, with no transaction
	 * going, is common enough that only smtp_connection logs it. */
	if (s->has_sender || s->nrcpts > 0) {
		if (LOG_SEL(lost_incoming_connection))
			log_write(TERN_LOG_MAIN, NULL, "unexpected %s while "
				"reading SMTP command from %s%s D=%s",
				s->ci->host_address == NULL ? "EOF" :
				"disconnection", smtp_host_ident(s, false),
				err, conn_duration(s));
	} else if (LOG_SEL(smtp_connection)) {
		log_write(TERN_LOG_MAIN, NULL, "%s lost%s D=%s", conn_info(s),
			err, conn_duration(s));
	}
}

void
smtp_log_command_timeout(const struct smtp_sess *s)
{
	if (LOG_SEL(lost_incoming_connection))
		log_write(TERN_LOG_MAIN, NULL, "SMTP command timeout on%s "
			"connection from %s D=%s", s->tls != NULL ? " TLS" : "",
			smtp_host_ident(s, false), conn_duration(s));
}

void
smtp_log_data_lost(const struct smtp_sess *s, bool timeout)
{
	if (timeout && LOG_SEL(lost_incoming_connection))
		log_write(TERN_LOG_MAIN, NULL, "SMTP data timeout (message "
			"abandoned) on connection from %s F=<%s> D=%s",
			s->ci->host_address != NULL ? smtp_host_ident(s, false) :
			"local process", s->sender, conn_duration(s));
	else if (!timeout && (LOG_SEL(lost_incoming_connection) ||
	    LOG_SEL(smtp_connection)))
		log_write(TERN_LOG_MAIN, NULL, "%s lost while reading message "
			"data", conn_info(s));
}

void
smtp_log_incomplete(const struct smtp_sess *s, const char *what)
{
	char *rcpts = "";

	if (!s->has_sender || !LOG_SEL(smtp_incomplete_transaction))
		return;
	/* Exim adds the sender and the accepted recipients, as on a <=
	 * line with received_sender and received_recipients. */
	for (size_t i = 0; i < s->nrcpts; i++)
		rcpts = arena_printf(arena_scratch, "%s %s", rcpts,
			s->rcpts[i].address);
	log_write(TERN_LOG_MAIN, NULL, "%s incomplete transaction (%s) "
		"from <%s>%s%s", smtp_host_ident(s, true), what, s->sender,
		s->nrcpts > 0 ? " for" : "", rcpts);
}

void
smtp_log_synprot(const struct smtp_sess *s, const char *reply)
{
	bool syntax = strncmp(reply, "501", 3) == 0 ||
		strncmp(reply, "500", 3) == 0 || strncmp(reply, "555", 3) == 0;
	const char *text = reply;

	if (syntax ? !LOG_SEL(smtp_syntax_error) :
	    !LOG_SEL(smtp_protocol_error))
		return;
	/* The reply's text without its codes, as Exim's errmess. */
	if (strlen(text) > 4)
		text += 4;
	if (text[0] >= '2' && text[0] <= '5' && text[1] == '.')
		text += strcspn(text, " ") + (strchr(text, ' ') != NULL);
	log_write(TERN_LOG_MAIN, NULL, "SMTP %s error in \"%s\" %s %s",
		syntax ? "syntax" : "protocol", s->cmd != NULL ?
		str_printable(arena_scratch, s->cmd, strlen(s->cmd)) : "",
		smtp_host_ident(s, true), text);
}

/* The last SMTP_HAD_MAX commands, for smtp_no_mail's C=. */
void
smtp_had(struct smtp_sess *s, const char *verb)
{
	s->had[s->nhad++ % SMTP_HAD_MAX] = verb;
}

/* " C=EHLO,QUIT": the commands, the last 20 after "..." if more. */
static const char *
conn_had(const struct smtp_sess *s)
{
	size_t first = s->nhad > SMTP_HAD_MAX ? s->nhad - SMTP_HAD_MAX : 0;
	const char *out = s->nhad > SMTP_HAD_MAX ? " C=..." : " C=";

	if (s->nhad == 0)
		return "";
	for (size_t i = first; i < s->nhad; i++)
		out = arena_printf(arena_scratch, "%s%s%s", out,
			i > first ? "," : "", s->had[i % SMTP_HAD_MAX]);
	return out;
}

void
smtp_log_no_mail(const struct smtp_sess *s)
{
	const char *a = "", *tls = "";

	if (s->had_mail || !LOG_SEL(smtp_no_mail))
		return;
	if (s->authenticated_id != NULL)
		a = arena_printf(arena_scratch, " A=%s:%s",
			smtp_in_vars.authenticator, s->authenticated_id);
	if (s->tls != NULL)
		tls = log_tls_fields(arena_scratch, smtp_in_vars.tls_cipher,
			smtp_in_vars.tls_verified, smtp_in_vars.tls_peerdn,
			smtp_in_vars.tls_sni);
	log_write(TERN_LOG_MAIN, NULL, "no MAIL in SMTP connection from %s "
		"D=%s%s%s%s", smtp_host_ident(s, false), conn_duration(s), a,
		tls, conn_had(s));
}
