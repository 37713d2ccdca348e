/* The SMTP server side of one connection. */
#ifndef TERN_CORE_SMTP_IN_SMTP_IN_H
#define TERN_CORE_SMTP_IN_SMTP_IN_H

#include <stdbool.h>
#include <stddef.h>

struct smtp_conn_info {
	const char *host_address;      /* NULL for -bs */
	int         host_port;
	const char *interface_address;
	int         interface_port;
	bool        is_local;          /* -bs: a local caller */
	bool        closed_after;      /* the caller shuts the socket down
	                                  as soon as the session returns */
	bool        greeted;           /* the daemon sent the 220 already
	                                  (smtp_greeting_early) */
	int         count;             /* the daemon's connections, this
	                                  one included (smtp_connection) */
};

/*
 * Run one SMTP session on in_fd/out_fd until QUIT, EOF or timeout.
 * Each accepted message is spooled and acknowledged, then delivery is
 * started for it.  Returns the process exit status.
 */
int smtp_in_session(int in_fd, int out_fd, const struct smtp_conn_info *ci);

/*
 * The 220 as the daemon may send it at accept, before it forks the
 * reception process, so that the client's EHLO is on its way while the
 * process starts: the whole reply (CRLF-terminated lines) in out and
 * its length, or false when the banner is the reception's to send (an
 * smtp_banner to expand, or longer than size).
 */
#define SMTP_GREETING_MAX 1024
bool smtp_greeting_early(char *out, size_t size, size_t *len_out);

#endif
