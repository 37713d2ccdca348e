/* List matching: domains, hosts, addresses, local parts, named lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "config/lists.h"
#include "lib/arena.h"

struct case_ {
	enum tern_list_kind kind;
	const char *list;
	const char *item;
	const char *host_name;
	int         want;
};

#define D TERN_LIST_DOMAIN
#define H TERN_LIST_HOST
#define A TERN_LIST_ADDRESS
#define L TERN_LIST_LOCALPART
#define S TERN_LIST_STRING
#define OK TERN_OK
#define NO TERN_FAIL

static const struct case_ cases[] = {
	/* domains */
	{ D, "example.test", "example.test", NULL, OK },
	{ D, "example.test", "EXAMPLE.Test", NULL, OK },
	{ D, "example.test", "other.test", NULL, NO },
	{ D, "a.test : b.test : c.test", "b.test", NULL, OK },
	{ D, "*.example.test", "mail.example.test", NULL, OK },
	{ D, "*.example.test", "example.test", NULL, NO },
	{ D, "*example.test", "example.test", NULL, OK },
	{ D, "*", "anything.test", NULL, OK },
	{ D, "@", "mail.tern.test", NULL, OK },
	{ D, "@", "other.test", NULL, NO },
	{ D, "@ : localhost", "LOCALHOST", NULL, OK },
	{ D, "@[]", "mail.tern.test", NULL, NO },
	{ D, "!bad.example.test : *.example.test", "bad.example.test", NULL, NO },
	{ D, "!bad.example.test : *.example.test", "ok.example.test", NULL, OK },
	{ D, "*.example.test : !bad.example.test", "bad.example.test", NULL, OK },
	{ D, "^mx[0-9]+\\.example\\.test$", "MX12.example.test", NULL, OK },
	{ D, "^mx[0-9]+\\.example\\.test$", "mxa.example.test", NULL, NO },
	{ D, "+locals", "one.test", NULL, OK },
	{ D, "+locals", "three.test", NULL, NO },
	{ D, "!+locals : *", "one.test", NULL, NO },
	{ D, "!+locals : *", "three.test", NULL, OK },
	/* a list ending in a negative item matches what nothing matched */
	{ D, "! +locals", "one.test", NULL, NO },
	{ D, "! +locals", "three.test", NULL, OK },
	{ D, "a.test : !b.test", "c.test", NULL, OK },
	{ D, "+nested", "two.test", NULL, OK },
	{ D, "<; a.test ; b.test", "b.test", NULL, OK },
	{ D, "", "a.test", NULL, NO },
	/* hosts */
	{ H, "127.0.0.1", "127.0.0.1", NULL, OK },
	{ H, "127.0.0.1", "127.0.0.2", NULL, NO },
	{ H, "192.168.0.0/16", "192.168.45.3", NULL, OK },
	{ H, "192.168.0.0/16", "192.169.0.1", NULL, NO },
	{ H, "10.1.2.3/32", "10.1.2.3", NULL, OK },
	{ H, "0.0.0.0/0", "203.0.113.9", NULL, OK },
	{ H, "10.0.0.0/8", "::ffff:10.9.8.7", NULL, OK },
	{ H, "<; 2001:db8::/32", "2001:db8:1::5", NULL, OK },
	{ H, "<; 2001:db8::/32", "2001:db9::5", NULL, NO },
	{ H, "<; ::1", "::1", NULL, OK },
	{ H, "127.0.0.1 : ::1", "::1", NULL, OK },
	{ H, "127.0.0.1 : ::::1", "::1", NULL, OK },
	{ H, "<; fe80::/10 ; 10.0.0.0/8", "fe80::1", NULL, OK },
	{ H, "<; 2001:db8::1/127", "2001:db8::0", NULL, OK },
	{ H, "<; 2001:db8::1/127", "2001:db8::2", NULL, NO },
	{ H, "*", "198.51.100.1", NULL, OK },
	{ H, "!10.0.0.1 : 10.0.0.0/8", "10.0.0.1", NULL, NO },
	{ H, "!10.0.0.1 : 10.0.0.0/8", "10.0.0.2", NULL, OK },
	{ H, "+relays", "192.0.2.77", NULL, OK },
	{ H, "+relays", "192.0.3.77", NULL, NO },
	{ H, "*.example.test", "192.0.2.1", "mail.example.test", OK },
	{ H, "*.example.test", "192.0.2.1", NULL, NO },
	{ H, "mail.example.test", "192.0.2.1", "MAIL.example.test", OK },
	/* no lookups for this address (list_host_lookups): names only
	 * match a name passed in */
	{ H, "mail.example.test", "192.0.2.1", NULL, NO },
	{ H, "^mail\\.", "192.0.2.1", NULL, NO },
	{ H, "^mail\\.", "192.0.2.1", "mail.example.test", OK },
	{ H, "\\N^mail\\.example\\.test$\\N", "192.0.2.1",
	  "mail.example.test", OK },
	{ H, "\\N^mail\\.example\\.test$\\N", "192.0.2.1",
	  "xmail.example.test", NO },
	{ H, "\\N192.0.2.0/24\\N", "192.0.2.1", NULL, OK },
	/* addresses */
	{ A, "user@example.test", "User@Example.TEST", NULL, OK },
	{ A, "+caseful : user@example.test", "User@example.test", NULL, NO },
	{ A, "*@example.test", "anyone@example.test", NULL, OK },
	{ A, "*@example.test", "anyone@other.test", NULL, NO },
	{ A, "postmaster@*", "postmaster@any.test", NULL, OK },
	{ A, "*@*.example.test", "a@b.example.test", NULL, OK },
	{ A, "example.test", "joe@example.test", NULL, OK },
	{ A, "^bounce-.*@lists\\.test$", "bounce-42@lists.test", NULL, OK },
	{ A, "!spam@example.test : *@example.test", "spam@example.test", NULL, NO },
	/* local parts */
	{ L, "root : postmaster", "Postmaster", NULL, OK },
	{ L, "root : postmaster", "joe", NULL, NO },
	{ L, "*-request", "list-request", NULL, OK },
	{ L, "^owner-", "owner-list", NULL, OK },
	/* strings */
	{ S, "25 : 587", "587", NULL, OK },
	{ S, "a::b", "a:b", NULL, OK },
};

static void
setup_lists(void)
{
	static struct named_list nested = { "domainlist", "nested",
		"+locals", NULL };
	static struct named_list relays = { "hostlist", "relays",
		"192.0.2.0/24", &nested };
	static struct named_list locals = { "domainlist", "locals",
		"one.test : two.test", &relays };

	cfg.lists = &locals;
	conf.primary_hostname = "mail.tern.test";
}

static void
test_match_table(void **state)
{
	(void)state;
	setup_lists();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *c = &cases[i];
		char *err = NULL;
		int got = list_match(c->kind, c->list, c->item, c->host_name,
			&err);

		if (got != c->want)
			fail_msg("case %zu: list \"%s\" item \"%s\": got %d, want %d%s%s",
				i, c->list, c->item, got, c->want,
				err ? ": " : "", err ? err : "");
	}
}

static void
test_unknown_named_list(void **state)
{
	char *err = NULL;

	(void)state;
	setup_lists();
	assert_int_equal(list_match(D, "+nosuch", "a.test", NULL, &err),
		TERN_ERROR);
	assert_non_null(strstr(err, "nosuch"));
	/* a domainlist is not a hostlist */
	assert_int_equal(list_match(H, "+locals", "1.2.3.4", NULL, &err),
		TERN_ERROR);
}

static void
test_list_next(void **state)
{
	static const struct {
		const char *list;
		const char *want; /* items joined with '|' */
	} cases_[] = {
		{ "a : b : c", "a|b|c" },
		{ "  a:b  ", "a|b" },
		{ "a::b : c", "a:b|c" },
		{ "<; a:b ; c", "a:b|c" },
		{ "<, x , y,,z", "x|y,z" },
		{ "a : : b", "a|b" },
		{ "", "" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases_) / sizeof(cases_[0]); i++) {
		const char *l = cases_[i].list, *item;
		char sep = '\0', got[128] = "";
		size_t n = 0;

		while ((item = list_next(&l, &sep)) != NULL)
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
				n ? "|" : "", item);
		if (strcmp(got, cases_[i].want) != 0)
			fail_msg("list \"%s\": got \"%s\", want \"%s\"",
				cases_[i].list, got, cases_[i].want);
	}
}

static void
test_check(void **state)
{
	char *err = NULL;

	(void)state;
	setup_lists();
	assert_int_equal(list_check(H, "127.0.0.1 : 10.0.0.0/8 : *.x.test",
		&err), 0);
	assert_int_equal(list_check(H, "10.0.0.0/33", &err), -1);
	assert_non_null(strstr(err, "10.0.0.0/33"));
	assert_int_equal(list_check(H, "<; ::1/129", &err), -1);
	assert_int_equal(list_check(D, "^(unclosed", &err), -1);
	assert_int_equal(list_check(D, "+nosuch", &err), -1);
	assert_int_equal(list_check_syntax(D, "+nosuch", &err), 0);
	assert_int_equal(list_check(D, "+locals : !", &err), -1);
	assert_int_equal(list_check(D, "$domain", &err), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_unknown_named_list),
		cmocka_unit_test(test_list_next),
		cmocka_unit_test(test_check),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
