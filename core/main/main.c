/*
 * tern: the command line.  One binary, several personalities: "tern",
 * "sendmail", "mailq", "newaliases".  Options follow Exim and sendmail;
 * everything else is dispatched to the part of the core that does it.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pwd.h>
#include <grp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aliases/newaliases.h"
#include "config/config.h"
#include "daemon/daemon.h"
#include "deliver/deliver.h"
#include "expand/expand.h"
#include "lib/arena.h"
#include "lib/buf.h"
#include "lib/proctitle.h"
#include "lib/runtime.h"
#include "log/log.h"
#include "log/selector.h"
#include "modules/modules.h"
#include "queue/queue.h"
#include "receive/local.h"
#include "receive/maildrop.h"
#include "receive/receive.h"
#include "rewrite/rewrite.h"
#include "smtp_in/smtp_in.h"
#include "spool/spool.h"

/* sysexits.h values, spelled out so the meaning is visible here. */
#define EX_OK_        0
#define EX_USAGE_     64
#define EX_DATAERR_   65
#define EX_NOUSER_    67
#define EX_SOFTWARE_  70
#define EX_TEMPFAIL_  75
#define EX_NOPERM_    77
#define EX_CONFIG_    78

enum action {
	ACT_SENDMAIL = 0, /* -bm: read a message from stdin */
	ACT_DAEMON,       /* -bd, -bdf */
	ACT_QUEUE_RUN,    /* -q */
	ACT_LIST,         /* -bp */
	ACT_COUNT,        /* -bpc */
	ACT_PRINT_CONFIG, /* -bP */
	ACT_VERSION,      /* -bV */
	ACT_TEST_ADDR,    /* -bt */
	ACT_VERIFY,       /* -bv */
	ACT_SMTP_STDIN,   /* -bs */
	ACT_EXPAND,       /* -be */
	ACT_REWRITE_TEST, /* -brw */
	ACT_DELIVER,      /* -M */
	ACT_REMOVE,       /* -Mrm */
	ACT_VIEW_HEADER,  /* -Mvh */
	ACT_VIEW_BODY,    /* -Mvb */
	ACT_VIEW_LOG,     /* -Mvl */
	ACT_FREEZE,       /* -Mf */
	ACT_THAW,         /* -Mt */
	ACT_NEWALIASES,   /* -bi */
};

struct cmdline {
	enum action  action;
	bool         foreground;     /* -bdf */
	bool         extract;        /* -t */
	bool         dot_ends;       /* no -i / -oi */
	const char  *sender;         /* -f / -r */
	const char  *full_name;      /* -F */
	const char  *ports;          /* -oX */
	int          queue_interval; /* -q30m */
	unsigned     queue_flags;    /* DELIVER_FORCE, DELIVER_FROZEN */
	char         delivery_mode;  /* -odi/-odb/-odq */
	char       **args;           /* the rest */
	int          nargs;
};

static _Noreturn void usage(const char *fmt, ...) TERN_PRINTF(1, 2);

static _Noreturn void
usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", rt.progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s [-C file] [-D NAME=value] [-bd|-bdf] "
		"[-q[f[f]][time]] [-bp|-bpc|-bP|-bV|-bt|-bv|-bs|-be] "
		"[-M|-Mrm|-Mvh|-Mvb|-Mvl id...] [-t] [-i] [-f sender] "
		"[-od{i|b|q}] [-oX ports] [recipient...]\n", rt.progname);
	exit(EX_USAGE_);
}

/* "30m" -> seconds; -1 on a bad time. */
static int
parse_interval(const char *s)
{
	int secs = 0;

	if (option_parse_value(TERN_OPT_TIME, s, &secs, &(char *){ NULL }) != 0)
		return -1;
	return secs;
}

/* -R, -Rf, -Rff: the flags after R; the string follows. */
static void
parse_R(struct cmdline *cl, const char *p, int argc, char **argv, int *i)
{
	for (; *p == 'f'; p++)
		cl->queue_flags |= (cl->queue_flags & DELIVER_FORCE) ?
			DELIVER_FROZEN : DELIVER_FORCE;
	if (*p != '\0')
		usage("bad option %s", argv[*i]);
	if (*i + 1 >= argc)
		usage("option %s needs a string", argv[*i]);
	queue_run_select = argv[++*i];
	cl->action = ACT_QUEUE_RUN;
}

/* -q, -qf, -qff, -qq, -q30m, -qf30m, -qR string, -qfR string */
static void
parse_q(struct cmdline *cl, const char *opt, int argc, char **argv, int *i)
{
	const char *p = opt + 2;

	/* "-bd -q30m" and "-bdf -q30m": the daemon's queue runner. */
	if (cl->action != ACT_DAEMON)
		cl->action = ACT_QUEUE_RUN;
	if (*p == 'q') {
		cl->queue_flags |= DELIVER_TWO_PASS;
		p++;
	}
	if (*p == 'f') {
		cl->queue_flags |= DELIVER_FORCE;
		p++;
		if (*p == 'f') {
			cl->queue_flags |= DELIVER_FROZEN;
			p++;
		}
	}
	if (*p == 'R') {
		parse_R(cl, p + 1, argc, argv, i);
		return;
	}
	if (*p != '\0') {
		cl->queue_interval = parse_interval(p);
		if (cl->queue_interval <= 0)
			usage("bad queue run interval in \"%s\"", opt);
	}
}

/* Options that take the next argument, or an attached value. */
static const char *
opt_value(int argc, char **argv, int *i, size_t skip)
{
	if (argv[*i][skip] != '\0')
		return argv[*i] + skip;
	if (*i + 1 >= argc)
		usage("option %s needs a value", argv[*i]);
	return argv[++*i];
}

static bool
parse_b(struct cmdline *cl, const char *a)
{
	static const struct { const char *opt; enum action act; } tab[] = {
		{ "-bd", ACT_DAEMON }, { "-bdf", ACT_DAEMON },
		{ "-bp", ACT_LIST }, { "-bpa", ACT_LIST }, { "-bpc", ACT_COUNT },
		{ "-bP", ACT_PRINT_CONFIG }, { "-bV", ACT_VERSION },
		{ "-bt", ACT_TEST_ADDR }, { "-bv", ACT_VERIFY },
		{ "-bs", ACT_SMTP_STDIN }, { "-be", ACT_EXPAND },
		{ "-brw", ACT_REWRITE_TEST },
		{ "-bm", ACT_SENDMAIL }, { "-bi", ACT_NEWALIASES },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(a, tab[i].opt) == 0) {
			cl->action = tab[i].act;
			cl->foreground = strcmp(a, "-bdf") == 0;
			return true;
		}
	}
	return false;
}

static bool
parse_M(struct cmdline *cl, const char *a)
{
	static const struct { const char *opt; enum action act; } tab[] = {
		{ "-M", ACT_DELIVER }, { "-Mc", ACT_DELIVER },
		{ "-Mrm", ACT_REMOVE }, { "-Mvh", ACT_VIEW_HEADER },
		{ "-Mvb", ACT_VIEW_BODY }, { "-Mvl", ACT_VIEW_LOG },
		{ "-Mf", ACT_FREEZE }, { "-Mt", ACT_THAW },
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (strcmp(a, tab[i].opt) == 0) {
			cl->action = tab[i].act;
			if (tab[i].act == ACT_DELIVER)
				cl->queue_flags = DELIVER_FORCE | DELIVER_FROZEN;
			return true;
		}
	}
	return false;
}

/* Sendmail options that Tern accepts and ignores, as Exim does. */
static bool
ignored_option(const char *a)
{
	static const char *const ign[] = {
		"-oem", "-oee", "-oep", "-oeq", "-oew", "-om", "-oo", "-v",
		"-U", "-Am", "-Ac", "-odf",
	};

	for (size_t i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
		if (strcmp(a, ign[i]) == 0)
			return true;
	return strncmp(a, "-oee", 4) == 0 || strncmp(a, "-B", 2) == 0 ||
	    strncmp(a, "-O", 2) == 0 || strncmp(a, "-N", 2) == 0;
}

/*
 * One option at argv[*i]; the argument index may advance past a value.
 * Long but flat: one case per option letter.
 */
static void
parse_option(struct cmdline *cl, int argc, char **argv, int *i,
	const char ***defs, size_t *ndefs)
{
	const char *a = argv[*i];

	if (strncmp(a, "-C", 2) == 0) {
		rt.config_file = opt_value(argc, argv, i, 2);
	} else if (strncmp(a, "-D", 2) == 0) {
		*defs = realloc(*defs, (*ndefs + 2) * sizeof(**defs));
		if (*defs == NULL)
			tern_panic("out of memory");
		(*defs)[(*ndefs)++] = opt_value(argc, argv, i, 2);
		(*defs)[*ndefs] = NULL;
	} else if (strcmp(a, "-d") == 0 || strncmp(a, "-d+", 3) == 0 ||
	    strncmp(a, "-d-", 3) == 0) {
		rt.debug = true;
	} else if (strncmp(a, "-b", 2) == 0) {
		if (!parse_b(cl, a))
			usage("unknown option %s", a);
	} else if (strncmp(a, "-M", 2) == 0) {
		if (!parse_M(cl, a))
			usage("unknown option %s", a);
	} else if (strncmp(a, "-q", 2) == 0) {
		parse_q(cl, a, argc, argv, i);
	} else if (strncmp(a, "-R", 2) == 0) {
		parse_R(cl, a + 2, argc, argv, i);
	} else if (strcmp(a, "-t") == 0) {
		cl->extract = true;
	} else if (strcmp(a, "-i") == 0 || strcmp(a, "-oi") == 0) {
		cl->dot_ends = false;
	} else if (strncmp(a, "-f", 2) == 0 || strncmp(a, "-r", 2) == 0) {
		cl->sender = opt_value(argc, argv, i, 2);
	} else if (strncmp(a, "-F", 2) == 0) {
		cl->full_name = opt_value(argc, argv, i, 2);
	} else if (strcmp(a, "-odi") == 0 || strcmp(a, "-odb") == 0 ||
	    strcmp(a, "-odq") == 0) {
		cl->delivery_mode = a[3];
	} else if (strncmp(a, "-oX", 3) == 0) {
		cl->ports = opt_value(argc, argv, i, 3);
	} else if (ignored_option(a)) {
		/* accepted for compatibility */
	} else {
		usage("unknown option %s", a);
	}
}

static void
parse_cmdline(struct cmdline *cl, int argc, char **argv)
{
	const char **defs = NULL;
	size_t ndefs = 0;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			break;
		parse_option(cl, argc, argv, &i, &defs, &ndefs);
	}
	cl->args = argv + i;
	cl->nargs = argc - i;
	rt.defines = defs;
	for (size_t d = 0; d < ndefs; d++)
		config_define_macro(defs[d]);
}

static void
init_runtime(int argc, char **argv)
{
	const char *slash = strrchr(argv[0], '/');
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	struct passwd *pw;

	(void)argc;
	rt.progname = slash ? slash + 1 : argv[0];
	rt.argv = argv;
	if (n > 0) {
		path[n] = '\0';
		rt.self_exe = arena_strdup(arena_perm, path);
	} else {
		rt.self_exe = argv[0];
	}
	rt.real_uid = getuid();
	rt.real_gid = getgid();
	rt.started_as_root = geteuid() == 0;
	pw = getpwuid(rt.real_uid);
	rt.caller_login = pw ? arena_strdup(arena_perm, pw->pw_name)
	    : arena_printf(arena_perm, "uid%ld", (long)rt.real_uid);
	rt.config_file = TERN_SYSCONFDIR "/tern/tern.conf";
}

/* uid (and its primary gid) of a user name or number; false if unknown. */
static bool
resolve_user(const char *name, uid_t *uid_out, gid_t *gid_out)
{
	struct passwd *pw = getpwnam(name);
	char *end;
	long v;

	if (pw != NULL) {
		*uid_out = pw->pw_uid;
		*gid_out = pw->pw_gid;
		return true;
	}
	v = strtol(name, &end, 10);
	if (*name == '\0' || *end != '\0' || v < 0)
		return false;
	pw = getpwuid((uid_t)v);
	*uid_out = (uid_t)v;
	*gid_out = pw ? pw->pw_gid : (gid_t)v;
	return true;
}

/*
 * Who tern runs as.  Started as root: tern_user (and tern_group).  Started
 * by anyone else: that user, whatever the configuration says, so that a
 * rootless instance runs entirely as its owner.  Whether the caller is
 * trusted: its real and supplementary groups count (trusted_groups).
 */
static void
resolve_identity(void)
{
	gid_t *groups = NULL;
	int n = 0;

	rt.tern_uid = geteuid();
	rt.tern_gid = getegid();
	if (rt.started_as_root && conf.tern_user != NULL &&
	    *conf.tern_user != '\0') {
		if (!resolve_user(conf.tern_user, &rt.tern_uid, &rt.tern_gid))
			tern_die("tern_user \"%s\": no such user",
				conf.tern_user);
	}
	if (rt.started_as_root && conf.tern_group != NULL &&
	    *conf.tern_group != '\0') {
		struct group *gr = getgrnam(conf.tern_group);

		if (gr == NULL)
			tern_die("tern_group \"%s\": no such group",
				conf.tern_group);
		rt.tern_gid = gr->gr_gid;
	}
	/* The groups only matter for trusted_groups: no system call for
	 * them otherwise, in every process. */
	if (conf.trusted_groups != NULL) {
		int max = getgroups(0, NULL);

		max = max > 0 ? max : 0;
		groups = arena_alloc(arena_perm, ((size_t)max + 1) *
			sizeof(*groups));
		n = getgroups(max, groups);
		if (n < 0)
			n = 0;
		groups[n++] = getgid();
	}
	rt.caller_trusted = local_trusted(rt.real_uid, rt.caller_login, groups,
		n);
}

static void
open_spool(void)
{
	char *err = NULL;

	if (spool_init(&err) != 0) {
		fprintf(stderr, "%s: %s\n", rt.progname, err);
		exit(EX_TEMPFAIL_);
	}
}

/* Add each address in arg (which may be a comma list) to m. */
static int
add_arg_recipients(struct message *m, const char *arg, size_t *cap)
{
	char *err = NULL;

	if (local_add_recipients(m, arg, cap, &err) != 0) {
		fprintf(stderr, "%s: bad recipient \"%s\": %s\n", rt.progname,
			arg, err);
		return -1;
	}
	return 0;
}

/* sendmail's exit code for what became of its message, told on stderr. */
static int
submission_exit(enum rcv_result r, const char *err)
{
	switch (r) {
	case RCV_OK:
		return EX_OK_;
	case RCV_NO_RECIPIENTS:
		fprintf(stderr, "%s: no recipients found in the message\n",
			rt.progname);
		return EX_USAGE_;
	case RCV_TOO_BIG:
		fprintf(stderr, "%s: message too big (limit %llu bytes)\n",
			rt.progname,
			(unsigned long long)conf.message_size_limit);
		return EX_DATAERR_;
	default:
		fprintf(stderr, "%s: message not accepted: %s\n", rt.progname,
			err != NULL ? err : "error");
		return r == RCV_BAD ? EX_DATAERR_ : EX_TEMPFAIL_;
	}
}

/*
 * sendmail by a user who cannot write the spool: the message goes to
 * maildrop/, for the daemon to take in (receive/maildrop.h).
 */
static int
do_maildrop(const struct cmdline *cl)
{
	struct maildrop_args a = {
		.sender = cl->sender, .full_name = cl->full_name,
		.extract = cl->extract,
		.dot_ends = cl->dot_ends, .queue = cl->delivery_mode == 'q',
		.rcpts = cl->args, .nrcpts = cl->nargs,
	};
	char *err = NULL;

	return submission_exit(maildrop_submit(&a, 0, &err), err);
}

/* sendmail [-t] [-i] [-f sender] recipients < message */
static int
do_sendmail(const struct cmdline *cl)
{
	struct message m;
	struct rcv_source src;
	char *err = NULL;
	size_t cap = 0;
	enum rcv_result r;

	memset(&m, 0, sizeof(m));
	m.data_fd = -1;
	m.sender = local_sender(rt.caller_login, rt.caller_trusted,
	    cl->sender);
	m.local = true;
	m.uid = rt.real_uid;
	m.gid = rt.real_gid;
	m.ident = rt.caller_login;
	m.full_name = cl->full_name != NULL ? cl->full_name :
	    local_gecos_name(getpwuid(rt.real_uid));
	m.received_protocol = "local";
	for (int i = 0; i < cl->nargs; i++)
		if (add_arg_recipients(&m, cl->args[i], &cap) != 0)
			return EX_DATAERR_;
	if (m.nrcpts == 0 && !cl->extract) {
		fprintf(stderr, "%s: no recipients given\n", rt.progname);
		return EX_USAGE_;
	}
	if (maildrop_wanted())
		return do_maildrop(cl);
	open_spool();
	rcv_source_init(&src, 0, 0);
	r = receive_message(&m, &src, cl->dot_ends ? RCV_LOCAL
	    : RCV_LOCAL_DOT_I, cl->extract, &err);
	if (r == RCV_OK)
		receive_start_delivery(m.id);
	return submission_exit(r, err);
}

static int
do_version(void)
{
	printf("Tern version %s\n", TERN_VERSION);
	printf("Driver ABI: %d.%d\n", TERN_ABI_MAJOR, TERN_ABI_MINOR);
	printf("Configuration file: %s\n", rt.config_file);
	printf("Module directory: %s\n", module_directory());
	printf("Modules found:\n");
	module_list_all();
	return 0;
}

static int
do_addresses(const struct cmdline *cl, bool verify)
{
	int worst = 0;

	if (cl->nargs == 0)
		usage("%s needs at least one address", verify ? "-bv" : "-bt");
	for (int i = 0; i < cl->nargs; i++) {
		int rc = deliver_test_address(cl->args[i], verify);

		if (rc > worst)
			worst = rc;
	}
	return worst;
}

static int
do_expand(const struct cmdline *cl)
{
	int worst = 0;

	for (int i = 0; i < cl->nargs; i++) {
		char *out = NULL, *err = NULL;
		int rc = expand_string(NULL, arena_msg, cl->args[i], &out, &err);

		if (rc == TERN_OK) {
			printf("%s\n", out);
		} else {
			printf("Failed: %s\n", rc == TERN_FAIL
			    ? "forced failure" : (err ? err : "error"));
			worst = 1;
		}
	}
	return worst;
}

/* -brw: each address through the rewrite rules, place by place. */
static int
do_rewrite_test(const struct cmdline *cl)
{
	int worst = 0;

	if (cl->nargs == 0)
		usage("-brw needs an address");
	for (int i = 0; i < cl->nargs; i++) {
		int rc = rewrite_test(cl->args[i]);

		if (rc > worst)
			worst = rc;
	}
	return worst;
}

/* -M, -Mrm, -Mvh, -Mvb, -Mvl on each id. */
static int
do_message_ids(const struct cmdline *cl)
{
	int worst = 0;

	if (cl->nargs == 0)
		usage("%s", "a message id is needed");
	for (int i = 0; i < cl->nargs; i++) {
		const char *id = cl->args[i];
		int rc;

		if (!spool_id_valid(id)) {
			fprintf(stderr, "%s: %s: not a message id\n",
				rt.progname, id);
			worst = 1;
			continue;
		}
		switch (cl->action) {
		case ACT_DELIVER:
			rc = deliver_message(id, cl->queue_flags);
			break;
		case ACT_REMOVE: rc = queue_remove(id); break;
		case ACT_VIEW_HEADER: rc = queue_view_header(id); break;
		case ACT_VIEW_BODY: rc = queue_view_body(id); break;
		case ACT_FREEZE: rc = queue_freeze(id, true); break;
		case ACT_THAW: rc = queue_freeze(id, false); break;
		default: rc = queue_view_log(id); break;
		}
		if (rc != 0)
			worst = 1;
	}
	return worst;
}

static int
do_smtp_stdin(void)
{
	struct smtp_conn_info ci;

	memset(&ci, 0, sizeof(ci));
	ci.is_local = true;
	if (maildrop_wanted()) {
		/* Its replies would promise what only the pickup can do. */
		fprintf(stderr, "%s: -bs: %s cannot write the spool; submit "
			"with sendmail (without -bs), which leaves the message "
			"in maildrop/\n", rt.progname, rt.caller_login);
		return EX_NOPERM_;
	}
	open_spool();
	return smtp_in_session(0, 1, &ci);
}

static void
set_personality(struct cmdline *cl)
{
	if (strcmp(rt.progname, "mailq") == 0)
		cl->action = ACT_LIST;
	else if (strcmp(rt.progname, "newaliases") == 0)
		cl->action = ACT_NEWALIASES;
}

static int
dispatch(struct cmdline *cl)
{
	switch (cl->action) {
	case ACT_VERSION: return do_version();
	case ACT_PRINT_CONFIG: return config_print(cl->nargs, cl->args);
	case ACT_DAEMON:
		open_spool();
		daemon_foreground = cl->foreground;
		daemon_queue_flags = cl->queue_flags;
		return daemon_run(cl->ports, cl->queue_interval, rt.argv);
	case ACT_QUEUE_RUN:
		open_spool();
		runtime_drop_privilege();
		if (cl->queue_interval > 0)
			usage("%s", "a periodic queue runner (-q<time>) "
			    "runs inside the daemon: use -bd -q<time>");
		return queue_run(cl->queue_flags) == 0 ? 0 : 1;
	case ACT_LIST: case ACT_COUNT:
		if (maildrop_wanted()) {
			/* Exim's queue_list_requires_admin, which Tern, not
			 * being setuid, cannot turn off. */
			fprintf(stderr, "%s: permission denied: only root and "
				"tern_user may list the queue\n", rt.progname);
			return EX_NOPERM_;
		}
		return queue_list(cl->action == ACT_COUNT);
	case ACT_TEST_ADDR: return do_addresses(cl, false);
	case ACT_VERIFY: return do_addresses(cl, true);
	case ACT_SMTP_STDIN: return do_smtp_stdin();
	case ACT_EXPAND: return do_expand(cl);
	case ACT_REWRITE_TEST: return do_rewrite_test(cl);
	case ACT_NEWALIASES: return newaliases_run();
	case ACT_DELIVER: case ACT_FREEZE: case ACT_THAW:
		open_spool();
		runtime_drop_privilege();
		return do_message_ids(cl);
	case ACT_REMOVE: case ACT_VIEW_HEADER: case ACT_VIEW_BODY:
	case ACT_VIEW_LOG:
		return do_message_ids(cl);
	case ACT_SENDMAIL:
		break;
	}
	return do_sendmail(cl);
}

/*
 * log_selector +arguments (Exim's): the directory and the arguments of
 * this invocation, to see how an MUA calls sendmail.  An empty argument,
 * or one with white space, is quoted; control characters are escaped.
 */
static void
log_arguments(void)
{
	char cwd[PATH_MAX];
	struct buf b;
	int n = 0;
	bool cut = false;

	buf_init(&b, arena_scratch, 6000); /* a log line is cut at 8 KiB */
	for (; rt.argv != NULL && rt.argv[n] != NULL; n++) {
		const char *a = rt.argv[n];
		const char *shown = str_printable(arena_scratch, a, strlen(a));
		bool quote = *a == '\0' || strpbrk(a, " \t") != NULL;

		if (!cut && !buf_printf(&b, quote ? " \"%s\"" : " %s",
		    shown)) {
			buf_clear(&b);
			cut = true;
		}
	}
	log_write(TERN_LOG_MAIN, NULL, "cwd=%s %d args:%s%s",
		getcwd(cwd, sizeof(cwd)) != NULL ? cwd : "(unknown)", n,
		b.p, cut ? " (too long to log)" : "");
}

int
main(int argc, char **argv)
{
	struct cmdline cl;

	memset(&cl, 0, sizeof(cl));
	cl.dot_ends = true;
	cl.delivery_mode = 'b';
	/*
	 * Our processes are short and small: a heap given back to the
	 * system at every large free (glibc trims above 128 KiB at first)
	 * is only asked for again, a brk and fresh page faults each time.
	 * Fixing the trim threshold also fixes glibc's mmap threshold at
	 * 128 KiB (it no longer rises after a free), which would map and
	 * unmap every larger block afresh: blocks up to 1 MiB come from the
	 * heap instead.
	 */
	(void)mallopt(M_TRIM_THRESHOLD, 4 << 20);
	(void)mallopt(M_MMAP_THRESHOLD, 1 << 20);
	arena_init_all();
	proctitle_init(argc, argv); /* before anything keeps argv[i] */
	init_runtime(argc, argv);
	set_personality(&cl);
	parse_cmdline(&cl, argc, argv);
	log_debug_enabled = rt.debug;
	signal(SIGPIPE, SIG_IGN);

	if (config_read(rt.config_file) != 0) {
		/* -bV shows the version whatever the file says, and, as
		 * Exim's, fails on an error in it (a syntax check). */
		if (cl.action == ACT_VERSION)
			(void)do_version();
		return EX_CONFIG_;
	}
	if (cl.action != ACT_VERSION && cl.action != ACT_PRINT_CONFIG)
		resolve_identity();
	log_init();
	if (LOG_SEL(arguments))
		log_arguments();
	if (cl.action == ACT_SENDMAIL || cl.action == ACT_SMTP_STDIN)
		runtime_drop_privilege();
	receive_delivery_mode = cl.delivery_mode;
	return dispatch(&cl);
}
