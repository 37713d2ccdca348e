/*
 * Message ids: "TTTTTT-PPPPPP-UUUURRRRR", 23 characters of base 62
 * (0-9A-Za-z, so that ids sort by arrival time with strcmp):
 *   T  seconds since the epoch (6 digits: good until the year 3769)
 *   P  process id (6 digits)
 *   U  microseconds within the second (4 digits)
 *   R  30 bits from getrandom(2) (5 digits)
 * The random part makes ids from different hosts (or from a clock that
 * went backwards) differ; local uniqueness is finally guaranteed by
 * creating the spool files with O_EXCL (spool_data_create).
 */
#include "spool/spool.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/time.h>
#include <unistd.h>

static const char b62[] =
	"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/* Write value as width base-62 digits, most significant first. */
static void
put_b62(char *out, unsigned long long value, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		out[i] = b62[value % 62];
		value /= 62;
	}
}

static unsigned long long
random_bits(void)
{
	unsigned int r = 0;
	ssize_t n;

	do
		n = getrandom(&r, sizeof(r), GRND_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(r)) {
		/* No entropy yet (early boot): the other fields still differ. */
		struct timeval tv;

		gettimeofday(&tv, NULL);
		r = (unsigned int)tv.tv_usec * 2654435761u ^ (unsigned int)getpid();
	}
	return r & 0x3fffffffu;
}

void
spool_new_id(char id[MESSAGE_ID_LEN + 1])
{
	static struct timeval last;
	struct timeval tv;

	gettimeofday(&tv, NULL);
	/* Two ids from one process in the same microsecond: wait for the next. */
	while (tv.tv_sec == last.tv_sec && tv.tv_usec == last.tv_usec)
		gettimeofday(&tv, NULL);
	last = tv;
	put_b62(id, (unsigned long long)tv.tv_sec, 6);
	id[6] = '-';
	put_b62(id + 7, (unsigned long long)getpid(), 6);
	id[13] = '-';
	put_b62(id + 14, (unsigned long long)tv.tv_usec, 4);
	put_b62(id + 18, random_bits(), 5);
	id[MESSAGE_ID_LEN] = '\0';
}

static bool
is_b62(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		(c >= 'a' && c <= 'z');
}

bool
spool_id_valid(const char *id)
{
	if (id == NULL)
		return false;
	for (int i = 0; i < MESSAGE_ID_LEN; i++) {
		if (i == 6 || i == 13) {
			if (id[i] != '-')
				return false;
		} else if (!is_b62(id[i])) {
			return false; /* also catches an early '\0' */
		}
	}
	return id[MESSAGE_ID_LEN] == '\0';
}

static unsigned long long
get_b62(const char *s, int width)
{
	unsigned long long v = 0;

	for (int i = 0; i < width; i++)
		v = v * 62 + (unsigned long long)(strchr(b62, s[i]) - b62);
	return v;
}

int
spool_id_time(const char *id, struct timeval *out)
{
	if (!spool_id_valid(id))
		return -1;
	out->tv_sec = (time_t)get_b62(id, 6);
	out->tv_usec = (suseconds_t)get_b62(id + 14, 4);
	return out->tv_usec < 1000000 ? 0 : -1;
}
