/* Unit tests for expand_string: a table of templates and results. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "expand/expand_int.h"
#include "expand/quote.h"
#include "lib/arena.h"
#include "spool/spool.h"

static int
fake_lookup(struct tern_ctx *ctx, const char *type, const char *file,
	const char *key, char **value_out, char **err_out)
{
	(void)ctx;
	if (strcmp(type, "mysql") == 0 && file == NULL) {
		*value_out = arena_strdup(arena_msg, "one");
		return TERN_OK;
	}
	if (strcmp(type, "lsearch") != 0) {
		*err_out = arena_printf(arena_msg, "unknown lookup type \"%s\"", type);
		return TERN_ERROR;
	}
	if (strcmp(key, "defer") == 0) {
		*err_out = arena_strdup(arena_msg, "server down");
		return TERN_DEFER;
	}
	if (strcmp(file, "/etc/aliases") == 0 && strcmp(key, "fred") == 0) {
		*value_out = arena_strdup(arena_msg, "fred@x");
		return TERN_OK;
	}
	return TERN_FAIL;
}

struct xcase {
	const char *tmpl;
	int         rc;
	const char *want; /* result, or a substring of the error */
};

static const struct xcase cases[] = {
	{ "plain text", TERN_OK, "plain text" },
	{ "", TERN_OK, "" },
	{ "a}b", TERN_OK, "a}b" },
	{ "$local_part", TERN_OK, "Fred" },
	{ "${local_part}@$domain", TERN_OK, "Fred@example.test" },
	{ "/var/mail/$local_part", TERN_OK, "/var/mail/Fred" },
	{ "$home/Maildir/", TERN_OK, "/home/fred/Maildir/" },
	{ "\\$x \\\\ a\\nb\\tc", TERN_OK, "$x \\ a\nb\tc" },
	{ "a\\N^$x\\d{2}}$\\Nb \\N$y", TERN_OK, "a^$x\\d{2}}$b $y" },
	{ "$original_local_part $parent_local_part", TERN_OK, "postmaster postmaster" },
	{ "$original_domain", TERN_OK, "example.test" },
	{ "$local_part_data", TERN_OK, "fred" },
	{ "$sender_address $message_id $message_size", TERN_OK,
	  "s@example.org 1tX9aB-0004Kd-Q2 1234" },
	{ "$sender_host_address/$received_protocol", TERN_OK, "192.0.2.1/esmtp" },
	{ "$primary_hostname", TERN_OK, "mail.example.test" },
	{ "${address_pipe}${address_file}", TERN_OK, "" },
	{ "${lc:$local_part}", TERN_OK, "fred" },
	{ "${uc:abc}", TERN_OK, "ABC" },
	{ "${length_3:abcdef}", TERN_OK, "abc" },
	{ "${l_9:abc}", TERN_OK, "abc" },
	{ "${length_2:${uc:$local_part}}", TERN_OK, "FR" },
	{ "${substr_1_2:abcd}", TERN_OK, "bc" },
	{ "${domain:a@B.c}", TERN_OK, "B.c" },
	{ "${local_part:Joe <joe@b.c>}", TERN_OK, "joe" },
	{ "${strlen:abcd}", TERN_OK, "4" },
	{ "${hash_5:abc}", TERN_OK, "abc" },
	{ "${nhash_8:monty}", TERN_OK, "3" },
	{ "${nhash_8_4:monty}", TERN_OK, "0/3" },
	{ "${quote_lsearch:a b}", TERN_OK, "\"a b\"" },
	{ "${quote_lsearch:ab}", TERN_OK, "ab" },
	{ "${quote_local_part:a.b+c}", TERN_OK, "a.b+c" },
	{ "${quote_local_part:a b}", TERN_OK, "\"a b\"" },
	{ "${quote_local_part:a..b}", TERN_OK, "\"a..b\"" },
	{ "${quote_local_part:a.}", TERN_OK, "\"a.\"" },
	{ "${quote_local_part:}", TERN_OK, "\"\"" },
	{ "${quote_local_part:x\"y}", TERN_OK, "\"x\\\"y\"" },
	{ "${lookup{fred}lsearch{/etc/aliases}{$value}fail}", TERN_OK, "fred@x" },
	{ "${lookup{nobody}lsearch{/etc/aliases}{$value}fail}", TERN_FAIL,
	  "forced failure" },
	{ "${lookup{fred}lsearch{/etc/aliases}}", TERN_OK, "fred@x" },
	{ "${lookup{nobody}lsearch{/etc/aliases}}", TERN_OK, "" },
	{ "${lookup{nobody}lsearch{/etc/aliases}{yes}{no}}", TERN_OK, "no" },
	{ "${lookup {fred} lsearch {/etc/aliases} {<$value>} {no}}", TERN_OK,
	  "<fred@x>" },
	{ "${lookup{${lc:$local_part}}lsearch{/etc/aliases}{$value}}", TERN_OK,
	  "fred@x" },
	{ "${lookup{defer}lsearch{/x}}", TERN_DEFER, "server down" },
	{ "${lookup{x}nosuch{/x}}", TERN_ERROR, "unknown lookup type" },
	{ "${lookup mysql{select 1}{got $value}}", TERN_OK, "got one" },
	{ "${if eq{a}{a}{yes}{no}}", TERN_OK, "yes" },
	{ "${if !eq{a}{a}{yes}{no}}", TERN_OK, "no" },
	{ "${if eqi{A}{a}{yes}{no}}", TERN_OK, "yes" },
	{ "${if eq{A}{a}{yes}{no}}", TERN_OK, "no" },
	{ "${if eq{a}{a}}", TERN_OK, "true" },
	{ "${if eq{a}{b}}", TERN_OK, "" },
	{ "${if eq{a}{b}{y}fail}", TERN_FAIL, "forced failure" },
	{ "${if eq{a}{a}{y}fail}", TERN_OK, "y" },
	{ "${if eq{a}{b}{${lookup{defer}lsearch{/x}}}{n}}", TERN_OK, "n" },
	{ "${if eq{a}{a}{y}{${lookup{defer}lsearch{/x}}}}", TERN_OK, "y" },
	{ "${if match{abc123}{^([a-z]+)([0-9]+)\\$}{$2-$1}{no}}", TERN_OK,
	  "123-abc" },
	{ "${if match{abc}{^x}{y}{n}}", TERN_OK, "n" },
	{ "${if match{abc}{(}{y}{n}}", TERN_ERROR, "regular expression" },
	{ "${if =={2}{2}{y}{n}}", TERN_OK, "y" },
	{ "${if <{1}{2}{y}{n}}", TERN_OK, "y" },
	{ "${if >={2}{3}{y}{n}}", TERN_OK, "n" },
	{ "${if <={3}{3}{y}{n}}", TERN_OK, "y" },
	{ "${if >{2K}{2000}{y}{n}}", TERN_OK, "y" },
	{ "${if <{x}{2}{y}{n}}", TERN_ERROR, "not a number" },
	{ "${if and{{eq{a}{a}}{eq{b}{b}}}{y}{n}}", TERN_OK, "y" },
	{ "${if and{{eq{a}{a}}{eq{b}{c}}}{y}{n}}", TERN_OK, "n" },
	{ "${if or{{eq{a}{b}}{eq{b}{b}}}{y}{n}}", TERN_OK, "y" },
	{ "${if or{{eq{a}{b}}{eq{b}{c}}}{y}{n}}", TERN_OK, "n" },
	{ "${if !or{{eq{a}{b}}{eq{b}{c}}}{y}{n}}", TERN_OK, "y" },
	{ "${if def:home{y}{n}}", TERN_OK, "y" },
	{ "${if def:authenticated_id{y}{n}}", TERN_OK, "n" },
	{ "${if exists{/}{y}{n}}", TERN_OK, "y" },
	{ "${if exists{/nonexistent/x}{y}{n}}", TERN_OK, "n" },
	{ "${if bool{yes}{y}{n}}", TERN_OK, "y" },
	{ "${if frob{a}{y}{n}}", TERN_ERROR, "unknown condition \"frob\"" },
	{ "${sg{abcabc}{b}{X}}", TERN_OK, "aXcaXc" },
	{ "${sg{abc}{^(.)(.)}{\\$2\\$1}}", TERN_OK, "bac" },
	{ "${sg{abc}{x*}{-}}", TERN_OK, "-a-b-c-" },
	{ "${extract{2}{:}{a:b:c}}", TERN_OK, "b" },
	{ "${extract{-1}{:}{a:b:c}}", TERN_OK, "c" },
	{ "${extract{5}{:}{a:b}}", TERN_OK, "" },
	/* numbers beyond a long: no such field, never an overflow */
	{ "${extract{-9223372036854775808}{:}{a:b}{y}{none}}", TERN_OK, "none" },
	{ "${extract{-99999999999999999999}{:}{a:b}{y}{none}}", TERN_OK, "none" },
	{ "${extract{99999999999999999999}{:}{a:b}{y}{none}}", TERN_OK, "none" },
	{ "${nhash_3000000000_2:x}", TERN_ERROR, "bad arguments to ${nhash:" },
	{ "${if >{9223372036854775807K}{1}{y}{n}}", TERN_ERROR,
	  "is out of range" },
	{ "${if <{-9007199254740993M}{1}{y}{n}}", TERN_ERROR,
	  "is out of range" },
	{ "${if <{99999999999999999999}{1}{y}{n}}", TERN_ERROR,
	  "is out of range" },
	{ "${if ={2M}{2097152}{y}{n}}", TERN_OK, "y" },
	{ "${nhash_2147483647_2147483647:monty}", TERN_OK, "0/60355" },
	{ "${length_99999999999999999999:abc}", TERN_ERROR, "bad number in ${length_" },
	{ "${length_2147483647:abc}", TERN_OK, "abc" },
	{ "${extract{5}{:}{a:b}{y}{none}}", TERN_OK, "none" },
	{ "${extract{uid}{name=x uid=42 gid=7}}", TERN_OK, "42" },
	{ "${extract{g}{a=1 g=\"x y\"}}", TERN_OK, "x y" },
	{ "${extract{uid}{name=x uid=42}{<$value>}{none}}", TERN_OK, "<42>" },
	{ "$nosuch", TERN_ERROR, "unknown variable name \"nosuch\"" },
	{ "${nosuch{x}}", TERN_ERROR, "unknown expansion item \"nosuch\"" },
	{ "${frob:x}", TERN_ERROR, "unknown expansion operator \"frob\"" },
	{ "${lc:abc", TERN_ERROR, "missing }" },
	{ "${if eq{a}{a}{y}{n}", TERN_ERROR, "missing }" },
	{ "$", TERN_ERROR, "not followed by a name" },
	{ "abc\\", TERN_ERROR, "backslash at end" },
	/* header variables */
	{ "$h_subject:", TERN_OK, "Hello  world" },
	{ "[${h_subject:}]", TERN_OK, "[Hello  world]" },
	{ "[$rh_subject:]", TERN_OK, "[ Hello  world\n]" },
	{ "$bh_Subject:", TERN_OK, "Hello  world" },
	{ "$header_X-Spam-Score:", TERN_OK, "5.5" },
	{ "$h_received:", TERN_OK, "from a\nfrom b" },
	{ "[$h_to:]", TERN_OK, "[a@x,\n  b@y]" },
	{ "[$h_nosuch:]", TERN_OK, "[]" },
	{ "[$h_deleted:]", TERN_OK, "[]" },
	{ "${if def:h_subject:{y}{n}}", TERN_OK, "y" },
	{ "${if def:h_nosuch:{y}{n}}", TERN_OK, "n" },
	{ "${h_3:abcdefgh}", TERN_OK, "" /* see test_hash_shape */ },
	/* more variables */
	{ "$sender_address_domain/$sender_address_local_part", TERN_OK,
	  "example.org/s" },
	{ "${if match{$tod_bsdinbox}{^[A-Z][a-z][a-z] }{y}{n}}", TERN_OK, "y" },
	{ "${if match{$tod_log}{^[0-9]+-[0-9]+-[0-9]+ [0-9]+:}{y}{n}}", TERN_OK,
	  "y" },
	/* $value: the innermost lookup's, the outer one back after it */
	{ "${lookup{fred}lsearch{/etc/aliases}{${lookup{nobody}lsearch"
	  "{/etc/aliases}{x}{$value}}}}", TERN_OK, "fred@x" },
	{ "${lookup{fred}lsearch{/etc/aliases}{${lookup mysql{q}{$value}}"
	  "+$value}}", TERN_OK, "one+fred@x" },
	/* quoting for query lookups */
	{ "${quote_ldap: a(bc)*, a<yz>; }", TERN_OK,
	  "%20a%5C28bc%5C29%5C2A%2C%20a%3Cyz%3E%3B%20" },
	{ "${quote_ldap_dn: a(bc)*, a<yz>; }", TERN_OK,
	  "%5C%20a(bc)*%5C%2C%20a%5C%3Cyz%5C%3E%5C%3B%5C%20" },
	{ "${quote_mysql:it's \"x\" \\\\ y}", TERN_OK,
	  "it\\'s \\\"x\\\" \\\\ y" },
	/* a value is copied, never expanded again */
	{ "${lookup{fred}lsearch{/etc/aliases}{$value}}${if eq{$local_part}"
	  "{Fred}{ok}}", TERN_OK, "fred@xok" },
	{ "${ if eq {a}{a} {y}{n} }", TERN_ERROR, "missing name" },
};

static struct message msg;
static struct address_item parent, child;
static struct tern_ctx ctx;
static struct header hdrs[6];

static void
add_header(int i, char type, const char *text)
{
	hdrs[i].text = (char *)text;
	hdrs[i].len = strlen(text);
	hdrs[i].type = type;
	hdrs[i].next = i + 1 < 6 ? &hdrs[i + 1] : NULL;
}

static int
setup(void **state)
{
	(void)state;
	arena_init_all();
	xp_lookup_fn = fake_lookup;
	conf.primary_hostname = "mail.example.test";
	conf.qualify_domain = "example.test";
	memcpy(msg.id, "1tX9aB-0004Kd-Q2", sizeof("1tX9aB-0004Kd-Q2"));
	msg.sender = "s@example.org";
	msg.size = 1234;
	msg.host_address = "192.0.2.1";
	msg.received_protocol = "esmtp";
	add_header(0, HDR_RECEIVED, "Received: from a\n");
	add_header(1, HDR_RECEIVED, "Received: from b\n");
	add_header(2, HDR_NORMAL, "Subject: Hello  world\n");
	add_header(3, HDR_TO, "To: a@x,\n  b@y\n");
	add_header(4, HDR_NORMAL, "X-Spam-Score: 5.5\n");
	add_header(5, HDR_DELETED, "Deleted: gone\n");
	msg.headers = hdrs;
	parent.pub.kind = TERN_ADDR_MAIL;
	parent.pub.address = "postmaster@example.test";
	parent.pub.local_part = "postmaster";
	parent.pub.domain = "example.test";
	child.pub.kind = TERN_ADDR_MAIL;
	child.pub.address = "Fred@example.test";
	child.pub.local_part = "Fred";
	child.pub.domain = "example.test";
	child.pub.home = "/home/fred";
	child.pub.local_part_data = "fred";
	child.pub.parent = &parent.pub;
	child.parent_item = &parent;
	ctx.msg = &msg;
	ctx.addr = &child;
	ctx.arena = arena_msg;
	return 0;
}

static void
test_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct xcase *c = &cases[i];
		char *out = NULL, *err = NULL;
		int rc = expand_string(&ctx, arena_msg, c->tmpl, &out, &err);

		if (rc != c->rc) {
			print_error("%s: got rc %d (%s), want %d\n", c->tmpl, rc,
				rc == TERN_OK ? out : err, c->rc);
			failures++;
		} else if (rc == TERN_OK && c->want[0] == '\0' &&
		    strncmp(c->tmpl, "${h_", 4) == 0) {
			continue; /* the hash: its shape is tested elsewhere */
		} else if (rc == TERN_OK && strcmp(out, c->want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", c->tmpl, out,
				c->want);
			failures++;
		} else if (rc != TERN_OK && strstr(err, c->want) == NULL) {
			print_error("%s: got error \"%s\", want one with \"%s\"\n",
				c->tmpl, err, c->want);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/* The textual hash: always n characters from the first m of [a-zA-Z0-9]. */
static void
test_hash_shape(void **state)
{
	char *out = NULL, *err = NULL;

	(void)state;
	assert_int_equal(expand_string(&ctx, arena_msg, "${hash_3_5:monty python}",
		&out, &err), TERN_OK);
	assert_int_equal(strlen(out), 3);
	for (const char *p = out; *p; p++)
		assert_true(*p >= 'a' && *p <= 'e');
}

/* Which expansions carry data from outside into their result. */
static const struct {
	const char *tmpl;
	bool        is_tainted;
} taint_cases[] = {
	{ "plain", false },
	{ "$local_part", true },
	{ "$local_part_data", false },
	{ "$home/$primary_hostname/$message_id", false },
	{ "$sender_address", true },
	{ "$sender_host_address", false },
	{ "$h_subject:", true },
	{ "${lc:$local_part}", true },
	{ "${length_1:$local_part}", true },
	{ "${quote_mysql:$local_part}", true },
	{ "${lookup{$local_part}lsearch{/etc/aliases}}", false },
	{ "${lookup{fred}lsearch{/etc/aliases}{$value}}", false },
	{ "${lookup{nobody}lsearch{/etc/aliases}{$value}{$local_part}}", true },
	{ "${lookup{${lc:$local_part}}lsearch{/etc/aliases}{<$value>}}", false },
	{ "${if eq{$local_part}{Fred}{yes}{no}}", false },
	{ "${if eq{$local_part}{Fred}{$local_part}{no}}", true },
	{ "${if eq{$local_part}{x}{$local_part}{no}}", false },
	{ "${if match{$local_part}{^(F)}{$1}}", true },
	{ "${if match{abc}{^(a)}{$1}}", false },
	{ "${sg{$local_part}{F}{f}}", true },
	{ "${sg{abc}{b}{$local_part}}", true },
	{ "${sg{abc}{$local_part}{x}}", false },
	{ "${extract{1}{:}{$local_part}}", true },
	{ "${extract{1}{:}{a:b}{$value}}", false },
	{ "${extract{1}{:}{$local_part}{$value}}", true },
	{ "${extract{$local_part}{Fred=1}}", false },
};

static void
test_taint(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(taint_cases) / sizeof(taint_cases[0]);
	    i++) {
		char *out = NULL, *err = NULL;
		bool is_t = !taint_cases[i].is_tainted;
		int rc = expand_string_taint(&ctx, arena_msg, taint_cases[i].tmpl,
			&out, &is_t, &err);

		if (rc != TERN_OK || is_t != taint_cases[i].is_tainted) {
			print_error("%s: got rc %d tainted %d, want tainted %d\n",
				taint_cases[i].tmpl, rc, is_t,
				taint_cases[i].is_tainted);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

/*
 * A local part that looks like an expansion stays literal; a director's
 * lookup makes $local_part clean; a path with unchecked data is refused.
 */
static void
test_taint_rules(void **state)
{
	char *out = NULL, *err = NULL;
	bool is_t = false;

	(void)state;
	child.pub.local_part = "${if eq{a}{a}{x}}\\$x";
	assert_int_equal(expand_string_taint(&ctx, arena_msg, "[$local_part]",
		&out, &is_t, &err), TERN_OK);
	assert_string_equal(out, "[${if eq{a}{a}{x}}\\$x]");
	assert_true(is_t);
	child.pub.local_part = "../../etc/passwd";
	assert_int_equal(expand_path(&ctx, arena_msg, "/var/mail/$local_part",
		"file", &out, &err), TERN_DEFER);
	assert_non_null(strstr(err, "tainted file"));
	assert_int_equal(expand_path(&ctx, arena_msg, "/var/mail/${lookup{fred}"
		"lsearch{/etc/aliases}}", "file", &out, &err), TERN_OK);
	assert_string_equal(out, "/var/mail/fred@x");
	child.pub.local_part = "fred";
	child.pub.flags |= TERN_AF_LP_CHECKED;
	assert_int_equal(expand_path(&ctx, arena_msg, "/var/mail/$local_part",
		"file", &out, &err), TERN_OK);
	assert_string_equal(out, "/var/mail/fred");
	child.pub.flags &= ~TERN_AF_LP_CHECKED;
	child.pub.local_part = "Fred";
}

static void
test_quote_functions(void **state)
{
	static const struct {
		const char *in;
		int         kind; /* 0 ldap, 1 ldap_dn, 2 mysql */
		const char *want;
	} qcases[] = {
		{ "alice", 0, "alice" },
		{ "*", 0, "%5C2A" },
		{ "a)(uid=*", 0, "a%5C29%5C28uid%3D%5C2A" },
		{ "back\\slash", 0, "back%5C5Cslash" },
		{ "\"q\" 'q'", 0, "%22q%22%20'q'" },
		{ "a@b.c", 0, "a%40b.c" },
		{ "#x", 1, "%5C%23x" },
		{ "a,b+c", 1, "a%5C%2Cb%5C%2Bc" },
		{ "x ", 1, "x%5C%20" },
		{ "it's", 2, "it\\'s" },
		{ "a\\b\"c", 2, "a\\\\b\\\"c" },
		{ "l1\nl2\r\t\032", 2, "l1\\nl2\\r\\t\\Z" },
		{ "a%b_c", 2, "a%b_c" },
	};
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(qcases) / sizeof(qcases[0]); i++) {
		const char *got = qcases[i].kind == 2 ?
			quote_mysql(arena_msg, qcases[i].in) :
			quote_ldap(arena_msg, qcases[i].in, qcases[i].kind == 1);

		if (strcmp(got, qcases[i].want) != 0) {
			print_error("quote %d \"%s\": got \"%s\", want \"%s\"\n",
				qcases[i].kind, qcases[i].in, got, qcases[i].want);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void
test_null_ctx(void **state)
{
	char *out = NULL, *err = NULL;

	(void)state;
	assert_int_equal(expand_string(NULL, arena_msg, "[$local_part]", &out,
		&err), TERN_OK);
	assert_string_equal(out, "[]");
	assert_string_equal(expand_var(NULL, "primary_hostname"),
		"mail.example.test");
	assert_null(expand_var(NULL, "nosuch"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_hash_shape),
		cmocka_unit_test(test_null_ctx),
		cmocka_unit_test(test_taint),
		cmocka_unit_test(test_taint_rules),
		cmocka_unit_test(test_quote_functions),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
