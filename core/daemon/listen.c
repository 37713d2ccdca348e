/* Binding the daemon's listening sockets. */
#include "daemon/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "daemon/daemon_int.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"

#define DAEMON_MAX_LISTENERS 64

/*
 * The next item of an Exim list ("<c" changes the separator; with ':'
 * a doubled "::" is a literal colon), trimmed, in arena_perm; NULL at end.
 */
static char *
list_item(const char **lp, char *sep)
{
	const char *p = *lp;
	struct buf b;

	if (*sep == '\0') {
		*sep = ':';
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '<' && p[1] != '\0' && strchr(" \t", p[1]) == NULL) {
			*sep = p[1];
			p += 2;
		}
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return NULL;
	buf_init(&b, arena_perm, 0);
	for (; *p != '\0'; p++) {
		if (*p == *sep) {
			if (*sep != ':' || p[1] != ':')
				break;
			p++;
		}
		if (!buf_addc(&b, *p))
			tern_panic("daemon: list item too long");
	}
	if (*p == *sep)
		p++;
	*lp = p;
	while (b.len > 0 && (b.p[b.len - 1] == ' ' || b.p[b.len - 1] == '\t'))
		b.p[--b.len] = '\0';
	return b.p;
}

static int
parse_port(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	struct servent *se;

	if (*s != '\0' && *end == '\0')
		return v > 0 && v < 65536 ? (int)v : -1;
	se = getservbyname(s, "tcp");
	return se != NULL ? ntohs((uint16_t)se->s_port) : -1;
}

/* One socket for addr:port; -1 errno set, -2 address family missing. */
static int
bind_one(const char *addr, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, backlog;

	memset(&ss, 0, sizeof(ss));
	if (strchr(addr, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &s6->sin6_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, addr, &s4->sin_addr) != 1)
			return errno = EINVAL, -1;
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno == EAFNOSUPPORT ? -2 : -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			sizeof(one));
	backlog = conf.smtp_connect_backlog > 0 ? conf.smtp_connect_backlog : 64;
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, backlog) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		/* "::" on a host without IPv6 */
		return ss.ss_family == AF_INET6 && errno == EADDRNOTAVAIL &&
		    strcmp(addr, "::") == 0 ? -2 : -1;
	}
	return fd;
}

/* A local_interfaces item as an address: "[::1]" and a lone ":" mended. */
static const char *
iface_addr(char *item)
{
	size_t n = strlen(item);

	if (n >= 2 && item[0] == '[' && item[n - 1] == ']') {
		item[n - 1] = '\0';
		return item + 1;
	}
	/* "0.0.0.0 : ::" reads as "0.0.0.0" and ":" under Exim's rules */
	return strcmp(item, ":") == 0 ? "::" : item;
}

static int
listen_addr(const char *addr, const char *ports, struct listener *ls,
	size_t *n)
{
	char sep = '\0';
	const char *pl = ports;
	char *item;

	while ((item = list_item(&pl, &sep)) != NULL) {
		int port = parse_port(item), fd;

		if (port < 0) {
			fprintf(stderr, "tern: daemon: bad port \"%s\"\n", item);
			return -1;
		}
		if (*n == DAEMON_MAX_LISTENERS) {
			fprintf(stderr, "tern: daemon: too many listening sockets\n");
			return -1;
		}
		fd = bind_one(addr, port);
		if (fd == -2) {
			log_write(TERN_LOG_MAIN, NULL,
				"daemon: IPv6 not available: not listening on [%s]:%d",
				addr, port);
			continue;
		}
		if (fd < 0) {
			fprintf(stderr, "tern: daemon: cannot listen on [%s]:%d: %m\n",
				addr, port);
			return -1;
		}
		ls[*n].fd = fd;
		ls[*n].port = port;
		ls[*n].addr = arena_printf(arena_perm, "[%s]:%d", addr, port);
		(*n)++;
	}
	return 0;
}

int
daemon_listen(const char *ports, struct listener **out, size_t *n_out)
{
	struct listener *ls = arena_zalloc(arena_perm,
		DAEMON_MAX_LISTENERS * sizeof(*ls));
	const char *il = conf.local_interfaces != NULL ?
		conf.local_interfaces : "<; 0.0.0.0 ; ::";
	char sep = '\0', *item;
	size_t n = 0;

	while ((item = list_item(&il, &sep)) != NULL) {
		if (listen_addr(iface_addr(item), ports, ls, &n) != 0) {
			daemon_close_listeners(ls, n);
			return -1;
		}
	}
	if (n == 0) {
		fprintf(stderr, "tern: daemon: no listening sockets (local_interfaces \"%s\", ports \"%s\")\n",
			conf.local_interfaces != NULL ? conf.local_interfaces : "",
			ports);
		return -1;
	}
	*out = ls;
	*n_out = n;
	return 0;
}

void
daemon_close_listeners(struct listener *ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ls[i].fd >= 0) {
			close(ls[i].fd);
			ls[i].fd = -1;
		}
}
