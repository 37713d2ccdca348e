/*
 * log_selector, as in Exim 4: "+name" turns an optional part of the
 * mainlog on, "-name" off, from the defaults below, which are Exim's but
 * for incoming_port (on in Tern: its <= lines have always had the
 * client's port).  Exim's defaults are those of its source (globals.c,
 * log_default), which has outgoing_interface and queue_time_exclusive
 * on where its manual's table does not say so.  Every name Exim knows
 * is accepted, so that an Exim administrator's setting loads;
 * docs/log.md lists what each one writes in Tern, and the names of
 * features Tern does not have, which write nothing.
 */
#include "log/selector.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"

bool log_selected[LS_COUNT];

static const struct {
	const char *name;
	bool        dflt;
} sel[LS_COUNT] = {
#define S(n, d) [LS_##n] = { #n, d }
	S(8bitmime, false),
	S(acl_warn_skipped, true),
	S(address_rewrite, false),
	S(all_parents, false),
	S(arguments, false),
	S(connection_id, false),
	S(connection_reject, true),
	S(delay_delivery, true),
	S(deliver_time, false),
	S(delivery_size, false),
	S(dkim, true),
	S(dkim_verbose, false),
	S(dmarc, false),
	S(dmarc_verbose, false),
	S(dnslist_defer, true),
	S(dnssec, false),
	S(etrn, true),
	S(host_lookup_failed, true),
	S(ident_timeout, false),
	S(incoming_interface, false),
	S(incoming_port, true),
	S(lost_incoming_connection, true),
	S(millisec, false),
	S(msg_id, true),
	S(msg_id_created, false),
	S(outgoing_interface, true),
	S(outgoing_port, false),
	S(pid, false),
	S(pipelining, false),
	S(protocol_detail, false),
	S(proxy, false),
	S(queue_run, true),
	S(queue_time, false),
	S(queue_time_exclusive, true),
	S(queue_time_overall, false),
	S(receive_time, false),
	S(received_recipients, false),
	S(received_sender, false),
	S(rejected_header, true),
	S(retry_defer, true),
	S(return_path_on_delivery, false),
	S(sender_on_delivery, false),
	S(sender_verify_fail, true),
	S(size_reject, true),
	S(skip_delivery, true),
	S(smtp_confirmation, true),
	S(smtp_connection, false),
	S(smtp_incomplete_transaction, false),
	S(smtp_mailauth, false),
	S(smtp_no_mail, false),
	S(smtp_protocol_error, false),
	S(smtp_syntax_error, false),
	S(spf, false),
	S(spf_verbose, false),
	S(subject, false),
	S(tls_certificate_verified, true),
	S(tls_cipher, true),
	S(tls_on_connect, false),
	S(tls_peerdn, false),
	S(tls_resumption, false),
	S(tls_sni, false),
	S(unknown_in_list, false),
#undef S
};

void
log_selector_reset(void)
{
	for (int i = 0; i < LS_COUNT; i++)
		log_selected[i] = sel[i].dflt;
}

static int
find(const char *name, size_t len)
{
	for (int i = 0; i < LS_COUNT; i++)
		if (strlen(sel[i].name) == len &&
		    strncmp(sel[i].name, name, len) == 0)
			return i;
	return -1;
}

int
log_selector_set(const char *text, char **err_out)
{
	bool v[LS_COUNT];
	const char *p = text != NULL ? text : "";

	for (int i = 0; i < LS_COUNT; i++)
		v[i] = sel[i].dflt;
	for (;;) {
		const char *name;
		size_t len;
		bool on;
		int k;

		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0')
			break;
		if (*p != '+' && *p != '-') {
			*err_out = arena_printf(arena_scratch, "\"%.*s\": each "
				"item must start with + or -", (int)strcspn(p,
				" \t"), p);
			return -1;
		}
		on = *p++ == '+';
		name = p;
		while (*p != '\0' && !isspace((unsigned char)*p))
			p++;
		len = (size_t)(p - name);
		if (len == 3 && strncmp(name, "all", 3) == 0) {
			for (int i = 0; i < LS_COUNT; i++)
				v[i] = on;
			continue;
		}
		if ((k = find(name, len)) < 0) {
			*err_out = arena_printf(arena_scratch, "unknown "
				"selector \"%.*s\"", (int)len, name);
			return -1;
		}
		v[k] = on;
	}
	memcpy(log_selected, v, sizeof(v));
	return 0;
}

const char *
log_client(struct arena *a, const char *name, const char *helo,
	const char *ip, int port, const char *iface, int iport)
{
	const char *n = name != NULL ? arena_printf(a, "%s ", name) : "";
	const char *h = "", *p = "", *i = "";

	if (helo != NULL && (name == NULL || str_casecmp(helo, name) != 0))
		h = arena_printf(a, "(%s) ", str_printable(a, helo,
			strlen(helo)));
	if (LOG_SEL(incoming_port))
		p = arena_printf(a, ":%d", port);
	if (LOG_SEL(incoming_interface) && iface != NULL)
		i = arena_printf(a, " I=[%s]:%d", iface, iport);
	return arena_printf(a, "%s%s[%s]%s%s", n, h, ip, p, i);
}

const char *
log_conn_id(struct arena *a)
{
	return LOG_SEL(connection_id) ? arena_printf(a, " Ci=%d",
		(int)getpid()) : "";
}

const char *
log_tls_fields(struct arena *a, const char *cipher, const char *verified,
	const char *peerdn, const char *sni)
{
	return arena_printf(a, "%s%s%s%s%s%s%s%s%s",
		cipher != NULL && LOG_SEL(tls_cipher) ? " X=" : "",
		cipher != NULL && LOG_SEL(tls_cipher) ? cipher : "",
		verified != NULL && LOG_SEL(tls_certificate_verified) ?
		" CV=" : "",
		verified != NULL && LOG_SEL(tls_certificate_verified) ?
		verified : "",
		peerdn != NULL && LOG_SEL(tls_peerdn) ? " DN=\"" : "",
		peerdn != NULL && LOG_SEL(tls_peerdn) ? peerdn : "",
		peerdn != NULL && LOG_SEL(tls_peerdn) ? "\"" : "",
		sni != NULL && LOG_SEL(tls_sni) ? " SNI=" : "",
		sni != NULL && LOG_SEL(tls_sni) ? sni : "");
}

long long
log_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
log_duration(long long ms)
{
	static const struct { char unit; long long secs; } units[] = {
		{ 'w', 7 * 86400 }, { 'd', 86400 }, { 'h', 3600 },
		{ 'm', 60 }, { 's', 1 },
	};
	char out[64];
	size_t o = 0;
	long long s;

	if (ms < 0)
		ms = 0;
	if (LOG_SEL(millisec) && ms < 60000)
		return arena_printf(arena_scratch, "%lld.%03llds", ms / 1000,
			ms % 1000);
	s = ms / 1000;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		long long k = s / units[i].secs;

		if (k == 0 && !(units[i].unit == 's' && o == 0))
			continue;
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%lld%c", k,
			units[i].unit);
		s -= k * units[i].secs;
	}
	return arena_strdup(arena_scratch, out);
}

bool
log_selected_name(const char *name)
{
	int k = name != NULL ? find(name, strlen(name)) : -1;

	return k >= 0 && log_selected[k];
}
