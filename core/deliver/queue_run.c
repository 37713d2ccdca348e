/*
 * -q: one pass over the queue.  One delivery process per message, one at
 * a time, in random order unless queue_run_in_order is set.
 */
#include "deliver/deliver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/load.h"
#include "lib/arena.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "receive/maildrop.h"
#include "spool/spool.h"

const char *queue_run_select;

static void
shuffle(char **ids, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = arc4random_uniform((uint32_t)i);
		char *t = ids[i - 1];

		ids[i - 1] = ids[j];
		ids[j] = t;
	}
}

static void
deliver_one(const char *id, unsigned flags)
{
	char copy[MESSAGE_ID_LEN + 1];
	pid_t pid;
	int status;

	snprintf(copy, sizeof(copy), "%s", id);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, copy,
			"queue run: fork failed: %m");
		return;
	}
	if (pid == 0) {
		arena_reset(arena_msg);
		_exit(deliver_message(copy, flags) == 2 ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/*
 * -R: has *idp an undelivered recipient containing queue_run_select?  A
 * file that holds another message than its name says is moved to that
 * message's name first (as the delivery of a plain run would), and *idp
 * becomes that message's id.
 */
static bool
selected(char **idp)
{
	struct arena_mark mk = arena_mark(arena_msg);
	struct message m;
	char *err = NULL;
	bool yes = false;
	int rc;

	if (queue_run_select == NULL)
		return true;
	rc = spool_read(*idp, &m, false, &err);
	if (rc < 0 && errno == ENOENT && m.other_id[0] != '\0') {
		rc = spool_read(*idp, &m, true, &err); /* moves it */
		if (rc < 0 && errno == ENOENT && m.other_id[0] != '\0') {
			*idp = arena_strdup(arena_perm, m.other_id);
			rc = spool_read(*idp, &m, false, &err);
		}
	}
	if (rc != 0) {
		arena_release(arena_msg, mk);
		return false;
	}
	for (size_t i = 0; i < m.nrcpts && !yes; i++)
		yes = !m.rcpts[i].done &&
			strcasestr(m.rcpts[i].address, queue_run_select) != NULL;
	spool_close(&m);
	arena_release(arena_msg, mk);
	return yes;
}

/* " -qqff -R dom" for the log lines. */
static const char *
run_label(unsigned flags)
{
	return arena_printf(arena_scratch, "%s%s%s%s",
		(flags & (DELIVER_TWO_PASS | DELIVER_FORCE)) ? " -q" : "",
		(flags & DELIVER_TWO_PASS) ? "q" : "",
		(flags & DELIVER_FROZEN) ? "ff" : (flags & DELIVER_FORCE) ? "f" :
		"", queue_run_select != NULL ? arena_printf(arena_scratch,
		" -R %s", queue_run_select) : "");
}

/* One pass; false when deliver_queue_load_max stopped it. */
static bool
one_pass(char **ids, size_t n, unsigned flags)
{
	double load;

	for (size_t i = 0; i < n; i++) {
		if (load_exceeds(conf.deliver_queue_load_max, &load)) {
			log_write(TERN_LOG_MAIN, NULL, "queue run: load average "
				"%.2f above deliver_queue_load_max: no more "
				"deliveries in this run", load);
			return false;
		}
		if (ids[i] != NULL)
			deliver_one(ids[i], flags);
	}
	return true;
}

/*
 * What users left in maildrop/ joins the queue before it is listed, so
 * that this pass delivers it: for a host without a daemon, or a file the
 * daemon's pickup could not take.  In a child that keeps no root, as
 * the daemon's pickup process.
 */
static void
take_in_maildrop(void)
{
	pid_t pid;
	int status;

	if (!maildrop_waiting())
		return;
	fflush(NULL);
	if ((pid = fork()) < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"queue run: fork for the maildrop pickup: %m");
		return;
	}
	if (pid == 0) {
		runtime_drop_privilege_for_good();
		(void)maildrop_pickup(false);
		_exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

int
queue_run(unsigned flags)
{
	long pid = (long)getpid();
	char **ids = NULL, *err = NULL;
	const char *label = run_label(flags);
	unsigned deliver_flags = flags & ~DELIVER_TWO_PASS;
	size_t n = 0;

	signal(SIGCHLD, SIG_DFL);
	label = arena_strdup(arena_msg, label);
	proctitle_set("tern: running queue%s", label);
	if (LOG_SEL(queue_run))
		log_write(TERN_LOG_MAIN, NULL, "Start queue run: pid=%ld%s", pid,
			label);
	spool_reuse_recover();
	take_in_maildrop();
	if (spool_list(&ids, &n, conf.queue_run_in_order, &err) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"queue run: %s", err);
		return 1;
	}
	if (!conf.queue_run_in_order)
		shuffle(ids, n);
	for (size_t i = 0; i < n; i++)
		if (!selected(&ids[i]))
			ids[i] = NULL;
	if (!(flags & DELIVER_TWO_PASS) ||
	    one_pass(ids, n, deliver_flags | DELIVER_QUEUE_SMTP))
		(void)one_pass(ids, n, deliver_flags);
	if (LOG_SEL(queue_run))
		log_write(TERN_LOG_MAIN, NULL, "End queue run: pid=%ld%s", pid,
			label);
	return 0;
}
