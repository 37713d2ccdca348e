/*
 * Tern SDK: the module descriptor.
 *
 * A module exports exactly one symbol, made by TERN_MODULE(name).  The
 * core checks magic and ABI version before it touches anything else, and
 * refuses a module whose major differs or whose minor is newer than its own.
 */
#ifndef TERN_MODULE_H
#define TERN_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include <tern/core.h>
#include <tern/options.h>
#include <tern/rc.h>

#define TERN_MODULE_MAGIC 0x5445524eu /* "TERN" */
#define TERN_ABI_MAJOR    1
#define TERN_ABI_MINOR    1

enum tern_kind {
	TERN_KIND_DIRECTOR = 1,
	TERN_KIND_ROUTER,
	TERN_KIND_TRANSPORT,
	TERN_KIND_LOOKUP,
	TERN_KIND_AUTH,
};

/* One configured instance of a driver ("local_delivery:" in the config). */
struct tern_instance {
	const char *name;      /* instance name */
	const char *driver;    /* driver = ... */
	const char *file;      /* where it was defined */
	int         line;
	void       *opts;      /* private options block, opts_size bytes */
	void       *data;      /* the module's own state, set by init */
	const char *transport; /* generic "transport" option, or NULL */
};

struct tern_director_ops {
	/*
	 * Handle a local address.  OK: either addr->transport is set, or
	 * children were added with core->add_child, or TERN_AF_DISCARD is
	 * set.  DECLINE: next director.  DEFER/FAIL/ERROR: addr->message.
	 */
	int (*direct)(struct tern_instance *inst, struct tern_ctx *ctx,
		struct tern_address *addr);
};

struct tern_router_ops {
	int (*route)(struct tern_instance *inst, struct tern_ctx *ctx,
		struct tern_address *addr);
};

struct tern_transport_ops {
	/*
	 * Deliver the message to a batch of addresses (linked by ->next).
	 * The return value applies to the whole batch; set ->message on
	 * DEFER or FAIL.  Local transports run in a child process already
	 * switched to the recipient's uid/gid.
	 */
	int (*deliver)(struct tern_instance *inst, struct tern_ctx *ctx,
		struct tern_address *batch);
	int is_local; /* 1: run in a child as the user; 0: remote */
};

struct tern_lookup_ops {
	const char *const *types; /* lookup types served, NULL-terminated */
	int is_query;             /* 1: "type{query}", 0: "type{file}" */
	/* Open file (or NULL for query types).  OK/DEFER/ERROR. */
	int (*open)(struct tern_ctx *ctx, const char *type, const char *file,
		void **handle_out, char **err_out);
	/* OK found, FAIL not found, DEFER cannot tell now, ERROR. */
	int (*find)(struct tern_ctx *ctx, void *handle, const char *type,
		const char *key, char **value_out, char **err_out);
	void (*close)(void *handle);
	/* ${quote_<type>:s}; NULL when the type has no quoting. */
	char *(*quote)(struct tern_ctx *ctx, const char *s);
};

struct tern_auth_ops {
	const char *(*public_name)(struct tern_instance *inst);
	int (*server)(struct tern_instance *inst, struct tern_ctx *ctx,
		const char *initial, char **id_out, char **err_out);
	int (*client)(struct tern_instance *inst, struct tern_ctx *ctx,
		char **err_out);
};

struct tern_module {
	uint32_t    magic;      /* TERN_MODULE_MAGIC */
	uint16_t    abi_major;  /* TERN_ABI_MAJOR when built */
	uint16_t    abi_minor;
	size_t      size;       /* sizeof(struct tern_module) when built */
	enum tern_kind kind;
	const char *name;
	const char *version;
	const struct tern_option *options; /* private options, may be NULL */
	size_t      opts_size;  /* size of the private options block */

	/* Once per process, when loaded.  Keep core; OK or ERROR. */
	int (*load)(const struct tern_core *core, char **err_out);
	/* Once per instance, after its options are read.  OK or ERROR. */
	int (*init)(struct tern_instance *inst, char **err_out);

	union {
		struct tern_director_ops  director;
		struct tern_router_ops    router;
		struct tern_transport_ops transport;
		struct tern_lookup_ops    lookup;
		struct tern_auth_ops      auth;
	};
};

#define TERN_MODULE_SYMBOL "tern_module"
#define TERN_MODULE(x) \
	__attribute__((visibility("default"))) \
	const struct tern_module x##_LTX_tern_module

#endif
