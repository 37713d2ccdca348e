/*
 * Address rewriting (Exim's chapter "Address rewriting"): each rule of
 * "begin rewrite" is a one-item address list, a replacement expanded
 * with $0..$9 from what the pattern's wildcards or groups matched, and
 * flags saying where it applies and how.  The rules run in order over
 * an address; a later rule sees what an earlier one made.
 */
#include "rewrite/rewrite.h"

#include <stdio.h>
#include <string.h>

#include "address/address.h"
#include "config/config.h"
#include "config/lists.h"
#include "deliver/ctx.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "log/selector.h"
#include "spool/spool.h"

#include <tern/rc.h>

#define RW_MAX_REPEAT 10

static const struct {
	char letter;
	int  bits;
} flag_letters[] = {
	{ 'E', RW_ENVELOPE }, { 'F', RW_ENVFROM }, { 'T', RW_ENVTO },
	{ 'h', RW_HEADERS }, { 's', RW_SENDER }, { 'f', RW_FROM },
	{ 't', RW_TO }, { 'c', RW_CC }, { 'b', RW_BCC }, { 'r', RW_REPLYTO },
	{ 'S', RW_SMTP }, { 'Q', RW_QUALIFY }, { 'q', RW_QUIT },
	{ 'R', RW_REPEAT }, { 'w', RW_WHOLE },
};

/* Where each place is named: log lines and -brw, as Exim names them. */
static const struct {
	int         bit;
	const char *log_name;  /* "from %s rewritten" */
	const char *test_name; /* -brw's column */
} places[] = {
	{ RW_SENDER,  "sender:",   "  sender" },
	{ RW_FROM,    "from:",     "    from" },
	{ RW_TO,      "to:",       "      to" },
	{ RW_CC,      "cc:",       "      cc" },
	{ RW_BCC,     "bcc:",      "     bcc" },
	{ RW_REPLYTO, "reply-to:", "reply-to" },
	{ RW_ENVFROM, "env-from",  "env-from" },
	{ RW_ENVTO,   "env-to",    "  env-to" },
};

int
rewrite_parse_flags(const char *text, const char *pattern, int *bits_out,
	char **err_out)
{
	int bits = 0;

	for (const char *p = text; *p != '\0'; p++) {
		size_t i;

		if (*p == ' ' || *p == '\t')
			continue;
		for (i = 0; i < sizeof(flag_letters) / sizeof(flag_letters[0]);
		    i++)
			if (flag_letters[i].letter == *p)
				break;
		if (i == sizeof(flag_letters) / sizeof(flag_letters[0])) {
			*err_out = arena_printf(arena_perm,
				"rewrite rule: unknown flag \"%c\" in \"%s\"", *p,
				text);
			return -1;
		}
		bits |= flag_letters[i].bits;
	}
	if ((bits & RW_SMTP) && pattern[0] != '^' &&
	    strncmp(pattern, "\\N^", 3) != 0) {
		*err_out = arena_printf(arena_perm, "rewrite rule: an S rule's "
			"pattern must be a regular expression (\"%s\")", pattern);
		return -1;
	}
	if ((bits & (RW_HEADERS | RW_ENVELOPE | RW_SMTP)) == 0)
		bits |= RW_HEADERS | RW_ENVELOPE;
	*bits_out = bits;
	return 0;
}

bool
rewrite_pattern_expands(const char *pattern)
{
	if (pattern[0] == '^')
		return false;
	return strchr(pattern, '$') != NULL || strchr(pattern, '\\') != NULL;
}

static bool
any_in(const struct rewrite_rule *rules, int where)
{
	for (const struct rewrite_rule *r = rules; r != NULL; r = r->next)
		if (r->bits & where)
			return true;
	return false;
}

bool
rewrite_any(int where)
{
	return any_in(cfg.rewrites, where);
}

static const char *
place_name(int where)
{
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++)
		if (places[i].bit == where)
			return places[i].log_name;
	return "?";
}

/*
 * A context whose $local_part and $domain are addr's, as written (Exim
 * keeps their case), and whose message is m.
 */
static void
addr_ctx(struct tern_ctx *ctx, struct address_item *ai, struct message *m,
	const char *addr)
{
	const char *at = strrchr(addr, '@');

	memset(ctx, 0, sizeof(*ctx));
	memset(ai, 0, sizeof(*ai));
	ai->pub.kind = TERN_ADDR_MAIL;
	ai->pub.address = addr;
	ai->pub.uid = ai->pub.gid = -1;
	ai->rcpt_index = -1;
	if (at != NULL) {
		ai->pub.local_part = arena_strndup(arena_msg, addr,
			(size_t)(at - addr));
		ai->pub.domain = at + 1;
	} else {
		ai->pub.local_part = addr;
		ai->pub.domain = "";
	}
	ctx->msg = m;
	ctx->addr = ai;
	ctx->arena = arena_msg;
	ctx->sender = m != NULL ? m->sender : NULL;
}

/*
 * A w rule's whole mailbox for a header ("Name <a@b>"), and where its
 * address is in it, so that a later rule's address goes in its place.
 */
struct whole {
	const char *text;  /* NULL: no w rule applied */
	size_t      start, end;
};

/* text with [w->start, w->end) replaced by addr; w follows. */
static void
whole_splice(struct whole *w, const char *addr)
{
	size_t n = strlen(addr);

	w->text = arena_printf(arena_msg, "%.*s%s%s", (int)w->start, w->text,
		addr, w->text + w->end);
	w->end = w->start + n;
}

/*
 * A replacement's result as an address: "Name <a@b>" gives a@b (and
 * *sp_out where it is, for a w rule), a bare local part is qualified
 * only under Q; the envelope sender may become "" ("<>").  NULL with
 * *err_out if it is no address.
 */
static const char *
result_address(const char *text, int bits, int where,
	struct address_span *sp_out, const char **err_out)
{
	struct address_span *sp;
	size_t n;
	char *err = NULL;

	if (strpbrk(text, "\r\n") != NULL) { /* it would make a header */
		*err_out = "line break in address";
		return NULL;
	}
	if (address_list_spans(arena_msg, text, &sp, &n, &err) != 0) {
		*err_out = err;
		return NULL;
	}
	if (n == 0 && where == RW_ENVFROM && strchr(text, '<') != NULL)
		return ""; /* "<>": the null sender */
	if (n != 1) {
		*err_out = n == 0 ? "empty address" : "more than one address";
		return NULL;
	}
	*sp_out = sp[0];
	if (strchr(sp[0].address, '@') == NULL) {
		if (!(bits & RW_QUALIFY)) {
			*err_out = "unqualified address";
			return NULL;
		}
		return address_qualify(arena_msg, sp[0].address,
			conf.qualify_recipient);
	}
	return sp[0].address;
}

/*
 * One rule over *cur: 1 it rewrote it (*cur, *wh updated), 0 it did not
 * match or its expansion was forced to fail, -1 stop all rewriting (a
 * "*" replacement, or an error, which goes to the paniclog).
 */
static int
apply_rule(struct message *m, const struct rewrite_rule *r, int number,
	int where, const char *place, const char **cur, struct whole *wh,
	bool *matched_out)
{
	const char *id = m != NULL && m->id[0] != '\0' ? m->id : NULL;
	struct list_caps caps;
	struct tern_ctx ctx;
	struct address_item ai;
	char *pat = NULL, *out = NULL, *err = NULL;
	const char *addr, *why = NULL;
	struct address_span sp = { 0 };
	int rc;

	*matched_out = false;
	addr_ctx(&ctx, &ai, m, *cur);
	/* The pattern is a one-item address list, expanded first; a
	 * regular expression without \N...\N is taken as it is written. */
	if (rewrite_pattern_expands(r->pattern))
		rc = expand_string(&ctx, arena_msg, r->pattern, &pat, &err);
	else
		pat = (char *)r->pattern, rc = TERN_OK;
	if (rc == TERN_FAIL)
		return 0;
	if (rc != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "failed to expand "
			"\"%s\" while rewriting: %s", r->pattern, err);
		return 0;
	}
	/* One item, local parts with case, as Exim matches a pattern; an
	 * S rule's regular expression sees the command's text. */
	rc = list_match_item(&ctx, where == RW_SMTP ? TERN_LIST_STRING :
		TERN_LIST_ADDRESS, pat, *cur, true, &caps, &err);
	if (rc == TERN_FAIL)
		return 0;
	if (rc != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "rewrite rule %d "
			"(\"%s\"): %s", number, r->pattern, err);
		return 0;
	}
	*matched_out = true; /* q takes effect from here */
	if (strcmp(r->replacement, "*") == 0)
		return -1;
	if (where == RW_SMTP) { /* no $local_part, $domain: not an address */
		ai.pub.local_part = ai.pub.domain = NULL;
	}
	rc = expand_string_caps(&ctx, arena_msg, r->replacement, caps.cap,
		caps.n, &out, &err);
	if (rc == TERN_FAIL)
		return 0;
	if (rc != TERN_OK) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "Expansion of %s "
			"failed while rewriting: %s", r->replacement, err);
		return -1;
	}
	if (where == RW_SMTP) {
		addr = out;
	} else if ((addr = result_address(out, r->bits, where, &sp, &why)) ==
	    NULL) {
		bool is_unq = strcmp(why, "unqualified address") == 0;

		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "Rewrite of %s "
			"yielded %s: %s%s%s%s", *cur, is_unq ? why :
			"unparseable address", str_printable(arena_msg, out,
			strlen(out)), is_unq ? "" : " (", is_unq ? "" : why,
			is_unq ? "" : ")");
		return -1;
	}
	if (LOG_SEL(address_rewrite))
		log_write(TERN_LOG_MAIN, id, "\"%s\" from %s rewritten %s \"%s\" "
			"by rule %d", *cur, place,
			(r->bits & RW_WHOLE) || strchr(out, '<') == NULL ? "as" :
			"with (address part of)", out, number);
	if ((r->bits & RW_WHOLE) && (where & RW_HEADERS)) {
		/* the address, qualified under Q, in its place in the whole */
		wh->text = out;
		wh->start = sp.spec_start;
		wh->end = sp.spec_end;
		whole_splice(wh, addr);
	} else if (wh->text != NULL) {
		whole_splice(wh, addr); /* a later rule: the address only */
	}
	*cur = addr;
	return 1;
}

/* The rules over addr at where; *whole_out as rewrite_address. */
static const char *
rewrite_one(const struct rewrite_rule *rules, struct message *m,
	const char *addr, int where, const char *place, const char **whole_out)
{
	const char *cur = addr;
	struct whole wh = { NULL, 0, 0 };
	int number = 1;

	for (const struct rewrite_rule *r = rules; r != NULL;
	    r = r->next, number++) {
		bool matched = false, stop = false;
		int rc;

		if (!(r->bits & where))
			continue;
		/* R: the first application, then up to 10 more (Exim's) */
		for (int n = 0; n <= RW_MAX_REPEAT; n++) {
			bool this_matched;

			rc = apply_rule(m, r, number, where, place, &cur, &wh,
				&this_matched);
			matched |= this_matched;
			if (rc < 0)
				stop = true;
			if (rc <= 0 || !(r->bits & RW_REPEAT) || cur[0] == '\0')
				break;
			if (n == RW_MAX_REPEAT)
				log_write(TERN_LOG_MAIN | TERN_LOG_PANIC,
					m != NULL && m->id[0] ? m->id : NULL,
					"rewrite rule repeat ignored after %d "
					"times", RW_MAX_REPEAT);
		}
		if (stop || (matched && (r->bits & RW_QUIT)))
			break;
	}
	if (whole_out != NULL)
		*whole_out = wh.text;
	return cur;
}

static const char *
address_by(const struct rewrite_rule *rules, struct message *m,
	const char *addr, int where, bool *whole_out)
{
	const char *whole = NULL, *res;

	if (whole_out != NULL)
		*whole_out = false;
	if (rules == NULL || addr == NULL || addr[0] == '\0')
		return addr;
	res = rewrite_one(rules, m, addr, where, place_name(where), &whole);
	if (whole != NULL && whole_out != NULL) {
		*whole_out = true;
		return whole;
	}
	return res;
}

const char *
rewrite_address(struct message *m, const char *addr, int where,
	bool *whole_out)
{
	return address_by(cfg.rewrites, m, addr, where, whole_out);
}

const char *
rewrite_smtp(struct message *m, const char *text, bool is_sender)
{
	if (!rewrite_any(RW_SMTP))
		return text;
	return rewrite_one(cfg.rewrites, m, text, RW_SMTP, is_sender ?
		"smtp sender" :
		"smtp recipient", NULL);
}

/* The RW_* place of a header of addresses, or 0. */
static int
header_place(const char *text)
{
	static const struct {
		const char *name;
		int         bit;
	} names[] = {
		{ "Sender", RW_SENDER }, { "From", RW_FROM }, { "To", RW_TO },
		{ "Cc", RW_CC }, { "Bcc", RW_BCC }, { "Reply-To", RW_REPLYTO },
	};
	size_t n = strcspn(text, ":");

	if (n > 7 && strncasecmp(text, "Resent-", 7) == 0) {
		text += 7;
		n -= 7;
	}
	while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '\t'))
		n--;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i].name) == n &&
		    strncasecmp(text, names[i].name, n) == 0)
			return names[i].bit;
	return 0;
}

/*
 * One header's addresses, rewritten by rules (and, when `qualify`, a
 * local message's bare local parts qualified first): the header's new
 * text, rebuilt around them, or NULL if nothing changed.  Text that
 * does not parse as an address list is left as it is.
 */
static char *
header_text(const struct rewrite_rule *rules, struct message *m,
	const struct header *h, int place, bool qualify_bare)
{
	const char *colon = memchr(h->text, ':', h->len);
	const char *vstart, *qualify;
	size_t vlen, done = 0;
	struct address_span *sp;
	struct buf out;
	char *value, *err = NULL;
	size_t n;
	bool changed = false, ok, any = any_in(rules, place);

	if (colon == NULL)
		return NULL;
	vstart = colon + 1;
	vlen = h->len - (size_t)(vstart - h->text);
	if (vlen > 0 && vstart[vlen - 1] == '\n')
		vlen--;
	value = arena_strndup(arena_msg, vstart, vlen);
	if (address_list_spans(arena_msg, value, &sp, &n, &err) != 0) {
		/* left as it is, but not without a word (Exim's line) */
		log_write(TERN_LOG_MAIN, m->id[0] != '\0' ? m->id : NULL,
			"qualify/rewrite: %.*s: %s", (int)(colon - h->text),
			h->text, err);
		return NULL;
	}
	if (n == 0)
		return NULL;
	/* Both are set once the configuration is read. */
	qualify = place & (RW_TO | RW_CC | RW_BCC) ? conf.qualify_recipient :
		conf.qualify_domain;
	buf_init(&out, arena_msg, 0);
	ok = buf_add(&out, h->text, (size_t)(vstart - h->text));
	for (size_t i = 0; i < n; i++) {
		const char *addr = sp[i].address, *new;
		bool whole = false;

		if (strchr(addr, '@') == NULL) {
			/* Exim qualifies only local messages' header addresses;
			 * others' stay as they are, unrewritten. */
			if (!qualify_bare || !m->local)
				continue;
			addr = address_qualify(arena_msg, addr, qualify);
		}
		new = any ? address_by(rules, m, addr, place, &whole) : addr;
		if (new == sp[i].address)
			continue;
		if (whole) {
			ok &= buf_add(&out, value + done,
				sp[i].item_start - done);
			done = sp[i].item_end;
		} else {
			ok &= buf_add(&out, value + done,
				sp[i].spec_start - done);
			done = sp[i].spec_end;
		}
		ok &= buf_add(&out, new, strlen(new));
		changed = true;
	}
	ok &= buf_add(&out, value + done, vlen - done);
	ok &= buf_addc(&out, '\n');
	return changed && ok ? out.p : NULL;
}

char *
rewrite_header_text(struct message *m, const struct header *h,
	const struct rewrite_rule *rules)
{
	int place = header_place(h->text);

	if (place == 0 || h->type == HDR_DELETED || !any_in(rules, place))
		return NULL;
	return header_text(rules, m, h, place, false);
}

int
rewrite_parse_list(const char *list, struct rewrite_rule **rules_out,
	char **err_out)
{
	struct rewrite_rule *head = NULL, **tail = &head;
	char sep = '\0';
	const char *item;

	while ((item = list_next(&list, &sep)) != NULL) {
		struct rewrite_rule *r = arena_zalloc(arena_perm, sizeof(*r));

		if (config_rewrite_rule(item, r, err_out) != 0)
			return -1;
		if (strpbrk(r->flags, "EFTS") != NULL) {
			*err_out = arena_printf(arena_perm, "headers_rewrite: "
				"flags E, F, T and S are not allowed (\"%s\")",
				item);
			return -1;
		}
		r->bits &= ~RW_ENVELOPE; /* no flag: all headers only */
		*tail = r;
		tail = &r->next;
	}
	*rules_out = head;
	return 0;
}

void
rewrite_message(struct message *m)
{
	bool envto = rewrite_any(RW_ENVTO), envfrom = rewrite_any(RW_ENVFROM);
	bool headers = rewrite_any(RW_HEADERS);

	if (!envto && !envfrom && !headers && !m->local)
		return;
	for (size_t i = 0; envto && i < m->nrcpts; i++)
		m->rcpts[i].address = rewrite_address(m, m->rcpts[i].address,
			RW_ENVTO, NULL);
	if (envfrom && m->sender != NULL && m->sender[0] != '\0')
		m->sender = rewrite_address(m, m->sender, RW_ENVFROM, NULL);
	for (struct header *h = m->headers; h != NULL; h = h->next) {
		int place;

		if (h->type == HDR_DELETED || h->type == HDR_RECEIVED)
			continue;
		/* A header no rule is for is parsed only to qualify a
		 * local message's bare local parts. */
		if ((place = header_place(h->text)) != 0 &&
		    (m->local || any_in(cfg.rewrites, place))) {
			char *t = header_text(cfg.rewrites, m, h, place, true);

			if (t != NULL) {
				h->text = t;
				h->len = strlen(t);
			}
		}
	}
}

int
rewrite_test(const char *addr)
{
	struct address_span *sp;
	size_t n;
	char *err = NULL;
	const char *a = addr;

	if (cfg.rewrites == NULL) {
		printf("No rewrite rules are defined\n");
		return 0;
	}
	if (rewrite_any(RW_SMTP)) {
		const char *new = rewrite_one(cfg.rewrites, NULL, addr, RW_SMTP,
			"smtp sender", NULL);

		if (new != addr)
			printf("    SMTP: %s\n", new[0] != '\0' ? new : "<>");
	}
	if (!rewrite_any(RW_HEADERS | RW_ENVELOPE))
		return 0;
	if (strchr(a, '@') == NULL)
		a = arena_printf(arena_msg, "%s@%s", a, conf.qualify_recipient);
	if (address_list_spans(arena_msg, a, &sp, &n, &err) != 0 || n != 1) {
		fprintf(stderr, "tern: syntax error in %s: %s\n", a,
			err != NULL ? err : "not one address");
		return 1;
	}
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		bool whole = false;
		const char *new = rewrite_address(NULL, sp[0].address,
			places[i].bit, &whole);

		if (whole || !(places[i].bit & RW_HEADERS))
			printf("%s: %s\n", places[i].test_name,
				new[0] != '\0' ? new : "<>");
		else /* the address in its place in what was given */
			printf("%s: %.*s%s%s\n", places[i].test_name,
				(int)sp[0].spec_start, a, new, a + sp[0].spec_end);
	}
	return 0;
}
