/* Unit tests for the ldap lookup's text handling: table-driven. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "query.h"

struct pcase {
	const char *q;
	int         rc;
	const char *user, *pass;
	int         nettime, time, size;
	const char *url;
};

static const struct pcase pcases[] = {
	{ "ldap:///o=x?mail?sub?(uid=a)", 0, NULL, NULL, 0, 0, 0,
	  "ldap:///o=x?mail?sub?(uid=a)" },
	{ "user=\"cn=admin, dc=isp\" pass=s3cr\\\"t ldap://h:389/o=x", 0,
	  "cn=admin, dc=isp", "s3cr\"t", 0, 0, 0, "ldap://h:389/o=x" },
	{ "  nettime=3 time=10 size=1 ldaps://h/o=x", 0, NULL, NULL, 3, 10, 1,
	  "ldaps://h/o=x" },
	{ "connect=2 ldapi:///o=x", 0, NULL, NULL, 2, 0, 0, "ldapi:///o=x" },
	{ "user=x", -1, NULL, NULL, 0, 0, 0, NULL },
	{ "frob=1 ldap:///", -1, NULL, NULL, 0, 0, 0, NULL },
	{ "time=abc ldap:///", -1, NULL, NULL, 0, 0, 0, NULL },
	{ "user=\"unterminated ldap:///", -1, NULL, NULL, 0, 0, 0, NULL },
	{ "http://x/", -1, NULL, NULL, 0, 0, 0, NULL },
};

static bool
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
test_parse(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(pcases) / sizeof(pcases[0]); i++) {
		const struct pcase *c = &pcases[i];
		char buf[256];
		struct lq_opts o;
		const char *why = NULL;
		int rc;

		snprintf(buf, sizeof(buf), "%s", c->q);
		rc = lq_parse(buf, &o, &why);
		if (rc != c->rc) {
			print_error("%s: got rc %d (%s), want %d\n", c->q, rc,
				why ? why : "", c->rc);
			failures++;
			continue;
		}
		if (rc == 0 && (!str_same(o.user, c->user) ||
		    !str_same(o.pass, c->pass) || !str_same(o.url, c->url) ||
		    o.nettime != c->nettime || o.time != c->time ||
		    o.size != c->size)) {
			print_error("%s: got user \"%s\" pass \"%s\" url \"%s\" "
				"%d/%d/%d\n", c->q, o.user ? o.user : "(null)",
				o.pass ? o.pass : "(null)", o.url, o.nettime, o.time,
				o.size);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void
test_url_server(void **state)
{
	static const struct {
		const char *url, *want;
		int rc;
		size_t slen;
	} cases[] = {
		{ "ldap:///o=x", "", 0, 4 },
		{ "ldap://h:389/o=x?a", "ldap://h:389", 0, 4 },
		{ "ldaps://h", "ldaps://h", 0, 5 },
		{ "ldapi://%2Ftmp%2Fs/o=x", "ldapi://%2Ftmp%2Fs", 0, 5 },
		{ "ldap://h?mail", "ldap://h", 0, 4 },
		{ "ftp://h/", NULL, -1, 0 },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		size_t slen = 0;
		int rc = lq_url_server(cases[i].url, buf, sizeof(buf), &slen);

		if (rc != cases[i].rc || (rc == 0 &&
		    (strcmp(buf, cases[i].want) != 0 || slen != cases[i].slen))) {
			print_error("%s: got %d \"%s\" %zu, want %d \"%s\"\n",
				cases[i].url, rc, rc == 0 ? buf : "", slen,
				cases[i].rc, cases[i].want ? cases[i].want : "");
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void
test_list_and_uri(void **state)
{
	const char *list = "h1::3890 : ldaps:://h2/ : <x", *l2 = "<; a:1 ; b";
	char item[64], uri[128], sep = '\0';

	(void)state;
	assert_int_equal(tern_list_next(&list, &sep, item, sizeof(item)), 7);
	assert_string_equal(item, "h1:3890");
	lq_server_uri(item, "ldap", uri, sizeof(uri));
	assert_string_equal(uri, "ldap://h1:3890");
	assert_true(tern_list_next(&list, &sep, item, sizeof(item)) > 0);
	lq_server_uri(item, "ldap", uri, sizeof(uri));
	assert_string_equal(uri, "ldaps://h2/");
	assert_true(tern_list_next(&list, &sep, item, sizeof(item)) > 0);
	assert_string_equal(item, "<x");
	assert_int_equal(tern_list_next(&list, &sep, item, sizeof(item)), 0);
	sep = '\0';
	assert_true(tern_list_next(&l2, &sep, item, sizeof(item)) > 0);
	assert_string_equal(item, "a:1");
	assert_true(tern_list_next(&l2, &sep, item, sizeof(item)) > 0);
	assert_string_equal(item, "b");
}

static void
test_put_value(void **state)
{
	static const struct {
		const char *v;
		bool        is_quoted;
		const char *want;
	} cases[] = {
		{ "plain", false, "plain" },
		{ "a,b", false, "a,,b" },
		{ "say \"hi\" \\o/", true, "say \\\"hi\\\" \\\\o/" },
		{ "say \"hi\"", false, "say \"hi\"" },
		{ "x,y", true, "x,,y" },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[64];
		size_t n = lq_put_value(NULL, cases[i].v, strlen(cases[i].v),
			cases[i].is_quoted);
		size_t m = lq_put_value(buf, cases[i].v, strlen(cases[i].v),
			cases[i].is_quoted);

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
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_url_server),
		cmocka_unit_test(test_list_and_uri),
		cmocka_unit_test(test_put_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
