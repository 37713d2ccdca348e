/* Functions that invite overflows do not compile in Tern.  The headers
 * that declare them come first: a poisoned name may not even be declared. */
#ifndef TERN_CORE_LIB_POISON_H
#define TERN_CORE_LIB_POISON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok

#endif
