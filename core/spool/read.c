/*
 * Reading a spooled message (with its lock), removing it, listing the
 * queue (and clearing what crashed receptions left), the per-message log.
 */
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "log/log.h"
#include "spool/internal.h"

#define DATA_FIRST_LINE_LEN (MESSAGE_ID_LEN + 3) /* "ID-D\n" */
#define GARBAGE_AGE         3600 /* seconds before a stray file is removed */
#define HEADER_FILE_MAX     (64u * 1024 * 1024)

/* Error text naming path, keeping errno for the caller. */
static int
fail(char **err_out, const char *what, const char *path)
{
	int saved = errno;

	*err_out = arena_printf(arena_msg, "spool: %s %s: %m", what, path);
	errno = saved;
	return -1;
}

/*
 * The whole of file path into *text_out (arena_msg).  missing_ok: a
 * missing file gives 0 with *text_out NULL.
 */
static int
slurp(const char *path, bool missing_ok, char **text_out, size_t *len_out,
	char **err_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st = { 0 };
	size_t got = 0;
	char *text;

	*text_out = NULL;
	*len_out = 0;
	if (fd < 0)
		return missing_ok && errno == ENOENT ? 0
			: fail(err_out, "open", path);
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size > HEADER_FILE_MAX) {
		if ((uint64_t)st.st_size > HEADER_FILE_MAX)
			errno = EFBIG;
		close(fd);
		return fail(err_out, "read", path);
	}
	text = arena_alloc(arena_msg, (size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	text[got] = '\0';
	*text_out = text;
	*len_out = got;
	return 0;
}

/* Open (and with lock, lock) -D and check its first line. */
static int
open_data(struct message *m, bool lock, char **err_out)
{
	const char *path = spool_path(m->id, 'D');
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char first[DATA_FIRST_LINE_LEN];
	int fd;

	fd = open(path, (lock ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(err_out, "open", path);
	if (lock && fcntl(fd, F_SETLK, &fl) != 0) {
		int saved = errno;

		close(fd);
		if (saved == EAGAIN || saved == EACCES)
			return -2;
		errno = saved;
		return fail(err_out, "lock", path);
	}
	if (pread(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first) ||
	    memcmp(first, m->id, MESSAGE_ID_LEN) != 0 ||
	    memcmp(first + MESSAGE_ID_LEN, "-D\n", 3) != 0) {
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: %s: first line is "
			"not the file's name", path);
		errno = EINVAL;
		return -1;
	}
	m->data_fd = fd;
	m->body_offset = DATA_FIRST_LINE_LEN;
	return 0;
}

static void
compute_size(struct message *m)
{
	struct stat st;

	m->size = 0;
	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED)
			m->size += h->len;
	if (fstat(m->data_fd, &st) == 0 && st.st_size > m->body_offset)
		m->size += (uint64_t)(st.st_size - m->body_offset);
}

int
spool_read(const char *id, struct message *m, bool lock, char **err_out)
{
	const char *hpath;
	char *text;
	size_t len;
	int rc;

	memset(m, 0, sizeof(*m));
	m->data_fd = -1;
	if (!spool_id_valid(id)) {
		*err_out = arena_printf(arena_msg, "spool: bad message id");
		errno = EINVAL;
		return -1;
	}
	memcpy(m->id, id, MESSAGE_ID_LEN + 1);
	/* Lock first, so that -H cannot change while it is read. */
	rc = open_data(m, lock, err_out);
	if (rc == -2)
		return 1;
	if (rc != 0)
		return -1;
	hpath = spool_path(id, 'H');
	if (slurp(hpath, false, &text, &len, err_out) != 0)
		goto out_close;
	if (spool_header_decode(arena_msg, hpath, text, len, m, err_out) != 0) {
		errno = EINVAL;
		goto out_close;
	}
	if (slurp(spool_path(id, 'J'), true, &text, &len, err_out) != 0)
		goto out_close;
	if (text != NULL)
		spool_apply_journal(m, text, len);
	compute_size(m);
	return 0;

out_close:
	rc = errno;
	spool_close(m);
	errno = rc;
	return -1;
}

void
spool_close(struct message *m)
{
	if (m->data_fd >= 0)
		close(m->data_fd);
	m->data_fd = -1;
}

int
spool_remove(const char *id, char **err_out)
{
	static const char suffixes[] = { 'H', 'D', 'J', 'L' };
	int missing = 0;

	if (!spool_id_valid(id)) {
		*err_out = arena_printf(arena_msg, "spool: bad message id");
		errno = EINVAL;
		return -1;
	}
	/* -H first: once it is gone the message no longer exists. */
	for (size_t i = 0; i < sizeof(suffixes); i++) {
		const char *path = spool_path(id, suffixes[i]);

		if (unlink(path) == 0)
			continue;
		if (errno != ENOENT)
			return fail(err_out, "unlink", path);
		if (i < 2)
			missing++;
	}
	if (missing == 2) {
		*err_out = arena_printf(arena_msg, "spool: no message %s", id);
		errno = ENOENT;
		return -1;
	}
	return 0;
}

/* Remove a leftover of a crash (see docs/spool.md) if old enough. */
static void
clean_stray(int dfd, const char *name, time_t now)
{
	struct stat st;
	char id[MESSAGE_ID_LEN + 1], h[MESSAGE_ID_LEN + 3];

	memcpy(id, name, MESSAGE_ID_LEN);
	id[MESSAGE_ID_LEN] = '\0';
	if (!spool_id_valid(id))
		return;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    now - st.st_mtime < GARBAGE_AGE)
		return;
	snprintf(h, sizeof(h), "%s-H", id);
	/* Checked again now: readdir may have passed -H before it arrived. */
	if (fstatat(dfd, h, &st, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT)
		return;
	if (unlinkat(dfd, name, 0) == 0)
		log_write(TERN_LOG_MAIN, id, "spool: removed stale %s/input/%s",
			spool_base(), name);
	else
		DEBUG("spool: cannot remove stale %s/input/%s: %m",
			spool_base(), name);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add id to the growing list in arena_scratch. */
static void
list_add(char ***ids, size_t *n, size_t *cap, const char *name)
{
	if (*n == *cap) {
		char **nids;

		*cap = *cap ? *cap * 2 : 64;
		nids = arena_alloc(arena_scratch, (*cap + 1) * sizeof(*nids));
		if (*n > 0)
			memcpy(nids, *ids, *n * sizeof(*nids));
		*ids = nids;
	}
	(*ids)[(*n)++] = arena_strndup(arena_scratch, name, MESSAGE_ID_LEN);
	(*ids)[*n] = NULL;
}

int
spool_list(char ***ids_out, size_t *n_out, bool sorted, char **err_out)
{
	const char *dir = arena_printf(arena_scratch, "%s/input", spool_base());
	DIR *d = opendir(dir);
	char **ids = NULL;
	size_t n = 0, cap = 0;
	time_t now = time(NULL);
	struct dirent *e;

	if (d == NULL)
		return fail(err_out, "opendir", dir);
	while ((errno = 0, e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < MESSAGE_ID_LEN + 2 || e->d_name[MESSAGE_ID_LEN] != '-')
			continue;
		if (len == MESSAGE_ID_LEN + 2 &&
		    e->d_name[MESSAGE_ID_LEN + 1] == 'H') {
			char id[MESSAGE_ID_LEN + 1];

			memcpy(id, e->d_name, MESSAGE_ID_LEN);
			id[MESSAGE_ID_LEN] = '\0';
			if (spool_id_valid(id))
				list_add(&ids, &n, &cap, id);
		} else {
			clean_stray(dirfd(d), e->d_name, now);
		}
	}
	if (errno != 0) {
		fail(err_out, "readdir", dir);
		closedir(d);
		return -1;
	}
	closedir(d);
	if (ids == NULL)
		ids = arena_zalloc(arena_scratch, sizeof(*ids));
	if (sorted && n > 1)
		qsort(ids, n, sizeof(*ids), cmp_str);
	*ids_out = ids;
	*n_out = n;
	return 0;
}

void
spool_msglog(const char *id, const char *fmt, ...)
{
	char text[4096], line[4096 + 64], ts[32];
	const char *path = spool_path(id, 'L');
	time_t now = time(NULL);
	struct tm tm;
	va_list ap;
	int fd, n;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *s = text; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(ts, sizeof(ts), "%lld", (long long)now);
	n = snprintf(line, sizeof(line), "%s %s\n", ts, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		0640);
	if (fd < 0 || write(fd, line, (size_t)n) != n)
		log_write(TERN_LOG_MAIN, id, "spool: write %s: %m", path);
	if (fd >= 0)
		close(fd);
}
