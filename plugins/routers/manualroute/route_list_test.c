/* route_list parsing: items, separators, quoted host lists, options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "route_list.h"

struct icase {
	const char *item;
	int         want_rc;
	const char *domains, *hosts;
	enum mr_lookup lookup;
	int         randomize;
};

static const struct icase icases[] = {
	{ "*.example  smart.example", 0, "*.example", "smart.example",
	  MR_LOOKUP_DEFAULT, -1 },
	{ "a.example  \"h1 : h2::2525\"  randomize bydns", 0, "a.example",
	  "h1 : h2::2525", MR_LOOKUP_BYDNS, 1 },
	{ "b.example 127.0.0.2::2525:127.0.0.3 byname no_randomize", 0,
	  "b.example", "127.0.0.2::2525:127.0.0.3", MR_LOOKUP_BYNAME, 0 },
	{ "c.example", 0, "c.example", "", MR_LOOKUP_DEFAULT, -1 },
	{ "d.example h1 sideways", -1, NULL, NULL, 0, 0 },
	{ "e.example \"h1 : h2", -1, NULL, NULL, 0, 0 },
	{ "   ", -1, NULL, NULL, 0, 0 },
};

static void
test_items(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(icases) / sizeof(icases[0]); i++) {
		const struct icase *c = &icases[i];
		char *copy = strdup(c->item);
		struct mr_item it;
		const char *err = NULL;
		int rc = mr_parse_item(copy, &it, &err);

		if (rc != c->want_rc)
			fail_msg("\"%s\": got rc %d (%s), want %d", c->item, rc,
				err ? err : "-", c->want_rc);
		if (rc == 0 && (strcmp(it.domains, c->domains) != 0 ||
		    strcmp(it.hosts, c->hosts) != 0 || it.lookup != c->lookup ||
		    it.randomize != c->randomize))
			fail_msg("\"%s\": got \"%s\" \"%s\" %d %d, want \"%s\" "
				"\"%s\" %d %d", c->item, it.domains, it.hosts,
				it.lookup, it.randomize, c->domains, c->hosts,
				c->lookup, c->randomize);
		free(copy);
	}
}

static void
test_split(void **state)
{
	static const struct {
		const char *list;
		const char *want[4];
	} cases[] = {
		{ "a.example h1 ; b.example h2;c h3 ;", { "a.example h1",
		  "b.example h2", "c h3", NULL } },
		{ "<| a h1;x | b \"h2 ; h3\" ", { "a h1;x", "b \"h2 ; h3\"", NULL } },
		{ " ; ;", { NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *p = cases[i].list;
		char sep = '\0', *item;
		size_t n = 0;

		while ((item = mr_next_item(&p, &sep)) != NULL) {
			if (cases[i].want[n] == NULL ||
			    strcmp(item, cases[i].want[n]) != 0)
				fail_msg("\"%s\" item %zu: got \"%s\", want \"%s\"",
					cases[i].list, n, item, cases[i].want[n] ?
					cases[i].want[n] : "(end)");
			free(item);
			n++;
		}
		if (cases[i].want[n] != NULL)
			fail_msg("\"%s\": got %zu items, want more", cases[i].list,
				n);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_items),
		cmocka_unit_test(test_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
