/* The DATA decoder: terminator, dot-stuffing, bare CR/LF smuggling. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/arena.h"
#include "lib/buf.h"
#include "receive/rcv_int.h"

struct dec_case {
	const char *name;
	enum rcv_mode mode;
	const char *in;
	size_t inlen;         /* 0: strlen(in) */
	const char *want;     /* decoded bytes */
	size_t wantlen;
	enum rcv_dec_result want_rc;
	const char *want_rest; /* what is left for the next command */
};

#define S(x) x, sizeof(x) - 1

static const struct dec_case dec_cases[] = {
	{ "plain", RCV_SMTP, S("hello\r\n.\r\n"), S("hello\n"), RCV_DEC_END, "" },
	{ "empty message", RCV_SMTP, S(".\r\n"), S(""), RCV_DEC_END, "" },
	{ "blank line first", RCV_SMTP, S("\r\n.\r\n"), S("\n"), RCV_DEC_END, "" },
	{ "pipelined next command", RCV_SMTP, S("a\r\n.\r\nQUIT\r\n"), S("a\n"),
	  RCV_DEC_END, "QUIT\r\n" },
	{ "dot-unstuffing", RCV_SMTP, S("a\r\n..b\r\n...\r\n..\r\n.\r\n"),
	  S("a\n.b\n..\n.\n"), RCV_DEC_END, "" },
	{ "single leading dot removed", RCV_SMTP, S(".x\r\n.\r\n"), S("x\n"),
	  RCV_DEC_END, "" },
	{ "LF.LF does not end", RCV_SMTP,
	  S("a\n.\nMAIL FROM:<x@y>\r\n.\r\nNEXT"),
	  S("a\n.\nMAIL FROM:<x@y>\n"), RCV_DEC_END, "NEXT" },
	{ "CR.CR does not end", RCV_SMTP, S("a\r.\rb\r\n.\r\n"), S("a\r.\rb\n"),
	  RCV_DEC_END, "" },
	{ "LF.CRLF does not end", RCV_SMTP, S("a\n.\r\nb\r\n.\r\n"),
	  S("a\n.\nb\n"), RCV_DEC_END, "" },
	{ "CRLF.LF does not end", RCV_SMTP, S("a\r\n.\nb\r\n.\r\n"),
	  S("a\n\nb\n"), RCV_DEC_END, "" },
	{ "CRLF.CR does not end", RCV_SMTP, S("a\r\n.\r.\r\n.\r\n"),
	  S("a\n\r.\n"), RCV_DEC_END, "" },
	{ "CR CRLF.CRLF", RCV_SMTP, S("a\r\r\n.\r\n"), S("a\r\n"), RCV_DEC_END,
	  "" },
	{ "8-bit and NUL kept", RCV_SMTP, S("\xff\xe9\0z\r\n.\r\n"),
	  S("\xff\xe9\0z\n"), RCV_DEC_END, "" },
	{ "EOF in data", RCV_SMTP, S("abc\r\n"), S("abc\n"), RCV_DEC_EOF, "" },
	{ "EOF after dot", RCV_SMTP, S("abc\r\n.\r"), S("abc\n\r"), RCV_DEC_EOF,
	  "" },
	{ "local: dot line ends", RCV_LOCAL, S("a\n.\nb\n"), S("a\n"),
	  RCV_DEC_END, "b\n" },
	{ "local: dot CRLF ends", RCV_LOCAL, S("a\r\n.\r\nb\n"), S("a\n"),
	  RCV_DEC_END, "b\n" },
	{ "local: no unstuffing", RCV_LOCAL, S("..x\n.y\n"), S("..x\n.y\n"),
	  RCV_DEC_EOF, "" },
	{ "local: EOF, last line unterminated", RCV_LOCAL, S("a\r\nb"),
	  S("a\nb"), RCV_DEC_EOF, "" },
	{ "local: trailing dot at EOF", RCV_LOCAL, S("a\n."), S("a\n."),
	  RCV_DEC_EOF, "" },
	{ "local -i: dot is data", RCV_LOCAL_DOT_I, S("a\n.\nb\n"),
	  S("a\n.\nb\n"), RCV_DEC_EOF, "" },
};

static void
collect(void *arg, const char *p, size_t n)
{
	if (!buf_add(arg, p, n))
		fail_msg("collect: buffer full");
}

/* Feed in through a pipe; chunk 1 makes every byte a separate read. */
static void
run_case(const struct dec_case *c, size_t inlen, size_t chunk)
{
	struct rcv_source src;
	struct buf out, rest;
	int fds[2];
	enum rcv_dec_result rc;

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], c->in, inlen), (ssize_t)inlen);
	close(fds[1]);
	rcv_source_init(&src, fds[0], 5);
	if (chunk > 0)
		src.size = chunk;
	buf_init(&out, arena_scratch, 0);
	buf_init(&rest, arena_scratch, 0);
	rc = rcv_decode(&src, c->mode, collect, &out);
	for (;;) {
		char *line;
		ssize_t n = rcv_read_line(&src, &line, 4096);

		if (n <= 0)
			break;
		assert_true(buf_add(&rest, line, (size_t)n));
	}
	close(fds[0]);
	if (rc != c->want_rc)
		fail_msg("%s (chunk %zu): got rc %d, want %d", c->name, chunk,
			rc, c->want_rc);
	if (out.len != c->wantlen ||
	    memcmp(out.p, c->want, out.len) != 0)
		fail_msg("%s (chunk %zu): got \"%s\", want \"%s\"", c->name,
			chunk, str_printable(arena_scratch, out.p, out.len),
			c->want);
	if (strcmp(rest.p, c->want_rest) != 0)
		fail_msg("%s (chunk %zu): rest got \"%s\", want \"%s\"",
			c->name, chunk, rest.p, c->want_rest);
}

static void
test_decode_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(dec_cases) / sizeof(dec_cases[0]); i++) {
		run_case(&dec_cases[i], dec_cases[i].inlen, 0);
		run_case(&dec_cases[i], dec_cases[i].inlen, 1);
		run_case(&dec_cases[i], dec_cases[i].inlen, 3);
	}
}

static void
test_read_line(void **state)
{
	static const char in[] = "EHLO x\r\nbare\rcr\nTOOLONGLINE\r\nlast";
	struct rcv_source src;
	char *line;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], in, sizeof(in) - 1),
		(ssize_t)sizeof(in) - 1);
	close(fds[1]);
	rcv_source_init(&src, fds[0], 5);
	src.size = 4;
	assert_int_equal(rcv_read_line(&src, &line, 10), 8);
	assert_string_equal(line, "EHLO x\r\n");
	assert_int_equal(rcv_read_line(&src, &line, 10), 8);
	assert_string_equal(line, "bare\rcr\n");
	assert_int_equal(rcv_read_line(&src, &line, 10), -2);
	assert_int_equal(rcv_read_line(&src, &line, 10), 4);
	assert_string_equal(line, "last");
	assert_int_equal(rcv_read_line(&src, &line, 10), 0);
	close(fds[0]);
}

static void
test_timeout(void **state)
{
	struct rcv_source src;
	char *line;
	int fds[2];

	(void)state;
	assert_int_equal(pipe(fds), 0);
	rcv_source_init(&src, fds[0], 1);
	assert_int_equal(rcv_read_line(&src, &line, 10), -1);
	close(fds[0]);
	close(fds[1]);
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
		cmocka_unit_test(test_decode_table),
		cmocka_unit_test(test_read_line),
		cmocka_unit_test(test_timeout),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
