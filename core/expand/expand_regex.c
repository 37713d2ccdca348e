/* Regular expressions for ${if match} and ${sg}, with PCRE2. */
#include "expand/expand_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <string.h>

#include <tern/rc.h>

#include "lib/arena.h"
#include "lib/buf.h"

static pcre2_code *
compile(struct xp *x, const char *re)
{
	int errcode;
	PCRE2_SIZE erroff;
	pcre2_code *code;

	code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, 0, &errcode,
		&erroff, NULL);
	if (code == NULL) {
		PCRE2_UCHAR msg[256];

		pcre2_get_error_message(errcode, msg, sizeof(msg));
		xp_error(x, TERN_ERROR,
			"regular expression \"%s\" error at offset %zu: %s", re,
			(size_t)erroff, (const char *)msg);
	}
	return code;
}

int
xp_regex_match(struct xp *x, const char *subject, const char *re,
	bool *matched_out)
{
	pcre2_code *code = compile(x, re);
	pcre2_match_data *md;
	int n;

	if (code == NULL)
		return x->rc;
	md = pcre2_match_data_create_from_pattern(code, NULL);
	n = pcre2_match(code, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md,
		NULL);
	*matched_out = n >= 0;
	if (n > 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		x->ncap = n < XP_MAX_CAPTURES ? n : XP_MAX_CAPTURES;
		for (int i = 0; i < x->ncap; i++) {
			if (ov[2 * i] == PCRE2_UNSET)
				x->cap[i] = "";
			else
				x->cap[i] = arena_strndup(x->a, subject + ov[2 * i],
					ov[2 * i + 1] - ov[2 * i]);
		}
	}
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	if (n < 0 && n != PCRE2_ERROR_NOMATCH)
		return xp_error(x, TERN_ERROR, "regular expression \"%s\": match error %d",
			re, n);
	return TERN_OK;
}

/* Append repl to b with $N and ${N} replaced by the captures in ov. */
static bool
add_replacement(struct buf *b, const char *repl, const char *subj,
	const PCRE2_SIZE *ov, int n)
{
	for (const char *p = repl; *p != '\0'; p++) {
		int i = -1;

		if (p[0] == '$' && p[1] >= '0' && p[1] <= '9') {
			i = p[1] - '0';
			p += 1;
		} else if (p[0] == '$' && p[1] == '{' && p[2] >= '0' &&
		    p[2] <= '9' && p[3] == '}') {
			i = p[2] - '0';
			p += 3;
		}
		if (i < 0) {
			if (!buf_addc(b, *p))
				return false;
		} else if (i < n && ov[2 * i] != PCRE2_UNSET &&
		    !buf_add(b, subj + ov[2 * i], ov[2 * i + 1] - ov[2 * i]))
			return false;
	}
	return true;
}

int
xp_regex_subst(struct xp *x, const char *subject, const char *re,
	const char *repl, char **out)
{
	pcre2_code *code = compile(x, re);
	pcre2_match_data *md;
	size_t len = strlen(subject), off = 0;
	struct buf b;
	bool ok = true;

	if (code == NULL)
		return x->rc;
	md = pcre2_match_data_create_from_pattern(code, NULL);
	buf_init(&b, x->a, XP_MAX_OUT);
	while (ok && off <= len) {
		int n = pcre2_match(code, (PCRE2_SPTR)subject, len, off, 0, md, NULL);
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);

		if (n < 0)
			break;
		ok = buf_add(&b, subject + off, ov[0] - off) &&
			add_replacement(&b, repl, subject, ov, n);
		off = ov[1];
		if (ov[1] == ov[0]) { /* empty match: move on one character */
			if (off < len)
				ok = ok && buf_addc(&b, subject[off]);
			off++;
		}
	}
	if (ok && off < len)
		ok = buf_add(&b, subject + off, len - off);
	pcre2_match_data_free(md);
	pcre2_code_free(code);
	if (!ok)
		return xp_error(x, TERN_ERROR, "${sg result too long");
	*out = b.p;
	return TERN_OK;
}
