#include "lib/runtime.h"

#include <grp.h>
#include <unistd.h>

#include "log/log.h"

struct runtime rt;

void
runtime_drop_privilege(void)
{
	if (!rt.started_as_root || rt.tern_uid == 0)
		return;
	if (geteuid() != 0 && setresuid(-1, 0, -1) != 0)
		tern_die("cannot regain root to change to uid %ld: %m",
			(long)rt.tern_uid);
	if (setgroups(0, NULL) != 0 ||
	    setresgid(rt.tern_gid, rt.tern_gid, 0) != 0 ||
	    setresuid(rt.tern_uid, rt.tern_uid, 0) != 0)
		tern_die("cannot drop privilege to uid %ld gid %ld: %m",
			(long)rt.tern_uid, (long)rt.tern_gid);
}

void
runtime_drop_privilege_for_good(void)
{
	if (!rt.started_as_root || rt.tern_uid == 0)
		return;
	if (geteuid() != 0 && setresuid(-1, 0, -1) != 0)
		tern_die("cannot regain root to change to uid %ld: %m",
			(long)rt.tern_uid);
	if (setgroups(0, NULL) != 0 ||
	    setresgid(rt.tern_gid, rt.tern_gid, rt.tern_gid) != 0 ||
	    setresuid(rt.tern_uid, rt.tern_uid, rt.tern_uid) != 0)
		tern_die("cannot drop privilege to uid %ld gid %ld: %m",
			(long)rt.tern_uid, (long)rt.tern_gid);
}

void
runtime_give_up_root(void)
{
	if (!rt.started_as_root || rt.tern_uid == 0)
		return;
	/* Unprivileged calls: every id set is already a real or saved one. */
	if (setresgid(rt.tern_gid, rt.tern_gid, rt.tern_gid) != 0 ||
	    setresuid(rt.tern_uid, rt.tern_uid, rt.tern_uid) != 0)
		tern_die("cannot give up root for good (uid %ld gid %ld): %m",
			(long)rt.tern_uid, (long)rt.tern_gid);
}

bool
runtime_regain_root(void)
{
	if (!rt.started_as_root)
		return false;
	return setresuid(0, 0, 0) == 0 && setresgid(0, 0, 0) == 0;
}

int
runtime_become_user(uid_t uid, gid_t gid, bool init_groups, const char *login)
{
	if (geteuid() == 0 || (rt.started_as_root && runtime_regain_root())) {
		if (init_groups && login != NULL) {
			if (initgroups(login, gid) != 0)
				return -1;
		} else if (setgroups(0, NULL) != 0) {
			return -1;
		}
		if (setresgid(gid, gid, gid) != 0 ||
		    setresuid(uid, uid, uid) != 0)
			return -1;
		return 0;
	}
	/* Not privileged: only "becoming" ourselves is possible. */
	return (uid == geteuid() && gid == getegid()) ? 0 : -1;
}
