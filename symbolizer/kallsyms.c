// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel symbols from /proc/kallsyms: text symbols of the core image and of
 * loaded modules, sorted for binary search. kallsyms has no sizes, so a symbol
 * covers addresses up to the next one.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer_internal.h"
#include "common/array.h"
#include "common/strset.h"
#include "common/log.h"

/* a kernel function is never this large: past it an address is unknown */
#define KSYM_MAX_SPAN (1ULL << 20)

static int cmp_ksym(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* deterministic choice among aliases: the shorter, then smaller name */
	if (strlen(x->name) != strlen(y->name))
		return strlen(x->name) < strlen(y->name) ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

static int parse_line(char *line, struct ksym *sym, struct strset *strs)
{
	char *end, *name, *mod;
	char type;
	int id;

	sym->addr = strtoull(line, &end, 16);
	if (end == line || *end != ' ')
		return -EINVAL;
	type = end[1];
	if (!type || end[2] != ' ')
		return -EINVAL;
	if (!is_text_type(type))
		return -ENOENT;
	name = end + 3;
	name[strcspn(name, "\n")] = '\0';
	mod = strchr(name, '\t');
	if (mod) {
		/* "name\t[module]" */
		*mod++ = '\0';
		mod += strspn(mod, "[");
		mod[strcspn(mod, "]\t ")] = '\0';
	}
	if (!*name)
		return -EINVAL;
	id = strset__add(strs, name, strlen(name));
	if (id < 0)
		return id;
	sym->name = strset__str(strs, id);
	id = mod && *mod ? strset__add(strs, mod, strlen(mod)) : strset__add(strs, "[kernel]", 8);
	if (id < 0)
		return id;
	sym->module = strset__str(strs, id);
	return 0;
}

int ksyms__load(struct ksyms *ks, FILE *f, struct strset *strs)
{
	char *line = NULL;
	size_t linecap = 0;
	size_t parsed = 0;
	int err = 0;

	while (getline(&line, &linecap, f) > 0) {
		struct ksym sym;

		err = parse_line(line, &sym, strs);
		if (err == -ENOMEM)
			break;
		if (err == -EINVAL)
			continue;
		parsed++;
		if (err == -ENOENT) {	/* not a text symbol */
			err = 0;
			continue;
		}
		if (sym.addr == 0)	/* kptr_restrict hides addresses: useless */
			continue;
		err = ARRAY_GROW(ks->syms, ks->cap, ks->nr + 1, 4096);
		if (err)
			break;
		ks->syms[ks->nr++] = sym;
	}
	free(line);
	if (err)
		return err;
	if (!parsed)
		return -EINVAL;
	if (ks->nr)
		qsort(ks->syms, ks->nr, sizeof(*ks->syms), cmp_ksym);
	return 0;
}

const struct ksym *ksyms__find(const struct ksyms *ks, __u64 addr)
{
	size_t lo = sorted_count_le(ks->syms, ks->nr, sizeof(*ks->syms), addr);
	const struct ksym *sym;

	if (lo == 0)
		return NULL;
	sym = &ks->syms[lo - 1];
	/* among aliases at one address, the sort put the preferred name first */
	while (sym > ks->syms && sym[-1].addr == sym->addr)
		sym--;
	if (addr - sym->addr > KSYM_MAX_SPAN)
		return NULL;
	return sym;
}

void ksyms__release(struct ksyms *ks)
{
	free(ks->syms);
	ks->syms = NULL;
	ks->nr = ks->cap = 0;
}
