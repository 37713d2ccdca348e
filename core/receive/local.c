/* Local submissions: the caller's trust, the sender, argument recipients. */
#include "receive/local.h"

#include <ctype.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>

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
