/*
 * receive_message: decode the data, split header from body, stream the
 * body into the spool's -D file, then complete the headers and commit.
 */
#include "receive/receive.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "address/address.h"
#include "config/config.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "receive/local.h"
#include "receive/rcv_int.h"
#include "rewrite/rewrite.h"

#define RCV_HEADER_MAX_DEFAULT (1024 * 1024)
#define RCV_WBUF_SIZE 65536

int receive_errno;

/* What the sink has seen so far. */
struct rcv_state {
	struct message       *m;
	enum rcv_mode         mode;
	struct rcv_hdr_parser hp;
	struct buf            line;      /* a header line being collected */
	bool                  in_body;
	bool                  first_line;
	int                   fd;        /* -D, or -1 when discarding */
	char                 *wbuf;
	size_t                wlen;
	uint64_t              body_bytes;
	uint64_t              body_lines;
	char                  last;      /* last body byte */
	bool                  too_big;
	int                   write_errno;
};

static void
st_write_out(struct rcv_state *st)
{
	size_t off = 0;

	while (off < st->wlen && st->write_errno == 0) {
		ssize_t n = write(st->fd, st->wbuf + off, st->wlen - off);

		if (n < 0 && errno != EINTR)
			st->write_errno = errno;
		else if (n > 0)
			off += (size_t)n;
	}
	st->wlen = 0;
}

static void
st_size_check(struct rcv_state *st)
{
	uint64_t total = st->hp.bytes + st->body_bytes;

	if (conf.message_size_limit > 0 && total > conf.message_size_limit)
		st->too_big = true;
}

static void
st_body(struct rcv_state *st, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] == '\n')
			st->body_lines++;
	st->body_bytes += n;
	st->last = p[n - 1];
	st_size_check(st);
	if (st->too_big || st->fd < 0 || st->write_errno != 0)
		return;
	while (n > 0) {
		size_t take = RCV_WBUF_SIZE - st->wlen;

		if (take > n)
			take = n;
		memcpy(st->wbuf + st->wlen, p, take);
		st->wlen += take;
		p += take;
		n -= take;
		if (st->wlen == RCV_WBUF_SIZE)
			st_write_out(st);
	}
}

/* A complete line while still in the header section. */
static void
st_header_line(struct rcv_state *st, const char *p, size_t n)
{
	bool first = st->first_line;

	st->first_line = false;
	/* A local message may start with an mbox "From " line: drop it. */
	if (first && st->mode != RCV_SMTP && n >= 5 &&
	    memcmp(p, "From ", 5) == 0)
		return;
	switch (rcv_hdr_feed(&st->hp, p, n)) {
	case RCV_HDR_MORE:
		if (st->hp.too_big)
			st->too_big = true;
		return;
	case RCV_HDR_END_BLANK:
		st->in_body = true;
		return;
	case RCV_HDR_END_BODY:
		st->in_body = true;
		st_body(st, p, n);
		return;
	}
}

static void
rcv_sink(void *arg, const char *p, size_t n)
{
	struct rcv_state *st = arg;

	while (n > 0 && !st->in_body) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl != NULL ? (size_t)(nl - p) + 1 : n;

		if (!buf_add(&st->line, p, take))
			st->too_big = true;
		p += take;
		n -= take;
		if (nl != NULL) {
			st_header_line(st, st->line.p, st->line.len);
			buf_clear(&st->line);
		}
	}
	if (n > 0)
		st_body(st, p, n);
}

/* EOF in the header section: a last line without LF is still a header. */
static void
st_finish(struct rcv_state *st)
{
	if (!st->in_body && st->line.len > 0) {
		if (!buf_addc(&st->line, '\n'))
			st->too_big = true;
		st_header_line(st, st->line.p, st->line.len);
	}
	if (st->body_bytes > 0 && st->last != '\n')
		st_body(st, "\n", 1);
	/* What is left in wbuf goes with the commit's write. */
	(void)rcv_hdr_finish(&st->hp);
}

static void
st_init(struct rcv_state *st, struct message *m, enum rcv_mode mode, int fd)
{
	size_t hmax = conf.header_maxsize > 0 ? (size_t)conf.header_maxsize :
		RCV_HEADER_MAX_DEFAULT;

	memset(st, 0, sizeof(*st));
	st->m = m;
	st->mode = mode;
	st->fd = fd;
	st->first_line = true;
	st->wbuf = arena_alloc(arena_msg, RCV_WBUF_SIZE);
	rcv_hdr_init(&st->hp, arena_msg, hmax);
	rcv_hdr_limits(&st->hp, conf.header_line_maxsize > 0 ?
		(size_t)conf.header_line_maxsize : 0, conf.header_count_max > 0 ?
		(size_t)conf.header_count_max : 0);
	buf_init(&st->line, arena_msg, hmax + 2);
}

/*
 * " id=value" (msg_id): the Message-ID without its brackets; " id*=" when
 * Tern made the header itself, which only msg_id_created logs, as Exim.
 */
static const char *
rcv_msgid_for_log(const struct message *m)
{
	if (!LOG_SEL(msg_id) || (m->msgid_created && !LOG_SEL(msg_id_created)))
		return "";
	for (const struct header *h = m->headers; h != NULL; h = h->next) {
		char *v, *e;

		if (h->type != HDR_MSGID)
			continue;
		v = rcv_header_value(arena_msg, h);
		v += strspn(v, " \t\n<");
		e = v + strcspn(v, ">\n");
		return arena_printf(arena_msg, " id%s=%s",
			m->msgid_created ? "*" : "",
			str_printable(arena_msg, v, (size_t)(e - v)));
	}
	return "";
}

/*
 * " T=\"...\"" (subject): as Exim, the first 100 bytes of the Subject:
 * value with leading and trailing white space removed, '"' and '\'
 * escaped with a backslash, control characters (the newlines of a
 * folded header too) as escapes.  Tern does no RFC 2047 decoding: MIME
 * words are shown as they came.
 */
static const char *
rcv_subject_for_log(const struct message *m)
{
	for (const struct header *h = m->headers; h != NULL; h = h->next) {
		const char *v;
		char *out, *o;
		size_t n;

		if (h->type == HDR_DELETED || !rcv_header_is(h->text,
		    "Subject"))
			continue;
		v = rcv_header_value(arena_msg, h);
		n = strlen(v);
		while (n > 0 && strchr(" \t\r\n", v[n - 1]) != NULL)
			n--;
		/* str_printable escapes '\\' and controls; '"' is ours */
		v = str_printable(arena_msg, v, n > 100 ? 100 : n);
		o = out = arena_alloc(arena_msg, 2 * strlen(v) + 6);
		o = stpcpy(o, " T=\"");
		for (; *v != '\0'; v++) {
			if (*v == '"')
				*o++ = '\\';
			*o++ = *v;
		}
		memcpy(o, "\"", 2);
		return out;
	}
	return "";
}

/*
 * " RI=id": the id the previous host gave the message, from the "id"
 * clause of the topmost Received: header below our own (Tern and Exim
 * both write "id ID" there), so that a message can be followed across
 * hosts (tern-stats --trace).  Comments in parentheses are skipped.
 */
static const struct header *rcv_own_received; /* NULL: none added */

static const char *
rcv_upstream_id_for_log(const struct message *m)
{
	const struct header *h = NULL;
	const char *p;
	int depth = 0;

	if (m->host_address == NULL)
		return "";
	for (const struct header *x = m->headers; x != NULL; x = x->next) {
		if (x->type != HDR_RECEIVED || x == rcv_own_received)
			continue;
		h = x;
		break;
	}
	if (h == NULL)
		return "";
	p = rcv_header_value(arena_msg, h);
	while (*p != '\0' && *p != ';') {
		const char *w, *e;

		if (*p == '(') {
			depth++;
			p++;
			continue;
		}
		if (*p == ')') {
			if (depth > 0)
				depth--;
			p++;
			continue;
		}
		if (strchr(" \t\r\n", *p) != NULL || depth > 0) {
			p++;
			continue;
		}
		w = p;
		p += strcspn(p, " \t\r\n();");
		if (p - w != 2 || strncasecmp(w, "id", 2) != 0)
			continue;
		p += strspn(p, " \t\r\n");
		e = p + strcspn(p, " \t\r\n();");
		if (e == p || e - p > 255)
			return "";
		if (*p == '<' && e[-1] == '>' && e - p > 2) {
			p++;
			e--;
		}
		return arena_printf(arena_msg, " RI=%s",
			str_printable(arena_msg, p, (size_t)(e - p)));
	}
	return "";
}

/*
 * " X=cipher CV=yes DN=\"...\" SNI=name" (tls_cipher,
 * tls_certificate_verified, tls_peerdn, tls_sni) and " A=authenticator:id",
 * as far as they apply, in Exim's order.
 */
static const char *
rcv_tls_auth_for_log(const struct message *m)
{
	const char *a = "";

	if (m->authenticator != NULL)
		a = arena_printf(arena_msg, " A=%s%s%s", m->authenticator,
			m->authenticated_id != NULL ? ":" : "",
			m->authenticated_id != NULL ? m->authenticated_id : "");
	return arena_printf(arena_msg, "%s%s", log_tls_fields(arena_msg,
		m->tls_cipher, m->tls_verified, m->tls_peerdn, m->tls_sni), a);
}

/*
 * Who sent m, as the log shows it: H=name (helo) [ip]:port (the port
 * with incoming_port) and I=[ip]:port (incoming_interface), or U=login;
 * then Ci=pid (connection_id).
 */
static const char *
rcv_who(const struct message *m)
{
	if (m->host_address == NULL)
		return arena_printf(arena_msg, "U=%s%s", m->ident != NULL ?
			m->ident : "unknown", log_conn_id(arena_msg));
	return arena_printf(arena_msg, "H=%s%s", log_client(arena_msg,
		m->host_name, m->helo_name, m->host_address, m->host_port,
		m->interface_address, m->interface_port),
		log_conn_id(arena_msg));
}

/* " L" (pipelining): PIPELINING offered, "-" added when not used. */
static const char *
rcv_pipelining_for_log(const struct message *m)
{
	if (!LOG_SEL(pipelining) || m->pipelining < 0)
		return "";
	return m->pipelining > 0 ? " L" : " L-";
}

/* " from <sender>" (received_sender), " for r1 r2" (received_recipients) */
static const char *
rcv_envelope_for_log(const struct message *m)
{
	bool from = LOG_SEL(received_sender);
	bool rcpts = LOG_SEL(received_recipients);
	size_t len = strlen(m->sender) + 16;
	char *out, *o;

	if (!from && !rcpts)
		return "";
	for (size_t i = 0; rcpts && i < m->nrcpts; i++)
		len += strlen(m->rcpts[i].address) + 1;
	o = out = arena_alloc(arena_msg, len);
	*o = '\0';
	if (from) {
		o = stpcpy(o, " from <");
		o = stpcpy(o, m->sender);
		o = stpcpy(o, ">");
	}
	if (rcpts) {
		o = stpcpy(o, " for");
		for (size_t i = 0; i < m->nrcpts; i++) {
			*o++ = ' ';
			o = stpcpy(o, m->rcpts[i].address);
		}
	}
	return out;
}

/*
 * The <= line, its fields in Exim's order (docs/log.md), Tern's RI=
 * before the free text of T=.  Each optional one costs nothing when its
 * selector is off.
 */
static void
rcv_log_arrival(const struct message *m)
{
	const char *text, *m8s = "", *rtime = "";

	if (LOG_SEL(8bitmime))
		m8s = arena_printf(arena_msg, " M8S=%d", m->body_8bitmime);
	if (LOG_SEL(receive_time))
		rtime = arena_printf(arena_msg, " RT=%s",
			log_duration(m->receive_ms));
	text = arena_printf(arena_msg, "<= %s %s P=%s%s%s S=%llu%s%s%s%s%s%s",
		*m->sender != '\0' ? m->sender : "<>", rcv_who(m),
		m->received_protocol, rcv_pipelining_for_log(m),
		rcv_tls_auth_for_log(m), (unsigned long long)m->size,
		m8s, rtime,
		rcv_msgid_for_log(m), rcv_upstream_id_for_log(m),
		LOG_SEL(subject) ? rcv_subject_for_log(m) : "",
		rcv_envelope_for_log(m));
	log_write(TERN_LOG_MAIN, m->id, "%s", text);
	spool_msglog(m->id, "%s", text);
}

const char *
receive_log_tail(const struct message *m)
{
	return arena_printf(arena_msg, "%s%s%s%s", LOG_SEL(8bitmime) ?
		arena_printf(arena_msg, " M8S=%d", m->body_8bitmime) : "",
		rcv_msgid_for_log(m), LOG_SEL(subject) ?
		rcv_subject_for_log(m) : "", rcv_envelope_for_log(m));
}

/*
 * The spool failed under a message being received (Exim's "Message
 * abandoned"): what failed -- with the file's name -- and whose message
 * it was, for an admin looking at a full disk.
 */
static void
rcv_log_abandoned(const struct message *m, const char *why)
{
	log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, m->id,
		"Message abandoned: %s; receiving from %s F=<%s>",
		why != NULL ? why : "spool failure", rcv_who(m),
		m->sender != NULL ? m->sender : "");
}

static bool
rcpt_listed(const struct recipient *r, size_t n, const char *addr)
{
	for (size_t i = 0; i < n; i++)
		if (str_casecmp(r[i].address, addr) == 0)
			return true;
	return false;
}

/* Add the addresses of one To:/Cc:/Bcc: header to the new list. */
static void
extract_header(struct message *m, const struct header *h,
	struct recipient **list, size_t *n, size_t *cap)
{
	char **addrs, *err = NULL;

	if (address_list_extract(arena_msg, rcv_header_value(arena_msg, h),
	    &addrs, &err) != 0) {
		log_write(TERN_LOG_MAIN, m->id, "-t: bad address in %.*s: %s",
			(int)strcspn(h->text, ":"), h->text, err);
		return;
	}
	for (; *addrs != NULL; addrs++) {
		const char *a = *addrs;

		if (strchr(a, '@') == NULL)
			a = address_qualify(arena_msg, a, conf.qualify_recipient);
		/* sendmail -t: command-line addresses are taken away */
		if (rcpt_listed(m->rcpts, m->nrcpts, a) ||
		    rcpt_listed(*list, *n, a))
			continue;
		if (*n == *cap) {
			struct recipient *bigger;

			*cap = *cap ? *cap * 2 : 16;
			bigger = arena_zalloc(arena_msg, *cap * sizeof(*bigger));
			if (*n > 0)
				memcpy(bigger, *list, *n * sizeof(*bigger));
			*list = bigger;
		}
		(*list)[*n] = (struct recipient){ .address = a };
		(*n)++;
	}
}

/* -t: the recipients come from the headers; Bcc: is then removed. */
static void
rcv_extract(struct message *m)
{
	struct recipient *list = NULL;
	size_t n = 0, cap = 0;

	for (struct header *h = m->headers; h != NULL; h = h->next) {
		if (h->type != HDR_TO && h->type != HDR_CC && h->type != HDR_BCC)
			continue;
		extract_header(m, h, &list, &n, &cap);
		if (h->type == HDR_BCC)
			h->type = HDR_DELETED;
	}
	m->rcpts = list;
	m->nrcpts = n;
}

static bool
has_header(const struct message *m, char type, const char *name)
{
	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if ((type != '\0' && h->type == type) || (name != NULL && h->type != HDR_DELETED &&
		    rcv_header_is(h->text, name)))
			return true;
	return false;
}

static void
append_header(struct message *m, char type, char *text)
{
	struct header **tail = &m->headers, *h;

	while (*tail != NULL)
		tail = &(*tail)->next;
	h = arena_zalloc(arena_msg, sizeof(*h));
	h->text = text;
	h->len = strlen(text);
	h->type = type;
	*tail = h;
}

/*
 * message_id_header_domain or message_id_header_text, expanded for m:
 * NULL when unset, forced to fail, empty, or failed (a paniclog line, as
 * in Exim); otherwise the result with each character that may not stand
 * there made a hyphen (is_domain: all but letters, digits and dots;
 * else controls, non-ASCII, space and RFC 5322 specials).
 */
static const char *
msgid_part(struct message *m, const char *opt, const char *name,
	bool is_domain)
{
	struct tern_ctx ctx = { .msg = m, .arena = arena_msg };
	char *out = NULL, *err = NULL;
	int rc;

	if (opt == NULL)
		return NULL;
	rc = expand_string(&ctx, arena_msg, opt, &out, &err);
	if (rc != TERN_OK) {
		if (rc != TERN_FAIL) /* not a forced failure */
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, m->id,
				"expansion of \"%s\" (%s) failed: %s", opt,
				name, err != NULL ? err : "lookup deferred");
		return NULL;
	}
	for (char *p = out; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		bool ok = is_domain ? isalnum(c) || c == '.' :
			c > ' ' && c < 127 && strchr("()<>@,;:\\\".[]", c) ==
			NULL;

		if (!ok)
			*p = '-';
	}
	return *out != '\0' ? out : NULL;
}

/* Local submissions get the headers a user agent may have left out. */
static void
rcv_local_headers(struct message *m)
{
	if (!has_header(m, HDR_MSGID, NULL)) {
		const char *text = msgid_part(m, conf.message_id_header_text,
			"message_id_header_text", false);
		const char *dom = msgid_part(m, conf.message_id_header_domain,
			"message_id_header_domain", true);

		append_header(m, HDR_MSGID, arena_printf(arena_msg,
			"Message-Id: <%s%s%s@%s>\n", m->id, text != NULL ? "." :
			"", text != NULL ? text : "", dom != NULL ? dom :
			conf.qualify_domain));
		m->msgid_created = true;
	}
	if (!has_header(m, HDR_FROM, NULL))
		append_header(m, HDR_FROM, local_from_header(m->ident != NULL ?
			m->ident : rt.caller_login, m->full_name));
	if (!has_header(m, '\0', "Date"))
		append_header(m, HDR_NORMAL, arena_printf(arena_msg,
			"Date: %s\n", rcv_rfc5322_date(arena_msg, m->received)));
}

static int
count_received(const struct message *m)
{
	int n = 0;

	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED && rcv_header_is(h->text, "Received"))
			n++;
	return n;
}

/*
 * After the data: what makes a message unacceptable whatever the spool
 * does -- its size, its header section, its recipients (-t: extracted
 * into m).
 */
static enum rcv_result
rcv_validate(struct message *m, struct rcv_state *st, bool extract,
	char **err_out)
{
	/* Refused or not, the header section read (rejected_header). */
	m->headers = st->hp.head;
	if (st->too_big)
		return RCV_TOO_BIG;
	if (st->hp.limit_error != NULL) {
		*err_out = (char *)st->hp.limit_error;
		return RCV_BAD;
	}
	if (count_received(m) + 1 > conf.received_headers_max &&
	    conf.received_headers_max > 0) {
		*err_out = "too many Received headers - suspected mail loop";
		return RCV_BAD;
	}
	if (extract)
		rcv_extract(m);
	return m->nrcpts == 0 ? RCV_NO_RECIPIENTS : RCV_OK;
}

/* After the data: check it, complete the headers, commit.  fd is consumed. */
static enum rcv_result
rcv_complete(struct message *m, struct rcv_state *st, bool extract,
	char **err_out)
{
	char *err = NULL;
	enum rcv_result verdict;

	if (st->write_errno != 0 && !st->too_big) {
		receive_errno = st->write_errno;
		rcv_log_abandoned(m, arena_printf(arena_msg,
			"spool: write %s: %s", spool_file_path(m->id, st->fd),
			strerror(st->write_errno)));
		spool_data_abort(m, st->fd);
		return RCV_TEMP;
	}
	if ((verdict = rcv_validate(m, st, extract, err_out)) != RCV_OK) {
		spool_data_abort(m, st->fd);
		return verdict;
	}
	if (m->local)
		rcv_local_headers(m);
	rewrite_message(m); /* after -t took the recipients, as in Exim */
	{
		struct header *r = rcv_received_header(m);

		rcv_own_received = r;
		if (r != NULL) { /* received_header_text may make none */
			r->next = m->headers;
			m->headers = r;
		}
	}
	m->size = st->body_bytes;
	for (const struct header *h = m->headers; h != NULL; h = h->next)
		m->size += h->len;
	m->body_linecount = st->body_lines;
	if (spool_commit(m, st->fd, st->wbuf, st->wlen, &err) != 0) {
		/* the clean-up after the failure may have changed errno */
		receive_errno = err != NULL && (strstr(err, strerror(ENOSPC)) ||
			strstr(err, strerror(EDQUOT))) ? ENOSPC : errno;
		rcv_log_abandoned(m, err);
		spool_data_close(m, st->fd);
		return RCV_TEMP;
	}
	rcv_log_arrival(m); /* its message log line goes through st->fd */
	/* One this process may deliver itself stays where it was written. */
	if (receive_may_hold())
		spool_data_park(m, st->fd);
	else
		spool_data_close(m, st->fd);
	return RCV_OK;
}

static void
rcv_discard(void *arg, const char *p, size_t n)
{
	(void)arg, (void)p, (void)n;
}

enum rcv_result
receive_check(struct message *m, struct rcv_source *src, enum rcv_mode mode,
	bool extract, char **err_out)
{
	struct rcv_state st;

	*err_out = NULL;
	st_init(&st, m, mode, -1);
	if (rcv_decode(src, mode, rcv_sink, &st) == RCV_DEC_ERR) {
		*err_out = arena_printf(arena_msg, "reading the message: %m");
		return RCV_TEMP;
	}
	st_finish(&st);
	return rcv_validate(m, &st, extract, err_out);
}

enum rcv_result
receive_message(struct message *m, struct rcv_source *src,
	enum rcv_mode mode, bool extract, char **err_out)
{
	struct rcv_state st;
	enum rcv_dec_result dr;
	char *err = NULL;
	long long t0 = 0;
	int fd;

	*err_out = NULL;
	receive_errno = 0;
	spool_new_id(m->id);
	m->received = time(NULL);
	if (m->received_protocol == NULL)
		m->received_protocol = m->local ? "local" : "esmtp";
	fd = spool_data_create(m, &err);
	if (fd < 0) {
		receive_errno = errno;
		rcv_log_abandoned(m, err);
		/* Read the data anyway, so an SMTP client stays in step. */
		dr = rcv_decode(src, mode, rcv_discard, NULL);
		return dr == RCV_DEC_ERR ||
		    (dr == RCV_DEC_EOF && mode == RCV_SMTP) ? RCV_EOF : RCV_TEMP;
	}
	st_init(&st, m, mode, fd);
	/* receive_time: from here to the end of the data, as Exim's RT=; the
	 * clock is read only when the selector asks for it. */
	if (LOG_SEL(receive_time))
		t0 = log_clock_ms();
	dr = rcv_decode(src, mode, rcv_sink, &st);
	if (LOG_SEL(receive_time))
		m->receive_ms = log_clock_ms() - t0;
	if (dr == RCV_DEC_ERR || (dr == RCV_DEC_EOF && mode == RCV_SMTP)) {
		if (dr == RCV_DEC_ERR && errno == ETIMEDOUT)
			*err_out = "SMTP incoming data timeout";
		spool_data_abort(m, fd);
		return mode == RCV_SMTP ? RCV_EOF : RCV_TEMP;
	}
	st_finish(&st);
	return rcv_complete(m, &st, extract, err_out);
}
