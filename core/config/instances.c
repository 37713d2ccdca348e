/*
 * Driver instances: the lines of one "name:" block are collected, then the
 * module named by "driver =" is loaded and each option is set in the
 * generic block (the core's) and/or the private block (the module's); an
 * option both declare is set in both.  Modules' init() runs after the whole file is
 * read, so an instance may name a transport defined further down.
 */
#include "config/config.h"

#include <string.h>

#include "config/internal.h"
#include "lib/arena.h"
#include "modules/modules.h"
#include "rewrite/rewrite.h"

struct opt_line {
	const char      *text;
	const char      *file;
	int              line;
	struct opt_line *next;
};

struct pending {
	enum tern_kind    kind;
	const char       *name;
	const char       *file;
	int               line;
	struct opt_line  *lines, **tail;
};

struct inst_rec {
	struct driver_inst *inst;
	const char         *tfile;  /* where "transport =" was set */
	int                 tline;
	struct inst_rec    *next;
};

static struct pending  *cur;
static struct inst_rec *all, **all_tail = &all;

static const char *
kind_word(enum tern_kind kind)
{
	switch (kind) {
	case TERN_KIND_TRANSPORT: return "transport";
	case TERN_KIND_DIRECTOR:  return "director";
	case TERN_KIND_ROUTER:    return "router";
	case TERN_KIND_AUTH:      return "authenticator";
	default:                  return "lookup";
	}
}

static struct driver_inst **
kind_list(enum tern_kind kind)
{
	switch (kind) {
	case TERN_KIND_TRANSPORT: return &cfg.transports;
	case TERN_KIND_DIRECTOR:  return &cfg.directors;
	case TERN_KIND_ROUTER:    return &cfg.routers;
	default:                  return &cfg.authenticators;
	}
}

static const struct tern_option *
generic_table(const struct driver_inst *inst, void **block_out)
{
	switch (inst->kind) {
	case TERN_KIND_DIRECTOR:
	case TERN_KIND_ROUTER:
		*block_out = (void *)&((struct driver_inst *)inst)->g.route;
		return route_generic_options;
	case TERN_KIND_TRANSPORT:
		*block_out = (void *)&((struct driver_inst *)inst)->g.transport;
		return transport_generic_options;
	case TERN_KIND_AUTH:
		*block_out = (void *)&((struct driver_inst *)inst)->g.auth;
		return auth_generic_options;
	default:
		*block_out = NULL;
		return NULL;
	}
}

void
instances_reset(void)
{
	cur = NULL;
	all = NULL;
	all_tail = &all;
}

int
instance_start(enum tern_kind kind, const char *name, const char *file,
	int line)
{
	cur = arena_zalloc(arena_perm, sizeof(*cur));
	cur->kind = kind;
	cur->name = name;
	cur->file = file;
	cur->line = line;
	cur->tail = &cur->lines;
	return 0;
}

int
instance_add_line(const char *text, const char *file, int line)
{
	struct opt_line *l;

	if (cur == NULL)
		return -1;
	l = arena_zalloc(arena_perm, sizeof(*l));
	l->text = arena_strdup(arena_perm, text);
	l->file = file;
	l->line = line;
	*cur->tail = l;
	cur->tail = &l->next;
	return 0;
}

static const struct tern_option *
find_negatable(const struct tern_option *tab, const char *name,
	bool *is_negated_out)
{
	const struct tern_option *opt = option_find(tab, name);

	*is_negated_out = false;
	if (opt != NULL || tab == NULL)
		return opt;
	if (strncmp(name, "no_", 3) == 0)
		opt = option_find(tab, name + 3);
	else if (strncmp(name, "not_", 4) == 0)
		opt = option_find(tab, name + 4);
	*is_negated_out = opt != NULL;
	return opt;
}

/* Set opt in block and note what the end-of-file checks need. */
static int
set_one(struct driver_inst *inst, const struct tern_option *opt, void *block,
	const struct opt_line *l, const char *value, bool is_negated)
{
	const char *kw = kind_word(inst->kind);
	enum tern_list_kind lk = option_list_kind(opt->type);
	char *err;

	if (option_set(opt, block, value, is_negated, &err) < 0)
		return config_error(l->file, l->line,
			"%s \"%s\": option \"%s\": %s", kw, inst->pub.name,
			opt->name, err);
	if (opt->flags & TERN_OPTF_FUTURE)
		config_note_future(arena_printf(arena_scratch,
			"%s \"%s\": option \"%s\"", kw, inst->pub.name,
			opt->name));
	if (lk != 0)
		config_note_list(lk, (const char *const *)(const void *)
			((char *)block + opt->offset), l->file, l->line,
			arena_printf(arena_scratch, "%s \"%s\": option \"%s\"",
			kw, inst->pub.name, opt->name));
	return 0;
}

static int
apply_line(struct driver_inst *inst, struct inst_rec *rec,
	const struct opt_line *l)
{
	const struct tern_option *gopt, *popt;
	bool is_hidden, gneg, pneg;
	char *name, *value, *err;
	void *gblock;

	if (config_split_option(l->text, &name, &value, &is_hidden, &err) < 0)
		return config_error(l->file, l->line, "%s \"%s\": %s",
			kind_word(inst->kind), inst->pub.name, err);
	if (strcmp(name, "driver") == 0)
		return 0;
	gopt = find_negatable(generic_table(inst, &gblock), name, &gneg);
	popt = find_negatable(inst->mod->options, name, &pneg);
	if (gopt == NULL && popt == NULL)
		return config_error(l->file, l->line,
			"%s \"%s\": option \"%s\" unknown", kind_word(inst->kind),
			inst->pub.name, name);
	if (gopt != NULL &&
	    set_one(inst, gopt, gblock, l, value, gneg) < 0)
		return -1;
	if (popt != NULL &&
	    set_one(inst, popt, inst->pub.opts, l, value, pneg) < 0)
		return -1;
	if (gopt != NULL && strcmp(gopt->name, "transport") == 0) {
		rec->tfile = l->file;
		rec->tline = l->line;
	}
	return 0;
}

/* The "driver" line of p (its value in *driver_out), or NULL. */
static const struct opt_line *
find_driver(const struct pending *p, char **driver_out)
{
	for (const struct opt_line *l = p->lines; l != NULL; l = l->next) {
		char *name, *value, *err;
		bool is_hidden;

		if (config_split_option(l->text, &name, &value, &is_hidden,
		    &err) == 0 && strcmp(name, "driver") == 0 && value != NULL) {
			*driver_out = value;
			return l;
		}
	}
	return NULL;
}

static struct driver_inst *
new_instance(const struct pending *p, const char *driver,
	const struct opt_line *dl)
{
	const char *kw = kind_word(p->kind);
	const struct tern_module *mod;
	struct driver_inst *inst;
	char *where, *err;
	const struct tern_option *gtab;
	void *gblock;

	where = arena_printf(arena_perm, "%s:%d: %s \"%s\"", dl->file, dl->line,
		kw, p->name);
	mod = module_load(p->kind, driver, where, &err);
	if (mod == NULL) {
		config_error(NULL, 0, "%s", err);
		return NULL;
	}
	inst = arena_zalloc(arena_perm, sizeof(*inst));
	inst->kind = p->kind;
	inst->mod = mod;
	inst->pub.name = p->name;
	inst->pub.driver = driver;
	inst->pub.file = p->file;
	inst->pub.line = p->line;
	inst->pub.opts = arena_zalloc(arena_perm, mod->opts_size);
	gtab = generic_table(inst, &gblock);
	if (option_apply_defaults(gtab, gblock, &err) < 0 ||
	    option_apply_defaults(mod->options, inst->pub.opts, &err) < 0) {
		config_error(dl->file, dl->line, "%s \"%s\": driver \"%s\": %s",
			kw, p->name, driver, err);
		return NULL;
	}
	return inst;
}

int
instance_finish(void)
{
	struct pending *p = cur;
	const struct opt_line *dl;
	struct driver_inst *inst, **pp;
	struct inst_rec *rec;
	char *driver;

	cur = NULL;
	if (p == NULL)
		return 0;
	for (pp = kind_list(p->kind); *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->pub.name, p->name) == 0)
			return config_error(p->file, p->line,
				"%s \"%s\" defined twice", kind_word(p->kind),
				p->name);
	dl = find_driver(p, &driver);
	if (dl == NULL)
		return config_error(p->file, p->line,
			"%s \"%s\": no driver specified", kind_word(p->kind),
			p->name);
	if ((inst = new_instance(p, driver, dl)) == NULL)
		return -1;
	rec = arena_zalloc(arena_perm, sizeof(*rec));
	rec->inst = inst;
	for (const struct opt_line *l = p->lines; l != NULL; l = l->next)
		if (apply_line(inst, rec, l) < 0)
			return -1;
	if (p->kind == TERN_KIND_DIRECTOR || p->kind == TERN_KIND_ROUTER)
		inst->pub.transport = inst->g.route.transport;
	if (p->kind == TERN_KIND_TRANSPORT &&
	    inst->g.transport.headers_rewrite != NULL) {
		char *err;

		if (rewrite_parse_list(inst->g.transport.headers_rewrite,
		    &inst->g.transport.headers_rules, &err) < 0)
			return config_error(p->file, p->line,
				"transport \"%s\": %s", p->name, err);
	}
	*pp = inst;
	*all_tail = rec;
	all_tail = &rec->next;
	return 0;
}

int
instances_check_and_init(void)
{
	struct inst_rec *r;

	for (r = all; r != NULL; r = r->next) {
		const char *t = r->inst->pub.transport;

		if (t == NULL || strchr(t, '$') != NULL ||
		    config_find_transport(t) != NULL)
			continue;
		return config_error(r->tfile, r->tline,
			"%s \"%s\": transport \"%s\" not defined",
			kind_word(r->inst->kind), r->inst->pub.name, t);
	}
	for (r = all; r != NULL; r = r->next) {
		struct driver_inst *inst = r->inst;
		char *err = NULL;

		if (inst->mod->init == NULL ||
		    inst->mod->init(&inst->pub, &err) == TERN_OK)
			continue;
		return config_error(inst->pub.file, inst->pub.line,
			"%s \"%s\": %s", kind_word(inst->kind), inst->pub.name,
			err ? err : "driver initialisation failed");
	}
	return 0;
}
