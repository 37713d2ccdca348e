/* Typed option values: parsing, rejection of bad values, and -bP text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "lib/arena.h"

struct case_ {
	enum tern_opt_type type;
	const char        *text;
	int                ok;    /* 1: parses, 0: rejected */
	int64_t            want;  /* value when ok */
};

static const struct case_ cases[] = {
	{ TERN_OPT_SIZE, "0", 1, 0 },
	{ TERN_OPT_SIZE, "100", 1, 100 },
	{ TERN_OPT_SIZE, "10K", 1, 10240 },
	{ TERN_OPT_SIZE, "10k", 1, 10240 },
	{ TERN_OPT_SIZE, "50M", 1, 50 * 1024 * 1024 },
	{ TERN_OPT_SIZE, "2G", 1, 2LL * 1024 * 1024 * 1024 },
	{ TERN_OPT_SIZE, "10Q", 0, 0 },
	{ TERN_OPT_SIZE, "", 0, 0 },
	{ TERN_OPT_SIZE, "M", 0, 0 },
	{ TERN_OPT_SIZE, "-1", 0, 0 },
	{ TERN_OPT_SIZE, "10KB", 0, 0 },
	{ TERN_OPT_SIZE, "99999999999999999999", 0, 0 },
	{ TERN_OPT_TIME, "0", 1, 0 },
	{ TERN_OPT_TIME, "90", 1, 90 },
	{ TERN_OPT_TIME, "30s", 1, 30 },
	{ TERN_OPT_TIME, "5m", 1, 300 },
	{ TERN_OPT_TIME, "1h30m", 1, 5400 },
	{ TERN_OPT_TIME, "2d", 1, 172800 },
	{ TERN_OPT_TIME, "1w2d", 1, 9 * 86400 },
	{ TERN_OPT_TIME, "1h30", 0, 0 },
	{ TERN_OPT_TIME, "5x", 0, 0 },
	{ TERN_OPT_TIME, "", 0, 0 },
	{ TERN_OPT_TIME, "h", 0, 0 },
	{ TERN_OPT_BOOL, "true", 1, 1 },
	{ TERN_OPT_BOOL, "yes", 1, 1 },
	{ TERN_OPT_BOOL, "TRUE", 1, 1 },
	{ TERN_OPT_BOOL, "false", 1, 0 },
	{ TERN_OPT_BOOL, "no", 1, 0 },
	{ TERN_OPT_BOOL, "maybe", 0, 0 },
	{ TERN_OPT_BOOL, "", 0, 0 },
	{ TERN_OPT_INT, "42", 1, 42 },
	{ TERN_OPT_INT, "-5", 1, -5 },
	{ TERN_OPT_INT, "0x10", 1, 16 },
	{ TERN_OPT_INT, "010", 1, 8 },
	{ TERN_OPT_INT, "2K", 1, 2048 },
	{ TERN_OPT_INT, "1M", 1, 1048576 },
	{ TERN_OPT_INT, "abc", 0, 0 },
	{ TERN_OPT_INT, "12abc", 0, 0 },
	{ TERN_OPT_INT, "99999999999", 0, 0 },
	{ TERN_OPT_INT, "4G", 0, 0 },
	{ TERN_OPT_OCTAL, "0644", 1, 0644 },
	{ TERN_OPT_OCTAL, "0600", 1, 0600 },
	{ TERN_OPT_OCTAL, "0899", 0, 0 },
	{ TERN_OPT_UID, "0", 1, 0 },
	{ TERN_OPT_UID, "root", 1, 0 },
	{ TERN_OPT_UID, "no-such-user-tern-test", 0, 0 },
	{ TERN_OPT_GID, "root", 1, 0 },
};

static int64_t
read_value(enum tern_opt_type type, const void *p)
{
	switch (type) {
	case TERN_OPT_SIZE: return (int64_t)*(const uint64_t *)p;
	case TERN_OPT_BOOL: return *(const bool *)p;
	case TERN_OPT_UID:
	case TERN_OPT_GID:  return *(const int64_t *)p;
	default:            return *(const int *)p;
	}
}

static void
test_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		union { uint64_t u; int64_t l; int i; bool b; } v;
		char *err = NULL;
		int rc;

		memset(&v, 0, sizeof(v));
		rc = option_parse_value(c->type, c->text, &v, &err);
		if (c->ok && rc != 0)
			fail_msg("type %d \"%s\": got error \"%s\", want %lld",
				(int)c->type, c->text, err, (long long)c->want);
		if (!c->ok && rc == 0)
			fail_msg("type %d \"%s\": got %lld, want an error",
				(int)c->type, c->text,
				(long long)read_value(c->type, &v));
		if (!c->ok && (err == NULL || strstr(err, "bad ") != err))
			fail_msg("type %d \"%s\": got error \"%s\", want \"bad ...\"",
				(int)c->type, c->text, err ? err : "(null)");
		if (c->ok && read_value(c->type, &v) != c->want)
			fail_msg("type %d \"%s\": got %lld, want %lld",
				(int)c->type, c->text,
				(long long)read_value(c->type, &v),
				(long long)c->want);
	}
}

static void
test_size_error_text(void **state)
{
	uint64_t v;
	char *err = NULL;

	(void)state;
	assert_int_equal(option_parse_value(TERN_OPT_SIZE, "10Q", &v, &err), -1);
	if (strcmp(err, "bad size \"10Q\"") != 0)
		fail_msg("got \"%s\", want \"bad size \\\"10Q\\\"\"", err);
}

struct blk {
	uint64_t size;
	int      time;
	bool     flag;
	int      mode;
	const char *s;
};

static const struct tern_option blk_opts[] = {
	TERN_OPT("size", SIZE, struct blk, size, "50M"),
	TERN_OPT("time", TIME, struct blk, time, "1h30m"),
	TERN_OPT("flag", BOOL, struct blk, flag, "true"),
	TERN_OPT("mode", OCTAL, struct blk, mode, "0600"),
	TERN_OPT("s", STRING, struct blk, s, NULL),
	TERN_OPT_END
};

static void
test_value_text(void **state)
{
	static const char *const want[] = { "50M", "1h30m", "true", "0600", "" };
	struct blk b;
	char *err;
	int i = 0;

	(void)state;
	memset(&b, 0xff, sizeof(b));
	assert_int_equal(option_apply_defaults(blk_opts, &b, &err), 0);
	for (const struct tern_option *o = blk_opts; o->name; o++, i++) {
		const char *got = option_value_text(o, &b);

		if (strcmp(got, want[i]) != 0)
			fail_msg("option %s: got \"%s\", want \"%s\"", o->name,
				got, want[i]);
	}
	assert_null(b.s);
}

static void
test_option_set_forms(void **state)
{
	const struct tern_option *flag = option_find(blk_opts, "flag");
	const struct tern_option *size = option_find(blk_opts, "size");
	struct blk b = { 0 };
	char *err;

	(void)state;
	assert_int_equal(option_set(flag, &b, NULL, false, &err), 0);
	assert_true(b.flag);
	assert_int_equal(option_set(flag, &b, NULL, true, &err), 0);
	assert_false(b.flag);
	assert_int_equal(option_set(flag, &b, "yes", false, &err), 0);
	assert_true(b.flag);
	assert_int_equal(option_set(size, &b, NULL, false, &err), -1);
	assert_int_equal(option_set(size, &b, NULL, true, &err), -1);
	assert_int_equal(option_set(flag, &b, "yes", true, &err), -1);
}

static void
test_main_defaults(void **state)
{
	char *err;

	(void)state;
	assert_int_equal(option_apply_defaults(main_options, &conf, &err), 0);
	assert_int_equal(conf.message_size_limit, 50 * 1024 * 1024);
	assert_int_equal(conf.smtp_receive_timeout, 300);
	assert_true(conf.receiver_verify);
	assert_true(conf.spool_sync);
	assert_false(conf.smtp_verify);
	assert_string_equal(conf.never_users, "root");
	assert_string_equal(conf.daemon_smtp_ports, "25");
	assert_int_equal(conf.received_headers_max, 30);
	assert_int_equal(conf.recipients_max, 50000);
	assert_int_equal(conf.smtp_max_unknown_commands, 3);
	assert_string_equal(conf.tern_user, "tern");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_size_error_text),
		cmocka_unit_test(test_value_text),
		cmocka_unit_test(test_option_set_forms),
		cmocka_unit_test(test_main_defaults),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
