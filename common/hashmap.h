/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A hash map from 64-bit keys to 64-bit values (an index or a pointer), with
 * open addressing and deletion. Used for pid tables, tree nodes and caches.
 */
#ifndef __PROFILER_HASHMAP_H
#define __PROFILER_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hashmap {
	uint64_t *keys;
	uint64_t *vals;
	uint8_t *used;
	size_t cap;	/* power of two, or 0 */
	size_t count;
};

#define HASHMAP_INIT { NULL, NULL, NULL, 0, 0 }

/* Insert or replace. Returns 0 or -ENOMEM (map unchanged). */
int hashmap__set(struct hashmap *map, uint64_t key, uint64_t val);
bool hashmap__get(const struct hashmap *map, uint64_t key, uint64_t *val);
bool hashmap__delete(struct hashmap *map, uint64_t key, uint64_t *old_val);
void hashmap__release(struct hashmap *map);

/* Iterate: for (size_t i = 0; hashmap__next(map, &i, &k, &v);) */
bool hashmap__next(const struct hashmap *map, size_t *iter, uint64_t *key, uint64_t *val);

static inline uint64_t hash_u64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

#endif /* __PROFILER_HASHMAP_H */
