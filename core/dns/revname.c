/*
 * The host name of an SMTP client, as Exim finds it (host_lookup,
 * host_lookup_order): PTR records (bydns) or the system's
 * getnameinfo() (byaddr), then a forward lookup of each name, which
 * must give the address back.  A name that does not is dropped, so
 * that whoever controls a reverse zone cannot claim another's name.
 * A process asks about one client, so the answer is kept for it.
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "log/log.h"
#include "log/selector.h"

#define NAMES_MAX 8 /* PTR names looked at, as a bound on the lookups */

static struct {
	bool  done;
	char  ip[INET6_ADDRSTRLEN];
	int   rc;
	char  name[NS_MAXDNAME];
	char  why[NS_MAXDNAME + 128];
} cache;

bool
dns_ip_bytes(const char *ip, unsigned char out[16])
{
	unsigned char v4[4];

	if (inet_pton(AF_INET, ip, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, ip, out) == 1;
}

/* The PTR owner name of an address: d.c.b.a.in-addr.arpa or nibbles. */
static bool
reverse_name(const unsigned char ip[16], char *out, size_t size)
{
	static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
	size_t n = 0;

	if (memcmp(ip, mapped, 12) == 0)
		return snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", ip[15],
			ip[14], ip[13], ip[12]) < (int)size;
	for (int i = 15; i >= 0; i--) {
		if (n + 4 >= size)
			return false;
		n += (size_t)snprintf(out + n, size - n, "%x.%x.", ip[i] & 0xf,
			ip[i] >> 4);
	}
	return snprintf(out + n, size - n, "ip6.arpa") < (int)(size - n);
}

/*
 * Letters, digits, hyphens and dots only, as Exim takes, and not an
 * address: a PTR record saying "192.0.2.1" names nothing.
 */
static bool
name_ok(const char *s)
{
	if (*s == '\0' || dns_is_ip(s))
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

int
dns_name_has_ip(const char *name, unsigned flags, const char *ip,
	char **err_out)
{
	unsigned char want[16], got[16];
	struct tern_host *h;
	int rc;

	if (!dns_ip_bytes(ip, want))
		return TERN_FAIL;
	/* A name that is an address is not looked up: "EHLO 192.0.2.1"
	 * (without brackets) is no name of 192.0.2.1. */
	if (dns_is_ip(name)) {
		*err_out = arena_printf(arena_msg, "%s is not a host name",
			name);
		return TERN_FAIL;
	}
	rc = dns_host_find(name, flags, 0, -1, &h, err_out);
	if (rc != TERN_OK)
		return rc;
	for (; h != NULL; h = h->next)
		if (h->address != NULL && dns_ip_bytes(h->address, got) &&
		    memcmp(want, got, 16) == 0)
			return TERN_OK;
	*err_out = arena_printf(arena_msg, "%s does not match any IP address "
		"for %s", ip, name);
	return TERN_DECLINE;
}

/*
 * The names one method gives for ip (lower case, checked), at most
 * NAMES_MAX.  TERN_OK (*n > 0), TERN_FAIL (none), TERN_DEFER.
 */
static int
names_bydns(const unsigned char ip[16], char **names, int *n, char **err_out)
{
	char owner[80];
	struct tern_dns_record *r;
	int rc;

	if (!reverse_name(ip, owner, sizeof(owner)))
		return TERN_FAIL;
	rc = dns_lookup(owner, DNS_T_PTR, &r, err_out);
	if (rc == TERN_DEFER)
		return TERN_DEFER;
	for (; rc == TERN_OK && r != NULL && *n < NAMES_MAX; r = r->next) {
		char *s = arena_strdup(arena_msg, r->data);
		size_t len = strlen(s);

		if (len > 0 && s[len - 1] == '.')
			s[len - 1] = '\0';
		for (char *p = s; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
		if (name_ok(s))
			names[(*n)++] = s;
	}
	return *n > 0 ? TERN_OK : TERN_FAIL;
}

static int
names_byaddr(const char *ip, char **names, int *n, char **err_out)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	char host[NI_MAXHOST];
	int e;

	if (inet_pton(AF_INET, ip,
	    &((struct sockaddr_in *)(void *)&ss)->sin_addr) == 1) {
		ss.ss_family = AF_INET;
		len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, ip,
	    &((struct sockaddr_in6 *)(void *)&ss)->sin6_addr) == 1) {
		ss.ss_family = AF_INET6;
		len = sizeof(struct sockaddr_in6);
	} else {
		return TERN_FAIL;
	}
	e = getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
		0, NI_NAMEREQD);
	if (e == EAI_AGAIN) {
		*err_out = arena_printf(arena_msg, "reverse lookup of %s: %s",
			ip, gai_strerror(e));
		return TERN_DEFER;
	}
	if (e != 0)
		return TERN_FAIL;
	for (char *p = host; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	if (!name_ok(host))
		return TERN_FAIL;
	names[(*n)++] = arena_strdup(arena_msg, host);
	return TERN_OK;
}

static void
cache_defer(const char *err)
{
	cache.rc = TERN_DEFER;
	snprintf(cache.why, sizeof(cache.why), "%s", err != NULL ? err :
		"temporary error");
}

/* Look it up; the result into cache. */
static void
lookup(const char *ip)
{
	unsigned char bytes[16];
	char *names[NAMES_MAX], *err = NULL;
	const char *list = conf.host_lookup_order, *method;
	unsigned verify_flags = TERN_HF_BYDNS;
	char sep = '\0';
	int n = 0, rc = TERN_FAIL;

	cache.rc = TERN_FAIL;
	cache.why[0] = '\0';
	if (!dns_ip_bytes(ip, bytes))
		return;
	while (rc == TERN_FAIL && (method = list_next(&list, &sep)) != NULL) {
		if (strcasecmp(method, "bydns") == 0) {
			rc = names_bydns(bytes, names, &n, &err);
			verify_flags = TERN_HF_BYDNS;
		} else if (strcasecmp(method, "byaddr") == 0) {
			rc = names_byaddr(ip, names, &n, &err);
			verify_flags = TERN_HF_BYNAME;
		}
	}
	if (rc == TERN_DEFER) {
		cache_defer(err);
		return;
	}
	if (n == 0) {
		snprintf(cache.why, sizeof(cache.why), "failed to find host name "
			"from IP address");
		if (LOG_SEL(host_lookup_failed))
			log_write(TERN_LOG_MAIN, NULL, "no host name found for "
				"IP address %s", ip);
		return;
	}
	/* The first name whose addresses include ip is the host's. */
	for (int i = 0; i < n; i++) {
		err = NULL;
		rc = dns_name_has_ip(names[i], verify_flags, ip, &err);
		if (rc == TERN_OK) {
			cache.rc = TERN_OK;
			snprintf(cache.name, sizeof(cache.name), "%s", names[i]);
			return;
		}
		if (rc == TERN_DEFER) {
			cache_defer(err);
			return;
		}
	}
	snprintf(cache.why, sizeof(cache.why), "%s does not match any IP "
		"address for %s", ip, names[0]);
}

int
dns_host_name(const char *ip, const char **name_out, char **err_out)
{
	if (!cache.done || strcmp(cache.ip, ip) != 0) {
		snprintf(cache.ip, sizeof(cache.ip), "%s", ip);
		lookup(ip);
		/* A temporary failure is asked again when next needed. */
		cache.done = cache.rc != TERN_DEFER;
	}
	*name_out = cache.rc == TERN_OK ? cache.name : NULL;
	if (cache.rc != TERN_OK && err_out != NULL)
		*err_out = arena_strdup(arena_msg, cache.why);
	return cache.rc;
}

const char *
dns_host_name_found(const char *ip, bool *is_failed_out)
{
	bool is_now = cache.done && strcmp(cache.ip, ip) == 0;

	if (is_failed_out != NULL)
		*is_failed_out = is_now && cache.rc == TERN_FAIL;
	return is_now && cache.rc == TERN_OK ? cache.name : NULL;
}
