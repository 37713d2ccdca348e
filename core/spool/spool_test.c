/*
 * The spool: message ids, the ID-M format (first line, body, header
 * section, D and L records), the commit protocol, reading with a lock,
 * torn records, rewriting, incomplete receptions, removal and garbage;
 * the mainlog line format and the -bp listing, which read what the spool
 * wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "queue/queue.h"
#include "spool/spool.h"
#include "spool/internal.h"

static char spool_dir[] = "/tmp/tern-spool-test-XXXXXX";

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
test_id_shape(void **state)
{
	static const char *bad[] = { "", "1tX9aB-0004Kd-Q2ab3Z",
		"../../../etc/passwd-xxx", "1tX9aB-0004Kd/Q2ab3Zabc",
		"1tX9aB-0004Kd-Q2ab3Zabcd", "1tX9aB_0004Kd-Q2ab3Zabc",
		"1tX9aB-0004Kd-Q2ab3Z..c", "1tX9aB-0004Kd-Q2ab3Zab\n" };
	char id[MESSAGE_ID_LEN + 1];

	(void)state;
	spool_new_id(id);
	assert_int_equal(strlen(id), MESSAGE_ID_LEN);
	if (!spool_id_valid(id))
		fail_msg("new id \"%s\": got invalid, want valid", id);
	assert_true(spool_id_valid("1tX9aB-0004Kd-Q2ab3Zabc"));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (spool_id_valid(bad[i]))
			fail_msg("id \"%s\": got valid, want invalid", bad[i]);
	assert_false(spool_id_valid(NULL));
}

/* The id says when reception began (QT=, docs/log.md). */
static void
test_id_time(void **state)
{
	char id[MESSAGE_ID_LEN + 1];
	struct timeval before, at, after;

	(void)state;
	gettimeofday(&before, NULL);
	spool_new_id(id);
	gettimeofday(&after, NULL);
	assert_int_equal(spool_id_time(id, &at), 0);
	assert_true(timercmp(&before, &at, <=));
	assert_true(timercmp(&at, &after, <=));
	/* "0000Gx" is 16 * 62 + 59 seconds, "00G8" 16 * 62 + 8 us */
	assert_int_equal(spool_id_time("0000Gx-000001-00G8abcde", &at), 0);
	assert_int_equal(at.tv_sec, 16 * 62 + 59);
	assert_int_equal(at.tv_usec, 16 * 62 + 8);
	/* microseconds that cannot be */
	assert_int_equal(spool_id_time("0000Gx-000001-zzzzabcde", &at), -1);
	assert_int_equal(spool_id_time("not an id", &at), -1);
}

#define IDS_PER_PROC 3000
#define PROCS        4

/* Ids from several processes at once are all distinct and sort by time. */
static void
test_id_unique(void **state)
{
	char (*ids)[MESSAGE_ID_LEN + 1] = calloc(IDS_PER_PROC * (PROCS + 1) + 1,
		sizeof(*ids));
	char **sorted = calloc(IDS_PER_PROC * (PROCS + 1), sizeof(char *));
	size_t n = 0;
	int fds[PROCS][2];

	(void)state;
	assert_non_null(ids);
	for (int p = 0; p < PROCS; p++) {
		assert_int_equal(pipe(fds[p]), 0);
		if (fork() == 0) {
			char id[MESSAGE_ID_LEN + 1];

			for (int i = 0; i < IDS_PER_PROC; i++) {
				spool_new_id(id);
				if (write(fds[p][1], id, MESSAGE_ID_LEN) !=
				    MESSAGE_ID_LEN)
					_exit(1);
			}
			_exit(0);
		}
		close(fds[p][1]);
	}
	for (int i = 0; i < IDS_PER_PROC; i++, n++) {
		spool_new_id(ids[n]);
		if (i > 0 && strcmp(ids[n - 1], ids[n]) >= 0)
			fail_msg("ids out of order: \"%s\" then \"%s\"",
			    ids[n - 1], ids[n]);
	}
	for (int p = 0; p < PROCS; p++) {
		while (read(fds[p][0], ids[n], MESSAGE_ID_LEN) == MESSAGE_ID_LEN)
			n++;
		close(fds[p][0]);
		wait(NULL);
	}
	assert_int_equal(n, IDS_PER_PROC * (PROCS + 1));
	for (size_t i = 0; i < n; i++) {
		if (!spool_id_valid(ids[i]))
			fail_msg("id \"%s\": got invalid", ids[i]);
		sorted[i] = ids[i];
	}
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	for (size_t i = 1; i < n; i++)
		if (strcmp(sorted[i - 1], sorted[i]) == 0)
			fail_msg("duplicate id \"%s\"", sorted[i]);
	free(sorted);
	free(ids);
}

static struct header *
hdr(const char *text, char type, struct header *next)
{
	struct header *h = arena_zalloc(arena_msg, sizeof(*h));

	h->text = arena_strdup(arena_msg, text);
	h->len = strlen(text);
	h->type = type;
	h->next = next;
	return h;
}

static const char body[] = "Hello,\n.dot line\nFrom me\n\xe9t\xe9 8-bit\n";

/* make_message parks the file (spool_data_park) instead of closing it. */
static bool park_it;

/* A message as reception would fill it, spooled. */
static void
make_message(struct message *m)
{
	static struct recipient rcpts[3];
	char *err = NULL;
	int fd;

	memset(m, 0, sizeof(*m));
	m->data_fd = -1;
	m->sender = "sender@src.example";
	m->received = 1700000000;
	m->uid = 1000;
	m->gid = 100;
	m->ident = "alice";
	m->received_protocol = "esmtp";
	m->host_address = "2001:db8::1";
	m->host_port = 51234;
	m->host_name = "client.src.example";
	m->helo_name = "helo name\twith tab";
	m->interface_address = "192.0.2.25";
	m->interface_port = 25;
	m->authenticated_id = "alice\\x";
	m->body_linecount = 4;
	rcpts[0] = (struct recipient){ .address = "one@dst.example" };
	rcpts[1] = (struct recipient){
		.address = "\"two\ttab\\\"\"@dst.example",
		.orcpt = "rfc822;Two@dst.example" };
	rcpts[2] = (struct recipient){ .address = "three@dst.example",
		.done = true };
	m->rcpts = rcpts;
	m->nrcpts = 3;
	m->headers = hdr("Received: from client\n\tby us\n", HDR_RECEIVED,
		hdr("Subject: hi\n", HDR_NORMAL,
		hdr("Bcc: secret@x.example\n", HDR_DELETED,
		hdr("To: one@dst.example\n", HDR_TO, NULL))));
	fd = spool_data_create(m, &err);
	if (fd < 0)
		fail_msg("spool_data_create: %s", err);
	/* Part written through fd, the rest handed to the commit. */
	assert_int_equal(write(fd, body, 7), 7);
	spool_msglog(m->id, "received");
	if (spool_commit(m, fd, body + 7, sizeof(body) - 1 - 7, &err) != 0)
		fail_msg("spool_commit: %s", err);
	if (park_it)
		spool_data_park(m, fd);
	else
		spool_data_close(m, fd);
}

/* The whole of file path (arena_scratch). */
static char *
slurp(const char *path, size_t *len_out)
{
	struct stat st;
	char *text;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	text = arena_zalloc(arena_scratch, (size_t)st.st_size + 1);
	assert_int_equal(pread(fd, text, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*len_out = (size_t)st.st_size;
	return text;
}

static void
append(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_APPEND);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static ino_t
inode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void
check_same(const struct message *got, const struct message *want)
{
	const struct header *g = got->headers, *w = want->headers;

	assert_string_equal(got->id, want->id);
	assert_string_equal(got->sender, want->sender);
	assert_int_equal(got->received, want->received);
	assert_int_equal(got->uid, want->uid);
	assert_int_equal(got->gid, want->gid);
	assert_string_equal(got->ident, want->ident);
	assert_string_equal(got->received_protocol, want->received_protocol);
	assert_string_equal(got->host_address, want->host_address);
	assert_int_equal(got->host_port, want->host_port);
	assert_string_equal(got->host_name, want->host_name);
	assert_string_equal(got->helo_name, want->helo_name);
	assert_string_equal(got->interface_address, want->interface_address);
	assert_int_equal(got->interface_port, want->interface_port);
	assert_string_equal(got->authenticated_id, want->authenticated_id);
	assert_null(got->errors_to);
	assert_int_equal(got->body_linecount, want->body_linecount);
	assert_int_equal(got->nrcpts, want->nrcpts);
	for (size_t i = 0; i < got->nrcpts; i++) {
		assert_string_equal(got->rcpts[i].address,
			want->rcpts[i].address);
		assert_int_equal(got->rcpts[i].done, want->rcpts[i].done);
		if (want->rcpts[i].orcpt == NULL)
			assert_null(got->rcpts[i].orcpt);
		else
			assert_string_equal(got->rcpts[i].orcpt,
				want->rcpts[i].orcpt);
	}
	for (; w != NULL; g = g->next, w = w->next) {
		assert_non_null(g);
		assert_int_equal(g->len, w->len);
		assert_memory_equal(g->text, w->text, w->len);
		assert_int_equal(g->type, w->type);
	}
	assert_null(g);
}

static bool
file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* Run fn with stdout into a file; the output in arena_scratch. */
static char *
capture(int (*fn)(bool), bool arg, int *rc_out)
{
	char path[] = "/tmp/tern-spool-out-XXXXXX", *text;
	int fd = mkstemp(path), saved = dup(1);
	off_t len;

	fflush(stdout);
	dup2(fd, 1);
	*rc_out = fn(arg);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	len = lseek(fd, 0, SEEK_END);
	text = arena_zalloc(arena_scratch, (size_t)len + 1);
	assert_int_equal(pread(fd, text, (size_t)len, 0), len);
	close(fd);
	unlink(path);
	return text;
}

static void
test_round_trip(void **state)
{
	struct message m, r;
	char *err = NULL, got[sizeof(body)];
	char **ids;
	size_t n;

	(void)state;
	make_message(&m);
	assert_true(spool_id_valid(m.id));
	assert_true(file_exists(spool_path(m.id, 'M')));
	assert_false(file_exists(arena_printf(arena_scratch, "%s.tmp",
		spool_path(m.id, 'M'))));
	assert_int_equal(spool_list(&ids, &n, true, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(ids[0], m.id);

	if (spool_read(m.id, &r, true, &err) != 0)
		fail_msg("spool_read: %s", err);
	check_same(&r, &m);
	/* Body bytes intact after the first line; deleted Bcc: not counted. */
	assert_int_equal(r.body_offset, MESSAGE_ID_LEN + 20);
	assert_int_equal(r.body_end, r.body_offset + sizeof(body) - 1);
	assert_int_equal(m.body_end, r.body_end);
	assert_int_equal(pread(r.data_fd, got, sizeof(body) - 1,
		r.body_offset), sizeof(body) - 1);
	assert_memory_equal(got, body, sizeof(body) - 1);
	assert_int_equal(r.size, sizeof(body) - 1 + 29 + 12 + 20);
	assert_int_equal(m.size, r.size);
	spool_close(&r);
	assert_int_equal(spool_remove(&m, &err), 0);
}

/* Wait for a test's child; fail with what unless it exited with 0. */
static void
child_ok(pid_t pid, const char *what)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s", what);
}

/* While one process holds the lock, another gets 1, not an error. */
static void
test_lock(void **state)
{
	struct message m, r;
	char *err = NULL;
	pid_t pid;

	(void)state;
	make_message(&m);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	pid = fork();
	if (pid == 0) {
		struct message c;
		int rc = spool_read(m.id, &c, true, &err);

		_exit(rc == 1 ? 0 : 1);
	}
	child_ok(pid, "locked message: got rc != 1 in a second process");
	spool_close(&r);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	spool_close(&r);
	assert_int_equal(spool_remove(&m, &err), 0);
}

static double
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 +
		(double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * spool_read_wait (DELIVER_HANDED): a lock held for a moment is waited
 * for; one held longer than the wait gives 1 once the wait is over.
 */
static void
test_lock_wait(void **state)
{
	struct message m, r;
	char *err = NULL;
	int go[2];
	pid_t pid;
	char c;

	(void)state;
	make_message(&m);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);

	/* Held all along: 1, after the wait and not before. */
	pid = fork();
	if (pid == 0) {
		struct message x;
		struct timespec t0;
		int rc;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = spool_read_wait(m.id, &x, 40, &err);
		_exit(rc == 1 && ms_since(&t0) >= 40 ? 0 : 1);
	}
	child_ok(pid, "lock held past the wait: want 1 after 40 ms");

	/* Let go while the other waits: it gets the message, locked. */
	assert_int_equal(pipe(go), 0);
	pid = fork();
	if (pid == 0) {
		struct message x;
		int rc;

		close(go[0]);
		if (spool_read(m.id, &x, true, &err) != 1)
			_exit(2); /* held when the wait starts */
		if (write(go[1], "w", 1) != 1)
			_exit(3);
		rc = spool_read_wait(m.id, &x, 10000, &err);
		_exit(rc == 0 && x.data_fd >= 0 ? 0 : 1);
	}
	close(go[1]);
	assert_int_equal(read(go[0], &c, 1), 1);
	close(go[0]);
	(void)usleep(50 * 1000); /* it is waiting now */
	spool_close(&r);
	child_ok(pid, "lock let go during the wait: want the message read");

	/* Without a wait: 1 at once, as spool_read. */
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	pid = fork();
	if (pid == 0) {
		struct message x;

		_exit(spool_read_wait(m.id, &x, 0, &err) == 1 ? 0 : 1);
	}
	child_ok(pid, "no wait: want 1 at once");
	spool_close(&r);
	assert_int_equal(spool_remove(&m, &err), 0);
}

static void
test_journal_and_rewrite(void **state)
{
	struct message m, r;
	char *err = NULL;
	const char *path;
	char *text, *log;
	size_t len;
	ino_t ino;

	(void)state;
	make_message(&m);
	path = spool_path(m.id, 'M');
	ino = inode(path);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_int_equal(spool_journal_add(&r, "one@dst.example", &err), 0);
	assert_int_equal(spool_journal_add(&r, "child\n@alias.example", &err),
		0);
	spool_msglog(m.id, "=> one@dst.example R=x T=y");
	assert_true(r.rcpts[0].done);
	spool_close(&r);
	/* Appended in place: the same file, no other file. */
	assert_int_equal(inode(path), ino);
	text = slurp(path, &len);
	if (strstr(text, "\nD one@dst.example\nD child\\x0a@alias.example\n"
	    "L ") == NULL)
		fail_msg("records: got \"%s\"", text);

	/* A crash now: the next reader applies the D records. */
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_true(r.rcpts[0].done);
	assert_false(r.rcpts[1].done);
	assert_true(r.rcpts[2].done);
	assert_true(spool_is_delivered(&r, "child\n@alias.example"));
	assert_false(spool_is_delivered(&r, "\"two\ttab\\\"\"@dst.example"));

	/* Nothing but new D records: no rewrite. */
	r.rcpts[1].done = true;
	assert_int_equal(spool_update(&r, &err), 0);
	assert_int_equal(inode(path), ino);
	r.rcpts[1].done = false;
	spool_close(&r);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_true(r.rcpts[1].done);
	r.rcpts[1].done = false; /* only in memory: the rewrite keeps it */

	r.frozen = true;
	r.warning_count = 2;
	if (spool_update(&r, &err) != 0)
		fail_msg("spool_update: %s", err);
	assert_true(inode(path) != ino);
	assert_false(file_exists(arena_printf(arena_scratch, "%s.tmp", path)));
	/* The new file is locked by us, through m->data_fd. */
	spool_msglog(m.id, "frozen by test");
	assert_int_equal(spool_journal_add(&r, "late@alias.example", &err), 0);
	spool_close(&r);

	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_true(r.rcpts[0].done);
	assert_false(r.rcpts[1].done);
	assert_true(r.frozen);
	assert_int_equal(r.warning_count, 2);
	assert_int_equal(r.ndelivered, 2);
	assert_string_equal(r.delivered[0], "child\n@alias.example");
	assert_string_equal(r.delivered[1], "late@alias.example");
	assert_int_equal(r.body_end, r.body_offset + sizeof(body) - 1);
	/* -Mvl: the log lines, kept across the rewrite; -Mvh no records */
	assert_int_equal(spool_section(&r, 'L', &log, &len, &err), 0);
	if (strstr(log, " received\n") == NULL ||
	    strstr(log, " => one@dst.example R=x T=y\n") == NULL ||
	    strstr(log, " frozen by test\n") == NULL)
		fail_msg("-Mvl: got \"%s\"", log);
	assert_int_equal(spool_section(&r, 'H', &text, &len, &err), 0);
	assert_true(strncmp(text, m.id, MESSAGE_ID_LEN) == 0);
	assert_true(memmem(text, len, "\nD ", 3) == NULL);
	assert_true(memmem(text, len, "-frozen\n", 8) != NULL);
	spool_close(&r);

	assert_int_equal(spool_remove(&m, &err), 0);
	assert_false(file_exists(path));
	assert_int_equal(spool_read(m.id, &r, false, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(spool_remove(&m, &err), -1);
}

/*
 * Write "ID-H\n" + rest (or just rest) as the header section of a new
 * message and expect err_part on reading.
 */
static void
expect_bad_header(bool id_line, const char *rest, const char *err_part)
{
	struct message m, r;
	char *err = NULL, *text;
	FILE *f;

	make_message(&m);
	text = id_line ? arena_printf(arena_scratch, "%s-H\n%s", m.id, rest)
		: arena_strdup(arena_scratch, rest);
	assert_int_equal(truncate(spool_path(m.id, 'M'), m.body_end), 0);
	f = fopen(spool_path(m.id, 'M'), "a");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	if (spool_read(m.id, &r, false, &err) != -1)
		fail_msg("bad -H %s: got success, want \"%s\"", text, err_part);
	if (strstr(err, err_part) == NULL || strstr(err, m.id) == NULL)
		fail_msg("bad -H: got \"%s\", want \"%s\" and the file name",
		    err, err_part);
	assert_int_equal(spool_remove(&m, &err), 0);
}

static void
test_bad_header(void **state)
{
	(void)state;
	expect_bad_header(false, "x\n", ":1: first line");
	expect_bad_header(true, "alice 1000\n", ":2: want \"login uid gid\"");
	expect_bad_header(true, "alice 1 2\nsender\n", ":3: want \"<sender>\"");
	expect_bad_header(true, "alice 1 2\n<>\n12 x\n", ":4: want");
	expect_bad_header(true, "alice 1 2\n<>\n12 0\n-host_address 1\nXX\n",
		":5: want \"ip.port\"");
	expect_bad_header(true, "alice 1 2\n<>\n12 0\nXX\n2\n- a@b\n",
		":8: unexpected end of file");
	expect_bad_header(true, "alice 1 2\n<>\n12 0\nXX\n1\n* a@b\n\n",
		":7: want \"+ address\"");
	expect_bad_header(true, "alice 1 2\n<>\n12 0\nXX\n1\n- a@b\n\n"
		"099  Subject: short\n", ":9: want \"NNNc text\"");
	expect_bad_header(true, "alice 1 2\n<>\n12 0\nXX\n1\n- a@b\n\n"
		"012  Subject: ok\n", ":10: no end line");
}

/*
 * The file itself: "ID-M offset" first line, the body, the header
 * section ending in ".", the records; a torn last record is ignored and
 * ended, so that the next one counts.
 */
static void
test_format_and_torn_record(void **state)
{
	struct message m, r;
	char *err = NULL, *text, want[64];
	const char *path;
	size_t len;

	(void)state;
	make_message(&m);
	path = spool_path(m.id, 'M');
	text = slurp(path, &len);
	snprintf(want, sizeof(want), "%s-M %016llx\n", m.id,
		(unsigned long long)m.body_end);
	assert_memory_equal(text, want, strlen(want));
	assert_memory_equal(text + strlen(want), body, sizeof(body) - 1);
	assert_true(strncmp(text + m.body_end, arena_printf(arena_scratch,
		"%s-H\nalice 1000 100\n<sender@src.example>\n", m.id),
		MESSAGE_ID_LEN + 39) == 0);
	/* The end line, the check record, then the L record. */
	{
		const char *end = strstr(text + m.body_end,
			"To: one@dst.example\n.\nC ");
		char hex[SPOOL_CHECK_HEX + 1];
		int fd = open(path, O_RDONLY);

		if (end == NULL)
			fail_msg("no end line then C record: \"%s\"",
			    text + m.body_end);
		end += strlen("To: one@dst.example\n.\n");
		assert_true(fd >= 0);
		assert_int_equal(spool_check_digest(fd, end - text, NULL,
			end - text, hex), 0);
		close(fd);
		assert_memory_equal(end + 2, hex, SPOOL_CHECK_HEX);
		assert_memory_equal(end + SPOOL_CHECK_LEN - 1, "\nL ", 3);
	}

	/* A crash in the middle of appending "D one@dst.example\n". */
	append(path, "D one@dst.exa");
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_false(r.rcpts[0].done);
	assert_false(spool_is_delivered(&r, "one@dst.exa"));
	assert_int_equal(spool_journal_add(&r, "\"two\ttab\\\"\"@dst.example",
		&err), 0);
	spool_close(&r);
	/* Malformed lines are skipped too. */
	append(path, "X what\nD\nD bad\\q\n");
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_false(r.rcpts[0].done);
	assert_true(r.rcpts[1].done);
	assert_int_equal(r.ndelivered, 0);
	spool_close(&r);
	text = slurp(path, &len);
	assert_non_null(strstr(text, "\nD one@dst.exa\x7f\nD \"two\\x09tab"));
	/* Cut after half an escape: still nothing. */
	append(path, "D one@dst.example\\");
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	spool_close(&r);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_false(r.rcpts[0].done);
	assert_int_equal(r.ndelivered, 0);
	spool_close(&r);
	assert_int_equal(spool_remove(&m, &err), 0);
}

/*
 * A reception in progress (offset zero) is busy for others, not a
 * message; once its process died and it is 5 minutes old, the next
 * reader with the lock removes it.
 */
static void
test_incomplete(void **state)
{
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct message m, r;
	char *err = NULL, *out;
	pid_t pid;
	int fd, status, rc;

	(void)state;
	memset(&m, 0, sizeof(m));
	fd = spool_data_create(&m, &err);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, body, sizeof(body) - 1), sizeof(body) - 1);
	assert_false(spool_committed(m.id));
	pid = fork();
	if (pid == 0)
		_exit(spool_read(m.id, &r, true, &err) == 1 ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* The receiving process dies: its fd closes, the file stays. */
	spool_data_close(&m, fd);
	assert_int_equal(spool_read(m.id, &r, false, &err), 1);
	assert_int_equal(spool_read(m.id, &r, true, &err), 1);
	out = capture(queue_list, true, &rc);
	assert_string_equal(out, "0\n");
	out = capture(queue_list, false, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	assert_true(file_exists(spool_path(m.id, 'M')));
	assert_int_equal(utimes(spool_path(m.id, 'M'), old), 0);
	assert_int_equal(spool_read(m.id, &r, false, &err), 1);
	assert_int_equal(spool_read(m.id, &r, true, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_false(file_exists(spool_path(m.id, 'M')));
}

/* An ID-M.tmp of a crashed rewrite older than an hour: removed. */
static void
test_garbage(void **state)
{
	char id_old[MESSAGE_ID_LEN + 1], id_new[MESSAGE_ID_LEN + 1];
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	char **ids, *err = NULL;
	const char *p_old, *p_new;
	size_t n;
	int fd;

	(void)state;
	spool_new_id(id_old);
	spool_new_id(id_new);
	p_old = arena_printf(arena_scratch, "%s.tmp", spool_path(id_old, 'M'));
	p_new = arena_printf(arena_scratch, "%s.tmp", spool_path(id_new, 'M'));
	fd = open(p_old, O_CREAT | O_WRONLY, 0640);
	close(fd);
	assert_int_equal(utimes(p_old, old), 0);
	fd = open(p_new, O_CREAT | O_WRONLY, 0640);
	close(fd);
	assert_int_equal(spool_list(&ids, &n, true, &err), 0);
	assert_int_equal(n, 0);
	assert_false(file_exists(p_old));
	assert_true(file_exists(p_new));
	unlink(p_new);
}

static void
test_queue_list(void **state)
{
	struct message m;
	char *out, *want, *err = NULL;
	int rc;

	(void)state;
	make_message(&m);
	out = capture(queue_list, true, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "1\n");
	out = capture(queue_list, false, &rc);
	assert_int_equal(rc, 0);
	/* Received long ago: the age is in days. */
	{
		long age = (long)(time(NULL) - m.received);
		long days = (((age + 30) / 60 + 30) / 60 + 12) / 24;

		want = arena_printf(arena_scratch, "%2ldd %5zu %s "
			"<sender@src.example>\n"
			"          one@dst.example\n"
			"          \"two\ttab\\\"\"@dst.example\n"
			"        D three@dst.example\n\n", days,
			sizeof(body) - 1 + 29 + 12 + 20, m.id);
	}
	if (strcmp(out, want) != 0)
		fail_msg("-bp: got \"%s\", want \"%s\"", out, want);
	assert_int_equal(spool_remove(&m, &err), 0);
}

static int
count_dir(const char *sub)
{
	char path[600];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", spool_dir, sub);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The one name in pool/ (arena_scratch). */
static const char *
pool_file(void)
{
	char path[600];
	struct dirent *e;
	const char *found = NULL;
	DIR *d;

	snprintf(path, sizeof(path), "%s/pool", spool_dir);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			found = arena_printf(arena_scratch, "%s/%s", path,
				e->d_name);
	closedir(d);
	assert_non_null(found);
	return found;
}

/* The one name in pool/, or NULL (arena_scratch). */
static const char *
pool_file_or_null(void)
{
	return count_dir("pool") == 0 ? NULL : pool_file();
}

/* A new boot, as far as pool/ can tell: its check mark goes. */
static void
new_boot(void)
{
	char path[600];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/pool", spool_dir);
	d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strncmp(e->d_name, ".checked-", 9) == 0)
			assert_int_equal(unlinkat(dirfd(d), e->d_name, 0), 0);
	closedir(d);
}

/* path is a pool file: 64 KiB of NULs. */
static void
expect_empty(const char *path)
{
	size_t len;
	char *text = slurp(path, &len);

	assert_int_equal(len, 65536);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\0')
			fail_msg("%s: byte %zu is %d", path, i, text[i]);
}

/*
 * Make m's file (at path) one from an earlier boot: another -boot_id,
 * and the check record computed again over it.
 */
static void
earlier_boot(const char *path, const struct message *m)
{
	const char *cur = spool_boot_id(), *at;
	char hex[SPOOL_CHECK_HEX + 1], *text;
	off_t sect_end;
	size_t len;
	int fd;

	assert_int_equal(strlen(cur), 36);
	text = slurp(path, &len);
	at = strstr(text + m->body_end, cur);
	assert_non_null(at);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "00000000", 8, at - text), 8);
	sect_end = strstr(text + m->body_end, "\n.\nC ") + 3 - text;
	assert_int_equal(spool_check_digest(fd, sect_end, NULL, sect_end, hex),
		0);
	assert_int_equal(pwrite(fd, hex, SPOOL_CHECK_HEX, sect_end + 2),
		SPOOL_CHECK_HEX);
	close(fd);
}

/*
 * Make the file at path one written before check records: no -boot_id
 * option, no C record; the rest (and its records) as it was.
 */
static void
make_legacy(const char *path, const struct message *m)
{
	size_t len, out = 0;
	char *text = slurp(path, &len), *copy = malloc(len);
	const char *bid = strstr(text + m->body_end, "-boot_id ");
	const char *chk = strstr(text + m->body_end, "\n.\nC ");
	const char *bid_end, *chk_end;
	FILE *f;

	assert_non_null(copy);
	assert_non_null(bid);
	assert_non_null(chk);
	bid_end = strchr(bid, '\n') + 1;
	chk += 3;
	chk_end = strchr(chk, '\n') + 1;
	assert_true(bid < chk);
	/* the content up to the C record, without the -boot_id line */
	memcpy(copy, text, (size_t)(bid - text));
	out = (size_t)(bid - text);
	memcpy(copy + out, bid_end, (size_t)(chk - bid_end));
	out += (size_t)(chk - bid_end);
	/* the records, up to the first NUL */
	memcpy(copy + out, chk_end, strlen(chk_end));
	out += strlen(chk_end);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(copy, 1, out, f), out);
	assert_int_equal(fclose(f), 0);
	free(copy);
}

/* A pool slot below max that this process does not try first (reuse.c). */
static unsigned
slot_not_own(unsigned max)
{
	for (unsigned k = 0;; k++) {
		bool own = false;

		for (unsigned i = 0; i < 4; i++)
			own |= ((unsigned)getpid() + i * 7919u) % max == k;
		if (!own)
			return k;
	}
}

/* Read and lock id, then spool_remove it: emptied into pool/ or not. */
static void
finish(const char *id)
{
	struct message r;
	char *err = NULL;

	assert_int_equal(spool_read(id, &r, true, &err), 0);
	assert_int_equal(spool_remove(&r, &err), 0);
	spool_close(&r);
}

/*
 * A reception that delivers its message itself keeps it in its pool/
 * file, locked (parked): read by id in that process, delivered and
 * emptied there, never renamed.  Whatever leaves it undelivered names
 * it: a deferral (spool_close), spool_unpark.
 */
static void
test_park(void **state)
{
	struct message m, r;
	char *err = NULL, *text;
	const char *pf;
	size_t len;
	ino_t ino;
	int status;
	pid_t pid;

	(void)state;
	conf.spool_reuse_max = 2;
	rt.tern_uid = geteuid();
	while ((pf = pool_file_or_null()) != NULL)
		assert_int_equal(unlink(pf), 0);
	make_message(&m);
	finish(m.id);
	pf = pool_file();
	ino = inode(pf);

	park_it = true;
	make_message(&m);
	park_it = false;
	assert_false(file_exists(spool_path(m.id, 'M')));
	assert_int_equal(inode(pf), ino);
	/* Locked: a queue run's sweep leaves it alone. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(pf, O_RDWR);

		spool_reuse_recover();
		_exit((fd < 0) | (fcntl(fd, F_SETLK, &fl) == 0) << 1 |
		    file_exists(spool_path(m.id, 'M')) << 2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);
	/* (Its open and close here drop this process's lock: test only.) */
	text = slurp(pf, &len);
	assert_memory_equal(text, m.id, MESSAGE_ID_LEN);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_int_equal(r.nrcpts, 3);
	assert_int_equal(spool_journal_add(&r, "one@dst.example", &err), 0);
	assert_int_equal(spool_remove(&r, &err), 0);
	spool_close(&r);
	assert_false(file_exists(spool_path(m.id, 'M')));
	assert_int_equal(inode(pf), ino);
	expect_empty(pf);

	/* Deferred: named when it is closed, records and all. */
	park_it = true;
	make_message(&m);
	park_it = false;
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_int_equal(spool_journal_add(&r, "one@dst.example", &err), 0);
	spool_close(&r);
	assert_int_equal(inode(spool_path(m.id, 'M')), ino);
	assert_int_equal(count_dir("pool"), 0);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_true(spool_is_delivered(&r, "one@dst.example"));
	spool_close(&r);
	finish(m.id);
	assert_int_equal(inode(pf), ino);

	/* Released to another process: named by spool_unpark. */
	park_it = true;
	make_message(&m);
	park_it = false;
	spool_unpark(m.id);
	assert_int_equal(inode(spool_path(m.id, 'M')), ino);
	finish(m.id);
	expect_empty(pf);

	/*
	 * Handed over by its slot: let go without a name, then taken where
	 * it lies (spool_reuse_adopt) by the process it went to -- here
	 * a child -- which delivers it and empties it in place.  Only that
	 * message, committed, in that slot, is taken.
	 */
	park_it = true;
	make_message(&m);
	park_it = false;
	{
		char slot[16], other[MESSAGE_ID_LEN + 1];

		assert_non_null(spool_parked_slot(m.id));
		snprintf(slot, sizeof(slot), "%s", spool_parked_slot(m.id));
		spool_let_go(m.id);
		assert_null(spool_parked_slot(m.id));
		assert_false(file_exists(spool_path(m.id, 'M')));
		assert_int_equal(count_dir("input"), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			memcpy(other, m.id, sizeof(other));
			other[MESSAGE_ID_LEN - 1] ^= 1; /* another id */
			_exit((spool_reuse_adopt(other, slot) != -1) |
			    (spool_reuse_adopt(m.id, strcmp(slot, "0") == 0 ?
			    "1" : "0") == 0) << 1 |
			    (spool_reuse_adopt(m.id, slot) != 0) << 2 |
			    (spool_read(m.id, &r, true, &err) != 0) << 3 |
			    (spool_journal_add(&r, "one@dst.example", &err) != 0)
			    << 4 | (spool_remove(&r, &err) != 0) << 5);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(status, 0);
		assert_int_equal(inode(pf), ino);
		expect_empty(pf);
		assert_int_equal(count_dir("input"), 0);
	}
	conf.spool_reuse_max = 0;
}

/*
 * pool/: a delivered message's file is emptied (all NULs, grown to its
 * full size) and the next reception writes into it; its records go
 * after its content, not at the end of the file; a crash's leftovers in
 * pool/ are recovered (a committed message) or emptied (anything else);
 * a mixture of two messages fails its check record; the pool is capped.
 */
static void
test_reuse(void **state)
{
	struct message m, r;
	char *err = NULL, *text;
	const char *pf, *path;
	size_t len;
	ino_t ino;
	int fd;

	(void)state;
	conf.spool_reuse_max = 2;
	rt.tern_uid = geteuid();
	make_message(&m);
	ino = inode(spool_path(m.id, 'M'));
	finish(m.id);
	assert_false(file_exists(spool_path(m.id, 'M')));
	pf = pool_file();
	assert_int_equal(inode(pf), ino);
	text = slurp(pf, &len);
	assert_int_equal(len, 65536);
	for (size_t i = 0; i < len; i++)
		if (text[i] != '\0')
			fail_msg("pool file byte %zu is %d", i, text[i]);

	/* The next message takes it, and reads back whole. */
	make_message(&m);
	path = spool_path(m.id, 'M');
	assert_int_equal(inode(path), ino);
	assert_int_equal(count_dir("pool"), 0);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_int_equal(r.nrcpts, 3);
	assert_false(r.rcpts[0].done);
	assert_true(r.rcpts[2].done);
	assert_int_equal(spool_journal_add(&r, "one@dst.example", &err), 0);
	spool_msglog(m.id, "delivered one");
	spool_close(&r);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_true(r.rcpts[0].done);
	assert_false(r.rcpts[1].done);
	spool_close(&r);
	text = slurp(path, &len);
	assert_int_equal(len, 65536);
	assert_non_null(strstr(text + m.body_end, "\nD one@dst.example\nL "));
	assert_non_null(strstr(text + m.body_end, " delivered one\n"));

	/*
	 * One byte of the body changed: a file of this boot is read as it
	 * was written; in one from an earlier boot, which a power cut may
	 * have mixed, the check record tells.
	 */
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, m.body_offset), 1);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	spool_close(&r);
	assert_int_equal(pwrite(fd, body, 1, m.body_offset), 1);
	close(fd);
	earlier_boot(path, &m);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	spool_close(&r);
	assert_int_equal(pwrite(fd, "X", 1, m.body_offset), 1);
	assert_int_equal(spool_read(m.id, &r, false, &err), -1);
	assert_non_null(strstr(err, "check record"));
	assert_int_equal(pwrite(fd, body, 1, m.body_offset), 1);
	close(fd);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	spool_close(&r);

	/*
	 * Records after a NUL in a file of an earlier boot (a power cut kept
	 * a later page of them): unlocked, they are not read; the first
	 * locked read zeroes them, so that what it appends at the first NUL
	 * cannot run into them.  The D record behind the cut line would
	 * otherwise count child@ as delivered once records reached it.
	 */
	{
		static const char stale[] =
			"cut@dst.example\nD child@dst.example\n";
		off_t e;

		text = slurp(path, &len);
		e = (char *)memchr(text + m.body_end, '\0', len - m.body_end) -
			text;
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, stale, sizeof(stale) - 1, e + 4),
			sizeof(stale) - 1);
		close(fd);
		assert_int_equal(spool_read(m.id, &r, false, &err), 0);
		assert_false(spool_is_delivered(&r, "child@dst.example"));
		spool_close(&r);
		assert_int_equal(spool_read(m.id, &r, true, &err), 0);
		assert_false(spool_is_delivered(&r, "child@dst.example"));
		assert_int_equal(spool_journal_add(&r, "x@dst.example", &err), 0);
		spool_close(&r);
		text = slurp(path, &len);
		assert_null(memmem(text + m.body_end, len - m.body_end,
			"child@", 6));
		{
			/* nothing after the records: emptying zeroes all */
			const char *x = memmem(text + m.body_end,
				len - m.body_end, "D x@dst.example\n", 16);

			assert_non_null(x);
			x += 16;
			assert_true(spool_all_nul(x, len - (size_t)(x - text)));
		}
		assert_int_equal(spool_read(m.id, &r, false, &err), 0);
		assert_true(spool_is_delivered(&r, "x@dst.example"));
		assert_false(spool_is_delivered(&r, "child@dst.example"));
		spool_close(&r);
	}

	/*
	 * A committed message in pool/ that no process holds (a power cut
	 * lost its rename to input/, or the reception that kept it there
	 * died): any queue run moves it to input/, as the check after a
	 * boot does.
	 */
	pf = pool_file_or_null();
	assert_null(pf);
	pf = arena_printf(arena_scratch, "%s/pool/0", spool_dir);
	assert_int_equal(rename(path, pf), 0);
	spool_reuse_recover();
	assert_true(file_exists(path));
	assert_int_equal(rename(path, pf), 0);
	new_boot();
	spool_reuse_recover();
	assert_true(file_exists(path));
	assert_int_equal(count_dir("pool"), 0);
	finish(m.id);
	assert_int_equal(count_dir("pool"), 1);

	/*
	 * A reception in a pool file that died part way (the file keeps its
	 * pool/ name until the commit): its first line says "not committed",
	 * so no reception takes it, and a queue run (or the check after a
	 * boot) empties it.
	 */
	pf = pool_file();
	for (int boot = 0; boot < 2; boot++) {
		int status;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0) {
			memset(&m, 0, sizeof(m));
			fd = spool_data_create(&m, &err);
			_exit(fd < 0 || file_exists(spool_path(m.id, 'M')) ||
			    inode(pf) != ino || write(fd, body, sizeof(body) -
			    1) != (ssize_t)sizeof(body) - 1);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		memset(&m, 0, sizeof(m));
		fd = spool_data_create(&m, &err);
		assert_true(fd < 0 || inode(spool_path(m.id, 'M')) != ino);
		if (fd >= 0)
			spool_data_abort(&m, fd);
		if (boot)
			new_boot();
		spool_reuse_recover();
		expect_empty(pf);
	}

	/*
	 * An emptying that reached the disk only in part: the first line is
	 * NULs, an old record is not.  The check after the boot empties it
	 * whole, so that no later message reads it as its own record.
	 */
	fd = open(pf, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "D one@dst.example\n", 18, 4096), 18);
	close(fd);
	new_boot();
	spool_reuse_recover();
	expect_empty(pf);

	/*
	 * The check after a boot waits for a pool file another process
	 * holds locked, and checks it after: skipped, it would stay
	 * unchecked for the whole boot when that process died holding it,
	 * here with an old record behind NULs.
	 */
	{
		const char *mark = arena_printf(arena_perm,
			"%s/pool/.checked-%s", spool_dir, spool_boot_id());
		int go[2], status;
		pid_t pid;
		char c;

		fd = open(pf, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "D one@dst.example\n", 18, 4096),
			18);
		close(fd);
		new_boot();
		assert_int_equal(pipe(go), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			struct flock fl = { .l_type = F_WRLCK,
				.l_whence = SEEK_SET };
			int lfd = open(pf, O_RDWR);

			if (lfd < 0 || fcntl(lfd, F_SETLK, &fl) != 0 ||
			    write(go[1], "x", 1) != 1)
				_exit(1);
			usleep(200000);
			_exit(0); /* dies holding it, unchecked */
		}
		close(go[1]);
		assert_int_equal(read(go[0], &c, 1), 1);
		close(go[0]);
		spool_reuse_recover();
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_int_equal(status, 0);
		expect_empty(pf);
		assert_true(file_exists(mark));
	}

	/* Something in pool/ that is not a regular file does not stop the
	 * check from finishing (which every reception would redo). */
	{
		char *odd = arena_printf(arena_perm, "%s/pool/7", spool_dir);

		assert_int_equal(mkdir(odd, 0700), 0);
		new_boot();
		spool_reuse_recover();
		assert_true(file_exists(arena_printf(arena_scratch,
			"%s/pool/.checked-%s", spool_dir, spool_boot_id())));
		assert_int_equal(rmdir(odd), 0);
	}

	/*
	 * Both renames lost: the taken file, holding a committed message,
	 * is back under the name of the message it held before.  Reading
	 * that one with the lock moves the message to its own name.
	 */
	make_message(&m);
	path = spool_path(m.id, 'M');
	{
		char old[MESSAGE_ID_LEN + 1];
		const char *oldpath;

		spool_new_id(old);
		oldpath = spool_path(old, 'M');
		struct timeval long_ago[2] = { { 1000000000, 0 },
			{ 1000000000, 0 } };

		assert_int_equal(rename(path, oldpath), 0);
		/* Not matching its check record: damaged, kept however old. */
		fd = open(oldpath, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "X", 1, m.body_offset), 1);
		assert_int_equal(utimes(oldpath, long_ago), 0);
		assert_int_equal(spool_read(old, &r, true, &err), -1);
		assert_int_equal(errno, EINVAL);
		assert_non_null(strstr(err, "damaged"));
		assert_true(file_exists(oldpath));
		assert_int_equal(pwrite(fd, body, 1, m.body_offset), 1);
		close(fd);
		assert_int_equal(spool_read(old, &r, false, &err), -1);
		assert_int_equal(errno, ENOENT);
		assert_true(file_exists(oldpath));
		assert_int_equal(spool_read(old, &r, true, &err), -1);
		assert_int_equal(errno, ENOENT);
		assert_false(file_exists(oldpath));
		assert_true(file_exists(path));
	}
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	spool_close(&r);
	finish(m.id);

	/*
	 * A message written before this boot (its -boot_id is another's)
	 * may hold records after a NUL that a power cut left: emptying it
	 * reads the whole file instead of trusting where its records end.
	 */
	make_message(&m);
	path = spool_path(m.id, 'M');
	earlier_boot(path, &m);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	/* a page of records a power cut kept, after NULs */
	assert_int_equal(pwrite(fd, "D one@dst.example\n", 18, 8192), 18);
	close(fd);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_false(r.rcpts[0].done);
	assert_int_equal(spool_remove(&r, &err), 0);
	spool_close(&r);
	expect_empty(pool_file());

	/*
	 * A file from an earlier boot is checked once per boot: the first
	 * locked read appends "V BOOTID", and later reads trust it, so that a
	 * queue deferred across a reboot is not hashed on every run.  (That a
	 * change made after it goes unseen is what shows it is not hashed:
	 * only this test can make one.)  A V record of another boot does
	 * not count.
	 */
	make_message(&m);
	path = spool_path(m.id, 'M');
	earlier_boot(path, &m);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	{
		static const char other_v[] =
			"V 00000000-0000-0000-0000-000000000000\n";

		text = slurp(path, &len);
		assert_int_equal(pwrite(fd, other_v, sizeof(other_v) - 1,
			(off_t)strlen(text)), sizeof(other_v) - 1);
	}
	assert_int_equal(pwrite(fd, "X", 1, m.body_offset), 1);
	assert_int_equal(spool_read(m.id, &r, false, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(err, "does not match"));
	assert_int_equal(pwrite(fd, body, 1, m.body_offset), 1);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	assert_true(r.checked_this_boot);
	spool_close(&r);
	text = slurp(path, &len);
	assert_non_null(strstr(text, arena_printf(arena_scratch, "\nV %s\n",
		spool_boot_id())));
	assert_int_equal(pwrite(fd, "X", 1, m.body_offset), 1);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	spool_close(&r);
	assert_int_equal(spool_read(m.id, &r, true, &err), 0);
	spool_close(&r);
	assert_int_equal(pwrite(fd, body, 1, m.body_offset), 1);
	close(fd);
	finish(m.id);

	/* An unlocked reader learns that the file became another message. */
	make_message(&m);
	assert_int_equal(spool_read(m.id, &r, false, &err), 0);
	assert_true(spool_still(&r));
	finish(m.id);
	assert_false(spool_still(&r));
	{
		struct message other;

		make_message(&other);
		assert_false(spool_still(&r));
		finish(other.id);
	}
	spool_close(&r);

	/*
	 * A file goes back to the slot its reception took it from, not to
	 * slots chosen from the process id (a busy pool has those taken).
	 */
	{
		char want[600];
		unsigned k;

		conf.spool_reuse_max = 50;
		k = slot_not_own(50);
		snprintf(want, sizeof(want), "%s/pool/%u", spool_dir, k);
		assert_int_equal(rename(pool_file(), want), 0);
		make_message(&m);
		assert_int_equal(count_dir("pool"), 0);
		finish(m.id);
		assert_string_equal(pool_file(), want);
		conf.spool_reuse_max = 2;
		assert_int_equal(rename(want, arena_printf(arena_scratch,
			"%s/pool/1", spool_dir)), 0);
	}

	/*
	 * A reception tries slots of its own before it reads pool/: with a
	 * file there and another in a slot it does not try, it takes the
	 * one in its own slot.
	 */
	{
		char own[600], other[600];
		unsigned k;
		ino_t own_ino;

		conf.spool_reuse_max = 50;
		k = slot_not_own(50);
		snprintf(other, sizeof(other), "%s/pool/%u", spool_dir, k);
		snprintf(own, sizeof(own), "%s/pool/%u", spool_dir,
			(unsigned)getpid() % 50);
		assert_int_equal(rename(pool_file(), other), 0);
		fd = open(own, O_RDWR | O_CREAT | O_EXCL, 0640);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 65536), 0);
		close(fd);
		own_ino = inode(own);
		make_message(&m);
		assert_int_equal(inode(spool_path(m.id, 'M')), own_ino);
		assert_true(file_exists(other));
		finish(m.id);
		assert_int_equal(inode(own), own_ino);
		assert_int_equal(unlink(own), 0);
		conf.spool_reuse_max = 2;
		assert_int_equal(rename(other, arena_printf(arena_scratch,
			"%s/pool/1", spool_dir)), 0);
	}

	/*
	 * A file written before check records (upgraded from an earlier
	 * version) is read, journals, and is delivered; its file is removed,
	 * never reused.
	 */
	{
		int before;

		make_message(&m);
		before = count_dir("pool");
		path = arena_strdup(arena_perm, spool_path(m.id, 'M'));
		make_legacy(path, &m);
		text = slurp(path, &len);
		assert_null(strstr(text, "\nC "));
		assert_null(strstr(text, "-boot_id"));
		/* a page of records a power cut kept, after NULs: cleared too */
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pwrite(fd, "D two@dst.example\n", 18, 8192), 18);
		close(fd);
		assert_int_equal(spool_read(m.id, &r, true, &err), 0);
		assert_int_equal(r.nrcpts, 3);
		assert_int_equal(spool_journal_add(&r, "one@dst.example", &err), 0);
		spool_close(&r);
		text = slurp(path, &len);
		assert_true(spool_all_nul(text + strlen(text), len - strlen(text)));
		assert_int_equal(spool_read(m.id, &r, false, &err), 0);
		assert_true(r.rcpts[0].done);
		assert_false(r.rcpts[1].done);
		spool_close(&r);
		finish(m.id);
		assert_false(file_exists(path));
		assert_int_equal(count_dir("pool"), before);
	}

	/* At most spool_reuse_max files are kept; the rest are removed. */
	{
		struct message a, b, c;

		make_message(&a);
		make_message(&b);
		make_message(&c);
		assert_int_equal(count_dir("pool"), 0);
		finish(a.id);
		finish(b.id);
		finish(c.id);
		assert_int_equal(count_dir("pool"), 2);
		assert_int_equal(count_dir("input"), 0);
		conf.spool_reuse_max = 0;
		make_message(&a);
		assert_int_equal(count_dir("pool"), 2);
		finish(a.id);
		assert_int_equal(count_dir("pool"), 2);
		assert_int_equal(count_dir("input"), 0);
	}
}

static void
test_log_format(void **state)
{
	char path[512], line[512];
	FILE *f;

	(void)state;
	conf.log_file_path = arena_printf(arena_perm, "%s/tlog/%%s.log",
		spool_dir);
	log_init();
	log_write(TERN_LOG_MAIN, "1tX9aB-0004Kd-Q2ab3Zabc", "<= a@b.example "
		"H=(evil\nline) P=esmtp S=%d", 1234);
	snprintf(path, sizeof(path), "%s/tlog/main.log", spool_dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_null(fgets(path, sizeof(path), f));
	fclose(f);
	/* "YYYY-MM-DD HH:MM:SS id text" with the newline escaped */
	if (strlen(line) < 20 || line[4] != '-' || line[10] != ' ' ||
	    line[13] != ':' || strcmp(line + 19, " 1tX9aB-0004Kd-Q2ab3Zabc "
	    "<= a@b.example H=(evil\\nline) P=esmtp S=1234\n") != 0)
		fail_msg("mainlog: got \"%s\"", line);
	conf.log_file_path = NULL;
}

static int
setup(void **state)
{
	char *err = NULL;

	(void)state;
	arena_init_all();
	if (mkdtemp(spool_dir) == NULL)
		return -1;
	conf.spool_directory = spool_dir;
	conf.spool_sync = true;
	conf.message_logs = true;
	rt.caller_trusted = true;
	if (spool_init(&err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	log_init();
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", spool_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_shape),
		cmocka_unit_test(test_id_time),
		cmocka_unit_test(test_id_unique),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_lock),
		cmocka_unit_test(test_lock_wait),
		cmocka_unit_test(test_journal_and_rewrite),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_format_and_torn_record),
		cmocka_unit_test(test_incomplete),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_queue_list),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_park),
		cmocka_unit_test(test_log_format),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
