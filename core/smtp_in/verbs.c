/* The verb table, and the verbs that do not touch the envelope. */
#include "smtp_in/smtp_int.h"

#include <string.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "tls/tls.h"

static void
helo_hello(struct smtp_sess *s, const char *code_sep)
{
	if (s->ci->host_address != NULL)
		smtp_reply(s, "250%s%s Hello %s [%s]", code_sep,
			conf.primary_hostname, s->helo, s->ci->host_address);
	else
		smtp_reply(s, "250%s%s Hello %s at %s", code_sep,
			conf.primary_hostname, rt.caller_login != NULL ?
			rt.caller_login : "unknown", s->helo);
}

static bool
check_helo(struct smtp_sess *s, const char *args)
{
	if (smtp_helo_valid(args))
		return true;
	smtp_reply(s, "501 5.5.4 Syntactically invalid argument(s): %s",
		*args ? str_printable(arena_scratch, args, strlen(args)) :
		"(none)");
	return false;
}

static void
set_helo(struct smtp_sess *s, const char *args, bool esmtp)
{
	size_t n = strcspn(args, " \t");

	smtp_reset_envelope(s);
	s->helo = arena_strndup(arena_conn, args, n);
	s->esmtp = esmtp;
	s->pipelining = s->tls_offered = s->auth_offered = false;
}

/* pipelining_advertise_hosts (a local -bs caller always gets it). */
static bool
pipelining_offered(struct smtp_sess *s)
{
	char *err = NULL;

	if (s->ci->host_address == NULL)
		return true;
	if (conf.pipelining_advertise_hosts == NULL)
		return false;
	return list_match(TERN_LIST_HOST, conf.pipelining_advertise_hosts,
		s->ci->host_address, NULL, &err) == TERN_OK;
}

static void
act_helo(struct smtp_sess *s, const char *args)
{
	set_helo(s, args, false);
	helo_hello(s, " ");
}

static void
act_ehlo(struct smtp_sess *s, const char *args)
{
	const char *auth;

	set_helo(s, args, true);
	helo_hello(s, "-");
	if (conf.message_size_limit > 0)
		smtp_reply(s, "250-SIZE %llu",
			(unsigned long long)conf.message_size_limit);
	else
		smtp_reply(s, "250-SIZE");
	smtp_reply(s, "250-8BITMIME");
	s->pipelining = pipelining_offered(s);
	if (s->pipelining)
		smtp_reply(s, "250-PIPELINING");
	s->tls_offered = s->tls == NULL &&
		tls_server_offered(s->ci->host_address);
	if (s->tls_offered)
		smtp_reply(s, "250-STARTTLS");
	auth = smtp_auth_ehlo_line(s);
	if (auth != NULL)
		smtp_reply(s, "250-%s", auth);
	smtp_reply(s, "250-ENHANCEDSTATUSCODES");
	smtp_reply(s, "250 HELP");
}

static bool
check_no_args(struct smtp_sess *s, const char *args)
{
	if (*args == '\0')
		return true;
	smtp_reply(s, "501 5.5.4 no arguments allowed");
	return false;
}

static void
act_rset(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_log_incomplete(s, "RSET");
	smtp_reset_envelope(s);
	smtp_reply(s, "250 2.0.0 Reset OK");
}

static void
act_noop(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_reply(s, "250 2.0.0 OK");
}

static void
act_quit(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_log_incomplete(s, "QUIT");
	smtp_reply(s, "221 2.0.0 %s closing connection",
		conf.primary_hostname);
	smtp_log_closed(s, "by QUIT");
	s->done = true;
}

static void
act_help(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_reply(s, "214-Commands supported:");
	smtp_reply(s, "214 HELO EHLO MAIL RCPT DATA NOOP QUIT RSET HELP VRFY STARTTLS AUTH");
}

static void
act_expn(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_reply(s, "502 5.5.1 EXPN not available");
}

static void
act_not_implemented(struct smtp_sess *s, const char *args)
{
	(void)args;
	smtp_reply(s, "502 5.5.1 not implemented");
}

static bool
check_mail(struct smtp_sess *s, const char *args)
{
	(void)args;
	if (!s->has_sender)
		return true;
	smtp_reply(s, "503 5.5.1 sender already given");
	return false;
}

static bool
check_rcpt(struct smtp_sess *s, const char *args)
{
	(void)args;
	if (s->has_sender)
		return true;
	smtp_reply(s, "503 5.5.1 MAIL first");
	return false;
}

static bool
check_data(struct smtp_sess *s, const char *args)
{
	if (!s->has_sender) {
		smtp_reply(s, "503 5.5.1 MAIL first");
		return false;
	}
	if (s->nrcpts == 0) {
		smtp_reply(s, "503 5.5.1 valid RCPT command must precede DATA");
		return false;
	}
	return check_no_args(s, args);
}

const struct smtp_verb smtp_verbs[] = {
	{ "HELO",     check_helo,    act_helo },
	{ "EHLO",     check_helo,    act_ehlo },
	{ "MAIL",     check_mail,    smtp_act_mail },
	{ "RCPT",     check_rcpt,    smtp_act_rcpt },
	{ "DATA",     check_data,    smtp_act_data },
	{ "RSET",     check_no_args, act_rset },
	{ "NOOP",     NULL,          act_noop },
	{ "QUIT",     NULL,          act_quit },
	{ "HELP",     NULL,          act_help },
	{ "VRFY",     NULL,          smtp_act_vrfy },
	{ "EXPN",     NULL,          act_expn },
	{ "STARTTLS", smtp_check_starttls, smtp_act_starttls },
	{ "AUTH",     smtp_check_auth, smtp_act_auth },
	{ "ETRN",     NULL,          act_not_implemented },
	{ "BDAT",     NULL,          act_not_implemented },
	{ NULL,       NULL,          NULL },
};
