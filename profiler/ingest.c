// SPDX-License-Identifier: GPL-2.0
/*
 * From drained samples to symbolized stacks, for `profile` and the agent.
 * Symbolization happens here, at drain time and off the sampling path, once
 * per distinct address: per process, each (address, leaf) maps to an inline
 * chain of indexes in one frame table, keyed by (build id or module, file
 * offset), so a library shared by many processes yields one frame per
 * location. An address no mapping holds is looked up again at a later drain
 * (a library mapped a moment ago). Stacks are interned arrays of frame
 * indexes; with a store open, each flush hands the store one batch of the
 * frames, stacks and processes its sample counts use.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ingest.h"
#include "symbolizer/symbolizer.h"
#include "web/web.h"
#include "common/clock.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

struct sframe {
	struct store_frame f;	/* strings borrowed from the symbolizer or interned */
	__s64 db_id;		/* flush generation << 32 | index + 1 in its batch */
};

struct sproc {
	__u32 pid;
	const char *comm;
	const char *exe_build_id;
	const char *cgroup;
	__s64 start_time;
	__s64 db_id;		/* as sframe's */
};

/*
 * What is cached about one live process: its address -> frame caches, and
 * (read when a store first needs them) its start time, cgroup and build id.
 */
struct pcache {
	__u32 tgid;
	__s64 start_time;
	const char *exe_build_id;	/* interned, or NULL */
	const char *cgroup;		/* interned, or NULL */
	__u32 exe_fid;			/* its executable's file id, from EVENT_NEW, or 0 */
	/*
	 * [leaf] address -> chain id in the low 32 bits; the high ones hold
	 * the drain of a lookup that found no mapping (0 for the others): it
	 * is looked up again at a later drain.
	 */
	struct hashmap addrs[2];
	bool by_file;			/* never read: its file frames name alike everywhere */
	bool facts_read;		/* start_time, cgroup, exe_build_id */
	bool stale;			/* an exec or a new process under this pid */
	bool remapped;			/* a file mapping changed: addrs are stale */
	bool exited;			/* seen gone at the last flush */
};

struct pending {
	__s64 ts;
	__u32 proc;
	__u32 stack;
	__u64 count;
};

struct ingest {
	struct store *st;		/* NULL: no store */
	struct symbolizer *syms;
	ingest_sample_fn fn;
	void *fn_ctx;
	__u64 drain;			/* drains begun, from 1 */
	__s64 run_id;
	int bucket_secs;
	double window_start;	/* wall-clock time of the last drain (or of the open) */
	__s64 window_bucket;	/* the bucket of the samples being drained */
	size_t max_pending;
	__u64 flush_gen;		/* flushes begun: tags the batch indexes */

	struct strset *strs;		/* module names, comms, cgroups, build ids */
	struct strset *frame_keys;	/* id = index in frames */
	struct strset *chains;		/* __u32 frame index arrays: an address's inline chain */
	struct sframe *frames;
	size_t cap_frames;
	struct hashmap kaddrs[2];	/* [leaf] kernel address -> frame index */
	/*
	 * [leaf] (file, offset) frame -> chain, as pcache.addrs, for the
	 * processes named by file: a compiler run a thousand times is
	 * symbolized once. Emptied when the symbolizer's fid epoch moves.
	 */
	struct hashmap file_addrs[2];
	__u64 fid_epoch;
	struct hashmap pcaches;		/* tgid -> struct pcache * */
	struct hashmap cgroups;		/* cgroup v2 id -> interned path */

	struct strset *stack_keys;	/* __u32 frame index arrays; id = stack index */
	__s64 *stack_db;		/* as sframe's db_id, per stack */
	size_t cap_stacks;

	struct strset *proc_keys;	/* "tgid start comm"; id = index in procs */
	struct sproc *procs;
	size_t cap_procs;

	struct pending *pend;
	size_t nr_pend, cap_pend;
	__u64 pending_samples, written, lost;
	struct ingest_stats counts;	/* samples, stacks and lookups */

	struct strbuf key;
	__u32 *stack_buf;
	size_t cap_stack_buf;
	/* the batch of one flush */
	struct store_frame *bframes;
	struct store_stack *bstacks;
	struct store_process *bprocs;
	struct store_count *bcounts;
	__u32 *brefs;			/* the stacks' frames, back to back */
	size_t nr_bframes, nr_bstacks, nr_bprocs, nr_brefs;
	size_t cap_bframes, cap_bstacks, cap_bprocs, cap_bcounts, cap_brefs;
	struct python_namer *py;		/* names of Python code objects */
	bool py_keep_eval;			/* keep the interpreter's frames under Python's */
	__u32 *py_buf;				/* a stack with its Python frames merged in */
	size_t cap_py_buf;
	struct store_frame *sample_frames;	/* the consumer's copy */
	size_t cap_sample_frames;
	__s64 boot_time;
};

static const char *intern(struct ingest *k, const char *s)
{
	int id;

	if (!s)
		return NULL;
	id = strset__add(k->strs, s, strlen(s));
	return id < 0 ? NULL : strset__str(k->strs, id);
}

/* ---- process facts from /proc ---- */

static __s64 read_boot_time(void)
{
	char line[256];
	long long bt = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lld", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

/* Start time in unix seconds from field 22 of /proc/PID/stat; 0 when gone. */
static __s64 read_start_time(struct ingest *k, __u32 tgid)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%u/stat", tgid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return k->boot_time + (__s64)(ticks / sysconf(_SC_CLK_TCK));
}

/* The cgroup v2 path ("0::/system.slice/x.service"), or the first line's path. */
static const char *read_cgroup(struct ingest *k, __u32 tgid)
{
	char path[64], line[1024], *p;
	const char *res = NULL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cgroup", tgid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		p = strstr(line, "::");
		if (p && !strncmp(line, "0::", 3)) {
			res = intern(k, p + 2);
			break;
		}
		if (!res && (p = strrchr(line, ':')))
			res = intern(k, p + 1);
	}
	fclose(f);
	return res;
}

/* Start time, cgroup and executable of @pc's process: what the store keeps of it. */
static void read_facts(struct ingest *k, struct pcache *pc)
{
	pc->facts_read = true;
	if (!pc->tgid)
		return;
	/* an exec keeps the start time and the cgroup: only the executable is new */
	if (!pc->start_time)
		pc->start_time = read_start_time(k, pc->tgid);
	if (!pc->cgroup)
		pc->cgroup = read_cgroup(k, pc->tgid);
	pc->exe_build_id = intern(k, symbolizer__exe_build_id(k->syms, pc->tgid, pc->exe_fid));
}

static struct pcache *get_pcache(struct ingest *k, __u32 tgid)
{
	struct pcache *pc;
	uint64_t val;

	if (hashmap__get(&k->pcaches, tgid, &val)) {
		pc = (struct pcache *)(uintptr_t)val;
		if (pc->remapped) {
			hashmap__release(&pc->addrs[0]);
			hashmap__release(&pc->addrs[1]);
			pc->remapped = false;
		}
		if (pc->stale) {
			/* what its addresses meant before the exec is no more */
			hashmap__release(&pc->addrs[0]);
			hashmap__release(&pc->addrs[1]);
			pc->stale = false;
			pc->by_file = false;
			pc->facts_read = false;
			pc->exited = false;
		}
		return pc;
	}
	pc = calloc(1, sizeof(*pc));
	if (!pc)
		return NULL;
	pc->tgid = tgid;
	if (hashmap__set(&k->pcaches, tgid, (uintptr_t)pc)) {
		free(pc);
		return NULL;
	}
	return pc;
}

static void note_remapped(void *ctx, __u32 tgid)
{
	struct ingest *k = ctx;
	uint64_t val;

	if (hashmap__get(&k->pcaches, tgid, &val))
		((struct pcache *)(uintptr_t)val)->remapped = true;
}

static void pcache__free(struct pcache *pc)
{
	if (!pc)
		return;
	hashmap__release(&pc->addrs[0]);
	hashmap__release(&pc->addrs[1]);
	free(pc);
}

/* ---- frames ---- */

static int grow_array(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 64;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	p = reallocarray(*arr, n, size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}


/* Intern frame @f under its identity; returns its index or -errno. */
static int add_frame(struct ingest *k, const struct store_frame *f)
{
	int id, err;

	strbuf__setlen(&k->key, 0);
	/* the name too: JIT and anonymous code have no build id to tell them apart */
	err = strbuf__addf(&k->key, "%c%s%c%llx/%d/%s", f->kernel ? 'k' : f->python ? 'p' : 'u',
			   f->build_id ? f->build_id : f->module ? f->module : "",
			   f->build_id ? 'b' : 'm', (unsigned long long)f->addr, f->depth,
			   f->name ? f->name : "");
	/* grow first: an interned key always has its slot */
	err = err ?: grow_array((void **)&k->frames, &k->cap_frames,
				strset__count(k->frame_keys) + 1, sizeof(*k->frames));
	if (err)
		return err;
	id = strset__add(k->frame_keys, k->key.buf, k->key.len);
	if (id < 0 || (size_t)id < strset__count(k->frame_keys) - 1)
		return id;
	k->frames[id].f = *f;
	k->frames[id].db_id = 0;
	return id;
}

/* Append the frames of user address @addr (its inline chain, outermost first) to stack_buf. */
static int add_user_frames(struct ingest *k, struct pcache *pc, __u64 addr, bool leaf,
			   int *n)
{
	struct sym_frame sf[SYM_MAX_FRAMES];
	__u32 idx[SYM_MAX_FRAMES];
	bool shared = pc->by_file && (addr & UNWIND_FILE_FRAME), found;
	const char *chain;
	uint64_t val;
	int i, nr, id;

	/* what is not named alike everywhere is kept per process, as the rest */
	found = (shared && hashmap__get(&k->file_addrs[leaf], addr, &val)) ||
		hashmap__get(&pc->addrs[leaf], addr, &val);
	if (!found || (val >> 32 && val >> 32 != k->drain)) {
		/* a return address: look up the call, not what follows it */
		nr = symbolizer__user(k->syms, pc->tgid, leaf ? addr : addr - 1, sf,
				      SYM_MAX_FRAMES);
		k->counts.user_lookups++;
		if (nr < 0)
			return nr;
		for (i = 0; i < nr; i++) {
			struct store_frame f = {
				.module = sf[i].module, .name = sf[i].name, .addr = sf[i].offset,
				.build_id = sf[i].build_id && sf[i].build_id[0] ? sf[i].build_id : NULL,
				.depth = i, .inlined = sf[i].inlined, .jit = sf[i].jit,
				.file = sf[i].file, .line = sf[i].line,
				.start_line = sf[i].start_line,
			};

			id = add_frame(k, &f);
			if (id < 0)
				return id;
			idx[i] = id;
		}
		id = strset__add(k->chains, (const char *)idx, nr * sizeof(idx[0]));
		if (id < 0)
			return -ENOMEM;
		val = id;
		/*
		 * No mapping holds it (yet): a library mapped a moment ago is
		 * found later. JIT code: freed code's address may hold other code
		 * compiled later, named by a line its perf map gets then.
		 */
		if ((nr == 1 && !sf[0].name && !sf[0].module) || (nr && sf[0].jit))
			val |= k->drain << 32;
		/*
		 * For every process named by file: through a file id that names
		 * one binary, open. Not a bare frame of a binary evicted or not
		 * open (another process may name it), nor one the process's own
		 * mapping told apart from another file's.
		 */
		shared = shared && symbolizer__fid_shared(k->syms, UNWIND_FILE_FRAME_ID(addr));
		if (!shared && nr == 1 && !sf[0].name && (addr & UNWIND_FILE_FRAME))
			val |= k->drain << 32;	/* looked up again at the next drain */
		if (hashmap__set(shared ? &k->file_addrs[leaf] : &pc->addrs[leaf], addr, val))
			return -ENOMEM;
		val = id;
	}
	/* not aligned (strset packs strings): copy, never dereference */
	val &= 0xffffffff;
	chain = strset__str(k->chains, val);
	nr = strset__len(k->chains, val) / sizeof(__u32);
	memcpy(k->stack_buf + *n, chain, nr * sizeof(__u32));
	*n += nr;
	return 0;
}

static int kernel_frame(struct ingest *k, __u64 addr, bool leaf)
{
	struct store_frame f = { .kernel = true };
	struct sym_frame sf;
	uint64_t val;
	int idx;

	if (hashmap__get(&k->kaddrs[leaf], addr, &val))
		return val;
	symbolizer__kernel(k->syms, leaf ? addr : addr - 1, &sf);
	k->counts.kernel_lookups++;
	f.module = sf.module;
	f.name = sf.name;
	f.addr = sf.offset;
	idx = add_frame(k, &f);
	if (idx >= 0 && hashmap__set(&k->kaddrs[leaf], addr, idx))
		return -ENOMEM;
	return idx;
}

/* ---- samples ---- */

static int proc_index(struct ingest *k, struct pcache *pc, const char *comm)
{
	struct sproc *p;
	int id, err;

	strbuf__setlen(&k->key, 0);
	err = strbuf__addf(&k->key, "%u %lld %s", pc->tgid, (long long)pc->start_time, comm);
	err = err ?: grow_array((void **)&k->procs, &k->cap_procs,
				strset__count(k->proc_keys) + 1, sizeof(*k->procs));
	if (err)
		return err;
	id = strset__add(k->proc_keys, k->key.buf, k->key.len);
	if (id < 0 || (size_t)id < strset__count(k->proc_keys) - 1)
		return id;
	if (!pc->facts_read)
		read_facts(k, pc);
	p = &k->procs[id];
	p->pid = pc->tgid;
	p->comm = intern(k, comm);
	p->exe_build_id = pc->exe_build_id;
	p->cgroup = pc->cgroup;
	p->start_time = pc->start_time;
	p->db_id = 0;
	return p->comm ? id : -ENOMEM;
}

static int stack_index(struct ingest *k, const __u32 *frames, int nr)
{
	int id, err;

	err = grow_array((void **)&k->stack_db, &k->cap_stacks,
			 strset__count(k->stack_keys) + 1, sizeof(*k->stack_db));
	if (err)
		return err;
	id = strset__add(k->stack_keys, (const char *)frames, nr * sizeof(*frames));
	if (id < 0 || (size_t)id < strset__count(k->stack_keys) - 1)
		return id;
	k->stack_db[id] = 0;
	return id;
}

static int cmp_pending(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

static void merge_pending(struct ingest *k)
{
	size_t i, j = 0;

	if (!k->nr_pend)
		return;
	qsort(k->pend, k->nr_pend, sizeof(*k->pend), cmp_pending);
	for (i = 1; i < k->nr_pend; i++) {
		if (!cmp_pending(&k->pend[i], &k->pend[j]))
			k->pend[j].count += k->pend[i].count;
		else
			k->pend[++j] = k->pend[i];
	}
	k->nr_pend = j + 1;
}

void ingest__begin_drain(struct ingest *k)
{
	double now = wall_seconds(), mid = now;
	__s64 t;

	symbolizer__next_generation(k->syms);
	k->drain++;
	if (k->fid_epoch != symbolizer__fid_epoch(k->syms)) {
		k->fid_epoch = symbolizer__fid_epoch(k->syms);
		hashmap__release(&k->file_addrs[0]);
		hashmap__release(&k->file_addrs[1]);
	}
	/* a window that runs backwards (the clock stepped) counts at its end */
	if (k->window_start > 0 && k->window_start <= now)
		mid = (k->window_start + now) / 2;
	t = (__s64)mid;
	k->window_bucket = t - t % k->bucket_secs;
	k->window_start = now;
}

/*
 * A new process's start time and cgroup, from its EVENT_NEW: no /proc read
 * for the start time, and the cgroup's path read once per cgroup.
 */
static void take_facts(struct ingest *k, const struct proc_event *ev)
{
	struct pcache *pc;
	uint64_t val;

	if (!ev->start_ns || !k->boot_time)
		return;	/* a test's hand-made event */
	pc = get_pcache(k, ev->tgid);
	if (!pc)
		return;
	pc->exe_fid = ev->exe_fid;
	pc->by_file = ev->type & EVENT_F_BY_FILE;
	pc->start_time = k->boot_time + (__s64)(ev->start_ns / 1000000000ULL);
	if (ev->cgroup_id && hashmap__get(&k->cgroups, ev->cgroup_id, &val)) {
		pc->cgroup = (const char *)(uintptr_t)val;
		return;
	}
	pc->cgroup = read_cgroup(k, ev->tgid);
	if (pc->cgroup && ev->cgroup_id)
		hashmap__set(&k->cgroups, ev->cgroup_id, (uintptr_t)pc->cgroup);
}

void ingest__proc_event(void *ingest, const struct proc_event *ev)
{
	struct ingest *k = ingest;
	__u32 type = EVENT_TYPE(ev->type);
	uint64_t val;

	if (type == EVENT_NEW && (ev->type & EVENT_F_BY_FILE))
		symbolizer__add_process_by_file(k->syms, ev->tgid);
	else if (type == EVENT_NEW)
		symbolizer__add_process(k->syms, ev->tgid);
	else
		symbolizer__process_exited(k->syms, ev->tgid);
	/* EVENT_NEW of a pid already cached: the first sample after an exec, or a pid reused */
	if (type != EVENT_EXIT && hashmap__get(&k->pcaches, ev->tgid, &val))
		((struct pcache *)(uintptr_t)val)->stale = true;
	if (type == EVENT_NEW)
		take_facts(k, ev);
}

/* ---- what a sample looks like ---- */

static int folded_frame(struct strbuf *line, const struct store_frame *f)
{
	char buf[300];

	if (f->kernel)
		return folded__add_frame(line, f->name ? f->name : "[unknown]", "_[k]");
	if (f->name)
		return folded__add_frame(line, f->name,
					 f->inlined ? "_[i]" : f->jit ? "_[j]" :
					 f->python ? "_[p]" : NULL);
	if (f->module)
		snprintf(buf, sizeof(buf), "[unknown] (%s)", f->module);
	else
		snprintf(buf, sizeof(buf), "[unknown]");
	return folded__add_frame(line, buf, NULL);
}

int ingest_sample__folded(const struct ingest_sample *s, struct strbuf *line)
{
	int i, err;

	strbuf__setlen(line, 0);
	err = folded__add_frame(line, s->comm, NULL);
	for (i = 0; i < s->nr_frames && !err; i++)
		err = folded_frame(line, &s->frames[i]);
	if (!err && !s->nr_frames)
		err = folded__add_frame(line, "[no stack]", NULL);
	return err;
}

/* ---- judging a stack ---- */

static enum ingest_naming naming_of(int nr, int named)
{
	if (!nr)
		return INGEST_NO_USER_STACK;
	return named == nr ? INGEST_NAMED : named ? INGEST_PARTLY_NAMED : INGEST_UNNAMED;
}

enum ingest_naming ingest__naming(const struct store_frame *user, int nr)
{
	int i, named = 0;

	for (i = 0; i < nr; i++)
		named += user[i].name != NULL;
	return naming_of(nr, named);
}

bool ingest__is_root_function(const char *name)
{
	static const char *const roots[] = { "_start", "__clone3", "clone3", "__clone", "clone",
					     "start_thread" };
	size_t i;

	for (i = 0; name && i < sizeof(roots) / sizeof(roots[0]); i++) {
		if (!strcmp(name, roots[i]))
			return true;
	}
	return false;
}

/* Judge the user part of the stack in @idx (root first: the outermost frame is the first). */
static void judge(struct ingest *k, struct ingest_sample *s, const __u32 *idx, int n)
{
	const struct store_frame *f;
	int i, named = 0;

	for (i = 0; i < n; i++) {
		f = &k->frames[idx[i]].f;
		if (f->kernel)
			break;
		named += f->name != NULL;
	}
	s->nr_user = i;
	s->naming = naming_of(s->nr_user, named);
	/* frame pointers give no verdict: a stack ending in _start or a thread start is whole */
	s->rooted = s->key->unwind_end == UNWIND_END_ROOT ||
		    (s->key->unwind_end == UNWIND_END_NONE && s->nr_user &&
		     ingest__is_root_function(k->frames[idx[0]].f.name));
	k->counts.samples += s->count;
	if (!s->nr_user)
		return;
	k->counts.user_stacks += s->count;
	if (s->rooted)
		k->counts.rooted += s->count;
	if (s->naming == INGEST_UNNAMED) {
		k->counts.unnamed += s->count;
		if (s->rooted)
			k->counts.rooted_unnamed += s->count;
	} else if (s->rooted) {
		k->counts.complete += s->count;
	}
}

/* Hand @s, with the frames in @idx, to the consumer. */
static int consume(struct ingest *k, struct ingest_sample *s, const __u32 *idx, int n)
{
	int i, err;

	err = grow_array((void **)&k->sample_frames, &k->cap_sample_frames, n + 1,
			 sizeof(*k->sample_frames));
	if (err)
		return err;
	for (i = 0; i < n; i++)
		k->sample_frames[i] = k->frames[idx[i]].f;
	s->frames = k->sample_frames;
	s->nr_frames = n;
	return k->fn(k->fn_ctx, s);
}

/* Add the stack in stack_buf to the batch for the store. */
static int add_pending(struct ingest *k, struct pcache *pc, const struct ingest_sample *s, int n)
{
	int proc, stack, err;

	if (k->nr_pend >= k->max_pending)
		merge_pending(k);
	if (k->nr_pend >= k->max_pending) {
		k->lost += s->count;
		return 0;
	}
	proc = proc_index(k, pc, s->comm);
	stack = proc < 0 ? proc : stack_index(k, k->stack_buf, n);
	if (stack < 0)
		return stack;
	err = grow_array((void **)&k->pend, &k->cap_pend, k->nr_pend + 1, sizeof(*k->pend));
	if (err)
		return err;
	k->pend[k->nr_pend++] = (struct pending){ k->window_bucket, proc, stack, s->count };
	k->pending_samples += s->count;
	return 0;
}

/* ---- Python frames ---- */

#define PY_STR(x) #x
#define PY_XSTR(x) PY_STR(x)

static bool is_eval_frame(const struct store_frame *f)
{
	static const char EVAL[] = "_PyEval_EvalFrameDefault";

	/* the function and its hot/cold parts ("_PyEval_EvalFrameDefault.cold") */
	return !f->kernel && !f->python && f->name && !strncmp(f->name, EVAL, sizeof(EVAL) - 1) &&
	       (!f->name[sizeof(EVAL) - 1] || f->name[sizeof(EVAL) - 1] == '.');
}

static int python_frame(struct ingest *k, __u32 tgid, __u32 version, const struct py_frame *pf)
{
	struct store_frame f = { .python = true, .module = "[python]" };
	struct py_name nm;

	k->counts.python_frames++;
	if (!python_namer__name(k->py, tgid, version, pf, &nm)) {
		f.name = nm.qualname;
		f.module = nm.file ? nm.file : f.module;
		f.addr = nm.line;
	} else {
		k->counts.python_unnamed++;
	}
	return add_frame(k, &f);
}

/*
 * Python segment @seg (its frames [first, end) of @py, innermost first) to
 * py_buf at *@o, outermost first. A stack the walk cut (MAX_PY_DEPTH, or a
 * frame it could not read) gets a marker frame on the root side of its
 * outermost frame.
 */
static int put_segment(struct ingest *k, __u32 tgid, const struct py_stack *py, int first,
		       int end, int *o)
{
	struct store_frame cut = { .python = true, .module = "[python]" };
	int i, idx;

	if (end == (int)py->nr && py->end != PY_END_DONE) {
		cut.name = py->end == PY_END_DEPTH ? "[python: more than " PY_XSTR(MAX_PY_DEPTH)
						     " frames]" : "[python: frame not readable]";
		idx = add_frame(k, &cut);
		if (idx < 0)
			return idx;
		k->py_buf[(*o)++] = idx;
	}
	for (i = end - 1; i >= first; i--) {
		idx = python_frame(k, tgid, py->version, &py->frames[i]);
		if (idx < 0)
			return idx;
		k->py_buf[(*o)++] = idx;
	}
	return 0;
}

/*
 * Put the Python frames of @py in the user stack stack_buf[0 .. *@n) (root
 * first). Each call of the evaluation loop ran the Python frames from one
 * entry frame to the next: the innermost loop frame gets the innermost
 * segment, and so on outwards; segments left over go to the outermost loop
 * frame, loop frames left over stay (a loop that has not pushed its frame
 * yet). No loop frame at all (a native stack cut short): the Python frames
 * go first, as the callers of what the native stack shows.
 */
static int merge_python(struct ingest *k, __u32 tgid, const struct py_stack *py, int *n)
{
	int seg[MAX_PY_DEPTH + 1], nseg = 0, nev = 0, i, j, o = 0, err;

	seg[0] = 0;
	for (i = 0; i < (int)py->nr; i++) {
		if ((py->frames[i].flags & PY_FRAME_ENTRY) || i == (int)py->nr - 1)
			seg[++nseg] = i + 1;
	}
	for (i = 0; i < *n; i++)
		nev += is_eval_frame(&k->frames[k->stack_buf[i]].f);
	err = grow_array((void **)&k->py_buf, &k->cap_py_buf, *n + py->nr + 1, sizeof(*k->py_buf));
	if (err)
		return err;
	if (!nev)
		err = put_segment(k, tgid, py, 0, py->nr, &o);
	for (i = 0, j = nev; i < *n && !err; i++) {
		__u32 f = k->stack_buf[i];
		int from;

		if (!is_eval_frame(&k->frames[f].f)) {
			k->py_buf[o++] = f;
			continue;
		}
		j--;	/* this loop frame's place, counted from the leaf */
		if (j >= nseg || k->py_keep_eval)
			k->py_buf[o++] = f;
		if (j >= nseg)
			continue;
		from = j == nev - 1 ? nseg - 1 : j;
		for (; from >= j && !err; from--)
			err = put_segment(k, tgid, py, seg[from], seg[from + 1], &o);
	}
	if (err)
		return err;
	memcpy(k->stack_buf, k->py_buf, o * sizeof(*k->py_buf));
	*n = o;
	return 0;
}

void ingest__keep_interpreter_frames(struct ingest *k, bool keep)
{
	k->py_keep_eval = keep;
}

int ingest__add(void *ingest, const struct sample_key *key, __u64 count, const __u64 *kips,
		int nr_kips, const __u64 *uips, int nr_uips, const struct py_stack *py)
{
	struct ingest *k = ingest;
	struct ingest_sample s = { .key = key, .count = count };
	char comm[TASK_COMM_LEN + 1];
	struct pcache *pc;
	int i, n = 0, idx, err;

	err = grow_array((void **)&k->stack_buf, &k->cap_stack_buf,
			 nr_kips + (size_t)nr_uips * SYM_MAX_FRAMES + MAX_PY_DEPTH + 1,
			 sizeof(*k->stack_buf));
	if (err)
		return err;
	symbolizer__take_changed(k->syms, note_remapped, k);
	pc = get_pcache(k, key->tgid);
	if (!pc)
		return -ENOMEM;
	k->counts.keys++;
	k->counts.pcs += nr_uips + nr_kips;
	/* root first: the arrays are innermost first */
	for (i = nr_uips - 1; i >= 0; i--) {
		err = add_user_frames(k, pc, uips[i], i == 0, &n);
		if (err)
			return err;
	}
	if (py && py->nr) {
		err = merge_python(k, key->tgid, py, &n);
		if (err)
			return err;
	}
	for (i = nr_kips - 1; i >= 0; i--) {
		idx = kernel_frame(k, kips[i], i == 0);
		if (idx < 0)
			return idx;
		k->stack_buf[n++] = idx;
	}
	memcpy(comm, key->comm, TASK_COMM_LEN);
	comm[TASK_COMM_LEN] = '\0';
	s.comm = comm[0] ? comm : "[unknown comm]";
	judge(k, &s, k->stack_buf, n);
	if (k->fn)
		err = consume(k, &s, k->stack_buf, n);
	if (!err && k->st)
		err = add_pending(k, pc, &s, n);
	return err;
}

/* ---- flushing ---- */

/* The place of @*slot's item in this flush's batch; *@fresh when it was not there yet. */
static __u32 batch_slot(struct ingest *k, __s64 *slot, size_t *nr, bool *fresh)
{
	*fresh = (__u64)*slot >> 32 != k->flush_gen;
	if (*fresh)
		*slot = (__s64)(k->flush_gen << 32 | ((*nr)++ + 1));
	return (__u32)(*slot & 0xffffffff) - 1;
}

static int batch_stack(struct ingest *k, __u32 stack, __u32 *idx)
{
	/* strset packs strings back to back: the arrays are not aligned */
	const char *frames = strset__str(k->stack_keys, stack);
	int nr = strset__len(k->stack_keys, stack) / sizeof(__u32), i, err;
	struct sframe *f;
	bool fresh;
	__u32 fi;

	*idx = batch_slot(k, &k->stack_db[stack], &k->nr_bstacks, &fresh);
	if (!fresh)
		return 0;
	err = grow_array((void **)&k->bstacks, &k->cap_bstacks, k->nr_bstacks,
			 sizeof(*k->bstacks));
	err = err ?: grow_array((void **)&k->brefs, &k->cap_brefs, k->nr_brefs + nr + 1,
				sizeof(*k->brefs));
	if (err)
		return err;
	/* the frames are set once the batch is whole: brefs may move */
	k->bstacks[*idx].frames = (const __u32 *)(uintptr_t)k->nr_brefs;
	k->bstacks[*idx].nr = nr;
	for (i = 0; i < nr; i++) {
		memcpy(&fi, frames + i * sizeof(fi), sizeof(fi));
		f = &k->frames[fi];
		k->brefs[k->nr_brefs++] = batch_slot(k, &f->db_id, &k->nr_bframes, &fresh);
		if (!fresh)
			continue;
		err = grow_array((void **)&k->bframes, &k->cap_bframes, k->nr_bframes,
				 sizeof(*k->bframes));
		if (err)
			return err;
		k->bframes[k->nr_bframes - 1] = f->f;
	}
	return 0;
}

static int batch_proc(struct ingest *k, __u32 proc, __u32 *idx)
{
	struct sproc *p = &k->procs[proc];
	bool fresh;
	int err;

	*idx = batch_slot(k, &p->db_id, &k->nr_bprocs, &fresh);
	if (!fresh)
		return 0;
	err = grow_array((void **)&k->bprocs, &k->cap_bprocs, k->nr_bprocs, sizeof(*k->bprocs));
	if (!err)
		k->bprocs[*idx] = (struct store_process){
			.pid = p->pid, .comm = p->comm, .exe_build_id = p->exe_build_id,
			.start_time = p->start_time, .cgroup = p->cgroup,
		};
	return err;
}

/* The pending counts as one batch: what they use, each once. */
static int build_batch(struct ingest *k, struct store_batch *b, struct store_health *health)
{
	__u32 proc = 0, stack = 0;
	size_t i;
	int err;

	k->flush_gen++;
	k->nr_bframes = k->nr_bstacks = k->nr_bprocs = k->nr_brefs = 0;
	err = grow_array((void **)&k->bcounts, &k->cap_bcounts, k->nr_pend + 1,
			 sizeof(*k->bcounts));
	for (i = 0; !err && i < k->nr_pend; i++) {
		const struct pending *p = &k->pend[i];

		err = batch_proc(k, p->proc, &proc);
		err = err ?: batch_stack(k, p->stack, &stack);
		k->bcounts[i] = (struct store_count){ p->ts, proc, stack, p->count };
	}
	if (err)
		return err;
	for (i = 0; i < k->nr_bstacks; i++)
		k->bstacks[i].frames = k->brefs + (uintptr_t)k->bstacks[i].frames;
	*b = (struct store_batch){
		.run_id = k->run_id, .frames = k->bframes, .nr_frames = k->nr_bframes,
		.stacks = k->bstacks, .nr_stacks = k->nr_bstacks, .processes = k->bprocs,
		.nr_processes = k->nr_bprocs, .counts = k->bcounts, .nr_counts = k->nr_pend,
		.health = health,
	};
	if (health) {
		health->recorded = k->written + k->pending_samples;
		health->lost = k->lost;
		health->user_stacks = k->counts.user_stacks;
		health->complete = k->counts.complete;
		health->unnamed = k->counts.unnamed;
	}
	return 0;
}

/*
 * Frames, stacks and processes interned at most, kept from flush to flush
 * (a few MB): an agent on a build host meets new compiler addresses and
 * processes for as long as it runs. Past that, once a flush has written
 * everything pending, they start over (and are looked up again).
 */
#define INGEST_MAX_FRAMES (1u << 13)
#define INGEST_MAX_STACKS (1u << 13)
#define INGEST_MAX_PROCS (1u << 11)

static void start_over(struct ingest *k)
{
	struct strset *frames = strset__new(), *chains = strset__new(), *stacks = strset__new(),
		      *procs = strset__new();
	uint64_t val;
	size_t i = 0;

	if (!frames || !chains || !stacks || !procs) {
		strset__free(frames);
		strset__free(chains);
		strset__free(stacks);
		strset__free(procs);
		return;	/* kept as they are: tried again at the next flush */
	}
	strset__free(k->frame_keys);
	strset__free(k->chains);
	strset__free(k->stack_keys);
	strset__free(k->proc_keys);
	k->frame_keys = frames;
	k->chains = chains;
	k->stack_keys = stacks;
	k->proc_keys = procs;
	/* what maps to a chain or a frame index: every address cache */
	hashmap__release(&k->kaddrs[0]);
	hashmap__release(&k->kaddrs[1]);
	hashmap__release(&k->file_addrs[0]);
	hashmap__release(&k->file_addrs[1]);
	while (hashmap__next(&k->pcaches, &i, NULL, &val)) {
		struct pcache *pc = (struct pcache *)(uintptr_t)val;

		hashmap__release(&pc->addrs[0]);
		hashmap__release(&pc->addrs[1]);
	}
	k->counts.start_overs++;
}

int ingest__flush(struct ingest *k, struct store_health *health)
{
	struct store_batch batch;
	int err;

	if (!k->st)
		return -ENOENT;
	if (!k->nr_pend && !health)
		return 0;
	merge_pending(k);
	err = build_batch(k, &batch, health);
	err = err ?: store__write_batch(k->st, &batch);
	if (err)
		return err;
	k->written += k->pending_samples;
	k->pending_samples = 0;
	k->nr_pend = 0;
	if (strset__count(k->frame_keys) > INGEST_MAX_FRAMES ||
	    strset__count(k->stack_keys) > INGEST_MAX_STACKS ||
	    strset__count(k->proc_keys) > INGEST_MAX_PROCS)
		start_over(k);
	return 0;
}

/* ---- lifecycle ---- */

static int cmdline_of(const struct ingest_store_opts *o, struct strbuf *sb)
{
	int i, err = 0;

	for (i = 0; i < o->argc && !err; i++)
		err = strbuf__addf(sb, "%s%s", i ? " " : "", o->argv[i]);
	return err;
}

static int add_run(struct ingest *k, const struct ingest_store_opts *o)
{
	struct strbuf cmd = STRBUF_INIT;
	struct store_run run = {
		.kind = o->kind, .freq = o->freq, .labels = o->labels, .nr_labels = o->nr_labels,
	};
	struct timespec ts;
	char host[256] = "";
	int err;

	gethostname(host, sizeof(host) - 1);
	clock_gettime(CLOCK_REALTIME, &ts);
	run.host = o->host && *o->host ? o->host : host;
	run.start_ms = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	err = cmdline_of(o, &cmd);
	run.cmdline = strbuf__str(&cmd);
	err = err ?: store__add_run(k->st, &run, &k->run_id);
	strbuf__release(&cmd);
	return err;
}

struct ingest *ingest__new(struct symbolizer *syms, ingest_sample_fn fn, void *ctx)
{
	struct ingest *k;

	k = calloc(1, sizeof(*k));
	if (!k) {
		errno = ENOMEM;
		return NULL;
	}
	k->syms = syms;
	k->fn = fn;
	k->fn_ctx = ctx;
	k->bucket_secs = 10;
	k->key = (struct strbuf)STRBUF_INIT;
	k->strs = strset__new();
	k->frame_keys = strset__new();
	k->chains = strset__new();
	k->stack_keys = strset__new();
	k->proc_keys = strset__new();
	k->py = python_namer__new();
	if (!k->strs || !k->frame_keys || !k->chains || !k->stack_keys || !k->proc_keys ||
	    !k->py) {
		ingest__free(k);
		errno = ENOMEM;
		return NULL;
	}
	return k;
}

int ingest__open_store(struct ingest *k, const struct ingest_store_opts *o)
{
	struct store_opts so = {
		.create = true, .quiet = o->quiet, .busy_timeout_ms = o->busy_timeout_ms,
	};
	char *path;
	int err;

	if (k->st)
		return -EBUSY;
	path = o->db_path ? strdup(o->db_path) : store__default_path();
	if (!path)
		return -ENOMEM;
	k->st = store__open(path, &so);
	free(path);
	if (!k->st)
		return -errno;
	err = add_run(k, o);
	if (err) {
		store__free(k->st);
		k->st = NULL;
		return err;
	}
	k->bucket_secs = o->bucket_secs > 0 ? o->bucket_secs : 10;
	k->max_pending = o->max_pending ? o->max_pending : 1 << 20;
	k->boot_time = read_boot_time();
	k->window_start = wall_seconds();
	k->window_bucket = (__s64)k->window_start - (__s64)k->window_start % k->bucket_secs;
	return 0;
}

void ingest__free(struct ingest *k)
{
	size_t i = 0;
	uint64_t val;

	if (!k)
		return;
	while (hashmap__next(&k->pcaches, &i, NULL, &val))
		pcache__free((struct pcache *)(uintptr_t)val);
	hashmap__release(&k->pcaches);
	hashmap__release(&k->cgroups);
	hashmap__release(&k->kaddrs[0]);
	hashmap__release(&k->kaddrs[1]);
	hashmap__release(&k->file_addrs[0]);
	hashmap__release(&k->file_addrs[1]);
	store__free(k->st);
	strset__free(k->strs);
	strset__free(k->frame_keys);
	strset__free(k->chains);
	strset__free(k->stack_keys);
	strset__free(k->proc_keys);
	free(k->frames);
	free(k->stack_db);
	free(k->procs);
	free(k->pend);
	free(k->stack_buf);
	free(k->bframes);
	free(k->bstacks);
	free(k->bprocs);
	free(k->bcounts);
	free(k->brefs);
	free(k->sample_frames);
	free(k->py_buf);
	python_namer__free(k->py);
	strbuf__release(&k->key);
	free(k);
}

int ingest__close(struct ingest *k)
{
	struct timespec ts;
	int err = 0, e;

	if (k && k->st) {
		err = ingest__flush(k, NULL);
		clock_gettime(CLOCK_REALTIME, &ts);
		e = store__end_run(k->st, k->run_id, ts.tv_sec * 1000LL + ts.tv_nsec / 1000000);
		err = err ?: e;
	}
	ingest__free(k);
	return err;
}

struct store *ingest__store(struct ingest *k)
{
	return k->st;
}

__s64 ingest__run_id(const struct ingest *k)
{
	return k->st ? k->run_id : 0;
}

void ingest__forget_exited(struct ingest *k)
{
	size_t i = 0, nr = 0, cap = 0;
	uint64_t key, val, *dead = NULL;

	while (hashmap__next(&k->pcaches, &i, &key, &val)) {
		struct pcache *pc = (struct pcache *)(uintptr_t)val;

		if (!key || !kill((pid_t)key, 0) || errno != ESRCH)
			continue;
		/* gone at two flushes in a row: its last samples have been drained */
		if (!pc->exited) {
			pc->exited = true;
			symbolizer__process_exited(k->syms, key);
			continue;
		}
		/* deleting while iterating shifts entries: collect first */
		if (grow_array((void **)&dead, &cap, nr + 1, sizeof(*dead)))
			break;
		dead[nr++] = key;
	}
	for (i = 0; i < nr; i++) {
		if (hashmap__delete(&k->pcaches, dead[i], &val))
			pcache__free((struct pcache *)(uintptr_t)val);
	}
	free(dead);
}

void ingest__stats(const struct ingest *k, struct ingest_stats *st)
{
	*st = k->counts;
	st->written = k->written;
	st->pending = k->pending_samples;
	st->lost = k->lost;
	st->frames = strset__count(k->frame_keys);
	st->stacks = strset__count(k->stack_keys);
	st->processes = strset__count(k->proc_keys);
}
