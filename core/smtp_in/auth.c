/*
 * The AUTH command (RFC 4954): which mechanisms are advertised, running
 * an authenticator module's server side, server_condition and
 * server_set_id, and what failures cost (smtp_auth_failure_delay,
 * smtp_max_auth_failures).
 */
#include "smtp_in/smtp_int.h"

#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config/config.h"
#include "config/lists.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "log/log.h"
#include "smtp_in/auth_svc.h"
#include "smtp_in/vars.h"

#define AUTH_MAX_ADVERTISED 32
#define AUTH_DELAY_CAP      30 /* seconds */

/* What the last EHLO advertised (one session per process). */
static struct driver_inst *advertised[AUTH_MAX_ADVERTISED];
static size_t nadvertised;

static const char *
auth_public_name(const struct driver_inst *i)
{
	return i->g.auth.public_name != NULL ? i->g.auth.public_name :
		i->pub.name;
}

/* "", "0", "no", "false": false; "1", "yes", "true": true; else -1. */
static int
auth_truth(const char *v)
{
	if (*v == '\0' || strcmp(v, "0") == 0 || strcasecmp(v, "no") == 0 ||
	    strcasecmp(v, "false") == 0)
		return 0;
	if (strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "true") == 0)
		return 1;
	return -1;
}

static bool
host_is_loopback(const char *host)
{
	char *err = NULL;

	return host != NULL && list_match(TERN_LIST_HOST,
		"<; 127.0.0.0/8 ; ::1", host, NULL, &err) == TERN_OK;
}

/*
 * auth_advertise_hosts: unset, only over TLS or from a loopback
 * address; set, it is expanded (so "${if def:tls_in_cipher{*}}" works)
 * and matched as a host list.
 */
static bool
auth_host_ok(struct smtp_sess *s)
{
	char *list = NULL, *err = NULL;
	int rc;

	if (s->ci->host_address == NULL)
		return false;
	if (conf.auth_advertise_hosts == NULL)
		return s->tls != NULL || host_is_loopback(s->ci->host_address);
	rc = expand_string(NULL, arena_scratch, conf.auth_advertise_hosts,
		&list, &err);
	if (rc == TERN_FAIL)
		return false;
	if (rc != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"expansion of auth_advertise_hosts failed: %s", err);
		return false;
	}
	rc = list_match(TERN_LIST_HOST, list, s->ci->host_address, NULL, &err);
	if (rc == TERN_DEFER || rc == TERN_ERROR)
		log_write(TERN_LOG_MAIN, NULL, "auth_advertise_hosts: %s",
			err != NULL ? err : "lookup deferred");
	return rc == TERN_OK;
}

static bool
auth_instance_offered(struct driver_inst *i)
{
	const struct tern_auth_ops *ops = &i->mod->auth;
	const char *cond = i->g.auth.server_advertise_condition;
	char *v = NULL, *err = NULL;

	if (ops->server == NULL || ops->is_server == NULL ||
	    !ops->is_server(&i->pub))
		return false;
	if (cond == NULL)
		return true;
	if (expand_string(NULL, arena_scratch, cond, &v, &err) != TERN_OK)
		return false;
	return auth_truth(v) != 0;
}

const char *
smtp_auth_ehlo_line(struct smtp_sess *s)
{
	char *line = "AUTH";

	nadvertised = 0;
	if (cfg.authenticators == NULL || s->authenticated_id != NULL ||
	    !auth_host_ok(s))
		return NULL;
	for (struct driver_inst *i = cfg.authenticators; i != NULL &&
	    nadvertised < AUTH_MAX_ADVERTISED; i = i->next) {
		if (!auth_instance_offered(i))
			continue;
		advertised[nadvertised++] = i;
		line = arena_printf(arena_scratch, "%s %s", line,
			auth_public_name(i));
	}
	s->auth_offered = nadvertised > 0;
	return s->auth_offered ? line : NULL;
}

bool
smtp_check_auth(struct smtp_sess *s, const char *args)
{
	if (!s->auth_offered)
		smtp_reply(s, "503 5.5.1 AUTH command used when not advertised");
	else if (s->authenticated_id != NULL)
		smtp_reply(s, "503 5.5.1 already authenticated");
	else if (s->has_sender)
		smtp_reply(s, "503 5.5.1 AUTH not permitted during a mail transaction");
	else if (*args == '\0')
		smtp_reply(s, "501 5.5.2 AUTH mechanism must be given");
	else
		return true;
	return false;
}

static struct driver_inst *
auth_find(const char *mech, size_t n)
{
	for (size_t i = 0; i < nadvertised; i++) {
		const char *name = auth_public_name(advertised[i]);

		if (strlen(name) == n && strncasecmp(name, mech, n) == 0)
			return advertised[i];
	}
	return NULL;
}

/* server_condition, once the mechanism succeeded: OK, FAIL or DEFER. */
static int
auth_server_condition(struct tern_ctx *ctx, const struct driver_inst *i,
	char **err_out)
{
	const char *c = i->g.auth.server_condition;
	char *v = NULL, *err = NULL;
	int rc;

	if (c == NULL)
		return TERN_OK;
	rc = expand_string(ctx, arena_msg, c, &v, &err);
	if (rc == TERN_FAIL)
		return TERN_FAIL;
	if (rc != TERN_OK) {
		*err_out = arena_printf(arena_msg,
			"expansion of server_condition failed: %s",
			err != NULL ? err : "lookup deferred");
		return TERN_DEFER;
	}
	switch (auth_truth(v)) {
	case 1:
		return TERN_OK;
	case 0:
		return TERN_FAIL;
	default:
		*err_out = arena_printf(arena_msg, "server_condition gave \"%s\"",
			str_printable(arena_msg, v, strlen(v)));
		return TERN_DEFER;
	}
}

/*
 * server_set_id expanded (arena_conn), made safe for logs and headers
 * -- it is built from what the client sent -- or NULL.
 */
static const char *
auth_set_id(struct tern_ctx *ctx, const struct driver_inst *i)
{
	char *v = NULL, *err = NULL;
	size_t n;

	if (i->g.auth.server_set_id == NULL ||
	    expand_string(ctx, arena_msg, i->g.auth.server_set_id, &v,
	    &err) != TERN_OK)
		return NULL;
	n = strlen(v);
	if (n > 255)
		n = 255;
	for (size_t k = 0; k < n; k++)
		if (strchr("()<>\"", v[k]) != NULL || v[k] == ' ')
			v[k] = '_';
	return str_printable(arena_conn, v, n);
}

/* Failed credentials: delay, 535, and past the limit 421 and drop. */
static void
auth_failed(struct smtp_sess *s, const struct driver_inst *i,
	const char *set_id)
{
	int delay = conf.smtp_auth_failure_delay;

	s->auth_failures++;
	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
		"%s authenticator failed for %s: 535 Incorrect authentication data%s%s%s",
		i->pub.name, s->who, set_id != NULL ? " (set_id=" : "",
		set_id != NULL ? set_id : "", set_id != NULL ? ")" : "");
	for (int k = 1; k < s->auth_failures && delay > 0 &&
	    delay < AUTH_DELAY_CAP; k++)
		delay *= 2;
	if (delay > AUTH_DELAY_CAP)
		delay = AUTH_DELAY_CAP;
	if (delay > 0) {
		(void)smtp_flush(s);
		sleep((unsigned)delay);
	}
	smtp_reply(s, "535 5.7.8 Incorrect authentication data");
	if (conf.smtp_max_auth_failures > 0 &&
	    s->auth_failures >= conf.smtp_max_auth_failures) {
		smtp_reply(s, "421 4.7.0 %s: too many authentication failures",
			conf.primary_hostname);
		log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
			"SMTP call from %s dropped: too many authentication failures",
			s->peer);
		s->done = true;
	}
}

static void
auth_succeeded(struct smtp_sess *s, const struct driver_inst *i,
	const char *set_id)
{
	s->authenticated_id = set_id != NULL ? set_id : "";
	smtp_in_vars.authenticated_id = set_id;
	smtp_in_vars.authenticator = i->pub.name;
	smtp_reply(s, "235 2.7.0 Authentication succeeded");
}

static void
auth_result(struct smtp_sess *s, struct tern_ctx *ctx,
	const struct driver_inst *i, int rc, const char *err)
{
	const char *set_id = auth_set_id(ctx, i);

	switch (rc) {
	case TERN_OK:
		auth_succeeded(s, i, set_id);
		return;
	case TERN_FAIL:
		auth_failed(s, i, set_id);
		return;
	case TERN_DECLINE:
		smtp_reply(s, "501 5.0.0 %s", err != NULL ? err :
			"Authentication cancelled");
		return;
	default:
		log_write(TERN_LOG_MAIN | (rc == TERN_ERROR ? TERN_LOG_PANIC :
			0), NULL, "%s authenticator: temporary failure for %s: %s",
			i->pub.name, s->who, err != NULL ? err : "unknown error");
		smtp_reply(s, "454 4.7.0 Temporary authentication failure");
	}
}

void
smtp_act_auth(struct smtp_sess *s, const char *args)
{
	size_t n = strcspn(args, " \t");
	const char *initial = args + n;
	struct driver_inst *i = auth_find(args, n);
	struct tern_ctx ctx;
	char *err = NULL;
	int rc;

	if (i == NULL) {
		smtp_reply(s, "504 5.5.4 Unrecognized authentication type");
		return;
	}
	initial += strspn(initial, " \t");
	memset(&ctx, 0, sizeof(ctx));
	ctx.arena = arena_msg;
	ctx.inst = i;
	ctx.host_address = s->ci->host_address;
	smtp_in_vars.auth[0] = smtp_in_vars.auth[1] = smtp_in_vars.auth[2] =
		NULL;
	auth_svc_set_session(s);
	rc = i->mod->auth.server(&i->pub, &ctx, auth_public_name(i),
		*initial != '\0' ? initial : NULL, &err);
	auth_svc_set_session(NULL);
	if (s->done)
		return;
	if (rc == TERN_OK)
		rc = auth_server_condition(&ctx, i, &err);
	auth_result(s, &ctx, i, rc, err);
}
