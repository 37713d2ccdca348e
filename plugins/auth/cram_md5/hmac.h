/* CRAM-MD5 arithmetic (RFC 2195), without the core. */
#ifndef TERN_PLUGINS_AUTH_CRAM_MD5_HMAC_H
#define TERN_PLUGINS_AUTH_CRAM_MD5_HMAC_H

#include <stdbool.h>
#include <stddef.h>

/* HMAC-MD5(secret, challenge) as 32 lower-case hex digits + NUL. */
bool cram_digest(const char *secret, const char *challenge,
	size_t challenge_len, char hex_out[33]);

/*
 * Compare a client's hex digest with ours in constant time (case
 * ignored).  False unless it has exactly 32 hex digits and matches.
 */
bool cram_digest_equal(const char *client, const char *ours);

#endif
