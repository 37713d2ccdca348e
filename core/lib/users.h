/*
 * Users from the passwd source (getpwnam, so NSS: files, LDAP, sss ...),
 * each answer kept for the life of the process; groups and users by
 * uid, not kept.  All tell "no such user" from a source that failed.  A
 * process lives for one connection or one delivery, and a message is
 * usually verified at RCPT and directed again for its delivery in the
 * same process, often by two directors (forwardfile's check_local_user,
 * then localuser): each getpwnam() reads the whole file, or asks a
 * server.  Exim keeps its last answer in the same way (route_finduser).
 */
#ifndef TERN_CORE_LIB_USERS_H
#define TERN_CORE_LIB_USERS_H

#include <stdint.h>

struct user_entry {
	const char *name, *home; /* valid until the next users_find */
	int64_t     uid, gid;
};

/*
 * The user called name, tried again in lower case when name has capitals.
 * 1: found (*out); 0: no such user; -1: the passwd source failed (errno),
 * which says nothing about the user -- the caller defers.  Only users
 * found are kept.
 */
int users_find(const char *name, struct user_entry *out);

/*
 * The user with uid uid, asked every time (a uid comes from the
 * configuration or a lookup, not from a local part).  Answers as
 * users_find; *out is valid until the next getpw* call.
 */
int users_find_uid(int64_t uid, struct user_entry *out);

/*
 * The group called name (getgrnam, so NSS as for users), asked every
 * time.  1: found (*gid_out); 0: no such group; -1: the group source
 * failed (errno) -- the caller defers.
 */
int users_find_group(const char *name, int64_t *gid_out);

#endif
