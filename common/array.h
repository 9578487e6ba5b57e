/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the sorted arrays and growable arrays used across modules.
 */
#ifndef __PROFILER_ARRAY_H
#define __PROFILER_ARRAY_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * In an array of @nmemb elements of @size bytes, sorted by a uint64_t that
 * is each element's first member, the number of elements whose key is <=
 * @key: the last such element is at the result minus one.
 */
static inline size_t sorted_count_le(const void *base, size_t nmemb, size_t size, uint64_t key)
{
	const char *p = base;
	size_t lo = 0, hi = nmemb;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;

		memcpy(&k, p + mid * size, sizeof(k));
		if (k <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Make room for at least @need elements in the array @arr, which has room
 * for @cap: the capacity doubles from @initial. Evaluates to 0, or -ENOMEM
 * leaving the array and @cap unchanged. @arr and @cap are lvalues (a macro,
 * so the array keeps its own pointer type).
 */
#define ARRAY_GROW(arr, cap, need, initial)                                           \
	({                                                                            \
		int __err = 0;                                                        \
		size_t __need = (need);                                               \
		if (__need > (cap)) {                                                 \
			size_t __c = (cap) ? (cap) : (initial);                       \
			__typeof__(arr) __n;                                          \
			while (__c < __need)                                          \
				__c *= 2;                                             \
			__n = reallocarray((arr), __c, sizeof(*(arr)));               \
			if (__n) {                                                    \
				(arr) = __n;                                          \
				(cap) = __c;                                          \
			} else {                                                      \
				__err = -ENOMEM;                                      \
			}                                                             \
		}                                                                     \
		__err;                                                                \
	})

#endif /* __PROFILER_ARRAY_H */
