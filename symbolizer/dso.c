// SPDX-License-Identifier: GPL-2.0
/*
 * One binary (executable or shared library): its build id, its PT_LOAD
 * segments (to turn file offsets into ELF addresses) and a sorted table of its
 * function symbols. libdwfl reads .symtab, falls back to .dynsym, and finds a
 * separate debug file's symbols (build-id directory, .gnu_debuglink) or
 * MiniDebugInfo when the binary itself is stripped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>

#include "symbolizer_internal.h"
#include "common/log.h"

struct dso_sym {
	__u64 start;
	__u64 size;
	const char *name;	/* points into the ELF string table held by dwfl */
	int bind_rank;		/* GLOBAL < WEAK < LOCAL: which alias wins */
};

struct load_seg {
	__u64 offset, vaddr, filesz;
};

struct dso {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char build_id[2 * 64 + 1];
	struct load_seg *segs;
	size_t nr_segs;
	struct dso_sym *syms;
	size_t nr_syms;
};

static char *debuginfo_path;

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

static int bind_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

static int cmp_sym(const void *a, const void *b)
{
	const struct dso_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->bind_rank != y->bind_rank)
		return x->bind_rank - y->bind_rank;
	if ((x->size == 0) != (y->size == 0))
		return x->size == 0 ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int read_segments(struct dso *d, Elf *elf)
{
	size_t phnum, i;

	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	d->segs = calloc(phnum ? phnum : 1, sizeof(*d->segs));
	if (!d->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		d->segs[d->nr_segs].offset = ph.p_offset;
		d->segs[d->nr_segs].vaddr = ph.p_vaddr;
		d->segs[d->nr_segs].filesz = ph.p_filesz;
		d->nr_segs++;
	}
	return d->nr_segs ? 0 : -ENOEXEC;
}

static int read_symbols(struct dso *d, GElf_Addr bias)
{
	int n = dwfl_module_getsymtab(d->mod), i;
	size_t out = 0;

	if (n <= 0)
		return 0;	/* no symbols at all: every address is [unknown] */
	d->syms = calloc(n, sizeof(*d->syms));
	if (!d->syms)
		return -ENOMEM;
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name;
		int type;

		name = dwfl_module_getsym_info(d->mod, i, &sym, &addr, NULL, NULL, NULL);
		if (!name || !*name || sym.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		d->syms[out].start = addr - bias;
		d->syms[out].size = sym.st_size;
		d->syms[out].name = name;
		d->syms[out].bind_rank = bind_rank(GELF_ST_BIND(sym.st_info));
		out++;
	}
	qsort(d->syms, out, sizeof(*d->syms), cmp_sym);
	d->nr_syms = out;
	return 0;
}

static void read_build_id(struct dso *d)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len, i;

	len = dwfl_module_build_id(d->mod, &bits, &vaddr);
	if (len <= 0 || len > 64)
		return;
	for (i = 0; i < len; i++)
		snprintf(d->build_id + 2 * i, 3, "%02x", bits[i]);
}

struct dso *dso__open(int fd, const char *path)
{
	struct dso *d;
	GElf_Addr bias;
	Elf *elf;
	int err;

	d = calloc(1, sizeof(*d));
	if (!d) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	d->dwfl = dwfl_begin(&offline_callbacks);
	if (!d->dwfl) {
		close(fd);
		pr_warn("'%s': %s", path, dwfl_errmsg(-1));
		err = -ENOMEM;
		goto err_out;
	}
	/* libdwfl takes @fd over from here, also on failure */
	d->mod = dwfl_report_elf(d->dwfl, path, path, fd, 0, false);
	if (!d->mod || dwfl_report_end(d->dwfl, NULL, NULL)) {
		pr_warn("'%s': not a usable ELF file: %s", path, dwfl_errmsg(-1));
		err = -ENOEXEC;
		goto err_out;
	}
	elf = dwfl_module_getelf(d->mod, &bias);
	if (!elf) {
		pr_warn("'%s': cannot read ELF: %s", path, dwfl_errmsg(-1));
		err = -ENOEXEC;
		goto err_out;
	}
	err = read_segments(d, elf);
	if (err) {
		pr_warn("'%s': no loadable segments", path);
		goto err_out;
	}
	read_build_id(d);
	err = read_symbols(d, bias);
	if (err)
		goto err_out;
	pr_debug("'%s': %zu function symbols, build id %s", path, d->nr_syms,
		 d->build_id[0] ? d->build_id : "(none)");
	return d;

err_out:
	dso__free(d);
	errno = -err;
	return NULL;
}

void dso__free(struct dso *d)
{
	if (!d)
		return;
	if (d->dwfl)
		dwfl_end(d->dwfl);
	free(d->segs);
	free(d->syms);
	free(d);
}

const char *dso__build_id(const struct dso *d)
{
	return d->build_id;
}

bool dso__offset_to_vaddr(const struct dso *d, __u64 off, __u64 *vaddr)
{
	size_t i;

	for (i = 0; i < d->nr_segs; i++) {
		const struct load_seg *s = &d->segs[i];

		if (off >= s->offset && off < s->offset + s->filesz) {
			*vaddr = off - s->offset + s->vaddr;
			return true;
		}
	}
	return false;
}

const char *dso__find_symbol(const struct dso *d, __u64 vaddr)
{
	size_t lo = 0, hi = d->nr_syms;
	const struct dso_sym *sym;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->syms[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	sym = &d->syms[lo - 1];
	while (sym > d->syms && sym[-1].start == sym->start)
		sym--;	/* the preferred alias sorts first */
	if (sym->size && vaddr - sym->start < sym->size)
		return sym->name;
	if (!sym->size) {
		/* sizeless (assembly) symbol: it runs up to the next symbol */
		return sym->name;
	}
	/*
	 * Past the end of the nearest symbol: the address may still be inside
	 * an enclosing larger symbol that starts earlier (nested labels).
	 */
	while (sym > d->syms) {
		sym--;
		if (sym->size && vaddr - sym->start < sym->size)
			return sym->name;
		if (vaddr - sym->start > (1u << 20))
			break;
	}
	return NULL;
}

size_t dso__nr_symbols(const struct dso *d)
{
	return d->nr_syms;
}
