/*
 * Logging.  Each line is formatted completely in memory and written with
 * one write(2) to a file opened O_APPEND, so lines from concurrent
 * processes never interleave.  A process keeps each log file open and,
 * at most once a second, compares the path's inode with the open file's:
 * a log rotated by renaming is reopened within a second, with no signal
 * (Exim checks the same way).  An open file also keeps a process that
 * changed uid logging.
 */
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/selector.h"

#ifndef TERN_SPOOL_DEFAULT
#define TERN_SPOOL_DEFAULT "/var/spool/tern"
#endif

#define EX_TEMPFAIL_ 75

bool log_debug_enabled;
bool log_to_stderr;

enum { LOG_IDX_MAIN, LOG_IDX_REJECT, LOG_IDX_PANIC, LOG_NFILES };

static const char *const log_names[LOG_NFILES] = { "main", "reject", "panic" };

static struct {
	bool initialized;
	bool use_syslog;
	bool has_file;
	bool open_failed_reported;
	char path[LOG_NFILES][PATH_MAX];
	/* The open files: fd + 1 (0: none), inode, when last checked. */
	int    fd1[LOG_NFILES];
	dev_t  dev[LOG_NFILES];
	ino_t  ino[LOG_NFILES];
	time_t checked[LOG_NFILES];
} lg;

static void
close_logs(void)
{
	for (int i = 0; i < LOG_NFILES; i++)
		if (lg.fd1[i] > 0) {
			close(lg.fd1[i] - 1);
			lg.fd1[i] = 0;
		}
}

/* Expand each "%s" in tmpl to name into out.  False when too long. */
static bool
expand_path(char *out, size_t size, const char *tmpl, size_t tlen,
	const char *name)
{
	size_t o = 0, nlen = strlen(name);

	for (size_t i = 0; i < tlen; i++) {
		if (tmpl[i] == '%' && i + 1 < tlen && tmpl[i + 1] == 's') {
			if (o + nlen >= size)
				return false;
			memcpy(out + o, name, nlen);
			o += nlen;
			i++;
			continue;
		}
		if (o + 1 >= size)
			return false;
		out[o++] = tmpl[i];
	}
	out[o] = '\0';
	return true;
}

/* Set the file paths from one template; false if it does not fit. */
static bool
set_file_template(const char *tmpl, size_t tlen)
{
	for (int i = 0; i < LOG_NFILES; i++)
		if (!expand_path(lg.path[i], sizeof(lg.path[i]), tmpl, tlen,
		    log_names[i]))
			return false;
	lg.has_file = true;
	return true;
}

/* Trim blanks at both ends of [*p, *p + *len). */
static void
trim(const char **p, size_t *len)
{
	while (*len > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
		(*len)--;
}

/*
 * log_file_path is a colon list: "syslog" sends lines to syslog(3), the
 * first other item is the file template.  Further file items are ignored.
 */
void
log_init(void)
{
	const char *spec = conf.log_file_path;
	char def[PATH_MAX];

	close_logs();
	memset(&lg, 0, sizeof(lg));
	if (spec == NULL || *spec == '\0') {
		const char *sd = conf.spool_directory;

		if (sd == NULL || *sd == '\0')
			sd = TERN_SPOOL_DEFAULT;
		snprintf(def, sizeof(def), "%s/log/%%slog", sd);
		spec = def;
	}
	for (const char *p = spec; *p != '\0';) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *item = p;

		p = end ? end + 1 : p + len;
		trim(&item, &len);
		if (len == 0)
			continue;
		if (len == 6 && strncmp(item, "syslog", 6) == 0)
			lg.use_syslog = true;
		else if (!lg.has_file && !set_file_template(item, len))
			fprintf(stderr, "tern: log_file_path: path too long\n");
	}
	if (lg.use_syslog)
		openlog("tern", LOG_PID | LOG_NDELAY, LOG_MAIL);
	lg.initialized = true;
}

/* Create the directories leading to path (mode 0750), owned by tern_user. */
static void
make_parent_dirs(const char *path)
{
	char dir[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(dir))
		return;
	memcpy(dir, path, len + 1);
	for (char *s = dir + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(dir, 0750) == 0 && geteuid() == 0 && rt.tern_uid != 0)
			(void)!chown(dir, rt.tern_uid, rt.tern_gid);
		*s = '/';
	}
}

/* Open a log file for appending, creating it (and its directory). */
static int
open_log(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);

	if (fd >= 0 || errno != ENOENT)
		return fd;
	make_parent_dirs(path);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
		0640);
	if (fd >= 0 && geteuid() == 0 && rt.tern_uid != 0)
		(void)!fchown(fd, rt.tern_uid, rt.tern_gid);
	return fd;
}

/*
 * The open log file idx: the cached one unless the path now names
 * another file (rotated, removed), checked at most once a second.
 */
static int
log_fd(int idx)
{
	time_t now = time(NULL);
	struct stat st;
	int fd;

	if (lg.fd1[idx] > 0) {
		int rc;

		if (lg.checked[idx] == now)
			return lg.fd1[idx] - 1;
		rc = stat(lg.path[idx], &st);
		/*
		 * Reopen only when the path names another file or none: a
		 * process that cannot look (a local delivery running as the
		 * recipient, who may not search the log directory) keeps the
		 * file it has.
		 */
		if ((rc == 0 && st.st_dev == lg.dev[idx] &&
		    st.st_ino == lg.ino[idx]) || (rc != 0 && errno != ENOENT)) {
			lg.checked[idx] = now;
			return lg.fd1[idx] - 1;
		}
		close(lg.fd1[idx] - 1);
		lg.fd1[idx] = 0;
	}
	fd = open_log(lg.path[idx]);
	if (fd >= 0 && fd <= 2) {
		/*
		 * Started with stdio closed: a descriptor kept for years must
		 * not be one that a later dup2() of /dev/null onto 0-2 (the
		 * daemon detaching, a delivery) would silently replace.
		 */
		int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);

		close(fd);
		fd = high;
	}
	if (fd < 0 || fstat(fd, &st) != 0)
		return fd;
	lg.fd1[idx] = fd + 1;
	lg.dev[idx] = st.st_dev;
	lg.ino[idx] = st.st_ino;
	lg.checked[idx] = now;
	return fd;
}

/* Append line to log file idx; false when it could not be written. */
static bool
write_file(int idx, const char *line, size_t len)
{
	int fd, saved = errno;

	if (!lg.initialized || !lg.has_file)
		return false;
	fd = log_fd(idx);
	if (fd < 0) {
		if (!lg.open_failed_reported) {
			lg.open_failed_reported = true;
			fprintf(stderr, "tern: cannot open %s: %m\n",
				lg.path[idx]);
		}
		errno = saved;
		return false;
	}
	(void)io_write_all(fd, line, len);
	if (lg.fd1[idx] == 0)
		close(fd); /* opened, but could not be kept */
	errno = saved;
	return true;
}

/*
 * Copy text to out, replacing CR and LF with "\r" and "\n" so that one
 * call gives exactly one line.  Returns the length written; stops
 * (truncating) when out is full.
 */
static size_t
copy_one_line(char *out, size_t size, const char *text)
{
	size_t o = 0;

	for (const char *s = text; *s != '\0' && o + 3 < size; s++) {
		if (*s == '\n' || *s == '\r') {
			out[o++] = '\\';
			out[o++] = *s == '\n' ? 'n' : 'r';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
	return o;
}

/* "YYYY-MM-DD HH:MM:SS" in local time; ".mmm" after it (millisec). */
static void
timestamp(char out[32])
{
	struct timespec now;
	struct tm tm;
	size_t n;

	if (clock_gettime(CLOCK_REALTIME, &now) != 0) {
		now.tv_sec = time(NULL);
		now.tv_nsec = 0;
	}
	if (localtime_r(&now.tv_sec, &tm) == NULL ||
	    (n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm)) == 0) {
		snprintf(out, 32, "%lld", (long long)now.tv_sec);
		return;
	}
	if (LOG_SEL(millisec))
		snprintf(out + n, 32 - n, ".%03ld", now.tv_nsec / 1000000);
}

static void
to_syslog(int where, const char *id, const char *text)
{
	int pri = (where & TERN_LOG_PANIC) ? LOG_ALERT
		: (where & TERN_LOG_REJECT) ? LOG_NOTICE : LOG_INFO;

	if (id != NULL)
		syslog(pri, "%s %s", id, text);
	else
		syslog(pri, "%s", text);
}

struct held_line {
	int               where;
	char             *id;
	char             *text;
	struct held_line *next;
};

static bool holding;
static struct held_line *held, **held_tail = &held;

void
log_hold(void)
{
	holding = true;
}

static void log_emit(int where, const char *id, const char *text);

void
log_hold_end(bool write)
{
	struct held_line *h = held, *next;

	holding = false;
	held = NULL;
	held_tail = &held;
	for (; h != NULL; h = next) {
		next = h->next;
		if (write)
			log_emit(h->where, h->id, h->text);
		free(h->id);
		free(h->text);
		free(h);
	}
}

/* false: could not keep it (out of memory): write it now. */
static bool
hold_line(int where, const char *id, const char *text)
{
	struct held_line *h = calloc(1, sizeof(*h));

	if (h == NULL || (h->text = strdup(text)) == NULL ||
	    (id != NULL && (h->id = strdup(id)) == NULL)) {
		if (h != NULL) {
			free(h->text);
			free(h);
		}
		return false;
	}
	h->where = where;
	*held_tail = h;
	held_tail = &h->next;
	return true;
}

static const char *reject_tail;

void
log_reject_tail(const char *tail)
{
	reject_tail = tail;
}

/* The rejectlog's line with the tail after it, in one write. */
static bool
write_reject(const char *line, size_t n, const char *tail)
{
	static char buf[LOG_REJECT_TAIL_MAX];
	static const char cut[] = "*** truncated ***\n";
	size_t tl = strlen(tail), room = sizeof(buf) - n;

	if (n >= sizeof(buf) - sizeof(cut))
		return write_file(LOG_IDX_REJECT, line, n);
	memcpy(buf, line, n);
	if (tl <= room) {
		memcpy(buf + n, tail, tl);
		n += tl;
	} else {
		size_t keep = room - (sizeof(cut) - 1);

		/* whole lines only */
		while (keep > 0 && tail[keep - 1] != '\n')
			keep--;
		memcpy(buf + n, tail, keep);
		memcpy(buf + n + keep, cut, sizeof(cut) - 1);
		n += keep + sizeof(cut) - 1;
	}
	return write_file(LOG_IDX_REJECT, buf, n);
}

/* Emit the formatted, single-line text to every destination in where. */
static void
log_emit(int where, const char *id, const char *text)
{
	char ts[32], head[96], line[8192];
	int n, hn;
	bool to_err = false;

	if (holding && where != TERN_LOG_DEBUG && hold_line(where, id, text)) {
		if (where & TERN_LOG_REJECT)
			reject_tail = NULL; /* not kept with a held line */
		return;
	}

	timestamp(ts);
	if (LOG_SEL(pid))
		hn = snprintf(head, sizeof(head), "%s [%ld]%s%s ", ts,
			(long)getpid(), id ? " " : "", id ? id : "");
	else
		hn = snprintf(head, sizeof(head), "%s%s%s ", ts,
			id ? " " : "", id ? id : "");
	if (hn < 0 || (size_t)hn >= sizeof(head))
		hn = 0;
	n = snprintf(line, sizeof(line), "%s%s\n", head, text);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (where & TERN_LOG_MAIN) {
		if (!write_file(LOG_IDX_MAIN, line, (size_t)n) ||
		    log_to_stderr)
			to_err = true;
	}
	if (where & TERN_LOG_REJECT) {
		const char *tail = reject_tail;

		reject_tail = NULL;
		if (!(tail != NULL ? write_reject(line, (size_t)n, tail) :
		    write_file(LOG_IDX_REJECT, line, (size_t)n)))
			to_err = true;
	}
	if ((where & TERN_LOG_DEBUG) && log_debug_enabled)
		to_err = true;
	if (where & TERN_LOG_PANIC) {
		/* The paniclog line carries the pid; it always reaches stderr. */
		n = snprintf(line, sizeof(line), "%s [%ld] %s%s%s\n", ts,
			(long)getpid(), id ? id : "", id ? " " : "", text);
		if (n < 0)
			return;
		if ((size_t)n >= sizeof(line)) {
			n = sizeof(line) - 1;
			line[n - 1] = '\n';
		}
		(void)write_file(LOG_IDX_PANIC, line, (size_t)n);
		to_err = true;
	}
	if (lg.use_syslog && (where & ~TERN_LOG_DEBUG) != 0)
		to_syslog(where, id, text);
	if (to_err)
		(void)io_write_all(STDERR_FILENO, line, (size_t)n);
}

void
log_vwrite(int where, const char *id, const char *fmt, va_list ap)
{
	char raw[8192], text[8192 * 2];
	int saved = errno, n;

	if (where == TERN_LOG_DEBUG && !log_debug_enabled)
		return;
	/* vsnprintf keeps errno for %m: restore it first. */
	errno = saved;
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	if (n < 0)
		memcpy(raw, "(bad log format)", sizeof("(bad log format)"));
	else if ((size_t)n >= sizeof(raw))
		memcpy(raw + sizeof(raw) - sizeof(" [truncated]"),
			" [truncated]", sizeof(" [truncated]"));
	copy_one_line(text, sizeof(text), raw);
	log_emit(where, id, text);
	errno = saved;
}

void
log_write(int where, const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(where, id, fmt, ap);
	va_end(ap);
}

_Noreturn void
tern_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(TERN_LOG_PANIC, NULL, fmt, ap);
	va_end(ap);
	exit(EX_TEMPFAIL_);
}

_Noreturn void
tern_panic(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(TERN_LOG_PANIC, NULL, fmt, ap);
	va_end(ap);
	abort();
}
