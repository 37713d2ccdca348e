/*
 * Address rewriting: the rules of "begin rewrite", as in Exim's chapter
 * "Address rewriting" (docs/config.md "Rewrite rules").
 */
#ifndef TERN_CORE_REWRITE_REWRITE_H
#define TERN_CORE_REWRITE_REWRITE_H

#include <stdbool.h>

struct header;
struct message;
struct tern_ctx;

/* Where an address is (a rule's flags say where it applies). */
enum {
	RW_SENDER  = 1 << 0,  /* s: Sender: */
	RW_FROM    = 1 << 1,  /* f: From: */
	RW_TO      = 1 << 2,  /* t: To: */
	RW_CC      = 1 << 3,  /* c: Cc: */
	RW_BCC     = 1 << 4,  /* b: Bcc: */
	RW_REPLYTO = 1 << 5,  /* r: Reply-To: */
	RW_ENVFROM = 1 << 6,  /* F: the envelope sender */
	RW_ENVTO   = 1 << 7,  /* T: envelope recipients */
	RW_SMTP    = 1 << 8,  /* S: MAIL and RCPT as the client sent them */
	/* How a rule works */
	RW_QUALIFY = 1 << 9,  /* Q: the result may be a bare local part */
	RW_QUIT    = 1 << 10, /* q: no rule after this one, once it matched */
	RW_REPEAT  = 1 << 11, /* R: apply again, up to 10 times */
	RW_WHOLE   = 1 << 12, /* w: in a header, replace the whole mailbox */
};
#define RW_HEADERS (RW_SENDER | RW_FROM | RW_TO | RW_CC | RW_BCC | RW_REPLYTO)
#define RW_ENVELOPE (RW_ENVFROM | RW_ENVTO)

/*
 * A rule's flags field ("bctfrF", "" ...) into *bits_out: no letter of
 * where it applies means all headers and the envelope.  -1 with *err_out
 * (arena_perm) on an unknown letter or an S rule whose pattern is not a
 * regular expression.
 */
int rewrite_parse_flags(const char *text, const char *pattern,
	int *bits_out, char **err_out);

/*
 * Is a rule's pattern expanded before it is matched?  Yes if it has a
 * "$" or a "\" in it ("\N^...\N" included), except a regular expression
 * written without \N, which is used as it is.
 */
bool rewrite_pattern_expands(const char *pattern);

/* Do any rules apply where (RW_* bits)? */
bool rewrite_any(int where);

/*
 * Rewrite one qualified address found at `where` (one RW_* bit): the
 * rules in order, as Exim does them.  m (may be NULL) gives the
 * expansions' message variables and the log's message id.  Returns the
 * new address (arena_msg), or addr itself unchanged.  *whole_out (may
 * be NULL) is set when a w rule made it a whole mailbox ("Name <a@b>")
 * for a header.
 */
const char *rewrite_address(struct message *m, const char *addr, int where,
	bool *whole_out);

/*
 * S rules: the text of a MAIL or RCPT command's address as the client
 * sent it (angle brackets included), before any check.  Returns the new
 * text or text itself.
 */
const char *rewrite_smtp(struct message *m, const char *text,
	bool is_sender);

/*
 * A message as its reception ends: its recipients (T), its sender (F),
 * then its From:, To:, Cc:, Bcc:, Reply-To: and Sender: headers and
 * their Resent- forms (with unqualified addresses in them qualified
 * first if the message is local).  Headers of type skip are left alone
 * (the Received: the reception adds).
 */
void rewrite_message(struct message *m);

/*
 * A transport's headers_rewrite: its colon-separated rules into
 * *rules_out (arena_perm).  E, F, T and S are refused; a rule without
 * flags applies to all headers.  -1 with *err_out.
 */
struct rewrite_rule;
int rewrite_parse_list(const char *list, struct rewrite_rule **rules_out,
	char **err_out);

/*
 * Header h as the rules would write it (for a transport's
 * headers_rewrite; m itself is not changed), or NULL if they change
 * nothing in it.
 */
char *rewrite_header_text(struct message *m, const struct header *h,
	const struct rewrite_rule *rules);

/* -brw ADDRESS: what each place would make of it, on stdout. */
int rewrite_test(const char *addr);

#endif
