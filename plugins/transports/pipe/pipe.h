/*
 * The pipe transport's parts that do not need the core, so that unit
 * tests link them: splitting a command into arguments (argv.c) and
 * running it with the message on its standard input (run.c).
 */
#ifndef TERN_PLUGINS_TRANSPORTS_PIPE_PIPE_H
#define TERN_PLUGINS_TRANSPORTS_PIPE_PIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Split cmd at white space into a NULL-terminated argv, as Exim does:
 * "double quotes" with backslash escapes (\n \t \\ \" ...), 'single
 * quotes' taken literally, a backslash outside quotes escaping the next
 * character.  Returns a malloc'ed vector of malloc'ed strings (free with
 * pipe_argv_free) and *argc_out, or NULL with *err_out (static text).
 */
char **pipe_split_command(const char *cmd, int *argc_out,
	const char **err_out);
void pipe_argv_free(char **argv);

/*
 * Is status in list (colon-separated numbers, EX_* names from
 * <sysexits.h>, or "*")?  1 yes, 0 no, -1 bad list (*bad_out is the
 * first bad item, malloc'ed).
 */
int pipe_status_in_list(const char *list, int status, char **bad_out);

/* " (could mean ...)" for a sysexits status, else "". */
const char *pipe_status_meaning(int status);

/*
 * Split a colon list (a leading "<c" changes the separator; a doubled
 * separator is a literal one) into a malloc'ed NULL-terminated vector.
 */
char **pipe_split_list(const char *list);

/* Find an executable name in path (colon list).  malloc'ed, or NULL. */
char *pipe_find_in_path(const char *name, const char *path);

/* Write the message to fd: 0, or -1 with err filled and errno kept. */
typedef int (*pipe_writer_fn)(void *arg, int fd, char *err, size_t errlen);

struct pipe_run {
	char *const   *argv;    /* argv[0] is a full path */
	char *const   *envp;
	int            timeout; /* seconds, 0 for none */
	mode_t         umask;
	const char    *cwd;     /* NULL: "/" */
	pipe_writer_fn write;
	void          *arg;
	/*
	 * Output (stdout and stderr) kept, in bytes; more output kills the
	 * command.  0: no limit, and nothing kept.
	 */
	size_t         max_output;
};

enum pipe_outcome {
	PIPE_EXITED = 1,  /* status is the exit code */
	PIPE_SIGNALED,    /* status is the signal */
	PIPE_TIMED_OUT,
	PIPE_EXEC_FAILED, /* err_errno says why */
	PIPE_SPAWN_FAILED,
	PIPE_MSG_FAILED,  /* the message could not be made ready: write_* */
};

struct pipe_result {
	enum pipe_outcome how;
	int  status;
	int  err_errno;      /* exec or spawn failure */
	bool write_failed;   /* writing the message failed (not EPIPE) */
	int  write_errno;
	char write_err[512];
	char  *output;          /* malloc'ed, NUL-terminated; may be NULL */
	size_t output_len;      /* bytes of output kept */
	bool   output_exceeded; /* more than max_output: command killed */
};

/*
 * Run argv with the message on its stdin and its stdout and stderr read
 * back (kept up to max_output), in its own process group, killed after
 * the timeout.  The message is first written to an anonymous file, so
 * that feeding the command and reading its output cannot deadlock and a
 * local write error is told from the command's failure.  Fills *res
 * (free res->output); always returns 0.
 */
int pipe_run(const struct pipe_run *r, struct pipe_result *res);

#endif
