/*
 * The cram_md5 authenticator (RFC 2195, Exim's options).  Server: a
 * challenge "<random.time@primary_hostname>", the client answers
 * "user hexdigest"; $auth1 = user, server_secret is expanded and the
 * HMAC-MD5 compared.  Client: client_name and client_secret.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include <tern/module.h>

#include "hmac.h"

struct cram_opts {
	const char *server_secret; /* expandable, $auth1 = user */
	const char *client_name;   /* expandable, default primary_hostname */
	const char *client_secret; /* expandable */
};

static const struct tern_option cram_options[] = {
	TERN_OPT_F("server_secret", EXPSTR, struct cram_opts, server_secret,
		NULL, TERN_OPTF_HIDDEN),
	TERN_OPT("client_name", EXPSTR, struct cram_opts, client_name, NULL),
	TERN_OPT_F("client_secret", EXPSTR, struct cram_opts, client_secret,
		NULL, TERN_OPTF_HIDDEN),
	TERN_OPT_END
};

static const struct tern_core *core;

static int
cram_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

static bool
cram_is_server(struct tern_instance *inst)
{
	return ((struct cram_opts *)inst->opts)->server_secret != NULL;
}

static bool
cram_is_client(struct tern_instance *inst)
{
	return ((struct cram_opts *)inst->opts)->client_secret != NULL;
}

static char *
cram_challenge(struct tern_ctx *ctx)
{
	const char *host = core->main_option("primary_hostname");
	uint64_t r = 0;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint64_t)clock() ^ (uint64_t)time(NULL);
	return core->printf(ctx, "<%llu.%lld@%s>",
		(unsigned long long)(r % 1000000000000ull),
		(long long)time(NULL), host != NULL ? host : "localhost");
}

static int
cram_server(struct tern_instance *inst, struct tern_ctx *ctx,
	const char *mechanism, const char *initial, char **err_out)
{
	const struct cram_opts *o = inst->opts;
	char *ch = cram_challenge(ctx), *resp, *sp, *secret, ours[33];
	size_t len;
	int rc;

	(void)mechanism;
	if (initial != NULL) {
		*err_out = core->strdup(ctx,
			"5.5.4 initial response not allowed with CRAM-MD5");
		return TERN_DECLINE;
	}
	rc = core->auth_challenge(ctx, ch, strlen(ch), &resp, &len);
	if (rc == TERN_FAIL) {
		*err_out = core->strdup(ctx, "5.5.2 Invalid base64 data");
		return TERN_DECLINE;
	}
	if (rc != TERN_OK)
		return rc;
	/* "user digest": the user name is what precedes the last space */
	sp = strlen(resp) == len ? strrchr(resp, ' ') : NULL;
	if (sp == NULL)
		return TERN_FAIL;
	*sp = '\0';
	core->auth_set_var(ctx, 1, resp);
	rc = core->expand(ctx, o->server_secret, &secret, err_out);
	if (rc == TERN_FAIL)
		return TERN_FAIL; /* "fail": no such user */
	if (rc != TERN_OK)
		return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
	if (!cram_digest(secret, ch, strlen(ch), ours)) {
		*err_out = core->strdup(ctx, "HMAC-MD5 failed");
		return TERN_ERROR;
	}
	return cram_digest_equal(sp + 1, ours) ? TERN_OK : TERN_FAIL;
}

static int
cram_client(struct tern_instance *inst, struct tern_ctx *ctx,
	const struct tern_auth_client_io *io, const char *mechanism,
	char **err_out)
{
	const struct cram_opts *o = inst->opts;
	char *name = NULL, *secret, *text = NULL, *ch, ours[33];
	const char *host = core->main_option("primary_hostname");
	size_t len;
	int rc, code;

	if (o->client_name != NULL) {
		rc = core->expand(ctx, o->client_name, &name, err_out);
		if (rc != TERN_OK)
			return rc == TERN_FAIL ? TERN_DECLINE : TERN_ERROR;
	}
	rc = core->expand(ctx, o->client_secret, &secret, err_out);
	if (rc != TERN_OK)
		return rc == TERN_FAIL ? TERN_DECLINE : TERN_ERROR;
	code = io->command(io->arg, core->printf(ctx, "AUTH %s", mechanism),
		&text, err_out);
	if (code != 334)
		goto out_refused;
	if (core->b64_decode(ctx, text, &ch, &len) != TERN_OK ||
	    !cram_digest(secret, ch, len, ours)) {
		(void)io->command(io->arg, "*", &text, err_out);
		*err_out = core->strdup(ctx, "bad CRAM-MD5 challenge");
		return TERN_FAIL;
	}
	name = core->printf(ctx, "%s %s", name != NULL ? name :
		host != NULL ? host : "", ours);
	code = io->command(io->arg, core->b64_encode(ctx, name, strlen(name)),
		&text, err_out);
	if (code == 235)
		return TERN_OK;
out_refused:
	if (code < 0)
		return TERN_DEFER;
	*err_out = core->printf(ctx, "AUTH refused: %d %s", code,
		text != NULL ? text : "");
	return code >= 500 ? TERN_FAIL : TERN_DEFER;
}

TERN_MODULE(cram_md5) = {
	.magic = TERN_MODULE_MAGIC, .abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR, .size = sizeof(struct tern_module),
	.kind = TERN_KIND_AUTH, .name = "cram_md5", .version = "1.0",
	.options = cram_options, .opts_size = sizeof(struct cram_opts),
	.load = cram_load,
	.auth = { .is_server = cram_is_server, .is_client = cram_is_client,
		.server = cram_server, .client = cram_client },
};
