/*
 * maildrop/: submissions from users who cannot write the spool, and the
 * pickup that takes them in.  See maildrop.h; the format and what a
 * crash leaves: docs/spool.md, "maildrop/".
 */
#include "receive/maildrop.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config/config.h"
#include "daemon/load.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/io.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "receive/local.h"
#include "receive/rcv_int.h"
#include "spool/spool.h"

/*
 * The first line, "tern-maildrop 1 LLLLLLLLLLLLLLLL DDDD...\n": L the
 * length of the rest of the file in hex, D the SHA-256 of the rest; NULs
 * until the file is finished.  Then the records, each a NUL-terminated
 * string, an empty one last: "f<sender>" (-f), "F<full name>" (-F), "t"
 * (-t), "i" (-i), "q" (-odq), "r<recipient argument>"; then the message
 * as sendmail read it.
 */
#define MAGIC       "tern-maildrop 1 "
#define MAGIC_LEN   (sizeof(MAGIC) - 1)
#define DIGEST_HEX  64
#define HEAD_LEN    (MAGIC_LEN + 16 + 1 + DIGEST_HEX + 1)
#define RECORDS_MAX ((size_t)1 << 20)

bool
maildrop_wanted(void)
{
	struct stat st;

	return !rt.started_as_root && stat(spool_base(), &st) == 0 &&
		st.st_uid != geteuid();
}

/* SHA-256 in hex of len bytes of fd from off.  0, or -1 (errno). */
static int
file_digest(int fd, off_t off, uint64_t len, char hex[DIGEST_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE], chunk[65536];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto out;
	while (len > 0) {
		size_t want = len < sizeof(chunk) ? (size_t)len : sizeof(chunk);
		ssize_t n = io_pread_full(fd, chunk, want, off);

		if (n != (ssize_t)want) {
			if (n >= 0)
				errno = EIO;
			goto out;
		}
		if (EVP_DigestUpdate(ctx, chunk, want) != 1)
			goto out;
		off += (off_t)want;
		len -= want;
	}
	if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen * 2 != DIGEST_HEX)
		goto out;
	for (unsigned i = 0; i < mdlen; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[DIGEST_HEX] = '\0';
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

/*
 * sendmail's input, copied to the file as it is read; the decoder reads
 * through it to find where the message ends (and its size), and what it
 * read beyond that end is cut off again.
 */
struct tee {
	int      in, out;
	int      werr;  /* errno of a failed write to out, or 0 */
	uint64_t total; /* bytes read from in */
};

static ssize_t
tee_read(void *arg, char *buf, size_t n, int timeout)
{
	struct tee *t = arg;
	ssize_t r;

	(void)timeout;
	do
		r = read(t->in, buf, n);
	while (r < 0 && errno == EINTR);
	if (r > 0) {
		if (t->werr == 0 && io_write_all(t->out, buf, (size_t)r) != 0)
			t->werr = errno;
		t->total += (uint64_t)r;
	}
	return r;
}

/* The records and a placeholder first line; NULL if they are too long. */
static struct buf *
records(const struct maildrop_args *a)
{
	struct buf *b = arena_zalloc(arena_msg, sizeof(*b));
	bool ok = true;

	buf_init(b, arena_msg, HEAD_LEN + RECORDS_MAX);
	for (size_t i = 0; ok && i < HEAD_LEN; i++)
		ok = buf_addc(b, '\0');
	if (ok && a->sender != NULL)
		ok = buf_printf(b, "f%s", a->sender) && buf_addc(b, '\0');
	if (ok && a->full_name != NULL)
		ok = buf_printf(b, "F%s", a->full_name) && buf_addc(b, '\0');
	if (ok && a->extract)
		ok = buf_add(b, "t", 2);
	if (ok && !a->dot_ends)
		ok = buf_add(b, "i", 2);
	if (ok && a->queue)
		ok = buf_add(b, "q", 2);
	for (int i = 0; ok && i < a->nrcpts; i++)
		ok = buf_printf(b, "r%s", a->rcpts[i]) && buf_addc(b, '\0');
	return ok && buf_addc(b, '\0') ? b : NULL;
}

/*
 * A new file in maildrop/ without a name (O_TMPFILE): the pickup sees it
 * only once it is whole and linked in (link_file).  Its fd, or -1.
 */
static int
create_file(char **err_out)
{
	const char *dir = spool_maildrop_dir();
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		*err_out = arena_printf(arena_msg, "cannot create a file in "
			"%s: %m", dir);
		return -1;
	}
	/* Readable by tern's group, which the directory gives it. */
	if (fchmod(fd, 0640) != 0) {
		*err_out = arena_printf(arena_msg, "fchmod in %s: %m", dir);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Give the finished file a random name in maildrop/ (*path_out).  0, or
 * -1 (errno).
 */
static int
link_file(int fd, const char **path_out)
{
	const char *dir = spool_maildrop_dir();
	const char *proc = arena_printf(arena_msg, "/proc/self/fd/%d", fd);

	for (int tries = 0; tries < 8; tries++) {
		uint64_t r;
		const char *path;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			r = ((uint64_t)getpid() << 32) ^
				(uint64_t)time(NULL) ^ (uint64_t)tries;
		path = arena_printf(arena_msg, "%s/%016llx", dir,
			(unsigned long long)r);
		/* AT_EMPTY_PATH needs a capability; /proc does not. */
		if (linkat(AT_FDCWD, proc, AT_FDCWD, path,
		    AT_SYMLINK_FOLLOW) == 0) {
			*path_out = path;
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	return -1;
}

/*
 * The message from in_fd after the records, cut where the decoder found
 * its end, and checked as the pickup will (check: the recipient
 * arguments; -t adds those of the header).  The file's length, or -1
 * with the reason in *r.
 */
static off_t
copy_message(const struct maildrop_args *a, int in_fd, int fd, off_t at,
	struct message *check, enum rcv_result *r, char **err_out)
{
	struct tee t = { .in = in_fd, .out = fd };
	const struct rcv_io io = { .read = tee_read, .arg = &t };
	struct rcv_source src;
	off_t end;

	rcv_source_init(&src, in_fd, 0);
	src.io = &io;
	*r = receive_check(check, &src, a->dot_ends ? RCV_LOCAL :
		RCV_LOCAL_DOT_I, a->extract, err_out);
	if (*r != RCV_OK)
		return -1;
	*r = RCV_TEMP;
	if (t.werr != 0) {
		errno = t.werr;
		*err_out = arena_printf(arena_msg, "writing to %s: %m",
			spool_maildrop_dir());
		return -1;
	}
	end = at + (off_t)(t.total - (src.end - src.start));
	if (ftruncate(fd, end) != 0) {
		*err_out = arena_printf(arena_msg, "truncating in %s: %m",
			spool_maildrop_dir());
		return -1;
	}
	*r = RCV_OK;
	return end;
}

/*
 * The first line, the data synced, the name, then the sync after which
 * the message may be acknowledged.  The pickup may take the file as soon
 * as it has its name: syncing the data first means that a sync that
 * fails cannot come after the message was already taken in.
 */
static int
finish_file(int fd, off_t end, char **err_out)
{
	char hex[DIGEST_HEX + 1], head[HEAD_LEN + 1];
	const char *path = NULL;

	if (file_digest(fd, HEAD_LEN, (uint64_t)(end - (off_t)HEAD_LEN),
	    hex) != 0) {
		*err_out = arena_printf(arena_msg, "reading back the file in "
			"%s: %m", spool_maildrop_dir());
		return -1;
	}
	snprintf(head, sizeof(head), MAGIC "%016llx %s\n",
		(unsigned long long)(end - (off_t)HEAD_LEN), hex);
	if (io_pwrite_all(fd, head, HEAD_LEN, 0) != 0 ||
	    (conf.spool_sync && fdatasync(fd) != 0) ||
	    link_file(fd, &path) != 0 || (conf.spool_sync && fsync(fd) != 0)) {
		*err_out = arena_printf(arena_msg, "writing to %s: %m",
			spool_maildrop_dir());
		/* Not acknowledged: not to be delivered either, if we can. */
		if (path != NULL)
			(void)unlink(path);
		return -1;
	}
	/* Where the file's own fsync does not commit its name, and we may
	 * open the directory; a user may not (mode 3733): best effort. */
	if (spool_fsync_entry(fd, "maildrop", err_out) != 0)
		*err_out = NULL;
	return 0;
}

enum rcv_result
maildrop_submit(const struct maildrop_args *a, int in_fd, char **err_out)
{
	struct message check;
	struct buf *recs;
	enum rcv_result r;
	size_t cap = 0;
	off_t end;
	int fd;

	*err_out = NULL;
	memset(&check, 0, sizeof(check));
	for (int i = 0; i < a->nrcpts; i++)
		if (local_add_recipients(&check, a->rcpts[i], &cap, err_out)
		    != 0) {
			*err_out = arena_printf(arena_msg, "bad recipient "
				"\"%s\": %s", a->rcpts[i], *err_out);
			return RCV_BAD;
		}
	if ((recs = records(a)) == NULL) {
		*err_out = "too many recipients";
		return RCV_BAD;
	}
	if ((fd = create_file(err_out)) < 0)
		return RCV_TEMP;
	check.local = true;
	if (io_write_all(fd, recs->p, recs->len) != 0) {
		*err_out = arena_printf(arena_msg, "writing to %s: %m",
			spool_maildrop_dir());
		r = RCV_TEMP;
	} else if ((end = copy_message(a, in_fd, fd, (off_t)recs->len,
	    &check, &r, err_out)) >= 0 && finish_file(fd, end, err_out) != 0) {
		r = RCV_TEMP;
	}
	close(fd); /* with no name unless it was finished */
	return r;
}

/* ---- the pickup */

/* A file that is not a submission (or not whole): logged and removed. */
static void
drop(int dfd, const char *name, const char *who, const char *why)
{
	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
		"maildrop: %s from %s removed: %s",
		str_printable(arena_msg, name, strlen(name)), who, why);
	if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"maildrop: unlink %s/%s: %m", spool_maildrop_dir(),
			str_printable(arena_msg, name, strlen(name)));
}

/* The options in the records; false if they are not well formed. */
struct picked {
	const char  *sender, *full_name;
	bool         extract, dot_ends, queue;
	const char **rcpts;
	int          nrcpts;
	off_t        message_at;
};

static bool
parse_records(int fd, off_t len, struct picked *p)
{
	size_t n = (size_t)len < RECORDS_MAX ? (size_t)len : RECORDS_MAX;
	char *r = arena_alloc(arena_msg, n + 1);
	size_t at = 0, cap = 0;

	if (io_pread_full(fd, r, n, HEAD_LEN) != (ssize_t)n)
		return false;
	r[n] = '\0';
	p->dot_ends = true;
	for (;;) {
		char *s = r + at;
		size_t l = strnlen(s, n - at);

		if (at >= n || l == n - at)
			return false; /* no terminating empty record */
		at += l + 1;
		if (l == 0)
			break;
		if (*s == 'f' && p->sender == NULL) {
			p->sender = s + 1;
		} else if (*s == 'F' && p->full_name == NULL) {
			p->full_name = s + 1;
		} else if (*s == 'r') {
			if (p->nrcpts == (int)cap) {
				const char **g;

				cap = cap ? cap * 2 : 8;
				g = arena_alloc(arena_msg, cap * sizeof(*g));
				if (p->nrcpts > 0)
					memcpy(g, p->rcpts,
						(size_t)p->nrcpts * sizeof(*g));
				p->rcpts = g;
			}
			p->rcpts[p->nrcpts++] = s + 1;
		} else if (l == 1 && (*s == 't' || *s == 'i' || *s == 'q')) {
			p->extract |= *s == 't';
			p->dot_ends &= *s != 'i';
			p->queue |= *s == 'q';
		} else {
			return false;
		}
	}
	p->message_at = HEAD_LEN + (off_t)at;
	return true;
}

/*
 * The largest file sendmail can have written under message_size_limit:
 * the input may be up to twice the message (CRLF line ends), plus the
 * records.  Checked before the file is read at all, so that a large
 * (or sparse) file cannot hold the pickup and the queue runs.
 */
static bool
too_large(const struct stat *st)
{
	uint64_t lim = conf.message_size_limit;

	return lim > 0 && (uint64_t)st->st_size > HEAD_LEN + RECORDS_MAX +
		2 * lim + 2;
}

/*
 * Is the file whole?  NULL if so, else why not.  It got its name only
 * once written, so a file that is not was cut by a crash before its
 * sendmail's fsync returned: never acknowledged.
 */
static const char *
check_file(int fd, const struct stat *st)
{
	char head[HEAD_LEN + 1], hex[DIGEST_HEX + 1];
	unsigned long long len = 0;
	ssize_t n = io_pread_full(fd, head, HEAD_LEN, 0);

	if (n < 0)
		return arena_printf(arena_msg, "read: %m");
	if (n < (ssize_t)HEAD_LEN)
		return "shorter than its first line";
	head[HEAD_LEN] = '\0';
	if (memcmp(head, MAGIC, MAGIC_LEN) != 0 || head[HEAD_LEN - 1] != '\n'
	    || head[MAGIC_LEN + 16] != ' ')
		return "not a maildrop file";
	for (size_t i = MAGIC_LEN; i < MAGIC_LEN + 16; i++) {
		const char *d = strchr("0123456789abcdef", head[i]);

		if (d == NULL || head[i] == '\0')
			return "not a maildrop file";
		len = len << 4 | (unsigned long long)(d - "0123456789abcdef");
	}
	if ((off_t)len != st->st_size - (off_t)HEAD_LEN)
		return "its length is not the one recorded";
	if (file_digest(fd, HEAD_LEN, len, hex) != 0)
		return arena_printf(arena_msg, "read: %m");
	if (memcmp(hex, head + MAGIC_LEN + 17, DIGEST_HEX) != 0)
		return "damaged (its digest does not match)";
	return NULL;
}

/*
 * The message is read only up to the length that was checked: its owner
 * can still write to the file, but not make the pickup read more.
 */
struct capped {
	int      fd;
	uint64_t left;
};

static ssize_t
capped_read(void *arg, char *buf, size_t n, int timeout)
{
	struct capped *c = arg;
	ssize_t r;

	(void)timeout;
	if (n > c->left)
		n = (size_t)c->left;
	if (n == 0)
		return 0;
	do
		r = read(c->fd, buf, n);
	while (r < 0 && errno == EINTR);
	if (r > 0)
		c->left -= (uint64_t)r;
	return r;
}

/*
 * The owner's login, name, group and trust, from passwd and group; -1
 * when the passwd lookup failed (not "no such user": an NSS source that
 * is down), so that the message does not go out under "uidN".
 */
static int
owner(uid_t uid, struct message *m, bool *trusted)
{
	struct passwd *pw;
	gid_t one, *groups = &one;
	int n = 1;

	errno = 0;
	pw = getpwuid(uid);
	m->uid = uid;
	if (pw == NULL) {
		if (errno != 0 && errno != ENOENT && errno != ESRCH &&
		    errno != EBADF && errno != EPERM)
			return -1;
		m->ident = arena_printf(arena_msg, "uid%ld", (long)uid);
		m->gid = (gid_t)-1;
		*trusted = local_trusted(uid, m->ident, NULL, 0);
		return 0;
	}
	m->ident = arena_strdup(arena_msg, pw->pw_name);
	m->full_name = local_gecos_name(pw);
	m->gid = pw->pw_gid;
	/* -1 says how many there are: ask again with room for them. */
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
		groups = arena_alloc(arena_msg, (size_t)n * sizeof(*groups));
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
			n = 1, groups[0] = pw->pw_gid;
	}
	*trusted = local_trusted(uid, m->ident, groups, n);
	return 0;
}

/* Who owns the entry name (for a log line), or "?". */
static const char *
owner_name(int dfd, const char *name)
{
	struct passwd *pw;
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return "?";
	pw = getpwuid(st.st_uid);
	return pw != NULL ? arena_strdup(arena_msg, pw->pw_name) :
		arena_printf(arena_msg, "uid%ld", (long)st.st_uid);
}

/* After the message is in the spool: its delivery, or the queue run's. */
static void
start(const char *id, bool deliver, bool queue)
{
	double load;

	if (!deliver)
		return;
	if (conf.queue_only || queue) {
		spool_unpark(id);
		return;
	}
	if (load_exceeds(conf.queue_only_load, &load)) {
		if (LOG_SEL(delay_delivery))
			log_write(TERN_LOG_MAIN, id, "no immediate delivery: "
				"load average above queue_only_load");
		return;
	}
	deliver_start(id);
}

/*
 * A submission that sendmail accepted but the pickup must refuse (the
 * configuration changed in between: a lower limit, say): its owner is
 * told, from the null sender, with what it sent (up to 64 KiB, or none
 * when that makes the notice too big).  0 sent; -1 the spool failed, 1
 * the notice cannot be made (both logged: the file stays).
 */
#define NOTICE_COPY (64 * 1024)

static int
notice(int fd, const struct picked *p, const char *to, const char *why,
	uint64_t copy, bool deliver)
{
	struct message n;
	struct rcv_source src;
	struct capped c = { .fd = fd, .left = copy };
	const struct rcv_io io = { .read = capped_read, .arg = &c };
	struct passwd *pw = getpwuid(geteuid());
	char *err = NULL;
	enum rcv_result r;
	int len;

	if (lseek(fd, p->message_at, SEEK_SET) != p->message_at)
		return -1;
	/* The notice's text first, then the submission's first bytes. */
	rcv_source_init(&src, fd, 0);
	src.io = &io;
	len = snprintf(src.buf, src.size, "From: Mail Delivery System "
		"<Mailer-Daemon@%s>\nTo: %s\nSubject: Mail submission failed\n"
		"Auto-Submitted: auto-replied\n\nThe message you submitted "
		"with sendmail could not be accepted:\n\n  %.1000s\n\n%s",
		conf.qualify_domain, to, why, copy > 0 ? "------ This is what "
		"you submitted (at most 64 KiB) ------\n\n" : "");
	src.end = len > 0 && (size_t)len < src.size ? (size_t)len : 0;
	memset(&n, 0, sizeof(n));
	n.data_fd = -1;
	n.sender = "";
	n.uid = geteuid();
	n.gid = getegid();
	n.ident = pw != NULL ? arena_strdup(arena_msg, pw->pw_name) : "tern";
	n.local = true;
	n.received_protocol = "local";
	n.rcpts = arena_zalloc(arena_msg, sizeof(*n.rcpts));
	n.rcpts[0].address = to;
	n.nrcpts = 1;
	r = receive_message(&n, &src, RCV_LOCAL_DOT_I, false, &err);
	if (r == RCV_OK) {
		start(n.id, deliver, false);
		return 0;
	}
	if (r == RCV_TOO_BIG && copy > 0)
		return notice(fd, p, to, why, 0, deliver);
	log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "maildrop: notice to "
		"%s not spooled: %s", to, r == RCV_TOO_BIG ? "larger than "
		"message_size_limit" : err != NULL ? err : "spool failure");
	return r == RCV_TEMP || r == RCV_EOF ? -1 : 1;
}

static int
refuse(int fd, const char *name, const struct message *m,
	const struct picked *p, const char *why, uint64_t copy, bool deliver)
{
	const char *to = arena_printf(arena_msg, "%s@%s", m->ident,
		conf.qualify_recipient);
	int rc;

	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL, "maildrop: %s from "
		"%s refused: %s", name, m->ident, why);
	rc = notice(fd, p, to, why, copy, deliver);
	if (rc != 0)
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "maildrop: %s "
			"stays in %s until its owner can be told", name,
			spool_maildrop_dir());
	return rc;
}

/*
 * One file: 1 taken in, 0 not (removed, or not ours to take now), -1
 * the spool failed (the file stays for the next pickup).  dir: the
 * maildrop directory's own status: a file sendmail made has its group
 * (set-group-id), mode 0640 and one link; a file renamed into it from
 * elsewhere keeps its own group, and is refused, so that a file of
 * root's left in a user's directory cannot speak for root.
 */
static int
pick_one(int dfd, const struct stat *dir, const char *name, bool deliver)
{
	struct picked p = { 0 };
	struct message m;
	struct rcv_source src;
	struct capped c = { 0 };
	const struct rcv_io io = { .read = capped_read, .arg = &c };
	struct stat st;
	const char *why;
	char *err = NULL;
	size_t cap = 0;
	bool trusted, unread = false;
	enum rcv_result r;
	int fd, rc;

	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		/* A symbolic link, a socket, a file its owner closed to us. */
		if (errno == ELOOP || errno == ENXIO || errno == EACCES ||
		    errno == EPERM) {
			const char *e = arena_printf(arena_msg,
				"cannot be opened: %m");

			drop(dfd, name, owner_name(dfd, name), e);
		} else if (errno != ENOENT && errno != EWOULDBLOCK) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"maildrop: open %s/%s: %m",
				spool_maildrop_dir(),
				str_printable(arena_msg, name, strlen(name)));
		}
		return 0; /* EWOULDBLOCK: its owner holds a lease */
	}
	/* Another pickup's. */
	if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 ||
	    st.st_nlink == 0) {
		close(fd);
		return 0;
	}
	memset(&m, 0, sizeof(m));
	m.data_fd = -1;
	if (owner(st.st_uid, &m, &trusted) != 0) {
		const char *shown = str_printable(arena_msg, name, strlen(name));

		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "maildrop: "
			"passwd lookup of uid %ld for %s: %s (it waits)",
			(long)st.st_uid, shown, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_gid != dir->st_gid || (st.st_mode & 07777) != 0640 ||
	    st.st_uid == 0 || st.st_uid == rt.tern_uid)
		why = "not a file sendmail made (type, links, owner, group or "
			"mode)";
	else if (too_large(&st)) {
		/*
		 * Maybe a submission sendmail accepted under a higher limit:
		 * its owner is told, without a copy (the file is not read,
		 * so that a huge or sparse one cannot hold the pickup).
		 */
		why = arena_printf(arena_msg, "larger than any message under "
			"message_size_limit (%llu bytes)",
			(unsigned long long)conf.message_size_limit);
		unread = true;
	} else if ((why = check_file(fd, &st)) == NULL &&
	    !parse_records(fd, st.st_size - (off_t)HEAD_LEN, &p))
		why = "its options are not well formed";
	if (why != NULL && !unread) {
		drop(dfd, name, m.ident, why);
		close(fd);
		return 0;
	}
	/* A submission: from here on, its owner hears of a refusal. */
	for (int i = 0; why == NULL && i < p.nrcpts; i++)
		if (local_add_recipients(&m, p.rcpts[i], &cap, &err) != 0)
			why = arena_printf(arena_msg, "bad recipient \"%s\": %s",
				str_printable(arena_msg, p.rcpts[i],
				strlen(p.rcpts[i])), err);
	if (why == NULL && m.nrcpts == 0 && !p.extract)
		why = "no recipients";
	if (why == NULL && lseek(fd, p.message_at, SEEK_SET) < 0)
		why = arena_printf(arena_msg, "lseek: %m");
	if (why == NULL) {
		m.sender = local_sender(m.ident, trusted, p.sender);
		if (p.full_name != NULL)
			m.full_name = p.full_name;
		m.local = true;
		m.received_protocol = "local";
		c = (struct capped){ .fd = fd,
			.left = (uint64_t)(st.st_size - p.message_at) };
		rcv_source_init(&src, fd, 0);
		src.io = &io;
		r = receive_message(&m, &src, p.dot_ends ? RCV_LOCAL :
			RCV_LOCAL_DOT_I, p.extract, &err);
		if (r == RCV_OK) {
			/* In the spool: a crash before this unlink delivers
			 * it twice, never not at all. */
			if (unlinkat(dfd, name, 0) != 0)
				log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, m.id,
					"maildrop: unlink %s/%s: %m (it may be "
					"delivered twice)", spool_maildrop_dir(),
					name);
			close(fd);
			start(m.id, deliver, p.queue);
			return 1;
		}
		if (r == RCV_TEMP || r == RCV_EOF) {
			close(fd);
			return -1; /* logged by receive_message */
		}
		why = r == RCV_NO_RECIPIENTS ?
			"no recipients in its header (-t)" :
			r == RCV_TOO_BIG ? arena_printf(arena_msg, "larger "
			"than message_size_limit (%llu bytes)",
			(unsigned long long)conf.message_size_limit) :
			err != NULL ? err : "its message could not be read";
	}
	if ((rc = refuse(fd, name, &m, &p, why, unread ? 0 : NOTICE_COPY,
	    deliver)) != 0) {
		close(fd);
		return rc < 0 ? -1 : 0;
	}
	if (unlinkat(dfd, name, 0) != 0 && errno != ENOENT)
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"maildrop: unlink %s/%s: %m", spool_maildrop_dir(), name);
	close(fd);
	return 0;
}

/* A directory entry the pickup looks at: not a dot file or a directory. */
static bool
candidate(int dfd, const struct dirent *e)
{
	struct stat st;

	if (e->d_name[0] == '.')
		return false;
	if (e->d_type != DT_UNKNOWN)
		return e->d_type != DT_DIR;
	return fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		!S_ISDIR(st.st_mode);
}

bool
maildrop_waiting(void)
{
	DIR *d = opendir(spool_maildrop_dir());
	struct dirent *e;
	bool any = false;

	if (d == NULL)
		return false;
	while (!any && (e = readdir(d)) != NULL)
		any = candidate(dirfd(d), e);
	closedir(d);
	return any;
}

int
maildrop_pickup(bool deliver)
{
	DIR *d = opendir(spool_maildrop_dir());
	struct dirent *e;
	struct stat dir;
	int n = 0, rc;

	if (d == NULL || fstat(dirfd(d), &dir) != 0) {
		if (errno != ENOENT)
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"maildrop: opendir %s: %m",
				spool_maildrop_dir());
		if (d != NULL)
			closedir(d);
		return 0;
	}
	proctitle_set("tern: taking in maildrop/");
	while ((e = readdir(d)) != NULL) {
		if (!candidate(dirfd(d), e))
			continue; /* a user's directory is left alone */
		arena_reset(arena_msg);
		arena_reset(arena_conn);
		if ((rc = pick_one(dirfd(d), &dir, e->d_name, deliver)) < 0) {
			n = -1;
			break;
		}
		n += rc;
	}
	closedir(d);
	return n;
}
