/*
 * RFC 3464 reports: a human-readable part, a message/delivery-status part
 * (Reporting-MTA, Arrival-Date, then per recipient Final-Recipient,
 * Action, Status, Diagnostic-Code) and the original message (or only its
 * headers: bounce_return_message, bounce_return_size_limit).
 */
#include "deliver/report.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver_int.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "spool/spool.h"

#define DIAG_MAX 900

static const char failed_intro[] =
	"This message was created automatically by mail delivery software.\n"
	"\n"
	"A message that you sent could not be delivered to one or more of its\n"
	"recipients. This is a permanent error. The following address(es) "
	"failed:\n\n";

static const char mime_preamble[] =
	"This is a MIME-formatted message.  If you see this text it means\n"
	"that your mail software does not support MIME-formatted messages.\n";

/* One line of header-safe text: control characters become spaces. */
static const char *
one_line(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;
	char *out;

	if (n > DIAG_MAX)
		n = DIAG_MAX;
	out = arena_strndup(arena_msg, s != NULL ? s : "", n);
	for (char *p = out; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return out;
}

const char *
report_status(const char *text, char cls)
{
	const char *p = text;

	if (p != NULL && isdigit((unsigned char)p[0]) &&
	    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
	    (p[3] == ' ' || p[3] == '-') && p[4] == cls && p[5] == '.') {
		size_t n = 4 + strspn(p + 4, "0123456789.");

		if (n > 8 && n < 16)
			return arena_strndup(arena_msg, p + 4, n - 4);
	}
	if (cls == '5' && text != NULL && strstr(text, "Unknown user") != NULL)
		return "5.1.1";
	return cls == '5' ? "5.0.0" : "4.0.0";
}

/* Diagnostic-Code: an SMTP reply as "smtp;", anything else as ours. */
static const char *
diagnostic(const char *text)
{
	const char *t = one_line(text);

	if (isdigit((unsigned char)t[0]) && isdigit((unsigned char)t[1]) &&
	    isdigit((unsigned char)t[2]) && (t[3] == ' ' || t[3] == '\0'))
		return arena_printf(arena_msg, "smtp; %s", t);
	return arena_printf(arena_msg, "X-Tern; %s", t);
}

static const char *
rfc_date(time_t t)
{
	char date[64];
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	return arena_strdup(arena_msg, date);
}

static const char *
new_boundary(const struct delivery *d)
{
	return arena_printf(arena_msg, "%ld-%s-%u=_tern", (long)time(NULL),
		d->msg->id, (unsigned)arc4random());
}

/* What of the original goes back to the sender. */
static int
copy_kind(const struct message *m)
{
	if (!conf.bounce_return_message)
		return COPY_HEADERS;
	if (conf.bounce_return_size_limit > 0 &&
	    m->size > conf.bounce_return_size_limit)
		return COPY_HEADERS;
	return COPY_FULL;
}

/* The per-message fields of message/delivery-status. */
static bool
status_head(struct buf *b, const struct delivery *d, const char *boundary)
{
	return buf_printf(b, "\n--%s\nContent-Type: message/delivery-status\n"
		"Content-Description: Delivery report\n\n"
		"Reporting-MTA: dns; %s\nArrival-Date: %s\n", boundary,
		conf.primary_hostname, rfc_date(d->msg->received));
}

static bool
status_rcpt(struct buf *b, const struct address_item *a, const char *action,
	char cls)
{
	const struct address_item *top = addr_top(a);
	const char *text = a->pub.message != NULL ? a->pub.message :
		"unknown error";
	bool ok = buf_printf(b, "\nFinal-Recipient: rfc822;%s\n",
		one_line(a->pub.address));

	if (ok && top != a && top->rcpt_index >= 0)
		ok = buf_printf(b, "Original-Recipient: rfc822;%s\n",
			one_line(top->pub.address));
	return ok && buf_printf(b, "Action: %s\nStatus: %s\n"
		"Diagnostic-Code: %s\n", action, report_status(text, cls),
		diagnostic(text));
}

/* The third part's header, and the closing boundary after the copy. */
static bool
copy_part(struct buf *b, struct notice *n, int copy, const char *boundary)
{
	n->copy = copy;
	n->trailer = arena_printf(arena_msg, "\n--%s--\n", boundary);
	return buf_printf(b, "\n--%s\nContent-Type: %s\n"
		"Content-Description: %s\n\n", boundary,
		n->copy == COPY_FULL ? "message/rfc822" : "text/rfc822-headers",
		n->copy == COPY_FULL ? "Undelivered Message" :
		"Undelivered Message Headers");
}

static bool
failed_text(struct buf *b, struct address_item **failed, int copy)
{
	bool ok = buf_adds(b, failed_intro);

	for (size_t i = 0; ok && failed[i] != NULL; i++) {
		const struct address_item *a = failed[i];
		const struct address_item *top = addr_top(a);

		ok = buf_printf(b, "  %s\n", a->pub.address);
		if (ok && top != a && strcmp(top->pub.address, a->pub.address) != 0)
			ok = buf_printf(b, "    (generated from %s)\n",
				top->pub.address);
		if (ok)
			ok = buf_printf(b, "    %s\n", a->pub.message != NULL ?
				a->pub.message : "unknown error");
		if (ok)
			ok = return_output_report(b, a);
	}
	if (ok)
		ok = buf_adds(b, copy == COPY_FULL ?
			"\n------ This is a copy of the message, including all "
			"the headers. ------\n" :
			"\n------ This is a copy of the message's headers. "
			"------\n");
	return ok;
}

void
report_failed(struct delivery *d, const char *to,
	struct address_item **failed, struct notice *n)
{
	const char *boundary = new_boundary(d);
	struct buf b;
	bool ok;

	memset(n, 0, sizeof(*n));
	n->what = "bounce";
	n->to_header = to;
	n->subject = "Mail delivery failed: returning message to sender";
	n->boundary = boundary;
	buf_init(&b, arena_msg, 0);
	ok = buf_printf(&b, "%s\n--%s\nContent-Type: text/plain; "
		"charset=us-ascii\nContent-Description: Notification\n\n",
		mime_preamble, boundary) &&
		failed_text(&b, failed, copy_kind(d->msg)) &&
		status_head(&b, d, boundary);
	for (size_t i = 0; ok && failed[i] != NULL; i++)
		ok = status_rcpt(&b, failed[i], "failed", '5');
	ok = ok && copy_part(&b, n, copy_kind(d->msg), boundary);
	n->text = ok ? b.p : "bounce text too long\n";
}

/* A duration as "24 hours" / "3 days" / "45 minutes". */
static const char *
age_text(long age)
{
	if (age >= 2 * 86400)
		return arena_printf(arena_msg, "%ld days", age / 86400);
	if (age >= 2 * 3600)
		return arena_printf(arena_msg, "%ld hours", age / 3600);
	if (age >= 120)
		return arena_printf(arena_msg, "%ld minutes", age / 60);
	return arena_printf(arena_msg, "%ld seconds", age);
}

bool
report_delayed(struct delivery *d, const char *to, long age,
	struct notice *n)
{
	const char *boundary = new_boundary(d), *when = age_text(age);
	struct buf b;
	bool ok, any = false;

	memset(n, 0, sizeof(*n));
	n->what = "delay warning";
	n->to_header = to;
	n->subject = arena_printf(arena_msg, "Warning: message %s delayed %s",
		d->msg->id, when);
	n->boundary = boundary;
	buf_init(&b, arena_msg, 0);
	ok = buf_printf(&b, "%s\n--%s\nContent-Type: text/plain; "
		"charset=us-ascii\nContent-Description: Notification\n\n"
		"This message was created automatically by mail delivery "
		"software.\n\nA message that you sent has not yet been delivered "
		"to one or more of its\nrecipients after more than %s on the "
		"queue on %s.\n\nThe message identifier is:     %s\n\n"
		"The address(es) to which delivery has not yet been possible:\n\n",
		mime_preamble, boundary, when, conf.primary_hostname, d->msg->id);
	for (struct address_item *a = d->all; ok && a != NULL; a = a->all_next)
		if (a->rc == TERN_DEFER && a->dup_of == NULL) {
			ok = buf_printf(&b, "  %s\n    %s\n", a->pub.address,
				a->pub.message != NULL ? a->pub.message : "");
			any = true;
		}
	ok = ok && buf_adds(&b, "\nNo action is required on your part. "
		"Delivery attempts will continue for\nsome time, and this "
		"warning may be repeated at intervals if the message\nremains "
		"undelivered. Eventually the mail delivery software will give "
		"up,\nand when that happens, the message will be returned to "
		"you.\n") && status_head(&b, d, boundary);
	for (struct address_item *a = d->all; ok && a != NULL; a = a->all_next)
		if (a->rc == TERN_DEFER && a->dup_of == NULL)
			ok = status_rcpt(&b, a, "delayed", '4');
	ok = ok && copy_part(&b, n, COPY_HEADERS, boundary);
	n->text = ok ? b.p : "warning text too long\n";
	return any;
}

void
report_frozen(struct delivery *d, const char *const *to, size_t nto,
	const char *reason, struct notice *n)
{
	const struct message *m = d->msg;
	struct buf b, th;
	bool ok;

	memset(n, 0, sizeof(*n));
	n->what = "freeze notice";
	buf_init(&th, arena_msg, 0);
	for (size_t i = 0; i < nto; i++)
		if (!buf_printf(&th, "%s%s", i ? ", " : "", to[i]))
			break;
	n->to_header = th.p;
	n->subject = arena_printf(arena_msg, "Message %s frozen", m->id);
	n->frozen_id = m->id;
	buf_init(&b, arena_msg, 0);
	ok = buf_printf(&b, "Message %s has been frozen on %s.\n\n"
		"Reason: %s\nSender: <%s>\nRecipients:\n", m->id,
		conf.primary_hostname, reason, m->sender != NULL ? m->sender : "");
	for (size_t i = 0; ok && i < m->nrcpts; i++)
		ok = buf_printf(&b, "  %s%s\n", m->rcpts[i].address,
			m->rcpts[i].done ? " (done)" : "");
	ok = ok && buf_printf(&b, "\nThe message stays on the queue. Deliver it "
		"with \"tern -M %s\" after fixing\nthe problem, thaw it with "
		"\"tern -Mt %s\", or remove it with \"tern -Mrm %s\".\n\n"
		"------ The headers of the frozen message ------\n\n", m->id,
		m->id, m->id);
	n->text = ok ? b.p : "freeze notice too long\n";
	n->copy = COPY_HEADERS;
}
