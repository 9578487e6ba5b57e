/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The collector: loads the BPF sampling program, opens one perf event per
 * online CPU and drains the in-kernel aggregation without losing samples
 * (see bpf/profiler.bpf.c for the two map sets).
 */
#ifndef __PROFILER_COLLECTOR_H
#define __PROFILER_COLLECTOR_H

#include <linux/types.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "bpf/profiler.h"

struct collector;

enum collector_event {
	EVENT_CPU_CLOCK,	/* software timer: works everywhere */
	EVENT_CYCLES,		/* hardware PMU cycles, when the machine has one */
};

struct symbolizer;

struct collector_opts {
	int freq;			/* samples per second per CPU */
	enum collector_event event;
	const pid_t *pids;		/* only these processes (tgids), if nr_pids > 0 */
	int nr_pids;
	const char *comm;		/* only threads with this comm, if not NULL */
	bool include_idle;		/* record the idle task (pid 0) too */
	bool no_kernel;			/* skip kernel stacks */
	bool no_user;			/* skip user stacks */
	__u32 stack_entries;		/* per stack map; 0 = default */
	double drain_interval;		/* seconds between drains, sizes the maps; 0 = 1 s */
	__u32 count_entries;		/* per counts map; 0 = default */
	enum unwind_mode unwind;	/* user stacks: UNWIND_MODE_FP (0), _DWARF or _AUTO */
	__u32 unwind_rows;		/* unwind table rows for all binaries; 0 = default */
	/*
	 * NULL, or the symbolizer that takes over each process's mappings as
	 * the unwinder reads them (dwarf/auto): one read serves both, and a
	 * process gone before its samples are drained is still named.
	 */
	struct symbolizer *syms;
	bool no_python;			/* dwarf/auto: no CPython stacks */
};

struct collector_stats {
	__u64 stat[STAT_MAX];		/* summed over CPUs, see enum profiler_stat */
	__u64 unreadable;		/* counted samples whose stack was gone when read */
	int nr_cpus;			/* CPUs with an attached event */
	/* drained samples by how their user stack's unwind ended (enum unwind_end) */
	__u64 unwind_end[UNWIND_END_MAX];
	/* dwarf/auto: binaries with a table, without one, rows used, maps reads */
	__u64 unwind_tables, unwind_no_table, unwind_rows, unwind_max_rows, unwind_scans;
	/* tables derived (and their CPU ms), put back from kept rows; bytes of those kept */
	__u64 unwind_builds, unwind_build_ms, unwind_restores, unwind_kept_bytes;
	/* run time of the BPF programs; 0 unless sysctl kernel.bpf_stats_enabled=1 */
	__u64 bpf_run_ns, bpf_runs;
	/* drained samples with a Python stack, and those cut at MAX_PY_DEPTH or a bad read */
	__u64 py_samples, py_truncated;
	/* process events read, by type (enum proc_event_type); lost: stat[STAT_EVENTS_LOST] */
	__u64 events[EVENT_SCAN + 1];
	/* of events[EVENT_NEW]: processes named by file, not read (EVENT_F_BY_FILE) */
	__u64 new_by_file;
};

/*
 * Called once per distinct (thread, stacks) with its count since the last
 * drain. @kips/@uips are innermost first; either may be empty. @py is the
 * thread's Python stack (innermost first), or NULL. A non-zero
 * return is remembered and returned by collector__drain(), which still
 * drains everything.
 */
typedef int (*collector_sample_fn)(void *ctx, const struct sample_key *key, __u64 count,
				   const __u64 *kips, int nr_kips, const __u64 *uips, int nr_uips,
				   const struct py_stack *py);

/*
 * Load, configure and attach. Returns NULL with errno set; the reason was
 * logged. errno is EPERM/EACCES when the kernel refused BPF or perf events.
 */
struct collector *collector__new(const struct collector_opts *opts);
void collector__free(struct collector *c);

/* Called for each process event (see bpf/profiler.h) by collector__poll(). */
typedef void (*collector_event_fn)(void *ctx, const struct proc_event *ev);

/*
 * Wait up to @timeout_ms for process events and hand them to @fn; then,
 * whatever the wait, every event the ring buffer holds (most events do not
 * wake the reader: they wait for its next look). Returns the number
 * handled, or -errno (-EINTR when a signal came).
 */
int collector__poll(struct collector *c, int timeout_ms, collector_event_fn fn, void *ctx);

/*
 * collector__poll() until @deadline (CLOCK_MONOTONIC seconds, see
 * common/clock.h), until *@stop is set, or until a signal interrupts it;
 * at the deadline, the events that came meanwhile (a drain follows).
 */
void collector__poll_until(struct collector *c, double deadline, const volatile sig_atomic_t *stop,
			   collector_event_fn fn, void *ctx);

/*
 * A collector_event_fn for a struct symbolizer *@syms: a new process's
 * mappings are read and its binaries opened at once, while it lives (it may
 * exit long before the next drain); an exec or exit lets the old mappings
 * go once their samples are drained.
 */
void collector__symbolizer_events(void *syms, const struct proc_event *ev);

/* Hand every sample recorded since the last drain to @fn. Returns 0 or -errno. */
int collector__drain(struct collector *c, collector_sample_fn fn, void *ctx);

/*
 * Detach from every CPU: no sample is taken after this returns. Then two
 * collector__drain() calls empty both map sets.
 */
int collector__stop(struct collector *c);

/* Counters since collector__new(). */
int collector__stats(struct collector *c, struct collector_stats *st);

#endif /* __PROFILER_COLLECTOR_H */
