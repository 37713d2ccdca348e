/*
 * The plaintext authenticator (Exim's): PLAIN and LOGIN, or any
 * mechanism that sends NUL-separated strings.  Server: the strings of
 * the initial response, then one answer per remaining server_prompts
 * item, become $auth1, $auth2, $auth3; the core then checks
 * server_condition.  Client: client_send items, "^" for NUL.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <tern/module.h>

#include "fields.h"

#define PT_MAX_FIELDS 3

struct plaintext_opts {
	const char *server_prompts;   /* expandable list */
	const char *server_condition; /* the core checks it; set = server */
	const char *client_send;      /* expandable list */
};

static const struct tern_option plaintext_options[] = {
	TERN_OPT("server_prompts", EXPSTR, struct plaintext_opts,
		server_prompts, NULL),
	TERN_OPT("server_condition", EXPSTR, struct plaintext_opts,
		server_condition, NULL),
	TERN_OPT_F("client_send", EXPSTR, struct plaintext_opts, client_send,
		NULL, TERN_OPTF_HIDDEN),
	TERN_OPT_END
};

static const struct tern_core *core;

static int
pt_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

static bool
pt_is_server(struct tern_instance *inst)
{
	return ((struct plaintext_opts *)inst->opts)->server_condition != NULL;
}

static bool
pt_is_client(struct tern_instance *inst)
{
	return ((struct plaintext_opts *)inst->opts)->client_send != NULL;
}

/* Add the NUL-separated strings of data to $auth<n+1>... */
static void
pt_take(struct tern_ctx *ctx, const char *data, size_t len, size_t *n)
{
	const char *f[PT_MAX_FIELDS];
	char *copy = core->alloc(ctx, len + 1);
	size_t k = pt_split_nul(data, len, copy, f, PT_MAX_FIELDS);

	for (size_t i = 0; i < k && *n < PT_MAX_FIELDS; i++)
		core->auth_set_var(ctx, (int)++*n, f[i]);
}

/* One prompt: OK, or the result to return from the server side. */
static int
pt_prompt(struct tern_ctx *ctx, const char *prompt, size_t *n,
	char **err_out)
{
	char *resp;
	size_t len;
	int rc = core->auth_challenge(ctx, prompt, strlen(prompt), &resp, &len);

	if (rc == TERN_FAIL) {
		*err_out = core->strdup(ctx, "5.5.2 Invalid base64 data");
		return TERN_DECLINE;
	}
	if (rc != TERN_OK)
		return rc;
	pt_take(ctx, resp, len, n);
	return TERN_OK;
}

static int
pt_server(struct tern_instance *inst, struct tern_ctx *ctx,
	const char *mechanism, const char *initial, char **err_out)
{
	const struct plaintext_opts *o = inst->opts;
	const char *list = "";
	char *prompts = NULL, *item, sep = '\0';
	size_t n = 0, given = 0;
	int rc;

	(void)mechanism;
	if (o->server_prompts != NULL) {
		rc = core->expand(ctx, o->server_prompts, &prompts, err_out);
		if (rc != TERN_OK)
			return rc == TERN_FAIL ? TERN_FAIL : TERN_ERROR;
		list = prompts;
	}
	if (initial != NULL) {
		char *data;
		size_t len = 0;

		if (strcmp(initial, "=") != 0 &&
		    core->b64_decode(ctx, initial, &data, &len) != TERN_OK) {
			*err_out = core->strdup(ctx, "5.5.2 Invalid base64 data");
			return TERN_DECLINE;
		}
		pt_take(ctx, len > 0 ? data : "", len, &n);
		given = n;
	}
	item = core->alloc(ctx, strlen(list) + 1);
	for (size_t k = 0; pt_list_next(&list, &sep, item); k++) {
		if (k < given)
			continue;
		rc = pt_prompt(ctx, item, &n, err_out);
		if (rc != TERN_OK)
			return rc;
	}
	return TERN_OK;
}

/* The items of client_send, each expanded; NULL at a forced failure. */
static int
pt_client_item(struct tern_ctx *ctx, const char *raw, char **b64_out,
	char **err_out)
{
	char *v, *bin;
	size_t len;
	int rc = core->expand(ctx, raw, &v, err_out);

	if (rc != TERN_OK)
		return rc == TERN_FAIL ? TERN_DECLINE : TERN_ERROR;
	bin = core->alloc(ctx, strlen(v) + 1);
	len = pt_unescape_caret(v, bin);
	*b64_out = len > 0 ? core->b64_encode(ctx, bin, len) : NULL;
	return TERN_OK;
}

/* A server reply code: the result of the exchange so far. */
static int
pt_reply_rc(struct tern_ctx *ctx, int code, const char *text, char **err_out)
{
	if (code == 235)
		return TERN_OK;
	*err_out = core->printf(ctx, "AUTH refused: %d %s", code,
		text != NULL ? text : "");
	if (code < 0)
		return TERN_DEFER;
	return code >= 500 ? TERN_FAIL : TERN_DEFER;
}

static int
pt_client(struct tern_instance *inst, struct tern_ctx *ctx,
	const struct tern_auth_client_io *io, const char *mechanism,
	char **err_out)
{
	const struct plaintext_opts *o = inst->opts;
	const char *list = o->client_send;
	char *raw = core->alloc(ctx, strlen(list) + 1), *b64 = NULL, *text = NULL;
	char sep = '\0';
	const char *line;
	int rc, code;

	if (!pt_list_next(&list, &sep, raw))
		raw[0] = '\0';
	rc = pt_client_item(ctx, raw, &b64, err_out);
	if (rc != TERN_OK)
		return rc;
	line = b64 != NULL ? core->printf(ctx, "AUTH %s %s", mechanism, b64) :
		core->printf(ctx, "AUTH %s", mechanism);
	code = io->command(io->arg, line, &text, err_out);
	while (code == 334) {
		if (!pt_list_next(&list, &sep, raw)) {
			(void)io->command(io->arg, "*", &text, err_out);
			*err_out = core->strdup(ctx,
				"server asked for more than client_send has");
			return TERN_FAIL;
		}
		rc = pt_client_item(ctx, raw, &b64, err_out);
		if (rc != TERN_OK) {
			(void)io->command(io->arg, "*", &text, err_out);
			return rc;
		}
		code = io->command(io->arg, b64 != NULL ? b64 : "", &text,
			err_out);
	}
	return pt_reply_rc(ctx, code, text, err_out);
}

TERN_MODULE(plaintext) = {
	.magic = TERN_MODULE_MAGIC, .abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR, .size = sizeof(struct tern_module),
	.kind = TERN_KIND_AUTH, .name = "plaintext", .version = "1.0",
	.options = plaintext_options,
	.opts_size = sizeof(struct plaintext_opts),
	.load = pt_load,
	.auth = { .is_server = pt_is_server, .is_client = pt_is_client,
		.server = pt_server, .client = pt_client },
};
