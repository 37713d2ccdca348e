/*
 * maildrop/: how a user who cannot write the spool -- anyone but root
 * and tern_user on a system instance, since tern is not setuid --
 * submits a message.  Its sendmail writes the message, as read from its
 * standard input, with the options that shape it, into a file of its own
 * in spool_directory/maildrop; the daemon's pickup process (and every
 * queue run) takes each finished file into the spool as a local message
 * from the file's owner, and removes it.  The owner, set by the kernel,
 * is who sent it: nothing in the file can claim another user.  File
 * format and protocol: docs/spool.md, "maildrop/".
 */
#ifndef TERN_CORE_RECEIVE_MAILDROP_H
#define TERN_CORE_RECEIVE_MAILDROP_H

#include <stdbool.h>

#include "receive/receive.h"

struct maildrop_args {
	const char   *sender;   /* -f, or NULL */
	const char   *full_name;/* -F, or NULL */
	bool          extract;  /* -t */
	bool          dot_ends; /* no -i: a line with a lone "." ends it */
	bool          queue;    /* -odq */
	char * const *rcpts;    /* the recipient arguments */
	int           nrcpts;
};

/*
 * Must this process submit through maildrop/?  When it was not started
 * as root and is not the owner of the spool directory: it could not
 * create a message file.
 */
bool maildrop_wanted(void);

/*
 * sendmail's side: the message on in_fd (up to EOF, or a lone "." line
 * when a->dot_ends) into a new file in maildrop/, synced when spool_sync
 * is set, before this returns RCV_OK.  What the pickup would refuse is
 * refused here (receive_check), leaving no file: RCV_BAD (a recipient
 * argument's syntax, the header section), RCV_TOO_BIG
 * (message_size_limit), RCV_NO_RECIPIENTS (-t found none); so are
 * failures, RCV_TEMP.  *err_out says why.
 */
enum rcv_result maildrop_submit(const struct maildrop_args *a, int in_fd,
	char **err_out);

/*
 * The pickup: every finished file in maildrop/ into the spool, then
 * removed; a message's delivery is started (deliver true: the daemon's
 * pickup process) or left to the queue run that called it.  A file that
 * cannot become a message (not finished by a sendmail that went away,
 * damaged, no recipients, too big) is removed with a log line saying
 * why; a spool failure leaves the rest for the next pickup.  For a
 * process that reads no other untrusted data and keeps no root.
 * Returns the number of messages taken in.
 */
int maildrop_pickup(bool deliver);

/* Is there anything in maildrop/ for a pickup to look at? */
bool maildrop_waiting(void);

#endif
