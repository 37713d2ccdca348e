#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aliaslist.h"

static const char *const kind_names[] = {
	[AI_ADDRESS] = "addr", [AI_PIPE] = "pipe", [AI_FILE] = "file",
	[AI_INCLUDE] = "include", [AI_FAIL] = "fail", [AI_DEFER] = "defer",
	[AI_BLACKHOLE] = "blackhole", [AI_UNKNOWN] = "unknown",
};

/* The items of list as "kind=text;kind=text", or "...;ERROR: why". */
static void
render(const char *list, char *out, size_t outsz)
{
	const char *cur = list, *err;
	struct alias_item item;
	size_t n = 0;
	int rc;

	out[0] = '\0';
	while ((rc = alias_next_item(&cur, &item, &err)) == 1) {
		n += (size_t)snprintf(out + n, outsz - n, "%s%s=%s",
			n ? ";" : "", kind_names[item.kind], item.text);
		free(item.text);
	}
	if (rc < 0)
		snprintf(out + n, outsz - n, "%sERROR: %s", n ? ";" : "", err);
}

static void
test_items(void **state)
{
	static const struct {
		const char *list, *want;
	} cases[] = {
		{ "", "" },
		{ "  , ,\n", "" },
		{ "alice", "addr=alice" },
		{ "alice, bob@example.test", "addr=alice;addr=bob@example.test" },
		{ "alice\nbob", "addr=alice;addr=bob" },
		{ "Alice Smith <alice@example.test>, bob",
		  "addr=alice@example.test;addr=bob" },
		{ "bob@example.test (Bob, the builder)",
		  "addr=bob@example.test" },
		{ "\"quoted, local\"@example.test",
		  "addr=\"quoted, local\"@example.test" },
		{ "\\carol", "addr=carol" },
		{ "|/usr/bin/prog arg", "pipe=|/usr/bin/prog arg" },
		{ "\"|/usr/bin/prog a,b\", x", "pipe=|/usr/bin/prog a,b;addr=x" },
		{ "|/bin/prog \"a,b\" c", "pipe=|/bin/prog \"a,b\" c" },
		{ "/var/mail/file, /tmp/dir/", "file=/var/mail/file;file=/tmp/dir/" },
		{ "\"/path with space\"", "file=/path with space" },
		{ ":include: /etc/lists/staff , dave",
		  "include=/etc/lists/staff;addr=dave" },
		{ ":include:", "ERROR: no file name after :include:" },
		{ ":fail: This address is closed, really",
		  "fail=This address is closed, really" },
		{ "x, :defer: try later", "addr=x;defer=try later" },
		{ ":FAIL:", "fail=" },
		{ ":blackhole:", "blackhole=" },
		{ ":unknown:", "unknown=" },
		{ "<>, (just a comment), eve", "addr=eve" },
		{ "\"unterminated", "ERROR: missing closing quote" },
		{ "ok, (open comment", "addr=ok;ERROR: missing ')' after comment" },
	};
	char got[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		render(cases[i].list, got, sizeof got);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("list \"%s\": got \"%s\", want \"%s\"",
				cases[i].list, got, cases[i].want);
	}
}

static void
test_strip_comments(void **state)
{
	char text[] = "# staff list\nalice,\n  # bob left\ncarol # not a comment\n#";
	const char *want = "            \nalice,\n            \n"
		"carol # not a comment\n ";

	(void)state;
	alias_strip_comments(text);
	if (strcmp(text, want) != 0)
		fail_msg("got \"%s\", want \"%s\"", text, want);
}

static void
test_has_domain(void **state)
{
	static const struct {
		const char *addr;
		int want;
	} cases[] = {
		{ "user", 0 },
		{ "user@dom", 1 },
		{ "\"a@b\"", 0 },
		{ "\"a@b\"@dom", 1 },
		{ "a\\@b", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (alias_has_domain(cases[i].addr) != cases[i].want)
			fail_msg("%s: got %d, want %d", cases[i].addr,
				!cases[i].want, cases[i].want);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_strip_comments),
		cmocka_unit_test(test_has_domain),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
