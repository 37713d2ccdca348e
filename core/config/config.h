/*
 * The configuration: main options, named lists, driver instances, retry
 * and rewrite rules, read once per process into arena_perm.
 */
#ifndef TERN_CORE_CONFIG_CONFIG_H
#define TERN_CORE_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <tern/module.h>
#include <tern/options.h>

/*
 * Main options.  Every main option DESIGN.md names is here from the start;
 * those not implemented yet are flagged TERN_OPTF_FUTURE in the table in
 * options.c (-bP marks them, the daemon warns when one is set).
 */
struct main_config {
	const char *primary_hostname;   /* default: uname nodename */
	const char *qualify_domain;     /* default: primary_hostname */
	const char *qualify_recipient;  /* default: qualify_domain */
	const char *local_domains;      /* domain list; default @ (primary) */
	const char *relay_to_domains;
	const char *relay_from_hosts;
	const char *daemon_smtp_ports;  /* default "25" */
	const char *local_interfaces;   /* default "0.0.0.0 : ::" */
	const char *spool_directory;
	const char *log_file_path;      /* default spool/log/%slog */
	const char *log_selector;       /* +name -name: log/selector.h */
	const char *module_directory;
	const char *tern_user;
	const char *tern_group;
	const char *trusted_users;
	const char *trusted_groups;
	const char *never_users;        /* default "root" */
	uint64_t    message_size_limit; /* default 50M */
	const char *smtp_banner;        /* expandable */
	const char *received_header_text; /* expandable */
	bool        smtp_verify;        /* VRFY allowed; default false */
	bool        smtp_return_error_details; /* verify errors in replies */
	bool        receiver_verify;    /* default true */
	bool        sender_verify;      /* default false */
	bool        spool_sync;         /* default true */
	int         spool_reuse_max;    /* files kept in pool/; default 250 */
	bool        message_logs;       /* L records (-Mvl); default true */
	bool        queue_only;
	bool        queue_run_in_order;
	bool        split_spool_directory;
	int         smtp_accept_max;
	int         smtp_accept_reserve;
	const char *smtp_reserve_hosts;
	int         smtp_accept_max_per_host;
	int         smtp_accept_queue;
	int         smtp_accept_queue_per_connection;
	const char *smtp_load_reserve;
	const char *queue_only_load;
	const char *deliver_queue_load_max;
	int         queue_run_max;
	int         smtp_receive_timeout;  /* default 5m */
	int         smtp_max_unknown_commands;
	int         recipients_max;
	int         received_headers_max;  /* loop detection, default 30 */
	uint64_t    check_spool_space;
	int         check_spool_inodes;
	const char *dns_servers;
	int         dns_port;
	const char *tls_certificate;
	const char *tls_privatekey;
	const char *tls_advertise_hosts;
	const char *tls_require_ciphers;
	const char *tls_on_connect_ports;
	const char *tls_verify_hosts;
	const char *tls_verify_certificates;
	const char *auth_advertise_hosts;
	const char *pipelining_advertise_hosts;
	const char *delay_warning;
	const char *errors_to;
	int         ignore_bounce_errors_after;
	int         timeout_frozen_after;
	const char *freeze_tell;
	const char *ldap_default_servers;
	const char *mysql_servers;
	const char *percent_hack_domains;
	int         retry_data_expire;
	const char *hosts_treat_as_local;
	const char *helo_verify_hosts;
	const char *helo_try_verify_hosts;
	const char *host_lookup;       /* clients whose name is looked up */
	const char *host_lookup_order; /* "bydns", "byaddr" */
	const char *message_id_header_text;
	const char *message_id_header_domain;
	bool        smtp_enforce_sync;
	int         smtp_max_synprot_errors;
	int         header_maxsize;
	int         smtp_connect_backlog;
	const char *system_filter;
	/* SMTP AUTH and header limits (issue 6). */
	int         smtp_max_auth_failures;  /* then 421; default 3 */
	int         smtp_auth_failure_delay; /* seconds, doubled per failure */
	int         header_line_maxsize;     /* one header line; 0 = none */
	int         header_count_max;        /* header lines; 0 = none */
	/* Bounces (issue 4, queue). */
	bool        bounce_return_message;   /* default true */
	uint64_t    bounce_return_size_limit;/* default 100K */
};

extern struct main_config conf;
extern const struct tern_option main_options[];

/* Generic director/router options (the core's, not the module's). */
struct route_generic {
	const char *domains;
	const char *local_parts;
	const char *senders;
	const char *condition;       /* expandable */
	const char *local_part_prefix;
	const char *local_part_suffix;
	bool        local_part_prefix_optional;
	bool        local_part_suffix_optional;
	bool        more;            /* default true */
	bool        unseen;
	bool        verify;          /* default true */
	bool        verify_only;
	const char *debug_print;
	const char *fallback_hosts;
	const char *errors_to;
	const char *transport;
	const char *user;            /* expandable */
	const char *group;
	bool        caseful_local_part;
	bool        rewrite;         /* default true: rewrite children (T) */
};

/* The generic director/router options table (over struct route_generic). */
extern const struct tern_option route_generic_options[];

/* Generic transport options. */
struct transport_generic {
	const char *user;            /* expandable */
	const char *group;
	const char *home_directory;
	const char *current_directory;
	const char *headers_add;
	const char *headers_remove;
	const char *headers_rewrite; /* rules, parsed into headers_rules */
	struct rewrite_rule *headers_rules;
	const char *return_path;     /* expandable: the sender to use */
	bool        return_path_add;
	bool        delivery_date_add;
	bool        envelope_to_add;
	bool        body_only;
	bool        headers_only;
	bool        initgroups;
	int         batch_max;       /* default 1 */
	const char *debug_print;
};

/* The generic transport options table (over struct transport_generic). */
extern const struct tern_option transport_generic_options[];

/* Generic authenticator options (Exim 4's), used by core/smtp_in/auth.c. */
struct auth_generic {
	const char *public_name;      /* default: the instance name */
	const char *server_condition; /* expandable; checked after the driver */
	const char *server_set_id;    /* expandable: $authenticated_id */
	const char *server_advertise_condition; /* expandable */
	const char *client_condition; /* expandable */
	const char *server_debug_print; /* expandable */
};

extern const struct tern_option auth_generic_options[];

struct driver_inst {
	struct tern_instance       pub;   /* name, driver, opts ... */
	enum tern_kind             kind;
	const struct tern_module  *mod;
	union {
		struct route_generic      route;     /* directors, routers */
		struct transport_generic  transport;
		struct auth_generic       auth;
	} g;
	struct driver_inst        *next;
};

struct named_list {
	const char        *kind; /* "domainlist", "hostlist", "addresslist", "localpartlist" */
	const char        *name;
	const char        *value;
	struct named_list *next;
};

struct retry_rule {
	const char        *pattern;
	const char        *error;    /* "*" or error class */
	const char        *rules;    /* "F,2h,15m; G,16h,1h,1.5" as text */
	struct retry_rule *next;
};

struct rewrite_rule {
	const char          *pattern;
	const char          *replacement;
	const char          *flags;
	int                  bits;     /* RW_* (rewrite/rewrite.h) */
	struct rewrite_rule *next;
};

/*
 * One rule "pattern replacement flags" (fields end at white space unless
 * double-quoted) into *r, in arena_perm: for "begin rewrite" and the
 * transports' headers_rewrite.  0, or -1 with *err_out.
 */
int config_rewrite_rule(const char *text, struct rewrite_rule *r,
	char **err_out);

struct config {
	const char          *file;   /* the main file read */
	struct driver_inst  *directors, *routers, *transports, *authenticators;
	struct named_list   *lists;
	struct retry_rule   *retries;
	struct rewrite_rule *rewrites;
	const char         **future_set; /* FUTURE options set (for warnings) */
	const uid_t         *never_uids; /* never_users, looked up (Exim's */
	size_t               never_uids_n; /* uid list): see config_read */
};

extern struct config cfg;

/* -D NAME=value, collected before config_read(). */
void config_define_macro(const char *name_eq_value);

/*
 * Read and check the whole configuration, load the modules it names and
 * init their instances.  On error, print "file:line: message" to stderr
 * and return -1: the caller exits non-zero without touching the spool.
 */
int config_read(const char *path);

/*
 * The same for a configuration held in memory (name is used in error
 * messages): for the fuzzer and tests.  .include still reads files.
 */
int config_read_text(const char *name, const char *text);

/* The embedded default configuration (README run command, -C -). */
extern const char config_embedded_default[];

/*
 * -bP: with no args, every main option; "name" one option; "transports",
 * "directors", "routers", "authenticators" (or e.g. "transport NAME")
 * the instances with all their options.  0, or 1 for an unknown name.
 */
int config_print(int argc, char **argv);

/* The text of a main option as config would print it (for core->main_option). */
const char *config_main_option_text(const char *name);

struct driver_inst *config_find_transport(const char *name);
const struct named_list *config_find_list(const char *kind, const char *name);

/*
 * Parse `text` as option type `type` into *dest (helpers shared with
 * module options).  0 or -1 with *err_out.
 */
int option_parse_value(enum tern_opt_type type, const char *text, void *dest,
	char **err_out);
/* Option value as text, for -bP. */
char *option_value_text(const struct tern_option *opt, const void *block);

#endif
