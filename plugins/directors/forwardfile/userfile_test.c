/* Reading a .forward and judging its mode, owner and group. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "userfile.h"

static void
test_check(void **state)
{
	static const uid_t owners[] = { 1000, 0 };
	static const gid_t groups[] = { 100 };
	static const struct {
		mode_t      mode;
		uid_t       uid;
		gid_t       gid;
		int         modemask;
		bool        use_owners, use_groups;
		const char *want; /* NULL: accepted */
	} cases[] = {
		{ S_IFREG | 0644, 1000, 100, 022, true, true, NULL },
		{ S_IFREG | 0600, 0, 5, 022, true, false, NULL },
		{ S_IFREG | 0664, 1000, 100, 022, true, true,
		  "bad mode (0664): 0022 must be clear" },
		{ S_IFREG | 0646, 1000, 100, 002, true, true,
		  "bad mode (0646): 0002 must be clear" },
		{ S_IFREG | 0664, 1000, 100, 002, true, true, NULL },
		{ S_IFREG | 0644, 1001, 100, 022, true, true,
		  "bad owner (uid 1001)" },
		{ S_IFREG | 0644, 1001, 100, 022, false, false, NULL },
		{ S_IFREG | 0644, 1000, 101, 022, true, true,
		  "bad group (gid 101)" },
		{ S_IFDIR | 0755, 1000, 100, 022, true, true,
		  "not a regular file" },
	};
	char why[128];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct stat st = { .st_mode = cases[i].mode,
			.st_uid = cases[i].uid, .st_gid = cases[i].gid };
		const char *got = userfile_check(&st, cases[i].modemask,
			cases[i].use_owners ? owners : NULL, 2,
			cases[i].use_groups ? groups : NULL, 1, why, sizeof why);

		if (got == NULL && cases[i].want == NULL)
			continue;
		if (got == NULL || cases[i].want == NULL ||
		    strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				got ? got : "(accepted)",
				cases[i].want ? cases[i].want : "(accepted)");
	}
}

static void
test_read(void **state)
{
	char dir[] = "/tmp/tern-userfile.XXXXXX", path[64], *text = NULL;
	struct userfile_ids self = { false, 0, 0, NULL };
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/forward", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("alice, |/bin/prog\n", f);
	fclose(f);

	assert_int_equal(userfile_read(path, &self, 100, &text, &st), 0);
	assert_string_equal(text, "alice, |/bin/prog\n");
	assert_true(S_ISREG(st.st_mode));
	free(text);

	errno = 0;
	assert_int_equal(userfile_read(path, &self, 5, &text, &st), -1);
	assert_int_equal(errno, EFBIG);

	text = (char *)"unchanged";
	assert_int_equal(userfile_read(dir, &self, 100, &text, &st), 0);
	assert_null(text);

	snprintf(path, sizeof path, "%s/missing", dir);
	assert_int_equal(userfile_read(path, &self, 100, &text, &st), -1);
	assert_int_equal(errno, ENOENT);

	snprintf(path, sizeof path, "%s/forward", dir);
	unlink(path);
	rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
