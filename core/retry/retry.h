/*
 * Retry rules (`begin retry`) and retry records (the "retry" hints
 * database).  Keys, as Exim's: "T:host:ip" or "T:host:ip:port" (a remote
 * host), "R:domain" (routing), "local_part@domain" (an address).
 */
#ifndef TERN_CORE_RETRY_RETRY_H
#define TERN_CORE_RETRY_RETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct arena;

/* One rule of a retry line: F,cutoff,interval or G|H,cutoff,first,factor */
struct retry_item {
	char   kind;     /* 'F', 'G' or 'H' */
	int    cutoff;   /* seconds since the first failure */
	int    interval; /* F: fixed; G/H: the first interval */
	double factor;   /* G/H: > 1.0 */
};

/*
 * Parse "F,2h,15m; G,16h,1h,1.5; F,4d,6h" into *items_out (arena a).
 * Cutoffs must increase.  0, or -1 with *err_out (arena a) naming the bad
 * rule.
 */
int retry_parse_rules(struct arena *a, const char *text,
	struct retry_item **items_out, size_t *n_out, char **err_out);

/*
 * The next try after a failure at `now`.  first_failed: the first failure
 * of this series; prev_gap: next_try - last_try of the previous record (0
 * for the first failure); rnd: a random number (for H).  Sets *expired
 * when the last cutoff has passed: the address or host has failed for
 * good.  Returns the time of the next try.
 */
time_t retry_next_time(const struct retry_item *items, size_t n,
	time_t first_failed, time_t now, time_t prev_gap, uint32_t rnd,
	bool *expired_out);

/*
 * Does a rule's error field match an error class?  "*" matches all;
 * "timeout" matches "timeout_connect" (prefix up to "_"); "x" in the rule
 * matches any digit ("rcpt_4xx" matches "rcpt_451").  Caseless.
 */
bool retry_class_match(const char *rule_error, const char *error_class);

/* Is key (an address, "R:dom" or "T:host:ip") matched by pattern? */
bool retry_key_match(const char *pattern, const char *key);

/* A decoded retry record (strings in arena_msg). */
struct retry_record {
	time_t      first_failed;
	time_t      last_try;
	time_t      next_try;
	bool        expired;
	int         basic_errno;
	const char *error_class; /* "" when none */
	const char *text;
};

/* Encode/decode a record as the database stores it (one text line). */
char *retry_record_encode(struct arena *a, const struct retry_record *r);
int retry_record_decode(struct arena *a, const char *text, size_t len,
	struct retry_record *r);

/*
 * Read key's record: 0; 1 none to use (too old for retry_data_expire, or
 * not readable); 2 none in the database; -1 the database failed.
 */
int retry_lookup(const char *key, struct retry_record *r);

/*
 * May key be tried now?  TERN_OK yes; TERN_DEFER its retry time has not
 * come (*next_out); TERN_FAIL its retry rules' cutoff has passed and it is
 * not due (unless received, the message's arrival, is after the last
 * try: a new message gets one try).  *absent_out (if not NULL): the
 * database surely has no record for key, so success has none to delete.
 */
int retry_check(const char *key, time_t received, time_t *next_out,
	bool *absent_out);

/*
 * After a try of key: error_class NULL on success (the record is
 * deleted), else the failure is recorded under the first matching rule.
 * Returns true when the key has timed out (retry rules' final cutoff
 * passed, or no rule matches: Exim treats that as permanent).
 */
bool retry_update(const char *key, const char *error_class, int basic_errno,
	const char *text);

/* The class of a local delivery failure from its errno ("quota" ...). */
const char *retry_local_class(int basic_errno, const char *text);

#endif
