/* Unit tests for log_selector: parsing, defaults, durations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lib/arena.h"
#include "log/selector.h"

static void
test_defaults(void **state)
{
	(void)state;
	log_selector_reset();
	/* Exim's defaults ... */
	assert_true(LOG_SEL(queue_run));
	assert_true(LOG_SEL(retry_defer));
	assert_true(LOG_SEL(smtp_confirmation));
	assert_true(LOG_SEL(tls_cipher));
	assert_true(LOG_SEL(msg_id));
	assert_true(LOG_SEL(skip_delivery));
	assert_true(LOG_SEL(tls_certificate_verified));
	/* on in Exim's source (globals.c), though its manual's table
	 * does not mark them */
	assert_true(LOG_SEL(outgoing_interface));
	assert_true(LOG_SEL(queue_time_exclusive));
	assert_false(LOG_SEL(outgoing_port));
	assert_false(LOG_SEL(queue_time));
	assert_false(LOG_SEL(pid));
	assert_false(LOG_SEL(tls_peerdn));
	assert_false(LOG_SEL(subject));
	/* ... but for incoming_port (docs/log.md). */
	assert_true(LOG_SEL(incoming_port));
}

static void
test_set(void **state)
{
	char *err = NULL;

	(void)state;
	log_selector_reset();
	assert_int_equal(log_selector_set("+pid -queue_run\t+subject", &err),
		0);
	assert_true(LOG_SEL(pid));
	assert_false(LOG_SEL(queue_run));
	assert_true(LOG_SEL(subject));
	assert_true(log_selected_name("subject"));
	assert_false(log_selected_name("queue_run"));
	assert_false(log_selected_name("no_such_thing"));
	assert_false(log_selected_name(NULL));

	/* Each setting starts again from the defaults, as a later line of
	 * the configuration replaces an earlier one. */
	assert_int_equal(log_selector_set("-tls_cipher", &err), 0);
	assert_false(LOG_SEL(pid));
	assert_true(LOG_SEL(queue_run));
	assert_false(LOG_SEL(tls_cipher));

	/* all, then exceptions, in order. */
	assert_int_equal(log_selector_set("+all -pid", &err), 0);
	assert_true(LOG_SEL(subject));
	assert_true(LOG_SEL(millisec));
	assert_false(LOG_SEL(pid));
	assert_int_equal(log_selector_set("-all +pid", &err), 0);
	assert_false(LOG_SEL(queue_run));
	assert_true(LOG_SEL(pid));
	assert_int_equal(log_selector_set("", &err), 0);
	assert_true(LOG_SEL(queue_run));
}

static void
test_errors(void **state)
{
	char *err = NULL;

	(void)state;
	log_selector_reset();
	assert_int_equal(log_selector_set("+pid subject", &err), -1);
	assert_string_equal(err, "\"subject\": each item must start with + or -");
	assert_false(LOG_SEL(pid)); /* nothing applied from a bad value */
	assert_int_equal(log_selector_set("+pid +subjekt", &err), -1);
	assert_string_equal(err, "unknown selector \"subjekt\"");
	assert_int_equal(log_selector_set("+", &err), -1);
	assert_string_equal(err, "unknown selector \"\"");
	assert_int_equal(log_selector_set("+alll", &err), -1);
	assert_false(LOG_SEL(pid));
}

static void
test_duration(void **state)
{
	char *err = NULL;

	(void)state;
	log_selector_reset();
	assert_string_equal(log_duration(0), "0s");
	assert_string_equal(log_duration(999), "0s");
	assert_string_equal(log_duration(3000), "3s");
	assert_string_equal(log_duration(62000), "1m2s");
	assert_string_equal(log_duration(3600000), "1h");
	assert_string_equal(log_duration((2 * 86400 + 3 * 3600) * 1000LL),
		"2d3h");
	assert_string_equal(log_duration(8 * 86400 * 1000LL + 1000), "1w1d1s");
	assert_string_equal(log_duration(-5), "0s");
	assert_int_equal(log_selector_set("+millisec", &err), 0);
	assert_string_equal(log_duration(304), "0.304s");
	assert_string_equal(log_duration(59999), "59.999s");
	assert_string_equal(log_duration(61500), "1m1s");
}

static void
test_shared_fields(void **state)
{
	char *err = NULL;

	(void)state;
	log_selector_reset();
	/* the default: the port, no I=; helo only when it differs */
	assert_string_equal(log_client(arena_scratch, NULL, "c.example",
		"192.0.2.7", 5000, "192.0.2.1", 25),
		"(c.example) [192.0.2.7]:5000");
	assert_string_equal(log_client(arena_scratch, "mx.example",
		"MX.example", "192.0.2.7", 5000, NULL, 0),
		"mx.example [192.0.2.7]:5000");
	assert_string_equal(log_client(arena_scratch, NULL, "a\nb",
		"192.0.2.7", 1, NULL, 0), "(a\\nb) [192.0.2.7]:1");
	assert_string_equal(log_conn_id(arena_scratch), "");
	assert_string_equal(log_tls_fields(arena_scratch, "TLS1.3:X:256",
		"yes", "CN=c", "s.example"), " X=TLS1.3:X:256 CV=yes");
	assert_string_equal(log_tls_fields(arena_scratch, NULL, NULL, NULL,
		NULL), "");
	assert_int_equal(log_selector_set("-incoming_port +incoming_interface "
		"+tls_peerdn +tls_sni -tls_cipher", &err), 0);
	assert_string_equal(log_client(arena_scratch, NULL, NULL,
		"192.0.2.7", 5000, "192.0.2.1", 25),
		"[192.0.2.7] I=[192.0.2.1]:25");
	assert_string_equal(log_tls_fields(arena_scratch, "TLS1.3:X:256",
		"yes", "CN=c", "s.example"),
		" CV=yes DN=\"CN=c\" SNI=s.example");
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
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_shared_fields),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
