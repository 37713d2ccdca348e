/* Private to core/deliver: one delivery (or routing test) in progress. */
#ifndef TERN_CORE_DELIVER_DELIVER_INT_H
#define TERN_CORE_DELIVER_DELIVER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "deliver/ctx.h"

struct message;

/* address_item.rc besides the TERN_* results */
#define ADDR_NEW      (-10) /* waiting to be routed */
#define ADDR_ROUTED   (-11) /* has a transport, waiting for it */
#define ADDR_EXPANDED (-12) /* became children (alias, forward) */

#define MAX_ALIAS_DEPTH 30

struct delivery {
	struct message      *msg;          /* NULL for -bt, -bv and RCPT */
	const char          *sender;       /* $sender_address */
	const char          *host_address; /* $sender_host_address */
	bool                 verify;       /* ctx.verify for the drivers */
	bool                 test_only;    /* route, never deliver or log */
	bool                 expand_children; /* route generated addresses */
	bool                 freeze;       /* an ERROR: freeze the message */
	const char          *freeze_reason;
	unsigned             flags;        /* DELIVER_* of deliver_message */
	bool                 discard_failures; /* old bounce: drop, never freeze */
	bool                 cancel;       /* timeout_frozen_after: fail all */
	struct address_item *all, **all_tail;       /* every item */
	struct address_item *queue, **queue_tail;   /* to be routed */
	struct address_item *routed, **routed_tail; /* to be transported */
	/* DELIVER_NO_ROOT: log lines kept until routing says we go on. */
	bool                 hold_logs;
	struct held_log     *held, **held_tail;
};

void delivery_init(struct delivery *d);

/*
 * A new item for address text (MAIL, PIPE or FILE); *err_out on a syntax
 * error.  Unqualified mail addresses get qualify_domain.  arena_msg.
 */
struct address_item *addr_new(enum tern_addr_kind kind, const char *text,
	const char *qualify, char **err_out);
/* Add a top-level address (rcpt_index, or -1) to be routed. */
void route_add_top(struct delivery *d, struct address_item *a, long index);
/* Route everything queued, and (expand_children) what aliases make. */
void route_all(struct delivery *d);
/* Run the transports for everything routed. */
void transport_run_all(struct delivery *d);

/*
 * "user@dom <alias@dom>" for the logs; with log_selector's all_parents,
 * the parents between them too, "user@dom (list@dom, team@dom)
 * <alias@dom>", as Exim writes them.
 */
const char *addr_log_name(const struct address_item *a);
/*
 * What Exim puts after the address on "=>" and "**" lines: " F=<sender>"
 * (sender_on_delivery) and, when a transport was run for the address,
 * " P=<return path>" (return_path_on_delivery); "" when both are off.
 */
const char *addr_log_from(const struct delivery *d, bool transported);
/*
 * " QT=time" for a line of message m (log_selector's queue_time on "=>"
 * lines, queue_time_overall on "Completed"): how long since the message
 * arrived, to the microsecond its id gives.  Only called with the
 * selector on, so that the clock is read only then.
 */
const char *deliver_queue_time(const struct message *m);
const struct address_item *addr_top(const struct address_item *a);
/*
 * Mainlog (and the message's msglog) unless only testing.  Between
 * dlog_hold and dlog_release (written) or dlog_drop (forgotten), these
 * lines and every other log line of the process are kept back.
 */
void dlog(struct delivery *d, int where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void dlog_hold(struct delivery *d);
void dlog_release(struct delivery *d);
void dlog_drop(struct delivery *d);
/*
 * DELIVER_NO_ROOT (started as root): might a transport of what is
 * routed need root (a uid or groups other than ours, or a remote
 * transport that does not say TERN_MODF_NO_ROOT)?  Might routing (a
 * director or router that does not say it)?
 */
bool transport_needs_root(struct delivery *d);
bool route_may_need_root(void);
/* Set a's result and message. */
void addr_result(struct address_item *a, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same with a text meant for the sender (TERN_AF_USER_MESSAGE). */
void addr_result_user(struct address_item *a, int rc, const char *text);

/*
 * Write m to fd (core.h's TERN_WR_* flags; batch gives Envelope-to:).
 * TERN_OK, or TERN_DEFER with *err_out (arena_msg) and errno kept.
 * *bytes_out (may be NULL) counts what was written.
 */
int deliver_write_message(const struct message *m, int fd, unsigned flags,
	const struct tern_address *batch, uint64_t *bytes_out, char **err_out);

/*
 * The TERN_WR_* flags that the generic options of ctx's transport
 * (return_path_add, delivery_date_add, envelope_to_add, body_only,
 * headers_only) ask for, or'ed into what the driver passed.  The core
 * owns these options, so a driver never declares them again.
 */
unsigned transport_write_flags(const struct tern_ctx *ctx, unsigned flags);

/*
 * A transport's generic headers_add and headers_remove, expanded and
 * checked: add holds whole header lines ("Name: value\n", continuation
 * lines kept as given), "" for none; remove is a NULL-terminated list of
 * header names (a trailing '*' matches any name with that prefix),
 * compared caselessly with the message's header names.
 */
struct hdr_changes {
	const char  *add;
	const char **remove;
	/* headers_rewrite: header rw_of[i] is written as rw_text[i] */
	const struct header **rw_of;
	const char **rw_text;
	size_t       nrw;
	/* return_path: the sender for Return-path: and the mbox From_ */
	const char  *return_path;
};

/*
 * Check and split the expanded texts (either may be NULL) into *out, in
 * arena a.  TERN_OK, or TERN_DEFER with *err_out for an added line that
 * is not a well-formed header line.
 */
int hdr_changes_parse(struct arena *a, const char *add, const char *remove,
	struct hdr_changes *out, char **err_out);

/*
 * The header changes of ctx's transport (NULL when it has none or ctx is
 * not a transport's), expanded in ctx (its first address) once and kept
 * in ctx->hdr_changes.  TERN_OK, or TERN_DEFER with *err_out (arena_msg)
 * when an expansion fails or its result is not well-formed: the caller
 * must then write nothing.  A forced failure changes nothing.
 */
int transport_hdr_changes(struct tern_ctx *ctx,
	const struct hdr_changes **out, char **err_out);
/* The same, after checking ctx has a message (TERN_ERROR if not). */
int transport_write_begin(struct tern_ctx *ctx,
	const struct hdr_changes **out, char **err_out);

/* deliver_write_message, leaving out and adding headers as hc says. */
int deliver_write_message_hc(const struct message *m, int fd,
	unsigned flags, const struct tern_address *batch,
	const struct hdr_changes *hc, uint64_t *bytes_out, char **err_out);

/*
 * What core->write_message does: m of ctx with the transport's generic
 * options applied (transport_write_flags, transport_hdr_changes).
 */
int transport_write_message(struct tern_ctx *ctx, int fd, unsigned flags,
	const struct tern_address *batch, char **err_out);

/*
 * Bounce the failed addresses (NULL-terminated) to the sender.  0 when
 * a bounce was spooled (or is not needed), -1 when none could be
 * (null sender: d->freeze is set; spool errors are logged).
 */
int bounce_send(struct delivery *d, struct address_item **failed);

/*
 * delay_warning: when the message (not a bounce) has been waiting long
 * enough, send the sender an RFC 3464 "delayed" report for the deferred
 * addresses and count it in m->warning_count (the caller rewrites -H).
 */
void bounce_delay_warning(struct delivery *d);

/* freeze_tell (or postmaster): tell that message m was frozen and why. */
void bounce_freeze_tell(struct delivery *d, const char *reason);

/*
 * Retry times of local deliveries (retry_use.c).  Before the transports:
 * take addresses whose retry time has not come off d->routed (deferred,
 * "retry time not reached") or fail them when their retry rules have run
 * out; -M/-qf (DELIVER_FORCE) tries everything.  After the transports:
 * record each deferral (failing the addresses that have now timed out)
 * and forget the records of successes.
 */
void retry_filter_routed(struct delivery *d);
void retry_after_transports(struct delivery *d);

/*
 * Frozen-message timers for a message that is frozen and not forced:
 * timeout_frozen_after cancels it, ignore_bounce_errors_after thaws an
 * old bounce for a last try.  Returns true when delivery should go on.
 */
bool deliver_frozen_timers(struct delivery *d);

/*
 * Output to return in the bounce (return_output.c; the pipe transport's
 * return_output): core->set_return_output keeps a copy on each address
 * of the batch; a local delivery child sends first's after its result
 * (return_output_send: 0 or -1) and the parent reads it back onto the
 * batch (return_output_receive).
 */
void return_output_set(struct tern_ctx *ctx, struct tern_address *batch,
	const char *text, size_t len);
int return_output_send(int fd, const struct address_item *first);
void return_output_receive(int fd, struct address_item *first);
/* The bounce's text about a's returned output, if any: false if b is full. */
struct buf;
bool return_output_report(struct buf *b, const struct address_item *a);

#endif
