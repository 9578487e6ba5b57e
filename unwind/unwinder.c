// SPDX-License-Identifier: GPL-2.0
/*
 * The unwinder's user-space half: which binary each executable mapping of a
 * process holds, that binary's unwind table (built once, found again by
 * device/inode or build id), and the load bias turning addresses into ELF
 * addresses. Rows are written straight into the mmapped rows map; table
 * ranges and process mappings are written to their BPF maps after the rows
 * they point to, so the BPF side never sees a table before its rows.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "unwind.h"
#include "common/hashmap.h"
#include "common/log.h"
#include "symbolizer/symbolizer.h"

struct load_seg {
	__u64 offset, vaddr, filesz;
};

struct bin {
	__u32 table;		/* valid when has_table */
	bool has_table;
	struct load_seg *segs;	/* executable PT_LOADs */
	size_t nr_segs;
};

struct unwinder {
	struct unwinder_opts opts;
	char *proc_root;
	struct unwind_row *rows;	/* mmapped rows map, or heap without BPF */
	size_t rows_len;
	bool rows_mapped;
	struct unwind_table *tables;	/* user-space copy of the tables map */
	__u32 nr_rows, nr_tables;
	bool warned_full;

	struct bin *bins;
	size_t nr_bins, cap_bins;
	struct hashmap bin_by_inode;	/* hash(dev, inode) -> bin index */
	struct hashmap bin_by_build_id;	/* hash(build id) -> bin index */
	int vdso_bin;			/* -1: none */

	struct hashmap procs;		/* tgid -> struct unwind_proc * */
	size_t no_table, scans;
};

static int add_bin(struct unwinder *u)
{
	if (u->nr_bins == u->cap_bins) {
		size_t cap = u->cap_bins ? 2 * u->cap_bins : 64;
		struct bin *n = reallocarray(u->bins, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		u->bins = n;
		u->cap_bins = cap;
	}
	memset(&u->bins[u->nr_bins], 0, sizeof(u->bins[0]));
	return u->nr_bins++;
}

static int read_exec_segments(Elf *elf, struct bin *b)
{
	size_t phnum, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	b->segs = calloc(phnum ? phnum : 1, sizeof(*b->segs));
	if (!b->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		b->segs[b->nr_segs].offset = ph.p_offset;
		b->segs[b->nr_segs].vaddr = ph.p_vaddr;
		b->segs[b->nr_segs].filesz = ph.p_filesz;
		b->nr_segs++;
	}
	return b->nr_segs ? 0 : -ENOEXEC;
}

static void warn_full(struct unwinder *u, const char *name)
{
	if (!u->warned_full)
		pr_warn("unwind tables are full (%u rows, %u binaries): '%s' and later binaries fall back to frame pointers",
			u->nr_rows, u->nr_tables, name);
	u->warned_full = true;
}

/* Publish @rows as table b->table: rows first, then the range that points to them. */
static int store_table(struct unwinder *u, struct bin *b, const struct unwind_row *rows,
		       size_t nr, const char *name)
{
	struct unwind_table t;
	__u32 id = u->nr_tables;

	if (nr > u->opts.max_rows - u->nr_rows || id >= u->opts.max_tables) {
		warn_full(u, name);
		return -ENOSPC;
	}
	memcpy(&u->rows[u->nr_rows], rows, nr * sizeof(*rows));
	t.first = u->nr_rows;
	t.nr = nr;
	if (u->opts.tables_fd >= 0 && bpf_map_update_elem(u->opts.tables_fd, &id, &t, BPF_ANY)) {
		int err = -errno;

		pr_warn("cannot store the unwind table of '%s': %s", name, strerror(-err));
		return err;
	}
	u->tables[id] = t;
	u->nr_rows += nr;
	u->nr_tables++;
	b->table = id;
	b->has_table = true;
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void build_table(struct unwinder *u, struct bin *b, Elf *elf, const char *name)
{
	struct unwind_table_stats st;
	struct unwind_row *rows;
	struct unwind_build_limits lim;
	double t0 = now_ms();
	size_t nr;
	int err;

	if (read_exec_segments(elf, b)) {
		pr_debug("'%s': no executable segment", name);
		return;
	}
	lim.max_rows = u->opts.max_rows - u->nr_rows;
	lim.max_seconds = u->opts.max_build_seconds;
	err = lim.max_rows ? unwind_table__build(elf, name, &lim, &rows, &nr, &st) : -E2BIG;
	if (err == -E2BIG)
		warn_full(u, name);
	if (err)
		return;
	if (!store_table(u, b, rows, nr, name))
		pr_debug("'%s': unwind table %u, %zu rows, %zu unsupported, %.1f ms", name, b->table,
			 nr, st.unsupported, now_ms() - t0);
	free(rows);
}

static uint64_t build_id_key(Elf *elf)
{
	const void *bits;
	uint64_t h = 0;
	ssize_t len, i;

	len = dwelf_elf_gnu_build_id(elf, &bits);
	if (len <= 0)
		return 0;
	for (i = 0; i < len; i++)
		h = hash_u64(h ^ ((const unsigned char *)bits)[i]) + i;
	return h ? h : 1;
}

/* The bin of file mapping @m, opening and building it the first time. */
static int bin_for_map(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m)
{
	uint64_t key, bkey = 0, val;
	Elf *elf = NULL;
	int fd, idx;

	key = hash_u64(((uint64_t)m->dev_major << 44) ^ ((uint64_t)m->dev_minor << 32)) ^ m->inode;
	if (hashmap__get(&u->bin_by_inode, key, &val))
		return val;
	fd = symbolizer__open_mapping(u->proc_root, tgid, m->start, m->end, m->path);
	if (fd >= 0)
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		bkey = build_id_key(elf);
		if (bkey && hashmap__get(&u->bin_by_build_id, bkey, &val)) {
			/* the same binary under another inode (a copy, another container layer) */
			elf_end(elf);
			close(fd);
			return hashmap__set(&u->bin_by_inode, key, val) ? -ENOMEM : (int)val;
		}
	}
	idx = add_bin(u);
	if (idx >= 0) {
		if (elf && elf_kind(elf) == ELF_K_ELF)
			build_table(u, &u->bins[idx], elf, m->path);
		else
			pr_debug("cannot read '%s' of pid %u: %s", m->path, tgid,
				 fd < 0 ? strerror(-fd) : elf_errmsg(-1));
		if (!u->bins[idx].has_table)
			u->no_table++;
		if (hashmap__set(&u->bin_by_inode, key, idx) ||
		    (bkey && hashmap__set(&u->bin_by_build_id, bkey, idx)))
			idx = -ENOMEM;
	}
	elf_end(elf);
	if (fd >= 0)
		close(fd);
	return idx;
}

/* The kernel maps the same vDSO into every process: build its table from ours. */
static int vdso_size_cb(void *ctx, const struct sym_exec_map *m)
{
	size_t *size = ctx;

	if (m->vdso)
		*size = m->end - m->start;
	return 0;
}

static void load_vdso(struct unwinder *u)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	size_t size = 0;
	char *copy;
	Elf *elf;
	int idx;

	u->vdso_bin = -1;
	if (!base || symbolizer__for_each_exec_map(NULL, getpid(), vdso_size_cb, &size) || !size)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, (const void *)base, size);
	elf = elf_memory(copy, size);
	idx = elf ? add_bin(u) : -1;
	if (idx >= 0) {
		build_table(u, &u->bins[idx], elf, "[vdso]");
		u->vdso_bin = idx;
	}
	elf_end(elf);
	free(copy);
}

struct scan_ctx {
	struct unwinder *u;
	__u32 tgid;
	struct unwind_proc *p;
};

static int add_mapping_cb(void *data, const struct sym_exec_map *m)
{
	struct scan_ctx *c = data;
	struct unwind_mapping *um;
	const struct bin *b;
	int idx = -1;
	size_t i;

	if (c->p->nr >= MAX_UNWIND_MAPS)
		return 0;	/* later mappings: unknown to the unwinder, frame pointers */
	um = &c->p->maps[c->p->nr++];
	memset(um, 0, sizeof(*um));
	um->start = m->start;
	um->end = m->end;
	um->kind = UNWIND_MAP_NO_TABLE;
	if (m->anon || m->special) {
		um->kind = UNWIND_MAP_JIT;
		return 0;
	}
	if (m->vdso)
		idx = c->u->vdso_bin;
	else if (*m->path)
		idx = bin_for_map(c->u, c->tgid, m);
	if (idx == -ENOMEM)
		return idx;
	if (idx < 0 || !c->u->bins[idx].has_table)
		return 0;
	b = &c->u->bins[idx];
	for (i = 0; i < b->nr_segs; i++) {
		const struct load_seg *s = &b->segs[i];

		if ((s->offset & ~0xfffULL) <= m->pgoff && m->pgoff < s->offset + s->filesz)
			break;
	}
	if (i == b->nr_segs) {
		if (!m->vdso)
			return 0;
		i = 0;	/* a vDSO mapping has pgoff 0 */
	}
	um->bias = m->start - m->pgoff + b->segs[i].offset - b->segs[i].vaddr;
	um->table = b->table;
	um->kind = UNWIND_MAP_TABLE;
	return 0;
}

int unwinder__scan_process(struct unwinder *u, __u32 tgid)
{
	struct scan_ctx c = { .u = u, .tgid = tgid };
	struct unwind_proc *old = NULL;
	uint64_t val;
	int err;

	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return -ENOMEM;
	u->scans++;
	err = symbolizer__for_each_exec_map(u->proc_root, tgid, add_mapping_cb, &c);
	if (err) {
		free(c.p);
		return err;
	}
	if (!c.p->nr) {
		free(c.p);	/* a kernel thread: nothing to unwind */
		return 0;
	}
	if (hashmap__get(&u->procs, tgid, &val))
		old = (struct unwind_proc *)(uintptr_t)val;
	if (old && !memcmp(old, c.p, sizeof(*old))) {
		free(c.p);
		return 0;
	}
	if (u->opts.procs_fd >= 0 && bpf_map_update_elem(u->opts.procs_fd, &tgid, c.p, BPF_ANY)) {
		err = -errno;
		pr_debug("cannot store the mappings of pid %u: %s", tgid, strerror(-err));
		free(c.p);
		return err;
	}
	if (hashmap__set(&u->procs, tgid, (uintptr_t)c.p)) {
		free(c.p);
		return -ENOMEM;
	}
	free(old);
	return 0;
}

void unwinder__remove_process(struct unwinder *u, __u32 tgid)
{
	uint64_t val;

	if (hashmap__delete(&u->procs, tgid, &val))
		free((void *)(uintptr_t)val);
	if (u->opts.procs_fd >= 0)
		bpf_map_delete_elem(u->opts.procs_fd, &tgid);
}

int unwinder__list_processes(const struct unwinder *u, __u32 **tgids, size_t *nr)
{
	size_t i = 0, n = 0;
	uint64_t key;

	*tgids = calloc(u->procs.count ? u->procs.count : 1, sizeof(**tgids));
	if (!*tgids)
		return -ENOMEM;
	while (n < u->procs.count && hashmap__next(&u->procs, &i, &key, NULL))
		(*tgids)[n++] = key;
	*nr = n;
	return 0;
}

const struct unwind_proc *unwinder__process(const struct unwinder *u, __u32 tgid)
{
	uint64_t val;

	return hashmap__get(&u->procs, tgid, &val) ? (const struct unwind_proc *)(uintptr_t)val
						   : NULL;
}

const struct unwind_table *unwinder__table(const struct unwinder *u, __u32 id)
{
	return id < u->nr_tables ? &u->tables[id] : NULL;
}

const struct unwind_row *unwinder__row(const struct unwinder *u, __u32 idx)
{
	return idx < u->nr_rows ? &u->rows[idx] : NULL;
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st)
{
	st->processes = u->procs.count;
	st->tables = u->nr_tables;
	st->no_table = u->no_table;
	st->rows = u->nr_rows;
	st->max_rows = u->opts.max_rows;
	st->scans = u->scans;
}

static int map_rows(struct unwinder *u)
{
	size_t page = sysconf(_SC_PAGESIZE);

	u->rows_len = ((size_t)u->opts.max_rows * sizeof(struct unwind_row) + page - 1) & ~(page - 1);
	if (u->opts.rows_fd < 0) {
		u->rows = calloc(u->opts.max_rows, sizeof(*u->rows));
		return u->rows ? 0 : -ENOMEM;
	}
	u->rows = mmap(NULL, u->rows_len, PROT_READ | PROT_WRITE, MAP_SHARED, u->opts.rows_fd, 0);
	if (u->rows == MAP_FAILED) {
		u->rows = NULL;
		return -errno;
	}
	u->rows_mapped = true;
	return 0;
}

struct unwinder *unwinder__new(const struct unwinder_opts *opts)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	int err = -ENOMEM;

	if (!u)
		goto err_out;
	u->opts = *opts;
	if (!u->opts.max_rows || !u->opts.max_tables) {
		err = -EINVAL;
		goto err_out;
	}
	u->proc_root = strdup(opts->proc_root ? opts->proc_root : "/proc");
	u->tables = calloc(u->opts.max_tables, sizeof(*u->tables));
	if (!u->proc_root || !u->tables)
		goto err_out;
	err = map_rows(u);
	if (err) {
		pr_warn("cannot map the unwind rows: %s", strerror(-err));
		goto err_out;
	}
	elf_version(EV_CURRENT);
	load_vdso(u);
	return u;

err_out:
	unwinder__free(u);
	errno = -err;
	return NULL;
}

void unwinder__free(struct unwinder *u)
{
	size_t i = 0;
	uint64_t val;

	if (!u)
		return;
	while (hashmap__next(&u->procs, &i, NULL, &val))
		free((void *)(uintptr_t)val);
	hashmap__release(&u->procs);
	hashmap__release(&u->bin_by_inode);
	hashmap__release(&u->bin_by_build_id);
	for (i = 0; i < u->nr_bins; i++)
		free(u->bins[i].segs);
	free(u->bins);
	if (u->rows_mapped)
		munmap(u->rows, u->rows_len);
	else
		free(u->rows);
	free(u->tables);
	free(u->proc_root);
	free(u);
}
