/*
 * Writing a spooled message to a file descriptor for a transport: added
 * headers, the header lines, the body read from -D with pread, with the
 * line-level changes mbox and SMTP need.  Bodies of any size go through
 * one 64 KiB output buffer and one 64 KiB input buffer.
 */
#include "deliver/deliver_int.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <tern/rc.h>

#include "address/address.h"
#include "config/config.h"
#include "config/lists.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/io.h"
#include "rewrite/rewrite.h"
#include "spool/spool.h"

#define CHUNK (64u * 1024)

struct wout {
	int      fd;
	char    *buf;
	size_t   len;
	uint64_t total;
	unsigned flags;
	bool     at_bol;    /* at the start of a line of the source */
	int      nl_run;    /* newlines at the end of what was written */
	int      err;       /* errno of the first write error */
};

static void
w_flush(struct wout *w)
{
	if (w->err == 0 && w->len > 0 && io_write_all(w->fd, w->buf, w->len) != 0)
		w->err = errno;
	w->len = 0;
}

static void
w_raw(struct wout *w, const char *p, size_t n)
{
	while (n > 0 && w->err == 0) {
		size_t room = CHUNK - w->len, k = n < room ? n : room;

		memcpy(w->buf + w->len, p, k);
		w->len += k;
		w->total += k;
		p += k;
		n -= k;
		if (w->len == CHUNK)
			w_flush(w);
	}
}

static void
w_newline(struct wout *w)
{
	if (w->flags & TERN_WR_CRLF)
		w_raw(w, "\r\n", 2);
	else
		w_raw(w, "\n", 1);
	w->nl_run++;
}

/*
 * Copy lines from p[0..n), LF-terminated, applying dot-stuffing and (for
 * the body) "From " escaping at line starts.  Returns how much was used:
 * less than n only when, not at eof, the tail could still become "From ".
 */
static size_t
w_lines(struct wout *w, const char *p, size_t n, bool eof, bool is_body)
{
	bool escape = is_body && (w->flags & TERN_WR_ESCAPE_FROM);
	size_t i = 0;

	while (i < n) {
		const char *nl;
		size_t end;

		if (w->at_bol) {
			size_t rest = n - i;

			if (escape && rest < 5 && !eof &&
			    memcmp(p + i, "From ", rest) == 0)
				return i;
			if (escape && rest >= 5 && memcmp(p + i, "From ", 5) == 0)
				w_raw(w, ">", 1);
			if ((w->flags & TERN_WR_DOTSTUFF) && p[i] == '.')
				w_raw(w, ".", 1);
			w->at_bol = false;
		}
		nl = memchr(p + i, '\n', n - i);
		end = nl != NULL ? (size_t)(nl - p) : n;
		if (end > i) {
			w_raw(w, p + i, end - i);
			w->nl_run = 0;
		}
		if (nl == NULL)
			break;
		w_newline(w);
		w->at_bol = true;
		i = end + 1;
	}
	return n;
}

static void
w_line(struct wout *w, const char *s)
{
	w_lines(w, s, strlen(s), true, false);
}

static void
fmt_time(char *out, size_t size, bool is_mbox)
{
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	if (is_mbox)
		strftime(out, size, "%a %b %e %H:%M:%S %Y", &tm);
	else
		strftime(out, size, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

static const char *
top_address(const struct tern_address *a)
{
	while (a->parent != NULL)
		a = a->parent;
	return a->address;
}

/* Envelope-to: the original addresses of the batch, each once. */
static void
w_envelope_to(struct wout *w, const struct tern_address *batch)
{
	struct arena_mark mk = arena_mark(arena_scratch);
	const char *line = "Envelope-to: ";
	const char *sep = "";

	for (const struct tern_address *b = batch; b != NULL; b = b->next) {
		const char *t = top_address(b);
		bool seen = false;

		for (const struct tern_address *o = batch; o != b; o = o->next)
			seen = seen || strcmp(top_address(o), t) == 0;
		if (seen)
			continue;
		line = arena_printf(arena_scratch, "%s%s%s", line, sep, t);
		sep = ", ";
	}
	w_line(w, arena_printf(arena_scratch, "%s\n", line));
	arena_release(arena_scratch, mk);
}

static void
w_prefix(struct wout *w, const struct message *m,
	const struct tern_address *batch, const struct hdr_changes *hc)
{
	const char *sender = hc != NULL && hc->return_path != NULL ?
		hc->return_path : m->sender != NULL ? m->sender : "";
	char tbuf[64];

	if (w->flags & TERN_WR_MBOX_FROM) {
		fmt_time(tbuf, sizeof(tbuf), true);
		w_line(w, arena_printf(arena_scratch, "From %s %s\n",
			sender[0] != '\0' ? sender : "MAILER-DAEMON", tbuf));
	}
	if (w->flags & TERN_WR_BODY_ONLY)
		return;
	if (w->flags & TERN_WR_RETURN_PATH)
		w_line(w, arena_printf(arena_scratch, "Return-path: <%s>\n",
			sender));
	if ((w->flags & TERN_WR_ENVELOPE_TO) && batch != NULL)
		w_envelope_to(w, batch);
	if (w->flags & TERN_WR_DELIVERY_DATE) {
		fmt_time(tbuf, sizeof(tbuf), false);
		w_line(w, arena_printf(arena_scratch, "Delivery-date: %s\n", tbuf));
	}
}

/*
 * The body from m->data_fd, body_offset to body_end (or the end of the
 * file).  0, or -1 (errno) on read.
 */
static int
w_body(struct wout *w, const struct message *m, char *in)
{
	off_t off = m->body_offset;
	size_t have = 0;
	bool eof = false;

	while (w->err == 0) {
		size_t used;

		if (!eof) {
			size_t want = CHUNK;
			ssize_t n;

			if (m->body_end > 0 && (off_t)want > m->body_end - off)
				want = m->body_end > off ?
					(size_t)(m->body_end - off) : 0;
			n = want > 0 ? pread(m->data_fd, in + have, want, off)
				: 0;
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -1;
			eof = n == 0;
			have += (size_t)n;
			off += n;
		}
		used = w_lines(w, in, have, eof, true);
		memmove(in, in + used, have - used);
		have -= used;
		if (eof && have == 0)
			break;
	}
	return 0;
}

static void
w_finish(struct wout *w)
{
	bool need_nl = (w->flags & (TERN_WR_CRLF | TERN_WR_DOTSTUFF |
		TERN_WR_BLANK_END)) != 0;

	if (need_nl && w->nl_run == 0)
		w_newline(w);
	if ((w->flags & TERN_WR_BLANK_END) && w->nl_run < 2)
		w_newline(w);
	w_flush(w);
}

/* Does the header line h (its name) match one of the names to remove? */
static bool
hdr_is_removed(const struct header *h, const char *const *remove)
{
	const char *colon = memchr(h->text, ':', h->len);
	size_t n;

	if (remove == NULL || colon == NULL)
		return false;
	n = (size_t)(colon - h->text);
	while (n > 0 && (h->text[n - 1] == ' ' || h->text[n - 1] == '\t'))
		n--;
	for (; *remove != NULL; remove++) {
		size_t k = strlen(*remove);
		bool is_prefix = k > 0 && (*remove)[k - 1] == '*';

		if (is_prefix)
			k--;
		if ((is_prefix ? n >= k : n == k) &&
		    strncasecmp(h->text, *remove, k) == 0)
			return true;
	}
	return false;
}

/* One header, as headers_rewrite (hc, may be NULL) has it. */
static void
w_header(struct wout *w, const struct header *h, const struct hdr_changes *hc)
{
	for (size_t i = 0; hc != NULL && i < hc->nrw; i++)
		if (hc->rw_of[i] == h) {
			w_lines(w, hc->rw_text[i], strlen(hc->rw_text[i]), true,
				false);
			return;
		}
	w_lines(w, h->text, h->len, true, false);
}

int
deliver_write_message(const struct message *m, int fd, unsigned flags,
	const struct tern_address *batch, uint64_t *bytes_out, char **err_out)
{
	return deliver_write_message_hc(m, fd, flags, batch, NULL, bytes_out,
		err_out);
}

int
deliver_write_message_hc(const struct message *m, int fd, unsigned flags,
	const struct tern_address *batch, const struct hdr_changes *hc,
	uint64_t *bytes_out, char **err_out)
{
	struct arena_mark mk = arena_mark(arena_scratch);
	struct wout w = { .fd = fd, .flags = flags, .at_bol = true };
	char *in = arena_alloc(arena_scratch, CHUNK + 8);
	int rc = TERN_OK;

	w.buf = arena_alloc(arena_scratch, CHUNK);
	w_prefix(&w, m, batch, hc);
	if (!(flags & TERN_WR_BODY_ONLY)) {
		for (const struct header *h = m->headers; h != NULL; h = h->next)
			if (h->type != HDR_DELETED &&
			    !hdr_is_removed(h, hc != NULL ? hc->remove : NULL))
				w_header(&w, h, hc);
		if (hc != NULL && hc->add != NULL)
			w_line(&w, hc->add);
		w_newline(&w);
		w.at_bol = true;
	}
	if (!(flags & TERN_WR_HEADERS_ONLY) && m->data_fd >= 0 &&
	    w_body(&w, m, in) != 0) {
		int e = errno;

		*err_out = arena_printf(arena_msg,
			"read error on spool data file of %s: %m", m->id);
		errno = e;
		rc = TERN_DEFER;
	}
	if (rc == TERN_OK)
		w_finish(&w);
	if (rc == TERN_OK && w.err != 0) {
		errno = w.err;
		*err_out = arena_printf(arena_msg, "write error: %m");
		rc = TERN_DEFER;
	}
	if (bytes_out != NULL)
		*bytes_out = w.total;
	arena_release(arena_scratch, mk);
	return rc;
}

unsigned
transport_write_flags(const struct tern_ctx *ctx, unsigned flags)
{
	const struct transport_generic *g;

	if (ctx == NULL || ctx->inst == NULL ||
	    ctx->inst->kind != TERN_KIND_TRANSPORT)
		return flags;
	g = &ctx->inst->g.transport;
	return flags | (g->return_path_add ? TERN_WR_RETURN_PATH : 0) |
		(g->delivery_date_add ? TERN_WR_DELIVERY_DATE : 0) |
		(g->envelope_to_add ? TERN_WR_ENVELOPE_TO : 0) |
		(g->body_only ? TERN_WR_BODY_ONLY : 0) |
		(g->headers_only ? TERN_WR_HEADERS_ONLY : 0);
}

/* -------- headers_add and headers_remove -------- */

/* A short printable copy of a bad line for an error message. */
static const char *
bad_line(struct arena *a, const char *p, size_t n)
{
	return arena_printf(a, "\"%s%s\"", str_printable(a, p, n < 60 ? n : 60),
		n > 60 ? "..." : "");
}

/* One line (without its LF) of headers_add: 0, or -1 with *err_out. */
static int
hdr_line_check(struct arena *a, const char *p, size_t n, bool has_header,
	char **err_out)
{
	const char *colon = memchr(p, ':', n);

	for (size_t i = 0; i < n; i++)
		if (((unsigned char)p[i] < 32 && p[i] != '\t') || p[i] == 127) {
			*err_out = arena_printf(a, "headers_add: control character "
				"in %s", bad_line(a, p, n));
			return -1;
		}
	if (p[0] == ' ' || p[0] == '\t') {
		if (has_header)
			return 0;
		*err_out = arena_printf(a, "headers_add: continuation line %s "
			"follows no header", bad_line(a, p, n));
		return -1;
	}
	if (colon == NULL) {
		*err_out = arena_printf(a, "headers_add: %s is not a header line "
			"(no colon)", bad_line(a, p, n));
		return -1;
	}
	if (colon == p) {
		*err_out = arena_printf(a, "headers_add: empty header name in %s",
			bad_line(a, p, n));
		return -1;
	}
	for (const char *q = p; q < colon; q++)
		if ((unsigned char)*q <= 32 || (unsigned char)*q >= 127) {
			*err_out = arena_printf(a, "headers_add: bad header name in %s",
				bad_line(a, p, n));
			return -1;
		}
	return 0;
}

int
hdr_changes_parse(struct arena *a, const char *add, const char *remove,
	struct hdr_changes *out, char **err_out)
{
	struct buf b;
	bool has_header = false;
	size_t count = 0;

	*out = (struct hdr_changes){ .add = "" };
	buf_init(&b, a, 0);
	for (const char *p = add; p != NULL && *p != '\0';) {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
		size_t blank = 0;

		if (n > 0 && p[n - 1] == '\r')
			n--;
		while (blank < n && (p[blank] == ' ' || p[blank] == '\t'))
			blank++;
		if (blank < n) { /* blank lines are left out */
			if (hdr_line_check(a, p, n, has_header, err_out) != 0)
				return TERN_DEFER;
			has_header = true;
			if (!buf_add(&b, p, n) || !buf_addc(&b, '\n')) {
				*err_out = arena_strdup(a, "headers_add: too long");
				return TERN_DEFER;
			}
		}
		p = nl != NULL ? nl + 1 : p + strlen(p);
	}
	out->add = b.len > 0 ? b.p : "";
	if (remove != NULL) {
		const char *list = remove, *item;
		char sep = '\0';

		while (list_next(&list, &sep) != NULL)
			count++;
		out->remove = arena_zalloc(a, (count + 1) * sizeof(char *));
		list = remove;
		sep = '\0';
		count = 0;
		while ((item = list_next(&list, &sep)) != NULL) {
			size_t n = strlen(item);

			/* "X-Name:" is the same as "X-Name" */
			while (n > 0 && (item[n - 1] == ':' || item[n - 1] == ' ' ||
			    item[n - 1] == '\t'))
				n--;
			if (n > 0)
				out->remove[count++] = arena_strndup(a, item, n);
		}
	}
	return TERN_OK;
}

/* Expand one option of transport t: OK (*out NULL on forced failure). */
static int
hdr_expand(struct tern_ctx *ctx, const char *name, const char *tmpl,
	char **out, char **err_out)
{
	char *err = NULL;
	int rc = expand_string(ctx, arena_msg, tmpl, out, &err);

	if (rc == TERN_FAIL) {
		*out = NULL;
		return TERN_OK;
	}
	if (rc != TERN_OK)
		*err_out = arena_printf(arena_msg, "failed to expand %s \"%s\" in "
			"%s transport: %s", name, tmpl, ctx->inst->pub.name,
			err != NULL ? err : "unknown error");
	return rc == TERN_OK ? TERN_OK : TERN_DEFER;
}

/*
 * headers_rewrite: the message's headers as the transport's rules make
 * them (those headers_add adds are not rewritten, as in Exim).
 */
static void
hdr_rewrite(struct tern_ctx *ctx, const struct rewrite_rule *rules,
	struct hdr_changes *hc)
{
	size_t n = 0, cap = 0;

	for (const struct header *h = ctx->msg->headers; h != NULL;
	    h = h->next) {
		char *t = rewrite_header_text(ctx->msg, h, rules);

		if (t == NULL)
			continue;
		if (n == cap) {
			const struct header **of;
			const char **text;

			cap = cap ? cap * 2 : 8;
			of = arena_zalloc(arena_msg, cap * sizeof(*of));
			text = arena_zalloc(arena_msg, cap * sizeof(*text));
			if (n > 0) {
				memcpy(of, hc->rw_of, n * sizeof(*of));
				memcpy(text, hc->rw_text, n * sizeof(*text));
			}
			hc->rw_of = of;
			hc->rw_text = text;
		}
		hc->rw_of[n] = h;
		hc->rw_text[n++] = t;
	}
	hc->nrw = n;
}

/*
 * return_path (Exim's): the sender this transport uses, in MAIL FROM
 * and Return-path:.  A forced failure keeps the message's; another
 * error defers.  Empty is the null sender.
 */
static int
return_path(struct tern_ctx *ctx, const char *tmpl, char **err_out)
{
	char *out = NULL, *err = NULL;
	int rc = expand_string(ctx, arena_msg, tmpl, &out, &err);

	if (rc == TERN_FAIL)
		return TERN_OK;
	if (rc != TERN_OK) {
		*err_out = arena_printf(arena_msg, "failed to expand return_path "
			"\"%s\" in %s transport: %s", tmpl, ctx->inst->pub.name,
			err != NULL ? err : "unknown error");
		return TERN_DEFER;
	}
	if (out[0] != '\0' && address_check(out, false) != NULL) {
		*err_out = arena_printf(arena_msg, "return_path \"%s\" in %s "
			"transport: %s", str_printable(arena_msg, out,
			strlen(out)), ctx->inst->pub.name, address_check(out,
			false));
		return TERN_DEFER;
	}
	ctx->return_path = out;
	return TERN_OK;
}

int
transport_hdr_changes(struct tern_ctx *ctx, const struct hdr_changes **out,
	char **err_out)
{
	const struct transport_generic *g;
	struct hdr_changes *hc;
	char *add = NULL, *remove = NULL, *err = NULL;
	int rc;

	*out = NULL;
	if (ctx == NULL || ctx->inst == NULL ||
	    ctx->inst->kind != TERN_KIND_TRANSPORT)
		return TERN_OK;
	if (ctx->hdr_changes != NULL) {
		*out = ctx->hdr_changes;
		return TERN_OK;
	}
	g = &ctx->inst->g.transport;
	if (g->return_path != NULL &&
	    (rc = return_path(ctx, g->return_path, err_out)) != TERN_OK)
		return rc;
	if (g->headers_add == NULL && g->headers_remove == NULL &&
	    g->headers_rules == NULL && ctx->return_path == NULL)
		return TERN_OK;
	if (g->headers_add != NULL &&
	    (rc = hdr_expand(ctx, "headers_add", g->headers_add, &add,
	    err_out)) != TERN_OK)
		return rc;
	if (g->headers_remove != NULL &&
	    (rc = hdr_expand(ctx, "headers_remove", g->headers_remove, &remove,
	    err_out)) != TERN_OK)
		return rc;
	hc = arena_zalloc(arena_msg, sizeof(*hc));
	if (hdr_changes_parse(arena_msg, add, remove, hc, &err) != TERN_OK) {
		*err_out = arena_printf(arena_msg, "%s transport: %s",
			ctx->inst->pub.name, err);
		return TERN_DEFER;
	}
	if (g->headers_rules != NULL)
		hdr_rewrite(ctx, g->headers_rules, hc);
	hc->return_path = ctx->return_path;
	ctx->hdr_changes = hc;
	*out = hc;
	return TERN_OK;
}

int
transport_write_begin(struct tern_ctx *ctx, const struct hdr_changes **out,
	char **err_out)
{
	if (ctx == NULL || ctx->msg == NULL) {
		*err_out = arena_strdup(arena_msg, "no message to write");
		return TERN_ERROR;
	}
	return transport_hdr_changes(ctx, out, err_out);
}

int
transport_write_message(struct tern_ctx *ctx, int fd, unsigned flags,
	const struct tern_address *batch, char **err_out)
{
	const struct hdr_changes *hc;
	int rc;

	if ((rc = transport_write_begin(ctx, &hc, err_out)) != TERN_OK)
		return rc;
	return deliver_write_message_hc(ctx->msg, fd,
		transport_write_flags(ctx, flags), batch, hc, &ctx->written,
		err_out);
}
