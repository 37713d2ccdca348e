/*
 * tern-next: show the retry data of an address, a domain or a host (like
 * Exim's exinext).  tern-next [-C config] address|domain|host|ip
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config/config.h"
#include "hints/hints.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "retry/retry.h"

struct want {
	const char *arg;    /* lower case */
	const char *domain; /* of an address, or NULL */
	int         found;
};

static const char *
when(time_t t)
{
	static char out[4][64];
	static int i;
	struct tm tm;

	i = (i + 1) % 4;
	localtime_r(&t, &tm);
	strftime(out[i], sizeof(out[i]), "%d-%b-%Y %H:%M:%S", &tm);
	return out[i];
}

/* Does record key belong to what was asked? */
static bool
matches(const struct want *w, const char *key)
{
	const char *rest;
	size_t n;

	n = strlen(w->arg);
	if (strcmp(key, w->arg) == 0 || (strncmp(key, w->arg, n) == 0 &&
	    key[n] == ':' && (key[n + 1] == '/' || key[n + 1] == '|')))
		return true; /* the address, or a pipe or file it became */
	if (strncmp(key, "R:", 2) == 0)
		return strcmp(key + 2, w->domain != NULL ? w->domain : w->arg) == 0;
	if (strncmp(key, "T:", 2) != 0)
		return false;
	rest = key + 2;
	n = strcspn(rest, ":");
	if (strlen(w->arg) == n && strncmp(rest, w->arg, n) == 0)
		return true; /* T:host:... */
	rest += n;
	if (*rest != ':')
		return false;
	rest++;
	n = strcspn(rest, ":");
	return strlen(w->arg) == n && strncmp(rest, w->arg, n) == 0;
}

static int
show(const char *key, const void *val, size_t len, void *arg)
{
	struct want *w = arg;
	struct retry_record r;

	if (!matches(w, key))
		return HINTS_KEEP;
	if (retry_record_decode(arena_msg, val, len, &r) != 0)
		return HINTS_KEEP;
	w->found++;
	printf("%s %s", strncmp(key, "R:", 2) == 0 ? "Routing:" :
		strncmp(key, "T:", 2) == 0 ? "Transport:" : "Address:",
		strncmp(key, "T:", 2) == 0 || strncmp(key, "R:", 2) == 0 ?
		key + 2 : key);
	if (r.basic_errno != 0)
		printf(" error %d", r.basic_errno);
	if (r.error_class[0] != '\0')
		printf(" (%s)", r.error_class);
	printf(": %s\n", r.text);
	printf("  first failed: %s\n", when(r.first_failed));
	printf("  last tried:   %s\n", when(r.last_try));
	printf("  next try at:  %s\n", when(r.next_try));
	if (r.expired)
		printf("  past final cutoff time\n");
	return HINTS_KEEP;
}

int
main(int argc, char **argv)
{
	struct want w = { 0 };
	const char *conf_file = TERN_SYSCONFDIR "/tern/tern.conf";
	char *err = NULL, *at;
	int i = 1, rc;

	arena_init_all();
	if (argc > 2 && strncmp(argv[1], "-C", 2) == 0) {
		conf_file = argv[1][2] != '\0' ? argv[1] + 2 : argv[++i];
		i++;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: tern-next [-C config] "
			"address|domain|host|ip\n");
		return 2;
	}
	rt.progname = "tern-next";
	if (config_read(conf_file) != 0)
		return 2;
	w.arg = str_lower(arena_perm, argv[i]);
	at = strrchr(w.arg, '@');
	w.domain = at != NULL ? at + 1 : NULL;
	rc = hints_walk("retry", false, show, &w, &err);
	if (rc < 0) {
		fprintf(stderr, "tern-next: %s\n", err);
		return 2;
	}
	if (w.found == 0) {
		printf("No retry data found for %s\n", argv[i]);
		return 1;
	}
	return 0;
}
