/* Functions that invite overflows do not compile in Tern. */
#ifndef TERN_CORE_LIB_POISON_H
#define TERN_CORE_LIB_POISON_H

#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok

#endif
