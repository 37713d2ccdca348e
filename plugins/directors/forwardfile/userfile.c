#include "userfile.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct saved_ids {
	uid_t  euid;
	gid_t  egid;
	int    ngroups;
	gid_t *groups;
};

/* May we take root back (root now, or root saved)? */
static bool
can_switch(void)
{
	uid_t r, e, s;

	if (getresuid(&r, &e, &s) < 0)
		return false;
	return e == 0 || s == 0;
}

static void
restore_ids(struct saved_ids *sv)
{
	if ((geteuid() != 0 && seteuid(0) < 0) ||
	    setgroups((size_t)sv->ngroups, sv->groups) < 0 ||
	    setegid(sv->egid) < 0 || seteuid(sv->euid) < 0)
		abort(); /* running on as the user would be far worse */
	free(sv->groups);
	sv->groups = NULL;
}

/* Become ids (effective only).  0, or -1 with errno and nothing changed. */
static int
switch_ids(const struct userfile_ids *ids, struct saved_ids *sv)
{
	int n, e;

	sv->euid = geteuid();
	sv->egid = getegid();
	n = getgroups(0, NULL);
	if (n < 0)
		return -1;
	sv->groups = calloc((size_t)n + 1, sizeof *sv->groups);
	if (sv->groups == NULL)
		return -1;
	sv->ngroups = getgroups(n, sv->groups);
	if (sv->ngroups < 0) {
		free(sv->groups);
		return -1;
	}
	if (sv->euid != 0 && seteuid(0) < 0) {
		e = errno;
		free(sv->groups);
		errno = e;
		return -1;
	}
	if ((ids->login != NULL ? initgroups(ids->login, ids->gid) :
	    setgroups(1, &ids->gid)) < 0 || setegid(ids->gid) < 0 ||
	    seteuid(ids->uid) < 0) {
		e = errno;
		restore_ids(sv);
		errno = e;
		return -1;
	}
	return 0;
}

bool
userfile_as_user(const struct userfile_ids *ids)
{
	return !ids->has_ids || ids->uid == geteuid() || can_switch();
}

static int
open_as(const char *path, const struct userfile_ids *ids)
{
	struct saved_ids sv = { 0, 0, 0, NULL };
	int fd, e;

	if (!ids->has_ids || ids->uid == geteuid() || !can_switch())
		return open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (switch_ids(ids, &sv) < 0) {
		errno = EPERM;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	e = errno;
	restore_ids(&sv);
	errno = e;
	return fd;
}

int
userfile_read(const char *path, const struct userfile_ids *ids, size_t max,
	char **text_out, struct stat *st_out)
{
	size_t len = 0, size;
	char *text;
	ssize_t n;
	int fd, e;

	if ((fd = open_as(path, ids)) < 0)
		return -1;
	if (fstat(fd, st_out) < 0)
		goto out_close;
	if (!S_ISREG(st_out->st_mode)) {
		*text_out = NULL; /* userfile_check says why */
		close(fd);
		return 0;
	}
	if ((uint64_t)st_out->st_size > max) {
		errno = EFBIG;
		goto out_close;
	}
	size = (size_t)st_out->st_size;
	if ((text = malloc(size + 1)) == NULL)
		goto out_close;
	while (len < size && (n = read(fd, text + len, size - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			e = errno;
			free(text);
			close(fd);
			errno = e;
			return -1;
		}
		len += (size_t)n;
	}
	text[len] = '\0';
	close(fd);
	*text_out = text;
	return 0;

out_close:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

const char *
userfile_check(const struct stat *st, int modemask, const uid_t *owners,
	size_t nowners, const gid_t *groups, size_t ngroups, char *why,
	size_t whylen)
{
	size_t i;

	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "not a regular file");
		return why;
	}
	if ((st->st_mode & (mode_t)modemask) != 0) {
		snprintf(why, whylen, "bad mode (0%03o): 0%03o must be clear",
			(unsigned)(st->st_mode & 07777), (unsigned)modemask);
		return why;
	}
	for (i = 0; owners != NULL && i < nowners; i++)
		if (owners[i] == st->st_uid)
			break;
	if (owners != NULL && i == nowners) {
		snprintf(why, whylen, "bad owner (uid %ld)", (long)st->st_uid);
		return why;
	}
	for (i = 0; groups != NULL && i < ngroups; i++)
		if (groups[i] == st->st_gid)
			break;
	if (groups != NULL && i == ngroups) {
		snprintf(why, whylen, "bad group (gid %ld)", (long)st->st_gid);
		return why;
	}
	return NULL;
}

/* A colon list of user or group names (or numbers) into ids. */
static int
parse_ids(const char *list, bool groups, int64_t **ids_out, size_t *n_out,
	char **bad_out)
{
	char *copy = strdup(list), *p = copy, *item;
	size_t n = 0;
	int64_t *v = calloc(strlen(list) / 2 + 1, sizeof *v), id;
	struct passwd *pw;
	struct group *gr;

	*bad_out = NULL;
	if (copy == NULL || v == NULL)
		goto out_bad;
	while ((item = strsep(&p, ":")) != NULL) {
		while (isspace((unsigned char)*item))
			item++;
		item[strcspn(item, " \t")] = '\0';
		if (*item == '\0')
			continue;
		if (item[strspn(item, "0123456789")] == '\0')
			id = strtoll(item, NULL, 10);
		else if (!groups && (pw = getpwnam(item)) != NULL)
			id = pw->pw_uid;
		else if (groups && (gr = getgrnam(item)) != NULL)
			id = gr->gr_gid;
		else {
			*bad_out = strdup(item);
			goto out_bad;
		}
		v[n++] = id;
	}
	free(copy);
	*n_out = n;
	*ids_out = v;
	return 0;

out_bad:
	free(copy);
	free(v);
	return -1;
}

static int
owners_fail(char *bad, char *why, size_t whylen)
{
	if (bad != NULL)
		snprintf(why, whylen, "unknown user or group \"%s\"", bad);
	else
		snprintf(why, whylen, "out of memory");
	free(bad);
	return -1;
}

int
userfile_owners_set(struct userfile_owners *out, const char *owners,
	const char *owngroups, char *why, size_t whylen)
{
	int64_t *v;
	char *bad;
	size_t n;

	*out = (struct userfile_owners){ NULL, 0, NULL, 0 };
	if (owners != NULL) {
		if (parse_ids(owners, false, &v, &n, &bad) < 0)
			return owners_fail(bad, why, whylen);
		out->owners = calloc(n + 1, sizeof *out->owners);
		for (size_t i = 0; out->owners != NULL && i < n; i++)
			out->owners[i] = (uid_t)v[i];
		out->nowners = n;
		free(v);
		if (out->owners == NULL)
			return owners_fail(NULL, why, whylen);
	}
	if (owngroups != NULL) {
		if (parse_ids(owngroups, true, &v, &n, &bad) < 0)
			return owners_fail(bad, why, whylen);
		out->groups = calloc(n + 1, sizeof *out->groups);
		for (size_t i = 0; out->groups != NULL && i < n; i++)
			out->groups[i] = (gid_t)v[i];
		out->ngroups = n;
		free(v);
		if (out->groups == NULL)
			return owners_fail(NULL, why, whylen);
	}
	return 0;
}
