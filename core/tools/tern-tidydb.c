/*
 * tern-tidydb: tidy a hints database (like Exim's exim_tidydb).
 *   tern-tidydb [-t time] spool_directory retry|wait-TRANSPORT
 * retry: records not updated within `time` (default 30d) are deleted;
 * wait-*: ids of messages no longer on the spool are dropped, and records
 * left empty are deleted.  Safe while tern runs: each record is judged
 * inside one write transaction.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "hints/hints.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "retry/retry.h"

#define ID_LEN 23

struct tidy {
	const char *spool;
	time_t      cutoff;   /* retry: older last tries go */
	int         deleted, kept;
};

static int
tidy_retry(const char *key, const void *val, size_t len, void *arg)
{
	struct tidy *t = arg;
	struct retry_record r;

	if (retry_record_decode(arena_scratch, val, len, &r) != 0) {
		printf("deleted %s (unreadable)\n", key);
		t->deleted++;
		return HINTS_DELETE;
	}
	if (r.last_try < t->cutoff) {
		printf("deleted %s (too old)\n", key);
		t->deleted++;
		return HINTS_DELETE;
	}
	t->kept++;
	return HINTS_KEEP;
}

static bool
on_spool(const struct tidy *t, const char *id)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/input/%s-M", t->spool, id);
	return stat(path, &st) == 0;
}

/* Rewriting a record inside the walk is not possible: note the result. */
struct rewrite {
	const char     *key;
	char           *ids;
	struct rewrite *next;
};

static struct rewrite *rewrites;

static int
tidy_wait(const char *key, const void *val, size_t len, void *arg)
{
	struct tidy *t = arg;
	char *ids = arena_strndup(arena_perm, val, len), *save = NULL;
	struct buf keep;
	int dropped = 0;

	buf_init(&keep, arena_perm, 0);
	for (char *id = strtok_r(ids, " ", &save); id != NULL;
	    id = strtok_r(NULL, " ", &save)) {
		if (strlen(id) == ID_LEN && on_spool(t, id)) {
			if (!buf_printf(&keep, "%s%s", keep.len ? " " : "", id))
				break;
		} else {
			dropped++;
		}
	}
	if (keep.len == 0) {
		printf("deleted %s (no messages left)\n", key);
		t->deleted++;
		return HINTS_DELETE;
	}
	if (dropped > 0) {
		struct rewrite *rw = arena_zalloc(arena_perm, sizeof(*rw));

		rw->key = arena_strdup(arena_perm, key);
		rw->ids = keep.p;
		rw->next = rewrites;
		rewrites = rw;
		printf("%s: %d message id(s) removed\n", key, dropped);
	}
	t->kept++;
	return HINTS_KEEP;
}

static int
usage(void)
{
	fprintf(stderr, "usage: tern-tidydb [-t time] spool_directory "
		"retry|wait-TRANSPORT\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct tidy t = { 0 };
	int max_age = 30 * 86400, i = 1, rc;
	char *err = NULL;
	const char *db;

	arena_init_all();
	rt.progname = "tern-tidydb";
	if (i < argc && strncmp(argv[i], "-t", 2) == 0) {
		const char *v = argv[i][2] != '\0' ? argv[i] + 2 :
			i + 1 < argc ? argv[++i] : "";

		if (option_parse_value(TERN_OPT_TIME, v, &max_age, &err) != 0) {
			fprintf(stderr, "tern-tidydb: -t: %s\n", err);
			return 2;
		}
		i++;
	}
	if (argc - i != 2)
		return usage();
	t.spool = argv[i];
	db = argv[i + 1];
	t.cutoff = time(NULL) - max_age;
	hints_spool_override = t.spool;
	if (hints_path(db) == NULL)
		return usage();
	printf("Tidying Tern hints database %s\n", hints_path(db));
	rc = hints_walk(db, true, strncmp(db, "wait-", 5) == 0 ? tidy_wait :
		tidy_retry, &t, &err);
	if (rc < 0) {
		fprintf(stderr, "tern-tidydb: %s\n", err);
		return 1;
	}
	if (rc == 1) {
		printf("%s does not exist: nothing to do\n", hints_path(db));
		return 0;
	}
	for (struct rewrite *rw = rewrites; rw != NULL; rw = rw->next)
		(void)hints_write(db, rw->key, rw->ids, strlen(rw->ids));
	printf("Tidying complete: %d deleted, %d kept\n", t.deleted, t.kept);
	return 0;
}
