/*
 * struct tern_core's hints_* and retry_* entries: thin wrappers that give
 * a driver the core's hints databases and retry records.
 */
#include "retry/svc.h"

#include <tern/rc.h>

#include "deliver/ctx.h"
#include "hints/hints.h"
#include "lib/arena.h"
#include "log/log.h"
#include "retry/retry.h"
#include "spool/spool.h"

static struct arena *
svc_arena(const struct tern_ctx *ctx)
{
	return ctx != NULL && ctx->arena != NULL ? ctx->arena : arena_msg;
}

int
svc_hints_get(struct tern_ctx *ctx, const char *db, const char *key,
	void **val_out, size_t *len_out)
{
	return hints_read(db, key, svc_arena(ctx), val_out, len_out);
}

int
svc_hints_put(struct tern_ctx *ctx, const char *db, const char *key,
	const void *val, size_t len)
{
	(void)ctx;
	return hints_write(db, key, val, len);
}

int
svc_hints_del(struct tern_ctx *ctx, const char *db, const char *key)
{
	(void)ctx;
	return hints_delete(db, key);
}

int
svc_retry_due(struct tern_ctx *ctx, const char *key)
{
	time_t next = 0, received = 0;
	int rc;

	if (ctx != NULL && ctx->msg != NULL)
		received = ctx->msg->received;
	rc = retry_check(key, received, &next, NULL);
	/* -qf and -M try a host whose retry time has not come (Exim's rule);
	 * a passed cutoff still gives up. */
	if (rc == TERN_DEFER && ctx != NULL && ctx->force)
		return TERN_OK;
	return rc;
}

void
svc_retry_record(struct tern_ctx *ctx, const char *key,
	const char *error_class, int basic_errno, const char *text)
{
	bool expired = retry_update(key, error_class, basic_errno, text);

	if (expired)
		DEBUG("%s: retry timeout exceeded for %s",
			ctx != NULL && ctx->msg != NULL ? ctx->msg->id : "-", key);
}
