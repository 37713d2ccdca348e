/*
 * Lookup types lsearch, wildlsearch, nwildlsearch and iplsearch: a linear
 * scan of a text file for each find.  Files are small; the core caches
 * the open handle per process, and each find rewinds it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tern/module.h>

#include "parse.h"

static const struct tern_core *core;

static const char *const lsearch_types[] = {
	"lsearch", "wildlsearch", "nwildlsearch", "iplsearch", NULL
};

enum lsearch_kind { LS_PLAIN, LS_WILD, LS_NWILD, LS_IP };

struct lsearch_handle {
	FILE *f;
	char *path;
};

struct match_arg {
	struct tern_ctx  *ctx;
	enum lsearch_kind kind;
	const char       *key;
	char             *err; /* set when the match gives up */
};

static enum lsearch_kind
kind_of(const char *type)
{
	if (strcmp(type, "wildlsearch") == 0)
		return LS_WILD;
	if (strcmp(type, "nwildlsearch") == 0)
		return LS_NWILD;
	if (strcmp(type, "iplsearch") == 0)
		return LS_IP;
	return LS_PLAIN;
}

static int
regex_match(struct match_arg *m, const char *pattern)
{
	pcre2_code *re;
	pcre2_match_data *md;
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int errcode, rc;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0,
		&errcode, &off, NULL);
	if (re == NULL) {
		pcre2_get_error_message(errcode, msg, sizeof msg);
		m->err = core->printf(m->ctx,
			"bad regular expression \"%s\" at offset %zu: %s",
			pattern, (size_t)off, (char *)msg);
		return -1;
	}
	md = pcre2_match_data_create_from_pattern(re, NULL);
	if (md == NULL) {
		pcre2_code_free(re);
		m->err = core->strdup(m->ctx, "out of memory matching regex");
		return -1;
	}
	rc = pcre2_match(re, (PCRE2_SPTR)m->key, strlen(m->key), 0, 0, md,
		NULL);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
	return rc >= 0;
}

/* wildlsearch keys are expanded first; nwildlsearch keys are not. */
static int
wild_match(struct match_arg *m, const char *file_key)
{
	char *pattern = (char *)file_key, *err = NULL;
	int rc;

	if (m->kind == LS_WILD && strpbrk(file_key, "$\\") != NULL) {
		rc = core->expand(m->ctx, file_key, &pattern, &err);
		if (rc == TERN_FAIL)
			return 0;
		if (rc != TERN_OK) {
			m->err = core->printf(m->ctx,
				"failed to expand key \"%s\": %s", file_key,
				err ? err : "lookup deferred");
			return -1;
		}
	}
	if (pattern[0] == '^')
		return regex_match(m, pattern);
	return lsearch_wild_match(pattern, m->key);
}

static int
match_key(void *arg, const char *file_key)
{
	struct match_arg *m = arg;

	switch (m->kind) {
	case LS_PLAIN:
		return strcasecmp(file_key, m->key) == 0;
	case LS_WILD:
	case LS_NWILD:
		return wild_match(m, file_key);
	case LS_IP:
		return lsearch_ip_match(file_key, m->key) == 1;
	}
	return 0;
}

static int
lsearch_open(struct tern_ctx *ctx, const char *type, const char *file,
	void **handle_out, char **err_out)
{
	struct lsearch_handle *h;

	(void)type;
	if (file == NULL || file[0] != '/') {
		*err_out = core->printf(ctx,
			"linear search needs an absolute file name, got \"%s\"",
			file ? file : "");
		return TERN_ERROR;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL || (h->path = strdup(file)) == NULL) {
		free(h);
		*err_out = core->strdup(ctx, "lsearch: out of memory");
		return TERN_DEFER;
	}
	h->f = fopen(file, "re");
	if (h->f == NULL) {
		*err_out = core->printf(ctx,
			"failed to open %s for linear search: %m", file);
		free(h->path);
		free(h);
		return TERN_DEFER;
	}
	*handle_out = h;
	return TERN_OK;
}

static int
lsearch_find(struct tern_ctx *ctx, void *handle, const char *type,
	const char *key, char **value_out, char **err_out)
{
	struct lsearch_handle *h = handle;
	struct match_arg m = { ctx, kind_of(type), key, NULL };
	char *value = NULL;
	int rc;

	if (m.kind == LS_IP && lsearch_ip_match(key, key) < 0)
		return TERN_FAIL; /* not an IP address: cannot be there */
	rc = lsearch_scan(h->f, match_key, &m, &value);
	if (rc == 0)
		return TERN_FAIL;
	if (rc == -1) {
		*err_out = core->printf(ctx, "%s lookup in %s: %s", type,
			h->path, m.err);
		return TERN_DEFER;
	}
	if (rc < 0) {
		*err_out = core->printf(ctx, "%s lookup: read error on %s: %m",
			type, h->path);
		return TERN_DEFER;
	}
	*value_out = core->strdup(ctx, value);
	free(value);
	return TERN_OK;
}

static void
lsearch_close(void *handle)
{
	struct lsearch_handle *h = handle;

	if (h == NULL)
		return;
	fclose(h->f);
	free(h->path);
	free(h);
}

static int
lsearch_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(lsearch) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_LOOKUP,
	.name = "lsearch",
	.version = "1.0",
	.load = lsearch_load,
	.lookup = {
		.types = lsearch_types,
		.is_query = 0,
		.open = lsearch_open,
		.find = lsearch_find,
		.close = lsearch_close,
		.quote = NULL,
	},
};
