/* SPDX-License-Identifier: GPL-2.0 */
/* Hexadecimal digits: build ids as text, addresses in perf maps. */
#ifndef __PROFILER_HEX_H
#define __PROFILER_HEX_H

#include <stddef.h>

/* The value of hex digit @c (either case), -1 when it is none. */
static inline int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* @len bytes as 2 * @len lowercase digits and a NUL into @out. */
static inline void hex_encode(char *out, const unsigned char *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[bytes[i] >> 4];
		out[2 * i + 1] = digits[bytes[i] & 15];
	}
	out[2 * len] = '\0';
}

#endif /* __PROFILER_HEX_H */
