/*
 * One journal commit for two deliveries.  A Maildir delivery on a file
 * system that commits metadata in order ends with an fsync that commits
 * the journal (docs/config.md, "Maildir durability"): on a device without
 * FUA that is two device flushes, and at one client, where deliveries
 * come one after the other, each message had its own commit.  When two
 * processes call fsync while both files' links are in the same running
 * transaction, one commit carries both.
 *
 * So a delivery about to make that fsync waits, for at most wait_us (the
 * transport's maildir_commit_wait, 3 ms by default), for another one to reach the same point -- but only while a reception
 * is under way somewhere, whose message may be the partner.  The second
 * one wakes the first and both fsync at once.  Each still makes its own
 * fsync: nothing relies on the other's.  The wait is before the fsync,
 * with the spool file untouched, so the order that keeps a message safe
 * is the same; it delays the delivery, never the client's 250.
 *
 * Two words of the daemon's board (core/daemon/limits.c), shared by every
 * process it forks: how many receptions are under way (counted up by the
 * daemon before the fork, down once by whoever sets the process's flag),
 * and the word a waiting delivery sleeps on: 0, or the waiter's pid.  A
 * waiter that dies leaves its pid there; the next comer "partners" it,
 * which clears the word.  Outside the daemon (sendmail -odi, -q run by
 * hand) there is no board, and no wait.
 */
#include "deliver/deliver.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int *share_active; /* receptions under way */
static int *share_pair;   /* 0, or the pid of a waiting delivery */

void
deliver_share_init(int *active, int *pair)
{
	share_active = active;
	share_pair = pair;
}

void
deliver_share_over(int *flag)
{
	if (__atomic_exchange_n(flag, 1, __ATOMIC_ACQ_REL) == 0 &&
	    share_active != NULL)
		__atomic_sub_fetch(share_active, 1, __ATOMIC_RELEASE);
}

static long
usec_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000000L +
		(t.tv_nsec - t0->tv_nsec) / 1000;
}

/* Wake whoever waits on the word, having taken it from them. */
static int
partner(int waiter)
{
	if (!__atomic_compare_exchange_n(share_pair, &waiter, 0, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0; /* taken by another, or gave up: none to join */
	syscall(SYS_futex, share_pair, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return 1;
}

int
deliver_sync_share(long wait_us)
{
	int me = (int)getpid(), w = 0;
	struct timespec t0, left;
	long used;

	if (share_pair == NULL)
		return 0;
	w = __atomic_load_n(share_pair, __ATOMIC_ACQUIRE);
	if (w != 0)
		return partner(w);
	if (wait_us <= 0 || share_active == NULL ||
	    __atomic_load_n(share_active, __ATOMIC_ACQUIRE) <= 0)
		return 0; /* nobody is bringing a message in */
	if (!__atomic_compare_exchange_n(share_pair, &w, me, false,
	    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return partner(w); /* one came first: join it */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(share_pair, __ATOMIC_ACQUIRE) == me) {
		used = usec_since(&t0);
		if (used >= wait_us)
			break;
		left.tv_sec = (wait_us - used) / 1000000L;
		left.tv_nsec = (wait_us - used) % 1000000L * 1000L;
		/* EAGAIN (the word changed), EINTR: look again. */
		(void)syscall(SYS_futex, share_pair, FUTEX_WAIT, me, &left,
			NULL, 0);
	}
	w = me;
	/* Still ours: nobody came; withdraw.  Else a partner took it. */
	return !__atomic_compare_exchange_n(share_pair, &w, 0, false,
		__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
