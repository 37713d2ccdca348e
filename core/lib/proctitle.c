/*
 * Process titles, Linux style: the kernel shows the bytes between the
 * start of argv[0] and the end of the argument area as /proc/PID/cmdline,
 * and, when the last byte of that area is no longer a NUL, reads on into
 * the environment area up to the next NUL.  So we copy the arguments and
 * the environment strings away, then write the title over the memory they
 * occupied.  prctl(PR_SET_MM_ARG_START) would be cleaner but needs
 * CAP_SYS_RESOURCE, which a rootless tern does not have.
 */
#include "lib/proctitle.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "lib/arena.h"

extern char **environ;

static char  *title_start; /* argv[0]'s original memory */
static size_t title_space; /* contiguous bytes we may overwrite */

/* Contiguous argument and environment strings, up to a TERN_* variable. */
static char *
proctitle_area_end(int argc, char **argv)
{
	char *end = argv[0] + strlen(argv[0]) + 1;

	for (int i = 1; i < argc; i++) {
		if (argv[i] != end)
			return end;
		end = argv[i] + strlen(argv[i]) + 1;
	}
	for (size_t i = 0; environ != NULL && environ[i] != NULL; i++) {
		if (environ[i] != end || strncmp(environ[i], "TERN_", 5) == 0)
			break;
		end = environ[i] + strlen(environ[i]) + 1;
	}
	return end;
}

void
proctitle_init(int argc, char **argv)
{
	char *start, *end;

	if (argc < 1 || argv == NULL || argv[0] == NULL)
		return;
	start = argv[0];
	end = proctitle_area_end(argc, argv);
	/* Copy everything that may be overwritten, then repoint. */
	for (int i = 0; i < argc; i++)
		argv[i] = arena_strdup(arena_perm, argv[i]);
	for (size_t i = 0; environ != NULL && environ[i] != NULL; i++)
		if (environ[i] >= start && environ[i] < end)
			environ[i] = arena_strdup(arena_perm, environ[i]);
	/* glibc's err(3) and the sanitizers name the program by these. */
	program_invocation_name = argv[0];
	program_invocation_short_name = strrchr(argv[0], '/') != NULL ?
		strrchr(argv[0], '/') + 1 : argv[0];
	title_start = start;
	title_space = (size_t)(end - start);
}

void
proctitle_set(const char *fmt, ...)
{
	char title[512];
	va_list ap;
	size_t n;

	if (title_start == NULL || title_space < 2)
		return;
	va_start(ap, fmt);
	vsnprintf(title, sizeof(title), fmt, ap);
	va_end(ap);
	n = strlen(title);
	if (n > title_space - 1)
		n = title_space - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)title[i];

		title_start[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	/* NULs after the title: ps and /proc/PID/cmdline end it there. */
	memset(title_start + n, '\0', title_space - n);
}
