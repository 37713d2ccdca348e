/* The verb table, and the verbs that do not touch the envelope. */
#include "smtp_in/smtp_int.h"

#include <string.h>
#include <strings.h>

#include <tern/net.h>
#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "dns/dns.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "tls/tls.h"

static void
helo_hello(struct smtp_sess *s, const char *code_sep)
{
	smtp_host_refresh(s); /* helo_verify_hosts may have found the name */
	if (s->ci->host_address != NULL)
		smtp_reply(s, "250%s%s Hello %s [%s]", code_sep,
			conf.primary_hostname, s->host_name != NULL ?
			s->host_name : s->helo, s->ci->host_address);
	else
		smtp_reply(s, "250%s%s Hello %s at %s", code_sep,
			conf.primary_hostname, rt.caller_login != NULL ?
			rt.caller_login : "unknown", s->helo);
}

/* Does this client have to say who it is truly (helo_verify_hosts)? */
static bool
helo_verify_required(const struct smtp_sess *s)
{
	char *err = NULL;

	return s->ci->host_address != NULL && conf.helo_verify_hosts != NULL &&
		list_match(TERN_LIST_HOST, conf.helo_verify_hosts,
		s->ci->host_address, NULL, &err) == TERN_OK;
}

/*
 * Exim's HELO verification: the argument is the client's address as a
 * literal, or its name as host_lookup finds it, or a name whose A or
 * AAAA records include the address.  TERN_OK, TERN_FAIL, or TERN_DEFER
 * (a temporary DNS error).
 */
static int
helo_verify(struct smtp_sess *s, const char *helo)
{
	const char *ip = s->ci->host_address, *name = NULL;
	char *err = NULL;
	size_t n = strlen(helo);
	int rc;

	if (helo[0] == '[') {
		/* the literal and the address compared as addresses */
		unsigned char a[16], b[16];
		const char *lit = helo + 1;
		size_t len = n >= 2 && helo[n - 1] == ']' ? n - 2 : n - 1;

		if (strncasecmp(lit, "IPv6:", 5) == 0) {
			lit += 5;
			len -= 5;
		}
		lit = arena_strndup(arena_scratch, lit, len);
		return dns_ip_bytes(lit, a) && dns_ip_bytes(ip, b) &&
			memcmp(a, b, 16) == 0 ? TERN_OK : TERN_FAIL;
	}
	rc = dns_host_name(ip, &name, &err);
	smtp_host_refresh(s);
	if (name != NULL && strcasecmp(name, helo) == 0)
		return TERN_OK;
	err = NULL;
	/* As Exim: only a reverse lookup that could not be done makes the
	 * answer temporary. */
	if (dns_name_has_ip(helo, TERN_HF_BYDNS, ip, &err) == TERN_OK)
		return TERN_OK;
	return rc == TERN_DEFER ? TERN_DEFER : TERN_FAIL;
}

static bool
check_helo_verb(struct smtp_sess *s, const char *verb, const char *args)
{
	size_t n;
	const char *helo;
	int rc;

	if (!smtp_helo_valid(args)) {
		smtp_reply(s, "501 5.5.4 Syntactically invalid argument(s): %s",
			*args ? str_printable(arena_scratch, args,
			strlen(args)) : "(none)");
		return false;
	}
	if (!helo_verify_required(s))
		return true;
	n = strcspn(args, " \t");
	helo = arena_strndup(arena_scratch, args, n);
	rc = helo_verify(s, helo);
	if (rc == TERN_OK)
		return true;
	smtp_reply(s, "%d %s argument does not match calling host",
		rc == TERN_DEFER ? 451 : 550, verb);
	smtp_reject_log(s, "%srejected \"%s %s\"", rc == TERN_DEFER ?
		"temporarily " : "", verb, str_printable(arena_scratch, helo,
		strlen(helo)));
	return false;
}

static bool
check_helo(struct smtp_sess *s, const char *args)
{
	return check_helo_verb(s, "HELO", args);
}

static bool
check_ehlo(struct smtp_sess *s, const char *args)
{
	return check_helo_verb(s, "EHLO", args);
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
	if (s->helo == NULL && helo_verify_required(s)) {
		smtp_reject_log(s, "rejected MAIL: no HELO/EHLO given");
		smtp_reply(s, "503 5.5.1 HELO or EHLO required");
		return false;
	}
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
	{ "EHLO",     check_ehlo,    act_ehlo },
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
