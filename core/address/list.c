/*
 * RFC 5322 address lists (To:, Cc:, Bcc:, and sendmail's command-line
 * recipients): display names, angle addresses, comments, quoted strings,
 * groups, obsolete routes and whitespace between tokens.  Folding (CR,
 * LF, tab) counts as whitespace, so folded values need no unfolding.
 */
#include "address/address.h"

#include <string.h>

#include "address/internal.h"
#include "lib/arena.h"
#include "lib/buf.h"

enum tok_type { T_END, T_ATOM, T_QSTR, T_LIT, T_SPECIAL };

struct tok {
	enum tok_type type;
	const char   *s;    /* as written; quotes and brackets included */
	size_t        len;
};

struct lex {
	struct arena *a;
	const char   *base; /* the value, for the spans' offsets */
	const char   *p;
	const char   *err;  /* static text of the first error */
	char        **list;
	size_t        n, cap;
	struct address_span *spans; /* NULL: not asked for */
	size_t        spans_cap;
};

/* Skip whitespace and (nested) comments. */
static void
skip_cfws(struct lex *L)
{
	for (;;) {
		while (*L->p == ' ' || *L->p == '\t' || *L->p == '\r' ||
		    *L->p == '\n')
			L->p++;
		if (*L->p != '(')
			return;
		for (int depth = 0; *L->p != '\0'; L->p++) {
			if (*L->p == '\\' && L->p[1] != '\0')
				L->p++;
			else if (*L->p == '(')
				depth++;
			else if (*L->p == ')' && --depth == 0)
				break;
		}
		if (*L->p == '\0') {
			L->err = "unterminated comment";
			return;
		}
		L->p++;
	}
}

/* Scan a quoted string or literal from its opening character. */
static bool
scan_delimited(struct lex *L, char close, struct tok *t)
{
	const char *p = L->p + 1;

	while (*p != '\0' && *p != close) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		p++;
	}
	if (*p == '\0') {
		L->err = close == '"' ? "unterminated quoted string"
			: "unterminated domain literal";
		return false;
	}
	t->s = L->p;
	t->len = (size_t)(p + 1 - L->p);
	return true;
}

/* The next token, consumed.  T_END also on error (L->err set). */
static struct tok
next_tok(struct lex *L)
{
	struct tok t = { T_END, L->p, 0 };
	unsigned char c;

	skip_cfws(L);
	c = (unsigned char)*L->p;
	if (L->err != NULL || c == '\0')
		return t;
	t.s = L->p;
	if (c == '"' || c == '[') {
		if (!scan_delimited(L, c == '"' ? '"' : ']', &t))
			return (struct tok){ T_END, L->p, 0 };
		t.type = c == '"' ? T_QSTR : T_LIT;
	} else if (strchr("<>@,:;", c) != NULL) {
		t.type = T_SPECIAL;
		t.len = 1;
	} else if (address_is_atext(c) || c == '.' || c >= 0x80) {
		/* Dots belong to atoms: dot-atoms and "J. Doe" phrases. */
		while (address_is_atext((unsigned char)L->p[t.len]) ||
		    L->p[t.len] == '.' || (unsigned char)L->p[t.len] >= 0x80)
			t.len++;
		t.type = T_ATOM;
	} else {
		L->err = "unexpected character";
		return (struct tok){ T_END, L->p, 0 };
	}
	L->p += t.len;
	return t;
}

static struct tok
peek_tok(struct lex *L)
{
	const char *save = L->p;
	struct tok t = next_tok(L);

	L->p = save;
	return t;
}

static bool
is_special(struct tok t, char c)
{
	return t.type == T_SPECIAL && *t.s == c;
}

static void
list_add(struct lex *L, char *addr, const char *start, const char *end)
{
	if (L->spans != NULL && L->n + 1 >= L->spans_cap) {
		struct address_span *n;

		L->spans_cap *= 2;
		n = arena_zalloc(L->a, L->spans_cap * sizeof(*n));
		memcpy(n, L->spans, L->n * sizeof(*n));
		L->spans = n;
	}
	if (L->spans != NULL && addr != NULL)
		L->spans[L->n] = (struct address_span){ .address = addr,
			.spec_start = (size_t)(start - L->base),
			.spec_end = (size_t)(end - L->base) };
	if (L->n + 1 >= L->cap) {
		char **n;

		L->cap = L->cap ? L->cap * 2 : 8;
		n = arena_alloc(L->a, L->cap * sizeof(*n));
		if (L->n > 0)
			memcpy(n, L->list, L->n * sizeof(*n));
		L->list = n;
	}
	L->list[L->n++] = addr;
	L->list[L->n] = NULL;
}

/*
 * addr-spec (or, with no '@' following, an unqualified local part):
 * tokens are joined without the whitespace between them.
 */
static int
parse_addr_spec(struct lex *L)
{
	struct buf b;
	struct tok t;
	const char *start = NULL, *end = NULL;

	buf_init(&b, L->a, 0);
	for (t = peek_tok(L); t.type == T_ATOM || t.type == T_QSTR;
	    t = peek_tok(L)) {
		if (!buf_add(&b, t.s, t.len))
			goto out_long;
		if (start == NULL)
			start = t.s;
		end = t.s + t.len;
		next_tok(L);
	}
	if (b.len == 0) {
		L->err = L->err ? L->err : "missing local part";
		return -1;
	}
	if (is_special(t, '@')) {
		next_tok(L);
		if (!buf_addc(&b, '@'))
			goto out_long;
		end = t.s + 1;
		for (t = peek_tok(L); t.type == T_ATOM || t.type == T_LIT;
		    t = peek_tok(L)) {
			if (!buf_add(&b, t.s, t.len))
				goto out_long;
			end = t.s + t.len;
			next_tok(L);
		}
	}
	if (L->err != NULL || (L->err = address_check(b.p, true)) != NULL)
		return -1;
	list_add(L, b.p, start, end);
	return 0;

out_long:
	L->err = "address too long";
	return -1;
}

/* After '<': [route ":"] addr-spec ">", or "<>" (nothing). */
static int
parse_angle(struct lex *L)
{
	struct tok t = peek_tok(L);

	if (is_special(t, '>')) {
		next_tok(L);
		return 0;
	}
	if (is_special(t, '@')) {
		do
			t = next_tok(L);
		while (t.type != T_END && !is_special(t, ':') &&
		    !is_special(t, '>'));
		if (!is_special(t, ':')) {
			L->err = L->err ? L->err : "bad route in angle address";
			return -1;
		}
	}
	if (parse_addr_spec(L) != 0)
		return -1;
	if (!is_special(next_tok(L), '>')) {
		L->err = L->err ? L->err : "missing '>'";
		return -1;
	}
	return 0;
}

static int parse_address(struct lex *L, bool in_group);

/* After "name:": mailboxes up to ';' (or the end, leniently). */
static int
parse_group(struct lex *L)
{
	for (;;) {
		struct tok t = peek_tok(L);

		if (t.type == T_END)
			return L->err ? -1 : 0;
		if (is_special(t, ';')) {
			next_tok(L);
			return 0;
		}
		if (is_special(t, ',')) {
			next_tok(L);
			continue;
		}
		if (parse_address(L, true) != 0)
			return -1;
		t = peek_tok(L);
		if (!is_special(t, ',') && !is_special(t, ';') &&
		    t.type != T_END) {
			L->err = "expected ',' or ';' in group";
			return -1;
		}
	}
}

/*
 * The mailbox just parsed (the last span) runs from start to the next
 * ',' or ';' or the end, without the white space around it.
 */
static int
mark_item(struct lex *L, const char *start, int rc)
{
	struct address_span *sp;
	const char *end, *save;

	if (rc != 0 || L->spans == NULL || L->n == 0)
		return rc;
	sp = &L->spans[L->n - 1];
	while (*start == ' ' || *start == '\t' || *start == '\r' ||
	    *start == '\n')
		start++;
	save = L->p;
	skip_cfws(L); /* a comment after the address belongs to it */
	end = L->err == NULL ? L->p : save;
	L->p = save;
	while (end > start && (end[-1] == ' ' || end[-1] == '\t' ||
	    end[-1] == '\r' || end[-1] == '\n'))
		end--;
	sp->item_start = (size_t)(start - L->base);
	sp->item_end = (size_t)(end - L->base);
	return 0;
}

/* One mailbox or group: look past the words to see which it is. */
static int
parse_address(struct lex *L, bool in_group)
{
	const char *start = L->p;
	struct tok t;
	int words = 0;

	for (t = peek_tok(L); t.type == T_ATOM || t.type == T_QSTR;
	    t = peek_tok(L)) {
		next_tok(L);
		words++;
	}
	if (L->err != NULL)
		return -1;
	if (is_special(t, '<')) {
		size_t had = L->n;
		int rc;

		next_tok(L);
		rc = parse_angle(L);
		/* "<>" adds nothing: no span to mark */
		return L->n > had ? mark_item(L, start, rc) : rc;
	}
	if (is_special(t, ':') && !in_group && words > 0) {
		next_tok(L);
		return parse_group(L);
	}
	L->p = start;
	if (words > 0 && (is_special(t, '@') || is_special(t, ',') ||
	    is_special(t, ';') || t.type == T_END)) {
		if (!is_special(t, '@') && words > 1) {
			L->err = "display name without an address";
			return -1;
		}
		return mark_item(L, start, parse_addr_spec(L));
	}
	L->err = words > 0 ? "unexpected character after name"
		: "unexpected character";
	return -1;
}

static int
list_parse(struct lex *L, char **err_out)
{
	struct arena *a = L->a;

	list_add(L, NULL, NULL, NULL);
	L->n = 0;
	for (;;) {
		struct tok t = peek_tok(L);

		if (t.type == T_END)
			break;
		if (is_special(t, ',')) {
			next_tok(L);
			continue;
		}
		if (parse_address(L, false) != 0)
			break;
		t = peek_tok(L);
		if (t.type != T_END && !is_special(t, ',')) {
			L->err = "expected ',' between addresses";
			break;
		}
	}
	if (L->err != NULL) {
		*err_out = arena_printf(a, "bad address list: %s at \"%.40s\"",
			L->err, str_printable(a, L->p, strlen(L->p)));
		return -1;
	}
	return 0;
}

int
address_list_extract(struct arena *a, const char *value, char ***list_out,
	char **err_out)
{
	struct lex L = { .a = a, .base = value, .p = value };

	if (list_parse(&L, err_out) != 0)
		return -1;
	*list_out = L.list;
	return 0;
}

int
address_list_spans(struct arena *a, const char *value,
	struct address_span **spans_out, size_t *n_out, char **err_out)
{
	struct lex L = { .a = a, .base = value, .p = value, .spans_cap = 8 };

	L.spans = arena_zalloc(a, L.spans_cap * sizeof(*L.spans));
	if (list_parse(&L, err_out) != 0)
		return -1;
	*spans_out = L.spans;
	*n_out = L.n;
	return 0;
}
