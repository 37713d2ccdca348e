/*
 * A glibc NSS module for tests only (libnss_ternfail.so.2): a passwd and
 * group source that can be made to fail, which Debian's "files systemd"
 * cannot.  The file named by $TERN_TEST_NSS, read at every call, says
 * what it does:
 *
 *   down                       every lookup fails: NSS_STATUS_UNAVAIL,
 *                              errno EAGAIN (an LDAP or sssd server down)
 *   up                         it answers from the lines that follow:
 *   user NAME UID GID HOME     a user (shell /usr/sbin/nologin)
 *   group NAME GID             a group (no members)
 *
 * Anything else, a missing file or an unset variable: "not found".  The
 * tests bind-mount an nsswitch.conf saying "passwd: files ternfail" and
 * "group: files ternfail" in a mount namespace and put this library's
 * directory in LD_LIBRARY_PATH (tests/blackbox/test_nss.py).
 */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 64
#define HOME_MAX_LEN 1024

struct entry {
	char          name[NAME_MAX_LEN];
	char          home[HOME_MAX_LEN];
	unsigned long uid, gid;
};

enum nss_status _nss_ternfail_getpwnam_r(const char *, struct passwd *,
	char *, size_t, int *);
enum nss_status _nss_ternfail_getpwuid_r(uid_t, struct passwd *, char *,
	size_t, int *);
enum nss_status _nss_ternfail_getgrnam_r(const char *, struct group *,
	char *, size_t, int *);
enum nss_status _nss_ternfail_getgrgid_r(gid_t, struct group *, char *,
	size_t, int *);

/*
 * Look for a "user" or "group" line (kind) matching name, or id when
 * name is NULL.  NSS_STATUS_SUCCESS with *e filled, NOTFOUND, or UNAVAIL
 * with *errnop = EAGAIN when the file says "down".
 */
static enum nss_status
find(const char *kind, const char *name, unsigned long id, struct entry *e,
	int *errnop)
{
	const char *path = secure_getenv("TERN_TEST_NSS");
	char line[2 * HOME_MAX_LEN], state[16] = "";
	enum nss_status st = NSS_STATUS_NOTFOUND;
	FILE *f;

	memset(e, 0, sizeof *e);
	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return NSS_STATUS_NOTFOUND;
	if (fgets(line, sizeof line, f) != NULL)
		(void)sscanf(line, "%15s", state);
	if (strcmp(state, "down") == 0) {
		fclose(f);
		*errnop = EAGAIN;
		return NSS_STATUS_UNAVAIL;
	}
	while (strcmp(state, "up") == 0 && fgets(line, sizeof line, f)) {
		char k[16];
		bool is_user = strcmp(kind, "user") == 0;
		int n = is_user ?
			sscanf(line, "%15s %63s %lu %lu %1023s", k, e->name,
				&e->uid, &e->gid, e->home) :
			sscanf(line, "%15s %63s %lu", k, e->name, &e->gid);

		if (n != (is_user ? 5 : 3) || strcmp(k, kind) != 0)
			continue;
		if (name != NULL ? strcmp(name, e->name) == 0 :
		    id == (is_user ? e->uid : e->gid)) {
			st = NSS_STATUS_SUCCESS;
			break;
		}
	}
	fclose(f);
	return st;
}

/* A copy of s in buf at *used, or NULL when it does not fit. */
static char *
put(const char *s, char *buf, size_t len, size_t *used)
{
	size_t n = strlen(s) + 1;
	char *p = buf + *used;

	if (n > len - *used)
		return NULL;
	memcpy(p, s, n);
	*used += n;
	return p;
}

static enum nss_status
fill_passwd(const struct entry *e, struct passwd *pw, char *buf, size_t len,
	int *errnop)
{
	size_t used = 0;

	if ((pw->pw_name = put(e->name, buf, len, &used)) == NULL ||
	    (pw->pw_passwd = put("x", buf, len, &used)) == NULL ||
	    (pw->pw_gecos = put("", buf, len, &used)) == NULL ||
	    (pw->pw_dir = put(e->home, buf, len, &used)) == NULL ||
	    (pw->pw_shell = put("/usr/sbin/nologin", buf, len, &used)) == NULL) {
		*errnop = ERANGE; /* glibc retries with a larger buffer */
		return NSS_STATUS_TRYAGAIN;
	}
	pw->pw_uid = (uid_t)e->uid;
	pw->pw_gid = (gid_t)e->gid;
	return NSS_STATUS_SUCCESS;
}

static enum nss_status
fill_group(const struct entry *e, struct group *gr, char *buf, size_t len,
	int *errnop)
{
	size_t used = 0;
	char *name = put(e->name, buf, len, &used);
	char *pass = name != NULL ? put("x", buf, len, &used) : NULL;

	/* gr_mem, an empty list, at the next pointer-aligned address */
	used += -(uintptr_t)(buf + used) & (__alignof__(char *) - 1);
	if (pass == NULL || len < used || len - used < sizeof(char *)) {
		*errnop = ERANGE;
		return NSS_STATUS_TRYAGAIN;
	}
	gr->gr_mem = (char **)(void *)(buf + used);
	gr->gr_mem[0] = NULL;
	gr->gr_name = name;
	gr->gr_passwd = pass;
	gr->gr_gid = (gid_t)e->gid;
	return NSS_STATUS_SUCCESS;
}

enum nss_status
_nss_ternfail_getpwnam_r(const char *name, struct passwd *pw, char *buf,
	size_t len, int *errnop)
{
	struct entry e;
	enum nss_status st = find("user", name, 0, &e, errnop);

	return st == NSS_STATUS_SUCCESS ?
		fill_passwd(&e, pw, buf, len, errnop) : st;
}

enum nss_status
_nss_ternfail_getpwuid_r(uid_t uid, struct passwd *pw, char *buf,
	size_t len, int *errnop)
{
	struct entry e;
	enum nss_status st = find("user", NULL, uid, &e, errnop);

	return st == NSS_STATUS_SUCCESS ?
		fill_passwd(&e, pw, buf, len, errnop) : st;
}

enum nss_status
_nss_ternfail_getgrnam_r(const char *name, struct group *gr, char *buf,
	size_t len, int *errnop)
{
	struct entry e;
	enum nss_status st = find("group", name, 0, &e, errnop);

	return st == NSS_STATUS_SUCCESS ?
		fill_group(&e, gr, buf, len, errnop) : st;
}

enum nss_status
_nss_ternfail_getgrgid_r(gid_t gid, struct group *gr, char *buf,
	size_t len, int *errnop)
{
	struct entry e;
	enum nss_status st = find("group", NULL, gid, &e, errnop);

	return st == NSS_STATUS_SUCCESS ?
		fill_group(&e, gr, buf, len, errnop) : st;
}
