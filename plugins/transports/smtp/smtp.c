/*
 * The smtp transport: deliver a batch of addresses (all for the same
 * hosts) to the first host that takes them, in one transaction per
 * max_rcpt recipients.  Hosts come from the router (dnslookup,
 * manualroute), or from the `hosts` option when the router gave none or
 * hosts_override is set; fallback_hosts are tried last.  A host whose
 * connection fails or that answers 4xx to the whole message is left for
 * the next host, with a retry record ("T:host:ip"); a 5xx for one
 * recipient fails that recipient only.  After a successful conversation,
 * other messages waiting for the same host go down the same connection
 * (core->wait_deliver).  session.c talks SMTP.
 */
#include "smtp.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct smtp_opts, field, dflt)

static const struct tern_option smtp_options[] = {
	O("allow_localhost",         BOOL,     allow_localhost,         "false"),
	O("command_timeout",         TIME,     command_timeout,         "5m"),
	O("connect_timeout",         TIME,     connect_timeout,         "5m"),
	O("data_timeout",            TIME,     data_timeout,            "5m"),
	O("fallback_hosts",          LIST,     fallback_hosts,          NULL),
	O("final_timeout",           TIME,     final_timeout,           "10m"),
	O("helo_data",               EXPSTR,   helo_data,
	  "$primary_hostname"),
	O("hosts",                   EXPSTR,   hosts,                   NULL),
	O("hosts_avoid_tls",         HOSTLIST, hosts_avoid_tls,         NULL),
	O("hosts_override",          BOOL,     hosts_override,          "false"),
	O("hosts_randomize",         BOOL,     hosts_randomize,         "false"),
	O("hosts_require_auth",      HOSTLIST, hosts_require_auth,      NULL),
	O("hosts_require_tls",       HOSTLIST, hosts_require_tls,       NULL),
	O("hosts_try_auth",          HOSTLIST, hosts_try_auth,          NULL),
	O("max_rcpt",                INT,      max_rcpt,                "100"),
	O("port",                    STRING,   port,                    "smtp"),
	O("size_addition",           INT,      size_addition,           "1024"),
	O("tls_sni",                 EXPSTR,   tls_sni,                 NULL),
	O("tls_tempfail_tryclear",   BOOL,     tls_tempfail_tryclear,   "true"),
	O("tls_verify_certificates", STRING,   tls_verify_certificates, "system"),
	O("tls_verify_hosts",        HOSTLIST, tls_verify_hosts,        NULL),
	TERN_OPT_END
};

const struct tern_core *smtp_core;
#define core smtp_core

/* -------- helpers shared with session.c -------- */

int
smtp_host_port(const struct smtp_job *j, const struct tern_host *h)
{
	return h->port > 0 ? h->port : j->port;
}

/* Has the core log_selected (ABI 1.5), and so tern_conn.tls_peerdn? */
static bool
has_log_selected(void)
{
	return core->size >= offsetof(struct tern_core, log_selected) +
	    sizeof core->log_selected && core->log_selected != NULL;
}

/* The log_selector items of the log lines; an older core: Exim's defaults. */
static void
read_log_selector(struct smtp_log *l)
{
	bool (*on)(const char *) = has_log_selected() ? core->log_selected :
		NULL;

	l->port = on != NULL && on("outgoing_port");
	/* Exim adds I= only when incoming_interface is on as well. */
	l->interface = on != NULL && on("incoming_interface") &&
		on("outgoing_interface");
	l->cipher = on == NULL || on("tls_cipher");
	l->verified = on == NULL || on("tls_certificate_verified");
	l->peerdn = on != NULL && on("tls_peerdn");
	l->confirm = on == NULL || on("smtp_confirmation");
	l->pipelining = on != NULL && on("pipelining");
}

/* " I=[local address]" and ":port" (outgoing_port) for the local end. */
static const char *
interface_info(struct smtp_job *j, const struct tern_conn *c)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char ip[INET6_ADDRSTRLEN];
	int port;

	if (getsockname(c->fd, (struct sockaddr *)&ss, &len) != 0)
		return "";
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	} else if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	} else {
		return "";
	}
	return j->log.port ? core->printf(j->ctx, " I=[%s]:%d", ip, port) :
		core->printf(j->ctx, " I=[%s]", ip);
}

/*
 * " H=name [ip]" and what log_selector adds to it, in Exim's order:
 * ":port", " I=[local ip]:port", then over TLS, but not on "==" lines,
 * " X=cipher", " CV=yes|no" and " DN=\"subject\"".
 */
static const char *
host_info(struct smtp_job *j, const struct tern_conn *c, int rc)
{
	const struct smtp_log *l = &j->log;
	const char *s = core->printf(j->ctx, " H=%s [%s]", c->host_name,
		c->host_address);
	bool is_tls = c->is_tls && rc != TERN_DEFER;

	if (l->port)
		s = core->printf(j->ctx, "%s:%d", s, c->port);
	if (l->interface)
		s = core->printf(j->ctx, "%s%s", s, interface_info(j, c));
	if (is_tls && l->cipher)
		s = core->printf(j->ctx, "%s X=%s", s, c->tls_info);
	/* The server always shows a certificate: "no" is not checked. */
	if (is_tls && l->verified)
		s = core->printf(j->ctx, "%s CV=%s", s, c->tls_verified ? "yes" :
			"no");
	if (is_tls && l->peerdn && c->tls_peerdn != NULL)
		s = core->printf(j->ctx, "%s DN=\"%s\"", s, c->tls_peerdn);
	return s;
}

void
smtp_set_result(struct smtp_job *j, struct tern_address *a, int rc,
	const char *text, const struct tern_conn *c)
{
	a->flags |= TERN_AF_RESULT;
	a->result = rc;
	a->message = text != NULL ? core->strdup(j->ctx, text) : NULL;
	a->log_info = c != NULL ? host_info(j, c, rc) : NULL;
}

/*
 * C="...": the server's final reply, added to the "=>" line as Exim does;
 * it usually carries the id the next host gave the message (tern-stats
 * --trace).  Non-printable characters and quotes become '?'.
 */
static const char *
confirmation(struct smtp_job *j, const char *reply)
{
	char *t = core->strdup(j->ctx, reply != NULL ? reply : "");

	if (strlen(t) > 256)
		t[256] = '\0';
	for (char *p = t; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f ||
		    *p == '"' || *p == '\\')
			*p = '?';
	return core->printf(j->ctx, " C=\"%s\"", t);
}

void
smtp_log_delivered(struct smtp_job *j, const struct tern_conn *c,
	struct tern_address **v, size_t n, const char *reply)
{
	const struct smtp_caps *caps = c->user;
	/* Exim's "L": MAIL, RCPT and DATA went pipelined (session.c) */
	const char *l = j->log.pipelining && caps->has_pipelining ? " L" : "";
	const char *conf = j->log.confirm ? confirmation(j, reply) : "";

	if (*l == '\0' && *conf == '\0')
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i]->result == TERN_OK && (v[i]->flags & TERN_AF_RESULT))
			v[i]->log_info = core->printf(j->ctx, "%s%s%s",
				v[i]->log_info != NULL ? v[i]->log_info : "", l, conf);
}

bool
smtp_host_match(struct smtp_job *j, const char *list,
	const struct tern_host *h)
{
	char *err = NULL;

	if (list == NULL)
		return false;
	if (core->match_list(j->ctx, TERN_LIST_HOST, list, h->address, &err) ==
	    TERN_OK)
		return true;
	return strcmp(h->name, h->address) != 0 && core->match_list(j->ctx,
		TERN_LIST_DOMAIN, list, h->name, &err) == TERN_OK;
}

/* -------- hosts -------- */

/*
 * hosts_randomize: the core's shuffle (ABI 1.1; an older core keeps the
 * order).
 */
static void
shuffle(struct tern_host **list)
{
	if (core->size >= offsetof(struct tern_core, host_list_shuffle) +
	    sizeof core->host_list_shuffle && core->host_list_shuffle != NULL)
		core->host_list_shuffle(list);
}

/* Give named hosts their addresses (DNS, then the system resolver). */
static void
resolve_hosts(struct smtp_job *j, struct tern_host **list)
{
	while (*list != NULL) {
		struct tern_host *h = *list, *found = NULL, *last;
		char *err = NULL;
		int rc;

		if (h->address != NULL) {
			list = &h->next;
			continue;
		}
		rc = core->host_find(j->ctx, h->name, TERN_HF_BYDNS, h->port, -1,
			&found, &err);
		if (rc == TERN_FAIL)
			rc = core->host_find(j->ctx, h->name, TERN_HF_BYNAME, h->port,
				-1, &found, &err);
		if (rc != TERN_OK) {
			j->err = err;
			*list = h->next;
			continue;
		}
		for (last = found; last->next != NULL; last = last->next)
			last->flags = h->flags;
		last->flags = h->flags;
		last->next = h->next;
		*list = found;
		list = &last->next;
	}
}

/* A host list option (expanded), parsed; NULL when unset or empty. */
static struct tern_host *
option_hosts(struct smtp_job *j, const char *tmpl, bool expand)
{
	struct tern_host *list = NULL;
	char *text = (char *)tmpl, *err = NULL;

	if (tmpl == NULL)
		return NULL;
	if (expand && core->expand(j->ctx, tmpl, &text, &err) != TERN_OK) {
		j->err = core->printf(j->ctx, "failed to expand hosts \"%s\": %s",
			tmpl, err != NULL ? err : "forced failure");
		return NULL;
	}
	if (core->host_list_parse(j->ctx, text, &list, &err) != TERN_OK) {
		j->err = err;
		return NULL;
	}
	return list;
}

static struct tern_host *
main_hosts(struct smtp_job *j)
{
	struct tern_host *list = j->batch->hosts;

	if (j->o->hosts != NULL && (list == NULL || j->o->hosts_override)) {
		list = option_hosts(j, j->o->hosts, true);
		if (j->o->hosts_randomize)
			shuffle(&list);
	}
	resolve_hosts(j, &list);
	return list;
}

static struct tern_host *
fallback_hosts(struct smtp_job *j)
{
	struct tern_host *list = j->batch->fallback_hosts;

	if (list == NULL)
		list = option_hosts(j, j->o->fallback_hosts, false);
	resolve_hosts(j, &list);
	return list;
}

/* -------- one host -------- */

static const char *
host_key(struct smtp_job *j, const struct tern_host *h)
{
	return h->port > 0 ? core->printf(j->ctx, "%s:%d", h->address, h->port)
		: h->address;
}

static const char *
retry_key(struct smtp_job *j, const struct tern_host *h)
{
	int port = smtp_host_port(j, h);

	return port == 25 ? core->printf(j->ctx, "T:%s:%s", h->name, h->address)
		: core->printf(j->ctx, "T:%s:%s:%d", h->name, h->address, port);
}

static bool
has_pending(const struct smtp_job *j)
{
	for (const struct tern_address *a = j->batch; a != NULL; a = a->next)
		if (smtp_is_pending(a))
			return true;
	return false;
}

static const char *
error_class(const struct smtp_job *j)
{
	if (j->err_errno == 110 /* ETIMEDOUT */)
		return "timeout";
	if (j->err_errno == 111 /* ECONNREFUSED */)
		return "refused";
	return j->err_errno > 0 ? "lost_connection" : "mail_4xx";
}

/* Has the retry time of h come (or are there no retry hints)? */
static bool
host_is_due(struct smtp_job *j, const struct tern_host *h)
{
	if (core->retry_due == NULL ||
	    core->retry_due(j->ctx, retry_key(j, h)) == TERN_OK) {
		j->tried = true;
		return true;
	}
	j->err = core->printf(j->ctx, "retry time not reached for host %s [%s]",
		h->name, h->address);
	/* Exim's ERRNO_HRETRY while no host has been tried: log_selector's
	 * retry_defer governs such a deferral's line. */
	j->err_errno = j->tried ? 0 : TERN_ERRNO_HOST_RETRY;
	return false;
}

/*
 * Refuse a host that is this one (its address ours, or with core ABI 1.5
 * its name in hosts_treat_as_local), as Exim does unless allow_localhost:
 * true, with j->err set, when it must not be tried.
 */
static bool
is_local(struct smtp_job *j, const struct tern_host *h)
{
	char *err = NULL;
	int rc;

	if (core->size >= offsetof(struct tern_core, host_is_local) +
	    sizeof core->host_is_local && core->host_is_local != NULL)
		rc = core->host_is_local(j->ctx, h->name, h->address, &err);
	else
		rc = core->host_is_self(j->ctx, h->address) ? TERN_OK : TERN_FAIL;
	if (rc == TERN_FAIL)
		return false;
	j->err = rc == TERN_OK ? core->printf(j->ctx, "remote host address is "
		"the local host %s [%s] (allow_localhost is false)", h->name,
		h->address) : err;
	j->err_errno = 0;
	return true;
}

static void
try_host(struct smtp_job *j, const struct tern_host *h)
{
	bool may_tls = true;

	if (j->wait_key == NULL)
		j->wait_key = host_key(j, h);
	if (!host_is_due(j, h))
		return;
	if (!j->o->allow_localhost && is_local(j, h))
		return;
	for (int attempt = 0; attempt < 2; attempt++) {
		struct tern_conn *c = NULL;
		enum smtp_host_rc rc = smtp_session_open(j, h, may_tls, &c);

		if (rc == SMTP_HOST_OK)
			rc = smtp_session_send(j, c);
		if (rc == SMTP_HOST_OK) {
			if (core->retry_record != NULL)
				core->retry_record(j->ctx, retry_key(j, h), NULL, 0, NULL);
			core->wait_deliver(j->ctx, c, host_key(j, h));
		} else {
			/* Every failed host gets its line (Exim's "H=host [ip]
			 * ..."): a fallback that delivers leaves the attempts
			 * before it on record. */
			core->log(j->ctx, TERN_LOG_MAIN, "H=%s [%s]%s defer (%d): %s",
				h->name, h->address, j->log.port ? core->printf(j->ctx,
				":%d", smtp_host_port(j, h)) : "", j->err_errno,
				j->err != NULL ? j->err : "host failed");
			if (core->retry_record != NULL)
				core->retry_record(j->ctx, retry_key(j, h),
					error_class(j), j->err_errno, j->err);
		}
		if (c != NULL)
			smtp_session_close(j, c);
		if (rc != SMTP_HOST_TLS_FAIL || !j->o->tls_tempfail_tryclear ||
		    smtp_host_match(j, j->o->hosts_require_tls, h))
			return;
		may_tls = false; /* Exim's tls_tempfail_tryclear */
	}
}

/* A connection handed on from the previous message for the same host. */
static void
try_continued(struct smtp_job *j, const struct tern_host *hosts)
{
	struct tern_conn *c = core->continued_conn(j->ctx);

	if (c == NULL)
		return;
	for (const struct tern_host *h = hosts; h != NULL; h = h->next)
		if (strcmp(h->address, c->host_address) == 0 &&
		    smtp_host_port(j, h) == c->port) {
			(void)smtp_session_send(j, c);
			return;
		}
}

/* -------- the entry point -------- */

static int
port_number(const char *s)
{
	struct servent *se;

	if (s[0] >= '0' && s[0] <= '9')
		return atoi(s);
	se = getservbyname(s, "tcp");
	if (se != NULL)
		return ntohs((uint16_t)se->s_port);
	return strcmp(s, "smtp") == 0 ? 25 : -1;
}

static int
smtp_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	struct smtp_job j = { .inst = inst, .ctx = ctx, .o = inst->opts,
		.batch = batch, .has_8bit = -1 };
	struct tern_host *hosts;

	j.mi = core->message(ctx);
	j.port = port_number(j.o->port);
	read_log_selector(&j.log);
	for (struct tern_address *a = batch; a != NULL; a = a->next)
		a->flags &= ~TERN_AF_RESULT;
	if (j.port <= 0 || j.port > 65535) {
		batch->message = core->printf(ctx, "transport %s: bad port \"%s\"",
			inst->name, j.o->port);
		return TERN_ERROR;
	}
	hosts = main_hosts(&j);
	try_continued(&j, hosts);
	for (const struct tern_host *h = hosts; h != NULL && has_pending(&j);
	    h = h->next)
		try_host(&j, h);
	if (has_pending(&j))
		for (const struct tern_host *h = fallback_hosts(&j);
		    h != NULL && has_pending(&j); h = h->next)
			try_host(&j, h);
	if (!has_pending(&j))
		return TERN_OK;
	if (j.wait_key != NULL)
		core->wait_record(ctx, j.wait_key);
	for (struct tern_address *a = batch; a != NULL; a = a->next)
		if (smtp_is_pending(a)) {
			a->basic_errno = j.err_errno;
			smtp_set_result(&j, a, hosts == NULL && j.err == NULL ?
				TERN_ERROR : TERN_DEFER, j.err != NULL ? j.err :
				"no hosts to deliver to", NULL);
		}
	return TERN_DEFER;
}

static int
smtp_load(const struct tern_core *c, char **err_out)
{
	if (c->size < offsetof(struct tern_core, continued_conn) +
	    sizeof(c->continued_conn)) {
		*err_out = "this core has no connection services (ABI 1.1 needed)";
		return TERN_ERROR;
	}
	smtp_core = c;
	return TERN_OK;
}

static int
smtp_init(struct tern_instance *inst, char **err_out)
{
	const struct smtp_opts *o = inst->opts;
	int port = port_number(o->port);

	if (port <= 0 || port > 65535) {
		*err_out = "port must be a number or a TCP service name";
		return TERN_ERROR;
	}
	if (o->max_rcpt < 1) {
		*err_out = "max_rcpt must be at least 1";
		return TERN_ERROR;
	}
	return TERN_OK;
}

TERN_MODULE(smtp) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = "smtp",
	.version = "1.0",
	.options = smtp_options,
	.opts_size = sizeof(struct smtp_opts),
	.load = smtp_load,
	.init = smtp_init,
	.transport = { .deliver = smtp_deliver, .is_local = 0 },
	.flags = TERN_MODF_NO_ROOT, /* uses no root */
};
