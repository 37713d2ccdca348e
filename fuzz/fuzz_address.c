/* Fuzz target: RFC 5321 paths and RFC 5322 address lists (core/address). */
#include "fuzz.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "address/address.h"
#include "lib/arena.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *addr, *local, *domain, *err, **list;
	const char *rest;
	bool allow_empty, allow_unqualified;

	if (size < 1 || size > 4096)
		return 0;
	arena_init_all();
	allow_empty = data[0] & 1;
	allow_unqualified = data[0] & 2;
	s = fuzz_cstring(data + 1, size - 1);
	if (address_parse_path2(arena_scratch, s, allow_empty,
	    allow_unqualified, &addr, &rest, &err) == 0) {
		(void)address_check(addr, allow_unqualified);
		if (address_split(arena_scratch, addr, &local, &domain,
		    &err) == 0) {
			(void)address_local_part_valid(local);
			if (domain != NULL)
				(void)address_domain_valid(domain);
			(void)address_qualify(arena_scratch, addr, "q.example");
		}
	}
	(void)address_list_extract(arena_scratch, s, &list, &err);
	(void)address_split(arena_scratch, s, &local, &domain, &err);
	free(s);
	arena_reset(arena_scratch);
	return 0;
}
