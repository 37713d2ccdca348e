/*
 * The variables of the SMTP session being handled by this process, for
 * expansions made while no message exists yet (auth_advertise_hosts,
 * server_condition, tls_certificate for SNI ...): $auth1..$auth3,
 * $authenticated_id, $tls_in_cipher, $tls_in_peerdn, $tls_in_sni, and
 * both ends of the connection ($sender_host_address, $received_port ...).
 * A reception process handles one connection, so these are globals.
 */
#ifndef TERN_CORE_SMTP_IN_VARS_H
#define TERN_CORE_SMTP_IN_VARS_H

#include <stdbool.h>

struct smtp_in_vars {
	const char *auth[3];          /* $auth1..$auth3: from the client */
	const char *authenticated_id; /* after a successful AUTH */
	const char *authenticator;    /* instance name that accepted it */
	const char *tls_cipher;       /* "TLS1.3:TLS_AES_256_GCM_SHA384:256" */
	const char *tls_version;      /* "TLS1.3" */
	const char *tls_cipher_std;   /* the cipher's RFC (IANA) name */
	const char *tls_peerdn;       /* client certificate subject */
	const char *tls_sni;          /* server name the client asked for */
	const char *tls_verified;     /* "yes"/"no": the client's certificate
	                                 was verified; NULL: it sent none */
	const char *host_address;     /* $sender_host_address */
	const char *host_port;        /* $sender_host_port */
	const char *host_name;        /* $sender_host_name, once found */
	const char *host_lookup_failed; /* "1" after a failed lookup, "0" */
	const char *interface_address; /* $received_ip_address */
	const char *interface_port;   /* $received_port */
	const char *received_protocol;
};

extern struct smtp_in_vars smtp_in_vars;

/*
 * If name is a session variable: true, with its value (NULL when unset)
 * and whether it came from the client.  False for any other name.
 */
bool smtp_in_var(const char *name, const char **value_out,
	bool *is_tainted_out);

#endif
