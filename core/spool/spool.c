/*
 * Spool files: creation of a message (temporary names, fsync, rename),
 * rewriting -H, the -J journal.  The commit protocol and what a crash at
 * each step leaves behind are in docs/spool.md.
 */
#include "spool/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/internal.h"

#ifndef TERN_SPOOL_DEFAULT
#define TERN_SPOOL_DEFAULT "/var/spool/tern"
#endif

#define DATA_FIRST_LINE_LEN (MESSAGE_ID_LEN + 3) /* "ID-D\n" */
#define NEW_ID_TRIES        20

const char *
spool_base(void)
{
	const char *d = conf.spool_directory;

	return d != NULL && *d != '\0' ? d : TERN_SPOOL_DEFAULT;
}

const char *
spool_path(const char *id, char suffix)
{
	if (suffix == 'L')
		return arena_printf(arena_scratch, "%s/msglog/%s", spool_base(),
			id);
	return arena_printf(arena_scratch, "%s/input/%s-%c", spool_base(), id,
		suffix);
}

/* input/ID-X.tmp */
static const char *
tmp_path(const char *id, char suffix)
{
	return arena_printf(arena_scratch, "%s/input/%s-%c.tmp", spool_base(),
		id, suffix);
}

/* mkdir -p, 0750, handing new directories to tern_user when root. */
static int
make_dir(const char *path, char **err_out)
{
	char *p = arena_strdup(arena_scratch, path);

	for (char *s = p + 1;; s++) {
		bool last = *s == '\0';

		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0750) == 0) {
			if (geteuid() == 0 && rt.tern_uid != 0 &&
			    chown(p, rt.tern_uid, rt.tern_gid) != 0) {
				*err_out = arena_printf(arena_perm,
					"spool: chown %s: %m", p);
				return -1;
			}
		} else if (errno != EEXIST) {
			*err_out = arena_printf(arena_perm,
				"spool: mkdir %s: %m", p);
			return -1;
		}
		if (last)
			return 0;
		*s = '/';
	}
}

int
spool_init(char **err_out)
{
	static const char *const subdirs[] = { "input", "msglog", "log", "db" };
	const char *base = spool_base();

	if (make_dir(base, err_out) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (make_dir(arena_printf(arena_scratch, "%s/%s", base,
		    subdirs[i]), err_out) != 0)
			return -1;
	return 0;
}

int
spool_fsync_input(char **err_out)
{
	const char *dir = arena_printf(arena_scratch, "%s/input", spool_base());
	int fd, rc = 0;

	if (!conf.spool_sync)
		return 0;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		*err_out = arena_printf(arena_msg, "spool: fsync %s: %m", dir);
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* Write all of [p, p+n) to fd. */
static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* A new -H for m under the temporary name, written and fsynced. */
static int
write_header_tmp(struct message *m, const char *path, char **err_out)
{
	struct buf b;
	int fd;

	buf_init(&b, arena_scratch, 0);
	if (!spool_header_encode(&b, m)) {
		*err_out = arena_printf(arena_msg, "spool: %s: header too big",
			path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		0640);
	if (fd < 0) {
		*err_out = arena_printf(arena_msg, "spool: create %s: %m", path);
		return -1;
	}
	if (write_all(fd, b.p, b.len) != 0 ||
	    (conf.spool_sync && fsync(fd) != 0)) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m", path);
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) != 0) {
		*err_out = arena_printf(arena_msg, "spool: close %s: %m", path);
		unlink(path);
		return -1;
	}
	return 0;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 || errno != ENOENT;
}

/* Create input/ID-D.tmp exclusively; a fresh id on any collision. */
static int
create_data_tmp(struct message *m, char **err_out)
{
	for (int tries = 0; tries < NEW_ID_TRIES; tries++) {
		const char *path;
		int fd;

		if (tries > 0 || !spool_id_valid(m->id))
			spool_new_id(m->id);
		path = tmp_path(m->id, 'D');
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0) {
			*err_out = arena_printf(arena_msg,
				"spool: create %s: %m", path);
			return -1;
		}
		/* Our .tmp is exclusive; a committed message may still exist. */
		if (exists(spool_path(m->id, 'H')) ||
		    exists(spool_path(m->id, 'D'))) {
			close(fd);
			unlink(path);
			continue;
		}
		return fd;
	}
	*err_out = arena_printf(arena_msg, "spool: no free message id after "
		"%d tries in %s/input", NEW_ID_TRIES, spool_base());
	return -1;
}

int
spool_data_create(struct message *m, char **err_out)
{
	int fd = create_data_tmp(m, err_out);
	const char *line;

	if (fd < 0)
		return -1;
	line = arena_printf(arena_scratch, "%s-D\n", m->id);
	if (write_all(fd, line, DATA_FIRST_LINE_LEN) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m",
			tmp_path(m->id, 'D'));
		close(fd);
		unlink(tmp_path(m->id, 'D'));
		return -1;
	}
	m->body_offset = DATA_FIRST_LINE_LEN;
	return fd;
}

void
spool_data_abort(struct message *m, int fd)
{
	const char *path = tmp_path(m->id, 'D');

	if (fd >= 0)
		close(fd);
	if (unlink(path) != 0 && errno != ENOENT)
		log_write(TERN_LOG_MAIN, m->id, "spool: unlink %s: %m", path);
}

/* Header bytes (deleted headers excluded) plus body bytes. */
static uint64_t
message_size(const struct message *m, off_t data_size)
{
	uint64_t size = 0;

	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED)
			size += h->len;
	if (data_size > DATA_FIRST_LINE_LEN)
		size += (uint64_t)(data_size - DATA_FIRST_LINE_LEN);
	return size;
}

/* Commit steps; a failure undoes everything (-H first, then -D). */
int
spool_commit(struct message *m, int data_fd, char **err_out)
{
	const char *dtmp = tmp_path(m->id, 'D'), *htmp = tmp_path(m->id, 'H');
	const char *dpath = spool_path(m->id, 'D');
	const char *hpath = spool_path(m->id, 'H');
	struct stat st;
	int stage = 0; /* 1: -D renamed, 2: -H renamed */

	if (fstat(data_fd, &st) != 0 || (conf.spool_sync && fsync(data_fd)
	    != 0)) {
		*err_out = arena_printf(arena_msg, "spool: fsync %s: %m", dtmp);
		goto out_remove;
	}
	m->size = message_size(m, st.st_size);
	if (write_header_tmp(m, htmp, err_out) != 0)
		goto out_remove;
	if (rename(dtmp, dpath) != 0) {
		*err_out = arena_printf(arena_msg, "spool: rename %s -> %s: %m",
			dtmp, dpath);
		goto out_remove;
	}
	stage = 1;
	if (rename(htmp, hpath) != 0) {
		*err_out = arena_printf(arena_msg, "spool: rename %s -> %s: %m",
			htmp, hpath);
		goto out_remove;
	}
	stage = 2;
	if (spool_fsync_input(err_out) != 0)
		goto out_remove;
	return 0;

out_remove:
	if (stage >= 2)
		unlink(hpath);
	if (stage >= 1)
		unlink(dpath);
	unlink(htmp);
	unlink(dtmp);
	return -1;
}

int
spool_rewrite_header(struct message *m, char **err_out)
{
	const char *htmp = tmp_path(m->id, 'H');
	const char *hpath = spool_path(m->id, 'H');
	const char *jpath = spool_path(m->id, 'J');

	if (write_header_tmp(m, htmp, err_out) != 0)
		return -1;
	if (rename(htmp, hpath) != 0) {
		*err_out = arena_printf(arena_msg, "spool: rename %s -> %s: %m",
			htmp, hpath);
		unlink(htmp);
		return -1;
	}
	if (spool_fsync_input(err_out) != 0)
		return -1;
	/* -H now holds everything -J said; a crash before this is harmless. */
	if (unlink(jpath) != 0 && errno != ENOENT) {
		*err_out = arena_printf(arena_msg, "spool: unlink %s: %m",
			jpath);
		return -1;
	}
	return 0;
}

/* Mark address done in m: a recipient, or else an alias's child. */
static void
mark_delivered(struct message *m, const char *address)
{
	bool found = false;

	for (size_t i = 0; i < m->nrcpts; i++)
		if (strcmp(m->rcpts[i].address, address) == 0) {
			m->rcpts[i].done = true;
			found = true;
		}
	if (!found)
		spool_add_delivered(arena_msg, m, address);
}

int
spool_journal_add(struct message *m, const char *address, char **err_out)
{
	const char *path = spool_path(m->id, 'J');
	struct buf b;
	int fd, rc = 0;

	buf_init(&b, arena_scratch, 0);
	if (!spool_field_put(&b, address) || !buf_addc(&b, '\n')) {
		*err_out = arena_printf(arena_msg, "spool: %s: address too long",
			path);
		return -1;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		0640);
	if (fd < 0) {
		*err_out = arena_printf(arena_msg, "spool: open %s: %m", path);
		return -1;
	}
	if (write_all(fd, b.p, b.len) != 0 ||
	    (conf.spool_sync && fsync(fd) != 0)) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m", path);
		rc = -1;
	}
	if (close(fd) != 0 && rc == 0) {
		*err_out = arena_printf(arena_msg, "spool: close %s: %m", path);
		rc = -1;
	}
	if (rc == 0)
		mark_delivered(m, address);
	return rc;
}

void
spool_apply_journal(struct message *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	/* A last line without '\n' was cut by a crash: it never counted. */
	for (const char *nl; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1) {
		char *a;

		if (nl == p)
			continue;
		a = spool_field_get(arena_msg, p, (size_t)(nl - p));
		if (a != NULL)
			mark_delivered(m, a);
	}
}

bool
spool_is_delivered(const struct message *m, const char *address)
{
	for (size_t i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].done && strcmp(m->rcpts[i].address, address)
		    == 0)
			return true;
	for (size_t i = 0; i < m->ndelivered; i++)
		if (strcmp(m->delivered[i], address) == 0)
			return true;
	return false;
}
