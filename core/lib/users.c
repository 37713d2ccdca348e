#include "lib/users.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "lib/buf.h"

#define USERS_KEPT 4

static struct user_kept {
	char   *key;         /* the name asked for; NULL: unused */
	char   *name, *home; /* all three malloc'd */
	int64_t uid, gid;
} kept[USERS_KEPT];
static unsigned kept_next;

static const struct user_kept *
kept_find(const char *key)
{
	for (size_t i = 0; i < USERS_KEPT; i++)
		if (kept[i].key != NULL && strcmp(kept[i].key, key) == 0)
			return &kept[i];
	return NULL;
}

static const struct user_kept *
kept_add(const char *key, const struct passwd *pw)
{
	struct user_kept *k = &kept[kept_next % USERS_KEPT];
	char *kd = strdup(key), *name = strdup(pw->pw_name),
		*home = strdup(pw->pw_dir);

	if (kd == NULL || name == NULL || home == NULL) {
		free(kd);
		free(name);
		free(home);
		return NULL; /* asked again next time */
	}
	kept_next++;
	free(k->key);
	free(k->name);
	free(k->home);
	*k = (struct user_kept){ .key = kd, .name = name, .home = home,
		.uid = pw->pw_uid, .gid = pw->pw_gid };
	return k;
}

/*
 * getpwnam(3), getpwuid(3), getgrnam(3): a null answer with errno 0,
 * ENOENT, ESRCH, EBADF or EPERM means "no such user" (or group); any
 * other errno is the source's failure.
 */
static bool
is_absence(int e)
{
	return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static struct passwd *
lookup(const char *name, int *errno_out)
{
	struct passwd *pw;

	errno = 0;
	pw = getpwnam(name);
	*errno_out = pw == NULL && !is_absence(errno) ? errno : 0;
	return pw;
}

/* A passwd entry as the answer: 1. */
static int
from_passwd(const struct passwd *pw, struct user_entry *out)
{
	out->name = pw->pw_name;
	out->home = pw->pw_dir;
	out->uid = pw->pw_uid;
	out->gid = pw->pw_gid;
	return 1;
}

int
users_find(const char *name, struct user_entry *out)
{
	const struct user_kept *k = kept_find(name);
	struct passwd *pw;
	int e = 0;

	if (k == NULL) {
		pw = lookup(name, &e);
		if (pw == NULL && e == 0) {
			const char *l = str_lower(arena_scratch, name);

			if (strcmp(l, name) != 0)
				pw = lookup(l, &e);
		}
		if (pw == NULL) {
			errno = e;
			return e != 0 ? -1 : 0;
		}
		k = kept_add(name, pw);
		if (k == NULL) /* the answer without keeping it */
			return from_passwd(pw, out);
	}
	out->name = k->name;
	out->home = k->home;
	out->uid = k->uid;
	out->gid = k->gid;
	return 1;
}

int
users_find_uid(int64_t uid, struct user_entry *out)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwuid((uid_t)uid)) == NULL)
		return is_absence(errno) ? 0 : -1;
	return from_passwd(pw, out);
}

int
users_find_group(const char *name, int64_t *gid_out)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(name)) == NULL)
		return is_absence(errno) ? 0 : -1;
	*gid_out = gr->gr_gid;
	return 1;
}
