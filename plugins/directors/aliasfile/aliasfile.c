/*
 * The aliasfile director: look the local part up (lsearch, dbm, ...) and
 * turn the value into child addresses, pipes and files (itemwalk.c).  The
 * alias file's mode and owner are checked as forwardfile checks a
 * .forward (userfile.c is compiled in here too).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <tern/module.h>

#include "aliaslist.h"
#include "itemwalk.h"
#include "userfile.h"

#define INCLUDE_SIZE_MAX  (1024 * 1024)

struct aliasfile_opts {
	struct itemwalk_opts walk; /* transports, forbid_*, ... */
	const char *file;        /* expandable */
	const char *query;       /* expandable, for query-style lookups */
	const char *search_type;
	int64_t     user, group;
	bool        include_domain;
	bool        optional;
	bool        expand;
	bool        check_ancestor;
	int         modemask;
	const char *owners;
	const char *owngroups;
	/* accepted, not implemented yet */
	const char *syntax_errors_text;
	const char *syntax_errors_to;
	const char *directory2_transport;
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct aliasfile_opts, field, dflt)
#define F(name, type, field, dflt) \
	TERN_OPT_F(name, type, struct aliasfile_opts, field, dflt, \
		TERN_OPTF_FUTURE)

static const struct tern_option aliasfile_options[] = {
	O("check_ancestor",          BOOL,   check_ancestor,          "false"),
	F("directory2_transport",    STRING, directory2_transport,    NULL),
	O("directory_transport",     STRING, walk.directory_transport, NULL),
	O("expand",                  BOOL,   expand,                  "false"),
	O("file",                    EXPSTR, file,                    NULL),
	O("file_transport",          STRING, walk.file_transport,     NULL),
	O("forbid_file",             BOOL,   walk.forbid_file,        "false"),
	O("forbid_pipe",             BOOL,   walk.forbid_pipe,        "false"),
	O("freeze_missing_include",  BOOL,
	  walk.freeze_missing_include, "true"),
	O("group",                   GID,    group,                   NULL),
	O("include_domain",          BOOL,   include_domain,          "false"),
	O("modemask",                OCTAL,  modemask,                "022"),
	O("optional",                BOOL,   optional,                "false"),
	O("owners",                  LIST,   owners,                  NULL),
	O("owngroups",               LIST,   owngroups,               NULL),
	O("pipe_transport",          STRING, walk.pipe_transport,     NULL),
	O("qualify_preserve_domain", BOOL,
	  walk.qualify_preserve_domain, "false"),
	O("query",                   EXPSTR, query,                   NULL),
	O("search_type",             STRING, search_type,             "lsearch"),
	O("skip_syntax_errors",      BOOL,   walk.skip_syntax_errors, "false"),
	F("syntax_errors_text",      EXPSTR, syntax_errors_text,      NULL),
	F("syntax_errors_to",        STRING, syntax_errors_to,        NULL),
	O("user",                    UID,    user,                    NULL),
	TERN_OPT_END
};

static const struct tern_core *core;

/* Read all of fd (at most INCLUDE_SIZE_MAX) into a NUL-ended string. */
static char *
read_all(struct itemwalk *w, int fd)
{
	struct stat st;
	size_t len = 0, size;
	char *text;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return NULL;
	if (st.st_size > INCLUDE_SIZE_MAX) {
		errno = EFBIG;
		return NULL;
	}
	size = (size_t)st.st_size;
	text = core->alloc(w->ctx, size + 1);
	while (len < size && (n = read(fd, text + len, size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return NULL;
		len += (size_t)n;
	}
	text[len] = '\0';
	return text;
}

/* Read an :include: file (commas, newlines, '#' comment lines). */
static int
walk_include(struct itemwalk *w, const char *path, int depth)
{
	struct tern_address *a = w->addr;
	char *text;
	int fd;

	if (depth >= ITEMWALK_INCLUDE_DEPTH_MAX) {
		a->message = core->printf(w->ctx, "director %s: more than %d "
			"nested :include: files at %s", w->inst->name,
			ITEMWALK_INCLUDE_DEPTH_MAX, path);
		return TERN_ERROR;
	}
	if (path[0] != '/') {
		a->message = core->printf(w->ctx, "director %s: :include: "
			"file name \"%s\" is not absolute", w->inst->name, path);
		return TERN_ERROR;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		a->basic_errno = errno;
		a->message = core->printf(w->ctx, "director %s: failed to open "
			":include: file %s: %m", w->inst->name, path);
		return w->o->freeze_missing_include ? TERN_ERROR : TERN_DEFER;
	}
	text = read_all(w, fd);
	if (text == NULL) {
		a->basic_errno = errno;
		a->message = core->printf(w->ctx, "director %s: failed to read "
			":include: file %s: %m", w->inst->name, path);
		close(fd);
		return TERN_ERROR;
	}
	close(fd);
	alias_strip_comments(text);
	return itemwalk_list(w, text, path, depth + 1);
}

/* Pipes and files run as the director's user and group, if given. */
static void
set_child_ids(struct itemwalk *w, struct tern_address *child)
{
	const struct aliasfile_opts *o = w->inst->opts;
	struct passwd *pw;

	if (o->user < 0)
		return;
	child->uid = o->user;
	child->gid = o->group;
	if (child->gid < 0) {
		pw = getpwuid((uid_t)o->user);
		if (pw == NULL)
			return;
		child->gid = pw->pw_gid;
	}
	child->flags |= TERN_AF_HAS_UID;
}

static const struct itemwalk_ops aliasfile_walk = {
	.name = "aliasfile",
	.list = "alias",
	.include = walk_include,
	.set_ids = set_child_ids,
};

/* The lookup key: the local part, lower-cased, with @domain if asked. */
static const char *
lookup_key(struct itemwalk *w)
{
	const struct aliasfile_opts *o = w->inst->opts;
	const struct tern_address *a = w->addr;
	char *key;

	if (o->include_domain)
		key = core->printf(w->ctx, "%s@%s", a->local_part, a->domain);
	else
		key = core->strdup(w->ctx, a->local_part);
	for (char *p = key; *p != '\0' && *p != '@'; p++)
		*p = (char)tolower((unsigned char)*p);
	return key;
}

/*
 * Expand an option; a forced failure declines.  "file" is a path: a result
 * with unchecked data from outside in it is refused (deferred).
 */
static int
expand_opt(struct itemwalk *w, const char *name, const char *tmpl, char **out)
{
	char *err = NULL;
	int rc = strcmp(name, "file") == 0 ?
		core->expand_path(w->ctx, tmpl, out, &err) :
		core->expand(w->ctx, tmpl, out, &err);

	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	w->addr->message = core->printf(w->ctx, "director %s: failed to "
		"expand %s \"%s\": %s", w->inst->name, name, tmpl,
		err ? err : "lookup deferred");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

/*
 * The alias file's mode, owner and group (modemask, owners, owngroups):
 * a file that others may write could run their commands as the director's
 * user.  A bad one defers the address, as a bad .forward does.
 */
static int
check_file(struct itemwalk *w, const char *path, const struct stat *st)
{
	const struct aliasfile_opts *o = w->inst->opts;
	const struct userfile_owners *d = w->inst->data;
	char why[160];

	if (userfile_check(st, o->modemask, d->owners, d->nowners, d->groups,
	    d->ngroups, why, sizeof why) == NULL)
		return TERN_OK;
	w->addr->message = core->printf(w->ctx, "director %s: %s for %s",
		w->inst->name, why, path);
	return TERN_DEFER;
}

/* Look the address up.  OK with *value_out, or DECLINE/DEFER/ERROR. */
static int
do_lookup(struct itemwalk *w, char **value_out)
{
	const struct aliasfile_opts *o = w->inst->opts;
	char *arg, *err = NULL;
	struct stat st;
	int rc;

	if (o->query != NULL) {
		rc = expand_opt(w, "query", o->query, &arg);
		if (rc != TERN_OK)
			return rc;
		w->source = "query";
		rc = core->lookup(w->ctx, o->search_type, NULL, arg, value_out,
			&err);
	} else {
		rc = expand_opt(w, "file", o->file, &arg);
		if (rc != TERN_OK)
			return rc;
		w->source = arg;
		if (stat(arg, &st) < 0) {
			if (o->optional && errno == ENOENT)
				return TERN_DECLINE;
			/* else the lookup says what is wrong with it */
		} else if ((rc = check_file(w, arg, &st)) != TERN_OK) {
			return rc;
		}
		rc = core->lookup(w->ctx, o->search_type, arg, lookup_key(w),
			value_out, &err);
	}
	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	w->addr->message = core->printf(w->ctx, "director %s: %s lookup "
		"failed: %s", w->inst->name, o->search_type,
		err ? err : "unknown error");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

static int
aliasfile_direct(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	const struct aliasfile_opts *o = inst->opts;
	struct itemwalk w = { .core = core, .ops = &aliasfile_walk,
		.o = &o->walk, .inst = inst, .ctx = ctx, .addr = addr,
		.check_ancestor = o->check_ancestor };
	char *value, *expanded;
	int rc;

	if (addr->kind != TERN_ADDR_MAIL || addr->local_part == NULL)
		return TERN_DECLINE;
	rc = do_lookup(&w, &value);
	if (rc != TERN_OK)
		return rc;
	if (o->expand) {
		rc = expand_opt(&w, "alias value", value, &expanded);
		if (rc != TERN_OK)
			return rc;
		value = expanded;
	}
	/* taint: a wildcard key ("*" in wildlsearch) vouches for nothing */
	if (strstr(o->search_type, "wild") == NULL &&
	    strchr(o->search_type, '*') == NULL)
		addr->flags |= TERN_AF_LP_CHECKED;
	addr->local_part_data = value;
	return itemwalk_run(&w, value);
}

static int
aliasfile_init(struct tern_instance *inst, char **err_out)
{
	const struct aliasfile_opts *o = inst->opts;
	struct userfile_owners *d = calloc(1, sizeof *d);
	char why[160];

	if (d == NULL)
		return TERN_ERROR;
	inst->data = d;
	if ((o->file == NULL) == (o->query == NULL)) {
		*err_out = core->printf(NULL, "director %s: exactly one of "
			"\"file\" and \"query\" must be set", inst->name);
		return TERN_ERROR;
	}
	if (o->search_type == NULL || o->search_type[0] == '\0') {
		*err_out = core->printf(NULL, "director %s: search_type is "
			"empty", inst->name);
		return TERN_ERROR;
	}
	if (o->group >= 0 && o->user < 0) {
		*err_out = core->printf(NULL, "director %s: \"group\" is set "
			"but \"user\" is not", inst->name);
		return TERN_ERROR;
	}
	if (userfile_owners_set(d, o->owners, o->owngroups, why,
	    sizeof why) < 0) {
		*err_out = core->printf(NULL, "director %s: owners/owngroups: "
			"%s", inst->name, why);
		return TERN_ERROR;
	}
	return TERN_OK;
}

static int
aliasfile_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(aliasfile) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_DIRECTOR,
	.name = "aliasfile",
	.version = "1.0",
	.options = aliasfile_options,
	.opts_size = sizeof(struct aliasfile_opts),
	.load = aliasfile_load,
	.init = aliasfile_init,
	.director = { .direct = aliasfile_direct },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
