/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the collector: the unwind feeder, which keeps the BPF unwinder's
 * per-process mapping tables current (profiler/collector_unwind.c).
 */
#ifndef __PROFILER_COLLECTOR_INTERNAL_H
#define __PROFILER_COLLECTOR_INTERNAL_H

#include "collector.h"

struct profiler_bpf;
struct unwind_feeder;

/* Before load: rodata and map sizes for @o->unwind. Returns 0 or -errno. */
int unwind_feeder__configure(struct profiler_bpf *skel, const struct collector_opts *o);

/*
 * After load, before the perf events are attached: scan the selected
 * processes, attach the exec/exit tracepoints and start the thread that
 * answers the BPF side's rescan requests. NULL with errno set.
 */
struct unwind_feeder *unwind_feeder__new(struct profiler_bpf *skel, const struct collector_opts *o);
void unwind_feeder__free(struct unwind_feeder *f);
void unwind_feeder__stats(struct unwind_feeder *f, struct collector_stats *st);

/*
 * The main thread's collector__poll() with a feeder, the events ring
 * buffer's reader: wait up to @timeout_ms for a process's first sample, then
 * read what the ring buffer holds and hand the events for the main thread to
 * @fn, in order. Returns their number or -errno (-EINTR: a signal).
 */
int unwind_feeder__poll(struct unwind_feeder *f, int timeout_ms, collector_event_fn fn, void *ctx);

#endif /* __PROFILER_COLLECTOR_INTERNAL_H */
