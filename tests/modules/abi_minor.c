/*
 * A transport built for another ABI minor than the core's: MOD_NAME and
 * MOD_MINOR come from tests/modules/CMakeLists.txt.  One built for the
 * minor before the core's must load (the core only grew); one built for
 * the minor after it must be refused.
 */
#include <tern/module.h>

#define DECLARE(name) TERN_MODULE(name)

static int
minor_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	(void)inst; (void)ctx; (void)batch;
	return TERN_DEFER;
}

DECLARE(MOD_NAME) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = MOD_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = MOD_NAME_STR,
	.version = "0.0-test",
	.transport = { .deliver = minor_deliver, .is_local = 1 },
};
