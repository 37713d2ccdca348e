/* Unit tests for deliver_write_message (core->write_message). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <tern/rc.h>

#include "deliver/deliver_int.h"
#include "lib/arena.h"
#include "lib/io.h"
#include "spool/spool.h"

static struct header h2 = { "Subject: hi\n", 12, HDR_NORMAL, NULL };
static struct header hdel = { "Bcc: x@y\n", 9, HDR_DELETED, &h2 };
static struct header h1 = { "From: a@b\n", 10, HDR_FROM, &hdel };

/* A message whose -D holds body. */
static void
make_msg(struct message *m, const char *sender, const char *body, size_t len)
{
	static const char first[] = "1tX9aB-0004Kd-Q2-D\n";
	int fd = memfd_create("d", 0);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, first, sizeof(first) - 1), sizeof(first) - 1);
	assert_int_equal(io_write_all(fd, body, len), 0);
	memset(m, 0, sizeof(*m));
	memcpy(m->id, "1tX9aB-0004Kd-Q2", 17);
	m->sender = sender;
	m->headers = &h1;
	m->data_fd = fd;
	m->body_offset = sizeof(first) - 1;
}

/* Run deliver_write_message into a memfd and return what it wrote. */
static char *
run(struct message *m, unsigned flags, const struct tern_address *batch,
	size_t *len_out)
{
	int fd = memfd_create("out", 0);
	char *err = NULL, *out;
	off_t len;

	assert_int_equal(deliver_write_message(m, fd, flags, batch, NULL, &err),
		TERN_OK);
	len = lseek(fd, 0, SEEK_END);
	out = malloc((size_t)len + 1);
	assert_int_equal(pread(fd, out, (size_t)len, 0), len);
	out[len] = '\0';
	close(fd);
	if (len_out != NULL)
		*len_out = (size_t)len;
	return out;
}

struct wcase {
	const char *name;
	unsigned    flags;
	const char *body;
	const char *want;
};

static const struct wcase cases[] = {
	{ "plain", 0, "hello\nFrom x\n.dot\n",
	  "From: a@b\nSubject: hi\n\nhello\nFrom x\n.dot\n" },
	{ "escape from", TERN_WR_ESCAPE_FROM, "From x\nFrom\nFrom  \nFro",
	  "From: a@b\nSubject: hi\n\n>From x\nFrom\n>From  \nFro" },
	{ "crlf dotstuff", TERN_WR_CRLF | TERN_WR_DOTSTUFF, ".a\nb\n..c",
	  "From: a@b\r\nSubject: hi\r\n\r\n..a\r\nb\r\n...c\r\n" },
	{ "blank end, newline", TERN_WR_BLANK_END, "x\n",
	  "From: a@b\nSubject: hi\n\nx\n\n" },
	{ "blank end, none", TERN_WR_BLANK_END, "x",
	  "From: a@b\nSubject: hi\n\nx\n\n" },
	{ "blank end, already", TERN_WR_BLANK_END, "x\n\n",
	  "From: a@b\nSubject: hi\n\nx\n\n" },
	{ "blank end, empty body", TERN_WR_BLANK_END, "",
	  "From: a@b\nSubject: hi\n\n" },
	{ "headers only", TERN_WR_HEADERS_ONLY, "x\n",
	  "From: a@b\nSubject: hi\n\n" },
	{ "body only", TERN_WR_BODY_ONLY, "x\ny\n", "x\ny\n" },
	{ "return path", TERN_WR_RETURN_PATH, "x\n",
	  "Return-path: <s@example.org>\nFrom: a@b\nSubject: hi\n\nx\n" },
};

static void
test_table(void **state)
{
	int failures = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct message m;
		char *out;

		make_msg(&m, "s@example.org", cases[i].body, strlen(cases[i].body));
		out = run(&m, cases[i].flags, NULL, NULL);
		if (strcmp(out, cases[i].want) != 0) {
			print_error("%s: got \"%s\", want \"%s\"\n", cases[i].name, out,
				cases[i].want);
			failures++;
		}
		free(out);
		close(m.data_fd);
	}
	assert_int_equal(failures, 0);
}

static void
test_mbox_from_and_envelope(void **state)
{
	struct tern_address top = { .address = "team@example.test" };
	struct tern_address b2 = { .address = "jane@example.test", .parent = &top };
	struct tern_address b1 = { .address = "fred@example.test", .parent = &top,
		.next = &b2 };
	struct tern_address other = { .address = "x@example.test" };
	struct message m;
	char *out;

	(void)state;
	make_msg(&m, "", "x\n", 2);
	out = run(&m, TERN_WR_MBOX_FROM | TERN_WR_ENVELOPE_TO |
		TERN_WR_DELIVERY_DATE, &b1, NULL);
	assert_true(strncmp(out, "From MAILER-DAEMON ", 19) == 0);
	assert_non_null(strstr(out, "\nEnvelope-to: team@example.test\n"));
	assert_non_null(strstr(out, "\nDelivery-date: "));
	free(out);
	b2.next = &other;
	out = run(&m, TERN_WR_ENVELOPE_TO, &b1, NULL);
	assert_true(strncmp(out, "Envelope-to: team@example.test, x@example.test\n",
		46) == 0);
	free(out);
	close(m.data_fd);
}

/* The body stops at body_end: what follows it in ID-M is not the body. */
static void
test_body_end(void **state)
{
	static const char tail[] = "1tX9aB-0004Kd-Q2-H\nalice 1 2\n.\nD a@b\n";
	struct message m;
	char *out;

	(void)state;
	make_msg(&m, "s@example.org", "body line\n", 10);
	m.body_end = m.body_offset + 10;
	assert_int_equal(io_write_all(m.data_fd, tail, sizeof(tail) - 1), 0);
	out = run(&m, TERN_WR_BODY_ONLY, NULL, NULL);
	assert_string_equal(out, "body line\n");
	free(out);
	close(m.data_fd);
}

/* 5 MB with "From " and "." at line starts across 64 KiB boundaries. */
static void
test_big_body(void **state)
{
	size_t n = 5u * 1024 * 1024 + 17, len, wlen = 0;
	char *body = malloc(n), *want = malloc(2 * n), *out;
	struct message m;

	(void)state;
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 23);
	for (size_t pos = 65536 - 3; pos + 8 < n; pos += 65536 - 1) {
		body[pos - 1] = '\n';
		memcpy(body + pos, "From ", 5);
	}
	for (size_t pos = 3 * 65536 - 1; pos + 8 < n; pos += 7 * 65536) {
		body[pos - 1] = '\n';
		body[pos] = '.';
	}
	for (size_t i = 0; i < n; i++) {
		bool bol = i == 0 || body[i - 1] == '\n';

		if (bol && i + 5 <= n && memcmp(body + i, "From ", 5) == 0)
			want[wlen++] = '>';
		if (bol && body[i] == '.')
			want[wlen++] = '.';
		if (body[i] == '\n')
			want[wlen++] = '\r';
		want[wlen++] = body[i];
	}
	make_msg(&m, "s@example.org", body, n);
	out = run(&m, TERN_WR_BODY_ONLY | TERN_WR_ESCAPE_FROM | TERN_WR_CRLF |
		TERN_WR_DOTSTUFF, NULL, &len);
	/* the writer ends the last line for SMTP */
	assert_int_equal(len, wlen + 2);
	assert_memory_equal(out, want, wlen);
	assert_memory_equal(out + wlen, "\r\n", 2);
	free(out);
	free(body);
	free(want);
	close(m.data_fd);
}

static void
test_write_error(void **state)
{
	struct message m;
	char *err = NULL;
	int p[2];

	(void)state;
	make_msg(&m, "s@example.org", "x\n", 2);
	assert_int_equal(pipe(p), 0);
	close(p[1]);
	assert_int_equal(deliver_write_message(&m, p[0], 0, NULL, NULL, &err),
		TERN_DEFER);
	assert_non_null(strstr(err, "write error: "));
	close(p[0]);
	close(m.data_fd);
}

/* headers_add and headers_remove, as parsed and as written. */
static void
test_header_changes(void **state)
{
	static struct header r3 = { "Subject: hi\n", 12, HDR_NORMAL, NULL };
	static struct header r2 = { "x-drop: b\n\tmore\n", 17, HDR_NORMAL,
		&r3 };
	static struct header r1 = { "X-Drop: a\n", 10, HDR_NORMAL, &r2 };
	static struct header r0 = { "X-Spam-Score: 1\n", 16, HDR_NORMAL, &r1 };
	struct hdr_changes hc;
	struct message m;
	char *err = NULL, *out;
	int fd = memfd_create("out", 0);
	off_t len;

	(void)state;
	assert_int_equal(hdr_changes_parse(arena_msg,
		"X-A: 1\r\n\n  \nX-B: 2\n\tcont", "X-DROP : x-spam-*",
		&hc, &err), TERN_OK);
	assert_string_equal(hc.add, "X-A: 1\nX-B: 2\n\tcont\n");
	assert_string_equal(hc.remove[0], "X-DROP");
	assert_string_equal(hc.remove[1], "x-spam-*");
	assert_null(hc.remove[2]);
	make_msg(&m, "s@example.org", "body\n", 5);
	m.headers = &r0;
	assert_int_equal(deliver_write_message_hc(&m, fd, 0, NULL, &hc, NULL,
		&err), TERN_OK);
	len = lseek(fd, 0, SEEK_END);
	out = calloc(1, (size_t)len + 1);
	assert_int_equal(pread(fd, out, (size_t)len, 0), len);
	assert_string_equal(out, "Subject: hi\nX-A: 1\nX-B: 2\n\tcont\n\n"
		"body\n");
	free(out);
	close(fd);
	close(m.data_fd);

	assert_int_equal(hdr_changes_parse(arena_msg, "", NULL, &hc, &err),
		TERN_OK);
	assert_string_equal(hc.add, "");
	assert_null(hc.remove);
	assert_int_equal(hdr_changes_parse(arena_msg, "X-A: 1\nnocolon", NULL,
		&hc, &err), TERN_DEFER);
	assert_non_null(strstr(err, "not a header line"));
	assert_int_equal(hdr_changes_parse(arena_msg, "X A: 1", NULL, &hc,
		&err), TERN_DEFER);
	assert_non_null(strstr(err, "bad header name"));
	assert_int_equal(hdr_changes_parse(arena_msg, " x: 1", NULL, &hc,
		&err), TERN_DEFER);
	assert_non_null(strstr(err, "follows no header"));
	assert_int_equal(hdr_changes_parse(arena_msg, "X-A: a\rb", NULL, &hc,
		&err), TERN_DEFER);
	assert_non_null(strstr(err, "control character"));
}

static int
setup(void **state)
{
	(void)state;
	arena_init_all();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_mbox_from_and_envelope),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_body_end),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_header_changes),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
