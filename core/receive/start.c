/* What happens to a message right after it was spooled. */
#include "receive/receive.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "log/log.h"

char receive_delivery_mode = 'b';

static int handoff_fd = -1;

void
receive_set_handoff(int fd)
{
	handoff_fd = fd;
}

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

void
receive_start_delivery(const char *id)
{
	if (conf.queue_only || receive_delivery_mode == 'q')
		return;
	if (handoff_fd >= 0) {
		char line[MESSAGE_ID_LEN + 2];
		size_t n = strlen(id);

		/* The privileged parent starts it (see daemon/conn.c). */
		if (n > MESSAGE_ID_LEN)
			return;
		memcpy(line, id, n);
		line[n] = '\n';
		if (write(handoff_fd, line, n + 1) != (ssize_t)(n + 1))
			log_write(TERN_LOG_MAIN, id,
				"cannot hand the message over for delivery: %m");
		return;
	}
	if (receive_delivery_mode == 'i')
		deliver_and_wait(id);
	else
		deliver_fork(id);
}
