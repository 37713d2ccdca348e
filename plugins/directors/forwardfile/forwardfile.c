/*
 * The forwardfile director (Exim 3): a user's .forward file, read as the
 * user, turned into child addresses, pipes and files like an alias list.
 *
 * The list syntax and its walk are aliasfile's (aliaslist.c and
 * itemwalk.c are compiled in here too).
 * "\user" and, with check_ancestor, an address equal to an ancestor are
 * marked TERN_AF_NO_REDIRECT: the core then passes them to the directors
 * after this one instead of forwarding them again.  Pipes and files run
 * as the user, in the user's home directory.  Exim filter files are not
 * interpreted (the `filter` option is accepted and warned about).
 */
#include <errno.h>
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

#define FORWARD_SIZE_MAX  (1024 * 1024)

struct forwardfile_opts {
	struct itemwalk_opts walk; /* transports, forbid_*, ... */
	const char *file;         /* expandable; relative to the home */
	const char *data;         /* expandable: the list itself */
	const char *directory;    /* expandable: home for a relative file */
	const char *owners;
	const char *owngroups;
	int         modemask;
	bool        check_local_user;
	bool        check_group;
	bool        check_ancestor;
	bool        ignore_eacces;
	bool        ignore_enotdir;
	/* accepted, not implemented */
	bool        filter;
	bool        forbid_reply;
	const char *reply_transport;
	const char *syntax_errors_text;
	const char *syntax_errors_to;
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct forwardfile_opts, field, dflt)
#define F(name, type, field, dflt) \
	TERN_OPT_F(name, type, struct forwardfile_opts, field, dflt, \
		TERN_OPTF_FUTURE)

static const struct tern_option forwardfile_options[] = {
	O("check_ancestor",          BOOL,   check_ancestor,          "false"),
	O("check_group",             BOOL,   check_group,             "false"),
	O("check_local_user",        BOOL,   check_local_user,        "true"),
	O("data",                    EXPSTR, data,                    NULL),
	O("directory",               EXPSTR, directory,               NULL),
	O("directory_transport",     STRING, walk.directory_transport, NULL),
	O("file",                    EXPSTR, file,                    NULL),
	O("file_transport",          STRING, walk.file_transport,     NULL),
	F("filter",                  BOOL,   filter,                  "false"),
	O("forbid_file",             BOOL,   walk.forbid_file,        "false"),
	O("forbid_pipe",             BOOL,   walk.forbid_pipe,        "false"),
	F("forbid_reply",            BOOL,   forbid_reply,            "false"),
	O("freeze_missing_include",  BOOL,
	  walk.freeze_missing_include, "true"),
	O("ignore_eacces",           BOOL,   ignore_eacces,           "false"),
	O("ignore_enotdir",          BOOL,   ignore_enotdir,          "false"),
	O("modemask",                OCTAL,  modemask,                "022"),
	O("owners",                  LIST,   owners,                  NULL),
	O("owngroups",               LIST,   owngroups,               NULL),
	O("pipe_transport",          STRING, walk.pipe_transport,     NULL),
	O("qualify_preserve_domain", BOOL,
	  walk.qualify_preserve_domain, "false"),
	F("reply_transport",         STRING, reply_transport,         NULL),
	O("skip_syntax_errors",      BOOL,   walk.skip_syntax_errors, "false"),
	F("syntax_errors_text",      EXPSTR, syntax_errors_text,      NULL),
	F("syntax_errors_to",        STRING, syntax_errors_to,        NULL),
	TERN_OPT_END
};

static const struct tern_core *core;

/* -------- the walk's hooks -------- */

/* An :include: file, read as the user like the .forward itself. */
static int
walk_include(struct itemwalk *w, const char *path, int depth)
{
	struct stat st;
	char *text = NULL;
	int rc, e;

	if (depth >= ITEMWALK_INCLUDE_DEPTH_MAX || path[0] != '/') {
		w->addr->message = core->printf(w->ctx, "director %s: %s "
			":include: file %s", w->inst->name, path[0] != '/' ?
			"relative" : "too deeply nested", path);
		return TERN_ERROR;
	}
	rc = userfile_read(path, w->data, FORWARD_SIZE_MAX, &text, &st);
	if (rc < 0 || text == NULL) {
		e = rc < 0 ? errno : 0;
		w->addr->basic_errno = e;
		w->addr->message = core->printf(w->ctx, "director %s: failed to "
			"read :include: file %s: %s", w->inst->name, path,
			e != 0 ? strerror(e) : "not a regular file");
		return w->o->freeze_missing_include ? TERN_ERROR : TERN_DEFER;
	}
	alias_strip_comments(text);
	rc = itemwalk_list(w, text, path, depth + 1);
	free(text);
	return rc;
}

/* Pipes and files run as the user, in the home directory. */
static void
set_child_ids(struct itemwalk *w, struct tern_address *child)
{
	const struct userfile_ids *ids = w->data;

	child->home = w->addr->home;
	if (ids->has_ids) {
		child->uid = ids->uid;
		child->gid = ids->gid;
		child->flags |= TERN_AF_HAS_UID;
	}
}

static const struct itemwalk_ops forwardfile_walk = {
	.name = "forwardfile",
	.list = "forward",
	.is_user_file = true,
	.include = walk_include,
	.set_ids = set_child_ids,
};

/* -------- finding and reading the file -------- */

/*
 * Expand a path option ("file", "directory"); a forced failure declines,
 * and a result with unchecked data from outside is refused.
 */
static int
expand_opt(struct itemwalk *w, const char *name, const char *tmpl, char **out)
{
	char *err = NULL;
	int rc = core->expand_path(w->ctx, tmpl, out, &err);

	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	w->addr->message = core->printf(w->ctx, "director %s: failed to "
		"expand %s \"%s\": %s", w->inst->name, name, tmpl,
		err ? err : "lookup deferred");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

/* `data`, remembering whether it holds data from outside. */
static int
expand_data(struct itemwalk *w, char **list_out)
{
	const struct forwardfile_opts *o = w->inst->opts;
	struct tern_tainted t = { { NULL, 0 } };
	char *clean = NULL, *err = NULL, *copy;
	int rc = core->expand_tainted(w->ctx, o->data, &clean, &t, &err);

	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	if (rc != TERN_OK) {
		w->addr->message = core->printf(w->ctx, "director %s: failed "
			"to expand data \"%s\": %s", w->inst->name, o->data,
			err ? err : "lookup deferred");
		return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
	}
	if (clean != NULL) {
		*list_out = clean;
		return TERN_OK;
	}
	w->is_tainted = true;
	copy = core->alloc(w->ctx, t.s.len + 1);
	memcpy(copy, t.s.p, t.s.len);
	copy[t.s.len] = '\0';
	*list_out = copy;
	return TERN_OK;
}

/*
 * check_local_user: the local part must be a user of the passwd source
 * (the core keeps its answers for the process: localuser asks too).
 */
static int
find_user(struct itemwalk *w)
{
	struct userfile_ids *ids = w->data;
	struct tern_address *a = w->addr;
	struct tern_user pw;
	char *err = NULL;
	int rc = core->find_user(w->ctx, a->local_part, &pw, &err);

	if (rc == TERN_DEFER) {
		a->basic_errno = errno;
		a->message = core->printf(w->ctx, "director %s: %s",
			w->inst->name, err);
	}
	if (rc != TERN_OK)
		return rc;
	ids->has_ids = true;
	ids->uid = pw.uid;
	ids->gid = pw.gid;
	ids->login = pw.name;
	a->home = pw.home;
	/* passwd vouches for the local part (it differs in case at most) */
	a->flags |= TERN_AF_LP_CHECKED;
	return TERN_OK;
}

/* The file's path: `file`, under `directory` or $home when relative. */
static int
forward_path(struct itemwalk *w, char **path_out)
{
	const struct forwardfile_opts *o = w->inst->opts;
	char *file, *dir = NULL;
	int rc;

	if ((rc = expand_opt(w, "file", o->file, &file)) != TERN_OK)
		return rc;
	if (o->directory != NULL) {
		if ((rc = expand_opt(w, "directory", o->directory, &dir)) !=
		    TERN_OK)
			return rc;
		w->addr->home = dir;
	}
	if (file[0] == '/') {
		*path_out = file;
		return TERN_OK;
	}
	if (dir == NULL)
		dir = (char *)w->addr->home;
	if (dir == NULL || dir[0] != '/') {
		w->addr->message = core->printf(w->ctx, "director %s: file "
			"\"%s\" is relative, and there is no home directory "
			"(set check_local_user or directory)", w->inst->name,
			file);
		return TERN_ERROR;
	}
	*path_out = core->printf(w->ctx, "%s/%s", dir, file);
	return TERN_OK;
}

/* The permitted owners and groups for this user (NULL: no check). */
static const char *
check_file(struct itemwalk *w, const struct stat *st, char *why, size_t len)
{
	const struct forwardfile_opts *o = w->inst->opts;
	const struct userfile_owners *d = w->inst->data;
	const struct userfile_ids *ids = w->data;
	bool owners = d->owners != NULL || ids->has_ids;
	bool groups = d->groups != NULL || o->check_group;
	uid_t *ou = core->alloc(w->ctx, (d->nowners + 2) * sizeof *ou);
	gid_t *og = core->alloc(w->ctx, (d->ngroups + 1) * sizeof *og);
	size_t no = d->nowners, ng = d->ngroups;

	if (no > 0)
		memcpy(ou, d->owners, no * sizeof *ou);
	if (ng > 0)
		memcpy(og, d->groups, ng * sizeof *og);
	if (ids->has_ids) {
		ou[no++] = ids->uid;
		og[ng++] = ids->gid;
	}
	ou[no++] = 0; /* root may own it */
	return userfile_check(st, o->modemask, owners ? ou : NULL, no,
		groups ? og : NULL, ng, why, len);
}

/* Read the .forward.  OK with *text_out, DECLINE when missing, DEFER. */
static int
read_forward(struct itemwalk *w, const char *path, char **text_out)
{
	const struct forwardfile_opts *o = w->inst->opts;
	char why[160], *text = NULL;
	struct stat st;
	int e;

	if (userfile_read(path, w->data, FORWARD_SIZE_MAX, &text, &st) < 0) {
		e = errno;
		if (e == ENOENT || (e == EACCES && o->ignore_eacces) ||
		    (e == ENOTDIR && o->ignore_enotdir))
			return TERN_DECLINE;
		if (e == EACCES && !userfile_as_user(w->data)) {
			/* Rootless: another user's private file is out of
			 * reach, as running their pipes would be. */
			core->log(w->ctx, TERN_LOG_DEBUG, "director %s: %s: "
				"not readable without the user's rights: "
				"passed over", w->inst->name, path);
			return TERN_DECLINE;
		}
		w->addr->basic_errno = e;
		w->addr->message = core->printf(w->ctx, "director %s: failed "
			"to read %s: %s", w->inst->name, path, e == EPERM ?
			"cannot change to the user's uid" : strerror(e));
		return TERN_DEFER;
	}
	if (check_file(w, &st, why, sizeof why) != NULL) {
		free(text);
		w->addr->message = core->printf(w->ctx, "director %s: %s for "
			"%s", w->inst->name, why, path);
		return TERN_DEFER;
	}
	*text_out = core->strdup(w->ctx, text);
	free(text);
	return TERN_OK;
}

/* The list: `data` expanded, or the file's contents. */
static int
get_list(struct itemwalk *w, char **list_out)
{
	const struct forwardfile_opts *o = w->inst->opts;
	char *path;
	int rc;

	if (o->data != NULL) {
		w->source = "data";
		return expand_data(w, list_out);
	}
	if ((rc = forward_path(w, &path)) != TERN_OK)
		return rc;
	w->source = path;
	if ((rc = read_forward(w, path, list_out)) != TERN_OK)
		return rc;
	alias_strip_comments(*list_out);
	return TERN_OK;
}

static int
forwardfile_direct(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	const struct forwardfile_opts *o = inst->opts;
	struct userfile_ids ids = { 0 };
	struct itemwalk w = { .core = core, .ops = &forwardfile_walk,
		.o = &o->walk, .inst = inst, .ctx = ctx, .addr = addr,
		.data = &ids, .check_ancestor = o->check_ancestor };
	const char *home = addr->home;
	unsigned flags = addr->flags;
	char *list;
	int rc;

	if (addr->kind != TERN_ADDR_MAIL || addr->local_part == NULL)
		return TERN_DECLINE;
	rc = o->check_local_user ? find_user(&w) : TERN_OK;
	if (rc == TERN_OK)
		rc = get_list(&w, &list);
	if (rc == TERN_OK)
		rc = itemwalk_run(&w, list);
	if (rc == TERN_DECLINE) {
		addr->home = home;
		addr->flags = flags;
	}
	return rc;
}

/* -------- configuration -------- */

static int
forwardfile_init(struct tern_instance *inst, char **err_out)
{
	const struct forwardfile_opts *o = inst->opts;
	struct userfile_owners *d = calloc(1, sizeof *d);
	char why[160];

	if (d == NULL)
		return TERN_ERROR;
	inst->data = d;
	if ((o->file == NULL) == (o->data == NULL)) {
		*err_out = core->printf(NULL, "director %s: exactly one of "
			"\"file\" and \"data\" must be set", inst->name);
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
forwardfile_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(forwardfile) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_DIRECTOR,
	.name = "forwardfile",
	.version = "1.0",
	.options = forwardfile_options,
	.opts_size = sizeof(struct forwardfile_opts),
	.load = forwardfile_load,
	.init = forwardfile_init,
	.director = { .direct = forwardfile_direct },
};
