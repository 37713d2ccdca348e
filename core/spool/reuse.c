/*
 * pool/: message files emptied after their last delivery and kept for the
 * next reception, instead of being removed and created again.
 *
 * Why: the fdatasync that commits a new file must also commit the file
 * system's journal (the new inode, its directory entry, its blocks), and
 * waits for every other change in that transaction -- the mailbox files
 * deliveries create meanwhile, for one.  A file whose blocks are already
 * allocated, overwritten within its size, needs no journal commit: its
 * fdatasync writes the data and flushes the disk.  docs/spool.md,
 * "Reusing message files", has the protocol and what a crash leaves.
 *
 * The files are pool/0 ... pool/N-1 (N = spool_reuse_max): a slot name
 * caps the pool without counting it.  A reception writes its message
 * into the file where it is, pool/N, and renames it to input/ID-M only
 * when another process must find it by its id; a message it delivers
 * itself is emptied there, never renamed ("parked": docs/spool.md).  So
 * in pool/, locked: a file being filled, delivered or emptied; unlocked:
 * a NUL first line is an empty file, anything else what a dead process
 * left, which queue runs sweep (spool_reuse_recover).
 * pool/.checked-BOOTID says that the pool was checked since this boot: a
 * power cut can leave anything in a pool file (an emptying not yet on
 * disk, a message whose renames were lost), and a file is trusted to be
 * empty only after a full check.
 * pool/.failed-BOOTID says that a check since this boot could not finish:
 * receptions then leave the pool alone, and only queue runs check again.
 */
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/internal.h"

/*
 * A process's own slots (own_slot): where a reception looks before it
 * reads pool/, and where a delivery puts a file back when the slot it
 * came from is taken, before it removes the file instead.
 */
#define OWN_SLOTS    4
#define CHECKED      ".checked-"
#define FAILED       ".failed-"

/*
 * The slots this process last took, and for which messages: a message's
 * delivery, usually in the process that received it, puts the file back
 * where it came from.  Random slots in a pool that a busy hour filled
 * are mostly taken, and each miss is a file removed now and created
 * again by a later reception.
 */
#define TAKEN_KEPT   8    /* messages of one connection remembered */
static struct taken {
	char id[MESSAGE_ID_LEN + 1];
	char slot[16];
} taken[TAKEN_KEPT];
static unsigned taken_next;

static const char *
taken_slot(const char *id)
{
	for (size_t i = 0; i < TAKEN_KEPT; i++)
		if (taken[i].slot[0] != '\0' && strcmp(taken[i].id, id) == 0)
			return taken[i].slot;
	return NULL;
}

static const char *
pool_dir(void)
{
	return arena_printf(arena_scratch, "%s/pool", spool_base());
}

/*
 * Is reuse worth it?  Only when commits are synced (spool_sync) on a file
 * system with a disk: on tmpfs, or without the fdatasync, there is no
 * journal commit to save, and emptying files would only cost.  Asked
 * once per process.
 */
bool
spool_reuse_on(void)
{
	static int on = -1;
	struct statfs sfs;

	if (conf.spool_reuse_max <= 0 || !conf.spool_sync ||
	    *spool_boot_id() == '\0') /* the check after a boot needs it */
		return false;
	if (on < 0) {
		if (statfs(spool_base(), &sfs) != 0)
			return false; /* asked again next time */
		on = (unsigned long)sfs.f_type != TMPFS_MAGIC &&
			(unsigned long)sfs.f_type != RAMFS_MAGIC;
	}
	return on == 1;
}

/* A slot name: decimal, below spool_reuse_max. */
static bool
slot_name(const char *name)
{
	long k = 0;

	if (*name == '\0' || strlen(name) > 9)
		return false;
	for (const char *s = name; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		k = k * 10 + (*s - '0');
	}
	return (name[0] != '0' || name[1] == '\0') && k < conf.spool_reuse_max;
}

int
spool_write_zeros(int fd, off_t off, off_t len)
{
	static const char zeros[16384];

	while (len > 0) {
		size_t n = len < (off_t)sizeof(zeros) ? (size_t)len :
			sizeof(zeros);

		if (io_pwrite_all(fd, zeros, n, off) != 0)
			return -1;
		off += (off_t)n;
		len -= (off_t)n;
	}
	return 0;
}

/*
 * Open and lock pool/name (dfd: pool/), checked to be still the file of
 * that name.  wait: for the lock, instead of giving up on a locked file.
 * fd; -2 when it is locked or gone (another process has it); -3 when it
 * is not a regular file; -1 on another error.
 */
static int
open_pool_file(int dfd, const char *name, bool wait, struct stat *st)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat b;
	int fd = spool_openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW, 0);
	int rc;

	if (fd < 0)
		return errno == ENOENT ? -2 : errno == ELOOP ||
			errno == EISDIR ? -3 : -1;
	do
		rc = fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
	while (rc != 0 && wait && errno == EINTR);
	if (rc != 0) {
		int e = errno;

		close(fd);
		return e == EAGAIN || e == EACCES ? -2 : -1;
	}
	/*
	 * Locked before anything else, by every process that takes, fills
	 * or checks a pool file: the lock stays with the file when it is
	 * renamed to input/, so nobody finds an unlocked input/ID-M that
	 * is not yet a reception's.
	 */
	if (fstat(fd, st) != 0) {
		close(fd);
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -3;
	}
	if (fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
	    st->st_dev != b.st_dev || st->st_ino != b.st_ino) {
		close(fd);
		return -2;
	}
	return fd;
}

/*
 * Check one pool file after a boot (fd locked): a committed message that
 * matches its check record goes to input/; anything else is emptied
 * again, its first line last, so that an emptying cut short is checked
 * again.  Files that are not SPOOL_REUSE_SIZE long, or not named as a
 * slot, are removed.
 */
static int
check_one(int dfd, const char *name, int fd, const struct stat *st)
{
	bool keep = spool_reuse_on() && slot_name(name) &&
		st->st_size == SPOOL_REUSE_SIZE;
	int rc;
	char first[SPOOL_FIRST_LINE_LEN];
	const char *path = arena_printf(arena_scratch, "%s/%s", pool_dir(),
		name);
	off_t end = spool_content_end(fd);
	char *err = NULL;

	if (end < 0 || (end > 0 && io_pread_full(fd, first, sizeof(first), 0)
	    != (ssize_t)sizeof(first))) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
			"spool: read %s: %m", path);
		return -1; /* kept, for the next check */
	}
	if (end == 0 && keep)
		return 0;
	/* A committed message whose move to input/ a crash undid. */
	if (end > 0 && (rc = spool_recover(path, fd, first, &err)) != 1)
		return rc;
	/*
	 * Anything else was never acknowledged (a reception the crash cut
	 * short) or was delivered before (its emptying was lost).
	 */
	if (!keep || (end > SPOOL_FIRST_LINE_LEN && spool_write_zeros(fd,
	    SPOOL_FIRST_LINE_LEN, end - SPOOL_FIRST_LINE_LEN) != 0) ||
	    spool_write_zeros(fd, 0, SPOOL_FIRST_LINE_LEN) != 0) {
		if (unlinkat(dfd, name, 0) != 0) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"spool: unlink %s: %m", path);
			return -1;
		}
		log_write(TERN_LOG_MAIN, NULL, "spool: removed %s%s%s", path,
			end > 0 ? ": " : "", end > 0 ? (err != NULL ? err :
			"not a complete message") : "");
		return 0;
	}
	log_write(TERN_LOG_MAIN, NULL, "spool: emptied %s: %s", path,
		err != NULL ? err : "not a complete message");
	return 0;
}

/* Is pool/ (dfd) marked since this boot, with CHECKED or FAILED? */
static bool
pool_marked(int dfd, const char *kind)
{
	const char *bid = spool_boot_id();

	return *bid != '\0' && faccessat(dfd, arena_printf(arena_scratch,
		"%s%s", kind, bid), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Mark pool/ (dfd) as kind since this boot: 0, or -1. */
static int
pool_mark(int dfd, const char *kind)
{
	int fd = openat(dfd, arena_printf(arena_scratch, "%s%s", kind,
		spool_boot_id()), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		0640);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/*
 * A mark of an earlier boot?  Never when this boot's id cannot be had
 * (it is asked again later): every mark would look old.
 */
static bool
old_mark(const char *name)
{
	const char *kind = strncmp(name, CHECKED, strlen(CHECKED)) == 0 ?
		CHECKED : strncmp(name, FAILED, strlen(FAILED)) == 0 ? FAILED :
		NULL;

	return kind != NULL && *spool_boot_id() != '\0' &&
		strcmp(name + strlen(kind), spool_boot_id()) != 0;
}

/*
 * The check after a boot, unless pool/.checked-BOOTID says it was done:
 * every pool file is read whole.  A file another process has locked
 * (checking it too, or putting it back) is waited for and checked after
 * it: were it skipped, a checker that died holding it would leave it
 * unchecked for the whole boot.  Neither process holds another pool
 * file meanwhile, so two checkers cannot wait for each other.  The mark
 * is written only when every file was checked.  Something that is not a
 * regular file is left alone (logged), not a failure, so that it does
 * not make every reception check the pool again.
 *
 * A check that cannot finish (a file that cannot be read, recovered or
 * removed) writes pool/.failed-BOOTID instead: a reception that finds it
 * (retry false) does not check again -- reading the whole pool and
 * adding a paniclog line per message -- but creates its file; queue
 * runs (retry true) check again.  0 when the pool may be used.
 */
static int
check_pool(DIR *d, bool retry)
{
	struct dirent *e;
	int fd, failed = 0;

	if (pool_marked(dirfd(d), CHECKED))
		return 0;
	if (!retry && pool_marked(dirfd(d), FAILED))
		return -1;
	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (old_mark(e->d_name)) {
			unlinkat(dirfd(d), e->d_name, 0);
			continue;
		}
		/* Our own message (parked): a second fd's close would drop
		 * its lock. */
		if (e->d_name[0] == '.' || spool_slot_open(e->d_name))
			continue;
		fd = e->d_type == DT_REG || e->d_type == DT_UNKNOWN ?
			open_pool_file(dirfd(d), e->d_name, true, &st) : -3;
		if (fd == -1) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL,
				"spool: open %s/%s: %m", pool_dir(), e->d_name);
			failed++;
		} else if (fd == -3) {
			log_write(TERN_LOG_MAIN, NULL, "spool: %s/%s is not a "
				"regular file: left alone", pool_dir(), e->d_name);
		}
		if (fd < 0)
			continue; /* -2: gone (recovered by another checker) */
		if (check_one(dirfd(d), e->d_name, fd, &st) != 0)
			failed++;
		close(fd);
	}
	if (*spool_boot_id() == '\0')
		return -1; /* checked, but no boot to mark it for */
	if (failed > 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "spool: the "
			"check of %s after the boot did not finish: files are "
			"not reused until a queue run finishes it", pool_dir());
		(void)pool_mark(dirfd(d), FAILED);
		return -1;
	}
	if (pool_mark(dirfd(d), CHECKED) != 0)
		return -1;
	(void)unlinkat(dirfd(d), arena_printf(arena_scratch, FAILED "%s",
		spool_boot_id()), 0);
	rewinddir(d);
	return 0;
}

/*
 * What a process that died left in pool/ since the check after the boot:
 * a message it received and kept there (committed: moved to input/), or
 * a file it was filling or emptying (first line "not committed":
 * emptied).  A file another process has locked is its own business, and
 * one whose first line is NULs is empty.
 */
static void
sweep_pool(DIR *d)
{
	char first[SPOOL_FIRST_LINE_LEN];
	struct dirent *e;
	struct stat st;
	int fd;

	rewinddir(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || spool_slot_open(e->d_name) ||
		    (e->d_type != DT_REG && e->d_type != DT_UNKNOWN))
			continue;
		if ((fd = open_pool_file(dirfd(d), e->d_name, false, &st)) < 0)
			continue;
		if (io_pread_full(fd, first, sizeof(first), 0) ==
		    (ssize_t)sizeof(first) && !spool_all_nul(first,
		    sizeof(first)))
			(void)check_one(dirfd(d), e->d_name, fd, &st);
		close(fd);
	}
}

void
spool_reuse_recover(void)
{
	DIR *d;

	/* Whatever the configuration: a crash may have left mail there. */
	if ((d = opendir(pool_dir())) == NULL)
		return;
	if (check_pool(d, true) == 0)
		sweep_pool(d);
	closedir(d);
}

static int own_group = -1; /* spool_reuse_group */

void
spool_reuse_group(int n)
{
	own_group = n;
}

/*
 * The i-th of the slots a process tries first: its connection number's
 * group of OWN_SLOTS (spool_reuse_group), else spread from its process
 * id, so that processes starting together do not all ask for the same
 * file.
 */
static void
own_slot(unsigned i, char slot[16])
{
	unsigned n = own_group >= 0 ?
		(unsigned)own_group * OWN_SLOTS + i :
		(unsigned)getpid() + i * 7919u;

	snprintf(slot, 16, "%u", n % (unsigned)conf.spool_reuse_max);
}

static void
remember_taken(const char *id, const char *slot)
{
	struct taken *t = &taken[taken_next++ % TAKEN_KEPT];
	size_t len = strlen(slot);

	memcpy(t->id, id, sizeof(t->id));
	if (len < sizeof(t->slot))
		memcpy(t->slot, slot, len + 1);
	else
		t->slot[0] = '\0';
}

/*
 * Take pool/name (dfd: pool/) for m: its fd, locked, or -1.  It keeps
 * its name until something must find the message by its id
 * (spool_reuse_name); its first line says "not committed" meanwhile, so
 * that a reception that dies leaves a file no other takes before a queue
 * run has emptied it (spool_reuse_recover).
 */
static int
take_slot(int dfd, const char *name, struct message *m)
{
	char first[SPOOL_FIRST_LINE_LEN + 1];
	struct stat st;
	int fd;

	/* Ours already: a second fd's close would drop the first's lock. */
	if (spool_slot_open(name))
		return -1;
	fd = open_pool_file(dfd, name, false, &st);
	if (fd < 0)
		return -1;
	/* Checked whole since the boot; a NUL first line: empty. */
	if (st.st_size != SPOOL_REUSE_SIZE ||
	    io_pread_full(fd, first, SPOOL_FIRST_LINE_LEN, 0) !=
	    (ssize_t)SPOOL_FIRST_LINE_LEN ||
	    !spool_all_nul(first, SPOOL_FIRST_LINE_LEN)) {
		close(fd);
		return -1;
	}
	if (!spool_id_valid(m->id))
		spool_new_id(m->id);
	spool_first_line(first, m->id, 0);
	if (io_pwrite_all(fd, first, SPOOL_FIRST_LINE_LEN, 0) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int
spool_reuse_name(int fd)
{
	const char *slot = spool_open_slot(fd), *oid = spool_open_id(fd);
	char id[MESSAGE_ID_LEN + 1], name[16];
	const char *from, *to;
	struct stat a, b;

	if (slot == NULL || oid == NULL)
		return 0;
	snprintf(id, sizeof(id), "%s", oid);
	snprintf(name, sizeof(name), "%s", slot);
	from = arena_printf(arena_scratch, "%s/%s", pool_dir(), name);
	to = spool_path(id, 'M');
	if (fstat(fd, &a) != 0 || stat(from, &b) != 0 ||
	    a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "spool: %s is no "
			"longer the file of this message", from);
		spool_open_set_slot(fd, "");
		return -1;
	}
	/* The id was never checked against input/: this is where. */
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id, "spool: rename "
			"%s -> %s: %m (the message stays in %s)", from, to,
			pool_dir());
		return -1;
	}
	remember_taken(id, name);
	spool_open_set_slot(fd, "");
	return 0;
}

/*
 * A few slots of this process's own first: in a pool that has files,
 * one of them is usually there, and the directory is not read (reading
 * a hashed directory of a hundred names cost ~2% of the CPU per message
 * at 50 clients).  Then whatever the directory has.
 */
int
spool_reuse_take(struct message *m, char slot_out[16])
{
	struct dirent *e;
	DIR *d = NULL;
	int dfd, fd = -1;
	char slot[16];

	slot_out[0] = '\0';
	if (!spool_reuse_on() || (dfd = open(pool_dir(), O_RDONLY |
	    O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if (!pool_marked(dfd, CHECKED)) {
		if ((d = fdopendir(dfd)) == NULL) {
			close(dfd);
			return -1;
		}
		if (check_pool(d, false) != 0) {
			closedir(d);
			return -1;
		}
	}
	for (unsigned i = 0; fd < 0 && i < OWN_SLOTS &&
	    i < (unsigned)conf.spool_reuse_max; i++) {
		own_slot(i, slot);
		if ((fd = take_slot(dfd, slot, m)) >= 0)
			memcpy(slot_out, slot, sizeof(slot));
	}
	if (fd < 0 && d == NULL && (d = fdopendir(dfd)) == NULL) {
		close(dfd);
		return -1;
	}
	/* A slot name has at most 9 digits (slot_name). */
	while (fd < 0 && (e = readdir(d)) != NULL)
		if (slot_name(e->d_name) &&
		    (fd = take_slot(dfd, e->d_name, m)) >= 0)
			memcpy(slot_out, e->d_name, strlen(e->d_name) + 1);
	if (d != NULL)
		closedir(d);
	else
		close(dfd);
	return fd;
}

/*
 * A message another process parked and handed over (deliver_start):
 * pool/slot, locked here once that process has let it go (waited for),
 * taken only if it is still that file and says it holds id, committed.
 * Then it is parked in this process as in the one that received it:
 * spool_read finds it, and its delivery empties it where it is.  -2
 * when it is gone (a queue run's sweep took it first, in the moment it
 * was not locked, and named it input/ID-M): the caller finds it by its
 * id.  -1 (errno) when it could not be taken: it waits in pool/ for
 * a queue run's sweep.
 */
int
spool_reuse_adopt(const char *id, const char *slot)
{
	char first[SPOOL_FIRST_LINE_LEN];
	struct stat st;
	uint64_t off = 0;
	int dfd, fd;

	if (!spool_id_valid(id) || !slot_name(slot) || spool_slot_open(slot))
		return -1;
	dfd = open(pool_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	fd = open_pool_file(dfd, slot, true, &st);
	close(dfd);
	if (fd < 0)
		return fd == -2 ? -2 : -1;
	/* (Any size: a message longer than the pool's files grew its own.) */
	if (io_pread_full(fd, first, sizeof(first), 0) !=
	    (ssize_t)sizeof(first) ||
	    !spool_first_line_parse(first, id, &off) || off == 0) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	spool_open_add(id, fd, true, -1);
	spool_open_set_slot(fd, slot);
	if (spool_parked_fd(id) != fd) { /* the table did not take it */
		spool_open_drop(fd, -1, 0);
		close(fd);
		return -1;
	}
	return 0;
}

/*
 * A parked file (never named: it is still pool/slot, locked) is emptied
 * where it is: its first line says "not committed" first, then the rest
 * is zeroed, then the first line, so that a process killed part way
 * leaves a file no reception takes (take_slot) and a queue run empties.
 * A file that cannot be kept is removed.  0: the message is gone.
 */
static int
put_parked(int fd, const char *id, const char *slot, const struct stat *st)
{
	char first[SPOOL_FIRST_LINE_LEN + 1];
	const char *path = arena_printf(arena_scratch, "%s/%s", pool_dir(),
		slot);
	off_t end = spool_open_end(fd);

	if (end < 0 || end > st->st_size)
		end = spool_content_end(fd);
	spool_first_line(first, id, 0);
	if (st->st_size != SPOOL_REUSE_SIZE || end < 0 ||
	    io_pwrite_all(fd, first, SPOOL_FIRST_LINE_LEN, 0) != 0 ||
	    (end > SPOOL_FIRST_LINE_LEN && spool_write_zeros(fd,
	    SPOOL_FIRST_LINE_LEN, end - SPOOL_FIRST_LINE_LEN) != 0) ||
	    spool_write_zeros(fd, 0, SPOOL_FIRST_LINE_LEN) != 0) {
		if (unlink(path) != 0) {
			log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id,
				"spool: unlink %s: %m", path);
			return -1;
		}
	}
	spool_open_set_slot(fd, "");
	return 0;
}

int
spool_reuse_put(struct message *m)
{
	const char *path = spool_path(m->id, 'M'), *parked;
	struct stat st;
	off_t end;
	int fd = m->data_fd, dfd;
	const char *from;

	if (fd < 0 || fstat(fd, &st) != 0)
		return -1;
	if ((parked = spool_open_slot(fd)) != NULL)
		return put_parked(fd, m->id, arena_strdup(arena_scratch,
			parked), &st);
	if (!spool_reuse_on() || !spool_open_reusable(fd) ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_size > SPOOL_REUSE_SIZE || st.st_uid != rt.tern_uid)
		return -1;
	dfd = open(pool_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	/*
	 * Zeros over all it held, the first line first: until a reception
	 * fills it again it is not a message.  Its records end where this
	 * process read or wrote the last one (a file from before this boot
	 * had what a power cut left after them zeroed by that read); when
	 * that is not known (a write failed part way), the whole file is
	 * read for its last byte.  Grown to
	 * its full size once, so that later messages up to that size find
	 * their blocks allocated.
	 */
	end = spool_open_end(fd);
	if (end < 0 || end > st.st_size)
		end = spool_content_end(fd);
	if (end < 0 || spool_write_zeros(fd, 0, end) != 0) {
		close(dfd);
		return -1;
	}
	/*
	 * The slot it came from, when this process took it; then a few from
	 * a place of its own.  The pool is full otherwise.  (Putting a file
	 * found elsewhere into a slot of its own first, so that files would
	 * gather where the group looks, made more renames fail and more
	 * files go at 50 clients: bench/RESULTS.md.)
	 */
	from = taken_slot(m->id);
	for (int i = from != NULL && slot_name(from) ? -1 : 0;
	    i < OWN_SLOTS; i++) {
		char slot[16];

		if (i < 0)
			snprintf(slot, sizeof(slot), "%s", from);
		else
			own_slot((unsigned)i, slot);
		if (renameat2(AT_FDCWD, path, dfd, slot, RENAME_NOREPLACE)
		    == 0) {
			/* Still locked: nobody takes it before it is grown. */
			if (spool_write_zeros(fd, st.st_size, SPOOL_REUSE_SIZE -
			    st.st_size) != 0)
				unlinkat(dfd, slot, 0);
			close(dfd);
			return 0;
		}
		if (errno != EEXIST)
			break;
	}
	close(dfd);
	return -1;
}
