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
};

static struct message msg;
static struct address_item parent, child;
static struct tern_ctx ctx;

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
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
