/*
 * A transport built for another ABI than the core's: MOD_NAME, MOD_MAJOR
 * and MOD_MINOR come from tests/modules/CMakeLists.txt.  One built for
 * the next major must be refused, as must one for the minor after the
 * core's; one built for the minor before it must load (the core only
 * grew).
 */
#include <tern/module.h>

#define DECLARE(name) TERN_MODULE(name)

static int
other_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	(void)inst; (void)ctx; (void)batch;
	return TERN_DEFER;
}

DECLARE(MOD_NAME) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = MOD_MAJOR,
	.abi_minor = MOD_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = MOD_NAME_STR,
	.version = "0.0-test",
	.transport = { .deliver = other_deliver, .is_local = 1 },
};
