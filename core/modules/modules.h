/* Loading driver modules with libltdl, and the services table they get. */
#ifndef TERN_CORE_MODULES_MODULES_H
#define TERN_CORE_MODULES_MODULES_H

#include <stdbool.h>

#include <tern/module.h>

extern const struct tern_core core_services;

/* "directors", "routers", "transports", "lookups", "auth" */
const char *module_kind_dir(enum tern_kind kind);

/*
 * Load <module_directory>/<kind>/<name>.so once (later calls return the
 * cached descriptor).  On a missing module, a bad magic or an ABI
 * mismatch, NULL and *err_out (arena_perm) naming the path tried, the
 * driver and both versions; `where` ("file:line") is put in front.
 */
const struct tern_module *module_load(enum tern_kind kind, const char *name,
	const char *where, char **err_out);

/* The module that serves lookup type `type` (e.g. "ldapm" -> ldap). */
const struct tern_module *module_load_lookup(const char *type,
	const char *where, char **err_out);

/*
 * Forget the modules loaded so far (their handles stay open): for a
 * fuzzer that re-reads configurations and releases arena_perm between
 * runs.  The next module_load opens them again.
 */
void module_cache_reset(void);

/* Does m say TERN_MODF_NO_ROOT (a module built for ABI 1.0 cannot)? */
bool module_never_needs_root(const struct tern_module *m);

/* -bV: print every module found under the module directory. */
void module_list_all(void);

/* The module directory in force (config, else relative to the binary). */
const char *module_directory(void);

#endif
