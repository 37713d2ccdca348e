/*
 * check_spool_space and check_spool_inodes: is there room on the spool's
 * file system for another message?  Asked at MAIL (with SIZE= when the
 * client gave it), so that a full disk gives 452 instead of a message
 * cut short.
 */
#include "spool/spool.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/statvfs.h>

#include "config/config.h"
#include "lib/arena.h"
#include "log/log.h"
#include "spool/internal.h"

int
spool_check_space(uint64_t msg_size, char **why_out)
{
	struct statvfs sv;
	uint64_t avail, need;

	if (conf.check_spool_space == 0 && conf.check_spool_inodes <= 0)
		return 0;
	if (statvfs(spool_base(), &sv) != 0) {
		DEBUG("statvfs %s: %m", spool_base());
		return 0; /* cannot tell: do not refuse mail for it */
	}
	avail = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	if (__builtin_add_overflow(conf.check_spool_space, msg_size, &need))
		need = UINT64_MAX;
	if (conf.check_spool_space > 0 && avail < need) {
		*why_out = arena_printf(arena_msg, "spool space check failed: "
			"%" PRIu64 "K available, %" PRIu64 "K needed", avail / 1024,
			need / 1024);
		return -1;
	}
	if (conf.check_spool_inodes > 0 &&
	    sv.f_favail < (uint64_t)conf.check_spool_inodes) {
		*why_out = arena_printf(arena_msg, "spool inode check failed: "
			"%" PRIu64 " available, %d needed", (uint64_t)sv.f_favail,
			conf.check_spool_inodes);
		return -1;
	}
	return 0;
}
