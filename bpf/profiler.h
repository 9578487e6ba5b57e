/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record layouts shared by the BPF program and user space. Only fixed-width
 * types and fixed arrays: both compilers must lay them out identically.
 */
#ifndef __PROFILER_BPF_H
#define __PROFILER_BPF_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* perf's default kernel.perf_event_max_stack; the stack maps' value size */
#ifndef MAX_STACK_DEPTH
#define MAX_STACK_DEPTH 127
#endif

#ifndef MAX_FILTER_PIDS
#define MAX_FILTER_PIDS 1024
#endif

/*
 * Samples are aggregated in the kernel: one counts-map entry per distinct
 * (thread, kernel stack, user stack). A stack id < 0 means "no such stack"
 * (-EFAULT: a user-mode sample has no kernel stack, a kernel thread no user
 * stack). Any other failure is counted in the stats map and the sample is not
 * recorded.
 */
struct sample_key {
	__u32 tgid;
	__u32 pid;
	__s32 kern_stack_id;
	__s32 user_stack_id;
	char comm[TASK_COMM_LEN];
};

/*
 * Per-CPU counters, indexed by enum stat. Every time the program runs it adds
 * one to STAT_SAMPLES and then exactly one of the outcome counters
 * (STAT_RECORDED .. STAT_DROP_OTHER), so they always add up.
 */
enum stat {
	STAT_SAMPLES = 0,		/* program invocations */
	STAT_RECORDED,			/* added to a counts map */
	STAT_IDLE,			/* pid 0 (idle task) and idle not wanted */
	STAT_FILTERED,			/* excluded by -p / --comm */
	STAT_DROP_KSTACK_COLLISION,	/* kernel stack hash bucket taken (-EEXIST) */
	STAT_DROP_USTACK_COLLISION,	/* user stack hash bucket taken (-EEXIST) */
	STAT_DROP_STACKMAP_FULL,	/* stack map out of entries (-ENOMEM) */
	STAT_DROP_COUNTS_FULL,		/* counts map out of entries */
	STAT_DROP_OTHER,		/* any other error from a helper */
	STAT_EVENTS_LOST,		/* process events the ring buffer had no room for */
	STAT_MAX,
};

/*
 * Process events, through a ring buffer, so user space captures a process's
 * mappings while it lives: EVENT_NEW on the first sample of a process (and
 * the first after an exec), EVENT_EXIT when a sampled process ends.
 */
enum proc_event_type {
	EVENT_NEW = 1,
	EVENT_EXEC = 2,
	EVENT_EXIT = 3,
};

struct proc_event {
	__u32 type;
	__u32 tgid;
};

#ifndef MAX_TRACKED_PROCS
#define MAX_TRACKED_PROCS 32768
#endif

/* Number of map sets the program alternates between, see profiler.bpf.c */
#define NR_MAP_SETS 2

#endif /* __PROFILER_BPF_H */
