/* Pure SMTP argument parsing: HELO names, MAIL parameters, local parts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/arena.h"
#include "smtp_in/smtp_int.h"

static void
test_helo(void **state)
{
	static const struct {
		const char *arg;
		bool want;
	} cases[] = {
		{ "mail.example.test", true },
		{ "localhost", true },
		{ "host_name.example", true },
		{ "[127.0.0.1]", true },
		{ "[IPv6:::1]", true },
		{ "trailing.space  ", true },
		{ "", false },
		{ "two words", false },
		{ "bad!char", false },
		{ "[127.0.0.1", false },
		{ "[]", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (smtp_helo_valid(cases[i].arg) != cases[i].want)
			fail_msg("smtp_helo_valid(\"%s\"): got %d, want %d",
				cases[i].arg, !cases[i].want, cases[i].want);
}

static void
test_mail_params(void **state)
{
	static const struct {
		const char *rest;
		int want_code;
		uint64_t want_size;
		bool want_8bit;
	} cases[] = {
		{ "", 0, 0, false },
		{ "SIZE=1000", 0, 1000, false },
		{ "size=42 BODY=8BITMIME", 0, 42, true },
		{ "BODY=7bit", 0, 0, false },
		{ "  SIZE=5  ", 0, 5, false },
		{ "SIZE=", 501, 0, false },
		{ "SIZE=12x", 501, 0, false },
		{ "SIZE=99999999999999999999999", 501, 0, false },
		{ "BODY=BINARYMIME", 501, 0, false },
		{ "SMTPUTF8", 555, 0, false },
		{ "FOO=bar", 555, 0, false },
		{ "SIZE", 555, 0, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct smtp_mail_params p;
		const char *err = NULL;
		int code = smtp_parse_mail_params(cases[i].rest, &p, &err);

		if (code != cases[i].want_code)
			fail_msg("\"%s\": got %d, want %d", cases[i].rest, code,
				cases[i].want_code);
		if (code != 0) {
			assert_non_null(err);
			continue;
		}
		if (p.size != cases[i].want_size ||
		    p.body_8bit != cases[i].want_8bit)
			fail_msg("\"%s\": got size %llu 8bit %d, want %llu %d",
				cases[i].rest, (unsigned long long)p.size,
				p.body_8bit, (unsigned long long)cases[i].want_size,
				cases[i].want_8bit);
	}
}

static void
test_unquote(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "user", "user" },
		{ "\"a@b\"", "a@b" },
		{ "\"a\\\"b\"", "a\"b" },
		{ "a\\%b", "a%b" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = smtp_unquote_local(arena_scratch, cases[i].in);

		if (strcmp(got, cases[i].want) != 0)
			fail_msg("unquote \"%s\": got \"%s\", want \"%s\"",
				cases[i].in, got, cases[i].want);
	}
}

static void
test_keyword_and_verb(void **state)
{
	size_t n;

	(void)state;
	assert_string_equal(smtp_after_keyword("FROM:<a@b>", "FROM:"), "<a@b>");
	assert_string_equal(smtp_after_keyword("from: <a@b>", "FROM:"), "<a@b>");
	assert_null(smtp_after_keyword("FROM <a@b>", "FROM:"));
	assert_null(smtp_after_keyword("TO:<a@b>", "FROM:"));
	assert_string_equal(smtp_split_verb("MAIL FROM:<>", &n), "FROM:<>");
	assert_int_equal(n, 4);
	assert_string_equal(smtp_split_verb("QUIT", &n), "");
	assert_int_equal(n, 4);
}

static int
setup(void **state)
{
	(void)state;
	arena_init_all();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_helo),
		cmocka_unit_test(test_mail_params),
		cmocka_unit_test(test_unquote),
		cmocka_unit_test(test_keyword_and_verb),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
