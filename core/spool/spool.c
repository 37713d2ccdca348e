/*
 * Spool files: creating a message (ID-M under its final name, or an
 * emptied file taken from pool/; the body, the header section and its
 * check record, one fdatasync), rewriting it, appending D and L records,
 * and the table of the files this process has open.  The format,
 * the commit protocol and what a crash at each step leaves behind are in
 * docs/spool.md.
 */
#include "spool/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

/*
 * SHA-256 through OpenSSL's low-level interface, deprecated in favour of
 * EVP: EVP fetches the algorithm from a provider, and that first fetch
 * sets up OpenSSL's library context; done in the daemon before it forks,
 * every reception and delivery process then writes to that shared state
 * (locks, reference counts) and copies its pages: 20 kB more private
 * memory per process and about 5% more CPU at 50 clients (bench/RESULTS.md).
 * The low-level functions touch nothing but their own context.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/internal.h"

#ifndef TERN_SPOOL_DEFAULT
#define TERN_SPOOL_DEFAULT "/var/spool/tern"
#endif

#define OPEN_MAX     4     /* ID-M files one process has open at once */
#define PENDING_MAX  4096  /* L records buffered during a reception */

int
spool_openat(int dfd, const char *path, int flags, mode_t mode)
{
	static bool noatime_refused;
	int fd;

	if (!noatime_refused) {
		fd = openat(dfd, path, flags | O_NOATIME, mode);
		if (fd >= 0 || errno != EPERM)
			return fd;
		noatime_refused = true;
	}
	return openat(dfd, path, flags, mode);
}

const char *
spool_base(void)
{
	const char *d = conf.spool_directory;

	return d != NULL && *d != '\0' ? d : TERN_SPOOL_DEFAULT;
}

const char *
spool_path(const char *id, char suffix)
{
	return arena_printf(arena_scratch, "%s/input/%s-%c", spool_base(), id,
		suffix);
}

/* input/ID-M.tmp: a rewrite in progress */
static const char *
tmp_path(const char *id)
{
	return arena_printf(arena_scratch, "%s/input/%s-M.tmp", spool_base(),
		id);
}

/*
 * Root hands a directory it just made to tern_user through a descriptor
 * opened without following a symbolic link: tern_user owns the parent
 * and could put a link in its place between the mkdir and the chown.
 */
static int
chown_new_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	rc = fchown(fd, rt.tern_uid, rt.tern_gid);
	close(fd);
	return rc;
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
			    chown_new_dir(p) != 0) {
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

static bool fsync_covers_dir(int fd);

const char *
spool_maildrop_dir(void)
{
	return arena_printf(arena_scratch, "%s/maildrop", spool_base());
}

/*
 * A system instance (started as root) opens maildrop/ to every user:
 * writable and searchable but not readable by others, sticky (a user
 * removes only its own files), set-group-id (the files get tern's group,
 * whose pickup reads them).  The spool directory itself must then be
 * searchable by others; nothing else in it is (docs/spool.md,
 * "maildrop/").  A rootless instance is its owner's alone.  Failing
 * here only keeps users out: logged, not fatal.
 */
static void
open_maildrop(const char *base)
{
	const char *dir = spool_maildrop_dir();
	struct stat st;
	int fd;

	if (!rt.started_as_root)
		return;
	/*
	 * We may be root here, in directories tern_user owns: change modes
	 * only through a descriptor, on a directory that is tern_user's, and
	 * never through a symbolic link in maildrop/'s place.
	 */
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == rt.tern_uid &&
	    (st.st_mode & S_IXOTH) == 0) {
		if (fchmod(fd, (st.st_mode & 07777) | S_IXOTH) == 0)
			log_write(TERN_LOG_MAIN, NULL, "spool: %s made "
				"searchable by others, for maildrop/", base);
		else
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"spool: chmod o+x %s: %m (users cannot reach "
				"maildrop/)", base);
	}
	if (fd >= 0)
		close(fd);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || st.st_uid != rt.tern_uid) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "spool: %s is "
			"not a directory of tern_user's (users cannot submit)",
			dir);
	} else if ((st.st_mode & 07777) != 03733 && fchmod(fd, 03733) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"spool: chmod 3733 %s: %m (users cannot submit)", dir);
	}
	if (fd >= 0)
		close(fd);
}

int
spool_init(char **err_out)
{
	static const char *const subdirs[] = { "input", "pool", "log", "db",
		"maildrop" };
	const char *base = spool_base();
	int dfd;

	if (make_dir(base, err_out) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if (make_dir(arena_printf(arena_scratch, "%s/%s", base,
		    subdirs[i]), err_out) != 0)
			return -1;
	open_maildrop(base);
	/*
	 * Asked here once, the spool being there, so that the daemon's
	 * children inherit the answers instead of each asking again.
	 */
	(void)spool_boot_id();
	(void)spool_reuse_on();
	dfd = open(arena_printf(arena_scratch, "%s/input", base),
		O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync_covers_dir(dfd);
		close(dfd);
	}
	return 0;
}

/*
 * Does the file system of fd make a new file's directory entry durable
 * with the file's own fsync?  The journaling ones do: the fsync commits
 * the journal transaction that holds the entry (ext3/ext4, xfs; btrfs
 * logs the new name with the inode), and tmpfs/ramfs have nothing to
 * write.  Asked once per file system (st_dev).
 */
static bool
fsync_covers_dir(int fd)
{
	static dev_t dev;
	static int known = -1;
	struct statfs sfs;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return false;
	if (known >= 0 && st.st_dev == dev)
		return known == 1;
	if (fstatfs(fd, &sfs) != 0)
		return false;
	switch ((unsigned long)sfs.f_type) {
	case EXT4_SUPER_MAGIC: /* ext2/ext3 share it; ext2 has no journal */
	case XFS_SUPER_MAGIC:
	case BTRFS_SUPER_MAGIC:
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
		known = 1;
		break;
	default:
		known = 0;
		break;
	}
	dev = st.st_dev;
	return known == 1;
}

int
spool_fsync_entry(int fd, const char *subdir, char **err_out)
{
	const char *dir;
	int dfd, rc = 0;

	if (!conf.spool_sync || fsync_covers_dir(fd))
		return 0;
	dir = arena_printf(arena_scratch, "%s/%s", spool_base(), subdir);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) != 0) {
		*err_out = arena_printf(arena_msg, "spool: fsync %s: %m", dir);
		rc = -1;
	}
	if (dfd >= 0)
		close(dfd);
	return rc;
}

int
spool_check_digest(int fd, off_t from, const char *p, off_t end,
	char hex[SPOOL_CHECK_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[SHA256_DIGEST_LENGTH], chunk[16384];
	off_t pos = SPOOL_FIRST_LINE_LEN;
	SHA256_CTX ctx;

	if (end > SPOOL_CHECK_SPAN)
		end = SPOOL_CHECK_SPAN;
	SHA256_Init(&ctx);
	while (pos < end && pos < from) {
		off_t lim = end < from ? end : from;
		size_t want = (size_t)(lim - pos) < sizeof(chunk) ?
			(size_t)(lim - pos) : sizeof(chunk);
		ssize_t n = io_pread_full(fd, chunk, want, pos);

		if (n < (ssize_t)want) {
			if (n >= 0)
				errno = EIO;
			return -1;
		}
		SHA256_Update(&ctx, chunk, want);
		pos += (off_t)want;
	}
	if (pos < end)
		SHA256_Update(&ctx, p + (pos - from), (size_t)(end - pos));
	SHA256_Final(md, &ctx);
	for (size_t i = 0; i < SPOOL_CHECK_HEX / 2; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[SPOOL_CHECK_HEX] = '\0';
	return 0;
}

/*
 * Append the check record for a file whose header section, just encoded
 * into b, goes at off (bytes before off are in fd already).
 */
static int
add_check(struct buf *b, int fd, off_t off)
{
	char hex[SPOOL_CHECK_HEX + 1];

	if (spool_check_digest(fd, off, b->p, off + (off_t)b->len, hex) != 0)
		return -1;
	if (!buf_adds(b, "C ") || !buf_adds(b, hex) || !buf_addc(b, '\n')) {
		errno = EFBIG;
		return -1;
	}
	return 0;
}

void
spool_first_line(char line[SPOOL_FIRST_LINE_LEN + 1], const char *id,
	uint64_t off)
{
	snprintf(line, SPOOL_FIRST_LINE_LEN + 1, "%.*s-M %016" PRIx64 "\n",
		MESSAGE_ID_LEN, id, off);
}

bool
spool_first_line_parse(const char *line, const char *id, uint64_t *off_out)
{
	uint64_t off = 0;

	if (memcmp(line, id, MESSAGE_ID_LEN) != 0 ||
	    memcmp(line + MESSAGE_ID_LEN, "-M ", 3) != 0 ||
	    line[SPOOL_FIRST_LINE_LEN - 1] != '\n')
		return false;
	for (const char *s = line + MESSAGE_ID_LEN + 3;
	    s < line + SPOOL_FIRST_LINE_LEN - 1; s++) {
		int v = *s >= '0' && *s <= '9' ? *s - '0' :
			*s >= 'a' && *s <= 'f' ? *s - 'a' + 10 : -1;

		if (v < 0)
			return false;
		off = off * 16 + (uint64_t)v;
	}
	*off_out = off;
	return true;
}

bool
spool_first_line_any(const char *line, char id_out[MESSAGE_ID_LEN + 1],
	uint64_t *off_out)
{
	memcpy(id_out, line, MESSAGE_ID_LEN);
	id_out[MESSAGE_ID_LEN] = '\0';
	return spool_id_valid(id_out) &&
		spool_first_line_parse(line, id_out, off_out);
}

/* ---- the ID-M files this process has open (for spool_msglog) ---- */

static struct open_msg {
	char   id[MESSAGE_ID_LEN + 1];
	int    fd;      /* -1: free */
	dev_t  dev;
	ino_t  ino;
	bool   committed;
	bool   legacy;  /* no check record: never reused */
	off_t  end;     /* where the next record goes; -1: not known */
	size_t npending;
	char   pending[PENDING_MAX];
	char   slot[16]; /* "": input/ID-M; else the file is pool/slot */
} open_msgs[OPEN_MAX] = {
	{ .fd = -1 }, { .fd = -1 }, { .fd = -1 }, { .fd = -1 },
};

/* Is slot o's fd still the file it was registered with? */
static bool
open_valid(const struct open_msg *o)
{
	struct stat st;

	return o->fd >= 0 && fstat(o->fd, &st) == 0 && st.st_dev == o->dev &&
		st.st_ino == o->ino;
}

void
spool_open_add(const char *id, int fd, bool committed, off_t end)
{
	struct open_msg *o = NULL;
	struct stat st;

	if (fstat(fd, &st) != 0)
		return;
	for (size_t i = 0; i < OPEN_MAX && o == NULL; i++)
		if (open_msgs[i].fd == fd)
			o = &open_msgs[i];
	/* The same file again (a read of a message received here) stays
	 * where it is, pool/ or input/. */
	if (o == NULL || o->dev != st.st_dev || o->ino != st.st_ino ||
	    strcmp(o->id, id) != 0) {
		for (size_t i = 0; i < OPEN_MAX && o == NULL; i++)
			if (open_msgs[i].fd < 0)
				o = &open_msgs[i];
		/* A caller that closed its fd without telling: its slot. */
		for (size_t i = 0; i < OPEN_MAX && o == NULL; i++)
			if (!open_valid(&open_msgs[i]))
				o = &open_msgs[i];
		if (o == NULL)
			o = &open_msgs[0];
		o->slot[0] = '\0';
	}
	memcpy(o->id, id, MESSAGE_ID_LEN + 1);
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->committed = committed;
	o->legacy = false;
	o->end = end;
	o->npending = 0;
}


const char *
spool_boot_id(void)
{
	static char id[40];
	static bool asked;
	int fd;

	/*
	 * Asked once: without /proc, "" (no reuse) for the process's life.
	 * Another failure (no fd left, say) is asked again next time: a
	 * process that took it for "no boot id" would remove the pool's marks.
	 */
	if (asked)
		return id;
	fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = io_read_full(fd, id, 36);

		id[n == 36 ? 36 : 0] = '\0';
		asked = n == 36;
		close(fd);
	} else {
		asked = errno == ENOENT;
	}
	return id;
}

static struct open_msg *
open_find_fd(int fd)
{
	for (size_t i = 0; i < OPEN_MAX; i++)
		if (open_msgs[i].fd == fd && fd >= 0)
			return &open_msgs[i];
	return NULL;
}

void
spool_open_legacy(int fd)
{
	struct open_msg *o = open_find_fd(fd);

	if (o != NULL)
		o->legacy = true;
}

bool
spool_open_reusable(int fd)
{
	struct open_msg *o = open_find_fd(fd);

	return o == NULL || !o->legacy;
}

void
spool_open_drop(int fd, int new_fd, off_t new_end)
{
	struct open_msg *o = open_find_fd(fd);
	struct stat st;

	if (o == NULL)
		return;
	o->fd = -1;
	o->slot[0] = '\0';
	if (new_fd >= 0 && fstat(new_fd, &st) == 0) {
		o->fd = new_fd;
		o->dev = st.st_dev;
		o->ino = st.st_ino;
		o->end = new_end;
	}
}

void
spool_open_set_slot(int fd, const char *slot)
{
	struct open_msg *o = open_find_fd(fd);

	if (o != NULL)
		snprintf(o->slot, sizeof(o->slot), "%s", slot);
}

const char *
spool_open_slot(int fd)
{
	struct open_msg *o = open_find_fd(fd);

	return o != NULL && o->slot[0] != '\0' ? o->slot : NULL;
}

const char *
spool_open_id(int fd)
{
	struct open_msg *o = open_find_fd(fd);

	return o != NULL ? o->id : NULL;
}

bool
spool_slot_open(const char *slot)
{
	for (size_t i = 0; i < OPEN_MAX; i++)
		if (open_msgs[i].fd >= 0 && strcmp(open_msgs[i].slot, slot) == 0)
			return true;
	return false;
}

int
spool_parked_fd(const char *id)
{
	for (size_t i = 0; i < OPEN_MAX; i++)
		if (open_msgs[i].fd >= 0 && open_msgs[i].slot[0] != '\0' &&
		    open_msgs[i].committed && strcmp(open_msgs[i].id, id) == 0)
			return open_msgs[i].fd;
	return -1;
}

const char *
spool_file_path(const char *id, int fd)
{
	const char *slot = fd >= 0 ? spool_open_slot(fd) : NULL;

	return slot != NULL ? arena_printf(arena_scratch, "%s/pool/%s",
		spool_base(), slot) : spool_path(id, 'M');
}

/* Close parked fd, named (to input/ID-M) or not: the lock goes. */
static void
close_parked(int fd, bool name)
{
	if (name)
		(void)spool_reuse_name(fd);
	spool_open_drop(fd, -1, 0);
	close(fd);
}

void
spool_unpark(const char *id)
{
	int fd = spool_parked_fd(id);

	if (fd >= 0)
		close_parked(fd, true);
}

const char *
spool_parked_slot(const char *id)
{
	int fd = spool_parked_fd(id);

	return fd >= 0 ? spool_open_slot(fd) : NULL;
}

void
spool_let_go(const char *id)
{
	int fd = spool_parked_fd(id);

	if (fd >= 0)
		close_parked(fd, false);
}

void
spool_unpark_all(void)
{
	for (size_t i = 0; i < OPEN_MAX; i++)
		if (open_msgs[i].fd >= 0 && open_msgs[i].slot[0] != '\0' &&
		    open_msgs[i].committed)
			spool_unpark(open_msgs[i].id);
}

bool
spool_all_nul(const char *p, size_t n)
{
	return n == 0 || (p[0] == '\0' && memcmp(p, p + 1, n - 1) == 0);
}

off_t
spool_content_end(int fd)
{
	char chunk[16384];
	struct stat st;
	off_t pos;

	if (fstat(fd, &st) != 0)
		return -1;
	for (pos = st.st_size; pos > 0;) {
		size_t want = pos < (off_t)sizeof(chunk) ? (size_t)pos :
			sizeof(chunk);
		ssize_t n = io_pread_full(fd, chunk, want, pos - (off_t)want);

		if (n != (ssize_t)want)
			return n >= 0 ? (errno = EIO, -1) : -1;
		pos -= (off_t)want;
		if (!spool_all_nul(chunk, want)) {
			while (chunk[want - 1] == '\0')
				want--;
			return pos + (off_t)want;
		}
	}
	return 0;
}

/* The table's slot for fd, if it still is the file it was added with. */
static struct open_msg *
open_find_valid(int fd)
{
	for (size_t i = 0; i < OPEN_MAX; i++)
		if (open_msgs[i].fd == fd && fd >= 0 && open_valid(&open_msgs[i]))
			return &open_msgs[i];
	return NULL;
}

int
spool_append(int fd, const char *p, size_t n)
{
	struct open_msg *o = open_find_valid(fd);
	off_t end;

	/* Without the table: no record holds a NUL, nothing follows them. */
	end = o != NULL && o->end >= 0 ? o->end : spool_content_end(fd);
	if (end < 0)
		return -1;
	if (io_pwrite_all(fd, p, n, end) != 0) {
		/* Part of it may be there: where the records end is unknown. */
		if (o != NULL)
			o->end = -1;
		return -1;
	}
	if (o != NULL)
		o->end = end + (off_t)n;
	return 0;
}

off_t
spool_open_end(int fd)
{
	struct open_msg *o = open_find_valid(fd);

	return o != NULL ? o->end : -1;
}

void
spool_msglog(const char *id, const char *fmt, ...)
{
	char text[4096], line[4096 + 64], ts[32];
	struct open_msg *o = NULL;
	time_t now;
	struct tm tm;
	va_list ap;
	int n;

	if (!conf.message_logs || id == NULL)
		return;
	for (size_t i = 0; i < OPEN_MAX && o == NULL; i++)
		if (open_msgs[i].fd >= 0 && strcmp(open_msgs[i].id, id) == 0 &&
		    open_valid(&open_msgs[i]))
			o = &open_msgs[i];
	if (o == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (char *s = text; *s != '\0'; s++)
		if (*s == '\n' || *s == '\r')
			*s = ' ';
	now = time(NULL);
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(ts, sizeof(ts), "%lld", (long long)now);
	n = snprintf(line, sizeof(line), "L %s %s\n", ts, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (!o->committed) {
		/* Written with the header section at commit. */
		if (o->npending + (size_t)n <= sizeof(o->pending)) {
			memcpy(o->pending + o->npending, line, (size_t)n);
			o->npending += (size_t)n;
		}
		return;
	}
	if (spool_append(o->fd, line, (size_t)n) != 0)
		log_write(TERN_LOG_MAIN, id, "spool: write %s: %m",
			spool_path(id, 'M'));
}

/* ---- reception ---- */

/* Create input/ID-M exclusively (a fresh id on any collision), locked. */
static int
create_data(struct message *m, char **err_out)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	for (int tries = 0; tries < NEW_ID_TRIES; tries++) {
		const char *path;
		int fd;

		if (tries > 0 || !spool_id_valid(m->id))
			spool_new_id(m->id);
		path = spool_path(m->id, 'M');
		fd = spool_openat(AT_FDCWD, path, O_RDWR | O_CREAT | O_EXCL |
			O_CLOEXEC | O_NOFOLLOW, 0640);
		if (fd < 0 && errno == EEXIST)
			continue;
		if (fd < 0) {
			*err_out = arena_printf(arena_msg,
				"spool: create %s: %m", path);
			return -1;
		}
		/*
		 * Waits when a queue runner that found the file in the instant
		 * before this holds the lock: it only looks and lets go.
		 */
		while (fcntl(fd, F_SETLKW, &fl) != 0) {
			if (errno == EINTR)
				continue;
			*err_out = arena_printf(arena_msg,
				"spool: lock %s: %m", path);
			unlink(path);
			close(fd);
			return -1;
		}
		/*
		 * A reader that got the lock first may have judged the file
		 * a dead reception's (it goes by age: a clock stepped back by
		 * minutes) and removed it: then start again under a new id
		 * rather than commit a file that has no name.
		 */
		{
			struct stat a, b;

			if (fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
			    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
				return fd;
			close(fd);
			continue;
		}
	}
	*err_out = arena_printf(arena_msg, "spool: no free message id after "
		"%d tries in %s/input", NEW_ID_TRIES, spool_base());
	return -1;
}

/*
 * Remove the file of message id open as fd, whichever name it has:
 * while the lock is held, so that nobody takes it meanwhile.
 */
static void
remove_file(const char *id, int fd)
{
	const char *path = spool_file_path(id, fd);

	if (unlink(path) != 0 && errno != ENOENT)
		log_write(TERN_LOG_MAIN, id, "spool: unlink %s: %m", path);
}

int
spool_data_create(struct message *m, char **err_out)
{
	char slot[16];
	int fd = spool_reuse_take(m, slot); /* slot: "" when it returns -1 */

	if (fd < 0)
		fd = create_data(m, err_out);
	if (fd < 0)
		return -1;
	spool_open_add(m->id, fd, false, 0);
	if (slot[0] != '\0')
		spool_open_set_slot(fd, slot);
	/*
	 * Line 1 stays as it is until the commit: empty in a new file, "not
	 * committed" in one from pool/; either is "not a message yet" to a
	 * reader.
	 */
	if (lseek(fd, SPOOL_FIRST_LINE_LEN, SEEK_SET) != SPOOL_FIRST_LINE_LEN) {
		*err_out = arena_printf(arena_msg, "spool: seek %s: %m",
			spool_file_path(m->id, fd));
		spool_data_abort(m, fd);
		return -1;
	}
	m->body_offset = SPOOL_FIRST_LINE_LEN;
	m->body_end = 0;
	return fd;
}

void
spool_data_abort(struct message *m, int fd)
{
	remove_file(m->id, fd);
	if (fd >= 0) {
		spool_open_drop(fd, -1, 0);
		close(fd);
	}
}

void
spool_data_close(struct message *m, int data_fd)
{
	(void)m;
	if (data_fd < 0)
		return;
	/* Taken from pool/: its name now, for whoever delivers it. */
	if (spool_open_slot(data_fd) != NULL)
		(void)spool_reuse_name(data_fd);
	spool_open_drop(data_fd, -1, 0);
	close(data_fd);
}

void
spool_data_park(struct message *m, int data_fd)
{
	if (data_fd >= 0 && spool_open_slot(data_fd) != NULL &&
	    spool_parked_fd(m->id) == data_fd)
		return; /* stays open, locked, in pool/ */
	spool_data_close(m, data_fd);
}

/* Header bytes (deleted headers excluded) plus body bytes. */
static uint64_t
message_size(const struct message *m)
{
	uint64_t size = 0;

	for (const struct header *h = m->headers; h != NULL; h = h->next)
		if (h->type != HDR_DELETED)
			size += h->len;
	if (m->body_end > m->body_offset)
		size += (uint64_t)(m->body_end - m->body_offset);
	return size;
}

/* The file now says what m says. */
static void
mark_spooled(struct message *m)
{
	for (size_t i = 0; i < m->nrcpts; i++)
		m->rcpts[i].spooled = m->rcpts[i].done;
	m->spooled_frozen = m->frozen;
	m->spooled_warnings = m->warning_count;
}

int
spool_commit(struct message *m, int data_fd, const char *tail, size_t ntail,
	char **err_out)
{
	const char *path = spool_file_path(m->id, data_fd);
	struct open_msg *o = open_find_fd(data_fd);
	char line[SPOOL_FIRST_LINE_LEN + 1];
	off_t pos;
	struct buf b;

	/*
	 * The body ends where the writes through data_fd got to, plus the
	 * tail not written yet: a file taken from pool/ is longer than what
	 * it holds.
	 */
	pos = lseek(data_fd, 0, SEEK_CUR);
	if (pos < SPOOL_FIRST_LINE_LEN) {
		if (pos >= 0)
			errno = EINVAL;
		*err_out = arena_printf(arena_msg, "spool: seek %s: %m", path);
		goto out_remove;
	}
	m->body_offset = SPOOL_FIRST_LINE_LEN;
	m->body_end = pos + (off_t)ntail;
	m->size = message_size(m);
	m->boot_id = *spool_boot_id() != '\0' ? spool_boot_id() : NULL;
	buf_init(&b, arena_scratch, 0);
	if ((ntail > 0 && !buf_add(&b, tail, ntail)) ||
	    !spool_header_encode(&b, m)) {
		*err_out = arena_printf(arena_msg, "spool: %s: header too big",
			path);
		goto out_remove;
	}
	if (add_check(&b, data_fd, pos) != 0) {
		*err_out = arena_printf(arena_msg, "spool: read %s: %m", path);
		goto out_remove;
	}
	if (o != NULL && o->npending > 0 &&
	    !buf_add(&b, o->pending, o->npending)) {
		*err_out = arena_printf(arena_msg, "spool: %s: header too big",
			path);
		goto out_remove;
	}
	spool_first_line(line, m->id, (uint64_t)m->body_end);
	/*
	 * One write for the body's tail and the section, then the offset:
	 * a reader without the lock sees no offset before the section.
	 */
	if (io_pwrite_all(data_fd, b.p, b.len, pos) != 0 ||
	    io_pwrite_all(data_fd, line, SPOOL_FIRST_LINE_LEN, 0) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m", path);
		goto out_remove;
	}
	if (conf.spool_sync && fdatasync(data_fd) != 0) {
		*err_out = arena_printf(arena_msg, "spool: fdatasync %s: %m",
			path);
		goto out_remove;
	}
	/* In pool/, it has no name in input/ to sync yet (docs/spool.md). */
	if ((o == NULL || o->slot[0] == '\0') &&
	    spool_fsync_entry(data_fd, "input", err_out) != 0)
		goto out_remove;
	mark_spooled(m);
	if (o != NULL) {
		o->committed = true;
		o->end = pos + (off_t)b.len;
		o->npending = 0;
	} else {
		spool_open_add(m->id, data_fd, true, pos + (off_t)b.len);
	}
	return 0;

out_remove:
	{
		int saved = errno;

		remove_file(m->id, data_fd);
		spool_open_drop(data_fd, -1, 0);
		errno = saved;
	}
	return -1;
}

/* ---- after reading: records, rewriting ---- */

/* Mark address done in m: a recipient, or else an alias's child. */
static void
mark_delivered(struct message *m, const char *address, bool on_disk)
{
	bool found = false;

	for (size_t i = 0; i < m->nrcpts; i++)
		if (strcmp(m->rcpts[i].address, address) == 0) {
			m->rcpts[i].done = true;
			if (on_disk)
				m->rcpts[i].spooled = true;
			found = true;
		}
	if (!found)
		spool_add_delivered(arena_msg, m, address);
}

/* "D address\n" into b. */
static bool
put_record(struct buf *b, const char *address)
{
	return buf_adds(b, "D ") && spool_field_put(b, address) &&
		buf_addc(b, '\n');
}

int
spool_journal_add(struct message *m, const char *address, char **err_out)
{
	struct buf b;

	buf_init(&b, arena_scratch, 0);
	if (!put_record(&b, address)) {
		*err_out = arena_printf(arena_msg, "spool: %s: address too long",
			spool_path(m->id, 'M'));
		return -1;
	}
	if (m->data_fd < 0 || spool_append(m->data_fd, b.p, b.len) != 0) {
		if (m->data_fd < 0)
			errno = EBADF;
		*err_out = arena_printf(arena_msg, "spool: write %s: %m",
			spool_path(m->id, 'M'));
		return -1;
	}
	mark_delivered(m, address, true);
	return 0;
}

void
spool_apply_records(struct message *m, const char *text, size_t len)
{
	const char *p = text, *end = text + len;

	/* A last line without '\n' was cut by a crash: it never counted. */
	for (const char *nl; (nl = memchr(p, '\n', (size_t)(end - p))) != NULL;
	    p = nl + 1) {
		char *a;

		/* "V BOOTID": verified in that boot (docs/spool.md) */
		if (nl - p > 2 && p[0] == 'V' && p[1] == ' ' &&
		    *spool_boot_id() != '\0' && (size_t)(nl - p - 2) ==
		    strlen(spool_boot_id()) && memcmp(p + 2, spool_boot_id(),
		    (size_t)(nl - p - 2)) == 0)
			m->checked_this_boot = true;
		if (nl - p < 3 || p[0] != 'D' || p[1] != ' ')
			continue; /* L records, and anything malformed */
		a = spool_field_get(arena_msg, p + 2, (size_t)(nl - p - 2));
		if (a != NULL && *a != '\0')
			mark_delivered(m, a, true);
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

int
spool_update(struct message *m, char **err_out)
{
	struct buf b;

	if (m->frozen != m->spooled_frozen ||
	    m->warning_count != m->spooled_warnings)
		return spool_rewrite_header(m, err_out);
	buf_init(&b, arena_scratch, 0);
	for (size_t i = 0; i < m->nrcpts; i++)
		if (m->rcpts[i].done && !m->rcpts[i].spooled &&
		    !put_record(&b, m->rcpts[i].address)) {
			*err_out = arena_printf(arena_msg, "spool: %s: too many "
				"records", spool_path(m->id, 'M'));
			return -1;
		}
	if (b.len == 0)
		return 0;
	if (m->data_fd < 0 || spool_append(m->data_fd, b.p, b.len) != 0) {
		if (m->data_fd < 0)
			errno = EBADF;
		*err_out = arena_printf(arena_msg, "spool: write %s: %m",
			spool_path(m->id, 'M'));
		return -1;
	}
	mark_spooled(m);
	return 0;
}

/* len bytes of from at off into to at the same offset. */
static int
copy_range(int from, int to, off_t off, size_t len)
{
	off_t in = off, out = off;
	char buf[65536];

	while (len > 0) {
		ssize_t n = copy_file_range(from, &in, to, &out, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
		    errno == EINVAL || errno == EOPNOTSUPP))
			break;
		if (n <= 0)
			return n == 0 ? (errno = EIO, -1) : -1;
		len -= (size_t)n;
	}
	while (len > 0) {
		ssize_t n = pread(from, buf, len < sizeof(buf) ? len :
			sizeof(buf), in);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? (errno = EIO, -1) : -1;
		if (io_pwrite_all(to, buf, (size_t)n, out) != 0)
			return -1;
		in += n;
		out += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The L records of the file open as m->data_fd, into b: the last
 * MSGLOG_KEEP bytes of them, so that a message deferred for weeks does
 * not carry an ever longer log from rewrite to rewrite.
 */
#define MSGLOG_KEEP (1024u * 1024)

static int
keep_msglog(const struct message *m, struct buf *b, char **err_out)
{
	char *text, *p, *end;
	size_t len;
	bool dropped;

	if (spool_log_tail(m, MSGLOG_KEEP, &text, &len, &dropped, err_out) != 0)
		return -1;
	if (dropped && !buf_adds(b, "L (older message log lines dropped)\n"))
		return -1;
	for (p = text, end = text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (nl == NULL)
			break;
		if (!buf_adds(b, "L ") || !buf_add(b, p, (size_t)(nl - p + 1)))
			return -1;
		p = nl + 1;
	}
	return 0;
}

int
spool_rewrite_header(struct message *m, char **err_out)
{
	const char *path = spool_path(m->id, 'M'), *tmp = tmp_path(m->id);
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char line[SPOOL_FIRST_LINE_LEN + 1];
	struct buf b;
	int fd;

	if (m->data_fd < 0 || m->body_end < m->body_offset) {
		*err_out = arena_printf(arena_msg, "spool: %s: not open", path);
		errno = EBADF;
		return -1;
	}
	/* A parked file goes to its name first: the new one replaces it. */
	if (spool_open_slot(m->data_fd) != NULL &&
	    spool_reuse_name(m->data_fd) != 0) {
		*err_out = arena_printf(arena_msg, "spool: %s: cannot be "
			"moved to input/ (see the paniclog)",
			spool_file_path(m->id, m->data_fd));
		return -1;
	}
	/* A new file, written whole in this boot. */
	m->boot_id = *spool_boot_id() != '\0' ? spool_boot_id() : NULL;
	buf_init(&b, arena_scratch, 0);
	if (!spool_header_encode(&b, m)) {
		*err_out = arena_printf(arena_msg, "spool: %s: header too big",
			path);
		return -1;
	}
	fd = spool_openat(AT_FDCWD, tmp, O_RDWR | O_CREAT | O_TRUNC |
		O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		*err_out = arena_printf(arena_msg, "spool: create %s: %m", tmp);
		return -1;
	}
	spool_first_line(line, m->id, (uint64_t)m->body_end);
	/* Locked before it takes the name: nobody can deliver from it. */
	if (fcntl(fd, F_SETLK, &fl) != 0 ||
	    io_pwrite_all(fd, line, SPOOL_FIRST_LINE_LEN, 0) != 0 ||
	    copy_range(m->data_fd, fd, m->body_offset,
		(size_t)(m->body_end - m->body_offset)) != 0 ||
	    add_check(&b, fd, m->body_end) != 0) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m", tmp);
		goto out_fail;
	}
	if (keep_msglog(m, &b, err_out) != 0) {
		if (*err_out == NULL)
			*err_out = arena_printf(arena_msg, "spool: %s: message "
				"log too big", path);
		goto out_fail;
	}
	if (io_pwrite_all(fd, b.p, b.len, m->body_end) != 0 ||
	    (conf.spool_sync && fdatasync(fd) != 0)) {
		*err_out = arena_printf(arena_msg, "spool: write %s: %m", tmp);
		goto out_fail;
	}
	if (rename(tmp, path) != 0) {
		*err_out = arena_printf(arena_msg, "spool: rename %s -> %s: %m",
			tmp, path);
		goto out_fail;
	}
	/*
	 * The old file (and its records) stays valid until the rename is on
	 * disk, so the directory need not be synced for safety; it is on file
	 * systems that need it, to keep a freeze across a crash.
	 */
	if (spool_fsync_entry(fd, "input", err_out) != 0)
		log_write(TERN_LOG_MAIN, m->id, "%s", *err_out);
	spool_open_drop(m->data_fd, fd, m->body_end + (off_t)b.len);
	close(m->data_fd);
	m->data_fd = fd;
	mark_spooled(m);
	return 0;

out_fail:
	{
		int saved = errno;

		unlink(tmp);
		close(fd);
		errno = saved;
	}
	return -1;
}
