/*
 * tern-dbmbuild [-nozero] [-noduplicates] [-lastdup] [-nowarn] SOURCE TARGET
 *
 * Builds the dbm lookup file TARGET (LMDB, one file) from SOURCE, an
 * lsearch-format file, as exim_dbmbuild does for Exim's dbm files.  The
 * new file is written as TARGET.tmp, synced, and renamed over TARGET, so
 * that a reader sees the old file or the new one, never half of one:
 * that is why readers can open it without a lock file.  Keys are stored
 * exactly as written, with a terminating NUL unless -nozero (for the
 * dbmnz lookup type); values always end in a NUL.
 *
 * Exit status: 0 done (duplicates are warnings), 1 a syntax error (with
 * file:line) or any failure, 2 bad usage.  TARGET is untouched unless the
 * whole build worked.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"

#define MAP_MIN      (1024 * 1024)
#define MAP_TRIES    12
#define REC_MAP_FULL 2 /* record callback: grow the map and start again */

struct build {
	bool        nozero, nodup, lastdup, nowarn;
	const char *source;
	MDB_env    *env;
	MDB_txn    *txn;
	MDB_dbi     dbi;
	long        count, dups;
	char        err[1024];
};

static void
usage(void)
{
	fprintf(stderr, "usage: tern-dbmbuild [-nozero] [-noduplicates] "
		"[-lastdup] [-nowarn] SOURCE TARGET\n");
	exit(2);
}

static int
put_record(void *arg, const char *key, const char *value, long line)
{
	struct build *b = arg;
	MDB_val k = { strlen(key) + (b->nozero ? 0 : 1), (void *)key };
	MDB_val v = { strlen(value) + 1, (void *)value }, old;
	int rc;

	if (k.mv_size == 0 ||
	    k.mv_size > (size_t)mdb_env_get_maxkeysize(b->env)) {
		snprintf(b->err, sizeof b->err, "%s:%ld: key \"%.60s\" is %s",
			b->source, line, key, k.mv_size == 0 ? "empty" :
			"too long");
		return 1;
	}
	if (mdb_get(b->txn, b->dbi, &k, &old) == 0) {
		b->dups++;
		if (b->nodup) {
			snprintf(b->err, sizeof b->err, "%s:%ld: duplicate key "
				"\"%s\"", b->source, line, key);
			return 1;
		}
		if (!b->nowarn)
			fprintf(stderr, "tern-dbmbuild: %s:%ld: warning: "
				"duplicate key \"%s\" (the %s one is kept)\n",
				b->source, line, key, b->lastdup ? "last" :
				"first");
		if (!b->lastdup)
			return 0;
	} else {
		b->count++;
	}
	rc = mdb_put(b->txn, b->dbi, &k, &v, 0);
	if (rc == MDB_MAP_FULL)
		return REC_MAP_FULL;
	if (rc != 0) {
		snprintf(b->err, sizeof b->err, "%s:%ld: cannot store key "
			"\"%s\": %s", b->source, line, key, mdb_strerror(rc));
		return 1;
	}
	return 0;
}

static void
build_abort(struct build *b)
{
	if (b->txn != NULL)
		mdb_txn_abort(b->txn);
	if (b->env != NULL)
		mdb_env_close(b->env);
	b->txn = NULL;
	b->env = NULL;
}

/* One attempt with map size map.  0 done, REC_MAP_FULL, or -1 (b->err). */
static int
build_once(struct build *b, FILE *src, const char *tmp, size_t map)
{
	int rc;

	b->count = b->dups = 0;
	rewind(src);
	if (unlink(tmp) < 0 && errno != ENOENT) {
		snprintf(b->err, sizeof b->err, "cannot remove %s: %s", tmp,
			strerror(errno));
		return -1;
	}
	rc = mdb_env_create(&b->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(b->env, map);
	if (rc == 0)
		rc = mdb_env_open(b->env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0644);
	if (rc == 0)
		rc = mdb_txn_begin(b->env, NULL, 0, &b->txn);
	if (rc == 0)
		rc = mdb_dbi_open(b->txn, NULL, 0, &b->dbi);
	if (rc != 0) {
		snprintf(b->err, sizeof b->err, "cannot create %s: %s", tmp,
			mdb_strerror(rc));
		goto out_fail;
	}
	rc = dbm_source_parse(src, b->source, put_record, b, b->err,
		sizeof b->err);
	if (rc == REC_MAP_FULL) {
		build_abort(b);
		return REC_MAP_FULL;
	}
	if (rc != 0)
		goto out_fail;
	rc = mdb_txn_commit(b->txn);
	b->txn = NULL;
	if (rc == MDB_MAP_FULL) {
		build_abort(b);
		return REC_MAP_FULL;
	}
	if (rc == 0)
		rc = mdb_env_sync(b->env, 1);
	if (rc != 0) {
		snprintf(b->err, sizeof b->err, "cannot write %s: %s", tmp,
			mdb_strerror(rc));
		goto out_fail;
	}
	mdb_env_close(b->env);
	b->env = NULL;
	return 0;

out_fail:
	build_abort(b);
	return -1;
}

/* fsync the directory holding path, so the rename is durable. */
static int
sync_dir(const char *path)
{
	char *copy = strdup(path);
	int fd, rc = -1;

	if (copy == NULL)
		return -1;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

static int
build(struct build *b, const char *target)
{
	struct stat st;
	size_t map;
	char *tmp;
	FILE *src;
	int rc = REC_MAP_FULL;

	if ((src = fopen(b->source, "re")) == NULL) {
		snprintf(b->err, sizeof b->err, "cannot open %s: %s", b->source,
			strerror(errno));
		return -1;
	}
	if (asprintf(&tmp, "%s.tmp", target) < 0) {
		fclose(src);
		snprintf(b->err, sizeof b->err, "out of memory");
		return -1;
	}
	map = MAP_MIN;
	if (fstat(fileno(src), &st) == 0 && (size_t)st.st_size < SIZE_MAX / 8)
		map += (size_t)st.st_size * 4;
	for (int i = 0; i < MAP_TRIES && rc == REC_MAP_FULL; i++, map *= 2)
		rc = build_once(b, src, tmp, map);
	fclose(src);
	if (rc == REC_MAP_FULL)
		snprintf(b->err, sizeof b->err, "%s: too big", b->source);
	if (rc == 0 && rename(tmp, target) < 0) {
		snprintf(b->err, sizeof b->err, "cannot rename %s to %s: %s",
			tmp, target, strerror(errno));
		rc = -1;
	}
	if (rc == 0 && sync_dir(target) < 0) {
		snprintf(b->err, sizeof b->err, "cannot sync the directory of "
			"%s: %s", target, strerror(errno));
		rc = -1;
	}
	if (rc != 0)
		unlink(tmp);
	free(tmp);
	return rc == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct build b;
	int i;

	memset(&b, 0, sizeof b);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "-nozero") == 0)
			b.nozero = true;
		else if (strcmp(argv[i], "-noduplicates") == 0)
			b.nodup = true;
		else if (strcmp(argv[i], "-lastdup") == 0)
			b.lastdup = true;
		else if (strcmp(argv[i], "-nowarn") == 0)
			b.nowarn = true;
		else if (strcmp(argv[i], "--") == 0)
			break;
		else
			usage();
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (argc - i != 2)
		usage();
	b.source = argv[i];
	if (build(&b, argv[i + 1]) != 0) {
		fprintf(stderr, "tern-dbmbuild: %s\n", b.err);
		return 1;
	}
	printf("%ld entr%s written to %s", b.count, b.count == 1 ? "y" : "ies",
		argv[i + 1]);
	if (b.dups > 0)
		printf(" (%ld duplicate key%s)", b.dups, b.dups == 1 ? "" : "s");
	printf("\n");
	return 0;
}
