/*
 * Running transports: addresses grouped into batches, local transports in
 * a child process switched to the recipient's uid/gid (never root unless
 * never_users allows it) or, where that buys nothing, here (local_here),
 * remote ones here.  Each success is journaled before it is logged.
 */
#include "deliver/deliver_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tern/rc.h>

#include "config/config.h"
#include "deliver/deliver.h"
#include "deliver/remote.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/io.h"
#include "lib/runtime.h"
#include "lib/users.h"
#include "log/log.h"
#include "log/selector.h"
#include "modules/modules.h"
#include "spool/spool.h"

#define RESULT_TEXT_MAX 4000

/* What a local delivery child reports on its pipe. */
struct child_result {
	int      rc;
	int      basic_errno;
	uint64_t written; /* bytes of the message written (S=) */
	uint32_t len;     /* text bytes that follow */
};

struct ids {
	uid_t       uid;
	gid_t       gid;
	const char *login;
	int         basic_errno; /* of a passwd or group source that failed */
};

static struct tern_ctx
make_ctx(struct delivery *d, struct address_item *a, struct driver_inst *t)
{
	struct tern_ctx ctx = {
		.msg = d->msg, .addr = a, .inst = t, .verify = false,
		.arena = arena_msg, .sender = d->sender,
		.host_address = d->host_address,
		.force = (d->flags & DELIVER_FORCE) != 0,
	};

	return ctx;
}

static struct address_item *
batch_next(const struct address_item *a)
{
	return a->pub.next != NULL ? ADDR_ITEM(a->pub.next) : NULL;
}

static bool
str_same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
		(a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The same hosts (name, address, port) in the same order? */
static bool
same_hosts(const struct tern_host *a, const struct tern_host *b)
{
	for (; a != NULL && b != NULL; a = a->next, b = b->next)
		if (!str_same(a->name, b->name) ||
		    !str_same(a->address, b->address) || a->port != b->port)
			return false;
	return a == NULL && b == NULL;
}

static bool
is_remote(const struct address_item *a)
{
	return !a->transport->mod->transport.is_local;
}

static bool
same_batch(const struct address_item *a, const struct address_item *b)
{
	if (a->transport == b->transport && is_remote(a))
		/* A remote transport takes every address for the same hosts. */
		return a->pub.kind == TERN_ADDR_MAIL &&
			b->pub.kind == TERN_ADDR_MAIL &&
			(a->pub.hosts != NULL || b->pub.hosts != NULL ?
			same_hosts(a->pub.hosts, b->pub.hosts) :
			str_same(a->pub.domain, b->pub.domain)) &&
			same_hosts(a->pub.fallback_hosts, b->pub.fallback_hosts);
	return a->transport == b->transport &&
		a->pub.kind == TERN_ADDR_MAIL && b->pub.kind == TERN_ADDR_MAIL &&
		str_same(a->pub.domain, b->pub.domain) &&
		str_same(a->pub.home, b->pub.home) &&
		(a->pub.flags & TERN_AF_HAS_UID) == (b->pub.flags & TERN_AF_HAS_UID) &&
		a->pub.uid == b->pub.uid && a->pub.gid == b->pub.gid;
}

/* Take the first routed address and those that may share its call. */
static struct address_item *
take_batch(struct delivery *d)
{
	struct address_item *first = d->routed, *tail = first, **pp;
	int max = first->transport->g.transport.batch_max, n = 1;

	if (is_remote(first))
		max = INT_MAX; /* the transport splits by its max_rcpt */

	d->routed = first->next;
	first->next = NULL;
	first->pub.next = NULL;
	for (pp = &d->routed; *pp != NULL && n < max;) {
		struct address_item *c = *pp;

		if (!same_batch(first, c)) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		c->next = NULL;
		c->pub.next = NULL;
		tail->pub.next = &c->pub;
		tail = c;
		n++;
	}
	d->routed_tail = &d->routed;
	while (*d->routed_tail != NULL)
		d->routed_tail = &(*d->routed_tail)->next;
	return first;
}

/* -------- user and group for a local delivery -------- */

static int
expand_opt(struct delivery *d, struct address_item *a, struct driver_inst *t,
	const char *tmpl, char **out, char **err_out)
{
	struct tern_ctx ctx = make_ctx(d, a, t);
	char *err = NULL;
	int rc = expand_string(&ctx, arena_msg, tmpl, out, &err);

	if (rc != TERN_OK)
		*err_out = arena_printf(arena_msg, "failed to expand \"%s\": %s",
			tmpl, rc == TERN_FAIL ? "forced failure" : err);
	return rc == TERN_FAIL ? TERN_DEFER : rc;
}

static bool
is_number(const char *s)
{
	return s[0] != '\0' && strspn(s, "0123456789") == strlen(s);
}

/*
 * The passwd or group source failed (errno e): defer, as for a lookup
 * that cannot answer; only its "no such user" is the configuration's
 * error.
 */
static int
source_failed(struct ids *ids, const char *what, int e, char **err_out)
{
	ids->basic_errno = e;
	*err_out = arena_printf(arena_msg, "cannot look up %s: %s", what,
		strerror(e));
	return TERN_DEFER;
}

/* A uid with no passwd entry is used as it is, with tern_user's gid. */
static int
resolve_user(struct delivery *d, struct address_item *a,
	struct driver_inst *t, const char *spec, struct ids *ids, char **err_out)
{
	struct user_entry u;
	char *name;
	int rc = expand_opt(d, a, t, spec, &name, err_out), found, e;
	bool by_uid;

	if (rc != TERN_OK)
		return rc;
	by_uid = is_number(name);
	if (by_uid)
		ids->uid = (uid_t)strtoul(name, NULL, 10);
	found = by_uid ? users_find_uid(ids->uid, &u) : users_find(name, &u);
	e = errno;
	if (found < 0)
		return source_failed(ids, arena_printf(arena_msg, by_uid ?
			"uid %s" : "user \"%s\"", name), e, err_out);
	if (found == 0 && !by_uid) {
		*err_out = arena_printf(arena_msg, "unknown user \"%s\"", name);
		return TERN_ERROR;
	}
	if (found > 0) {
		ids->uid = (uid_t)u.uid;
		ids->gid = (gid_t)u.gid;
		ids->login = arena_strdup(arena_msg, u.name);
	}
	return TERN_OK;
}

static int
resolve_group(struct delivery *d, struct address_item *a,
	struct driver_inst *t, const char *spec, struct ids *ids, char **err_out)
{
	int64_t gid;
	char *name;
	int rc = expand_opt(d, a, t, spec, &name, err_out), found, e;

	if (rc != TERN_OK)
		return rc;
	if (is_number(name)) {
		ids->gid = (gid_t)strtoul(name, NULL, 10);
		return TERN_OK;
	}
	found = users_find_group(name, &gid);
	e = errno;
	if (found < 0)
		return source_failed(ids, arena_printf(arena_msg,
			"group \"%s\"", name), e, err_out);
	if (found == 0) {
		*err_out = arena_printf(arena_msg, "unknown group \"%s\"", name);
		return TERN_ERROR;
	}
	ids->gid = (gid_t)gid;
	return TERN_OK;
}

/* The login name of ids->uid, for initgroups; none if it has no entry. */
static int
resolve_login(struct ids *ids, char **err_out)
{
	struct user_entry u;
	int found = users_find_uid(ids->uid, &u), e = errno;

	if (found < 0)
		return source_failed(ids, arena_printf(arena_msg, "uid %ld",
			(long)ids->uid), e, err_out);
	if (found > 0)
		ids->login = arena_strdup(arena_msg, u.name);
	return TERN_OK;
}

/*
 * The uid/gid of a local delivery: the address's (set by localuser),
 * else the transport's user/group, else the director's (for pipes and
 * files from an alias file), else tern_user.  The login name (for
 * initgroups) only when want_login: it costs a passwd lookup when the uid
 * came without one.  A user or group that does not exist is TERN_ERROR;
 * a passwd or group source that fails, TERN_DEFER with its errno in
 * ids->basic_errno.
 */
static int
local_ids(struct delivery *d, struct address_item *a, struct ids *ids,
	bool want_login, char **err_out)
{
	struct driver_inst *t = a->transport, *dir = a->handled_by;
	const struct transport_generic *tg = &t->g.transport;
	const char *user = NULL, *group = tg->group;
	int rc = TERN_OK;

	ids->uid = rt.tern_uid;
	ids->gid = rt.tern_gid;
	ids->login = NULL;
	ids->basic_errno = 0;
	if (a->pub.flags & TERN_AF_HAS_UID) {
		ids->uid = (uid_t)a->pub.uid;
		ids->gid = (gid_t)a->pub.gid;
	} else if (tg->user != NULL) {
		user = tg->user;
	} else if (dir != NULL && dir->g.route.user != NULL) {
		user = dir->g.route.user;
		if (group == NULL)
			group = dir->g.route.group;
	}
	if (user != NULL)
		rc = resolve_user(d, a, t, user, ids, err_out);
	if (rc == TERN_OK && group != NULL)
		rc = resolve_group(d, a, t, group, ids, err_out);
	if (rc == TERN_OK && want_login && ids->login == NULL)
		rc = resolve_login(ids, err_out);
	return rc;
}

/* Is uid in never_users (looked up when the configuration was read)? */
static bool
never_user(uid_t uid)
{
	for (size_t i = 0; i < cfg.never_uids_n; i++)
		if (cfg.never_uids[i] == uid)
			return true;
	return false;
}

/*
 * Switch to ids when privileged; refuse never_users.  here: the delivery
 * process itself runs the transport and already is ids (local_here), so
 * only its saved root goes, without taking root back first: no failure
 * can leave it root (runtime_give_up_root dies instead).
 */
static int
become(const struct ids *ids, bool init_groups, bool here, char **err_out)
{
	if (geteuid() != 0 && !rt.started_as_root)
		return TERN_OK; /* run as ourselves */
	if (never_user(ids->uid)) {
		const struct passwd *pw = ids->login != NULL ? NULL :
			getpwuid(ids->uid);

		*err_out = arena_printf(arena_msg,
			"delivery as %s (uid %ld) not permitted by never_users",
			ids->login != NULL ? ids->login :
			pw != NULL ? pw->pw_name : "?", (long)ids->uid);
		return TERN_DEFER;
	}
	if (here) {
		runtime_give_up_root();
		return TERN_OK;
	}
	if (runtime_become_user(ids->uid, ids->gid, init_groups, ids->login)
	    != 0) {
		*err_out = arena_printf(arena_msg,
			"cannot change to uid %ld gid %ld: %m", (long)ids->uid,
			(long)ids->gid);
		return TERN_DEFER;
	}
	return TERN_OK;
}

/* Where the transport runs: become ids, set home and working directory. */
static int
local_setup(struct delivery *d, struct address_item *first,
	const struct ids *ids, bool here, char **err_out)
{
	struct driver_inst *t = first->transport;
	const struct transport_generic *tg = &t->g.transport;
	char *home = NULL, *cwd = NULL;
	int rc;

	if ((rc = become(ids, tg->initgroups, here, err_out)) != TERN_OK)
		return rc;
	if (tg->home_directory != NULL) {
		rc = expand_opt(d, first, t, tg->home_directory, &home, err_out);
		if (rc != TERN_OK)
			return rc;
		for (struct address_item *b = first; b != NULL; b = batch_next(b))
			b->pub.home = home;
	}
	if (tg->current_directory != NULL) {
		rc = expand_opt(d, first, t, tg->current_directory, &cwd, err_out);
		if (rc != TERN_OK)
			return rc;
	}
	if (cwd == NULL)
		cwd = (char *)first->pub.home;
	if (cwd == NULL || chdir(cwd) != 0)
		(void)!chdir("/");
	return TERN_OK;
}

static const char *
batch_text(const struct address_item *first)
{
	for (const struct address_item *b = first; b != NULL; b = batch_next(b))
		if (b->pub.message != NULL)
			return b->pub.message;
	return NULL;
}

/*
 * Set up and call a local transport; *text_out: what to log,
 * *written_out: the bytes of the message it wrote.
 */
static int
local_transport(struct delivery *d, struct address_item *first,
	const struct ids *ids, bool here, const char **text_out, int *errno_out,
	uint64_t *written_out)
{
	struct driver_inst *t = first->transport;
	char *err = NULL;
	int rc = local_setup(d, first, ids, here, &err);

	*errno_out = 0;
	if (rc == TERN_OK) {
		struct tern_ctx ctx = make_ctx(d, first, t);
		const struct hdr_changes *hc;

		/* headers_add/remove first: a bad one must not start a write. */
		rc = transport_hdr_changes(&ctx, &hc, &err);
		if (rc == TERN_OK) {
			rc = t->mod->transport.deliver(&t->pub, &ctx, &first->pub);
			*text_out = batch_text(first);
			*errno_out = first->pub.basic_errno;
			*written_out = ctx.written;
			return rc;
		}
	}
	*text_out = err;
	return rc;
}

static _Noreturn void
local_child(struct delivery *d, struct address_item *first,
	const struct ids *ids, int fd)
{
	struct child_result r = { TERN_DEFER, 0, 0, 0 };
	const char *text = NULL;

	signal(SIGPIPE, SIG_IGN);
	r.rc = local_transport(d, first, ids, false, &text, &r.basic_errno,
		&r.written);
	if (text != NULL)
		r.len = strlen(text) < RESULT_TEXT_MAX ? strlen(text) :
			RESULT_TEXT_MAX;
	if (io_write_all(fd, (const char *)&r, sizeof(r)) != 0 ||
	    io_write_all(fd, text != NULL ? text : "", r.len) != 0 ||
	    return_output_send(fd, first) != 0)
		_exit(1);
	_exit(0);
}

/* The parent's side: collect the child's result; a crash is a DEFER. */
static int
local_collect(int fd, pid_t pid, struct address_item *first, char **text_out,
	int *errno_out, uint64_t *written_out)
{
	struct child_result r;
	int status = 0;
	ssize_t got = io_read_full(fd, &r, sizeof(r));

	if (got == (ssize_t)sizeof(r) && r.len <= RESULT_TEXT_MAX) {
		char *text = arena_alloc(arena_msg, r.len + 1);

		ssize_t t = io_read_full(fd, text, r.len);

		text[t > 0 ? t : 0] = '\0';
		*text_out = r.len > 0 ? text : NULL;
		*errno_out = r.basic_errno;
		*written_out = r.written;
		return_output_receive(fd, first);
	}
	close(fd);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got == (ssize_t)sizeof(r) && r.len <= RESULT_TEXT_MAX)
		return r.rc;
	if (WIFSIGNALED(status))
		*text_out = arena_printf(arena_msg,
			"transport process killed by signal %d", WTERMSIG(status));
	else
		*text_out = arena_printf(arena_msg, "transport process ended "
			"(status %d) without a result", WEXITSTATUS(status));
	return TERN_DEFER;
}

static bool
unprivileged(void)
{
	return geteuid() != 0 && !rt.started_as_root;
}

/*
 * May this batch run in the delivery process instead of a child?  Only
 * for a transport that leaves the process as it found it
 * (TERN_TRANSPORT_LOCAL_HERE), and only where the child would buy no
 * privilege separation: unprivileged, the child would run as us anyway.
 * Started as root, the batch must run as tern_user with no supplementary
 * groups (which we already are, root kept only as the saved uid), and
 * nothing may follow it in this process that could need root: no other
 * batch of this message, no other message on a continued connection
 * (we are not one of them, remote_continuing), and a bounce must be
 * started by the daemon, through the handoff pipe.  Root is then given
 * up for good before the transport runs.  This saves a fork and an exit
 * per local message.
 */
static bool
local_here(const struct delivery *d, const struct address_item *first,
	const struct ids *ids)
{
	if (first->transport->mod->transport.is_local !=
	    TERN_TRANSPORT_LOCAL_HERE)
		return false;
	if (unprivileged())
		return true;
	return rt.tern_uid != 0 && ids->uid == rt.tern_uid &&
		ids->gid == rt.tern_gid &&
		!first->transport->g.transport.initgroups &&
		d->routed == NULL && !remote_continuing() &&
		deliver_has_handoff();
}

/* The transport in this process; the working directory is put back. */
static int
run_local_here(struct delivery *d, struct address_item *first,
	const struct ids *ids, char **text_out, int *errno_out,
	uint64_t *written_out)
{
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	const char *text = NULL;
	int rc;

	sigemptyset(&ign.sa_mask);
	(void)sigaction(SIGPIPE, &ign, &old);
	rc = local_transport(d, first, ids, true, &text, errno_out,
		written_out);
	(void)sigaction(SIGPIPE, &old, NULL);
	if (cwd < 0 || fchdir(cwd) != 0)
		(void)!chdir("/");
	if (cwd >= 0)
		close(cwd);
	/* As long as a child's would be (local_child). */
	*text_out = text != NULL && strlen(text) > RESULT_TEXT_MAX ?
		arena_strndup(arena_msg, text, RESULT_TEXT_MAX) : (char *)text;
	return rc;
}

bool
transport_needs_root(struct delivery *d)
{
	if (!rt.started_as_root)
		return false;
	for (struct address_item *a = d->routed; a != NULL; a = a->next) {
		struct ids ids;
		char *err = NULL;

		if (is_remote(a)) {
			if (!module_never_needs_root(a->transport->mod))
				return true;
			continue;
		}
		/* An error is the full delivery's to report, with root. */
		if (local_ids(d, a, &ids, false, &err) != TERN_OK ||
		    a->transport->g.transport.initgroups ||
		    ids.uid != rt.tern_uid || ids.gid != rt.tern_gid)
			return true;
	}
	return false;
}

static int
run_local(struct delivery *d, struct address_item *first, char **text_out,
	int *errno_out, uint64_t *written_out)
{
	struct ids ids;
	int pfd[2];
	pid_t pid;
	int rc = local_ids(d, first, &ids,
	    first->transport->g.transport.initgroups, text_out);

	if (rc != TERN_OK) {
		*errno_out = ids.basic_errno;
		return rc;
	}
	if (local_here(d, first, &ids))
		return run_local_here(d, first, &ids, text_out, errno_out,
			written_out);
	if (pipe2(pfd, O_CLOEXEC) != 0) {
		*text_out = arena_printf(arena_msg, "pipe for transport: %m");
		return TERN_DEFER;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		*text_out = arena_printf(arena_msg, "fork for transport: %m");
		close(pfd[0]);
		close(pfd[1]);
		return TERN_DEFER;
	}
	if (pid == 0) {
		close(pfd[0]);
		local_child(d, first, &ids, pfd[1]);
	}
	close(pfd[1]);
	return local_collect(pfd[0], pid, first, text_out, errno_out,
		written_out);
}

static int
run_remote(struct delivery *d, struct address_item *first, char **text_out,
	int *errno_out, uint64_t *written_out)
{
	struct driver_inst *t = first->transport;
	struct tern_ctx ctx = make_ctx(d, first, t);
	const struct hdr_changes *hc;
	int rc = transport_hdr_changes(&ctx, &hc, text_out);

	/* headers_add/remove first: a bad one must not start a delivery. */
	if (rc != TERN_OK) {
		*errno_out = 0;
		return rc;
	}
	rc = t->mod->transport.deliver(&t->pub, &ctx, &first->pub);
	*text_out = (char *)batch_text(first);
	*errno_out = first->pub.basic_errno;
	*written_out = ctx.written;
	return rc;
}

/*
 * What the log lines of one transport run add, as log_selector asks:
 * S= (delivery_size) and DT= (deliver_time), NULL when off.
 */
struct run_log {
	const char *size; /* " S=1234" */
	const char *dt;   /* " DT=1s" */
};

/* Journal first, then log: a crash in between only repeats a log line. */
static void
batch_ok(struct delivery *d, struct address_item *b, bool is_first,
	const struct run_log *rl)
{
	/* A recipient is journaled as written in -H, so that it is marked. */
	const char *key = b->parent_item == NULL && b->rcpt_index >= 0 ?
		d->msg->rcpts[b->rcpt_index].address : b->key;
	char *err = NULL;

	if (spool_journal_add(d->msg, key, &err) != 0)
		dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "%s", err);
	b->rc = TERN_OK;
	/* Exim's order: F= P= R= T= S= H=... C= QT= DT= */
	dlog(d, TERN_LOG_MAIN, "%s %s%s R=%s T=%s%s%s%s%s",
		is_first ? "=>" : "->", addr_log_name(b), addr_log_from(d, true),
		b->handled_by != NULL ? b->handled_by->pub.name : "-",
		b->transport->pub.name, rl->size != NULL ? rl->size : "",
		b->pub.log_info != NULL ? b->pub.log_info : "",
		LOG_SEL(queue_time) ? deliver_queue_time(d->msg) : "",
		rl->dt != NULL ? rl->dt : "");
}

static void
batch_result(struct delivery *d, struct address_item *first, int rc,
	const char *text, int basic_errno, const struct run_log *rl)
{
	bool is_first = true;

	for (struct address_item *b = first, *next; b != NULL; b = next) {
		const char *r = b->handled_by != NULL ? b->handled_by->pub.name : "-";
		const char *t = b->transport->pub.name;
		/* A remote transport may give each address its own result. */
		bool is_own = (b->pub.flags & TERN_AF_RESULT) != 0;
		int brc = is_own ? b->pub.result : rc;
		int berrno = is_own ? b->pub.basic_errno : basic_errno;
		const char *why = text != NULL && !is_own ? text :
			b->pub.message != NULL ? b->pub.message : "unknown error";
		const char *info = b->pub.log_info != NULL ? b->pub.log_info : "";
		const char *dt = rl->dt != NULL ? rl->dt : "";

		next = batch_next(b);
		b->pub.next = NULL;
		if (brc == TERN_OK) {
			batch_ok(d, b, is_first, rl);
			is_first = false;
		} else if (brc == TERN_FAIL) {
			addr_result(b, TERN_FAIL, "%s", why);
			dlog(d, TERN_LOG_MAIN, "** %s%s R=%s T=%s%s: %s%s",
				addr_log_name(b), addr_log_from(d, true), r, t, info,
				why, dt);
		} else {
			if (brc != TERN_DEFER)
				d->freeze = true;
			b->pub.basic_errno = berrno; /* for retry_use.c */
			addr_result(b, TERN_DEFER, "%s", why);
			/* No host was due (retry_defer, as retry_use.c's) */
			if (brc == TERN_DEFER && berrno <= TERN_ERRNO_RETRY_BASE &&
			    !LOG_SEL(retry_defer))
				continue;
			dlog(d, TERN_LOG_MAIN | (brc != TERN_DEFER ? TERN_LOG_PANIC : 0),
				"== %s R=%s T=%s defer (%d)%s%s: %s", addr_log_name(b), r,
				t, berrno, info, dt, why);
		}
	}
}

/*
 * -qq's first pass: no remote delivery, only a note in the wait hints
 * for the first host, so that the second pass sends the messages for
 * one host down one connection.  The addresses stay undelivered.
 */
static void
remote_postpone(struct delivery *d, struct address_item *first)
{
	struct tern_ctx ctx = make_ctx(d, first, first->transport);
	const struct tern_host *h = first->pub.hosts;

	while (h != NULL && h->address == NULL)
		h = h->next;
	if (h != NULL)
		remote_wait_record(&ctx, remote_host_key(h));
	for (struct address_item *b = first, *next; b != NULL; b = next) {
		next = batch_next(b);
		b->pub.next = NULL;
		addr_result(b, TERN_DEFER, "remote delivery postponed (-qq)");
		b->retry_skipped = true;
	}
}

void
transport_run_all(struct delivery *d)
{
	while (d->routed != NULL) {
		struct address_item *first = take_batch(d);
		struct driver_inst *t = first->transport;
		struct run_log rl = { NULL, NULL };
		long long t0 = 0;
		/* The clock only for DT= (the hot path, issue 9). */
		bool is_timed = LOG_SEL(deliver_time);
		uint64_t written = 0;
		char *text = NULL;
		int basic_errno = 0, rc;

		if (is_timed)
			t0 = log_clock_ms();
		if (t->mod->transport.deliver == NULL) {
			text = arena_printf(arena_msg, "transport %s has no entry point",
				t->pub.name);
			rc = TERN_ERROR;
		} else if (t->mod->transport.is_local) {
			rc = run_local(d, first, &text, &basic_errno, &written);
		} else if (d->flags & DELIVER_QUEUE_SMTP) {
			remote_postpone(d, first); /* -qq first pass */
			continue;
		} else {
			rc = run_remote(d, first, &text, &basic_errno, &written);
		}
		if (is_timed)
			rl.dt = arena_printf(arena_msg, " DT=%s",
				log_duration(log_clock_ms() - t0));
		if (LOG_SEL(delivery_size))
			rl.size = arena_printf(arena_msg, " S=%llu",
				(unsigned long long)written);
		batch_result(d, first, rc, text, basic_errno, &rl);
	}
}
