// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel symbols from /proc/kallsyms: text symbols of the core image and of
 * loaded modules, sorted for binary search. kallsyms has no sizes, so a symbol
 * covers addresses up to the next one. A kernel built with call padding
 * lists __pfx_NAME (the padding) just before each NAME: NAME's string is
 * the tail of __pfx_NAME's, stored once (about a third of the names' bytes).
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

static int cmp_ksym(const void *a, const void *b, void *arg)
{
	const struct ksym *x = a, *y = b;
	const char *names = arg;
	size_t lx, ly;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* deterministic choice among aliases: the shorter, then smaller name */
	lx = strlen(names + x->name);
	ly = strlen(names + y->name);
	if (lx != ly)
		return lx < ly ? -1 : 1;
	return strcmp(names + x->name, names + y->name);
}

static bool is_text_type(char t)
{
	return t == 't' || t == 'T' || t == 'w' || t == 'W';
}

/* The index of module @mod in ks->modules, adding it (interned in @strs) if new. */
static int module_index(struct ksyms *ks, const char *mod, struct strset *strs)
{
	const char *s;
	size_t i;
	int id;

	/* symbols come grouped by module: the last one is almost always it */
	for (i = ks->nr_modules; i-- > 0;)
		if (!strcmp(ks->modules[i], mod))
			return i;
	id = strset__add(strs, mod, strlen(mod));
	if (id < 0)
		return id;
	s = strset__str(strs, id);
	if (ARRAY_GROW(ks->modules, ks->cap_modules, ks->nr_modules + 1, 64))
		return -ENOMEM;
	ks->modules[ks->nr_modules] = s;
	return ks->nr_modules++;
}

#define PFX "__pfx_"
#define PFX_LEN (sizeof(PFX) - 1)
#define NO_PFX ((size_t)-1)

static int parse_line(char *line, struct ksyms *ks, struct ksym *sym, struct strset *strs,
		      size_t *pfx)
{
	char *end, *name, *mod;
	size_t len;
	char type;
	int idx;

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
	if (sym->addr == 0)	/* kptr_restrict hides addresses: useless */
		return -ENOENT;
	idx = module_index(ks, mod && *mod ? mod : "[kernel]", strs);
	if (idx < 0)
		return idx;
	sym->module = idx;
	/* "__pfx_NAME" came last: NAME is its tail */
	if (*pfx != NO_PFX && !strcmp(ks->names + *pfx + PFX_LEN, name)) {
		sym->name = *pfx + PFX_LEN;
		*pfx = NO_PFX;
		return 0;
	}
	len = strlen(name) + 1;
	if (ks->names_len + len > UINT32_MAX)
		return -ENOMEM;
	if (ARRAY_GROW(ks->names, ks->names_cap, ks->names_len + len, 1 << 16))
		return -ENOMEM;
	memcpy(ks->names + ks->names_len, name, len);
	sym->name = ks->names_len;
	ks->names_len += len;
	*pfx = strncmp(name, PFX, PFX_LEN) ? NO_PFX : sym->name;
	return 0;
}

/* Give back what the doubling arrays hold beyond what they use. */
static void shrink(struct ksyms *ks)
{
	void *p;

	if (ks->nr && (p = realloc(ks->syms, ks->nr * sizeof(*ks->syms)))) {
		ks->syms = p;
		ks->cap = ks->nr;
	}
	if (ks->names_len && (p = realloc(ks->names, ks->names_len))) {
		ks->names = p;
		ks->names_cap = ks->names_len;
	}
}

int ksyms__load(struct ksyms *ks, FILE *f, struct strset *strs)
{
	char *line = NULL;
	size_t linecap = 0;
	size_t parsed = 0, pfx = NO_PFX;
	int err = 0;

	while (getline(&line, &linecap, f) > 0) {
		struct ksym sym;

		err = parse_line(line, ks, &sym, strs, &pfx);
		if (err == -ENOMEM)
			break;
		if (err == -EINVAL || err == -ENOENT) {
			/* -ENOENT: not a text symbol, or no address */
			parsed += err == -ENOENT;
			err = 0;
			continue;
		}
		parsed++;
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
	shrink(ks);
	if (ks->nr)
		qsort_r(ks->syms, ks->nr, sizeof(*ks->syms), cmp_ksym, ks->names);
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
	free(ks->names);
	free(ks->modules);
	memset(ks, 0, sizeof(*ks));
}
