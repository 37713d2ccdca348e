/*
 * Queue inspection for administrators and users: listing (-bp, -bpc),
 * removing (-Mrm) and viewing (-Mvh, -Mvb, -Mvl) spooled messages.
 */
#include "queue/queue.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "spool/spool.h"

static const char *
prog(void)
{
	return rt.progname != NULL ? rt.progname : "tern";
}

/* Exim's age column: minutes, then hours past 90m, days past 72h. */
static void
format_age(char out[24], time_t age)
{
	long m = (long)((age < 0 ? 0 : age) + 30) / 60, h;

	if (m <= 90) {
		snprintf(out, 24, "%2ldm", m);
		return;
	}
	h = (m + 30) / 60;
	if (h <= 72)
		snprintf(out, 24, "%2ldh", h);
	else
		snprintf(out, 24, "%2ldd", (h + 12) / 24);
}

/* Five columns: bytes, then K or M with one decimal below ten. */
static void
format_size(char out[24], uint64_t size)
{
	const double k = 1024.0, mb = 1024.0 * 1024.0;

	if (size < 1024)
		snprintf(out, 24, "%5" PRIu64, size);
	else if (size < 10 * 1024)
		snprintf(out, 24, "%4.1fK", (double)size / k);
	else if (size < 1024 * 1024)
		snprintf(out, 24, "%4" PRIu64 "K", (size + 512) / 1024);
	else if (size < 10 * 1024 * 1024)
		snprintf(out, 24, "%4.1fM", (double)size / mb);
	else
		snprintf(out, 24, "%4" PRIu64 "M", (size + 512 * 1024) /
			(1024 * 1024));
}

static void
print_message(const struct message *m, time_t now, const char *note)
{
	char age[24], size[24];

	format_age(age, now - m->received);
	format_size(size, m->size);
	printf("%s %s %s <%s>%s%s\n", age, size, m->id, m->sender,
		m->frozen ? " *** frozen ***" : "", note);
	for (size_t i = 0; i < m->nrcpts; i++)
		printf("        %s %s\n", m->rcpts[i].done ? "D" : " ",
			m->rcpts[i].address);
	printf("\n");
}

int
queue_list(bool count_only)
{
	char **ids, *err = NULL;
	char **slots;
	size_t n, np;
	time_t now = time(NULL);

	if (spool_list(&ids, &n, true, &err) != 0) {
		fprintf(stderr, "%s: %s\n", prog(), err);
		return 1;
	}
	/* Kept in pool/ by the reception delivering it (docs/spool.md). */
	(void)spool_list_parked(&slots, &np);
	if (count_only) {
		size_t count = np;

		/* Receptions in progress are not (yet) messages. */
		for (size_t i = 0; i < n; i++)
			if (spool_committed(ids[i]))
				count++;
		printf("%zu\n", count);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct arena_mark mk = arena_mark(arena_msg);
		struct message m;
		int rc = spool_read(ids[i], &m, false, &err);

		if (rc == 0)
			print_message(&m, now, "");
		else if (rc < 0 && errno == ENOENT && m.other_id[0] != '\0')
			printf("%s *** holds message %s: the next queue run "
				"moves it to its own name, or reports it damaged "
				"***\n\n", ids[i], m.other_id);
		else if (rc < 0 && errno != ENOENT) /* ENOENT: completed */
			printf("%s *** spool read error: %s ***\n\n", ids[i],
				err);
		spool_close(&m);
		arena_release(arena_msg, mk);
	}
	for (size_t i = 0; i < np; i++) {
		struct arena_mark mk = arena_mark(arena_msg);
		struct message m;
		bool locked = false;
		int rc = spool_read_parked(slots[i], &m, &locked, &err);

		if (rc == 0)
			print_message(&m, now, locked ? " *** being delivered "
				"from pool/ ***" : " *** left in pool/: the next "
				"queue run delivers it ***");
		else if (rc < 0 && errno != ENOENT) /* ENOENT: completed */
			printf("pool/%s *** spool read error: %s ***\n\n",
				slots[i], err);
		spool_close(&m);
		arena_release(arena_msg, mk);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}

/*
 * Read message id for a command; prints why not and returns -1.  Only
 * the submitter and trusted callers may act on a message.
 */
static int
open_message(const char *id, struct message *m, bool lock)
{
	char *err = NULL;
	int rc = spool_read(id, m, lock, &err);

	if (rc == 1) {
		fprintf(stderr, "%s: message %s is locked (being delivered "
			"or received)\n", prog(), id);
		return -1;
	}
	if (rc != 0) {
		/* A file that held another message says which. */
		if (errno == ENOENT && m->other_id[0] == '\0')
			fprintf(stderr, "%s: message %s not found\n", prog(),
				id);
		else
			fprintf(stderr, "%s: %s\n", prog(), err);
		return -1;
	}
	if (!rt.caller_trusted && m->uid != rt.real_uid) {
		fprintf(stderr, "%s: message %s: permission denied (not "
			"submitted by you)\n", prog(), id);
		spool_close(m);
		return -1;
	}
	return 0;
}

int
queue_remove(const char *id)
{
	struct message m;
	char *err = NULL;
	const char *who = rt.caller_login ? rt.caller_login : "unknown";

	if (open_message(id, &m, true) != 0)
		return 1;
	/* Removed while the lock is held: no delivery can start meanwhile. */
	if (spool_remove(&m, &err) != 0) {
		fprintf(stderr, "%s: %s\n", prog(), err);
		spool_close(&m);
		return 1;
	}
	spool_close(&m);
	log_write(TERN_LOG_MAIN, id, "removed by %s", who);
	log_write(TERN_LOG_MAIN, id, "Completed");
	printf("Message %s has been removed\n", id);
	return 0;
}

int
queue_freeze(const char *id, bool freeze)
{
	struct message m;
	char *err = NULL;
	const char *who = rt.caller_login ? rt.caller_login : "unknown";

	if (open_message(id, &m, true) != 0)
		return 1;
	if (m.frozen == freeze) {
		spool_close(&m);
		printf("Message %s is %s frozen\n", id, freeze ? "already" :
			"not");
		return 0;
	}
	m.frozen = freeze;
	if (spool_rewrite_header(&m, &err) != 0) {
		fprintf(stderr, "%s: %s\n", prog(), err);
		spool_close(&m);
		return 1;
	}
	spool_msglog(id, "%s by %s", freeze ? "frozen" : "unfrozen", who);
	spool_close(&m);
	log_write(TERN_LOG_MAIN, id, "%s by %s", freeze ? "frozen" :
		"unfrozen", who);
	printf("Message %s is %s\n", id, freeze ? "now frozen" :
		"no longer frozen");
	return 0;
}

/* Copy fd from offset to end (0: the end of the file) to stdout. */
static int
copy_out(int fd, off_t offset, off_t end, const char *path)
{
	char buf[65536];
	ssize_t n;

	fflush(stdout);
	for (;;) {
		size_t want = sizeof(buf);

		if (end > 0 && end - offset < (off_t)want)
			want = end > offset ? (size_t)(end - offset) : 0;
		if (want == 0)
			break;
		if ((n = io_pread_full(fd, buf, want, offset)) < 0) {
			fprintf(stderr, "%s: read %s: %m\n", prog(), path);
			return 1;
		}
		if (n == 0)
			break;
		offset += n;
		if (io_write_all(STDOUT_FILENO, buf, (size_t)n) != 0)
			return 1;
	}
	return 0;
}

/* Print section which ('H': header section, 'L': message log) of id. */
static int
view_file(const char *id, char which)
{
	struct message m;
	char *text, *err = NULL;
	size_t len;
	int rc;

	if (open_message(id, &m, false) != 0)
		return 1;
	rc = spool_section(&m, which, &text, &len, &err);
	/*
	 * Read without a lock (a delivery may run): if the message was
	 * completed meanwhile and its file reused, what was read is another
	 * message's.
	 */
	if (!spool_still(&m)) {
		spool_close(&m);
		fprintf(stderr, "%s: message %s not found\n", prog(), id);
		return 1;
	}
	spool_close(&m);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", prog(), err);
		return 1;
	}
	if (which == 'L' && len == 0) {
		fprintf(stderr, "%s: no message log for %s\n", prog(), id);
		return 1;
	}
	return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ?
		0 : 1;
}

int
queue_view_header(const char *id)
{
	return view_file(id, 'H');
}

int
queue_view_log(const char *id)
{
	return view_file(id, 'L');
}

int
queue_view_body(const char *id)
{
	struct message m;
	int rc;

	if (open_message(id, &m, false) != 0)
		return 1;
	/*
	 * A file that can be reused (docs/spool.md: at most 64 KiB) is read
	 * whole and shown only if it is still this message afterwards; a
	 * bigger one is removed when done, and its data stay.
	 */
	if (m.body_end <= SPOOL_REUSE_SIZE) {
		size_t len = (size_t)(m.body_end - m.body_offset);
		char *body = arena_alloc(arena_msg, len + 1);
		ssize_t n = io_pread_full(m.data_fd, body, len, m.body_offset);
		int read_errno = errno;
		bool still = spool_still(&m);

		spool_close(&m);
		if (!still) {
			fprintf(stderr, "%s: message %s not found\n", prog(),
				id);
			return 1;
		}
		if (n != (ssize_t)len) {
			fprintf(stderr, "%s: read %s: %s\n", prog(),
				spool_path(id, 'M'), n < 0 ? strerror(read_errno) :
				"file ends before the body does");
			return 1;
		}
		return fwrite(body, 1, len, stdout) == len &&
			fflush(stdout) == 0 ? 0 : 1;
	}
	rc = copy_out(m.data_fd, m.body_offset, m.body_end,
		spool_path(id, 'M'));
	spool_close(&m);
	return rc;
}
