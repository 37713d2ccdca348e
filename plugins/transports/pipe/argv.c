#include "pipe.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

static char
escaped(const char **sp)
{
	char c = **sp;

	(*sp)++;
	switch (c) {
	case 'n': return '\n';
	case 't': return '\t';
	case 'r': return '\r';
	default:  return c;
	}
}

/* One argument from *sp into out (large enough); advances *sp. */
static int
one_arg(const char **sp, char *out, const char **err_out)
{
	const char *s = *sp;
	size_t n = 0;

	while (*s != '\0' && !isspace((unsigned char)*s)) {
		if (*s == '\'') {
			const char *end = strchr(s + 1, '\'');

			if (end == NULL)
				goto out_quote;
			memcpy(out + n, s + 1, (size_t)(end - s - 1));
			n += (size_t)(end - s - 1);
			s = end + 1;
		} else if (*s == '"') {
			for (s++; *s != '"'; ) {
				if (*s == '\0')
					goto out_quote;
				if (*s == '\\' && s[1] != '\0') {
					s++;
					out[n++] = escaped(&s);
				} else {
					out[n++] = *s++;
				}
			}
			s++;
		} else if (*s == '\\' && s[1] != '\0') {
			out[n++] = s[1];
			s += 2;
		} else {
			out[n++] = *s++;
		}
	}
	out[n] = '\0';
	*sp = s;
	return 0;

out_quote:
	*err_out = "missing closing quote";
	return -1;
}

char **
pipe_split_command(const char *cmd, int *argc_out, const char **err_out)
{
	size_t len = strlen(cmd), cap = 8;
	char **argv = calloc(cap, sizeof *argv), **nv;
	int argc = 0;

	*err_out = "out of memory";
	if (argv == NULL)
		return NULL;
	for (;;) {
		while (isspace((unsigned char)*cmd))
			cmd++;
		if (*cmd == '\0')
			break;
		if ((size_t)argc + 2 > cap) {
			cap *= 2;
			nv = realloc(argv, cap * sizeof *argv);
			if (nv == NULL)
				goto out_fail;
			argv = nv;
		}
		argv[argc] = malloc(len + 1);
		argv[argc + 1] = NULL;
		if (argv[argc] == NULL)
			goto out_fail;
		if (one_arg(&cmd, argv[argc++], err_out) < 0)
			goto out_fail;
	}
	if (argc == 0) {
		*err_out = "empty command";
		goto out_fail;
	}
	*argc_out = argc;
	return argv;

out_fail:
	pipe_argv_free(argv);
	return NULL;
}

void
pipe_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

static const struct {
	const char *name;
	int         code;
	const char *meaning;
} sysexits[] = {
	{ "EX_USAGE", EX_USAGE, "usage or argument error" },
	{ "EX_DATAERR", EX_DATAERR, "data format error" },
	{ "EX_NOINPUT", EX_NOINPUT, "cannot open input" },
	{ "EX_NOUSER", EX_NOUSER, "addressee unknown" },
	{ "EX_NOHOST", EX_NOHOST, "host name unknown" },
	{ "EX_UNAVAILABLE", EX_UNAVAILABLE, "service unavailable" },
	{ "EX_SOFTWARE", EX_SOFTWARE, "internal software error" },
	{ "EX_OSERR", EX_OSERR, "system error" },
	{ "EX_OSFILE", EX_OSFILE, "critical OS file missing" },
	{ "EX_CANTCREAT", EX_CANTCREAT, "cannot create (user) output file" },
	{ "EX_IOERR", EX_IOERR, "input/output error" },
	{ "EX_TEMPFAIL", EX_TEMPFAIL, "temporary failure" },
	{ "EX_PROTOCOL", EX_PROTOCOL, "remote error in protocol" },
	{ "EX_NOPERM", EX_NOPERM, "permission denied" },
	{ "EX_CONFIG", EX_CONFIG, "configuration error" },
};

const char *
pipe_status_meaning(int status)
{
	static char buf[80];

	for (size_t i = 0; i < sizeof sysexits / sizeof sysexits[0]; i++) {
		if (sysexits[i].code != status)
			continue;
		snprintf(buf, sizeof buf, " (could mean %s)",
			sysexits[i].meaning);
		return buf;
	}
	return "";
}

static int
item_code(const char *item)
{
	char *end;
	long v;

	for (size_t i = 0; i < sizeof sysexits / sizeof sysexits[0]; i++)
		if (strcmp(item, sysexits[i].name) == 0)
			return sysexits[i].code;
	v = strtol(item, &end, 10);
	if (*item == '\0' || *end != '\0' || v < 0 || v > 255)
		return -1;
	return (int)v;
}

int
pipe_status_in_list(const char *list, int status, char **bad_out)
{
	char **items = pipe_split_list(list);
	bool matched = false;
	int code;

	if (items == NULL)
		return -1;
	for (char **it = items; *it != NULL; it++) {
		const char *s = *it;

		while (isspace((unsigned char)*s))
			s++;
		code = strcmp(s, "*") == 0 ? status : item_code(s);
		if (code < 0) {
			*bad_out = strdup(s);
			pipe_argv_free(items);
			return -1;
		}
		matched = matched || code == status;
	}
	pipe_argv_free(items);
	return matched;
}

char **
pipe_split_list(const char *list)
{
	char sep = ':', **v, *item;
	size_t n = 0, cap = 4, len;

	if (list[0] == '<' && list[1] != '\0' && !isspace((unsigned char)list[1])) {
		sep = list[1];
		list += 2;
	}
	len = strlen(list);
	if ((v = calloc(cap, sizeof *v)) == NULL)
		return NULL;
	while (*list != '\0') {
		size_t k = 0;

		while (isspace((unsigned char)*list))
			list++; /* "A=1 : B=2": items are trimmed */
		if ((item = malloc(len + 1)) == NULL)
			goto out_fail;
		for (; *list != '\0'; list++) {
			if (*list == sep && list[1] == sep)
				list++;
			else if (*list == sep)
				break;
			item[k++] = *list;
		}
		if (*list == sep)
			list++;
		while (k > 0 && isspace((unsigned char)item[k - 1]))
			k--;
		item[k] = '\0';
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap *= 2) * sizeof *v);

			if (nv == NULL) {
				free(item);
				goto out_fail;
			}
			v = nv;
		}
		v[n++] = item;
		v[n] = NULL;
	}
	return v;

out_fail:
	pipe_argv_free(v);
	return NULL;
}

char *
pipe_find_in_path(const char *name, const char *path)
{
	char **dirs = pipe_split_list(path), *full = NULL;
	size_t nlen = strlen(name);

	if (dirs == NULL)
		return NULL;
	for (char **d = dirs; *d != NULL && full == NULL; d++) {
		size_t dlen = strlen(*d);
		char *try = malloc(dlen + nlen + 2);

		if (try == NULL)
			break;
		memcpy(try, *d, dlen);
		try[dlen] = '/';
		memcpy(try + dlen + 1, name, nlen + 1);
		if ((*d)[0] == '/' && access(try, X_OK) == 0)
			full = try;
		else
			free(try);
	}
	pipe_argv_free(dirs);
	return full;
}
