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

/*
 * The ABI a module is built for.  MAJOR changes on any incompatible change
 * (a member moved, removed or changed type, a changed meaning); MINOR on
 * additions at the end of struct tern_module or struct tern_core.  The
 * core loads a module only if its major equals the core's and its minor is
 * not newer (docs/sdk.md, "ABI policy").
 */
#define TERN_MODULE_MAGIC 0x5445524eu /* "TERN" */
#define TERN_ABI_MAJOR    1
#define TERN_ABI_MINOR    5

/*
 * What a module is.  The core looks for it in the matching subdirectory of
 * module_directory: directors/, routers/, transports/, lookups/, auth/.
 */
enum tern_kind {
	TERN_KIND_DIRECTOR = 1, /* local addresses (local_domains) */
	TERN_KIND_ROUTER,       /* remote addresses */
	TERN_KIND_TRANSPORT,    /* moves the message: mailbox, pipe, SMTP */
	TERN_KIND_LOOKUP,       /* ${lookup}, search_type, list items */
	TERN_KIND_AUTH,         /* SMTP AUTH mechanisms */
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

/*
 * Per-kind entry points.  Each is called with the instance (its options
 * already parsed into inst->opts) and a ctx whose memory (core->alloc)
 * lives until the message is done.  Return values are enum tern_rc.
 */
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
	/*
	 * Route a remote address: the same results as direct().  OK with
	 * addr->transport set, DECLINE for the next router, DEFER (e.g. DNS
	 * cannot answer now), FAIL (unroutable).
	 */
	int (*route)(struct tern_instance *inst, struct tern_ctx *ctx,
		struct tern_address *addr);
};

struct tern_transport_ops {
	/*
	 * Deliver the message to a batch of addresses (linked by ->next).
	 * The return value applies to the whole batch; set ->message on
	 * DEFER or FAIL.  Local transports run as the recipient's uid/gid,
	 * in a child process (TERN_TRANSPORT_LOCAL) or, for a transport that
	 * says it may (TERN_TRANSPORT_LOCAL_HERE), in the delivery process
	 * itself when that is already the recipient and has nothing left to
	 * do as root (docs/sdk.md, "Transports").  OK means stored for good:
	 * a transport that stores the message on this machine returns it
	 * only once the message and any name it gave it are on disk, because
	 * the core may empty the spool file for the next message at once.
	 */
	int (*deliver)(struct tern_instance *inst, struct tern_ctx *ctx,
		struct tern_address *batch);
	int is_local; /* TERN_TRANSPORT_REMOTE, _LOCAL or _LOCAL_HERE */
};

/* tern_transport_ops.is_local */
#define TERN_TRANSPORT_REMOTE     0 /* runs in the delivery process, as tern_user */
#define TERN_TRANSPORT_LOCAL      1 /* runs in a child switched to the user */
/*
 * Local, and deliver() leaves the process as it found it: every
 * descriptor and lock it takes is released before it returns, and it
 * changes no signal disposition, umask, working directory or
 * environment, and never exits.  The core may then save a fork by
 * calling it in the delivery process (ABI 1.1).
 */
#define TERN_TRANSPORT_LOCAL_HERE 2

/*
 * A lookup module serves one or more lookup types.  The core opens a
 * handle on first use in a process and keeps it for later finds, so find
 * must not assume a fresh handle (rewind, or query again).
 */
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

/*
 * An SMTP authenticator (plugins/auth/).  The core owns the generic
 * options (public_name, server_condition, server_set_id,
 * server_advertise_condition, client_condition) and the AUTH command;
 * the module implements one mechanism family.  docs/sdk.md.
 */
struct tern_auth_ops {
	/*
	 * Is a server (client) side configured for this instance?  Only
	 * such instances are advertised (used by the smtp transport).
	 * NULL: never.
	 */
	bool (*is_server)(struct tern_instance *inst);
	bool (*is_client)(struct tern_instance *inst);
	/*
	 * Server side of one "AUTH <mechanism> [initial]" exchange.
	 * `initial` is the initial response as sent (base64, "=" for an
	 * empty one) or NULL.  Talk to the client with core->auth_challenge
	 * and set $auth1..$auth3 with core->auth_set_var; the core then
	 * checks server_condition (if set) and expands server_set_id.
	 * OK: the mechanism succeeded.  FAIL: wrong credentials (535).
	 * DECLINE: cancelled by the client or bad base64 (501, *err_out).
	 * DEFER: cannot tell now (454, *err_out), ERROR: configuration
	 * problem (454; *err_out goes to the paniclog).
	 */
	int (*server)(struct tern_instance *inst, struct tern_ctx *ctx,
		const char *mechanism, const char *initial, char **err_out);
	/*
	 * Client side: authenticate as `mechanism` (the instance's
	 * public_name) through io, for the smtp transport (which calls
	 * core->auth_client, not this).  OK: 235.  FAIL: refused (5xx).
	 * DEFER: 4xx or I/O error.  DECLINE: nothing to send (forced
	 * expansion failure: try the next authenticator).  ERROR:
	 * expansion or configuration error.  *err_out for all but OK.
	 */
	int (*client)(struct tern_instance *inst, struct tern_ctx *ctx,
		const struct tern_auth_client_io *io, const char *mechanism,
		char **err_out);
};

/*
 * The descriptor: the one symbol a module exports (see TERN_MODULE).  The
 * core reads magic, abi_major and abi_minor first and refuses the module
 * if they do not fit; only then does it read anything else.  New members
 * are only ever added at the end (an ABI minor bump); `size` says how much
 * of the structure the module was built with.
 */
struct tern_module {
	uint32_t    magic;      /* TERN_MODULE_MAGIC */
	uint16_t    abi_major;  /* TERN_ABI_MAJOR when built */
	uint16_t    abi_minor;
	size_t      size;       /* sizeof(struct tern_module) when built */
	enum tern_kind kind;
	const char *name;       /* the driver = / lookup type; the file name */
	const char *version;    /* the module's own version, shown by -bV */
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

	/* ABI 1.1 (the core reads it only when size covers it): */
	unsigned    flags;      /* TERN_MODF_* */
};

/*
 * tern_module.flags: the module never uses root, so that it routes (a
 * director or router) or delivers (a remote transport) the same in a
 * process that has none.  Started as root, a reception process delivers
 * its own message only when every director and router configured, and
 * every remote transport the message is routed to, says so
 * (docs/process.md).  A module that switches uid itself must not.
 */
#define TERN_MODF_NO_ROOT 0x1u

/*
 * TERN_MODULE(name) = { ... }; defines the descriptor as
 * name_LTX_tern_module, with default visibility (build the rest of the
 * module with -fvisibility=hidden).  libltdl finds it as "tern_module",
 * and the same object can be linked statically (a fuzzer) without clashes.
 */
#define TERN_MODULE_SYMBOL "tern_module"
#define TERN_MODULE(x) \
	__attribute__((visibility("default"))) \
	const struct tern_module x##_LTX_tern_module

#endif
