/*
 * One SMTP client conversation: banner, EHLO (HELO when refused),
 * STARTTLS when offered (then EHLO again), AUTH through the core's
 * authenticators, and transactions of up to max_rcpt recipients with
 * MAIL/RCPT/DATA pipelined when the peer offers PIPELINING, SIZE= and
 * BODY=8BITMIME when it applies.
 */
#include "smtp.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define core smtp_core

struct reply {
	int   code;  /* -1: I/O error or timeout (j->err) */
	char *text;  /* "NNN line1 line2 ..." for messages */
	char *lines; /* the lines' texts joined by '\n' (EHLO) */
	char *last;  /* the last line's text */
};

static void
send_line(struct smtp_job *j, struct tern_conn *c, const char *line)
{
	(void)j;
	core->conn_write(c, line, strlen(line));
	core->conn_write(c, "\r\n", 2);
}

static bool
flush(struct smtp_job *j, struct tern_conn *c, int timeout)
{
	char *err = NULL;

	if (core->conn_flush(j->ctx, c, timeout, &err) == TERN_OK)
		return true;
	j->err = err;
	j->err_errno = errno;
	return false;
}

static struct reply
read_reply(struct smtp_job *j, struct tern_conn *c, int timeout)
{
	struct reply r = { .code = -1 };
	size_t tlen = 0, llen = 0;

	for (int n = 0; n < 200; n++) {
		char *line = NULL, *err = NULL;
		const char *txt;

		if (core->conn_read_line(j->ctx, c, timeout, &line, &err) != TERN_OK) {
			j->err = err;
			j->err_errno = errno;
			return (struct reply){ .code = -1 };
		}
		if (strlen(line) < 3 || line[0] < '1' || line[0] > '5' ||
		    (line[3] != '\0' && line[3] != ' ' && line[3] != '-')) {
			j->err = core->printf(j->ctx, "%s [%s]: malformed response "
				"\"%.100s\"", c->host_name, c->host_address, line);
			j->err_errno = 0;
			return (struct reply){ .code = -1 };
		}
		txt = line[3] != '\0' ? line + 4 : "";
		r.text = core->printf(j->ctx, "%s%s%s", tlen > 0 ? r.text : "",
			tlen > 0 ? " " : "", tlen > 0 ? txt : line);
		r.lines = core->printf(j->ctx, "%s%s%s", llen > 0 ? r.lines : "",
			llen > 0 ? "\n" : "", txt);
		tlen = llen = 1;
		r.last = (char *)txt;
		if (line[3] != '-') {
			r.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
				(line[2] - '0');
			return r;
		}
	}
	j->err = core->printf(j->ctx, "%s [%s]: response too long",
		c->host_name, c->host_address);
	return (struct reply){ .code = -1 };
}

/* Send one command and read its reply. */
static struct reply
command(struct smtp_job *j, struct tern_conn *c, const char *line,
	int timeout)
{
	send_line(j, c, line);
	if (!flush(j, c, timeout))
		return (struct reply){ .code = -1 };
	return read_reply(j, c, timeout);
}

static void
reply_error(struct smtp_job *j, struct tern_conn *c, const char *after,
	const struct reply *r)
{
	j->err = core->printf(j->ctx, "SMTP error from remote mail server "
		"after %s: %s", after, r->text);
	j->err_errno = 0;
	(void)c;
}

static char *
dup_cb(void *arg, const char *s)
{
	return core->strdup(arg, s);
}

/* EHLO, or HELO when EHLO is refused; caps filled.  False: j->err. */
static bool
say_hello(struct smtp_job *j, struct tern_conn *c, struct smtp_caps *caps)
{
	char *helo = NULL, *err = NULL;
	struct reply r;

	if (core->expand(j->ctx, j->o->helo_data, &helo, &err) != TERN_OK ||
	    helo[0] == '\0')
		helo = (char *)core->main_option("primary_hostname");
	r = command(j, c, core->printf(j->ctx, "EHLO %s", helo),
		j->o->command_timeout);
	if (r.code == 250) {
		smtp_parse_ehlo(r.lines, caps, dup_cb, j->ctx);
		return true;
	}
	if (r.code < 0)
		return false;
	r = command(j, c, core->printf(j->ctx, "HELO %s", helo),
		j->o->command_timeout);
	if (r.code == 250) {
		memset(caps, 0, sizeof(*caps));
		return true;
	}
	if (r.code > 0)
		reply_error(j, c, "HELO", &r);
	return false;
}

static enum smtp_host_rc
start_tls(struct smtp_job *j, struct tern_conn *c, const struct tern_host *h,
	struct smtp_caps *caps)
{
	bool verify = smtp_host_match(j, j->o->tls_verify_hosts, h);
	char *sni = NULL, *err = NULL;
	struct reply r = command(j, c, "STARTTLS", j->o->command_timeout);

	if (r.code != 220) {
		if (r.code > 0)
			reply_error(j, c, "STARTTLS", &r);
		return r.code < 0 || !smtp_host_match(j, j->o->hosts_require_tls,
			h) ? SMTP_HOST_TLS_FAIL : SMTP_HOST_DEFER;
	}
	if (j->o->tls_sni == NULL ||
	    core->expand(j->ctx, j->o->tls_sni, &sni, &err) != TERN_OK)
		sni = (char *)h->name;
	if (core->conn_starttls(j->ctx, c, sni, verify,
	    j->o->tls_verify_certificates, j->o->command_timeout, &err) !=
	    TERN_OK) {
		j->err = err;
		j->err_errno = 0;
		return SMTP_HOST_TLS_FAIL;
	}
	return say_hello(j, c, caps) ? SMTP_HOST_OK : SMTP_HOST_DEFER;
}

/* -------- AUTH through the core's authenticators -------- */

struct auth_io_arg {
	struct smtp_job  *j;
	struct tern_conn *c;
};

static int
auth_command(void *arg, const char *line, char **text_out, char **err_out)
{
	struct auth_io_arg *a = arg;
	struct reply r = command(a->j, a->c, line, a->j->o->command_timeout);

	if (r.code < 0) {
		*err_out = (char *)a->j->err;
		return -1;
	}
	*text_out = r.last;
	return r.code;
}

static enum smtp_host_rc
authenticate(struct smtp_job *j, struct tern_conn *c,
	const struct tern_host *h, struct smtp_caps *caps)
{
	bool must = smtp_host_match(j, j->o->hosts_require_auth, h);
	struct auth_io_arg arg = { j, c };
	struct tern_auth_client_io io = { &arg, auth_command };
	const char *name = NULL;
	char *err = NULL;
	int rc;

	if (!must && !smtp_host_match(j, j->o->hosts_try_auth, h))
		return SMTP_HOST_OK;
	if (caps->auth_mechs == NULL || core->auth_client == NULL) {
		if (!must)
			return SMTP_HOST_OK;
		j->err = core->printf(j->ctx, "%s [%s]: authentication required "
			"but %s", h->name, h->address, caps->auth_mechs == NULL ?
			"the server does not offer AUTH" : "no authenticator is "
			"available");
		return SMTP_HOST_DEFER;
	}
	rc = core->auth_client(j->ctx, caps->auth_mechs, &io, &name, &err);
	if (rc == TERN_OK) {
		caps->is_authenticated = true;
		return SMTP_HOST_OK;
	}
	if (!must && rc == TERN_FAIL)
		return SMTP_HOST_OK;
	j->err = core->printf(j->ctx, "%s [%s]: authentication failed: %s",
		h->name, h->address, err != NULL ? err : "refused");
	j->err_errno = 0;
	return SMTP_HOST_DEFER;
}

/* -------- opening a session -------- */

enum smtp_host_rc
smtp_session_open(struct smtp_job *j, const struct tern_host *h,
	bool may_tls, struct tern_conn **c_out)
{
	struct smtp_caps *caps = core->alloc(j->ctx, sizeof(*caps));
	bool need_tls = smtp_host_match(j, j->o->hosts_require_tls, h);
	enum smtp_host_rc rc;
	char *err = NULL;
	struct tern_conn *c;
	struct reply r;

	memset(caps, 0, sizeof(*caps));
	*c_out = c = core->conn_open(j->ctx, h->name, h->address,
		smtp_host_port(j, h), j->o->connect_timeout, &err);
	if (c == NULL) {
		j->err = err;
		j->err_errno = errno;
		return SMTP_HOST_DEFER;
	}
	c->user = caps;
	r = read_reply(j, c, j->o->command_timeout);
	if (r.code != 220) {
		if (r.code > 0)
			reply_error(j, c, "initial connection", &r);
		return SMTP_HOST_DEFER;
	}
	if (!say_hello(j, c, caps))
		return SMTP_HOST_DEFER;
	if (caps->has_starttls && may_tls &&
	    !smtp_host_match(j, j->o->hosts_avoid_tls, h)) {
		if ((rc = start_tls(j, c, h, caps)) != SMTP_HOST_OK)
			return rc;
	} else if (need_tls) {
		j->err = core->printf(j->ctx, "%s [%s]: TLS is required "
			"(hosts_require_tls) but the server did not offer "
			"STARTTLS", h->name, h->address);
		j->err_errno = 0;
		return SMTP_HOST_DEFER;
	}
	return authenticate(j, c, h, caps);
}

void
smtp_session_close(struct smtp_job *j, struct tern_conn *c)
{
	char *err = NULL;

	send_line(j, c, "QUIT");
	if (core->conn_flush(j->ctx, c, 5, &err) == TERN_OK) {
		char *line = NULL;

		(void)core->conn_read_line(j->ctx, c, 5, &line, &err);
	}
	core->conn_close(c);
}

/* -------- transactions -------- */

/* Does the message have bytes above 127 (for BODY=8BITMIME)? */
static bool
has_8bit(struct smtp_job *j)
{
	char buf[65536], *err = NULL;
	int fd;
	off_t off = 0;
	ssize_t n;

	if (j->has_8bit >= 0)
		return j->has_8bit;
	j->has_8bit = 0;
	/* The core reads the spool in place (ABI 1.1 service). */
	if (core->size >= offsetof(struct tern_core, message_8bit) +
	    sizeof(core->message_8bit) && core->message_8bit != NULL) {
		int rc = core->message_8bit(j->ctx);

		if (rc >= 0) {
			j->has_8bit = rc;
			return rc == 1;
		}
	}
	/* Else write the message out and look at that. */
	fd = memfd_create("tern-8bit", MFD_CLOEXEC);
	if (fd < 0 || core->write_message(j->ctx, fd, 0, j->batch, &err) !=
	    TERN_OK) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	while (j->has_8bit == 0 && (n = pread(fd, buf, sizeof(buf), off)) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if ((unsigned char)buf[i] & 0x80)
				j->has_8bit = 1;
		off += n;
	}
	close(fd);
	return j->has_8bit;
}

static const char *
mail_command(struct smtp_job *j, const struct smtp_caps *caps)
{
	const char *cmd = core->printf(j->ctx, "MAIL FROM:<%s>", j->mi->sender);

	if (caps->has_size)
		cmd = core->printf(j->ctx, "%s SIZE=%llu", cmd, (unsigned long long)
			(j->mi->size + (uint64_t)j->o->size_addition));
	if (caps->has_8bitmime && has_8bit(j))
		cmd = core->printf(j->ctx, "%s BODY=8BITMIME", cmd);
	return cmd;
}

/* Set the result of every address in v[0..n) that is still pending. */
static void
set_all(struct smtp_job *j, struct tern_address **v, size_t n, int rc,
	const char *text, struct tern_conn *c)
{
	for (size_t i = 0; i < n; i++)
		if (smtp_is_pending(v[i]))
			smtp_set_result(j, v[i], rc, text, c);
}

/* RCPT replies: accepted ones stay pending and go into ok[]. */
static size_t
rcpt_replies(struct smtp_job *j, struct tern_conn *c, struct tern_address **v,
	const struct reply *r, size_t n, struct tern_address **ok)
{
	size_t nok = 0;

	for (size_t i = 0; i < n; i++) {
		const char *after = core->printf(j->ctx, "RCPT TO:<%s>",
			v[i]->address);

		if (r[i].code >= 200 && r[i].code < 300) {
			ok[nok++] = v[i];
			continue;
		}
		reply_error(j, c, after, &r[i]);
		smtp_set_result(j, v[i], r[i].code >= 500 ? TERN_FAIL : TERN_DEFER,
			j->err, c);
	}
	return nok;
}

/* The data phase for the accepted addresses; host-level rc. */
static enum smtp_host_rc
send_data(struct smtp_job *j, struct tern_conn *c, struct tern_address **ok,
	size_t nok)
{
	char *err = NULL;
	struct reply r;

	if (core->conn_write_message(j->ctx, c, TERN_WR_CRLF | TERN_WR_DOTSTUFF,
	    j->batch, j->o->data_timeout, &err) != TERN_OK) {
		j->err = err;
		j->err_errno = errno;
		return SMTP_HOST_DEFER;
	}
	send_line(j, c, ".");
	if (!flush(j, c, j->o->data_timeout))
		return SMTP_HOST_DEFER;
	r = read_reply(j, c, j->o->final_timeout);
	if (r.code < 0)
		return SMTP_HOST_DEFER;
	if (r.code >= 200 && r.code < 300) {
		set_all(j, ok, nok, TERN_OK, NULL, c);
		smtp_log_delivered(j, c, ok, nok, r.text);
		return SMTP_HOST_OK;
	}
	reply_error(j, c, "end of data", &r);
	if (r.code >= 500) {
		set_all(j, ok, nok, TERN_FAIL, j->err, c);
		return SMTP_HOST_OK;
	}
	return SMTP_HOST_DEFER;
}

/* MAIL refused: 5xx fails the transaction's addresses, 4xx defers. */
static enum smtp_host_rc
mail_refused(struct smtp_job *j, struct tern_conn *c, struct tern_address **v,
	size_t n, const struct reply *mail, const struct reply *data)
{
	struct reply end;

	if (data->code == 354) { /* a pipelined DATA accepted anyway */
		send_line(j, c, ".");
		if (!flush(j, c, j->o->data_timeout) ||
		    (end = read_reply(j, c, j->o->final_timeout)).code < 0)
			return SMTP_HOST_DEFER;
	}
	reply_error(j, c, core->printf(j->ctx, "MAIL FROM:<%s>", j->mi->sender),
		mail);
	if (mail->code < 500)
		return SMTP_HOST_DEFER;
	set_all(j, v, n, TERN_FAIL, j->err, c);
	return SMTP_HOST_OK;
}

/* Send the commands up to DATA and read their replies. */
static bool
envelope(struct smtp_job *j, struct tern_conn *c, struct tern_address **v,
	size_t n, struct reply *mail, struct reply *rr, struct reply *data)
{
	const struct smtp_caps *caps = c->user;
	bool pipe = caps->has_pipelining;
	int t = j->o->command_timeout;

	send_line(j, c, mail_command(j, caps));
	if (!pipe && (!flush(j, c, t) || (*mail = read_reply(j, c, t)).code < 0))
		return false;
	if (!pipe && mail->code >= 300)
		return true;
	for (size_t i = 0; i < n; i++) {
		send_line(j, c, core->printf(j->ctx, "RCPT TO:<%s>",
			v[i]->address));
		if (!pipe && (!flush(j, c, t) ||
		    (rr[i] = read_reply(j, c, t)).code < 0))
			return false;
	}
	if (!pipe)
		return true;
	send_line(j, c, "DATA");
	if (!flush(j, c, t) || (*mail = read_reply(j, c, t)).code < 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((rr[i] = read_reply(j, c, t)).code < 0)
			return false;
	return (*data = read_reply(j, c, t)).code >= 0;
}

/*
 * One transaction for v[0..n).  MAIL, the RCPTs and DATA go in one
 * packet when the peer pipelines; otherwise one by one, and DATA only
 * when a recipient was accepted.
 */
static enum smtp_host_rc
transaction(struct smtp_job *j, struct tern_conn *c, struct tern_address **v,
	size_t n)
{
	const struct smtp_caps *caps = c->user;
	bool pipe = caps->has_pipelining;
	struct reply mail = { .code = 0 }, data = { .code = 0 }, end;
	struct reply *rr = core->alloc(j->ctx, n * sizeof(*rr));
	struct tern_address **ok = core->alloc(j->ctx, n * sizeof(*ok));
	size_t nok;

	if (caps->has_size && caps->size_max > 0 && j->mi->size > caps->size_max) {
		set_all(j, v, n, TERN_FAIL, core->printf(j->ctx, "message is too "
			"big for %s [%s] (%llu bytes, its SIZE limit is %llu)",
			c->host_name, c->host_address,
			(unsigned long long)j->mi->size,
			(unsigned long long)caps->size_max), c);
		return SMTP_HOST_OK;
	}
	if (!envelope(j, c, v, n, &mail, rr, &data))
		return SMTP_HOST_DEFER;
	if (mail.code >= 300)
		return mail_refused(j, c, v, n, &mail, &data);
	nok = rcpt_replies(j, c, v, rr, n, ok);
	if (!pipe && nok == 0) {
		end = command(j, c, "RSET", j->o->command_timeout);
		return end.code < 0 ? SMTP_HOST_DEFER : SMTP_HOST_OK;
	}
	if (!pipe && (data = command(j, c, "DATA", j->o->command_timeout)).code
	    < 0)
		return SMTP_HOST_DEFER;
	if (data.code != 354) {
		if (nok == 0)
			return SMTP_HOST_OK;
		reply_error(j, c, "DATA", &data);
		if (data.code < 500)
			return SMTP_HOST_DEFER;
		set_all(j, ok, nok, TERN_FAIL, j->err, c);
		return SMTP_HOST_OK;
	}
	if (nok == 0) { /* RFC 2920: end the data nobody will take */
		send_line(j, c, ".");
		return flush(j, c, j->o->data_timeout) &&
			read_reply(j, c, j->o->final_timeout).code >= 0 ?
			SMTP_HOST_OK : SMTP_HOST_DEFER;
	}
	return send_data(j, c, ok, nok);
}

enum smtp_host_rc
smtp_session_send(struct smtp_job *j, struct tern_conn *c)
{
	size_t max = (size_t)j->o->max_rcpt;
	struct tern_address **v = core->alloc(j->ctx, max * sizeof(*v));

	for (;;) {
		size_t n = 0;
		enum smtp_host_rc rc;

		for (struct tern_address *a = j->batch; a != NULL && n < max;
		    a = a->next)
			if (smtp_is_pending(a))
				v[n++] = a;
		if (n == 0)
			return SMTP_HOST_OK;
		rc = transaction(j, c, v, n);
		if (rc != SMTP_HOST_OK)
			return rc;
		for (size_t i = 0; i < n; i++)
			if (smtp_is_pending(v[i]))
				return SMTP_HOST_OK; /* cannot happen: no loop */
	}
}
