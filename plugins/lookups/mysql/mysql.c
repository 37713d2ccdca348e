/*
 * The mysql lookup (MySQL or MariaDB): ${lookup mysql{select ...}}, with
 * the servers from the main option mysql_servers (Exim's form:
 * "host[:port]/db/user/password" or "host(socket)/db/user/password"),
 * tried in order, or from a "servers=...;" prefix of the query.
 *
 * The value is the first field of each row found, rows separated by
 * newlines; when the result has several columns, each row is written as
 * name=value pairs.  No row is FAIL; a server that cannot be reached is
 * never "not found": when every server failed, the lookup is TERN_DEFER.
 * One connection per server is kept open for the life of the process.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <errmsg.h>
#include <mysql.h>

#include <tern/module.h>

#include "server.h"

#define CONNECT_TIMEOUT 5   /* seconds */
#define IO_TIMEOUT      30

static const struct tern_core *core;

struct conn {
	char        *spec;
	MYSQL       *m;
	pid_t        pid;   /* the process that opened it */
	struct conn *next;
};

static struct conn *conns;

/*
 * Forget c; close it only if this process opened it.  A connection
 * inherited across fork() (a reception process forks the delivery) is
 * the parent's: talking on it, or closing it properly, would break the
 * parent's session, so the child leaves it alone and opens its own.
 */
static void
conn_drop(struct conn *c)
{
	struct conn **pp;

	for (pp = &conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->m != NULL && c->pid == getpid())
		mysql_close(c->m);
	free(c->spec);
	free(c);
}

/* Connect to one server.  OK with *m_out, DEFER or ERROR with *err_out. */
static int
connect_server(struct tern_ctx *ctx, const char *spec, MYSQL **m_out,
	char **err_out)
{
	unsigned ct = CONNECT_TIMEOUT, io = IO_TIMEOUT;
	struct ms_server s;
	const char *why;
	MYSQL *m;

	if (ms_parse_server(spec, &s, &why) < 0) {
		*err_out = core->printf(ctx, "mysql_servers item: %s", why);
		return TERN_ERROR;
	}
	if ((m = mysql_init(NULL)) == NULL) {
		*err_out = core->strdup(ctx, "mysql_init: out of memory");
		return TERN_DEFER;
	}
	mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
	mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &io);
	mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &io);
	mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (mysql_real_connect(m, s.host[0] ? s.host : NULL, s.user, s.pass,
	    s.db, s.port, s.socket[0] ? s.socket : NULL, 0) == NULL) {
		*err_out = core->printf(ctx, "mysql %s%s%s/%s: %s", s.host,
			s.socket[0] ? " socket " : "", s.socket, s.db,
			mysql_error(m));
		mysql_close(m);
		return TERN_DEFER;
	}
	*m_out = m;
	return TERN_OK;
}

static int
get_conn(struct tern_ctx *ctx, const char *spec, struct conn **out,
	bool *is_cached_out, char **err_out)
{
	struct conn *c, *next;
	MYSQL *m;
	int rc;

	for (c = conns; c != NULL; c = next) {
		next = c->next;
		if (c->pid != getpid())
			conn_drop(c);
	}
	for (c = conns; c != NULL; c = c->next)
		if (strcmp(c->spec, spec) == 0) {
			*out = c;
			*is_cached_out = true;
			return TERN_OK;
		}
	if ((rc = connect_server(ctx, spec, &m, err_out)) != TERN_OK)
		return rc;
	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->spec = strdup(spec)) == NULL) {
		free(c);
		mysql_close(m);
		*err_out = core->strdup(ctx, "out of memory");
		return TERN_DEFER;
	}
	c->m = m;
	c->pid = getpid();
	c->next = conns;
	conns = c;
	*out = c;
	*is_cached_out = false;
	return TERN_OK;
}

/* Every row into dst (NULL: count). */
static size_t
format_rows(MYSQL_RES *res, char *dst)
{
	unsigned nf = mysql_num_fields(res);
	MYSQL_FIELD *f = mysql_fetch_fields(res);
	MYSQL_ROW row;
	size_t o = 0;
	bool is_first_row = true;

	mysql_data_seek(res, 0);
	while ((row = mysql_fetch_row(res)) != NULL) {
		unsigned long *lens = mysql_fetch_lengths(res);

		if (!is_first_row) {
			if (dst != NULL)
				dst[o] = '\n';
			o++;
		}
		is_first_row = false;
		for (unsigned i = 0; i < nf; i++)
			o += ms_put_field(dst != NULL ? dst + o : NULL,
				nf > 1 ? f[i].name : NULL, row[i] ? row[i] : "",
				row[i] ? lens[i] : 0, i == 0);
	}
	return o;
}

/* The value of a query's result.  OK, FAIL, DEFER or ERROR. */
static int
result_value(struct tern_ctx *ctx, MYSQL *m, char **value_out,
	char **err_out)
{
	MYSQL_RES *res = mysql_store_result(m);
	size_t len;
	char *v;

	if (res == NULL) {
		if (mysql_field_count(m) == 0) {
			/* UPDATE, INSERT ...: the number of rows affected */
			*value_out = core->printf(ctx, "%llu",
				(unsigned long long)mysql_affected_rows(m));
			return TERN_OK;
		}
		*err_out = core->printf(ctx, "mysql: reading the result: %s",
			mysql_error(m));
		return TERN_DEFER;
	}
	if (mysql_num_rows(res) == 0) {
		mysql_free_result(res);
		return TERN_FAIL;
	}
	len = format_rows(res, NULL);
	v = core->alloc(ctx, len + 1);
	format_rows(res, v);
	v[len] = '\0';
	*value_out = v;
	mysql_free_result(res);
	return TERN_OK;
}

/* One server: OK/FAIL/ERROR (done), DEFER (try the next). */
static int
try_server(struct tern_ctx *ctx, const char *spec, const char *query,
	char **value_out, char **err_out)
{
	struct conn *c;
	bool is_cached;
	unsigned e = 0;
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if ((rc = get_conn(ctx, spec, &c, &is_cached, err_out)) != TERN_OK)
			return rc;
		if (mysql_real_query(c->m, query, strlen(query)) == 0)
			return result_value(ctx, c->m, value_out, err_out);
		e = mysql_errno(c->m);
		*err_out = core->printf(ctx, "mysql query \"%s\": %s", query,
			mysql_error(c->m));
		if (e < CR_MIN_ERROR)
			return TERN_ERROR; /* the server refused the SQL */
		conn_drop(c);
		if (!is_cached)
			break;
		/* a cached connection the server has closed: reconnect once */
	}
	return TERN_DEFER;
}

static int
mysql_find(struct tern_ctx *ctx, void *handle, const char *type,
	const char *query, char **value_out, char **err_out)
{
	char buf[4096], item[1024], sep = '\0';
	const char *list;
	int rc = TERN_DEFER, tried = 0;

	(void)handle;
	(void)type;
	query = ms_split_servers(query, buf, sizeof(buf), &list);
	if (list == NULL)
		list = core->main_option("mysql_servers");
	while (rc == TERN_DEFER &&
	    tern_list_next(&list, &sep, item, sizeof(item)) > 0) {
		rc = try_server(ctx, item, query, value_out, err_out);
		if (rc == TERN_DEFER)
			core->log(ctx, TERN_LOG_MAIN, "%s", *err_out);
		tried++;
	}
	if (tried == 0) {
		*err_out = core->strdup(ctx, "mysql lookup: no servers "
			"(set mysql_servers)");
		return TERN_DEFER;
	}
	return rc;
}

static int handle_token;

static int
mysql_open_h(struct tern_ctx *ctx, const char *type, const char *file,
	void **handle_out, char **err_out)
{
	(void)ctx;
	(void)type;
	(void)file;
	(void)err_out;
	*handle_out = &handle_token; /* only so that close() runs */
	return TERN_OK;
}

static void
mysql_close_all(void *handle)
{
	(void)handle;
	while (conns != NULL)
		conn_drop(conns);
}

static int
mysql_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

static const char *const mysql_types[] = { "mysql", NULL };

TERN_MODULE(mysql) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_LOOKUP,
	.name = "mysql",
	.version = "1.0",
	.load = mysql_load,
	.lookup = {
		.types = mysql_types,
		.is_query = 1,
		.open = mysql_open_h,
		.find = mysql_find,
		.close = mysql_close_all,
	},
};
