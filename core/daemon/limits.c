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
#include <sys/mman.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "daemon/load.h"
#include "deliver/deliver.h"
#include "lib/arena.h"
#include "log/log.h"
#include "log/selector.h"

struct slot {
	pid_t pid;
	int   board; /* its flag on the board, or -1 */
	char  host[64];
};

static struct slot *slots;
static size_t nslots, cap;
static char queue_why[80];

/*
 * The board: one flag per reception process, in memory the daemon shares
 * with its children.  A reception process that is done with its
 * connection and goes on to deliver sets its flag (limits_over_flag); the
 * daemon takes those off the table when it next looks (limits_collect),
 * at the latest before it counts the next connection: no write, and no
 * wake-up of the daemon, per message.  Without a free flag a process says
 * the same on the handoff pipe ("-PID", daemon.c).
 *
 * After the n flags, two words for deliveries that share a journal commit
 * (core/deliver/share.c): BOARD_ACTIVE counts the receptions under way
 * (up when a flag is taken, down once when it is set: by the child, or
 * here when a slot comes back with its flag still clear), BOARD_PAIR is
 * the word a delivery waits on.
 */
enum { BOARD_ACTIVE, BOARD_PAIR, BOARD_WORDS };
static int *board;
static int *board_free;
static size_t board_n, board_nfree;

void
limits_board_init(size_t n)
{
	void *p;

	if (board != NULL || n == 0)
		return;
	p = mmap(NULL, (n + BOARD_WORDS) * sizeof(*board),
		PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	board_free = malloc(n * sizeof(*board_free));
	if (p == MAP_FAILED || board_free == NULL) {
		if (p != MAP_FAILED)
			munmap(p, (n + BOARD_WORDS) * sizeof(*board));
		free(board_free);
		board_free = NULL;
		return; /* the pipe does it all */
	}
	board = p;
	board_n = n;
	deliver_share_init(&board[n + BOARD_ACTIVE], &board[n + BOARD_PAIR]);
	for (size_t i = 0; i < n; i++)
		board_free[i] = (int)(n - 1 - i);
	board_nfree = n;
}

/*
 * A spare's flag (conn.c) holds SPARE_FLAG until it has a client: not 0,
 * so releasing it (a spare that ended unused) takes nothing off
 * BOARD_ACTIVE, which counts it only from then on (limits_spare_taken):
 * a delivery must not wait for a partner (share.c) because a spare waits.
 */
#define SPARE_FLAG 2

static int
board_take(int flag)
{
	int i;

	if (board_nfree == 0)
		return -1;
	i = board_free[--board_nfree];
	__atomic_store_n(&board[i], flag, __ATOMIC_RELAXED);
	return i;
}

int
limits_board_take(void)
{
	int i = board_take(0);

	if (i >= 0)
		__atomic_add_fetch(&board[board_n + BOARD_ACTIVE], 1,
			__ATOMIC_RELEASE);
	return i;
}

int
limits_board_take_spare(void)
{
	return board_take(SPARE_FLAG);
}

void
limits_spare_taken(int i)
{
	if (i < 0 || (size_t)i >= board_n)
		return;
	/* In this order: a spare killed between the two leaves the count
	 * one short (a delivery may not wait for a partner), never one
	 * over (every delivery would wait, even on an idle server). */
	__atomic_store_n(&board[i], 0, __ATOMIC_RELEASE);
	__atomic_add_fetch(&board[board_n + BOARD_ACTIVE], 1, __ATOMIC_RELEASE);
}

void
limits_board_release(int i)
{
	if (i >= 0 && (size_t)i < board_n) {
		/* A failed fork, or a process gone without setting it. */
		deliver_share_over(&board[i]);
		board_free[board_nfree++] = i;
	}
}

int *
limits_over_flag(int i)
{
	return i >= 0 && (size_t)i < board_n ? &board[i] : NULL;
}

void
limits_add(pid_t pid, const char *host, int board_i)
{
	if (nslots == cap) {
		size_t ncap = cap ? 2 * cap : 32;
		struct slot *more = realloc(slots, ncap * sizeof(*more));

		/*
		 * Only per-host counting suffers.  The flag is not given
		 * back: the child may still set it.
		 */
		if (more == NULL)
			return;
		slots = more;
		cap = ncap;
	}
	slots[nslots].pid = pid;
	slots[nslots].board = board_i;
	snprintf(slots[nslots].host, sizeof(slots[nslots].host), "%s", host);
	nslots++;
}

static void
slot_drop(size_t i)
{
	limits_board_release(slots[i].board);
	slots[i] = slots[--nslots];
}

bool
limits_remove(pid_t pid)
{
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].pid == pid) {
			slot_drop(i);
			return true;
		}
	return false;
}

int
limits_collect(void)
{
	int n = 0;

	for (size_t i = 0; i < nslots;) {
		int b = slots[i].board;

		if (b >= 0 && __atomic_load_n(&board[b], __ATOMIC_ACQUIRE)) {
			slot_drop(i);
			n++;
		} else {
			i++;
		}
	}
	return n;
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
	/* connection_reject governs the mainlog line (Exim writes it
	 * there only); rejectlog has it always. */
	log_write(TERN_LOG_REJECT | (LOG_SEL(connection_reject) ?
		TERN_LOG_MAIN : 0), NULL, "Connection from [%s] refused: %s",
		host, log_why);
	return reply;
}

bool
limits_spare_allowed(int nconn)
{
	int max = conf.smtp_accept_max, res = conf.smtp_accept_reserve;

	if (nconn >= LIMITS_SPARE_BELOW)
		return false;
	if (max > 0 && nconn >= max - (res > 0 ? res : 0))
		return false;
	if (conf.smtp_accept_max_per_host > 0 &&
	    nconn >= conf.smtp_accept_max_per_host)
		return false;
	return conf.smtp_accept_queue <= 0 || nconn < conf.smtp_accept_queue;
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
