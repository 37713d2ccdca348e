/*
 * Local submissions -- sendmail run by a user, and the maildrop files of
 * users who cannot write the spool (receive/maildrop.c): who the caller
 * is, whether it may set the sender, and the recipients it named.
 */
#ifndef TERN_CORE_RECEIVE_LOCAL_H
#define TERN_CORE_RECEIVE_LOCAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spool/spool.h"

/*
 * May a caller set the envelope sender (-f)?  Root and tern_user always;
 * otherwise a login in trusted_users or one of groups[0..n-1] (its real
 * and supplementary groups) in trusted_groups, as in Exim.
 */
bool local_trusted(uid_t uid, const char *login, const gid_t *groups, int n);

/*
 * The envelope sender of a local message: login@qualify_domain, unless a
 * trusted caller gave one with -f ("<>" or "": the null sender).  An
 * untrusted caller's -f is logged and ignored.
 */
const char *local_sender(const char *login, bool trusted, const char *f);

/*
 * Add each address in arg (a comma list, as in a To: header) to m,
 * qualified with qualify_recipient; cap: the size of m->rcpts so far.
 * -1 with *err_out on a syntax error.
 */
int local_add_recipients(struct message *m, const char *arg, size_t *cap,
	char **err_out);

/*
 * The full name of a local sender, as Exim takes it: the gecos field,
 * with "&" replaced by the login with its first letter upper cased
 * (arena_msg).  NULL when pw is.
 */
struct passwd;
const char *local_gecos_name(const struct passwd *pw);

/*
 * The From: header a local submission without one gets: "From: NAME
 * <login@qualify_domain>", NAME quoted as RFC 5322 needs it (RFC 2047
 * for 8-bit text, taken as UTF-8), or the bare address when name is NULL
 * or empty.  Control characters are left out.  arena_msg.
 */
char *local_from_header(const char *login, const char *name);

#endif
