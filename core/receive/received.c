/* The Received: header we prepend, and the date format it uses. */
#include "receive/rcv_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config/config.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "spool/spool.h"

#ifndef TERN_VERSION
#define TERN_VERSION "0"
#endif

size_t
rcv_rfc5322_date_buf(char *buf, size_t size, time_t t)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;
	long off;
	char sign = '+';
	int n;

	localtime_r(&t, &tm);
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	/* Not strftime: %a and %b follow the locale, RFC 5322 wants English. */
	n = snprintf(buf, size, "%s, %02d %s %d %02d:%02d:%02d %c%02ld%02ld",
		days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
		tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign,
		off / 60, off % 60);
	return n < 0 ? 0 : (size_t)n;
}

char *
rcv_rfc5322_date(struct arena *a, time_t t)
{
	char buf[RCV_DATE_MAX];

	rcv_rfc5322_date_buf(buf, sizeof(buf), t);
	return arena_strdup(a, buf);
}

/* "from helo ([ip]:port helo=helo)" or "from login" for local input. */
static const char *
received_from(const struct message *m)
{
	const char *name, *helo;

	if (m->host_address == NULL)
		return arena_printf(arena_msg, "from %s",
			m->ident != NULL ? m->ident : "unknown");
	name = m->host_name != NULL ? m->host_name : m->helo_name;
	helo = m->helo_name != NULL ?
		arena_printf(arena_msg, " helo=%s", m->helo_name) : "";
	if (name == NULL)
		return arena_printf(arena_msg, "from [%s]:%d",
			m->host_address, m->host_port);
	return arena_printf(arena_msg, "from %s ([%s]:%d%s)", name,
		m->host_address, m->host_port, helo);
}

/* "\n\t(authenticated as ID)" when the client authenticated with an id. */
static const char *
received_auth(const struct message *m)
{
	if (m->authenticated_id == NULL || *m->authenticated_id == '\0')
		return "";
	return arena_printf(arena_msg, "\n\t(authenticated as %s)",
		m->authenticated_id);
}

/*
 * received_header_text, expanded as Exim does: the header but for its
 * date, which is added after "; ".  Lines after the first are folded
 * (a newline not followed by white space gets a tab), trailing white
 * space dropped.  NULL: none to add (an empty expansion, as in Exim).
 * A failed expansion, or one that is not a Received: header, is written
 * to the paniclog and the built-in header is used (*is_bad_out): Exim
 * drops the message instead, and a mistake in the configuration should
 * not stop the mail.
 */
static const char *
received_expanded(struct message *m, bool *is_bad_out)
{
	struct tern_ctx ctx = { .msg = m, .arena = arena_msg };
	char *out = NULL, *err = NULL;
	struct buf b;
	size_t n;

	*is_bad_out = false;
	if (m->nrcpts == 1)
		ctx.received_for = m->rcpts[0].address;
	if (expand_string(&ctx, arena_msg, conf.received_header_text, &out,
	    &err) != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, m->id, "expansion of "
			"received_header_text failed: %s (the built-in Received: "
			"header is used)", err != NULL ? err : "forced failure");
		*is_bad_out = true;
		return NULL;
	}
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' ||
	    out[n - 1] == '\t' || out[n - 1] == '\r'))
		n--;
	if (n == 0)
		return NULL;
	if (strncasecmp(out, "Received:", 9) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, m->id,
			"received_header_text does not start with \"Received:\" "
			"(the built-in Received: header is used)");
		*is_bad_out = true;
		return NULL;
	}
	buf_init(&b, arena_msg, 0);
	for (size_t i = 0; i < n; i++) {
		bool ok = out[i] == '\r' || buf_addc(&b, out[i]);

		if (ok && out[i] == '\n' && out[i + 1] != ' ' && out[i + 1] != '\t')
			ok = buf_addc(&b, '\t');
		if (!ok)
			tern_panic("received_header_text: out of memory");
	}
	return b.p;
}

struct header *
rcv_received_header(struct message *m)
{
	struct header *h;
	const char *text;
	bool is_bad;

	if (conf.received_header_text != NULL) {
		text = received_expanded(m, &is_bad);
		if (text == NULL && !is_bad)
			return NULL;
		if (text != NULL) {
			h = arena_zalloc(arena_msg, sizeof(*h));
			h->text = arena_printf(arena_msg, "%s;\n\t%s\n", text,
				rcv_rfc5322_date(arena_msg, m->received));
			h->len = strlen(h->text);
			h->type = HDR_RECEIVED;
			return h;
		}
	}
	h = arena_zalloc(arena_msg, sizeof(*h));
	const char *proto = m->received_protocol;
	const char *rcpt_for = "";

	if (proto == NULL)
		proto = m->local ? "local" : "esmtp";
	if (m->nrcpts == 1)
		rcpt_for = arena_printf(arena_msg, "\n\tfor <%s>",
			m->rcpts[0].address);
	h->text = arena_printf(arena_msg,
		"Received: %s\n\tby %s with %s%s (Tern %s)%s\n"
		"\t(envelope-from <%s>)\n\tid %s%s;\n\t%s\n",
		received_from(m), conf.primary_hostname, proto,
		m->tls_cipher != NULL ? arena_printf(arena_msg, " (%s)",
		m->tls_cipher) : "", TERN_VERSION, received_auth(m),
		m->sender != NULL ? m->sender : "", m->id, rcpt_for,
		rcv_rfc5322_date(arena_msg, m->received));
	h->len = strlen(h->text);
	h->type = HDR_RECEIVED;
	return h;
}
