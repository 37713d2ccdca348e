/*
 * Helpers shared by the files of core/config only (reader, macros,
 * options, lists, print).  Nothing outside core/config includes this,
 * except the unit tests next to it.
 */
#ifndef TERN_CORE_CONFIG_INTERNAL_H
#define TERN_CORE_CONFIG_INTERNAL_H

#include <stdbool.h>

#include <tern/core.h>
#include <tern/options.h>

/* The option called name in tab, or NULL. */
const struct tern_option *option_find(const struct tern_option *tab,
	const char *name);

/* Parse every default of tab into block (unset ones: NULL, 0, -1). */
int option_apply_defaults(const struct tern_option *tab, void *block,
	char **err_out);

/*
 * Set one option from a configuration line: value is the text after '='
 * (NULL for a bare "name"), is_negated for "no_name"/"not_name".  0, or -1
 * with *err_out ("bad size \"10Q\"", "needs a value" ...).
 */
int option_set(const struct tern_option *opt, void *block, const char *value,
	bool is_negated, char **err_out);

/* The list kind a list-typed option is checked as, or 0 if not a list. */
enum tern_list_kind option_list_kind(enum tern_opt_type type);

/* Is the option of tab at *block different from "unset" (for -bP)? */
bool option_is_set(const struct tern_option *opt, const void *block);

/*
 * Syntax-only list check used while reading (named lists may come later
 * and lookup modules are not loaded yet).  0 or -1 with *err_out.
 */
int list_check_syntax(enum tern_list_kind kind, const char *list,
	char **err_out);

/* The same for one item (a rewrite rule's pattern). */
int list_check_item(enum tern_list_kind kind, const char *item,
	char **err_out);

/* Macros (macros.c). */
void macros_reset_file(void);
int macro_define(const char *name, const char *value, bool is_cmdline,
	bool is_redefine, char **err_out);
bool macro_is_defined(const char *name);
/* The first bad -D given to config_define_macro(), or NULL. */
const char *macro_cmdline_error(void);
/* Line with macros substituted (arena_perm), or line itself if none. */
const char *macro_substitute(const char *line);

/* Reader services shared with instances.c (reader.c). */

/* Print "file:line: message" to stderr, remember it; returns -1. */
int config_error(const char *file, int line, const char *fmt, ...)
	TERN_PRINTF(3, 4);
/*
 * Split an option line "[hide] name [= value]": *value_out is NULL for a
 * bare name; a double-quoted value has its escapes interpreted.  0 or -1.
 */
int config_split_option(const char *line, char **name_out, char **value_out,
	bool *is_hidden_out, char **err_out);
/* Remember that a FUTURE option was set (cfg.future_set). */
void config_note_future(const char *what);
/* Check *valuep as a list of kind once the whole file is read. */
void config_note_list(enum tern_list_kind kind, const char *const *valuep,
	const char *file, int line, const char *what);

/* Driver instances (instances.c). */
void instances_reset(void);
int instance_start(enum tern_kind kind, const char *name, const char *file,
	int line);
/* An option line of the current instance; -1 if there is none. */
int instance_add_line(const char *text, const char *file, int line);
/* Build the current instance (if any): load its module, set options. */
int instance_finish(void);
/* After the whole file: transports named exist, then init every instance. */
int instances_check_and_init(void);

/* The last error config_read() printed (for unit tests), or NULL. */
const char *config_last_error(void);

/* Main options that were written "hide name = ...". */
bool config_main_is_hidden(const char *name);

#endif
