/* Retry rules: parsing, next-time computation, class and key matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "lib/arena.h"
#include "retry/retry.h"

struct parse_case {
	const char *text;
	int         ok;
	size_t      n;
	char        kind0;
	int         cutoff0, interval0;
	double      factor_last;
};

static const struct parse_case parse_cases[] = {
	{ "F,2h,15m", 1, 1, 'F', 7200, 900, 1.0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 1, 3, 'F', 7200, 900, 1.0 },
	{ "g,16h,1h,1.5", 1, 1, 'G', 57600, 3600, 1.5 },
	{ "H, 1d, 30m, 2", 1, 1, 'H', 86400, 1800, 2.0 },
	{ "F,1m,2s", 1, 1, 'F', 60, 2, 1.0 },
	{ "", 1, 0, 0, 0, 0, 0.0 },
	{ "X,2h,15m", 0, 0, 0, 0, 0, 0.0 },
	{ "F,2h", 0, 0, 0, 0, 0, 0.0 },
	{ "F,2h,15m,2", 0, 0, 0, 0, 0, 0.0 },
	{ "G,2h,15m", 0, 0, 0, 0, 0, 0.0 },
	{ "G,2h,15m,1.0", 0, 0, 0, 0, 0, 0.0 },
	{ "G,2h,15m,abc", 0, 0, 0, 0, 0, 0.0 },
	{ "F,2q,15m", 0, 0, 0, 0, 0, 0.0 },
	{ "F,2h,0s", 0, 0, 0, 0, 0, 0.0 },
	{ "F,4h,15m; F,2h,15m", 0, 0, 0, 0, 0, 0.0 },
};

static void
test_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	    i++) {
		const struct parse_case *c = &parse_cases[i];
		struct retry_item *items = NULL;
		size_t n = 0;
		char *err = NULL;
		int rc = retry_parse_rules(arena_msg, c->text, &items, &n, &err);

		if (c->ok && rc != 0)
			fail_msg("\"%s\": got error \"%s\", want %zu rules",
				c->text, err, c->n);
		if (!c->ok) {
			if (rc == 0)
				fail_msg("\"%s\": got %zu rules, want an error",
					c->text, n);
			if (err == NULL || strstr(err, "retry rule") == NULL)
				fail_msg("\"%s\": got error \"%s\", want "
					"\"retry rule: ...\"", c->text,
					err ? err : "(null)");
			continue;
		}
		if (n != c->n)
			fail_msg("\"%s\": got %zu rules, want %zu", c->text, n,
				c->n);
		if (n == 0)
			continue;
		if (items[0].kind != c->kind0 || items[0].cutoff != c->cutoff0 ||
		    items[0].interval != c->interval0)
			fail_msg("\"%s\": got %c,%d,%d, want %c,%d,%d", c->text,
				items[0].kind, items[0].cutoff, items[0].interval,
				c->kind0, c->cutoff0, c->interval0);
		if (items[n - 1].factor != c->factor_last)
			fail_msg("\"%s\": got factor %g, want %g", c->text,
				items[n - 1].factor, c->factor_last);
	}
}

struct next_case {
	const char *rules;
	time_t      elapsed;  /* now - first_failed */
	time_t      prev_gap;
	uint32_t    rnd;
	time_t      want_gap; /* next_try - now */
	int         expired;
};

static const struct next_case next_cases[] = {
	/* Exim's default rule */
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 0, 0, 0, 900, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 3600, 900, 0, 900, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 7200, 900, 0, 3600, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 10800, 3600, 0, 5400, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 20000, 5400, 0, 8100, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 57600, 8100, 0, 21600, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 4 * 86400 - 1, 21600, 0,
	  21600, 0 },
	{ "F,2h,15m; G,16h,1h,1.5; F,4d,6h", 4 * 86400, 21600, 0, 21600, 1 },
	{ "F,1m,2s", 59, 2, 0, 2, 0 },
	{ "F,1m,2s", 61, 2, 0, 2, 1 },
	/* G: at least the first interval, then times the factor */
	{ "G,1d,10m,2", 0, 0, 0, 600, 0 },
	{ "G,1d,10m,2", 600, 600, 0, 1200, 0 },
	{ "G,1d,10m,2", 1800, 1200, 0, 2400, 0 },
	{ "G,1d,10m,2", 1800, 60, 0, 600, 0 },
	/* H: between the last gap and G's, chosen by rnd */
	{ "H,1d,10m,2", 0, 0, 0, 600, 0 },
	{ "H,1d,10m,2", 0, 0, 599, 1199, 0 },
	{ "H,1d,10m,2", 0, 0, 600, 600, 0 },
	{ "H,1d,10m,3", 1000, 1000, 5, 1005, 0 },
};

static void
test_next_time(void **state)
{
	const time_t first = 1700000000;

	(void)state;
	for (size_t i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]);
	    i++) {
		const struct next_case *c = &next_cases[i];
		struct retry_item *items;
		size_t n;
		char *err = NULL;
		bool expired;
		time_t now = first + c->elapsed, next;

		assert_int_equal(retry_parse_rules(arena_msg, c->rules, &items,
			&n, &err), 0);
		next = retry_next_time(items, n, first, now, c->prev_gap, c->rnd,
			&expired);
		if (next - now != c->want_gap || (int)expired != c->expired)
			fail_msg("\"%s\" elapsed %lld gap %lld rnd %u: got next "
				"+%lld expired %d, want +%lld expired %d", c->rules,
				(long long)c->elapsed, (long long)c->prev_gap,
				c->rnd, (long long)(next - now), (int)expired,
				(long long)c->want_gap, c->expired);
	}
}

struct class_case {
	const char *rule, *cls;
	int         want;
};

static const struct class_case class_cases[] = {
	{ "*", "timeout", 1 },
	{ "*", NULL, 1 },
	{ "timeout", "timeout", 1 },
	{ "timeout", "timeout_connect", 1 },
	{ "timeout", "refused", 0 },
	{ "refused", "refused_MX", 1 },
	{ "rcpt_4xx", "rcpt_451", 1 },
	{ "rcpt_4xx", "rcpt_550", 0 },
	{ "rcpt_45x", "rcpt_452", 1 },
	{ "rcpt_45x", "rcpt_421", 0 },
	{ "quota", "quota", 1 },
	{ "QUOTA", "quota", 1 },
	{ "quota", "quotas", 0 },
	{ "quota_7d", "quota", 0 },
	{ "mail_4xx", "data_451", 0 },
};

static void
test_class_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]);
	    i++) {
		const struct class_case *c = &class_cases[i];
		int got = retry_class_match(c->rule, c->cls);

		if (got != c->want)
			fail_msg("rule \"%s\" class \"%s\": got %d, want %d",
				c->rule, c->cls ? c->cls : "(null)", got, c->want);
	}
}

struct key_case {
	const char *pattern, *key;
	int         want;
};

static const struct key_case key_cases[] = {
	{ "*", "bob@example.test", 1 },
	{ "example.test", "bob@example.test", 1 },
	{ "*.example.test", "bob@mx.example.test", 1 },
	{ "other.test", "bob@example.test", 0 },
	{ "bob@example.test", "bob@example.test", 1 },
	{ "alice@example.test", "bob@example.test", 0 },
	{ "*@example.test", "bob@example.test", 1 },
	{ "mx.example.test", "T:mx.example.test:192.0.2.1", 1 },
	{ "*.example.test", "T:mx.example.test:192.0.2.1:2525", 1 },
	{ "other.test", "T:mx.example.test:192.0.2.1", 0 },
	{ "example.test", "R:example.test", 1 },
	{ "bob@example.test", "bob@example.test:/var/mail/b@x", 1 },
	{ "other.test", "bob@example.test:|/bin/cat @other.test", 0 },
};

static void
test_key_match(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *c = &key_cases[i];
		int got = retry_key_match(c->pattern, c->key);

		if (got != c->want)
			fail_msg("pattern \"%s\" key \"%s\": got %d, want %d",
				c->pattern, c->key, got, c->want);
	}
}

static void
test_record_codec(void **state)
{
	struct retry_record r = {
		.first_failed = 1700000000, .last_try = 1700000100,
		.next_try = 1700000200, .expired = true, .basic_errno = 13,
		.error_class = "local", .text = "Permission\ndenied\there",
	}, back;
	char *line = retry_record_encode(arena_msg, &r);

	(void)state;
	assert_null(strchr(line, '\n'));
	assert_int_equal(retry_record_decode(arena_msg, line, strlen(line),
		&back), 0);
	assert_int_equal(back.first_failed, r.first_failed);
	assert_int_equal(back.last_try, r.last_try);
	assert_int_equal(back.next_try, r.next_try);
	assert_true(back.expired);
	assert_int_equal(back.basic_errno, 13);
	assert_string_equal(back.error_class, "local");
	assert_string_equal(back.text, "Permission denied here");
	assert_int_equal(retry_record_decode(arena_msg, "garbage", 7, &back),
		-1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_next_time),
		cmocka_unit_test(test_class_match),
		cmocka_unit_test(test_key_match),
		cmocka_unit_test(test_record_codec),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
