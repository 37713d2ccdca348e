/*
 * Retry times for local deliveries: an address that deferred is not tried
 * again before the time its retry rule gives (unless forced), and fails
 * with "retry timeout exceeded" once the rule's last cutoff has passed.
 * Remote transports keep their own host records through the retry_due
 * and retry_record services.
 */
#include "deliver/deliver_int.h"

#include <string.h>
#include <time.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "log/log.h"
#include "log/selector.h"
#include "retry/retry.h"
#include "spool/spool.h"

/*
 * The errno of "retry time not reached" on a local delivery.  Exim's is
 * -53 (ERRNO_LRETRY; -52 is its routing's); Tern has always written -52
 * (docs/log.md).  Both are at or below TERN_ERRNO_RETRY_BASE.
 */
#define ERRNO_LRETRY (-52)

static bool
is_local_delivery(const struct address_item *a)
{
	return a->transport != NULL && a->transport->mod != NULL &&
		a->transport->mod->transport.is_local;
}

/*
 * The retry key of a local delivery: the address; for a pipe or file
 * from an alias or forward file, "top-address:/path" ("top:|command"),
 * so that rules and tern-next find it by the address it came from.
 */
static const char *
local_key(const struct address_item *a)
{
	if (a->pub.kind == TERN_ADDR_MAIL)
		return a->key;
	return arena_printf(arena_msg, "%s:%s", addr_top(a)->key, a->key);
}

static const char *
router_name(const struct address_item *a)
{
	return a->handled_by != NULL ? a->handled_by->pub.name : "-";
}

/* Take a off the routed list after deciding its fate here. */
static void
not_tried(struct delivery *d, struct address_item *a, int rc, time_t next)
{
	char when[32];
	struct tm tm;

	if (rc == TERN_FAIL) {
		addr_result(a, TERN_FAIL, "retry timeout exceeded");
		dlog(d, TERN_LOG_MAIN, "** %s%s R=%s T=%s: retry timeout "
			"exceeded", addr_log_name(a), addr_log_from(d, false),
			router_name(a), a->transport->pub.name);
		return;
	}
	a->retry_skipped = true;
	a->pub.basic_errno = ERRNO_LRETRY;
	addr_result(a, TERN_DEFER, "retry time not reached");
	/* log_selector's retry_defer: the line says nothing new after the
	 * deferral that set the retry time (Exim leaves it out of the
	 * message log after the first try; Tern, with it off, of both). */
	if (!LOG_SEL(retry_defer))
		return;
	localtime_r(&next, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	dlog(d, TERN_LOG_MAIN, "== %s R=%s T=%s defer (%d): retry time not "
		"reached (next try %s)", addr_log_name(a), router_name(a),
		a->transport->pub.name, ERRNO_LRETRY, when);
}

void
retry_filter_routed(struct delivery *d)
{
	struct address_item **pp = &d->routed;

	if (d->flags & DELIVER_FORCE) {
		DEBUG("%s: forced delivery: retry times ignored", d->msg->id);
		return;
	}
	while (*pp != NULL) {
		struct address_item *a = *pp;
		time_t next = 0;
		int rc = TERN_OK;

		if (is_local_delivery(a))
			rc = retry_check(local_key(a), d->msg->received, &next,
				&a->retry_absent);
		if (rc == TERN_OK) {
			pp = &a->next;
			continue;
		}
		*pp = a->next;
		a->next = NULL;
		not_tried(d, a, rc, next);
	}
	d->routed_tail = &d->routed;
	while (*d->routed_tail != NULL)
		d->routed_tail = &(*d->routed_tail)->next;
}

void
retry_after_transports(struct delivery *d)
{
	for (struct address_item *a = d->all; a != NULL; a = a->all_next) {
		const char *cls;

		if (!is_local_delivery(a) || a->retry_skipped ||
		    a->dup_of != NULL)
			continue;
		/*
		 * Done: its record goes, if it had one when it was routed (as
		 * in Exim); looking again would open the database for nothing
		 * on almost every delivery.
		 */
		if (a->rc != TERN_DEFER) {
			if (!a->retry_absent)
				(void)retry_update(local_key(a), NULL, 0, NULL);
			continue;
		}
		cls = retry_local_class(a->pub.basic_errno, a->pub.message);
		if (!retry_update(local_key(a), cls, a->pub.basic_errno,
		    a->pub.message))
			continue;
		addr_result(a, TERN_FAIL, "retry timeout exceeded (last error: "
			"%s)", a->pub.message != NULL ? a->pub.message : "none");
		dlog(d, TERN_LOG_MAIN, "** %s%s R=%s T=%s: retry timeout "
			"exceeded", addr_log_name(a), addr_log_from(d, false),
			router_name(a), a->transport->pub.name);
	}
}
