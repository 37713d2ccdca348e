/* The listening daemon: -bd [-q<time>]. */
#ifndef TERN_CORE_DAEMON_DAEMON_H
#define TERN_CORE_DAEMON_DAEMON_H

#include <stdbool.h>

/*
 * Bind daemon_smtp_ports (or ports_override, from -oX) on local_interfaces,
 * write spool_directory/tern-daemon.pid, fork one reception process per
 * connection; every queue_interval seconds (0: never) fork a queue runner.
 * SIGHUP re-executes with argv; SIGTERM exits.  Started as root, the
 * daemon keeps root (queue runs deliver as the recipients) and every
 * reception process drops to tern_user before it reads from its
 * connection.  Does not return unless startup fails.
 */
int daemon_run(const char *ports_override, int queue_interval, char **argv);

/*
 * -bdf: stay in the foreground.  Otherwise daemon_run binds its sockets,
 * then forks; the parent exits 0 and the child carries on in a new
 * session with stdin/stdout/stderr on /dev/null.
 */
extern bool daemon_foreground;

/* DELIVER_* flags for the daemon's queue runners (-bd -qf30m, -qq30m). */
extern unsigned daemon_queue_flags;

#endif
