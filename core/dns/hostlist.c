/*
 * Host lists as Exim writes them (route_list, fallback_hosts, the smtp
 * transport's hosts): "name", "name::port" in a colon list (the list
 * reader turns "::" into ":"), "192.0.2.1", "[192.0.2.1]:26",
 * "<; [2001:db8::1]:25 ; 2001:db8::2".  And "is this address ours".
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"

static int
parse_port(const char *s, const char **err_out)
{
	char *end;
	long v;

	if (!isdigit((unsigned char)*s)) {
		*err_out = "bad port";
		return -1;
	}
	v = strtol(s, &end, 10);
	if (*end != '\0' || v <= 0 || v > 65535) {
		*err_out = "bad port";
		return -1;
	}
	return (int)v;
}

static bool
is_host_name(const char *s)
{
	if (*s == '\0' || *s == '.' || *s == '-')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '-' &&
		    *s != '_')
			return false;
	return true;
}

int
dns_parse_host_item(const char *item, char **name_out, bool *is_ip_out,
	int *port_out, const char **err_out)
{
	const char *colon;
	char *name;

	*port_out = 0;
	*is_ip_out = false;
	if (item[0] == '[') {
		const char *close = strchr(item, ']');

		if (close == NULL) {
			*err_out = "missing ']'";
			return -1;
		}
		name = arena_strndup(arena_msg, item + 1, (size_t)(close - item - 1));
		if (!dns_is_ip(name)) {
			*err_out = "bad IP address in brackets";
			return -1;
		}
		if (close[1] == ':') {
			if ((*port_out = parse_port(close + 2, err_out)) < 0)
				return -1;
		} else if (close[1] != '\0') {
			*err_out = "junk after ']'";
			return -1;
		}
		*name_out = name;
		*is_ip_out = true;
		return 0;
	}
	if (dns_is_ip(item)) { /* a bare IPv6 address has colons: no port */
		*name_out = arena_strdup(arena_msg, item);
		*is_ip_out = true;
		return 0;
	}
	colon = strchr(item, ':');
	name = colon != NULL ?
		arena_strndup(arena_msg, item, (size_t)(colon - item)) :
		arena_strdup(arena_msg, item);
	if (colon != NULL && (*port_out = parse_port(colon + 1, err_out)) < 0)
		return -1;
	*is_ip_out = dns_is_ip(name);
	if (!*is_ip_out && !is_host_name(name)) {
		*err_out = "bad host name";
		return -1;
	}
	*name_out = name;
	return 0;
}

int
dns_host_list_parse(const char *list, struct tern_host **out,
	char **err_out)
{
	struct tern_host **tail = out;
	const char *item;
	char sep = '\0';

	*out = NULL;
	while ((item = list_next(&list, &sep)) != NULL) {
		struct tern_host *h = arena_zalloc(arena_msg, sizeof(*h));
		const char *err = NULL;
		char *name;
		bool is_ip;

		if (dns_parse_host_item(item, &name, &is_ip, &h->port, &err) != 0) {
			*err_out = arena_printf(arena_msg, "host list item \"%s\": %s",
				item, err);
			return TERN_ERROR;
		}
		h->name = name;
		h->address = is_ip ? name : NULL;
		h->mx = -1;
		*tail = h;
		tail = &h->next;
	}
	return TERN_OK;
}

/* Normalised text of an address (so "::ffff:127.0.0.1" compares). */
void
dns_host_list_shuffle(struct tern_host **list)
{
	struct tern_host **v;
	size_t n = 0, i = 0;

	for (struct tern_host *h = *list; h != NULL; h = h->next)
		n++;
	if (n < 2)
		return;
	v = arena_alloc(arena_scratch, n * sizeof(*v));
	for (struct tern_host *h = *list; h != NULL; h = h->next)
		v[i++] = h;
	for (i = n; i > 1; i--) { /* Fisher-Yates */
		size_t j = arc4random_uniform((uint32_t)i);
		struct tern_host *t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
	for (i = 0; i < n; i++)
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
	*list = v[0];
}

static bool
same_ip(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	int fa = strchr(a, ':') != NULL ? AF_INET6 : AF_INET;
	int fb = strchr(b, ':') != NULL ? AF_INET6 : AF_INET;

	if (fa != fb || inet_pton(fa, a, x) != 1 || inet_pton(fb, b, y) != 1)
		return false;
	return memcmp(x, y, fa == AF_INET ? 4 : 16) == 0;
}

static bool
is_interface(const char *address)
{
	struct ifaddrs *ifs, *i;
	bool found = false;

	if (getifaddrs(&ifs) != 0)
		return false;
	for (i = ifs; i != NULL && !found; i = i->ifa_next) {
		char text[INET6_ADDRSTRLEN];
		const void *a;

		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		a = i->ifa_addr->sa_family == AF_INET ?
			(const void *)&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr :
			(const void *)&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
		if (inet_ntop(i->ifa_addr->sa_family, a, text, sizeof(text)) != NULL)
			found = same_ip(text, address);
	}
	freeifaddrs(ifs);
	return found;
}

/*
 * Ours: one of local_interfaces when they name addresses, or of every
 * interface when they are wildcards.
 */
bool
dns_host_is_self(const char *address)
{
	const char *list = conf.local_interfaces != NULL ?
		conf.local_interfaces : "<; 0.0.0.0 ; ::";
	const char *item;
	char sep = '\0';
	bool is_wild = false;

	while ((item = list_next(&list, &sep)) != NULL) {
		char *name;
		bool is_ip;
		int port;
		const char *e;

		if (dns_parse_host_item(item, &name, &is_ip, &port, &e) != 0 ||
		    !is_ip)
			continue;
		if (strcmp(name, "0.0.0.0") == 0 || strcmp(name, "::") == 0)
			is_wild = true;
		else if (same_ip(name, address))
			return true;
	}
	return is_wild && is_interface(address);
}
