// SPDX-License-Identifier: GPL-2.0
/*
 * A per-binary index over DWARF, built with libdw's iterators so that each
 * lookup is a binary search instead of a walk of the compile unit's DIE tree
 * (which is what makes eu-addr2line slow on large compile units).
 *
 * - CU table: the address ranges of every compile unit, sorted.
 * - Per CU, built on first use: every subprogram and inlined_subroutine
 *   range as an interval that knows its enclosing interval. Sorted by start
 *   (outer before inner at equal starts), the deepest scope holding an
 *   address is found from the last interval starting at or below it by
 *   following enclosing links, because scopes nest.
 * - Source lines come from libdw's own sorted line table (dwarf_getsrc_die).
 *
 * CU indexes can be dropped (dwarf_index__evict) and are rebuilt on demand:
 * the owner uses that to keep memory under a cap.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dwarf.h>
#include <elfutils/libdw.h>

#include "symbolizer_internal.h"
#include "common/array.h"
#include "common/hashmap.h"
#include "common/log.h"

struct scope {
	const char *name;	/* linkage name, else DW_AT_name; NULL when absent */
	const char *call_file;	/* inlined: the caller's source file */
	int call_line;
	int decl_line;		/* the line the function is declared on (DW_AT_decl_line), 0 */
	int depth;
	bool inlined;
	uint32_t first_iv, nr_iv;	/* its intervals, before sorting */
};

struct interval {
	uint64_t lo, hi;
	int32_t parent;	/* enclosing interval, -1 at a subprogram */
	int32_t scope;
};

struct cu_index {
	Dwarf_Die cudie;
	const char *comp_dir;
	struct interval *iv;
	size_t nr_iv;
	struct scope *scopes;
	size_t nr_scopes;
	size_t mem;
	uint64_t last_use;
	bool built;
	bool failed;
};

struct cu_range {
	uint64_t lo, hi;
	uint32_t cu;
};

struct dwarf_index {
	Dwarf *dw;
	struct cu_range *ranges;
	size_t nr_ranges;
	struct cu_index *cus;
	size_t nr_cus;
	struct hashmap cu_by_off;	/* CU DIE offset -> index */
	size_t mem;			/* bytes held by built CU indexes */
	const char *name;		/* for messages */
};

static int cmp_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int add_range(struct dwarf_index *di, size_t *cap, uint64_t lo, uint64_t hi, uint32_t cu)
{
	if (lo >= hi)
		return 0;
	if (ARRAY_GROW(di->ranges, *cap, di->nr_ranges + 1, 64))
		return -ENOMEM;
	di->ranges[di->nr_ranges++] = (struct cu_range){ lo, hi, cu };
	return 0;
}

static int add_cu(struct dwarf_index *di, size_t *cap, Dwarf_Die *cudie)
{
	if (ARRAY_GROW(di->cus, *cap, di->nr_cus + 1, 64))
		return -ENOMEM;
	memset(&di->cus[di->nr_cus], 0, sizeof(di->cus[0]));
	di->cus[di->nr_cus].cudie = *cudie;
	{
		Dwarf_Attribute attr;

		di->cus[di->nr_cus].comp_dir =
			dwarf_formstring(dwarf_attr(cudie, DW_AT_comp_dir, &attr));
	}
	if (hashmap__set(&di->cu_by_off, dwarf_dieoffset(cudie), di->nr_cus))
		return -ENOMEM;
	return di->nr_cus++;
}

struct dwarf_index *dwarf_index__new(Dwarf *dw, const char *name)
{
	size_t cap_cus = 0, cap_ranges = 0;
	struct dwarf_index *di;
	Dwarf_CU *cu = NULL, *next;
	Dwarf_Die cudie;
	uint8_t unit_type;
	Dwarf_Half version;
	int err = 0, idx, ret;

	di = calloc(1, sizeof(*di));
	if (!di)
		return NULL;
	di->dw = dw;
	while (!err && (ret = dwarf_get_units(dw, cu, &next, &version, &unit_type, &cudie,
					      NULL)) == 0) {
		Dwarf_Addr base, lo, hi;
		ptrdiff_t off = 0;

		cu = next;
		if (unit_type != DW_UT_compile && unit_type != DW_UT_partial &&
		    unit_type != DW_UT_skeleton)
			continue;
		idx = add_cu(di, &cap_cus, &cudie);
		if (idx < 0) {
			err = idx;
			break;
		}
		while ((off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0) {
			err = add_range(di, &cap_ranges, lo, hi, idx);
			if (err)
				break;
		}
	}
	if (err) {
		dwarf_index__free(di);
		errno = -err;
		return NULL;
	}
	if (ret < 0) {	/* keep the units read so far: the rest is unreadable */
		int e = dwarf_errno();

		pr_warn("'%s': corrupt DWARF after %zu compile units: %s", name, di->nr_cus,
			e ? dwarf_errmsg(e) : "a unit header does not decode");
	}
	di->name = name;
	if (di->nr_ranges)
		qsort(di->ranges, di->nr_ranges, sizeof(*di->ranges), cmp_range);
	return di;
}

static void cu_index__release(struct cu_index *c)
{
	free(c->iv);
	free(c->scopes);
	c->iv = NULL;
	c->scopes = NULL;
	c->nr_iv = c->nr_scopes = 0;
	c->built = false;
	c->mem = 0;
}

void dwarf_index__free(struct dwarf_index *di)
{
	size_t i;

	if (!di)
		return;
	for (i = 0; i < di->nr_cus; i++)
		cu_index__release(&di->cus[i]);
	free(di->cus);
	free(di->ranges);
	hashmap__release(&di->cu_by_off);
	free(di);
}

size_t dwarf_index__mem(const struct dwarf_index *di)
{
	return di->mem;
}

/* ---- building one CU's index ---- */

struct builder {
	struct cu_index *cu;
	size_t cap_iv, cap_scopes;
	Dwarf_Files *files;
	size_t nr_files;
};

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *s;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &attr) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr)) {
		s = dwarf_formstring(&attr);
		if (s)
			return s;
	}
	return dwarf_diename(die);
}

static int push_interval(struct builder *b, uint64_t lo, uint64_t hi, int scope)
{
	struct cu_index *c = b->cu;

	if (ARRAY_GROW(c->iv, b->cap_iv, c->nr_iv + 1, 256))
		return -ENOMEM;
	c->iv[c->nr_iv++] = (struct interval){ lo, hi, -1, scope };
	return 0;
}

/* Index the scope @die inside scope @encl (-1: none). Returns its index, or -1 without ranges. */
static int add_scope(struct builder *b, Dwarf_Die *die, bool inlined, int encl)
{
	struct cu_index *c = b->cu;
	Dwarf_Addr base, lo, hi;
	Dwarf_Attribute attr;
	Dwarf_Word w;
	ptrdiff_t off = 0;
	struct scope *s;
	size_t first = c->nr_iv, i, j;
	int idx = c->nr_scopes, err;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (lo >= hi)
			continue;	/* GCC emits empty ranges for inlines optimized away */
		err = push_interval(b, lo, hi, idx);
		if (err)
			return err;
	}
	if (c->nr_iv == first)
		return -1;
	if (ARRAY_GROW(c->scopes, b->cap_scopes, c->nr_scopes + 1, 128))
		return -ENOMEM;
	s = &c->scopes[c->nr_scopes++];
	memset(s, 0, sizeof(*s));
	s->name = die_name(die);
	s->inlined = inlined;
	/* an inlined copy's comes through its abstract origin (dwarf_attr_integrate) */
	if (dwarf_decl_line(die, &s->decl_line))
		s->decl_line = 0;
	s->first_iv = first;
	s->nr_iv = c->nr_iv - first;
	s->depth = encl >= 0 ? c->scopes[encl].depth + 1 : 0;
	if (inlined) {
		if (dwarf_attr(die, DW_AT_call_file, &attr) && !dwarf_formudata(&attr, &w) &&
		    b->files && w < b->nr_files)
			s->call_file = dwarf_filesrc(b->files, w, NULL, NULL);
		if (dwarf_attr(die, DW_AT_call_line, &attr) && !dwarf_formudata(&attr, &w))
			s->call_line = w;
	}
	/* link each interval to the enclosing scope's interval that holds its start */
	for (i = first; encl >= 0 && i < c->nr_iv; i++) {
		const struct scope *p = &c->scopes[encl];

		for (j = p->first_iv; j < p->first_iv + p->nr_iv; j++) {
			if (c->iv[j].lo <= c->iv[i].lo && c->iv[i].lo < c->iv[j].hi) {
				c->iv[i].parent = j;
				break;
			}
		}
	}
	return idx;
}

static bool may_hold_code(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_class_type:
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
	case DW_TAG_entry_point:
		return true;
	default:
		return false;
	}
}

struct walk_item {
	Dwarf_Die die;
	int encl;
};

static int walk_cu(struct builder *b)
{
	struct walk_item *stack = NULL, it;
	size_t nr = 0, cap = 0;
	Dwarf_Die child;
	int err = 0;

	if (dwarf_child(&b->cu->cudie, &child) != 0)
		return 0;
	it = (struct walk_item){ child, -1 };
	for (;;) {
		Dwarf_Die sib;
		int tag = dwarf_tag(&it.die), encl = it.encl, sc;

		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
		    tag == DW_TAG_entry_point) {
			sc = add_scope(b, &it.die, tag == DW_TAG_inlined_subroutine, it.encl);
			if (sc < -1) {
				err = sc;
				break;
			}
			encl = sc >= 0 ? sc : it.encl;
		}
		/* the sibling waits on the stack while the children are visited */
		if (dwarf_siblingof(&it.die, &sib) == 0) {
			err = ARRAY_GROW(stack, cap, nr + 1, 64);
			if (err)
				break;
			stack[nr++] = (struct walk_item){ sib, it.encl };
		}
		if (may_hold_code(tag) && dwarf_child(&it.die, &child) == 0) {
			it = (struct walk_item){ child, encl };
			continue;
		}
		if (!nr)
			break;
		it = stack[--nr];
	}
	free(stack);
	return err;
}

/* qsort_r's comparison, so that two threads may index at once */
static int cmp_iv(const void *a, const void *b, void *ctx)
{
	const struct cu_index *c = ctx;
	const struct interval *x = &c->iv[*(const int32_t *)a];
	const struct interval *y = &c->iv[*(const int32_t *)b];
	int dx = c->scopes[x->scope].depth, dy = c->scopes[y->scope].depth;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (dx != dy)
		return dx - dy;
	return x->hi > y->hi ? -1 : x->hi < y->hi;
}

/* Sort intervals by start, outer first, and remap the parent links. */
static int sort_intervals(struct cu_index *c)
{
	int32_t *order = malloc(c->nr_iv * sizeof(*order) + 1);
	int32_t *where = malloc(c->nr_iv * sizeof(*where) + 1);
	struct interval *sorted = malloc(c->nr_iv * sizeof(*sorted) + 1);
	size_t i;

	if (!order || !where || !sorted) {
		free(order);
		free(where);
		free(sorted);
		return -ENOMEM;
	}
	for (i = 0; i < c->nr_iv; i++)
		order[i] = i;
	qsort_r(order, c->nr_iv, sizeof(*order), cmp_iv, c);
	for (i = 0; i < c->nr_iv; i++)
		where[order[i]] = i;
	for (i = 0; i < c->nr_iv; i++) {
		sorted[i] = c->iv[order[i]];
		if (sorted[i].parent >= 0)
			sorted[i].parent = where[sorted[i].parent];
	}
	free(c->iv);
	c->iv = sorted;
	free(order);
	free(where);
	return 0;
}

static int build_cu(struct dwarf_index *di, struct cu_index *c)
{
	struct builder b = { .cu = c };
	int err;

	if (dwarf_getsrcfiles(&c->cudie, &b.files, &b.nr_files))
		b.files = NULL;
	err = walk_cu(&b);
	if (!err)
		err = sort_intervals(c);
	if (err) {
		cu_index__release(c);
		c->failed = true;
		return err;
	}
	c->mem = c->nr_iv * sizeof(*c->iv) + c->nr_scopes * sizeof(*c->scopes);
	c->built = true;
	di->mem += c->mem;
	return 0;
}

static struct cu_index *find_cu(struct dwarf_index *di, uint64_t addr)
{
	size_t lo = sorted_count_le(di->ranges, di->nr_ranges, sizeof(*di->ranges), addr), hi;
	Dwarf_Die cudie;
	uint64_t idx;

	/* ranges of different CUs do not overlap in sane DWARF: check a few back */
	for (hi = lo; hi > 0 && lo - hi < 8; hi--) {
		if (addr < di->ranges[hi - 1].hi)
			return &di->cus[di->ranges[hi - 1].cu];
	}
	/* a CU without ranges on its DIE: ask .debug_aranges */
	if (dwarf_addrdie(di->dw, addr, &cudie) &&
	    hashmap__get(&di->cu_by_off, dwarf_dieoffset(&cudie), &idx))
		return &di->cus[idx];
	return NULL;
}

int dwarf_index__lookup(struct dwarf_index *di, __u64 addr, __u64 now, struct dso_frame *out,
			int max)
{
	struct cu_index *c = find_cu(di, addr);
	struct dso_frame chain[MAX_INLINE_DEPTH];
	Dwarf_Line *line;
	int32_t i;
	int n = 0, k;

	if (!c || c->failed)
		return 0;
	if (!c->built && build_cu(di, c))
		return 0;
	c->last_use = now;
	i = (int32_t)sorted_count_le(c->iv, c->nr_iv, sizeof(*c->iv), addr) - 1;
	while (i >= 0 && addr >= c->iv[i].hi)
		i = c->iv[i].parent;

	/* innermost first into chain[], then reversed into out[] */
	line = dwarf_getsrc_die(&c->cudie, addr);
	chain[0].file = line ? dwarf_linesrc(line, NULL, NULL) : NULL;
	chain[0].line = 0;
	if (line)
		dwarf_lineno(line, &chain[0].line);
	chain[0].name = NULL;
	chain[0].inlined = false;
	chain[0].start_line = 0;
	for (; i >= 0 && n < MAX_INLINE_DEPTH; i = c->iv[i].parent) {
		const struct scope *s = &c->scopes[c->iv[i].scope];

		chain[n].name = s->name;
		chain[n].inlined = s->inlined;
		chain[n].start_line = s->decl_line;
		n++;
		if (n < MAX_INLINE_DEPTH) {
			/* the caller's location is this scope's call site */
			chain[n].file = s->inlined ? s->call_file : NULL;
			chain[n].line = s->inlined ? s->call_line : 0;
			chain[n].name = NULL;
			chain[n].inlined = false;
			chain[n].start_line = 0;
		}
		if (!s->inlined)
			break;
	}
	if (!n) {
		/* a line but no scope: the caller fills in the symbol table's name */
		n = 1;
	}
	for (k = 0; k < n && k < max; k++) {
		out[k] = chain[n - 1 - k];
		out[k].comp_dir = c->comp_dir;
	}
	return k;
}

size_t dwarf_index__evict(struct dwarf_index *di, __u64 older_than)
{
	size_t freed = 0, i;

	for (i = 0; i < di->nr_cus; i++) {
		struct cu_index *c = &di->cus[i];

		if (c->built && c->last_use < older_than) {
			freed += c->mem;
			cu_index__release(c);
		}
	}
	di->mem -= freed;
	return freed;
}
