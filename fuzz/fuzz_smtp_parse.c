/* Fuzz target: SMTP command parsing (core/smtp_in/parse.c). */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "lib/arena.h"
#include "smtp_in/smtp_int.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smtp_mail_params mp;
	const char *err, *args, *p;
	size_t verb_len;
	char *line;

	if (size > 4096)
		return 0;
	arena_init_all();
	line = fuzz_cstring(data, size);
	args = smtp_split_verb(line, &verb_len);
	(void)smtp_helo_valid(args);
	p = smtp_after_keyword(args, "FROM:");
	if (p == NULL)
		p = smtp_after_keyword(args, "TO:");
	if (p != NULL)
		(void)smtp_parse_mail_params(p, &mp, &err);
	(void)smtp_parse_mail_params(args, &mp, &err);
	(void)smtp_unquote_local(arena_scratch, args);
	free(line);
	arena_reset(arena_scratch);
	return 0;
}
