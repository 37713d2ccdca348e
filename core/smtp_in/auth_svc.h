/*
 * The SMTP AUTH services of struct tern_core (sdk tern/core.h, "SMTP
 * AUTH"): what an authenticator module uses to talk to the client, and
 * the client-side entry point for the smtp transport.
 */
#ifndef TERN_CORE_SMTP_IN_AUTH_SVC_H
#define TERN_CORE_SMTP_IN_AUTH_SVC_H

#include <stddef.h>

#include <tern/core.h>

struct smtp_sess;
struct arena;

/* The session an AUTH exchange is running on (NULL outside one). */
void auth_svc_set_session(struct smtp_sess *s);

int auth_svc_challenge(struct tern_ctx *ctx, const void *challenge,
	size_t len, char **resp_out, size_t *len_out);
void auth_svc_set_var(struct tern_ctx *ctx, int n, const char *value);
char *auth_svc_b64_encode(struct tern_ctx *ctx, const void *data,
	size_t len);
int auth_svc_b64_decode(struct tern_ctx *ctx, const char *text, char **out,
	size_t *len_out);
int auth_svc_client(struct tern_ctx *ctx, const char *server_mechs,
	const struct tern_auth_client_io *io, const char **name_out,
	char **err_out);

/* Base64 into arena a (shared with the unit tests): see tern_core. */
char *auth_b64_encode(struct arena *a, const void *data, size_t len);
int auth_b64_decode(struct arena *a, const char *text, char **out,
	size_t *len_out);

#endif
