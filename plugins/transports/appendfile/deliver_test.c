/*
 * appendfile's deliver() against a fake core: where the message goes
 * (file, directory, an alias's /path) and with which write flags.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/module.h>

extern const struct tern_module appendfile_LTX_tern_module;

struct tern_ctx {
	unsigned flags; /* of the last write_message */
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

/* "$tmp" is the test directory. */
static int
fake_expand(struct tern_ctx *ctx, const char *tmpl, char **out, char **err)
{
	const char *v = strstr(tmpl, "$tmp");

	(void)ctx;
	(void)err;
	if (v == NULL)
		*out = strdup(tmpl);
	else if (asprintf(out, "%.*s%s%s", (int)(v - tmpl), tmpl, tmpdir,
	    v + 4) < 0)
		return TERN_ERROR;
	keep(*out);
	return TERN_OK;
}

static const struct tern_msginfo info = { .id = "1tX9aB-0004Kd-Q2",
	.sender = "s@example.test", .size = 20 };

static const struct tern_msginfo *
fake_message(struct tern_ctx *ctx)
{
	(void)ctx;
	return &info;
}

static int
fake_write_message(struct tern_ctx *ctx, int fd, unsigned flags,
	const struct tern_address *batch, char **err_out)
{
	char text[256];
	int n;

	(void)batch;
	(void)err_out;
	ctx->flags = flags;
	n = snprintf(text, sizeof text, "%sSubject: t\n\nbody\n%s",
		flags & TERN_WR_MBOX_FROM ? "From s@example.test Thu Jan  1 "
		"00:00:00 2026\n" : "", flags & TERN_WR_BLANK_END ? "\n" : "");
	return write(fd, text, (size_t)n) == n ? TERN_OK : TERN_DEFER;
}

/* No spool here: the Maildir transport then always fsyncs new/. */
static const char *
fake_main_option(const char *name)
{
	(void)name;
	return NULL;
}

static const struct tern_core fake_core = {
	.size = sizeof(struct tern_core), .abi_major = TERN_ABI_MAJOR,
	.strdup = fake_strdup, .printf = fake_printf, .expand = fake_expand,
	.message = fake_message, .write_message = fake_write_message,
	.expand_path = fake_expand, .main_option = fake_main_option,
};

static void
set_opt(void *block, const char *name, const char *value)
{
	const struct tern_option *o = appendfile_LTX_tern_module.options;
	char *p;

	for (; o->name != NULL && strcmp(o->name, name) != 0; o++)
		;
	if (o->name == NULL)
		fail_msg("no option %s", name);
	p = (char *)block + o->offset;
	switch (o->type) {
	case TERN_OPT_STRING: case TERN_OPT_EXPSTR:
		*(const char **)(void *)p = value;
		break;
	case TERN_OPT_BOOL:
		*(bool *)(void *)p = value && strcmp(value, "true") == 0;
		break;
	case TERN_OPT_OCTAL:
		*(int *)(void *)p = value ? (int)strtol(value, NULL, 8) : 0;
		break;
	case TERN_OPT_INT: case TERN_OPT_TIME: /* "3s", "10", "30m" */
		*(int *)(void *)p = value ? atoi(value) *
			(strchr(value, 'm') ? 60 : 1) : 0;
		break;
	case TERN_OPT_SIZE:
		*(uint64_t *)(void *)p = value ? strtoull(value, NULL, 10) : 0;
		break;
	default:
		fail_msg("option %s: type %d not handled here", name, o->type);
	}
}

static struct tern_instance *
make_inst(const char *const *pairs)
{
	const struct tern_module *m = &appendfile_LTX_tern_module;
	struct tern_instance *inst = keep(calloc(1, sizeof *inst));
	char *err = NULL;

	inst->name = "t";
	inst->opts = keep(calloc(1, m->opts_size));
	for (const struct tern_option *o = m->options; o->name; o++)
		set_opt(inst->opts, o->name, o->dflt);
	for (; pairs[0] != NULL; pairs += 2)
		set_opt(inst->opts, pairs[0], pairs[1]);
	if (m->init(inst, &err) != TERN_OK)
		fail_msg("init: %s", err);
	keep(inst->data);
	return inst;
}

static int
count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void
test_targets(void **state)
{
	/* return_path_add & co. are the core's (generic) options: the core
	 * adds their flags to write_message, so the module passes none. */
	static const char *const mbox[] = { "file", "$tmp/mail/joe",
		"lock_interval", "0", NULL };
	static const char *const maildir[] = { "directory", "$tmp/Maildir",
		"maildir_format", "true", NULL };
	static const char *const bare[] = { NULL };
	const struct tern_module *m = &appendfile_LTX_tern_module;
	struct tern_ctx ctx = { 0 };
	struct tern_address a = { .kind = TERN_ADDR_MAIL, .address = "j@x" };
	char path[256], buf[512];
	int fd;
	ssize_t n;

	(void)state;
	assert_int_equal(m->transport.deliver(make_inst(mbox), &ctx, &a),
		TERN_OK);
	assert_int_equal(ctx.flags, TERN_WR_MBOX_FROM | TERN_WR_BLANK_END |
		TERN_WR_ESCAPE_FROM);
	snprintf(path, sizeof path, "%s/mail/joe", tmpdir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (strncmp(buf, "From s@example.test ", 20) != 0)
		fail_msg("got mbox \"%s\", want a From line first", buf);

	assert_int_equal(m->transport.deliver(make_inst(maildir), &ctx, &a),
		TERN_OK);
	assert_int_equal(ctx.flags, 0);
	snprintf(path, sizeof path, "%s/Maildir/new", tmpdir);
	assert_int_equal(count_files(path), 1);

	/* An alias's /path with no file option; a trailing '/' is a Maildir */
	snprintf(path, sizeof path, "%s/archive", tmpdir);
	a = (struct tern_address){ .kind = TERN_ADDR_FILE, .address = path };
	assert_int_equal(m->transport.deliver(make_inst(bare), &ctx, &a),
		TERN_OK);
	assert_true(access(path, R_OK) == 0);
	snprintf(path, sizeof path, "%s/archdir/", tmpdir);
	assert_int_equal(m->transport.deliver(make_inst(bare), &ctx, &a),
		TERN_OK);
	snprintf(path, sizeof path, "%s/archdir/new", tmpdir);
	assert_int_equal(count_files(path), 1);

	a = (struct tern_address){ .kind = TERN_ADDR_MAIL, .address = "j@x" };
	assert_int_equal(m->transport.deliver(make_inst(bare), &ctx, &a),
		TERN_ERROR);
	if (a.message == NULL || strstr(a.message, "neither file") == NULL)
		fail_msg("got \"%s\", want \"neither file nor directory\"",
			a.message ? a.message : "(null)");
}

static int
setup(void **state)
{
	char *err = NULL;

	(void)state;
	snprintf(tmpdir, sizeof tmpdir, "/tmp/tern-af-test.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	return appendfile_LTX_tern_module.load(&fake_core, &err);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_targets),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
