/* Buffered reading from a socket or stdin with a timeout per read. */
#include "receive/receive.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "lib/arena.h"
#include "receive/rcv_int.h"

#define RCV_BUF_SIZE 65536

void
rcv_source_init(struct rcv_source *src, int fd, int timeout)
{
	src->fd = fd;
	src->timeout = timeout;
	src->size = RCV_BUF_SIZE;
	src->buf = arena_alloc(arena_conn, src->size);
	src->start = src->end = 0;
	src->eof = false;
	src->io = NULL;
}

size_t
rcv_source_discard(struct rcv_source *src)
{
	size_t n = src->end - src->start;

	src->start = src->end = 0;
	return n;
}

static int
rcv_wait(struct rcv_source *src)
{
	struct pollfd pfd = { .fd = src->fd, .events = POLLIN };
	int n;

	if (src->timeout <= 0)
		return 0;
	do
		n = poll(&pfd, 1, src->timeout * 1000);
	while (n < 0 && errno == EINTR);
	if (n == 0) {
		errno = ETIMEDOUT;
		return -1;
	}
	return n < 0 ? -1 : 0;
}

ssize_t
rcv_fill(struct rcv_source *src)
{
	ssize_t n;

	if (src->start < src->end)
		return (ssize_t)(src->end - src->start);
	src->start = src->end = 0;
	if (src->eof)
		return 0;
	for (;;) {
		if (src->io != NULL) {
			n = src->io->read(src->io->arg, src->buf, src->size,
				src->timeout);
			if (n < 0)
				return -1;
			break;
		}
		if (rcv_wait(src) < 0)
			return -1;
		n = read(src->fd, src->buf, src->size);
		if (n >= 0)
			break;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
	if (n == 0)
		src->eof = true;
	src->end = (size_t)n;
	return n;
}

/* Skip the rest of an over-long line so the next read starts in step. */
static void
rcv_skip_line(struct rcv_source *src)
{
	for (;;) {
		char *nl;

		if (rcv_fill(src) <= 0)
			return;
		nl = memchr(src->buf + src->start, '\n', src->end - src->start);
		if (nl != NULL) {
			src->start = (size_t)(nl - src->buf) + 1;
			return;
		}
		src->start = src->end;
	}
}

/*
 * A line ends at LF only (a CR before it stays in the line for the caller
 * to judge).  An over-long line is consumed up to its LF and gives -2.
 */
ssize_t
rcv_read_line(struct rcv_source *src, char **line_out, size_t max)
{
	struct buf b;
	ssize_t n;

	buf_init(&b, arena_conn, 0);
	for (;;) {
		char *p, *nl;
		size_t take;

		n = rcv_fill(src);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		p = src->buf + src->start;
		nl = memchr(p, '\n', (size_t)n);
		take = nl != NULL ? (size_t)(nl - p) + 1 : (size_t)n;
		if (b.len + take > max) {
			src->start += take;
			if (nl == NULL)
				rcv_skip_line(src);
			return -2;
		}
		if (!buf_add(&b, p, take))
			return -2;
		src->start += take;
		if (nl != NULL)
			break;
	}
	*line_out = b.p;
	return (ssize_t)b.len;
}
