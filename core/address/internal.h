/* Shared between the address parsers. */
#ifndef TERN_CORE_ADDRESS_INTERNAL_H
#define TERN_CORE_ADDRESS_INTERNAL_H

#include <stdbool.h>

/* RFC 5322 atext (letters, digits and !#$%&'*+-/=?^_`{|}~). */
bool address_is_atext(unsigned char c);

#endif
