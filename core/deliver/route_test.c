/* Unit tests for routing: fake directors, real route.c and services.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <tern/module.h>
#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "deliver/deliver_int.h"
#include "lib/arena.h"
#include "modules/modules.h"

/* alias table: local part -> comma-separated children */
static const struct {
	const char *lp, *children;
} aliases[] = {
	{ "team", "fred,jane,|/bin/cat,/tmp/file" },
	{ "both", "fred,fred@example.test" },
	{ "loop1", "loop2" },
	{ "loop2", "loop1" },
	{ "self", "self,jane" },
	{ "deep", "deep1" },
	{ "gone", ":fail:" },
	{ "hole", ":blackhole:" },
};

static int
fake_alias(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	char buf[256], *save = NULL;

	(void)inst;
	/* deepN -> deepN+1, forever: the depth limit must stop it */
	if (strncmp(addr->local_part, "deep", 4) == 0) {
		char *err = NULL;
		int n = atoi(addr->local_part + 4);

		snprintf(buf, sizeof(buf), "deep%d", n + 1);
		return core_services.add_child(ctx, addr, buf, &err) ? TERN_OK :
			TERN_ERROR;
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcmp(aliases[i].lp, addr->local_part) != 0)
			continue;
		if (strcmp(aliases[i].children, ":fail:") == 0) {
			addr->message = "no longer here";
			return TERN_FAIL;
		}
		if (strcmp(aliases[i].children, ":blackhole:") == 0) {
			addr->flags |= TERN_AF_DISCARD;
			return TERN_OK;
		}
		snprintf(buf, sizeof(buf), "%s", aliases[i].children);
		for (char *t = strtok_r(buf, ",", &save); t != NULL;
		    t = strtok_r(NULL, ",", &save)) {
			char *err = NULL;
			struct tern_address *c = core_services.add_child(ctx, addr, t,
				&err);

			assert_non_null(c);
			if (c->kind != TERN_ADDR_MAIL)
				c->transport = "t_local";
		}
		return TERN_OK;
	}
	return TERN_DECLINE;
}

static int
fake_user(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	(void)ctx;
	if (strcmp(addr->local_part, "fred") != 0 &&
	    strcmp(addr->local_part, "jane") != 0 &&
	    strcmp(addr->local_part, "self") != 0)
		return TERN_DECLINE;
	addr->transport = inst->transport;
	return TERN_OK;
}

static const struct tern_module mod_alias = {
	.kind = TERN_KIND_DIRECTOR, .name = "fakealias",
	.director = { .direct = fake_alias },
};
static const struct tern_module mod_user = {
	.kind = TERN_KIND_DIRECTOR, .name = "fakeuser",
	.director = { .direct = fake_user },
};
static const struct tern_module mod_transport = {
	.kind = TERN_KIND_TRANSPORT, .name = "faket",
	.transport = { .is_local = 1 },
};

static struct driver_inst t_local, d_alias, d_user;

/* Route address; return a one-line summary of every item. */
static const char *
route(const char *address)
{
	struct delivery d;
	struct address_item *a;
	char *err = NULL;
	char *out = arena_strdup(arena_msg, "");

	delivery_init(&d);
	d.test_only = true;
	a = addr_new(TERN_ADDR_MAIL, address, "example.test", &err);
	assert_non_null(a);
	route_add_top(&d, a, -1);
	route_all(&d);
	for (struct address_item *i = d.all; i != NULL; i = i->all_next) {
		const char *what;

		if (i->dup_of != NULL)
			what = "dup";
		else if (i->rc == ADDR_ROUTED)
			what = i->transport->pub.name;
		else if (i->rc == ADDR_EXPANDED)
			what = "expanded";
		else if (i->rc == TERN_OK)
			what = "ok";
		else
			what = arena_printf(arena_msg, "%s(%s)", i->rc == TERN_FAIL ?
				"fail" : "defer", i->pub.message);
		out = arena_printf(arena_msg, "%s%s%s=%s", out, out[0] ? " " : "",
			i->pub.address, what);
	}
	return out;
}

struct rcase {
	const char *address;
	const char *want;
};

static const struct rcase cases[] = {
	{ "fred@example.test", "fred@example.test=t_local" },
	{ "Fred@Example.TEST", "Fred@Example.TEST=t_local" },
	{ "nobody@example.test", "nobody@example.test=fail(Unknown user)" },
	{ "x@remote.test", "x@remote.test=fail(Unrouteable address)" },
	{ "team", "team@example.test=expanded fred@example.test=t_local "
	  "jane@example.test=t_local |/bin/cat=t_local /tmp/file=t_local" },
	{ "both@example.test", "both@example.test=expanded "
	  "fred@example.test=t_local fred@example.test=dup" },
	{ "loop1@example.test", "loop1@example.test=expanded "
	  "loop2@example.test=fail(alias loop)" },
	{ "self@example.test", "self@example.test=expanded "
	  "self@example.test=t_local jane@example.test=t_local" },
	{ "gone@example.test", "gone@example.test=fail(no longer here)" },
	{ "hole@example.test", "hole@example.test=ok" },
};

static void
test_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = route(cases[i].address);

		if (strcmp(got, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", cases[i].address,
				got, cases[i].want);
			failures++;
		}
	}
	assert_int_equal(failures, 0);
}

static void
test_depth_limit(void **state)
{
	const char *got;

	(void)state;
	got = route("deep0@example.test");
	assert_non_null(strstr(got, "fail(too many levels of aliasing)"));
}

/* local_part_prefix with _optional, condition and more. */
static void
test_generic_options(void **state)
{
	(void)state;
	d_user.g.route.local_part_prefix = "owner- : x-";
	assert_string_equal(route("owner-fred@example.test"),
		"owner-fred@example.test=t_local");
	assert_string_equal(route("fred@example.test"),
		"fred@example.test=fail(Unknown user)");
	d_user.g.route.local_part_prefix_optional = true;
	assert_string_equal(route("fred@example.test"),
		"fred@example.test=t_local");
	d_user.g.route.local_part_prefix = NULL;
	d_user.g.route.condition = "${if eq{$local_part}{jane}{yes}{no}}";
	assert_string_equal(route("fred@example.test"),
		"fred@example.test=fail(Unknown user)");
	assert_string_equal(route("jane@example.test"),
		"jane@example.test=t_local");
	d_user.g.route.condition = NULL;
	d_alias.g.route.more = false;
	assert_string_equal(route("fred@example.test"),
		"fred@example.test=fail(Unknown user)");
	d_alias.g.route.more = true;
	d_alias.g.route.local_parts = "team";
	assert_string_equal(route("loop1@example.test"),
		"loop1@example.test=fail(Unknown user)");
	d_alias.g.route.local_parts = NULL;
}

static void
test_unseen(void **state)
{
	(void)state;
	d_alias.g.route.unseen = true;
	assert_string_equal(route("self@example.test"),
		"self@example.test=expanded self@example.test=t_local "
		"jane@example.test=t_local self@example.test=t_local");
	d_alias.g.route.unseen = false;
}

static void
init_inst(struct driver_inst *i, const char *name, enum tern_kind kind,
	const struct tern_module *mod, const char *transport)
{
	memset(i, 0, sizeof(*i));
	i->pub.name = name;
	i->pub.driver = mod->name;
	i->pub.transport = transport;
	i->kind = kind;
	i->mod = mod;
	if (kind != TERN_KIND_TRANSPORT) {
		i->g.route.more = true;
		i->g.route.verify = true;
	}
}

static int
setup(void **state)
{
	(void)state;
	arena_init_all();
	conf.primary_hostname = "mail.example.test";
	conf.qualify_domain = "example.test";
	conf.local_domains = "example.test";
	init_inst(&t_local, "t_local", TERN_KIND_TRANSPORT, &mod_transport, NULL);
	init_inst(&d_alias, "aliases", TERN_KIND_DIRECTOR, &mod_alias, NULL);
	init_inst(&d_user, "users", TERN_KIND_DIRECTOR, &mod_user, "t_local");
	d_alias.next = &d_user;
	cfg.directors = &d_alias;
	cfg.transports = &t_local;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_generic_options),
		cmocka_unit_test(test_unseen),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
