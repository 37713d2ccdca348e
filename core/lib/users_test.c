/* lib/users: the passwd source's answers, kept; its failures told apart. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <nss.h>
#include <pwd.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/users.h"

/* No descriptor can be opened until descriptors_back(old). */
static void
no_descriptors(struct rlimit *old)
{
	struct rlimit none;
	int fd = open("/dev/null", O_RDONLY); /* the lowest free one */

	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, old), 0);
	none = *old;
	none.rlim_cur = (rlim_t)fd;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &none), 0);
}

static void
descriptors_back(const struct rlimit *old)
{
	assert_int_equal(setrlimit(RLIMIT_NOFILE, old), 0);
}

/* A user of this machine other than root, not asked for before. */
static const char *
other_user(void)
{
	static const char *const names[] = { "daemon", "bin", "sys", "nobody" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (getpwnam(names[i]) != NULL)
			return names[i];
	fail_msg("no daemon, bin, sys or nobody in passwd");
	return NULL;
}

static void
test_found_and_not_found(void **state)
{
	struct user_entry u;

	(void)state;
	assert_int_equal(users_find("root", &u), 1);
	assert_string_equal(u.name, "root");
	assert_int_equal(u.uid, 0);
	assert_int_equal(u.gid, 0);
	assert_non_null(u.home);
	/* capitals: asked again in lower case */
	assert_int_equal(users_find("RooT", &u), 1);
	assert_string_equal(u.name, "root");
	errno = 0;
	assert_int_equal(users_find("no-such-user-for-tern", &u), 0);
}

/*
 * With no descriptor left, the passwd file cannot be opened: a user
 * found before is answered from what was kept, and one not asked for
 * yet is the source's failure (-1, EMFILE), not "no such user".
 */
static void
test_kept_answers_and_source_failure(void **state)
{
	const char *other = other_user();
	struct user_entry u;
	struct rlimit old;
	int kept, rc, e;

	(void)state;
	assert_int_equal(users_find("root", &u), 1);
	no_descriptors(&old);
	kept = users_find("root", &u);
	rc = users_find(other, &u);
	e = errno;
	descriptors_back(&old);
	assert_int_equal(kept, 1);
	assert_string_equal(u.name, "root"); /* untouched by the failure */
	assert_int_equal(rc, -1);
	assert_int_equal(e, EMFILE);
	/* and once descriptors are back, found and kept */
	assert_int_equal(users_find(other, &u), 1);
	assert_string_equal(u.name, other);
}

/* Four users are kept: a fifth one found pushes out the oldest. */
static void
test_the_oldest_goes_first(void **state)
{
	static const char *const cand[] = { "sync", "games", "man", "lp",
		"mail", "news", "uucp", "proxy", "www-data", "backup", "list",
		"irc", "_apt" };
	const char *five[5];
	struct user_entry u;
	struct rlimit old;
	size_t n = 0;
	int first, last;

	(void)state;
	for (size_t i = 0; i < sizeof(cand) / sizeof(cand[0]) && n < 5; i++)
		if (getpwnam(cand[i]) != NULL)
			five[n++] = cand[i];
	assert_int_equal(n, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(users_find(five[i], &u), 1);
	no_descriptors(&old);
	last = users_find(five[4], &u);   /* kept */
	first = users_find(five[0], &u);  /* asked again: no descriptor */
	descriptors_back(&old);
	assert_int_equal(last, 1);
	assert_int_equal(first, -1);
}

/* By uid and groups: asked every time, so a failure shows at once. */
static void
test_uid_and_group(void **state)
{
	struct user_entry u;
	struct rlimit old;
	int64_t gid = -1;
	int by_uid, by_group, e_uid, e_group;

	(void)state;
	assert_int_equal(users_find_uid(0, &u), 1);
	assert_string_equal(u.name, "root");
	assert_int_equal(users_find_uid(2147483600, &u), 0);
	assert_int_equal(users_find_group("root", &gid), 1);
	assert_int_equal(gid, 0);
	assert_int_equal(users_find_group("no-such-group-for-tern", &gid), 0);
	no_descriptors(&old);
	by_uid = users_find_uid(0, &u);
	e_uid = errno;
	by_group = users_find_group("root", &gid);
	e_group = errno;
	descriptors_back(&old);
	assert_int_equal(by_uid, -1);
	assert_int_equal(e_uid, EMFILE);
	assert_int_equal(by_group, -1);
	assert_int_equal(e_group, EMFILE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_and_not_found),
		cmocka_unit_test(test_kept_answers_and_source_failure),
		cmocka_unit_test(test_the_oldest_goes_first),
		cmocka_unit_test(test_uid_and_group),
	};

	/*
	 * passwd and group from the files alone: a service listed after "files" in
	 * this machine's nsswitch.conf (Debian's "files systemd") may answer
	 * "not found" after files has failed, and NSS reports the last
	 * answer.  What is tested is Tern's side: a failure the source
	 * reports is not taken for "no such user".
	 */
	assert_int_equal(__nss_configure_lookup("passwd", "files"), 0);
	assert_int_equal(__nss_configure_lookup("group", "files"), 0);
	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
