/* Base64 for SMTP AUTH: strict decoding, round trips with NULs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <tern/rc.h>

#include "lib/arena.h"
#include "smtp_in/auth_svc.h"

static void
test_decode(void **state)
{
	static const struct {
		const char *in;
		int         rc;
		const char *want;
		size_t      len;
	} cases[] = {
		{ "", TERN_OK, "", 0 },
		{ "AHRpbQB0YW5zdGFhZg==", TERN_OK, "\0tim\0tanstaaf", 13 },
		{ "dXNlcg==", TERN_OK, "user", 4 },
		{ "dXNlcjE=", TERN_OK, "user1", 5 },
		{ "dXNlcjEy", TERN_OK, "user12", 6 },
		{ "dXNlcg=", TERN_FAIL, NULL, 0 },      /* length */
		{ "dXN=cg==", TERN_FAIL, NULL, 0 },     /* '=' inside */
		{ "dXNl cg==", TERN_FAIL, NULL, 0 },    /* space */
		{ "dXNlcg==\r", TERN_FAIL, NULL, 0 },
		{ "d===", TERN_FAIL, NULL, 0 },
		{ "!!!!", TERN_FAIL, NULL, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		int rc = auth_b64_decode(arena_scratch, cases[i].in, &out, &len);

		if (rc != cases[i].rc)
			fail_msg("decode \"%s\": got rc %d, want %d", cases[i].in,
				rc, cases[i].rc);
		if (rc != TERN_OK)
			continue;
		if (len != cases[i].len || memcmp(out, cases[i].want, len) != 0)
			fail_msg("decode \"%s\": got %zu bytes, want %zu",
				cases[i].in, len, cases[i].len);
		assert_int_equal(out[len], '\0');
	}
}

static void
test_round_trip(void **state)
{
	const char data[] = "\0alice\0pass\xff\x01";
	char *enc = auth_b64_encode(arena_scratch, data, sizeof(data) - 1);
	char *dec = NULL;
	size_t len = 0;

	(void)state;
	assert_int_equal(auth_b64_decode(arena_scratch, enc, &dec, &len),
		TERN_OK);
	assert_int_equal(len, sizeof(data) - 1);
	assert_memory_equal(dec, data, len);
	assert_string_equal(auth_b64_encode(arena_scratch, "", 0), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_round_trip),
	};

	arena_init_all();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
