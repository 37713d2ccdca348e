/* Tern SDK: option tables.  A driver declares its private options; the core
 * parses them from the configuration into the driver's options block. */
#ifndef TERN_OPTIONS_H
#define TERN_OPTIONS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/*
 * The type of a private option, which also fixes the C type of its field
 * in the options block (given after each).  Values are parsed by the core
 * from configuration text, defaults included.
 */
enum tern_opt_type {
	TERN_OPT_STRING = 1, /* const char *, NULL when unset */
	TERN_OPT_EXPSTR,     /* const char *, expanded at use time */
	TERN_OPT_BOOL,       /* bool; "no_name" and "not_name" set false */
	TERN_OPT_INT,        /* int; decimal, 0x hex, 0 octal, K/M suffix */
	TERN_OPT_SIZE,       /* uint64_t bytes; K, M, G suffixes */
	TERN_OPT_TIME,       /* int seconds; 1h30m, s m h d w units */
	TERN_OPT_LIST,       /* const char *, a colon list ("<;" changes sep) */
	TERN_OPT_HOSTLIST,   /* const char *, checked as a host list */
	TERN_OPT_DOMAINLIST, /* const char *, checked as a domain list */
	TERN_OPT_OCTAL,      /* int, octal (file modes) */
	TERN_OPT_UID,        /* uid_t as int64_t (-1 unset): user name or number */
	TERN_OPT_GID,        /* gid_t as int64_t (-1 unset): group name or number */
};

/* Flags */
#define TERN_OPTF_FUTURE 0x1u  /* known, not implemented yet: warn when set */
#define TERN_OPTF_HIDDEN 0x2u  /* not printed by -bP (secrets) */

/*
 * One private option of a driver: a table of these, ended by TERN_OPT_END,
 * is the module's `options`.  The loader checks the table when the module
 * is loaded (unique names, known types).
 */
struct tern_option {
	const char        *name;
	enum tern_opt_type type;
	size_t             offset; /* into the options block */
	const char        *dflt;   /* default as config text, NULL = unset */
	unsigned           flags;
};

/*
 * TERN_OPT("file", EXPSTR, struct my_opts, file, NULL): option "file" of
 * type TERN_OPT_EXPSTR stored in my_opts.file, unset by default.
 * TERN_OPT_F also takes TERN_OPTF_* flags.
 */
#define TERN_OPT(name, type, st, field, dflt) \
	{ (name), TERN_OPT_##type, offsetof(st, field), (dflt), 0 }
#define TERN_OPT_F(name, type, st, field, dflt, flags) \
	{ (name), TERN_OPT_##type, offsetof(st, field), (dflt), (flags) }
#define TERN_OPT_END { NULL, 0, 0, NULL, 0 }

#endif
