/* The load average limits: queue_only_load, deliver_queue_load_max, smtp_load_reserve. */
#ifndef TERN_CORE_DAEMON_LOAD_H
#define TERN_CORE_DAEMON_LOAD_H

#include <stdbool.h>

/*
 * Is the 1-minute load average above limit (a decimal number such as
 * "8" or "2.5"; NULL or unparsable means no limit)?  *load_out gets the
 * load when known.
 */
bool load_exceeds(const char *limit, double *load_out);

#endif
