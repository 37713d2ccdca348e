/*
 * Hints databases on LMDB.  Each call opens the environment, runs one
 * transaction and closes it again: processes fork freely (an LMDB
 * environment must not cross a fork), and the cost is small next to a
 * delivery.  Writes are not synced (MDB_NOSYNC): a crash may lose the
 * last hints, which is what hints are for.
 */
#include "hints/hints.h"

#include <errno.h>
#include <lmdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "lib/arena.h"
#include "log/log.h"

#ifndef TERN_SPOOL_DEFAULT
#define TERN_SPOOL_DEFAULT "/var/spool/tern"
#endif

#define HINTS_MAP_SIZE ((size_t)64 << 20)
#define HINTS_NAME_MAX 64

const char *hints_spool_override;

static bool
name_ok(const char *db)
{
	size_t n = strlen(db);

	if (n == 0 || n > HINTS_NAME_MAX || db[0] == '.' || db[0] == '-')
		return false;
	return strspn(db, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		"0123456789_.-") == n;
}

const char *
hints_path(const char *db)
{
	const char *base = hints_spool_override != NULL ? hints_spool_override :
		conf.spool_directory != NULL && *conf.spool_directory != '\0' ?
		conf.spool_directory : TERN_SPOOL_DEFAULT;

	if (!name_ok(db))
		return NULL;
	return arena_printf(arena_scratch, "%s/db/%s", base, db);
}

static bool
is_damaged(int rc)
{
	return rc == MDB_INVALID || rc == MDB_VERSION_MISMATCH ||
		rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND;
}

/* A damaged database is only a lost hint: remove it. */
static void
discard(const char *path, int rc)
{
	const char *lock = arena_printf(arena_scratch, "%s-lock", path);

	log_write(TERN_LOG_MAIN, NULL, "hints: %s is damaged (%s): removed",
		path, mdb_strerror(rc));
	(void)unlink(path);
	(void)unlink(lock);
}

/*
 * Open db.  TERN_OK with *env_out, TERN_FAIL when it does not exist and
 * create is false, TERN_DEFER otherwise (*err_out).
 */
static int
hints_open(const char *db, bool create, MDB_env **env_out, char **err_out)
{
	const char *path = hints_path(db);
	struct stat st;
	int rc;

	if (path == NULL) {
		*err_out = arena_printf(arena_scratch, "bad database name \"%s\"",
			db);
		return TERN_DEFER;
	}
	if (!create && stat(path, &st) != 0)
		return TERN_FAIL;
	for (int attempt = 0; attempt < 2; attempt++) {
		MDB_env *env;

		if ((rc = mdb_env_create(&env)) != 0)
			break;
		(void)mdb_env_set_mapsize(env, HINTS_MAP_SIZE);
		rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOSYNC |
			MDB_NOMETASYNC | MDB_NOTLS, 0640);
		if (rc == 0) {
			*env_out = env;
			return TERN_OK;
		}
		mdb_env_close(env);
		if (!is_damaged(rc))
			break;
		discard(path, rc);
		if (!create)
			return TERN_FAIL;
	}
	*err_out = arena_printf(arena_scratch, "hints: open %s: %s", path,
		mdb_strerror(rc));
	return TERN_DEFER;
}

static bool
make_key(const char *key, MDB_val *k)
{
	k->mv_data = (void *)key;
	k->mv_size = strlen(key);
	return k->mv_size > 0 && k->mv_size <= 400;
}

int
hints_read(const char *db, const char *key, struct arena *a,
	void **val_out, size_t *len_out)
{
	MDB_env *env;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v;
	char *err = NULL, *copy;
	int rc;

	if (!make_key(key, &k))
		return TERN_FAIL;
	rc = hints_open(db, false, &env, &err);
	if (rc != TERN_OK) {
		if (rc == TERN_DEFER)
			DEBUG("%s", err);
		return rc;
	}
	rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
	if (rc == 0 && (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0)
		rc = mdb_get(txn, dbi, &k, &v);
	if (rc == 0) {
		copy = arena_alloc(a, v.mv_size + 1);
		memcpy(copy, v.mv_data, v.mv_size);
		copy[v.mv_size] = '\0';
		*val_out = copy;
		*len_out = v.mv_size;
	}
	if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc == 0)
		return TERN_OK;
	if (rc == MDB_NOTFOUND)
		return TERN_FAIL;
	DEBUG("hints: read %s in %s: %s", key, db, mdb_strerror(rc));
	return TERN_DEFER;
}

/* One write transaction: put (val != NULL) or delete. */
static int
hints_change(const char *db, const char *key, const void *val, size_t len)
{
	MDB_env *env;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	MDB_val k, v = { len, (void *)val };
	char *err = NULL;
	int rc;

	if (!make_key(key, &k))
		return val == NULL ? TERN_OK : TERN_DEFER;
	rc = hints_open(db, val != NULL, &env, &err);
	if (rc == TERN_FAIL)
		return TERN_OK; /* deleting from no database */
	if (rc != TERN_OK) {
		log_write(TERN_LOG_MAIN, NULL, "%s", err);
		return TERN_DEFER;
	}
	rc = mdb_txn_begin(env, NULL, 0, &txn);
	if (rc == 0 && (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0)
		rc = val != NULL ? mdb_put(txn, dbi, &k, &v, 0) :
			mdb_del(txn, dbi, &k, NULL);
	if (rc == MDB_NOTFOUND && val == NULL)
		rc = 0;
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc == 0)
		return TERN_OK;
	log_write(TERN_LOG_MAIN, NULL, "hints: %s %s in %s: %s",
		val != NULL ? "write" : "delete", key, db, mdb_strerror(rc));
	return TERN_DEFER;
}

int
hints_write(const char *db, const char *key, const void *val, size_t len)
{
	return hints_change(db, key, val != NULL ? val : "", len);
}

int
hints_delete(const char *db, const char *key)
{
	return hints_change(db, key, NULL, 0);
}

/* The walk's loop: one cursor over the whole database. */
static int
walk_cursor(MDB_txn *txn, MDB_dbi dbi, bool write, hints_walk_fn fn,
	void *arg)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	if (rc != 0)
		return rc;
	for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		char *key = arena_strndup(arena_scratch, k.mv_data, k.mv_size);
		int what = fn(key, v.mv_data, v.mv_size, arg);

		if (what == HINTS_STOP)
			break;
		if (what == HINTS_DELETE && write &&
		    (rc = mdb_cursor_del(cur, 0)) != 0)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
hints_walk(const char *db, bool write, hints_walk_fn fn, void *arg,
	char **err_out)
{
	MDB_env *env;
	MDB_txn *txn = NULL;
	MDB_dbi dbi;
	int rc = hints_open(db, false, &env, err_out);

	if (rc == TERN_FAIL)
		return 1;
	if (rc != TERN_OK)
		return -1;
	rc = mdb_txn_begin(env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc == 0 && (rc = mdb_dbi_open(txn, NULL, 0, &dbi)) == 0)
		rc = walk_cursor(txn, dbi, write, fn, arg);
	if (rc == 0 && write)
		rc = mdb_txn_commit(txn);
	else if (txn != NULL)
		mdb_txn_abort(txn);
	mdb_env_close(env);
	if (rc == 0)
		return 0;
	*err_out = arena_printf(arena_scratch, "hints: %s: %s", db,
		mdb_strerror(rc));
	return -1;
}
