/*
 * The DATA decoder.  Only CRLF "." CRLF ends SMTP data: a bare LF or a
 * bare CR is data and never starts a line that could end the message, so
 * "\n.\n", "\r.\r" and "\n.\r\n" cannot smuggle a second message past us.
 * The spool keeps LF line ends; a bare LF becomes a line end there too,
 * which is harmless because outgoing SMTP dot-stuffs every line again.
 */
#include "receive/rcv_int.h"

#include <errno.h>

enum dec_state {
	ST_LINE_START, /* after CRLF (SMTP) or LF (local), or at the start */
	ST_MID,        /* inside a line */
	ST_CR,         /* a CR is pending */
	ST_DOT,        /* a "." at the start of a line is pending */
	ST_DOT_CR,     /* "." CR at the start of a line is pending */
};

struct dec {
	enum rcv_mode mode;
	enum dec_state st;
	rcv_sink_fn *sink;
	void *arg;
	size_t olen;
	char out[8192];
};

static void
dec_flush(struct dec *d)
{
	if (d->olen > 0)
		d->sink(d->arg, d->out, d->olen);
	d->olen = 0;
}

static inline void
dec_emit(struct dec *d, char c)
{
	d->out[d->olen++] = c;
	if (d->olen == sizeof(d->out))
		dec_flush(d);
}

/* In a line, or just after a bare CR was dealt with. */
static void
dec_mid(struct dec *d, char c)
{
	if (c == '\r') {
		d->st = ST_CR;
		return;
	}
	dec_emit(d, c);
	/* Locally, LF is the line end; in SMTP a bare LF is only data. */
	d->st = (c == '\n' && d->mode != RCV_SMTP) ? ST_LINE_START : ST_MID;
}

/* One byte; true when it completed the terminator. */
static bool
dec_byte(struct dec *d, char c)
{
	switch (d->st) {
	case ST_LINE_START:
		if (c == '.' && d->mode != RCV_LOCAL_DOT_I) {
			d->st = ST_DOT;
			return false;
		}
		dec_mid(d, c);
		return false;
	case ST_MID:
		dec_mid(d, c);
		return false;
	case ST_CR:
		if (c == '\n') {
			dec_emit(d, '\n');
			d->st = ST_LINE_START;
		} else {
			dec_emit(d, '\r');  /* a bare CR: data */
			dec_mid(d, c);
		}
		return false;
	case ST_DOT:
		if (c == '\r') {
			d->st = ST_DOT_CR;
			return false;
		}
		if (c == '\n' && d->mode == RCV_LOCAL)
			return true;
		if (d->mode != RCV_SMTP)
			dec_emit(d, '.');  /* no dot-stuffing locally */
		dec_mid(d, c);
		return false;
	case ST_DOT_CR:
		if (c == '\n')
			return true;
		if (d->mode != RCV_SMTP)
			dec_emit(d, '.');
		d->st = ST_CR;
		return dec_byte(d, c);
	}
	return false;
}

/* At EOF, whatever was held back is data. */
static void
dec_eof(struct dec *d)
{
	if (d->st == ST_DOT || d->st == ST_DOT_CR)
		if (d->mode != RCV_SMTP)
			dec_emit(d, '.');
	if (d->st == ST_CR || d->st == ST_DOT_CR)
		dec_emit(d, '\r');
	dec_flush(d);
}

enum rcv_dec_result
rcv_decode(struct rcv_source *src, enum rcv_mode mode, rcv_sink_fn *sink,
	void *arg)
{
	struct dec d = { .mode = mode, .st = ST_LINE_START, .sink = sink,
		.arg = arg, .olen = 0 };

	for (;;) {
		ssize_t n = rcv_fill(src);

		if (n < 0) {
			int saved = errno;

			dec_flush(&d);
			errno = saved;
			return RCV_DEC_ERR;
		}
		if (n == 0) {
			dec_eof(&d);
			return RCV_DEC_EOF;
		}
		while (src->start < src->end) {
			if (dec_byte(&d, src->buf[src->start++])) {
				dec_flush(&d);
				return RCV_DEC_END;
			}
		}
	}
}
