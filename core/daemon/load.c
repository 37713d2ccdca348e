/* The 1-minute load average against a configured limit. */
#include "daemon/load.h"

#include <stdlib.h>

#include "log/log.h"

bool
load_exceeds(const char *limit, double *load_out)
{
	double max, load[1];
	char *end;

	*load_out = 0.0;
	if (limit == NULL || *limit == '\0')
		return false;
	max = strtod(limit, &end);
	if (end == limit || *end != '\0' || max < 0.0)
		return false;
	if (getloadavg(load, 1) != 1)
		return false;
	*load_out = load[0];
	DEBUG("load average %.2f, limit %.2f", load[0], max);
	return load[0] > max;
}
