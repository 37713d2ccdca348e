/* CRAM-MD5: the example of RFC 2195 section 2. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "hmac.h"

static void
test_rfc2195(void **state)
{
	const char *ch = "<1896.697170952@postoffice.reston.mci.net>";
	char hex[33];

	(void)state;
	assert_true(cram_digest("tanstaaftanstaaf", ch, strlen(ch), hex));
	assert_string_equal(hex, "b913a602c7eda7a495b4e6e7334d3890");
	assert_true(cram_digest_equal("B913A602C7EDA7A495B4E6E7334D3890", hex));
	assert_false(cram_digest_equal("b913a602c7eda7a495b4e6e7334d389", hex));
	assert_false(cram_digest_equal("b913a602c7eda7a495b4e6e7334d3891", hex));
	assert_false(cram_digest_equal("", hex));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc2195),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
