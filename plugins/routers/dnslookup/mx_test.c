/* mx_sort: preferences in order, equal preferences in random order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mx.h"

static uint32_t seed = 12345;

static uint32_t
lcg(uint32_t n)
{
	seed = seed * 1103515245u + 12345u;
	return (seed >> 8) % n;
}

static void
make(struct tern_dns_record *r, struct tern_dns_record **v, const int *prefs,
	const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].pref = prefs[i];
		r[i].data = names[i];
		v[i] = &r[i];
	}
}

static void
test_order(void **state)
{
	static const int prefs[] = { 20, 10, 30, 10, 5 };
	static const char *const names[] = { "a", "b", "c", "d", "e" };
	struct tern_dns_record r[5], *v[5];

	(void)state;
	for (int round = 0; round < 50; round++) {
		make(r, v, prefs, names, 5);
		mx_sort(v, 5, lcg);
		for (size_t i = 1; i < 5; i++)
			if (v[i - 1]->pref > v[i]->pref)
				fail_msg("round %d: got pref %d before %d", round,
					v[i - 1]->pref, v[i]->pref);
		if (strcmp(v[0]->data, "e") != 0 || strcmp(v[3]->data, "a") != 0 ||
		    strcmp(v[4]->data, "c") != 0)
			fail_msg("got %s %s %s %s %s, want e (b d) a c", v[0]->data,
				v[1]->data, v[2]->data, v[3]->data, v[4]->data);
		for (size_t i = 0; i < 5; i++)
			assert_ptr_equal(v[i]->next, i < 4 ? v[i + 1] : NULL);
	}
}

static void
test_random_ties(void **state)
{
	static const int prefs[] = { 10, 10, 10 };
	static const char *const names[] = { "x", "y", "z" };
	struct tern_dns_record r[3], *v[3];
	int first[3] = { 0, 0, 0 };

	(void)state;
	for (int round = 0; round < 300; round++) {
		make(r, v, prefs, names, 3);
		mx_sort(v, 3, lcg);
		first[v[0]->data[0] - 'x']++;
	}
	for (int i = 0; i < 3; i++)
		if (first[i] < 50)
			fail_msg("%c came first %d times in 300, want about 100",
				'x' + i, first[i]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_random_ties),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
