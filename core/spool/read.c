/*
 * Reading a spooled message (with its lock), removing it, listing the
 * queue (and clearing what crashes left), the sections -Mvh and -Mvl show.
 */
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"
#include "spool/internal.h"

#define GARBAGE_AGE     3600 /* seconds before a stray file is removed */
#define INCOMPLETE_AGE  300  /* ... before an uncommitted ID-M is */
#define TAIL_MAX        (64u * 1024 * 1024)
#define OPEN_TRIES      5

/* Error text naming path, keeping errno for the caller. */
static int
fail(char **err_out, const char *what, const char *path)
{
	int saved = errno;

	*err_out = arena_printf(arena_msg, "spool: %s %s: %m", what, path);
	errno = saved;
	return -1;
}

/* [off, EOF) of fd into *text_out (arena_msg, NUL-terminated). */
static int
read_tail(int fd, off_t off, const char *path, char **text_out,
	size_t *len_out, char **err_out)
{
	struct stat st;
	size_t len, got = 0;
	char *text;

	if (fstat(fd, &st) != 0)
		return fail(err_out, "stat", path);
	if (st.st_size < off || (uint64_t)(st.st_size - off) > TAIL_MAX) {
		errno = st.st_size < off ? EINVAL : EFBIG;
		return fail(err_out, "read", path);
	}
	len = (size_t)(st.st_size - off);
	text = arena_alloc(arena_msg, len + 1);
	while (got < len) {
		ssize_t n = pread(fd, text + got, len - got, off + (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err_out, "read", path);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	text[got] = '\0';
	*text_out = text;
	*len_out = got;
	return 0;
}

/*
 * Open ID-M (with lock: read-write, appending, locked, and checked to be
 * still the file of that name).  fd, -2 when locked elsewhere, -1 error.
 */
static int
open_locked(const char *path, bool lock, char **err_out)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	for (int tries = 0; tries < OPEN_TRIES; tries++) {
		struct stat a, b;
		int fd = open(path, (lock ? O_RDWR | O_APPEND : O_RDONLY) |
			O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0)
			return fail(err_out, "open", path);
		if (!lock)
			return fd;
		if (fcntl(fd, F_SETLK, &fl) != 0) {
			int saved = errno;

			close(fd);
			if (saved == EAGAIN || saved == EACCES)
				return -2;
			errno = saved;
			return fail(err_out, "lock", path);
		}
		/*
		 * The holder before us may have removed the file, or renamed a
		 * rewritten one over it, after we opened it: then the lock is
		 * on a file that is no longer the message.
		 */
		{
			bool have = fstat(fd, &a) == 0;
			int src = stat(path, &b), e = errno;

			if (have && src == 0 && a.st_dev == b.st_dev &&
			    a.st_ino == b.st_ino)
				return fd;
			close(fd);
			if (src != 0 && e == ENOENT) {
				errno = ENOENT;
				return fail(err_out, "open", path);
			}
		}
	}
	return -2;
}

/* An uncommitted ID-M: busy (1), or, with lock and old, removed (-1). */
static int
incomplete(struct message *m, int fd, bool lock, const char *path,
	char **err_out)
{
	struct stat st;

	/* The lock proves nobody writes it; the age covers create -> lock. */
	if (lock && fstat(fd, &st) == 0 &&
	    time(NULL) - st.st_mtime >= INCOMPLETE_AGE) {
		if (unlink(path) == 0)
			log_write(TERN_LOG_MAIN, m->id, "removed incomplete "
				"spool file %s", path);
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: no message %s",
			m->id);
		errno = ENOENT;
		return -1;
	}
	close(fd);
	return 1;
}

static void
compute_size(struct message *m)
{
	m->size = 0;
	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED)
			m->size += h->len;
	m->size += (uint64_t)(m->body_end - m->body_offset);
}

int
spool_read(const char *id, struct message *m, bool lock, char **err_out)
{
	const char *path;
	char first[SPOOL_FIRST_LINE_LEN], *text;
	uint64_t off;
	size_t len, used;
	int fd, saved;

	memset(m, 0, sizeof(*m));
	m->data_fd = -1;
	if (!spool_id_valid(id)) {
		*err_out = arena_printf(arena_msg, "spool: bad message id");
		errno = EINVAL;
		return -1;
	}
	memcpy(m->id, id, MESSAGE_ID_LEN + 1);
	path = spool_path(id, 'M');
	fd = open_locked(path, lock, err_out);
	if (fd == -2)
		return 1;
	if (fd < 0)
		return -1;
	if (pread(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first) ||
	    !spool_first_line_parse(first, id, &off)) {
		struct stat st;

		/* A reception that has not written its first line yet. */
		if (fstat(fd, &st) == 0 && st.st_size < SPOOL_FIRST_LINE_LEN)
			return incomplete(m, fd, lock, path, err_out);
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: %s: first line is "
			"not \"%s-M offset\"", path, id);
		errno = EINVAL;
		return -1;
	}
	if (off == 0)
		return incomplete(m, fd, lock, path, err_out);
	if (off < SPOOL_FIRST_LINE_LEN) {
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: %s: bad header "
			"offset", path);
		errno = EINVAL;
		return -1;
	}
	m->data_fd = fd;
	m->body_offset = SPOOL_FIRST_LINE_LEN;
	m->body_end = (off_t)off;
	if (read_tail(fd, m->body_end, path, &text, &len, err_out) != 0)
		goto out_close;
	if (spool_header_decode(arena_msg, path, text, len, m, &used,
	    err_out) != 0) {
		errno = EINVAL;
		goto out_close;
	}
	m->spooled_frozen = m->frozen;
	m->spooled_warnings = m->warning_count;
	for (size_t i = 0; i < m->nrcpts; i++)
		m->rcpts[i].spooled = m->rcpts[i].done;
	spool_apply_records(m, text + used, len - used);
	/*
	 * A torn last record: end it with a DEL, which no record may hold,
	 * so that it stays malformed (ignored) whatever it was cut after,
	 * and the next record stands alone.
	 */
	if (lock && len > used && text[len - 1] != '\n' &&
	    spool_write_all(fd, "\x7f\n", 2) != 0) {
		fail(err_out, "write", path);
		goto out_close;
	}
	compute_size(m);
	if (lock)
		spool_open_add(id, fd, true);
	return 0;

out_close:
	saved = errno;
	close(fd);
	m->data_fd = -1;
	errno = saved;
	return -1;
}

void
spool_close(struct message *m)
{
	if (m->data_fd >= 0) {
		spool_open_drop(m->data_fd, -1);
		close(m->data_fd);
	}
	m->data_fd = -1;
}

bool
spool_committed(const char *id)
{
	char first[SPOOL_FIRST_LINE_LEN];
	uint64_t off = 0;
	int fd;
	bool ok;

	if (!spool_id_valid(id))
		return false;
	fd = open(spool_path(id, 'M'), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return false;
	ok = pread(fd, first, sizeof(first), 0) == (ssize_t)sizeof(first) &&
		spool_first_line_parse(first, id, &off) && off != 0;
	close(fd);
	return ok;
}

int
spool_section(const struct message *m, char which, char **text_out,
	size_t *len_out, char **err_out)
{
	const char *path = spool_path(m->id, 'M');
	struct message scratch;
	char *text;
	size_t len, used;
	struct buf b;

	if (read_tail(m->data_fd, m->body_end, path, &text, &len, err_out)
	    != 0)
		return -1;
	memset(&scratch, 0, sizeof(scratch));
	memcpy(scratch.id, m->id, sizeof(scratch.id));
	if (spool_header_decode(arena_msg, path, text, len, &scratch, &used,
	    err_out) != 0)
		return -1;
	if (which == 'H') {
		/* Without its end line. */
		*text_out = text;
		*len_out = used - sizeof(SPOOL_HEADER_END);
		return 0;
	}
	buf_init(&b, arena_msg, 0);
	for (const char *p = text + used, *end = text + len, *nl;
	    (nl = memchr(p, '\n', (size_t)(end - p))) != NULL; p = nl + 1)
		if (nl - p >= 2 && p[0] == 'L' && p[1] == ' ' &&
		    !buf_add(&b, p + 2, (size_t)(nl - p - 1))) {
			*err_out = arena_printf(arena_msg, "spool: %s: message "
				"log too big", path);
			return -1;
		}
	*text_out = b.p != NULL ? b.p : arena_strdup(arena_msg, "");
	*len_out = b.len;
	return 0;
}

int
spool_remove(const char *id, char **err_out)
{
	const char *path;

	if (!spool_id_valid(id)) {
		*err_out = arena_printf(arena_msg, "spool: bad message id");
		errno = EINVAL;
		return -1;
	}
	path = spool_path(id, 'M');
	if (unlink(path) == 0)
		return 0;
	if (errno != ENOENT)
		return fail(err_out, "unlink", path);
	*err_out = arena_printf(arena_msg, "spool: no message %s", id);
	errno = ENOENT;
	return -1;
}

/*
 * Remove a leftover (see docs/spool.md) if old enough: ID-M.tmp of a
 * rewrite that crashed, or any other file named after an id that is not
 * its ID-M.
 */
static void
clean_stray(int dfd, const char *name, time_t now)
{
	struct stat st;
	char id[MESSAGE_ID_LEN + 1];

	memcpy(id, name, MESSAGE_ID_LEN);
	id[MESSAGE_ID_LEN] = '\0';
	if (!spool_id_valid(id))
		return;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    now - st.st_mtime < GARBAGE_AGE)
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
		    e->d_name[MESSAGE_ID_LEN + 1] == 'M') {
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
