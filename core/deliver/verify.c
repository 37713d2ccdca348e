/*
 * Routing without delivering: -bt and -bv on the command line, RCPT-time
 * receiver verification, and the local-domain test they all share.
 */
#include "deliver/deliver.h"

#include <stdio.h>
#include <string.h>

#include <tern/rc.h>

#include "config/config.h"
#include "config/lists.h"
#include "deliver/deliver_int.h"
#include "lib/arena.h"
#include "lib/runtime.h"
#include "log/log.h"

int
deliver_domain_is_local(const char *domain)
{
	const char *list = conf.local_domains != NULL ? conf.local_domains : "@";
	char *err = NULL;
	int rc;

	if (domain == NULL)
		return TERN_FAIL;
	rc = list_match(TERN_LIST_DOMAIN, list, domain, NULL, &err);
	if (rc == TERN_OK || rc == TERN_FAIL)
		return rc;
	log_write(TERN_LOG_MAIN | (rc == TERN_ERROR ? TERN_LOG_PANIC : 0), NULL,
		"local_domains: checking %s: %s", domain,
		err != NULL ? err : "lookup deferred");
	return TERN_DEFER;
}

static const char *
qualify_domain(void)
{
	if (conf.qualify_recipient != NULL)
		return conf.qualify_recipient;
	return conf.qualify_domain != NULL ? conf.qualify_domain :
		conf.primary_hostname;
}

int
deliver_verify_recipient(const char *address, const char *sender,
	char **log_out, char **user_out)
{
	struct delivery d;
	struct address_item *a;
	char *err = NULL;

	delivery_init(&d);
	d.verify = true;
	d.test_only = true;
	d.expand_children = false;
	d.sender = sender;
	*log_out = *user_out = NULL;
	a = addr_new(TERN_ADDR_MAIL, address, qualify_domain(), &err);
	if (a == NULL) {
		*log_out = *user_out = err; /* the address's syntax */
		return TERN_FAIL;
	}
	route_add_top(&d, a, -1);
	route_all(&d);
	switch (a->rc) {
	case ADDR_ROUTED:
	case ADDR_EXPANDED:
	case TERN_OK:
		return TERN_OK;
	default:
		*log_out = (char *)a->pub.message;
		if (a->pub.flags & TERN_AF_USER_MESSAGE)
			*user_out = *log_out;
		return a->rc == TERN_FAIL ? TERN_FAIL : TERN_DEFER;
	}
}

static void
print_routed(const struct address_item *a)
{
	printf("%s\n", a->pub.address);
	for (const struct address_item *p = a->parent_item; p != NULL;
	    p = p->parent_item)
		printf("  <-- %s\n", p->pub.address);
	printf("  router = %s, transport = %s\n",
		a->handled_by != NULL ? a->handled_by->pub.name : "-",
		a->transport->pub.name);
}

/* Print one item's result for -bt; returns 0, 1 (defer) or 2 (fail). */
static int
print_item(const struct address_item *a, bool verify)
{
	const char *why = a->pub.message != NULL ? a->pub.message : "";

	if (a->dup_of != NULL)
		return 0;
	switch (a->rc) {
	case ADDR_ROUTED:
		if (!verify)
			print_routed(a);
		return 0;
	case TERN_OK:
		if (!verify && (a->pub.flags & TERN_AF_DISCARD))
			printf("%s is discarded\n", a->pub.address);
		return 0;
	case TERN_FAIL:
		printf("%s %s: %s\n", a->pub.address, verify ?
			"failed to verify" : "is undeliverable", why);
		return 2;
	case ADDR_EXPANDED:
		return 0;
	default:
		printf("%s cannot be resolved at this time: %s\n",
			a->pub.address, why);
		return 1;
	}
}

int
deliver_test_address(const char *address, bool verify)
{
	struct delivery d;
	struct address_item *a;
	char *err = NULL;
	int worst = 0;

	delivery_init(&d);
	d.verify = verify;
	d.test_only = true;
	if (rt.caller_login != NULL)
		d.sender = arena_printf(arena_msg, "%s@%s", rt.caller_login,
			conf.qualify_domain != NULL ? conf.qualify_domain :
			conf.primary_hostname);
	a = addr_new(TERN_ADDR_MAIL, address, qualify_domain(), &err);
	if (a == NULL) {
		printf("%s is undeliverable: %s\n", address, err);
		return 2;
	}
	route_add_top(&d, a, -1);
	route_all(&d);
	for (const struct address_item *i = d.all; i != NULL; i = i->all_next) {
		int rc = print_item(i, verify);

		if (rc == 2 || (rc == 1 && worst == 0))
			worst = rc;
	}
	if (verify && worst == 0)
		printf("%s verified\n", a->pub.address);
	fflush(stdout);
	return worst;
}
