/*
 * Option tables (main, generic director/router, generic transport) and the
 * typed value parser shared with every module's private options.  Defaults
 * are written as configuration text and parsed by the same code, so -bP and
 * the reader always agree.
 */
#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/internal.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "lib/buf.h"

struct main_config conf;
struct config cfg;

#define FUT TERN_OPTF_FUTURE
#define M(name, type, dflt) \
	TERN_OPT(#name, type, struct main_config, name, dflt)
#define MF(name, type, dflt, fl) \
	TERN_OPT_F(#name, type, struct main_config, name, dflt, fl)

const struct tern_option main_options[] = {
	M(primary_hostname, STRING, NULL),
	M(qualify_domain, STRING, NULL),
	M(qualify_recipient, STRING, NULL),
	M(local_domains, DOMAINLIST, "@"),
	M(relay_to_domains, DOMAINLIST, NULL),
	M(relay_from_hosts, HOSTLIST, NULL),
	M(daemon_smtp_ports, LIST, "25"),
	M(local_interfaces, LIST, "<; 0.0.0.0 ; ::"),
	M(spool_directory, STRING, TERN_SPOOL_DEFAULT),
	M(log_file_path, STRING, NULL),
	M(log_selector, STRING, NULL),
	M(module_directory, STRING, NULL),
	M(tern_user, STRING, "tern"),
	M(tern_group, STRING, NULL),
	M(trusted_users, LIST, NULL),
	M(trusted_groups, LIST, NULL),
	M(never_users, LIST, "root"),
	M(message_size_limit, SIZE, "50M"),
	M(smtp_banner, EXPSTR, NULL),
	M(received_header_text, EXPSTR, NULL),
	M(smtp_verify, BOOL, "false"),
	M(smtp_return_error_details, BOOL, "false"),
	M(receiver_verify, BOOL, "true"),
	M(sender_verify, BOOL, "false"),
	M(spool_sync, BOOL, "true"),
	M(spool_reuse_max, INT, "250"),
	M(message_logs, BOOL, "true"),
	M(queue_only, BOOL, "false"),
	M(queue_run_in_order, BOOL, "false"),
	MF(split_spool_directory, BOOL, "false", FUT),
	MF(smtp_accept_max, INT, "20", 0),
	M(smtp_accept_reserve, INT, "0"),
	M(smtp_reserve_hosts, HOSTLIST, NULL),
	M(smtp_accept_max_per_host, INT, "0"),
	M(smtp_accept_queue, INT, "0"),
	M(smtp_accept_queue_per_connection, INT, "10"),
	M(smtp_load_reserve, STRING, NULL),
	M(queue_only_load, STRING, NULL),
	M(deliver_queue_load_max, STRING, NULL),
	MF(queue_run_max, INT, "5", 0),
	M(smtp_receive_timeout, TIME, "5m"),
	M(smtp_max_unknown_commands, INT, "3"),
	M(recipients_max, INT, "50000"),
	M(received_headers_max, INT, "30"),
	M(check_spool_space, SIZE, "0"),
	M(check_spool_inodes, INT, "0"),
	M(dns_servers, LIST, NULL),
	M(dns_port, INT, "53"),
	M(tls_certificate, EXPSTR, NULL),
	M(tls_privatekey, EXPSTR, NULL),
	M(tls_advertise_hosts, HOSTLIST, "*"),
	M(tls_require_ciphers, STRING, NULL),
	M(tls_on_connect_ports, LIST, NULL),
	M(tls_verify_hosts, HOSTLIST, NULL),
	M(tls_verify_certificates, STRING, "system"),
	M(auth_advertise_hosts, EXPSTR, NULL),
	M(pipelining_advertise_hosts, HOSTLIST, "*"),
	M(delay_warning, LIST, "24h"),
	M(errors_to, STRING, NULL),
	M(ignore_bounce_errors_after, TIME, "10w"),
	M(timeout_frozen_after, TIME, "0s"),
	M(freeze_tell, LIST, NULL),
	M(ldap_default_servers, LIST, NULL),
	MF(mysql_servers, LIST, NULL, TERN_OPTF_HIDDEN),
	MF(percent_hack_domains, DOMAINLIST, NULL, FUT),
	M(retry_data_expire, TIME, "7d"),
	M(hosts_treat_as_local, DOMAINLIST, NULL),
	M(helo_verify_hosts, HOSTLIST, NULL),
	MF(helo_try_verify_hosts, HOSTLIST, NULL, FUT),
	M(host_lookup, HOSTLIST, NULL),
	M(host_lookup_order, LIST, "bydns:byaddr"),
	M(message_id_header_text, EXPSTR, NULL),
	M(message_id_header_domain, EXPSTR, NULL),
	M(smtp_enforce_sync, BOOL, "true"),
	M(smtp_max_synprot_errors, INT, "3"),
	M(header_maxsize, INT, "1M"),
	M(smtp_connect_backlog, INT, "128"),
	MF(system_filter, STRING, NULL, FUT),
	M(smtp_max_auth_failures, INT, "3"),
	M(smtp_auth_failure_delay, TIME, "1s"),
	M(header_line_maxsize, INT, "0"),
	M(header_count_max, INT, "1000"),
	M(bounce_return_message, BOOL, "true"),
	M(bounce_return_size_limit, SIZE, "100K"),
	TERN_OPT_END
};

#define R(name, type, dflt) \
	TERN_OPT(#name, type, struct route_generic, name, dflt)

const struct tern_option route_generic_options[] = {
	R(domains, DOMAINLIST, NULL),
	R(local_parts, LIST, NULL),
	R(senders, LIST, NULL),
	R(condition, EXPSTR, NULL),
	R(local_part_prefix, LIST, NULL),
	R(local_part_suffix, LIST, NULL),
	R(local_part_prefix_optional, BOOL, "false"),
	R(local_part_suffix_optional, BOOL, "false"),
	R(more, BOOL, "true"),
	R(unseen, BOOL, "false"),
	R(verify, BOOL, "true"),
	R(verify_only, BOOL, "false"),
	R(debug_print, EXPSTR, NULL),
	R(fallback_hosts, LIST, NULL),
	R(errors_to, STRING, NULL),
	R(transport, STRING, NULL),
	R(user, EXPSTR, NULL),
	R(group, STRING, NULL),
	R(caseful_local_part, BOOL, "false"),
	R(rewrite, BOOL, "true"),
	TERN_OPT_END
};

#define A(name, type, dflt) \
	TERN_OPT(#name, type, struct auth_generic, name, dflt)

const struct tern_option auth_generic_options[] = {
	A(public_name, STRING, NULL),
	A(server_condition, EXPSTR, NULL),
	A(server_set_id, EXPSTR, NULL),
	A(server_advertise_condition, EXPSTR, NULL),
	A(client_condition, EXPSTR, NULL),
	A(server_debug_print, EXPSTR, NULL),
	TERN_OPT_END
};

#define T(name, type, dflt) \
	TERN_OPT(#name, type, struct transport_generic, name, dflt)

const struct tern_option transport_generic_options[] = {
	T(user, EXPSTR, NULL),
	T(group, STRING, NULL),
	T(home_directory, EXPSTR, NULL),
	T(current_directory, EXPSTR, NULL),
	T(headers_add, EXPSTR, NULL),
	T(headers_remove, LIST, NULL),
	T(headers_rewrite, STRING, NULL),
	T(return_path, EXPSTR, NULL),
	T(return_path_add, BOOL, "false"),
	T(delivery_date_add, BOOL, "false"),
	T(envelope_to_add, BOOL, "false"),
	T(body_only, BOOL, "false"),
	T(headers_only, BOOL, "false"),
	T(initgroups, BOOL, "false"),
	T(batch_max, INT, "1"),
	T(debug_print, EXPSTR, NULL),
	TERN_OPT_END
};

const struct tern_option *
option_find(const struct tern_option *tab, const char *name)
{
	if (tab == NULL)
		return NULL;
	for (; tab->name != NULL; tab++)
		if (strcmp(tab->name, name) == 0)
			return tab;
	return NULL;
}

enum tern_list_kind
option_list_kind(enum tern_opt_type type)
{
	switch (type) {
	case TERN_OPT_LIST:       return TERN_LIST_STRING;
	case TERN_OPT_HOSTLIST:   return TERN_LIST_HOST;
	case TERN_OPT_DOMAINLIST: return TERN_LIST_DOMAIN;
	default:                  return 0;
	}
}

static char *
bad(char **err_out, const char *what, const char *text)
{
	*err_out = arena_printf(arena_perm, "bad %s \"%s\"", what,
		str_printable(arena_scratch, text, strlen(text)));
	return NULL;
}

static int
parse_bool(const char *s, bool *out, char **err_out)
{
	if (str_casecmp(s, "true") == 0 || str_casecmp(s, "yes") == 0)
		*out = true;
	else if (str_casecmp(s, "false") == 0 || str_casecmp(s, "no") == 0)
		*out = false;
	else
		return bad(err_out, "boolean", s), -1;
	return 0;
}

/* Multiply *v by the K/M/G suffix at *end; false on overflow or junk. */
static bool
apply_suffix(uint64_t *v, const char *end, const char *allowed)
{
	uint64_t mult = 1;
	char c = (char)toupper((unsigned char)*end);

	if (*end == '\0')
		return true;
	if (end[1] != '\0' || strchr(allowed, c) == NULL)
		return false;
	mult = c == 'K' ? 1024u : c == 'M' ? 1024u * 1024u
		: 1024ull * 1024u * 1024u;
	return !__builtin_mul_overflow(*v, mult, v);
}

static int
parse_int(const char *s, int base, int *out, char **err_out)
{
	const char *p = s;
	bool neg = false;
	uint64_t v;
	char *end;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!isdigit((unsigned char)*p))
		return bad(err_out, "number", s), -1;
	errno = 0;
	v = strtoull(p, &end, base);
	if (errno != 0 || !apply_suffix(&v, end, "KM") ||
	    v > (uint64_t)INT_MAX + (neg ? 1 : 0))
		return bad(err_out, "number", s), -1;
	*out = neg ? (int)(0 - v) : (int)v;
	return 0;
}

static int
parse_size(const char *s, uint64_t *out, char **err_out)
{
	uint64_t v;
	char *end;

	if (!isdigit((unsigned char)*s))
		return bad(err_out, "size", s), -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || !apply_suffix(&v, end, "KMG"))
		return bad(err_out, "size", s), -1;
	*out = v;
	return 0;
}

static int
unit_seconds(char c)
{
	switch (c) {
	case 's': return 1;
	case 'm': return 60;
	case 'h': return 3600;
	case 'd': return 86400;
	case 'w': return 7 * 86400;
	default:  return 0;
	}
}

/* "1h30m", "90s", "2d", or a bare number of seconds. */
static int
parse_time(const char *s, int *out, char **err_out)
{
	const char *p = s;
	int64_t total = 0;

	if (*p == '\0')
		return bad(err_out, "time", s), -1;
	while (*p != '\0') {
		uint64_t n;
		int unit = 1;
		char *end;

		if (!isdigit((unsigned char)*p))
			return bad(err_out, "time", s), -1;
		errno = 0;
		n = strtoull(p, &end, 10);
		if (*end != '\0') {
			unit = unit_seconds(*end);
			if (unit == 0)
				return bad(err_out, "time", s), -1;
			end++;
		} else if (p != s) {
			return bad(err_out, "time", s), -1; /* "1h30" */
		}
		if (errno != 0 || n > INT_MAX)
			return bad(err_out, "time", s), -1;
		total += (int64_t)n * unit;
		if (total > INT_MAX)
			return bad(err_out, "time", s), -1;
		p = end;
	}
	*out = (int)total;
	return 0;
}

static int
parse_id(enum tern_opt_type type, const char *s, int64_t *out,
	char **err_out)
{
	const char *p = s;

	while (isdigit((unsigned char)*p))
		p++;
	if (*s != '\0' && *p == '\0') {
		int v;

		if (parse_int(s, 10, &v, err_out) < 0)
			return -1;
		*out = v;
		return 0;
	}
	if (type == TERN_OPT_UID) {
		struct passwd *pw = getpwnam(s);

		if (pw == NULL)
			return bad(err_out, "user", s), -1;
		*out = pw->pw_uid;
	} else {
		struct group *gr = getgrnam(s);

		if (gr == NULL)
			return bad(err_out, "group", s), -1;
		*out = gr->gr_gid;
	}
	return 0;
}

int
option_parse_value(enum tern_opt_type type, const char *text, void *dest,
	char **err_out)
{
	enum tern_list_kind lk = option_list_kind(type);

	switch (type) {
	case TERN_OPT_STRING:
	case TERN_OPT_EXPSTR:
		*(const char **)dest = arena_strdup(arena_perm, text);
		return 0;
	case TERN_OPT_LIST:
	case TERN_OPT_HOSTLIST:
	case TERN_OPT_DOMAINLIST:
		if (list_check_syntax(lk, text, err_out) < 0)
			return -1;
		*(const char **)dest = arena_strdup(arena_perm, text);
		return 0;
	case TERN_OPT_BOOL:
		return parse_bool(text, dest, err_out);
	case TERN_OPT_INT:
		return parse_int(text, 0, dest, err_out);
	case TERN_OPT_OCTAL:
		return parse_int(text, 8, dest, err_out);
	case TERN_OPT_SIZE:
		return parse_size(text, dest, err_out);
	case TERN_OPT_TIME:
		return parse_time(text, dest, err_out);
	case TERN_OPT_UID:
	case TERN_OPT_GID:
		return parse_id(type, text, dest, err_out);
	}
	*err_out = arena_printf(arena_perm, "unknown option type %d",
		(int)type);
	return -1;
}

static void
option_unset(const struct tern_option *opt, void *block)
{
	char *p = (char *)block + opt->offset;

	switch (opt->type) {
	case TERN_OPT_BOOL:
		*(bool *)(void *)p = false;
		break;
	case TERN_OPT_INT:
	case TERN_OPT_OCTAL:
	case TERN_OPT_TIME:
		*(int *)(void *)p = 0;
		break;
	case TERN_OPT_SIZE:
		*(uint64_t *)(void *)p = 0;
		break;
	case TERN_OPT_UID:
	case TERN_OPT_GID:
		*(int64_t *)(void *)p = -1;
		break;
	default:
		*(const char **)(void *)p = NULL;
		break;
	}
}

int
option_apply_defaults(const struct tern_option *tab, void *block,
	char **err_out)
{
	if (tab == NULL)
		return 0;
	for (; tab->name != NULL; tab++) {
		char *err;

		option_unset(tab, block);
		if (tab->dflt == NULL)
			continue;
		if (option_parse_value(tab->type, tab->dflt,
		    (char *)block + tab->offset, &err) < 0) {
			*err_out = arena_printf(arena_perm,
				"option \"%s\": default: %s", tab->name, err);
			return -1;
		}
	}
	return 0;
}

int
option_set(const struct tern_option *opt, void *block, const char *value,
	bool is_negated, char **err_out)
{
	void *dest = (char *)block + opt->offset;

	if (is_negated) {
		if (value != NULL) {
			*err_out = arena_strdup(arena_perm,
				"\"no_\" or \"not_\" takes no value");
			return -1;
		}
		if (opt->type == TERN_OPT_BOOL) {
			*(bool *)dest = false;
			return 0;
		}
		if (opt->type == TERN_OPT_UID || opt->type == TERN_OPT_GID ||
		    option_list_kind(opt->type) != 0 ||
		    opt->type == TERN_OPT_STRING || opt->type == TERN_OPT_EXPSTR) {
			option_unset(opt, block);
			return 0;
		}
		*err_out = arena_strdup(arena_perm,
			"\"no_\" or \"not_\" is only for booleans and strings");
		return -1;
	}
	if (value == NULL) {
		if (opt->type == TERN_OPT_BOOL) {
			*(bool *)dest = true;
			return 0;
		}
		*err_out = arena_strdup(arena_perm, "needs a value");
		return -1;
	}
	return option_parse_value(opt->type, value, dest, err_out);
}

bool
option_is_set(const struct tern_option *opt, const void *block)
{
	const char *p = (const char *)block + opt->offset;

	switch (opt->type) {
	case TERN_OPT_BOOL:
		return *(const bool *)(const void *)p;
	case TERN_OPT_INT:
	case TERN_OPT_OCTAL:
	case TERN_OPT_TIME:
		return *(const int *)(const void *)p != 0;
	case TERN_OPT_SIZE:
		return *(const uint64_t *)(const void *)p != 0;
	case TERN_OPT_UID:
	case TERN_OPT_GID:
		return *(const int64_t *)(const void *)p != -1;
	default:
		return *(const char *const *)(const void *)p != NULL;
	}
}

static char *
size_text(uint64_t v)
{
	static const char units[] = "GMK";
	static const uint64_t mult[] = { 1ull << 30, 1u << 20, 1u << 10 };

	for (int i = 0; i < 3; i++)
		if (v != 0 && v % mult[i] == 0)
			return arena_printf(arena_scratch, "%" PRIu64 "%c",
				v / mult[i], units[i]);
	return arena_printf(arena_scratch, "%" PRIu64, v);
}

static char *
time_text(int t)
{
	static const char units[] = "wdhms";
	static const int secs[] = { 7 * 86400, 86400, 3600, 60, 1 };
	struct buf b;

	if (t <= 0)
		return arena_printf(arena_scratch, "%ds", t);
	buf_init(&b, arena_scratch, 0);
	for (int i = 0; i < 5; i++) {
		if (t < secs[i])
			continue;
		if (!buf_printf(&b, "%d%c", t / secs[i], units[i]))
			break;
		t %= secs[i];
	}
	return b.p;
}

static char *
id_text(enum tern_opt_type type, int64_t id)
{
	if (id < 0)
		return arena_strdup(arena_scratch, "");
	if (type == TERN_OPT_UID) {
		struct passwd *pw = getpwuid((uid_t)id);

		if (pw != NULL)
			return arena_strdup(arena_scratch, pw->pw_name);
	} else {
		struct group *gr = getgrgid((gid_t)id);

		if (gr != NULL)
			return arena_strdup(arena_scratch, gr->gr_name);
	}
	return arena_printf(arena_scratch, "%" PRId64, id);
}

char *
option_value_text(const struct tern_option *opt, const void *block)
{
	const void *p = (const char *)block + opt->offset;
	const char *s;

	switch (opt->type) {
	case TERN_OPT_BOOL:
		return arena_strdup(arena_scratch,
			*(const bool *)p ? "true" : "false");
	case TERN_OPT_INT:
		return arena_printf(arena_scratch, "%d", *(const int *)p);
	case TERN_OPT_OCTAL:
		return arena_printf(arena_scratch, "0%o",
			(unsigned)*(const int *)p);
	case TERN_OPT_SIZE:
		return size_text(*(const uint64_t *)p);
	case TERN_OPT_TIME:
		return time_text(*(const int *)p);
	case TERN_OPT_UID:
	case TERN_OPT_GID:
		return id_text(opt->type, *(const int64_t *)p);
	default:
		s = *(const char *const *)p;
		return arena_strdup(arena_scratch, s ? s : "");
	}
}
