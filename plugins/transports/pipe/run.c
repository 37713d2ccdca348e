/*
 * Running a pipe command.  The command gets its own process group so a
 * timeout kills it and anything it started.  The timeout is an alarm
 * whose handler kills that group, so the pump below sees its pipes close
 * and waitpid() returns.  The message goes first to an anonymous file,
 * then a poll() loop feeds it to the command while reading the command's
 * output: neither side can block the other.  An exec failure comes back
 * over a close-on-exec pipe.
 */
#include "pipe.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PUMP_BLOCK 16384

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
child_exec(const struct pipe_run *r, int in_fd, int out_fd, int err_fd)
{
	int e;

	setpgid(0, 0);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
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

/* The message, written once into an anonymous file.  fd, or -1. */
static int
stage_message(const struct pipe_run *r, struct pipe_result *res)
{
	int fd = memfd_create("tern-pipe-message", MFD_CLOEXEC);

	if (fd >= 0 && r->write(r->arg, fd, res->write_err,
	    sizeof res->write_err) == 0 && lseek(fd, 0, SEEK_SET) == 0)
		return fd;
	res->how = PIPE_MSG_FAILED;
	res->write_failed = true;
	res->write_errno = errno;
	if (res->write_err[0] == '\0')
		snprintf(res->write_err, sizeof res->write_err,
			"temporary copy of the message: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

struct pump {
	int    msg, in, out;     /* -1 once done */
	char   buf[PUMP_BLOCK];
	size_t off, have;        /* of buf, still to be written */
	pid_t  pgid;
};

/* Some more of the message to the command.  Closes p->in when done. */
static void
pump_in(struct pump *p, struct pipe_result *res)
{
	ssize_t n;

	if (p->off == p->have) {
		n = read(p->msg, p->buf, sizeof p->buf);
		if (n <= 0) {
			close(p->in);
			p->in = -1;
			return;
		}
		p->off = 0;
		p->have = (size_t)n;
	}
	n = write(p->in, p->buf + p->off, p->have - p->off);
	if (n > 0) {
		p->off += (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		/* EPIPE: it stopped reading, its exit status tells. */
		if (errno != EPIPE && !timed_out) {
			res->write_failed = true;
			res->write_errno = errno;
		}
		close(p->in);
		p->in = -1;
	}
}

/* Some of the command's output, kept up to max_output. */
static void
pump_out(struct pump *p, const struct pipe_run *r, struct pipe_result *res)
{
	char block[4096];
	ssize_t n = read(p->out, block, sizeof block);
	size_t room;

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(p->out);
		p->out = -1;
		return;
	}
	if (r->max_output == 0 || res->output_exceeded)
		return;
	room = r->max_output - res->output_len;
	if ((size_t)n > room) {
		res->output_exceeded = true;
		kill(-p->pgid, SIGKILL);
		n = (ssize_t)room;
	}
	if (res->output != NULL) {
		memcpy(res->output + res->output_len, block, (size_t)n);
		res->output_len += (size_t)n;
		res->output[res->output_len] = '\0';
	}
}

static void
pump_run(struct pump *p, const struct pipe_run *r, struct pipe_result *res)
{
	struct pollfd fds[2];
	int n;

	if (r->max_output > 0)
		res->output = calloc(1, r->max_output + 1);
	fcntl(p->in, F_SETFL, O_NONBLOCK);
	fcntl(p->out, F_SETFL, O_NONBLOCK);
	while (!timed_out && (p->in >= 0 || p->out >= 0)) {
		n = 0;
		if (p->in >= 0)
			fds[n++] = (struct pollfd){ p->in, POLLOUT, 0 };
		if (p->out >= 0)
			fds[n++] = (struct pollfd){ p->out, POLLIN, 0 };
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			if (fds[i].fd == p->in)
				pump_in(p, res);
			else
				pump_out(p, r, res);
		}
	}
	if (p->in >= 0)
		close(p->in);
	if (p->out >= 0)
		close(p->out);
}

/* Fork and exec; the parent's ends in *p.  pid, or -1 (res filled). */
static pid_t
spawn(const struct pipe_run *r, struct pump *p, struct pipe_result *res)
{
	int in[2], out[2], errp[2];
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		goto out_fail;
	if (pipe2(out, O_CLOEXEC) < 0)
		goto out_in;
	if (pipe2(errp, O_CLOEXEC) < 0)
		goto out_out;
	pid = fork();
	if (pid == 0)
		child_exec(r, in[0], out[1], errp[1]);
	close(in[0]);
	close(out[1]);
	close(errp[1]);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		close(errp[0]);
		goto out_fail;
	}
	setpgid(pid, pid);
	if ((res->err_errno = exec_errno(errp[0])) != 0)
		res->how = PIPE_EXEC_FAILED;
	close(errp[0]);
	p->in = in[1];
	p->out = out[0];
	p->pgid = pid;
	return pid;

out_out:
	close(out[0]);
	close(out[1]);
out_in:
	close(in[0]);
	close(in[1]);
out_fail:
	res->how = PIPE_SPAWN_FAILED;
	res->err_errno = errno;
	return -1;
}

int
pipe_run(const struct pipe_run *r, struct pipe_result *res)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old_alrm, old_pipe;
	struct sigaction ign = { .sa_handler = SIG_IGN };
	struct pump *p;
	pid_t pid;

	memset(res, 0, sizeof *res);
	if ((p = calloc(1, sizeof *p)) == NULL) {
		res->how = PIPE_SPAWN_FAILED;
		res->err_errno = errno;
		return 0;
	}
	if ((p->msg = stage_message(r, res)) < 0)
		goto out_free;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);
	if ((pid = spawn(r, p, res)) < 0)
		goto out_signals;
	timed_out = 0;
	alarm_pgid = pid;
	sigaction(SIGALRM, &sa, &old_alrm);
	if (r->timeout > 0)
		alarm((unsigned)r->timeout);
	if (res->how == PIPE_EXEC_FAILED) {
		close(p->in);
		close(p->out);
	} else {
		pump_run(p, r, res);
	}
	wait_child(pid, res);
	alarm(0);
	alarm_pgid = 0;
	sigaction(SIGALRM, &old_alrm, NULL);
out_signals:
	sigaction(SIGPIPE, &old_pipe, NULL);
	close(p->msg);
out_free:
	free(p);
	return 0;
}
