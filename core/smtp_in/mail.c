/* MAIL, RCPT, DATA and VRFY: building the envelope and taking the message. */
#include "smtp_in/smtp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "address/address.h"
#include "config/config.h"
#include "config/lists.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "rewrite/rewrite.h"

/*
 * What a client is told of a verification that did not succeed: a text
 * meant for it (deliver_verify_recipient's user_msg), the whole error
 * when smtp_return_error_details asks for it, or else generic.
 */
static const char *
verify_text(const char *msg, const char *user_msg, const char *generic)
{
	if (user_msg != NULL)
		return user_msg;
	if (conf.smtp_return_error_details && msg != NULL)
		return msg;
	return generic;
}

/*
 * sender_verify: the envelope sender must route (through the directors
 * for a local domain, the routers for others); bounces and local callers
 * are not checked.  False after replying 550 or 451.
 */
static bool
mail_sender_ok(struct smtp_sess *s, const char *addr)
{
	char *msg, *user_msg;
	int rc;

	if (!conf.sender_verify || *addr == '\0' || s->ci->is_local)
		return true;
	rc = deliver_verify_recipient(addr, "", &msg, &user_msg);
	if (rc == TERN_OK)
		return true;
	if (msg == NULL)
		msg = rc == TERN_FAIL ? "unrouteable address" : "deferred";
	if (rc == TERN_FAIL) {
		smtp_reply(s, "550 5.1.7 <%s>: sender verify failed: %s", addr,
			verify_text(msg, user_msg, "unrouteable address"));
		/* Exim: without sender_verify_fail, only that it failed. */
		if (LOG_SEL(sender_verify_fail))
			smtp_reject_log(s, "rejected MAIL FROM:<%s>: sender "
				"verify failed: %s", addr, msg);
		else
			smtp_reject_log(s, "rejected MAIL FROM:<%s>: sender "
				"verify failed", addr);
	} else {
		smtp_reply(s, "451 4.4.3 <%s>: %s", addr, verify_text(msg,
			user_msg, "could not verify the sender now"));
		smtp_reject_log(s, "temporarily rejected MAIL FROM:<%s>: sender "
			"verify deferred: %s", addr, msg);
	}
	return false;
}

/*
 * S rewrite rules: the command's address as the client sent it (from
 * the operand's start to its '>', or to the first space without one),
 * before any check.  The parameters after it stay.
 */
static const char *
smtp_rewrite_path(const char *p, bool is_sender)
{
	const char *end = p, *new;
	char *path;

	if (!rewrite_any(RW_SMTP))
		return p;
	if (*p == '<') {
		for (bool in_q = false; *end != '\0'; end++) {
			if (*end == '\\' && end[1] != '\0')
				end++;
			else if (*end == '"')
				in_q = !in_q;
			else if (*end == '>' && !in_q)
				break;
		}
		if (*end == '>')
			end++;
	} else {
		end += strcspn(p, " ");
	}
	path = arena_strndup(arena_msg, p, (size_t)(end - p));
	new = rewrite_smtp(NULL, path, is_sender);
	return new == path ? p : arena_printf(arena_msg, "%s%s", new, end);
}

void
smtp_act_mail(struct smtp_sess *s, const char *args)
{
	const char *p = smtp_after_keyword(args, "FROM:"), *rest, *err_text;
	char *addr, *err = NULL;
	struct smtp_mail_params mp;
	int code;

	if (p == NULL) {
		smtp_reply(s, "501 5.5.2 MAIL must have an address operand");
		return;
	}
	p = smtp_rewrite_path(p, true);
	if (address_parse_path2(arena_msg, p, true, s->ci->is_local, &addr,
	    &rest, &err) != 0) {
		smtp_reply(s, "501 %s", err);
		return;
	}
	while (*rest == ' ')
		rest++;
	if (*rest != '\0' && !s->esmtp) {
		smtp_reply(s, "555 5.5.4 parameters need EHLO");
		return;
	}
	code = smtp_parse_mail_params(rest, &mp, &err_text);
	if (code != 0) {
		smtp_reply(s, "%d %s", code, err_text);
		return;
	}
	if (mp.has_size && conf.message_size_limit > 0 &&
	    mp.size > conf.message_size_limit) {
		smtp_reply(s, "552 5.3.4 message size exceeds maximum permitted");
		smtp_reject_log_sel(s, LOG_SEL(size_reject),
			"rejected MAIL FROM:<%s>: message too big: size=%llu max=%llu",
			addr, (unsigned long long)mp.size,
			(unsigned long long)conf.message_size_limit);
		return;
	}
	if (spool_check_space(mp.has_size ? mp.size : 0, &err) != 0) {
		smtp_reply(s, "452 4.3.1 insufficient disk space");
		smtp_reject_log(s, "rejected MAIL FROM:<%s>: %s", addr, err);
		return;
	}
	if (*addr != '\0' && strchr(addr, '@') == NULL) {
		if (!s->ci->is_local) {
			smtp_reply(s, "501 5.1.7 <%s>: sender address must contain a domain",
				addr);
			return;
		}
		addr = address_qualify(arena_msg, addr, conf.qualify_domain);
	}
	if (!mail_sender_ok(s, addr))
		return;
	s->sender = addr;
	s->body_8bitmime = mp.body;
	s->has_sender = true;
	smtp_reply(s, "250 2.1.0 OK");
}

static void
rcpt_add(struct smtp_sess *s, const char *addr)
{
	if (s->nrcpts == s->cap) {
		struct recipient *bigger;

		s->cap = s->cap ? s->cap * 2 : 16;
		bigger = arena_zalloc(arena_msg, s->cap * sizeof(*bigger));
		if (s->nrcpts > 0)
			memcpy(bigger, s->rcpts, s->nrcpts * sizeof(*bigger));
		s->rcpts = bigger;
	}
	s->rcpts[s->nrcpts++] = (struct recipient){ .address = addr };
}

/*
 * A RCPT refusal: reply code and reason, and log it (mainlog and
 * rejectlog) with log_reason, or the reason when that is NULL.
 */
static void
rcpt_refuse(struct smtp_sess *s, const char *addr, const char *code,
	const char *reason, const char *log_reason)
{
	smtp_reply(s, "%s <%s>: %s", code, addr, reason);
	smtp_reject_log(s, "%s RCPT <%s>: %s", *code == '4' ?
		"temporarily rejected" : "rejected", addr,
		log_reason != NULL ? log_reason : reason);
}

/* May this client relay to domain?  TERN_OK, TERN_FAIL or TERN_DEFER. */
static int
rcpt_relay_ok(struct smtp_sess *s, const char *domain)
{
	char *err = NULL;
	int rc;

	if (s->ci->is_local)
		return TERN_OK;
	/* An authenticated client may relay (auth.c sets it). */
	if (s->authenticated_id != NULL)
		return TERN_OK;
	if (conf.relay_from_hosts != NULL && s->ci->host_address != NULL) {
		rc = list_match(TERN_LIST_HOST, conf.relay_from_hosts,
			s->ci->host_address, NULL, &err);
		if (rc == TERN_OK)
			return TERN_OK;
		if (rc == TERN_DEFER || rc == TERN_ERROR)
			goto out_defer;
	}
	if (conf.relay_to_domains != NULL) {
		rc = list_match(TERN_LIST_DOMAIN, conf.relay_to_domains, domain,
			NULL, &err);
		if (rc == TERN_OK)
			return TERN_OK;
		if (rc == TERN_DEFER || rc == TERN_ERROR)
			goto out_defer;
	}
	return TERN_FAIL;
out_defer:
	log_write(TERN_LOG_MAIN, NULL, "relay check for %s: %s", domain,
		err != NULL ? err : "lookup deferred");
	return TERN_DEFER;
}

/* A recipient in a local domain: receiver_verify. */
static void
rcpt_local(struct smtp_sess *s, const char *addr, const char *local)
{
	char *msg, *user_msg;
	int rc;

	if (str_casecmp(local, "postmaster") != 0 && conf.receiver_verify) {
		rc = deliver_verify_recipient(addr, s->sender, &msg, &user_msg);
		if (rc == TERN_FAIL) {
			rcpt_refuse(s, addr, "550 5.1.1",
				verify_text(msg, user_msg, "unknown user"), msg);
			return;
		}
		if (rc != TERN_OK) {
			rcpt_refuse(s, addr, "451 4.3.0", verify_text(msg,
				user_msg, "temporarily unable to verify the address"),
				msg);
			return;
		}
	}
	rcpt_add(s, addr);
	smtp_reply(s, "250 2.1.5 Accepted");
}

/*
 * Split addr and qualify a bare local part (only for a local -bs caller).
 * False after replying.
 */
static bool
rcpt_split(struct smtp_sess *s, char **addr, char **local, char **domain)
{
	char *err = NULL;

	if (address_split(arena_msg, *addr, local, domain, &err) != 0) {
		smtp_reply(s, "501 5.1.3 <%s>: %s", *addr, err);
		return false;
	}
	if (*domain != NULL)
		return true;
	if (!s->ci->is_local) {
		smtp_reply(s, "501 5.1.3 <%s>: recipient address must contain a domain",
			*addr);
		return false;
	}
	*addr = address_qualify(arena_msg, *addr, conf.qualify_recipient);
	*domain = str_lower(arena_msg, conf.qualify_recipient);
	return true;
}

void
smtp_act_rcpt(struct smtp_sess *s, const char *args)
{
	const char *p = smtp_after_keyword(args, "TO:"), *rest;
	char *addr, *local, *domain, *err = NULL;
	int rc;

	if (p == NULL) {
		smtp_reply(s, "501 5.5.2 RCPT must have an address operand");
		return;
	}
	p = smtp_rewrite_path(p, false);
	if (address_parse_path2(arena_msg, p, false, s->ci->is_local, &addr,
	    &rest, &err) != 0) {
		smtp_reply(s, "501 %s", err);
		return;
	}
	if (rest[strspn(rest, " ")] != '\0') {
		smtp_reply(s, "555 5.5.4 unsupported parameter");
		return;
	}
	if (conf.recipients_max > 0 &&
	    s->nrcpts >= (size_t)conf.recipients_max) {
		smtp_reply(s, "452 4.5.3 too many recipients");
		return;
	}
	if (str_casecmp(addr, "postmaster") == 0) {
		/* RFC 5321 4.5.1: always accepted, without a domain too */
		rcpt_add(s, address_qualify(arena_msg, addr,
			conf.qualify_recipient));
		smtp_reply(s, "250 2.1.5 Accepted");
		return;
	}
	if (!rcpt_split(s, &addr, &local, &domain))
		return;
	if (strpbrk(smtp_unquote_local(arena_msg, local), "%!@") != NULL) {
		rcpt_refuse(s, addr, "550 5.7.1",
			"'%', '!' and '@' are not permitted in local parts", NULL);
		return;
	}
	rc = deliver_domain_is_local(domain);
	if (rc == TERN_OK) {
		rcpt_local(s, addr, local);
		return;
	}
	if (rc == TERN_FAIL)
		rc = rcpt_relay_ok(s, domain);
	if (rc == TERN_OK) {
		rcpt_add(s, addr);
		smtp_reply(s, "250 2.1.5 Accepted");
	} else if (rc == TERN_FAIL) {
		rcpt_refuse(s, addr, "550 5.7.1", "relay not permitted", NULL);
	} else {
		rcpt_refuse(s, addr, "451 4.3.0",
			"temporarily unable to check the domain", NULL);
	}
}

static void
vrfy_address(struct smtp_sess *s, char *addr)
{
	char *local, *domain, *msg, *user_msg, *err = NULL;
	int rc;

	if (address_split(arena_msg, addr, &local, &domain, &err) != 0) {
		smtp_reply(s, "501 5.1.3 <%s>: %s", addr, err);
		return;
	}
	if (domain == NULL) {
		addr = address_qualify(arena_msg, addr, conf.qualify_recipient);
		domain = str_lower(arena_msg, conf.qualify_recipient);
	}
	if (deliver_domain_is_local(domain) != TERN_OK) {
		smtp_reply(s, "252 2.1.5 <%s>: cannot verify a remote address",
			addr);
		return;
	}
	rc = deliver_verify_recipient(addr, "", &msg, &user_msg);
	if (rc == TERN_OK) {
		smtp_reply(s, "250 2.1.5 <%s> is deliverable", addr);
		return;
	}
	if (rc == TERN_FAIL)
		smtp_reply(s, "550 5.1.1 <%s>: %s", addr,
			verify_text(msg, user_msg, "unknown user"));
	else
		smtp_reply(s, "451 4.3.0 <%s>: %s", addr,
			verify_text(msg, user_msg, "cannot verify now"));
	/* verification logs nothing itself (test_only): the reason goes here */
	smtp_reject_log(s, "%s VRFY <%s>: %s", rc == TERN_FAIL ? "rejected" :
		"temporarily rejected", addr, msg != NULL ? msg : "unknown");
}

void
smtp_act_vrfy(struct smtp_sess *s, const char *args)
{
	const char *rest;
	char *addr, *err = NULL;

	if (!conf.smtp_verify) {
		smtp_reply(s, "252 2.1.5 VRFY not available");
		return;
	}
	if (*args == '<') {
		if (address_parse_path2(arena_msg, args, false, true, &addr,
		    &rest, &err) != 0) {
			smtp_reply(s, "501 %s", err);
			return;
		}
	} else if (*args == '\0') {
		smtp_reply(s, "501 5.5.4 VRFY must have an address operand");
		return;
	} else {
		addr = arena_strdup(arena_msg, args);
	}
	vrfy_address(s, addr);
}
