// SPDX-License-Identifier: GPL-2.0
/* u64 -> u64 hash map with linear probing and backward-shift deletion. */
#include <errno.h>
#include <stdlib.h>

#include "hashmap.h"
#include "log.h"

static size_t find_slot(const struct hashmap *map, uint64_t key, bool *found)
{
	size_t mask = map->cap - 1, i = hash_u64(key) & mask;

	while (map->used[i]) {
		if (map->keys[i] == key) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
	*found = false;
	return i;
}

static int grow(struct hashmap *map)
{
	struct hashmap n = HASHMAP_INIT;
	size_t i;
	bool found;

	n.cap = map->cap ? map->cap * 2 : 64;
	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	n.used = calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		hashmap__release(&n);
		return -ENOMEM;
	}
	for (i = 0; i < map->cap; i++) {
		size_t j;

		if (!map->used[i])
			continue;
		j = find_slot(&n, map->keys[i], &found);
		n.used[j] = 1;
		n.keys[j] = map->keys[i];
		n.vals[j] = map->vals[i];
	}
	n.count = map->count;
	hashmap__release(map);
	*map = n;
	return 0;
}

int hashmap__set(struct hashmap *map, uint64_t key, uint64_t val)
{
	bool found = false;
	size_t i;
	int err;

	if (map->cap) {
		i = find_slot(map, key, &found);
		if (found) {
			map->vals[i] = val;
			return 0;
		}
	}
	if ((map->count + 1) * 4 > map->cap * 3) {
		err = grow(map);
		if (err)
			return err;
	}
	i = find_slot(map, key, &found);
	map->used[i] = 1;
	map->keys[i] = key;
	map->vals[i] = val;
	map->count++;
	return 0;
}

bool hashmap__get(const struct hashmap *map, uint64_t key, uint64_t *val)
{
	bool found;
	size_t i;

	if (!map->cap)
		return false;
	i = find_slot(map, key, &found);
	if (found && val)
		*val = map->vals[i];
	return found;
}

bool hashmap__delete(struct hashmap *map, uint64_t key, uint64_t *old_val)
{
	size_t mask = map->cap - 1, i, j;
	bool found;

	if (!map->cap)
		return false;
	i = find_slot(map, key, &found);
	if (!found)
		return false;
	if (old_val)
		*old_val = map->vals[i];
	/* shift back later entries of the probe run so lookups still find them */
	j = i;
	for (;;) {
		size_t home;

		j = (j + 1) & mask;
		if (!map->used[j])
			break;
		home = hash_u64(map->keys[j]) & mask;
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			map->keys[i] = map->keys[j];
			map->vals[i] = map->vals[j];
			i = j;
		}
	}
	map->used[i] = 0;
	map->count--;
	return true;
}

bool hashmap__next(const struct hashmap *map, size_t *iter, uint64_t *key, uint64_t *val)
{
	while (*iter < map->cap) {
		size_t i = (*iter)++;

		if (map->used[i]) {
			if (key)
				*key = map->keys[i];
			if (val)
				*val = map->vals[i];
			return true;
		}
	}
	return false;
}

void hashmap__release(struct hashmap *map)
{
	free(map->keys);
	free(map->vals);
	free(map->used);
	map->keys = map->vals = NULL;
	map->used = NULL;
	map->cap = map->count = 0;
}
