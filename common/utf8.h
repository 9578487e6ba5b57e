/* SPDX-License-Identifier: GPL-2.0 */
/*
 * UTF-8 validation for names that come from arbitrary binaries and
 * processes. One decoder, used by the symbolizer (names cleaned as they are
 * read) and by the web output (escaping for XML); each adds its own policy
 * on top (which code points it refuses besides the invalid ones).
 */
#ifndef __PROFILER_UTF8_H
#define __PROFILER_UTF8_H

#include <stddef.h>
#include <stdint.h>

/*
 * Length of the well-formed UTF-8 sequence at @s (at most @len bytes, @len
 * at least 1), with its code point in *@cp; 0 when the bytes there are not
 * one: a stray continuation byte, a truncated sequence, an overlong form, a
 * surrogate or a code point past U+10FFFF.
 */
size_t utf8__seq_len(const unsigned char *s, size_t len, uint32_t *cp);

#endif /* __PROFILER_UTF8_H */
