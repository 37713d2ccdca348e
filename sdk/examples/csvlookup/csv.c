/*
 * csv: an example out-of-tree lookup for Tern.
 *
 * Lookup type "csv": a single-key file lookup in a comma-separated file.
 * The first field of a line is the key (compared without regard to case);
 * the value is the rest of the line after the first comma, with blanks
 * around it removed.  Empty lines and lines starting with '#' are skipped.
 *
 *   # /etc/tern/mailboxes.csv
 *   alice,/var/mail/alice-archive
 *
 *   file = ${lookup{$local_part}csv{/etc/tern/mailboxes.csv}{$value}fail}
 *
 * or, as an alias file: "search_type = csv" in an aliasfile director.
 *
 * Results: TERN_OK (found), TERN_FAIL (not in the file), TERN_DEFER (the
 * file cannot be read now: never reported as "not found").
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <tern/module.h>

static const struct tern_core *core;

static const char *const csv_types[] = { "csv", NULL };

struct csv_handle {
	FILE *f;
	char *path;
};

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
csv_open(struct tern_ctx *ctx, const char *type, const char *file,
	void **handle_out, char **err_out)
{
	struct csv_handle *h;

	(void)type;
	if (file == NULL || file[0] != '/') {
		*err_out = core->printf(ctx, "csv lookup needs an absolute "
			"file name, got \"%s\"", file != NULL ? file : "");
		return TERN_ERROR;
	}
	h = calloc(1, sizeof(*h));
	if (h == NULL || (h->path = strdup(file)) == NULL) {
		free(h);
		*err_out = core->strdup(ctx, "csv: out of memory");
		return TERN_DEFER;
	}
	h->f = fopen(file, "re");
	if (h->f == NULL) {
		*err_out = core->printf(ctx, "csv: open %s: %s", file,
			strerror(errno));
		free(h->path);
		free(h);
		return TERN_DEFER;
	}
	*handle_out = h;
	return TERN_OK;
}

static int
csv_find(struct tern_ctx *ctx, void *handle, const char *type,
	const char *key, char **value_out, char **err_out)
{
	struct csv_handle *h = handle;
	char *line = NULL, *comma, *k;
	size_t cap = 0;
	int rc = TERN_FAIL;

	(void)type;
	rewind(h->f);  /* the core keeps the handle open between finds */
	while (getline(&line, &cap, h->f) >= 0) {
		k = trim(line);
		if (*k == '\0' || *k == '#' || (comma = strchr(k, ',')) == NULL)
			continue;
		*comma = '\0';
		if (strcasecmp(trim(k), key) == 0) {
			*value_out = core->strdup(ctx, trim(comma + 1));
			rc = TERN_OK;
			break;
		}
	}
	if (rc == TERN_FAIL && ferror(h->f)) {
		*err_out = core->printf(ctx, "csv: read %s: %s", h->path,
			strerror(errno));
		rc = TERN_DEFER;
	}
	free(line);
	return rc;
}

static void
csv_close(void *handle)
{
	struct csv_handle *h = handle;

	if (h == NULL)
		return;
	fclose(h->f);
	free(h->path);
	free(h);
}

static int
csv_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(csv) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_LOOKUP,
	.name = "csv",
	.version = "1.0",
	.load = csv_load,
	.lookup = {
		.types = csv_types,
		.is_query = 0,
		.open = csv_open,
		.find = csv_find,
		.close = csv_close,
		.quote = NULL,
	},
};
