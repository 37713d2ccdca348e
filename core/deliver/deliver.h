/* Delivering one message: routing every address, running transports. */
#ifndef TERN_CORE_DELIVER_DELIVER_H
#define TERN_CORE_DELIVER_DELIVER_H

#include <stdbool.h>

/* deliver_message flags */
#define DELIVER_FORCE  0x1 /* -M, -qf: ignore retry times */
#define DELIVER_FROZEN 0x2 /* -qff, -M: also frozen messages */
#define DELIVER_QUEUE_SMTP 0x4 /* -qq first pass: route, local only */
#define DELIVER_TWO_PASS   0x8 /* queue_run: -qq (a DELIVER_QUEUE_SMTP pass first) */
/*
 * A process without root (a reception process delivering its own
 * message): if the message turns out to need root, stop after routing,
 * with nothing written or logged, and return 3.
 */
#define DELIVER_NO_ROOT    0x10

/*
 * The daemon's delivery of an id a process just handed it: a lock found
 * held is tried again for a while (HANDED_WAIT_MS) before the message is
 * left to whoever holds it.  A reception taking a pool/ file can hold
 * the lock of a file renamed from there for a moment (it opened the
 * name just before the rename); given up at once, that moment left the
 * message to the next queue run (bench/RESULTS.md, fourteenth session).
 */
#define DELIVER_HANDED     0x20

/*
 * Lock, read and deliver message id in this process: directors for local
 * domains, routers for the rest, transports (local ones as the recipient,
 * in a child unless transport.c says local_here), journal each success,
 * rewrite -H, bounce failures, remove
 * the message when nothing is left ("Completed").  Returns 0 when the
 * message was processed (delivered, deferred or bounced), 1 when it was
 * locked by another process or did not exist, 2 on an error, 3 when
 * DELIVER_NO_ROOT found it needs root (untouched: start it elsewhere).
 */
int deliver_message(const char *id, unsigned flags);

/*
 * Fork (and do not wait for) a process running deliver_message(id): a
 * double fork, so that nobody has to reap it.
 */
void deliver_fork(const char *id);

/*
 * The daemon's handoff pipe, in a process the daemon forked (a reception
 * process, a delivery process): deliver_start() writes ids there and the
 * daemon starts their deliveries.  Installs a SIGPIPE handler, so that a
 * daemon gone away only fails the write.
 */
void deliver_set_handoff(int fd);
bool deliver_has_handoff(void);
/* One line (shorter than PIPE_BUF: written whole) to that pipe; false
 * when there is none or the write failed (errno says why). */
bool deliver_handoff_line(const char *line, size_t len);

/*
 * Can a process without root (a reception process, root given up for
 * good) deliver messages itself with DELIVER_NO_ROOT?  Not when started
 * as root with tern_user root, nor when a director or router may need
 * root to route (route_may_need_root).  Rootless: always.
 */
bool deliver_without_root_possible(void);

/*
 * Have id delivered now: through the daemon's handoff pipe when this
 * process has it (if the write fails, the message waits for a queue run,
 * which is logged), else deliver_fork().  A message this process has
 * parked in pool/ (docs/spool.md) goes over as "ID SLOT" and stays where
 * it is; otherwise it is named in input/ first.
 */
void deliver_start(const char *id);

/*
 * In a process just forked to deliver id: leave the caller's process
 * group (and the terminal's session, if it has one), put /dev/null on
 * stdin and stdout, close every inherited socket (unless !sockets: the
 * caller knows it has none), run deliver_message(id, flags) and exit; a
 * DELIVER_NO_ROOT delivery that needs root goes to
 * deliver_start.  The daemon starts deliveries this way, having closed
 * its listening sockets in the child, and reaps them itself; so does a
 * reception process for its connection's last message.
 */
_Noreturn void deliver_detached(const char *id, bool sockets,
	unsigned flags);

/*
 * Find out once whether this process has a controlling terminal, which
 * deliver_detached leaves with a session of its own: the daemon asks
 * before its first fork, so that its children need not.
 */
void deliver_note_terminal(void);

/*
 * A reception process tells the daemon that its connection is over,
 * before it goes on to deliver: it no longer counts against
 * smtp_accept_max and the per-host limits.  It sets its flag on the
 * daemon's board (deliver_set_over_flag: memory shared with the daemon,
 * which looks at it when it next counts), else writes "-PID" to the
 * handoff pipe.  Once.
 */
void deliver_set_over_flag(int *flag);
void deliver_connection_over(void);

/*
 * One journal commit for two deliveries (share.c).  deliver_share_init:
 * the daemon's two shared words (before its first fork; its children
 * inherit them): receptions under way, and the word a delivery waits on.
 * deliver_share_over: set a reception's flag on the board, counting it
 * down once.  deliver_sync_share: called just before an fsync that
 * commits the file system's journal (appendfile's maildir_commit_wait
 * gives wait_us); while a reception is under way, wait
 * up to wait_us for another delivery to reach the same point, or wake
 * the one waiting.  1 when joined with another, 0 when not (no board, no
 * reception under way, or nobody came in time).
 */
void deliver_share_init(int *active, int *pair);
void deliver_share_over(int *flag);
int deliver_sync_share(long wait_us);

/*
 * -bt / -bv: route `address` (verify: as RCPT verification would) and
 * print the result to stdout.  Returns 0 if deliverable, 2 if not, 1 defer.
 */
int deliver_test_address(const char *address, bool verify);

/*
 * RCPT-time verification of a recipient in a local domain
 * (receiver_verify), and sender verification.  TERN_OK, TERN_FAIL (550)
 * or TERN_DEFER (451), with *log_out the whole reason, for the log, and
 * *user_out what a remote client may be told (the core's own texts, a
 * :fail: or :defer: text: TERN_AF_USER_MESSAGE), or NULL for a generic
 * text: a driver's or lookup's error may name files and servers.
 */
int deliver_verify_recipient(const char *address, const char *sender,
	char **log_out, char **user_out);

/* Is domain a local domain?  TERN_OK, TERN_FAIL, TERN_DEFER. */
int deliver_domain_is_local(const char *domain);

/*
 * -q: one pass over the queue (random order unless queue_run_in_order),
 * flags as above; with DELIVER_TWO_PASS (-qq) a first pass routes every
 * message and does only its local deliveries, so that the second finds
 * the messages for each remote host together.  Stops delivering while
 * the load average is above deliver_queue_load_max.
 */
int queue_run(unsigned flags);

/*
 * -R string (also -qR): only messages with an undelivered recipient that
 * contains string (caseless).  NULL: every message.
 */
extern const char *queue_run_select;

#endif
