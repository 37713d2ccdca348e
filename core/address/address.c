/*
 * RFC 5321 address syntax: SMTP paths, local parts, domains, and helpers
 * to split and qualify addresses.  RFC 5322 address lists are in list.c.
 */
#include "address/address.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "lib/arena.h"
#include "address/internal.h"
#include "lib/buf.h"

#define LOCAL_PART_MAX 64
#define DOMAIN_MAX     255
#define LABEL_MAX      63
#define ADDRESS_MAX    254 /* RFC 5321 path of 256 minus the brackets */
#define ERR_PREFIX     "5.1.3 malformed address: "

bool
address_is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || (c != '\0' &&
		strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* Quoted string [s, s+len) including its quotes, SMTP rules: NULL if OK. */
static const char *
quoted_check(const char *s, size_t len)
{
	if (len < 2 || s[0] != '"' || s[len - 1] != '"')
		return "unterminated quoted string";
	for (size_t i = 1; i < len - 1; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\\') {
			if (++i >= len - 1)
				return "unterminated quoted string";
			c = (unsigned char)s[i];
		} else if (c == '"') {
			return "unterminated quoted string";
		}
		if (c >= 0x80)
			return "non-ASCII character (SMTPUTF8 is not supported)";
		if (c < 32 || c > 126)
			return "bad character in quoted local part";
	}
	return NULL;
}

/* Dot-string or quoted string: NULL if OK, else what is wrong. */
static const char *
local_part_check(const char *s, size_t len)
{
	if (len == 0)
		return "empty local part";
	if (len > LOCAL_PART_MAX)
		return "local part longer than 64 characters";
	if (s[0] == '"')
		return quoted_check(s, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (i == 0 || i == len - 1 || s[i - 1] == '.')
				return "empty part between dots in local part";
		} else if (c >= 0x80) {
			return "non-ASCII character (SMTPUTF8 is not supported)";
		} else if (!address_is_atext(c)) {
			return "bad character in local part";
		}
	}
	return NULL;
}

static const char *
literal_check(const char *s, size_t len)
{
	char ip[64];
	unsigned char bin[16];

	if (len < 3 || s[len - 1] != ']' || len - 2 >= sizeof(ip))
		return "bad address literal";
	memcpy(ip, s + 1, len - 2);
	ip[len - 2] = '\0';
	if (strncasecmp(ip, "IPv6:", 5) == 0)
		return inet_pton(AF_INET6, ip + 5, bin) == 1 ? NULL
			: "bad IPv6 address literal";
	return inet_pton(AF_INET, ip, bin) == 1 ? NULL
		: "bad address literal";
}

/* RFC 5321 Domain or address literal: NULL if OK. */
static const char *
domain_check(const char *s, size_t len)
{
	size_t label = 0;

	if (len == 0)
		return "empty domain";
	if (s[0] == '[')
		return literal_check(s, len);
	if (len > DOMAIN_MAX)
		return "domain longer than 255 characters";
	for (size_t i = 0; i <= len; i++) {
		unsigned char c = i < len ? (unsigned char)s[i] : '.';

		if (c == '.') {
			if (label == 0)
				return "empty label in domain";
			if (s[i - 1] == '-' || s[i - label] == '-')
				return "domain label starts or ends with '-'";
			label = 0;
			continue;
		}
		if (c >= 0x80)
			return "non-ASCII character (SMTPUTF8 is not supported)";
		if (!(c == '-' || (c >= '0' && c <= '9') ||
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
			return "bad character in domain";
		if (++label > LABEL_MAX)
			return "domain label longer than 63 characters";
	}
	return NULL;
}

bool
address_domain_valid(const char *s)
{
	return s != NULL && domain_check(s, strlen(s)) == NULL;
}

bool
address_local_part_valid(const char *s)
{
	return s != NULL && local_part_check(s, strlen(s)) == NULL;
}

const char *
address_check(const char *addr, bool allow_unqualified)
{
	const char *at = NULL, *err;
	bool in_quote = false;

	for (const char *p = addr; *p != '\0'; p++) {
		if (in_quote && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			in_quote = !in_quote;
		else if (*p == '@' && !in_quote)
			at = p;
	}
	if (at == NULL) {
		if (!allow_unqualified)
			return "domain missing";
		return local_part_check(addr, strlen(addr));
	}
	if ((err = local_part_check(addr, (size_t)(at - addr))) != NULL ||
	    (err = domain_check(at + 1, strlen(at + 1))) != NULL)
		return err;
	return strlen(addr) > ADDRESS_MAX ?
		"address longer than 254 characters" : NULL;
}

/* End of the local part starting at p (a dot-string or quoted string). */
static const char *
scan_local_part(const char *p)
{
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++)
			if (*p == '\\' && p[1] != '\0')
				p++;
		return *p == '"' ? p + 1 : p;
	}
	while (*p != '\0' && *p != '@' && *p != '>' && *p != ' ' &&
	    *p != '\t')
		p++;
	return p;
}

/* End of a domain or literal starting at p. */
static const char *
scan_domain(const char *p, const char *stop)
{
	if (*p == '[') {
		const char *q = strchr(p, ']');

		return q ? q + 1 : p + strlen(p);
	}
	while (*p != '\0' && strchr(stop, *p) == NULL)
		p++;
	return p;
}

/* Skip "@a,@b:" after '<'; *err_out on a malformed route. */
static const char *
skip_route(const char *p, const char **err_out)
{
	while (*p == '@') {
		const char *e = scan_domain(p + 1, ",:> \t");

		if ((*err_out = domain_check(p + 1, (size_t)(e - p - 1))) != NULL)
			return NULL;
		p = e;
		if (*p == ':')
			return p + 1;
		if (*p != ',' || p[1] != '@')
			break;
		p++;
	}
	*err_out = "bad source route";
	return NULL;
}

/*
 * The path after '<' up to and including '>': the mailbox into *addr_out.
 * Returns the position after '>' or NULL with *err_out.
 */
static const char *
parse_mailbox(struct arena *a, const char *p, bool allow_unqualified,
	char **addr_out, const char **err_out)
{
	const char *start, *lend, *dend;

	if (*p == '@' && (p = skip_route(p, err_out)) == NULL)
		return NULL;
	start = p;
	lend = scan_local_part(p);
	if (*lend == '@') {
		dend = scan_domain(lend + 1, "> \t");
	} else {
		dend = lend;
		if (*lend == '\0' || *lend == '>') {
			/* RFC 5321 4.5.1: <postmaster> needs no domain. */
			if (strncasecmp(start, "postmaster>", 11) == 0)
				allow_unqualified = true;
		}
	}
	if (*dend != '>') {
		*err_out = *dend == '\0' ? "missing '>'"
			: dend == lend && *lend != '@' ?
			"bad character in local part" : "bad character in domain";
		if (*dend == '\0' && start[0] == '"' && lend[-1] != '"')
			*err_out = "unterminated quoted string";
		return NULL;
	}
	*addr_out = arena_strndup(a, start, (size_t)(dend - start));
	if ((*err_out = address_check(*addr_out, allow_unqualified)) != NULL)
		return NULL;
	return dend + 1;
}

int
address_parse_path2(struct arena *a, const char *s, bool allow_empty,
	bool allow_unqualified, char **addr_out, const char **rest_out,
	char **err_out)
{
	const char *p = s, *err = NULL;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '<') {
		err = "missing '<'";
		goto out_err;
	}
	p++;
	if (*p == '>') {
		if (!allow_empty) {
			err = "empty address not allowed here";
			goto out_err;
		}
		*addr_out = arena_strdup(a, "");
		p++;
	} else if ((p = parse_mailbox(a, p, allow_unqualified, addr_out,
	    &err)) == NULL) {
		goto out_err;
	}
	if (*p != '\0' && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
		err = "junk after '>'";
		goto out_err;
	}
	*rest_out = p;
	return 0;

out_err:
	*err_out = arena_printf(a, ERR_PREFIX "%s", err);
	return -1;
}

int
address_parse_path(struct arena *a, const char *s, bool allow_empty,
	char **addr_out, const char **rest_out, char **err_out)
{
	return address_parse_path2(a, s, allow_empty, false, addr_out, rest_out,
		err_out);
}

/* The last '@' outside quotes, or NULL; *bad_out on an open quote. */
static const char *
last_at(const char *addr, bool *bad_out)
{
	const char *at = NULL;
	bool in_quote = false;

	for (const char *p = addr; *p != '\0'; p++) {
		if (in_quote && *p == '\\' && p[1] != '\0')
			p++;
		else if (*p == '"')
			in_quote = !in_quote;
		else if (*p == '@' && !in_quote)
			at = p;
	}
	*bad_out = in_quote;
	return at;
}

int
address_split(struct arena *a, const char *addr, char **local_out,
	char **domain_out, char **err_out)
{
	bool bad;
	const char *at = last_at(addr, &bad);

	*local_out = NULL;
	*domain_out = NULL;
	if (bad) {
		*err_out = arena_printf(a, "unterminated quoted string in "
			"address");
		return -1;
	}
	if (at == NULL) {
		*local_out = arena_strdup(a, addr);
	} else {
		*local_out = arena_strndup(a, addr, (size_t)(at - addr));
		*domain_out = str_lower(a, at + 1);
	}
	if (**local_out == '\0' || (*domain_out != NULL &&
	    **domain_out == '\0')) {
		*err_out = arena_printf(a, "empty %s in address",
			**local_out == '\0' ? "local part" : "domain");
		return -1;
	}
	return 0;
}

char *
address_qualify(struct arena *a, const char *addr, const char *domain)
{
	bool bad;

	if (*addr == '\0' || domain == NULL || *domain == '\0' ||
	    last_at(addr, &bad) != NULL)
		return arena_strdup(a, addr);
	return arena_printf(a, "%s@%s", addr, domain);
}
