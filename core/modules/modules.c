/*
 * The module loader: <module_directory>/<kind>/<name>.so through libltdl,
 * checked (magic, ABI, kind, name, options table) before anything else in
 * it is used, loaded once per process and only when something names it.
 */
#include "modules/modules.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <ltdl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"

#ifndef TERN_MODULE_DIR_REL
#define TERN_MODULE_DIR_REL "../lib/tern"
#endif
#ifndef TERN_MODULE_DIR_ABS
#define TERN_MODULE_DIR_ABS "/usr/local/lib/tern"
#endif

/* Every ABI 1.0 module has at least this much descriptor. */
#define MODULE_SIZE_1_0 offsetof(struct tern_module, flags)

struct loaded {
	enum tern_kind            kind;
	const char               *name;
	const char               *path;
	const struct tern_module *mod;
	struct loaded            *next;
};

static struct loaded *loaded;
static bool is_ltdl_ready;

const char *
module_kind_dir(enum tern_kind kind)
{
	switch (kind) {
	case TERN_KIND_DIRECTOR:  return "directors";
	case TERN_KIND_ROUTER:    return "routers";
	case TERN_KIND_TRANSPORT: return "transports";
	case TERN_KIND_LOOKUP:    return "lookups";
	case TERN_KIND_AUTH:      return "auth";
	}
	return "unknown";
}

static const char *
kind_word(enum tern_kind kind)
{
	switch (kind) {
	case TERN_KIND_DIRECTOR:  return "director";
	case TERN_KIND_ROUTER:    return "router";
	case TERN_KIND_TRANSPORT: return "transport";
	case TERN_KIND_LOOKUP:    return "lookup";
	case TERN_KIND_AUTH:      return "authenticator";
	}
	return "unknown";
}

static const char *
exe_dir(void)
{
	char buf[PATH_MAX];
	const char *exe = rt.self_exe;
	ssize_t n;

	if (exe == NULL) {
		n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
		if (n <= 0)
			return NULL;
		buf[n] = '\0';
		exe = buf;
	}
	return dirname(arena_strdup(arena_perm, exe));
}

const char *
module_directory(void)
{
	static const char *cached;
	const char *dir;
	char real[PATH_MAX];
	struct stat st;

	if (conf.module_directory != NULL)
		return conf.module_directory;
	if (cached != NULL)
		return cached;
	cached = TERN_MODULE_DIR_ABS;
	if ((dir = exe_dir()) == NULL)
		return cached;
	dir = arena_printf(arena_perm, "%s/%s", dir, TERN_MODULE_DIR_REL);
	if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
		cached = realpath(dir, real) != NULL
			? arena_strdup(arena_perm, real) : dir;
	return cached;
}

static const struct tern_module *
fail(char **err_out, const char *where, const char *fmt, ...)
	TERN_PRINTF(3, 4);

static const struct tern_module *
fail(char **err_out, const char *where, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = arena_vprintf(arena_perm, fmt, ap);
	va_end(ap);
	*err_out = where ? arena_printf(arena_perm, "%s: %s", where, msg) : msg;
	return NULL;
}

static const char *
package_of(const char *name)
{
	if (strcmp(name, "ldap") == 0)
		return "tern-ldap";
	if (strcmp(name, "mysql") == 0)
		return "tern-mysql";
	return "tern";
}

static bool
is_module_name(const char *name)
{
	if (*name == '\0')
		return false;
	for (const char *p = name; *p != '\0'; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-')
			return false;
	return true;
}

static size_t
opt_type_size(enum tern_opt_type t)
{
	switch (t) {
	case TERN_OPT_BOOL:  return sizeof(bool);
	case TERN_OPT_INT: case TERN_OPT_TIME: case TERN_OPT_OCTAL:
		return sizeof(int);
	case TERN_OPT_SIZE:  return sizeof(uint64_t);
	case TERN_OPT_UID: case TERN_OPT_GID:
		return sizeof(int64_t);
	case TERN_OPT_STRING: case TERN_OPT_EXPSTR: case TERN_OPT_LIST:
	case TERN_OPT_HOSTLIST: case TERN_OPT_DOMAINLIST:
		return sizeof(char *);
	}
	return 0;
}

/* NULL if the table is sound, else what is wrong (arena_perm). */
static char *
check_options(const struct tern_module *mod)
{
	const struct tern_option *o, *q;

	for (o = mod->options; o != NULL && o->name != NULL; o++) {
		size_t sz = opt_type_size(o->type);

		if (sz == 0)
			return arena_printf(arena_perm,
				"option \"%s\" has unknown type %d", o->name,
				(int)o->type);
		if (o->offset > mod->opts_size || sz > mod->opts_size - o->offset)
			return arena_printf(arena_perm,
				"option \"%s\" lies outside the options block",
				o->name);
		for (q = mod->options; q != o; q++)
			if (strcmp(q->name, o->name) == 0)
				return arena_printf(arena_perm,
					"option \"%s\" is declared twice", o->name);
	}
	return NULL;
}

/* The descriptor's checks, in the order that makes reading it safe. */
static char *
check_descriptor(const struct tern_module *mod, enum tern_kind kind,
	const char *name)
{
	if (mod->magic != TERN_MODULE_MAGIC)
		return arena_printf(arena_perm,
			"bad magic 0x%08x (not a tern module)", mod->magic);
	if (mod->abi_major != TERN_ABI_MAJOR || mod->abi_minor > TERN_ABI_MINOR)
		return arena_printf(arena_perm,
			"was built for ABI %u.%u, this tern provides ABI %d.%d",
			mod->abi_major, mod->abi_minor, TERN_ABI_MAJOR,
			TERN_ABI_MINOR);
	if (mod->size != 0 && mod->size < MODULE_SIZE_1_0)
		return arena_printf(arena_perm,
			"has a descriptor of %zu bytes, at least %zu expected",
			mod->size, MODULE_SIZE_1_0);
	if (mod->kind != kind)
		return arena_printf(arena_perm, "is a %s module, not a %s",
			kind_word(mod->kind), kind_word(kind));
	if (mod->name == NULL || strcmp(mod->name, name) != 0)
		return arena_printf(arena_perm, "calls itself \"%s\"",
			mod->name ? mod->name : "(null)");
	return check_options(mod);
}

static const struct tern_module *
open_module(enum tern_kind kind, const char *name, const char *path,
	const char *where, char **err_out)
{
	const struct tern_module *mod;
	const char *kw = kind_word(kind);
	lt_dlhandle h;
	char *why;

	if (!is_ltdl_ready) {
		if (lt_dlinit() != 0)
			return fail(err_out, where, "libltdl: %s", lt_dlerror());
		is_ltdl_ready = true;
	}
	if ((h = lt_dlopen(path)) == NULL)
		return fail(err_out, where, "%s driver \"%s\" in %s: %s", kw,
			name, path, lt_dlerror());
	mod = lt_dlsym(h, TERN_MODULE_SYMBOL);
	if (mod == NULL) {
		lt_dlclose(h);
		return fail(err_out, where,
			"%s driver \"%s\" in %s has no \"%s_LTX_%s\" symbol", kw,
			name, path, name, TERN_MODULE_SYMBOL);
	}
	if ((why = check_descriptor(mod, kind, name)) != NULL) {
		lt_dlclose(h);
		return fail(err_out, where, "%s driver \"%s\" in %s %s", kw,
			name, path, why);
	}
	why = NULL;
	if (mod->load != NULL && mod->load(&core_services, &why) != TERN_OK) {
		lt_dlclose(h);
		return fail(err_out, where, "%s driver \"%s\" in %s: %s", kw,
			name, path, why ? why : "load failed");
	}
	return mod;
}

void
module_cache_reset(void)
{
	loaded = NULL;
}

const struct tern_module *
module_load(enum tern_kind kind, const char *name, const char *where,
	char **err_out)
{
	const struct tern_module *mod;
	struct loaded *l;
	const char *path;

	for (l = loaded; l != NULL; l = l->next)
		if (l->kind == kind && strcmp(l->name, name) == 0)
			return l->mod;
	if (!is_module_name(name))
		return fail(err_out, where, "%s \"%s\": bad module name",
			kind == TERN_KIND_LOOKUP ? "lookup" : "driver", name);
	path = arena_printf(arena_perm, "%s/%s/%s.so", module_directory(),
		module_kind_dir(kind), name);
	if (access(path, F_OK) != 0)
		return fail(err_out, where,
			"%s \"%s\": module not found: tried %s (usually in package %s)",
			kind == TERN_KIND_LOOKUP ? "lookup" : "driver", name, path,
			package_of(name));
	if ((mod = open_module(kind, name, path, where, err_out)) == NULL)
		return NULL;
	DEBUG("loaded %s module %s %s from %s", kind_word(kind), name,
		mod->version ? mod->version : "?", path);
	l = arena_zalloc(arena_perm, sizeof(*l));
	*l = (struct loaded){ kind, arena_strdup(arena_perm, name), path, mod,
		loaded };
	loaded = l;
	return mod;
}

static const char *
lookup_module_name(const char *type)
{
	static const char *const map[][2] = {
		{ "lsearch", "lsearch" }, { "wildlsearch", "lsearch" },
		{ "nwildlsearch", "lsearch" }, { "iplsearch", "lsearch" },
		{ "dbm", "dbm" }, { "dbmnz", "dbm" },
		{ "ldap", "ldap" }, { "ldapm", "ldap" }, { "ldapdn", "ldap" },
		{ "mysql", "mysql" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(type, map[i][0]) == 0)
			return map[i][1];
	return type;
}

const struct tern_module *
module_load_lookup(const char *type, const char *where, char **err_out)
{
	const char *name = lookup_module_name(type);
	const struct tern_module *mod;
	const char *const *t;

	mod = module_load(TERN_KIND_LOOKUP, name, where, err_out);
	if (mod == NULL)
		return NULL;
	for (t = mod->lookup.types; t != NULL && *t != NULL; t++)
		if (strcmp(*t, type) == 0)
			return mod;
	return fail(err_out, where,
		"lookup driver \"%s\" does not serve lookup type \"%s\"", name,
		type);
}

static int
is_so(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 3 && strcmp(d->d_name + n - 3, ".so") == 0;
}

static void
list_kind(enum tern_kind kind)
{
	const char *dir = arena_printf(arena_perm, "%s/%s", module_directory(),
		module_kind_dir(kind));
	struct dirent **ents;
	int n = scandir(dir, &ents, is_so, alphasort);

	for (int i = 0; i < n; i++) {
		char *name = arena_strndup(arena_perm, ents[i]->d_name,
			strlen(ents[i]->d_name) - 3);
		const struct tern_module *mod;
		char *err;

		free(ents[i]);
		if ((mod = module_load(kind, name, NULL, &err)) == NULL) {
			fprintf(stderr, "%s\n", err);
			continue;
		}
		printf("  %s %s %s (ABI %u.%u)\n", kind_word(kind), mod->name,
			mod->version ? mod->version : "?", mod->abi_major,
			mod->abi_minor);
	}
	if (n >= 0)
		free(ents);
}

void
module_list_all(void)
{
	static const enum tern_kind kinds[] = { TERN_KIND_DIRECTOR,
		TERN_KIND_ROUTER, TERN_KIND_TRANSPORT, TERN_KIND_LOOKUP,
		TERN_KIND_AUTH };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		list_kind(kinds[i]);
	fflush(stdout);
}

bool
module_never_needs_root(const struct tern_module *m)
{
	return m->size >= offsetof(struct tern_module, flags) +
		sizeof(m->flags) && (m->flags & TERN_MODF_NO_ROOT) != 0;
}
