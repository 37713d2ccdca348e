/*
 * The quoting operators of query-style lookups.  They live in the core,
 * not in the ldap/mysql modules, so that ${quote_mysql:} works (and is
 * tested) without loading a client library.
 */
#include "expand/quote.h"

#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"

static const char hex[] = "0123456789ABCDEF";

/* The buffers here have no maximum: only running out of memory fails. */
static void
put(struct buf *b, const char *p, size_t n)
{
	if (!buf_add(b, p, n))
		tern_panic("quote: out of memory");
}

static void
put_c(struct buf *b, char c)
{
	put(b, &c, 1);
}

/* Characters an LDAP URL may carry as they are (Exim's set). */
static bool
is_url_literal(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || strchr("!$'-._~()*", c) != NULL;
}

static void
add_url(struct buf *b, unsigned char c)
{
	if (is_url_literal(c)) {
		put_c(b, (char)c);
		return;
	}
	put_c(b, '%');
	put_c(b, hex[c >> 4]);
	put_c(b, hex[c & 15]);
}

char *
quote_ldap(struct arena *a, const char *s, bool is_dn)
{
	size_t len = strlen(s);
	struct buf b;

	buf_init(&b, a, 0);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!is_dn && strchr("*()\\", c) != NULL) {
			put(&b, "%5C", 3); /* "\" then the hex code */
			put_c(&b, hex[c >> 4]);
			put_c(&b, hex[c & 15]);
			continue;
		}
		if (is_dn && (strchr("\\,+\"<>;", c) != NULL ||
		    (i == 0 && (c == ' ' || c == '#')) ||
		    (i == len - 1 && c == ' ')))
			put(&b, "%5C", 3);
		add_url(&b, c);
	}
	return b.p;
}

char *
quote_mysql(struct arena *a, const char *s)
{
	struct buf b;

	buf_init(&b, a, 0);
	for (; *s != '\0'; s++) {
		const char *rep = NULL;

		switch (*s) {
		case '\n': rep = "\\n"; break;
		case '\r': rep = "\\r"; break;
		case '\t': rep = "\\t"; break;
		case '\b': rep = "\\b"; break;
		case '\032': rep = "\\Z"; break;
		case '\'': rep = "\\'"; break;
		case '"': rep = "\\\""; break;
		case '\\': rep = "\\\\"; break;
		default: break;
		}
		if (rep != NULL)
			put(&b, rep, 2);
		else
			put_c(&b, *s);
	}
	return b.p;
}
