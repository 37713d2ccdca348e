/*
 * Lookup types dbm and dbmnz: a single-key lookup in an LMDB file written
 * by tern-dbmbuild (docs/tools.md).
 *
 * On disk: one LMDB environment in a single file (MDB_NOSUBDIR), its
 * unnamed database holding key -> value.  A "dbm" key includes its
 * terminating NUL, a "dbmnz" key does not (exim_dbmbuild's -nozero);
 * values always end in a NUL, which the lookup drops (a value without
 * one is taken whole).  Keys are compared exactly, bytes as written.
 *
 * The builder writes a new file and renames it into place, never
 * changing a file in place, so readers need no lock file: they open it
 * MDB_RDONLY | MDB_NOLOCK and can read where they cannot write.  A
 * cached handle whose file has been replaced since is reopened.
 */
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <tern/module.h>

static const struct tern_core *core;

static const char *const dbm_types[] = { "dbm", "dbmnz", NULL };

struct dbm_handle {
	MDB_env *env;
	MDB_dbi  dbi;
	char    *path;
	dev_t    dev;
	ino_t    ino;
};

static void
handle_shut(struct dbm_handle *h)
{
	if (h->env != NULL)
		mdb_env_close(h->env);
	h->env = NULL;
}

/* Open h->path.  OK, or DEFER with *err_out. */
static int
handle_open(struct tern_ctx *ctx, struct dbm_handle *h, char **err_out)
{
	MDB_txn *txn = NULL;
	struct stat st;
	int rc;

	if (stat(h->path, &st) < 0) {
		*err_out = core->printf(ctx, "failed to open %s as a dbm file: "
			"%m", h->path);
		return TERN_DEFER;
	}
	rc = mdb_env_create(&h->env);
	if (rc == 0)
		rc = mdb_env_open(h->env, h->path, MDB_NOSUBDIR | MDB_RDONLY |
			MDB_NOLOCK | MDB_NOTLS, 0);
	if (rc == 0)
		rc = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_dbi_open(txn, NULL, 0, &h->dbi);
	if (txn != NULL)
		mdb_txn_abort(txn);
	if (rc != 0) {
		handle_shut(h);
		*err_out = core->printf(ctx, "failed to open %s as a dbm file "
			"(LMDB, built by tern-dbmbuild): %s", h->path,
			mdb_strerror(rc));
		return TERN_DEFER;
	}
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	return TERN_OK;
}

static int
dbm_open(struct tern_ctx *ctx, const char *type, const char *file,
	void **handle_out, char **err_out)
{
	struct dbm_handle *h;
	int rc;

	(void)type;
	if (file == NULL || file[0] != '/') {
		*err_out = core->printf(ctx, "dbm lookup needs an absolute file "
			"name, got \"%s\"", file ? file : "");
		return TERN_ERROR;
	}
	h = calloc(1, sizeof *h);
	if (h == NULL || (h->path = strdup(file)) == NULL) {
		free(h);
		*err_out = core->strdup(ctx, "dbm: out of memory");
		return TERN_DEFER;
	}
	rc = handle_open(ctx, h, err_out);
	if (rc != TERN_OK) {
		free(h->path);
		free(h);
		return rc;
	}
	*handle_out = h;
	return TERN_OK;
}

/* Reopen when tern-dbmbuild has renamed a new file into place. */
static int
refresh(struct tern_ctx *ctx, struct dbm_handle *h, char **err_out)
{
	struct stat st;

	if (h->env != NULL && stat(h->path, &st) == 0 && st.st_dev == h->dev &&
	    st.st_ino == h->ino)
		return TERN_OK;
	handle_shut(h);
	return handle_open(ctx, h, err_out);
}

static int
dbm_find(struct tern_ctx *ctx, void *handle, const char *type,
	const char *key, char **value_out, char **err_out)
{
	struct dbm_handle *h = handle;
	bool nz = strcmp(type, "dbmnz") == 0;
	MDB_val k = { strlen(key) + (nz ? 0 : 1), (void *)key }, v;
	MDB_txn *txn;
	size_t len;
	char *out;
	int rc;

	if ((rc = refresh(ctx, h, err_out)) != TERN_OK)
		return rc;
	if (k.mv_size == 0 || k.mv_size > (size_t)mdb_env_get_maxkeysize(h->env))
		return TERN_FAIL; /* cannot be there */
	rc = mdb_txn_begin(h->env, NULL, MDB_RDONLY, &txn);
	if (rc == 0) {
		rc = mdb_get(txn, h->dbi, &k, &v);
		if (rc == 0) {
			len = v.mv_size;
			if (len > 0 && ((const char *)v.mv_data)[len - 1] == '\0')
				len--;
			out = core->alloc(ctx, len + 1);
			memcpy(out, v.mv_data, len);
			out[len] = '\0';
			*value_out = out;
		}
		mdb_txn_abort(txn);
	}
	if (rc == 0)
		return TERN_OK;
	if (rc == MDB_NOTFOUND)
		return TERN_FAIL;
	*err_out = core->printf(ctx, "%s lookup in %s: %s", type, h->path,
		mdb_strerror(rc));
	return TERN_DEFER;
}

static void
dbm_close(void *handle)
{
	struct dbm_handle *h = handle;

	if (h == NULL)
		return;
	handle_shut(h);
	free(h->path);
	free(h);
}

static int
dbm_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(dbm) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_LOOKUP,
	.name = "dbm",
	.version = "1.0",
	.load = dbm_load,
	.lookup = {
		.types = dbm_types,
		.is_query = 0,
		.open = dbm_open,
		.find = dbm_find,
		.close = dbm_close,
		.quote = NULL,
	},
};
