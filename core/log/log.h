/* Logging: mainlog, rejectlog, paniclog, and the fatal paths. */
#ifndef TERN_CORE_LOG_LOG_H
#define TERN_CORE_LOG_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <tern/core.h> /* TERN_LOG_MAIN ... */
#include <tern/str.h>

/*
 * Before log_init() (or when the log directory cannot be written), lines
 * go to stderr.  log_init expands log_file_path ("%s" -> main, reject,
 * panic) from the configuration.
 */
void log_init(void);
/* -d: TERN_LOG_DEBUG lines go to stderr. */
extern bool log_debug_enabled;
/* Also copy mainlog lines to stderr (-v, -bt, tests). */
extern bool log_to_stderr;

/*
 * One line "YYYY-MM-DD HH:MM:SS id text" (paniclog: "[pid]" too) to each in
 * `where`.  id may be NULL.  Panic lines also go to stderr.
 */
void log_write(int where, const char *id, const char *fmt, ...)
	TERN_PRINTF(3, 4);
void log_vwrite(int where, const char *id, const char *fmt, va_list ap)
	TERN_PRINTF(3, 0);

/*
 * Lines the next line written to the rejectlog carries after it, there
 * only, in the same write (rejected_header: a refused message's envelope
 * and header section): whole lines, each ending in "\n"; the line and
 * its tail together are cut after a whole line, with "*** truncated
 * ***", to LOG_REJECT_TAIL_MAX bytes.  Used once; NULL forgets it.
 */
void log_reject_tail(const char *tail);
#define LOG_REJECT_TAIL_MAX 16384

/*
 * Keep every line (debug lines aside) back from log_hold() until
 * log_hold_end(): written then in order (write), or forgotten.  For a
 * delivery that may turn out to be someone else's to do
 * (DELIVER_NO_ROOT).
 */
void log_hold(void);
void log_hold_end(bool write);

#define DEBUG(...) \
	do { if (log_debug_enabled) log_write(TERN_LOG_DEBUG, NULL, __VA_ARGS__); } while (0)

/* Bad environment or configuration: paniclog, then exit(EX_TEMPFAIL). */
_Noreturn void tern_die(const char *fmt, ...) TERN_PRINTF(1, 2);
/* Cannot happen: paniclog, then abort(). */
_Noreturn void tern_panic(const char *fmt, ...) TERN_PRINTF(1, 2);

#endif
