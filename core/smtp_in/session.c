/*
 * One SMTP session: the command loop, reply buffering for PIPELINING,
 * and the verb table dispatch.  The verbs live in verbs.c and mail.c.
 */
#include "smtp_in/smtp_in.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "config/lists.h"
#include "dns/dns.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "receive/rcv_int.h"
#include "receive/receive.h"
#include "smtp_in/smtp_int.h"
#include "smtp_in/vars.h"
#include "tls/tls.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0"
#endif

void
smtp_reply(struct smtp_sess *s, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	line = arena_vprintf(arena_scratch, fmt, ap);
	va_end(ap);
	if (!buf_adds(&s->out, line) || !buf_adds(&s->out, "\r\n"))
		tern_panic("smtp_in: reply buffer overflow");
	DEBUG("SMTP>> %s", line);
	if (strncmp(line, "501", 3) == 0 || strncmp(line, "503", 3) == 0 ||
	    strncmp(line, "555", 3) == 0) {
		smtp_log_synprot(s, line);
		smtp_synprot_error(s, line);
	}
}

/*
 * A socket is written with MSG_NOSIGNAL; stdout (-bs) may be a pipe.
 * Once TLS is up, everything goes through it.
 */
static ssize_t
smtp_write(struct smtp_sess *s, int fd, const char *p, size_t n, int more)
{
	ssize_t r;

	if (s->tls != NULL)
		return tls_server_write(s->tls, p, n, conf.smtp_receive_timeout);
	r = send(fd, p, n, MSG_NOSIGNAL | more);

	if (r < 0 && errno == ENOTSOCK)
		r = write(fd, p, n);
	return r;
}

/*
 * more: MSG_MORE, for the last reply of a session whose socket is closed
 * at once: the kernel sends it with the FIN, one packet instead of two.
 */
static bool
smtp_flush_more(struct smtp_sess *s, int more)
{
	size_t off = 0;

	while (off < s->out.len) {
		ssize_t n = smtp_write(s, s->out_fd, s->out.p + off,
			s->out.len - off, more);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (!s->done && LOG_SEL(lost_incoming_connection))
				log_write(TERN_LOG_MAIN, NULL,
					"SMTP connection from %s lost while writing: %m",
					s->peer);
			s->done = true;
			buf_clear(&s->out);
			return false;
		}
		off += (size_t)n;
	}
	buf_clear(&s->out);
	return true;
}

bool
smtp_flush(struct smtp_sess *s)
{
	return smtp_flush_more(s, 0);
}

void
smtp_reset_envelope(struct smtp_sess *s)
{
	arena_reset(arena_msg);
	s->has_sender = false;
	s->sender = NULL;
	s->body_8bitmime = 0;
	s->rcpts = NULL;
	s->nrcpts = s->cap = 0;
}

static void
smtp_reject_vlog(struct smtp_sess *s, int where, const char *fmt,
	va_list ap)
{
	char *text = arena_vprintf(arena_scratch, fmt, ap);

	smtp_host_refresh(s);
	if (s->has_sender)
		log_write(where, NULL, "%s F=<%s> %s", s->who, s->sender, text);
	else
		log_write(where, NULL, "%s %s", s->who, text);
}

void
smtp_reject_log(struct smtp_sess *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reject_vlog(s, TERN_LOG_MAIN | TERN_LOG_REJECT, fmt, ap);
	va_end(ap);
}

void
smtp_reject_log_sel(struct smtp_sess *s, bool main, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	smtp_reject_vlog(s, TERN_LOG_REJECT | (main ? TERN_LOG_MAIN : 0), fmt,
		ap);
	va_end(ap);
}

/* Exim's default form of the banner: our name, version and the date. */
static const char *
greeting_default(char *buf, size_t size)
{
	char date[RCV_DATE_MAX];

	rcv_rfc5322_date_buf(date, sizeof(date), time(NULL));
	snprintf(buf, size, "%s ESMTP Tern %s %s", conf.primary_hostname,
		TERN_VERSION, date);
	return buf;
}

/*
 * The banner when it needs no expansion: smtp_banner unset (the default
 * form) or free of '$' and '\', which expansion would give back as it
 * is.  NULL: it must be expanded, in the reception process.
 */
static const char *
greeting_plain(char *buf, size_t size)
{
	const char *b = conf.smtp_banner;

	if (b == NULL || *b == '\0')
		return greeting_default(buf, size);
	return strpbrk(b, "$\\") == NULL ? b : NULL;
}

/* The banner: smtp_banner expanded, or Exim's default form. */
static void
smtp_greeting(struct smtp_sess *s)
{
	char buf[SMTP_GREETING_MAX];
	const char *text = greeting_plain(buf, sizeof(buf));
	char *exp = NULL, *err = NULL;

	if (text == NULL) {
		if (expand_string(NULL, arena_conn, conf.smtp_banner, &exp,
		    &err) != TERN_OK) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"expansion of smtp_banner failed: %s", err);
			exp = NULL;
		}
		text = exp != NULL && *exp != '\0' ? exp :
			greeting_default(buf, sizeof(buf));
	}
	/* A multi-line banner: "220-" for all lines but the last. */
	for (const char *nl; (nl = strchr(text, '\n')) != NULL; text = nl + 1)
		smtp_reply(s, "220-%.*s", (int)(nl - text), text);
	smtp_reply(s, "220 %s", text);
}

bool
smtp_greeting_early(char *out, size_t size, size_t *len_out)
{
	char buf[SMTP_GREETING_MAX];
	const char *text = greeting_plain(buf, sizeof(buf)), *nl;
	size_t len = 0;

	if (text == NULL)
		return false;
	for (;; text = nl + 1) {
		int n;

		nl = strchr(text, '\n');
		n = snprintf(out + len, size - len, "220%c%.*s\r\n",
			nl != NULL ? '-' : ' ',
			nl != NULL ? (int)(nl - text) : (int)strlen(text), text);
		if (n < 0 || (size_t)n >= size - len)
			return false;
		len += (size_t)n;
		if (nl == NULL)
			break;
	}
	*len_out = len;
	return true;
}

static const struct smtp_verb *
smtp_find_verb(const char *line, const char **args_out)
{
	size_t n;

	*args_out = smtp_split_verb(line, &n);
	for (const struct smtp_verb *v = smtp_verbs; v->name != NULL; v++)
		if (strlen(v->name) == n && strncasecmp(v->name, line, n) == 0)
			return v;
	return NULL;
}

/* Unknown or over-long command: 500, and past the limit 421 and drop. */
static void
smtp_bad_command(struct smtp_sess *s, const char *reply, const char *line)
{
	smtp_log_synprot(s, reply);
	if (++s->unknown > conf.smtp_max_unknown_commands) {
		smtp_reply(s, "421 4.7.0 %s: too many unrecognized commands",
			conf.primary_hostname);
		log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
			"SMTP call from %s dropped: too many unrecognized commands (last was \"%s\")",
			s->peer, str_printable(arena_scratch, line, strlen(line)));
		s->done = true;
		return;
	}
	smtp_reply(s, "%s", reply);
}

/* *line_out of smtp_read_command when it has already replied. */
static char smtp_line_handled[1];

/*
 * How long a message this process holds (receive_hold_enable) waits for
 * the client's next command before it goes to the daemon: long enough
 * for a QUIT sent on seeing the 250 (a round trip the kernel measured,
 * twice, and 20 ms), at most a second, so that a client that keeps its
 * connection open and quiet does not hold its message back.
 */
static int
hold_wait_ms(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	unsigned ms;

	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return 500;
	ms = 20 + 2 * (ti.tcpi_rtt / 1000);
	return ms > 1000 ? 1000 : (int)ms;
}

/* A whole QUIT line waiting on the socket (looked at, not read)? */
static bool
quit_waiting(int fd)
{
	char buf[16];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);

	return n >= 5 && strncasecmp(buf, "QUIT", 4) == 0 &&
		memchr(buf, '\n', (size_t)n) != NULL;
}

/*
 * A held message goes to the daemon unless the client's QUIT is there
 * within a moment: anything else (another command, half a line, a TLS
 * record we cannot look into) releases it, so that it never waits for
 * the rest of a slow line.
 */
static void
smtp_hold_wait(struct smtp_sess *s)
{
	struct pollfd pfd = { .fd = s->in_fd, .events = POLLIN };
	int n = 0;

	if (s->src.io == NULL)
		do
			n = poll(&pfd, 1, hold_wait_ms(s->in_fd));
		while (n < 0 && errno == EINTR);
	if (n <= 0 || !quit_waiting(s->in_fd))
		receive_release();
}

/* Read one command; false when the session must end. */
static bool
smtp_read_command(struct smtp_sess *s, char **line_out)
{
	ssize_t n;
	char *line;

	if (s->src.start == s->src.end && !smtp_flush(s))
		return false;
	if (s->src.start == s->src.end && receive_holding())
		smtp_hold_wait(s);
	n = rcv_read_line(&s->src, &line, SMTP_CMD_MAX);
	if (n == -2) {
		*line_out = NULL;
		return true;
	}
	if (n < 0 && errno == ETIMEDOUT) {
		smtp_reply(s, "421 4.4.2 %s: SMTP command timeout - closing connection",
			conf.primary_hostname);
		smtp_log_command_timeout(s);
		return false;
	}
	if (n <= 0) {
		const char *err = n < 0 ? strerror(errno) : NULL;

		smtp_log_incomplete(s, "connection lost");
		smtp_log_lost(s, err);
		return false;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' ||
	    line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	/* A NUL would cut the command short where C sees it: refuse it. */
	if (memchr(line, '\0', (size_t)n) != NULL) {
		smtp_bad_command(s, "500 5.5.2 NUL character in command",
			"(contains NUL)");
		line = smtp_line_handled;
	}
	*line_out = line;
	return true;
}

static void
smtp_command(struct smtp_sess *s, const char *line)
{
	const struct smtp_verb *v;
	const char *args;

	DEBUG("SMTP<< %s", str_printable(arena_scratch, line, strlen(line)));
	s->cmd = line;
	v = smtp_find_verb(line, &args);
	if (v != NULL && v->act == smtp_act_mail)
		s->had_mail = true;
	if (v != NULL && LOG_SEL(smtp_no_mail))
		smtp_had(s, v->name);
	/* Another command than QUIT: a held message waits no longer. */
	if (receive_holding() && (v == NULL || strcmp(v->name, "QUIT") != 0))
		receive_release();
	if (!smtp_sync_command_ok(s, v != NULL ? v->name : NULL, line))
		return;
	if (v == NULL) {
		smtp_bad_command(s, "500 5.5.1 unrecognized command", line);
		return;
	}
	if (v->check != NULL && !v->check(s, args)) {
		smtp_host_refresh(s);
		return;
	}
	v->act(s, args);
	smtp_host_refresh(s);
	/* Exim's test of PIPELINING use (log_selector pipelining): the
	 * client's next command is there before our reply to MAIL or RCPT. */
	if (LOG_SEL(pipelining) && s->pipelining && !s->pipelining_used &&
	    (v->act == smtp_act_mail || v->act == smtp_act_rcpt) &&
	    smtp_input_pending(s))
		s->pipelining_used = true;
}

/*
 * s->who, "H=[ip]" or, once the client's name is known, "H=name [ip]":
 * rejections name the local end and the connection too when log_selector
 * asks, as Exim's host_and_ident.
 */
static void
smtp_set_who(struct smtp_sess *s)
{
	const struct smtp_conn_info *ci = s->ci;

	s->who = arena_printf(arena_conn, "H=%s%s[%s]%s%s",
		s->host_name != NULL ? s->host_name : "",
		s->host_name != NULL ? " " : "", ci->host_address,
		LOG_SEL(incoming_interface) && ci->interface_address !=
		NULL ? arena_printf(arena_conn, " I=[%s]:%d",
		ci->interface_address, ci->interface_port) : "",
		log_conn_id(arena_conn));
}

void
smtp_host_refresh(struct smtp_sess *s)
{
	const char *name;
	bool is_failed;

	if (s->ci->host_address == NULL || s->host_name != NULL)
		return;
	name = dns_host_name_found(s->ci->host_address, &is_failed);
	if (is_failed)
		smtp_in_vars.host_lookup_failed = "1";
	if (name == NULL)
		return;
	s->host_name = smtp_in_vars.host_name = name;
	smtp_set_who(s);
}

/*
 * host_lookup: the client's name, before the first command (Exim looks
 * it up before its banner; here the daemon may have sent that already).
 */
static void
smtp_host_lookup(struct smtp_sess *s)
{
	const char *ip = s->ci->host_address, *name;
	char *err = NULL;

	smtp_in_vars.host_lookup_failed = "0";
	list_host_lookups(ip);
	if (conf.host_lookup == NULL || list_match(TERN_LIST_HOST,
	    conf.host_lookup, ip, NULL, &err) != TERN_OK)
		return;
	if (dns_host_name(ip, &name, &err) == TERN_DEFER)
		log_write(TERN_LOG_MAIN, NULL, "host name lookup for %s "
			"deferred: %s", s->peer, err != NULL ? err : "");
	smtp_host_refresh(s);
}

static void
smtp_sess_init(struct smtp_sess *s, int in_fd, int out_fd,
	const struct smtp_conn_info *ci)
{
	memset(s, 0, sizeof(*s));
	s->ci = ci;
	/* D= on the connection's lines (lost_incoming_connection is on by
	 * default): a vDSO clock read, no system call. */
	s->start_ms = log_clock_ms();
	s->out_fd = out_fd;
	s->in_fd = in_fd;
	smtp_in_vars.host_address = ci->host_address;
	smtp_in_vars.interface_address = ci->interface_address;
	if (ci->host_address != NULL)
		smtp_in_vars.host_port = arena_printf(arena_conn, "%d",
			ci->host_port);
	if (ci->interface_address != NULL)
		smtp_in_vars.interface_port = arena_printf(arena_conn, "%d",
			ci->interface_port);
	/* A client that stops reading must not hold us for ever either. */
	if (conf.smtp_receive_timeout > 0) {
		struct timeval tv = { .tv_sec = conf.smtp_receive_timeout };

		(void)setsockopt(out_fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
			sizeof(tv));
	}
	rcv_source_init(&s->src, in_fd, conf.smtp_receive_timeout);
	buf_init(&s->out, arena_conn, 1024 * 1024);
	if (ci->host_address != NULL) {
		s->peer = arena_printf(arena_conn, "[%s]", ci->host_address);
		smtp_set_who(s);
	} else {
		s->who = arena_printf(arena_conn, "U=%s", rt.caller_login !=
			NULL ? rt.caller_login : "unknown");
		s->peer = arena_printf(arena_conn, "local process (%s)", s->who);
	}
	smtp_reset_envelope(s);
}

int
smtp_in_session(int in_fd, int out_fd, const struct smtp_conn_info *ci)
{
	struct smtp_sess s;

	smtp_sess_init(&s, in_fd, out_fd, ci);
	smtp_log_connection_start(&s);
	if (ci->host_address != NULL)
		smtp_host_lookup(&s);
	if (ci->host_address != NULL &&
	    tls_port_is_on_connect(ci->interface_port)) {
		if (!smtp_tls_on_connect(&s))
			return 0;
	} else if (!ci->greeted && !smtp_sync_banner_ok(&s)) {
		(void)smtp_flush(&s);
		return 0;
	}
	if (ci->greeted)
		DEBUG("SMTP>> (the daemon's 220)");
	else
		smtp_greeting(&s);
	while (!s.done) {
		char *line;

		arena_reset(arena_scratch);
		s.cmd = NULL;
		if (!smtp_read_command(&s, &line))
			break;
		if (line == NULL)
			smtp_bad_command(&s, "500 5.5.2 line too long", "(too long)");
		else if (line != smtp_line_handled)
			smtp_command(&s, line);
	}
	(void)smtp_flush_more(&s, ci->closed_after ? MSG_MORE : 0);
	smtp_log_no_mail(&s);
	tls_server_close(s.tls);
	return 0;
}
