/*
 * Users from the passwd source (getpwnam, so NSS: files, LDAP, sss ...),
 * each answer kept for the life of the process.  A process lives for one
 * connection or one delivery, and a message is usually verified at RCPT
 * and directed again for its delivery in the same process, often by two
 * directors (forwardfile's check_local_user, then localuser): each
 * getpwnam() reads the whole file, or asks a server.  Exim keeps its last
 * answer in the same way (route_finduser).
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

#endif
