/* Unit tests for the plaintext authenticator's pure helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fields.h"

static void
test_split_plain(void **state)
{
	const char *f[3];
	char copy[32];
	size_t n = pt_split_nul("\0tim\0secret", 11, copy, f, 3);

	(void)state;
	assert_int_equal(n, 3);
	assert_string_equal(f[0], "");
	assert_string_equal(f[1], "tim");
	assert_string_equal(f[2], "secret");
	n = pt_split_nul("", 0, copy, f, 3);
	assert_int_equal(n, 1);
	assert_string_equal(f[0], "");
	n = pt_split_nul("a\0b\0c\0d", 7, copy, f, 3);
	assert_int_equal(n, 3);
	assert_string_equal(f[2], "c");
}

static void
test_caret(void **state)
{
	char out[32];
	size_t n = pt_unescape_caret("^user^pa^^ss", out);

	(void)state;
	assert_int_equal(n, 11);
	assert_memory_equal(out, "\0user\0pa^ss", 11);
}

static void
test_list(void **state)
{
	static const struct {
		const char *list;
		const char *want[4];
	} cases[] = {
		{ ":", { "", NULL } },
		{ ": user : secret", { "", "user", "secret", NULL } },
		{ "User Name : Password", { "User Name", "Password", NULL } },
		{ "a::b : c", { "a:b", "c", NULL } },
		{ "<; x ; y", { "x", "y", NULL } },
		{ "", { NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *l = cases[i].list;
		char sep = '\0', out[64];
		size_t k = 0;

		while (pt_list_next(&l, &sep, out)) {
			if (cases[i].want[k] == NULL)
				fail_msg("list \"%s\": extra item \"%s\"",
					cases[i].list, out);
			if (strcmp(out, cases[i].want[k]) != 0)
				fail_msg("list \"%s\" item %zu: got \"%s\", want \"%s\"",
					cases[i].list, k, out, cases[i].want[k]);
			k++;
		}
		if (cases[i].want[k] != NULL)
			fail_msg("list \"%s\": missing item \"%s\"",
				cases[i].list, cases[i].want[k]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_plain),
		cmocka_unit_test(test_caret),
		cmocka_unit_test(test_list),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
