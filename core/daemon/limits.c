/*
 * The daemon's accept limits (Exim's): smtp_accept_max, the connections
 * kept for smtp_reserve_hosts (smtp_accept_reserve, smtp_load_reserve),
 * smtp_accept_max_per_host, and smtp_accept_queue (above it, messages
 * are queued instead of delivered).  The daemon keeps one slot per
 * reception process: its pid and the client's address.
 */
#include "daemon/daemon_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "daemon/load.h"
#include "lib/arena.h"
#include "log/log.h"

struct slot {
	pid_t pid;
	char  host[64];
};

static struct slot *slots;
static size_t nslots, cap;
static char queue_why[80];

void
limits_add(pid_t pid, const char *host)
{
	if (nslots == cap) {
		size_t ncap = cap ? 2 * cap : 32;
		struct slot *more = realloc(slots, ncap * sizeof(*more));

		if (more == NULL)
			return; /* only per-host counting suffers */
		slots = more;
		cap = ncap;
	}
	slots[nslots].pid = pid;
	snprintf(slots[nslots].host, sizeof(slots[nslots].host), "%s", host);
	nslots++;
}

bool
limits_remove(pid_t pid)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].pid == pid) {
			slots[i] = slots[--nslots];
			return true;
		}
	return false;
}

static int
count_host(const char *host)
{
	int n = 0;

	for (size_t i = 0; i < nslots; i++)
		n += strcmp(slots[i].host, host) == 0;
	return n;
}

static bool
is_reserved(const char *host)
{
	char *err = NULL;

	return conf.smtp_reserve_hosts != NULL &&
		list_match(TERN_LIST_HOST, conf.smtp_reserve_hosts, host, NULL,
		&err) == TERN_OK;
}

static const char *
refuse(const char *host, const char *log_why, const char *reply)
{
	log_write(TERN_LOG_MAIN | TERN_LOG_REJECT, NULL,
		"Connection from [%s] refused: %s", host, log_why);
	return reply;
}

const char *
limits_check(const char *host, int nconn, const char **queue_out)
{
	static const char too_many[] =
		"Too many concurrent SMTP connections; please try again later";
	int max = conf.smtp_accept_max, res = conf.smtp_accept_reserve;
	double load;

	*queue_out = NULL;
	if (max > 0 && nconn >= max)
		return refuse(host, "too many connections", too_many);
	if (max > 0 && res > 0 && nconn >= max - res && !is_reserved(host))
		return refuse(host, "connections reserved for "
			"smtp_reserve_hosts", too_many);
	if (conf.smtp_load_reserve != NULL &&
	    load_exceeds(conf.smtp_load_reserve, &load) && !is_reserved(host))
		return refuse(host, arena_printf(arena_scratch, "load average "
			"%.2f above smtp_load_reserve", load),
			"Too much load; please try again later");
	if (conf.smtp_accept_max_per_host > 0 &&
	    count_host(host) >= conf.smtp_accept_max_per_host)
		return refuse(host, "too many connections from that IP address",
			"Too many concurrent SMTP connections from this IP address;"
			" please try again later");
	if (conf.smtp_accept_queue > 0 && nconn >= conf.smtp_accept_queue) {
		snprintf(queue_why, sizeof(queue_why), "more than %d connections",
			conf.smtp_accept_queue);
		*queue_out = queue_why;
	}
	return NULL;
}
