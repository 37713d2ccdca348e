/* What happens to a message right after it was spooled. */
#include "receive/receive.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/load.h"
#include "deliver/deliver.h"
#include "log/log.h"
#include "log/selector.h"
#include "spool/spool.h"

char receive_delivery_mode = 'b';
const char *receive_queue_reason;

/* -odi: deliver in a child and wait for it, so the caller sees it done. */
static void
deliver_and_wait(const char *id)
{
	pid_t pid = fork();
	int status;

	if (pid < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id,
			"fork for delivery failed: %m");
		return;
	}
	if (pid == 0)
		_exit(deliver_message(id, 0));
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

/*
 * Why a message just received is to wait for a queue run instead of
 * being delivered now (logged "no immediate delivery: ..."), or NULL.
 */
static const char *
queue_reason(void)
{
	static int count; /* messages received by this process */
	double load;

	count++;
	if (receive_queue_reason != NULL)
		return receive_queue_reason;
	if (conf.smtp_accept_queue_per_connection > 0 &&
	    count > conf.smtp_accept_queue_per_connection)
		return "more than smtp_accept_queue_per_connection messages "
			"received in one connection";
	if (load_exceeds(conf.queue_only_load, &load))
		return "load average above queue_only_load";
	return NULL;
}

void
receive_start_delivery(const char *id)
{
	const char *why;

	if (conf.queue_only || receive_delivery_mode == 'q') {
		spool_unpark(id); /* for the queue run */
		return;
	}
	if ((why = queue_reason()) != NULL) {
		if (LOG_SEL(delay_delivery))
			log_write(TERN_LOG_MAIN, id,
				"no immediate delivery: %s", why);
		spool_unpark(id);
		return;
	}
	receive_deliver_now(id);
}

static bool hold_enabled;
static char held[MESSAGE_ID_LEN + 1];

/* tern_die: what this process held goes to the daemon after all. */
static void
release_at_exit(void)
{
	receive_release();
}

void
receive_hold_enable(void)
{
	hold_enabled = deliver_has_handoff();
	if (hold_enabled)
		(void)atexit(release_at_exit);
}

bool
receive_may_hold(void)
{
	return hold_enabled;
}

bool
receive_holding(void)
{
	return held[0] != '\0';
}

void
receive_release(void)
{
	if (held[0] == '\0')
		return;
	deliver_start(held); /* by its pool/ slot, or named in input/ */
	held[0] = '\0';
}

const char *
receive_take_held(void)
{
	static char id[MESSAGE_ID_LEN + 1];

	if (held[0] == '\0')
		return NULL;
	memcpy(id, held, sizeof(id));
	held[0] = '\0';
	return id;
}

void
receive_deliver_now(const char *id)
{
	if (hold_enabled && strlen(id) <= MESSAGE_ID_LEN) {
		receive_release(); /* an earlier message of this connection */
		memcpy(held, id, strlen(id) + 1);
		return;
	}
	spool_unpark(id);
	if (!deliver_has_handoff() && receive_delivery_mode == 'i')
		deliver_and_wait(id);
	else
		deliver_start(id);
}
