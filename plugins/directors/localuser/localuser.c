/*
 * The localuser director: accept a local part that names a user, from the
 * passwd file or (a Tern addition) from a lookup.
 *
 * With lookup_type set, the user table is that lookup: lookup_file (a
 * single-key lookup keyed by the local part) or lookup_query (a query
 * lookup, expanded with $local_part).  Its value is "uid gid home", each
 * of uid and gid a number or a name, separated by white space or colons.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <tern/module.h>

struct localuser_opts {
	const char *match_directory; /* expandable */
	const char *lookup_type;
	const char *lookup_file;     /* expandable */
	const char *lookup_query;    /* expandable */
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct localuser_opts, field, dflt)

static const struct tern_option localuser_options[] = {
	O("lookup_file",     EXPSTR, lookup_file,     NULL),
	O("lookup_query",    EXPSTR, lookup_query,    NULL),
	O("lookup_type",     STRING, lookup_type,     NULL),
	O("match_directory", EXPSTR, match_directory, NULL),
	TERN_OPT_END
};

static const struct tern_core *core;

/* What the user table said about a local part. */
struct user {
	const char *name;
	int64_t     uid, gid;
	const char *home;
};

static int
expand_opt(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const char *name, const char *tmpl,
	char **out)
{
	char *err = NULL;
	int rc = core->expand(ctx, tmpl, out, &err);

	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	addr->message = core->printf(ctx, "director %s: failed to expand %s "
		"\"%s\": %s", inst->name, name, tmpl,
		err ? err : "lookup deferred");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

static char *
lower_dup(struct tern_ctx *ctx, const char *s)
{
	char *l = core->strdup(ctx, s);

	for (char *p = l; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	return l;
}

/* The passwd source's user (the core keeps its answers for the process). */
static int
find_passwd(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, struct user *u)
{
	struct tern_user pw;
	char *err = NULL;
	int rc = core->find_user(ctx, addr->local_part, &pw, &err);

	if (rc == TERN_DEFER) {
		addr->basic_errno = errno;
		addr->message = core->printf(ctx, "director %s: %s",
			inst->name, err);
	}
	if (rc != TERN_OK)
		return rc;
	u->name = pw.name;
	u->home = pw.home;
	u->uid = pw.uid;
	u->gid = pw.gid;
	return TERN_OK;
}

/* A uid or gid field: a number, or a user or group name. */
static int
parse_id(const char *s, bool is_group, int64_t *id_out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0 && v >= 0) {
		*id_out = v;
		return 0;
	}
	if (is_group) {
		struct group *gr = getgrnam(s);

		if (gr == NULL)
			return -1;
		*id_out = gr->gr_gid;
	} else {
		struct passwd *pw = getpwnam(s);

		if (pw == NULL)
			return -1;
		*id_out = pw->pw_uid;
	}
	return 0;
}

/* "uid gid home" into u.  0, or -1 with *why_out. */
static int
parse_user_value(char *value, struct user *u, const char **why_out)
{
	char *field[3] = { NULL, NULL, NULL }, *p = value;
	size_t n = 0;

	while (n < 3) {
		p += strspn(p, " \t\n:");
		if (*p == '\0')
			break;
		field[n++] = p;
		p += strcspn(p, n < 3 ? " \t\n:" : "\n");
		if (*p != '\0')
			*p++ = '\0';
	}
	if (n < 3) {
		*why_out = "want \"uid gid home\"";
		return -1;
	}
	if (parse_id(field[0], false, &u->uid) < 0 ||
	    parse_id(field[1], true, &u->gid) < 0) {
		*why_out = "unknown user or group";
		return -1;
	}
	if (field[2][0] != '/') {
		*why_out = "home directory is not an absolute path";
		return -1;
	}
	for (char *e = field[2] + strlen(field[2]);
	    e > field[2] && isspace((unsigned char)e[-1]); e--)
		e[-1] = '\0';
	u->home = field[2];
	return 0;
}

/* One lookup of key.  OK, FAIL (not there), DEFER or ERROR. */
static int
lookup_once(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const char *file, const char *key,
	char **value_out)
{
	const struct localuser_opts *o = inst->opts;
	char *err = NULL;
	int rc;

	rc = core->lookup(ctx, o->lookup_type, file, key, value_out, &err);
	if (rc == TERN_OK || rc == TERN_FAIL)
		return rc;
	addr->message = core->printf(ctx, "director %s: %s lookup failed: %s",
		inst->name, o->lookup_type, err ? err : "unknown error");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

/* The user from lookup_type.  OK, DECLINE, DEFER or ERROR. */
static int
find_lookup(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, struct user *u)
{
	const struct localuser_opts *o = inst->opts;
	const char *key = addr->local_part, *why;
	char *arg, *value;
	int rc;

	if (o->lookup_query != NULL) {
		rc = expand_opt(inst, ctx, addr, "lookup_query",
			o->lookup_query, &arg);
		if (rc == TERN_OK)
			rc = lookup_once(inst, ctx, addr, NULL, arg, &value);
	} else {
		rc = expand_opt(inst, ctx, addr, "lookup_file",
			o->lookup_file, &arg);
		if (rc == TERN_OK)
			rc = lookup_once(inst, ctx, addr, arg, key, &value);
		if (rc == TERN_FAIL &&
		    strcmp(key = lower_dup(ctx, key), addr->local_part) != 0)
			rc = lookup_once(inst, ctx, addr, arg, key, &value);
	}
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	if (rc != TERN_OK)
		return rc;
	if (parse_user_value(value, u, &why) < 0) {
		addr->message = core->printf(ctx, "director %s: bad %s lookup "
			"value for %s: %s", inst->name, o->lookup_type,
			addr->local_part, why);
		return TERN_ERROR;
	}
	u->name = key;
	return TERN_OK;
}

/* match_directory: the home directory must match the (expanded) pattern. */
static int
check_directory(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr, const char *home)
{
	const struct localuser_opts *o = inst->opts;
	char *pattern, *err = NULL;
	int rc;

	if (o->match_directory == NULL)
		return TERN_OK;
	rc = expand_opt(inst, ctx, addr, "match_directory", o->match_directory,
		&pattern);
	if (rc != TERN_OK)
		return rc;
	rc = core->match_list(ctx, TERN_LIST_STRING, pattern, home, &err);
	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	addr->message = core->printf(ctx, "director %s: match_directory: %s",
		inst->name, err ? err : "lookup deferred");
	return rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR;
}

/* Lookup types whose keys are patterns: wildlsearch, lsearch* … */
static bool
is_wild_type(const char *type)
{
	return strstr(type, "wild") != NULL || strchr(type, '*') != NULL ||
		strstr(type, "iplsearch") != NULL;
}

static int
localuser_direct(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *addr)
{
	const struct localuser_opts *o = inst->opts;
	struct user u;
	int rc;

	if (addr->kind != TERN_ADDR_MAIL || addr->local_part == NULL ||
	    addr->local_part[0] == '\0')
		return TERN_DECLINE;
	if (o->lookup_type != NULL)
		rc = find_lookup(inst, ctx, addr, &u);
	else
		rc = find_passwd(inst, ctx, addr, &u);
	if (rc != TERN_OK)
		return rc;
	rc = check_directory(inst, ctx, addr, u.home);
	if (rc != TERN_OK)
		return rc;
	if (inst->transport == NULL && !core->is_verify(ctx)) {
		addr->message = core->printf(ctx, "director %s: no transport "
			"set", inst->name);
		return TERN_ERROR;
	}
	addr->uid = u.uid;
	addr->gid = u.gid;
	addr->home = u.home;
	addr->flags |= TERN_AF_HAS_UID;
	/*
	 * Taint: the passwd file or an exact-key lookup found this very local
	 * part, which vouches for it; a wildcard entry ("*" in wildlsearch)
	 * matches anything and vouches for nothing.
	 */
	if (o->lookup_type == NULL || !is_wild_type(o->lookup_type)) {
		addr->flags |= TERN_AF_LP_CHECKED;
		addr->local_part_data = u.name;
	}
	addr->transport = inst->transport;
	return TERN_OK;
}

static int
localuser_init(struct tern_instance *inst, char **err_out)
{
	const struct localuser_opts *o = inst->opts;
	bool has_source = o->lookup_file != NULL || o->lookup_query != NULL;

	if (o->lookup_type == NULL && has_source) {
		*err_out = core->printf(NULL, "director %s: lookup_file or "
			"lookup_query is set but lookup_type is not", inst->name);
		return TERN_ERROR;
	}
	if (o->lookup_type != NULL &&
	    (o->lookup_file == NULL) == (o->lookup_query == NULL)) {
		*err_out = core->printf(NULL, "director %s: lookup_type needs "
			"exactly one of lookup_file and lookup_query",
			inst->name);
		return TERN_ERROR;
	}
	return TERN_OK;
}

static int
localuser_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(localuser) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_DIRECTOR,
	.name = "localuser",
	.version = "1.0",
	.options = localuser_options,
	.opts_size = sizeof(struct localuser_opts),
	.load = localuser_load,
	.init = localuser_init,
	.director = { .direct = localuser_direct },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
