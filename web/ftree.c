// SPDX-License-Identifier: GPL-2.0
/*
 * The frame tree behind every flame graph. Stacks are merged into it one at
 * a time, straight from the input, so memory grows with the distinct frames
 * (tree nodes) and never with the input: no stack string is kept.
 *
 * Three things keep merging fast on huge inputs. Consecutive folded lines
 * usually share a long prefix (sorted output of every collapse tool), so the
 * frames of the common prefix with the previous stack are reused without
 * hashing at all. A frame with few children finds a child by walking them,
 * hottest first, which stays in cache; only frames with many children index
 * them by (parent, name) in an open-addressing table. Names are hashed eight
 * bytes at a time.
 *
 * In chart mode a frame merges only with its parent's most recent child, so
 * the x axis keeps the order stacks were added in (time, for a recording).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "web_internal.h"
#include "common/array.h"
#include "common/hashmap.h"
#include "common/strset.h"
#include "common/log.h"

int ftree__init(struct ftree *t, bool chart, bool reverse)
{
	memset(t, 0, sizeof(*t));
	t->chart = chart;
	t->reverse = reverse;
	t->names = strset__new();
	t->nslots = 1024;
	t->slots = malloc(t->nslots * sizeof(*t->slots));
	t->cap = 1024;
	t->nodes = malloc(t->cap * sizeof(*t->nodes));
	if (!t->names || !t->slots || !t->nodes) {
		ftree__release(t);
		return -ENOMEM;
	}
	memset(t->slots, 0xff, t->nslots * sizeof(*t->slots));
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->nodes[0].str = "all";
	t->nodes[0].len = 3;
	t->nodes[0].parent = -1;
	t->nodes[0].first_child = t->nodes[0].last_child = t->nodes[0].next_sibling = -1;
	t->nr = 1;
	return 0;
}

void ftree__release(struct ftree *t)
{
	strset__free(t->names);
	free(t->nodes);
	free(t->slots);
	free(t->prev);
	free(t->prev_nodes);
	free(t->prev_ends);
	free(t->rev);
	free(t->name_tab);
	memset(t, 0, sizeof(*t));
}

static inline size_t slot_hash(uint32_t name_hash, int32_t parent)
{
	return hash_u64((uint64_t)(uint32_t)parent << 32 | name_hash);
}

#define KIDS_WALKED 8	/* children found by walking them; more are indexed */

static bool is_indexed(const struct ftree *t, int32_t id)
{
	return id > 0 && t->nodes[t->nodes[id].parent].nr_kids > KIDS_WALKED;
}

static void slot_insert(struct ftree *t, int32_t id)
{
	size_t mask = t->nslots - 1, j = slot_hash(t->nodes[id].hash, t->nodes[id].parent) & mask;

	while (t->slots[j] >= 0)
		j = (j + 1) & mask;
	t->slots[j] = id;
	t->nr_indexed++;
}

/* Room in the table for @more entries. */
static int reserve_slots(struct ftree *t, size_t more)
{
	size_t n = t->nslots, i;
	int32_t *slots;

	while ((t->nr_indexed + more) * 2 > n)
		n *= 2;
	if (n == t->nslots)
		return 0;
	slots = malloc(n * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	memset(slots, 0xff, n * sizeof(*slots));
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
	t->nr_indexed = 0;
	for (i = 1; i < t->nr; i++) {
		if (is_indexed(t, i))
			slot_insert(t, i);
	}
	return 0;
}

/* @name interned in the tree's name set, found by its hash @h; NULL when out of memory. */
static const char *intern(struct ftree *t, const char *name, size_t len, uint32_t h)
{
	size_t mask, i;
	int id;

	if ((t->name_nr + 1) * 2 > t->name_slots) {
		size_t n = t->name_slots ? t->name_slots * 2 : 4096, j;
		struct ftree_name *tab = calloc(n, sizeof(*tab));

		if (!tab)
			return NULL;
		for (j = 0; j < t->name_slots; j++) {
			const struct ftree_name *e = &t->name_tab[j];

			if (!e->str)
				continue;
			for (i = e->hash & (n - 1); tab[i].str; i = (i + 1) & (n - 1))
				;
			tab[i] = *e;
		}
		free(t->name_tab);
		t->name_tab = tab;
		t->name_slots = n;
	}
	mask = t->name_slots - 1;
	for (i = h & mask; t->name_tab[i].str; i = (i + 1) & mask) {
		const struct ftree_name *e = &t->name_tab[i];

		if (e->hash == h && e->len == len && !memcmp(e->str, name, len))
			return e->str;
	}
	id = strset__add(t->names, name, len);
	if (id < 0)
		return NULL;
	t->name_tab[i] = (struct ftree_name){ h, len, strset__str(t->names, id) };
	t->name_nr++;
	return t->name_tab[i].str;
}

/* A new child of @parent; @interned: @name is in the tree's name set already. */
static int new_node(struct ftree *t, int32_t parent, const char *name, size_t len, uint32_t h,
		    bool interned)
{
	const char *str;
	struct fnode *n;

	if (t->nr == t->cap) {
		size_t cap = t->cap * 2;

		if (cap > INT32_MAX)
			return -E2BIG;
		n = reallocarray(t->nodes, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		t->nodes = n;
		t->cap = cap;
	}
	str = interned ? name : intern(t, name, len, h);
	if (!str)
		return -ENOMEM;
	n = &t->nodes[t->nr];
	memset(n, 0, sizeof(*n));
	n->str = str;
	n->len = len;
	n->hash = h;
	n->parent = parent;
	n->first_child = n->last_child = n->next_sibling = -1;
	n->depth = t->nodes[parent].depth + 1;
	t->nodes[parent].nr_kids++;
	if (n->depth > t->max_depth)
		t->max_depth = n->depth;
	if (t->nodes[parent].last_child >= 0)
		t->nodes[t->nodes[parent].last_child].next_sibling = t->nr;
	else
		t->nodes[parent].first_child = t->nr;
	t->nodes[parent].last_child = t->nr;
	return t->nr++;
}

static inline bool node_is(const struct fnode *n, int32_t parent, const char *name, size_t len,
			   uint32_t h, bool interned)
{
	/* one string a name in the tree: an interned name is its pointer */
	if (interned)
		return n->str == name && n->parent == parent;
	return n->parent == parent && n->hash == h && n->len == len && !memcmp(n->str, name, len);
}

/*
 * The child @name (hash @h; @interned: in the name set) of @parent, created
 * when missing. Returns its id or -errno.
 */
static int child_find(struct ftree *t, int32_t parent, const char *name, size_t len, uint32_t h,
		      bool interned)
{
	size_t mask, i;
	int32_t c;
	int id;

	c = t->nodes[parent].last_child;
	if (c >= 0 && node_is(&t->nodes[c], parent, name, len, h, interned))
		return c;
	if (t->chart)
		return new_node(t, parent, name, len, h, interned);
	if (t->nodes[parent].nr_kids <= KIDS_WALKED) {
		for (c = t->nodes[parent].first_child; c >= 0; c = t->nodes[c].next_sibling) {
			if (node_is(&t->nodes[c], parent, name, len, h, interned))
				return c;
		}
		if (t->nodes[parent].nr_kids == KIDS_WALKED) {
			/* the next child makes this frame indexed: its children go into the table */
			if (reserve_slots(t, KIDS_WALKED + 1))
				return -ENOMEM;
			id = new_node(t, parent, name, len, h, interned);
			if (id < 0)
				return id;
			for (c = t->nodes[parent].first_child; c >= 0; c = t->nodes[c].next_sibling)
				slot_insert(t, c);
			return id;
		}
		return new_node(t, parent, name, len, h, interned);
	}
	if (reserve_slots(t, 1))
		return -ENOMEM;
	mask = t->nslots - 1;
	for (i = slot_hash(h, parent) & mask; t->slots[i] >= 0; i = (i + 1) & mask) {
		if (node_is(&t->nodes[t->slots[i]], parent, name, len, h, interned))
			return t->slots[i];
	}
	id = new_node(t, parent, name, len, h, interned);
	if (id >= 0) {
		t->slots[i] = id;
		t->nr_indexed++;
	}
	return id;
}

static int child_of(struct ftree *t, int32_t parent, const char *name, size_t len)
{
	return child_find(t, parent, name, len, mem_hash(name, len), false);
}

static size_t common_prefix(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen, i = 0;
	uint64_t x, y;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return i + __builtin_ctzll(x ^ y) / 8;
	}
#else
	(void)x;
	(void)y;
#endif
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* Room for a stack of @len bytes and @frames frames as the previous one. */
static int grow_prev(struct ftree *t, size_t len, size_t frames)
{
	if (len > t->prev_cap) {
		size_t cap = len * 2 > 4096 ? len * 2 : 4096;
		char *p = realloc(t->prev, cap);

		if (!p)
			return -ENOMEM;
		t->prev = p;
		t->prev_cap = cap;
	}
	if (frames > t->prev_frames_cap) {
		size_t cap = frames * 2 > 64 ? frames * 2 : 64;
		int32_t *nodes = reallocarray(t->prev_nodes, cap, sizeof(*nodes));
		size_t *ends;

		if (!nodes)
			return -ENOMEM;
		t->prev_nodes = nodes;
		ends = reallocarray(t->prev_ends, cap, sizeof(*ends));
		if (!ends)
			return -ENOMEM;
		t->prev_ends = ends;
		t->prev_frames_cap = cap;
	}
	return 0;
}

/* @stack with its frames in the opposite order, in t->rev. */
static const char *reversed(struct ftree *t, const char *stack, size_t len)
{
	size_t out = 0, end = len;

	if (len > t->rev_cap) {
		char *p = realloc(t->rev, len * 2);

		if (!p)
			return NULL;
		t->rev = p;
		t->rev_cap = len * 2;
	}
	for (;;) {
		const char *semi = memrchr(stack, ';', end);
		size_t start = semi ? (size_t)(semi - stack) + 1 : 0;

		memcpy(t->rev + out, stack + start, end - start);
		out += end - start;
		if (!semi)
			break;
		t->rev[out++] = ';';
		end = start - 1;
	}
	return t->rev;
}

int ftree__add(struct ftree *t, const char *stack, size_t len, double count, int slot)
{
	size_t shared, k = 0, pos = 0, i, frames;
	int32_t node = 0;
	int err;

	if (t->reverse && !(stack = reversed(t, stack, len)))
		return -ENOMEM;
	/*
	 * frames may be empty ("a;;b"): one more than the separators, so at
	 * most one more than the bytes (a bound: counting them costs a pass)
	 */
	frames = len + 1;
	err = grow_prev(t, len, frames);
	if (err)
		return err;
	/* frames of the previous stack that end inside the common prefix are ours too */
	shared = common_prefix(t->prev, t->prev_len, stack, len);
	while (k < t->prev_nr &&
	       (t->prev_ends[k] < shared ||
		(t->prev_ends[k] == shared && (shared == len || stack[shared] == ';'))))
		k++;
	t->nodes[0].val[slot] += count;
	for (i = 0; i < k; i++)
		t->nodes[t->prev_nodes[i]].val[slot] += count;
	if (k) {
		node = t->prev_nodes[k - 1];
		pos = t->prev_ends[k - 1] + 1;
	}
	while (pos <= len) {
		const char *semi = memchr(stack + pos, ';', len - pos);
		size_t end = semi ? (size_t)(semi - stack) : len;

		node = child_of(t, node, stack + pos, end - pos);
		if (node < 0) {
			t->prev_len = t->prev_nr = 0;
			return node;
		}
		t->nodes[node].val[slot] += count;
		t->prev_nodes[k] = node;
		t->prev_ends[k++] = end;
		pos = end + 1;
	}
	t->prev_nr = k;
	memcpy(t->prev, stack, len);
	t->prev_len = len;
	return 0;
}

/* qsort_r's comparison: the server lays out several trees at once, one per worker thread */
static int cmp_by_name(const void *a, const void *b, void *ctx)
{
	const struct ftree *t = ctx;
	const struct fnode *x = &t->nodes[*(const int32_t *)a];
	const struct fnode *y = &t->nodes[*(const int32_t *)b];
	int c = memcmp(x->str, y->str, x->len < y->len ? x->len : y->len);

	return c ? c : (x->len > y->len) - (x->len < y->len);
}

int ftree__layout(struct ftree *t, int slot)
{
	int32_t *kids = NULL;
	size_t cap = 0, i;

	t->nodes[0].x = 0;
	/* parents precede their children, so index order is top-down */
	for (i = 0; i < t->nr; i++) {
		struct fnode *n = &t->nodes[i];
		double x = n->x;
		size_t k = 0, j;
		int32_t c;

		for (c = n->first_child; c >= 0; c = t->nodes[c].next_sibling) {
			if (k == cap) {
				int32_t *nk;

				cap = cap ? cap * 2 : 64;
				nk = reallocarray(kids, cap, sizeof(*nk));
				if (!nk) {
					free(kids);
					return -ENOMEM;
				}
				kids = nk;
			}
			kids[k++] = c;
		}
		if (!k)
			continue;
		if (!t->chart)
			qsort_r(kids, k, sizeof(*kids), cmp_by_name, t);
		n->first_child = kids[0];
		n->last_child = kids[k - 1];
		for (j = 0; j < k; j++) {
			t->nodes[kids[j]].next_sibling = j + 1 < k ? kids[j + 1] : -1;
			t->nodes[kids[j]].x = x;
			x += t->nodes[kids[j]].val[slot];
		}
	}
	free(kids);
	return 0;
}

int ftree__merge(struct ftree *dst, const struct ftree *src, int slot)
{
	int32_t *map = malloc((src->nr ? src->nr : 1) * sizeof(*map));
	struct hashmap names = {};	/* src's name pointer -> dst's */
	size_t i;
	int err = map ? 0 : -ENOMEM;

	if (!err)
		map[0] = 0;
	if (!err)
		dst->nodes[0].val[slot] += src->nodes[0].val[slot];
	/* each name is looked up by its text once; frames then compare name pointers */
	for (i = 0; i < src->name_slots && !err; i++) {
		const struct ftree_name *e = &src->name_tab[i];
		const char *str;

		if (!e->str)
			continue;
		str = intern(dst, e->str, e->len, e->hash);
		err = str ? hashmap__set(&names, (uintptr_t)e->str, (uintptr_t)str) : -ENOMEM;
	}
	/* parents precede their children: each parent is mapped before its children */
	for (i = 1; i < src->nr && !err; i++) {
		const struct fnode *n = &src->nodes[i];
		uint64_t str;
		int id;

		if (!hashmap__get(&names, (uintptr_t)n->str, &str)) {
			err = -EINVAL;
			break;
		}
		id = child_find(dst, map[n->parent], (const char *)(uintptr_t)str, n->len, n->hash,
				true);
		if (id < 0) {
			err = id;
			break;
		}
		dst->nodes[id].val[slot] += n->val[slot];
		map[i] = id;
	}
	hashmap__release(&names);
	free(map);
	return err;
}

/* A stack_agg name as the tree has it: interned here, with its hash. */
struct agg_name {
	const char *str;	/* NULL: not looked up yet */
	uint32_t len, hash;
};

/*
 * Stacks of names: each name is hashed and interned in the tree once, then
 * frames compare name pointers; a stack's prefix shared with the previous
 * stack (the same name ids) reuses its nodes.
 */
static int add_agg_names(struct ftree *t, const struct stack_agg *agg, int slot)
{
	struct agg_name *names = calloc(stack_agg__nr_names(agg) + 1, sizeof(*names));
	int32_t *prev_ids = NULL, *prev_nodes = NULL;
	size_t prev_nr = 0, cap_ids = 0, cap_nodes = 0, i, nr, j, k;
	const int32_t *ids;
	double count;
	int err = names ? 0 : -ENOMEM;

#define AGG_ID(j) (ids[t->reverse ? nr - 1 - (j) : (j)])
	for (i = 0; !err && stack_agg__get_names(agg, i, &ids, &nr, &count); i++) {
		int32_t node = 0;

		if (count <= 0)
			continue;
		if (ARRAY_GROW(prev_ids, cap_ids, nr, 64) ||
		    ARRAY_GROW(prev_nodes, cap_nodes, nr, 64)) {
			err = -ENOMEM;
			break;
		}
		t->nodes[0].val[slot] += count;
		for (k = 0; k < prev_nr && k < nr && prev_ids[k] == AGG_ID(k); k++)
			t->nodes[prev_nodes[k]].val[slot] += count;
		if (k)
			node = prev_nodes[k - 1];
		for (j = k; j < nr; j++) {
			int32_t id = AGG_ID(j);
			struct agg_name *n = &names[id];

			if (!n->str) {
				size_t len;
				const char *s = stack_agg__name_str(agg, id, &len);

				n->hash = (uint32_t)mem_hash(s, len);
				n->len = len;
				n->str = intern(t, s, len, n->hash);
				if (!n->str) {
					err = -ENOMEM;
					break;
				}
			}
			node = child_find(t, node, n->str, n->len, n->hash, true);
			if (node < 0) {
				err = node;
				break;
			}
			t->nodes[node].val[slot] += count;
			prev_ids[j] = id;
			prev_nodes[j] = node;
		}
		prev_nr = err ? 0 : nr;
	}
#undef AGG_ID
	/* in a chart, the text path's previous stack may no longer end the tree's last children */
	t->prev_len = t->prev_nr = 0;
	free(names);
	free(prev_ids);
	free(prev_nodes);
	return err;
}

int ftree__add_agg(struct ftree *t, const struct stack_agg *agg, int slot)
{
	const char *stack;
	double count;
	size_t i;
	int err;

	if (stack_agg__by_names(agg))
		return add_agg_names(t, agg, slot);
	for (i = 0; stack_agg__get(agg, i, &stack, &count); i++) {
		if (count <= 0)
			continue;
		err = ftree__add(t, stack, strlen(stack), count, slot);
		if (err)
			return err;
	}
	return 0;
}
