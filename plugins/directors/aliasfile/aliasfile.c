/*
 * The aliasfile director: look the local part up (lsearch, dbm, ...) and
 * turn the value into child addresses, pipes and files.
 *
 * The whole list, :include: files and all, is read before anything is
 * done, so that :fail:, :defer: and :unknown: anywhere in it decide for
 * the address and no half-made set of children is left behind.
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

#define INCLUDE_DEPTH_MAX 10
#define INCLUDE_SIZE_MAX  (1024 * 1024)

struct aliasfile_opts {
	const char *file;        /* expandable */
	const char *query;       /* expandable, for query-style lookups */
	const char *search_type;
	const char *pipe_transport;
	const char *file_transport;
	const char *directory_transport;
	int64_t     user, group;
	bool        include_domain;
	bool        forbid_pipe;
	bool        forbid_file;
	bool        optional;
	bool        skip_syntax_errors;
	bool        qualify_preserve_domain;
	bool        expand;
	bool        freeze_missing_include;
	/* accepted, not implemented yet */
	bool        check_ancestor;
	bool        rewrite;
	int         modemask;
	const char *owners;
	const char *owngroups;
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
	F("check_ancestor",          BOOL,   check_ancestor,          "false"),
	F("directory2_transport",    STRING, directory2_transport,    NULL),
	O("directory_transport",     STRING, directory_transport,     NULL),
	O("expand",                  BOOL,   expand,                  "false"),
	O("file",                    EXPSTR, file,                    NULL),
	O("file_transport",          STRING, file_transport,          NULL),
	O("forbid_file",             BOOL,   forbid_file,             "false"),
	O("forbid_pipe",             BOOL,   forbid_pipe,             "false"),
	O("freeze_missing_include",  BOOL,   freeze_missing_include,  "true"),
	O("group",                   GID,    group,                   NULL),
	O("include_domain",          BOOL,   include_domain,          "false"),
	F("modemask",                OCTAL,  modemask,                "022"),
	O("optional",                BOOL,   optional,                "false"),
	F("owners",                  LIST,   owners,                  NULL),
	F("owngroups",               LIST,   owngroups,               NULL),
	O("pipe_transport",          STRING, pipe_transport,          NULL),
	O("qualify_preserve_domain", BOOL,   qualify_preserve_domain, "false"),
	O("query",                   EXPSTR, query,                   NULL),
	F("rewrite",                 BOOL,   rewrite,                 "true"),
	O("search_type",             STRING, search_type,             "lsearch"),
	O("skip_syntax_errors",      BOOL,   skip_syntax_errors,      "false"),
	F("syntax_errors_text",      EXPSTR, syntax_errors_text,      NULL),
	F("syntax_errors_to",        STRING, syntax_errors_to,        NULL),
	O("user",                    UID,    user,                    NULL),
	TERN_OPT_END
};

static const struct tern_core *core;

/* The items of one address's list, collected before acting on them. */
struct walk {
	struct tern_instance  *inst;
	struct tern_ctx       *ctx;
	struct tern_address   *addr;
	const struct aliasfile_opts *o;
	struct alias_item     *items;
	size_t                 n, cap;
	const char            *source;  /* expanded file, or "query" */
	struct alias_item      special; /* first :fail:/:defer:/:unknown: */
	bool                   blackhole;
};

static int
walk_add(struct walk *w, struct alias_item *it)
{
	struct alias_item *ni;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		ni = realloc(w->items, w->cap * sizeof *ni);
		if (ni == NULL) {
			free(it->text);
			return -1;
		}
		w->items = ni;
	}
	w->items[w->n++] = *it;
	return 0;
}

static void
walk_free(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->items[i].text);
	free(w->items);
	free(w->special.text);
}

static int walk_list(struct walk *w, const char *list, const char *where,
	int depth);

/* Read all of fd (at most INCLUDE_SIZE_MAX) into a NUL-ended string. */
static char *
read_all(struct walk *w, int fd)
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
walk_include(struct walk *w, const char *path, int depth)
{
	struct tern_address *a = w->addr;
	char *text;
	int fd;

	if (depth >= INCLUDE_DEPTH_MAX) {
		a->message = core->printf(w->ctx, "director %s: more than %d "
			"nested :include: files at %s", w->inst->name,
			INCLUDE_DEPTH_MAX, path);
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
	return walk_list(w, text, path, depth + 1);
}

static int
walk_syntax(struct walk *w, const char *where, const char *err)
{
	if (w->o->skip_syntax_errors) {
		core->log(w->ctx, TERN_LOG_MAIN, "director %s: syntax error in "
			"alias list for %s in %s: %s (rest of list skipped)",
			w->inst->name, w->addr->address, where, err);
		return TERN_OK;
	}
	w->addr->message = core->printf(w->ctx, "director %s: syntax error "
		"in alias list for %s in %s: %s", w->inst->name,
		w->addr->address, where, err);
	return TERN_ERROR;
}

/* Collect the items of list (from `where`, for messages) into w. */
static int
walk_list(struct walk *w, const char *list, const char *where, int depth)
{
	struct alias_item it;
	const char *err;
	int rc;

	while ((rc = alias_next_item(&list, &it, &err)) == 1) {
		if (it.kind == AI_INCLUDE) {
			rc = walk_include(w, it.text, depth);
			free(it.text);
			if (rc != TERN_OK)
				return rc;
		} else if (it.kind == AI_BLACKHOLE) {
			w->blackhole = true;
			free(it.text);
		} else if (it.kind == AI_FAIL || it.kind == AI_DEFER ||
		    it.kind == AI_UNKNOWN) {
			if (w->special.text == NULL)
				w->special = it;
			else
				free(it.text);
		} else if (walk_add(w, &it) < 0) {
			w->addr->message = core->strdup(w->ctx,
				"aliasfile: out of memory");
			return TERN_DEFER;
		}
	}
	return rc < 0 ? walk_syntax(w, where, err) : TERN_OK;
}

/* Is every pipe and file permitted and given a transport? */
static int
check_items(struct walk *w)
{
	const struct aliasfile_opts *o = w->o;
	bool verify = core->is_verify(w->ctx);

	for (size_t i = 0; i < w->n; i++) {
		const struct alias_item *it = &w->items[i];
		bool pipe = it->kind == AI_PIPE;
		const char *tp = pipe ? o->pipe_transport : o->file_transport;

		if (it->kind == AI_ADDRESS)
			continue;
		if (pipe ? o->forbid_pipe : o->forbid_file) {
			w->addr->message = core->printf(w->ctx, "director %s: "
				"%s \"%s\" is not permitted (forbid_%s)",
				w->inst->name, pipe ? "pipe" : "file",
				it->text, pipe ? "pipe" : "file");
			return TERN_DEFER;
		}
		if (!pipe && it->text[strlen(it->text) - 1] == '/' &&
		    o->directory_transport != NULL)
			tp = o->directory_transport;
		if (tp == NULL && !verify) {
			w->addr->message = core->printf(w->ctx, "director %s: "
				"%s_transport is not set, needed for \"%s\"",
				w->inst->name, pipe ? "pipe" : "file", it->text);
			return TERN_ERROR;
		}
	}
	return TERN_OK;
}

static const char *
qualify_domain(void)
{
	static const char *const names[] = {
		"qualify_recipient", "qualify_domain", "primary_hostname",
	};
	const char *v;

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if ((v = core->main_option(names[i])) != NULL && v[0] != '\0')
			return v;
	return NULL;
}

/* Pipes and files run as the director's user and group, if given. */
static void
set_child_ids(const struct aliasfile_opts *o, struct tern_address *child)
{
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

static const char *
item_transport(const struct aliasfile_opts *o, const struct alias_item *it)
{
	if (it->kind == AI_PIPE)
		return o->pipe_transport;
	if (it->text[strlen(it->text) - 1] == '/' &&
	    o->directory_transport != NULL)
		return o->directory_transport;
	return o->file_transport;
}

static int
add_children(struct walk *w)
{
	const struct aliasfile_opts *o = w->o;
	const char *qd = o->qualify_preserve_domain ? NULL : qualify_domain();
	struct tern_address *child;
	char *err = NULL;
	const char *text;

	for (size_t i = 0; i < w->n; i++) {
		const struct alias_item *it = &w->items[i];

		text = it->text;
		if (it->kind == AI_ADDRESS && qd != NULL &&
		    !alias_has_domain(text))
			text = core->printf(w->ctx, "%s@%s", text, qd);
		child = core->add_child(w->ctx, w->addr, text, &err);
		if (child == NULL) {
			int rc = walk_syntax(w, w->source,
				err ? err : "bad address");
			if (rc != TERN_OK)
				return rc;
			continue;
		}
		if (it->kind == AI_ADDRESS)
			continue;
		child->transport = item_transport(o, it);
		set_child_ids(o, child);
	}
	return TERN_OK;
}

/* Act on the collected list.  OK, DECLINE, DEFER, FAIL or ERROR. */
static int
walk_finish(struct walk *w)
{
	int rc;

	switch (w->special.text ? w->special.kind : 0) {
	case AI_UNKNOWN:
		return TERN_DECLINE;
	case AI_FAIL:
	case AI_DEFER:
		w->addr->message = w->special.text[0] ? core->strdup(w->ctx,
			w->special.text) : NULL;
		return w->special.kind == AI_FAIL ? TERN_FAIL : TERN_DEFER;
	default:
		break;
	}
	rc = check_items(w);
	if (rc != TERN_OK)
		return rc;
	if (w->n == 0 && !w->blackhole)
		return TERN_DECLINE; /* empty, or nothing but comments */
	if (w->n == 0) {
		w->addr->flags |= TERN_AF_DISCARD;
		return TERN_OK;
	}
	return add_children(w);
}

/* The lookup key: the local part, lower-cased, with @domain if asked. */
static const char *
lookup_key(struct walk *w)
{
	const struct tern_address *a = w->addr;
	char *key;

	if (w->o->include_domain)
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
expand_opt(struct walk *w, const char *name, const char *tmpl, char **out)
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

/* Look the address up.  OK with *value_out, or DECLINE/DEFER/ERROR. */
static int
do_lookup(struct walk *w, char **value_out)
{
	const struct aliasfile_opts *o = w->o;
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
		if (o->optional && stat(arg, &st) < 0 && errno == ENOENT)
			return TERN_DECLINE;
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
	struct walk w = { .inst = inst, .ctx = ctx, .addr = addr,
		.o = inst->opts };
	char *value, *expanded;
	int rc;

	if (addr->kind != TERN_ADDR_MAIL || addr->local_part == NULL)
		return TERN_DECLINE;
	rc = do_lookup(&w, &value);
	if (rc != TERN_OK)
		return rc;
	if (w.o->expand) {
		rc = expand_opt(&w, "alias value", value, &expanded);
		if (rc != TERN_OK)
			return rc;
		value = expanded;
	}
	/* taint: a wildcard key ("*" in wildlsearch) vouches for nothing */
	if (strstr(w.o->search_type, "wild") == NULL &&
	    strchr(w.o->search_type, '*') == NULL)
		addr->flags |= TERN_AF_LP_CHECKED;
	addr->local_part_data = value;
	rc = walk_list(&w, value, w.source, 0);
	if (rc == TERN_OK)
		rc = walk_finish(&w);
	walk_free(&w);
	return rc;
}

static int
aliasfile_init(struct tern_instance *inst, char **err_out)
{
	const struct aliasfile_opts *o = inst->opts;

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
};
