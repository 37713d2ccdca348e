/*
 * -q: one pass over the queue.  One delivery process per message, one at
 * a time, in random order unless queue_run_in_order is set.
 */
#include "deliver/deliver.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "log/log.h"
#include "spool/spool.h"

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

int
queue_run(unsigned flags)
{
	long pid = (long)getpid();
	char **ids = NULL, *err = NULL;
	size_t n = 0;

	signal(SIGCHLD, SIG_DFL);
	log_write(TERN_LOG_MAIN, NULL, "Start queue run: pid=%ld%s", pid,
		(flags & DELIVER_FROZEN) ? " -qff" :
		(flags & DELIVER_FORCE) ? " -qf" : "");
	if (spool_list(&ids, &n, conf.queue_run_in_order, &err) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"queue run: %s", err);
		return 1;
	}
	if (!conf.queue_run_in_order)
		shuffle(ids, n);
	for (size_t i = 0; i < n; i++)
		deliver_one(ids[i], flags);
	log_write(TERN_LOG_MAIN, NULL, "End queue run: pid=%ld%s", pid,
		(flags & DELIVER_FROZEN) ? " -qff" :
		(flags & DELIVER_FORCE) ? " -qf" : "");
	return 0;
}
