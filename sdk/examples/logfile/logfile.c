/*
 * logfile: an example out-of-tree transport for Tern.
 *
 * Appends one line per delivered address to a file:
 *
 *   2026-11-22 14:03:07 1xVGHz-00033W-0uj1alrX0 <alice@example.com> bob@example.org S=1234
 *
 *   begin transports
 *   delivery_log:
 *     driver = logfile
 *     file = /var/log/tern/deliveries.log     # expanded; must be absolute
 *     mode = 0640                              # when the file is created
 *
 * It is a local transport (is_local = 1): the core runs it in a child
 * process as the recipient's user (or the transport's "user"), so the file
 * must be writable by that user.  Each line goes out in a single write(2)
 * on an O_APPEND descriptor, so concurrent deliveries never interleave.
 *
 * Build against the installed SDK only (see ../README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tern/module.h>

struct logfile_opts {
	const char *file; /* expandable */
	int         mode; /* octal, for a new file */
};

static const struct tern_option logfile_options[] = {
	TERN_OPT("file", EXPSTR, struct logfile_opts, file, NULL),
	TERN_OPT("mode", OCTAL,  struct logfile_opts, mode, "0600"),
	TERN_OPT_END
};

static const struct tern_core *core;

static int
logfile_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

/* Checked once per configured instance, so errors name the config line. */
static int
logfile_init(struct tern_instance *inst, char **err_out)
{
	const struct logfile_opts *o = inst->opts;

	if (o->file == NULL || o->file[0] == '\0') {
		*err_out = core->printf(NULL, "the \"file\" option is required");
		return TERN_ERROR;
	}
	return TERN_OK;
}

/* Every address of the batch shares the result: set each one's message. */
static int
batch_result(struct tern_address *batch, int rc, const char *msg, int err)
{
	for (struct tern_address *a = batch; a != NULL; a = a->next) {
		a->message = msg;
		a->basic_errno = err;
	}
	return rc;
}

static int
logfile_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	const struct logfile_opts *o = inst->opts;
	const struct tern_msginfo *mi = core->message(ctx);
	char *path, *err = NULL, stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	int fd, rc;

	rc = core->expand(ctx, o->file, &path, &err);
	if (rc != TERN_OK)
		return batch_result(batch, rc == TERN_FAIL ? TERN_FAIL :
			TERN_DEFER, core->printf(ctx, "%s transport: "
			"expanding file: %s", inst->name,
			err != NULL ? err : "forced failure"), 0);
	if (path[0] != '/')
		return batch_result(batch, TERN_DEFER, core->printf(ctx,
			"%s transport: file \"%s\" is not absolute", inst->name,
			path), 0);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		(mode_t)o->mode);
	if (fd < 0)
		return batch_result(batch, TERN_DEFER, core->printf(ctx,
			"%s transport: open %s: %s", inst->name, path,
			strerror(errno)), errno);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S",
		localtime_r(&now, &tm));
	for (struct tern_address *a = batch; a != NULL; a = a->next) {
		char *line = core->printf(ctx, "%s %s <%s> %s S=%llu\n", stamp,
			mi->id, mi->sender, a->address,
			(unsigned long long)mi->size);
		size_t len = strlen(line);

		if (write(fd, line, len) != (ssize_t)len) {
			int e = errno;

			close(fd);
			return batch_result(batch, TERN_DEFER, core->printf(ctx,
				"%s transport: write %s: %s", inst->name, path,
				strerror(e)), e);
		}
	}
	if (fsync(fd) != 0 || close(fd) != 0)
		return batch_result(batch, TERN_DEFER, core->printf(ctx,
			"%s transport: closing %s: %s", inst->name, path,
			strerror(errno)), errno);
	core->log(ctx, TERN_LOG_DEBUG, "logfile: %s: logged %s", path,
		batch->address);
	return TERN_OK;
}

TERN_MODULE(logfile) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = "logfile",
	.version = "1.0",
	.options = logfile_options,
	.opts_size = sizeof(struct logfile_opts),
	.load = logfile_load,
	.init = logfile_init,
	.transport = { .deliver = logfile_deliver, .is_local = 1 },
};
