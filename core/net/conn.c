/*
 * TCP connections to remote hosts: a non-blocking socket, connect and
 * every read and write bounded by a timeout (poll), output buffered
 * until flushed (so that pipelined commands go in one packet), input
 * read in blocks and handed out line by line.
 */
#include "net/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tern/rc.h>

#include "lib/arena.h"
#include "log/log.h"

#define LINE_MAX_BYTES 2000

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int
net_wait(int fd, bool want_write, int timeout)
{
	long deadline = now_ms() + (long)(timeout > 0 ? timeout : 1) * 1000L;
	struct pollfd p = { .fd = fd, .events = want_write ? POLLOUT : POLLIN };

	for (;;) {
		long left = deadline - now_ms();
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&p, 1, (int)(left > 1000000 ? 1000000 : left));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static int
to_sockaddr(const char *address, int port, struct sockaddr_storage *ss,
	socklen_t *len_out)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len_out = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len_out = sizeof(*s6);
		return 0;
	}
	errno = EINVAL;
	return -1;
}

static int
connect_fd(const char *address, int port, int timeout)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, err = 0;
	socklen_t elen = sizeof(err);

	if (to_sockaddr(address, port, &ss, &len) != 0)
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		return fd;
	if (errno != EINPROGRESS)
		goto out_close;
	if (net_wait(fd, true, timeout) != 0)
		goto out_close;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
		goto out_close;
	if (err == 0)
		return fd;
	errno = err;
out_close:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

struct tern_conn *
net_open(const char *name, const char *address, int port, int timeout,
	char **err_out)
{
	struct net_conn *c;
	int fd = connect_fd(address, port, timeout), e;

	if (fd < 0) {
		e = errno;
		*err_out = arena_printf(arena_msg, "%s [%s]:%d: connect: %m",
			name, address, port);
		errno = e;
		return NULL;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	signal(SIGPIPE, SIG_IGN); /* TLS writes use write(2) */
	c = arena_zalloc(arena_msg, sizeof(*c));
	c->pub.fd = fd;
	c->pub.host_name = arena_strdup(arena_msg, name);
	c->pub.host_address = arena_strdup(arena_msg, address);
	c->pub.port = port;
	buf_init(&c->out, arena_msg, 0);
	return &c->pub;
}

long
net_raw_read(struct net_conn *c, char *p, size_t n, int timeout)
{
	if (c->ssl != NULL)
		return net_tls_read(c, p, n, timeout);
	for (;;) {
		ssize_t r = read(c->pub.fd, p, n);

		if (r >= 0)
			return (long)r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (net_wait(c->pub.fd, false, timeout) != 0)
			return -1;
	}
}

int
net_raw_write(struct net_conn *c, const char *p, size_t n, int timeout)
{
	if (c->ssl != NULL)
		return net_tls_write(c, p, n, timeout);
	while (n > 0) {
		ssize_t w = send(c->pub.fd, p, n, MSG_NOSIGNAL);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (net_wait(c->pub.fd, true, timeout) != 0)
			return -1;
	}
	return 0;
}

void
net_write(struct tern_conn *pc, const char *p, size_t n)
{
	struct net_conn *c = NET_CONN(pc);

	if (!buf_add(&c->out, p, n))
		tern_panic("net: output buffer overflow");
}

int
net_flush(struct tern_conn *pc, int timeout, char **err_out)
{
	struct net_conn *c = NET_CONN(pc);
	int rc = 0;

	if (c->is_broken) {
		errno = EPIPE;
		*err_out = arena_strdup(arena_msg, "connection already failed");
		return TERN_DEFER;
	}
	if (c->out.len > 0)
		rc = net_raw_write(c, c->out.p, c->out.len, timeout);
	buf_clear(&c->out);
	if (rc == 0)
		return TERN_OK;
	c->is_broken = true;
	*err_out = arena_printf(arena_msg, "%s [%s]: %s", pc->host_name,
		pc->host_address, errno == ETIMEDOUT ? "timeout sending" :
		strerror(errno));
	return TERN_DEFER;
}

/* A complete line in the input buffer: its length with the LF, or 0. */
static size_t
line_in_buffer(const struct net_conn *c)
{
	const char *nl = memchr(c->in + c->in_pos, '\n', c->in_len - c->in_pos);

	return nl != NULL ? (size_t)(nl - (c->in + c->in_pos)) + 1 : 0;
}

int
net_read_line(struct tern_conn *pc, int timeout, char **line_out,
	char **err_out)
{
	struct net_conn *c = NET_CONN(pc);
	struct buf line;
	size_t n = 0;

	buf_init(&line, arena_msg, LINE_MAX_BYTES);
	while (!c->is_broken && (n = line_in_buffer(c)) == 0) {
		long r;

		if (!buf_add(&line, c->in + c->in_pos, c->in_len - c->in_pos)) {
			errno = EPROTO;
			break;
		}
		c->in_pos = c->in_len = 0;
		r = net_raw_read(c, c->in, sizeof(c->in), timeout);
		if (r <= 0) {
			if (r == 0)
				errno = ECONNRESET;
			break;
		}
		c->in_len = (size_t)r;
	}
	if (c->is_broken || n == 0 || !buf_add(&line, c->in + c->in_pos, n)) {
		int e = c->is_broken ? EPIPE : errno == 0 ? EPROTO : errno;

		c->is_broken = true;
		*err_out = arena_printf(arena_msg, "%s [%s]: %s", pc->host_name,
			pc->host_address, e == ETIMEDOUT ? "timeout waiting for "
			"a response" : e == ECONNRESET ? "connection closed by "
			"the remote host" : e == EPROTO ? "response line too long" :
			strerror(e));
		errno = e;
		return TERN_DEFER;
	}
	c->in_pos += n;
	while (line.len > 0 && (line.p[line.len - 1] == '\n' ||
	    line.p[line.len - 1] == '\r'))
		line.p[--line.len] = '\0';
	*line_out = line.p;
	return TERN_OK;
}

int
net_send_file(struct tern_conn *pc, int fd, int timeout, char **err_out)
{
	struct net_conn *c = NET_CONN(pc);
	char *chunk = arena_alloc(arena_scratch, 65536);
	off_t off = 0;

	for (;;) {
		ssize_t r = pread(fd, chunk, 65536, off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			*err_out = arena_printf(arena_msg, "reading the message: %m");
			return TERN_DEFER;
		}
		if (r == 0)
			return TERN_OK;
		if (net_raw_write(c, chunk, (size_t)r, timeout) != 0) {
			c->is_broken = true;
			*err_out = arena_printf(arena_msg, "%s [%s]: %s",
				pc->host_name, pc->host_address, errno == ETIMEDOUT ?
				"timeout sending the message" : strerror(errno));
			return TERN_DEFER;
		}
		off += r;
	}
}

int
net_set_blocking(struct tern_conn *pc, bool is_blocking, int timeout)
{
	struct timeval tv = { .tv_sec = timeout > 0 ? timeout : 0 };
	int fl = fcntl(pc->fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = is_blocking ? fl & ~O_NONBLOCK : fl | O_NONBLOCK;
	if (setsockopt(pc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return -1;
	return fcntl(pc->fd, F_SETFL, fl);
}

bool
net_is_broken(const struct tern_conn *pc)
{
	return NET_CONN(pc)->is_broken;
}

void
net_close(struct tern_conn *pc)
{
	struct net_conn *c = NET_CONN(pc);

	if (c == NULL || pc->fd < 0)
		return;
	net_tls_close(c);
	close(pc->fd);
	pc->fd = -1;
	c->is_broken = true;
}
