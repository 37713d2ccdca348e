/*
 * libFuzzer targets (docs/security.md).  Each fuzz_<target>.c defines
 * LLVMFuzzerTestOneInput; replay.c drives the same function from files,
 * so that ctest replays the corpus and every past crash in the normal
 * (gcc) builds.
 */
#ifndef TERN_FUZZ_FUZZ_H
#define TERN_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (malloc'd; the caller frees it). */
char *fuzz_cstring(const uint8_t *data, size_t size);

#endif
