/*
 * The configuration reader: logical lines, comments, macros and -D,
 * .ifdef/.include, main options, named lists, retry/rewrite, and the
 * "file:line: message" errors.  Independent of modules (except the check
 * that a missing driver names the path tried).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config/config.h"
#include "config/internal.h"
#include "lib/arena.h"

static char dir[64];

static const char *
write_file(const char *name, const char *text)
{
	const char *path = arena_printf(arena_perm, "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
test_main_section(void **state)
{
	const char *path = write_file("main.conf",
		"# a comment\n"
		"\n"
		"primary_hostname = mail.test\n"
		"   # indented comment\n"
		"qualify_domain = \\\n"
		"      example.test\n"
		"message_size_limit = 10M\n"
		"smtp_receive_timeout = 1h30m\n"
		"no_receiver_verify\n"
		"spool_sync = false\n"
		"smtp_verify\n"
		"smtp_banner = \"Hello\\tWorld \\\"x\\\"\"\n"
		"hide system_filter = /secret/filter\n"
		"domainlist locals = a.test : \\\n"
		"# comment inside a continuation\n"
		"   b.test\n"
		"local_domains = +locals : @\n"
		"relay_from_hosts = 127.0.0.1 : 10.0.0.0/8\n");

	(void)state;
	assert_int_equal(config_read(path), 0);
	assert_string_equal(conf.primary_hostname, "mail.test");
	assert_string_equal(conf.qualify_domain, "example.test");
	assert_string_equal(conf.qualify_recipient, "example.test");
	assert_int_equal(conf.message_size_limit, 10 * 1024 * 1024);
	assert_int_equal(conf.smtp_receive_timeout, 5400);
	assert_false(conf.receiver_verify);
	assert_false(conf.spool_sync);
	assert_true(conf.smtp_verify);
	assert_string_equal(conf.smtp_banner, "Hello\tWorld \"x\"");
	assert_string_equal(config_find_list("domainlist", "locals")->value,
		"a.test : b.test");
	assert_non_null(cfg.future_set);
	assert_string_equal(cfg.future_set[0], "system_filter");
	assert_null(cfg.future_set[1]);
	assert_true(config_main_is_hidden("system_filter"));
	assert_false(config_main_is_hidden("qualify_domain"));
	assert_string_equal(config_main_option_text("message_size_limit"),
		"10M");
	assert_string_equal(config_main_option_text("spool_sync"), "false");
	assert_string_equal(config_main_option_text("primary_hostname"),
		"mail.test");
	assert_null(config_main_option_text("no_such_option"));
	/* log_file_path defaults to the spool */
	assert_non_null(strstr(conf.log_file_path, "/log/%slog"));
}

static const char macro_conf[] =
	"VAR = short\n"
	"VARDIR = /var/x\n"
	"SUB = VARDIR/sub\n"
	"spool_directory = SUB\n"
	"log_file_path = VARDIR/log/%slog\n"
	"qualify_recipient = VAR.test\n"
	".ifdef FOO\n"
	"primary_hostname = foo.test\n"
	".else\n"
	"primary_hostname = nofoo.test\n"
	".endif\n"
	".ifndef VARDIR\n"
	"qualify_domain = wrong.test\n"
	".endif\n"
	".ifdef OUTER\n"
	"  .ifdef INNER\n"
	"qualify_domain = both.test\n"
	"  .else\n"
	"qualify_domain = outer.test\n"
	"  .endif\n"
	".else\n"
	"  .ifdef INNER\n"
	"qualify_domain = wrong2.test\n"
	"  .endif\n"
	".endif\n";

static void
test_macros_and_ifdef(void **state)
{
	const char *path = write_file("macro.conf", macro_conf);

	(void)state;
	assert_int_equal(config_read(path), 0);
	assert_string_equal(conf.spool_directory, "/var/x/sub");
	assert_string_equal(conf.log_file_path, "/var/x/log/%slog");
	assert_string_equal(conf.qualify_recipient, "short.test");
	assert_string_equal(conf.primary_hostname, "nofoo.test");
	assert_string_equal(conf.qualify_domain, "nofoo.test");
}

/* Runs last: -D definitions stay for the rest of the process. */
static void
test_cmdline_macros(void **state)
{
	const char *path = write_file("macro.conf", macro_conf);

	(void)state;
	config_define_macro("VARDIR=/cmd");
	config_define_macro("FOO");
	config_define_macro("OUTER=1");
	assert_int_equal(config_read(path), 0);
	assert_string_equal(conf.spool_directory, "/cmd/sub");
	assert_string_equal(conf.primary_hostname, "foo.test");
	assert_string_equal(conf.qualify_domain, "outer.test");
}

static void
test_include(void **state)
{
	const char *path;

	(void)state;
	write_file("sub.conf",
		"qualify_domain = included.test\n"
		"SUBMAC = from-sub\n");
	path = write_file("inc.conf",
		"primary_hostname = inc.test\n"
		".include sub.conf\n"
		".include_if_exists /nonexistent/tern-test.conf\n"
		"qualify_recipient = SUBMAC.test\n"
		"begin retry\n"
		"*.example.test  *  F,2h,15m; G,16h,1h,1.5; F,4d,6h\n"
		"*               *  F,4d,15m\n"
		"begin rewrite\n"
		"*@old.test  $1@new.test  T\n");
	assert_int_equal(config_read(path), 0);
	assert_string_equal(conf.qualify_domain, "included.test");
	assert_string_equal(conf.qualify_recipient, "from-sub.test");
	assert_non_null(cfg.retries);
	assert_string_equal(cfg.retries->pattern, "*.example.test");
	assert_string_equal(cfg.retries->error, "*");
	assert_string_equal(cfg.retries->rules,
		"F,2h,15m; G,16h,1h,1.5; F,4d,6h");
	assert_non_null(cfg.retries->next);
	assert_string_equal(cfg.rewrites->pattern, "*@old.test");
	assert_string_equal(cfg.rewrites->replacement, "$1@new.test");
	assert_string_equal(cfg.rewrites->flags, "T");
}

static const struct {
	const char *text;
	const char *want; /* after "FILE:" */
} errors[] = {
	{ "qualify_domian = x\n", "1: main option \"qualify_domian\" unknown" },
	{ "\n# c\nmessage_size_limit = 10Q\n",
	  "3: main option \"message_size_limit\": bad size \"10Q\"" },
	{ "smtp_receive_timeout = 1x\n",
	  "1: main option \"smtp_receive_timeout\": bad time \"1x\"" },
	{ "spool_sync = maybe\n",
	  "1: main option \"spool_sync\": bad boolean \"maybe\"" },
	{ "message_size_limit\n",
	  "1: main option \"message_size_limit\": needs a value" },
	{ "begin foo\n", "1: unknown section \"foo\"" },
	{ ".ifdef X\n", "1: missing .endif at end of file" },
	{ ".endif\n", "1: .endif without .ifdef" },
	{ ".frobnicate\n", "1: unknown directive \".frobnicate\"" },
	{ "local_domains = +nosuch\n",
	  "1: main option \"local_domains\": unknown domainlist \"nosuch\"" },
	{ "relay_from_hosts = 10.0.0.0/40\n",
	  "1: main option \"relay_from_hosts\": bad IP address or network \"10.0.0.0/40\"" },
	{ "begin directors\nd1:\n  transport = x\n",
	  "2: director \"d1\": no driver specified" },
	{ "X = 1\nX = 2\n",
	  "2: macro \"X\" is already defined (use \"==\" to redefine)" },
	{ "begin retry\n* * X,1h\n", "2: retry rule: bad rule \"X,1h\"" },
	{ "begin transports\n  driver = x\n",
	  "2: option line before any instance name (\"name:\")" },
	{ "smtp_banner = \"open\n",
	  "1: bad quoted string \"open" },
	{ "domainlist a = x\ndomainlist a = y\n",
	  "2: named list \"a\" defined twice" },
	{ ".include nosuch.conf\n",
	  "1: cannot open" },
};

static void
test_errors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		const char *path = write_file("err.conf", errors[i].text);
		const char *want = arena_printf(arena_perm, "%s:%s", path,
			errors[i].want);
		const char *got;

		if (config_read(path) != -1)
			fail_msg("case %zu: got success, want \"%s\"", i, want);
		got = config_last_error();
		if (got == NULL || strncmp(got, want, strlen(want)) != 0)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i,
				got ? got : "(null)", want);
	}
}

static void
test_missing_module(void **state)
{
	const char *path = write_file("mod.conf",
		"module_directory = /nonexistent/tern-mods\n"
		"begin directors\n"
		"aliases:\n"
		"  driver = aliasfle\n");
	const char *want = arena_printf(arena_perm,
		"%s:4: director \"aliases\": driver \"aliasfle\": module not found: "
		"tried /nonexistent/tern-mods/directors/aliasfle.so "
		"(usually in package tern)", path);

	(void)state;
	assert_int_equal(config_read(path), -1);
	if (strcmp(config_last_error(), want) != 0)
		fail_msg("got \"%s\", want \"%s\"", config_last_error(), want);
}

static void
test_embedded_default(void **state)
{
	int rc;

	(void)state;
	rc = config_read("@default");
	/* The main section is read before any module is needed. */
	assert_string_equal(conf.spool_directory, "/var/tmp/tern/spool");
	assert_string_equal(conf.log_file_path, "/var/tmp/tern/log/%slog");
	assert_string_equal(conf.daemon_smtp_ports, "2525");
	assert_string_equal(conf.local_interfaces, "127.0.0.1");
	assert_string_equal(conf.never_users, "");
	if (rc != 0 && strstr(config_last_error(), "module not found") == NULL)
		fail_msg("embedded default: got \"%s\"", config_last_error());
	if (rc == 0) {
		assert_non_null(config_find_transport("local_maildir"));
		assert_non_null(cfg.directors);
		assert_string_equal(cfg.directors->pub.transport,
			"local_maildir");
	}
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tern-config-test.XXXXXX");
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	const char *names[] = { "main.conf", "macro.conf", "sub.conf",
		"inc.conf", "err.conf", "mod.conf" };

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		unlink(arena_printf(arena_perm, "%s/%s", dir, names[i]));
	return rmdir(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_main_section),
		cmocka_unit_test(test_macros_and_ifdef),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_missing_module),
		cmocka_unit_test(test_embedded_default),
		cmocka_unit_test(test_cmdline_macros),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, setup, teardown);
}
