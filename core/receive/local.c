/* Local submissions: the caller's trust, the sender, argument recipients. */
#include "receive/local.h"

#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "address/address.h"
#include "config/config.h"
#include "config/lists.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"

/*
 * trusted_groups: a name that is not a group is skipped, as it cannot be
 * the caller's.
 */
static bool
in_trusted_groups(const gid_t *groups, int n)
{
	const char *list = conf.trusted_groups, *item;
	char sep = '\0';

	while ((item = list_next(&list, &sep)) != NULL) {
		char *end;
		unsigned long g = strtoul(item, &end, 10);
		struct group *gr;

		if (*item == '\0')
			continue;
		if (*end != '\0' || !isdigit((unsigned char)*item)) {
			if ((gr = getgrnam(item)) == NULL)
				continue;
			g = gr->gr_gid;
		}
		for (int i = 0; i < n; i++)
			if (groups[i] == (gid_t)g)
				return true;
	}
	return false;
}

bool
local_trusted(uid_t uid, const char *login, const gid_t *groups, int n)
{
	char *err = NULL;

	if (uid == 0 || uid == rt.tern_uid)
		return true;
	if (conf.trusted_users != NULL && list_match(TERN_LIST_STRING,
	    conf.trusted_users, login, NULL, &err) == TERN_OK)
		return true;
	return conf.trusted_groups != NULL && in_trusted_groups(groups, n);
}

const char *
local_sender(const char *login, bool trusted, const char *f)
{
	if (f == NULL)
		return arena_printf(arena_msg, "%s@%s", login,
		    conf.qualify_domain);
	if (!trusted) {
		log_write(TERN_LOG_MAIN, NULL, "untrusted user %s: -f %s "
		    "ignored", login, str_printable(arena_msg, f, strlen(f)));
		return arena_printf(arena_msg, "%s@%s", login,
		    conf.qualify_domain);
	}
	if (strcmp(f, "<>") == 0 || *f == '\0')
		return "";
	return address_qualify(arena_msg, f, conf.qualify_domain);
}

int
local_add_recipients(struct message *m, const char *arg, size_t *cap,
	char **err_out)
{
	char **list = NULL;

	if (address_list_extract(arena_msg, arg, &list, err_out) != 0)
		return -1;
	for (char **p = list; *p != NULL; p++) {
		if (m->nrcpts == *cap) {
			struct recipient *n;

			*cap = *cap ? *cap * 2 : 16;
			n = arena_zalloc(arena_msg, *cap * sizeof(*n));
			if (m->nrcpts > 0)
				memcpy(n, m->rcpts, m->nrcpts * sizeof(*n));
			m->rcpts = n;
		}
		m->rcpts[m->nrcpts++].address = address_qualify(arena_msg, *p,
		    conf.qualify_recipient);
	}
	return 0;
}

const char *
local_gecos_name(const struct passwd *pw)
{
	struct buf b;

	if (pw == NULL || pw->pw_gecos == NULL)
		return NULL;
	buf_init(&b, arena_msg, 0);
	for (const char *g = pw->pw_gecos; *g != '\0'; g++) {
		bool ok = true;

		if (*g != '&')
			ok = buf_addc(&b, *g);
		else if (*pw->pw_name != '\0')
			ok = buf_addc(&b, (char)toupper(
				(unsigned char)*pw->pw_name)) &&
				buf_adds(&b, pw->pw_name + 1);
		if (!ok)
			break;
	}
	return b.p != NULL ? b.p : "";
}

/* RFC 5322 atext, and the space between words. */
static bool
phrase_char(unsigned char c)
{
	return isalnum(c) || c == ' ' || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

char *
local_from_header(const char *login, const char *name)
{
	const char *addr = arena_printf(arena_msg, "%s@%s", login,
		conf.qualify_domain);
	size_t n = 0, len;
	bool plain = true, eight = false;
	char *clean, *out;

	if (name == NULL)
		name = "";
	len = strlen(name);
	clean = arena_alloc(arena_msg, len + 1);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			continue;
		eight |= *p >= 0x80;
		plain &= phrase_char(*p);
		clean[n++] = (char)*p;
	}
	clean[n] = '\0';
	while (n > 0 && clean[n - 1] == ' ')
		clean[--n] = '\0';
	while (*clean == ' ')
		clean++, n--;
	if (n == 0)
		return arena_printf(arena_msg, "From: %s\n", addr);
	if (eight) {
		out = arena_alloc(arena_msg, 4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock((unsigned char *)out,
			(const unsigned char *)clean, (int)n);
		return arena_printf(arena_msg, "From: =?utf-8?B?%s?= <%s>\n",
			out, addr);
	}
	if (plain)
		return arena_printf(arena_msg, "From: %s <%s>\n", clean, addr);
	out = arena_alloc(arena_msg, 2 * n + 3);
	n = 0;
	out[n++] = '"';
	for (const char *p = clean; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			out[n++] = '\\';
		out[n++] = *p;
	}
	out[n++] = '"';
	out[n] = '\0';
	return arena_printf(arena_msg, "From: %s <%s>\n", out, addr);
}
