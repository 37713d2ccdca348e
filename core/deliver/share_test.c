/*
 * One journal commit for two deliveries (share.c): who waits, who wakes
 * whom, and that the shared words never stay stuck.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "deliver/deliver.h"

/* [0] receptions under way, [1] the pair word, [2] a reception's flag */
static int *words;

static int
setup(void **state)
{
	(void)state;
	words = mmap(NULL, 3 * sizeof(*words), PROT_READ | PROT_WRITE,
		MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (words == MAP_FAILED)
		return -1;
	deliver_share_init(&words[0], &words[1]);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	deliver_share_init(NULL, NULL);
	munmap(words, 3 * sizeof(*words));
	return 0;
}

static int
pair_word(void)
{
	return __atomic_load_n(&words[1], __ATOMIC_ACQUIRE);
}

/* Outside the daemon (no board) nobody waits. */
static void
test_no_board(void **state)
{
	(void)state;
	deliver_share_init(NULL, NULL);
	assert_int_equal(deliver_sync_share(1000000), 0);
}

/* No reception under way: no partner to expect, no wait. */
static void
test_nobody_receiving(void **state)
{
	(void)state;
	words[0] = 0;
	assert_int_equal(deliver_sync_share(10000000), 0);
	assert_int_equal(pair_word(), 0);
}

/* A reception under way but no delivery comes: give up, word cleared. */
static void
test_nobody_comes(void **state)
{
	(void)state;
	words[0] = 1;
	assert_int_equal(deliver_sync_share(20000), 0);
	assert_int_equal(pair_word(), 0);
}

/*
 * A delivery waits (its pid on the word); the next one wakes it: both say
 * they were joined, and the word is free again.  The waiter's bound is
 * far longer than the test: were it not woken, it would say 0.
 */
static void
test_two_join(void **state)
{
	struct timespec ms = { 0, 1000000 };
	int status, i;
	pid_t pid;

	(void)state;
	words[0] = 1;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(deliver_sync_share(60L * 1000000L));
	for (i = 0; i < 10000 && pair_word() != (int)pid; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(pair_word(), (int)pid);
	assert_int_equal(deliver_sync_share(60L * 1000000L), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(pair_word(), 0);
}

/* A waiter that died leaves its pid: the next comer clears it. */
static void
test_dead_waiter(void **state)
{
	(void)state;
	words[0] = 1;
	words[1] = 0x7ffffff0;
	assert_int_equal(deliver_sync_share(60L * 1000000L), 1);
	assert_int_equal(pair_word(), 0);
}

/* A reception's flag counts it down once, however often it is set. */
static void
test_over_counts_once(void **state)
{
	(void)state;
	words[0] = 2;
	words[2] = 0;
	deliver_share_over(&words[2]);
	assert_int_equal(words[2], 1);
	assert_int_equal(words[0], 1);
	deliver_share_over(&words[2]);
	assert_int_equal(words[0], 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_board, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nobody_receiving, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_nobody_comes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_two_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dead_waiter, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_over_counts_once, setup,
			teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
