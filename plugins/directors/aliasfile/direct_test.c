/*
 * aliasfile's direct() against a fake core whose lookups go to the real
 * lsearch module: what children, flags and messages an alias gives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/module.h>

#include "userfile.h"

extern const struct tern_module aliasfile_LTX_tern_module;
extern const struct tern_module lsearch_LTX_tern_module;

struct tern_ctx {
	struct tern_address *addr;
	char                 children[1024];
	bool                 verify;
};

static char tmpdir[128];

/* Everything the fake core hands out, freed at teardown (an arena). */
static void *kept[4096];
static size_t nkept;

static void *
keep(void *p)
{
	assert_true(nkept < sizeof kept / sizeof kept[0]);
	kept[nkept++] = p;
	return p;
}

static void
free_kept(void)
{
	while (nkept > 0)
		free(kept[--nkept]);
}

static void TERN_PRINTF(3, 4)
fake_log(struct tern_ctx *ctx, int where, const char *fmt, ...)
{
	(void)ctx;
	(void)where;
	(void)fmt;
}

static void *
fake_alloc(struct tern_ctx *ctx, size_t n)
{
	(void)ctx;
	return keep(calloc(1, n));
}

static char *
fake_strdup(struct tern_ctx *ctx, const char *s)
{
	(void)ctx;
	return keep(strdup(s));
}

static char * TERN_PRINTF(2, 3)
fake_printf(struct tern_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	char *s;

	(void)ctx;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return keep(s);
}

/* Only "$tmp" is known: the test's directory. */
static int
fake_expand(struct tern_ctx *ctx, const char *tmpl, char **out, char **err)
{
	const char *v = strstr(tmpl, "$tmp");

	(void)ctx;
	(void)err;
	if (v == NULL) {
		*out = keep(strdup(tmpl));
		return TERN_OK;
	}
	if (asprintf(out, "%.*s%s%s", (int)(v - tmpl), tmpl, tmpdir, v + 4) < 0)
		return TERN_ERROR;
	keep(*out);
	return TERN_OK;
}

static int
fake_lookup(struct tern_ctx *ctx, const char *type, const char *file,
	const char *key, char **value_out, char **err_out)
{
	const struct tern_lookup_ops *l = &lsearch_LTX_tern_module.lookup;
	void *h;
	int rc = l->open(ctx, type, file, &h, err_out);

	if (rc != TERN_OK)
		return rc;
	rc = l->find(ctx, h, type, key, value_out, err_out);
	l->close(h);
	return rc;
}

static struct tern_address *
fake_add_child(struct tern_ctx *ctx, struct tern_address *parent,
	const char *text, char **err_out)
{
	struct tern_address *c = keep(calloc(1, sizeof *c));
	size_t n = strlen(ctx->children);

	if (strchr(text, ' ') != NULL && text[0] != '|') {
		*err_out = keep(strdup("space in address"));
		return NULL;
	}
	c->kind = text[0] == '|' ? TERN_ADDR_PIPE : text[0] == '/' ?
		TERN_ADDR_FILE : TERN_ADDR_MAIL;
	c->address = keep(strdup(text));
	c->parent = parent;
	c->uid = c->gid = -1;
	snprintf(ctx->children + n, sizeof ctx->children - n, "%s%s", n ? ";" :
		"", text);
	return c;
}

static const char *
fake_main_option(const char *name)
{
	return strcmp(name, "qualify_domain") == 0 ? "q.test" : NULL;
}

static bool
fake_is_verify(struct tern_ctx *ctx)
{
	return ctx->verify;
}

static const struct tern_core fake_core = {
	.size = sizeof(struct tern_core), .abi_major = TERN_ABI_MAJOR,
	.log = fake_log, .alloc = fake_alloc, .strdup = fake_strdup,
	.printf = fake_printf, .expand = fake_expand, .lookup = fake_lookup,
	.add_child = fake_add_child, .main_option = fake_main_option,
	.is_verify = fake_is_verify, .expand_path = fake_expand,
};

static const char aliases[] =
	"# system aliases\n"
	"postmaster: root\n"
	"root: alice, Bob <bob@other.test>\n"
	"staff: :include:$tmp/staff.list\n"
	"nested: :include:$tmp/nest.list\n"
	"closed: :fail: This address is closed\n"
	"hole: :blackhole:\n"
	"later: :defer: try again later\n"
	"pipes: \"|/usr/bin/prog a,b\", /var/archive/file, /var/maildir/\n"
	"unknown: alice, :unknown:\n"
	"empty:\n"
	"bad: good, b a d\n";

static const char staff[] = "# staff\ncarol,\n  # dave left\nerin@x.test\n";
static const char nest[] = ":include:$tmp/nest.list\n";

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (const char *t = text; *t != '\0'; t++) {
		if (strncmp(t, "$tmp", 4) == 0) {
			fputs(tmpdir, f);
			t += 3;
		} else {
			fputc(*t, f);
		}
	}
	fclose(f);
}

static int
setup(void **state)
{
	char *err = NULL;

	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tern-alias-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	write_file("aliases", aliases);
	write_file("staff.list", staff);
	write_file("nest.list", nest);
	if (lsearch_LTX_tern_module.load(&fake_core, &err) != TERN_OK ||
	    aliasfile_LTX_tern_module.load(&fake_core, &err) != TERN_OK)
		return -1;
	return 0;
}

static int
teardown(void **state)
{
	char cmd[200];

	(void)state;
	free_kept();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* What init resolved (owners, owngroups), freed. */
static void
fini(struct tern_instance *inst)
{
	struct userfile_owners *d = inst->data;

	if (d != NULL) {
		free(d->owners);
		free(d->groups);
		free(d);
	}
	inst->data = NULL;
}

/* Set one option in block the way the core would, from config text. */
static void
set_opt(void *block, const char *name, const char *value)
{
	const struct tern_option *o = aliasfile_LTX_tern_module.options;

	for (; o->name != NULL; o++)
		if (strcmp(o->name, name) == 0)
			break;
	if (o->name == NULL)
		fail_msg("no option %s", name);
	char *p = (char *)block + o->offset;
	switch (o->type) {
	case TERN_OPT_STRING: case TERN_OPT_EXPSTR: case TERN_OPT_LIST:
		*(const char **)(void *)p = value;
		break;
	case TERN_OPT_BOOL:
		*(bool *)(void *)p = value && strcmp(value, "true") == 0;
		break;
	case TERN_OPT_UID: case TERN_OPT_GID:
		*(int64_t *)(void *)p = value ? atoll(value) : -1;
		break;
	case TERN_OPT_OCTAL:
		*(int *)(void *)p = value ? (int)strtol(value, NULL, 8) : 0;
		break;
	default:
		fail_msg("option %s: type %d not handled here", name, o->type);
	}
}

/* A fresh options block with the defaults, then name/value pairs. */
static void *
make_opts(const char *const *pairs)
{
	const struct tern_module *m = &aliasfile_LTX_tern_module;
	void *block = keep(calloc(1, m->opts_size));

	for (const struct tern_option *o = m->options; o->name; o++)
		set_opt(block, o->name, o->dflt);
	for (; pairs[0] != NULL; pairs += 2)
		set_opt(block, pairs[0], pairs[1]);
	return block;
}

static void
test_direct(void **state)
{
	static const struct {
		const char *lp;
		int         want_rc;
		const char *want_children, *want_message;
		unsigned    want_flags;
	} cases[] = {
		{ "postmaster", TERN_OK, "root@q.test", NULL, TERN_AF_LP_CHECKED },
		{ "ROOT", TERN_OK, "alice@q.test;bob@other.test", NULL, 0 },
		{ "staff", TERN_OK, "carol@q.test;erin@x.test", NULL, 0 },
		{ "nested", TERN_ERROR, "", "nested :include:", 0 },
		{ "closed", TERN_FAIL, "", "This address is closed", 0 },
		{ "hole", TERN_OK, "", NULL, TERN_AF_DISCARD },
		{ "later", TERN_DEFER, "", "try again later", 0 },
		{ "pipes", TERN_OK,
		  "|/usr/bin/prog a,b;/var/archive/file;/var/maildir/", NULL, 0 },
		{ "unknown", TERN_DECLINE, "", NULL, 0 },
		{ "empty", TERN_DECLINE, "", NULL, 0 },
		{ "nobody", TERN_DECLINE, "", NULL, 0 },
		{ "bad", TERN_ERROR, "good@q.test", "space in address", 0 },
	};
	static const char *const pairs[] = { "file", "$tmp/aliases",
		"pipe_transport", "address_pipe",
		"file_transport", "address_file", NULL };
	struct tern_instance inst = { .name = "system_aliases",
		.opts = make_opts(pairs) };
	const struct tern_module *m = &aliasfile_LTX_tern_module;
	char *err = NULL;

	(void)state;
	assert_int_equal(m->init(&inst, &err), TERN_OK);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct tern_address a = { .kind = TERN_ADDR_MAIL,
			.address = cases[i].lp,
			.local_part = cases[i].lp, .domain = "example.test",
			.uid = -1, .gid = -1 };
		struct tern_ctx ctx = { .addr = &a };
		int rc = m->director.direct(&inst, &ctx, &a);

		if (rc != cases[i].want_rc)
			fail_msg("%s: got rc %d (%s), want %d", cases[i].lp, rc,
				a.message ? a.message : "", cases[i].want_rc);
		if (strcmp(ctx.children, cases[i].want_children) != 0)
			fail_msg("%s: got children \"%s\", want \"%s\"",
				cases[i].lp, ctx.children,
				cases[i].want_children);
		if (cases[i].want_message && (a.message == NULL ||
		    strstr(a.message, cases[i].want_message) == NULL))
			fail_msg("%s: got message \"%s\", want \"%s\"",
				cases[i].lp, a.message ? a.message : "(null)",
				cases[i].want_message);
		if ((a.flags & cases[i].want_flags) != cases[i].want_flags)
			fail_msg("%s: got flags %#x, want %#x", cases[i].lp,
				a.flags, cases[i].want_flags);
	}
	fini(&inst);
}

static void
test_missing_transport(void **state)
{
	static const char *const pairs[] = { "file", "$tmp/aliases", NULL };
	struct tern_instance inst = { .name = "a", .opts = make_opts(pairs) };
	const struct tern_module *m = &aliasfile_LTX_tern_module;
	struct tern_address a = { .kind = TERN_ADDR_MAIL,
		.local_part = "pipes", .domain = "example.test" };
	struct tern_ctx ctx = { .addr = &a };
	char *err = NULL;
	int rc;

	(void)state;
	assert_int_equal(m->init(&inst, &err), TERN_OK);
	rc = m->director.direct(&inst, &ctx, &a);
	if (rc != TERN_ERROR || strstr(a.message, "pipe_transport") == NULL)
		fail_msg("got rc %d \"%s\", want ERROR naming pipe_transport",
			rc, a.message ? a.message : "");
	ctx.verify = true;
	a.message = NULL;
	rc = m->director.direct(&inst, &ctx, &a);
	if (rc != TERN_OK)
		fail_msg("verify: got rc %d \"%s\", want OK", rc,
			a.message ? a.message : "");
	set_opt(inst.opts, "file", "$tmp/missing");
	set_opt(inst.opts, "optional", "true");
	rc = m->director.direct(&inst, &ctx, &a);
	assert_int_equal(rc, TERN_DECLINE);
	set_opt(inst.opts, "optional", "false");
	rc = m->director.direct(&inst, &ctx, &a);
	if (rc != TERN_DEFER || strstr(a.message, "failed to open") == NULL)
		fail_msg("missing file: got rc %d \"%s\", want DEFER", rc,
			a.message ? a.message : "");
	fini(&inst);
}

/* One lookup of "postmaster" with the file as it is; DEFER's message. */
static int
direct_once(struct tern_instance *inst, const char **message_out)
{
	struct tern_address a = { .kind = TERN_ADDR_MAIL,
		.address = "postmaster", .local_part = "postmaster",
		.domain = "example.test", .uid = -1, .gid = -1 };
	struct tern_ctx ctx = { .addr = &a };
	int rc = aliasfile_LTX_tern_module.director.direct(inst, &ctx, &a);

	*message_out = a.message != NULL ? a.message : "";
	return rc;
}

/* modemask and owners: a file others may write, or owned by someone
 * else, defers every address it would handle. */
static void
test_file_mode_and_owner(void **state)
{
	static const char *const pairs[] = { "file", "$tmp/aliases", NULL };
	const struct tern_module *m = &aliasfile_LTX_tern_module;
	struct tern_instance inst = { .name = "sa", .opts = make_opts(pairs) };
	char path[200], other[24], *err = NULL;
	const char *msg;

	(void)state;
	snprintf(path, sizeof path, "%s/aliases", tmpdir);
	assert_int_equal(m->init(&inst, &err), TERN_OK);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(direct_once(&inst, &msg), TERN_OK);
	assert_int_equal(chmod(path, 0664), 0);
	if (direct_once(&inst, &msg) != TERN_DEFER ||
	    strstr(msg, "bad mode (0664): 0022 must be clear for") == NULL ||
	    strstr(msg, path) == NULL)
		fail_msg("group-writable: got \"%s\"", msg);
	set_opt(inst.opts, "modemask", "0");
	assert_int_equal(direct_once(&inst, &msg), TERN_OK);
	assert_int_equal(chmod(path, 0644), 0);
	fini(&inst);

	/* owned by us: another uid as the only owner refuses it */
	snprintf(other, sizeof other, "%ld", (long)getuid() + 1);
	set_opt(inst.opts, "owners", other);
	assert_int_equal(m->init(&inst, &err), TERN_OK);
	if (direct_once(&inst, &msg) != TERN_DEFER ||
	    strstr(msg, "bad owner") == NULL)
		fail_msg("other owner: got \"%s\"", msg);
	fini(&inst);
	snprintf(other, sizeof other, "%ld : %ld", (long)getuid() + 1,
		(long)getuid());
	set_opt(inst.opts, "owners", other);
	assert_int_equal(m->init(&inst, &err), TERN_OK);
	assert_int_equal(direct_once(&inst, &msg), TERN_OK);
	fini(&inst);

	set_opt(inst.opts, "owners", "no-such-user-here");
	assert_int_equal(m->init(&inst, &err), TERN_ERROR);
	if (strstr(err, "unknown user or group \"no-such-user-here\"") ==
	    NULL)
		fail_msg("unknown owner: got \"%s\"", err);
	fini(&inst);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct),
		cmocka_unit_test(test_missing_transport),
		cmocka_unit_test(test_file_mode_and_owner),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
