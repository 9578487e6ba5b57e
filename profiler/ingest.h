/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The bridge from the collector to the store: drained samples are symbolized
 * (cached per process and address, across flushes), grouped into time buckets
 * in memory, and written to the store in one transaction per flush. A flush
 * that fails (locked database, full disk) keeps the batch for the next try.
 */
#ifndef __PROFILER_STORE_SINK_H
#define __PROFILER_STORE_SINK_H

#include <linux/types.h>
#include <stdbool.h>

#include "bpf/profiler.h"

struct store;
struct store_health;
struct symbolizer;
struct store_sink;

struct store_sink_opts {
	const char *db_path;	/* NULL: the default database */
	const char *kind;	/* "record" or "agent" */
	long freq;
	int bucket_secs;	/* default 10 */
	size_t max_pending;	/* pending rows before samples are counted lost; default 1M */
	int argc;		/* the command line, stored with the run */
	char **argv;
	const char *const *labels;	/* "key=value" */
	int nr_labels;
	bool quiet;		/* store failures are logged only with -v: the caller reports them */
	int busy_timeout_ms;	/* wait for a locked database; 0 = the store's default */
};

/*
 * Open (creating) the database, add a run and return a sink writing to it.
 * @syms is borrowed and must outlive the sink. NULL with errno set after a
 * warning.
 */
struct store_sink *store_sink__open(struct symbolizer *syms, const struct store_sink_opts *opts);
/* Flush what is pending, mark the run ended, close. Returns the flush's error, if any. */
int store_sink__close(struct store_sink *k);
/* Free without flushing (after a failed close, or on error paths). NULL is a no-op. */
void store_sink__free(struct store_sink *k);

struct store *store_sink__store(struct store_sink *k);
__s64 store_sink__run_id(const struct store_sink *k);

/*
 * Call before each drain: the samples about to be drained were taken since
 * the previous call, and go to the bucket holding the middle of that window
 * (the first drain's window starts at store_sink__open()). With drains at
 * bucket boundaries (the agent's), every sample lands in its own bucket.
 */
void store_sink__begin_drain(struct store_sink *k);

/* A collector_sample_fn: symbolize one drained sample and add it to the batch (see above). */
int store_sink__add(void *sink, const struct sample_key *key, __u64 count, const __u64 *kips,
		    int nr_kips, const __u64 *uips, int nr_uips);

/*
 * Write the pending batch (and @health, if not NULL) in one transaction.
 * On failure nothing is written and the batch stays pending. Returns 0 or -errno.
 */
int store_sink__flush(struct store_sink *k, struct store_health *health);

/* Drop the caches of processes that have exited (the agent calls this now and then). */
void store_sink__forget_exited(struct store_sink *k);

struct store_sink_stats {
	__u64 written;		/* samples committed */
	__u64 pending;		/* samples waiting for the next flush */
	__u64 lost;		/* samples given up: too much pending while the store failed */
	size_t frames, stacks, processes;	/* distinct, cached */
};
void store_sink__stats(const struct store_sink *k, struct store_sink_stats *st);

#endif /* __PROFILER_STORE_SINK_H */
