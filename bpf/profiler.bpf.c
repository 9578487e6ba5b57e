// SPDX-License-Identifier: GPL-2.0
/*
 * The sampling program: attached to one perf event per CPU, it runs on every
 * tick and counts (thread, kernel stack, user stack) in the kernel.
 *
 * Draining without loss: there are two map sets (counts + two stack maps
 * each). The program writes to the set named by active_set. User space flips
 * active_set, waits for an RCU grace period (every program run that could
 * still see the old value has then finished), and only then reads and clears
 * the set that is no longer written. So no sample is read twice, none is
 * deleted unread, and no stack id is reused before its count is read.
 *
 * User stacks come from bpf_get_stackid() (frame pointers) or, with
 * unwind_mode dwarf/auto, from the table-driven unwinder of unwind.bpf.h,
 * whose stacks go to the ustacks_dwarf map of the same set, keyed by hash;
 * in those modes a thread running CPython also gets its Python stack
 * (python.bpf.h), in the pystacks map of the set.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "profiler.h"

#define EFAULT 14
#define EEXIST 17
#define ENOMEM 12
#define E2BIG 7
#define PF_EXITING 0x00000004	/* include/linux/sched.h: do_exit() has begun */

/* set before load by the loader */
const volatile __u32 unwind_mode = UNWIND_MODE_FP;
const volatile bool filter_pids = false;
const volatile bool filter_comm = false;
const volatile bool include_idle = false;
const volatile bool want_kernel = true;
const volatile bool want_user = true;
const volatile char comm_filter[TASK_COMM_LEN] = {};
/*
 * The profiler itself: its user stacks follow frame pointers even when the
 * others are unwound from tables, which for its own dozen libraries would
 * cost more to build than its few samples are worth.
 */
const volatile __u32 self_tgid = 0;

/* flipped by user space through the mmapped .bss */
__u32 active_set = 0;

struct stack_map {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, MAX_STACK_DEPTH * sizeof(__u64));
	__uint(max_entries, 16384);
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct sample_key);
	__type(value, __u64);
	__uint(max_entries, 16384);
};

struct stack_map kstacks0 SEC(".maps"), kstacks1 SEC(".maps");
struct stack_map ustacks0 SEC(".maps"), ustacks1 SEC(".maps");
struct counts_map counts0 SEC(".maps"), counts1 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, __u8);
	__uint(max_entries, MAX_FILTER_PIDS);
} pid_filter SEC(".maps");


struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, STAT_MAX);
} stats SEC(".maps");

/*
 * What the programs keep per process (see struct proc_state): processes user
 * space has been told about, and when a scan of their mappings was asked.
 * LRU: an entry evicted costs one more EVENT_NEW or scan, nothing else.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, __u32);
	__type(value, struct proc_state);
	__uint(max_entries, MAX_TRACKED_PROCS);
} proc_state SEC(".maps");

/* every process event, for one reader in user space (profiler/collector.c) */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_BYTES);
} events SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &idx);

	if (v)
		*v += 1;	/* per-CPU slot: no other writer */
}

/*
 * Set by the reader of events (through the mmapped .bss) before it sleeps,
 * cleared by the event that wakes it.
 */
__u64 events_reader_asleep = 0;

/*
 * Wake-ups are batched: an event wakes the reader only when it is @urgent (a
 * scan whose process may live a few milliseconds) and the first since the
 * reader went to sleep, or when the buffer is past EVENTS_WAKE_BYTES; the
 * rest waits for the reader's next look (it looks on a short period, and
 * after each wake-up, a moment later). So a burst of events costs one
 * wake-up, and an event that does not wake the reader costs no interrupt
 * (a wake-up is an inter-processor interrupt: microseconds on a VM). The
 * kernel's default, to wake when the reader has read all before, would not
 * do: events that did not wake it may still be waiting.
 */
static __always_inline __u64 event_flags(bool urgent)
{
	if (urgent && __sync_fetch_and_and(&events_reader_asleep, 0))
		return BPF_RB_FORCE_WAKEUP;
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= EVENTS_WAKE_BYTES)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

static __always_inline void send_event(__u32 type, __u32 tgid, bool urgent)
{
	struct proc_event ev = { .type = type, .tgid = tgid };

	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), event_flags(urgent)))
		stat_inc(STAT_EVENTS_LOST);
}

static __always_inline __u32 unwind_first_sample(__u32 tgid, __u32 *exe_fid);

/*
 * A process's first sample: with its start time and cgroup, which user space
 * would otherwise read from /proc (where a short process is gone by then).
 */
static __always_inline void send_new_process(__u32 tgid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct proc_event ev = { .type = EVENT_NEW, .tgid = tgid };
	struct inode *exe;

	ev.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
	ev.cgroup_id = bpf_get_current_cgroup_id();
	exe = BPF_CORE_READ(task, mm, exe_file, f_inode);
	if (exe)
		ev.exe_fid = unwind_file_id(BPF_CORE_READ(exe, i_sb, s_dev), BPF_CORE_READ(exe, i_ino));
	/*
	 * With the unwinder, user space read the mappings at the exec, or is
	 * to read them now (EVENT_F_UNWIND), or names the frames by file
	 * (EVENT_F_BY_FILE): its binaries had tables already.
	 */
	ev.type |= unwind_first_sample(tgid, &ev.exe_fid);
	if (bpf_ringbuf_output(&events, &ev, sizeof(ev), event_flags(unwind_mode == UNWIND_MODE_FP)))
		stat_inc(STAT_EVENTS_LOST);
}

/*
 * The last process each CPU found known: most samples repeat it, and this
 * spares them the LRU lookup. known_gen moves whenever a process is
 * forgotten (exec, exit), which voids every CPU's entry.
 */
__u32 known_gen = 0;

struct last_known {
	__u32 tgid;
	__u32 gen;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct last_known);
	__uint(max_entries, 1);
} last_known SEC(".maps");

/* Tell user space the first time a process is sampled. */
static __always_inline void note_process(__u32 tgid)
{
	__u32 zero = 0, gen = known_gen;
	struct last_known *last = bpf_map_lookup_elem(&last_known, &zero);
	struct proc_state *st, init = { .flags = PROC_KNOWN };

	if (last && last->tgid == tgid && last->gen == gen)
		return;
	st = bpf_map_lookup_elem(&proc_state, &tgid);
	if (st) {
		if (!(__sync_fetch_and_or(&st->flags, PROC_KNOWN) & PROC_KNOWN))
			send_new_process(tgid);
	} else if (!(bpf_get_current_task_btf()->flags & PF_EXITING) &&
		   bpf_map_update_elem(&proc_state, &tgid, &init, BPF_NOEXIST) == 0) {
		/*
		 * Not a process being torn down: after its exit event, a sample
		 * announcing it again would have user space read its maps once
		 * more, from a /proc entry that is going or gone.
		 */
		send_new_process(tgid);
	}
	if (last) {
		last->tgid = tgid;
		last->gen = gen;
	}
}

static __always_inline bool comm_matches(const char *comm)
{
	int i;

	for (i = 0; i < TASK_COMM_LEN; i++) {
		if (comm[i] != comm_filter[i])
			return false;
		if (!comm[i])
			break;
	}
	return true;
}

/* Map a bpf_get_stackid() failure to its stat; -EFAULT (no stack) is not one. */
static __always_inline __u32 stack_error_stat(long err, bool user)
{
	if (err == -EEXIST)
		return user ? STAT_DROP_USTACK_COLLISION : STAT_DROP_KSTACK_COLLISION;
	if (err == -ENOMEM || err == -E2BIG)
		return STAT_DROP_STACKMAP_FULL;
	return STAT_DROP_OTHER;
}

#include "unwind.bpf.h"
#include "python.bpf.h"

static __always_inline long add_count(void *counts, struct sample_key *key)
{
	__u64 one = 1, *cnt;
	long err;

	cnt = bpf_map_lookup_elem(counts, key);
	if (cnt) {
		__sync_fetch_and_add(cnt, 1);
		return 0;
	}
	err = bpf_map_update_elem(counts, key, &one, BPF_NOEXIST);
	if (err == -EEXIST) {
		/* another CPU inserted the same key between lookup and update */
		cnt = bpf_map_lookup_elem(counts, key);
		if (!cnt)
			return -ENOMEM;
		__sync_fetch_and_add(cnt, 1);
		return 0;
	}
	return err;
}

/*
 * Stack ids and the count of one sample, into one map set. Called with
 * constant maps (see do_sample()), so the verifier inlines their lookups.
 */
static __always_inline int record_sample(struct bpf_perf_event_data *ctx,
					 struct sample_key *key, void *kmap, void *umap,
					 void *dmap, void *pymap, void *counts)
{
	long err;

	key->kern_stack_id = -EFAULT;
	key->user_stack_id = -EFAULT;
	/* in user mode there is no kernel stack: spare the helper its empty walk */
	if (want_kernel && !(ctx->regs.cs & 3)) {
		err = bpf_get_stackid(ctx, kmap, 0);
		if (err < 0 && err != -EFAULT) {
			stat_inc(stack_error_stat(err, false));
			return 0;
		}
		key->kern_stack_id = err;
	}
	if (want_user && unwind_mode != UNWIND_MODE_FP && key->tgid != self_tgid) {
		err = unwind_user(ctx, dmap, key);
		if (!err)
			err = python_walk(key, pymap);
		if (err) {
			stat_inc(stack_error_stat(err, true));
			return 0;
		}
	} else if (want_user) {
		err = bpf_get_stackid(ctx, umap, BPF_F_USER_STACK);
		if (err < 0 && err != -EFAULT) {
			stat_inc(stack_error_stat(err, true));
			return 0;
		}
		key->user_stack_id = err;
	}

	err = add_count(counts, key);
	if (err) {
		stat_inc(err == -E2BIG || err == -ENOMEM ? STAT_DROP_COUNTS_FULL : STAT_DROP_OTHER);
		return 0;
	}
	stat_inc(STAT_RECORDED);
	if (key->tgid)
		note_process(key->tgid);
	return 0;
}

SEC("perf_event")
int do_sample(struct bpf_perf_event_data *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct sample_key key = {};

	stat_inc(STAT_SAMPLES);

	key.tgid = id >> 32;
	key.pid = (__u32)id;
	if (key.pid == 0 && !include_idle) {
		stat_inc(STAT_IDLE);
		return 0;
	}
	if (filter_pids && !bpf_map_lookup_elem(&pid_filter, &key.tgid)) {
		stat_inc(STAT_FILTERED);
		return 0;
	}
	bpf_get_current_comm(&key.comm, sizeof(key.comm));
	if (filter_comm && !comm_matches(key.comm)) {
		stat_inc(STAT_FILTERED);
		return 0;
	}

	/* one call per set: a map pointer chosen at run time would cost an indirect call each */
	if (active_set)
		return record_sample(ctx, &key, &kstacks1, &ustacks1, &ustacks_dwarf1, &pystacks1,
				     &counts1);
	return record_sample(ctx, &key, &kstacks0, &ustacks0, &ustacks_dwarf0, &pystacks0,
			     &counts0);
}

/*
 * The process events: one program each for exec and exit, serving the
 * sampler's process table, the unwinder's and the Python walk's, with one
 * event to user space at most.
 * A new image: forget the process so its next sample announces it again, and
 * let the unwinder read its new mappings.
 */
SEC("raw_tp/sched_process_exec")
int on_exec(void *ctx)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32, type = EVENT_EXEC;
	struct proc_state *st = bpf_map_lookup_elem(&proc_state, &tgid);
	bool scan = unwind_process_exec(tgid);

	/*
	 * No entry made for a process without one (most of them): the update
	 * of an LRU map costs more than the rest of the program. Its requests
	 * for a scan before that scan is done go to the same read.
	 */
	if (st) {
		if (st->flags & PROC_KNOWN) {
			__sync_fetch_and_add(&known_gen, 1);
			type |= EVENT_F_SAMPLED;
		}
		st->flags = 0;
		if (scan)
			st->scan_ns = bpf_ktime_get_ns() & ~SCAN_WOKE;	/* sent below, no wake-up */
	}
	if (scan)
		type |= EVENT_F_UNWIND;
	if (type != EVENT_EXEC)
		send_event(type, tgid, false);
	if (unwind_mode != UNWIND_MODE_FP)
		python_process_gone(tgid);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int on_exit(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32, type = EVENT_EXIT;
	struct proc_state *st;

	/* the thread group leader leaving: the process is gone */
	if ((__u32)id != tgid)
		return 0;
	st = bpf_map_lookup_elem(&proc_state, &tgid);
	if (st) {
		if (st->flags & PROC_KNOWN) {
			__sync_fetch_and_add(&known_gen, 1);
			type |= EVENT_F_SAMPLED;
		}
		bpf_map_delete_elem(&proc_state, &tgid);
	}
	if (unwind_process_exit(tgid))
		type |= EVENT_F_UNWIND;
	if (type != EVENT_EXIT)
		send_event(type, tgid, false);
	if (unwind_mode != UNWIND_MODE_FP)
		python_process_gone(tgid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
