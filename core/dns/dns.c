/*
 * DNS lookups with the C library resolver.  Each process keeps one
 * private resolver state (res_ninit), pointed at dns_servers and dns_port
 * when they are set, so that tests and small sites can use a resolver on
 * a high port without touching /etc/resolv.conf.  A server failure or a
 * timeout is TERN_DEFER: it never turns into "no such domain".
 */
#include "dns/dns.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "log/log.h"
#include "log/selector.h"

#define DNS_ANSWER_MAX 65536
#define CNAME_DEPTH    8

static struct __res_state dns_res;
static bool res_ready;
static struct sockaddr_in6 res_v6[MAXNS];

bool
dns_is_ip(const char *s)
{
	unsigned char buf[16];

	return s != NULL && (inet_pton(AF_INET, s, buf) == 1 ||
		inet_pton(AF_INET6, s, buf) == 1);
}

/* Point the resolver at one dns_servers item; false if it is bad. */
static bool
add_server(struct __res_state *rs, const char *ip, int port)
{
	int n = rs->nscount;
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 *s6 = &res_v6[n];

	if (n >= MAXNS)
		return false;
	if (inet_pton(AF_INET, ip, &sin.sin_addr) == 1) {
		rs->nsaddr_list[n] = sin;
		rs->_u._ext.nsaddrs[n] = NULL;
	} else {
		memset(s6, 0, sizeof(*s6));
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			return false;
		rs->nsaddr_list[n].sin_family = 0;
		rs->_u._ext.nsaddrs[n] = s6;
	}
	rs->nscount = n + 1;
	return true;
}

static struct __res_state *
resolver(void)
{
	int port = conf.dns_port > 0 ? conf.dns_port : NS_DEFAULTPORT;

	if (res_ready)
		return &dns_res;
	memset(&dns_res, 0, sizeof(dns_res));
	if (res_ninit(&dns_res) != 0)
		log_write(TERN_LOG_MAIN, NULL, "res_ninit failed: using defaults");
	dns_res.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
	if (conf.dns_servers != NULL) {
		const char *list = conf.dns_servers, *item;
		char sep = '\0';

		dns_res.nscount = 0;
		while ((item = list_next(&list, &sep)) != NULL)
			if (!add_server(&dns_res, item, port))
				log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
					"dns_servers: ignoring \"%s\"", item);
	} else if (port != NS_DEFAULTPORT) {
		for (int i = 0; i < dns_res.nscount; i++)
			dns_res.nsaddr_list[i].sin_port = htons((uint16_t)port);
	}
	res_ready = true;
	return &dns_res;
}

static char *
rr_text(ns_msg *msg, ns_rr *rr, int type, int *pref_out)
{
	const unsigned char *rd = ns_rr_rdata(*rr);
	char name[NS_MAXDNAME], addr[INET6_ADDRSTRLEN];
	const unsigned char *eom = ns_msg_end(*msg);

	*pref_out = 0;
	switch (type) {
	case TERN_DNS_A:
		if (ns_rr_rdlen(*rr) != 4)
			return NULL;
		return arena_strdup(arena_msg, inet_ntop(AF_INET, rd, addr,
			sizeof(addr)));
	case TERN_DNS_AAAA:
		if (ns_rr_rdlen(*rr) != 16)
			return NULL;
		return arena_strdup(arena_msg, inet_ntop(AF_INET6, rd, addr,
			sizeof(addr)));
	case TERN_DNS_MX:
		if (ns_rr_rdlen(*rr) < 3)
			return NULL;
		*pref_out = (rd[0] << 8) | rd[1];
		rd += 2;
		break;
	case TERN_DNS_CNAME:
	case DNS_T_PTR:
		break;
	default:
		return NULL;
	}
	if (ns_name_uncompress(ns_msg_base(*msg), eom, rd, name,
	    sizeof(name)) < 0)
		return NULL;
	return arena_strdup(arena_msg, name);
}

/*
 * Records of type owned by `name` (or by the end of the CNAME chain that
 * starts there) in the answer.  *cname_out: where the chain ends when it
 * has no records of type, else NULL.
 */
static struct tern_dns_record *
parse_answer(const unsigned char *ans, int len, const char *name, int type,
	const char **cname_out)
{
	struct tern_dns_record *head = NULL, **tail = &head;
	const char *owner = name;
	ns_msg msg;
	ns_rr rr;
	int n;

	*cname_out = NULL;
	if (ns_initparse(ans, len, &msg) < 0)
		return NULL;
	n = ns_msg_count(msg, ns_s_an);
	/* Follow the chain first: CNAMEs may come in any order. */
	for (int depth = 0; depth < CNAME_DEPTH; depth++) {
		const char *next = NULL;
		int pref;

		for (int i = 0; i < n && next == NULL; i++)
			if (ns_parserr(&msg, ns_s_an, i, &rr) == 0 &&
			    ns_rr_type(rr) == ns_t_cname &&
			    strcasecmp(ns_rr_name(rr), owner) == 0)
				next = rr_text(&msg, &rr, TERN_DNS_CNAME, &pref);
		if (next == NULL)
			break;
		owner = next;
	}
	for (int i = 0; i < n; i++) {
		struct tern_dns_record *r;
		char *data;
		int pref;

		if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 ||
		    (int)ns_rr_type(rr) != type ||
		    strcasecmp(ns_rr_name(rr), owner) != 0 ||
		    (data = rr_text(&msg, &rr, type, &pref)) == NULL)
			continue;
		r = arena_zalloc(arena_msg, sizeof(*r));
		r->name = arena_strdup(arena_msg, owner);
		r->type = type;
		r->ttl = ns_rr_ttl(rr);
		r->pref = pref;
		r->data = data;
		*tail = r;
		tail = &r->next;
	}
	if (head == NULL && owner != name)
		*cname_out = owner;
	return head;
}

static const char *
type_name(int type)
{
	switch (type) {
	case TERN_DNS_A:     return "A";
	case TERN_DNS_AAAA:  return "AAAA";
	case TERN_DNS_MX:    return "MX";
	case TERN_DNS_CNAME: return "CNAME";
	case DNS_T_PTR:      return "PTR";
	default:             return "?";
	}
}

/* One query; TERN_OK with the raw answer, or the lookup's result. */
static int
query(const char *name, int type, unsigned char *ans, int *len_out,
	char **err_out)
{
	struct __res_state *rs = resolver();
	int len = res_nquery(rs, name, ns_c_in, type, ans, DNS_ANSWER_MAX);

	if (len >= 0) {
		*len_out = len;
		return TERN_OK;
	}
	switch (rs->res_h_errno) {
	case HOST_NOT_FOUND:
		*err_out = arena_printf(arena_msg, "%s: no such domain", name);
		return TERN_FAIL;
	case NO_DATA:
		*err_out = arena_printf(arena_msg, "%s: no %s records", name,
			type_name(type));
		return TERN_DECLINE;
	default:
		*err_out = arena_printf(arena_msg, "DNS lookup of %s (%s) gave "
			"%s", name, type_name(type),
			rs->res_h_errno == TRY_AGAIN ?
			"a server failure or timeout (TRY_AGAIN)" :
			"a non-recoverable error (NO_RECOVERY)");
		return TERN_DEFER;
	}
}

int
dns_lookup(const char *name, int type, struct tern_dns_record **out,
	char **err_out)
{
	struct arena_mark mk = arena_mark(arena_scratch);
	unsigned char *ans = arena_alloc(arena_scratch, DNS_ANSWER_MAX);
	const char *qname = name;
	size_t n = strlen(name);
	int rc = TERN_DECLINE;

	*out = NULL;
	if (n > 1 && name[n - 1] == '.')
		qname = arena_strndup(arena_msg, name, n - 1);
	for (int depth = 0; depth < CNAME_DEPTH; depth++) {
		const char *cname;
		int len = 0;

		rc = query(qname, type, ans, &len, err_out);
		if (rc != TERN_OK)
			break;
		*out = parse_answer(ans, len, qname, type, &cname);
		if (*out != NULL)
			break;
		rc = TERN_DECLINE;
		*err_out = arena_printf(arena_msg, "%s: no %s records", name,
			type_name(type));
		if (cname == NULL)
			break;
		qname = cname; /* a chain the server did not complete */
	}
	arena_release(arena_scratch, mk);
	DEBUG("dns: %s %s: rc=%d", name, type_name(type), rc);
	return rc;
}

static struct tern_host *
host_new(const char *name, const char *address, int port, int mx)
{
	struct tern_host *h = arena_zalloc(arena_msg, sizeof(*h));

	h->name = arena_strdup(arena_msg, name);
	h->address = address != NULL ? arena_strdup(arena_msg, address) : NULL;
	h->port = port;
	h->mx = mx;
	return h;
}

static int
find_bydns(const char *name, int port, int mx, struct tern_host **out,
	char **err_out)
{
	static const int types[] = { TERN_DNS_A, TERN_DNS_AAAA };
	struct tern_host **tail = out;
	bool deferred = false, nxdomain = false;
	char *why = NULL;

	for (size_t t = 0; t < 2; t++) {
		struct tern_dns_record *r;
		char *err = NULL;
		int rc = dns_lookup(name, types[t], &r, &err);

		if (rc == TERN_DEFER) {
			deferred = true;
			why = err;
		}
		nxdomain = nxdomain || rc == TERN_FAIL;
		for (; rc == TERN_OK && r != NULL; r = r->next) {
			*tail = host_new(name, r->data, port, mx);
			tail = &(*tail)->next;
		}
	}
	if (*out != NULL)
		return TERN_OK;
	if (deferred) {
		*err_out = why;
		return TERN_DEFER;
	}
	*err_out = arena_printf(arena_msg, nxdomain ? "%s: no such host" :
		"%s: host has no address records", name);
	return TERN_FAIL;
}

/*
 * host_lookup_failed: as Exim, a "byname" lookup (the system resolver:
 * manualroute's byname) that found no address gets a line of its own;
 * a DNS lookup for routing does not.
 */
static void
no_address_log(const char *name)
{
	if (LOG_SEL(host_lookup_failed))
		log_write(TERN_LOG_MAIN, NULL,
			"no IP address found for host %s", name);
}

static int
find_byname(const char *name, int port, int mx, struct tern_host **out,
	char **err_out)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	struct tern_host **tail = out;
	int e = getaddrinfo(name, NULL, &hints, &ai);

	if (e != 0) {
		*err_out = arena_printf(arena_msg, "%s: %s", name,
			gai_strerror(e));
		if (e == EAI_AGAIN || e == EAI_SYSTEM || e == EAI_MEMORY)
			return TERN_DEFER;
		no_address_log(name);
		return TERN_FAIL;
	}
	for (p = ai; p != NULL; p = p->ai_next) {
		char addr[INET6_ADDRSTRLEN];
		const void *a = p->ai_family == AF_INET ?
			(const void *)&((struct sockaddr_in *)(void *)p->ai_addr)->sin_addr :
			(const void *)&((struct sockaddr_in6 *)(void *)p->ai_addr)->sin6_addr;

		if (p->ai_family != AF_INET && p->ai_family != AF_INET6)
			continue;
		inet_ntop(p->ai_family, a, addr, sizeof(addr));
		*tail = host_new(name, addr, port, mx);
		tail = &(*tail)->next;
	}
	freeaddrinfo(ai);
	if (*out != NULL)
		return TERN_OK;
	*err_out = arena_printf(arena_msg, "%s: host has no addresses", name);
	no_address_log(name);
	return TERN_FAIL;
}

int
dns_host_find(const char *name, unsigned flags, int port, int mx,
	struct tern_host **out, char **err_out)
{
	*out = NULL;
	if (dns_is_ip(name)) {
		*out = host_new(name, name, port, mx);
		return TERN_OK;
	}
	if (flags & TERN_HF_BYNAME)
		return find_byname(name, port, mx, out, err_out);
	return find_bydns(name, port, mx, out, err_out);
}
