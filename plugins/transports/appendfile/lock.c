/*
 * Mailbox locking: a dot-lock file made NFS-safely (create a unique
 * "hitching post" file, link() it to path.lock, and trust the link count,
 * not link()'s return value), then an fcntl lock on the open mailbox.
 */
#include "appendfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
pause_seconds(int s)
{
	struct timespec ts = { s, 0 };

	if (s > 0)
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
}

/* One attempt: 1 got it, 0 it exists, -1 error. */
static int
try_link(const char *hitch, const char *lockname, int mode)
{
	struct stat st;
	int fd, link_errno;

	fd = open(hitch, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	close(fd);
	link_errno = link(hitch, lockname) < 0 ? errno : 0;
	if (stat(hitch, &st) == 0 && st.st_nlink == 2) {
		unlink(hitch);
		return 1;
	}
	unlink(hitch);
	if (link_errno == EEXIST || link_errno == 0)
		return 0;
	errno = link_errno;
	return -1;
}

/* Remove lockname if it is older than the timeout: 1 removed, else 0. */
static int
remove_stale(const char *lockname, int timeout)
{
	struct stat st;

	if (timeout <= 0 || stat(lockname, &st) < 0)
		return 0;
	if (time(NULL) - st.st_mtime <= timeout)
		return 0;
	return unlink(lockname) == 0 || errno == ENOENT;
}

int
dotlock_acquire(const char *path, const struct af_lock_opts *o,
	char **lockname_out, char *err, size_t errlen)
{
	char host[256] = "localhost", *lockname = NULL, *hitch = NULL;
	int rc = -1, got, e;

	gethostname(host, sizeof host - 1);
	if (asprintf(&lockname, "%s.lock", path) < 0) {
		lockname = NULL;
		goto out_nomem;
	}
	if (asprintf(&hitch, "%s.%s.%lx.%ld", lockname, host,
	    (unsigned long)time(NULL), (long)getpid()) < 0) {
		hitch = NULL;
		goto out_nomem;
	}
	for (int i = 0; i < (o->retries > 0 ? o->retries : 1); i++) {
		got = try_link(hitch, lockname, o->lockfile_mode);
		if (got < 0) {
			e = errno;
			snprintf(err, errlen, "failed to create lock file %s: "
				"%s", hitch, strerror(e));
			errno = e;
			goto out;
		}
		if (got > 0) {
			*lockname_out = lockname;
			lockname = NULL;
			rc = 0;
			goto out;
		}
		if (remove_stale(lockname, o->lockfile_timeout))
			continue;
		pause_seconds(o->interval);
	}
	snprintf(err, errlen, "failed to lock mailbox %s (lock file %s "
		"exists)", path, lockname);
	errno = EAGAIN;
	goto out;

out_nomem:
	snprintf(err, errlen, "out of memory locking %s", path);
	errno = ENOMEM;
out:
	e = errno;
	free(hitch);
	free(lockname);
	errno = e;
	return rc;
}

void
dotlock_release(char *lockname)
{
	if (lockname == NULL)
		return;
	unlink(lockname);
	free(lockname);
}

int
fcntl_lock(int fd, const char *path, const struct af_lock_opts *o,
	char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int e;

	for (int i = 0; i < (o->retries > 0 ? o->retries : 1); i++) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return 0;
		e = errno;
		if (e != EAGAIN && e != EACCES && e != EINTR) {
			snprintf(err, errlen, "fcntl lock on %s failed: %s",
				path, strerror(e));
			errno = e;
			return -1;
		}
		pause_seconds(o->interval);
	}
	snprintf(err, errlen, "failed to lock mailbox %s (fcntl)", path);
	errno = EAGAIN;
	return -1;
}
