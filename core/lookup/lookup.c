/*
 * Lookups through lookup modules.  Open handles are cached per (type,
 * file) for the life of the process, so a queue run does not reopen
 * /etc/aliases for every address; lookup_close_all() drops them.
 */
#include "lookup/lookup.h"

#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "log/log.h"
#include "modules/modules.h"

struct handle {
	const char               *type;
	const char               *file;   /* NULL for query types */
	const struct tern_module *mod;
	void                     *h;
	struct handle            *next;
};

static struct handle *handles;

static bool
same_file(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
		(a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The cached open handle for (type, file), opening it if needed. */
static int
get_handle(struct tern_ctx *ctx, const char *type, const char *file,
	struct handle **out, char **err_out)
{
	const struct tern_module *mod;
	struct handle *h;
	void *hd = NULL;
	int rc;

	for (h = handles; h != NULL; h = h->next)
		if (strcmp(h->type, type) == 0 && same_file(h->file, file)) {
			*out = h;
			return TERN_OK;
		}
	if ((mod = module_load_lookup(type, NULL, err_out)) == NULL)
		return TERN_ERROR;
	if (mod->lookup.is_query)
		file = NULL;
	else if (file == NULL || file[0] != '/') {
		*err_out = arena_printf(arena_msg,
			"lookup %s: file name \"%s\" is not absolute", type,
			file ? file : "");
		return TERN_ERROR;
	}
	if (mod->lookup.open != NULL) {
		rc = mod->lookup.open(ctx, type, file, &hd, err_out);
		if (rc != TERN_OK)
			return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		tern_panic("lookup %s: out of memory", type);
	h->type = arena_strdup(arena_perm, type);
	h->file = file ? arena_strdup(arena_perm, file) : NULL;
	h->mod = mod;
	h->h = hd;
	h->next = handles;
	handles = h;
	*out = h;
	return TERN_OK;
}

int
lookup_find(struct tern_ctx *ctx, const char *type, const char *file,
	const char *key, char **value_out, char **err_out)
{
	struct handle *h;
	char *value = NULL;
	int rc;

	*value_out = NULL;
	rc = get_handle(ctx, type, file, &h, err_out);
	if (rc != TERN_OK)
		return rc;
	if (h->mod->lookup.find == NULL) {
		*err_out = arena_printf(arena_msg,
			"lookup %s: module has no find function", type);
		return TERN_ERROR;
	}
	rc = h->mod->lookup.find(ctx, h->h, type, key, &value, err_out);
	DEBUG("lookup %s %s key \"%s\": %s", type, h->file ? h->file : "",
		key, rc == TERN_OK ? "found" : rc == TERN_FAIL ? "not found"
		: rc == TERN_DEFER ? "deferred" : "error");
	if (rc == TERN_OK)
		*value_out = arena_strdup(arena_msg, value ? value : "");
	else if (rc != TERN_FAIL && rc != TERN_DEFER)
		rc = TERN_ERROR;
	return rc;
}

int
lookup_check_type(const char *type, const char *where, char **err_out)
{
	return module_load_lookup(type, where, err_out) != NULL ? 0 : -1;
}

void
lookup_close_all(void)
{
	while (handles != NULL) {
		struct handle *h = handles;

		handles = h->next;
		if (h->mod->lookup.close != NULL && h->h != NULL)
			h->mod->lookup.close(h->h);
		free(h);
	}
}
