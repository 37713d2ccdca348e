/* The listening daemon: -bd [-q<time>]. */
#ifndef TERN_CORE_DAEMON_DAEMON_H
#define TERN_CORE_DAEMON_DAEMON_H

/*
 * Bind daemon_smtp_ports (or ports_override, from -oX) on local_interfaces,
 * write spool_directory/tern-daemon.pid, fork one reception process per
 * connection; every queue_interval seconds (0: never) fork a queue runner.
 * SIGHUP re-executes with argv; SIGTERM exits.  Started as root it drops
 * to tern_user after binding.  Does not return unless startup fails.
 */
int daemon_run(const char *ports_override, int queue_interval, char **argv);

#endif
