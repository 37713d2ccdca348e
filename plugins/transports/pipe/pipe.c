/*
 * The pipe transport: run a command with the message on its standard
 * input.  The command is `command` (split into arguments, each expanded
 * on its own) or, for a |command from an alias or forward file, the
 * address itself (not expanded).  Its exit status decides: 0 is success,
 * one of temp_errors a deferral, anything else a failure.
 */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tern/module.h>

#include "pipe.h"

struct pipe_opts {
	const char *command;      /* expandable, argument by argument */
	const char *path;
	const char *environment;  /* expandable list of NAME=value */
	const char *temp_errors;
	const char *prefix;       /* expandable; unset: mbox From line */
	const char *suffix;       /* expandable; unset: blank line */
	const char *check_string;
	const char *escape_string;
	int         timeout;
	int         umask;
	bool        use_shell;
	bool        ignore_status;
	bool        freeze_exec_fail;
	bool        timeout_defer;
	bool        restrict_to_path;
	bool        use_crlf;
	bool        return_output;
	bool        return_fail_output;
	bool        log_output;
	bool        log_fail_output;
	bool        log_defer_output;
	uint64_t    max_output;
};

#define O(name, type, field, dflt) \
	TERN_OPT(name, type, struct pipe_opts, field, dflt)

static const struct tern_option pipe_options[] = {
	O("check_string",       STRING, check_string,       NULL),
	O("command",            EXPSTR, command,            NULL),
	O("environment",        EXPSTR, environment,        NULL),
	O("escape_string",      STRING, escape_string,      NULL),
	O("freeze_exec_fail",   BOOL,   freeze_exec_fail,   "false"),
	O("ignore_status",      BOOL,   ignore_status,      "false"),
	O("log_defer_output",   BOOL,   log_defer_output,   "false"),
	O("log_fail_output",    BOOL,   log_fail_output,    "false"),
	O("log_output",         BOOL,   log_output,         "false"),
	O("max_output",         SIZE,   max_output,         "20K"),
	O("path",               STRING, path,               "/bin:/usr/bin"),
	O("prefix",             EXPSTR, prefix,             NULL),
	O("restrict_to_path",   BOOL,   restrict_to_path,   "false"),
	O("return_fail_output", BOOL,   return_fail_output, "false"),
	O("return_output",      BOOL,   return_output,      "false"),
	O("suffix",             EXPSTR, suffix,             NULL),
	O("temp_errors",        STRING, temp_errors,        "75:73"),
	O("timeout",            TIME,   timeout,            "1h"),
	O("timeout_defer",      BOOL,   timeout_defer,      "false"),
	O("umask",              OCTAL,  umask,              "022"),
	O("use_crlf",           BOOL,   use_crlf,           "false"),
	O("use_shell",          BOOL,   use_shell,          "false"),
	TERN_OPT_END
};

static const struct tern_core *core;

struct write_arg {
	struct tern_ctx           *ctx;
	const struct tern_address *batch;
	unsigned                   flags;
	const char                *prefix, *suffix;
};

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

/* Every address of the batch gets msg; returns rc. */
static int TERN_PRINTF(4, 5)
batch_result(struct tern_ctx *ctx, struct tern_address *batch, int rc,
	const char *fmt, ...)
{
	char *m = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	for (struct tern_address *a = batch; a != NULL; a = a->next)
		a->message = core->strdup(ctx, m ? m : "out of memory");
	free(m);
	return rc;
}

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
pipe_write(void *arg, int fd, char *err, size_t errlen)
{
	struct write_arg *wa = arg;
	char *why = NULL;
	int e;

	if (wa->prefix != NULL && write_text(fd, wa->prefix) < 0)
		return -1;
	if (core->write_message(wa->ctx, fd, wa->flags, wa->batch, &why) !=
	    TERN_OK) {
		e = errno;
		snprintf(err, errlen, "%s", why ? why : strerror(e));
		errno = e;
		return -1;
	}
	if (wa->suffix != NULL && write_text(fd, wa->suffix) < 0)
		return -1;
	return 0;
}

/* A growing NULL-terminated vector of malloc'ed strings. */
struct strvec {
	char  **v;
	size_t  n, cap;
};

static int
vec_push(struct strvec *sv, char *s)
{
	char **nv;

	if (s == NULL)
		return -1;
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? sv->cap * 2 : 16;
		nv = realloc(sv->v, sv->cap * sizeof *nv);
		if (nv == NULL) {
			free(s);
			return -1;
		}
		sv->v = nv;
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
	return 0;
}

static int
env_add(struct strvec *env, const char *name, const char *value)
{
	char *s;

	if (value == NULL)
		return 0;
	if (asprintf(&s, "%s=%s", name, value) < 0)
		return -1;
	return vec_push(env, s);
}

static const struct tern_address *
mail_ancestor(const struct tern_address *a)
{
	while (a != NULL && a->kind != TERN_ADDR_MAIL)
		a = a->parent;
	return a;
}

/* The standard variables, as Exim sets them. */
static int
env_standard(struct tern_ctx *ctx, const struct pipe_opts *o,
	const struct tern_address *batch, struct strvec *env)
{
	const struct tern_address *m = mail_ancestor(batch);
	const struct tern_msginfo *mi = core->message(ctx);
	struct passwd *pw = getpwuid(geteuid());
	const char *home = batch->home ? batch->home : m ? m->home : NULL;
	int rc = 0;

	if (m != NULL) {
		rc |= env_add(env, "LOCAL_PART", m->local_part);
		rc |= env_add(env, "DOMAIN", m->domain);
		rc |= env_add(env, "RECIPIENT", m->address);
		rc |= env_add(env, "LOCAL_PART_PREFIX", m->local_part_prefix);
		rc |= env_add(env, "LOCAL_PART_SUFFIX", m->local_part_suffix);
	}
	rc |= env_add(env, "HOME", home);
	rc |= env_add(env, "MESSAGE_ID", mi ? mi->id : NULL);
	rc |= env_add(env, "SENDER", mi ? mi->sender : NULL);
	rc |= env_add(env, "QUALIFY_DOMAIN", core->main_option("qualify_domain"));
	rc |= env_add(env, "PATH", o->path);
	rc |= env_add(env, "SHELL", "/bin/sh");
	rc |= env_add(env, "USER", pw ? pw->pw_name : NULL);
	rc |= env_add(env, "LOGNAME", pw ? pw->pw_name : NULL);
	return rc;
}

/* The environment option: an expanded list of NAME=value. */
static int
env_option(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, struct strvec *env)
{
	const struct pipe_opts *o = inst->opts;
	char *text, *err = NULL, **items;
	int rc;

	if (o->environment == NULL)
		return TERN_OK;
	rc = core->expand(ctx, o->environment, &text, &err);
	if (rc != TERN_OK)
		return batch_result(ctx, batch, rc == TERN_DEFER ? TERN_DEFER :
			TERN_ERROR, "%s transport: failed to expand environment "
			"\"%s\": %s", inst->name, o->environment,
			err ? err : "forced failure");
	if ((items = pipe_split_list(text)) == NULL)
		return batch_result(ctx, batch, TERN_DEFER, "out of memory");
	rc = TERN_OK;
	for (char **it = items; *it != NULL && rc == TERN_OK; it++) {
		if (**it == '\0')
			continue;
		if (strchr(*it, '=') == NULL)
			rc = batch_result(ctx, batch, TERN_ERROR, "%s transport: "
				"environment item \"%s\" is not NAME=value",
				inst->name, *it);
		else if (vec_push(env, strdup(*it)) < 0)
			rc = batch_result(ctx, batch, TERN_DEFER, "out of memory");
	}
	pipe_argv_free(items);
	return rc;
}

/* Expand each argument of a configured command in place. */
static int
expand_args(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, char **argv)
{
	char *out, *err = NULL;
	int rc;

	for (char **a = argv; *a != NULL; a++) {
		/* taint: no argument may carry unchecked data from outside */
		rc = core->expand_path(ctx, *a, &out, &err);
		if (rc != TERN_OK)
			return batch_result(ctx, batch, rc == TERN_DEFER ?
				TERN_DEFER : TERN_ERROR, "%s transport: failed "
				"to expand argument \"%s\": %s", inst->name, *a,
				err ? err : "forced failure");
		free(*a);
		if ((*a = strdup(out)) == NULL)
			return batch_result(ctx, batch, TERN_DEFER,
				"out of memory");
	}
	return TERN_OK;
}

static char **
shell_argv(const char *cmd)
{
	char **argv = calloc(4, sizeof *argv);

	if (argv == NULL)
		return NULL;
	argv[0] = strdup("/bin/sh");
	argv[1] = strdup("-c");
	argv[2] = strdup(cmd);
	if (argv[0] && argv[1] && argv[2])
		return argv;
	pipe_argv_free(argv);
	return NULL;
}

/* The command text: `command`, or the |command address without '|'. */
static const char *
command_text(const struct pipe_opts *o, const struct tern_address *batch,
	bool *expand_out)
{
	const char *s;

	*expand_out = o->command != NULL;
	if (o->command != NULL)
		return o->command;
	if (batch->kind != TERN_ADDR_PIPE || batch->address[0] != '|')
		return NULL;
	for (s = batch->address + 1; *s == ' ' || *s == '\t'; s++)
		;
	return s;
}

/* argv for the command, argv[0] made absolute.  TERN_OK or a result. */
static int
build_argv(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, char ***argv_out)
{
	const struct pipe_opts *o = inst->opts;
	const char *text, *why;
	char **argv, *full;
	bool expand;
	int argc, rc;

	if ((text = command_text(o, batch, &expand)) == NULL)
		return batch_result(ctx, batch, TERN_ERROR, "%s transport: no "
			"command specified", inst->name);
	if (o->use_shell) {
		char *cmd = (char *)text, *err = NULL;

		if (expand && (rc = core->expand_path(ctx, text, &cmd, &err))
		    != TERN_OK)
			return batch_result(ctx, batch, rc == TERN_DEFER ?
				TERN_DEFER : TERN_ERROR, "%s transport: failed "
				"to expand command \"%s\": %s", inst->name, text,
				err ? err : "forced failure");
		if ((*argv_out = shell_argv(cmd)) == NULL)
			return batch_result(ctx, batch, TERN_DEFER,
				"out of memory");
		return TERN_OK;
	}
	if ((argv = pipe_split_command(text, &argc, &why)) == NULL)
		return batch_result(ctx, batch, TERN_ERROR, "%s transport: bad "
			"command \"%s\": %s", inst->name, text, why);
	if (expand && (rc = expand_args(inst, ctx, batch, argv)) != TERN_OK)
		goto out_free;
	if (argv[0][0] != '/') {
		if (strchr(argv[0], '/') != NULL || (full =
		    pipe_find_in_path(argv[0], o->path)) == NULL) {
			rc = batch_result(ctx, batch, o->freeze_exec_fail ?
				TERN_ERROR : TERN_FAIL, "%s transport: command "
				"\"%s\" not found in path %s", inst->name,
				argv[0], o->path);
			goto out_free;
		}
		free(argv[0]);
		argv[0] = full;
	} else if (o->restrict_to_path) {
		rc = batch_result(ctx, batch, TERN_FAIL, "%s transport: command "
			"\"%s\" has a path but restrict_to_path is set",
			inst->name, argv[0]);
		goto out_free;
	}
	*argv_out = argv;
	return TERN_OK;

out_free:
	pipe_argv_free(argv);
	return rc;
}

/* The command line for messages. */
static char *
joined(struct tern_ctx *ctx, char **argv)
{
	size_t len = 1;
	char *s, *p;

	for (char **a = argv; *a != NULL; a++)
		len += strlen(*a) + 1;
	p = s = core->alloc(ctx, len);
	for (char **a = argv; *a != NULL; a++) {
		size_t n = strlen(*a);

		memcpy(p, *a, n);
		p += n;
		*p++ = a[1] ? ' ' : '\0';
	}
	*p = '\0';
	return s;
}

/* What the command's end means for the batch. */
static int
judge(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, const struct pipe_result *res,
	const char *cmd)
{
	const struct pipe_opts *o = inst->opts;
	char *bad = NULL;
	int in;

	switch (res->how) {
	case PIPE_MSG_FAILED:
		batch->basic_errno = res->write_errno;
		return batch_result(ctx, batch, TERN_DEFER, "%s transport: "
			"error preparing the message for command %s: %s",
			inst->name, cmd, res->write_err);
	case PIPE_SPAWN_FAILED:
		return batch_result(ctx, batch, TERN_DEFER, "%s transport: "
			"failed to start command %s: %s", inst->name, cmd,
			strerror(res->err_errno));
	case PIPE_EXEC_FAILED:
		return batch_result(ctx, batch, o->freeze_exec_fail ?
			TERN_ERROR : TERN_FAIL, "Failed to execute command %s "
			"for %s transport: %s", cmd, inst->name,
			strerror(res->err_errno));
	case PIPE_TIMED_OUT:
		return batch_result(ctx, batch, o->timeout_defer ? TERN_DEFER :
			TERN_FAIL, "Child process of %s transport (running "
			"command \"%s\") timed out after %ds", inst->name, cmd,
			o->timeout);
	case PIPE_SIGNALED:
		if (res->output_exceeded)
			return batch_result(ctx, batch, TERN_FAIL, "Child "
				"process of %s transport (running command "
				"\"%s\") was killed: its output exceeded "
				"max_output (%zu bytes)", inst->name, cmd,
				res->output_len);
		return batch_result(ctx, batch, TERN_FAIL, "Child process of %s "
			"transport (running command \"%s\") was terminated by "
			"signal %d (%s)", inst->name, cmd, res->status,
			strsignal(res->status));
	case PIPE_EXITED:
		break;
	}
	if (res->status == 0 || o->ignore_status) {
		if (!res->write_failed)
			return TERN_OK;
		batch->basic_errno = res->write_errno;
		return batch_result(ctx, batch, TERN_DEFER, "%s transport: "
			"error writing the message to command %s: %s",
			inst->name, cmd, res->write_err[0] ? res->write_err :
			strerror(res->write_errno));
	}
	in = pipe_status_in_list(o->temp_errors, res->status, &bad);
	free(bad);
	return batch_result(ctx, batch, in == 1 ? TERN_DEFER : TERN_FAIL,
		"Child process of %s transport returned %d%s from command: %s",
		inst->name, res->status, pipe_status_meaning(res->status), cmd);
}

static unsigned
write_flags(const struct pipe_opts *o)
{
	bool escape = o->check_string != NULL && o->check_string[0] != '\0';

	return (o->use_crlf ? TERN_WR_CRLF : 0) |
		(escape ? TERN_WR_ESCAPE_FROM : 0) |
		(o->prefix == NULL ? TERN_WR_MBOX_FROM : 0) |
		(o->suffix == NULL ? TERN_WR_BLANK_END : 0);
}

/* prefix and suffix, expanded; "" means none. */
static int
set_affixes(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, struct write_arg *wa)
{
	const struct pipe_opts *o = inst->opts;
	const char *tmpl[2] = { o->prefix, o->suffix };
	const char **dst[2] = { &wa->prefix, &wa->suffix };
	char *out, *err = NULL;
	int rc;

	for (int i = 0; i < 2; i++) {
		if (tmpl[i] == NULL || tmpl[i][0] == '\0')
			continue;
		rc = core->expand(ctx, tmpl[i], &out, &err);
		if (rc != TERN_OK)
			return batch_result(ctx, batch, rc == TERN_DEFER ?
				TERN_DEFER : TERN_ERROR, "%s transport: failed "
				"to expand %s \"%s\": %s", inst->name,
				i ? "suffix" : "prefix", tmpl[i],
				err ? err : "forced failure");
		*dst[i] = out;
	}
	return TERN_OK;
}

/* The first line of the output, printable, for the log. */
static char *
first_line(struct tern_ctx *ctx, const char *out, size_t len)
{
	size_t n = strcspn(out, "\n");
	char *s, *p;

	if (n > 200)
		n = 200;
	p = s = core->alloc(ctx, n * 4 + 1);
	for (size_t i = 0; i < n && i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			*p++ = (char)c;
		else
			p += snprintf(p, 5, "\\x%02x", c);
	}
	*p = '\0';
	return s;
}

/*
 * What the command's output changes: return_output fails a delivery that
 * produced any; return_output (always) and return_fail_output (when the
 * delivery failed) send it back in the bounce; log_*_output log its
 * first line.  Returns the final result.
 */
static int
handle_output(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch, const struct pipe_result *res,
	const char *cmd, int rc)
{
	const struct pipe_opts *o = inst->opts;
	bool has = res->output != NULL && res->output_len > 0;

	if (!has)
		return rc;
	if (o->return_output && rc != TERN_FAIL && rc != TERN_ERROR)
		rc = batch_result(ctx, batch, TERN_FAIL, "Child process of %s "
			"transport (running command \"%s\") produced output "
			"(return_output)", inst->name, cmd);
	if (o->log_output || (rc == TERN_FAIL && o->log_fail_output) ||
	    (rc == TERN_DEFER && o->log_defer_output))
		core->log(ctx, TERN_LOG_MAIN, "%s transport: output of %s: %s",
			inst->name, cmd, first_line(ctx, res->output,
			res->output_len));
	if ((o->return_output || (o->return_fail_output &&
	    rc == TERN_FAIL)) && core->size >= offsetof(struct tern_core,
	    set_return_output) + sizeof core->set_return_output)
		core->set_return_output(ctx, batch, res->output,
			res->output_len);
	return rc;
}

static int
pipe_deliver(struct tern_instance *inst, struct tern_ctx *ctx,
	struct tern_address *batch)
{
	const struct pipe_opts *o = inst->opts;
	struct write_arg wa = { ctx, batch, write_flags(o), NULL, NULL };
	struct strvec env = { NULL, 0, 0 };
	struct pipe_result res;
	char **argv = NULL;
	const char *cmd;
	int rc;

	rc = set_affixes(inst, ctx, batch, &wa);
	if (rc == TERN_OK)
		rc = build_argv(inst, ctx, batch, &argv);
	if (rc != TERN_OK)
		return rc;
	if (env_standard(ctx, o, batch, &env) != 0) {
		rc = batch_result(ctx, batch, TERN_DEFER, "out of memory");
		goto out_free;
	}
	rc = env_option(inst, ctx, batch, &env);
	if (rc != TERN_OK)
		goto out_free;
	struct pipe_run run = {
		.argv = argv, .envp = env.v, .timeout = o->timeout,
		.umask = (mode_t)o->umask,
		.cwd = batch->home, .write = pipe_write, .arg = &wa,
		.max_output = o->max_output > SIZE_MAX - 1 ? SIZE_MAX - 1 :
			(size_t)o->max_output,
	};
	pipe_run(&run, &res);
	cmd = joined(ctx, argv);
	rc = judge(inst, ctx, batch, &res, cmd);
	rc = handle_output(inst, ctx, batch, &res, cmd, rc);
	free(res.output);
out_free:
	pipe_argv_free(env.v);
	pipe_argv_free(argv);
	return rc;
}

static int
pipe_init(struct tern_instance *inst, char **err_out)
{
	const struct pipe_opts *o = inst->opts;
	char *bad = NULL;

	if (pipe_status_in_list(o->temp_errors, 0, &bad) < 0) {
		init_fail(err_out, "%s transport: temp_errors: bad item \"%s\"",
			inst->name, bad ? bad : "");
		free(bad);
		return TERN_ERROR;
	}
	if (o->check_string != NULL && o->check_string[0] != '\0' &&
	    strcmp(o->check_string, "From ") != 0)
		return init_fail(err_out, "%s transport: check_string \"%s\": "
			"only \"From \" or \"\" are supported", inst->name,
			o->check_string);
	if (o->escape_string != NULL && strcmp(o->escape_string, ">From ") != 0)
		return init_fail(err_out, "%s transport: escape_string \"%s\": "
			"only \">From \" is supported", inst->name,
			o->escape_string);
	if (o->timeout < 0)
		return init_fail(err_out, "%s transport: timeout is negative",
			inst->name);
	return TERN_OK;
}

static int
pipe_load(const struct tern_core *c, char **err_out)
{
	(void)err_out;
	core = c;
	return TERN_OK;
}

TERN_MODULE(pipe) = {
	.magic = TERN_MODULE_MAGIC,
	.abi_major = TERN_ABI_MAJOR,
	.abi_minor = TERN_ABI_MINOR,
	.size = sizeof(struct tern_module),
	.kind = TERN_KIND_TRANSPORT,
	.name = "pipe",
	.version = "1.0",
	.options = pipe_options,
	.opts_size = sizeof(struct pipe_opts),
	.load = pipe_load,
	.init = pipe_init,
	.transport = { .deliver = pipe_deliver, .is_local = 1 },
};
