/* The hints and retry services of struct tern_core (ABI 1.1). */
#ifndef TERN_CORE_RETRY_SVC_H
#define TERN_CORE_RETRY_SVC_H

#include <stddef.h>

#include <tern/core.h>

int svc_hints_get(struct tern_ctx *ctx, const char *db, const char *key,
	void **val_out, size_t *len_out);
int svc_hints_put(struct tern_ctx *ctx, const char *db, const char *key,
	const void *val, size_t len);
int svc_hints_del(struct tern_ctx *ctx, const char *db, const char *key);
int svc_retry_due(struct tern_ctx *ctx, const char *key);
void svc_retry_record(struct tern_ctx *ctx, const char *key,
	const char *error_class, int basic_errno, const char *text);

#endif
