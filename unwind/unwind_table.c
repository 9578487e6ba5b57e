// SPDX-License-Identifier: GPL-2.0
/*
 * Unwind rows from CFI, read with libdw. The binary's executable sections are
 * walked row by row: dwarf_cfi_addrframe() gives the frame state at an
 * address and dwarf_frame_info() the range over which that state holds, so
 * the next row starts at its end. Addresses without CFI (padding, code
 * without FDEs) get UNWIND_CFA_NONE rows. The rules libdw reports are
 * classified into the few the BPF unwinder follows; anything else becomes an
 * UNWIND_CFA_UNSUPPORTED row, where the BPF unwinder stops.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include "unwind.h"
#include "common/log.h"

/* DWARF register numbers on x86-64 */
#define REG_RAX 0
#define REG_RDX 1
#define REG_RBP 6
#define REG_RSP 7
#define REG_RA 16

/*
 * The rows derived so far: all of them, or with @emit the ones not handed on
 * yet (a window of ROW_WINDOW; the last row stays, a later one may merge
 * into it).
 */
struct row_buf {
	struct unwind_row *rows;
	size_t nr, cap;
	size_t done;		/* rows handed to @emit */
	int (*emit)(void *ctx, const struct unwind_row *rows, size_t n);
	void *ctx;
	void *map;		/* the ELF file's mapping, dropped from RSS now and then */
	size_t map_len;
	size_t dropped_at;	/* rows handed on when it last was */
	size_t max;		/* give up beyond this many rows */
	double deadline;	/* ... or past this thread CPU time; 0: none */
	const volatile bool *cancel;	/* ... or once this is set */
	unsigned int ticks;	/* work done since the last look at the clock */
};

static double thread_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Every so many rows or gap probes: past the deadline (-ETIME), or asked to
 * stop (-ECANCELED)? The thread CPU clock is a system call: not every time.
 */
static int check_budget(struct row_buf *b)
{
	if (b->ticks++ & 63)
		return 0;
	if (b->cancel && *b->cancel)
		return -ECANCELED;
	if (b->deadline && thread_seconds() > b->deadline)
		return -ETIME;
	return 0;
}

/* Rows between two drops of the ELF file's pages (cc1: about 330 KB of .eh_frame) */
#define DROP_ROWS 65536

static int push_row(struct row_buf *b, const struct unwind_row *r)
{
	int err;

	if (b->nr) {
		struct unwind_row *last = &b->rows[b->nr - 1];

		if (last->pc == r->pc) {
			*last = *r;	/* an empty range: the later rule wins */
			return 0;
		}
		if (last->type == r->type && last->cfa_off == r->cfa_off &&
		    last->rbp_off == r->rbp_off)
			return 0;	/* same rules: the previous row extends */
	}
	if (b->max && b->done + b->nr >= b->max)
		return -E2BIG;
	/* libdw runs an FDE's program from its start for each row: huge functions cost more */
	err = check_budget(b);
	if (err)
		return err;
	if (b->nr == b->cap && b->emit && b->nr > 1) {
		err = b->emit(b->ctx, b->rows, b->nr - 1);
		if (err)
			return err;
		b->done += b->nr - 1;
		b->rows[0] = b->rows[b->nr - 1];
		b->nr = 1;
		/* not at each window: libdw reads what it needs again, each page a fault */
		if (b->map && b->done - b->dropped_at >= DROP_ROWS) {
			madvise(b->map, b->map_len, MADV_DONTNEED);
			b->dropped_at = b->done;
		}
	}
	if (b->nr == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct unwind_row *n = reallocarray(b->rows, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		b->rows = n;
		b->cap = cap;
	}
	b->rows[b->nr++] = *r;
	return 0;
}

/*
 * The expression GCC/binutils attach to PLT entries:
 *   DW_OP_breg7 (rsp) N; DW_OP_breg16 (rip) 0; DW_OP_lit15; DW_OP_and;
 *   DW_OP_litT; DW_OP_ge; DW_OP_lit3; DW_OP_shl; DW_OP_plus
 * i.e. CFA = rsp + N + ((rip & 15) >= T ? 8 : 0).
 */
static bool is_plt_expr(const Dwarf_Op *ops, size_t n, __s32 *off, __s32 *thr)
{
	if (n != 9 || ops[0].atom != DW_OP_breg7 || ops[1].atom != DW_OP_breg16 ||
	    ops[1].number != 0 || ops[2].atom != DW_OP_lit15 || ops[3].atom != DW_OP_and ||
	    ops[4].atom < DW_OP_lit0 || ops[4].atom > DW_OP_lit15 || ops[5].atom != DW_OP_ge ||
	    ops[6].atom != DW_OP_lit3 || ops[7].atom != DW_OP_shl || ops[8].atom != DW_OP_plus)
		return false;
	*off = (__s32)(Dwarf_Sword)ops[0].number;
	*thr = ops[4].atom - DW_OP_lit0;
	return true;
}

/*
 * A register saved at CFA + offset: libdw describes it as DW_OP_call_frame_cfa
 * optionally followed by DW_OP_plus_uconst (with the signed offset).
 */
static bool is_cfa_offset(const Dwarf_Op *ops, size_t n, __s32 *off)
{
	Dwarf_Sword v;

	if (n < 1 || n > 2 || ops[0].atom != DW_OP_call_frame_cfa)
		return false;
	if (n == 1) {
		*off = 0;
		return true;
	}
	if (ops[1].atom != DW_OP_plus_uconst)
		return false;
	v = (Dwarf_Sword)ops[1].number;
	if (v < -0x7fffffff || v > 0x7fffffff)
		return false;
	*off = (__s32)v;
	return true;
}

/* Does the frame save register @reg in a stack slot (at CFA + offset)? */
static bool saved_on_stack(Dwarf_Frame *f, int reg)
{
	Dwarf_Op mem[3], *ops;
	size_t n;
	__s32 off;

	return !dwarf_frame_register(f, reg, mem, &ops, &n) && is_cfa_offset(ops, n, &off);
}

static __u32 classify_cfa(Dwarf_Frame *f, struct unwind_row *r)
{
	Dwarf_Op *ops;
	size_t n;

	if (dwarf_frame_cfa(f, &ops, &n) || n == 0)
		return UNWIND_CFA_UNSUPPORTED;
	if (n == 1 && ops[0].atom == DW_OP_bregx &&
	    (ops[0].number == REG_RSP || ops[0].number == REG_RBP)) {
		Dwarf_Sword off = (Dwarf_Sword)ops[0].number2;

		if (off < -0x7fffffff || off > 0x7fffffff)
			return UNWIND_CFA_UNSUPPORTED;
		r->cfa_off = (__s32)off;
		return ops[0].number == REG_RSP ? UNWIND_CFA_RSP : UNWIND_CFA_RBP;
	}
	if (is_plt_expr(ops, n, &r->cfa_off, &r->rbp_off))
		return UNWIND_CFA_PLT;
	return UNWIND_CFA_UNSUPPORTED;
}

/* Fill @r with the rules of frame state @f. Returns false for unsupported rules. */
static bool classify(Dwarf_Frame *f, bool signal, struct unwind_row *r)
{
	Dwarf_Op mem[3], *ops;
	__u32 cfa;
	size_t n;
	__s32 off;

	if (signal) {
		/* the kernel's rt_sigframe: the registers come from its ucontext */
		r->type = UNWIND_ROW_TYPE(UNWIND_CFA_SIGNAL, UNWIND_RBP_SAME);
		return true;
	}
	if (dwarf_frame_register(f, REG_RA, mem, &ops, &n))
		return false;
	if (n == 0 && ops == mem) {
		/* return address undefined: _start, clone3's child, start_thread */
		r->type = UNWIND_ROW_TYPE(UNWIND_CFA_ROOT, UNWIND_RBP_SAME);
		return true;
	}
	if (!is_cfa_offset(ops, n, &off) || off != -8)
		return false;
	cfa = classify_cfa(f, r);
	if (cfa == UNWIND_CFA_UNSUPPORTED)
		return false;
	r->type = UNWIND_ROW_TYPE(cfa, UNWIND_RBP_SAME);
	if (cfa == UNWIND_CFA_PLT)
		return true;	/* rbp_off holds the threshold; PLT code never touches rbp */
	if (saved_on_stack(f, REG_RAX) && saved_on_stack(f, REG_RDX))
		r->type |= UNWIND_ROW_EH_RETURN;
	if (dwarf_frame_register(f, REG_RBP, mem, &ops, &n))
		return false;
	if (n == 0)
		return true;	/* same value, or undefined (only ever in outermost frames) */
	if (!is_cfa_offset(ops, n, &r->rbp_off))
		return false;
	r->type = UNWIND_ROW_TYPE(cfa, UNWIND_RBP_OFFSET) | (r->type & UNWIND_ROW_EH_RETURN);
	return true;
}

struct range {
	GElf_Addr start, end;
};

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Executable sections (or PF_X segments when there are no section headers). */
static int exec_ranges(Elf *elf, struct range **out, size_t *nr)
{
	struct range *r = NULL;
	size_t n = 0, cap = 0, phnum, kept = 1, i;
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	GElf_Phdr ph;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_EXECINSTR) ||
		    sh.sh_type != SHT_PROGBITS || !sh.sh_size)
			continue;
		if (n == cap) {
			struct range *t = reallocarray(r, cap = cap ? 2 * cap : 16, sizeof(*t));

			if (!t)
				goto err_nomem;
			r = t;
		}
		r[n].start = sh.sh_addr;
		r[n++].end = sh.sh_addr + sh.sh_size;
	}
	if (!n && !elf_getphdrnum(elf, &phnum)) {
		r = calloc(phnum ? phnum : 1, sizeof(*r));
		if (!r)
			goto err_nomem;
		for (i = 0; i < phnum; i++) {
			if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
				continue;
			r[n].start = ph.p_vaddr;
			r[n++].end = ph.p_vaddr + ph.p_memsz;
		}
	}
	if (n)
		qsort(r, n, sizeof(*r), cmp_range);
	/*
	 * Sections that overlap (a damaged file, or .plt.got placed inside
	 * .text) would give rows out of pc order: each range starts where the
	 * one before it ends, and one left empty goes.
	 */
	for (i = 1; i < n; i++) {
		if (r[i].start < r[kept - 1].end)
			r[i].start = r[kept - 1].end;
		if (r[i].start < r[i].end)
			r[kept++] = r[i];
	}
	*out = r;
	*nr = n ? kept : 0;
	return 0;

err_nomem:
	free(r);
	return -ENOMEM;
}

/*
 * The start address of every FDE, sorted: .eh_frame_hdr's search table, the
 * index libdw searches too. It only serves to jump over code without CFI
 * (most of a binary built without unwind tables, such as Chromium) instead
 * of probing it address by address; libdw still reads every FDE. Only the
 * encodings linkers write on x86-64 are taken (a table of datarel sdata4
 * pairs after a 4- or 8-byte pointer and a udata4 count); otherwise, or when
 * the table does not fit its section, gaps are probed one address at a time.
 */
struct fde_index {
	const unsigned char *table;	/* (initial location, FDE address) pairs */
	size_t count;
	GElf_Addr base;			/* the section's address: locations are relative to it */
};

#define EH_PE_UDATA4 0x03
#define EH_PE_DATAREL_SDATA4 0x3b

static __s32 read_s32(const unsigned char *p)
{
	__u32 v = p[0] | p[1] << 8 | p[2] << 16 | (__u32)p[3] << 24;

	return (__s32)v;
}

static void fde_index_init(Elf *elf, struct fde_index *idx)
{
	const unsigned char *p;
	Elf_Scn *scn = NULL;
	size_t shstrndx, ptr_size;
	Elf_Data *d;
	GElf_Shdr sh;
	const char *name;
	char *ident;

	memset(idx, 0, sizeof(*idx));
	ident = elf_getident(elf, NULL);
	if (!ident || ident[EI_DATA] != ELFDATA2LSB || elf_getshdrstrndx(elf, &shstrndx))
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, shstrndx, sh.sh_name) : NULL;
		if (name && !strcmp(name, ".eh_frame_hdr") && sh.sh_type == SHT_PROGBITS)
			break;
	}
	d = scn ? elf_getdata(scn, NULL) : NULL;
	if (!d || !d->d_buf || d->d_size < 4)
		return;
	p = d->d_buf;
	/* version 1; the pointer to .eh_frame: 4 or 8 bytes; a udata4 count; datarel table */
	ptr_size = (p[1] & 0x0f) == 0x03 || (p[1] & 0x0f) == 0x0b ? 4 :
		   (p[1] & 0x0f) == 0x04 || (p[1] & 0x0f) == 0x0c || p[1] == 0x00 ? 8 : 0;
	if (p[0] != 1 || !ptr_size || p[2] != EH_PE_UDATA4 || p[3] != EH_PE_DATAREL_SDATA4 ||
	    d->d_size < 4 + ptr_size + 4)
		return;
	idx->count = (__u32)read_s32(p + 4 + ptr_size);
	idx->table = p + 4 + ptr_size + 4;
	if (idx->count > (d->d_size - 8 - ptr_size) / 8) {
		idx->count = 0;	/* a table longer than its section: not trusted */
		idx->table = NULL;
	}
	idx->base = sh.sh_addr;
}

/* The first FDE start above @addr, or @end when there is none before it. */
static GElf_Addr next_fde(const struct fde_index *idx, GElf_Addr addr, GElf_Addr end)
{
	size_t lo = 0, hi = idx->count;

	if (!idx->table)
		return addr + 1;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		GElf_Addr loc = idx->base + (GElf_Sxword)read_s32(idx->table + 8 * mid);

		if (loc <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* sorted by the linker; a table that is not sorted only costs probes */
	if (lo < idx->count) {
		GElf_Addr loc = idx->base + (GElf_Sxword)read_s32(idx->table + 8 * lo);

		if (loc > addr && loc < end)
			return loc;
	}
	return end;
}

/*
 * Where the CFI comes from. libdw keeps every FDE it has read in a search
 * tree that each dwarf_cfi_addrframe() call searches first (tfind: 11% of a
 * build of cc1's 45,000 FDEs) and never lets go of (2-3 MB for cc1). With
 * .eh_frame_hdr's search table an FDE is found again as cheaply without the
 * tree, so the Dwarf_CFI is begun anew every so many lookups: the tree stays
 * small. .debug_frame has no search table (libdw reads it in order up to the
 * FDE asked for): that CFI is kept for the whole walk.
 */
struct cfi_src {
	Elf *elf;
	Dwarf_CFI *cfi;
	bool renew;		/* from .eh_frame with a search table */
	unsigned int lookups;	/* since it was begun */
};

#define CFI_RENEW_LOOKUPS 256

static int cfi_addrframe(struct cfi_src *c, GElf_Addr addr, Dwarf_Frame **f)
{
	if (c->renew && ++c->lookups >= CFI_RENEW_LOOKUPS) {
		Dwarf_CFI *n = dwarf_getcfi_elf(c->elf);

		/* without a new one, the old one goes on */
		if (n) {
			dwarf_cfi_end(c->cfi);
			c->cfi = n;
		}
		c->lookups = 0;
	}
	return dwarf_cfi_addrframe(c->cfi, addr, f);
}

static int walk_range(struct cfi_src *cfi, const struct fde_index *idx, const struct range *rg,
		      struct row_buf *b, struct unwind_table_stats *st)
{
	struct unwind_row none = { 0 };
	GElf_Addr addr = rg->start;
	bool in_gap = false;
	int err;

	while (addr < rg->end) {
		struct unwind_row r = { 0 };
		Dwarf_Addr start, end;
		Dwarf_Frame *f;
		bool signal;

		if (cfi_addrframe(cfi, addr, &f)) {
			/* no FDE here: padding between functions, or code without CFI */
			if (!in_gap) {
				none.pc = addr;
				err = push_row(b, &none);
				if (err)
					return err;
				in_gap = true;
			}
			addr = next_fde(idx, addr, rg->end);
			err = check_budget(b);
			if (err)
				return err;
			continue;
		}
		if (dwarf_frame_info(f, &start, &end, &signal) < 0 || end <= addr) {
			free(f);
			return -EINVAL;
		}
		if (in_gap || addr == rg->start)
			st->fdes++;
		in_gap = false;
		if (!classify(f, signal, &r)) {
			memset(&r, 0, sizeof(r));
			r.type = UNWIND_ROW_TYPE(UNWIND_CFA_UNSUPPORTED, UNWIND_RBP_SAME);
			st->unsupported++;
		}
		free(f);
		r.pc = addr;
		err = push_row(b, &r);
		if (err)
			return err;
		addr = end;
	}
	/* nothing is known past the section */
	none.pc = rg->end;
	return push_row(b, &none);
}

static int build(Elf *elf, const char *name, const struct unwind_build_limits *lim,
		 struct row_buf *b, struct unwind_table_stats *st)
{
	struct unwind_table_stats local;
	struct range *ranges = NULL;
	struct fde_index idx;
	struct cfi_src src = { .elf = elf };
	Dwarf *dw = NULL;
	Dwarf_CFI *cfi;
	size_t nr_ranges = 0, i;
	int err;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	if (lim) {
		b->max = lim->max_rows;
		b->deadline = lim->max_seconds > 0 ? thread_seconds() + lim->max_seconds : 0;
		b->cancel = lim->cancel;
		b->map = b->emit ? lim->map : NULL;
		b->map_len = lim->map_len;
	}
	cfi = dwarf_getcfi_elf(elf);
	if (!cfi) {
		/* no .eh_frame: try .debug_frame */
		dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
		cfi = dw ? dwarf_getcfi(dw) : NULL;
		if (!cfi) {
			pr_debug("'%s': no call frame information", name);
			err = -ENOENT;
			goto out;
		}
	}
	err = exec_ranges(elf, &ranges, &nr_ranges);
	if (err)
		goto out;
	for (i = 0; i < nr_ranges; i++) {
		if (ranges[i].end > 0xffffffffULL) {
			pr_debug("'%s': code above 4 GiB, no unwind table", name);
			err = -ERANGE;
			goto out;
		}
	}
	/* .debug_frame has no search table: its gaps are probed */
	if (dw)
		memset(&idx, 0, sizeof(idx));
	else
		fde_index_init(elf, &idx);
	src.cfi = cfi;
	src.renew = !dw && idx.table;
	for (i = 0; i < nr_ranges && !err; i++)
		err = walk_range(&src, &idx, &ranges[i], b, st);
	cfi = src.cfi;
	if (!err && !st->fdes) {
		err = -ENOENT;
		pr_debug("'%s': no FDE covers its code", name);
	}
	if (err == -EINVAL)
		pr_warn("'%s': corrupt call frame information: %s", name, dwarf_errmsg(-1));
	if (err == -E2BIG)
		pr_debug("'%s': more than %zu unwind rows", name, b->max);
	if (err == -ETIME)
		pr_info("'%s': unwind table not built within %.1f s of CPU: frame pointers there",
			name, lim->max_seconds);

out:
	if (dw)
		dwarf_end(dw);	/* also frees the CFI it made */
	else if (cfi)
		dwarf_cfi_end(cfi);
	free(ranges);
	return err;
}

int unwind_table__build(Elf *elf, const char *name, const struct unwind_build_limits *lim,
			struct unwind_row **rows, size_t *nr, struct unwind_table_stats *st)
{
	struct row_buf b = { 0 };
	int err = build(elf, name, lim, &b, st);

	if (err) {
		free(b.rows);
		return err;
	}
	*rows = b.rows;
	*nr = b.nr;
	return 0;
}

/* Rows a streamed derivation holds at most (64 KiB). */
#define ROW_WINDOW 4096

int unwind_table__build_stream(Elf *elf, const char *name, const struct unwind_build_limits *lim,
			       int (*emit)(void *ctx, const struct unwind_row *rows, size_t n),
			       void *ctx, size_t *nr, struct unwind_table_stats *st)
{
	struct row_buf b = { .emit = emit, .ctx = ctx, .cap = ROW_WINDOW };
	int err;

	b.rows = malloc(ROW_WINDOW * sizeof(*b.rows));
	if (!b.rows)
		return -ENOMEM;
	err = build(elf, name, lim, &b, st);
	if (!err && b.nr)
		err = emit(ctx, b.rows, b.nr);
	free(b.rows);
	if (!err)
		*nr = b.done + b.nr;
	return err;
}


long unwind_table__find(const struct unwind_row *rows, size_t nr, __u64 pc)
{
	size_t lo = 0, hi = nr;

	/* the last row whose pc <= @pc */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rows[mid].pc <= pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? (long)lo - 1 : -1;
}
