/*
 * SMTP AUTH services for authenticator modules: the 334 challenge and
 * response on the session's connection, $auth1..$auth3, base64, and
 * the client side that the smtp transport calls.
 */
#include "smtp_in/auth_svc.h"

#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "config/config.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "log/log.h"
#include "smtp_in/smtp_int.h"
#include "smtp_in/vars.h"

/* RFC 4954 4: a response line may be up to 12288 octets. */
#define AUTH_LINE_MAX 12288

static struct smtp_sess *auth_sess;

static struct arena *
svc_arena(struct tern_ctx *ctx)
{
	return ctx != NULL && ctx->arena != NULL ? ctx->arena : arena_msg;
}

void
auth_svc_set_session(struct smtp_sess *s)
{
	auth_sess = s;
}

char *
auth_b64_encode(struct arena *a, const void *data, size_t len)
{
	size_t n = 4 * ((len + 2) / 3) + 1;
	char *out = arena_alloc(a, n);

	if (len > (size_t)1 << 30)
		tern_panic("base64: %zu bytes to encode", len);
	EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* Strict RFC 4648: the alphabet, a length that is a multiple of 4. */
static bool
b64_valid(const char *t, size_t n)
{
	size_t pad = 0;

	if (n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c == '=') {
			if (i < n - 2)
				return false;
			pad++;
			continue;
		}
		if (pad > 0)
			return false;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/'))
			return false;
	}
	return true;
}

int
auth_b64_decode(struct arena *a, const char *text, char **out,
	size_t *len_out)
{
	size_t n = strlen(text), pad = 0;
	char *buf;
	int got;

	if (!b64_valid(text, n) || n > (size_t)1 << 30)
		return TERN_FAIL;
	buf = arena_alloc(a, n / 4 * 3 + 1);
	got = n == 0 ? 0 : EVP_DecodeBlock((unsigned char *)buf,
		(const unsigned char *)text, (int)n);
	if (got < 0)
		return TERN_FAIL;
	while (pad < 2 && n > pad && text[n - 1 - pad] == '=')
		pad++;
	*len_out = (size_t)got - pad;
	buf[*len_out] = '\0';
	*out = buf;
	return TERN_OK;
}

char *
auth_svc_b64_encode(struct tern_ctx *ctx, const void *data, size_t len)
{
	return auth_b64_encode(svc_arena(ctx), data, len);
}

int
auth_svc_b64_decode(struct tern_ctx *ctx, const char *text, char **out,
	size_t *len_out)
{
	return auth_b64_decode(svc_arena(ctx), text, out, len_out);
}

int
auth_svc_challenge(struct tern_ctx *ctx, const void *challenge, size_t len,
	char **resp_out, size_t *len_out)
{
	struct smtp_sess *s = auth_sess;
	char *line;
	ssize_t n;

	if (s == NULL || s->done)
		return TERN_DEFER;
	smtp_reply(s, "334 %s", auth_b64_encode(arena_scratch, challenge, len));
	if (!smtp_flush(s))
		return TERN_DEFER;
	n = rcv_read_line(&s->src, &line, AUTH_LINE_MAX);
	if (n == -2)
		return TERN_FAIL;
	if (n <= 0) {
		log_write(TERN_LOG_MAIN, NULL,
			"SMTP connection from %s lost during AUTH", s->peer);
		s->done = true;
		return TERN_DEFER;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (strcmp(line, "*") == 0)
		return TERN_DECLINE;
	return auth_b64_decode(svc_arena(ctx), line, resp_out, len_out);
}

void
auth_svc_set_var(struct tern_ctx *ctx, int n, const char *value)
{
	(void)ctx;
	if (n < 1 || n > 3)
		return;
	smtp_in_vars.auth[n - 1] = value != NULL ?
		arena_strdup(arena_conn, value) : NULL;
}

/* Is mech one of the blank-separated words of mechs (caseless)? */
static bool
mech_listed(const char *mechs, const char *mech)
{
	size_t n = strlen(mech);

	for (const char *p = mechs; *p != '\0'; ) {
		size_t w;

		p += strspn(p, " \t");
		w = strcspn(p, " \t");
		if (w == n && strncasecmp(p, mech, n) == 0)
			return true;
		p += w;
	}
	return false;
}

/* client_condition: unset, or an expansion that is not false-ish. */
static bool
client_condition_ok(struct tern_ctx *ctx, const struct driver_inst *inst)
{
	const char *c = inst->g.auth.client_condition;
	char *out = NULL, *err = NULL;

	if (c == NULL)
		return true;
	if (expand_string(ctx, svc_arena(ctx), c, &out, &err) != TERN_OK)
		return false;
	return *out != '\0' && strcmp(out, "0") != 0 &&
		strcasecmp(out, "no") != 0 && strcasecmp(out, "false") != 0;
}

int
auth_svc_client(struct tern_ctx *ctx, const char *server_mechs,
	const struct tern_auth_client_io *io, const char **name_out,
	char **err_out)
{
	int rc, failed = TERN_FAIL;

	*err_out = arena_strdup(svc_arena(ctx),
		"no authenticator fits the server's mechanisms");
	for (struct driver_inst *i = cfg.authenticators; i != NULL;
	    i = i->next) {
		const struct tern_auth_ops *ops = &i->mod->auth;
		const char *mech = i->g.auth.public_name != NULL ?
			i->g.auth.public_name : i->pub.name;

		if (ops->client == NULL || ops->is_client == NULL ||
		    !ops->is_client(&i->pub) ||
		    !mech_listed(server_mechs, mech) ||
		    !client_condition_ok(ctx, i))
			continue;
		rc = ops->client(&i->pub, ctx, io, mech, err_out);
		if (rc == TERN_OK) {
			*name_out = i->pub.name;
			return TERN_OK;
		}
		/* A refusal or nothing to send: the next one may do. */
		if (rc != TERN_DECLINE && rc != TERN_FAIL)
			return rc;
		if (rc == TERN_FAIL)
			failed = TERN_FAIL;
	}
	return failed;
}
