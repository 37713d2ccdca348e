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

#include "config/config.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/io.h"
#include "log/log.h"
#include "spool/internal.h"

#define GARBAGE_AGE     3600 /* seconds before a stray file is removed */
#define INCOMPLETE_AGE  300  /* ... before an uncommitted ID-M is */
#define TAIL_MAX        (64u * 1024 * 1024) /* the header section, -Mvl */
#define FIRST_READ      (4u * 1024)  /* most header sections fit */
#define RECORD_CHUNK    (64u * 1024)
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

/*
 * Bytes of the file already read, from offset at: the header section's
 * first read usually holds the check record and the records too, and a
 * later read that they cover is not asked of the kernel again.
 */
struct pre {
	off_t       at;
	const char *p;
	size_t      len;
};

/* Up to n bytes at off from pre (may be NULL) into buf: how many it had. */
static size_t
pre_take(const struct pre *pre, char *buf, size_t n, off_t off)
{
	size_t have;

	if (pre == NULL || off < pre->at || off - pre->at >= (off_t)pre->len)
		return 0;
	have = pre->len - (size_t)(off - pre->at);
	if (n > have)
		n = have;
	memcpy(buf, pre->p + (off - pre->at), n);
	return n;
}

/* n bytes at off into buf, from pre when it has them all: as pread. */
static ssize_t
pread_pre(int fd, const struct pre *pre, char *buf, size_t n, off_t off)
{
	if (n > 0 && pre_take(pre, buf, n, off) == n)
		return (ssize_t)n;
	return io_pread_full(fd, buf, n, off);
}

/*
 * The header section at off into m: read a prefix of the tail that grows
 * (4K, then four times as much) until the section decodes, so that the
 * records after it -- the message log grows with every queue run -- are
 * never read here.  *used_out: the section's length; *size_out: the
 * file's; pre_out (if not NULL): what was read after the section.  The
 * section itself is at most TAIL_MAX.
 */
static int
read_header_section(int fd, off_t off, const char *path, struct message *m,
	char **text_out, size_t *used_out, off_t *size_out,
	struct pre *pre_out, char **err_out)
{
	struct message keep = *m;
	struct stat st;
	size_t want;

	if (fstat(fd, &st) != 0)
		return fail(err_out, "stat", path);
	if (st.st_size < off) {
		errno = EINVAL;
		return fail(err_out, "read", path);
	}
	*size_out = st.st_size;
	want = FIRST_READ;
	for (;;) {
		size_t avail = (size_t)(st.st_size - off), got;
		ssize_t n;
		char *text;

		if (want > avail)
			want = avail;
		text = arena_alloc(arena_msg, want + 1);
		if ((n = io_pread_full(fd, text, want, off)) < 0)
			return fail(err_out, "read", path);
		got = (size_t)n;
		text[got] = '\0';
		*m = keep;
		if (spool_header_decode(arena_msg, path, text, got, m, used_out,
		    err_out) == 0) {
			*text_out = text;
			if (pre_out != NULL)
				*pre_out = (struct pre){ off + (off_t)*used_out,
					text + *used_out, got - *used_out };
			return 0;
		}
		/* Cut short by our prefix, or bad?  Only a longer read tells. */
		if (got < want || want == avail || want >= TAIL_MAX) {
			errno = EINVAL;
			return -1;
		}
		want = want * 4 > TAIL_MAX ? TAIL_MAX : want * 4;
	}
}

/*
 * Each whole line of [start, end) of fd, '\n' included, to line(arg, ...),
 * reading in chunks: any number of lines.  The records end at the first
 * NUL, if any before end: a file taken from pool/ is longer than its
 * content.  A line longer than a chunk is skipped (no record is that
 * long).  line() returns false to stop (-1, with *err_out set by it).
 * *torn_out: the last line has no '\n'; *end_out: where the records end.
 * What pre (if not NULL) has at start is not read again.
 */
typedef bool (*line_fn)(void *arg, const char *p, size_t n, char **err_out);

static int
stream_lines(int fd, off_t start, off_t end, const struct pre *pre,
	const char *path, line_fn line, void *arg, bool *torn_out,
	off_t *end_out, char **err_out)
{
	char *buf = arena_alloc(arena_scratch, RECORD_CHUNK);
	size_t have = 0, step = 4096; /* most messages have few records */
	bool skipping = false;
	off_t pos = start;

	*torn_out = false;
	while (pos < end) {
		/* have < step: step grew fourfold since the last read */
		size_t want = (step < RECORD_CHUNK ? step : RECORD_CHUNK) - have;
		ssize_t n;
		char *p, *e, *nl, *nul;

		if ((off_t)want > end - pos)
			want = (size_t)(end - pos);
		n = (ssize_t)pre_take(pre, buf + have, want, pos);
		if (n == 0)
			n = pread(fd, buf + have, want, pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(err_out, "read", path);
		if (n == 0)
			break;
		if ((nul = memchr(buf + have, '\0', (size_t)n)) != NULL) {
			n = nul - (buf + have);
			end = pos + n; /* the last round */
		}
		pos += n;
		have += (size_t)n;
		if (step < RECORD_CHUNK)
			step *= 4;
		p = buf;
		e = buf + have;
		while ((nl = memchr(p, '\n', (size_t)(e - p))) != NULL) {
			if (!skipping && !line(arg, p, (size_t)(nl - p + 1),
			    err_out))
				return -1;
			skipping = false;
			p = nl + 1;
		}
		have = (size_t)(e - p);
		if (have == RECORD_CHUNK) {
			skipping = true; /* an overlong line: drop it */
			have = 0;
		} else {
			memmove(buf, p, have);
		}
	}
	*torn_out = have > 0 || skipping;
	*end_out = pos;
	return 0;
}

static bool
apply_line(void *arg, const char *p, size_t n, char **err_out)
{
	(void)err_out;
	spool_apply_records(arg, p, n);
	return true;
}

struct log_lines {
	struct buf  b;
	const char *path;
	size_t      keep;    /* 0: all (up to the buffer's maximum) */
	bool        dropped; /* older lines were left out */
};

/*
 * An L record's text (without "L "), into the buffer; with keep, only
 * about the last keep bytes of them stay.
 */
static bool
log_line(void *arg, const char *p, size_t n, char **err_out)
{
	struct log_lines *l = arg;

	if (n < 3 || p[0] != 'L' || p[1] != ' ')
		return true;
	if (l->keep > 0 && l->b.len + n > 2 * l->keep) {
		/* Drop whole lines from the front, down to keep bytes. */
		const char *cut = l->b.p + (l->b.len > l->keep ?
			l->b.len - l->keep : 0);
		const char *nl = memchr(cut, '\n',
			(size_t)(l->b.p + l->b.len - cut));
		size_t drop = nl != NULL ? (size_t)(nl + 1 - l->b.p) : l->b.len;

		memmove(l->b.p, l->b.p + drop, l->b.len - drop);
		l->b.len -= drop;
		l->dropped = true;
	}
	if (buf_add(&l->b, p + 2, n - 2))
		return true;
	*err_out = arena_printf(arena_msg, "spool: %s: message log too big",
		l->path);
	return false;
}

/*
 * Open ID-M (with lock: read-write, locked, and checked to be still the
 * file of that name).  fd, -2 when locked elsewhere, -1 error.
 */
static int
open_locked(const char *path, bool lock, char **err_out)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	for (int tries = 0; tries < OPEN_TRIES; tries++) {
		struct stat a, b;
		int fd = spool_openat(AT_FDCWD, path, (lock ? O_RDWR :
			O_RDONLY) | O_CLOEXEC | O_NOFOLLOW, 0);

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

/* Was m's file written in this boot (its -boot_id)? */
static bool
this_boot(const struct message *m)
{
	return m->boot_id != NULL && *spool_boot_id() != '\0' &&
		strcmp(m->boot_id, spool_boot_id()) == 0;
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

/* Does a check record start at off?  No other record starts with "C ". */
static bool
check_record_there(int fd, off_t off, const struct pre *pre)
{
	char rec[2];

	return pread_pre(fd, pre, rec, sizeof(rec), off) ==
		(ssize_t)sizeof(rec) && rec[0] == 'C' && rec[1] == ' ';
}

/*
 * The check record at off (just after the header section), against the
 * file's bytes when `verify`: 0, or -1 with *err_out (errno EINVAL when
 * it is missing or they differ).
 */
static int
check_record(int fd, off_t off, bool verify, const struct pre *pre,
	const char *path, char **err_out)
{
	char rec[SPOOL_CHECK_LEN], hex[SPOOL_CHECK_HEX + 1];
	ssize_t n = pread_pre(fd, pre, rec, sizeof(rec), off);

	if (n < 0)
		return fail(err_out, "read", path);
	if (n != (ssize_t)sizeof(rec) || rec[0] != 'C' || rec[1] != ' ' ||
	    rec[SPOOL_CHECK_LEN - 1] != '\n') {
		*err_out = arena_printf(arena_msg, "spool: %s: no check record "
			"after the header section", path);
		errno = EINVAL;
		return -1;
	}
	if (!verify)
		return 0;
	if (spool_check_digest(fd, off, NULL, off, hex) != 0)
		return fail(err_out, "read", path);
	if (memcmp(rec + 2, hex, SPOOL_CHECK_HEX) != 0) {
		*err_out = arena_printf(arena_msg, "spool: %s: the check record "
			"does not match the content (damaged, or left by a "
			"crash)", path);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/*
 * For an unlocked read that failed: is path no longer the file open as fd,
 * or its first line no longer `first`?  Then the message was delivered
 * and its file emptied for reuse (or taken by another message) while
 * this process read it: it is gone, not damaged.
 */
static bool
changed_under(int fd, const char *path, const char *first)
{
	char now[SPOOL_FIRST_LINE_LEN];
	struct stat a, b;

	return fstat(fd, &a) != 0 || stat(path, &b) != 0 ||
		a.st_dev != b.st_dev || a.st_ino != b.st_ino ||
		io_pread_full(fd, now, sizeof(now), 0) != (ssize_t)sizeof(now) ||
		memcmp(now, first, sizeof(now)) != 0;
}

/*
 * input/ID-M whose first line names another message, other (its header
 * offset: off): after a power cut that lost both renames of a reused
 * file (docs/spool.md), the other message's content under this name.
 * With the lock, a committed one that matches its check record is moved
 * to its own name; a committed one that does not is damaged and left to
 * the administrator, as under its own name; an uncommitted one was never
 * acknowledged, and goes as an incomplete file does (without the lock:
 * no message).  Without the lock, a committed one is reported as long as
 * the file still holds it.  -1
 * (ENOENT: this message is gone; m->other_id when the other is there)
 * or what incomplete() returns.
 */
static int
stranded(struct message *m, int fd, bool lock, const char *path,
	const char *first, const char *other, uint64_t off, char **err_out)
{
	char *err = NULL;
	int rc;

	if (off == 0) {
		/* Never acknowledged: not this message, nor a message. */
		if (lock)
			return incomplete(m, fd, lock, path, err_out);
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: no message %s",
			m->id);
		errno = ENOENT;
		return -1;
	}
	rc = lock ? spool_recover(path, fd, first, &err) : 0;
	if (rc < 0) {
		/* Kept as it is, for the next try or the administrator. */
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: %s holds another "
			"message that cannot be moved: %s", path,
			err != NULL ? err : "see the paniclog");
		errno = EIO;
		return -1;
	}
	if (rc == 0) {
		/*
		 * Moved to its own name; without the lock, only when what was
		 * read is still the file's (a put and a take can replace it).
		 */
		if (lock || !changed_under(fd, path, first)) {
			memcpy(m->other_id, other, MESSAGE_ID_LEN + 1);
			*err_out = arena_printf(arena_msg, "spool: no message "
				"%s: its file %s message %s%s", m->id, lock ?
				"held" : "holds", other, lock ? ", under its "
				"own name now" : ", which the next queue run "
				"moves to its own name");
		} else {
			*err_out = arena_printf(arena_msg, "spool: no message "
				"%s", m->id);
		}
		close(fd);
		errno = ENOENT;
		return -1;
	}
	/* Committed, but not matching its check record. */
	close(fd);
	*err_out = arena_printf(arena_msg, "spool: %s holds message %s, "
		"damaged: %s", path, other, err != NULL ? err :
		"no check record");
	errno = EINVAL;
	return -1;
}

/*
 * A file from an earlier boot, locked: a power cut can have kept a later
 * page of its records and lost an earlier one, so that NULs come before
 * records (docs/spool.md, "Records after a NUL").  New records go at the
 * first NUL, end, and must not run into what is left of the old ones: a
 * line cut at their end could read as a record.  So whatever the file
 * holds after end is zeroed, and synced, before anything is appended;
 * then end is where the file's content ends, as for a file of this boot.
 * 0, or -1 with *err_out.
 */
static int
zero_stale_records(int fd, off_t end, off_t size, const char *id,
	const char *path, char **err_out)
{
	off_t last;

	if (end >= size) /* nothing after the records: a file never reused */
		return 0;
	last = spool_content_end(fd);
	if (last < 0)
		return fail(err_out, "read", path);
	if (last <= end)
		return 0;
	if (spool_write_zeros(fd, end, last - end) != 0)
		return fail(err_out, "write", path);
	if (conf.spool_sync && fdatasync(fd) != 0)
		return fail(err_out, "fdatasync", path);
	log_write(TERN_LOG_MAIN, id, "spool: %s: %lld bytes after the records' "
		"first NUL (left by a power cut) cleared", path,
		(long long)(last - end));
	return 0;
}

static int read_file(const char *id, const char *at, struct message *m,
	bool lock, char **err_out);

/*
 * Does the file at path (relative to dfd) hold a committed message (its
 * first line with an offset, naming any message: its own, or another one
 * a crash left under this name)?  Its id into id_out; *locked_out (when
 * not NULL): a process holds its lock.  Takes no lock.
 */
static bool
committed_at(int dfd, const char *path, char id_out[MESSAGE_ID_LEN + 1],
	bool *locked_out)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char first[SPOOL_FIRST_LINE_LEN];
	uint64_t off = 0;
	int fd = spool_openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = io_pread_full(fd, first, sizeof(first), 0) == (ssize_t)sizeof(first)
		&& spool_first_line_any(first, id_out, &off) && off != 0;
	if (ok && locked_out != NULL)
		*locked_out = fcntl(fd, F_GETLK, &fl) == 0 &&
			fl.l_type != F_UNLCK;
	close(fd);
	return ok;
}

int
spool_read(const char *id, struct message *m, bool lock, char **err_out)
{
	return read_file(id, NULL, m, lock, err_out);
}

int
spool_read_wait(const char *id, struct message *m, int wait_ms,
	char **err_out)
{
	int rc = spool_read(id, m, true, err_out);

	for (int ms = 0; rc == 1 && ms < wait_ms; ms++) {
		struct timespec pause = { 0, 1000000 };

		(void)nanosleep(&pause, NULL);
		rc = spool_read(id, m, true, err_out);
	}
	return rc;
}

int
spool_read_parked(const char *slot, struct message *m, bool *locked_out,
	char **err_out)
{
	const char *path = arena_printf(arena_scratch, "%s/pool/%s",
		spool_base(), slot);
	char id[MESSAGE_ID_LEN + 1];

	memset(m, 0, sizeof(*m));
	m->data_fd = -1;
	*locked_out = false;
	if (!committed_at(AT_FDCWD, path, id, locked_out))
		return 1;
	return read_file(id, path, m, false, err_out);
}

/* at: the file to read (without the lock), instead of id's in input/. */
static int
read_file(const char *id, const char *at, struct message *m, bool lock,
	char **err_out)
{
	const char *path;
	char first[SPOOL_FIRST_LINE_LEN], *text;
	uint64_t off;
	size_t used;
	off_t size, end;
	bool torn, legacy, earlier;
	struct pre pre;
	int fd, saved;

	memset(m, 0, sizeof(*m));
	m->data_fd = -1;
	if (!spool_id_valid(id)) {
		*err_out = arena_printf(arena_msg, "spool: bad message id");
		errno = EINVAL;
		return -1;
	}
	memcpy(m->id, id, MESSAGE_ID_LEN + 1);
	/* Received by this process and kept in pool/, locked (parked). */
	if (lock && (fd = spool_parked_fd(id)) >= 0) {
		path = spool_file_path(id, fd);
	} else {
		path = at != NULL && !lock ? at : spool_path(id, 'M');
		fd = open_locked(path, lock, err_out);
	}
	if (fd == -2)
		return 1;
	if (fd < 0)
		return -1;
	memset(first, '?', sizeof(first));
	if (io_pread_full(fd, first, sizeof(first), 0) !=
	    (ssize_t)sizeof(first) || !spool_first_line_parse(first, id, &off)) {
		struct stat st;
		char other[MESSAGE_ID_LEN + 1];
		uint64_t other_off;

		/*
		 * A reception that has not written its first line yet, or a
		 * file emptied for pool/ (all NULs) on its way there.
		 */
		if (fstat(fd, &st) == 0 && st.st_size < SPOOL_FIRST_LINE_LEN)
			return incomplete(m, fd, lock, path, err_out);
		if (spool_all_nul(first, sizeof(first)))
			return incomplete(m, fd, lock, path, err_out);
		if (spool_first_line_any(first, other, &other_off))
			return stranded(m, fd, lock, path, first, other,
				other_off, err_out);
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
	if (off > (uint64_t)INT64_MAX) {
		close(fd);
		*err_out = arena_printf(arena_msg, "spool: %s: bad header "
			"offset", path);
		errno = EINVAL;
		return -1;
	}
	m->data_fd = fd;
	m->body_offset = SPOOL_FIRST_LINE_LEN;
	m->body_end = (off_t)off;
	if (read_header_section(fd, m->body_end, path, m, &text, &used, &size,
	    &pre, err_out) != 0)
		goto out_close;
	/*
	 * Only a file from an earlier boot can be a mixture that a power cut
	 * left (docs/spool.md): one written since is read as it was written.
	 * A file from before check records (no -boot_id, no C record) was
	 * never reused, and never will be (spool_open_reusable), so it
	 * cannot be a mixture either.
	 */
	legacy = m->boot_id == NULL &&
		!check_record_there(fd, m->body_end + (off_t)used, &pre);
	if (!legacy && check_record(fd, m->body_end + (off_t)used, false,
	    &pre, path, err_out) != 0)
		goto out_close;
	m->spooled_frozen = m->frozen;
	m->spooled_warnings = m->warning_count;
	for (size_t i = 0; i < m->nrcpts; i++)
		m->rcpts[i].spooled = m->rcpts[i].done;
	if (stream_lines(fd, m->body_end + (off_t)used +
	    (legacy ? 0 : SPOOL_CHECK_LEN), size, &pre, path, apply_line, m,
	    &torn, &end, err_out) != 0)
		goto out_close;
	/*
	 * A file from an earlier boot is checked against its check record
	 * once per boot: the locked read that did it said so with a V record,
	 * and what it read and wrote since is this boot's.  Until then, every
	 * read checks it (what the records said is not used if it fails).
	 */
	earlier = !legacy && !this_boot(m) && !m->checked_this_boot;
	if (earlier && check_record(fd, m->body_end + (off_t)used, true, &pre,
	    path, err_out) != 0)
		goto out_close;
	/*
	 * A torn last record: end it with a DEL, which no record may hold,
	 * so that it stays malformed (ignored) whatever it was cut after,
	 * and the next record stands alone.
	 */
	if (lock && torn) {
		if (io_pwrite_all(fd, "\x7f\n", 2, end) != 0) {
			fail(err_out, "write", path);
			goto out_close;
		}
		end += 2;
	}
	/* A file from before -boot_id has no V record: cleared every time. */
	if (lock && (earlier || legacy) &&
	    zero_stale_records(fd, end, size, id, path, err_out) != 0)
		goto out_close;
	compute_size(m);
	if (lock) {
		spool_open_add(id, fd, true, end);
		if (legacy)
			spool_open_legacy(fd);
		/* Not synced: lost with a power cut, as the boot it names. */
		if (earlier && *spool_boot_id() != '\0' && spool_append(fd,
		    arena_printf(arena_scratch, "V %s\n", spool_boot_id()),
		    2 + strlen(spool_boot_id()) + 1) == 0)
			m->checked_this_boot = true;
	}
	return 0;

out_close:
	saved = errno;
	if (!lock && changed_under(fd, path, first)) {
		*err_out = arena_printf(arena_msg, "spool: no message %s", id);
		saved = ENOENT;
	}
	if (lock && spool_open_slot(fd) != NULL) {
		/* Parked: where a queue run finds it, before the lock goes. */
		(void)spool_reuse_name(fd);
		spool_open_drop(fd, -1, 0);
	}
	close(fd);
	m->data_fd = -1;
	errno = saved;
	return -1;
}

bool
spool_still(const struct message *m)
{
	char first[SPOOL_FIRST_LINE_LEN + 1];

	if (m->data_fd < 0)
		return false;
	spool_first_line(first, m->id, (uint64_t)m->body_end);
	return !changed_under(m->data_fd, spool_path(m->id, 'M'), first);
}

void
spool_close(struct message *m)
{
	if (m->data_fd >= 0) {
		/* Still in pool/: to input/ID-M before the lock goes. */
		if (spool_open_slot(m->data_fd) != NULL)
			(void)spool_reuse_name(m->data_fd);
		spool_open_drop(m->data_fd, -1, 0);
		close(m->data_fd);
	}
	m->data_fd = -1;
}

bool
spool_committed(const char *id)
{
	char named[MESSAGE_ID_LEN + 1];

	/* Another message under this name (spool_read) is counted too. */
	return spool_id_valid(id) && committed_at(AT_FDCWD, spool_path(id, 'M'),
		named, NULL);
}

/* The section of m, or the last `keep` bytes of its message log. */
static int
section(const struct message *m, char which, size_t keep, char **text_out,
	size_t *len_out, bool *dropped_out, char **err_out)
{
	const char *path = spool_path(m->id, 'M');
	struct message scratch;
	struct log_lines l;
	char *text;
	size_t used;
	struct pre pre;
	off_t size, end;
	bool torn;

	memset(&scratch, 0, sizeof(scratch));
	memcpy(scratch.id, m->id, sizeof(scratch.id));
	scratch.data_fd = m->data_fd;
	if (read_header_section(m->data_fd, m->body_end, path, &scratch, &text,
	    &used, &size, &pre, err_out) != 0)
		return -1;
	if (which == 'H') {
		/* Without its end line. */
		*text_out = text;
		*len_out = used - sizeof(SPOOL_HEADER_END);
		return 0;
	}
	buf_init(&l.b, arena_msg, TAIL_MAX);
	l.path = path;
	l.keep = keep;
	l.dropped = false;
	if (stream_lines(m->data_fd, m->body_end + (off_t)used, size, &pre,
	    path, log_line, &l, &torn, &end, err_out) != 0)
		return -1;
	*text_out = l.b.p != NULL ? l.b.p : arena_strdup(arena_msg, "");
	*len_out = l.b.len;
	if (dropped_out != NULL)
		*dropped_out = l.dropped;
	return 0;
}

int
spool_section(const struct message *m, char which, char **text_out,
	size_t *len_out, char **err_out)
{
	return section(m, which, 0, text_out, len_out, NULL, err_out);
}

int
spool_log_tail(const struct message *m, size_t keep, char **text_out,
	size_t *len_out, bool *dropped_out, char **err_out)
{
	return section(m, 'L', keep, text_out, len_out, dropped_out, err_out);
}

int
spool_recover(const char *path, int fd, const char *first, char **err_out)
{
	char id[MESSAGE_ID_LEN + 1];
	uint64_t off;
	int rc;

	if (!spool_first_line_any(first, id, &off))
		return 1;
	rc = spool_check_file(fd, id, path, err_out);
	/* Not committed, or damaged (EINVAL): certainly not a message. */
	if (rc == 1 || (rc < 0 && errno == EINVAL))
		return 1;
	if (rc < 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "%s", *err_out);
		return -1;
	}
	if (renameat2(AT_FDCWD, path, AT_FDCWD, spool_path(id, 'M'),
	    RENAME_NOREPLACE) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "spool: rename "
			"%s -> %s: %m", path, spool_path(id, 'M'));
		return -1;
	}
	log_write(TERN_LOG_MAIN, id, "spool: recovered from %s", path);
	return 0;
}

int
spool_check_file(int fd, const char *id, const char *path, char **err_out)
{
	char first[SPOOL_FIRST_LINE_LEN], *text;
	struct message m;
	uint64_t off;
	size_t used;
	struct pre pre;
	off_t size;

	memset(&m, 0, sizeof(m));
	memcpy(m.id, id, MESSAGE_ID_LEN + 1);
	m.data_fd = fd;
	if (io_pread_full(fd, first, sizeof(first), 0) != (ssize_t)sizeof(first)
	    || !spool_first_line_parse(first, id, &off) || off == 0)
		return 1;
	if (off < SPOOL_FIRST_LINE_LEN || off > (uint64_t)INT64_MAX) {
		*err_out = arena_printf(arena_msg, "spool: %s: bad header "
			"offset", path);
		errno = EINVAL;
		return -1;
	}
	if (read_header_section(fd, (off_t)off, path, &m, &text, &used, &size,
	    &pre, err_out) != 0) {
		if (*err_out == NULL)
			fail(err_out, "read", path);
		return -1;
	}
	return check_record(fd, (off_t)off + (off_t)used, true, &pre, path,
		err_out);
}

int
spool_remove(struct message *m, char **err_out)
{
	const char *path, *id = m->id;

	/* Emptied and kept in pool/ for the next reception, when it can be. */
	if (spool_reuse_put(m) == 0)
		return 0;
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
spool_list_parked(char ***slots_out, size_t *n_out)
{
	const char *dir = arena_printf(arena_scratch, "%s/pool", spool_base());
	DIR *d = opendir(dir);
	char **slots = NULL;
	size_t n = 0, cap = 0;
	struct dirent *e;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			char id[MESSAGE_ID_LEN + 1];

			if (e->d_name[0] >= '0' && e->d_name[0] <= '9' &&
			    strlen(e->d_name) <= 9 &&
			    committed_at(dirfd(d), e->d_name, id, NULL))
				list_add(&slots, &n, &cap, e->d_name);
		}
		closedir(d);
	}
	if (slots == NULL)
		slots = arena_zalloc(arena_scratch, sizeof(*slots));
	*slots_out = slots;
	*n_out = n;
	return 0;
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
