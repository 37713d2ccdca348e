/* Who is offered TLS, and on which ports TLS starts at once. */
#include "tls/tls.h"

#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "log/log.h"

bool
tls_server_offered(const char *host)
{
	char *err = NULL;
	int rc;

	if (conf.tls_certificate == NULL || *conf.tls_certificate == '\0')
		return false;
	if (conf.tls_advertise_hosts == NULL)
		return false;
	if (host == NULL) /* -bs: a local caller has no host to match */
		return false;
	rc = list_match(TERN_LIST_HOST, conf.tls_advertise_hosts, host, NULL,
		&err);
	if (rc == TERN_DEFER || rc == TERN_ERROR)
		log_write(TERN_LOG_MAIN, NULL, "tls_advertise_hosts: %s",
			err != NULL ? err : "lookup deferred");
	return rc == TERN_OK;
}

static bool
port_listed(const char *list, int port)
{
	const char *l = list;
	char sep = '\0';
	const char *item;

	if (list == NULL)
		return false;
	while ((item = list_next(&l, &sep)) != NULL) {
		char *end;
		long p = strtol(item, &end, 10);

		if (*end == '\0' && p == port)
			return true;
	}
	return false;
}

bool
tls_port_is_on_connect(int port)
{
	return port > 0 && port_listed(conf.tls_on_connect_ports, port);
}

/* Append the items of list to out (a ':' list); skip ports in `skip`. */
static char *
ports_append(char *out, const char *list, const char *skip)
{
	const char *l = list;
	char sep = '\0';
	const char *item;

	while ((item = list_next(&l, &sep)) != NULL) {
		long p = strtol(item, NULL, 10);

		if (skip != NULL && p > 0 && port_listed(skip, (int)p))
			continue;
		out = arena_printf(arena_perm, "%s%s%s", out,
			*out != '\0' ? " : " : "", item);
	}
	return out;
}

const char *
tls_listen_ports(const char *ports)
{
	char *out;

	if (conf.tls_on_connect_ports == NULL)
		return ports;
	out = ports_append(arena_strdup(arena_perm, ""), ports, NULL);
	return ports_append(out, conf.tls_on_connect_ports, ports);
}
