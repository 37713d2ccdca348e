/* Unit tests for the mysql lookup's text handling: table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "server.h"

static void
test_parse_server(void **state)
{
	static const struct {
		const char *spec;
		int         rc;
		const char *host, *socket, *db, *user, *pass;
		unsigned    port;
	} cases[] = {
		{ "localhost/mail/tern/secret", 0, "localhost", "", "mail", "tern",
		  "secret", 0 },
		{ "127.0.0.1:3307/mail/u/p/w", 0, "127.0.0.1", "", "mail", "u",
		  "p/w", 3307 },
		{ "localhost(/tmp/my.sock)/d/u/", 0, "localhost", "/tmp/my.sock",
		  "d", "u", "", 0 },
		{ "h:0/d/u/p", -1, NULL, NULL, NULL, NULL, NULL, 0 },
		{ "h:x/d/u/p", -1, NULL, NULL, NULL, NULL, NULL, 0 },
		{ "h/d/u", -1, NULL, NULL, NULL, NULL, NULL, 0 },
		{ "h(sock/d/u/p", -1, NULL, NULL, NULL, NULL, NULL, 0 },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ms_server s;
		const char *why = "";
		int rc = ms_parse_server(cases[i].spec, &s, &why);

		if (rc != cases[i].rc) {
			print_error("%s: got %d (%s), want %d\n", cases[i].spec, rc,
				why, cases[i].rc);
			failures++;
		} else if (rc == 0 && (strcmp(s.host, cases[i].host) ||
		    strcmp(s.socket, cases[i].socket) ||
		    strcmp(s.db, cases[i].db) || strcmp(s.user, cases[i].user) ||
		    strcmp(s.pass, cases[i].pass) || s.port != cases[i].port)) {
			print_error("%s: got %s %u (%s) %s %s %s\n", cases[i].spec,
				s.host, s.port, s.socket, s.db, s.user, s.pass);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void
test_list_and_split(void **state)
{
	const char *list = "127.0.0.1::3307/d/u/p : h2/d/u/a::b", *srv;
	char item[128], buf[128], sep = '\0';
	const char *q;

	(void)state;
	assert_true(tern_list_next(&list, &sep, item, sizeof(item)) > 0);
	assert_string_equal(item, "127.0.0.1:3307/d/u/p");
	assert_true(tern_list_next(&list, &sep, item, sizeof(item)) > 0);
	assert_string_equal(item, "h2/d/u/a:b");
	assert_int_equal(tern_list_next(&list, &sep, item, sizeof(item)), 0);
	q = ms_split_servers("servers=h/d/u/p; select 1", buf, sizeof(buf),
		&srv);
	assert_string_equal(srv, "h/d/u/p");
	assert_string_equal(q, " select 1");
	q = ms_split_servers("select 'servers=x;'", buf, sizeof(buf), &srv);
	assert_null(srv);
	assert_string_equal(q, "select 'servers=x;'");
}

static void
test_put_field(void **state)
{
	static const struct {
		const char *name, *v;
		bool        is_first;
		const char *want;
	} cases[] = {
		{ NULL, "plain value", true, "plain value" },
		{ "home", "/var/vmail/a", true, "home=/var/vmail/a" },
		{ "quota", "10M", false, " quota=10M" },
		{ "cn", "A \"B\"", false, " cn=\"A \\\"B\\\"\"" },
		{ "x", "", true, "x=\"\"" },
		{ "p", "a=b\\c", true, "p=\"a=b\\\\c\"" },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		size_t n = ms_put_field(NULL, cases[i].name, cases[i].v,
			strlen(cases[i].v), cases[i].is_first);
		size_t m = ms_put_field(buf, cases[i].name, cases[i].v,
			strlen(cases[i].v), cases[i].is_first);

		buf[m] = '\0';
		if (n != m || strcmp(buf, cases[i].want) != 0) {
			print_error("%s: got \"%s\" (%zu/%zu), want \"%s\"\n",
				cases[i].v, buf, n, m, cases[i].want);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_server),
		cmocka_unit_test(test_list_and_split),
		cmocka_unit_test(test_put_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
