/* smtpload: the bench's SMTP load generator and sink (bench/README.md).
 *
 *   smtpload send -H host -p port -c clients -n messages -s bytes
 *                 [-f from] [-r rcpt] [-o latency-file]
 *     Lock-step SMTP, one message per connection: EHLO, MAIL, RCPT, DATA,
 *     the message, ".", then QUIT and close without waiting for the 221.
 *     Latency is from connect() to the final 250 after the dot.  Prints one
 *     line of key=value figures.
 *
 *   smtpload sink -H host -p port -C counter-file
 *     Accepts anything, answers 250, counts the messages it accepted in an
 *     8-byte counter at the start of counter-file (read it with od/python).
 *
 * Build: gcc -O2 -pthread -o smtpload smtpload.c
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *host = "127.0.0.1";
static int port = 25;
static int clients = 1;
static long nmsg = 100;
static long msgsize = 2048;
static const char *from = "load@bench.test";
static const char *rcpt = "bench@localhost";
static const char *latfile;
static const char *countfile;

static char *message;          /* the whole DATA payload, ending ".\r\n" */
static size_t message_len;
static long next_msg;          /* atomic */
static long failed;            /* atomic */
static double *latency;        /* seconds, per message */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

struct conn {
    int fd;
    char buf[8192];
    size_t len;
};

/* Read one SMTP reply (all its lines); returns the code or -1. */
static int read_reply(struct conn *c)
{
    for (;;) {
        char *nl;
        while ((nl = memchr(c->buf, '\n', c->len)) != NULL) {
            size_t ll = (size_t)(nl - c->buf) + 1;
            int last = ll >= 4 && c->buf[3] != '-';
            int code = ll >= 3 ? atoi(c->buf) : -1;
            memmove(c->buf, c->buf + ll, c->len - ll);
            c->len -= ll;
            if (last)
                return code;
        }
        if (c->len == sizeof c->buf)
            c->len = 0;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->len += (size_t)r;
    }
}

static long fail_reported;     /* atomic: failures described on stderr */

static void fail_note(const char *stage, int code)
{
    if (__atomic_fetch_add(&fail_reported, 1, __ATOMIC_RELAXED) < 10)
        fprintf(stderr, "smtpload: failed at %s: %s%d (%s)\n", stage,
                code < 0 ? "no reply, " : "reply ", code,
                code < 0 ? strerror(errno) : "-");
}

static int command(struct conn *c, const char *line, int want)
{
    if (write_all(c->fd, line, strlen(line)) < 0) {
        fail_note(line, -1);
        return -1;
    }
    int code = read_reply(c);
    if (code / 100 != want / 100) {
        fail_note(line, code);
        return -1;
    }
    return 0;
}

static int connect_to(const char *h, int p)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)p);
    if (inet_pton(AF_INET, h, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* A reply that takes longer than this counts the message as failed,
     * so a stuck server cannot hang the bench. */
    struct timeval tv = { .tv_sec = 20, .tv_usec = 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static int send_one(void)
{
    struct conn *c = malloc(sizeof *c);
    char line[512];
    int rc = -1;
    if (c == NULL)
        return -1;
    c->len = 0;
    c->fd = connect_to(host, port);
    if (c->fd < 0) {
        fail_note("connect", -1);
        goto out;
    }
    int code = read_reply(c);
    if (code != 220) {
        fail_note("greeting", code);
        goto out;
    }
    if (command(c, "EHLO load.bench.test\r\n", 250) < 0)
        goto out;
    snprintf(line, sizeof line, "MAIL FROM:<%s>\r\n", from);
    if (command(c, line, 250) < 0)
        goto out;
    snprintf(line, sizeof line, "RCPT TO:<%s>\r\n", rcpt);
    if (command(c, line, 250) < 0)
        goto out;
    if (command(c, "DATA\r\n", 354) < 0)
        goto out;
    if (write_all(c->fd, message, message_len) < 0) {
        fail_note("message", -1);
        goto out;
    }
    code = read_reply(c);
    if (code != 250) {
        fail_note("end of data", code);
        goto out;
    }
    rc = 0;
    (void)write_all(c->fd, "QUIT\r\n", 6);
out:
    if (c->fd >= 0)
        close(c->fd);
    free(c);
    return rc;
}

static void *sender(void *arg)
{
    (void)arg;
    for (;;) {
        long i = __atomic_fetch_add(&next_msg, 1, __ATOMIC_RELAXED);
        if (i >= nmsg)
            return NULL;
        double t0 = now();
        if (send_one() < 0) {
            __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);
            latency[i] = -1;
        } else {
            latency[i] = now() - t0;
        }
    }
}

static void build_message(void)
{
    char head[512];
    int hl = snprintf(head, sizeof head,
                      "From: <%s>\r\nTo: <%s>\r\nSubject: bench\r\n"
                      "Message-ID: <bench@bench.test>\r\n\r\n", from, rcpt);
    size_t body = msgsize > hl ? (size_t)msgsize - (size_t)hl : 0;
    message = malloc((size_t)hl + body + 80);
    if (message == NULL) {
        perror("malloc");
        exit(1);
    }
    memcpy(message, head, (size_t)hl);
    size_t n = (size_t)hl;
    while (n < (size_t)hl + body) {
        size_t ll = 76;
        for (size_t k = 0; k < ll; k++)
            message[n++] = (char)('a' + (k % 26));
        message[n++] = '\r';
        message[n++] = '\n';
    }
    memcpy(message + n, ".\r\n", 3);
    message_len = n + 3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int run_send(void)
{
    build_message();
    latency = calloc((size_t)nmsg, sizeof *latency);
    pthread_t *th = calloc((size_t)clients, sizeof *th);
    if (latency == NULL || th == NULL)
        return 1;
    double t0 = now();
    for (int i = 0; i < clients; i++)
        pthread_create(&th[i], NULL, sender, NULL);
    for (int i = 0; i < clients; i++)
        pthread_join(th[i], NULL);
    double el = now() - t0;
    long ok = 0;
    double *ls = calloc((size_t)nmsg + 1, sizeof *ls);
    FILE *lf = latfile ? fopen(latfile, "w") : NULL;
    for (long i = 0; i < nmsg; i++) {
        if (lf)
            fprintf(lf, "%.6f\n", latency[i]);
        if (latency[i] >= 0)
            ls[ok++] = latency[i];
    }
    if (lf)
        fclose(lf);
    qsort(ls, (size_t)ok, sizeof *ls, cmp_double);
    double p50 = ok ? ls[(ok - 1) * 50 / 100] : 0;
    double p99 = ok ? ls[(ok - 1) * 99 / 100] : 0;
    printf("sent=%ld failed=%ld elapsed=%.4f rate=%.2f p50_ms=%.3f "
           "p99_ms=%.3f bytes=%zu\n", ok, failed, el, el > 0 ? ok / el : 0,
           p50 * 1e3, p99 * 1e3, message_len);
    return failed ? 2 : 0;
}

/* ------------------------------------------------------------ sink */

static volatile uint64_t *counter;

static void *sink_conn(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static const char ok[] = "250 OK\r\n";
    char *buf = malloc(65536);
    size_t len = 0;
    int data = 0;       /* in DATA */
    int match = 2;      /* progress through "\r\n.\r\n" (start: after CRLF) */
    static const char eod[] = "\r\n.\r\n";
    if (buf == NULL || write_all(fd, "220 sink ESMTP\r\n", 16) < 0)
        goto done;
    for (;;) {
        ssize_t r = read(fd, buf + len, 65536 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            goto done;
        len += (size_t)r;
        size_t off = 0;
        while (off < len) {
            if (data) {
                while (off < len) {
                    char ch = buf[off++];
                    if (ch == eod[match])
                        match++;
                    else
                        match = ch == '\r' ? 1 : 0;
                    if (match == 5) {
                        data = 0;
                        __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
                        if (write_all(fd, ok, sizeof ok - 1) < 0)
                            goto done;
                        break;
                    }
                }
                continue;
            }
            char *nl = memchr(buf + off, '\n', len - off);
            if (nl == NULL)
                break;
            char *l = buf + off;
            off = (size_t)(nl - buf) + 1;
            const char *reply = ok;
            if (strncasecmp(l, "EHLO", 4) == 0)
                reply = "250-sink\r\n250-PIPELINING\r\n250 8BITMIME\r\n";
            else if (strncasecmp(l, "DATA", 4) == 0) {
                reply = "354 go\r\n";
                data = 1;
                match = 2;
            } else if (strncasecmp(l, "QUIT", 4) == 0) {
                (void)write_all(fd, "221 bye\r\n", 9);
                goto done;
            }
            if (write_all(fd, reply, strlen(reply)) < 0)
                goto done;
        }
        memmove(buf, buf + off, len - off);
        len -= off;
        if (len == 65536)
            len = 0;
    }
done:
    free(buf);
    close(fd);
    return NULL;
}

static int run_sink(void)
{
    int cfd = open(countfile, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (cfd < 0 || ftruncate(cfd, 4096) < 0) {
        perror(countfile);
        return 1;
    }
    counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
    if (counter == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, host, &sa.sin_addr);
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        listen(ls, 1024) < 0) {
        perror("bind/listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            continue;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, sink_conn, (void *)(intptr_t)fd) != 0)
            close(fd);
        pthread_attr_destroy(&at);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: smtpload send|sink [options]\n");
        return 1;
    }
    const char *mode = argv[1];
    int opt;
    optind = 2;
    while ((opt = getopt(argc, argv, "H:p:c:n:s:f:r:o:C:")) != -1) {
        switch (opt) {
        case 'H': host = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'c': clients = atoi(optarg); break;
        case 'n': nmsg = atol(optarg); break;
        case 's': msgsize = atol(optarg); break;
        case 'f': from = optarg; break;
        case 'r': rcpt = optarg; break;
        case 'o': latfile = optarg; break;
        case 'C': countfile = optarg; break;
        default: return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(mode, "send") == 0)
        return run_send();
    if (strcmp(mode, "sink") == 0 && countfile)
        return run_sink();
    fprintf(stderr, "smtpload: unknown mode or missing -C\n");
    return 1;
}
