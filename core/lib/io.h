/* Whole reads and writes on a descriptor, retried after EINTR. */
#ifndef TERN_CORE_LIB_IO_H
#define TERN_CORE_LIB_IO_H

#include <stddef.h>
#include <sys/types.h>

/* write(2) all of p: 0, or -1 with errno (EIO if write returned 0). */
int io_write_all(int fd, const char *p, size_t n);
/* pwrite(2) all of p at off: 0, or -1 with errno (EINVAL: off < 0). */
int io_pwrite_all(int fd, const char *p, size_t n, off_t off);

/* read(2) until n bytes or the end: how many were read, or -1 (errno). */
ssize_t io_read_full(int fd, void *p, size_t n);
/* pread(2) from off until n bytes or the end: the same (EINVAL: off < 0). */
ssize_t io_pread_full(int fd, void *p, size_t n, off_t off);

#endif
