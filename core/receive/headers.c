/* The header section of an incoming message: lines into struct header. */
#include "receive/rcv_int.h"

#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "spool/spool.h"

enum rcv_line_kind
rcv_line_kind(const char *line, size_t len)
{
	size_t i = 0;

	if (len == 0 || line[0] == '\n')
		return RCV_LINE_BLANK;
	if (line[0] == ' ' || line[0] == '\t')
		return RCV_LINE_CONT;
	/* field-name: printable ASCII but ':'; obsolete syntax allows WSP before ':' */
	while (i < len && (unsigned char)line[i] > 32 &&
	    (unsigned char)line[i] < 127 && line[i] != ':')
		i++;
	if (i == 0)
		return RCV_LINE_OTHER;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i < len && line[i] == ':' ? RCV_LINE_HEADER : RCV_LINE_OTHER;
}

bool
rcv_header_is(const char *text, const char *name)
{
	size_t n = strlen(name);

	if (strncasecmp(text, name, n) != 0)
		return false;
	text += n;
	while (*text == ' ' || *text == '\t')
		text++;
	return *text == ':';
}

static const struct {
	const char *name;
	char        type;
} header_types[] = {
	{ "Received",   HDR_RECEIVED },
	{ "From",       HDR_FROM },
	{ "To",         HDR_TO },
	{ "Cc",         HDR_CC },
	{ "Bcc",        HDR_BCC },
	{ "Message-ID", HDR_MSGID },
	{ "Reply-To",   HDR_REPLYTO },
	{ "Sender",     HDR_SENDER },
};

char
rcv_header_type(const char *text, size_t len)
{
	(void)len;
	for (size_t i = 0; i < sizeof(header_types) / sizeof(header_types[0]); i++)
		if (rcv_header_is(text, header_types[i].name))
			return header_types[i].type;
	return HDR_NORMAL;
}

char *
rcv_header_value(struct arena *a, const struct header *h)
{
	const char *p = memchr(h->text, ':', h->len);
	const char *end = h->text + h->len;

	if (p == NULL)
		return arena_strdup(a, "");
	p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	return arena_strndup(a, p, (size_t)(end - p));
}

void
rcv_hdr_init(struct rcv_hdr_parser *p, struct arena *a, size_t max)
{
	memset(p, 0, sizeof(*p));
	p->arena = a;
	p->tail = &p->head;
	p->max = max;
	buf_init(&p->text, a, 0);
}

/* The header being built is complete: give it its final text. */
static void
hdr_close(struct rcv_hdr_parser *p)
{
	struct header *h = p->cur;

	if (h == NULL)
		return;
	h->text = arena_strndup(p->arena, p->text.p, p->text.len);
	h->len = p->text.len;
	h->type = rcv_header_type(h->text, h->len);
	buf_clear(&p->text);
	p->cur = NULL;
}

void
rcv_hdr_limits(struct rcv_hdr_parser *p, size_t line_max, size_t count_max)
{
	p->line_max = line_max;
	p->count_max = count_max;
}

static void
hdr_add_text(struct rcv_hdr_parser *p, const char *line, size_t len)
{
	if (p->limit_error != NULL)
		return;
	if (p->line_max > 0 && p->text.len + len > p->line_max) {
		p->limit_error = "header line too long";
		return;
	}
	if (p->max > 0 && p->bytes + len > p->max) {
		p->too_big = true;
		return;
	}
	if (!buf_add(&p->text, line, len))
		p->too_big = true;
	p->bytes += len;
}

enum rcv_hdr_feed
rcv_hdr_feed(struct rcv_hdr_parser *p, const char *line, size_t len)
{
	struct header *h;

	switch (rcv_line_kind(line, len)) {
	case RCV_LINE_BLANK:
		hdr_close(p);
		return RCV_HDR_END_BLANK;
	case RCV_LINE_CONT:
		if (p->cur == NULL) {
			hdr_close(p);
			return RCV_HDR_END_BODY;
		}
		hdr_add_text(p, line, len);
		return RCV_HDR_MORE;
	case RCV_LINE_OTHER:
		hdr_close(p);
		return RCV_HDR_END_BODY;
	case RCV_LINE_HEADER:
		break;
	}
	hdr_close(p);
	if (p->count_max > 0 && ++p->count > p->count_max)
		p->limit_error = "too many header lines";
	if (p->limit_error != NULL)
		return RCV_HDR_MORE; /* keep reading, keep nothing */
	h = arena_zalloc(p->arena, sizeof(*h));
	*p->tail = h;
	p->tail = &h->next;
	p->cur = h;
	hdr_add_text(p, line, len);
	return RCV_HDR_MORE;
}

struct header *
rcv_hdr_finish(struct rcv_hdr_parser *p)
{
	hdr_close(p);
	return p->head;
}
