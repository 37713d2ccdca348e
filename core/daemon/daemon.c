/*
 * The daemon: listen, fork a process per connection, start queue runners,
 * and re-execute itself on SIGHUP.  It keeps no message state.
 */
#include "daemon/daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/daemon_int.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "receive/maildrop.h"
#include "receive/receive.h"
#include "spool/spool.h"
#include "tls/tls.h"

#define DAEMON_REEXEC_ENV "TERN_DAEMON_REEXEC"
#define DAEMON_HANDOFF_ENV "TERN_DAEMON_HANDOFF"
#define MAX_QUEUE_RUNNERS 64
#define CHILD_REAP_MS 1000
#define SPARE_PAUSE_MS 1000
#define SPARE_STOP_MS 5000
/* Board flags (limits.c) when smtp_accept_max is 0, unlimited. */
#define BOARD_UNLIMITED 4096

bool daemon_foreground;
unsigned daemon_queue_flags;

static volatile sig_atomic_t got_hup, got_term;

/* inotify on maildrop/ (struct daemon); -1 when not watched. */
static int maildrop_watch = -1;

/* The write end of the spare's stop pipe (conn.c); -1 when none. */
static int spare_stop_w = -1;

struct daemon {
	struct listener *ls;
	size_t           nls;
	sigset_t         orig_mask;
	sigset_t         child_mask;          /* orig_mask and SIGCHLD */
	int              queue_interval;
	time_t           next_queue_run;
	int              nconn;               /* reception children */
	bool             children;            /* any not reaped yet */
	pid_t            runners[MAX_QUEUE_RUNNERS];
	int              nrunners;
	char           **argv;
	const char      *pid_file;
	/*
	 * Reception processes write the id of each accepted message, one
	 * line of at most PIPE_BUF bytes (so lines never interleave), to
	 * handoff[1]; the daemon reads handoff[0] and starts the deliveries.
	 */
	int              handoff[2];
	char             hbuf[1024];
	size_t           hlen;
	/*
	 * maildrop/: watched (inotify) for files users' sendmail leave there;
	 * one pickup process at a time takes them in, and another follows
	 * when more came while it ran.
	 */
	pid_t            pickup;              /* 0: none running */
	bool             pickup_again;        /* start one when it ends */
	long long        pickup_started;      /* log_clock_ms() */
	long long        pickup_due;          /* start one then; 0: none */
	/*
	 * The spare reception process (conn.c), 0 when none: while it waits
	 * the daemon leaves the listening sockets to it.  After a spare that
	 * could not accept, none until spare_pause (log_clock_ms()).
	 */
	pid_t            spare;
	int              spare_board;
	long long        spare_pause;
};

static void
on_signal(int sig)
{
	/* SIGCHLD only wakes ppoll: children are reaped on every pass. */
	if (sig == SIGHUP)
		got_hup = 1;
	else if (sig != SIGCHLD)
		got_term = 1;
}

static const int daemon_signals[] = { SIGHUP, SIGTERM, SIGINT, SIGCHLD };

static void daemon_pickup_ended(struct daemon *d, pid_t pid, int status);
static void daemon_spare_ended(struct daemon *d, int status);
static void daemon_spare_gone(struct daemon *d);
static void daemon_handoff_read(struct daemon *d);

void
daemon_child_init(const sigset_t *orig_mask, struct listener *ls,
	size_t nls, const int handoff[2])
{
	for (size_t i = 0; i < sizeof(daemon_signals) / sizeof(int); i++)
		signal(daemon_signals[i], SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, orig_mask, NULL);
	daemon_close_listeners(ls, nls);
	close(handoff[0]);
	if (maildrop_watch >= 0) {
		close(maildrop_watch);
		maildrop_watch = -1;
	}
	if (spare_stop_w >= 0) {
		close(spare_stop_w);
		spare_stop_w = -1;
	}
	deliver_set_handoff(handoff[1]);
}

/*
 * ppoll delivers a pending signal only when it sleeps: under a steady
 * load it returns ready descriptors at once and the signal stays pending.
 * Take pending ones here so that SIGTERM and SIGHUP are never starved.
 */
static void
daemon_take_pending_signals(void)
{
	static const struct timespec zero = { 0, 0 };
	sigset_t set;
	int sig;

	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(daemon_signals) / sizeof(int); i++)
		sigaddset(&set, daemon_signals[i]);
	while ((sig = sigtimedwait(&set, NULL, &zero)) > 0)
		on_signal(sig);
}

static void
daemon_signals_init(struct daemon *d)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < sizeof(daemon_signals) / sizeof(int); i++) {
		sigaction(daemon_signals[i], &sa, NULL);
		sigaddset(&block, daemon_signals[i]);
	}
	signal(SIGPIPE, SIG_IGN);
	/* Signals arrive only inside ppoll, so no flag is ever missed. */
	sigprocmask(SIG_BLOCK, &block, &d->orig_mask);
	d->child_mask = d->orig_mask;
	sigaddset(&d->child_mask, SIGCHLD);
}

/* "1h30m" as Exim prints times. */
static const char *
time_text(int secs)
{
	static const struct { int n; char c; } units[] = {
		{ 7 * 86400, 'w' }, { 86400, 'd' }, { 3600, 'h' }, { 60, 'm' },
		{ 1, 's' } };
	struct buf b;

	buf_init(&b, arena_scratch, 0);
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (secs >= units[i].n &&
		    !buf_printf(&b, "%d%c", secs / units[i].n, units[i].c))
			break;
		secs %= units[i].n;
	}
	return b.p;
}

static void
daemon_log_start(struct daemon *d)
{
	struct buf b;

	buf_init(&b, arena_scratch, 0);
	for (size_t i = 0; i < d->nls; i++)
		if (!buf_printf(&b, "%s%s", i ? " " : "", d->ls[i].addr))
			break;
	log_write(TERN_LOG_MAIN, NULL,
		"daemon started: pid=%d, %s%s, listening for SMTP on %s",
		(int)getpid(), d->queue_interval > 0 ? "-q" : "no queue runs",
		d->queue_interval > 0 ? time_text(d->queue_interval) : "", b.p);
	if (cfg.future_set != NULL)
		for (const char **o = cfg.future_set; *o != NULL; o++)
			log_write(TERN_LOG_MAIN, NULL,
				"warning: option \"%s\" is not implemented yet: ignored",
				*o);
}

static void
daemon_write_pid(struct daemon *d)
{
	FILE *f;

	d->pid_file = arena_printf(arena_perm, "%s/tern-daemon.pid",
		conf.spool_directory);
	f = fopen(d->pid_file, "w");
	if (f == NULL) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: cannot write %s: %m", d->pid_file);
		d->pid_file = NULL;
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0)
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: writing %s: %m", d->pid_file);
}

/* Bound: now leave the caller's terminal and process group. */
static void
daemon_detach(void)
{
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		tern_die("daemon: fork to detach: %m");
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
}

/*
 * Reap what has ended, and take off the table the reception processes
 * whose connection is over (the board, limits.c): before counting.
 */
static void
daemon_reap(struct daemon *d)
{
	pid_t pid;
	int status;

	d->nconn -= limits_collect();
	if (d->nconn < 0)
		d->nconn = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		bool runner = false, reception;

		if (pid == d->pickup) {
			daemon_pickup_ended(d, pid, status);
			continue;
		}
		if (pid == d->spare) {
			daemon_spare_ended(d, status);
			continue;
		}
		for (int i = 0; i < d->nrunners; i++)
			if (d->runners[i] == pid) {
				d->runners[i] = d->runners[--d->nrunners];
				runner = true;
				break;
			}
		reception = !runner && limits_remove(pid);
		if (reception && d->nconn > 0)
			d->nconn--;
		if (WIFSIGNALED(status))
			log_write(TERN_LOG_MAIN, NULL,
				"daemon: %s process %d ended by signal %d",
				runner ? "queue runner" : reception ? "reception" :
				"delivery", (int)pid, WTERMSIG(status));
	}
	d->children = !(pid < 0 && errno == ECHILD);
}

static void
daemon_queue_run(struct daemon *d)
{
	int max = conf.queue_run_max > 0 ? conf.queue_run_max :
		MAX_QUEUE_RUNNERS;
	pid_t pid;

	d->next_queue_run = time(NULL) + d->queue_interval;
	if (d->nrunners >= max || d->nrunners >= MAX_QUEUE_RUNNERS) {
		DEBUG("daemon: queue_run_max (%d) reached", max);
		return;
	}
	pid = fork();
	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: fork for a queue runner: %m");
		return;
	}
	if (pid == 0) {
		daemon_child_init(&d->orig_mask, d->ls, d->nls, d->handoff);
		_exit(queue_run(daemon_queue_flags) == 0 ? 0 : 1);
	}
	d->runners[d->nrunners++] = pid;
	d->children = true;
}

/*
 * The spare reception process.  At one client the path from the client's
 * connect to its 220 and EHLO went through the daemon's wake-up, accept
 * and fork; a spare is already running when the connection comes, and
 * the daemon forks the next one beside the session (bench/RESULTS.md,
 * thirty-first session).  Under load the daemon's own accept and fork,
 * which need no wake-up of a child per connection, keep up better: so a
 * spare only while few connections are open (limits_spare_allowed).
 */
static void
daemon_spare_start(struct daemon *d)
{
	int board_i, stop[2];
	pid_t pid;

	if (d->spare != 0 || !limits_spare_allowed(d->nconn) ||
	    (d->spare_pause != 0 && log_clock_ms() < d->spare_pause))
		return;
	if (pipe2(stop, O_CLOEXEC) != 0) {
		d->spare_pause = log_clock_ms() + SPARE_PAUSE_MS;
		return;
	}
	board_i = limits_board_take_spare();
	spare_stop_w = stop[1];
	fflush(NULL);
	pid = daemon_spare(d->ls, d->nls, &d->orig_mask, d->handoff, stop[0],
		board_i, d->nconn);
	close(stop[0]);
	if (pid < 0) {
		daemon_spare_gone(d);
		limits_board_release(board_i);
		d->spare_pause = log_clock_ms() + SPARE_PAUSE_MS;
		return;
	}
	d->spare = pid;
	d->spare_board = board_i;
	d->children = true;
}

/* The spare has a connection, or has ended: its stop pipe goes. */
static void
daemon_spare_gone(struct daemon *d)
{
	d->spare = 0;
	if (spare_stop_w >= 0) {
		close(spare_stop_w);
		spare_stop_w = -1;
	}
}

/*
 * "+PID ADDRESS": the spare took a connection from ADDRESS (and closed
 * the listening sockets); "!PID": it could not accept, and ends.
 */
static void
daemon_spare_said(struct daemon *d, const char *text, const char *host)
{
	char *end;
	long pid = strtol(text + 1, &end, 10);

	/* Not the spare: it ended, and was reaped, before we read this. */
	if (*end != '\0' || pid <= 0 || (pid_t)pid != d->spare)
		return;
	if (text[0] == '!') {
		d->spare_pause = log_clock_ms() + SPARE_PAUSE_MS;
		daemon_spare_gone(d); /* reaped as any other child */
		limits_board_release(d->spare_board);
		return;
	}
	if (host == NULL)
		return;
	daemon_spare_gone(d);
	d->nconn++;
	limits_add((pid_t)pid, host, d->spare_board);
}

/* Reaped before it said anything (or after "!PID": then not ours). */
static void
daemon_spare_ended(struct daemon *d, int status)
{
	limits_board_release(d->spare_board);
	daemon_spare_gone(d);
	if (WIFSIGNALED(status))
		log_write(TERN_LOG_MAIN, NULL, "daemon: spare reception "
			"process ended by signal %d", WTERMSIG(status));
}

/*
 * Before the listening sockets are closed for good (SIGTERM) or bound
 * again (SIGHUP's re-exec): the spare must let them go.  Closing the stop
 * pipe ends a spare that has no connection; one that has taken a
 * connection closed them right after its accept, and says so.
 */
static void
daemon_spare_stop(struct daemon *d)
{
	int status;

	if (d->spare <= 0)
		return;
	if (spare_stop_w >= 0) {
		close(spare_stop_w);
		spare_stop_w = -1;
	}
	for (int ms = 0; d->spare > 0 && ms < SPARE_STOP_MS; ms++) {
		if (waitpid(d->spare, &status, WNOHANG) == d->spare) {
			daemon_spare_ended(d, status);
			break;
		}
		daemon_handoff_read(d); /* "+PID": it has a client */
		if (d->spare > 0)
			usleep(1000);
	}
}

static void
daemon_accept(struct daemon *d, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64];
	const char *why, *queue_why;
	int port, fd, board_i;
	pid_t pid;

	fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
			log_write(TERN_LOG_MAIN, NULL,
				"daemon: accept on %s: %m", l->addr);
		return;
	}
	daemon_sockaddr_text(&ss, host, sizeof(host), &port);
	why = limits_check(host, d->nconn, &queue_why);
	if (why != NULL) {
		daemon_refuse(fd, why);
		return;
	}
	/* The reception process inherits it: smtp_accept_queue. */
	receive_queue_reason = queue_why;
	board_i = limits_board_take();
	pid = daemon_connection(fd, d->ls, d->nls, &d->orig_mask, d->handoff,
		board_i, daemon_greet(fd, l), d->nconn + 1);
	receive_queue_reason = NULL;
	if (pid > 0) {
		d->nconn++;
		d->children = true;
		limits_add(pid, host, board_i);
	} else {
		limits_board_release(board_i);
	}
}

/*
 * The pickup process: takes in what users left in maildrop/ and hands
 * each message's delivery to us.  It reads their files, so it keeps no
 * root, as a reception process.  At most one runs, and one starts at
 * most once a second, so that a user making files in a loop costs a
 * pickup a second; one that met a spool failure (the files stay) is
 * followed by another a minute later.
 */
#define PICKUP_SPACING_MS 1000
#define PICKUP_RETRY_MS   60000

static void
daemon_pickup(struct daemon *d)
{
	long long now = log_clock_ms();
	pid_t pid;

	if (d->pickup > 0) {
		/* Its end starts the next: nothing is due meanwhile, which
		 * would keep the loop from sleeping. */
		d->pickup_again = true;
		d->pickup_due = 0;
		return;
	}
	if (now - d->pickup_started < PICKUP_SPACING_MS) {
		if (d->pickup_due == 0 || d->pickup_due > d->pickup_started +
		    PICKUP_SPACING_MS)
			d->pickup_due = d->pickup_started + PICKUP_SPACING_MS;
		return;
	}
	d->pickup_again = false;
	d->pickup_due = 0;
	d->pickup_started = now;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: fork for the maildrop pickup: %m");
		d->pickup_due = now + PICKUP_RETRY_MS;
		return;
	}
	if (pid == 0) {
		daemon_child_init(&d->orig_mask, d->ls, d->nls, d->handoff);
		runtime_drop_privilege_for_good();
		_exit(maildrop_pickup(true) < 0 ? 1 : 0);
	}
	d->pickup = pid;
	d->children = true;
}

static void
daemon_pickup_ended(struct daemon *d, pid_t pid, int status)
{
	d->pickup = 0;
	if (WIFSIGNALED(status))
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "daemon: "
			"maildrop pickup process %d ended by signal %d",
			(int)pid, WTERMSIG(status));
	if (d->pickup_again)
		daemon_pickup(d);
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		d->pickup_due = log_clock_ms() + PICKUP_RETRY_MS;
}

/* A file was linked or moved into maildrop/: take it in. */
static void
daemon_maildrop_event(struct daemon *d)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(maildrop_watch, buf, sizeof(buf)) > 0)
		;
	daemon_pickup(d);
}

static void
daemon_maildrop_init(struct daemon *d)
{
	const char *dir = spool_maildrop_dir();

	maildrop_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (maildrop_watch < 0 || inotify_add_watch(maildrop_watch, dir,
	    IN_CREATE | IN_MOVED_TO) < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"daemon: cannot watch %s: %m (its files wait for "
			"queue runs)", dir);
		if (maildrop_watch >= 0)
			close(maildrop_watch);
		maildrop_watch = -1;
	}
	d->pickup_started = -PICKUP_SPACING_MS;
	if (maildrop_waiting())
		daemon_pickup(d); /* what came while no daemon ran */
}

/*
 * A delivery process for a message a reception process accepted; slot
 * (or NULL): the message is still parked in pool/slot, and the delivery
 * process takes it there once the reception has let it go.
 */
static void
daemon_deliver(struct daemon *d, const char *id, const char *slot)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id,
			"fork for delivery failed (message stays queued): %m");
		return;
	}
	if (pid == 0) {
		daemon_child_init(&d->orig_mask, d->ls, d->nls, d->handoff);
		/* -2: a queue run's sweep was first; found by its id. */
		if (slot != NULL && spool_reuse_adopt(id, slot) == -1)
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "cannot "
				"take pool/%s for delivery: %m (it waits for "
				"a queue run)", slot);
		deliver_detached(id, false, DELIVER_HANDED); /* no sockets */
	}
	d->children = true;
}

/*
 * "-PID": reception process PID is done with its connection and goes on
 * to deliver its last message itself (receive_take_held): it counts no
 * more against smtp_accept_max and the per-host limits.  Only one of our
 * reception processes is taken off; the reaping later finds it gone.
 */
static void
daemon_connection_over(struct daemon *d, const char *text)
{
	char *end;
	long pid = strtol(text, &end, 10);

	if (*end != '\0' || pid <= 0 || !limits_remove((pid_t)pid))
		return;
	if (d->nconn > 0)
		d->nconn--;
}

/* Read the ids reception processes handed over; deliver each. */
static void
daemon_handoff_read(struct daemon *d)
{
	for (;;) {
		ssize_t n = read(d->handoff[0], d->hbuf + d->hlen,
			sizeof(d->hbuf) - 1 - d->hlen);
		char *p, *sp;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EAGAIN: all read */
		d->hlen += (size_t)n;
		while ((p = memchr(d->hbuf, '\n', d->hlen)) != NULL) {
			*p = '\0';
			sp = strchr(d->hbuf, ' ');
			if (sp != NULL)
				*sp++ = '\0'; /* "ID SLOT" (deliver_start), "+PID HOST" */
			if (spool_id_valid(d->hbuf))
				daemon_deliver(d, d->hbuf, sp);
			else if (d->hbuf[0] == '+' || d->hbuf[0] == '!')
				daemon_spare_said(d, d->hbuf, sp);
			else if (d->hbuf[0] == '-')
				daemon_connection_over(d, d->hbuf + 1);
			else
				log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
					"daemon: bad id on the handoff pipe");
			d->hlen -= (size_t)(p + 1 - d->hbuf);
			memmove(d->hbuf, p + 1, d->hlen);
		}
		if (d->hlen == sizeof(d->hbuf) - 1)
			d->hlen = 0; /* no line this long is an id */
	}
}

/*
 * The handoff pipe: inherited from the image that re-executed us (so
 * that reception processes started before a SIGHUP still reach the
 * daemon), or new.  Read end non-blocking; write end blocking.
 */
static void
daemon_handoff_init(struct daemon *d, bool reexec)
{
	/* Only our own re-exec passes the pipe on. */
	const char *env = reexec ? getenv(DAEMON_HANDOFF_ENV) : NULL;
	int r, w;
	struct stat st;

	if (env != NULL && sscanf(env, "%d,%d", &r, &w) == 2 &&
	    fstat(r, &st) == 0 && S_ISFIFO(st.st_mode) &&
	    fstat(w, &st) == 0 && S_ISFIFO(st.st_mode)) {
		d->handoff[0] = r;
		d->handoff[1] = w;
		fcntl(r, F_SETFD, FD_CLOEXEC);
		fcntl(w, F_SETFD, FD_CLOEXEC);
	} else if (pipe2(d->handoff, O_CLOEXEC) != 0) {
		tern_die("daemon: cannot create the handoff pipe: %m");
	}
	unsetenv(DAEMON_HANDOFF_ENV);
	fcntl(d->handoff[0], F_SETFL, O_NONBLOCK);
}

static _Noreturn void
daemon_reexec(struct daemon *d)
{
	char fds[32];

	log_write(TERN_LOG_MAIN, NULL, "pid %d: SIGHUP received: re-exec",
		(int)getpid());
	daemon_spare_stop(d);
	daemon_close_listeners(d->ls, d->nls);
	sigprocmask(SIG_SETMASK, &d->orig_mask, NULL);
	for (size_t i = 0; i < sizeof(daemon_signals) / sizeof(int); i++)
		signal(daemon_signals[i], SIG_DFL);
	/* Already detached: the new image must not fork again. */
	setenv(DAEMON_REEXEC_ENV, "1", 1);
	/* Ids still to come from running reception processes: keep the pipe. */
	daemon_handoff_read(d);
	snprintf(fds, sizeof(fds), "%d,%d", d->handoff[0], d->handoff[1]);
	fcntl(d->handoff[0], F_SETFD, 0);
	fcntl(d->handoff[1], F_SETFD, 0);
	setenv(DAEMON_HANDOFF_ENV, fds, 1);
	/* The new image binds the ports again, which needs root back. */
	(void)runtime_regain_root();
	execv(rt.self_exe, d->argv);
	tern_die("daemon: re-exec of %s failed: %m", rt.self_exe);
}

static _Noreturn void
daemon_terminate(struct daemon *d)
{
	log_write(TERN_LOG_MAIN, NULL, "pid %d: SIGTERM received: daemon exiting",
		(int)getpid());
	daemon_spare_stop(d);
	daemon_close_listeners(d->ls, d->nls);
	if (d->pid_file != NULL)
		unlink(d->pid_file);
	exit(0);
}

static int
daemon_timeout_ms(const struct daemon *d)
{
	time_t now;
	int ms = -1;

	if (d->queue_interval > 0) {
		now = time(NULL);
		ms = d->next_queue_run <= now ? 0 :
			(int)(d->next_queue_run - now) * 1000;
	}
	if (d->pickup_due != 0) {
		long long wait = d->pickup_due - log_clock_ms();

		if (wait < 0)
			wait = 0;
		if (ms < 0 || wait < ms)
			ms = (int)wait;
	}
	return ms;
}

/*
 * For tern-what: "tern: daemon: listening on ADDR ...; N connections".
 * Rewritten only when a count changed: the loop passes once per event.
 */
static void
daemon_title(const struct daemon *d)
{
	static int last_conn = -1, last_runners = -1;
	struct buf b;

	if (d->nconn == last_conn && (d->nrunners > 0) == last_runners)
		return;
	last_conn = d->nconn;
	last_runners = d->nrunners > 0;
	buf_init(&b, arena_scratch, 0);
	for (size_t i = 0; i < d->nls; i++)
		if (!buf_printf(&b, "%s%s", i ? " " : "", d->ls[i].addr))
			break;
	proctitle_set("tern: daemon: listening on %s; %d connection%s%s",
		b.p != NULL ? b.p : "", d->nconn, d->nconn == 1 ? "" : "s",
		d->nrunners > 0 ? "; queue runner active" : "");
}

static _Noreturn void
daemon_loop(struct daemon *d)
{
	struct pollfd pfd[DAEMON_MAX_LISTENERS + 2];

	if (d->nls > DAEMON_MAX_LISTENERS)
		tern_die("daemon: more than %d listening sockets",
			DAEMON_MAX_LISTENERS);
	for (size_t i = 0; i < d->nls; i++)
		pfd[i] = (struct pollfd){ .fd = d->ls[i].fd, .events = POLLIN };
	pfd[d->nls] = (struct pollfd){ .fd = d->handoff[0], .events = POLLIN };
	/* A negative fd is skipped by poll. */
	pfd[d->nls + 1] = (struct pollfd){ .fd = maildrop_watch,
		.events = POLLIN };
	for (;;) {
		struct timespec ts, *tsp = NULL;
		int ms, n;

		arena_reset(arena_scratch);
		daemon_take_pending_signals();
		if (got_term)
			daemon_terminate(d);
		if (got_hup)
			daemon_reexec(d);
		if (d->queue_interval > 0 && time(NULL) >= d->next_queue_run)
			daemon_queue_run(d);
		if (d->pickup_due != 0 && log_clock_ms() >= d->pickup_due)
			daemon_pickup(d);
		daemon_spare_start(d);
		/* A negative fd is skipped: the spare has them. */
		for (size_t i = 0; i < d->nls; i++)
			pfd[i].fd = d->spare > 0 ? -1 : d->ls[i].fd;
		daemon_title(d);
		ms = daemon_timeout_ms(d);
		/*
		 * A child's end need not wake the daemon: every pass reaps, so
		 * SIGCHLD stays blocked while children run, and a pass comes at
		 * least once a second then (one wake-up per connection, the
		 * accept, instead of three).
		 */
		if (d->children && (ms < 0 || ms > CHILD_REAP_MS))
			ms = CHILD_REAP_MS;
		if (ms >= 0) {
			ts = (struct timespec){ ms / 1000,
				(long)(ms % 1000) * 1000000 };
			tsp = &ts;
		}
		n = ppoll(pfd, d->nls + 2, tsp,
			d->children ? &d->child_mask : &d->orig_mask);
		/*
		 * Reap on every pass, not only after a SIGCHLD, and before
		 * the accept counts the connections: unreaped reception
		 * processes would count against smtp_accept_max.
		 */
		daemon_reap(d);
		if (n <= 0)
			continue;
		if (pfd[d->nls].revents & POLLIN)
			daemon_handoff_read(d);
		if (pfd[d->nls + 1].revents & POLLIN)
			daemon_maildrop_event(d);
		for (size_t i = 0; i < d->nls; i++)
			if (pfd[i].revents & POLLIN)
				daemon_accept(d, &d->ls[i]);
	}
}

int
daemon_run(const char *ports_override, int queue_interval, char **argv)
{
	static struct daemon d;
	const char *ports = ports_override != NULL ? ports_override :
		conf.daemon_smtp_ports != NULL ? conf.daemon_smtp_ports : "25";
	bool reexec = getenv(DAEMON_REEXEC_ENV) != NULL;

	unsetenv(DAEMON_REEXEC_ENV);
	d.queue_interval = queue_interval;
	d.argv = argv != NULL ? argv : rt.argv;
	if (daemon_listen(tls_listen_ports(ports), &d.ls, &d.nls) != 0)
		return 1;
	if (!daemon_foreground && !reexec)
		daemon_detach();
	/*
	 * Ports bound: run as tern_user from here on.  Root stays only as the
	 * saved set-user-id, for the delivery processes the daemon starts
	 * (queue runs, the deliveries it starts for reception processes) to
	 * become a recipient.
	 */
	runtime_drop_privilege();
	deliver_note_terminal();
	daemon_handoff_init(&d, reexec);
	limits_board_init(conf.smtp_accept_max > 0 ?
		(size_t)conf.smtp_accept_max : BOARD_UNLIMITED);
	daemon_signals_init(&d);
	daemon_write_pid(&d);
	daemon_log_start(&d);
	daemon_maildrop_init(&d);
	d.next_queue_run = time(NULL); /* the first queue run starts now */
	daemon_loop(&d);
}
