/*
 * Tern SDK: what the core hands to a driver.
 *
 * A module links nothing from the core.  Every service reaches it through
 * struct tern_core, given once to the module's load() entry point.  The
 * table only ever grows at the end; `size` tells a module how much of it
 * the running core has.
 */
#ifndef TERN_CORE_H
#define TERN_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <tern/net.h>
#include <tern/rc.h>
#include <tern/str.h>

/* Opaque: one routing or delivery step of one message. */
struct tern_ctx;

enum tern_addr_kind {
	TERN_ADDR_MAIL = 0, /* local_part@domain */
	TERN_ADDR_PIPE,     /* |command, from an alias or forward file */
	TERN_ADDR_FILE,     /* /path/to/file, from an alias or forward file */
};

/* Address flags */
#define TERN_AF_DISCARD    0x01u /* :blackhole: — accepted and dropped */
#define TERN_AF_LP_CHECKED 0x02u /* local part validated by a lookup */
#define TERN_AF_HAS_UID    0x04u /* uid/gid below are set */
/*
 * (driver, on a child from add_child; forwardfile) "\user" or check_ancestor:
 * the director that made it is skipped for it, and a child equal to an
 * ancestor is kept rather than dropped as a loop.
 */
#define TERN_AF_NO_REDIRECT 0x10u
#define TERN_AF_RESULT     0x08u /* (transport) ->result is this address's own */
/*
 * (driver, ABI 1.4) ->message is meant for the sender: a :fail: or :defer:
 * text.  Only such a text reaches a remote client in an SMTP reply (RCPT,
 * VRFY, sender verification); any other message stays in the log, since
 * it may name files, servers or driver names.
 */
#define TERN_AF_USER_MESSAGE 0x20u

/*
 * One address being routed or delivered.  The core allocates it; a driver
 * may set the fields marked (driver) with strings from core->alloc/strdup.
 */
struct tern_address {
	enum tern_addr_kind kind;
	const char *address;    /* as written: user@dom, |cmd or /file */
	const char *local_part; /* MAIL: as received; PIPE/FILE: NULL */
	const char *domain;     /* lower case */
	const char *local_part_prefix;
	const char *local_part_suffix;
	const char *local_part_data; /* (driver) value a lookup gave */
	const char *home;       /* (driver) $home */
	const char *transport;  /* (driver) transport instance name */
	int64_t     uid, gid;   /* (driver) with TERN_AF_HAS_UID */
	unsigned    flags;      /* (driver) TERN_AF_* */
	const char *message;    /* (driver) error text for DEFER/FAIL */
	int         basic_errno;/* (driver) errno behind message, or 0 */
	const struct tern_address *parent; /* alias/forward parent or NULL */
	struct tern_address *next;         /* batch in a transport call */

	/* ABI 1.1, remote delivery: */
	struct tern_host *hosts;          /* (router) hosts to try, in order */
	struct tern_host *fallback_hosts; /* the router's fallback_hosts (core) */
	int         result;   /* (transport) with TERN_AF_RESULT: this
	                         address's own TERN_* result, overriding the
	                         batch's return value (e.g. one 550 RCPT) */
	const char *log_info; /* (transport) " H=host [ip] X=..." for its log
	                         line */
};

/*
 * basic_errno values below zero are Exim's codes for what is not an
 * error of the system.  Those at or below TERN_ERRNO_RETRY_BASE say that
 * a delivery was not tried because a retry time has not come; their
 * "==" lines are written only with log_selector's retry_defer (on by
 * default).  A remote transport that skipped every host for that sets
 * TERN_ERRNO_HOST_RETRY (Exim's ERRNO_HRETRY).
 */
#define TERN_ERRNO_RETRY_BASE (-52)
#define TERN_ERRNO_HOST_RETRY (-54)

/* What a driver may know about the message being handled. */
struct tern_msginfo {
	const char *id;          /* e.g. 1tX9aB-0004Kd-Q2 */
	const char *sender;      /* envelope sender, "" for bounces */
	uint64_t    size;        /* bytes of header + body as spooled */
	time_t      received;    /* arrival time */
	const char *received_protocol; /* "esmtp", "local" ... */
	const char *sender_host_address; /* NULL for local */
};

/* A user of the passwd source, from tern_core.find_user (ABI 1.3). */
struct tern_user {
	const char *name;        /* the login name, as the source spells it */
	const char *home;
	int64_t     uid, gid;
};

/* tern_core.write_message flags */
#define TERN_WR_RETURN_PATH   0x001u /* add Return-Path: <sender> */
#define TERN_WR_DELIVERY_DATE 0x002u /* add Delivery-date: */
#define TERN_WR_ENVELOPE_TO   0x004u /* add Envelope-to: (the batch) */
#define TERN_WR_ESCAPE_FROM   0x008u /* "From " at line start -> ">From " */
#define TERN_WR_CRLF          0x010u /* lines end CRLF (default LF) */
#define TERN_WR_DOTSTUFF      0x020u /* double a leading dot (SMTP) */
#define TERN_WR_HEADERS_ONLY  0x040u
#define TERN_WR_BODY_ONLY     0x080u
#define TERN_WR_MBOX_FROM     0x100u /* start with "From sender date" */
#define TERN_WR_BLANK_END     0x200u /* end with a blank line (mbox) */

/* tern_core.log destinations (may be or'ed) */
#define TERN_LOG_MAIN   0x1
#define TERN_LOG_REJECT 0x2
#define TERN_LOG_PANIC  0x4
#define TERN_LOG_DEBUG  0x8 /* only printed with -d */

/* tern_core.match_list kinds */
enum tern_list_kind {
	TERN_LIST_DOMAIN = 1, /* domains: "*.example.com", "@", lookups */
	TERN_LIST_HOST,       /* hosts: IP, CIDR, names, "+relay_hosts" */
	TERN_LIST_ADDRESS,    /* local_part@domain patterns */
	TERN_LIST_LOCALPART,  /* local parts (caseful as configured) */
	TERN_LIST_STRING,     /* plain strings and regular expressions */
};

/*
 * How an authenticator's client side talks to the server: provided by
 * the smtp transport.  command sends `line` (without CRLF) and reads the
 * whole reply: its code (334, 235, 535 ...) with *text_out the text of
 * its last line after "NNN " (ctx memory), or -1 on an I/O error or
 * timeout (*err_out).
 */
struct tern_auth_client_io {
	void *arg;
	int (*command)(void *arg, const char *line, char **text_out,
		char **err_out);
};

/*
 * The services of the running core, handed to each module's load().  Keep
 * the pointer; the table lives as long as the process.  Members are only
 * appended (ABI minor); a module built for minor N may use every member
 * present in N, and should check `size` (offsetof the member < size)
 * before using one added later.
 */
struct tern_core {
	size_t   size;     /* sizeof(struct tern_core) in the running core */
	uint16_t abi_major; /* the running core's ABI: a module built for */
	uint16_t abi_minor; /* an older minor ignores members past its own */

	/* Log a line, tagged with the message id of ctx (ctx may be NULL). */
	void (*log)(struct tern_ctx *ctx, int where, const char *fmt, ...)
		TERN_PRINTF(3, 4);

	/* Memory that lives as long as ctx's message; never NULL (panics). */
	void *(*alloc)(struct tern_ctx *ctx, size_t n);
	char *(*strdup)(struct tern_ctx *ctx, const char *s);
	char *(*printf)(struct tern_ctx *ctx, const char *fmt, ...)
		TERN_PRINTF(2, 3);

	/*
	 * Expand tmpl with the variables of ctx's current address.
	 * OK: *out set.  FAIL: forced failure ("fail" / ${if} with no
	 * branch); DEFER: a lookup could not be done now; ERROR: bad
	 * template, *err_out says why.
	 */
	int (*expand)(struct tern_ctx *ctx, const char *tmpl, char **out,
		char **err_out);

	/*
	 * Single-key or query lookup (type "lsearch", file, key) or
	 * (type "mysql", NULL, query).  OK found (*value_out), FAIL not
	 * found, DEFER cannot tell now, ERROR bad type or file.
	 */
	int (*lookup)(struct tern_ctx *ctx, const char *type, const char *file,
		const char *key, char **value_out, char **err_out);

	/* Match item against a list.  OK matched, FAIL not, DEFER lookup. */
	int (*match_list)(struct tern_ctx *ctx, enum tern_list_kind kind,
		const char *list, const char *item, char **err_out);

	/*
	 * Add a child of parent generated by an alias or forward: text is
	 * "user@dom", "user" (qualified with parent's domain), "|cmd" or
	 * "/path".  NULL with *err_out on a syntax error.
	 */
	struct tern_address *(*add_child)(struct tern_ctx *ctx,
		struct tern_address *parent, const char *text, char **err_out);

	/* The message being handled. */
	const struct tern_msginfo *(*message)(struct tern_ctx *ctx);

	/*
	 * Write the message to fd with TERN_WR_* flags, for the batch of
	 * addresses given to the transport, with the transport's generic
	 * options applied (headers_add, headers_remove ...).  OK, or DEFER
	 * with *err_out (errno is kept) on a write error or when
	 * headers_add/headers_remove cannot be expanded (nothing written).
	 */
	int (*write_message)(struct tern_ctx *ctx, int fd, unsigned flags,
		const struct tern_address *batch, char **err_out);

	/* A main-section option's value as text (NULL when unset/unknown). */
	const char *(*main_option)(const char *name);

	/* True while verifying (-bv, RCPT): no delivery will happen. */
	bool (*is_verify)(struct tern_ctx *ctx);

	/*
	 * ABI 1.1 additions.  Append only, below this line, each group under
	 * a comment naming its feature; never reorder what is above.
	 */

	/*
	 * Hints databases (spool_directory/db/<db>, LMDB).  Only hints: a
	 * lost database loses no mail.  get: OK (*val_out in ctx memory),
	 * FAIL not found, DEFER database unusable.  put/del: OK or DEFER.
	 */
	int (*hints_get)(struct tern_ctx *ctx, const char *db, const char *key,
		void **val_out, size_t *len_out);
	int (*hints_put)(struct tern_ctx *ctx, const char *db, const char *key,
		const void *val, size_t len);
	int (*hints_del)(struct tern_ctx *ctx, const char *db, const char *key);

	/*
	 * Retry hints, keyed as Exim does: "T:host:ip" (a host),
	 * "T:host:ip:port" when the port is not 25, "R:domain" (routing),
	 * "local_part@domain" (an address).  retry_due: TERN_OK (try now),
	 * TERN_DEFER (not yet due: skip it), TERN_FAIL (the retry rules'
	 * cutoff has passed and the last try also failed: give up).  In a
	 * forced run (-qf, -M) a key not yet due is TERN_OK.
	 * retry_record: after a try; error_class is Exim's ("timeout",
	 * "refused", "rcpt_4xx", "mail_4xx", "data_4xx", "quota", "auth_failed"
	 * …) or NULL on success (which deletes the record).
	 */
	int (*retry_due)(struct tern_ctx *ctx, const char *key);
	void (*retry_record)(struct tern_ctx *ctx, const char *key,
		const char *error_class, int basic_errno, const char *text);

	/*
	 * Remote delivery: DNS, host lists, connections with timeouts, the
	 * TLS client, and messages waiting for a host (tern/net.h types).
	 * Timeouts are in seconds.  Results live in ctx memory.
	 *
	 * dns_lookup: records of type for name through dns_servers/dns_port
	 * (else /etc/resolv.conf), CNAMEs followed.  OK (*out), DECLINE (the
	 * name exists but has no such records), FAIL (no such name:
	 * NXDOMAIN), DEFER (server failure, timeout: never "not found").
	 */
	int (*dns_lookup)(struct tern_ctx *ctx, const char *name, int type,
		struct tern_dns_record **out, char **err_out);
	/*
	 * The addresses of host name (TERN_HF_BYDNS: A and AAAA records;
	 * TERN_HF_BYNAME: getaddrinfo), one entry each, with port and mx as
	 * given; an IP address is returned as itself.  OK, FAIL (no such
	 * host or no address), DEFER.
	 */
	int (*host_find)(struct tern_ctx *ctx, const char *name, unsigned flags,
		int port, int mx, struct tern_host **out, char **err_out);
	/*
	 * Parse a host list: "a.example : b.example::2525 : 192.0.2.1 :
	 * [192.0.2.2]:26 : <; [2001:db8::1]:25" (names unresolved, address
	 * NULL for names).  OK, or ERROR with *err_out.
	 */
	int (*host_list_parse)(struct tern_ctx *ctx, const char *list,
		struct tern_host **out, char **err_out);
	/* Is address one of this host's own (local_interfaces, or every
	 * interface when they are wildcards)? */
	bool (*host_is_self)(struct tern_ctx *ctx, const char *address);
	/*
	 * TCP connection to address:port within timeout.  NULL with
	 * *err_out and errno (ETIMEDOUT, ECONNREFUSED ...).
	 */
	struct tern_conn *(*conn_open)(struct tern_ctx *ctx, const char *name,
		const char *address, int port, int timeout, char **err_out);
	/* Buffer output (sent by conn_flush).  Never fails. */
	void (*conn_write)(struct tern_conn *c, const char *p, size_t n);
	/* Send what is buffered.  OK, or DEFER with *err_out and errno. */
	int (*conn_flush)(struct tern_ctx *ctx, struct tern_conn *c,
		int timeout, char **err_out);
	/*
	 * One line (CRLF or LF removed, at most 2000 bytes).  OK, or DEFER
	 * with *err_out (timeout: errno ETIMEDOUT; closed: ECONNRESET).
	 */
	int (*conn_read_line)(struct tern_ctx *ctx, struct tern_conn *c,
		int timeout, char **line_out, char **err_out);
	/*
	 * Start TLS as a client (after "220" to STARTTLS).  sni: the peer's
	 * name (SNI and, with verify, the name checked); ca: a file or
	 * directory of CA certificates, or NULL/"system".  OK, DEFER
	 * (handshake or verification failed; the connection is unusable).
	 */
	int (*conn_starttls)(struct tern_ctx *ctx, struct tern_conn *c,
		const char *sni, bool verify, const char *ca, int timeout,
		char **err_out);
	/* The message, as write_message would write it, down c. */
	int (*conn_write_message)(struct tern_ctx *ctx, struct tern_conn *c,
		unsigned flags, const struct tern_address *batch, int timeout,
		char **err_out);
	void (*conn_close)(struct tern_conn *c);
	/*
	 * Messages waiting for a host, per transport ("wait-<transport>"
	 * hints; host_key is "ip:port").  wait_record: remember that this
	 * message waits for host_key.  wait_deliver: deliver other
	 * messages waiting for host_key down c, in this process, while c
	 * stays usable; returns how many were tried.  continued_conn: the
	 * connection handed down by wait_deliver to this delivery, or NULL.
	 */
	void (*wait_record)(struct tern_ctx *ctx, const char *host_key);
	int (*wait_deliver)(struct tern_ctx *ctx, struct tern_conn *c,
		const char *host_key);
	struct tern_conn *(*continued_conn)(struct tern_ctx *ctx);

	/*
	 * Taint (core/expand; docs/security.md).  Data from outside (the
	 * network, a user's file) is tainted unless a lookup or a check
	 * produced the value used; expanding it gives a tainted result.
	 * expand_path: expand tmpl for use as, or inside, a file or command
	 * path; a tainted result is refused — logged to the paniclog and
	 * TERN_DEFER with *err_out — otherwise as expand.
	 * expand_tainted: as expand, with the result in *clean_out, or, when
	 * tainted, in *tainted_out (a different type, so that it cannot be
	 * passed on as a path by mistake); the other one is zeroed.
	 */
	int (*expand_path)(struct tern_ctx *ctx, const char *tmpl, char **out,
		char **err_out);
	int (*expand_tainted)(struct tern_ctx *ctx, const char *tmpl,
		char **clean_out, struct tern_tainted *tainted_out,
		char **err_out);

	/*
	 * SMTP AUTH (plugins/auth; docs/sdk.md).
	 * auth_challenge (server side, only inside tern_auth_ops.server):
	 * send "334 " and base64 of challenge (len bytes, may be 0), read
	 * the client's line and decode it.  OK: *resp_out (NUL added, may
	 * hold NULs: *len_out bytes).  DECLINE: the client cancelled ("*").
	 * FAIL: not base64.  DEFER: connection lost or timeout.
	 * auth_set_var: $auth1..$auth3 (n = 1..3) for server_condition and
	 * server_set_id; value is copied (NULL unsets).
	 * b64_encode / b64_decode: RFC 4648 base64 in ctx memory; decode
	 * gives OK (*out NUL-terminated, *len_out bytes) or FAIL.
	 * auth_client (for the smtp transport): try every authenticator
	 * with a client side whose public_name is among server_mechs (the
	 * server's EHLO AUTH keywords, "PLAIN LOGIN"), in configuration
	 * order, until one succeeds.  OK (*name_out: the instance), FAIL
	 * (refused, or no authenticator fits), DEFER (temporary).
	 */
	int (*auth_challenge)(struct tern_ctx *ctx, const void *challenge,
		size_t len, char **resp_out, size_t *len_out);
	void (*auth_set_var)(struct tern_ctx *ctx, int n, const char *value);
	char *(*b64_encode)(struct tern_ctx *ctx, const void *data, size_t len);
	int (*b64_decode)(struct tern_ctx *ctx, const char *text, char **out,
		size_t *len_out);
	int (*auth_client)(struct tern_ctx *ctx, const char *server_mechs,
		const struct tern_auth_client_io *io, const char **name_out,
		char **err_out);

	/*
	 * Pipe transport output (forwardfile, pipe, dbm work): text to be
	 * returned to the sender in the bounce for the addresses of batch
	 * that fail (the pipe transport's return_output and
	 * return_fail_output).  The core copies up to 64K of text (len
	 * bytes; more is cut with a note) and carries it from a local
	 * delivery child back to the delivery process.  Called again, it
	 * replaces the text.
	 */
	void (*set_return_output)(struct tern_ctx *ctx,
		struct tern_address *batch, const char *text, size_t len);

	/* Message content (core/deliver/services.c) */
	/*
	 * Has the message a byte above 127 in its headers or body, as
	 * spooled, or in what the transport's headers_add adds (the smtp
	 * transport's BODY=8BITMIME)?  1 yes, 0 no, -1
	 * when the spool file cannot be read.  It reads the spool file in
	 * place, stopping at the first such byte: cheaper than writing the
	 * message out to look.
	 */
	int (*message_8bit)(struct tern_ctx *ctx);

	/* Host lists (core/dns/hostlist.c) */
	/* Put *list in a random order (hosts_randomize); any length. */
	void (*host_list_shuffle)(struct tern_host **list);

	/*
	 * ABI 1.2 additions.  Append only, below this line, as above.
	 */

	/* Shared journal commits (core/deliver/share.c) */
	/*
	 * Call just before an fsync that will commit the file system's
	 * journal for a file just given its name (a Maildir file linked
	 * into new/ on the spool's file system).  While a reception is
	 * under way in the daemon, it waits (wait_ms at most) for another
	 * delivery to reach the same point, or wakes the one waiting, so
	 * that both fsyncs go into one commit.  Make the fsync afterwards
	 * all the same.  1: joined with another delivery; 0: not.
	 */
	int (*sync_share)(struct tern_ctx *ctx, int wait_ms);

	/*
	 * ABI 1.3 additions.  Append only, below this line, as above.
	 */

	/* Users (core/lib/users.c) */
	/*
	 * The user called name in the passwd source (getpwnam, so whatever
	 * NSS is set up for), tried again in lower case when name has
	 * capitals.  The core keeps each user found for the life of the
	 * process, so that the directors asking about one local part
	 * (forwardfile's check_local_user, localuser) at RCPT and again
	 * for the delivery read the source once.  OK: *out (its strings in
	 * ctx memory); DECLINE: no such user; DEFER: the source failed
	 * (*err_out says how, errno is its error: put it in the address's
	 * basic_errno), which says nothing about the user.
	 */
	int (*find_user)(struct tern_ctx *ctx, const char *name,
		struct tern_user *out, char **err_out);

	/*
	 * ABI 1.5 additions.  Append only, below this line, as above.
	 */

	/* Logging */
	/*
	 * Is the log_selector item called name ("tls_peerdn",
	 * "outgoing_port" ...: Exim's names, docs/log.md) on?  An unknown
	 * name is off.  A driver that writes an optional part of a log line
	 * (a transport's log_info) asks before it adds it.
	 */
	bool (*log_selected)(const char *name);

	/* Remote delivery */
	/*
	 * Is this host the local host: its address one of ours
	 * (host_is_self), or its name (may be NULL) in hosts_treat_as_local?
	 * TERN_OK yes, TERN_FAIL no, TERN_DEFER (*err_out) when that list
	 * could not be checked now (a lookup in it failed).  Use it where
	 * Exim's hosts_treat_as_local applies: a router's `self` check, a
	 * transport's allow_localhost.
	 */
	int (*host_is_local)(struct tern_ctx *ctx, const char *name,
		const char *address, char **err_out);
};

#endif
