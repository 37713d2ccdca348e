/*
 * DNS through the C library resolver (res_n*), with a private resolver
 * state pointed at dns_servers/dns_port when they are set; host lists;
 * "is this address one of ours".  Results are in arena_msg.
 */
#ifndef TERN_CORE_DNS_DNS_H
#define TERN_CORE_DNS_DNS_H

#include <stdbool.h>

#include <tern/core.h>
#include <tern/net.h>

/*
 * Records of type for name, CNAMEs followed.  TERN_OK (*out), TERN_DECLINE
 * (no records of that type), TERN_FAIL (NXDOMAIN), TERN_DEFER (*err_out:
 * server failure or timeout).
 */
int dns_lookup(const char *name, int type, struct tern_dns_record **out,
	char **err_out);

/*
 * Addresses of name (TERN_HF_* flags; TERN_HF_BYDNS when neither), one
 * host entry each, AAAA after A.  An address literal is returned as is.
 * TERN_OK, TERN_FAIL (no such host / no addresses), TERN_DEFER.
 */
int dns_host_find(const char *name, unsigned flags, int port, int mx,
	struct tern_host **out, char **err_out);

/*
 * Parse one host list item: "name", "name:port", "192.0.2.1",
 * "[192.0.2.1]", "[2001:db8::1]:25", "2001:db8::1" (after list
 * splitting).  0, or -1 with *err_out (static text).
 */
int dns_parse_host_item(const char *item, char **name_out,
	bool *is_ip_out, int *port_out, const char **err_out);

/* A whole host list (lists.h syntax).  TERN_OK or TERN_ERROR. */
int dns_host_list_parse(const char *list, struct tern_host **out,
	char **err_out);

/*
 * Put the hosts of *list in a random order (hosts_randomize), however
 * many there are.
 */
void dns_host_list_shuffle(struct tern_host **list);

/* Is address one of this host's interfaces (see core.h host_is_self)? */
bool dns_host_is_self(const char *address);

/* PTR, for dns_lookup within the core (its data: the name). */
#define DNS_T_PTR 12

/*
 * The host name of ip, found once per process and remembered, as Exim's
 * host_lookup finds it: the names of host_lookup_order's methods
 * ("bydns": PTR records; "byaddr": getnameinfo), the first whose own
 * addresses include ip (bydns names through the DNS, byaddr names
 * through getaddrinfo).  TERN_OK (*name_out, lower case), TERN_FAIL (no
 * name, or none that leads back to ip; *err_out says which; a
 * host_lookup_failed line), TERN_DEFER (a temporary DNS error).
 */
int dns_host_name(const char *ip, const char **name_out, char **err_out);

/*
 * The name dns_host_name found for ip in this process, without looking
 * it up: NULL when none was (yet); *is_failed_out (may be NULL): a
 * lookup was made and found none (not a temporary failure).
 */
const char *dns_host_name_found(const char *ip, bool *is_failed_out);

/*
 * Is ip among name's addresses (dns_host_find with flags)?  TERN_OK,
 * TERN_DECLINE (it has addresses, not ip), TERN_FAIL (no such host or no
 * addresses, or name is an address), TERN_DEFER; *err_out but for
 * TERN_OK.
 */
int dns_name_has_ip(const char *name, unsigned flags, const char *ip,
	char **err_out);

/*
 * An address as 16 bytes, IPv4 (and ::ffff:a.b.c.d) as ::ffff:a.b.c.d,
 * so that the two forms compare equal.  False: not an address.
 */
bool dns_ip_bytes(const char *ip, unsigned char out[16]);

/* "a.b.c.d" or an IPv6 address (no brackets)? */
bool dns_is_ip(const char *s);

#endif
