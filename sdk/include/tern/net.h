/*
 * Tern SDK: DNS records, hosts and connections, for routers and remote
 * transports.  The services that use these types are in struct tern_core
 * (tern/core.h, "Remote delivery" group, ABI 1.1).
 */
#ifndef TERN_NET_H
#define TERN_NET_H

#include <stdbool.h>
#include <stddef.h>

/* DNS record types for tern_core.dns_lookup (the RFC 1035 numbers). */
#define TERN_DNS_A     1
#define TERN_DNS_CNAME 5
#define TERN_DNS_MX    15
#define TERN_DNS_AAAA  28

/* One DNS record of an answer; CNAME chains are already followed. */
struct tern_dns_record {
	const char *name;  /* owner name (the end of any CNAME chain) */
	int         type;  /* TERN_DNS_* */
	unsigned    ttl;
	int         pref;  /* MX preference; 0 for other types */
	const char *data;  /* MX: exchange name; A/AAAA: address text */
	struct tern_dns_record *next;
};

/*
 * One host to try.  A name with several addresses becomes several
 * entries (same name, one address each), in the order to try them.
 */
struct tern_host {
	const char *name;    /* host name, or the address for an IP literal */
	const char *address; /* IPv4/IPv6 text; NULL until looked up */
	int         port;    /* 0: the transport's port */
	int         mx;      /* MX preference, -1 when not from an MX record */
	unsigned    flags;   /* TERN_HOST_* */
	struct tern_host *next;
};

#define TERN_HOST_FALLBACK 0x1u /* from fallback_hosts */

/* tern_core.host_find flags */
#define TERN_HF_BYNAME 0x1u /* getaddrinfo(): /etc/hosts, then the system resolver */
#define TERN_HF_BYDNS  0x2u /* A and AAAA records through dns_servers */

/*
 * A connection to a remote host, made by tern_core.conn_open.  The core
 * owns it; a transport reads these fields and may keep its own state
 * (e.g. the peer's EHLO capabilities) in `user`, which stays with the
 * connection when it is passed on to the next message for the same host.
 */
struct tern_conn {
	int         fd;
	const char *host_name;
	const char *host_address;
	int         port;
	bool        is_tls;
	bool        tls_verified; /* the peer's certificate was checked */
	const char *tls_info;     /* "TLS1.3:TLS_AES_256_GCM_SHA384:256" */
	void       *user;         /* the transport's, lives with the conn */
	/*
	 * ABI 1.5 (a core with tern_core.log_selected has it): the
	 * subject of the server's certificate (RFC 2253, control
	 * characters escaped), set only while log_selector's tls_peerdn
	 * is on; NULL otherwise.
	 */
	const char *tls_peerdn;
};

#endif
