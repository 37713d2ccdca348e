/* A transport that claims the next ABI major: the core must refuse it. */
#include <tern/module.h>

static int
future_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	(void)inst; (void)ctx; (void)batch;
	return TERN_DEFER;
}

TERN_MODULE(abifuture) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR + 1,
	.abi_minor = 0,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = "abifuture",
	.version = "0.0-test",
	.transport = { .deliver = future_deliver, .is_local = 1 },
};
