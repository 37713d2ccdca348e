/*
 * Protocol synchronisation (smtp_enforce_sync) and the count of syntax
 * and protocol errors (smtp_max_synprot_errors).  A client that talks
 * before the banner, or sends commands ahead of our replies where
 * RFC 2920 does not allow it, is not a real MTA: it is dropped.
 */
#include "smtp_in/smtp_int.h"

#include <poll.h>
#include <sys/socket.h>
#include <string.h>
#include <strings.h>

#include "config/config.h"
#include "lib/arena.h"
#include "log/log.h"
#include "receive/rcv_int.h"

bool
smtp_input_pending(struct smtp_sess *s)
{
	struct pollfd pfd = { .fd = s->in_fd, .events = POLLIN };
	char c;

	if (s->src.start < s->src.end)
		return true;
	/* TLS records are checked only through what we buffered. */
	if (s->tls != NULL || s->ci->host_address == NULL)
		return false;
	if (poll(&pfd, 1, 0) <= 0 || !(pfd.revents & POLLIN))
		return false;
	/* Readable also means "closed": a client that sends QUIT and shuts
	 * the connection without waiting for 221 has sent nothing early. */
	return recv(s->in_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

/* The first bytes of what the client sent too early, for the log. */
static const char *
sync_input_text(struct smtp_sess *s)
{
	size_t n = s->src.end - s->src.start;

	if (n > 64)
		n = 64;
	return str_printable(arena_scratch, s->src.buf + s->src.start, n);
}

static void
sync_drop(struct smtp_sess *s, const char *why)
{
	smtp_reply(s, "554 5.5.0 SMTP synchronization error");
	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
		"SMTP protocol synchronization error (%s): rejected %s %s next input=\"%s\"",
		why, s->helo == NULL && s->nrcpts == 0 && !s->has_sender ?
		"connection from" : "command from", s->who, sync_input_text(s));
	s->done = true;
}

bool
smtp_sync_banner_ok(struct smtp_sess *s)
{
	if (!conf.smtp_enforce_sync || !smtp_input_pending(s))
		return true;
	/* Read what is there (without waiting), for the log line. */
	if (s->src.start == s->src.end)
		(void)rcv_fill(&s->src);
	sync_drop(s, "input sent without waiting for greeting");
	return false;
}

/* RFC 2920 3.1: these may only be the last command of a group. */
static bool
verb_ends_group(const char *verb)
{
	static const char *const last[] = { "EHLO", "HELO", "DATA", "VRFY",
		"EXPN", "NOOP", "QUIT", "AUTH", "ETRN", "HELP", "BDAT", NULL };

	if (verb == NULL)
		return true;
	for (const char *const *p = last; *p != NULL; p++)
		if (strcasecmp(*p, verb) == 0)
			return true;
	return false;
}

bool
smtp_sync_command_ok(struct smtp_sess *s, const char *verb,
	const char *line)
{
	(void)line;
	/* As Exim: -bs input is a pipe or a file, not an SMTP client. */
	if (!conf.smtp_enforce_sync || s->done || s->ci->host_address == NULL)
		return true;
	/* STARTTLS discards what follows it (starttls.c). */
	if (verb != NULL && strcasecmp(verb, "STARTTLS") == 0)
		return true;
	if (s->pipelining && !verb_ends_group(verb))
		return true;
	if (!smtp_input_pending(s))
		return true;
	sync_drop(s, s->pipelining ? "next input sent too soon" :
		"next input sent too soon: pipelining was not advertised");
	return false;
}

void
smtp_synprot_error(struct smtp_sess *s, const char *reply)
{
	if (conf.smtp_max_synprot_errors <= 0 || s->done)
		return;
	if (++s->synprot_errors <= conf.smtp_max_synprot_errors)
		return;
	s->done = true;
	smtp_reply(s, "421 4.7.0 %s: too many syntax or protocol errors",
		conf.primary_hostname);
	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
		"SMTP call from %s dropped: too many syntax or protocol errors (last reply was \"%s\")",
		s->peer, str_printable(arena_scratch, reply, strlen(reply)));
}
