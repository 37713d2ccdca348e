/*
 * Running a pipe command.  The command gets its own process group so a
 * timeout kills it and anything it started.  The timeout is an alarm
 * whose handler kills that group: a blocked write of the message then
 * fails with EPIPE and waitpid() returns, whatever the writer does with
 * EINTR.  An exec failure comes back over a close-on-exec pipe.
 */
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t alarm_pgid;
static volatile sig_atomic_t timed_out;

static void
on_alarm(int sig)
{
	(void)sig;
	timed_out = 1;
	if (alarm_pgid > 0)
		kill(-(pid_t)alarm_pgid, SIGKILL);
}

/* In the child: never returns. */
static void
child_exec(const struct pipe_run *r, int in_fd, int err_fd)
{
	int e, null = open("/dev/null", O_RDWR);

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || null < 0 || dup2(null, 1) < 0 ||
	    dup2(null, 2) < 0)
		goto out_fail;
	/* err_fd is close-on-exec: keep it open until the exec. */
	for (int fd = 3; fd < err_fd; fd++)
		close(fd);
	closefrom(err_fd + 1);
	umask(r->umask);
	if (chdir(r->cwd ? r->cwd : "/") < 0 && chdir("/") < 0)
		goto out_fail;
	execve(r->argv[0], r->argv, r->envp);
out_fail:
	e = errno;
	if (write(err_fd, &e, sizeof e) < 0)
		_exit(127);
	_exit(127);
}

/* Did the exec work?  0, or the child's errno. */
static int
exec_errno(int err_fd)
{
	int e = 0;
	ssize_t n;

	do
		n = read(err_fd, &e, sizeof e);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof e ? e : 0;
}

static void
wait_child(pid_t pid, struct pipe_result *res)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			res->how = PIPE_SPAWN_FAILED;
			res->err_errno = errno;
			return;
		}
	if (timed_out) {
		res->how = PIPE_TIMED_OUT;
	} else if (WIFSIGNALED(status)) {
		res->how = PIPE_SIGNALED;
		res->status = WTERMSIG(status);
	} else if (res->how != PIPE_EXEC_FAILED) {
		res->how = PIPE_EXITED;
		res->status = WEXITSTATUS(status);
	}
}

static void
feed(const struct pipe_run *r, int fd, struct pipe_result *res)
{
	if (r->write(r->arg, fd, res->write_err, sizeof res->write_err) == 0)
		return;
	if (errno == EPIPE || timed_out)
		return; /* it stopped reading: its exit status tells */
	res->write_failed = true;
	res->write_errno = errno;
}

int
pipe_run(const struct pipe_run *r, struct pipe_result *res)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old_alrm, old_pipe;
	struct sigaction ign = { .sa_handler = SIG_IGN };
	int in[2], errp[2];
	pid_t pid;

	memset(res, 0, sizeof *res);
	if (pipe2(in, O_CLOEXEC) < 0)
		goto out_spawn;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		goto out_spawn;
	}
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);
	pid = fork();
	if (pid == 0)
		child_exec(r, in[0], errp[1]);
	close(in[0]);
	close(errp[1]);
	if (pid < 0) {
		close(in[1]);
		close(errp[0]);
		sigaction(SIGPIPE, &old_pipe, NULL);
		goto out_spawn;
	}
	setpgid(pid, pid);
	if ((res->err_errno = exec_errno(errp[0])) != 0)
		res->how = PIPE_EXEC_FAILED;
	close(errp[0]);
	timed_out = 0;
	alarm_pgid = pid;
	sigaction(SIGALRM, &sa, &old_alrm);
	if (r->timeout > 0)
		alarm((unsigned)r->timeout);
	if (res->how != PIPE_EXEC_FAILED)
		feed(r, in[1], res);
	close(in[1]);
	wait_child(pid, res);
	alarm(0);
	alarm_pgid = 0;
	sigaction(SIGALRM, &old_alrm, NULL);
	sigaction(SIGPIPE, &old_pipe, NULL);
	return 0;

out_spawn:
	res->how = PIPE_SPAWN_FAILED;
	res->err_errno = errno;
	return 0;
}
