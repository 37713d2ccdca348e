/* The core's side of struct tern_ctx and of addresses being routed. */
#ifndef TERN_CORE_DELIVER_CTX_H
#define TERN_CORE_DELIVER_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <tern/core.h>

struct message;
struct driver_inst;
struct arena;
struct hdr_changes;

struct address_item {
	struct tern_address  pub;          /* what drivers see */
	struct address_item *parent_item;
	long                 rcpt_index;   /* top level: index in rcpts, else -1 */
	struct driver_inst  *handled_by;   /* director or router */
	struct driver_inst  *transport;
	int                  rc;           /* TERN_* result */
	int                  depth;        /* alias nesting, for loop checks */
	struct address_item *next;         /* in whatever list it is on */
	/* Bookkeeping of core/deliver (routing and the final outcome). */
	const char          *key;          /* for duplicates, lower case */
	struct address_item *dup_of;       /* same address as an earlier one */
	struct address_item *all_next;     /* every item of one delivery */
	struct driver_inst  *start_after;  /* `unseen` copy: next driver */
	bool                 retry_skipped; /* not tried: retry time not reached */
	bool                 retry_absent;  /* no retry record when routed */
	const char          *return_output; /* for the bounce (return_output.c) */
};

struct tern_ctx {
	struct message      *msg;      /* may be NULL (-be, -bt without msg) */
	struct address_item *addr;     /* current address, may be NULL */
	struct driver_inst  *inst;     /* current driver instance */
	bool                 verify;
	struct arena        *arena;
	const char          *lookup_value;   /* $value */
	struct address_item *children;       /* made by add_child */
	const char          *host_address;   /* $sender_host_address (RCPT) */
	const char          *sender;         /* $sender_address without msg */
	const char          *received_for;   /* $received_for (Received:) */
	bool                 force;          /* -qf, -M: ignore retry times */
	/* The transport's headers_add/headers_remove, once expanded (write.c) */
	const struct hdr_changes *hdr_changes;
	/* The transport's return_path, expanded: the sender it uses */
	const char          *return_path;
	/* Bytes of the message a transport last wrote (S= on "=>" lines) */
	uint64_t             written;
};

#define ADDR_ITEM(p) ((struct address_item *)(void *)(p))

#endif
