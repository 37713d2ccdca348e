#include "lib/io.h"

#include <errno.h>
#include <unistd.h>

/* off < 0: write(2); else pwrite(2) from off on. */
static int
put_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = off < 0 ? write(fd, p, n) : pwrite(fd, p, n, off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		if (off >= 0)
			off += w;
	}
	return 0;
}

int
io_write_all(int fd, const char *p, size_t n)
{
	return put_all(fd, p, n, -1);
}

int
io_pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	/* Never write(2) by mistake: a bad offset is an error, as in pwrite. */
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return put_all(fd, p, n, off);
}

static ssize_t
get_full(int fd, char *p, size_t n, off_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = off < 0 ? read(fd, p + got, n - got) :
			pread(fd, p + got, n - got, off + (off_t)got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

ssize_t
io_read_full(int fd, void *p, size_t n)
{
	return get_full(fd, p, n, -1);
}

ssize_t
io_pread_full(int fd, void *p, size_t n, off_t off)
{
	if (off < 0) {
		errno = EINVAL;
		return -1;
	}
	return get_full(fd, p, n, off);
}
