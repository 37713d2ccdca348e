/*
 * Timers for frozen messages, checked whenever a queue run (or any
 * unforced delivery) meets one: timeout_frozen_after cancels a message
 * frozen too long (a bounce is discarded, anything else bounces), and
 * ignore_bounce_errors_after gives an old frozen bounce one last try,
 * after which its failures are discarded instead of freezing it again.
 */
#include "deliver/deliver_int.h"

#include <time.h>

#include "config/config.h"
#include "log/log.h"
#include "spool/spool.h"

bool
deliver_frozen_timers(struct delivery *d)
{
	struct message *m = d->msg;
	time_t age = time(NULL) - m->received;
	bool is_bounce = m->sender == NULL || m->sender[0] == '\0';

	if (conf.timeout_frozen_after > 0 && age > conf.timeout_frozen_after) {
		m->frozen = false;
		d->cancel = true;
		d->discard_failures = is_bounce;
		dlog(d, TERN_LOG_MAIN, "cancelled by timeout_frozen_after: "
			"frozen for %lds", (long)age);
		return true;
	}
	if (is_bounce && conf.ignore_bounce_errors_after >= 0 &&
	    age > conf.ignore_bounce_errors_after) {
		m->frozen = false;
		d->discard_failures = true;
		dlog(d, TERN_LOG_MAIN, "Unfrozen by errmsg timer");
		return true;
	}
	return false;
}
