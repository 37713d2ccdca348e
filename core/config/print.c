/*
 * -bP: main options, named lists and driver instances as "name = value"
 * lines, and the small look-up helpers the rest of the core uses.
 */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

#include "config/internal.h"
#include "lib/arena.h"

#define FUTURE_NOTE "  # not yet implemented"

static void
print_option(const char *indent, const struct tern_option *opt,
	const void *block, bool is_hidden)
{
	struct arena_mark m = arena_mark(arena_scratch);
	const char *note = (opt->flags & TERN_OPTF_FUTURE) ? FUTURE_NOTE : "";
	const char *v;

	if (is_hidden || (opt->flags & TERN_OPTF_HIDDEN))
		v = option_is_set(opt, block) ? "<hidden>" : "";
	else
		v = option_value_text(opt, block);
	printf("%s%s =%s%s%s\n", indent, opt->name, *v ? " " : "", v, note);
	arena_release(arena_scratch, m);
}

static void
print_main_all(void)
{
	for (const struct tern_option *o = main_options; o->name; o++)
		print_option("", o, &conf, config_main_is_hidden(o->name));
}

static void
print_instance(const struct driver_inst *inst)
{
	const struct tern_option *gtab = NULL, *o;
	const void *gblock = NULL;

	printf("%s:\n  driver = %s\n", inst->pub.name, inst->pub.driver);
	if (inst->kind == TERN_KIND_DIRECTOR || inst->kind == TERN_KIND_ROUTER) {
		gtab = route_generic_options;
		gblock = &inst->g.route;
	} else if (inst->kind == TERN_KIND_TRANSPORT) {
		gtab = transport_generic_options;
		gblock = &inst->g.transport;
	} else if (inst->kind == TERN_KIND_AUTH) {
		gtab = auth_generic_options;
		gblock = &inst->g.auth;
	}
	for (o = gtab; o != NULL && o->name != NULL; o++)
		print_option("  ", o, gblock, false);
	for (o = inst->mod->options; o != NULL && o->name != NULL; o++)
		if (option_find(gtab, o->name) == NULL)
			print_option("  ", o, inst->pub.opts, false);
}

struct kind_names {
	const char *plural, *singular, *list;
	struct driver_inst **head;
};

static const struct kind_names *
kind_by_word(const char *w)
{
	static const struct kind_names kinds[] = {
		{ "transports", "transport", "transport_list", &cfg.transports },
		{ "directors", "director", "director_list", &cfg.directors },
		{ "routers", "router", "router_list", &cfg.routers },
		{ "authenticators", "authenticator", "authenticator_list",
		  &cfg.authenticators },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(w, kinds[i].plural) == 0 ||
		    strcmp(w, kinds[i].singular) == 0 ||
		    strcmp(w, kinds[i].list) == 0)
			return &kinds[i];
	return NULL;
}

/*
 * One -bP word (and maybe the name after it): the number of arguments
 * used, negated when something was not found.
 */
static int
print_kind(const struct kind_names *k, const char *word, const char *name)
{
	const struct driver_inst *i;

	if (strcmp(word, k->list) == 0) {
		for (i = *k->head; i != NULL; i = i->next)
			printf("%s\n", i->pub.name);
		return 1;
	}
	if (strcmp(word, k->plural) == 0) {
		for (i = *k->head; i != NULL; i = i->next)
			print_instance(i), printf("%s", i->next ? "\n" : "");
		return 1;
	}
	if (name == NULL) {
		fprintf(stderr, "tern: -bP %s needs an instance name\n", word);
		return -1;
	}
	for (i = *k->head; i != NULL; i = i->next)
		if (strcmp(i->pub.name, name) == 0) {
			print_instance(i);
			return 2;
		}
	fprintf(stderr, "tern: %s \"%s\" not found\n", k->singular, name);
	return -2;
}

static int
print_word(int argc, char **argv)
{
	const struct kind_names *k = kind_by_word(argv[0]);
	const struct tern_option *o;

	if (k != NULL)
		return print_kind(k, argv[0], argc > 1 ? argv[1] : NULL);
	if (strcmp(argv[0], "config_file") == 0) {
		printf("%s\n", cfg.file ? cfg.file : "");
		return 1;
	}
	if (strcmp(argv[0], "named_lists") == 0) {
		for (const struct named_list *l = cfg.lists; l; l = l->next)
			printf("%s %s = %s\n", l->kind, l->name, l->value);
		return 1;
	}
	o = option_find(main_options, argv[0]);
	if (o == NULL) {
		fprintf(stderr, "tern: unknown option \"%s\"\n", argv[0]);
		return -1;
	}
	print_option("", o, &conf, config_main_is_hidden(o->name));
	return 1;
}

int
config_print(int argc, char **argv)
{
	int rc = 0;

	if (argc == 0) {
		print_main_all();
		return 0;
	}
	while (argc > 0) {
		int used = print_word(argc, argv);

		if (used < 0) {
			rc = 1;
			used = -used;
		}
		argc -= used;
		argv += used;
	}
	fflush(stdout);
	return rc;
}

const char *
config_main_option_text(const char *name)
{
	static struct {
		uint64_t    raw;
		const char *text;
	} cache[128];
	const struct tern_option *o = option_find(main_options, name);
	const void *p;
	const char *text = NULL;
	struct arena_mark m;
	size_t i;
	uint64_t raw = 0;

	if (o == NULL)
		return NULL;
	p = (const char *)&conf + o->offset;
	switch (o->type) {
	case TERN_OPT_STRING: case TERN_OPT_EXPSTR: case TERN_OPT_LIST:
	case TERN_OPT_HOSTLIST: case TERN_OPT_DOMAINLIST:
		return *(const char *const *)p;
	default:
		break;
	}
	m = arena_mark(arena_scratch);
	i = (size_t)(o - main_options);
	memcpy(&raw, p, o->type == TERN_OPT_BOOL ? sizeof(bool)
		: o->type == TERN_OPT_SIZE || o->type == TERN_OPT_UID ||
		  o->type == TERN_OPT_GID ? sizeof(uint64_t) : sizeof(int));
	if (i >= sizeof(cache) / sizeof(cache[0])) {
		text = arena_strdup(arena_perm, option_value_text(o, &conf));
	} else if (cache[i].text == NULL || cache[i].raw != raw) {
		cache[i].text = arena_strdup(arena_perm,
			option_value_text(o, &conf));
		cache[i].raw = raw;
	}
	arena_release(arena_scratch, m);
	return text ? text : cache[i].text;
}

struct driver_inst *
config_find_transport(const char *name)
{
	for (struct driver_inst *t = cfg.transports; t != NULL; t = t->next)
		if (strcmp(t->pub.name, name) == 0)
			return t;
	return NULL;
}

const struct named_list *
config_find_list(const char *kind, const char *name)
{
	for (const struct named_list *l = cfg.lists; l != NULL; l = l->next)
		if (strcmp(l->name, name) == 0 &&
		    (kind == NULL || strcmp(l->kind, kind) == 0))
			return l;
	return NULL;
}
