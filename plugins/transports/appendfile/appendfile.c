/*
 * The appendfile transport: options, and the choice between an mbox
 * file (mbox.c) and a Maildir (maildir.c).
 *
 * Where the message goes: `directory` with maildir_format, else `file`;
 * with neither set, the address itself when it is a /path from an alias
 * or forward file ($address_file), a trailing '/' meaning a Maildir.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/module.h>

#include "appendfile.h"

struct appendfile_opts {
	const char *file;          /* expandable */
	const char *directory;     /* expandable */
	const char *create_file;   /* anywhere | belowhome | inhome */
	const char *check_string;
	const char *escape_string;
	const char *prefix;        /* expandable; unset: the mbox From line */
	const char *suffix;        /* expandable; unset: mbox blank line */
	int         mode;
	int         directory_mode;
	int         lockfile_mode;
	int         lock_interval;
	int         lock_retries;
	int         lockfile_timeout;
	const char *quota;         /* expandable size; "" or 0: none */
	const char *quota_filecount; /* expandable number; 0: none */
	bool        quota_is_inclusive;
	const char *maildir_tag;   /* expandable: added to the name in new/ */
	bool        maildir_format;
	int         maildir_commit_wait; /* ms; 0: never wait */
	bool        create_directory;
	bool        mode_fail_narrower;
	bool        use_fcntl_lock;
	bool        use_lockfile;
	bool        require_lockfile;
	bool        allow_symlink;
	bool        file_must_exist;
	bool        check_owner;
	bool        use_crlf;
	/* accepted, not implemented yet */
	bool        allow_fifo;
	bool        check_group;
	bool        mbx_format;
	bool        notify_comsat;
	int         lock_fcntl_timeout;
	const char *quota_warn_threshold;
	const char *quota_warn_message;
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct appendfile_opts, field, dflt)
#define F(name, type, field, dflt) \
	TERN_OPT_F(name, type, struct appendfile_opts, field, dflt, \
		TERN_OPTF_FUTURE)

static const struct tern_option appendfile_options[] = {
	F("allow_fifo",           BOOL,   allow_fifo,           "false"),
	O("allow_symlink",        BOOL,   allow_symlink,        "false"),
	F("check_group",          BOOL,   check_group,          "false"),
	O("check_owner",          BOOL,   check_owner,          "true"),
	O("check_string",         STRING, check_string,         NULL),
	O("create_directory",     BOOL,   create_directory,     "true"),
	O("create_file",          STRING, create_file,          "anywhere"),
	O("directory",            EXPSTR, directory,            NULL),
	O("directory_mode",       OCTAL,  directory_mode,       "0700"),
	O("escape_string",        STRING, escape_string,        NULL),
	O("file",                 EXPSTR, file,                 NULL),
	O("file_must_exist",      BOOL,   file_must_exist,      "false"),
	F("lock_fcntl_timeout",   TIME,   lock_fcntl_timeout,   "0s"),
	O("lock_interval",        TIME,   lock_interval,        "3s"),
	O("lock_retries",         INT,    lock_retries,         "10"),
	O("lockfile_mode",        OCTAL,  lockfile_mode,        "0600"),
	O("lockfile_timeout",     TIME,   lockfile_timeout,     "30m"),
	O("maildir_commit_wait",  INT,    maildir_commit_wait,  "3"),
	O("maildir_format",       BOOL,   maildir_format,       "false"),
	O("maildir_tag",          EXPSTR, maildir_tag,          NULL),
	F("mbx_format",           BOOL,   mbx_format,           "false"),
	O("mode",                 OCTAL,  mode,                 "0600"),
	O("mode_fail_narrower",   BOOL,   mode_fail_narrower,   "true"),
	F("notify_comsat",        BOOL,   notify_comsat,        "false"),
	O("prefix",               EXPSTR, prefix,               NULL),
	O("quota",                EXPSTR, quota,                "0"),
	O("quota_filecount",      EXPSTR, quota_filecount,      "0"),
	O("quota_is_inclusive",   BOOL,   quota_is_inclusive,   "true"),
	F("quota_warn_message",   EXPSTR, quota_warn_message,   NULL),
	F("quota_warn_threshold", STRING, quota_warn_threshold, NULL),
	O("require_lockfile",     BOOL,   require_lockfile,     "true"),
	O("suffix",               EXPSTR, suffix,               NULL),
	O("use_crlf",             BOOL,   use_crlf,             "false"),
	O("use_fcntl_lock",       BOOL,   use_fcntl_lock,       "true"),
	O("use_lockfile",         BOOL,   use_lockfile,         "true"),
	TERN_OPT_END
};

static const struct tern_core *core;

/* Per instance, worked out by init. */
struct appendfile_data {
	enum af_create create_file;
	bool           escape_from; /* check_string "From " in mboxes */
};

/* What the writer callback needs. */
struct write_arg {
	struct tern_ctx           *ctx;
	const struct tern_address *batch;
	unsigned                   flags;
	const char                *prefix, *suffix; /* NULL: none */
	int                        share_ms; /* maildir_commit_wait */
};

static int
write_text(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len > 0) {
		n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		s += n;
		len -= (size_t)n;
	}
	return 0;
}

static int
af_write(void *arg, int fd, char *err, size_t errlen)
{
	struct write_arg *wa = arg;
	char *why = NULL;
	int e;

	if (wa->prefix != NULL && write_text(fd, wa->prefix) < 0)
		return -1;
	if (core->write_message(wa->ctx, fd, wa->flags, wa->batch, &why) !=
	    TERN_OK) {
		e = errno;
		snprintf(err, errlen, "%s", why ? why : "");
		errno = e;
		return -1;
	}
	if (wa->suffix != NULL && write_text(fd, wa->suffix) < 0)
		return -1;
	return 0;
}

/* One journal commit for this delivery and another (core sync_share). */
static int
af_share(void *arg)
{
	struct write_arg *wa = arg;

	if (wa->share_ms <= 0 || core->size < offsetof(struct tern_core,
	    sync_share) + sizeof(core->sync_share) || core->sync_share == NULL)
		return 0;
	return core->sync_share(wa->ctx, wa->share_ms);
}

static int TERN_PRINTF(2, 3)
init_fail(char **err_out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(err_out, fmt, ap) < 0)
		*err_out = NULL;
	va_end(ap);
	return TERN_ERROR;
}

/* Set message (and errno) on every address of the batch; return rc. */
static int
batch_result(struct tern_ctx *ctx, struct tern_address *batch, int rc,
	const char *msg, int e)
{
	char *m = core->strdup(ctx, msg);

	for (struct tern_address *a = batch; a != NULL; a = a->next) {
		a->message = m;
		a->basic_errno = e;
	}
	return rc;
}

/*
 * Expand option `name`: TERN_OK, or the batch's result with a message.
 * file and directory are paths: a result tainted by unchecked data from
 * outside is refused (expand_path defers it and tells the paniclog).
 */
static int
expand_opt(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, const char *name, const char *tmpl,
	char **out)
{
	bool is_path = strcmp(name, "file") == 0 ||
		strcmp(name, "directory") == 0;
	char *err = NULL, *msg;
	int rc = is_path ? core->expand_path(ctx, tmpl, out, &err) :
		core->expand(ctx, tmpl, out, &err);

	if (rc == TERN_OK)
		return TERN_OK;
	msg = core->printf(ctx, "%s transport: failed to expand %s \"%s\": %s",
		inst->name, name, tmpl, rc == TERN_FAIL ? "forced failure" :
		err ? err : "lookup deferred");
	return batch_result(ctx, batch, rc == TERN_DEFER ? TERN_DEFER :
		TERN_ERROR, msg, 0);
}

/* Where to deliver: *path_out, and whether it is a Maildir. */
static int
find_target(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, char **path_out, bool *maildir_out)
{
	const struct appendfile_opts *o = inst->opts;
	int rc;

	if (o->directory != NULL) {
		*maildir_out = true;
		rc = expand_opt(inst, ctx, batch, "directory", o->directory,
			path_out);
	} else if (o->file != NULL) {
		*maildir_out = false;
		rc = expand_opt(inst, ctx, batch, "file", o->file, path_out);
	} else if (batch->kind == TERN_ADDR_FILE) {
		*path_out = core->strdup(ctx, batch->address);
		*maildir_out = (*path_out)[strlen(*path_out) - 1] == '/';
		rc = TERN_OK;
	} else {
		return batch_result(ctx, batch, TERN_ERROR, core->printf(ctx,
			"%s transport: neither file nor directory is set",
			inst->name), 0);
	}
	if (rc != TERN_OK)
		return rc;
	if ((*path_out)[0] != '/')
		return batch_result(ctx, batch, TERN_ERROR, core->printf(ctx,
			"%s transport: \"%s\" is not an absolute path",
			inst->name, *path_out), 0);
	return TERN_OK;
}

/* prefix and suffix: unset means the mbox defaults (or none). */
static int
set_affixes(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, bool maildir, struct write_arg *wa)
{
	const struct appendfile_opts *o = inst->opts;
	const struct appendfile_data *d = inst->data;
	char *s;
	int rc;

	if (o->prefix == NULL && !maildir)
		wa->flags |= TERN_WR_MBOX_FROM;
	if (o->suffix == NULL && !maildir)
		wa->flags |= TERN_WR_BLANK_END;
	if (d->escape_from && !maildir)
		wa->flags |= TERN_WR_ESCAPE_FROM;
	if (o->prefix != NULL && o->prefix[0] != '\0') {
		rc = expand_opt(inst, ctx, batch, "prefix", o->prefix, &s);
		if (rc != TERN_OK)
			return rc;
		wa->prefix = s;
	}
	if (o->suffix != NULL && o->suffix[0] != '\0') {
		rc = expand_opt(inst, ctx, batch, "suffix", o->suffix, &s);
		if (rc != TERN_OK)
			return rc;
		wa->suffix = s;
	}
	return TERN_OK;
}

static unsigned
base_flags(const struct appendfile_opts *o)
{
	return (o->use_crlf ? TERN_WR_CRLF : 0);
}

/* "10M", "512K", "2G", "1000" or "" (none): 0, or -1 when bad. */
static int
parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	while (*p == ' ')
		p++;
	if (*p == '\0') {
		*out = 0;
		return 0;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > UINT64_MAX / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	switch (*p) {
	case 'K': case 'k': mult = 1024; p++; break;
	case 'M': case 'm': mult = 1024 * 1024; p++; break;
	case 'G': case 'g': mult = 1024 * 1024 * 1024; p++; break;
	default: break;
	}
	while (*p == ' ')
		p++;
	if (*p != '\0' || (v != 0 && mult > UINT64_MAX / v))
		return -1;
	*out = v * mult;
	return 0;
}

static uint64_t
message_size(struct tern_ctx *ctx)
{
	const struct tern_msginfo *mi = core->message(ctx);

	return mi != NULL ? mi->size : 0;
}

/*
 * A size or count option, expanded (it may come from a lookup, per user);
 * what names the kind of value in the error.
 */
static int
get_size(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, const char *name, const char *what,
	const char *tmpl, uint64_t *out)
{
	char *text;
	int rc;

	*out = 0;
	if (tmpl == NULL)
		return TERN_OK;
	rc = expand_opt(inst, ctx, batch, name, tmpl, &text);
	if (rc != TERN_OK)
		return rc;
	if (parse_size(text, out) < 0)
		return batch_result(ctx, batch, TERN_ERROR, core->printf(ctx,
			"%s transport: %s \"%s\" (from \"%s\") is not a %s",
			inst->name, name, text, tmpl, what), 0);
	return TERN_OK;
}

/* quota and quota_filecount. */
static int
get_quota(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, struct af_quota *q)
{
	const struct appendfile_opts *o = inst->opts;
	int rc = get_size(inst, ctx, batch, "quota", "size", o->quota,
		&q->bytes);

	if (rc == TERN_OK)
		rc = get_size(inst, ctx, batch, "quota_filecount", "number",
			o->quota_filecount, &q->files);
	q->inclusive = o->quota_is_inclusive;
	q->msg_size = message_size(ctx);
	return rc;
}

/*
 * maildir_tag, expanded, as Exim makes it: non-printing characters
 * dropped, a leading colon added before a letter or digit; "" for none.
 * A "/" would take the name out of new/: refused (the delivery defers).
 */
static int
get_tag(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, const char **tag_out)
{
	const struct appendfile_opts *o = inst->opts;
	char *text, *tag, *t;
	int rc;

	*tag_out = "";
	if (o->maildir_tag == NULL)
		return TERN_OK;
	rc = expand_opt(inst, ctx, batch, "maildir_tag", o->maildir_tag, &text);
	if (rc != TERN_OK)
		return rc;
	if (strchr(text, '/') != NULL)
		return batch_result(ctx, batch, TERN_ERROR, core->printf(ctx,
			"%s transport: maildir_tag \"%s\" (from \"%s\") "
			"contains \"/\"", inst->name, text, o->maildir_tag), 0);
	tag = t = core->alloc(ctx, strlen(text) + 2);
	if (isalnum((unsigned char)*text))
		*t++ = ':';
	for (const char *p = text; *p != '\0'; p++)
		if (isprint((unsigned char)*p))
			*t++ = *p;
	*t = '\0';
	*tag_out = tag;
	return TERN_OK;
}

static int
deliver_mbox(struct tern_instance *inst, struct tern_address *batch,
	const char *path, const struct af_quota *quota, struct write_arg *wa,
	char *err,
	size_t errlen, int *errno_out)
{
	const struct appendfile_opts *o = inst->opts;
	const struct appendfile_data *d = inst->data;
	struct mbox_params p = {
		.path = path, .mode = o->mode,
		.mode_fail_narrower = o->mode_fail_narrower,
		.create_directory = o->create_directory,
		.directory_mode = o->directory_mode,
		.allow_symlink = o->allow_symlink,
		.file_must_exist = o->file_must_exist,
		.check_owner = o->check_owner,
		.create_file = d->create_file, .home = batch->home,
		.lock = { o->use_lockfile, o->use_fcntl_lock, o->lock_interval,
			o->lock_retries, o->lockfile_timeout, o->lockfile_mode },
		.quota = *quota,
		.write = af_write, .arg = wa,
	};
	int rc = mbox_deliver(&p, err, errlen, errno_out);

	/* A directory we may not write to cannot hold path.lock. */
	if (rc == TERN_DEFER && o->use_lockfile && !o->require_lockfile &&
	    (*errno_out == EACCES || *errno_out == EROFS)) {
		p.lock.use_lockfile = false;
		rc = mbox_deliver(&p, err, errlen, errno_out);
	}
	return rc;
}

static int
appendfile_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	const struct appendfile_opts *o = inst->opts;
	struct write_arg wa = { ctx, batch, base_flags(o), NULL, NULL,
		o->maildir_commit_wait };
	char *path, err[8192];
	const char *tag = "";
	bool maildir = false;
	struct af_quota quota = { 0 };
	int rc, e = 0;

	rc = find_target(inst, ctx, batch, &path, &maildir);
	if (rc == TERN_OK)
		rc = get_quota(inst, ctx, batch, &quota);
	if (rc == TERN_OK && maildir)
		rc = get_tag(inst, ctx, batch, &tag);
	if (rc == TERN_OK)
		rc = set_affixes(inst, ctx, batch, maildir, &wa);
	if (rc != TERN_OK)
		return rc;
	if (maildir) {
		struct maildir_params p = {
			.dir = path, .create_directory = o->create_directory,
			.directory_mode = o->directory_mode, .mode = o->mode,
			.quota = quota, .tag = tag,
			.write = af_write, .arg = &wa, .share = af_share,
			.spool_dir = core->main_option("spool_directory"),
		};

		rc = maildir_deliver(&p, err, sizeof err, &e);
	} else {
		rc = deliver_mbox(inst, batch, path, &quota, &wa, err,
			sizeof err, &e);
	}
	if (rc == TERN_OK)
		return TERN_OK;
	return batch_result(ctx, batch, rc, err, e);
}

static int
check_escaping(const struct tern_instance *inst, struct appendfile_data *d,
	char **err_out)
{
	const struct appendfile_opts *o = inst->opts;

	d->escape_from = o->check_string == NULL ||
		strcmp(o->check_string, "From ") == 0;
	if (o->check_string != NULL && o->check_string[0] != '\0' &&
	    !d->escape_from)
		return init_fail(err_out, "%s transport: check_string \"%s\": "
			"only \"From \" or \"\" are supported", inst->name,
			o->check_string);
	if (o->escape_string != NULL && strcmp(o->escape_string, ">From ") != 0)
		return init_fail(err_out, "%s transport: escape_string \"%s\": "
			"only \">From \" is supported", inst->name,
			o->escape_string);
	return TERN_OK;
}

static int
appendfile_init(struct tern_instance *inst, char **err_out)
{
	const struct appendfile_opts *o = inst->opts;
	struct appendfile_data *d = calloc(1, sizeof *d);

	if (d == NULL)
		return init_fail(err_out, "%s transport: out of memory",
			inst->name);
	inst->data = d;
	if (o->file != NULL && o->directory != NULL)
		return init_fail(err_out, "%s transport: only one of file and "
			"directory may be set", inst->name);
	if (o->directory != NULL && !o->maildir_format)
		return init_fail(err_out, "%s transport: directory is set "
			"without maildir_format (only Maildir is supported for "
			"directory deliveries)", inst->name);
	if (strcmp(o->create_file, "anywhere") == 0)
		d->create_file = AF_CREATE_ANYWHERE;
	else if (strcmp(o->create_file, "belowhome") == 0)
		d->create_file = AF_CREATE_BELOWHOME;
	else if (strcmp(o->create_file, "inhome") == 0)
		d->create_file = AF_CREATE_INHOME;
	else
		return init_fail(err_out, "%s transport: create_file \"%s\": "
			"want anywhere, belowhome or inhome", inst->name,
			o->create_file);
	if (o->maildir_commit_wait < 0 || o->maildir_commit_wait > 1000)
		return init_fail(err_out, "%s transport: maildir_commit_wait "
			"%d: want 0 to 1000 (milliseconds)", inst->name,
			o->maildir_commit_wait);
	if (o->maildir_format)
		maildir_prepare(core->main_option("spool_directory"));
	return check_escaping(inst, d, err_out);
}

static int
appendfile_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(appendfile) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = "appendfile",
	.version = "1.0",
	.options = appendfile_options,
	.opts_size = sizeof(struct appendfile_opts),
	.load = appendfile_load,
	.init = appendfile_init,
	.transport = { .deliver = appendfile_deliver,
		.is_local = TERN_TRANSPORT_LOCAL_HERE },
};
