/* DATA: hand the envelope to receive_message and answer for the result. */
#include "smtp_in/smtp_int.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "smtp_in/vars.h"

static struct message *
data_message(struct smtp_sess *s)
{
	struct message *m = arena_zalloc(arena_msg, sizeof(*m));
	const struct smtp_conn_info *ci = s->ci;

	m->sender = s->sender;
	m->rcpts = s->rcpts;
	m->nrcpts = s->nrcpts;
	m->local = ci->is_local;
	m->host_address = ci->host_address;
	m->host_port = ci->host_port;
	m->interface_address = ci->interface_address;
	m->interface_port = ci->interface_port;
	m->helo_name = s->helo;
	m->host_name = s->host_name;
	m->data_fd = -1;
	if (ci->is_local) {
		m->received_protocol = s->esmtp ? "local-esmtp" : "local-smtp";
		m->ident = rt.caller_login;
		m->uid = rt.real_uid;
		m->gid = rt.real_gid;
	} else {
		/* Exim's names: esmtp, esmtps (TLS), esmtpa (AUTH), esmtpsa;
		 * ssmtp, essmtp, essmtpa for TLS on connect with the
		 * tls_on_connect selector */
		if (s->tls_on_connect && LOG_SEL(tls_on_connect))
			m->received_protocol = arena_printf(arena_msg, "%s%s",
				s->esmtp ? "essmtp" : "ssmtp",
				s->authenticated_id != NULL ? "a" : "");
		else
			m->received_protocol = arena_printf(arena_msg, "%s%s%s",
				s->esmtp ? "esmtp" : "smtp", s->tls != NULL ?
				"s" : "", s->authenticated_id != NULL ? "a" : "");
		m->uid = rt.tern_uid;
		m->gid = rt.tern_gid;
	}
	if (s->authenticated_id != NULL) {
		m->authenticated_id = smtp_in_vars.authenticated_id;
		m->authenticator = smtp_in_vars.authenticator;
	}
	if (s->tls != NULL) {
		m->tls_cipher = smtp_in_vars.tls_cipher;
		m->tls_peerdn = smtp_in_vars.tls_peerdn;
		m->tls_sni = smtp_in_vars.tls_sni;
		m->tls_verified = smtp_in_vars.tls_verified;
	}
	m->body_8bitmime = s->body_8bitmime;
	m->pipelining = !s->pipelining ? -1 : s->pipelining_used ? 1 : 0;
	return m;
}

/* The connection went away (or timed out) in the middle of the data. */
static void
data_lost(struct smtp_sess *s, const char *err)
{
	if (err != NULL)
		smtp_reply(s, "421 4.4.2 %s: %s - closing connection",
			conf.primary_hostname, err);
	smtp_log_data_lost(s, err != NULL);
	s->done = true;
}

/*
 * rejected_header: a message refused after its header section was read
 * takes its envelope (up to 5 recipients) and that section into the
 * rejectlog, each header line after its type letter, as in Exim.
 */
static void
data_reject_tail(const struct message *m)
{
	struct buf b;
	bool ok = true;
	size_t i;

	if (!LOG_SEL(rejected_header) || m->headers == NULL)
		return;
	buf_init(&b, arena_msg, 0);
	if (m->nrcpts > 0) {
		ok = buf_printf(&b, "Envelope-from: <%s>\nEnvelope-to: <%s>\n",
			m->sender, m->rcpts[0].address);
		for (i = 1; ok && i < m->nrcpts && i < 5; i++)
			ok = buf_printf(&b, "    <%s>\n", m->rcpts[i].address);
		if (ok && i < m->nrcpts)
			ok = buf_adds(&b, "    ...\n");
	}
	/* The log keeps no more: no need to build more. */
	for (const struct header *h = m->headers; ok && h != NULL &&
	    b.len <= LOG_REJECT_TAIL_MAX; h = h->next) {
		if (h->text == NULL || h->len == 0)
			continue;
		ok = buf_addc(&b, h->type) && buf_addc(&b, ' ');
		/* A NUL in the data would end the tail early: shown as '?'.
		 * Every header ends its line, so the block ends in one. */
		for (size_t k = 0; ok && k < h->len; k++)
			ok = buf_addc(&b, h->text[k] != '\0' ? h->text[k] : '?');
		if (ok && h->text[h->len - 1] != '\n')
			ok = buf_addc(&b, '\n');
	}
	if (b.len > 0)
		log_reject_tail(b.p);
}

static void
data_refused(struct smtp_sess *s, const struct message *m,
	enum rcv_result rc, const char *err)
{
	if (rc == RCV_TOO_BIG || rc == RCV_BAD)
		data_reject_tail(m);
	switch (rc) {
	case RCV_TOO_BIG:
		smtp_reply(s, "552 5.3.4 message too big");
		smtp_reject_log_sel(s, LOG_SEL(size_reject),
			"rejected: message too big: max=%llu",
			(unsigned long long)conf.message_size_limit);
		break;
	case RCV_BAD:
		if (err != NULL && strstr(err, "mail loop") != NULL)
			smtp_reply(s, "550 5.4.6 %s", err);
		else
			smtp_reply(s, "554 5.6.0 %s", err != NULL ? err :
				"message refused");
		smtp_reject_log(s, "rejected after DATA: %s",
			err != NULL ? err : "bad message");
		break;
	default:
		if (receive_errno == ENOSPC || receive_errno == EDQUOT)
			smtp_reply(s, "452 4.3.1 insufficient disk space");
		else
			smtp_reply(s, "451 4.3.0 temporary local problem - please try later");
		break;
	}
}

void
smtp_act_data(struct smtp_sess *s, const char *args)
{
	char id[MESSAGE_ID_LEN + 1];
	char *err = NULL;
	struct message *m;
	enum rcv_result rc;

	(void)args;
	smtp_reply(s, "354 Enter message, ending with \".\" on a line by itself");
	if (!smtp_flush(s))
		return;
	m = data_message(s);
	rc = receive_message(m, &s->src, RCV_SMTP, false, &err);
	if (rc == RCV_EOF) {
		data_lost(s, err);
		return;
	}
	if (rc != RCV_OK) {
		data_refused(s, m, rc, err);
		smtp_reset_envelope(s);
		return;
	}
	/* receive_message returned RCV_OK: the message is committed. */
	memcpy(id, m->id, sizeof(id));
	smtp_reset_envelope(s);
	smtp_reply(s, "250 2.0.0 OK id=%s", id);
	/* Even if the client has gone, the message is ours to deliver. */
	(void)smtp_flush(s);
	receive_start_delivery(id);
}
