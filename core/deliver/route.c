/*
 * Routing: every address goes through the directors (local domains) or
 * the routers (the rest), breadth first, with the children that aliases
 * and forwards make.  Duplicates are routed once; an alias loop is cut.
 */
#include "deliver/deliver_int.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <tern/rc.h>

#include "address/address.h"
#include "config/config.h"
#include "config/lists.h"
#include "deliver/deliver.h"
#include "deliver/remote.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "modules/modules.h"
#include "spool/spool.h"

void
delivery_init(struct delivery *d)
{
	memset(d, 0, sizeof(*d));
	d->all_tail = &d->all;
	d->queue_tail = &d->queue;
	d->routed_tail = &d->routed;
	d->expand_children = true;
}

struct address_item *
addr_new(enum tern_addr_kind kind, const char *text, const char *qualify,
	char **err_out)
{
	struct address_item *a = arena_zalloc(arena_msg, sizeof(*a));
	char *lp, *dom;

	a->pub.kind = kind;
	a->pub.uid = a->pub.gid = -1;
	a->rc = ADDR_NEW;
	a->rcpt_index = -1;
	if (kind != TERN_ADDR_MAIL) {
		a->pub.address = arena_strdup(arena_msg, text);
		a->key = a->pub.address;
		return a;
	}
	if (address_split(arena_msg, text, &lp, &dom, err_out) != 0)
		return NULL;
	if (lp[0] == '\0') {
		*err_out = arena_printf(arena_msg, "empty local part in \"%s\"",
			text);
		return NULL;
	}
	if (dom == NULL) {
		if (qualify == NULL || qualify[0] == '\0') {
			*err_out = arena_printf(arena_msg,
				"unqualified address \"%s\"", text);
			return NULL;
		}
		text = address_qualify(arena_msg, text, qualify);
		dom = str_lower(arena_msg, qualify);
	}
	a->pub.address = arena_strdup(arena_msg, text);
	a->pub.local_part = lp;
	a->pub.domain = dom;
	a->key = str_lower(arena_msg, a->pub.address);
	return a;
}

static void
remember(struct delivery *d, struct address_item *a)
{
	a->all_next = NULL;
	*d->all_tail = a;
	d->all_tail = &a->all_next;
}

static void
enqueue(struct delivery *d, struct address_item *a)
{
	a->next = NULL;
	*d->queue_tail = a;
	d->queue_tail = &a->next;
}

static void
add_routed(struct delivery *d, struct address_item *a)
{
	a->rc = ADDR_ROUTED;
	a->next = NULL;
	*d->routed_tail = a;
	d->routed_tail = &a->next;
}

void
route_add_top(struct delivery *d, struct address_item *a, long index)
{
	a->rcpt_index = index;
	remember(d, a);
	if (a->rc == ADDR_NEW)
		enqueue(d, a);
}

const struct address_item *
addr_top(const struct address_item *a)
{
	while (a->parent_item != NULL)
		a = a->parent_item;
	return a;
}

/* " (parent, grandparent)": a's parents below top (all_parents). */
static const char *
log_parents(const struct address_item *a, const struct address_item *top)
{
	const char *s = "";

	for (const struct address_item *p = a->parent_item; p != top;
	    p = p->parent_item)
		s = arena_printf(arena_msg, "%s%s%s", s, *s == '\0' ? " (" :
			", ", p->pub.address);
	return arena_printf(arena_msg, "%s)", s);
}

const char *
addr_log_name(const struct address_item *a)
{
	const struct address_item *top = addr_top(a);

	if (LOG_SEL(all_parents) && a->parent_item != NULL &&
	    a->parent_item != top)
		return arena_printf(arena_msg, "%s%s <%s>", a->pub.address,
			log_parents(a, top), top->pub.address);
	if (top == a || strcmp(top->pub.address, a->pub.address) == 0)
		return a->pub.address;
	return arena_printf(arena_msg, "%s <%s>", a->pub.address,
		top->pub.address);
}

const char *
addr_log_from(const struct delivery *d, bool transported)
{
	bool f = LOG_SEL(sender_on_delivery);
	bool p = transported && LOG_SEL(return_path_on_delivery);
	/* P= shows the sender: a transport's return_path (write.c) is
	 * not carried back from its process; errors_to only says where
	 * bounces go. */
	const char *s = d->sender != NULL ? d->sender : "";

	if (!f && !p)
		return "";
	return arena_printf(arena_msg, "%s%s%s%s%s%s", f ? " F=<" : "",
		f ? s : "", f ? ">" : "", p ? " P=<" : "", p ? s : "",
		p ? ">" : "");
}

/* A message log line kept back (hold_logs). */
struct held_log {
	const char      *text;
	struct held_log *next;
};

void
dlog(struct delivery *d, int where, const char *fmt, ...)
{
	const char *id = d->msg != NULL ? d->msg->id : NULL;
	va_list ap;
	char *text;

	if (d->test_only && !(where & TERN_LOG_PANIC))
		return;
	if (d->test_only)
		where = TERN_LOG_PANIC;
	va_start(ap, fmt);
	text = arena_vprintf(arena_msg, fmt, ap);
	va_end(ap);
	log_write(where, id, "%s", text); /* held by the log while hold_logs */
	if (id == NULL || !(where & TERN_LOG_MAIN))
		return;
	if (d->hold_logs) {
		struct held_log *h = arena_zalloc(arena_msg, sizeof(*h));

		h->text = text;
		if (d->held_tail == NULL)
			d->held_tail = &d->held;
		*d->held_tail = h;
		d->held_tail = &h->next;
		return;
	}
	spool_msglog(id, "%s", text);
}

void
dlog_hold(struct delivery *d)
{
	d->hold_logs = true;
	log_hold(); /* the drivers' own lines (core->log) too */
}

void
dlog_release(struct delivery *d)
{
	log_hold_end(true);
	for (struct held_log *h = d->held; h != NULL; h = h->next)
		spool_msglog(d->msg->id, "%s", h->text);
	d->hold_logs = false;
	d->held = NULL;
	d->held_tail = &d->held;
}

void
dlog_drop(struct delivery *d)
{
	log_hold_end(false);
	d->hold_logs = false;
	d->held = NULL;
	d->held_tail = &d->held;
}

/*
 * Might a director or router need root to route?  Any that does not say
 * TERN_MODF_NO_ROOT might: forwardfile reads a user's file as the user.
 */
bool
route_may_need_root(void)
{
	if (!rt.started_as_root)
		return false;
	for (int k = 0; k < 2; k++)
		for (const struct driver_inst *i = k == 0 ? cfg.directors :
		    cfg.routers; i != NULL; i = i->next)
			if (!module_never_needs_root(i->mod))
				return true;
	return false;
}

void
addr_result(struct address_item *a, int rc, const char *fmt, ...)
{
	va_list ap;

	a->rc = rc;
	a->pub.flags &= ~TERN_AF_USER_MESSAGE;
	va_start(ap, fmt);
	a->pub.message = arena_vprintf(arena_msg, fmt, ap);
	va_end(ap);
}

void
addr_result_user(struct address_item *a, int rc, const char *text)
{
	addr_result(a, rc, "%s", text);
	a->pub.flags |= TERN_AF_USER_MESSAGE;
}

/* A driver or configuration fault: defer the address, freeze, paniclog. */
static void
addr_error(struct delivery *d, struct address_item *a,
	const struct driver_inst *inst, const char *text)
{
	d->freeze = true;
	addr_result(a, TERN_DEFER, "%s", text);
	dlog(d, TERN_LOG_MAIN | TERN_LOG_PANIC, "== %s R=%s defer (%d): %s",
		addr_log_name(a), inst != NULL ? inst->pub.name : "-",
		a->pub.basic_errno, text);
}

/* -------- preconditions (the generic options) -------- */

static int
generic_list(struct delivery *d, struct address_item *a,
	const struct driver_inst *inst, enum tern_list_kind kind,
	const char *opt, const char *list, const char *item)
{
	struct tern_ctx ctx = {
		.msg = d->msg, .addr = a, .inst = (struct driver_inst *)inst,
		.verify = d->verify, .arena = arena_msg, .sender = d->sender,
		.host_address = d->host_address,
	};
	char *err = NULL;
	/* ctx: a lookup item's query may use $local_part, $domain ... */
	int rc = list_match_ctx(&ctx, kind, list, item,
		d->msg != NULL ? d->msg->host_name : NULL, &err);

	if (rc == TERN_OK)
		return TERN_OK;
	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	addr_result(a, rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR,
		"%s %s: %s: %s", inst->kind == TERN_KIND_DIRECTOR ? "director" :
		"router", inst->pub.name, opt, err != NULL ? err : "list error");
	return a->rc;
}

/* Find one of the affixes in list at the start (or end) of lp. */
static size_t
affix_len(const char *list, const char *lp, bool is_suffix)
{
	size_t lplen = strlen(lp);
	char sep = '\0';
	const char *item;

	while ((item = list_next(&list, &sep)) != NULL) {
		size_t n = strlen(item);

		if (n >= lplen)
			continue;
		if (!is_suffix && strncasecmp(lp, item, n) == 0)
			return n;
		if (is_suffix && strcasecmp(lp + lplen - n, item) == 0)
			return n;
	}
	return 0;
}

/* local_part_prefix / _suffix: strip into pub.local_part_prefix/suffix. */
static int
strip_affixes(struct address_item *a, const struct route_generic *g,
	const char *lp)
{
	size_t n;

	a->pub.local_part_prefix = a->pub.local_part_suffix = NULL;
	if (g->local_part_prefix != NULL) {
		n = affix_len(g->local_part_prefix, lp, false);
		if (n == 0 && !g->local_part_prefix_optional)
			return TERN_DECLINE;
		if (n > 0) {
			a->pub.local_part_prefix = arena_strndup(arena_msg, lp, n);
			lp += n;
		}
	}
	if (g->local_part_suffix != NULL) {
		n = affix_len(g->local_part_suffix, lp, true);
		if (n == 0 && !g->local_part_suffix_optional)
			return TERN_DECLINE;
		if (n > 0) {
			size_t keep = strlen(lp) - n;

			a->pub.local_part_suffix = arena_strdup(arena_msg, lp + keep);
			lp = arena_strndup(arena_msg, lp, keep);
		}
	}
	a->pub.local_part = lp;
	return TERN_OK;
}

static int
check_condition(struct delivery *d, struct address_item *a,
	struct driver_inst *inst)
{
	struct tern_ctx ctx = {
		.msg = d->msg, .addr = a, .inst = inst, .verify = d->verify,
		.arena = arena_msg, .sender = d->sender,
		.host_address = d->host_address,
	};
	char *out = NULL, *err = NULL;
	int rc = expand_string(&ctx, arena_msg, inst->g.route.condition, &out,
		&err);

	if (rc == TERN_FAIL)
		return TERN_DECLINE;
	if (rc != TERN_OK) {
		addr_result(a, rc == TERN_DEFER ? TERN_DEFER : TERN_ERROR,
			"%s: failed to expand condition: %s", inst->pub.name, err);
		return a->rc;
	}
	if (out[0] == '\0' || strcmp(out, "0") == 0 ||
	    str_casecmp(out, "no") == 0 || str_casecmp(out, "false") == 0)
		return TERN_DECLINE;
	return TERN_OK;
}

/* OK: run the driver; DECLINE: skip it; DEFER/ERROR: a->pub.message. */
static int
check_generic(struct delivery *d, struct address_item *a,
	struct driver_inst *inst, const char *lp)
{
	const struct route_generic *g = &inst->g.route;
	const char *sender;
	int rc;

	if (d->verify ? !g->verify : g->verify_only)
		return TERN_DECLINE;
	if (g->domains != NULL && (rc = generic_list(d, a, inst,
	    TERN_LIST_DOMAIN, "domains", g->domains, a->pub.domain)) != TERN_OK)
		return rc;
	if ((rc = strip_affixes(a, g, lp)) != TERN_OK)
		return rc;
	if (g->local_parts != NULL) {
		rc = generic_list(d, a, inst, TERN_LIST_LOCALPART, "local_parts",
			g->local_parts, a->pub.local_part);
		if (rc != TERN_OK)
			return rc;
		if (strcmp(g->local_parts, "*") != 0)
			a->pub.flags |= TERN_AF_LP_CHECKED;
	}
	sender = d->msg != NULL ? d->msg->sender : d->sender;
	if (g->senders != NULL && (rc = generic_list(d, a, inst,
	    TERN_LIST_ADDRESS, "senders", g->senders,
	    sender != NULL ? sender : "")) != TERN_OK)
		return rc;
	if (g->condition != NULL)
		return check_condition(d, a, inst);
	return TERN_OK;
}

/* -------- results -------- */

static void
set_transport(struct delivery *d, struct address_item *a,
	struct driver_inst *inst)
{
	const char *name = a->pub.transport != NULL ? a->pub.transport :
		inst->pub.transport;
	struct driver_inst *t;

	if (name == NULL) {
		addr_error(d, a, inst, arena_printf(arena_msg,
			"%s accepted %s but no transport is set", inst->pub.name,
			a->pub.address));
		return;
	}
	t = config_find_transport(name);
	if (t == NULL) {
		addr_error(d, a, inst, arena_printf(arena_msg,
			"%s: transport \"%s\" is not defined", inst->pub.name, name));
		return;
	}
	a->transport = t;
	a->pub.transport = t->pub.name;
	add_routed(d, a);
}

/* Is c the same address as an ancestor above its parent a? */
static bool
loops_to_ancestor(const struct address_item *a, const struct address_item *c)
{
	for (const struct address_item *p = a->parent_item; p != NULL;
	    p = p->parent_item)
		if (strcmp(p->key, c->key) == 0)
			return true;
	return false;
}

/*
 * Children made by an alias or forward: queue them.  A child equal to an
 * ancestor above its parent is a loop: dropped and logged, and a parent
 * left with no children fails.  A child equal to its parent stays: the
 * director that made it is then skipped for it (see ancestor_handled).
 */
static void
adopt_children(struct delivery *d, struct address_item *a,
	struct driver_inst *inst, struct address_item *children)
{
	struct address_item *c, *next;
	int kept = 0;

	a->rc = ADDR_EXPANDED;
	for (c = children; c != NULL; c = next) {
		next = c->next;
		c->next = NULL;
		c->parent_item = a;
		c->pub.parent = &a->pub;
		c->depth = a->depth + 1;
		c->rcpt_index = -1;
		c->handled_by = c->pub.kind == TERN_ADDR_MAIL ? NULL : inst;
		if (!d->expand_children)
			continue;
		if (!(c->pub.flags & TERN_AF_NO_REDIRECT) &&
		    loops_to_ancestor(a, c)) {
			dlog(d, TERN_LOG_MAIN, "alias loop detected: %s <%s> R=%s",
				c->pub.address, addr_top(a)->pub.address,
				inst->pub.name);
			continue;
		}
		kept++;
		remember(d, c);
		if (c->depth > MAX_ALIAS_DEPTH) {
			addr_result_user(c, TERN_FAIL, "too many levels of aliasing");
			dlog(d, TERN_LOG_MAIN, "** %s%s R=%s: %s",
				addr_log_name(c), addr_log_from(d, false),
				inst->pub.name, c->pub.message);
			continue;
		}
		enqueue(d, c);
	}
	if (kept == 0 && d->expand_children) {
		addr_result_user(a, TERN_FAIL, "alias loop");
		dlog(d, TERN_LOG_MAIN, "** %s%s R=%s: alias loop",
			addr_log_name(a), addr_log_from(d, false), inst->pub.name);
	}
}

/* `unseen`: a copy of a goes on to the drivers after inst. */
static void
clone_unseen(struct delivery *d, const struct address_item *a,
	struct driver_inst *inst, const char *lp)
{
	struct address_item *c = arena_alloc(arena_msg, sizeof(*c));

	*c = *a;
	c->rc = ADDR_NEW;
	c->pub.local_part = lp;
	c->pub.transport = NULL;
	c->pub.message = NULL;
	c->pub.next = NULL;
	c->pub.flags &= ~(TERN_AF_DISCARD | TERN_AF_USER_MESSAGE);
	c->transport = NULL;
	c->handled_by = NULL;
	c->dup_of = NULL;
	c->start_after = inst;
	remember(d, c);
	enqueue(d, c);
}

static void
handle_ok(struct delivery *d, struct address_item *a,
	struct driver_inst *inst, struct address_item *children)
{
	if (children != NULL) {
		adopt_children(d, a, inst, children);
	} else if (a->pub.flags & TERN_AF_DISCARD) {
		a->rc = TERN_OK;
		dlog(d, TERN_LOG_MAIN, "=> :blackhole: <%s> R=%s", a->pub.address,
			inst->pub.name);
	} else {
		if (inst->kind == TERN_KIND_ROUTER)
			remote_set_fallback(&a->pub, inst->g.route.fallback_hosts,
				inst->pub.name);
		set_transport(d, a, inst);
	}
}

static void
handle_other(struct delivery *d, struct address_item *a,
	struct driver_inst *inst, int rc)
{
	const char *text = a->pub.message;

	if (rc == TERN_DEFER || rc == TERN_FAIL) {
		if (text != NULL)
			a->rc = rc; /* the driver's message, TERN_AF_USER_MESSAGE too */
		else
			addr_result(a, rc, "%s", rc == TERN_DEFER ? "deferred" :
				"failed");
	}
	switch (rc) {
	case TERN_DEFER:
		dlog(d, TERN_LOG_MAIN, "== %s R=%s defer (%d): %s",
			addr_log_name(a), inst->pub.name, a->pub.basic_errno,
			a->pub.message);
		break;
	case TERN_FAIL:
		dlog(d, TERN_LOG_MAIN, "** %s%s R=%s: %s", addr_log_name(a),
			addr_log_from(d, false), inst->pub.name, a->pub.message);
		break;
	default:
		addr_error(d, a, inst, text != NULL ? text : arena_printf(
			arena_msg, "%s returned an error (%d)", inst->pub.name, rc));
		break;
	}
}

/* Run one director or router; returns its result (children handled). */
static int
call_driver(struct delivery *d, struct address_item *a,
	struct driver_inst *inst, const char *lp)
{
	struct tern_ctx ctx = {
		.msg = d->msg, .addr = a, .inst = inst, .verify = d->verify,
		.arena = arena_msg, .sender = d->sender,
		.host_address = d->host_address,
	};
	int (*fn)(struct tern_instance *, struct tern_ctx *,
		struct tern_address *);
	int rc;

	fn = inst->kind == TERN_KIND_DIRECTOR ? inst->mod->director.direct :
		inst->mod->router.route;
	a->pub.transport = NULL;
	a->pub.message = NULL;
	a->pub.basic_errno = 0;
	a->pub.flags &= ~(TERN_AF_DISCARD | TERN_AF_USER_MESSAGE);
	a->pub.hosts = a->pub.fallback_hosts = NULL;
	if (fn == NULL) {
		a->pub.message = arena_printf(arena_msg,
			"driver %s of %s has no entry point", inst->pub.driver,
			inst->pub.name);
		return TERN_ERROR;
	}
	rc = fn(&inst->pub, &ctx, &a->pub);
	if (rc == TERN_DECLINE)
		return rc;
	a->handled_by = inst;
	if (rc == TERN_OK) {
		handle_ok(d, a, inst, ctx.children);
		if (inst->g.route.unseen)
			clone_unseen(d, a, inst, lp);
	}
	return rc;
}

/* Has an ancestor with a's address been handled by inst already? */
static bool
ancestor_handled(const struct address_item *a, const struct driver_inst *inst)
{
	for (const struct address_item *p = a->parent_item; p != NULL;
	    p = p->parent_item)
		if (p->handled_by == inst && strcmp(p->key, a->key) == 0)
			return true;
	return false;
}

static void
run_drivers(struct delivery *d, struct address_item *a, bool is_local)
{
	struct driver_inst *inst = a->start_after != NULL ?
		a->start_after->next : is_local ? cfg.directors : cfg.routers;
	const char *lp_in = a->pub.local_part;

	for (; inst != NULL; inst = inst->next) {
		const char *lp = lp_in;
		int rc;

		if (ancestor_handled(a, inst) || ((a->pub.flags &
		    TERN_AF_NO_REDIRECT) && a->parent_item != NULL &&
		    a->parent_item->handled_by == inst))
			continue; /* "\user", check_ancestor: not again */
		if (is_local && !inst->g.route.caseful_local_part)
			lp = str_lower(arena_msg, lp_in);
		rc = check_generic(d, a, inst, lp);
		if (rc == TERN_DECLINE) {
			a->pub.local_part = lp_in;
			continue;
		}
		if (rc == TERN_OK)
			rc = call_driver(d, a, inst, lp_in);
		if (rc == TERN_OK)
			return;
		if (rc != TERN_DECLINE) {
			handle_other(d, a, inst, rc);
			return;
		}
		a->pub.local_part = lp_in;
		if (!inst->g.route.more)
			break;
	}
	a->pub.local_part_prefix = a->pub.local_part_suffix = NULL;
	addr_result_user(a, TERN_FAIL, is_local ? "Unknown user" :
		"Unrouteable address");
	dlog(d, TERN_LOG_MAIN, "** %s%s: %s", addr_log_name(a),
		addr_log_from(d, false), a->pub.message);
}

/* Pipes and files from aliases: the generating director's transport. */
static void
route_pipe_file(struct delivery *d, struct address_item *a)
{
	struct driver_inst *gen = a->handled_by;
	const char *what = a->pub.kind == TERN_ADDR_PIPE ? "pipe" : "file";
	struct driver_inst *t;

	if (a->pub.transport == NULL) {
		addr_error(d, a, gen, arena_printf(arena_msg,
			"no transport for %s \"%s\" (set %s_transport on %s)", what,
			a->pub.address, what, gen != NULL ? gen->pub.name : "-"));
		return;
	}
	t = config_find_transport(a->pub.transport);
	if (t == NULL) {
		addr_error(d, a, gen, arena_printf(arena_msg,
			"%s_transport \"%s\" is not defined", what, a->pub.transport));
		return;
	}
	a->transport = t;
	add_routed(d, a);
}

/* The earlier item this one duplicates (not an ancestor), or NULL. */
static struct address_item *
find_dup(struct delivery *d, const struct address_item *a)
{
	for (struct address_item *o = d->all; o != NULL && o != a;
	    o = o->all_next) {
		bool is_ancestor = false;

		if (o->dup_of != NULL || strcmp(o->key, a->key) != 0)
			continue;
		for (const struct address_item *p = a->parent_item; p != NULL;
		    p = p->parent_item)
			is_ancestor = is_ancestor || p == o;
		if (!is_ancestor)
			return o;
	}
	return NULL;
}

static void
route_one(struct delivery *d, struct address_item *a)
{
	struct address_item *dup;
	int rc;

	if (a->start_after == NULL && (dup = find_dup(d, a)) != NULL) {
		a->dup_of = dup;
		a->rc = TERN_OK;
		DEBUG("%s: %s is a duplicate", d->msg != NULL ? d->msg->id : "-",
			a->pub.address);
		return;
	}
	if (d->msg != NULL && a->parent_item != NULL &&
	    spool_is_delivered(d->msg, a->key)) {
		addr_result(a, TERN_OK, "previously delivered");
		return;
	}
	if (a->pub.kind != TERN_ADDR_MAIL) {
		route_pipe_file(d, a);
		return;
	}
	rc = deliver_domain_is_local(a->pub.domain);
	if (rc == TERN_OK || rc == TERN_FAIL) {
		run_drivers(d, a, rc == TERN_OK);
		return;
	}
	addr_result(a, TERN_DEFER, "cannot check whether %s is a local domain",
		a->pub.domain);
	dlog(d, TERN_LOG_MAIN, "== %s defer (0): %s", addr_log_name(a),
		a->pub.message);
}

void
route_all(struct delivery *d)
{
	while (d->queue != NULL) {
		struct address_item *a = d->queue;

		d->queue = a->next;
		if (d->queue == NULL)
			d->queue_tail = &d->queue;
		a->next = NULL;
		route_one(d, a);
	}
}
