#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pipe.h"

static void
test_split(void **state)
{
	static const struct {
		const char *cmd, *want; /* args joined by '|'; NULL: error */
	} cases[] = {
		{ "/usr/bin/prog", "/usr/bin/prog" },
		{ "  prog  a   b ", "prog|a|b" },
		{ "prog \"two words\" x", "prog|two words|x" },
		{ "prog \"esc \\\" \\\\ \\n\"", "prog|esc \" \\ \n" },
		{ "prog 'lit \\n $x'", "prog|lit \\n $x" },
		{ "prog a\"b c\"d", "prog|ab cd" },
		{ "prog a\\ b", "prog|a b" },
		{ "prog ${lookup{$local_part}lsearch{/f}}", "prog|${lookup{$local_part}lsearch{/f}}" },
		{ "prog \"open", NULL },
		{ "prog 'open", NULL },
		{ "   ", NULL },
	};
	char got[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *err = NULL;
		int argc = 0;
		char **argv = pipe_split_command(cases[i].cmd, &argc, &err);
		size_t n = 0;

		if (cases[i].want == NULL) {
			if (argv != NULL)
				fail_msg("\"%s\": got %d args, want an error",
					cases[i].cmd, argc);
			continue;
		}
		if (argv == NULL)
			fail_msg("\"%s\": got error %s", cases[i].cmd, err);
		got[0] = '\0';
		for (int a = 0; a < argc; a++)
			n += (size_t)snprintf(got + n, sizeof got - n, "%s%s",
				a ? "|" : "", argv[a]);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"",
				cases[i].cmd, got, cases[i].want);
		pipe_argv_free(argv);
	}
}

static void
test_status_list(void **state)
{
	static const struct {
		const char *list;
		int         status, want;
	} cases[] = {
		{ "75:73", 75, 1 },
		{ "75:73", 73, 1 },
		{ "75:73", 1, 0 },
		{ "EX_TEMPFAIL:EX_CANTCREAT", 75, 1 },
		{ "EX_TEMPFAIL", 73, 0 },
		{ "*", 42, 1 },
		{ "", 75, 0 },
		{ "75:bogus", 75, -1 },
		{ "<; 1 ; 2", 2, 1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *bad = NULL;
		int got = pipe_status_in_list(cases[i].list, cases[i].status,
			&bad);

		if (got != cases[i].want)
			fail_msg("%d in \"%s\": got %d, want %d",
				cases[i].status, cases[i].list, got,
				cases[i].want);
		free(bad);
	}
	if (strcmp(pipe_status_meaning(75), " (could mean temporary failure)"))
		fail_msg("got \"%s\" for 75", pipe_status_meaning(75));
}

static void
test_find_in_path(void **state)
{
	char *p;

	(void)state;
	p = pipe_find_in_path("sh", "/nonexistent:/bin:/usr/bin");
	if (p == NULL || strcmp(p, "/bin/sh") != 0)
		fail_msg("got \"%s\", want \"/bin/sh\"", p ? p : "(null)");
	free(p);
	p = pipe_find_in_path("no-such-command-here", "/bin:/usr/bin");
	assert_null(p);
}

struct feed {
	size_t bytes; /* written in 4 KiB blocks */
};

static int
feed_write(void *arg, int fd, char *err, size_t errlen)
{
	const struct feed *f = arg;
	char block[4096];

	(void)err;
	(void)errlen;
	memset(block, 'x', sizeof block);
	for (size_t done = 0; done < f->bytes; done += sizeof block)
		if (write(fd, block, sizeof block) < 0)
			return -1;
	return 0;
}

static void
test_run(void **state)
{
	static const struct {
		const char       *script; /* for /bin/sh -c, NULL: bad exec */
		size_t            bytes;
		int               timeout;
		enum pipe_outcome how;
		int               status;
	} cases[] = {
		{ "n=$(wc -c); test $n = 8192", 8192, 10, PIPE_EXITED, 0 },
		{ "cat >/dev/null; exit 75", 100, 10, PIPE_EXITED, 75 },
		{ "exit 0", 1 << 20, 10, PIPE_EXITED, 0 }, /* EPIPE is fine */
		{ "kill -TERM $$", 0, 10, PIPE_SIGNALED, SIGTERM },
		{ "sleep 30", 0, 1, PIPE_TIMED_OUT, 0 },
		{ "sleep 30", 1 << 20, 1, PIPE_TIMED_OUT, 0 }, /* blocked */
		{ "test \"$LOCAL_PART\" = joe && test $(pwd) = /tmp", 0, 10,
		  PIPE_EXITED, 0 },
		{ NULL, 0, 10, PIPE_EXEC_FAILED, 0 },
	};
	char *env[] = { "LOCAL_PART=joe", "PATH=/bin:/usr/bin", NULL };

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[] = { "/bin/sh", "-c", (char *)cases[i].script,
			NULL };
		char *bad[] = { "/nonexistent/prog", NULL };
		struct feed f = { cases[i].bytes };
		struct pipe_run r = {
			.argv = cases[i].script ? argv : bad, .envp = env,
			.timeout = cases[i].timeout, .umask = 022,
			.cwd = "/tmp", .write = feed_write, .arg = &f,
		};
		struct pipe_result res;

		pipe_run(&r, &res);
		if (res.how != cases[i].how || res.status != cases[i].status)
			fail_msg("\"%s\": got how %d status %d, want %d %d",
				cases[i].script ? cases[i].script : "bad exec",
				res.how, res.status, cases[i].how,
				cases[i].status);
		if (res.write_failed)
			fail_msg("\"%s\": write failed: %s", cases[i].script,
				strerror(res.write_errno));
		if (cases[i].script == NULL && res.err_errno != ENOENT)
			fail_msg("bad exec: got errno %d, want ENOENT",
				res.err_errno);
		free(res.output);
	}
}

static void
test_output(void **state)
{
	static const struct {
		const char *script;
		size_t      bytes, max;
		const char *want;     /* output kept */
		bool        exceeded;
	} cases[] = {
		{ "cat >/dev/null; echo out; echo err >&2", 1 << 20, 100,
		  "out\nerr\n", false },
		{ "echo first; cat >/dev/null; echo after", 1 << 20, 100,
		  "first\nafter\n", false },
		{ "exit 0", 100, 100, "", false },
		{ "echo 0123456789abcdef; sleep 30", 0, 10, "0123456789",
		  true },
		{ "echo discarded", 0, 0, "", false },
	};
	char *env[] = { "PATH=/bin:/usr/bin", NULL };

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[] = { "/bin/sh", "-c", (char *)cases[i].script,
			NULL };
		struct feed f = { cases[i].bytes };
		struct pipe_run r = {
			.argv = argv, .envp = env, .timeout = 20, .umask = 022,
			.write = feed_write, .arg = &f,
			.max_output = cases[i].max,
		};
		struct pipe_result res;
		const char *got;

		pipe_run(&r, &res);
		got = res.output ? res.output : "";
		if (strcmp(got, cases[i].want) != 0 ||
		    res.output_len != strlen(cases[i].want))
			fail_msg("\"%s\": got output \"%s\", want \"%s\"",
				cases[i].script, got, cases[i].want);
		if (res.output_exceeded != cases[i].exceeded)
			fail_msg("\"%s\": got exceeded %d", cases[i].script,
				res.output_exceeded);
		if (cases[i].exceeded && (res.how != PIPE_SIGNALED ||
		    res.status != SIGKILL))
			fail_msg("\"%s\": got how %d status %d, want killed",
				cases[i].script, res.how, res.status);
		free(res.output);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_status_list),
		cmocka_unit_test(test_find_in_path),
		cmocka_unit_test(test_run),
		cmocka_unit_test(test_output),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
