/* lib/io: whole reads and writes across short counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/io.h"

static int
tmpfile_fd(void)
{
	char path[] = "/tmp/tern-io-test-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	unlink(path);
	return fd;
}

/* More than a pipe holds at once: the writer must go round. */
static void
test_write_then_read_through_a_pipe(void **state)
{
	enum { N = 200000 };
	char *out = malloc(N), *in = malloc(N + 1);
	int p[2];
	pid_t pid;

	(void)state;
	for (size_t i = 0; i < N; i++)
		out[i] = (char)('a' + i % 26);
	assert_int_equal(pipe(p), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		_exit(io_write_all(p[1], out, N) == 0 ? 0 : 1);
	}
	close(p[1]);
	/* asks for one byte more than comes: stops at the end */
	assert_int_equal(io_read_full(p[0], in, N + 1), N);
	assert_memory_equal(in, out, N);
	close(p[0]);
	free(out);
	free(in);
}

static void
test_pwrite_pread_at_offsets(void **state)
{
	int fd = tmpfile_fd();
	char buf[16];

	(void)state;
	assert_int_equal(io_write_all(fd, "0123456789", 10), 0);
	assert_int_equal(io_pwrite_all(fd, "ab", 2, 4), 0);
	assert_int_equal(io_pread_full(fd, buf, 6, 2), 6);
	assert_memory_equal(buf, "23ab67", 6);
	/* past the end: what there is */
	assert_int_equal(io_pread_full(fd, buf, sizeof(buf), 8), 2);
	assert_int_equal(io_pread_full(fd, buf, 4, 10), 0);
	close(fd);
}

static void
test_errors_are_reported(void **state)
{
	char buf[4];

	(void)state;
	errno = 0;
	assert_int_equal(io_write_all(-1, "x", 1), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(io_read_full(-1, buf, sizeof(buf)), -1);
	assert_int_equal(io_pread_full(-1, buf, sizeof(buf), 0), -1);
	/* a negative offset is refused, never taken as 0 (line 1) */
	errno = 0;
	assert_int_equal(io_pwrite_all(0, "x", 1, -1), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(io_pread_full(0, buf, sizeof(buf), -5), -1);
	assert_int_equal(errno, EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_then_read_through_a_pipe),
		cmocka_unit_test(test_pwrite_pread_at_offsets),
		cmocka_unit_test(test_errors_are_reported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
