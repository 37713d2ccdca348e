/*
 * Bounces, delay warnings and freeze notices: new messages from "" (the
 * null sender), spooled and delivered like any other.  Bounces and
 * warnings are RFC 3464 reports (report.c writes their text); a message
 * from "" that fails is not bounced but frozen, as Exim does, and
 * postmaster (or freeze_tell) is told.
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
#include "config/lists.h"
#include "deliver/deliver.h"
#include "deliver/report.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "receive/receive.h"
#include "spool/spool.h"

/* Marks a freeze notice, so that a failing notice tells nobody. */
#define FROZEN_NOTICE_HEADER "X-Tern-Frozen-Notice"

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
notice_headers(struct message *b, const struct notice *n)
{
	struct header **tail = &b->headers;
	const char *qd = conf.qualify_domain != NULL ? conf.qualify_domain :
		conf.primary_hostname;
	char date[64];
	struct tm tm;

	localtime_r(&b->received, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", &tm);
	add_header(&tail, HDR_TO, "To: %s\n", n->to_header);
	add_header(&tail, HDR_NORMAL, "Subject: %s\n", n->subject);
	add_header(&tail, HDR_FROM, "From: Mail Delivery System "
		"<Mailer-Daemon@%s>\n", qd);
	add_header(&tail, HDR_NORMAL, "Auto-Submitted: auto-replied\n");
	add_header(&tail, HDR_MSGID, "Message-Id: <%s@%s>\n", b->id,
		conf.primary_hostname);
	add_header(&tail, HDR_NORMAL, "Date: %s\n", date);
	if (n->boundary != NULL) {
		add_header(&tail, HDR_NORMAL, "MIME-Version: 1.0\n");
		add_header(&tail, HDR_NORMAL, "Content-Type: multipart/report; "
			"report-type=delivery-status;\n\tboundary=\"%s\"\n",
			n->boundary);
	}
	if (n->frozen_id != NULL)
		add_header(&tail, HDR_NORMAL, FROZEN_NOTICE_HEADER ": %s\n",
			n->frozen_id);
}

static const char *
user_name(void)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw != NULL)
		return arena_strdup(arena_msg, pw->pw_name);
	return rt.caller_login != NULL ? rt.caller_login : "tern";
}

/* Body, the copy of the original, the closing boundary; then commit. */
static int
notice_write(struct delivery *d, struct message *b, int fd,
	const struct notice *n, char **err_out)
{
	if (io_write_all(fd, n->text, strlen(n->text)) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write: %m");
		return -1;
	}
	if (n->copy != COPY_NONE && deliver_write_message(d->msg, fd,
	    n->copy == COPY_HEADERS ? TERN_WR_HEADERS_ONLY : 0, NULL, NULL,
	    err_out) != TERN_OK)
		return -1;
	if (n->trailer != NULL &&
	    io_write_all(fd, n->trailer, strlen(n->trailer)) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write: %m");
		return -1;
	}
	notice_headers(b, n);
	return spool_commit(b, fd, NULL, 0, err_out);
}

/*
 * Spool notice n from "" to the addresses in rcpts, log its arrival and
 * start its delivery.  0, or -1 (logged).
 */
static int
notice_send(struct delivery *d, const char *const *rcpts, size_t nrcpts,
	const struct notice *n)
{
	struct message *b = arena_zalloc(arena_msg, sizeof(*b));
	char *err = NULL;
	int fd, rc;

	b->sender = "";
	b->received = time(NULL);
	b->uid = geteuid();
	b->gid = getegid();
	b->ident = user_name();
	b->received_protocol = "local";
	b->local = true;
	b->is_bounce = true;
	b->msgid_created = true; /* notice_headers writes it */
	b->data_fd = -1;
	b->rcpts = arena_zalloc(arena_msg, nrcpts * sizeof(*b->rcpts));
	for (size_t i = 0; i < nrcpts; i++)
		b->rcpts[i].address = arena_strdup(arena_msg, rcpts[i]);
	b->nrcpts = nrcpts;
	fd = spool_data_create(b, &err);
	if (fd < 0) {
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "cannot create %s: %s",
			n->what, err);
		return -1;
	}
	rc = notice_write(d, b, fd, n, &err);
	if (rc != 0)
		spool_data_abort(b, fd);
	else
		spool_data_close(b, fd);
	if (rc != 0) {
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "cannot create %s: %s",
			n->what, err);
		return -1;
	}
	log_write(TERN_LOG_MAIN, b->id, "<= <> R=%s U=%s P=local S=%" PRIu64
		"%s", d->msg->id, b->ident, b->size, receive_log_tail(b));
	deliver_start(b->id);
	return 0;
}

/*
 * Where failures of a go: the errors_to of the director or router that
 * handled it (or an ancestor), else the message's, else the main option,
 * else the sender.  "" means nobody (discard); NULL the null sender.
 */
static const char *
errors_dest(struct delivery *d, struct address_item *a)
{
	const struct message *m = d->msg;

	for (struct address_item *p = a; p != NULL; p = p->parent_item) {
		const char *tmpl = p->handled_by != NULL ?
			p->handled_by->g.route.errors_to : NULL;
		struct tern_ctx ctx = {
			.msg = d->msg, .addr = p, .inst = p->handled_by,
			.arena = arena_msg, .sender = d->sender,
		};
		char *out = NULL, *err = NULL;

		if (tmpl == NULL)
			continue;
		if (expand_string(&ctx, arena_msg, tmpl, &out, &err) == TERN_OK)
			return out;
		dlog(d, TERN_LOG_MAIN, "%s: errors_to \"%s\" failed to expand: %s",
			a->pub.address, tmpl, err != NULL ? err : "forced failure");
	}
	if (m->errors_to != NULL && m->errors_to[0] != '\0')
		return m->errors_to;
	if (conf.errors_to != NULL && conf.errors_to[0] != '\0')
		return conf.errors_to;
	return m->sender != NULL && m->sender[0] != '\0' ? m->sender : NULL;
}

/* One bounce for the failed addresses that go to `to`. */
static int
bounce_one(struct delivery *d, const char *to, struct address_item **group)
{
	struct notice n;

	report_failed(d, to, group, &n);
	return notice_send(d, &to, 1, &n);
}

int
bounce_send(struct delivery *d, struct address_item **failed)
{
	size_t n = 0;
	const char **dest, *cur;
	int rc = 0;

	while (failed[n] != NULL)
		n++;
	dest = arena_zalloc(arena_msg, (n + 1) * sizeof(*dest));
	for (size_t i = 0; i < n; i++) {
		dest[i] = errors_dest(d, failed[i]);
		if (dest[i] == NULL) {
			d->freeze = true;
			d->freeze_reason = "delivery error message";
			return -1;
		}
	}
	for (size_t i = 0; i < n; i++) {
		struct address_item **group;
		size_t k = 0;

		if (dest[i] == NULL || dest[i][0] == '\0') {
			if (dest[i] != NULL)
				dlog(d, TERN_LOG_MAIN, "%s: bounce discarded "
					"(errors_to is empty)", failed[i]->pub.address);
			continue;
		}
		cur = dest[i];
		group = arena_zalloc(arena_msg, (n + 1) * sizeof(*group));
		for (size_t j = i; j < n; j++)
			if (dest[j] != NULL && strcmp(dest[j], cur) == 0) {
				group[k++] = failed[j];
				dest[j] = NULL;
			}
		if (bounce_one(d, cur, group) != 0)
			rc = -1;
	}
	return rc;
}

/* The time of warning number `count` (1-based) from delay_warning, or -1. */
static long
warning_time(int count)
{
	const char *list = conf.delay_warning, *item;
	char sep = ':';
	long prev = 0, last = -1;
	int i = 0;

	if (list == NULL)
		return -1;
	while ((item = list_next(&list, &sep)) != NULL) {
		int secs = 0;
		char *err = NULL;

		if (option_parse_value(TERN_OPT_TIME, item, &secs, &err) != 0 ||
		    secs <= 0)
			return -1;
		prev = last < 0 ? 0 : last;
		last = secs;
		if (++i == count)
			return secs;
	}
	if (last <= 0 || last <= prev)
		return -1;
	return last + (long)(count - i) * (last - prev);
}

void
bounce_delay_warning(struct delivery *d)
{
	struct message *m = d->msg;
	time_t age = time(NULL) - m->received;
	int count = m->warning_count;
	long due;
	const char *to;
	struct notice n;

	if (m->sender == NULL || m->sender[0] == '\0')
		return;
	while ((due = warning_time(count + 1)) > 0 && age >= due)
		count++;
	if (count == m->warning_count)
		return;
	m->warning_count = count;
	to = m->errors_to != NULL && m->errors_to[0] != '\0' ? m->errors_to :
		conf.errors_to != NULL && conf.errors_to[0] != '\0' ?
		conf.errors_to : m->sender;
	if (!report_delayed(d, to, (long)age, &n))
		return;
	if (notice_send(d, &to, 1, &n) == 0)
		dlog(d, TERN_LOG_MAIN, "Warning: delay warning %d sent to %s",
			count, to);
}

static bool
is_frozen_notice(const struct message *m)
{
	size_t len = strlen(FROZEN_NOTICE_HEADER);

	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->len > len && strncasecmp(h->text, FROZEN_NOTICE_HEADER,
		    len) == 0 && h->text[len] == ':')
			return true;
	return false;
}

void
bounce_freeze_tell(struct delivery *d, const char *reason)
{
	const struct message *m = d->msg;
	const char *list = conf.freeze_tell, *item;
	const char **to = NULL;
	size_t n = 0, cap = 0;
	char sep = ',';
	struct notice nt;
	bool is_bounce = m->sender == NULL || m->sender[0] == '\0';

	if (is_frozen_notice(m) || (list == NULL && !is_bounce))
		return;
	if (list == NULL)
		list = arena_printf(arena_msg, "postmaster@%s",
			conf.qualify_domain != NULL ? conf.qualify_domain :
			conf.primary_hostname);
	if (strchr(list, ',') == NULL)
		sep = ':';
	while ((item = list_next(&list, &sep)) != NULL) {
		if (n == cap) {
			const char **more;

			cap = cap ? 2 * cap : 4;
			more = arena_zalloc(arena_msg, cap * sizeof(*more));
			if (n > 0)
				memcpy(more, to, n * sizeof(*to));
			to = more;
		}
		to[n++] = arena_strdup(arena_msg, item);
	}
	if (n == 0)
		return;
	report_frozen(d, to, n, reason, &nt);
	if (notice_send(d, to, n, &nt) == 0)
		dlog(d, TERN_LOG_MAIN, "freeze notice sent to %s",
			nt.to_header);
}
