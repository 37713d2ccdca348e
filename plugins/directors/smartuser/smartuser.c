/*
 * The smartuser director (Exim 3): it accepts any local part that its
 * generic preconditions (domains, local_parts, condition ...) let through.
 * With new_address, the address is replaced by that expansion (a child
 * address); without, it goes to the director's transport as it is.
 *
 * It checks nothing itself, so it never vouches for the local part: a
 * transport path built from $local_part is refused (taint) unless a
 * local_parts lookup or another director accepted it.  Typical use, for
 * virtual mailboxes held in a database:
 *
 *   virtual_users:
 *     driver = smartuser
 *     local_parts = mysql;select 1 from users where ...
 *     transport = virtual_delivery
 */
#include <stdbool.h>
#include <string.h>

#include <tern/module.h>

struct smartuser_opts {
	const char *new_address;  /* expandable */
	bool        panic_expansion_fail;
};

static const struct tern_option smartuser_options[] = {
	TERN_OPT("new_address", EXPSTR, struct smartuser_opts, new_address,
		NULL),
	TERN_OPT("panic_expansion_fail", BOOL, struct smartuser_opts,
		panic_expansion_fail, "true"),
	TERN_OPT_END
};

static const struct tern_core *core;

static int
smartuser_direct(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	const struct smartuser_opts *o = inst->opts;
	char *text, *err = NULL;
	int rc;

	if (addr->kind != TERN_ADDR_MAIL || addr->local_part == NULL)
		return TERN_DECLINE;
	if (o->new_address == NULL) {
		addr->transport = inst->transport;
		return TERN_OK;
	}
	rc = core->expand(ctx, o->new_address, &text, &err);
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	if (rc != TERN_OK) {
		addr->message = core->printf(ctx, "director %s: failed to expand "
			"new_address \"%s\": %s", inst->name, o->new_address,
			err ? err : "lookup deferred");
		if (rc == TERN_DEFER)
			return TERN_DEFER;
		return o->panic_expansion_fail ? TERN_ERROR : TERN_DECLINE;
	}
	if (core->add_child(ctx, addr, text, &err) == NULL) {
		addr->message = core->printf(ctx, "director %s: new_address "
			"\"%s\": %s", inst->name, text, err ? err : "bad address");
		return TERN_ERROR;
	}
	return TERN_OK;
}

static int
smartuser_init(struct tern_instance *inst, char **err_out)
{
	const struct smartuser_opts *o = inst->opts;

	if (o->new_address == NULL && inst->transport == NULL) {
		*err_out = core->printf(NULL, "director %s: neither transport nor "
			"new_address is set", inst->name);
		return TERN_ERROR;
	}
	return TERN_OK;
}

static int
smartuser_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(smartuser) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_DIRECTOR,
	.name = "smartuser",
	.version = "1.0",
	.options = smartuser_options,
	.opts_size = sizeof(struct smartuser_opts),
	.load = smartuser_load,
	.init = smartuser_init,
	.director = { .direct = smartuser_direct },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
