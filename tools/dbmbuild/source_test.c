/* The dbm source parser: records, continuation lines and syntax errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "source.h"

struct got {
	char text[1024];
	int  stop_at; /* stop the parse at this record (1-based), 0 never */
	int  n;
};

static int
collect(void *arg, const char *key, const char *value, long line)
{
	struct got *g = arg;
	size_t len = strlen(g->text);

	g->n++;
	snprintf(g->text + len, sizeof g->text - len, "%s%ld:%s=%s",
		len ? "|" : "", line, key, value);
	return g->stop_at == g->n ? 7 : 0;
}

static void
test_parse(void **state)
{
	static const struct {
		const char *src;
		int         want_rc;
		const char *want; /* records, or the error text when rc != 0 */
	} cases[] = {
		{ "", 0, "" },
		{ "# only a comment\n\n   \n", 0, "" },
		{ "alice: alice@a.test\nbob bob@b.test\n", 0,
		  "1:alice=alice@a.test|2:bob=bob@b.test" },
		{ "list: a,\n  b,  \n\n# note\n\tc\nnext:x", 0,
		  "1:list=a, b, c|6:next=x" },
		{ "Key: value  \r\n", 0, "1:Key=value" },
		{ "\"two words\": v\n\"q\\\"x\":w\n", 0,
		  "1:two words=v|2:q\"x=w" },
		{ "empty:\nempty2\n", 0, "1:empty=|2:empty2=" },
		{ "  orphan\nkey: v\n", -1,
		  "src:1: continuation line with no key before it" },
		{ "ok: 1\n: nokey\n", -1, "src:2: missing key before \": nokey\"" },
		{ "ok: 1\n\n\"open: x\n", -1, "src:3: missing closing quote in key" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct got g = { "", 0, 0 };
		char err[256] = "";
		FILE *f = fmemopen((void *)cases[i].src, strlen(cases[i].src),
			"r");
		int rc;

		assert_non_null(f);
		rc = dbm_source_parse(f, "src", collect, &g, err, sizeof err);
		fclose(f);
		if (rc != cases[i].want_rc)
			fail_msg("case %zu: got rc %d (%s), want %d", i, rc, err,
				cases[i].want_rc);
		if (strcmp(rc ? err : g.text, cases[i].want) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				rc ? err : g.text, cases[i].want);
	}
}

static void
test_stop(void **state)
{
	const char *src = "a: 1\nb: 2\nc: 3\n";
	struct got g = { "", 2, 0 };
	char err[64];
	FILE *f = fmemopen((void *)src, strlen(src), "r");
	int rc;

	(void)state;
	assert_non_null(f);
	rc = dbm_source_parse(f, "src", collect, &g, err, sizeof err);
	fclose(f);
	if (rc != 7 || strcmp(g.text, "1:a=1|2:b=2") != 0)
		fail_msg("got rc %d \"%s\", want 7 \"1:a=1|2:b=2\"", rc, g.text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_stop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
