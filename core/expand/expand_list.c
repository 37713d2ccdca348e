/*
 * The query of a query-style lookup item in a list ("mysql;select ...
 * '${quote_mysql:$domain}'"), expanded with the item being matched as
 * $domain, $local_part or $sender_host_address — Exim expands lists before
 * matching them; Tern expands just these queries, so that regular
 * expression items ("^a.*$") keep their dollars.
 */
#include "expand/expand.h"

#include <string.h>

#include <tern/core.h>

#include "deliver/ctx.h"
#include "lib/arena.h"

int
expand_list_query(struct tern_ctx *ctx, enum tern_list_kind kind,
	const char *item, const char *query, char **out, char **err_out)
{
	struct address_item fake;
	struct tern_ctx c;
	const char *at;

	if (strchr(query, '$') == NULL && strchr(query, '\\') == NULL) {
		*out = (char *)query;
		return TERN_OK;
	}
	memset(&c, 0, sizeof(c));
	memset(&fake, 0, sizeof(fake));
	if (ctx != NULL)
		c = *ctx;
	c.arena = arena_msg;
	fake.pub.kind = TERN_ADDR_MAIL;
	fake.rcpt_index = -1;
	switch (kind) {
	case TERN_LIST_DOMAIN:
		if (c.addr != NULL)
			fake = *c.addr;
		fake.pub.domain = item;
		c.addr = &fake;
		break;
	case TERN_LIST_LOCALPART:
		if (c.addr != NULL)
			fake = *c.addr;
		fake.pub.local_part = item;
		c.addr = &fake;
		break;
	case TERN_LIST_ADDRESS:
		at = strrchr(item, '@');
		fake.pub.address = item;
		fake.pub.local_part = at != NULL ? arena_strndup(arena_msg, item,
			(size_t)(at - item)) : item;
		fake.pub.domain = at != NULL ? at + 1 : "";
		if (c.addr == NULL)
			c.addr = &fake;
		break;
	case TERN_LIST_HOST:
		if (c.msg == NULL)
			c.host_address = item;
		break;
	default:
		break;
	}
	return expand_string(&c, arena_msg, query, out, err_out);
}
