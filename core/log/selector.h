/*
 * log_selector: Exim's names for the optional parts of the mainlog, each
 * on or off.  docs/log.md, "log_selector", says what each one writes in
 * Tern and which name a feature Tern does not have.
 */
#ifndef TERN_CORE_LOG_SELECTOR_H
#define TERN_CORE_LOG_SELECTOR_H

#include <stdbool.h>

enum log_sel {
	LS_8bitmime,
	LS_acl_warn_skipped,
	LS_address_rewrite,
	LS_all_parents,
	LS_arguments,
	LS_connection_id,
	LS_connection_reject,
	LS_delay_delivery,
	LS_deliver_time,
	LS_delivery_size,
	LS_dkim,
	LS_dkim_verbose,
	LS_dmarc,
	LS_dmarc_verbose,
	LS_dnslist_defer,
	LS_dnssec,
	LS_etrn,
	LS_host_lookup_failed,
	LS_ident_timeout,
	LS_incoming_interface,
	LS_incoming_port,
	LS_lost_incoming_connection,
	LS_millisec,
	LS_msg_id,
	LS_msg_id_created,
	LS_outgoing_interface,
	LS_outgoing_port,
	LS_pid,
	LS_pipelining,
	LS_protocol_detail,
	LS_proxy,
	LS_queue_run,
	LS_queue_time,
	LS_queue_time_exclusive,
	LS_queue_time_overall,
	LS_receive_time,
	LS_received_recipients,
	LS_received_sender,
	LS_rejected_header,
	LS_retry_defer,
	LS_return_path_on_delivery,
	LS_sender_on_delivery,
	LS_sender_verify_fail,
	LS_size_reject,
	LS_skip_delivery,
	LS_smtp_confirmation,
	LS_smtp_connection,
	LS_smtp_incomplete_transaction,
	LS_smtp_mailauth,
	LS_smtp_no_mail,
	LS_smtp_protocol_error,
	LS_smtp_syntax_error,
	LS_spf,
	LS_spf_verbose,
	LS_subject,
	LS_tls_certificate_verified,
	LS_tls_cipher,
	LS_tls_on_connect,
	LS_tls_peerdn,
	LS_tls_resumption,
	LS_tls_sni,
	LS_unknown_in_list,
	LS_COUNT
};

/* On or off, as the configuration's log_selector left it. */
extern bool log_selected[LS_COUNT];
#define LOG_SEL(name) (log_selected[LS_##name])

/* Back to the defaults (config_read does it before each read). */
void log_selector_reset(void);

/*
 * Apply a log_selector value: "+name" and "-name" items, separated by
 * white space, in order from the defaults; "all" is every name.  -1 with
 * *err_out (arena_scratch) on an item without + or -, or an unknown name.
 */
int log_selector_set(const char *text, char **err_out);

/*
 * A duration for a log field (RT=, QT=, DT=, D=) as Exim writes it: "3s",
 * "1m2s", "2d3h", "0s"; with millisec, under a minute "0.304s".  In
 * arena_scratch.
 */
const char *log_duration(long long ms);
/* A monotonic clock in milliseconds, for the durations above. */
long long log_clock_ms(void);

/*
 * The parts of log lines that several writers share (reception, the SMTP
 * session's own lines), each under its selectors; in arena a.
 *
 * log_client: a client, "name (helo) [ip]:port I=[ip]:port" -- (helo)
 * when given and not the same as name, the port with incoming_port, I=
 * with incoming_interface when iface is known.
 */
struct arena;
const char *log_client(struct arena *a, const char *name, const char *helo,
	const char *ip, int port, const char *iface, int iport);
/* " Ci=pid" (connection_id), else "". */
const char *log_conn_id(struct arena *a);
/* " X=cipher CV=yes DN=\"subject\" SNI=name": the TLS fields that are
 * set and selected (tls_cipher, tls_certificate_verified, tls_peerdn,
 * tls_sni), in Exim's order. */
const char *log_tls_fields(struct arena *a, const char *cipher,
	const char *verified, const char *peerdn, const char *sni);

/* Is the selector called name on?  An unknown name is off. */
bool log_selected_name(const char *name);

#endif
