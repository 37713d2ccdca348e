/*
 * Reading a message (header and body) from SMTP DATA or from a local
 * submission into the spool.  Shared by smtp_in, -bs and sendmail.
 */
#ifndef TERN_CORE_RECEIVE_RECEIVE_H
#define TERN_CORE_RECEIVE_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spool/spool.h"

/*
 * A layer the bytes are read through (TLS): read up to n bytes, waiting
 * at most timeout seconds (0 = no limit).  >0 bytes, 0 at EOF, -1 with
 * errno (ETIMEDOUT for a timeout).
 */
struct rcv_io {
	ssize_t (*read)(void *arg, char *buf, size_t n, int timeout);
	void    *arg;
};

/* A buffered byte source: an SMTP socket, stdin. */
struct rcv_source {
	int     fd;
	int     timeout;     /* seconds per read, 0 = none */
	char   *buf;
	size_t  start, end, size;
	bool    eof;
	const struct rcv_io *io; /* NULL: read(2) on fd */
};

void rcv_source_init(struct rcv_source *src, int fd, int timeout);
/*
 * Throw away whatever is buffered but not yet read (STARTTLS: bytes the
 * client pipelined before the handshake).  Returns how many.
 */
size_t rcv_source_discard(struct rcv_source *src);
/*
 * Read one line including its terminator (CRLF, LF, or a bare CR kept as
 * data) into *line_out (arena_conn), at most max bytes: a longer line is
 * read and thrown away up to its LF, and gives -2.  0 at EOF, -1 on error
 * or timeout (errno set, ETIMEDOUT for a timeout), else the length.
 */
ssize_t rcv_read_line(struct rcv_source *src, char **line_out, size_t max);

enum rcv_mode {
	RCV_SMTP,        /* ends with CRLF.CRLF only; dot-stuffing removed */
	RCV_LOCAL,       /* ends at EOF or a line with a lone "." */
	RCV_LOCAL_DOT_I, /* -i / -oi: ends at EOF only */
};

enum rcv_result {
	RCV_OK = 0,       /* m spooled, id set: may acknowledge */
	RCV_TOO_BIG,      /* 552: message_size_limit */
	RCV_BAD,          /* 554 / 550: bad header (text in *err_out) */
	RCV_TEMP,         /* 451: spool or I/O failure (logged) */
	RCV_EOF,          /* connection lost mid-message: nothing kept */
	RCV_NO_RECIPIENTS,/* -t found no recipients */
};

/*
 * Read the message from src into the spool, for m (sender, recipients
 * and connection fields already set).  Adds Received: (received_header_text),
 * and for local submissions missing Message-ID:, Date: and From:.  With
 * extract (-t), recipients are taken from To:/Cc:/Bcc: (minus those
 * already in m) and Bcc: is removed.  Logs "<=" on success.  On
 * RCV_TOO_BIG the rest of the data is still read so the SMTP session
 * stays in step.
 */
enum rcv_result receive_message(struct message *m, struct rcv_source *src,
	enum rcv_mode mode, bool extract, char **err_out);

/*
 * For a message Tern makes itself (a bounce), the optional fields of its
 * <= line after S= (log_selector: M8S=, id=, T=, from, for), in
 * arena_msg; "" when none is on.
 */
/*
 * Read a message from src as receive_message would, without spooling it:
 * RCV_TOO_BIG, RCV_BAD (*err_out: its header section), RCV_NO_RECIPIENTS
 * (none given, none found with extract), RCV_TEMP (a read error), or
 * RCV_OK.  m's headers (arena_msg) and, with extract, its recipients are
 * set.  For sendmail's maildrop/ submissions, to refuse what the pickup
 * would.
 */
enum rcv_result receive_check(struct message *m, struct rcv_source *src,
	enum rcv_mode mode, bool extract, char **err_out);

const char *receive_log_tail(const struct message *m);

/*
 * Start delivery of a just-received message per -odi/-odb/-odq,
 * queue_only, smtp_accept_queue (receive_queue_reason),
 * smtp_accept_queue_per_connection and queue_only_load.
 */
void receive_start_delivery(const char *id);

/*
 * The errno behind the last RCV_TEMP of receive_message (ENOSPC: the
 * spool is full, answer 452), or 0.
 */
extern int receive_errno;

/* Start it regardless of those. */
void receive_deliver_now(const char *id);

/*
 * Set by the daemon for a reception process: why its messages are only
 * queued (smtp_accept_queue), or NULL.
 */
extern const char *receive_queue_reason;

/*
 * A reception process the daemon started delivers the last message of
 * its connection itself, once the connection is over, instead of having
 * the daemon fork a delivery process for it (docs/process.md).  With
 * receive_hold_enable(), receive_deliver_now() holds each message's id;
 * the SMTP session hands a held message to the daemon (receive_release)
 * as soon as the client goes on with anything but QUIT, or is quiet for
 * a moment; what is left at the end, receive_take_held() returns.
 * receive_may_hold: is holding on?  Then a message is committed where it
 * was written, in pool/ (spool_data_park), and named in input/ only when
 * it is not held after all, or released.
 */
void receive_hold_enable(void);
bool receive_may_hold(void);
bool receive_holding(void);
void receive_release(void);
const char *receive_take_held(void);

/* Delivery mode from the command line: 'i', 'b' (default), 'q'. */
extern char receive_delivery_mode;

#endif
