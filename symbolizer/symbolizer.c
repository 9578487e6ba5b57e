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
#include <pthread.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <libelf.h>
#include <libiberty/demangle.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "bpf/profiler.h"
#include "common/array.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/clock.h"
#include "common/log.h"

struct proc {
	__u32 tgid;
	struct proc_map *maps;	/* executable mappings, sorted by start */
	size_t nr_maps;
	__u64 loaded_gen;	/* generation of the last maps read */
	__u64 exited_gen;	/* generation it exited in, 0 while alive */
	__u64 exited_ns;	/* CLOCK_MONOTONIC when its exit was noted */
	bool gone;		/* /proc/PID/maps could not be read */
	struct perf_map jit;	/* JIT symbols from its /tmp/perf-PID.map */
	__u64 jit_gen;		/* generation of the last perf map read */
	bool jit_warned;	/* a message about its perf map was given */
};

/* dso_by_fid: two files under one id: their frames stay unnamed rather than named wrong */
#define FID_AMBIGUOUS 0xffffffffULL

struct dso_entry {
	struct dso *dso;	/* NULL: opening failed (remembered so it is not retried), or evicted */
	const char *name;	/* basename, interned */
	const char *path;	/* as a mapping showed it (in its process's mount namespace) */
	const char *build_id;	/* interned hex, "" when none */
	struct hashmap cache;	/* vaddr -> (first frame in pool << 8 | count) */
	__u64 used_gen;		/* generation it last named an address in, or was opened */
	__u64 reopen_gen;	/* generation it was last opened again in, after an eviction */
	bool evicted;		/* its table went under the budget: opened again when needed */
	bool pinned;		/* the vDSO, a file opened by path: never evicted */
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
	/*
	 * unwind_file_id() of a mapping's (device, inode) -> dso index + 1,
	 * FID_AMBIGUOUS, or (generation << 32) when no mapping had it then
	 */
	struct hashmap dso_by_fid;
	__u64 fid_epoch;		/* moves when a file id names another dso than before */
	size_t dso_failures;
	size_t maps_reads;		/* processes' mappings read here (not offered) */
	int vdso;			/* dso index of the vDSO image, -1 not loaded yet */
	__u64 gen;
	__u64 jit_budget_gen;		/* generation jit_budget is for */
	size_t jit_budget;		/* perf map bytes this generation may still read */

	bool use_dwarf;
	bool full_names;		/* C++ names with their parameter lists */
	size_t dwarf_cap;
	size_t sym_cap;			/* bytes of symbol tables kept of binaries nothing maps */
	size_t sym_mem;			/* bytes in symbol tables, as of the last generation */
	size_t sym_evicted, sym_reopened;
	__u64 clock;			/* lookups so far: the LRU clock */
	__u64 gen_clock;		/* clock at the start of this generation */
	bool dwarf_full;		/* over the cap even after eviction: names only */

	/* resolved frames, shared by every DSO's cache */
	struct sym_frame *pool;
	size_t nr_pool, cap_pool;
	struct hashmap demangled;	/* raw name pointer -> demangled name pointer */

	/*
	 * Processes whose file mappings changed under an address (a library
	 * unloaded and another loaded where it was), since the last
	 * symbolizer__take_changed(): what callers cached of them is wrong.
	 */
	__u32 *changed;
	size_t nr_changed, cap_changed;

	/* mappings offered by other threads (symbolizer__offer_maps), oldest first */
	pthread_mutex_t offers_lock;
	struct offer *offers, **offers_tail;
};

struct offer {
	struct offer *next;
	__u64 made_ns;		/* CLOCK_MONOTONIC when it was offered */
	__u32 tgid;
	size_t nr;
	struct sym_exec_map maps[];	/* then the paths and build ids, each NUL-terminated */
};

static const char *intern(struct symbolizer *s, const char *str)
{
	int id = strset__add(s->strs, str, strlen(str));

	return id < 0 ? NULL : strset__str(s->strs, id);
}

/*
 * @str, or when it holds control characters or invalid UTF-8 (a binary's
 * names are anyone's bytes) an interned copy with those turned into '?'.
 */
static const char *clean(struct symbolizer *s, const char *str)
{
	size_t len;
	char *copy;
	int id;

	if (!str || sym_name__is_clean(str, (len = strlen(str))))
		return str;
	copy = malloc(len + 1);
	if (!copy)
		return NULL;
	sym_name__clean(copy, str, len);
	id = strset__add(s->strs, copy, len);
	free(copy);
	return id < 0 ? NULL : strset__str(s->strs, id);
}

/*
 * @str cleaned and interned: a frame's strings outlive the binary's symbol
 * table, which may be evicted (enforce_sym_cap()).
 */
static const char *keep(struct symbolizer *s, const char *str)
{
	const char *c = clean(s, str);

	return c == str && str ? intern(s, str) : c;
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
	if (opts && opts->debug_dir && dso__set_debug_dir(opts->debug_dir))
		goto err_nomem;
	pthread_mutex_init(&s->offers_lock, NULL);
	s->offers_tail = &s->offers;
	s->gen = 1;
	s->vdso = -1;
	s->use_dwarf = !(opts && opts->no_dwarf);
	s->full_names = opts && opts->full_names;
	s->dwarf_cap = opts && opts->dwarf_mem_cap ? opts->dwarf_mem_cap : 256u << 20;
	s->sym_cap = opts && opts->sym_mem_cap ? opts->sym_mem_cap : SYM_MEM_CAP_DEFAULT;
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
	perf_map__release(&p->jit);
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
	while (s->offers) {
		struct offer *o = s->offers;

		s->offers = o->next;
		free(o);
	}
	if (s->offers_tail)
		pthread_mutex_destroy(&s->offers_lock);
	for (i = 0; i < s->nr_dsos; i++) {
		dso__free(s->dsos[i].dso);
		hashmap__release(&s->dsos[i].cache);
	}
	free(s->dsos);
	free(s->pool);
	free(s->changed);
	hashmap__release(&s->demangled);
	hashmap__release(&s->dso_by_inode);
	hashmap__release(&s->dso_by_build_id);
	hashmap__release(&s->dso_by_fid);
	ksyms__release(&s->ksyms);
	strset__free(s->strs);
	free(s->proc_root);
	free(s);
}

static size_t dwarf_mem(const struct symbolizer *s)
{
	size_t i, mem = 0;

	for (i = 0; i < s->nr_dsos; i++)
		mem += s->dsos[i].dso ? dso__dwarf_mem(s->dsos[i].dso) : 0;
	return mem;
}

/* Keep DWARF indexes under the cap: least recently used CUs go first. */
static void enforce_dwarf_cap(struct symbolizer *s)
{
	size_t mem = dwarf_mem(s), i;

	s->dwarf_full = false;
	if (mem <= s->dwarf_cap)
		return;
	for (i = 0; i < s->nr_dsos; i++) {
		if (s->dsos[i].dso)
			mem -= dso__evict_dwarf(s->dsos[i].dso, s->gen_clock);
	}
	if (mem > s->dwarf_cap) {
		/* even this generation's CUs do not fit: names only until they do */
		s->dwarf_full = true;
		pr_debug("DWARF indexes use %zu bytes, over the %zu cap: symbol names only", mem,
			 s->dwarf_cap);
	}
}

static void drop_exited(struct symbolizer *s)
{
	size_t i = 0;
	uint64_t key, val;

	while (hashmap__next(&s->procs, &i, &key, &val)) {
		struct proc *p = (struct proc *)(uintptr_t)val;

		/* its last samples were drained in the generation after it exited */
		if (p->exited_gen && p->exited_gen + 1 < s->gen) {
			hashmap__delete(&s->procs, key, NULL);
			proc__free(p);
			i = 0;	/* deletion shifts entries: restart the scan */
		}
	}
}

static void take_offers(struct symbolizer *s);
static void enforce_sym_cap(struct symbolizer *s);

void symbolizer__next_generation(struct symbolizer *s)
{
	s->gen++;
	s->gen_clock = s->clock;
	enforce_dwarf_cap(s);
	drop_exited(s);
	take_offers(s);
	enforce_sym_cap(s);
}

__u64 symbolizer__fid_epoch(const struct symbolizer *s)
{
	return s->fid_epoch;
}

bool symbolizer__fid_shared(const struct symbolizer *s, __u32 fid)
{
	uint64_t val;

	if (fid == unwind_file_id(0, 0))
		return true;	/* the vDSO */
	return hashmap__get(&s->dso_by_fid, fid, &val) && !(val >> 32) && val != FID_AMBIGUOUS &&
	       s->dsos[val - 1].dso;
}

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st)
{
	st->processes = s->procs.count;
	st->dsos = s->nr_dsos - s->dso_failures;
	st->dso_failures = s->dso_failures;
	st->kernel_symbols = s->ksyms.nr;
	st->dwarf_mem = dwarf_mem(s);
	st->cached_addrs = s->nr_pool;
	st->sym_mem = s->sym_mem;
	st->sym_evicted = s->sym_evicted;
	st->sym_reopened = s->sym_reopened;
	st->maps_reads = s->maps_reads;
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
	out->name = ksyms__name(&s->ksyms, sym);
	out->module = ksyms__module(&s->ksyms, sym);
	return 0;
}

/* ---- processes ---- */

static int cmp_map(const void *a, const void *b)
{
	const struct proc_map *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

struct maps_buf {
	struct proc_map *maps;
	size_t nr, cap;
};

static int add_map_cb(void *ctx, const struct proc_map *m)
{
	struct maps_buf *b = ctx;
	int err = ARRAY_GROW(b->maps, b->cap, b->nr + 1, 32);

	if (!err)
		b->maps[b->nr++] = *m;
	return err;
}

/* Whether every file mapping of @old (@nr_old, sorted) is in @new as it was. */
static bool file_maps_kept(const struct proc_map *old, size_t nr_old, const struct proc_map *new,
			   size_t nr_new)
{
	size_t i, j = 0;

	for (i = 0; i < nr_old; i++) {
		const struct proc_map *o = &old[i];

		if (o->kind != MAPPING_FILE)
			continue;	/* JIT code is checked against its perf map */
		while (j < nr_new && new[j].start < o->start)
			j++;
		if (j == nr_new || new[j].start != o->start || new[j].end != o->end ||
		    new[j].pgoff != o->pgoff || new[j].inode != o->inode ||
		    new[j].dev_major != o->dev_major || new[j].dev_minor != o->dev_minor ||
		    new[j].path != o->path || new[j].kind != o->kind)
			return false;
	}
	return true;
}

/* @p's mappings are now @maps (@nr, sorted; taken over). */
static void set_maps(struct symbolizer *s, struct proc *p, struct proc_map *maps, size_t nr)
{
	if (p->nr_maps && !file_maps_kept(p->maps, p->nr_maps, maps, nr) &&
	    !ARRAY_GROW(s->changed, s->cap_changed, s->nr_changed + 1, 16))
		s->changed[s->nr_changed++] = p->tgid;
	free(p->maps);
	p->maps = maps;
	p->nr_maps = nr;
	p->loaded_gen = s->gen;
}

void symbolizer__take_changed(struct symbolizer *s, void (*fn)(void *ctx, __u32 tgid), void *ctx)
{
	size_t i;

	for (i = 0; i < s->nr_changed; i++)
		fn(ctx, s->changed[i]);
	s->nr_changed = 0;
}

static int read_maps(struct symbolizer *s, struct proc *p)
{
	struct maps_buf b = { 0 };
	int err;

	err = proc_maps__for_each_exec(s->proc_root, p->tgid, false, s->strs, add_map_cb, &b);
	/*
	 * No executable mapping where there were some: the process is being
	 * torn down (exit_mm() ran). Its samples not drained yet need the
	 * mappings known, so they stay.
	 */
	if (!err && !b.nr && p->nr_maps)
		err = -ESRCH;
	if (err) {
		free(b.maps);
		return err;
	}
	s->maps_reads++;
	/* the kernel lists them in address order; a hand-made maps file need not */
	if (b.nr > 1)
		qsort(b.maps, b.nr, sizeof(*b.maps), cmp_map);
	set_maps(s, p, b.maps, b.nr);
	return 0;
}

/* @tgid's entry, made (with its mappings unread) when there is none; NULL on ENOMEM. */
static struct proc *find_or_add_proc(struct symbolizer *s, __u32 tgid, bool *added)
{
	struct proc *p;
	uint64_t val;

	*added = false;
	if (hashmap__get(&s->procs, tgid, &val))
		return (struct proc *)(uintptr_t)val;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->tgid = tgid;
	if (hashmap__set(&s->procs, tgid, (uintptr_t)p)) {
		proc__free(p);
		return NULL;
	}
	*added = true;
	return p;
}

/* Take over the mappings other threads read, in the order they were read. */
static void take_offers(struct symbolizer *s)
{
	struct offer *o, *next;

	pthread_mutex_lock(&s->offers_lock);
	o = s->offers;
	s->offers = NULL;
	s->offers_tail = &s->offers;
	pthread_mutex_unlock(&s->offers_lock);
	for (; o; o = next) {
		struct proc_map *maps = calloc(o->nr, sizeof(*maps));
		struct proc *p;
		bool added;
		size_t i;

		next = o->next;
		p = maps ? find_or_add_proc(s, o->tgid, &added) : NULL;
		for (i = 0; p && i < o->nr; i++) {
			const struct sym_exec_map *e = &o->maps[i];
			const char *path = intern(s, e->path);
			const char *bid = e->build_id ? intern(s, e->build_id) : NULL;

			if (!path || (e->build_id && !bid))
				break;
			maps[i] = (struct proc_map){
				.start = e->start, .end = e->end, .pgoff = e->pgoff,
				.dev_major = e->dev_major, .dev_minor = e->dev_minor,
				.inode = e->inode, .exec = true, .deleted = e->deleted,
				.kind = e->vdso ? MAPPING_VDSO : e->special ? MAPPING_SPECIAL :
					e->anon ? MAPPING_ANON : MAPPING_FILE,
				.path = path, .build_id = bid, .dso = -1,
			};
		}
		if (p && i == o->nr) {
			/*
			 * A snapshot of a live process: newer than anything read
			 * before it, and than its exit or exec noted (offers are
			 * taken before that is, see symbolizer__process_exited()):
			 * the image after an exec, or a new process of that pid.
			 */
			qsort(maps, o->nr, sizeof(*maps), cmp_map);
			set_maps(s, p, maps, o->nr);
			p->gone = false;
			/*
			 * Offered after its exit was noted: read before it (a scan
			 * that built tables for a while), not a new process of the
			 * pid, which would come far later. It names the samples
			 * still to drain, and goes with them.
			 */
			if (!p->exited_gen || o->made_ns < p->exited_ns)
				p->exited_gen = 0;
			maps = NULL;
		}
		free(maps);
		free(o);
	}
}

int symbolizer__offer_maps(struct symbolizer *s, __u32 tgid, const struct sym_exec_map *maps,
			   size_t nr)
{
	size_t i, bytes = 0;
	struct offer *o;
	char *str;

	if (!nr)
		return 0;	/* a kernel thread, or one being torn down: nothing to tell */
	for (i = 0; i < nr; i++)
		bytes += strlen(maps[i].path) + 1 +
			 (maps[i].build_id ? strlen(maps[i].build_id) + 1 : 0);
	o = malloc(sizeof(*o) + nr * sizeof(o->maps[0]) + bytes);
	if (!o)
		return -ENOMEM;
	o->made_ns = now_ns();
	o->next = NULL;
	o->tgid = tgid;
	o->nr = nr;
	str = (char *)&o->maps[nr];
	for (i = 0; i < nr; i++) {
		size_t len = strlen(maps[i].path) + 1;

		o->maps[i] = maps[i];
		o->maps[i].path = memcpy(str, maps[i].path, len);
		str += len;
		if (maps[i].build_id) {
			len = strlen(maps[i].build_id) + 1;
			o->maps[i].build_id = memcpy(str, maps[i].build_id, len);
			str += len;
		}
	}
	pthread_mutex_lock(&s->offers_lock);
	*s->offers_tail = o;
	s->offers_tail = &o->next;
	pthread_mutex_unlock(&s->offers_lock);
	return 0;
}

static struct proc *get_proc(struct symbolizer *s, __u32 tgid, bool create);

/*
 * @tgid's entry, read now if it has none: a process named by file whose
 * frame needs its mappings after all. Its exit may have been told already
 * (nothing of it was kept then): one that cannot be read goes as exited.
 */
static struct proc *get_proc_late(struct symbolizer *s, __u32 tgid)
{
	uint64_t val;
	struct proc *p;

	if (hashmap__get(&s->procs, tgid, &val)) {
		p = (struct proc *)(uintptr_t)val;
		/* not an entry emptied for a new image (symbolizer__add_process_by_file()) */
		if (p->nr_maps || p->gone || p->exited_gen || p->loaded_gen == s->gen)
			return p;
		if (read_maps(s, p))
			p->gone = true;
	} else {
		p = get_proc(s, tgid, true);
	}
	if (p && (p->gone || !p->nr_maps) && !p->exited_gen) {
		p->gone = true;
		p->exited_gen = s->gen;
		p->exited_ns = now_ns();
	}
	return p;
}

static struct proc *get_proc(struct symbolizer *s, __u32 tgid, bool create)
{
	struct proc *p;
	uint64_t val;
	bool added;

	if (hashmap__get(&s->procs, tgid, &val))
		return (struct proc *)(uintptr_t)val;
	if (!create)
		return NULL;
	/* read by the unwinder already? */
	take_offers(s);
	p = find_or_add_proc(s, tgid, &added);
	if (p && added && read_maps(s, p))
		p->gone = true;	/* remembered: do not retry on every frame */
	return p;
}

static int dso_for_map(struct symbolizer *s, struct proc *p, struct proc_map *m);
static bool reopen_from(struct symbolizer *s, int idx, struct proc *p, struct proc_map *m);

int symbolizer__add_process(struct symbolizer *s, __u32 tgid)
{
	struct proc *p = get_proc(s, tgid, true);
	size_t i;

	if (!p)
		return -ENOMEM;
	take_offers(s);
	if (p->exited_gen) {
		/*
		 * Sampled again after its exit: a new process under the same pid,
		 * or (far more often) the last samples of one being torn down, drained
		 * after its exit event. Only mappings found make it a new process.
		 */
		if (read_maps(s, p))
			return p->nr_maps ? 0 : -ESRCH;
		p->exited_gen = 0;
		p->gone = false;
	} else if (p->loaded_gen != s->gen && !p->gone) {
		/* an exec: read afresh */
		p->gone = read_maps(s, p) != 0;
	}
	if (p->gone)
		return -ESRCH;
	/* open its binaries now: a short-lived process may be gone by the report */
	for (i = 0; i < p->nr_maps; i++) {
		if (p->maps[i].kind == MAPPING_FILE && dso_for_map(s, p, &p->maps[i]) >= 0 &&
		    s->dsos[p->maps[i].dso].evicted)
			reopen_from(s, p->maps[i].dso, p, &p->maps[i]);
	}
	return 0;
}

int symbolizer__add_process_by_file(struct symbolizer *s, __u32 tgid)
{
	struct proc *p;

	take_offers(s);
	p = get_proc(s, tgid, false);
	if (!p)
		return 0;
	/*
	 * An earlier image, or an earlier process of the pid: what was read
	 * of it names nothing of this one. A frame that needs the mappings
	 * has them read then (in symbolizer__user()), not now: the process
	 * named by file may be long gone by the time this is told.
	 */
	free(p->maps);
	p->maps = NULL;
	p->nr_maps = 0;
	p->loaded_gen = 0;
	p->gone = false;
	p->exited_gen = 0;
	return 0;
}

void symbolizer__process_exited(struct symbolizer *s, __u32 tgid)
{
	struct proc *p;

	/* what was read before the exit or exec belongs to the image that went */
	take_offers(s);
	p = get_proc(s, tgid, false);

	if (p && !p->exited_gen) {
		p->exited_gen = s->gen;
		p->exited_ns = now_ns();
	}
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

	if (ARRAY_GROW(s->dsos, s->cap_dsos, s->nr_dsos + 1, 64))
		return -ENOMEM;
	e = &s->dsos[s->nr_dsos];
	memset(e, 0, sizeof(*e));
	e->dso = dso;
	e->name = clean(s, intern(s, base ? base + 1 : path));
	e->path = intern(s, path);
	e->build_id = intern(s, dso ? dso__build_id(dso) : "");
	e->used_gen = s->gen;
	if (!e->name || !e->path || !e->build_id)
		return -ENOMEM;
	if (!dso)
		s->dso_failures++;
	return s->nr_dsos++;
}

/*
 * Register @dso (may be NULL: a failure to remember) under @inode_key (0:
 * none). A binary already known by build id is reused and @dso freed.
 * Returns the DSO index or -ENOMEM.
 */
static int register_dso(struct symbolizer *s, struct dso *dso, const char *path, uint64_t inode_key)
{
	uint64_t val;
	int id = -1, idx;

	/* names only: the ELF file and libdwfl's data need not stay in memory */
	if (dso && !s->use_dwarf && dso__drop_elf(dso))
		pr_debug("'%s': keeping the ELF file open: out of memory", path);
	if (dso && dso__build_id(dso)[0]) {
		id = strset__add(s->strs, dso__build_id(dso), strlen(dso__build_id(dso)));
		if (id >= 0 && hashmap__get(&s->dso_by_build_id, id, &val)) {
			/* same binary under another inode (a copy, another container layer) */
			dso__free(dso);
			if (inode_key && hashmap__set(&s->dso_by_inode, inode_key, val))
				return -ENOMEM;
			return val;
		}
	}
	idx = add_dso_entry(s, dso, path);
	if (idx < 0) {
		dso__free(dso);
		return idx;
	}
	if ((inode_key && hashmap__set(&s->dso_by_inode, inode_key, idx)) ||
	    (id >= 0 && hashmap__set(&s->dso_by_build_id, id, idx)))
		return -ENOMEM;
	return idx;
}

static int open_mapping_file(struct symbolizer *s, const struct proc *p, const struct proc_map *m)
{
	return symbolizer__open_mapping(s->proc_root, p->tgid, m->start, m->end, m->dev_major,
					m->dev_minor, m->inode, m->path);
}

static uint64_t inode_key(__u32 major, __u32 minor, __u64 inode)
{
	/* never 0, so 0 can mean "no key" */
	return hash_u64(((uint64_t)major << 44) ^ ((uint64_t)minor << 32) ^ inode) | 1;
}

static __u32 map_fid(const struct proc_map *m)
{
	return unwind_file_id(unwind_kernel_dev(m->dev_major, m->dev_minor), m->inode);
}

/*
 * Mapping @m's file is dso @idx: the BPF unwinder's (file, offset) frames of
 * it name through it. Not a file that could not be opened (its process went
 * first): a later process's mapping of it may open it.
 */
static void note_fid(struct symbolizer *s, const struct proc_map *m, int idx, bool replaced)
{
	uint64_t val;
	bool had;

	if (idx < 0 || !s->dsos[idx].dso)
		return;
	had = hashmap__get(&s->dso_by_fid, map_fid(m), &val) && !(val >> 32);
	if (had && (val == (uint64_t)idx + 1 || (val == FID_AMBIGUOUS && !replaced)))
		return;
	/* what was named through the id before may be named otherwise now */
	if (had)
		s->fid_epoch++;
	/* a file rewritten in place: its old content is gone, the id names the new one */
	val = !replaced && had ? FID_AMBIGUOUS : (uint64_t)idx + 1;
	hashmap__set(&s->dso_by_fid, map_fid(m), val);	/* without it: named later, or not */
}

static int dso_for_map(struct symbolizer *s, struct proc *p, struct proc_map *m);
static int vdso_dso(struct symbolizer *s);

/*
 * The dso of file id @fid, from the mappings of every process known (alive
 * or exited and not drained yet), once per generation for an id none has.
 */
static uint64_t fid_dso(struct symbolizer *s, __u32 fid)
{
	uint64_t val;
	size_t i = 0, j;
	int idx;

	if (fid == unwind_file_id(0, 0)) {
		/* the vDSO, the same image in every process */
		idx = vdso_dso(s);
		return idx >= 0 ? (uint64_t)idx + 1 : 0;
	}
	if (hashmap__get(&s->dso_by_fid, fid, &val) && (!(val >> 32) || val >> 32 == s->gen))
		return val >> 32 ? 0 : val;
	take_offers(s);
	while (hashmap__next(&s->procs, &i, NULL, &val)) {
		struct proc *p = (struct proc *)(uintptr_t)val;

		for (j = 0; j < p->nr_maps; j++) {
			struct proc_map *m = &p->maps[j];

			if (m->kind != MAPPING_FILE || map_fid(m) != fid)
				continue;
			dso_for_map(s, p, m);
			if (hashmap__get(&s->dso_by_fid, fid, &val) && !(val >> 32))
				return val;
			/* not opened through this mapping: another one may do */
		}
	}
	hashmap__set(&s->dso_by_fid, fid, s->gen << 32);
	return 0;
}

/*
 * Is dso @idx, found by mapping @m's device and inode, another file than the
 * one @m maps? A binary relinked in place (ld truncates and rewrites the
 * output: the inode stays) or an inode reused for a new file; told by the
 * build id the kernel read, when it gave one.
 */
static bool inode_reused(const struct symbolizer *s, const struct proc_map *m, uint64_t idx)
{
	const char *had = s->dsos[idx].build_id;

	return m->build_id && had && had[0] && strcmp(had, m->build_id);
}

static int dso_for_map(struct symbolizer *s, struct proc *p, struct proc_map *m)
{
	uint64_t key, val;
	struct dso *dso = NULL;
	bool replaced = false;
	int fd;

	if (m->dso >= 0)
		return m->dso;
	key = inode_key(m->dev_major, m->dev_minor, m->inode);
	if (hashmap__get(&s->dso_by_inode, key, &val)) {
		if (!inode_reused(s, m, val)) {
			m->dso = val;
			note_fid(s, m, m->dso, false);
			return m->dso;
		}
		pr_debug("'%s': build id %s now, %s before: another file under its inode",
			 m->path, m->build_id, s->dsos[val].build_id);
		hashmap__delete(&s->dso_by_inode, key, NULL);
		replaced = true;
	}
	fd = open_mapping_file(s, p, m);
	if (fd == -ESRCH) {
		/* the process went first: not the binary's fault, later processes try again */
		m->dso = register_dso(s, NULL, m->path, 0);
		return m->dso;
	}
	if (fd < 0)
		pr_debug("cannot open '%s' of pid %u: %s", m->path, p->tgid, strerror(-fd));
	else
		dso = dso__open(fd, m->path);	/* NULL is remembered as a failure */
	m->dso = register_dso(s, dso, m->path, key);
	note_fid(s, m, m->dso, replaced);
	return m->dso;
}

/* The vDSO is the same image in every 64-bit process: read our own once. */
static int vdso_dso(struct symbolizer *s)
{
	unsigned long start = getauxval(AT_SYSINFO_EHDR), lo, hi;
	char line[256];
	struct dso *dso = NULL;
	FILE *f;
	int fd;

	if (s->vdso >= 0 || s->vdso == -2)
		return s->vdso;
	s->vdso = -2;
	f = start ? fopen("/proc/self/maps", "r") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vdso]") || sscanf(line, "%lx-%lx", &lo, &hi) != 2 || lo != start)
			continue;
		fd = memfd_create("vdso", MFD_CLOEXEC);
		if (fd >= 0 && write(fd, (void *)start, hi - lo) == (ssize_t)(hi - lo))
			dso = dso__open(fd, "[vdso]");
		else if (fd >= 0)
			close(fd);
		break;
	}
	if (f)
		fclose(f);
	if (dso)
		s->vdso = register_dso(s, dso, "[vdso]", 0);
	if (s->vdso >= 0)
		s->dsos[s->vdso].pinned = true;
	return s->vdso;
}

/* ---- JIT perf maps ---- */

#define JIT_GEN_BUDGET (64u << 20)	/* perf map bytes read per generation, all processes */
#define JIT_MEM_CAP (256u << 20)	/* JIT tables kept, all processes */

/*
 * From /proc/PID/status: the pid the process sees itself as (innermost pid
 * namespace), which names its perf map, and its file-system uid, which owns
 * the files it creates.
 */
static int read_status(struct symbolizer *s, __u32 tgid, __u32 *nspid, uid_t *fsuid)
{
	struct strbuf path = STRBUF_INIT;
	char *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	if (strbuf__addf(&path, "%s/%u/status", s->proc_root, tgid))
		return -ENOMEM;
	f = fopen(path.buf, "r");
	strbuf__release(&path);
	if (!f)
		return -errno;
	*nspid = tgid;
	while (found != 3 && getline(&line, &cap, f) > 0) {
		unsigned long r, e, sv, fs;
		char *last;

		if (!strncmp(line, "NStgid:", 7)) {
			last = strrchr(line, '\t');
			if (last)
				*nspid = strtoul(last + 1, NULL, 10);
			found |= 1;
		} else if (sscanf(line, "Uid: %lu %lu %lu %lu", &r, &e, &sv, &fs) == 4) {
			*fsuid = fs;
			found |= 2;
		}
	}
	fclose(f);
	free(line);
	return found & 2 ? 0 : -ESRCH;
}

/* Give the budget of a new generation; false when this one's is spent. */
static bool jit_budget_left(struct symbolizer *s)
{
	if (s->jit_budget_gen != s->gen) {
		s->jit_budget_gen = s->gen;
		s->jit_budget = JIT_GEN_BUDGET;
	}
	return s->jit_budget > 0;
}

/* Over the cap for all processes' JIT tables: drop those of the others (re-read on demand). */
static void enforce_jit_cap(struct symbolizer *s, struct proc *keep)
{
	size_t i = 0, mem = 0;
	uint64_t val;

	while (hashmap__next(&s->procs, &i, NULL, &val))
		mem += perf_map__mem(&((struct proc *)(uintptr_t)val)->jit);
	if (mem <= JIT_MEM_CAP)
		return;
	pr_debug("JIT symbol tables use %zu bytes, over the %u cap: dropping other processes'",
		 mem, JIT_MEM_CAP);
	i = 0;
	while (mem > JIT_MEM_CAP && hashmap__next(&s->procs, &i, NULL, &val)) {
		struct proc *p = (struct proc *)(uintptr_t)val;

		if (p == keep)
			continue;
		mem -= perf_map__mem(&p->jit);
		perf_map__release(&p->jit);
	}
}

static void warn_perf_map(struct proc *p, const char *path, const char *what)
{
	if (p->jit_warned)
		return;
	p->jit_warned = true;
	pr_warn("perf map '%s' of pid %u: %s", path, p->tgid, what);
}

/* Open the perf map of @p as its user could: the fd, or -errno (-ENOENT: it has none). */
static int open_perf_map(struct symbolizer *s, struct proc *p, struct strbuf *path,
			 struct stat *st)
{
	__u32 nspid = p->tgid;
	uid_t uid = 0;
	char rel[64];
	int root, fd;

	fd = read_status(s, p->tgid, &nspid, &uid);
	if (fd)
		return fd;
	snprintf(rel, sizeof(rel), "tmp/perf-%u.map", nspid);
	/* /proc/PID/root: the file is in the process's mount namespace */
	if (strbuf__addf(path, "%s/%u/root", s->proc_root, p->tgid))
		return -ENOMEM;
	root = open(path->buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -errno;
	fd = untrusted__open(root, rel, uid, st);
	close(root);
	return strbuf__addf(path, "/%s", rel) ?: fd;
}

static void read_perf_map(struct symbolizer *s, struct proc *p)
{
	struct strbuf path = STRBUF_INIT;
	struct perf_map_counts before = p->jit.counts;
	size_t bytes = 0;
	struct stat st;
	int fd, err;

	p->jit_gen = s->gen;
	if (!jit_budget_left(s))
		return;	/* read in a later generation */
	fd = open_perf_map(s, p, &path, &st);
	if (fd < 0) {
		if (fd != -ENOENT && fd != -ESRCH)
			warn_perf_map(p, path.buf, untrusted__strerror(fd));
		strbuf__release(&path);
		return;
	}
	err = perf_map__read(&p->jit, fd, &st, &bytes);
	close(fd);
	s->jit_budget -= bytes < s->jit_budget ? bytes : s->jit_budget;
	if (err)
		warn_perf_map(p, path.buf, strerror(-err));
	if (p->jit.counts.windowed != before.windowed)
		warn_perf_map(p, path.buf, "over 64 MiB: only its last 64 MiB are read");
	else if (p->jit.counts.too_long != before.too_long)
		warn_perf_map(p, path.buf, "lines over 4096 bytes skipped");
	else if (p->jit.counts.over_limit != before.over_limit)
		warn_perf_map(p, path.buf, "too many symbols: the rest skipped");
	if (p->jit.counts.malformed != before.malformed)
		pr_debug("perf map '%s': %zu malformed lines skipped", path.buf,
			 p->jit.counts.malformed - before.malformed);
	strbuf__release(&path);
	enforce_jit_cap(s, p);
}

static const struct perf_map_sym *find_jit(struct symbolizer *s, struct proc *p, __u64 addr)
{
	/*
	 * The map grows as the JIT compiles: read what was added, once per
	 * generation, even when the address has a name already: code freed
	 * and compiled again at that address has its new symbol appended.
	 */
	if (p->jit_gen != s->gen && !p->exited_gen)
		read_perf_map(s, p);
	return perf_map__find(&p->jit, addr);
}

/* ---- resolution ---- */

static const char *demangle(struct symbolizer *s, const char *raw)
{
	uint64_t val;
	const char *name = raw;
	char *d;

	if (!raw)
		return NULL;
	if (hashmap__get(&s->demangled, (uintptr_t)raw, &val))
		return (const char *)(uintptr_t)val;
	/*
	 * C++ (_Z...), Rust legacy and v0 (_R...): libiberty knows them all.
	 * Without DMGL_PARAMS a C++ function loses its parameter list (and
	 * cv-qualifiers), "ns::Cls<T>::fn" as perf shows it; templates stay.
	 */
	if ((raw[0] == '_' && (raw[1] == 'Z' || raw[1] == 'R')) || !strncmp(raw, "__Z", 3)) {
		d = cplus_demangle(raw, s->full_names ? DMGL_PARAMS | DMGL_ANSI : DMGL_ANSI);
		if (d) {
			name = intern(s, d);
			free(d);
			if (!name)
				name = raw;
		}
	}
	if (hashmap__set(&s->demangled, (uintptr_t)raw, (uintptr_t)name))
		return name;
	return name;
}

/* @file as an absolute path when DWARF gave it relative to @comp_dir (interned). */
static const char *source_path(struct symbolizer *s, const char *file, const char *comp_dir)
{
	struct strbuf sb = STRBUF_INIT;
	const char *p;

	if (!file || file[0] == '/' || !comp_dir || !*comp_dir)
		return file;
	if (strbuf__addf(&sb, "%s/%s", comp_dir, file))
		return file;
	p = intern(s, sb.buf);
	strbuf__release(&sb);
	return p ? p : file;
}

static int pool_reserve(struct symbolizer *s, size_t n)
{
	return ARRAY_GROW(s->pool, s->cap_pool, s->nr_pool + n, 4096);
}

/*
 * Frames remembered before the caches start over (about 2.5 MB): a build
 * host's compilers keep meeting new addresses for as long as the agent runs
 */
#define POOL_MAX (1u << 15)

static void clear_caches(struct symbolizer *s)
{
	size_t i;

	for (i = 0; i < s->nr_dsos; i++)
		hashmap__release(&s->dsos[i].cache);
	s->nr_pool = 0;
}

/* Resolve @vaddr in DSO @idx into the pool (cached); returns the cache value. */
static int resolve_in_dso(struct symbolizer *s, int idx, __u64 vaddr, __u64 off, uint64_t *ref)
{
	struct dso_entry *e = &s->dsos[idx];
	struct dso_frame df[SYM_MAX_FRAMES];
	int n = 0, i, err;

	if (hashmap__get(&e->cache, vaddr, ref))
		return 0;
	s->clock++;
	if (e->dso)
		n = dso__resolve(e->dso, vaddr, s->use_dwarf && !s->dwarf_full, s->clock, df,
				 SYM_MAX_FRAMES);
	if (!n) {
		df[0] = (struct dso_frame){ NULL, NULL, NULL, 0, 0, false };
		n = 1;
	}
	if (s->nr_pool + n > POOL_MAX)
		clear_caches(s);
	err = pool_reserve(s, n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		struct sym_frame *f = &s->pool[s->nr_pool + i];

		f->raw_name = keep(s, df[i].name);
		f->name = demangle(s, f->raw_name);
		f->module = e->name;
		f->build_id = e->build_id;
		f->file = keep(s, source_path(s, df[i].file, df[i].comp_dir));
		f->line = df[i].line;
		f->start_line = df[i].start_line;
		f->inlined = df[i].inlined;
		f->jit = false;
		f->offset = off;
	}
	*ref = (uint64_t)s->nr_pool << 8 | n;
	s->nr_pool += n;
	return hashmap__set(&e->cache, vaddr, *ref);
}

static int copy_frames(struct symbolizer *s, uint64_t ref, __u64 off, struct sym_frame *out,
		       int max)
{
	int n = ref & 0xff, i;

	for (i = 0; i < n && i < max; i++) {
		out[i] = s->pool[(ref >> 8) + i];
		out[i].offset = off;
	}
	return i;
}

/* ---- the symbol tables' budget ---- */

/* Mark the dsos a known process maps (alive, or exited with samples still to drain). */
static void mark_mapped(struct symbolizer *s, bool *mapped)
{
	size_t i = 0, j;
	uint64_t val, idx;

	while (hashmap__next(&s->procs, &i, NULL, &val)) {
		const struct proc *p = (const struct proc *)(uintptr_t)val;

		for (j = 0; j < p->nr_maps; j++) {
			const struct proc_map *m = &p->maps[j];

			if (m->dso >= 0)
				mapped[m->dso] = true;
			else if (m->kind == MAPPING_FILE &&
				 hashmap__get(&s->dso_by_inode,
					      inode_key(m->dev_major, m->dev_minor, m->inode), &idx))
				mapped[idx] = true;
		}
	}
}

static int cmp_used(const void *a, const void *b, void *ctx)
{
	const struct dso_entry *dsos = ctx;
	__u64 x = dsos[*(const __u32 *)a].used_gen, y = dsos[*(const __u32 *)b].used_gen;

	return x < y ? -1 : x > y;
}

/*
 * Over the cap: free the symbol tables of binaries no known process maps,
 * least recently used first. The names of frames already resolved are
 * interned and stay; the binary is opened again when an address needs it.
 */
static void enforce_sym_cap(struct symbolizer *s)
{
	size_t mem = 0, i, n = 0;
	bool *mapped = NULL;
	__u32 *ids = NULL;

	for (i = 0; i < s->nr_dsos; i++)
		mem += s->dsos[i].dso ? dso__mem(s->dsos[i].dso) : 0;
	s->sym_mem = mem;
	if (mem <= s->sym_cap)
		return;
	mapped = calloc(s->nr_dsos, sizeof(*mapped));
	ids = calloc(s->nr_dsos, sizeof(*ids));
	if (!mapped || !ids)
		goto out;
	mark_mapped(s, mapped);
	for (i = 0; i < s->nr_dsos; i++) {
		/*
		 * Nor those that named an address lately: the processes named
		 * by file are not known here (a compiler run again and again),
		 * and no mapping of theirs could open the file again.
		 */
		if (s->dsos[i].dso && !mapped[i] && !s->dsos[i].pinned &&
		    s->dsos[i].used_gen + 2 < s->gen)
			ids[n++] = i;
	}
	qsort_r(ids, n, sizeof(*ids), cmp_used, s->dsos);
	for (i = 0; i < n && mem > s->sym_cap; i++) {
		struct dso_entry *e = &s->dsos[ids[i]];

		mem -= dso__mem(e->dso);
		dso__free(e->dso);
		e->dso = NULL;
		e->evicted = true;
		hashmap__release(&e->cache);	/* its frames stay in the pool until it starts over */
		s->sym_evicted++;
	}
	pr_debug("symbol tables: %zu bytes of %zu, %zu evicted so far", mem, s->sym_cap,
		 s->sym_evicted);
	s->sym_mem = mem;
out:
	free(ids);
	free(mapped);
}

/* Does mapping @m show dso @idx's file? */
static bool maps_dso(struct symbolizer *s, const struct proc_map *m, int idx)
{
	uint64_t val;

	if (m->kind != MAPPING_FILE)
		return false;
	if (m->dso >= 0)
		return m->dso == idx;
	return hashmap__get(&s->dso_by_inode, inode_key(m->dev_major, m->dev_minor, m->inode),
			    &val) && val == (uint64_t)idx;
}

/* Take @fd (consumed) as evicted dso @idx's file if its build id is the same. */
static bool reopen_fd(struct symbolizer *s, int idx, int fd, const char *path)
{
	struct dso_entry *e = &s->dsos[idx];
	struct dso *dso = dso__open(fd, path);

	if (!dso || strcmp(dso__build_id(dso), e->build_id)) {
		dso__free(dso);
		return false;
	}
	if (!s->use_dwarf)
		dso__drop_elf(dso);
	e->dso = dso;
	e->evicted = false;
	s->sym_reopened++;
	return true;
}

/*
 * Open evicted dso @idx again through mapping @m of @p; a file with another
 * build id now is not used. Returns whether it is open.
 */
static bool reopen_from(struct symbolizer *s, int idx, struct proc *p, struct proc_map *m)
{
	int fd;

	if (!maps_dso(s, m, idx) || (fd = open_mapping_file(s, p, m)) < 0)
		return false;
	return reopen_fd(s, idx, fd, m->path);
}

/*
 * Open evicted dso @idx again by the path a mapping showed: only the very
 * file (its device and inode are the dso's) with the same build id will do.
 * For processes named by file, which no mapping here shows.
 */
static bool reopen_by_path(struct symbolizer *s, int idx)
{
	const char *path = s->dsos[idx].path;
	struct stat st;
	uint64_t val;
	int fd;

	if (path[0] != '/' || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return false;
	if (fstat(fd, &st) ||
	    !hashmap__get(&s->dso_by_inode, inode_key(major(st.st_dev), minor(st.st_dev), st.st_ino),
			  &val) || val != (uint64_t)idx) {
		close(fd);
		return false;
	}
	return reopen_fd(s, idx, fd, path);
}

/*
 * Open evicted dso @idx again through any known process's mapping of it, or
 * its path, once a generation.
 */
static void reopen_dso(struct symbolizer *s, int idx)
{
	uint64_t val;
	size_t i = 0, j;

	if (s->dsos[idx].reopen_gen == s->gen)
		return;
	s->dsos[idx].reopen_gen = s->gen;
	while (hashmap__next(&s->procs, &i, NULL, &val)) {
		struct proc *p = (struct proc *)(uintptr_t)val;

		for (j = 0; j < p->nr_maps; j++) {
			if (reopen_from(s, idx, p, &p->maps[j]))
				return;
		}
	}
	reopen_by_path(s, idx);
}

static int unnamed(struct sym_frame *out, const char *module, __u64 off)
{
	memset(out, 0, sizeof(*out));
	out->module = module;
	out->build_id = "";
	out->offset = off;
	return 1;
}

static int resolve_dso_offset(struct symbolizer *s, int idx, __u64 off, struct sym_frame *out,
			      int max)
{
	uint64_t ref;
	__u64 vaddr;

	if (s->dsos[idx].evicted)
		reopen_dso(s, idx);
	s->dsos[idx].used_gen = s->gen;
	if (!s->dsos[idx].dso || !dso__offset_to_vaddr(s->dsos[idx].dso, off, &vaddr)) {
		unnamed(out, s->dsos[idx].name, off);
		out->build_id = s->dsos[idx].build_id;
		return 1;
	}
	if (resolve_in_dso(s, idx, vaddr, off, &ref))
		return -ENOMEM;
	return copy_frames(s, ref, off, out, max);
}

int symbolizer__user(struct symbolizer *s, __u32 tgid, __u64 addr, struct sym_frame *out, int max)
{
	const struct perf_map_sym *jit;
	struct proc_map *m;
	struct proc *p;
	__u64 off;
	int idx;

	if (max <= 0)
		return -EINVAL;
	if (addr & UNWIND_FILE_FRAME) {
		/*
		 * (file, offset) from the BPF unwinder: named by the process's own
		 * mapping of that file when it is known (the id is a 31-bit hash:
		 * another file may share it), else by any mapping of the file.
		 */
		__u32 want = UNWIND_FILE_FRAME_ID(addr);
		bool vdso = want == unwind_file_id(0, 0), late = vdso;
		__u64 fid = 0;
		size_t i;

		off = UNWIND_FILE_FRAME_OFFSET(addr);
		p = vdso ? NULL : get_proc(s, tgid, false);
again:
		for (i = 0; p && i < p->nr_maps && !fid; i++) {
			m = &p->maps[i];
			if (m->kind != MAPPING_FILE || map_fid(m) != want)
				continue;
			/* not one that failed to open: another mapping of it may do */
			idx = dso_for_map(s, p, m);
			if (idx >= 0 && (s->dsos[idx].dso || s->dsos[idx].evicted))
				fid = (__u64)idx + 1;
		}
		if (!fid)
			fid = fid_dso(s, want);
		/*
		 * A process named by file (never read) with a file no mapping
		 * known has, or two files under the id: its own maps tell, if
		 * it still lives.
		 */
		if ((!fid || fid == FID_AMBIGUOUS) && !late) {
			late = true;
			p = get_proc_late(s, tgid);
			fid = 0;
			if (p && p->nr_maps)
				goto again;
		}
		if (!fid || fid == FID_AMBIGUOUS)
			return unnamed(out, NULL, off);
		if (s->dsos[fid - 1].evicted && !vdso) {
			/* evicted, and no process known maps it: this one may still */
			reopen_dso(s, fid - 1);
			if (!s->dsos[fid - 1].dso && !late && (p = get_proc_late(s, tgid))) {
				for (i = 0; i < p->nr_maps && !s->dsos[fid - 1].dso; i++)
					reopen_from(s, fid - 1, p, &p->maps[i]);
			}
		}
		return resolve_dso_offset(s, fid - 1, off, out, max);
	}
	p = get_proc_late(s, tgid);
	if (!p)
		return -ENOMEM;
	m = find_map(p, addr);
	if (!m) {
		/* a library mapped since: the unwinder may have read it already */
		take_offers(s);
		m = find_map(p, addr);
	}
	if (!m && p->loaded_gen != s->gen && !p->gone && !p->exited_gen) {
		/* a library mapped since the last read (dlopen): read once more */
		if (read_maps(s, p))
			p->gone = true;
		m = find_map(p, addr);
	}
	if (!m || m->kind == MAPPING_ANON) {
		jit = find_jit(s, p, addr);
		if (jit) {
			unnamed(out, "[jit]", addr - jit->start);
			out->name = out->raw_name = intern(s, perf_map__name(&p->jit, jit));
			out->jit = true;
			return 1;
		}
		return unnamed(out, m ? "[anon]" : NULL, addr);
	}
	proc_map__file_offset(m, addr, &off);
	if (m->kind == MAPPING_VDSO) {
		idx = vdso_dso(s);
		return idx >= 0 ? resolve_dso_offset(s, idx, off, out, max)
				: unnamed(out, "[vdso]", off);
	}
	if (m->kind != MAPPING_FILE)
		return unnamed(out, m->path, off);
	idx = dso_for_map(s, p, m);
	if (idx < 0)
		return idx;
	return resolve_dso_offset(s, idx, off, out, max);
}

int symbolizer__open_file(struct symbolizer *s, const char *path)
{
	struct stat st;
	uint64_t key, val;
	struct dso *dso;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		err = -errno;
		pr_warn("cannot open '%s': %s", path, strerror(-err));
		if (fd >= 0)
			close(fd);
		return err;
	}
	key = inode_key(major(st.st_dev), minor(st.st_dev), st.st_ino);
	if (hashmap__get(&s->dso_by_inode, key, &val)) {
		close(fd);
		return s->dsos[val].dso ? (int)val : -ENOEXEC;
	}
	dso = dso__open(fd, path);
	if (!dso)
		return -errno;
	err = register_dso(s, dso, path, key);
	if (err >= 0)
		s->dsos[err].pinned = true;
	return err;
}

int symbolizer__file_addr(struct symbolizer *s, int handle, __u64 vaddr, struct sym_frame *out,
			  int max)
{
	uint64_t ref;

	if (handle < 0 || (size_t)handle >= s->nr_dsos || max <= 0)
		return -EINVAL;
	if (resolve_in_dso(s, handle, vaddr, vaddr, &ref))
		return -ENOMEM;
	return copy_frames(s, ref, vaddr, out, max);
}

const char *symbolizer__exe_build_id(struct symbolizer *s, __u32 tgid, __u32 exe_fid)
{
	struct strbuf link = STRBUF_INIT;
	const char *res = NULL;
	char target[4096];
	struct proc *p;
	uint64_t fid;
	ssize_t n;
	size_t i;
	int idx;

	/*
	 * The executable's file as the kernel gave it: among the process's
	 * mappings, or (one named by file) any process's; no /proc read
	 */
	if (exe_fid) {
		p = get_proc(s, tgid, false);
		for (i = 0; p && i < p->nr_maps; i++) {
			if (p->maps[i].kind != MAPPING_FILE || map_fid(&p->maps[i]) != exe_fid)
				continue;
			idx = dso_for_map(s, p, &p->maps[i]);
			if (idx >= 0 && s->dsos[idx].build_id[0])
				return s->dsos[idx].build_id;
		}
		fid = p && p->nr_maps ? 0 : fid_dso(s, exe_fid);
		if (fid && fid != FID_AMBIGUOUS && s->dsos[fid - 1].build_id[0])
			return s->dsos[fid - 1].build_id;
	}
	if (strbuf__addf(&link, "%s/%u/exe", s->proc_root, tgid))
		goto out;
	/* kernel threads have no executable: no need to read their (empty) maps */
	n = readlink(strbuf__str(&link), target, sizeof(target) - 1);
	p = n > 0 ? get_proc(s, tgid, true) : NULL;
	if (!p)
		goto out;
	target[n] = '\0';
	/* the link of a replaced binary ends in " (deleted)", as the maps path did */
	if (n > 10 && !strcmp(target + n - 10, " (deleted)"))
		target[n - 10] = '\0';
	for (i = 0; i < p->nr_maps; i++) {
		if (p->maps[i].kind != MAPPING_FILE || strcmp(p->maps[i].path, target))
			continue;
		idx = dso_for_map(s, p, &p->maps[i]);
		if (idx >= 0 && s->dsos[idx].build_id[0])
			res = s->dsos[idx].build_id;
		break;
	}
out:
	strbuf__release(&link);
	return res;
}
