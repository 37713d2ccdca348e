/*
 * A delivery process: lock and read one message, route its recipients,
 * run the transports, bounce what failed, then either remove the message
 * ("Completed") or write back what is done.
 */
#include "deliver/deliver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver_int.h"
#include "deliver/remote.h"
#include "lib/arena.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "spool/spool.h"

enum { OUT_OK = 1, OUT_FAIL = 2, OUT_DEFER = 4 };

/* What became of a: OUT_* bits over it and everything it generated. */
static unsigned
outcome(const struct delivery *d, const struct address_item *a, int depth)
{
	unsigned mask = 0;

	if (depth > 2 * MAX_ALIAS_DEPTH + 10)
		return OUT_DEFER;
	if (a->dup_of != NULL)
		return outcome(d, a->dup_of, depth + 1);
	switch (a->rc) {
	case TERN_OK:
		return OUT_OK;
	case TERN_FAIL:
		return OUT_FAIL;
	case ADDR_EXPANDED:
		for (const struct address_item *c = d->all; c != NULL;
		    c = c->all_next)
			if (c->parent_item == a)
				mask |= outcome(d, c, depth + 1);
		return mask != 0 ? mask : OUT_OK;
	default:
		return OUT_DEFER;
	}
}

const char *
deliver_queue_time(const struct message *m)
{
	struct timeval now, since;
	long long ms;

	gettimeofday(&now, NULL);
	if (spool_id_time(m->id, &since) != 0) {
		since.tv_sec = m->received;
		since.tv_usec = 0;
	}
	ms = (long long)(now.tv_sec - since.tv_sec) * 1000 +
		(now.tv_usec - since.tv_usec) / 1000;
	return arena_printf(arena_msg, " QT=%s", log_duration(ms));
}

/* Bounce the failures; true when they are dealt with. */
static bool
handle_failures(struct delivery *d)
{
	struct address_item **failed;
	size_t n = 0;
	char *err = NULL;

	for (struct address_item *a = d->all; a != NULL; a = a->all_next)
		if (a->rc == TERN_FAIL && a->dup_of == NULL)
			n++;
	if (n == 0)
		return true;
	failed = arena_zalloc(arena_msg, (n + 1) * sizeof(*failed));
	n = 0;
	for (struct address_item *a = d->all; a != NULL; a = a->all_next)
		if (a->rc == TERN_FAIL && a->dup_of == NULL)
			failed[n++] = a;
	if (bounce_send(d, failed) != 0)
		return false;
	/* Bounced children must not bounce again if the message stays. */
	for (size_t i = 0; i < n; i++)
		if (failed[i]->parent_item != NULL &&
		    spool_journal_add(d->msg, failed[i]->key, &err) != 0)
			dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "%s", err);
	return true;
}

/* An old bounce's failures (ignore_bounce_errors_after): no more tries. */
static bool
discard_failures(struct delivery *d)
{
	for (struct address_item *a = d->all; a != NULL; a = a->all_next)
		if (a->rc == TERN_FAIL && a->dup_of == NULL)
			dlog(d, TERN_LOG_MAIN, "bounce message discarded: %s",
				addr_log_name(a));
	return true;
}

/* Mark finished recipients; true when every recipient is done. */
static bool
mark_done(struct delivery *d, bool failures_handled)
{
	struct message *m = d->msg;
	bool all_done = true;

	for (size_t i = 0; i < m->nrcpts; i++) {
		unsigned mask = 0;

		if (m->rcpts[i].done)
			continue;
		for (struct address_item *a = d->all; a != NULL; a = a->all_next)
			if (a->parent_item == NULL && a->rcpt_index == (long)i)
				mask |= outcome(d, a, 0);
		if (mask != 0 && !(mask & OUT_DEFER) &&
		    (!(mask & OUT_FAIL) || failures_handled))
			m->rcpts[i].done = true;
		else
			all_done = false;
	}
	return all_done;
}

static void
deliver_finish(struct delivery *d)
{
	struct message *m = d->msg;
	bool handled = d->discard_failures ? discard_failures(d) :
		handle_failures(d);
	bool tell = false;
	char *err = NULL;

	if (mark_done(d, handled) && !d->freeze) {
		if (spool_remove(m, &err) != 0)
			dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "%s", err);
		log_write(TERN_LOG_MAIN, m->id, "Completed%s",
			LOG_SEL(queue_time_overall) ? deliver_queue_time(m) : "");
		return;
	}
	if (d->freeze && !m->frozen) {
		m->frozen = true;
		if (d->freeze_reason != NULL)
			dlog(d, TERN_LOG_MAIN, "Frozen (%s)", d->freeze_reason);
		else
			dlog(d, TERN_LOG_MAIN, "Frozen");
		tell = true;
	} else if (!m->frozen) {
		bounce_delay_warning(d);
	}
	if (spool_update(m, &err) != 0)
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "%s", err);
	if (tell)
		bounce_freeze_tell(d, d->freeze_reason != NULL ?
			d->freeze_reason : "delivery error");
}

/* timeout_frozen_after: every address left fails without a try. */
static void
cancel_all(struct delivery *d)
{
	for (struct address_item *a = d->queue; a != NULL; a = a->next) {
		addr_result(a, TERN_FAIL, "delivery cancelled: message frozen "
			"for longer than timeout_frozen_after");
		dlog(d, TERN_LOG_MAIN, "** %s%s: %s", addr_log_name(a),
			addr_log_from(d, false), a->pub.message);
	}
	d->queue = NULL;
	d->queue_tail = &d->queue;
}

/* One recipient into the delivery; a bad address fails at once. */
static void
add_recipient(struct delivery *d, size_t i)
{
	const char *text = d->msg->rcpts[i].address;
	const char *qualify = conf.qualify_recipient != NULL ?
		conf.qualify_recipient : conf.qualify_domain;
	char *err = NULL;
	struct address_item *a = addr_new(TERN_ADDR_MAIL, text, qualify, &err);

	if (a == NULL) {
		a = addr_new(TERN_ADDR_PIPE, text, NULL, &err); /* a bare item */
		a->pub.kind = TERN_ADDR_MAIL;
		addr_result(a, TERN_FAIL, "%s", err != NULL ? err : "bad address");
		dlog(d, TERN_LOG_MAIN, "** %s%s: %s", text,
			addr_log_from(d, false), a->pub.message);
	}
	route_add_top(d, a, (long)i);
}

/* DELIVER_HANDED: how long a lock held by another process is waited for. */
#define HANDED_WAIT_MS 200

/*
 * A DELIVER_NO_ROOT delivery that needs root ends here: a parked message
 * stays open and parked for deliver_start to hand over by its pool/ slot
 * (no rename); anything else is closed.
 */
static void
keep_for_handover(struct message *m)
{
	if (m->data_fd >= 0 && spool_parked_slot(m->id) != NULL)
		m->data_fd = -1; /* still in the open-file table */
	else
		spool_close(m);
}

int
deliver_message(const char *id, unsigned flags)
{
	struct message *m = arena_zalloc(arena_msg, sizeof(*m));
	struct delivery d;
	char *err = NULL;
	int rc;

	signal(SIGCHLD, SIG_DFL); /* we wait for transport children */
	proctitle_set("tern: delivering %s", id);
	rc = spool_read_wait(id, m, (flags & DELIVER_HANDED) ?
		HANDED_WAIT_MS : 0, &err);
	if (rc < 0 && errno == ENOENT && m->other_id[0] != '\0') {
		/* Another message was here (docs/spool.md, "What a crash
		 * leaves behind"), and is under its own name now. */
		id = arena_strdup(arena_msg, m->other_id);
		proctitle_set("tern: delivering %s", id);
		rc = spool_read(id, m, true, &err);
	}
	if (rc == 1 || (rc < 0 && errno == ENOENT)) {
		DEBUG("%s: locked by another process or gone", id);
		/* skip_delivery, in Exim's words; not for a message handed
		 * over, whose lock the process that handed it may still
		 * hold for a moment. */
		if (rc == 1 && LOG_SEL(skip_delivery) &&
		    !(flags & DELIVER_HANDED))
			log_write(TERN_LOG_MAIN, id, "Spool file for %s is locked "
				"(another process is handling this message)", id);
		return 1;
	}
	if (rc < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "%s", err);
		return 2;
	}
	delivery_init(&d);
	d.msg = m;
	d.sender = m->sender;
	d.host_address = m->host_address;
	d.flags = flags;
	if (flags & DELIVER_NO_ROOT) {
		if (m->frozen) {
			keep_for_handover(m);
			return 3;
		}
		/* Other messages down our connections may need root. */
		remote_no_continuation();
		dlog_hold(&d);
	}
	if (m->frozen && !(flags & DELIVER_FROZEN) &&
	    !deliver_frozen_timers(&d)) {
		DEBUG("%s: frozen", id);
		if (LOG_SEL(skip_delivery))
			log_write(TERN_LOG_MAIN, id, "Message is frozen");
		spool_close(m);
		return 0;
	}
	if (m->frozen) {
		m->frozen = false;
		log_write(TERN_LOG_MAIN, id, "Unfrozen by forced delivery");
	}
	for (size_t i = 0; i < m->nrcpts; i++)
		if (!m->rcpts[i].done)
			add_recipient(&d, i);
	if (d.cancel)
		cancel_all(&d);
	route_all(&d);
	retry_filter_routed(&d);
	if (flags & DELIVER_NO_ROOT) {
		if (transport_needs_root(&d)) {
			dlog_drop(&d);
			keep_for_handover(m);
			return 3;
		}
		dlog_release(&d);
	}
	transport_run_all(&d);
	retry_after_transports(&d);
	deliver_finish(&d);
	spool_close(m);
	return 0;
}

/*
 * Close the sockets among the descriptors that are open, as listed by
 * /proc/self/fd: probing every number up to RLIMIT_NOFILE with fstat()
 * cost tens of thousands of system calls per delivery.  -1 when /proc
 * cannot be read.
 */
static int
close_inherited_sockets(void)
{
	int fds[256];
	size_t n = 0;
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	struct stat st;
	bool more = true;

	if (dir == NULL)
		return -1;
	/* Collect first: closing while reading the directory would skip entries. */
	while (more) {
		n = 0;
		more = false;
		rewinddir(dir);
		while ((e = readdir(dir)) != NULL) {
			char *end;
			long fd = strtol(e->d_name, &end, 10);

			if (*end != '\0' || end == e->d_name || fd < 3 ||
			    fd == dirfd(dir))
				continue;
			if (n == sizeof(fds) / sizeof(fds[0])) {
				more = true;
				break;
			}
			if (fstat((int)fd, &st) == 0 && S_ISSOCK(st.st_mode))
				fds[n++] = (int)fd;
		}
		for (size_t i = 0; i < n; i++)
			close(fds[i]);
	}
	closedir(dir);
	return 0;
}

/*
 * A delivery process must not keep the SMTP connection (or a listening
 * socket) open: stdin/stdout go to /dev/null, and every inherited socket
 * is closed.  Log and spool files are regular files and stay.
 */
static void
detach_fds(bool sockets)
{
	struct rlimit rl;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int max = 1024;
	struct stat st;

	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
		if (fstat(2, &st) == 0 && S_ISSOCK(st.st_mode))
			dup2(null, 2);
		if (null > 2)
			close(null);
	}
	if (!sockets || close_inherited_sockets() == 0)
		return;
	/* No /proc: probe every possible descriptor, as a last resort. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 65536)
		max = (int)rl.rlim_cur;
	for (int fd = 3; fd < max; fd++)
		if (fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode))
			close(fd);
}

static int on_terminal = -1; /* deliver_note_terminal; -1: not yet known */

void
deliver_note_terminal(void)
{
	int tty = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);

	on_terminal = tty >= 0;
	if (tty >= 0)
		close(tty);
}

/*
 * Out of the caller's process group, so that a signal to it (a ^C at the
 * terminal, a kill of the daemon's group) does not stop a delivery half
 * way.  A new session only when there is a terminal to leave (sendmail
 * run by hand: its hang-up, job control, SIGTTOU on output): where
 * sessions are scheduler groups (autogroups), every new session costs a
 * group made and freed, and would give each delivery the CPU share of a
 * whole session, against the reception processes sharing the daemon's
 * (bench/RESULTS.md).
 */
static void
detach_group(void)
{
	if (on_terminal < 0)
		deliver_note_terminal();
	if (on_terminal)
		setsid();
	else
		(void)setpgid(0, 0); /* EPERM: a session leader leads its group */
}

static int handoff_fd = -1; /* deliver_set_handoff */
static int *over_flag;      /* deliver_set_over_flag */

void
deliver_detached(const char *id, bool sockets, unsigned flags)
{
	char copy[MESSAGE_ID_LEN + 1];
	int rc;

	snprintf(copy, sizeof(copy), "%s", id);
	detach_group();
	detach_fds(sockets);
	arena_reset(arena_msg);
	arena_reset(arena_scratch);
	rc = deliver_message(copy, flags);
	if (rc == 3)
		deliver_start(copy); /* needs root: the daemon starts it */
	_exit(rc == 2 ? 1 : 0);
}

void
deliver_set_over_flag(int *flag)
{
	over_flag = flag;
}

bool
deliver_handoff_line(const char *line, size_t len)
{
	ssize_t w;

	if (handoff_fd < 0)
		return false;
	do
		w = write(handoff_fd, line, len);
	while (w < 0 && errno == EINTR);
	return w == (ssize_t)len;
}

void
deliver_connection_over(void)
{
	char line[32];
	int n;

	if (over_flag != NULL) {
		deliver_share_over(over_flag);
		over_flag = NULL;
		return;
	}
	n = snprintf(line, sizeof(line), "-%ld\n", (long)getpid());
	(void)deliver_handoff_line(line, (size_t)n);
}

bool
deliver_without_root_possible(void)
{
	if (!rt.started_as_root)
		return true;
	return rt.tern_uid != 0 && !route_may_need_root();
}


static void
on_sigpipe(int sig)
{
	(void)sig;
}

void
deliver_set_handoff(int fd)
{
	/* A handler rather than SIG_IGN: exec resets it for programs run. */
	struct sigaction sa = { .sa_handler = on_sigpipe };

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGPIPE, &sa, NULL);
	handoff_fd = fd;
}

bool
deliver_has_handoff(void)
{
	return handoff_fd >= 0;
}

void
deliver_start(const char *id)
{
	char line[MESSAGE_ID_LEN + 1 + 16 + 1]; /* "ID SLOT\n": slot[16] */
	const char *slot = spool_parked_slot(id);
	size_t n = strlen(id);
	uid_t ru, eu, su;
	int e, len;

	if (handoff_fd < 0) {
		spool_unpark(id); /* found by its id from here on */
		deliver_fork(id);
		return;
	}
	/* The daemon starts it (see daemon/daemon.c). */
	if (n > MESSAGE_ID_LEN) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"not a message id, not handed over: %s", id);
		return;
	}
	/*
	 * Parked here: "ID SLOT", and it is let go (no name in input/, no
	 * rename); the daemon's delivery process takes it from pool/SLOT
	 * (spool_reuse_adopt).  One line below PIPE_BUF: written whole,
	 * never interleaved.
	 */
	len = slot != NULL ? snprintf(line, sizeof(line), "%s %s\n", id, slot) :
		snprintf(line, sizeof(line), "%s\n", id);
	if (deliver_handoff_line(line, (size_t)len)) {
		spool_let_go(id);
		return;
	}
	e = errno;
	spool_unpark(id);
	/* No daemon: a process that can still start it with root does. */
	if (!rt.started_as_root || (getresuid(&ru, &eu, &su) == 0 && su == 0)) {
		deliver_fork(id);
		return;
	}
	errno = e;
	log_write(TERN_LOG_MAIN, id, "cannot hand the message over for "
		"delivery (it waits for a queue run): %m");
}

void
deliver_fork(const char *id)
{
	char copy[MESSAGE_ID_LEN + 1];
	pid_t pid;
	int status;

	snprintf(copy, sizeof(copy), "%s", id);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, copy,
			"fork for delivery failed (message stays queued): %m");
		return;
	}
	if (pid == 0) {
		/* Double fork: the delivery process is nobody's zombie. */
		pid_t gc = fork();

		if (gc != 0)
			_exit(gc < 0 ? 1 : 0);
		deliver_detached(copy, true, 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
