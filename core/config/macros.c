/*
 * Configuration macros: "NAME = value" lines (NAME starts with an upper-case
 * letter) and -D NAME=value on the command line, which wins over the
 * file.  Substitution happens at the start of a word, longest name first,
 * as Exim does; values are substituted when defined, so no rescanning.
 */
#include "config/config.h"

#include <ctype.h>
#include <string.h>

#include "config/internal.h"
#include "lib/arena.h"
#include "lib/buf.h"

struct macro {
	const char   *name;
	size_t        len;
	const char   *value;
	bool          is_cmdline;
	struct macro *next;
};

static struct macro *macros;
static const char *cmdline_error; /* a bad -D, reported by config_read */

static struct macro *
macro_find(const char *name, size_t len)
{
	for (struct macro *m = macros; m != NULL; m = m->next)
		if (m->len == len && memcmp(m->name, name, len) == 0)
			return m;
	return NULL;
}

static bool
is_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

void
config_define_macro(const char *name_eq_value)
{
	const char *eq = strchr(name_eq_value, '=');
	char *name, *err;
	size_t n;

	arena_init_all();
	n = eq ? (size_t)(eq - name_eq_value) : strlen(name_eq_value);
	name = arena_strndup(arena_perm, name_eq_value, n);
	while (n > 0 && isspace((unsigned char)name[n - 1]))
		name[--n] = '\0';
	eq = eq ? eq + 1 : "";
	while (isspace((unsigned char)*eq))
		eq++;
	/* A bad name cannot be reported here; config_read reports it. */
	if (macro_define(name, eq, true, true, &err) < 0 && cmdline_error == NULL)
		cmdline_error = arena_printf(arena_perm, "-D: %s", err);
}

const char *
macro_cmdline_error(void)
{
	return cmdline_error;
}

int
macro_define(const char *name, const char *value, bool is_cmdline,
	bool is_redefine, char **err_out)
{
	size_t len = strlen(name);
	struct macro *m;

	if (!isupper((unsigned char)name[0])) {
		*err_out = arena_printf(arena_perm,
			"macro name \"%s\" does not start with an upper-case letter",
			name);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		if (!is_name_char(name[i])) {
			*err_out = arena_printf(arena_perm,
				"bad macro name \"%s\"", name);
			return -1;
		}
	m = macro_find(name, len);
	if (m != NULL && m->is_cmdline && !is_cmdline)
		return 0; /* -D wins over the file */
	if (m != NULL && !is_redefine) {
		*err_out = arena_printf(arena_perm,
			"macro \"%s\" is already defined (use \"==\" to redefine)",
			name);
		return -1;
	}
	if (m == NULL) {
		m = arena_zalloc(arena_perm, sizeof(*m));
		m->name = arena_strdup(arena_perm, name);
		m->len = len;
		m->next = macros;
		macros = m;
	}
	m->value = arena_strdup(arena_perm, value);
	m->is_cmdline = is_cmdline;
	return 0;
}

bool
macro_is_defined(const char *name)
{
	return macro_find(name, strlen(name)) != NULL;
}

/* Forget the macros a previous config_read() defined; keep -D ones. */
void
macros_reset_file(void)
{
	struct macro **pp = &macros;

	while (*pp != NULL) {
		if ((*pp)->is_cmdline)
			pp = &(*pp)->next;
		else
			*pp = (*pp)->next;
	}
}

/* The longest macro whose name starts at p, or NULL. */
static const struct macro *
longest_at(const char *p)
{
	const struct macro *best = NULL;

	for (const struct macro *m = macros; m != NULL; m = m->next)
		if (strncmp(p, m->name, m->len) == 0 &&
		    (best == NULL || m->len > best->len))
			best = m;
	return best;
}

const char *
macro_substitute(const char *line)
{
	struct buf b;
	bool is_changed = false;
	const char *p = line;

	if (macros == NULL)
		return line;
	buf_init(&b, arena_perm, 0);
	while (*p != '\0') {
		const struct macro *m = NULL;

		if (isupper((unsigned char)*p) &&
		    (p == line || !is_name_char(p[-1])))
			m = longest_at(p);
		if (m != NULL) {
			if (!buf_adds(&b, m->value))
				return line;
			p += m->len;
			is_changed = true;
		} else if (!buf_addc(&b, *p++)) {
			return line;
		}
	}
	return is_changed ? b.p : line;
}
