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
 */
#include "spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/internal.h"

#define NEW_ID_TRIES 20

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
static bool
reuse_on(void)
{
	static int on = -1;
	struct statfs sfs;

	if (conf.spool_reuse_max <= 0 || !conf.spool_sync)
		return false;
	if (on < 0)
		on = statfs(spool_base(), &sfs) != 0 ? 0 :
			(unsigned long)sfs.f_type != TMPFS_MAGIC &&
			(unsigned long)sfs.f_type != RAMFS_MAGIC;
	return on == 1;
}

/* A name in pool/ is the id of the last message the file held. */
static bool
pool_name(const char *name)
{
	return strlen(name) == MESSAGE_ID_LEN && spool_id_valid(name);
}

static bool
all_nul(const char *p, size_t n)
{
	return n == 0 || (p[0] == '\0' && memcmp(p, p + 1, n - 1) == 0);
}

/* Zeros over [off, off+len) of fd. */
static int
write_zeros(int fd, off_t off, off_t len)
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
 * One past the last byte of fd that is not NUL, looking from `from` (where
 * its records end, as far as this process knows) to size: everything a
 * message file ever held, records a crash tore included.
 */
static off_t
content_end(int fd, off_t from, off_t size)
{
	char chunk[16384];
	off_t end = from;

	for (off_t pos = from; pos < size;) {
		size_t want = size - pos < (off_t)sizeof(chunk) ?
			(size_t)(size - pos) : sizeof(chunk);

		if (io_pread_full(fd, chunk, want, pos) != (ssize_t)want)
			return -1;
		if (!all_nul(chunk, want)) {
			size_t i = want;

			while (chunk[i - 1] == '\0')
				i--;
			end = pos + (off_t)i;
		}
		pos += (off_t)want;
	}
	return end;
}

/*
 * Open and lock pool/name (dfd: pool/), checked to be still the file of
 * that name and a pool file: SPOOL_REUSE_SIZE bytes (with exact; else at
 * most that).  fd, or -1.
 */
static int
open_pool_file(int dfd, const char *name, bool exact, struct stat *st)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct stat b;
	int fd = openat(dfd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	/*
	 * Locked before anything else, by every process that takes, fills
	 * or checks a pool file: the lock stays with the file when it is
	 * renamed to input/, so nobody finds an unlocked input/ID-M that
	 * is not yet a reception's.
	 */
	if (fcntl(fd, F_SETLK, &fl) != 0 || fstat(fd, st) != 0 ||
	    fstatat(dfd, name, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
	    st->st_dev != b.st_dev || st->st_ino != b.st_ino ||
	    !S_ISREG(st->st_mode) || st->st_size > SPOOL_REUSE_SIZE ||
	    (exact && st->st_size != SPOOL_REUSE_SIZE)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Is the first line of fd all NULs (an emptied file)? */
static bool
emptied(int fd)
{
	char first[SPOOL_FIRST_LINE_LEN];

	return io_pread_full(fd, first, sizeof(first), 0) ==
		(ssize_t)sizeof(first) && all_nul(first, sizeof(first));
}

int
spool_reuse_take(struct message *m)
{
	struct dirent *e;
	int fd = -1;
	DIR *d;

	if (!reuse_on() || (d = opendir(pool_dir())) == NULL)
		return -1;
	while (fd < 0 && (e = readdir(d)) != NULL) {
		struct stat st;

		if (!pool_name(e->d_name))
			continue;
		fd = open_pool_file(dirfd(d), e->d_name, true, &st);
		if (fd < 0)
			continue;
		/* Not emptied: a crash's leftover, for spool_reuse_recover. */
		if (!emptied(fd)) {
			close(fd);
			fd = -1;
			continue;
		}
		for (int tries = 0;; tries++) {
			if (tries > 0 || !spool_id_valid(m->id))
				spool_new_id(m->id);
			if (renameat2(dirfd(d), e->d_name, AT_FDCWD,
			    spool_path(m->id, 'M'), RENAME_NOREPLACE) == 0)
				break;
			/* EINVAL: a file system without RENAME_NOREPLACE */
			if (errno != EEXIST || tries == NEW_ID_TRIES) {
				close(fd);
				fd = -1;
				break;
			}
		}
	}
	closedir(d);
	return fd;
}

/* The number of files in pool/, counted up to limit. */
static int
pool_count(int limit)
{
	struct dirent *e;
	int n = 0;
	DIR *d = opendir(pool_dir());

	if (d == NULL)
		return limit;
	while (n < limit && (e = readdir(d)) != NULL)
		if (pool_name(e->d_name))
			n++;
	closedir(d);
	return n;
}

int
spool_reuse_put(struct message *m)
{
	struct stat st;
	off_t end;
	int fd = m->data_fd;

	if (!reuse_on() || fd < 0 || fstat(fd, &st) != 0 ||
	    !S_ISREG(st.st_mode) || st.st_nlink != 1 ||
	    st.st_size > SPOOL_REUSE_SIZE || st.st_uid != rt.tern_uid ||
	    pool_count(conf.spool_reuse_max) >= conf.spool_reuse_max)
		return -1;
	/*
	 * Zeros over all it held, from its first line on: until a reception
	 * fills it again it is not a message, and after that nothing of the
	 * old message is left past the new one's records.  Grown to its
	 * full size once, so that later messages up to that size find their
	 * blocks allocated.
	 */
	end = spool_open_end(fd);
	if (end < 0 || end > st.st_size)
		end = 0;
	end = content_end(fd, end, st.st_size);
	if (end < 0 || write_zeros(fd, 0, end) != 0 ||
	    write_zeros(fd, st.st_size, SPOOL_REUSE_SIZE - st.st_size) != 0)
		return -1;
	if (renameat2(AT_FDCWD, spool_path(m->id, 'M'), AT_FDCWD,
	    arena_printf(arena_scratch, "%s/%s", pool_dir(), m->id),
	    RENAME_NOREPLACE) != 0)
		return -1;
	return 0;
}

void
spool_reuse_recover(void)
{
	struct dirent *e;
	DIR *d = opendir(pool_dir());

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char first[SPOOL_FIRST_LINE_LEN], id[MESSAGE_ID_LEN + 1];
		const char *path;
		char *err = NULL;
		struct stat st;
		off_t end;
		int fd;

		if (!pool_name(e->d_name))
			continue;
		fd = open_pool_file(dirfd(d), e->d_name, false, &st);
		if (fd < 0)
			continue;
		if (io_pread_full(fd, first, sizeof(first), 0) !=
		    (ssize_t)sizeof(first) || all_nul(first, sizeof(first))) {
			close(fd);
			continue;
		}
		path = arena_printf(arena_scratch, "%s/%s", pool_dir(),
			e->d_name);
		memcpy(id, first, MESSAGE_ID_LEN);
		id[MESSAGE_ID_LEN] = '\0';
		/*
		 * A committed message whose move to input/ a power cut
		 * undid: it goes where it belongs.
		 */
		if (spool_id_valid(id) && spool_check_file(fd, id, path,
		    &err) == 0) {
			if (renameat2(dirfd(d), e->d_name, AT_FDCWD,
			    spool_path(id, 'M'), RENAME_NOREPLACE) == 0)
				log_write(TERN_LOG_MAIN, id, "spool: recovered "
					"from %s", path);
			else
				log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, id,
					"spool: rename %s -> %s: %m", path,
					spool_path(id, 'M'));
			close(fd);
			continue;
		}
		/*
		 * Anything else was never acknowledged (a reception cut short
		 * by the crash) or was delivered before (its emptying was
		 * lost): emptied again.
		 */
		end = content_end(fd, 0, st.st_size);
		if (end >= 0 && write_zeros(fd, 0, end) == 0 &&
		    write_zeros(fd, st.st_size, SPOOL_REUSE_SIZE - st.st_size)
		    == 0)
			log_write(TERN_LOG_MAIN, NULL, "spool: emptied %s: %s",
				path, err != NULL ? err : "not a message");
		close(fd);
	}
	closedir(d);
}
