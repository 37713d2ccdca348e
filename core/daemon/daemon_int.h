/* Private to core/daemon. */
#ifndef TERN_CORE_DAEMON_DAEMON_INT_H
#define TERN_CORE_DAEMON_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/types.h>

#define DAEMON_MAX_LISTENERS 64

struct listener {
	int         fd;
	const char *addr;  /* as shown in logs: "[127.0.0.1]:25" */
	int         port;
};

/*
 * Bind a socket for every address in local_interfaces and every port in
 * ports.  0 with *out (arena_perm), or -1 after printing why to stderr.
 */
int daemon_listen(const char *ports, struct listener **out, size_t *n_out);

/* In the child: close every listening socket. */
void daemon_close_listeners(struct listener *ls, size_t n);

/*
 * Handle one accepted connection in a new process.  Returns the pid of
 * the child (or -1); never returns in the child.  orig_mask is the
 * signal mask to restore there; handoff is the daemon's pipe (read end,
 * write end) on which the child reports the ids of accepted messages;
 * board_i its flag on the board (limits.c) or -1: the flag it sets when
 * its connection is over, and its group of pool/ slots; count the
 * connections the daemon has, this one included (for the log).
 */
pid_t daemon_connection(int fd, struct listener *ls, size_t nls,
	const sigset_t *orig_mask, const int handoff[2], int board_i,
	bool greeted, int count);

/*
 * Fork a spare reception process: it waits on the listening sockets,
 * accepts one connection, judges it by the limits as they stood with
 * nconn connections open, writes "+PID ADDRESS" to the handoff pipe
 * ("!PID" if it could not accept), and goes on as a reception process.
 * stop: the read end of a pipe whose write end only the daemon keeps
 * (daemon_child_init closes it in every child); the spare ends, if it has
 * no connection yet, when that end is closed.  board_i: its flag, from
 * limits_board_take_spare.  Returns its pid, or -1.
 */
pid_t daemon_spare(struct listener *ls, size_t nls, const sigset_t *orig_mask,
	const int handoff[2], int stop, int board_i, int nconn);

/* Answer 421 from the daemon itself (smtp_accept_max) and close fd. */
void daemon_refuse(int fd, const char *why);

/*
 * Send the 220 from the daemon (smtp_greeting_early) on a connection
 * accepted on l, before the fork; false when the reception process must.
 */
bool daemon_greet(int fd, const struct listener *l);

/* "[addr]:port" of a socket's peer or local side, and the parts. */
const char *daemon_sockaddr_text(const struct sockaddr_storage *ss,
	char *host, size_t hostlen, int *port_out);

/*
 * Accept limits (limits.c).  limits_check: NULL to accept the client at
 * host (nconn connections are open), else the text of the 421 (logged);
 * *queue_out is set when its messages are to be queued (smtp_accept_queue).
 * limits_add/limits_remove keep the table of reception processes.
 */
const char *limits_check(const char *host, int nconn, const char **queue_out);
void limits_add(pid_t pid, const char *host, int board_i);
bool limits_remove(pid_t pid); /* false: pid was not a reception process */

/*
 * The spare reception process (conn.c): forked ahead of its connection
 * while fewer than LIMITS_SPARE_BELOW connections are open, it accepts
 * its client itself.  limits_spare_allowed: whether the next connection,
 * from any host, would pass every limit but smtp_load_reserve (which the
 * spare asks once it has its client) with nconn open, and whether the
 * daemon is quiet enough for a spare: then the limits a spare judges
 * with the table as it was at its fork can only be looser now (the
 * daemon accepts nothing while a spare waits: connections only end).
 */
#define LIMITS_SPARE_BELOW 3
bool limits_spare_allowed(int nconn);

/*
 * The board (limits.c): flags shared with the reception processes, set
 * by one when its connection is over.  limits_board_init makes n of them
 * (before the first fork; none if that fails).  limits_board_take gives a
 * cleared flag's index for the next reception process, or -1;
 * limits_board_release gives it back (a failed fork); limits_over_flag is
 * the flag the child sets; limits_add records the index with the pid.
 * limits_collect takes the processes whose flag is set off the table and
 * returns how many.
 */
void limits_board_init(size_t n);
int limits_board_take(void);
int limits_board_take_spare(void);   /* a flag that counts nowhere yet */
void limits_spare_taken(int i);      /* in the spare: it has its client */
void limits_board_release(int i);
int *limits_over_flag(int i);
int limits_collect(void);

/*
 * The child side of a fork (reception, delivery, queue runner): default
 * signals and the daemon's mask, no listening sockets, and the handoff
 * pipe's write end only, for the ids it wants the daemon to deliver
 * (deliver_set_handoff).
 */
void daemon_child_init(const sigset_t *orig_mask, struct listener *ls,
	size_t nls, const int handoff[2]);

#endif
