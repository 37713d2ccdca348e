/*
 * The configuration reader: Exim's language.  Logical lines (with "\"
 * continuation), comments, .include and .ifdef, macros, the main section,
 * named lists, and the begin sections.  Driver instances are built by
 * instances.c; this file hands their lines over.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "config/internal.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "retry/retry.h"
#include "rewrite/rewrite.h"

#define MAX_INCLUDE_DEPTH 16
#define MAX_IF_DEPTH      32
#define EMBEDDED_NAME     "(embedded default)"

enum section {
	SEC_MAIN, SEC_TRANSPORTS, SEC_DIRECTORS, SEC_ROUTERS, SEC_RETRY,
	SEC_REWRITE, SEC_AUTH,
};

struct source {
	const char    *name;     /* as shown in errors */
	FILE          *fp;       /* NULL: reading text */
	const char    *text;     /* embedded text, cursor */
	int            line;
	int            if_depth; /* conditionals open when it started */
	struct source *up;
};

struct cond {
	bool is_active;  /* lines in this branch are read */
	bool was_taken;  /* some branch of this .ifdef was active */
	bool has_else;
};

struct list_check_rec {
	enum tern_list_kind    kind;
	const char *const     *valuep;
	const char            *file;
	int                    line;
	const char            *what;
	struct list_check_rec *next;
};

static struct {
	struct source         *src;
	int                    depth;
	struct cond            conds[MAX_IF_DEPTH];
	int                    nconds;
	enum section           sec;
	struct list_check_rec *checks, **checks_tail;
	size_t                 nfuture;
	bool                   hidden[256];
} rd;

static const char *last_error;

const char *
config_last_error(void)
{
	return last_error;
}

int
config_error(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = arena_vprintf(arena_perm, fmt, ap);
	va_end(ap);
	last_error = file ? arena_printf(arena_perm, "%s:%d: %s", file, line,
		msg) : msg;
	fprintf(stderr, "%s\n", last_error);
	return -1;
}

void
config_note_future(const char *what)
{
	const char **v = arena_alloc(arena_perm,
		(rd.nfuture + 2) * sizeof(*v));

	if (rd.nfuture > 0)
		memcpy(v, cfg.future_set, rd.nfuture * sizeof(*v));
	v[rd.nfuture++] = arena_strdup(arena_perm, what);
	v[rd.nfuture] = NULL;
	cfg.future_set = v;
}

void
config_note_list(enum tern_list_kind kind, const char *const *valuep,
	const char *file, int line, const char *what)
{
	struct list_check_rec *c = arena_zalloc(arena_perm, sizeof(*c));

	*c = (struct list_check_rec){ kind, valuep, file, line,
		arena_strdup(arena_perm, what), NULL };
	*rd.checks_tail = c;
	rd.checks_tail = &c->next;
}

bool
config_main_is_hidden(const char *name)
{
	for (size_t i = 0; main_options[i].name != NULL && i < 256; i++)
		if (strcmp(main_options[i].name, name) == 0)
			return rd.hidden[i] ||
				(main_options[i].flags & TERN_OPTF_HIDDEN);
	return false;
}

/* ---- input: sources and logical lines ---- */

static int
source_push_file(const char *path, const char *shown, int line,
	bool is_optional)
{
	struct source *s;
	FILE *fp;

	if (rd.depth >= MAX_INCLUDE_DEPTH)
		return config_error(shown, line, ".include nested too deeply");
	fp = fopen(path, "r");
	if (fp == NULL) {
		if (is_optional && errno == ENOENT)
			return 0;
		const char *why = strerror(errno);

		if (shown == NULL)
			return config_error(NULL, 0, "%s: %s", path, why);
		return config_error(shown, line, "cannot open \"%s\": %s",
			path, why);
	}
	s = arena_zalloc(arena_perm, sizeof(*s));
	s->name = arena_strdup(arena_perm, path);
	s->fp = fp;
	s->if_depth = rd.nconds;
	s->up = rd.src;
	rd.src = s;
	rd.depth++;
	return 0;
}

static void
source_push_text(const char *name, const char *text)
{
	struct source *s = arena_zalloc(arena_perm, sizeof(*s));

	s->name = name;
	s->text = text;
	s->up = rd.src;
	rd.src = s;
	rd.depth++;
}

/* Pop the current source at its end; -1 on an unclosed .ifdef. */
static int
source_pop(void)
{
	struct source *s = rd.src;
	int rc = 0;

	if (rd.nconds != s->if_depth)
		rc = config_error(s->name, s->line,
			"missing .endif at end of file");
	if (s->fp != NULL)
		fclose(s->fp);
	rd.src = s->up;
	rd.depth--;
	return rc;
}

/* One physical line without its newline (arena_scratch); false at EOF. */
static bool
read_physical(struct source *s, struct buf *b)
{
	buf_clear(b);
	if (s->fp != NULL) {
		int c;

		if ((c = getc(s->fp)) == EOF)
			return false;
		while (c != EOF && c != '\n') {
			if (!buf_addc(b, (char)c))
				return false;
			c = getc(s->fp);
		}
	} else {
		const char *nl;

		if (*s->text == '\0')
			return false;
		nl = strchr(s->text, '\n');
		if (nl == NULL)
			nl = s->text + strlen(s->text);
		if (!buf_add(b, s->text, (size_t)(nl - s->text)))
			return false;
		s->text = *nl ? nl + 1 : nl;
	}
	s->line++;
	while (b->len > 0 && isspace((unsigned char)b->p[b->len - 1]))
		b->p[--b->len] = '\0';
	return true;
}

static const char *
skip_space(const char *p)
{
	while (isspace((unsigned char)*p))
		p++;
	return p;
}

static bool
is_comment_or_blank(const char *p)
{
	p = skip_space(p);
	return *p == '\0' || *p == '#';
}

/*
 * The next logical line (arena_perm, leading space removed) and its first
 * line number; 0 at the end of all input, -1 on error.
 */
static int
read_logical(char **line_out, int *lineno_out)
{
	struct buf phys, logical;

	buf_init(&phys, arena_scratch, 0);
	buf_init(&logical, arena_perm, 0);
	while (rd.src != NULL) {
		if (!read_physical(rd.src, &phys)) {
			if (source_pop() < 0)
				return -1;
			continue;
		}
		if (is_comment_or_blank(phys.p))
			continue;
		*lineno_out = rd.src->line;
		if (!buf_adds(&logical, skip_space(phys.p)))
			return -1;
		while (logical.len > 0 && logical.p[logical.len - 1] == '\\') {
			logical.p[--logical.len] = '\0';
			do {
				if (!read_physical(rd.src, &phys))
					goto done;
			} while (skip_space(phys.p)[0] == '#');
			if (phys.len == 0)
				break;
			if (!buf_adds(&logical, skip_space(phys.p)))
				return -1;
		}
done:
		while (logical.len > 0 &&
		    isspace((unsigned char)logical.p[logical.len - 1]))
			logical.p[--logical.len] = '\0';
		*line_out = logical.p;
		return 1;
	}
	return 0;
}

/* ---- directives: .include, .ifdef ---- */

static bool
is_active(void)
{
	return rd.nconds == 0 || rd.conds[rd.nconds - 1].is_active;
}

static int
directive_if(const char *file, int line, const char *arg, bool is_ifdef)
{
	bool parent = is_active();
	bool is_true;

	if (rd.nconds >= MAX_IF_DEPTH)
		return config_error(file, line, ".ifdef nested too deeply");
	if (*arg == '\0')
		return config_error(file, line, "%s needs a macro name",
			is_ifdef ? ".ifdef" : ".ifndef");
	is_true = macro_is_defined(arg) == is_ifdef;
	rd.conds[rd.nconds++] = (struct cond){ parent && is_true, is_true, false };
	return 0;
}

static int
directive_else_endif(const char *file, int line, bool is_else)
{
	struct cond *c;

	if (rd.nconds <= rd.src->if_depth)
		return config_error(file, line, "%s without .ifdef",
			is_else ? ".else" : ".endif");
	c = &rd.conds[rd.nconds - 1];
	if (!is_else) {
		rd.nconds--;
		return 0;
	}
	if (c->has_else)
		return config_error(file, line, "second .else");
	c->has_else = true;
	c->is_active = !c->was_taken &&
		(rd.nconds == 1 || rd.conds[rd.nconds - 2].is_active);
	c->was_taken = true;
	return 0;
}

static int
directive_include(const char *file, int line, const char *arg,
	bool is_optional)
{
	const char *path = macro_substitute(arg);
	size_t n = strlen(path);

	if (n >= 2 && path[0] == '"' && path[n - 1] == '"')
		path = arena_strndup(arena_perm, path + 1, n - 2);
	if (*path == '\0')
		return config_error(file, line, ".include needs a file name");
	if (path[0] != '/' && strcmp(file, EMBEDDED_NAME) != 0) {
		char *dir = arena_strdup(arena_scratch, file);

		path = arena_printf(arena_perm, "%s/%s", dirname(dir), path);
	}
	return source_push_file(path, file, line, is_optional);
}

static int
directive(const char *file, int line, const char *text)
{
	const char *p = text + 1;
	size_t n = 0;
	char *word;

	while (isalpha((unsigned char)p[n]) || p[n] == '_')
		n++;
	word = arena_strndup(arena_scratch, p, n);
	p = skip_space(p + n);
	if (strcmp(word, "ifdef") == 0 || strcmp(word, "ifndef") == 0)
		return directive_if(file, line, p, word[2] == 'd');
	if (strcmp(word, "else") == 0 || strcmp(word, "endif") == 0)
		return directive_else_endif(file, line, word[1] == 'l');
	if (!is_active())
		return 0;
	if (strcmp(word, "include") == 0)
		return directive_include(file, line, p, false);
	if (strcmp(word, "include_if_exists") == 0)
		return directive_include(file, line, p, true);
	return config_error(file, line, "unknown directive \"%s\"", text);
}

/* ---- option lines ---- */

static int
unquote(const char *s, char **out, char **err_out)
{
	struct buf b;
	const char *p = s + 1;

	buf_init(&b, arena_perm, 0);
	for (; *p != '\0' && *p != '"'; p++) {
		char c = *p;

		if (c == '\\' && p[1] != '\0') {
			c = *++p;
			if (c == 'n')
				c = '\n';
			else if (c == 't')
				c = '\t';
			else if (c == 'r')
				c = '\r';
		}
		if (!buf_addc(&b, c))
			return -1;
	}
	if (*p != '"' || *skip_space(p + 1) != '\0') {
		*err_out = arena_printf(arena_perm,
			"bad quoted string %s", s);
		return -1;
	}
	*out = b.p;
	return 0;
}

int
config_split_option(const char *line, char **name_out, char **value_out,
	bool *is_hidden_out, char **err_out)
{
	const char *p = line;
	size_t n = 0;

	*is_hidden_out = false;
	if (strncmp(p, "hide", 4) == 0 && isspace((unsigned char)p[4])) {
		*is_hidden_out = true;
		p = skip_space(p + 4);
	}
	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	if (n == 0) {
		*err_out = arena_printf(arena_perm, "syntax error in \"%s\"",
			line);
		return -1;
	}
	*name_out = arena_strndup(arena_perm, p, n);
	p = skip_space(p + n);
	*value_out = NULL;
	if (*p == '\0')
		return 0;
	if (*p != '=') {
		*err_out = arena_printf(arena_perm,
			"option \"%s\": \"=\" expected in \"%s\"", *name_out, line);
		return -1;
	}
	p = skip_space(p + 1);
	if (*p == '"')
		return unquote(p, value_out, err_out);
	*value_out = arena_strdup(arena_perm, p);
	return 0;
}

/* ---- the main section ---- */

static int
named_list_line(const char *file, int line, const char *kind, const char *rest)
{
	const char *p = skip_space(rest);
	size_t n = 0;
	struct named_list *nl, **pp;
	enum tern_list_kind lk;
	char *err;

	while (isalnum((unsigned char)p[n]) || p[n] == '_')
		n++;
	if (n == 0 || *skip_space(p + n) != '=')
		return config_error(file, line, "%s: name and \"=\" expected",
			kind);
	nl = arena_zalloc(arena_perm, sizeof(*nl));
	nl->kind = kind;
	nl->name = arena_strndup(arena_perm, p, n);
	nl->value = arena_strdup(arena_perm, skip_space(skip_space(p + n) + 1));
	for (pp = &cfg.lists; *pp != NULL; pp = &(*pp)->next)
		if (strcmp((*pp)->name, nl->name) == 0)
			return config_error(file, line,
				"named list \"%s\" defined twice", nl->name);
	*pp = nl;
	lk = kind[0] == 'd' ? TERN_LIST_DOMAIN : kind[0] == 'h' ? TERN_LIST_HOST
		: kind[0] == 'a' ? TERN_LIST_ADDRESS : TERN_LIST_LOCALPART;
	if (list_check_syntax(lk, nl->value, &err) < 0)
		return config_error(file, line, "%s \"%s\": %s", kind, nl->name,
			err);
	config_note_list(lk, &nl->value, file, line,
		arena_printf(arena_scratch, "%s \"%s\"", kind, nl->name));
	return 0;
}

static const struct tern_option *
find_negatable(const struct tern_option *tab, const char *name,
	bool *is_negated_out)
{
	const struct tern_option *opt = option_find(tab, name);

	*is_negated_out = false;
	if (opt != NULL)
		return opt;
	if (strncmp(name, "no_", 3) == 0)
		opt = option_find(tab, name + 3);
	else if (strncmp(name, "not_", 4) == 0)
		opt = option_find(tab, name + 4);
	*is_negated_out = opt != NULL;
	return opt;
}

/* host_lookup_order: "bydns" and "byaddr", in any order, at least one. */
static int
check_lookup_order(const char *list, char **err_out)
{
	const char *item;
	char sep = '\0';
	int n = 0;

	while ((item = list_next(&list, &sep)) != NULL) {
		if (strcasecmp(item, "bydns") != 0 &&
		    strcasecmp(item, "byaddr") != 0) {
			*err_out = arena_printf(arena_scratch, "\"%s\" is "
				"neither bydns nor byaddr", item);
			return -1;
		}
		n++;
	}
	if (n == 0) {
		*err_out = "no method (bydns, byaddr) given";
		return -1;
	}
	return 0;
}

static int
main_option_line(const char *file, int line, const char *text)
{
	const struct tern_option *opt;
	char *name, *value, *err;
	bool is_hidden, is_negated;
	enum tern_list_kind lk;

	if (config_split_option(text, &name, &value, &is_hidden, &err) < 0)
		return config_error(file, line, "%s", err);
	opt = find_negatable(main_options, name, &is_negated);
	if (opt == NULL)
		return config_error(file, line, "main option \"%s\" unknown",
			name);
	if (option_set(opt, &conf, value, is_negated, &err) < 0)
		return config_error(file, line, "main option \"%s\": %s",
			opt->name, err);
	/* No main option counts below zero: a negative one is a mistake. */
	if (opt->type == TERN_OPT_INT &&
	    *(int *)(void *)((char *)&conf + opt->offset) < 0)
		return config_error(file, line, "main option \"%s\": %s is "
			"negative", opt->name, value);
	if (strcmp(opt->name, "log_selector") == 0 &&
	    log_selector_set(conf.log_selector, &err) < 0)
		return config_error(file, line, "main option \"log_selector\": "
			"%s", err);
	if (strcmp(opt->name, "dns_port") == 0 &&
	    conf.dns_port > 65535)
		return config_error(file, line, "main option \"dns_port\": "
			"%s is not a port number", value);
	if (strcmp(opt->name, "host_lookup_order") == 0 &&
	    check_lookup_order(conf.host_lookup_order, &err) < 0)
		return config_error(file, line, "main option "
			"\"host_lookup_order\": %s", err);
	if (is_hidden && opt - main_options < 256)
		rd.hidden[opt - main_options] = true;
	if (opt->flags & TERN_OPTF_FUTURE)
		config_note_future(opt->name);
	lk = option_list_kind(opt->type);
	if (lk != 0)
		config_note_list(lk, (const char *const *)(const void *)
			((char *)&conf + opt->offset), file, line,
			arena_printf(arena_scratch, "main option \"%s\"",
			opt->name));
	return 0;
}

static int
main_line(const char *file, int line, const char *text)
{
	static const char *const kinds[] = { "domainlist", "hostlist",
		"addresslist", "localpartlist", NULL };

	for (int i = 0; kinds[i] != NULL; i++) {
		size_t n = strlen(kinds[i]);

		if (strncmp(text, kinds[i], n) == 0 &&
		    isspace((unsigned char)text[n]))
			return named_list_line(file, line, kinds[i], text + n);
	}
	return main_option_line(file, line, text);
}

/* ---- retry and rewrite ---- */

/* Next whitespace-separated field (double quotes group), or NULL. */
static char *
next_field(const char **pp)
{
	const char *p = skip_space(*pp), *start = p;

	if (*p == '\0')
		return NULL;
	if (*p == '"') {
		const char *end = strchr(p + 1, '"');

		if (end != NULL) {
			*pp = end + 1;
			return arena_strndup(arena_perm, p + 1,
				(size_t)(end - p - 1));
		}
	}
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	*pp = p;
	return arena_strndup(arena_perm, start, (size_t)(p - start));
}

/* The rules must parse as the delivery code will parse them. */
static int
check_retry_rules(const char *rules, char **err_out)
{
	struct retry_item *items;
	size_t n;

	return retry_parse_rules(arena_perm, rules, &items, &n, err_out);
}

static int
retry_line(const char *file, int line, const char *text)
{
	struct retry_rule *r = arena_zalloc(arena_perm, sizeof(*r)), **pp;
	const char *p = text;
	char *err;

	r->pattern = next_field(&p);
	r->error = next_field(&p);
	if (r->error == NULL)
		return config_error(file, line,
			"retry rule: pattern, error type and rules expected");
	r->rules = arena_strdup(arena_perm, skip_space(p));
	if (check_retry_rules(r->rules, &err) < 0)
		return config_error(file, line, "%s", err);
	for (pp = &cfg.retries; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = r;
	return 0;
}

int
config_rewrite_rule(const char *text, struct rewrite_rule *r, char **err_out)
{
	const char *p = text;

	r->pattern = next_field(&p);
	r->replacement = next_field(&p);
	if (r->replacement == NULL) {
		*err_out = "rewrite rule: pattern and replacement expected";
		return -1;
	}
	r->flags = arena_strdup(arena_perm, skip_space(p));
	if (rewrite_parse_flags(r->flags, r->pattern, &r->bits, err_out) < 0)
		return -1;
	/* A pattern with an expansion in it is checked when it is used. */
	if (!rewrite_pattern_expands(r->pattern) && !(r->bits & RW_SMTP) &&
	    list_check_item(TERN_LIST_ADDRESS, r->pattern, err_out) < 0) {
		*err_out = arena_printf(arena_perm, "rewrite rule: %s",
			*err_out);
		return -1;
	}
	return 0;
}

static int
rewrite_line(const char *file, int line, const char *text)
{
	struct rewrite_rule *r = arena_zalloc(arena_perm, sizeof(*r)), **pp;
	char *err;

	if (config_rewrite_rule(text, r, &err) < 0)
		return config_error(file, line, "%s", err);
	for (pp = &cfg.rewrites; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = r;
	return 0;
}

/* ---- sections and dispatch ---- */

static int
begin_line(const char *file, int line, const char *name)
{
	static const struct { const char *name; enum section sec; } secs[] = {
		{ "transports", SEC_TRANSPORTS }, { "directors", SEC_DIRECTORS },
		{ "routers", SEC_ROUTERS }, { "retry", SEC_RETRY },
		{ "rewrite", SEC_REWRITE }, { "authenticators", SEC_AUTH },
	};

	if (instance_finish() < 0)
		return -1;
	for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++)
		if (strcmp(name, secs[i].name) == 0) {
			rd.sec = secs[i].sec;
			return 0;
		}
	return config_error(file, line, "unknown section \"%s\"", name);
}

static enum tern_kind
section_kind(void)
{
	switch (rd.sec) {
	case SEC_TRANSPORTS: return TERN_KIND_TRANSPORT;
	case SEC_DIRECTORS:  return TERN_KIND_DIRECTOR;
	case SEC_ROUTERS:    return TERN_KIND_ROUTER;
	default:             return TERN_KIND_AUTH;
	}
}

static int
instance_section_line(const char *file, int line, const char *text)
{
	size_t n = 0;
	const char *rest;

	while (isalnum((unsigned char)text[n]) || text[n] == '_' ||
	    text[n] == '-')
		n++;
	rest = skip_space(text + n);
	if (n > 0 && *rest == ':') {
		char *name = arena_strndup(arena_perm, text, n);

		if (instance_finish() < 0 ||
		    instance_start(section_kind(), name, file, line) < 0)
			return -1;
		rest = skip_space(rest + 1);
		return *rest ? instance_add_line(rest, file, line) : 0;
	}
	if (instance_add_line(text, file, line) < 0)
		return config_error(file, line,
			"option line before any instance name (\"name:\")");
	return 0;
}

/* A macro definition "NAME = value" or "NAME == value"?  1, 0 or -1. */
static int
macro_line(const char *file, int line, const char *text)
{
	size_t n = 0;
	const char *p;
	bool is_redefine = false;
	char *err;

	if (!isupper((unsigned char)text[0]))
		return 0;
	while (isalnum((unsigned char)text[n]) || text[n] == '_')
		n++;
	p = skip_space(text + n);
	if (*p != '=')
		return 0;
	if (p[1] == '=') {
		is_redefine = true;
		p++;
	}
	p = macro_substitute(skip_space(p + 1));
	if (macro_define(arena_strndup(arena_scratch, text, n), p, false,
	    is_redefine, &err) < 0)
		return config_error(file, line, "%s", err);
	return 1;
}

static int
handle_line(const char *file, int line, const char *text)
{
	int rc;

	if (text[0] == '.')
		return directive(file, line, text);
	if (!is_active())
		return 0;
	if ((rc = macro_line(file, line, text)) != 0)
		return rc < 0 ? -1 : 0;
	text = macro_substitute(text);
	if (strncmp(text, "begin", 5) == 0 && isspace((unsigned char)text[5]))
		return begin_line(file, line, skip_space(text + 5));
	switch (rd.sec) {
	case SEC_MAIN:    return main_line(file, line, text);
	case SEC_RETRY:   return retry_line(file, line, text);
	case SEC_REWRITE: return rewrite_line(file, line, text);
	default:          return instance_section_line(file, line, text);
	}
}

static int
read_all(void)
{
	char *text;
	int line, rc;

	while ((rc = read_logical(&text, &line)) > 0) {
		struct arena_mark m = arena_mark(arena_scratch);
		const char *file = rd.src ? rd.src->name : cfg.file;

		rc = handle_line(file, line, text);
		arena_release(arena_scratch, m);
		if (rc < 0)
			break;
	}
	while (rd.src != NULL) {
		if (rd.src->fp != NULL)
			fclose(rd.src->fp);
		rd.src = rd.src->up;
	}
	if (rc < 0)
		return -1;
	return instance_finish();
}

/* ---- after reading ---- */

static void
set_derived_defaults(void)
{
	struct utsname u;

	if (conf.primary_hostname == NULL && uname(&u) == 0)
		conf.primary_hostname = arena_strdup(arena_perm, u.nodename);
	if (conf.primary_hostname == NULL)
		conf.primary_hostname = "localhost";
	if (conf.qualify_domain == NULL)
		conf.qualify_domain = conf.primary_hostname;
	if (conf.qualify_recipient == NULL)
		conf.qualify_recipient = conf.qualify_domain;
	if (conf.log_file_path == NULL && conf.spool_directory != NULL)
		conf.log_file_path = arena_printf(arena_perm, "%s/log/%%slog",
			conf.spool_directory);
}

/*
 * Where an option was last set (the value in force), for its error: the
 * file and line, or none.
 */
static const struct list_check_rec *
list_set_at(const char *const *valuep)
{
	const struct list_check_rec *at = NULL;

	for (struct list_check_rec *c = rd.checks; c != NULL; c = c->next)
		if (c->valuep == valuep)
			at = c;
	return at;
}

static int
check_lists(void)
{
	for (struct list_check_rec *c = rd.checks; c != NULL; c = c->next) {
		char *err;

		/* Set again later: the later line is the one in force. */
		if (list_set_at(c->valuep) != c)
			continue;
		if (list_check(c->kind, *c->valuep, &err) < 0)
			return config_error(c->file, c->line, "%s: %s", c->what,
				err);
	}
	return 0;
}

/*
 * never_users is a list of uids, as in Exim: its names are looked up here,
 * once per configuration read, so that a delivery compares the uid it is
 * to run as with no passwd lookup of its own.  An unknown name is an error
 * in the configuration, not a list that silently lets that user through.
 */
static int
resolve_never_users(void)
{
	const struct list_check_rec *at = list_set_at(&conf.never_users);
	const char *file = at != NULL ? at->file : NULL;
	int line = at != NULL ? at->line : 0;
	const char *list = conf.never_users != NULL ? conf.never_users :
		"root", *item;
	uid_t *v = NULL;
	size_t n = 0, cap = 0;
	char sep = '\0';

	while ((item = list_next(&list, &sep)) != NULL) {
		char *end;
		unsigned long u;

		errno = 0;
		u = strtoul(item, &end, 10);
		if (*item >= '0' && *item <= '9' && *end == '\0') {
			if (errno != 0 || u > (unsigned long)(uid_t)-1 - 1)
				return config_error(file, line,
					"never_users: uid %s is out of range", item);
		} else {
			struct passwd *pw;

			if (strchr("!+^", *item) != NULL || strchr(item, ';'))
				return config_error(file, line, "never_users: "
					"\"%s\": only user names and uids are "
					"allowed", item);
			errno = 0;
			pw = getpwnam(item);
			if (pw == NULL && errno != 0 && errno != ENOENT &&
			    errno != ESRCH && errno != EBADF && errno != EPERM)
				return config_error(file, line, "never_users: "
					"looking up user \"%s\": %s", item,
					strerror(errno));
			if (pw == NULL)
				return config_error(file, line,
					"never_users: user \"%s\" was not found", item);
			u = pw->pw_uid;
		}
		if (n == cap) {
			uid_t *w;

			cap = cap == 0 ? 4 : cap * 2;
			w = arena_alloc(arena_perm, cap * sizeof(*w));
			if (n > 0)
				memcpy(w, v, n * sizeof(*w));
			v = w;
		}
		v[n++] = (uid_t)u;
	}
	cfg.never_uids = v;
	cfg.never_uids_n = n;
	return 0;
}

static void
reset(void)
{
	char *err;

	arena_init_all();
	memset(&conf, 0, sizeof(conf));
	memset(&cfg, 0, sizeof(cfg));
	memset(&rd, 0, sizeof(rd));
	rd.checks_tail = &rd.checks;
	last_error = NULL;
	macros_reset_file();
	instances_reset();
	log_selector_reset();
	if (option_apply_defaults(main_options, &conf, &err) < 0)
		tern_panic("main options: %s", err);
	for (int i = 0; rt.defines != NULL && rt.defines[i] != NULL; i++)
		config_define_macro(rt.defines[i]);
}

/* After the sources are pushed: read them all and check the result. */
static int
config_finish(void)
{
	if (read_all() < 0)
		return -1;
	set_derived_defaults();
	if (check_lists() < 0 || resolve_never_users() < 0 ||
	    instances_check_and_init() < 0)
		return -1;
	return 0;
}

int
config_read(const char *path)
{
	reset();
	if (macro_cmdline_error() != NULL)
		return config_error(NULL, 0, "%s", macro_cmdline_error());
	if (path == NULL || strcmp(path, "@default") == 0 ||
	    strcmp(path, "-") == 0) {
		cfg.file = EMBEDDED_NAME;
		source_push_text(cfg.file, config_embedded_default);
	} else {
		cfg.file = arena_strdup(arena_perm, path);
		if (source_push_file(cfg.file, NULL, 0, false) < 0)
			return -1;
	}
	return config_finish();
}

int
config_read_text(const char *name, const char *text)
{
	reset();
	if (macro_cmdline_error() != NULL)
		return config_error(NULL, 0, "%s", macro_cmdline_error());
	cfg.file = arena_strdup(arena_perm, name);
	source_push_text(cfg.file, arena_strdup(arena_perm, text));
	return config_finish();
}
