/*
 * Process titles: what this tern process is doing, shown by ps(1) and
 * tern-what (like Exim's exiwhat) through /proc/PID/cmdline.
 */
#ifndef TERN_CORE_LIB_PROCTITLE_H
#define TERN_CORE_LIB_PROCTITLE_H

#include <tern/str.h>

/*
 * Take over the memory of argv (and of the environment strings before the
 * first TERN_* variable) for the title.  Call first thing in main(), after
 * arena_init_all(): argv[] and environ[] are pointed at copies in
 * arena_perm, so callers (and a SIGHUP re-exec) keep seeing the original
 * arguments and environment.  Variables from the first TERN_* one on keep
 * their place, so /proc/PID/environ still shows them (the black-box tests
 * find their processes by TERN_TEST_DIR).
 */
void proctitle_init(int argc, char **argv);

/*
 * Set the title, e.g. proctitle_set("tern: delivering %s", id).  Control
 * characters become '?'; a title longer than the space argv and the
 * environment had is cut.  A no-op before proctitle_init().
 */
void proctitle_set(const char *fmt, ...) TERN_PRINTF(1, 2);

#endif
