#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse.h"

static void
test_parse_key(void **state)
{
	static const struct {
		const char *line, *key, *rest; /* key NULL: rejected */
	} cases[] = {
		{ "root: admin", "root", "admin" },
		{ "root:admin", "root", "admin" },
		{ "root admin, other", "root", "admin, other" },
		{ "root\t:\t x", "root", "x" },
		{ "bare", "bare", "" },
		{ "\"with space\": v", "with space", "v" },
		{ "\"a\\\"b\\\\c\" v", "a\"b\\c", "v" },
		{ "\"2001:db8::1\" v6", "2001:db8::1", "v6" },
		{ "\"unterminated", NULL, NULL },
		{ ": nokey", NULL, NULL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *key = NULL;
		const char *rest = NULL;
		int rc = lsearch_parse_key(cases[i].line, &key, &rest);

		if (cases[i].key == NULL) {
			if (rc != -1)
				fail_msg("line %zu: got key \"%s\", want error",
					i, key);
			continue;
		}
		if (rc != 0)
			fail_msg("line %zu \"%s\": got error, want key \"%s\"",
				i, cases[i].line, cases[i].key);
		if (strcmp(key, cases[i].key) != 0)
			fail_msg("line %zu: got key \"%s\", want \"%s\"", i,
				key, cases[i].key);
		if (strcmp(rest, cases[i].rest) != 0)
			fail_msg("line %zu: got rest \"%s\", want \"%s\"", i,
				rest, cases[i].rest);
		free(key);
	}
}

static int
caseless(void *arg, const char *key)
{
	return strcasecmp(key, arg) == 0;
}

static const char file_text[] =
	"# comment line\n"
	"\n"
	"postmaster: root\n"
	"root:   admin,\n"
	"        other@example.test ,\n"
	"# a comment inside the continuation\n"
	"\t  |/usr/bin/prog  \n"
	"\n"
	"Mixed: Case Value\r\n"
	"empty:\n"
	"after: x\n"
	"  cont\n"
	"last: end";

static void
test_scan(void **state)
{
	static const struct {
		const char *key, *want; /* want NULL: not found */
	} cases[] = {
		{ "postmaster", "root" },
		{ "root", "admin, other@example.test , |/usr/bin/prog" },
		{ "ROOT", "admin, other@example.test , |/usr/bin/prog" },
		{ "mixed", "Case Value" },
		{ "empty", "" },
		{ "after", "x cont" },
		{ "last", "end" },
		{ "nobody", NULL },
		{ "comment", NULL },
		{ "other@example.test", NULL },
	};
	FILE *f = fmemopen((void *)file_text, sizeof file_text - 1, "r");

	(void)state;
	assert_non_null(f);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *value = NULL;
		int rc = lsearch_scan(f, caseless, (void *)cases[i].key,
			&value);

		if (cases[i].want == NULL) {
			if (rc != 0)
				fail_msg("key %s: got rc %d value \"%s\", "
					"want not found", cases[i].key, rc,
					value ? value : "");
			continue;
		}
		if (rc != 1)
			fail_msg("key %s: got rc %d, want \"%s\"",
				cases[i].key, rc, cases[i].want);
		if (strcmp(value, cases[i].want) != 0)
			fail_msg("key %s: got \"%s\", want \"%s\"",
				cases[i].key, value, cases[i].want);
		free(value);
	}
	fclose(f);
}

static void
test_wild(void **state)
{
	static const struct {
		const char *pattern, *subject;
		int want;
	} cases[] = {
		{ "*", "anything", 1 },
		{ "*@example.test", "joe@EXAMPLE.test", 1 },
		{ "*@example.test", "joe@other.test", 0 },
		{ "*.example.test", "a.b.example.test", 1 },
		{ "*.example.test", "example.test", 0 },
		{ "exact", "EXACT", 1 },
		{ "exact", "exactly", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = lsearch_wild_match(cases[i].pattern,
			cases[i].subject);

		if (got != cases[i].want)
			fail_msg("\"%s\" ~ \"%s\": got %d, want %d",
				cases[i].pattern, cases[i].subject, got,
				cases[i].want);
	}
}

static void
test_ip(void **state)
{
	static const struct {
		const char *pattern, *ip;
		int want;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1", 1 },
		{ "192.0.2.1", "192.0.2.2", 0 },
		{ "192.0.2.0/24", "192.0.2.200", 1 },
		{ "192.0.2.0/24", "192.0.3.1", 0 },
		{ "10.0.0.0/9", "10.127.255.255", 1 },
		{ "10.0.0.0/9", "10.128.0.0", 0 },
		{ "0.0.0.0/0", "203.0.113.9", 1 },
		{ "2001:db8::/32", "2001:db8:1::5", 1 },
		{ "2001:db8::/32", "2001:db9::5", 0 },
		{ "192.0.2.0/24", "::ffff:192.0.2.7", 1 },
		{ "::ffff:192.0.2.0/120", "192.0.2.7", 1 },
		{ "192.0.2.0/24", "2001:db8::1", 0 },
		{ "192.0.2.0/33", "192.0.2.1", -1 },
		{ "notanip", "192.0.2.1", -1 },
		{ "192.0.2.1", "notanip", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int got = lsearch_ip_match(cases[i].pattern, cases[i].ip);

		if (got != cases[i].want)
			fail_msg("%s in %s: got %d, want %d", cases[i].ip,
				cases[i].pattern, got, cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_key),
		cmocka_unit_test(test_scan),
		cmocka_unit_test(test_wild),
		cmocka_unit_test(test_ip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
