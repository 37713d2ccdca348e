/*
 * The text of the messages tern writes itself: RFC 3464 delivery status
 * notifications (failed, delayed) and freeze notices.  bounce.c spools
 * them.
 */
#ifndef TERN_CORE_DELIVER_REPORT_H
#define TERN_CORE_DELIVER_REPORT_H

#include <stdbool.h>
#include <stddef.h>

struct delivery;
struct address_item;

enum { COPY_NONE = 0, COPY_HEADERS, COPY_FULL };

/* A notice ready to spool (strings in arena_msg). */
struct notice {
	const char *what;      /* "bounce", "delay warning" ... for logs */
	const char *to_header; /* value of To: */
	const char *subject;
	const char *boundary;  /* multipart/report, or NULL for plain text */
	const char *text;      /* the body up to the copy of the original */
	int         copy;      /* COPY_*: what of the original follows */
	const char *trailer;   /* after the copy: the closing boundary */
	const char *frozen_id; /* freeze notices: the frozen message's id */
};

/* A bounce for the failed addresses (NULL-terminated) sent to `to`. */
void report_failed(struct delivery *d, const char *to,
	struct address_item **failed, struct notice *n);

/*
 * A delay warning for the deferred addresses of d (age: seconds on the
 * queue).  False when there is nothing to warn about.
 */
bool report_delayed(struct delivery *d, const char *to, long age,
	struct notice *n);

/* A freeze notice about d's message to the nto addresses in to. */
void report_frozen(struct delivery *d, const char *const *to, size_t nto,
	const char *reason, struct notice *n);

/*
 * The RFC 3464 status of a failure text: "d.d.d" from an SMTP reply
 * ("550 5.1.1 ..."), else cls ('4' or '5') ".0.0" ("5.1.1" for an unknown
 * user).  Static or arena_msg.
 */
const char *report_status(const char *text, char cls);

#endif
