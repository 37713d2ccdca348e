/*
 * Host lists: names, ports, IP literals, IPv6 with "<;", bad items; the
 * hosts_randomize shuffle.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dns/dns.h"
#include "lib/arena.h"
#include "lib/buf.h"

struct hcase {
	const char *list;
	int         want_rc;
	const char *want; /* "name/address/port ..." ("-" for no address) */
};

static const struct hcase cases[] = {
	{ "mx1.example", TERN_OK, "mx1.example/-/0" },
	{ "a.example : b.example::2525", TERN_OK,
	  "a.example/-/0 b.example/-/2525" },
	{ "127.0.0.2 : [127.0.0.3]::26 : 127.0.0.4::27", TERN_OK,
	  "127.0.0.2/127.0.0.2/0 127.0.0.3/127.0.0.3/26 127.0.0.4/127.0.0.4/27" },
	{ "<; [2001:db8::1]:25 ; 2001:db8::2 ; h.example:2600", TERN_OK,
	  "2001:db8::1/2001:db8::1/25 2001:db8::2/2001:db8::2/0 "
	  "h.example/-/2600" },
	{ "", TERN_OK, "" },
	{ "bad host", TERN_ERROR, NULL },
	{ "h.example::99999", TERN_ERROR, NULL },
	{ "[not.an.ip]", TERN_ERROR, NULL },
	{ "[127.0.0.1", TERN_ERROR, NULL },
	{ "h.example::", TERN_ERROR, NULL },
};

static void
test_lists(void **state)
{
	(void)state;
	arena_init_all();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tern_host *h = NULL;
		char *err = NULL;
		struct buf b;
		int rc = dns_host_list_parse(cases[i].list, &h, &err);

		if (rc != cases[i].want_rc)
			fail_msg("\"%s\": got rc %d (%s), want %d", cases[i].list, rc,
				err ? err : "-", cases[i].want_rc);
		if (rc != TERN_OK)
			continue;
		buf_init(&b, arena_msg, 0);
		for (; h != NULL; h = h->next)
			assert_true(buf_printf(&b, "%s%s/%s/%d", b.len ? " " : "",
				h->name, h->address ? h->address : "-", h->port));
		if (strcmp(b.p, cases[i].want) != 0)
			fail_msg("\"%s\": got \"%s\", want \"%s\"", cases[i].list, b.p,
				cases[i].want);
	}
}

/*
 * A shuffle keeps every host however long the list (each plugin's copy
 * once stopped at 256 and dropped the rest) and changes the order.
 */
static void
test_shuffle(void **state)
{
	enum { N = 600 };
	static struct tern_host h[N];
	struct tern_host *list = &h[0];
	bool seen[N] = { false };
	size_t n = 0, moved = 0;

	(void)state;
	for (size_t i = 0; i < N; i++)
		h[i].next = i + 1 < N ? &h[i + 1] : NULL;
	dns_host_list_shuffle(&list);
	for (struct tern_host *p = list; p != NULL; p = p->next, n++) {
		size_t i = (size_t)(p - h);

		assert_true(i < N);
		assert_false(seen[i]);
		seen[i] = true;
		moved += i != n;
	}
	assert_int_equal(n, N);
	assert_true(moved > N / 2);
	list = NULL;
	dns_host_list_shuffle(&list);
	assert_null(list);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_shuffle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
