// SPDX-License-Identifier: GPL-2.0
/*
 * String interning: an open-addressing table of ids over an arena of chunks.
 * Chunks never move, so interned strings keep their addresses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "strset.h"
#include "log.h"

#define CHUNK_SIZE (64 * 1024)

struct chunk {
	struct chunk *next;
	size_t used, size;
	char data[];
};

struct strset {
	struct chunk *chunks;
	const char **strs;	/* id -> string */
	uint32_t *lens;		/* id -> length */
	uint64_t *hashes;	/* id -> hash */
	size_t count, cap;
	int32_t *slots;		/* open addressing, -1 = empty */
	size_t nslots;		/* power of two */
	size_t mem;
};

uint64_t str_hash(const char *s, size_t len)
{
	/* FNV-1a, then a final mix so low bits are usable as a table index */
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

struct strset *strset__new(void)
{
	struct strset *set = calloc(1, sizeof(*set));

	if (!set) {
		errno = ENOMEM;
		return NULL;
	}
	set->nslots = 256;
	set->slots = malloc(set->nslots * sizeof(*set->slots));
	if (!set->slots) {
		free(set);
		errno = ENOMEM;
		return NULL;
	}
	memset(set->slots, 0xff, set->nslots * sizeof(*set->slots));
	return set;
}

void strset__free(struct strset *set)
{
	struct chunk *c, *next;

	if (!set)
		return;
	for (c = set->chunks; c; c = next) {
		next = c->next;
		free(c);
	}
	free(set->strs);
	free(set->lens);
	free(set->hashes);
	free(set->slots);
	free(set);
}

static size_t slot_of(const struct strset *set, const char *s, size_t len, uint64_t h)
{
	size_t mask = set->nslots - 1, i = h & mask;

	while (set->slots[i] >= 0) {
		int32_t id = set->slots[i];

		if (set->hashes[id] == h && set->lens[id] == len && !memcmp(set->strs[id], s, len))
			return i;
		i = (i + 1) & mask;
	}
	return i;
}

int strset__find(const struct strset *set, const char *s, size_t len)
{
	size_t i = slot_of(set, s, len, str_hash(s, len));

	return set->slots[i] >= 0 ? set->slots[i] : -ENOENT;
}

static int rehash(struct strset *set)
{
	size_t n = set->nslots * 2, i, mask = n - 1;
	int32_t *slots = malloc(n * sizeof(*slots));

	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	for (i = 0; i < set->count; i++) {
		size_t j = set->hashes[i] & mask;

		while (slots[j] >= 0)
			j = (j + 1) & mask;
		slots[j] = i;
	}
	free(set->slots);
	set->mem += (n - set->nslots) * sizeof(*slots);
	set->slots = slots;
	set->nslots = n;
	return 0;
}

static int grow_ids(struct strset *set)
{
	size_t cap = set->cap ? set->cap * 2 : 256;
	const char **strs;
	uint32_t *lens;
	uint64_t *hashes;

	strs = reallocarray(set->strs, cap, sizeof(*strs));
	if (!strs)
		return -ENOMEM;
	set->strs = strs;
	lens = reallocarray(set->lens, cap, sizeof(*lens));
	if (!lens)
		return -ENOMEM;
	set->lens = lens;
	hashes = reallocarray(set->hashes, cap, sizeof(*hashes));
	if (!hashes)
		return -ENOMEM;
	set->hashes = hashes;
	set->mem += (cap - set->cap) * (sizeof(*strs) + sizeof(*lens) + sizeof(*hashes));
	set->cap = cap;
	return 0;
}

static char *arena_alloc(struct strset *set, size_t len)
{
	struct chunk *c = set->chunks;
	char *p;

	if (!c || c->size - c->used < len) {
		size_t size = len > CHUNK_SIZE ? len : CHUNK_SIZE;

		c = malloc(sizeof(*c) + size);
		if (!c)
			return NULL;
		c->used = 0;
		c->size = size;
		c->next = set->chunks;
		set->chunks = c;
		set->mem += sizeof(*c) + size;
	}
	p = c->data + c->used;
	c->used += len;
	return p;
}

int strset__add(struct strset *set, const char *s, size_t len)
{
	uint64_t h;
	size_t i;
	char *p;
	int err;

	if (len > UINT32_MAX - 1)
		return -E2BIG;
	h = str_hash(s, len);
	i = slot_of(set, s, len, h);
	if (set->slots[i] >= 0)
		return set->slots[i];
	if (set->count >= INT32_MAX)
		return -E2BIG;
	if ((set->count + 1) * 2 > set->nslots) {
		err = rehash(set);
		if (err)
			return err;
		i = slot_of(set, s, len, h);
	}
	if (set->count == set->cap) {
		err = grow_ids(set);
		if (err)
			return err;
	}
	p = arena_alloc(set, len + 1);
	if (!p)
		return -ENOMEM;
	memcpy(p, s, len);
	p[len] = '\0';
	set->strs[set->count] = p;
	set->lens[set->count] = len;
	set->hashes[set->count] = h;
	set->slots[i] = set->count;
	set->count++;
	return set->count - 1;
}

const char *strset__str(const struct strset *set, int id)
{
	return set->strs[id];
}

size_t strset__len(const struct strset *set, int id)
{
	return set->lens[id];
}

size_t strset__count(const struct strset *set)
{
	return set->count;
}

size_t strset__mem(const struct strset *set)
{
	return set->mem;
}
