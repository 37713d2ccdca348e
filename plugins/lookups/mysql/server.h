/*
 * The mysql lookup's text handling, free of the client library and of the
 * core so that unit tests link it: server specifications and Exim's
 * value format.
 */
#ifndef TERN_PLUGINS_LOOKUPS_MYSQL_SERVER_H
#define TERN_PLUGINS_LOOKUPS_MYSQL_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include <tern/list.h>

/* One item of mysql_servers. */
struct ms_server {
	char        host[256];   /* "" for the default (localhost) */
	unsigned    port;        /* 0: the default */
	char        socket[256]; /* "" unless host(socket) */
	char        db[128];
	char        user[128];
	char        pass[256];
};

/*
 * Parse "host[:port]/db/user/password" or "host(socket)/db/user/password"
 * (the password is the rest, and may hold '/').  0, or -1 with *why_out.
 */
int ms_parse_server(const char *spec, struct ms_server *s,
	const char **why_out);


/*
 * "servers=a/b/c/d:e/f/g/h; select ..." -> *servers_out (in buf) and the
 * query after the ';'.  Without such a prefix *servers_out is NULL and
 * the query is q.
 */
const char *ms_split_servers(const char *q, char *buf, size_t n,
	const char **servers_out);

/*
 * Append one field of a row to dst (NULL: count only): with name (a row
 * of several columns) as name=value, the value in double quotes (with
 * '"' and '\' escaped) when it is empty or holds white space, '"' or '=';
 * a space goes before every field but the first (is_first).
 */
size_t ms_put_field(char *dst, const char *name, const char *v, size_t len,
	bool is_first);

#endif
