/*
 * One connection, one process: the reception process gives up root
 * before it reads a byte from the network and hands accepted message ids
 * to the daemon through the daemon's handoff pipe; the daemon (which
 * never reads network data and keeps root as its saved set-user-id)
 * starts those deliveries, which may need root to become the recipient,
 * and never with the client's socket.  The connection's last message the
 * reception process delivers itself once the socket is closed, when that
 * needs no root (docs/process.md).
 */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config/config.h"
#include "config/lists.h"
#include "deliver/deliver.h"
#include "daemon/daemon_int.h"
#include "lib/arena.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "lookup/lookup.h"
#include "receive/receive.h"
#include "smtp_in/smtp_in.h"
#include "smtp_in/vars.h"
#include "spool/spool.h"
#include "tls/tls.h"

const char *
daemon_sockaddr_text(const struct sockaddr_storage *ss, char *host,
	size_t hostlen, int *port_out)
{
	host[0] = '\0';
	*port_out = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hostlen);
		*port_out = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		/* An IPv4 client on a dual-stack socket is shown as IPv4. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], host,
				(socklen_t)hostlen);
		else
			inet_ntop(AF_INET6, &s6->sin6_addr, host,
				(socklen_t)hostlen);
		*port_out = ntohs(s6->sin6_port);
	}
	return host;
}

void
daemon_refuse(int fd, const char *why)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "421 4.3.2 %s %s\r\n",
		conf.primary_hostname, why);

	/* A new socket's send buffer is empty: this does not block. */
	if (n > 0 && send(fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		DEBUG("daemon: 421 not sent: %m");
	close(fd);
}

bool
daemon_greet(int fd, const struct listener *l)
{
	char text[SMTP_GREETING_MAX];
	size_t len;
	int pending = 0;

	/* TLS on connect: the 220 goes through TLS, from the reception. */
	if (tls_port_is_on_connect(l->port) ||
	    !smtp_greeting_early(text, sizeof(text), &len))
		return false;
	/*
	 * Input before the greeting: the reception process judges it
	 * (smtp_enforce_sync) as it would have without this.  Only whether
	 * there is any is asked, nothing is read.
	 */
	if (conf.smtp_enforce_sync &&
	    (ioctl(fd, FIONREAD, &pending) != 0 || pending > 0))
		return false;
	/* A new socket's send buffer takes it whole: it does not block. */
	if (send(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
		return false;
	DEBUG("daemon: SMTP>> %.*s", (int)len - 2, text);
	return true;
}

static void
conn_info(int fd, struct smtp_conn_info *ci)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	memset(ci, 0, sizeof(*ci));
	memset(&ss, 0, sizeof(ss));
	if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0) {
		daemon_sockaddr_text(&ss, host, sizeof(host), &ci->host_port);
		ci->host_address = arena_strdup(arena_conn, host);
	} else {
		ci->host_address = "unknown";
	}
	len = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		daemon_sockaddr_text(&ss, host, sizeof(host),
			&ci->interface_port);
		ci->interface_address = arena_strdup(arena_conn, host);
	}
	ci->is_local = false;
	ci->closed_after = true; /* conn_session: close or _exit */
}

/* Before a reception process reads a byte from the network. */
static void
conn_start(int board_i)
{
	runtime_drop_privilege_for_good();
	if (deliver_without_root_possible())
		receive_hold_enable();
	deliver_set_over_flag(limits_over_flag(board_i));
	spool_reuse_group(board_i);
	arena_reset(arena_conn);
	arena_reset(arena_msg);
	arena_reset(arena_scratch);
}

/*
 * The reception process, after conn_start: SMTP.  Its connection's last
 * message, if held (receive_hold_enable), it then delivers itself: one
 * process fewer per message (docs/process.md).
 */
static _Noreturn void
conn_session(int fd, bool greeted, int count)
{
	struct smtp_conn_info ci;
	const char *id;
	int rc;

	conn_info(fd, &ci);
	ci.greeted = greeted;
	ci.count = count;
	proctitle_set("tern: handling incoming connection from [%s]",
		ci.host_address);
	rc = smtp_in_session(fd, fd, &ci);
	/*
	 * The last reply waits in the socket (MSG_MORE, closed_after): the
	 * shutdown sends it now, with the FIN.  A close alone, with input the
	 * session did not read still queued, would send a reset instead of
	 * it; after the shutdown such a close still resets, but only after
	 * the reply went out (docs/process.md).
	 */
	(void)shutdown(fd, SHUT_WR);
	if ((id = receive_take_held()) == NULL) {
		spool_unpark_all(); /* none should be left: where queue runs look */
		_exit(rc);
	}
	close(fd); /* the client has had its 221, or is gone */
	deliver_connection_over();
	/* Nothing of the session may show in the delivery ($tls_in_*, $auth*,
	 * lookups opened for RCPT): it must be what a fresh process does. */
	memset(&smtp_in_vars, 0, sizeof(smtp_in_vars));
	list_host_lookups(NULL);
	lookup_close_all();
	deliver_detached(id, false, rt.started_as_root ? DELIVER_NO_ROOT : 0);
}

pid_t
daemon_connection(int fd, struct listener *ls, size_t nls,
	const sigset_t *orig_mask, const int handoff[2], int board_i,
	bool greeted, int count)
{
	pid_t pid = fork();

	if (pid != 0) {
		if (pid < 0) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"daemon: fork for a connection: %m");
			daemon_refuse(fd, "temporary local problem");
		} else {
			close(fd);
		}
		return pid;
	}
	daemon_child_init(orig_mask, ls, nls, handoff);
	conn_start(board_i);
	conn_session(fd, greeted, count);
}

/*
 * The spare: a reception process forked before its connection comes,
 * which accepts it itself (daemon_spare in daemon_int.h).  While it waits
 * it holds the listening sockets and the daemon does not look at them.
 * It also waits on the read end of a pipe whose only write end the
 * daemon holds: when the daemon closes it (to stop, or to re-execute) or
 * is gone, the spare ends.  No signal is involved, so a stop that comes
 * after the accept cannot touch the connection: by then the spare has
 * closed that pipe, and the listening sockets.
 */

/* Errors of one connection, that accept(2) returns for the next one. */
static bool
accept_error_passing(int e)
{
	switch (e) {
	case EINTR: case EAGAIN: case ECONNABORTED: case EPERM: case EPROTO:
	case ENETDOWN: case ENOPROTOOPT: case EHOSTDOWN: case ENONET:
	case EHOSTUNREACH: case EOPNOTSUPP: case ENETUNREACH:
		return true;
	default:
		return false;
	}
}

/* "+PID ADDRESS" or "!PID" to the daemon (daemon_spare_said). */
static void
spare_tell(char what, const char *host)
{
	char line[128];
	int n = snprintf(line, sizeof(line), "%c%d%s%s\n", what, (int)getpid(),
		host != NULL ? " " : "", host != NULL ? host : "");

	if (!deliver_handoff_line(line, (size_t)n))
		DEBUG("spare: handoff pipe: %m");
}

/* The accepted socket, or -1 when accept itself fails (logged). */
static int
spare_accept(struct listener *ls, size_t nls, int stop,
	struct sockaddr_storage *ss, size_t *li)
{
	struct pollfd pfd[DAEMON_MAX_LISTENERS + 1];

	for (size_t i = 0; i < nls; i++)
		pfd[i] = (struct pollfd){ .fd = ls[i].fd, .events = POLLIN };
	pfd[nls] = (struct pollfd){ .fd = stop, .events = POLLIN };
	for (;;) {
		if (poll(pfd, nls + 1, -1) < 0)
			continue; /* EINTR */
		if (pfd[nls].revents != 0)
			_exit(0); /* the daemon let go of its end */
		for (size_t i = 0; i < nls; i++) {
			socklen_t len = sizeof(*ss);
			int fd;

			if (!(pfd[i].revents & POLLIN))
				continue;
			fd = accept4(ls[i].fd, (struct sockaddr *)ss, &len,
				SOCK_CLOEXEC);
			if (fd >= 0) {
				*li = i;
				return fd;
			}
			if (accept_error_passing(errno))
				continue;
			log_write(TERN_LOG_MAIN, NULL, "daemon: spare reception "
				"process: accept on %s: %m", ls[i].addr);
			return -1;
		}
	}
}

static _Noreturn void
spare_run(struct listener *ls, size_t nls, const sigset_t *orig_mask,
	const int handoff[2], int stop, int board_i, int nconn)
{
	struct sockaddr_storage ss;
	char host[64];
	const char *why, *queue_why;
	size_t li = 0;
	int fd, port;
	bool greeted;

	/* Keeps the listeners; closes the daemon's end of the stop pipe. */
	daemon_child_init(orig_mask, ls, 0, handoff);
	conn_start(board_i);
	proctitle_set("tern: spare reception process, waiting for a "
		"connection");
	fd = spare_accept(ls, nls, stop, &ss, &li);
	if (fd < 0) {
		/* Out of descriptors, memory ...: the daemon accepts itself
		 * for a while, told at once. */
		spare_tell('!', NULL);
		_exit(1);
	}
	/* A reception from here on, as if the daemon had forked it now. */
	daemon_close_listeners(ls, nls);
	close(stop);
	limits_spare_taken(board_i);
	daemon_sockaddr_text(&ss, host, sizeof(host), &port);
	why = limits_check(host, nconn, &queue_why);
	greeted = why == NULL && daemon_greet(fd, &ls[li]);
	if (why != NULL) {
		daemon_refuse(fd, why);
		deliver_connection_over(); /* counted off at once */
	}
	/* The daemon counts it, and forks the next spare meanwhile. */
	spare_tell('+', host);
	if (why != NULL)
		_exit(0);
	receive_queue_reason = queue_why;
	conn_session(fd, greeted, nconn + 1);
}

pid_t
daemon_spare(struct listener *ls, size_t nls, const sigset_t *orig_mask,
	const int handoff[2], int stop, int board_i, int nconn)
{
	pid_t pid = fork();

	if (pid == 0)
		spare_run(ls, nls, orig_mask, handoff, stop, board_i, nconn);
	if (pid < 0)
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: fork for a spare reception process: %m");
	return pid;
}
