/* MX ordering: shuffle, then a stable sort by preference. */
#include "mx.h"

void
mx_sort(struct tern_dns_record **v, size_t n, mx_random_fn rnd)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd((uint32_t)i);
		struct tern_dns_record *t = v[i - 1];

		v[i - 1] = v[j];
		v[j] = t;
	}
	/* Insertion sort: stable, and MX lists are short. */
	for (size_t i = 1; i < n; i++) {
		struct tern_dns_record *r = v[i];
		size_t j = i;

		for (; j > 0 && v[j - 1]->pref > r->pref; j--)
			v[j] = v[j - 1];
		v[j] = r;
	}
	for (size_t i = 0; i < n; i++)
		v[i]->next = i + 1 < n ? v[i + 1] : NULL;
}
