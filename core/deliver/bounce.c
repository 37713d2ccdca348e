/*
 * Bounces: a new message from "" to the sender listing the failed
 * addresses, followed by a copy of the original.  Plain text for now (the
 * RFC 3464 report comes with the queue issue).  A message from "" that
 * fails is not bounced: it is frozen, as Exim does.
 */
#include "deliver/deliver_int.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/spool.h"

static const char intro[] =
	"This message was created automatically by mail delivery software.\n"
	"\n"
	"A message that you sent could not be delivered to one or more of its\n"
	"recipients. This is a permanent error. The following address(es) "
	"failed:\n\n";

static const char copy_line[] =
	"\n------ This is a copy of the message, including all the headers. "
	"------\n";

static void
add_header(struct header ***tail, char type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
add_header(struct header ***tail, char type, const char *fmt, ...)
{
	struct header *h = arena_zalloc(arena_msg, sizeof(*h));
	va_list ap;

	va_start(ap, fmt);
	h->text = arena_vprintf(arena_msg, fmt, ap);
	va_end(ap);
	h->len = strlen(h->text);
	h->type = type;
	**tail = h;
	*tail = &h->next;
}

static void
bounce_headers(struct message *b, const char *to)
{
	struct header **tail = &b->headers;
	const char *qd = conf.qualify_domain != NULL ? conf.qualify_domain :
		conf.primary_hostname;
	char date[64];
	struct tm tm;

	localtime_r(&b->received, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	add_header(&tail, HDR_TO, "To: %s\n", to);
	add_header(&tail, HDR_NORMAL, "Subject: Mail delivery failed: "
		"returning message to sender\n");
	add_header(&tail, HDR_FROM, "From: Mail Delivery System "
		"<Mailer-Daemon@%s>\n", qd);
	add_header(&tail, HDR_NORMAL, "Auto-Submitted: auto-replied\n");
	add_header(&tail, HDR_MSGID, "Message-Id: <%s@%s>\n", b->id,
		conf.primary_hostname);
	add_header(&tail, HDR_NORMAL, "Date: %s\n", date);
}

/* The explanation: each failed address with its reason. */
static const char *
bounce_text(struct address_item **failed)
{
	struct buf b;
	bool ok;

	buf_init(&b, arena_msg, 0);
	ok = buf_adds(&b, intro);
	for (size_t i = 0; ok && failed[i] != NULL; i++) {
		const struct address_item *a = failed[i];
		const struct address_item *top = addr_top(a);

		ok = buf_printf(&b, "  %s\n", a->pub.address);
		if (ok && top != a && strcmp(top->pub.address, a->pub.address) != 0)
			ok = buf_printf(&b, "    (generated from %s)\n",
				top->pub.address);
		if (ok)
			ok = buf_printf(&b, "    %s\n", a->pub.message != NULL ?
				a->pub.message : "unknown error");
	}
	if (ok)
		ok = buf_adds(&b, copy_line);
	return ok ? b.p : NULL;
}

static const char *
user_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		return arena_strdup(arena_msg, pw->pw_name);
	return rt.caller_login != NULL ? rt.caller_login : "tern";
}

/* Write body and commit; 0 or -1 with *err_out. */
static int
bounce_spool(struct delivery *d, struct message *b, int fd,
	struct address_item **failed, char **err_out)
{
	const char *text = bounce_text(failed);

	if (text == NULL) {
		*err_out = arena_strdup(arena_msg, "bounce text too long");
		return -1;
	}
	if (write_all_fd(fd, text, strlen(text)) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write bounce: %m");
		return -1;
	}
	if (deliver_write_message(d->msg, fd, 0, NULL, NULL, err_out) != TERN_OK)
		return -1;
	bounce_headers(b, b->rcpts[0].address);
	return spool_commit(b, fd, err_out);
}

int
bounce_send(struct delivery *d, struct address_item **failed)
{
	const struct message *m = d->msg;
	const char *to = m->errors_to != NULL && m->errors_to[0] != '\0' ?
		m->errors_to : m->sender;
	struct message *b;
	char *err = NULL;
	int fd, rc;

	if (to == NULL || to[0] == '\0') {
		d->freeze = true;
		d->freeze_reason = "delivery error message";
		return -1;
	}
	b = arena_zalloc(arena_msg, sizeof(*b));
	b->sender = "";
	b->received = time(NULL);
	b->uid = geteuid();
	b->gid = getegid();
	b->ident = user_name();
	b->received_protocol = "local";
	b->local = true;
	b->is_bounce = true;
	b->data_fd = -1;
	b->rcpts = arena_zalloc(arena_msg, sizeof(*b->rcpts));
	b->rcpts[0].address = arena_strdup(arena_msg, to);
	b->nrcpts = 1;
	fd = spool_data_create(b, &err);
	if (fd < 0) {
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "cannot create bounce: %s",
			err);
		return -1;
	}
	rc = bounce_spool(d, b, fd, failed, &err);
	close(fd);
	if (rc != 0) {
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "cannot create bounce: %s",
			err);
		return -1;
	}
	log_write(TERN_LOG_MAIN, b->id, "<= <> R=%s U=%s P=local S=%" PRIu64,
		m->id, b->ident, b->size);
	deliver_fork(b->id);
	return 0;
}
