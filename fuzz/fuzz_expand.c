/*
 * Fuzz target: string expansion (core/expand) with no context.  The
 * module directory does not exist, so lookups fail instead of reading
 * files the input names.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "expand/expand.h"
#include "lib/arena.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tmpl, *out = NULL, *err = NULL;

	if (size > 4096)
		return 0;
	arena_init_all();
	conf.module_directory = "/nonexistent/tern-fuzz";
	conf.primary_hostname = "fuzz.example";
	conf.qualify_domain = "fuzz.example";
	tmpl = fuzz_cstring(data, size);
	(void)expand_string(NULL, arena_msg, tmpl, &out, &err);
	free(tmpl);
	arena_reset(arena_msg);
	arena_reset(arena_scratch);
	return 0;
}
