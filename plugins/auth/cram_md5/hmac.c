/* CRAM-MD5 arithmetic with OpenSSL's HMAC (see hmac.h). */
#include "hmac.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

bool
cram_digest(const char *secret, const char *challenge, size_t challenge_len,
	char hex_out[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (HMAC(EVP_md5(), secret, (int)strlen(secret),
	    (const unsigned char *)challenge, challenge_len, md, &mdlen) ==
	    NULL || mdlen != 16)
		return false;
	for (unsigned i = 0; i < 16; i++) {
		hex_out[2 * i] = hex[md[i] >> 4];
		hex_out[2 * i + 1] = hex[md[i] & 15];
	}
	hex_out[32] = '\0';
	return true;
}

bool
cram_digest_equal(const char *client, const char *ours)
{
	unsigned diff = 0;

	if (strlen(client) != 32)
		return false;
	for (size_t i = 0; i < 32; i++) {
		unsigned char c = (unsigned char)client[i];

		if (c >= 'A' && c <= 'F')
			c = (unsigned char)(c - 'A' + 'a');
		diff |= (unsigned)(c ^ (unsigned char)ours[i]);
	}
	return diff == 0;
}
