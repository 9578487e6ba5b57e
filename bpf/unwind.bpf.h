/* SPDX-License-Identifier: GPL-2.0 */
/*
 * User stacks unwound in BPF from the unwind tables user space derives from
 * .eh_frame (unwind/unwind_table.c). Included once, by profiler.bpf.c.
 *
 * unwind_rows holds the rows of every binary seen, each binary once
 * (unwind_tables[id] says where its rows are); unwind_procs[tgid] lists a
 * process's executable mappings with their table and load bias. The walk
 * runs under bpf_loop(), one frame per callback, so the verifier checks one
 * frame step, not 127. A pc outside the known mappings asks user space,
 * with an EVENT_SCAN on the events ring buffer, to read the process's maps
 * again.
 */
#ifndef __PROFILER_UNWIND_BPF_H
#define __PROFILER_UNWIND_BPF_H

#include <bpf/bpf_core_read.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);	/* user space writes rows in place */
	__type(key, __u32);
	__type(value, struct unwind_row);
	__uint(max_entries, 1);			/* sized by the loader */
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct unwind_table);
	__uint(max_entries, 1);			/* sized by the loader */
} unwind_tables SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* memory follows the processes seen */
	__type(key, __u32);
	__type(value, struct unwind_proc);
	__uint(max_entries, 8192);
} unwind_procs SEC(".maps");

/*
 * Binaries with a table by file identity, filled by user space as it tables
 * them (unwind/unwind_files.c): a pc outside the mappings known for its
 * process finds its table through the file of its VMA.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct unwind_file_key);
	__type(value, struct unwind_file);
	__uint(max_entries, 4096);
} unwind_files SEC(".maps");

#define UNWIND_EVENT_SCAN EVENT_SCAN

/*
 * A kilobyte per stack, preallocated: allocating as stacks come made every
 * sample 15% dearer. The loader sizes it to what one drain window can hold.
 */
struct dwarf_stack_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u64);
	__type(value, struct unwind_stack);
	__uint(max_entries, 16384);
};

struct dwarf_stack_map ustacks_dwarf0 SEC(".maps"), ustacks_dwarf1 SEC(".maps");

/*
 * The top of the user stack, copied a chunk at a time as the walk needs it:
 * most frames' return addresses and saved rbp lie in the first kilobyte,
 * deep stacks (a compiler's) in the next ones, and one copy of a chunk
 * costs less than the dozens of 8-byte reads it replaces. Past
 * STACK_COPY_BYTES, or in a chunk that could not be read (it runs past the
 * end of the stack's mapping), the walk reads 8 bytes at a time. Lives in
 * the per-CPU unwind_scratch below.
 */
#define STACK_COPY_BYTES 8192
#define STACK_COPY_CHUNK 1024

struct stack_copy {
	__u64 base;		/* user address of data[0] */
	__u32 copied;		/* bit per chunk copied into data */
	__u32 failed;		/* bit per chunk that could not be read */
	__u8 data[STACK_COPY_BYTES];
};

/* what unwind_step.h needs, defined below */
static __always_inline int unwind_read(void *rctx, __u64 addr, __u64 *out);
static __always_inline const struct unwind_row *unwind_get_row(void *rctx, __u32 idx);
static __always_inline const struct unwind_table *unwind_get_table(void *rctx, __u32 id);
static __always_inline int unwind_find_slot(void *rctx, __u64 from, __u32 slots, __u64 value,
					    __u64 *at);
struct unwind_row_cache_slot;
static __always_inline struct unwind_row_cache_slot *unwind_get_cache_slot(void *rctx, __u32 hash);
struct unwind_state;
static __always_inline const struct unwind_mapping *unwind_find_file(void *rctx,
								     struct unwind_state *s);

#include "unwind_step.h"

/*
 * Moved by user space (the unwinder) when it evicts tables: their ids and
 * rows are then reused, and every row cached before is void.
 */
__u32 unwind_tables_gen = 0;

/*
 * The VMAs bpf_find_vma() found for a process whose mappings user space has
 * not given (or a library mapped since), by (tgid, mm): a sample in hard
 * interrupt context gets one bpf_find_vma() (the mmap lock's deferred unlock
 * has one slot per CPU), so each sample adds the VMA it found and the next
 * ones find more of their frames here. Void once tables are evicted (their
 * ids are reused).
 */
#define UNWIND_VMAS 16

struct unwind_vma_key {
	__u32 tgid;
	__u32 pad;
	__u64 mm;		/* the mm's address mixed with the process's start time */
};

/*
 * unwind_vma_set.flags: user space is to read the process (a VMA of a file
 * without a table, or of an interpreter, or more VMAs than the set holds)
 */
#define UNWIND_VMAS_F_READ 1
/*
 * The size of the vDSO's code VMA, the same in every process (the loader
 * reads it from its own maps), so that an exec adds the vDSO without a
 * bpf_find_vma(); 0: unknown.
 */
const volatile __u64 vdso_size = 0;

struct unwind_vma_set {
	__u32 nr;
	__u32 gen;		/* unwind_tables_gen when made */
	__u32 flags;		/* UNWIND_VMAS_F_* */
	__u32 exe_fid;		/* file id of the executable's code VMA (at the exec), or 0 */
	struct unwind_mapping maps[UNWIND_VMAS];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct unwind_vma_key);
	__type(value, struct unwind_vma_set);
	__uint(max_entries, 1024);
} unwind_vmas SEC(".maps");

/* bpf_find_vma() calls per sample: the first may succeed, another only outside interrupts */
#define UNWIND_VMA_LOOKUPS 2

/* the stack being built (too big for the BPF stack), the walk's state and caches */
struct unwind_scratch {
	struct unwind_stack stack;
	struct unwind_state s;
	__u32 tgid;
	__u32 vma_lookups;	/* bpf_find_vma() calls in this sample */
	__u32 vmas_loaded;	/* vmas holds the process's unwind_vmas entry */
	__u32 pad;
	struct unwind_vma_key vma_key;
	struct unwind_vma_set vmas;
	struct stack_copy copy;
};

/*
 * The row cache of each CPU, kept from sample to sample: slot i of CPU c at
 * (c << unwind_row_cache_bits) + i of one array, as the cache is too big
 * for a per-CPU value (those stop at 32 KB). The loader sizes both.
 */
const volatile __u32 unwind_row_cache_bits = UNWIND_ROW_CACHE_MIN_BITS;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct unwind_row_cache_slot);
	__uint(max_entries, 1);		/* possible CPUs << unwind_row_cache_bits */
} unwind_row_caches SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct unwind_scratch);
	__uint(max_entries, 1);
} unwind_scratch SEC(".maps");

/* @rctx: the CPU's struct unwind_scratch */
static __always_inline int unwind_read(void *rctx, __u64 addr, __u64 *out)
{
	struct stack_copy *c = &((struct unwind_scratch *)rctx)->copy;
	__u64 off = addr - c->base, at;
	__u32 bit;

	/* in one chunk of the copy (stack slots are 8-byte aligned: they never straddle two) */
	if (off < STACK_COPY_BYTES && off % STACK_COPY_CHUNK <= STACK_COPY_CHUNK - 8) {
		bit = 1u << (off / STACK_COPY_CHUNK);
		if (!(c->copied & bit) && !(c->failed & bit)) {
			at = off & (STACK_COPY_BYTES - STACK_COPY_CHUNK);
			if (bpf_probe_read_user(&c->data[at], STACK_COPY_CHUNK,
						(const void *)(c->base + at)))
				c->failed |= bit;
			else
				c->copied |= bit;
		}
		if (c->copied & bit) {
			off &= STACK_COPY_BYTES - 1;
			if (off <= STACK_COPY_BYTES - 8) {
				__builtin_memcpy(out, &c->data[off], sizeof(*out));
				return 0;
			}
		}
	}
	return bpf_probe_read_user(out, sizeof(*out), (const void *)addr);
}

static __always_inline const struct unwind_row *unwind_get_row(void *rctx, __u32 idx)
{
	return bpf_map_lookup_elem(&unwind_rows, &idx);
}

static __always_inline const struct unwind_table *unwind_get_table(void *rctx, __u32 id)
{
	return bpf_map_lookup_elem(&unwind_tables, &id);
}

static __always_inline struct unwind_row_cache_slot *unwind_get_cache_slot(void *rctx, __u32 hash)
{
	__u32 bits = unwind_row_cache_bits & 15;
	__u32 idx = (bpf_get_smp_processor_id() << bits) | (hash >> (32 - bits));

	return bpf_map_lookup_elem(&unwind_row_caches, &idx);
}

struct find_vma_ctx {
	__u64 start, end, pgoff, dev, ino;
	__s64 ctime_ns;
	int file;
	int exec;		/* VM_EXEC */
};

/* @inode's change time in ns, as struct unwind_file has it, on any kernel */
static __always_inline __s64 inode_ctime_ns(struct inode *inode)
{
	struct inode___v66 *v66 = (void *)inode;
	struct inode___v5 *v5 = (void *)inode;

	/* since 6.13 the top bit of i_ctime_nsec says the time was queried (multigrain) */
	if (bpf_core_field_exists(inode->i_ctime_sec))
		return BPF_CORE_READ(inode, i_ctime_sec) * 1000000000LL +
		       (BPF_CORE_READ(inode, i_ctime_nsec) & 0x3fffffff);
	if (bpf_core_field_exists(v66->__i_ctime))
		return BPF_CORE_READ(v66, __i_ctime.tv_sec) * 1000000000LL +
		       BPF_CORE_READ(v66, __i_ctime.tv_nsec);
	return BPF_CORE_READ(v5, i_ctime.tv_sec) * 1000000000LL +
	       BPF_CORE_READ(v5, i_ctime.tv_nsec);
}

static long find_vma_cb(struct task_struct *task, struct vm_area_struct *vma, void *data)
{
	struct find_vma_ctx *c = data;
	struct inode *inode;

	c->start = BPF_CORE_READ(vma, vm_start);
	c->end = BPF_CORE_READ(vma, vm_end);
	c->pgoff = BPF_CORE_READ(vma, vm_pgoff);
	c->exec = !!(BPF_CORE_READ(vma, vm_flags) & VM_EXEC);
	inode = BPF_CORE_READ(vma, vm_file, f_inode);
	if (!inode) {
		/* the vDSO is file { 0, 0 }; other anonymous code (JIT) has none */
		c->file = (__u64)BPF_CORE_READ(vma, vm_mm, context.vdso) == c->start;
		return 0;
	}
	c->ino = BPF_CORE_READ(inode, i_ino);
	c->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	c->ctime_ns = inode_ctime_ns(inode);
	c->file = 1;
	return 0;
}

/*
 * The mapping the walk uses for VMA @c: its file's table if user space has
 * tabled it. True when the file's processes are to be read all the same.
 */
static __always_inline bool unwind_vma_mapping(const struct find_vma_ctx *c,
					       struct unwind_mapping *m)
{
	struct unwind_file_key key = { .dev = c->dev, .ino = c->ino };
	const struct unwind_file *f;
	__u64 pgoff = c->pgoff << 12;
	__u32 i;

	m->start = c->start;
	m->end = c->end;
	m->bias = 0;
	m->table = 0;
	m->kind = UNWIND_MAP_NO_TABLE;
	m->fid = unwind_file_id(c->dev, c->ino);
	m->pgoff = c->pgoff;
	f = bpf_map_lookup_elem(&unwind_files, &key);
	if (f && f->ctime_ns != c->ctime_ns)
		f = NULL;	/* rewritten since it was tabled: user space looks again */
	for (i = 0; f && i < UNWIND_FILE_SEGS && i < f->nr_segs; i++) {
		const struct unwind_file_seg *seg = &f->segs[i];

		if ((seg->offset & ~0xfffULL) <= pgoff && pgoff < seg->offset + seg->filesz) {
			m->bias = c->start - pgoff + seg->offset - seg->vaddr;
			m->table = f->table;
			m->kind = UNWIND_MAP_TABLE;
			break;
		}
	}
	return f && (f->flags & UNWIND_FILE_F_READ);
}

/* The key of the current process in unwind_vmas. */
static __always_inline void unwind_vma_key(__u32 tgid, struct unwind_vma_key *key)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 mm = (__u64)BPF_CORE_READ(task, mm);

	/*
	 * A thread exiting has let go of its mm (exit_mm()) before the mm is
	 * torn down, and samples while it is: the mm is still its active_mm
	 * then, and its last user frames (in _exit) are found as before.
	 */
	if (!mm && (task->flags & PF_EXITING))
		mm = (__u64)BPF_CORE_READ(task, active_mm);
	key->tgid = tgid;
	key->pad = 0;
	/*
	 * With the start time and the exec count: a pid and an mm's address
	 * both get reused, the address by a later image of the same process
	 * (sh -> env -> prog). The exec count moves before execve() maps the
	 * new image, so the mappings it makes go to the new image's set.
	 */
	key->mm = mm ^ BPF_CORE_READ(task, group_leader, start_boottime) * 0x9e3779b97f4a7c15ULL ^
		  BPF_CORE_READ(task, self_exec_id) * 0xc2b2ae3d27d4eb4fULL;
}

/*
 * @s->pc lies outside the mappings known for the process (they were not read
 * yet, or a library was mapped since): the VMA holding it, and the table of
 * its file when user space has tabled that binary (for another process, most
 * often: a compiler exec'd again and again). The frame is recorded as (file,
 * offset), so it can be named once the process is gone. A file without a
 * table asks for the process to be read (s->missing), and is walked with
 * frame pointers meanwhile.
 */
static __always_inline const struct unwind_mapping *unwind_find_file(void *rctx,
								     struct unwind_state *s)
{
	struct unwind_scratch *sc = rctx;
	struct find_vma_ctx c = {};
	struct unwind_vma_set *known;
	struct unwind_mapping *m;
	__u32 i, n;

	if (!sc->vmas_loaded) {
		sc->vmas_loaded = 1;
		unwind_vma_key(sc->tgid, &sc->vma_key);
		known = bpf_map_lookup_elem(&unwind_vmas, &sc->vma_key);
		if (known && known->gen == s->tables_gen) {
			sc->vmas = *known;
		} else {
			/* none made at an exec: what it holds is not all there is */
			sc->vmas.nr = 0;
			sc->vmas.flags = UNWIND_VMAS_F_READ;
		}
	}
	for (i = 0; i < UNWIND_VMAS; i++) {
		if (i >= sc->vmas.nr)
			break;
		m = &sc->vmas.maps[i];
		if (s->pc >= m->start && s->pc < m->end)
			goto found;
	}
	if (sc->vma_lookups >= UNWIND_VMA_LOOKUPS)
		return NULL;
	sc->vma_lookups++;
	if (bpf_find_vma(bpf_get_current_task_btf(), s->pc, find_vma_cb, &c, 0) || !c.file)
		return NULL;
	n = sc->vmas.nr;
	if (n < UNWIND_VMAS)
		sc->vmas.nr = n + 1;
	else
		n = (__u32)(s->pc >> 12) % UNWIND_VMAS;	/* full: one goes */
	m = &sc->vmas.maps[n & (UNWIND_VMAS - 1)];
	/* code the exec and the mmaps did not show: the process is to be read */
	unwind_vma_mapping(&c, m);
	sc->vmas.flags |= UNWIND_VMAS_F_READ;
	sc->vmas.gen = s->tables_gen;
	bpf_map_update_elem(&unwind_vmas, &sc->vma_key, &sc->vmas, BPF_ANY);
found:
	if (m->kind != UNWIND_MAP_TABLE)
		s->missing = 1;
	return m;
}

struct find_slot_ctx {
	__u64 from, value, at;
	int found;
};

static long find_slot_cb(__u64 i, void *data)
{
	struct find_slot_ctx *c = data;
	__u64 v;

	if (bpf_probe_read_user(&v, sizeof(v), (const void *)(c->from + i * 8)))
		return 1;
	if (v != c->value)
		return 0;
	c->at = c->from + i * 8;
	c->found = 1;
	return 1;
}

/* a loop of its own, so the verifier checks one slot, not hundreds */
static __always_inline int unwind_find_slot(void *rctx, __u64 from, __u32 slots, __u64 value,
					    __u64 *at)
{
	struct find_slot_ctx c = { .from = from, .value = value };

	bpf_loop(slots, find_slot_cb, &c, 0);
	if (!c.found)
		return -1;
	*at = c.at;
	return 0;
}


/*
 * Ask user space to read @tgid's mappings (@kind EVENT_SCAN), unless it was
 * asked less than @every_ns ago. A sample's miss (@pc set) wants an answer
 * soon: it wakes the reader; a new mapping's request waits for its next look.
 * A miss right after a request that did not wake the reader (an exec's, a
 * dlopen's) wakes it all the same: else its samples would wait up to a
 * second for the reader's next look, not 20 ms.
 */
static __always_inline void unwind_ask_scan(__u32 tgid, __u64 pc, __u32 kind, __u64 every_ns)
{
	struct proc_state *st = bpf_map_lookup_elem(&proc_state, &tgid);
	__u64 urgent = pc != 0, now = (bpf_ktime_get_ns() & ~SCAN_WOKE) | urgent;

	if (st) {
		if (now - st->scan_ns < every_ns && (!urgent || (st->scan_ns & SCAN_WOKE)))
			return;
		st->scan_ns = now;
	} else {
		struct proc_state init = { .scan_ns = now };

		bpf_map_update_elem(&proc_state, &tgid, &init, BPF_ANY);
	}
	send_event(kind, tgid, urgent);
}

/* bpf_loop's context: looked up once per sample, not once per frame */
struct unwind_loop_ctx {
	const struct unwind_proc *proc;	/* NULL: the process's mappings are unknown */
};

static long unwind_frame_cb(__u64 i, void *data)
{
	struct unwind_loop_ctx *lc = data;
	struct unwind_scratch *sc;
	struct unwind_state *s;
	__u32 zero = 0, idx;
	int end;

	sc = bpf_map_lookup_elem(&unwind_scratch, &zero);
	if (!sc)
		return 1;
	s = &sc->s;
	idx = s->nr;
	if (idx >= MAX_STACK_DEPTH) {
		s->end = UNWIND_END_DEPTH;
		return 1;
	}
	sc->stack.ips[idx] = s->pc;
	s->nr = idx + 1;
	s->hash = (s->hash ^ s->pc) * 0x100000001b3ULL;
	s->hash ^= s->hash >> 29;
	end = unwind_step(sc, lc->proc, s);
	if (s->enc) {
		/* found through its file: recorded as (file, offset), which outlives the process */
		sc->stack.ips[idx] = s->enc;
		s->hash = (s->hash ^ s->enc) * 0x100000001b3ULL;
		s->hash ^= s->hash >> 29;
	}
	if (end && end != UNWIND_END_ROOT && unwind_eh_resume(sc, s))
		return 0;
	if (end) {
		s->end = end;
		return 1;
	}
	return 0;
}

/* The user registers of the sampled thread, whether it was in user or kernel mode. */
static __always_inline bool unwind_user_regs(struct bpf_perf_event_data *ctx,
					     struct unwind_state *s)
{
	struct task_struct *task;
	struct pt_regs *regs;

	if ((ctx->regs.cs & 3) == 3) {
		s->pc = ctx->regs.rip;
		s->sp = ctx->regs.rsp;
		s->bp = ctx->regs.rbp;
		return true;
	}
	task = bpf_get_current_task_btf();
	if (task->flags & PF_KTHREAD)
		return false;
	/* in a syscall or interrupt: the registers saved at kernel entry */
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs || (BPF_CORE_READ(regs, cs) & 3) != 3)
		return false;
	s->pc = BPF_CORE_READ(regs, ip);
	s->sp = BPF_CORE_READ(regs, sp);
	s->bp = BPF_CORE_READ(regs, bp);
	return true;
}

/*
 * Unwind the current thread's user stack into @stacks (a dwarf_stack_map).
 * Fills key->ustack_hash (0: no user stack) and key->unwind_end. Returns 0
 * or a negative error from the stack map update.
 */
static __always_inline long unwind_user(struct bpf_perf_event_data *ctx, void *stacks,
					struct sample_key *key)
{
	struct unwind_loop_ctx lc;
	struct unwind_scratch *sc;
	struct unwind_state *s;
	__u32 zero = 0;
	long err;

	key->ustack_hash = 0;
	key->unwind_end = UNWIND_END_NONE;
	sc = bpf_map_lookup_elem(&unwind_scratch, &zero);
	if (!sc)
		return 0;
	s = &sc->s;
	__builtin_memset(s, 0, sizeof(*s));
	s->tables_gen = unwind_tables_gen;
	s->mode = unwind_mode;
	s->exact_pc = 1;
	sc->tgid = key->tgid;
	sc->vma_lookups = 0;
	sc->vmas_loaded = 0;
	if (!unwind_user_regs(ctx, s))
		return 0;
	sc->copy.base = s->sp;
	sc->copy.copied = 0;
	sc->copy.failed = 0;
	lc.proc = bpf_map_lookup_elem(&unwind_procs, &sc->tgid);
	bpf_loop(MAX_STACK_DEPTH, unwind_frame_cb, &lc, 0);
	if (!s->end)
		s->end = UNWIND_END_DEPTH;
	if (s->missing) {
		/*
		 * Frame pointers took over at a pc outside the known mappings:
		 * however the walk ended, that is the reason it is not whole.
		 */
		s->end = UNWIND_END_NO_MAPPING;
		/* not for a process tearing its memory down: nothing left to read */
		if (bpf_get_current_task_btf()->mm)
			unwind_ask_scan(key->tgid, s->pc, UNWIND_EVENT_SCAN, 20 * 1000 * 1000);
	}
	if (!s->nr)
		return 0;
	sc->stack.nr = s->nr;
	key->unwind_end = s->end;
	key->ustack_hash = s->hash ? s->hash : 1;
	/* most stacks are there already: a lockless lookup spares the bucket lock */
	if (bpf_map_lookup_elem(stacks, &key->ustack_hash))
		return 0;
	err = bpf_map_update_elem(stacks, &key->ustack_hash, &sc->stack, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

/*
 * Drop @tgid's entry in unwind_procs. True when user space wrote it (not a
 * copy a fork made of the parent's), so that it lets go of what it keeps.
 */
static __always_inline bool unwind_forget(__u32 tgid)
{
	const struct unwind_proc *p = bpf_map_lookup_elem(&unwind_procs, &tgid);
	bool known;

	if (!p)
		return false;	/* most processes: no entry to delete */
	known = !(p->flags & UNWIND_PROC_INHERITED);
	return bpf_map_delete_elem(&unwind_procs, &tgid) == 0 && known;
}

/*
 * Process @tgid exited (its thread group leader did): the sampler's exit
 * program calls this. True when the unwinder had its mappings (user space is
 * then told, to let them go).
 */
static __always_inline bool unwind_process_exit(__u32 tgid)
{
	if (unwind_mode == UNWIND_MODE_FP)
		return false;
	return unwind_forget(tgid);
}

/*
 * What user space is to do of process @tgid at its first sample: nothing (it
 * read the process, or the unwinder is off), read it (EVENT_F_UNWIND), or
 * name it by file (EVENT_F_BY_FILE) without a read: the process has its
 * parent's mappings (a fork's copy), or every code VMA exec and ld.so mapped
 * is in its unwind_vmas entry, each of a file with a table. Its frames then
 * all come as (file, offset), which user space names by the file. Unless
 * something needs a read all the same (an interpreter, a full set).
 */
static __always_inline __u32 unwind_first_sample(__u32 tgid, __u32 *exe_fid)
{
	const struct unwind_vma_set *set;
	const struct unwind_proc *p;
	struct unwind_vma_key key;

	if (unwind_mode == UNWIND_MODE_FP || tgid == self_tgid ||
	    !bpf_get_current_task_btf()->mm)
		return 0;	/* a kernel thread has no maps to read */
	p = bpf_map_lookup_elem(&unwind_procs, &tgid);
	if (p) {
		if (!(p->flags & UNWIND_PROC_INHERITED))
			return 0;
		return p->flags & UNWIND_PROC_READ_FORKS ? EVENT_F_UNWIND : EVENT_F_BY_FILE;
	}
	unwind_vma_key(tgid, &key);
	set = bpf_map_lookup_elem(&unwind_vmas, &key);
	if (set && set->exe_fid)
		*exe_fid = set->exe_fid;
	if (set && set->gen == unwind_tables_gen && set->nr && !(set->flags & UNWIND_VMAS_F_READ))
		return EVENT_F_BY_FILE;
	return EVENT_F_UNWIND;
}

static __always_inline bool unwind_wanted(__u32 tgid)
{
	char comm[TASK_COMM_LEN];

	if (filter_pids && !bpf_map_lookup_elem(&pid_filter, &tgid))
		return false;
	if (filter_comm) {
		bpf_get_current_comm(comm, sizeof(comm));
		if (!comm_matches(comm))
			return false;
	}
	return true;
}

/*
 * A process maps code from a file (ld.so loading a library, dlopen()): ask
 * for the maps of processes already tracked, at most every 100 ms each; user
 * space waits a moment, so the library's segments are mapped by the time it
 * reads the maps.
 *
 * The hook is the mmap lock's release at the end of the mmap syscall
 * (tracepoint mmap_lock_released, a raw tracepoint), not the syscall's own
 * tracepoint: attaching a program to any syscall tracepoint puts every
 * syscall of every thread on the host through the slow path that serves
 * them (SYSCALL_WORK_SYSCALL_TRACEPOINT), about 65 ns a syscall here, 30%
 * of a getppid(): on the build loop (40k syscalls a second) more than the
 * mmap program itself, and more on a database host. The lock is released
 * 3-4 times as often as mmap is called (munmap, mprotect, brk, faults that
 * fall back to it), and the program stops at the registers for all but the
 * mmap syscall's.
 *
 * Kernels without the mmap_lock tracepoints (CONFIG_TRACING off, before
 * 5.10) get unwind_on_unmapped_area below, for every mmap without MAP_FIXED.
 */
#define PROT_EXEC 0x4
#define MAP_FIXED 0x10
#define MAP_ANONYMOUS 0x20
#define MAP_FIXED_NOREPLACE 0x100000
#define NR_MMAP 9	/* x86-64 */

/* a zeroed unwind_vma_set to create entries from (too big for the BPF stack) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct unwind_vma_set);
	__uint(max_entries, 1);
} unwind_vma_zero SEC(".maps");

/* The current process's (@tgid's) unwind_vmas entry, made if missing; NULL when it cannot be. */
static __always_inline struct unwind_vma_set *unwind_vmas_get(__u32 tgid)
{
	struct unwind_vma_key key;
	struct unwind_vma_set *set;
	__u32 zero = 0;
	void *init;

	unwind_vma_key(tgid, &key);
	set = bpf_map_lookup_elem(&unwind_vmas, &key);
	if (!set) {
		init = bpf_map_lookup_elem(&unwind_vma_zero, &zero);
		if (!init)
			return NULL;
		bpf_map_update_elem(&unwind_vmas, &key, init, BPF_NOEXIST);
		set = bpf_map_lookup_elem(&unwind_vmas, &key);
		if (!set)
			return NULL;
	}
	if (set->gen != unwind_tables_gen) {
		set->nr = 0;
		set->flags = 0;
		set->exe_fid = 0;
		set->gen = unwind_tables_gen;
	}
	return set;
}

/*
 * Put the VMA of code address @addr of the current process into @set, its
 * unwind_vmas entry, from process context, where bpf_find_vma() is not
 * limited to one call per interrupt as in a sample. A VMA whose file has no
 * table yet (it is new to user space), or no room for it, marks the set: the
 * process is read at its first sample (a process never sampled needs no
 * table). True when it is to be read now: the file is an interpreter's,
 * whose stacks are walked only once user space has found it.
 */
static __always_inline bool unwind_vmas_add_vma(struct unwind_vma_set *set,
						const struct find_vma_ctx *c)
{
	bool now;
	__u32 i, n;

	if (!set || !c->file || !c->exec)
		return false;	/* no set: its first sample asks for a read */
	n = set->nr;
	for (i = 0; i < UNWIND_VMAS; i++) {
		if (i >= n)
			break;
		if (set->maps[i].start == c->start)
			return false;	/* known already */
	}
	if (n >= UNWIND_VMAS) {
		set->flags |= UNWIND_VMAS_F_READ;
		return false;
	}
	i = n;
	asm volatile("" : "+r"(i));	/* keep the mask: the verifier lost n's bound in the loop */
	i &= UNWIND_VMAS - 1;
	now = unwind_vma_mapping(c, &set->maps[i]);
	if (now || set->maps[i].kind != UNWIND_MAP_TABLE)
		set->flags |= UNWIND_VMAS_F_READ;
	set->nr = n + 1;	/* after the mapping: a sample copying the set sees it whole */
	return now;
}

/* unwind_vmas_add_vma() for the VMA holding @addr, in the current process */
static __always_inline bool unwind_vmas_add(struct unwind_vma_set *set, __u64 addr)
{
	struct find_vma_ctx c = {};

	if (!set || bpf_find_vma(bpf_get_current_task_btf(), addr, find_vma_cb, &c, 0))
		return false;
	return unwind_vmas_add_vma(set, &c);
}

/*
 * A process user space has not read yet mapped code (ld.so loading libc
 * right after the exec): its VMA goes into the process's unwind_vmas entry,
 * so the first samples find libc there instead of walking frame pointers. A
 * library user space has no table for has the process read at its first
 * sample (or at once, an interpreter's). Processes already read are left to
 * their scans.
 */
/* The inode of the current task's open file @fd, or NULL. */
static __always_inline struct inode *fd_inode(struct task_struct *task, long fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;

	if (!fdt || fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), fds + fd) || !file)
		return NULL;
	return BPF_CORE_READ(file, f_inode);
}

/*
 * A new mapping: only a file mapped with PROT_EXEC matters, and the mmap
 * syscall's arguments are still in the registers it was entered with
 * (x86-64: addr in rdi, length in rsi, prot in rdx, flags in r10, fd in r8,
 * offset in r9). The lock is still held, so the VMA is made from them
 * rather than looked up: ld.so maps a library's code with MAP_FIXED, over
 * the span it placed the file's first (read-only) segment in, so the
 * address is in rdi. A code mapping placed by the kernel (an old layout, a
 * program mapping code itself) is not known here: the process is then read
 * at its first sample. A mapping that failed leaves an entry no pc falls in.
 */
SEC("raw_tp/mmap_lock_released")
int unwind_on_mmap_unlock(void *ctx)
{
	struct find_vma_ctx c = { .file = 1, .exec = 1 };
	struct unwind_vma_set *set;
	struct task_struct *task;
	struct pt_regs *regs;
	struct inode *inode;
	__u32 tgid;

	if (unwind_mode == UNWIND_MODE_FP)
		return 0;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs || regs->orig_ax != NR_MMAP || !(regs->dx & PROT_EXEC) ||
	    (regs->r10 & MAP_ANONYMOUS) || (long)regs->r8 < 0)
		return 0;
	tgid = bpf_get_current_pid_tgid() >> 32;
	if (tgid == self_tgid)
		return 0;
	/* read by user space already: it is to read the new mapping too */
	if (bpf_map_lookup_elem(&unwind_procs, &tgid)) {
		unwind_ask_scan(tgid, 0, UNWIND_EVENT_SCAN, 100 * 1000 * 1000);
		return 0;
	}
	/* not read yet: the mapping goes into its VMA set */
	if (!unwind_wanted(tgid))
		return 0;
	set = unwind_vmas_get(tgid);
	if (!set)
		return 0;
	inode = regs->r10 & (MAP_FIXED | MAP_FIXED_NOREPLACE) ? fd_inode(task, regs->r8) : NULL;
	if (!inode) {
		set->flags |= UNWIND_VMAS_F_READ;
		return 0;
	}
	c.start = regs->di;
	c.end = c.start + ((regs->si + 0xfff) & ~0xfffULL);
	c.pgoff = regs->r9 >> 12;
	c.ino = BPF_CORE_READ(inode, i_ino);
	c.dev = BPF_CORE_READ(inode, i_sb, s_dev);
	c.ctime_ns = inode_ctime_ns(inode);
	if (unwind_vmas_add_vma(set, &c))
		unwind_ask_scan(tgid, 0, UNWIND_EVENT_SCAN, 100 * 1000 * 1000);
	return 0;
}

SEC("raw_tp/vm_unmapped_area")
int unwind_on_unmapped_area(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct pt_regs *regs;

	if (unwind_mode == UNWIND_MODE_FP)
		return 0;
	/*
	 * An anonymous mmap (most of them: allocators) maps no code. The
	 * placement of a file's first segment is the sign of a library being
	 * loaded; its code segment then goes over it with MAP_FIXED.
	 */
	regs = (struct pt_regs *)bpf_task_pt_regs(bpf_get_current_task_btf());
	if (regs && regs->orig_ax == NR_MMAP && ((regs->r10 & MAP_ANONYMOUS) || (long)regs->r8 < 0))
		return 0;
	if (!bpf_map_lookup_elem(&unwind_procs, &tgid))
		return 0;
	unwind_ask_scan(tgid, 0, UNWIND_EVENT_SCAN, 100 * 1000 * 1000);
	return 0;
}

/* the one field of task_struct unwind_on_fork() reads beyond vmlinux.h's */
struct task_struct___mm {
	void *mm;
} __attribute__((preserve_access_index));

/*
 * A forked child has its parent's mappings until it execs: copy them now.
 * Not for a child sharing its parent's memory (vfork, posix_spawn): it runs
 * only to exec, which would throw the copy away at once.
 */
SEC("tp_btf/sched_process_fork")
int unwind_on_fork(__u64 *ctx)
{
	struct task_struct *parent = (struct task_struct *)ctx[0];
	struct task_struct *child = (struct task_struct *)ctx[1];
	const struct unwind_proc *p;
	struct unwind_proc *c;
	__u32 ptgid, ctgid;

	if (unwind_mode == UNWIND_MODE_FP)
		return 0;
	ptgid = parent->tgid;
	ctgid = child->tgid;
	if (child->pid != ctgid ||
	    ((struct task_struct___mm *)child)->mm == ((struct task_struct___mm *)parent)->mm)
		return 0;	/* a new thread shares the entry already; a vfork child execs */
	p = bpf_map_lookup_elem(&unwind_procs, &ptgid);
	if (!p || bpf_map_update_elem(&unwind_procs, &ctgid, p, BPF_ANY))
		return 0;
	/* the child runs only once this returns: no exec can come in between */
	c = bpf_map_lookup_elem(&unwind_procs, &ctgid);
	if (c)
		c->flags |= UNWIND_PROC_INHERITED;
	return 0;
}

/*
 * Process @tgid exec'd a new image: the sampler's exec program calls this.
 * The code execve() mapped itself (the executable, the dynamic loader where
 * the new thread starts, the vDSO) goes into the process's unwind_vmas
 * entry, for its samples before user space reads its maps, if it ever does.
 * True when user space is to read the new image's mappings now (the caller
 * sends the event): it had read the process before the exec (and lets go of
 * what it read), or the image is an interpreter's. Otherwise a process is
 * read at its first sample if its image has code user space has no table
 * for, and not at all if every file of it is tabled: its frames are named
 * by file (see unwind_first_sample()). A process never sampled is not read.
 */
static __always_inline bool unwind_process_exec(__u32 tgid)
{
	struct unwind_vma_set *set;
	struct task_struct *task;
	struct pt_regs *regs;
	__u64 code, vdso;
	__u32 i;
	bool scan;

	/* only processes the sampler keeps: building tables for others is waste */
	if (unwind_mode == UNWIND_MODE_FP || !unwind_wanted(tgid))
		return false;
	/* a new image: the old mappings are gone (user space is told if it read them) */
	scan = unwind_forget(tgid);
	if (tgid == self_tgid)
		return scan;
	task = bpf_get_current_task_btf();
	regs = (struct pt_regs *)bpf_task_pt_regs(task);
	/*
	 * The new image's set (a new key: see unwind_vma_key()): the
	 * executable, ld.so where the new thread starts, and the vDSO.
	 */
	set = unwind_vmas_get(tgid);
	if (!set)
		return scan;
	code = BPF_CORE_READ(task, mm, start_code);
	if (unwind_vmas_add(set, code))
		scan = true;
	if (regs && unwind_vmas_add(set, BPF_CORE_READ(regs, ip)))
		scan = true;
	vdso = (__u64)BPF_CORE_READ(task, mm, context.vdso);
	if (vdso && vdso_size) {
		struct find_vma_ctx c = {
			.start = vdso, .end = vdso + vdso_size, .file = 1, .exec = 1,
		};

		unwind_vmas_add_vma(set, &c);
	} else if (vdso) {
		unwind_vmas_add(set, vdso);
	}
	/*
	 * The executable's file as its VMA has it (an overlayfs exe_file is
	 * the overlay's inode, the VMA the file under it): the id its frames
	 * and the mappings user space reads go by
	 */
	for (i = 0; i < UNWIND_VMAS; i++) {
		if (i >= set->nr)
			break;
		if (code >= set->maps[i].start && code < set->maps[i].end) {
			set->exe_fid = set->maps[i].fid;
			break;
		}
	}
	return scan;
}

#endif /* __PROFILER_UNWIND_BPF_H */
