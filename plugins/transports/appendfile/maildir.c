/*
 * Maildir delivery: write dir/tmp/<unique>, put its data on disk, rename
 * it into dir/new/ (never replacing a file), and make the rename durable:
 * by fsyncing the file after it where the file system commits metadata in
 * order, by fsyncing the file before and the directory after elsewhere.
 * Where metadata are committed in order, the file in tmp/ has no name:
 * it is linked into new/ instead of renamed (no_tmpfile).
 * No "From " line and no escaping: a Maildir file is the message as it is.
 */
#include "appendfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>

#define FAILED(fmt, ...) do { \
		int e_ = errno; \
		snprintf(err, errlen, fmt ": %s", __VA_ARGS__, strerror(e_)); \
		*errno_out = e_; \
		errno = e_; \
	} while (0)

/*
 * The host name as it goes into file names, asked once per process (and
 * by maildir_prepare in the process that read the configuration, whose
 * children inherit it).
 */
static const char *
host_part(void)
{
	static char safe[1024];
	char host[256] = "localhost";
	size_t n = 0;

	if (safe[0] != '\0')
		return safe;
	gethostname(host, sizeof host - 1);
	host[sizeof host - 1] = '\0';
	/* '/' and ':' cannot appear in the name: octal escapes, as djb says */
	for (const char *h = host; *h != '\0' && n + 5 < sizeof safe; h++) {
		if (*h == '/' || *h == ':')
			n += (size_t)snprintf(safe + n, sizeof safe - n, "\\%03o",
				(unsigned char)*h);
		else
			safe[n++] = *h;
	}
	safe[n] = '\0';
	return safe;
}

void
maildir_unique_name(char *buf, size_t len)
{
	static unsigned long seq;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	snprintf(buf, len, "%lld.M%06ldP%ldQ%lu.%s", (long long)tv.tv_sec,
		(long)tv.tv_usec, (long)getpid(), ++seq, host_part());
}

/* dir and its tmp, new and cur.  0, or -1 with err. */
static int
make_dirs(const struct maildir_params *p, char *err, size_t errlen,
	int *errno_out)
{
	static const char *const subs[] = { "tmp", "new", "cur" };
	char path[4096];
	struct stat st;

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", p->dir, subs[i]);
		if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
			continue;
		if (!p->create_directory) {
			snprintf(err, errlen, "Maildir directory %s does not "
				"exist (create_directory is not set)", path);
			*errno_out = ENOENT;
			return -1;
		}
		if (af_mkdir_p(path, p->directory_mode) < 0) {
			FAILED("failed to create directory %s", path);
			return -1;
		}
	}
	return 0;
}

/* Bytes in the files of dir/sub. */
static void
dir_usage(const char *dir, const char *sub, uint64_t *bytes, uint64_t *files)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	d = opendir(path);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			*bytes += (uint64_t)st.st_size;
			(*files)++;
		}
	}
	closedir(d);
}

/*
 * Is the ext2/3/4 file system of device dev mounted with a journal?  The
 * kernel names the journal thread in /sys/fs/ext4/NAME/journal_task
 * ("<none>" without a journal), NAME being the block device's name.
 */
static bool
ext4_has_journal(dev_t dev)
{
	char link[64], target[4096], path[4200], text[32];
	const char *name;
	ssize_t n;
	FILE *f;

	snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev),
		minor(dev));
	n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return false;
	target[n] = '\0';
	name = strrchr(target, '/');
	name = name != NULL ? name + 1 : target;
	snprintf(path, sizeof path, "/sys/fs/ext4/%s/journal_task", name);
	f = fopen(path, "re");
	if (f == NULL)
		return false;
	n = (ssize_t)fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n > 0 ? n : 0] = '\0';
	return text[0] >= '0' && text[0] <= '9';
}

/*
 * Must a rename into dir be made durable by fsyncing dir?  Not when dir
 * is on the same file system as the spool and that file system commits
 * metadata changes in order (ext3/ext4 with a journal, xfs): there the
 * file's own fsync after the rename commits it (the rename changed the
 * file's inode, and the journal commits everything up to that change),
 * one flush instead of two.  The spool's file may be emptied and reused
 * only after that: its NULs and the next message's data are data, not
 * metadata, and they reach the disk with a data-only fdatasync that
 * commits nothing (docs/spool.md, "Reusing message files").  A Maildir
 * on another device than the spool gets the directory fsync, as before
 * this order existed (the file's fsync after the rename would commit it
 * there too, on such a file system: one flush that could be saved).  Not
 * on tmpfs either, where nothing survives a crash.
 * Elsewhere -- ext4 without a journal, ext2, btrfs (whose fsync log may
 * replay the spool's unlink without this rename), or when it cannot be
 * told -- yes.  Asked once per device.  Which of the three:
 */
enum fs_order {
	FS_DIR_SYNC, /* new/ must be fsynced after the rename */
	FS_ORDERED,  /* the file's fsync commits the journal, rename too */
	FS_VOLATILE, /* tmpfs: nothing survives a crash, nothing to commit */
};

static enum fs_order
fs_order(const char *dir, const char *spool_dir)
{
	static dev_t dev, spool_dev;
	static int spool_known = -1;
	static enum fs_order known;
	static bool asked;
	struct statfs sf;
	struct stat st;

	if (stat(dir, &st) != 0)
		return FS_DIR_SYNC;
	if (spool_known < 0) {
		struct stat sp;

		spool_known = spool_dir != NULL && stat(spool_dir, &sp) == 0;
		if (spool_known)
			spool_dev = sp.st_dev;
	}
	if (asked && st.st_dev == dev)
		return known;
	dev = st.st_dev;
	asked = true;
	known = FS_DIR_SYNC;
	if (statfs(dir, &sf) != 0)
		return FS_DIR_SYNC;
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
		known = FS_VOLATILE;
		break;
	case EXT4_SUPER_MAGIC:
		if (spool_known == 1 && spool_dev == st.st_dev &&
		    ext4_has_journal(st.st_dev))
			known = FS_ORDERED;
		break;
	case XFS_SUPER_MAGIC:
		if (spool_known == 1 && spool_dev == st.st_dev)
			known = FS_ORDERED;
		break;
	default:
		break;
	}
	return known;
}

/*
 * Where new/ needs no fsync of its own (ordered), the file is written
 * as an unnamed inode (O_TMPFILE) in tmp/ and given its one name in new/
 * by linkat() through /proc/self/fd, once its data are written out: no
 * name in tmp/ to create and remove, and no rename.  A rename between
 * two directories takes the file system's rename lock, held while it
 * waits for the journal, and every other such rename waits behind it:
 * the spool's own, of every reception and delivery (bench/RESULTS.md,
 * twelfth session).  The link needs no lock but new/'s.  Where the file
 * system or the kernel has no O_TMPFILE, or /proc is not there, a named
 * file in tmp/ and its rename (maildir_prepare asks for /proc in the
 * process that read the configuration, whose children inherit the
 * answer; a process's first O_TMPFILE tells the rest).
 */
static bool no_tmpfile;

void
maildir_prepare(const char *spool_dir)
{
	(void)host_part();
	if (spool_dir != NULL)
		(void)fs_order(spool_dir, spool_dir);
	/* Without /proc the unnamed file could not be linked. */
	if (access("/proc/self/fd", X_OK) != 0)
		no_tmpfile = true;
}

static int
sync_dir(const char *dir, char *err, size_t errlen, int *errno_out)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0) {
		FAILED("failed to fsync directory %s", dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Write the message to tmp/: created with O_EXCL under the unique name
 * tmp, or (unnamed) without a name in the directory tmp.  Put it on disk
 * before it gets its name in new/: fsynced when the rename will be
 * synced through the directory; else (ordered) written out, its blocks
 * allocated in the running journal transaction, so that whatever commit
 * carries the rename or link carries them too, without a commit of its
 * own (the fsync after it is the one commit).  Returns the open fd, or
 * -1 with the file removed; *fallback when this file system has no
 * unnamed files (a named one is to be tried).
 */
static int
write_tmp(const struct maildir_params *p, const char *tmp, bool unnamed,
	bool ordered, bool *fallback, char *err, size_t errlen,
	int *errno_out)
{
	int fd, e, r;

	fd = unnamed ? open(tmp, O_TMPFILE | O_WRONLY | O_CLOEXEC, p->mode) :
		open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			p->mode);
	if (fd < 0) {
		if (unnamed && (errno == EOPNOTSUPP || errno == EISDIR ||
		    errno == EINVAL)) {
			no_tmpfile = true;
			*fallback = true;
			return -1;
		}
		FAILED("failed to create %s%s", unnamed ? "a file in " : "",
			tmp);
		return -1;
	}
	if (fchmod(fd, (mode_t)p->mode) < 0) {
		FAILED("failed to set the mode of %s%s",
			unnamed ? "a file in " : "", tmp);
		goto out_fail;
	}
	if (p->write(p->arg, fd, err, errlen) < 0)
		r = -1;
	else if (ordered)
		r = sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE |
			SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
	else
		r = fsync(fd);
	if (r < 0) {
		e = errno;
		af_write_error(err, errlen, tmp, e);
		*errno_out = e;
		goto out_fail;
	}
	return fd;

out_fail:
	close(fd);
	if (!unnamed)
		unlink(tmp);
	return -1;
}

/*
 * Move tmp to new without replacing a file of that name: rename with
 * RENAME_NOREPLACE (one directory operation, no unlink), else link() and
 * unlink(), else a plain rename() where links are not allowed.
 */
static int
move_to_new(const char *tmp, const char *newp, char *err, size_t errlen,
	int *errno_out)
{
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, newp, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno == EEXIST) {
		FAILED("failed to move %s to %s", tmp, newp);
		unlink(tmp);
		return -1;
	}
	if (link(tmp, newp) == 0) {
		unlink(tmp);
		return 0;
	}
	if (errno != EEXIST && rename(tmp, newp) == 0)
		return 0;
	FAILED("failed to move %s to %s", tmp, newp);
	unlink(tmp);
	return -1;
}

/*
 * Give the unnamed file its name in new/, never replacing a file.  A
 * failure is the delivery's (deferred, with the reason): /proc was there
 * when the configuration was read.
 */
static int
link_unnamed(int fd, const char *newp, char *err, size_t errlen,
	int *errno_out)
{
	char proc[64];

	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, AT_FDCWD, newp, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	FAILED("failed to link a new file to %s", newp);
	return -1;
}

int
maildir_deliver(const struct maildir_params *p, char *err, size_t errlen,
	int *errno_out)
{
	char name[1400], tmp[4096], newp[4096], newdir[4096];
	bool ordered, fallback = false;
	enum fs_order order;
	int fd = -1;

	*errno_out = 0;
	err[0] = '\0';
	if (make_dirs(p, err, errlen, errno_out) < 0)
		return TERN_DEFER;
	if (p->quota.bytes > 0 || p->quota.files > 0) {
		uint64_t bytes = 0, files = 0;
		const char *over;

		dir_usage(p->dir, "new", &bytes, &files);
		dir_usage(p->dir, "cur", &bytes, &files);
		if ((over = af_quota_exceeded(&p->quota, bytes, files)) != NULL) {
			snprintf(err, errlen, "mailbox is full (MTA-imposed %s "
				"exceeded while writing to %s)", over, p->dir);
			*errno_out = EDQUOT;
			return TERN_DEFER;
		}
	}
	maildir_unique_name(name, sizeof name);
	/* Exim drops a tag that would make the name too long */
	if (p->tag != NULL && strlen(name) + strlen(p->tag) <= NAME_MAX)
		strcat(name, p->tag);
	snprintf(tmp, sizeof tmp, "%s/tmp", p->dir);
	snprintf(newp, sizeof newp, "%s/new/%s", p->dir, name);
	snprintf(newdir, sizeof newdir, "%s/new", p->dir);
	order = fs_order(newdir, p->spool_dir);
	ordered = order != FS_DIR_SYNC;
	if (ordered && !no_tmpfile) {
		fd = write_tmp(p, tmp, true, true, &fallback, err, errlen,
			errno_out);
		if (fd >= 0 && link_unnamed(fd, newp, err, errlen,
		    errno_out) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0 && !fallback)
			return TERN_DEFER;
	}
	if (fd < 0) {
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", p->dir, name);
		fd = write_tmp(p, tmp, false, ordered, &fallback, err, errlen,
			errno_out);
		if (fd < 0)
			return TERN_DEFER;
		if (move_to_new(tmp, newp, err, errlen, errno_out) < 0) {
			close(fd);
			return TERN_DEFER;
		}
	}
	/* A commit to share with the next delivery (not on tmpfs). */
	if (order == FS_ORDERED && p->share != NULL)
		(void)p->share(p->arg);
	if (ordered && fsync(fd) < 0) {
		FAILED("failed to fsync %s", newp);
		close(fd);
		unlink(newp); /* not known to be safe: retry it later */
		return TERN_DEFER;
	}
	if (close(fd) < 0) {
		FAILED("error closing %s", newp);
		unlink(newp);
		return TERN_DEFER;
	}
	if (!ordered && sync_dir(newdir, err, errlen, errno_out) < 0) {
		unlink(newp); /* not known to be safe: retry it later */
		return TERN_DEFER;
	}
	return TERN_OK;
}
