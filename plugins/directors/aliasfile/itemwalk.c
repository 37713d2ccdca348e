#include "itemwalk.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* -------- collecting the list -------- */

static int
walk_add(struct itemwalk *w, struct alias_item *it, bool is_escaped)
{
	struct itemwalk_item *ni;

	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 8;
		ni = realloc(w->items, w->cap * sizeof *ni);
		if (ni == NULL) {
			free(it->text);
			return -1;
		}
		w->items = ni;
	}
	w->items[w->n].it = *it;
	w->items[w->n++].is_escaped = is_escaped;
	return 0;
}

static void
walk_free(struct itemwalk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->items[i].it.text);
	free(w->items);
	free(w->special.text);
}

static int
walk_syntax(struct itemwalk *w, const char *where, const char *err)
{
	const struct tern_core *core = w->core;

	if (w->o->skip_syntax_errors) {
		core->log(w->ctx, TERN_LOG_MAIN, "director %s: syntax error in "
			"%s list for %s in %s: %s (rest of list skipped)",
			w->inst->name, w->ops->list, w->addr->address, where,
			err);
		return TERN_OK;
	}
	w->addr->message = core->printf(w->ctx, "director %s: syntax error "
		"in %s list for %s in %s: %s", w->inst->name, w->ops->list,
		w->addr->address, where, err);
	return TERN_ERROR;
}

/* Does the item at s start with a backslash ("\user")? */
static bool
is_escaped(const char *s)
{
	while (*s == ',' || isspace((unsigned char)*s))
		s++;
	return *s == '\\';
}

/*
 * A list that holds data from outside (an unchecked $local_part) may
 * forward to addresses, but never name a pipe, a file or an :include:
 * file: that would let the network choose a command or path.
 */
static int
refuse_tainted(struct itemwalk *w, const char *what)
{
	const struct tern_core *core = w->core;

	core->log(w->ctx, TERN_LOG_MAIN | TERN_LOG_PANIC, "director %s: "
		"%s in data for %s refused: unchecked data from outside",
		w->inst->name, what, w->addr->address);
	w->addr->message = core->printf(w->ctx, "director %s: a %s made from "
		"unchecked data is not permitted", w->inst->name, what);
	return TERN_FAIL;
}

int
itemwalk_list(struct itemwalk *w, const char *list, const char *where,
	int depth)
{
	struct alias_item it;
	const char *err;
	bool escaped = is_escaped(list);
	int rc;

	while ((rc = alias_next_item(&list, &it, &err)) == 1) {
		if (it.kind == AI_INCLUDE && w->is_tainted) {
			free(it.text);
			return refuse_tainted(w, ":include:");
		}
		if (it.kind == AI_INCLUDE) {
			rc = w->ops->include(w, it.text, depth);
			free(it.text);
			if (rc != TERN_OK)
				return rc;
		} else if (it.kind == AI_BLACKHOLE) {
			w->is_blackhole = true;
			free(it.text);
		} else if (it.kind == AI_FAIL || it.kind == AI_DEFER ||
		    it.kind == AI_UNKNOWN) {
			if (w->special.text == NULL)
				w->special = it;
			else
				free(it.text);
		} else if (walk_add(w, &it, escaped) < 0) {
			w->addr->message = w->core->printf(w->ctx,
				"%s: out of memory", w->ops->name);
			return TERN_DEFER;
		}
		escaped = is_escaped(list);
	}
	return rc < 0 ? walk_syntax(w, where, err) : TERN_OK;
}

/* -------- acting on the list -------- */

/* A mail address, not a pipe, a file or a user's "~/file"? */
static bool
is_mail(const struct itemwalk *w, const struct alias_item *it)
{
	return it->kind == AI_ADDRESS && !(w->ops->is_user_file &&
		strncmp(it->text, "~/", 2) == 0);
}

static int
forbidden(struct itemwalk *w, const struct alias_item *it)
{
	const char *what = it->kind == AI_PIPE ? "pipe" : "file";
	const char *in = w->ops->is_user_file ?
		w->core->printf(w->ctx, " in %s", w->source) : "";

	w->addr->message = w->core->printf(w->ctx, "director %s: %s \"%s\"%s "
		"is not permitted (forbid_%s)", w->inst->name, what, it->text,
		in, what);
	return TERN_DEFER;
}

/* Is every pipe and file permitted and given a transport? */
static int
check_items(struct itemwalk *w)
{
	const struct itemwalk_opts *o = w->o;
	bool verify = w->core->is_verify(w->ctx);

	for (size_t i = 0; i < w->n; i++) {
		const struct alias_item *it = &w->items[i].it;
		bool pipe = it->kind == AI_PIPE;
		const char *tp = pipe ? o->pipe_transport : o->file_transport;

		if (is_mail(w, it))
			continue;
		if (w->is_tainted)
			return refuse_tainted(w, pipe ? "pipe" : "file");
		if (pipe ? o->forbid_pipe : o->forbid_file)
			return forbidden(w, it);
		if (!pipe && it->text[strlen(it->text) - 1] == '/' &&
		    o->directory_transport != NULL)
			tp = o->directory_transport;
		if (tp == NULL && !verify) {
			w->addr->message = w->core->printf(w->ctx, "director "
				"%s: %s_transport is not set, needed for \"%s\"",
				w->inst->name, pipe ? "pipe" : "file", it->text);
			return TERN_ERROR;
		}
	}
	return TERN_OK;
}

static const char *
qualify_domain(const struct tern_core *core)
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

/* Is text (qualified) the address being forwarded or an ancestor? */
static bool
is_ancestor(const struct tern_address *a, const char *text)
{
	for (; a != NULL; a = a->parent)
		if (a->kind == TERN_ADDR_MAIL && strcasecmp(a->address, text) == 0)
			return true;
	return false;
}

static void
set_pipe_file(struct itemwalk *w, const struct alias_item *it,
	struct tern_address *child)
{
	const struct itemwalk_opts *o = w->o;

	if (it->kind == AI_PIPE)
		child->transport = o->pipe_transport;
	else if (child->address[strlen(child->address) - 1] == '/' &&
	    o->directory_transport != NULL)
		child->transport = o->directory_transport;
	else
		child->transport = o->file_transport;
	w->ops->set_ids(w, child);
}

static int
add_children(struct itemwalk *w)
{
	const struct tern_core *core = w->core;
	const char *qd = w->o->qualify_preserve_domain ? NULL :
		qualify_domain(core);
	struct tern_address *child;
	char *err = NULL;
	const char *text;

	for (size_t i = 0; i < w->n; i++) {
		const struct itemwalk_item *wi = &w->items[i];
		bool mail = is_mail(w, &wi->it);

		text = wi->it.text;
		if (mail && qd != NULL && !alias_has_domain(text))
			text = core->printf(w->ctx, "%s@%s", text, qd);
		child = core->add_child(w->ctx, w->addr, text, &err);
		if (child == NULL) {
			int rc = walk_syntax(w, w->source,
				err ? err : "bad address");
			if (rc != TERN_OK)
				return rc;
			continue;
		}
		if (!mail)
			set_pipe_file(w, &wi->it, child);
		else if ((w->ops->is_user_file && wi->is_escaped) ||
		    (w->check_ancestor && is_ancestor(w->addr, child->address)))
			child->flags |= TERN_AF_NO_REDIRECT;
	}
	return TERN_OK;
}

/* Act on the collected list.  OK, DECLINE, DEFER, FAIL or ERROR. */
static int
walk_finish(struct itemwalk *w)
{
	int rc;

	switch (w->special.text ? w->special.kind : 0) {
	case AI_UNKNOWN:
		return TERN_DECLINE;
	case AI_FAIL:
	case AI_DEFER:
		w->addr->message = w->special.text[0] ?
			w->core->strdup(w->ctx, w->special.text) : NULL;
		if (w->addr->message != NULL) /* the list's author wrote it */
			w->addr->flags |= TERN_AF_USER_MESSAGE;
		return w->special.kind == AI_FAIL ? TERN_FAIL : TERN_DEFER;
	default:
		break;
	}
	if ((rc = check_items(w)) != TERN_OK)
		return rc;
	if (w->n == 0 && !w->is_blackhole)
		return TERN_DECLINE; /* empty, or nothing but comments */
	if (w->n == 0) {
		w->addr->flags |= TERN_AF_DISCARD;
		return TERN_OK;
	}
	return add_children(w);
}

int
itemwalk_run(struct itemwalk *w, const char *list)
{
	int rc = itemwalk_list(w, list, w->source, 0);

	if (rc == TERN_OK)
		rc = walk_finish(w);
	walk_free(w);
	return rc;
}
