/*
 * The queue inspection and removal commands: -bp (mailq), -bpc, -Mrm,
 * -Mvh, -Mvb, -Mvl.  Each returns the process exit status: 0, or 1 when
 * something went wrong (the reason is printed to stderr).
 */
#ifndef TERN_CORE_QUEUE_QUEUE_H
#define TERN_CORE_QUEUE_QUEUE_H

#include <stdbool.h>

/*
 * -bp: for each message, "age size id <sender>" (plus " *** frozen ***"),
 * one line per recipient (delivered ones marked "D"), a blank line.
 * -bpc (count_only): the number of messages.
 */
int queue_list(bool count_only);

/*
 * -Mrm: remove a message that is not being delivered, logging
 * "removed by LOGIN" and "Completed".  Ordinary callers may only remove
 * messages they submitted.
 */
int queue_remove(const char *id);

/*
 * -Mf (freeze) and -Mt (thaw): set or clear the frozen flag of a message
 * that is not being delivered, logging "frozen by LOGIN" or "unfrozen by
 * LOGIN".  A frozen message is skipped by queue runs except -qff (and
 * -M), and by the frozen-message timers.
 */
int queue_freeze(const char *id, bool freeze);

/* -Mvh, -Mvb, -Mvl: the header section, the body, the message log to stdout. */
int queue_view_header(const char *id);
int queue_view_body(const char *id);
int queue_view_log(const char *id);

#endif
