/*
 * newaliases, as sendmail's: the alias files a dbm aliasfile director
 * reads are rebuilt from their text sources.  The convention is
 * sendmail's and Exim's: a director with `file = /etc/aliases.db` reads
 * the dbm file built from /etc/aliases.  The build itself is
 * tern-dbmbuild's (installed beside tern), so the core needs no LMDB.
 */
#include "aliases/newaliases.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/runtime.h"

#define DB_SUFFIX ".db"

/* A string option of a director's private block, or NULL. */
static const char *
string_option(const struct driver_inst *d, const char *name)
{
	const struct tern_option *o = d->mod->options;

	for (; o != NULL && o->name != NULL; o++)
		if (strcmp(o->name, name) == 0 && (o->type == TERN_OPT_STRING ||
		    o->type == TERN_OPT_EXPSTR))
			return *(const char *const *)(const void *)
				((const char *)d->pub.opts + o->offset);
	return NULL;
}

static const char *
tool_path(void)
{
	const char *exe = rt.self_exe != NULL ? rt.self_exe : "";
	const char *slash = strrchr(exe, '/');

	if (slash == NULL)
		return "tern-dbmbuild";
	return arena_printf(arena_msg, "%.*s/tern-dbmbuild",
		(int)(slash - exe), exe);
}

/* Run tern-dbmbuild; 0 when it succeeded. */
static int
run_tool(bool nozero, const char *source, const char *target)
{
	const char *tool = tool_path();
	char *argv[6];
	int n = 0, status;
	pid_t pid;

	argv[n++] = (char *)tool;
	if (nozero)
		argv[n++] = (char *)"-nozero";
	argv[n++] = (char *)source;
	argv[n++] = (char *)target;
	argv[n] = NULL;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "%s: fork: %s\n", rt.progname, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		execv(tool, argv);
		fprintf(stderr, "%s: cannot run %s: %s\n", rt.progname, tool,
			strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* The dbm file one director reads, expanded; NULL (and a message). */
static const char *
target_file(const struct driver_inst *d)
{
	const char *file = string_option(d, "file");
	char *out = NULL, *err = NULL;

	if (file == NULL) {
		printf("director %s: no file (a query lookup): skipped\n",
			d->pub.name);
		return NULL;
	}
	if (strchr(file, '$') == NULL)
		return file;
	if (expand_string(NULL, arena_msg, file, &out, &err) != TERN_OK) {
		printf("director %s: file \"%s\" depends on the address "
			"(%s): skipped\n", d->pub.name, file,
			err != NULL ? err : "forced failure");
		return NULL;
	}
	return out;
}

/* Rebuild one director's file.  0 done, -1 failed. */
static int
rebuild(const struct driver_inst *d, bool nozero)
{
	const char *target = target_file(d);
	size_t len, slen = strlen(DB_SUFFIX);
	char *source;

	if (target == NULL)
		return -1;
	len = strlen(target);
	if (len <= slen || strcmp(target + len - slen, DB_SUFFIX) != 0) {
		printf("director %s: cannot tell the source of %s (its name "
			"does not end in %s): build it with tern-dbmbuild\n",
			d->pub.name, target, DB_SUFFIX);
		return -1;
	}
	source = arena_strndup(arena_msg, target, len - slen);
	printf("director %s: rebuilding %s from %s\n", d->pub.name, target,
		source);
	if (run_tool(nozero, source, target) != 0) {
		printf("director %s: %s was not rebuilt\n", d->pub.name, target);
		return -1;
	}
	return 0;
}

int
newaliases_run(void)
{
	int found = 0, failed = 0;

	for (const struct driver_inst *d = cfg.directors; d != NULL;
	    d = d->next) {
		const char *type;

		if (strcmp(d->pub.driver, "aliasfile") != 0)
			continue;
		type = string_option(d, "search_type");
		if (type == NULL || (strcmp(type, "dbm") != 0 &&
		    strcmp(type, "dbmnz") != 0))
			continue;
		found++;
		if (rebuild(d, strcmp(type, "dbmnz") == 0) != 0)
			failed++;
	}
	if (found == 0)
		printf("%s: no aliasfile director uses a dbm file "
			"(search_type = dbm or dbmnz): nothing to rebuild\n",
			rt.progname);
	return failed == 0 ? 0 : 1;
}
