/*
 * Fuzz target: reading a configuration (core/config), from memory.
 * ".include" is skipped (it would read whatever file the input names),
 * and arena_perm is released after each input.
 */
#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "config/internal.h"
#include "lib/arena.h"
#include "log/log.h"
#include "modules/modules.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct arena_mark base;
	static bool is_ready;
	char *text;

	if (size > 8192)
		return 0;
	if (!is_ready) {
		arena_init_all();
		(void)module_directory(); /* its cache stays below the mark */
		base = arena_mark(arena_perm);
		is_ready = true;
	}
	text = fuzz_cstring(data, size);
	if (strstr(text, ".include") == NULL)
		(void)config_read_text("fuzz.conf", text);
	free(text);
	/* nothing may point into the memory released below */
	macros_reset_file();
	module_cache_reset();
	arena_reset(arena_scratch);
	arena_reset(arena_msg);
	arena_release(arena_perm, base);
	return 0;
}
