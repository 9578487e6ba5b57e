// SPDX-License-Identifier: GPL-2.0
/*
 * The symbolizer object: the kernel symbol table, a table of processes and
 * their executable mappings, and the binaries (DSOs) those mappings point to.
 * DSOs are shared: a mapping is matched to an already-open DSO by (device,
 * inode) first and by build id second, so each binary is read once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libelf.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

struct proc {
	__u32 tgid;
	struct proc_map *maps;	/* executable mappings, sorted by start */
	size_t nr_maps;
	__u64 loaded_gen;	/* generation of the last maps read */
	bool gone;		/* /proc/PID/maps could not be read */
};

struct dso_entry {
	struct dso *dso;	/* NULL: opening failed, remembered so it is not retried */
	const char *name;	/* basename, interned */
};

struct symbolizer {
	char *proc_root;
	struct strset *strs;
	struct ksyms ksyms;
	bool ksyms_loaded;
	int ksyms_err;

	struct hashmap procs;		/* tgid -> struct proc * */
	struct dso_entry *dsos;
	size_t nr_dsos, cap_dsos;
	struct hashmap dso_by_inode;	/* hash(dev, inode) -> dso index */
	struct hashmap dso_by_build_id;	/* strset id of build id -> dso index */
	size_t dso_failures;
	__u64 gen;
};

static const char *intern(struct symbolizer *s, const char *str)
{
	int id = strset__add(s->strs, str, strlen(str));

	return id < 0 ? NULL : strset__str(s->strs, id);
}

struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts)
{
	struct symbolizer *s;

	elf_version(EV_CURRENT);
	s = calloc(1, sizeof(*s));
	if (!s)
		goto err_nomem;
	s->proc_root = strdup(opts && opts->proc_root ? opts->proc_root : "/proc");
	s->strs = strset__new();
	if (!s->proc_root || !s->strs)
		goto err_nomem;
	if (opts && opts->kallsyms_path) {
		FILE *f = fopen(opts->kallsyms_path, "r");
		int err;

		if (!f) {
			err = -errno;
			pr_warn("cannot open '%s': %s", opts->kallsyms_path, strerror(-err));
			symbolizer__free(s);
			errno = -err;
			return NULL;
		}
		err = ksyms__load(&s->ksyms, f, s->strs);
		fclose(f);
		if (err) {
			pr_warn("cannot parse '%s': %s", opts->kallsyms_path, strerror(-err));
			symbolizer__free(s);
			errno = -err;
			return NULL;
		}
		s->ksyms_loaded = true;
	}
	s->gen = 1;
	return s;

err_nomem:
	symbolizer__free(s);
	errno = ENOMEM;
	return NULL;
}

static void proc__free(struct proc *p)
{
	if (!p)
		return;
	free(p->maps);
	free(p);
}

void symbolizer__free(struct symbolizer *s)
{
	size_t i = 0;
	uint64_t val;

	if (!s)
		return;
	while (hashmap__next(&s->procs, &i, NULL, &val))
		proc__free((struct proc *)(uintptr_t)val);
	hashmap__release(&s->procs);
	for (i = 0; i < s->nr_dsos; i++)
		dso__free(s->dsos[i].dso);
	free(s->dsos);
	hashmap__release(&s->dso_by_inode);
	hashmap__release(&s->dso_by_build_id);
	ksyms__release(&s->ksyms);
	strset__free(s->strs);
	free(s->proc_root);
	free(s);
}

void symbolizer__next_generation(struct symbolizer *s)
{
	s->gen++;
}

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st)
{
	st->processes = s->procs.count;
	st->dsos = s->nr_dsos - s->dso_failures;
	st->dso_failures = s->dso_failures;
	st->kernel_symbols = s->ksyms.nr;
}

/* ---- kernel ---- */

static void load_kallsyms(struct symbolizer *s)
{
	struct strbuf path = STRBUF_INIT;
	FILE *f;

	s->ksyms_loaded = true;
	if (strbuf__addf(&path, "%s/kallsyms", s->proc_root)) {
		s->ksyms_err = -ENOMEM;
		return;
	}
	f = fopen(strbuf__str(&path), "r");
	if (!f) {
		s->ksyms_err = -errno;
		pr_warn("cannot open '%s': %s; kernel frames stay unnamed", strbuf__str(&path),
			strerror(-s->ksyms_err));
		strbuf__release(&path);
		return;
	}
	s->ksyms_err = ksyms__load(&s->ksyms, f, s->strs);
	if (s->ksyms_err)
		pr_warn("cannot parse '%s': %s; kernel frames stay unnamed", strbuf__str(&path),
			strerror(-s->ksyms_err));
	else if (!s->ksyms.nr)
		pr_warn("'%s' shows no addresses (kptr_restrict?); kernel frames stay unnamed",
			strbuf__str(&path));
	fclose(f);
	strbuf__release(&path);
}

int symbolizer__kernel(struct symbolizer *s, __u64 addr, struct sym_frame *out)
{
	const struct ksym *sym;

	if (!s->ksyms_loaded)
		load_kallsyms(s);
	out->name = NULL;
	out->module = "[kernel]";
	out->offset = addr;
	sym = ksyms__find(&s->ksyms, addr);
	if (!sym)
		return -ENOENT;
	out->name = sym->name;
	out->module = sym->module;
	return 0;
}

/* ---- processes ---- */

static int cmp_map(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int read_maps(struct symbolizer *s, struct proc *p)
{
	struct strbuf path = STRBUF_INIT;
	struct proc_map *maps = NULL, m;
	size_t nr = 0, cap = 0, linecap = 0;
	char *line = NULL;
	int err = 0;
	FILE *f;

	if (strbuf__addf(&path, "%s/%u/maps", s->proc_root, p->tgid))
		return -ENOMEM;
	f = fopen(strbuf__str(&path), "r");
	if (!f) {
		err = -errno;
		pr_debug("cannot open '%s': %s", strbuf__str(&path), strerror(-err));
		strbuf__release(&path);
		return err;
	}
	while (getline(&line, &linecap, f) > 0) {
		if (proc_map__parse(line, &m, s->strs) || !m.exec)
			continue;
		if (nr == cap) {
			struct proc_map *n;

			cap = cap ? cap * 2 : 32;
			n = reallocarray(maps, cap, sizeof(*n));
			if (!n) {
				err = -ENOMEM;
				break;
			}
			maps = n;
		}
		maps[nr++] = m;
	}
	free(line);
	fclose(f);
	strbuf__release(&path);
	if (err) {
		free(maps);
		return err;
	}
	qsort(maps, nr, sizeof(*maps), cmp_map);
	free(p->maps);
	p->maps = maps;
	p->nr_maps = nr;
	p->loaded_gen = s->gen;
	return 0;
}

static struct proc *get_proc(struct symbolizer *s, __u32 tgid, bool create)
{
	struct proc *p;
	uint64_t val;

	if (hashmap__get(&s->procs, tgid, &val))
		return (struct proc *)(uintptr_t)val;
	if (!create)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	if (read_maps(s, p))
		p->gone = true;	/* remembered: do not retry on every frame */
	if (hashmap__set(&s->procs, tgid, (uintptr_t)p)) {
		proc__free(p);
		return NULL;
	}
	return p;
}

int symbolizer__add_process(struct symbolizer *s, __u32 tgid)
{
	struct proc *p = get_proc(s, tgid, true);

	if (!p)
		return -ENOMEM;
	return p->gone ? -ESRCH : 0;
}

static struct proc_map *find_map(struct proc *p, __u64 addr)
{
	size_t lo = 0, hi = p->nr_maps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (addr < p->maps[mid].start)
			hi = mid;
		else if (addr >= p->maps[mid].end)
			lo = mid + 1;
		else
			return &p->maps[mid];
	}
	return NULL;
}

/* ---- binaries ---- */

static int add_dso_entry(struct symbolizer *s, struct dso *dso, const char *path)
{
	const char *base = strrchr(path, '/');
	struct dso_entry *e;

	if (s->nr_dsos == s->cap_dsos) {
		size_t cap = s->cap_dsos ? s->cap_dsos * 2 : 64;

		e = reallocarray(s->dsos, cap, sizeof(*e));
		if (!e)
			return -ENOMEM;
		s->dsos = e;
		s->cap_dsos = cap;
	}
	e = &s->dsos[s->nr_dsos];
	e->dso = dso;
	e->name = intern(s, base ? base + 1 : path);
	if (!e->name)
		return -ENOMEM;
	if (!dso)
		s->dso_failures++;
	return s->nr_dsos++;
}

static int open_mapping_file(struct symbolizer *s, const struct proc *p, const struct proc_map *m)
{
	return symbolizer__open_mapping(s->proc_root, p->tgid, m->start, m->end, m->path);
}

static int dso_for_map(struct symbolizer *s, struct proc *p, struct proc_map *m)
{
	uint64_t key, val;
	struct dso *dso;
	int fd, idx, id;

	if (m->dso >= 0)
		return m->dso;
	key = hash_u64(((uint64_t)m->dev_major << 44) ^ ((uint64_t)m->dev_minor << 32)) ^
	      m->inode;
	if (hashmap__get(&s->dso_by_inode, key, &val)) {
		m->dso = val;
		return m->dso;
	}
	fd = open_mapping_file(s, p, m);
	if (fd < 0) {
		pr_debug("cannot open '%s' of pid %u: %s", m->path, p->tgid, strerror(-fd));
		dso = NULL;	/* remember the failure for this mapping's file */
	} else {
		dso = dso__open(fd, m->path);
	}
	if (dso && dso__build_id(dso)[0]) {
		id = strset__add(s->strs, dso__build_id(dso), strlen(dso__build_id(dso)));
		if (id >= 0 && hashmap__get(&s->dso_by_build_id, id, &val)) {
			/* same binary under another inode (copied, another container layer) */
			dso__free(dso);
			m->dso = val;
			return hashmap__set(&s->dso_by_inode, key, val) ? -ENOMEM : m->dso;
		}
	} else {
		id = -1;
	}
	idx = add_dso_entry(s, dso, m->path);
	if (idx < 0) {
		dso__free(dso);
		return idx;
	}
	if (hashmap__set(&s->dso_by_inode, key, idx) ||
	    (id >= 0 && hashmap__set(&s->dso_by_build_id, id, idx)))
		return -ENOMEM;
	m->dso = idx;
	return idx;
}

static const char *map_module_name(struct symbolizer *s, const struct proc_map *m)
{
	const char *base;

	switch (m->kind) {
	case MAP_ANON:
		return "[anon]";
	case MAP_VDSO:
		return "[vdso]";
	case MAP_SPECIAL:
		return m->path;
	case MAP_FILE:
	default:
		base = strrchr(m->path, '/');
		return base ? intern(s, base + 1) : m->path;
	}
}

int symbolizer__user(struct symbolizer *s, __u32 tgid, __u64 addr, struct sym_frame *out)
{
	struct proc_map *m;
	struct proc *p;
	__u64 off, vaddr;
	int idx;

	out->name = NULL;
	out->module = NULL;
	out->offset = addr;
	p = get_proc(s, tgid, true);
	if (!p)
		return -ENOMEM;
	m = find_map(p, addr);
	if (!m && p->loaded_gen != s->gen && !p->gone) {
		/* a library mapped since the last read (dlopen): read once more */
		if (read_maps(s, p))
			p->gone = true;
		m = find_map(p, addr);
	}
	if (!m)
		return p->gone && !p->nr_maps ? -ESRCH : -ENOENT;
	out->module = map_module_name(s, m);
	if (m->kind != MAP_FILE)
		return -ENOENT;
	proc_map__file_offset(m, addr, &off);
	out->offset = off;
	idx = dso_for_map(s, p, m);
	if (idx < 0)
		return idx;
	out->module = s->dsos[idx].name;
	if (!s->dsos[idx].dso || !dso__offset_to_vaddr(s->dsos[idx].dso, off, &vaddr))
		return -ENOENT;
	out->name = dso__find_symbol(s->dsos[idx].dso, vaddr);
	return out->name ? 0 : -ENOENT;
}
