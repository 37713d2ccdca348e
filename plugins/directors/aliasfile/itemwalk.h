/*
 * The walk over an alias or forward list (aliaslist.c's items), shared by
 * the aliasfile and forwardfile directors: both compile itemwalk.c.
 *
 * The whole list, :include: files and all, is read before anything is
 * done, so that :fail:, :defer: and :unknown: anywhere in it decide for
 * the address and no half-made set of children is left behind.  Then
 * every pipe and file is checked, and the children are made.
 */
#ifndef TERN_PLUGINS_DIRECTORS_ALIASFILE_ITEMWALK_H
#define TERN_PLUGINS_DIRECTORS_ALIASFILE_ITEMWALK_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/module.h>

#include "aliaslist.h"

#define ITEMWALK_INCLUDE_DEPTH_MAX 10

/* The options both directors have: each embeds this in its block. */
struct itemwalk_opts {
	const char *pipe_transport;
	const char *file_transport;
	const char *directory_transport;
	bool        forbid_pipe;
	bool        forbid_file;
	bool        skip_syntax_errors;
	bool        qualify_preserve_domain;
	bool        freeze_missing_include; /* read by the include hooks */
};

struct itemwalk;

/* What is each director's own. */
struct itemwalk_ops {
	const char *name; /* "aliasfile", for "out of memory" */
	const char *list; /* "alias", for "syntax error in alias list" */
	/*
	 * A user's own file (forwardfile): "~/path" is a file in the home,
	 * "\user" is not forwarded again, and messages name the file.
	 */
	bool        is_user_file;
	/* Read the :include: file path and itemwalk_list() it at depth + 1. */
	int  (*include)(struct itemwalk *w, const char *path, int depth);
	/* Set the ids (and home) that a pipe or file child runs with. */
	void (*set_ids)(struct itemwalk *w, struct tern_address *child);
};

struct itemwalk_item {
	struct alias_item it;
	bool              is_escaped; /* "\user" */
};

/* One address's walk: set the first group of fields, zero the rest. */
struct itemwalk {
	const struct tern_core     *core;
	const struct itemwalk_ops  *ops;
	const struct itemwalk_opts *o;
	struct tern_instance       *inst;
	struct tern_ctx            *ctx;
	struct tern_address        *addr;
	const char                 *source;  /* file name, "query", "data" */
	void                       *data;    /* the director's own */
	bool                        check_ancestor;
	bool                        is_tainted; /* list from outside */
	/* collected by itemwalk_list */
	struct itemwalk_item       *items;
	size_t                      n, cap;
	struct alias_item           special; /* first :fail: :defer: ... */
	bool                        is_blackhole;
};

/*
 * Collect the items of list (`where` names it in messages) into w,
 * calling ops->include for :include: items.  OK, or DEFER/ERROR/FAIL
 * with w->addr->message set.
 */
int itemwalk_list(struct itemwalk *w, const char *list, const char *where,
	int depth);

/*
 * Walk list (from w->source) and act on it: OK (children added, or the
 * address discarded), DECLINE, DEFER, FAIL or ERROR with
 * w->addr->message set.  Frees what the walk collected.
 */
int itemwalk_run(struct itemwalk *w, const char *list);

#endif
