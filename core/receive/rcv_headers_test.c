/* The header section parser: kinds of lines, folding, types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "lib/arena.h"
#include "receive/rcv_int.h"

static void
test_line_kind(void **state)
{
	static const struct {
		const char *line;
		enum rcv_line_kind want;
	} cases[] = {
		{ "Subject: hi\n", RCV_LINE_HEADER },
		{ "X-Empty:\n", RCV_LINE_HEADER },
		{ "Obsolete  : space before colon\n", RCV_LINE_HEADER },
		{ " continued\n", RCV_LINE_CONT },
		{ "\tcontinued\n", RCV_LINE_CONT },
		{ "\n", RCV_LINE_BLANK },
		{ "no colon here\n", RCV_LINE_OTHER },
		{ ":starts with colon\n", RCV_LINE_OTHER },
		{ "From user Mon Jan  1\n", RCV_LINE_OTHER },
		{ "Bad\x01name: x\n", RCV_LINE_OTHER },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum rcv_line_kind got = rcv_line_kind(cases[i].line,
			strlen(cases[i].line));

		if (got != cases[i].want)
			fail_msg("\"%s\": got %d, want %d", cases[i].line, got,
				cases[i].want);
	}
}

static void
test_types(void **state)
{
	static const struct {
		const char *text;
		char want;
	} cases[] = {
		{ "Received: from x\n", HDR_RECEIVED },
		{ "from: a@b\n", HDR_FROM },
		{ "TO: a@b\n", HDR_TO },
		{ "Cc : a@b\n", HDR_CC },
		{ "Bcc: a@b\n", HDR_BCC },
		{ "Message-Id: <x@y>\n", HDR_MSGID },
		{ "Reply-To: a@b\n", HDR_REPLYTO },
		{ "Sender: a@b\n", HDR_SENDER },
		{ "Tox: a@b\n", HDR_NORMAL },
		{ "Subject: To: a@b\n", HDR_NORMAL },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char got = rcv_header_type(cases[i].text, strlen(cases[i].text));

		if (got != cases[i].want)
			fail_msg("\"%s\": got '%c', want '%c'", cases[i].text,
				got, cases[i].want);
	}
}

static enum rcv_hdr_feed
feed(struct rcv_hdr_parser *p, const char *line)
{
	return rcv_hdr_feed(p, line, strlen(line));
}

static void
test_folding(void **state)
{
	struct rcv_hdr_parser p;
	struct header *h;

	(void)state;
	rcv_hdr_init(&p, arena_scratch, 0);
	assert_int_equal(feed(&p, "Subject: one\n"), RCV_HDR_MORE);
	assert_int_equal(feed(&p, "To: a@b,\n"), RCV_HDR_MORE);
	assert_int_equal(feed(&p, "\tc@d\n"), RCV_HDR_MORE);
	assert_int_equal(feed(&p, "X: y\n"), RCV_HDR_MORE);
	assert_int_equal(feed(&p, "\n"), RCV_HDR_END_BLANK);
	h = rcv_hdr_finish(&p);
	assert_non_null(h);
	assert_string_equal(h->text, "Subject: one\n");
	assert_int_equal(h->type, HDR_NORMAL);
	h = h->next;
	assert_string_equal(h->text, "To: a@b,\n\tc@d\n");
	assert_int_equal(h->len, strlen("To: a@b,\n\tc@d\n"));
	assert_int_equal(h->type, HDR_TO);
	assert_string_equal(rcv_header_value(arena_scratch, h), "a@b,\n\tc@d");
	h = h->next;
	assert_string_equal(h->text, "X: y\n");
	assert_null(h->next);
	assert_int_equal(p.bytes, strlen("Subject: one\nTo: a@b,\n\tc@d\nX: y\n"));
}

static void
test_body_starts_without_blank(void **state)
{
	struct rcv_hdr_parser p;
	struct header *h;

	(void)state;
	rcv_hdr_init(&p, arena_scratch, 0);
	assert_int_equal(feed(&p, "Subject: one\n"), RCV_HDR_MORE);
	assert_int_equal(feed(&p, "this is body text\n"), RCV_HDR_END_BODY);
	h = rcv_hdr_finish(&p);
	assert_string_equal(h->text, "Subject: one\n");
	assert_null(h->next);

	rcv_hdr_init(&p, arena_scratch, 0);
	assert_int_equal(feed(&p, " leading space\n"), RCV_HDR_END_BODY);
	assert_null(rcv_hdr_finish(&p));
}

static void
test_too_big(void **state)
{
	struct rcv_hdr_parser p;

	(void)state;
	rcv_hdr_init(&p, arena_scratch, 20);
	assert_int_equal(feed(&p, "Subject: 0123456\n"), RCV_HDR_MORE);
	assert_false(p.too_big);
	assert_int_equal(feed(&p, " more text\n"), RCV_HDR_MORE);
	assert_true(p.too_big);
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
		cmocka_unit_test(test_line_kind),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_folding),
		cmocka_unit_test(test_body_starts_without_blank),
		cmocka_unit_test(test_too_big),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
