/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Functions that are easy to misuse with fixed-size buffers. Included last by
 * every project source file (through log.h) so a new use fails to compile.
 */
#ifndef __PROFILER_BANNED_H
#define __PROFILER_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED(strcpy)
#undef strcat
#define strcat(x, y) BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED(strncpy)
#undef strtok
#define strtok(x, y) BANNED(strtok)
#undef sprintf
#define sprintf(...) BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) BANNED(vsprintf)

#endif /* __PROFILER_BANNED_H */
