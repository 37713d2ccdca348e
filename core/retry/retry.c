/*
 * Retry records in the "retry" hints database: when a key (host, domain
 * or address) first failed, when it was last tried, when it may be tried
 * next, and whether its retry rules have run out.  A record stores one
 * line: "first last next expired errno class<TAB>text".
 */
#include "retry/retry.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/rc.h>

#include "config/config.h"
#include "hints/hints.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "log/log.h"

#define RETRY_DB "retry"
#define RETRY_TEXT_MAX 512

/* Exim's default configuration's rule, used when `begin retry` is empty. */
static const char default_rules[] = "F,2h,15m; G,16h,1h,1.5; F,4d,6h";

char *
retry_record_encode(struct arena *a, const struct retry_record *r)
{
	const char *text = r->text != NULL ? r->text : "";
	size_t n = strlen(text) < RETRY_TEXT_MAX ? strlen(text) : RETRY_TEXT_MAX;
	char *clean = arena_strndup(a, text, n);

	for (char *p = clean; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return arena_printf(a, "%jd %jd %jd %d %d %s\t%s",
		(intmax_t)r->first_failed, (intmax_t)r->last_try,
		(intmax_t)r->next_try, r->expired ? 1 : 0, r->basic_errno,
		r->error_class != NULL && *r->error_class != '\0' ?
		r->error_class : "-", clean);
}

int
retry_record_decode(struct arena *a, const char *text, size_t len,
	struct retry_record *r)
{
	char *copy = arena_strndup(a, text, len), *tab = strchr(copy, '\t');
	char cls[128];
	intmax_t f, l, nx;
	int exp, err;

	if (tab == NULL)
		return -1;
	*tab = '\0';
	if (sscanf(copy, "%jd %jd %jd %d %d %127s", &f, &l, &nx, &exp, &err,
	    cls) != 6)
		return -1;
	r->first_failed = (time_t)f;
	r->last_try = (time_t)l;
	r->next_try = (time_t)nx;
	r->expired = exp != 0;
	r->basic_errno = err;
	r->error_class = strcmp(cls, "-") == 0 ? "" : arena_strdup(a, cls);
	r->text = tab + 1;
	return 0;
}

int
retry_lookup(const char *key, struct retry_record *r)
{
	void *val;
	size_t len;
	int rc = hints_read(RETRY_DB, key, arena_msg, &val, &len);

	if (rc == TERN_FAIL)
		return 2;
	if (rc != TERN_OK)
		return -1;
	if (retry_record_decode(arena_msg, val, len, r) != 0)
		return 1; /* garbage: as if there were none */
	if (conf.retry_data_expire > 0 &&
	    r->last_try + conf.retry_data_expire < time(NULL))
		return 1;
	return 0;
}

int
retry_check(const char *key, time_t received, time_t *next_out,
	bool *absent_out)
{
	struct retry_record r;
	time_t now = time(NULL);
	int rc = retry_lookup(key, &r);

	if (absent_out != NULL)
		*absent_out = rc == 2;
	if (rc != 0)
		return TERN_OK;
	*next_out = r.next_try;
	if (now >= r.next_try)
		return TERN_OK;
	if (r.expired)
		return received > r.last_try ? TERN_OK : TERN_FAIL;
	return TERN_DEFER;
}

/*
 * The rules for key and error class: the first matching line of
 * `begin retry`, or Exim's default rule when there are none.  NULL when
 * lines exist and none matches.
 */
static const char *
find_rules(const char *key, const char *error_class)
{
	if (cfg.retries == NULL)
		return default_rules;
	for (const struct retry_rule *r = cfg.retries; r != NULL; r = r->next)
		if (retry_class_match(r->error, error_class) &&
		    retry_key_match(r->pattern, key))
			return r->rules;
	return NULL;
}

bool
retry_update(const char *key, const char *error_class, int basic_errno,
	const char *text)
{
	struct retry_record old, r;
	struct retry_item *items;
	const char *rules;
	char *err = NULL;
	size_t n;
	time_t now = time(NULL), prev_gap = 0;
	bool have_old;

	if (error_class == NULL) {
		(void)hints_delete(RETRY_DB, key);
		return false;
	}
	rules = find_rules(key, error_class);
	if (rules == NULL) {
		DEBUG("retry: no rule for %s (%s): permanent", key, error_class);
		return true;
	}
	if (retry_parse_rules(arena_msg, rules, &items, &n, &err) != 0 ||
	    n == 0) {
		log_write(TERN_LOG_MAIN | TERN_LOG_PANIC, NULL, "%s",
			err != NULL ? err : "retry: empty rule");
		return false;
	}
	have_old = retry_lookup(key, &old) == 0;
	memset(&r, 0, sizeof(r));
	r.first_failed = have_old ? old.first_failed : now;
	if (have_old && old.next_try > old.last_try)
		prev_gap = old.next_try - old.last_try;
	r.last_try = now;
	r.next_try = retry_next_time(items, n, r.first_failed, now, prev_gap,
		arc4random(), &r.expired);
	r.basic_errno = basic_errno;
	r.error_class = error_class;
	r.text = text;
	{
		const char *line = retry_record_encode(arena_msg, &r);

		(void)hints_write(RETRY_DB, key, line, strlen(line));
	}
	return r.expired;
}

const char *
retry_local_class(int basic_errno, const char *text)
{
	if (basic_errno == EDQUOT || (text != NULL && strstr(text, "quota")))
		return "quota";
	if (basic_errno == ETIMEDOUT)
		return "timeout";
	return "local";
}
