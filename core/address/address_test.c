/* Address syntax: SMTP paths, splitting, qualifying, RFC 5322 lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "address/address.h"
#include "lib/arena.h"

struct path_case {
	const char *in;
	bool        allow_empty;
	bool        allow_unqualified;
	const char *want_addr;  /* NULL: want an error */
	const char *want;       /* rest, or the error text */
};

#define E "5.1.3 malformed address: "

static const struct path_case path_cases[] = {
	{ "<a@b.example>", false, false, "a@b.example", "" },
	{ "<a@b.example> SIZE=100 BODY=8BITMIME", false, false, "a@b.example",
		" SIZE=100 BODY=8BITMIME" },
	{ " <a@b.example>", false, false, "a@b.example", "" },
	{ "<>", true, false, "", "" },
	{ "<> SIZE=10", true, false, "", " SIZE=10" },
	{ "<>", false, false, NULL, E "empty address not allowed here" },
	{ "<@relay.example,@r2.example:user@dom.example>", false, false,
		"user@dom.example", "" },
	{ "<@relay.example:user@dom.example>", false, false,
		"user@dom.example", "" },
	{ "<\"john doe\"@x.example>", false, false, "\"john doe\"@x.example", "" },
	{ "<\"a\\\"b\"@x.example>", false, false, "\"a\\\"b\"@x.example", "" },
	{ "<user@[192.0.2.1]>", false, false, "user@[192.0.2.1]", "" },
	{ "<user@[IPv6:2001:db8::1]>", false, false, "user@[IPv6:2001:db8::1]",
		"" },
	{ "<first.last+tag@sub.Example.COM>", false, false,
		"first.last+tag@sub.Example.COM", "" },
	{ "<user>", false, true, "user", "" },
	{ "<Postmaster>", false, false, "Postmaster", "" },
	{ "<user>", false, false, NULL, E "domain missing" },
	{ "a@b.example", false, false, NULL, E "missing '<'" },
	{ "<a@b.example", false, false, NULL, E "missing '>'" },
	{ "<a@b.example>x", false, false, NULL, E "junk after '>'" },
	{ "<a b@c.example>", false, false, NULL, E "bad character in local part" },
	{ "<a..b@c.example>", false, false, NULL,
		E "empty part between dots in local part" },
	{ ".a@c.example", false, false, NULL, E "missing '<'" },
	{ "<.a@c.example>", false, false, NULL,
		E "empty part between dots in local part" },
	{ "<a@c..example>", false, false, NULL, E "empty label in domain" },
	{ "<a@-c.example>", false, false, NULL,
		E "domain label starts or ends with '-'" },
	{ "<a@c_d.example>", false, false, NULL, E "bad character in domain" },
	{ "<a@>", false, false, NULL, E "empty domain" },
	{ "<@b.example>", false, false, NULL, E "bad source route" },
	{ "<\"abc@x.example>", false, false, NULL,
		E "unterminated quoted string" },
	{ "<a@[300.1.1.1]>", false, false, NULL, E "bad address literal" },
	{ "<a@[IPv6:zz::1]>", false, false, NULL, E "bad IPv6 address literal" },
	{ "<caf\xc3\xa9@x.example>", false, false, NULL,
		E "non-ASCII character (SMTPUTF8 is not supported)" },
	{ "<aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@x.example>",
		false, false, NULL, E "local part longer than 64 characters" },
	{ "<a@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.example>",
		false, false, NULL, E "domain label longer than 63 characters" },
};

static void
test_parse_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		char *addr = NULL, *err = NULL;
		const char *rest = NULL;
		int rc = address_parse_path2(arena_scratch, c->in, c->allow_empty,
			c->allow_unqualified, &addr, &rest, &err);

		if (c->want_addr != NULL) {
			if (rc != 0 || strcmp(addr, c->want_addr) != 0 ||
			    strcmp(rest, c->want) != 0)
				fail_msg("%s: got rc %d addr \"%s\" rest \"%s\" "
				    "err \"%s\", want \"%s\" rest \"%s\"", c->in,
				    rc, addr ? addr : "", rest ? rest : "",
				    err ? err : "", c->want_addr, c->want);
		} else if (rc != -1 || err == NULL || strcmp(err, c->want) != 0) {
			fail_msg("%s: got rc %d err \"%s\", want \"%s\"", c->in,
			    rc, err ? err : "(none)", c->want);
		}
	}
}

static void
test_parse_path_long(void **state)
{
	char in[400], *addr = NULL, *err = NULL;
	const char *rest;
	int n;

	(void)state;
	/* 64 + 1 + 4 * 47 = 253 + ".ex" > 254 */
	n = snprintf(in, sizeof(in), "<%064d@", 0);
	for (int i = 0; i < 4; i++)
		n += snprintf(in + n, sizeof(in) - (size_t)n, "%046d.", i);
	snprintf(in + n, sizeof(in) - (size_t)n, "example>");
	assert_int_equal(address_parse_path(arena_scratch, in, false, &addr,
		&rest, &err), -1);
	assert_string_equal(err, E "address longer than 254 characters");
}

struct split_case {
	const char *in;
	const char *local, *domain; /* local NULL: error */
};

static const struct split_case split_cases[] = {
	{ "user@Example.COM", "user", "example.com" },
	{ "\"a@b\"@x.example", "\"a@b\"", "x.example" },
	{ "User", "User", NULL },
	{ "a@b@c.example", "a@b", "c.example" },
	{ "@x.example", NULL, NULL },
	{ "a@", NULL, NULL },
	{ "\"open@x", NULL, NULL },
};

static void
test_split(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(split_cases) / sizeof(split_cases[0]);
	    i++) {
		const struct split_case *c = &split_cases[i];
		char *l = NULL, *d = NULL, *err = NULL;
		int rc = address_split(arena_scratch, c->in, &l, &d, &err);

		if (c->local == NULL) {
			if (rc != -1)
				fail_msg("%s: got success, want an error", c->in);
			continue;
		}
		if (rc != 0 || strcmp(l, c->local) != 0 ||
		    (c->domain == NULL) != (d == NULL) ||
		    (d != NULL && strcmp(d, c->domain) != 0))
			fail_msg("%s: got \"%s\" \"%s\" (%s), want \"%s\" \"%s\"",
			    c->in, l ? l : "", d ? d : "(null)", err ? err : "",
			    c->local, c->domain ? c->domain : "(null)");
	}
}

static void
test_qualify(void **state)
{
	(void)state;
	assert_string_equal(address_qualify(arena_scratch, "bob", "x.example"),
		"bob@x.example");
	assert_string_equal(address_qualify(arena_scratch, "bob@y.example",
		"x.example"), "bob@y.example");
	assert_string_equal(address_qualify(arena_scratch, "\"a@b\"",
		"x.example"), "\"a@b\"@x.example");
	assert_string_equal(address_qualify(arena_scratch, "", "x.example"), "");
}

static void
test_validators(void **state)
{
	static const char *good_domains[] = { "example.com", "localhost",
		"a-b.c9.example", "[127.0.0.1]", "[IPv6:::1]", "X.EXAMPLE" };
	static const char *bad_domains[] = { "", ".example", "example.",
		"a..b", "-a.example", "a-.example", "a b", "[1.2.3]", "a_b.c" };
	static const char *good_lps[] = { "user", "first.last", "a+b",
		"\"john doe\"", "\"\"", "!#$%&'*+-/=?^_`{|}~" };
	static const char *bad_lps[] = { "", ".a", "a.", "a..b", "a b",
		"\"open", "a\"b", "a@b" };

	(void)state;
	for (size_t i = 0; i < sizeof(good_domains) / sizeof(*good_domains); i++)
		if (!address_domain_valid(good_domains[i]))
			fail_msg("domain \"%s\": got invalid, want valid",
			    good_domains[i]);
	for (size_t i = 0; i < sizeof(bad_domains) / sizeof(*bad_domains); i++)
		if (address_domain_valid(bad_domains[i]))
			fail_msg("domain \"%s\": got valid, want invalid",
			    bad_domains[i]);
	for (size_t i = 0; i < sizeof(good_lps) / sizeof(*good_lps); i++)
		if (!address_local_part_valid(good_lps[i]))
			fail_msg("local part \"%s\": got invalid, want valid",
			    good_lps[i]);
	for (size_t i = 0; i < sizeof(bad_lps) / sizeof(*bad_lps); i++)
		if (address_local_part_valid(bad_lps[i]))
			fail_msg("local part \"%s\": got valid, want invalid",
			    bad_lps[i]);
}

struct list_case {
	const char *in;
	const char *want; /* addresses joined by " | "; NULL: error */
};

static const struct list_case list_cases[] = {
	{ "a@x.example", "a@x.example" },
	{ "A Person <a@x.example>, b@y.example (Bee)",
		"a@x.example | b@y.example" },
	{ "\"Doe, John\" <john@x.example>", "john@x.example" },
	{ "undisclosed-recipients:;", "" },
	{ "friends: c@z.example, D <d@z.example>;, e@z.example",
		"c@z.example | d@z.example | e@z.example" },
	{ "a@x.example,\r\n\tb@y.example", "a@x.example | b@y.example" },
	{ "(comment (nested)) a@x.example", "a@x.example" },
	{ "J. Random <jr@x.example>", "jr@x.example" },
	{ "<@route.example:r@x.example>", "r@x.example" },
	{ "\"john doe\"@x.example", "\"john doe\"@x.example" },
	{ "john . doe @ x.example", "john.doe@x.example" },
	{ "bob, carol@x.example", "bob | carol@x.example" },
	{ "a@x.example,, ,b@y.example", "a@x.example | b@y.example" },
	{ "", "" },
	{ "Caf\xc3\xa9 <c@x.example>", "c@x.example" },
	{ "<>", "" },
	{ "a@x.example b@y.example", NULL },
	{ "John Doe", NULL },
	{ "<a@x.example", NULL },
	{ "a@x.example (unclosed", NULL },
	{ "\"unclosed <a@x.example>", NULL },
	{ "a@bad_domain.example", NULL },
};

static void
test_list_extract(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(list_cases) / sizeof(list_cases[0]); i++) {
		const struct list_case *c = &list_cases[i];
		char **list = NULL, *err = NULL;
		char got[512] = "";
		size_t n = 0;
		int rc = address_list_extract(arena_scratch, c->in, &list, &err);

		if (c->want == NULL) {
			if (rc != -1)
				fail_msg("%s: got success, want an error", c->in);
			continue;
		}
		if (rc != 0)
			fail_msg("%s: got error \"%s\", want \"%s\"", c->in, err,
			    c->want);
		for (char **p = list; *p != NULL; p++)
			n += (size_t)snprintf(got + n, sizeof(got) - n, "%s%s",
			    p == list ? "" : " | ", *p);
		if (strcmp(got, c->want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", c->in, got,
			    c->want);
	}
}

/* Each span as [spec]{item}, joined by " | ". */
static const struct {
	const char *in, *want;
} span_cases[] = {
	{ "a@x.example", "[a@x.example]{a@x.example}" },
	{ "  A. Person <a@x.example> , b@y.example (Bee)",
	  "[a@x.example]{A. Person <a@x.example>} | "
	  "[b@y.example]{b@y.example (Bee)}" },
	{ "\"Q, R\" <@r1,@r2:q@z.example>",
	  "[q@z.example]{\"Q, R\" <@r1,@r2:q@z.example>}" },
	{ "Team: one@x.example, Two <two@y.example>;, three",
	  "[one@x.example]{one@x.example} | "
	  "[two@y.example]{Two <two@y.example>} | [three]{three}" },
	{ "<>, undisclosed-recipients:;", "" },
	{ "a @ x.example", "[a @ x.example]{a @ x.example}" },
};

static void
test_list_spans(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(span_cases) / sizeof(span_cases[0]);
	    i++) {
		const char *in = span_cases[i].in;
		struct address_span *sp = NULL;
		char got[512] = "", *err = NULL;
		size_t n = 0, len = 0;

		if (address_list_spans(arena_scratch, in, &sp, &n, &err) != 0)
			fail_msg("%s: error %s", in, err);
		for (size_t k = 0; k < n; k++)
			len += (size_t)snprintf(got + len, sizeof(got) - len,
			    "%s[%.*s]{%.*s}", k ? " | " : "",
			    (int)(sp[k].spec_end - sp[k].spec_start),
			    in + sp[k].spec_start,
			    (int)(sp[k].item_end - sp[k].item_start),
			    in + sp[k].item_start);
		if (strcmp(got, span_cases[i].want) != 0)
			fail_msg("%s: got \"%s\", want \"%s\"", in, got,
			    span_cases[i].want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_path),
		cmocka_unit_test(test_parse_path_long),
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_qualify),
		cmocka_unit_test(test_validators),
		cmocka_unit_test(test_list_extract),
		cmocka_unit_test(test_list_spans),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
