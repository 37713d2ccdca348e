#include "lib/runtime.h"

#include <grp.h>
#include <unistd.h>

#include "log/log.h"

struct runtime rt;

void
runtime_drop_privilege(void)
{
	if (geteuid() != 0 || rt.tern_uid == 0)
		return;
	if (setgroups(0, NULL) != 0 ||
	    setresgid(rt.tern_gid, rt.tern_gid, rt.tern_gid) != 0 ||
	    setresuid(rt.tern_uid, rt.tern_uid, rt.tern_uid) != 0)
		tern_die("cannot drop privilege to uid %ld gid %ld: %m",
			(long)rt.tern_uid, (long)rt.tern_gid);
}
