/*
 * The taint services of struct tern_core: what a driver calls to expand
 * a path (appendfile's file and directory, pipe's command), and to get an
 * expansion's result typed by its taint.
 */
#include "expand/expand.h"

#include <string.h>

#include <tern/core.h>
#include <tern/rc.h>
#include <tern/str.h>

#include "deliver/ctx.h"
#include "lib/arena.h"

static struct arena *
svc_arena(const struct tern_ctx *ctx)
{
	return ctx != NULL && ctx->arena != NULL ? ctx->arena : arena_msg;
}

int
expand_svc_path(struct tern_ctx *ctx, const char *tmpl, char **out,
	char **err_out)
{
	return expand_path(ctx, svc_arena(ctx), tmpl, "path", out, err_out);
}

int
expand_svc_tainted(struct tern_ctx *ctx, const char *tmpl, char **clean_out,
	struct tern_tainted *tainted_out, char **err_out)
{
	bool is_tainted = false;
	char *res = NULL;
	int rc = expand_string_taint(ctx, svc_arena(ctx), tmpl, &res,
		&is_tainted, err_out);

	*clean_out = NULL;
	memset(tainted_out, 0, sizeof(*tainted_out));
	if (rc != TERN_OK)
		return rc;
	if (is_tainted) {
		tainted_out->s.p = res;
		tainted_out->s.len = strlen(res);
	} else {
		*clean_out = res;
	}
	return TERN_OK;
}
