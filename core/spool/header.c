/*
 * The header section of ID-M: envelope, delivery state and headers of
 * one message, as text (format in docs/spool.md).  Encoding and strict
 * decoding; every malformation is reported with the file and line.
 */
#include "spool/internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"

bool
spool_field_put(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		bool ok;

		if (c == '\\')
			ok = buf_add(b, "\\\\", 2);
		else if (c < 0x20 || c == 0x7f)
			ok = buf_printf(b, "\\x%02x", c);
		else
			ok = buf_addc(b, (char)c);
		if (!ok)
			return false;
	}
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *
spool_field_get(struct arena *a, const char *s, size_t len)
{
	char *out = arena_alloc(a, len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return NULL;
		if (s[i] != '\\') {
			*o++ = s[i];
			continue;
		}
		if (i + 1 < len && s[i + 1] == '\\') {
			*o++ = '\\';
			i++;
		} else if (i + 3 < len && s[i + 1] == 'x' &&
		    hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			int v = hexval(s[i + 2]) * 16 + hexval(s[i + 3]);

			if (v == 0)
				return NULL;
			*o++ = (char)v;
			i += 3;
		} else {
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

/* "-name value\n" when value is set. */
static bool
put_opt(struct buf *b, const char *name, const char *value)
{
	if (value == NULL)
		return true;
	return buf_printf(b, "-%s ", name) && spool_field_put(b, value) &&
		buf_addc(b, '\n');
}

/* "-name ip.port\n" when ip is set. */
static bool
put_opt_addr(struct buf *b, const char *name, const char *ip, int port)
{
	if (ip == NULL)
		return true;
	return buf_printf(b, "-%s ", name) && spool_field_put(b, ip) &&
		buf_printf(b, ".%d\n", port);
}

static bool
encode_options(struct buf *b, const struct message *m)
{
	bool ok = put_opt_addr(b, "host_address", m->host_address,
			m->host_port) &&
		put_opt(b, "host_name", m->host_name) &&
		put_opt(b, "helo_name", m->helo_name) &&
		put_opt_addr(b, "interface_address", m->interface_address,
			m->interface_port) &&
		put_opt(b, "received_protocol", m->received_protocol) &&
		put_opt(b, "authenticated_id", m->authenticated_id) &&
		put_opt(b, "tls_cipher", m->tls_cipher) &&
		put_opt(b, "tls_peerdn", m->tls_peerdn) &&
		put_opt(b, "errors_to", m->errors_to) &&
		put_opt(b, "boot_id", m->boot_id) &&
		buf_printf(b, "-body_linecount %" PRIu64 "\n",
			m->body_linecount) &&
		(!m->frozen || buf_adds(b, "-frozen\n")) &&
		(!m->local || buf_adds(b, "-local\n")) &&
		(!m->is_bounce || buf_adds(b, "-bounce\n"));

	for (size_t i = 0; ok && i < m->ndelivered; i++)
		ok = put_opt(b, "delivered", m->delivered[i]);
	return ok;
}

static bool
encode_recipients(struct buf *b, const struct message *m)
{
	if (!buf_printf(b, "XX\n%zu\n", m->nrcpts))
		return false;
	for (size_t i = 0; i < m->nrcpts; i++) {
		const struct recipient *r = &m->rcpts[i];

		if (!buf_adds(b, r->done ? "+ " : "- ") ||
		    !spool_field_put(b, r->address))
			return false;
		if (r->orcpt != NULL &&
		    (!buf_addc(b, '\t') || !spool_field_put(b, r->orcpt)))
			return false;
		if (!buf_addc(b, '\n'))
			return false;
	}
	return buf_addc(b, '\n');
}

bool
spool_header_encode(struct buf *b, const struct message *m)
{
	if (!buf_printf(b, "%s-H\n", m->id) ||
	    !spool_field_put(b, m->ident && *m->ident ? m->ident : "-") ||
	    !buf_printf(b, " %lu %lu\n<", (unsigned long)m->uid,
		(unsigned long)m->gid) ||
	    !spool_field_put(b, m->sender ? m->sender : "") ||
	    !buf_printf(b, ">\n%lld %d\n", (long long)m->received,
		m->warning_count) ||
	    !encode_options(b, m) || !encode_recipients(b, m))
		return false;
	for (const struct header *h = m->headers; h != NULL; h = h->next) {
		size_t len = h->len ? h->len : strlen(h->text);

		if (!buf_printf(b, "%03zu%c ", len,
		    h->type ? h->type : HDR_NORMAL) ||
		    !buf_add(b, h->text, len))
			return false;
	}
	return buf_adds(b, SPOOL_HEADER_END "\n");
}

/* ---- decoding ---- */

struct hdr_reader {
	struct arena *a;
	const char   *path;
	const char   *p, *end;
	int           lineno;
	char        **err_out;
	const char   *line;   /* current line, without '\n' */
	size_t        len;
};

static int
bad(struct hdr_reader *r, const char *what)
{
	*r->err_out = arena_printf(r->a, "spool: %s:%d: %s", r->path,
		r->lineno, what);
	return -1;
}

/* Next line into r->line/len; -1 (error set) at end of file. */
static int
next_line(struct hdr_reader *r)
{
	const char *nl;

	r->lineno++;
	if (r->p >= r->end)
		return bad(r, "unexpected end of file");
	nl = memchr(r->p, '\n', (size_t)(r->end - r->p));
	if (nl == NULL)
		return bad(r, "last line has no newline");
	r->line = r->p;
	r->len = (size_t)(nl - r->p);
	r->p = nl + 1;
	return 0;
}

/* Strict unsigned decimal: digits only, no overflow. */
static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 20)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' ||
		    __builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return false;
	}
	*out = v;
	return true;
}

/* "login uid gid", split at the last two spaces. */
static int
decode_submitter(struct hdr_reader *r, struct message *m)
{
	const char *sp2 = memrchr(r->line, ' ', r->len), *sp1;
	uint64_t uid, gid;

	if (sp2 == NULL ||
	    (sp1 = memrchr(r->line, ' ', (size_t)(sp2 - r->line))) == NULL ||
	    !parse_u64(sp1 + 1, (size_t)(sp2 - sp1 - 1), &uid) ||
	    !parse_u64(sp2 + 1, r->len - (size_t)(sp2 + 1 - r->line), &gid) ||
	    uid > UINT32_MAX || gid > UINT32_MAX)
		return bad(r, "want \"login uid gid\"");
	m->ident = spool_field_get(r->a, r->line, (size_t)(sp1 - r->line));
	if (m->ident == NULL || *m->ident == '\0')
		return bad(r, "bad login name");
	if (strcmp(m->ident, "-") == 0)
		m->ident = NULL;
	m->uid = (uid_t)uid;
	m->gid = (gid_t)gid;
	return 0;
}

static int
decode_sender_and_time(struct hdr_reader *r, struct message *m)
{
	const char *sp;
	uint64_t t, w;

	if (next_line(r) != 0)
		return -1;
	if (r->len < 2 || r->line[0] != '<' || r->line[r->len - 1] != '>' ||
	    (m->sender = spool_field_get(r->a, r->line + 1, r->len - 2)) ==
	    NULL)
		return bad(r, "want \"<sender>\"");
	if (next_line(r) != 0)
		return -1;
	sp = memchr(r->line, ' ', r->len);
	if (sp == NULL || !parse_u64(r->line, (size_t)(sp - r->line), &t) ||
	    !parse_u64(sp + 1, r->len - (size_t)(sp + 1 - r->line), &w) ||
	    w > 1000000 || t > INT64_MAX)
		return bad(r, "want \"received-time warning-count\"");
	m->received = (time_t)t;
	m->warning_count = (int)w;
	return 0;
}

/* "ip.port": the port follows the last '.'. */
static int
decode_addr(struct hdr_reader *r, const char *v, const char **ip_out,
	int *port_out)
{
	const char *dot = strrchr(v, '.');
	uint64_t port;

	if (dot == NULL || dot == v ||
	    !parse_u64(dot + 1, strlen(dot + 1), &port) || port > 65535)
		return bad(r, "want \"ip.port\"");
	*ip_out = arena_strndup(r->a, v, (size_t)(dot - v));
	*port_out = (int)port;
	return 0;
}

/* One "-name [value]" line. */
static int
decode_option(struct hdr_reader *r, struct message *m)
{
	const char *sp = memchr(r->line, ' ', r->len);
	size_t nlen = sp ? (size_t)(sp - r->line - 1) : r->len - 1;
	char *name = arena_strndup(r->a, r->line + 1, nlen), *v = NULL;
	uint64_t n;

	if (sp != NULL) {
		v = spool_field_get(r->a, sp + 1, r->len - nlen - 2);
		if (v == NULL)
			return bad(r, "bad escape in value");
	}
	if (strcmp(name, "frozen") == 0 || strcmp(name, "local") == 0 ||
	    strcmp(name, "bounce") == 0) {
		if (v != NULL)
			return bad(r, "flag with a value");
		*(name[0] == 'f' ? &m->frozen : name[0] == 'l' ? &m->local
			: &m->is_bounce) = true;
		return 0;
	}
	if (v == NULL)
		return bad(r, "option without a value");
	if (strcmp(name, "host_address") == 0)
		return decode_addr(r, v, &m->host_address, &m->host_port);
	if (strcmp(name, "interface_address") == 0)
		return decode_addr(r, v, &m->interface_address,
			&m->interface_port);
	if (strcmp(name, "body_linecount") == 0) {
		if (!parse_u64(v, strlen(v), &n))
			return bad(r, "bad body_linecount");
		m->body_linecount = n;
	} else if (strcmp(name, "host_name") == 0) {
		m->host_name = v;
	} else if (strcmp(name, "helo_name") == 0) {
		m->helo_name = v;
	} else if (strcmp(name, "received_protocol") == 0) {
		m->received_protocol = v;
	} else if (strcmp(name, "authenticated_id") == 0) {
		m->authenticated_id = v;
	} else if (strcmp(name, "tls_cipher") == 0) {
		m->tls_cipher = v;
	} else if (strcmp(name, "tls_peerdn") == 0) {
		m->tls_peerdn = v;
	} else if (strcmp(name, "errors_to") == 0) {
		m->errors_to = v;
	} else if (strcmp(name, "boot_id") == 0) {
		m->boot_id = v;
	} else if (strcmp(name, "delivered") == 0) {
		spool_add_delivered(r->a, m, v);
	}
	/* Unknown names are skipped: a newer tern may add some. */
	return 0;
}

static int
decode_recipient(struct hdr_reader *r, struct recipient *rc)
{
	const char *tab;
	size_t alen;

	if (r->len < 3 || (r->line[0] != '+' && r->line[0] != '-') ||
	    r->line[1] != ' ')
		return bad(r, "want \"+ address\" or \"- address\"");
	rc->done = r->line[0] == '+';
	tab = memchr(r->line + 2, '\t', r->len - 2);
	alen = tab ? (size_t)(tab - r->line - 2) : r->len - 2;
	rc->address = spool_field_get(r->a, r->line + 2, alen);
	rc->orcpt = NULL;
	if (tab != NULL)
		rc->orcpt = spool_field_get(r->a, tab + 1,
			r->len - alen - 3);
	if (rc->address == NULL || *rc->address == '\0' ||
	    (tab != NULL && rc->orcpt == NULL))
		return bad(r, "bad recipient");
	return 0;
}

static int
decode_recipients(struct hdr_reader *r, struct message *m)
{
	uint64_t n;

	if (next_line(r) != 0)
		return -1;
	if (!parse_u64(r->line, r->len, &n) || n > 1000000)
		return bad(r, "bad recipient count");
	m->nrcpts = (size_t)n;
	m->rcpts = arena_zalloc(r->a, (n ? n : 1) * sizeof(*m->rcpts));
	for (size_t i = 0; i < n; i++)
		if (next_line(r) != 0 || decode_recipient(r, &m->rcpts[i]) != 0)
			return -1;
	if (next_line(r) != 0)
		return -1;
	if (r->len != 0)
		return bad(r, "want a blank line after the recipients");
	return 0;
}

/* "NNNc text" entries up to the end line. */
static int
decode_headers(struct hdr_reader *r, struct message *m)
{
	static const char end_line[] = SPOOL_HEADER_END "\n";
	struct header **tail = &m->headers;

	for (;;) {
		const char *s = r->p;
		uint64_t n;
		size_t digits = 0;
		struct header *h;

		r->lineno++;
		if ((size_t)(r->end - s) >= sizeof(end_line) - 1 &&
		    memcmp(s, end_line, sizeof(end_line) - 1) == 0) {
			r->p = s + sizeof(end_line) - 1;
			return 0;
		}
		if (s >= r->end)
			return bad(r, "no end line after the headers");
		while (s + digits < r->end && s[digits] >= '0' &&
		    s[digits] <= '9')
			digits++;
		if (!parse_u64(s, digits, &n) || (size_t)(r->end - s) < digits + 2 ||
		    (unsigned char)s[digits] < 0x20 || s[digits + 1] != ' ' ||
		    n > (uint64_t)(r->end - s) - digits - 2)
			return bad(r, "want \"NNNc text\" header entry");
		h = arena_zalloc(r->a, sizeof(*h));
		h->type = s[digits];
		h->len = (size_t)n;
		h->text = arena_strndup(r->a, s + digits + 2, h->len);
		*tail = h;
		tail = &h->next;
		s += digits + 2;
		for (size_t i = 0; i + 1 < h->len; i++)
			if (s[i] == '\n')
				r->lineno++;
		r->p = s + h->len;
	}
}

int
spool_header_decode(struct arena *a, const char *path, const char *text,
	size_t len, struct message *m, size_t *used_out, char **err_out)
{
	struct hdr_reader r = { .a = a, .path = path, .p = text,
		.end = text + len, .err_out = err_out };

	if (next_line(&r) != 0)
		return -1;
	if (r.len != MESSAGE_ID_LEN + 2 ||
	    memcmp(r.line, m->id, MESSAGE_ID_LEN) != 0 ||
	    memcmp(r.line + MESSAGE_ID_LEN, "-H", 2) != 0)
		return bad(&r, "first line is not the file's name");
	if (next_line(&r) != 0 || decode_submitter(&r, m) != 0 ||
	    decode_sender_and_time(&r, m) != 0)
		return -1;
	for (;;) {
		if (next_line(&r) != 0)
			return -1;
		if (r.len == 2 && memcmp(r.line, "XX", 2) == 0)
			break;
		if (r.len < 2 || r.line[0] != '-')
			return bad(&r, "want \"-name value\" or \"XX\"");
		if (decode_option(&r, m) != 0)
			return -1;
	}
	if (decode_recipients(&r, m) != 0 || decode_headers(&r, m) != 0)
		return -1;
	*used_out = (size_t)(r.p - text);
	return 0;
}

void
spool_add_delivered(struct arena *a, struct message *m, const char *address)
{
	const char **n;

	for (size_t i = 0; i < m->ndelivered; i++)
		if (strcmp(m->delivered[i], address) == 0)
			return;
	/* Grow by powers of two; the old arrays stay in the arena. */
	if ((m->ndelivered & (m->ndelivered - 1)) == 0) {
		n = arena_alloc(a, (m->ndelivered ? m->ndelivered * 2 : 1) *
			sizeof(*n));
		if (m->ndelivered > 0)
			memcpy(n, m->delivered, m->ndelivered * sizeof(*n));
		m->delivered = n;
	}
	m->delivered[m->ndelivered++] = arena_strdup(a, address);
}
