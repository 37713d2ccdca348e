/*
 * Private to core/receive: the DATA decoder and the header-section parser,
 * split out so that unit tests can drive them without a spool.
 */
#ifndef TERN_CORE_RECEIVE_RCV_INT_H
#define TERN_CORE_RECEIVE_RCV_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/buf.h"
#include "receive/receive.h"

/*
 * Make more bytes available in src (waiting at most src->timeout seconds).
 * >0 bytes now buffered, 0 at EOF, -1 on error or timeout (errno set,
 * ETIMEDOUT for a timeout).
 */
ssize_t rcv_fill(struct rcv_source *src);

/* Decoded message bytes (LF line ends) go to a sink. */
typedef void rcv_sink_fn(void *arg, const char *p, size_t n);

enum rcv_dec_result {
	RCV_DEC_END = 1,  /* the terminator was read (SMTP, or "." locally) */
	RCV_DEC_EOF = 0,  /* EOF: the normal end for local input */
	RCV_DEC_ERR = -1, /* read error or timeout, errno set */
};

/*
 * Read one message from src in the given mode, passing the decoded bytes
 * to sink: CRLF becomes LF, bare CR and (in SMTP) bare LF are data, SMTP
 * dot-stuffing is removed.  In RCV_SMTP only CRLF "." CRLF (or "." CRLF
 * at the very start) ends the data.  Bytes after the terminator stay in
 * src for the next SMTP command.
 */
enum rcv_dec_result rcv_decode(struct rcv_source *src, enum rcv_mode mode,
	rcv_sink_fn *sink, void *arg);

/* What a line at the top of a message is. */
enum rcv_line_kind {
	RCV_LINE_HEADER,  /* "Name:" ... */
	RCV_LINE_CONT,    /* starts with space or tab */
	RCV_LINE_BLANK,   /* "\n" alone: end of the header section */
	RCV_LINE_OTHER,   /* anything else: the body starts here */
};

enum rcv_line_kind rcv_line_kind(const char *line, size_t len);

/* The HDR_* type of a header from its name. */
char rcv_header_type(const char *text, size_t len);

/* Does header text start with "name:" (caseless, optional space before ':')? */
bool rcv_header_is(const char *text, const char *name);

/*
 * The value of a header: after the colon, leading white space and the
 * final newline removed (continuations kept).  arena a.
 */
char *rcv_header_value(struct arena *a, const struct header *h);

/* Collects the header section line by line. */
struct rcv_hdr_parser {
	struct arena   *arena;
	struct header  *head;
	struct header **tail;
	struct header  *cur;     /* the header continuation lines join */
	struct buf      text;    /* cur's text while it grows */
	size_t          bytes;   /* all header text so far */
	size_t          max;     /* header_maxsize; 0 = none */
	bool            too_big;
	/* header_line_maxsize, header_count_max (0 = none): rcv_hdr_limits */
	size_t          line_max, count_max, count;
	const char     *limit_error; /* set: refuse the message with it */
};

enum rcv_hdr_feed {
	RCV_HDR_MORE,      /* line taken as (part of) a header */
	RCV_HDR_END_BLANK, /* blank line: headers done, line consumed */
	RCV_HDR_END_BODY,  /* not a header: headers done, line is body */
};

void rcv_hdr_init(struct rcv_hdr_parser *p, struct arena *a, size_t max);
/* Feed one line ending in "\n" (the caller adds it to a last partial line). */
enum rcv_hdr_feed rcv_hdr_feed(struct rcv_hdr_parser *p, const char *line,
	size_t len);
/*
 * Limit one header's size (with its continuations) and the number of
 * headers; past either, limit_error is set and no more header text is
 * kept.  0 = no limit.
 */
void rcv_hdr_limits(struct rcv_hdr_parser *p, size_t line_max,
	size_t count_max);
/* Finish: returns the list of headers (in order). */
struct header *rcv_hdr_finish(struct rcv_hdr_parser *p);

/* RFC 5322 date of t in local time, arena a. */
char *rcv_rfc5322_date(struct arena *a, time_t t);
/* The same into buf (RCV_DATE_MAX is room for any); its length. */
#define RCV_DATE_MAX 64
size_t rcv_rfc5322_date_buf(char *buf, size_t size, time_t t);

/*
 * Build the Received: header for m (arena_msg): received_header_text
 * expanded, or the built-in one.  NULL when the expansion is empty.
 */
struct header *rcv_received_header(struct message *m);

#endif
