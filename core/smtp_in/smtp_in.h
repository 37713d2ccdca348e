/* The SMTP server side of one connection. */
#ifndef TERN_CORE_SMTP_IN_SMTP_IN_H
#define TERN_CORE_SMTP_IN_SMTP_IN_H

#include <stdbool.h>

struct smtp_conn_info {
	const char *host_address;      /* NULL for -bs */
	int         host_port;
	const char *interface_address;
	int         interface_port;
	bool        is_local;          /* -bs: a local caller */
	bool        closed_after;      /* the caller shuts the socket down
	                                  as soon as the session returns */
};

/*
 * Run one SMTP session on in_fd/out_fd until QUIT, EOF or timeout.
 * Each accepted message is spooled and acknowledged, then delivery is
 * started for it.  Returns the process exit status.
 */
int smtp_in_session(int in_fd, int out_fd, const struct smtp_conn_info *ci);

#endif
