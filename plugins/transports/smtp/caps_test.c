/* smtp_parse_ehlo: the keywords the transport uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp.h"

static char *
dup(void *arg, const char *s)
{
	(void)arg;
	return strdup(s);
}

static void
test_caps(void **state)
{
	struct smtp_caps c;

	(void)state;
	memset(&c, 0, sizeof(c));
	smtp_parse_ehlo("mx.example Hello\nPIPELINING\nSIZE 1000\n8BITMIME\n"
		"STARTTLS\nAUTH PLAIN LOGIN\nAUTH=LOGIN", &c, dup, NULL);
	assert_true(c.has_pipelining && c.has_8bitmime && c.has_starttls);
	assert_true(c.has_size);
	if (c.size_max != 1000)
		fail_msg("got size %llu, want 1000", (unsigned long long)c.size_max);
	assert_string_equal(c.auth_mechs, "PLAIN LOGIN");
	free((char *)c.auth_mechs);

	memset(&c, 0, sizeof(c));
	smtp_parse_ehlo("PIPELINING is not a keyword on the greeting line\n"
		"SIZE\nPIPELININGX\nx8BITMIME", &c, dup, NULL);
	assert_false(c.has_pipelining || c.has_8bitmime || c.has_starttls);
	assert_true(c.has_size);
	assert_int_equal(c.size_max, 0);
	assert_null(c.auth_mechs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_caps) };

	return cmocka_run_group_tests(tests, NULL, NULL);
}
