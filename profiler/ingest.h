/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Ingest: the one pipeline from the collector's drains to the store, for
 * `profile` (record) and `profile agent`. Each drained sample is symbolized
 * once, through caches kept per process and address across drains; the
 * resolved stack goes to an optional per-sample consumer (record builds its
 * folded stacks there) and, when a store is open, into a batch grouped in time
 * buckets and written in one transaction per flush. A flush that fails
 * (locked database, full disk) keeps the batch for the next try.
 *
 * Ingest also judges each user stack: complete means the unwinder reached the
 * root (the BPF unwinder's verdict; with frame pointers, an outermost frame
 * named _start or a thread start) and the stack is not unnamed, unnamed
 * meaning that none of its user frames has a name (a row of `[unknown]`).
 */
#ifndef __PROFILER_INGEST_H
#define __PROFILER_INGEST_H

#include <linux/types.h>
#include <stdbool.h>

#include "bpf/profiler.h"
#include "store/store.h"

struct symbolizer;
struct strbuf;
struct ingest;

/* What ingest makes of a user stack's frames. */
enum ingest_naming {
	INGEST_NO_USER_STACK,	/* no user frame at all (kernel thread, or none read) */
	INGEST_NAMED,		/* every user frame has a name */
	INGEST_PARTLY_NAMED,	/* some do, some are [unknown] (no symbols for that code) */
	INGEST_UNNAMED,		/* none does: a row of [unknown] */
};

/* One drained sample, symbolized, as the per-sample consumer sees it. */
struct ingest_sample {
	const struct sample_key *key;
	__u64 count;
	const char *comm;	/* the thread's comm, "[unknown comm]" when empty */
	/*
	 * Root first: the user frames (each address's inline chain outermost
	 * first), then the kernel frames. Borrowed for the call only; the
	 * strings in them live as long as the symbolizer.
	 */
	const struct store_frame *frames;
	int nr_frames;
	int nr_user;		/* frames[0 .. nr_user) are the user frames */
	enum ingest_naming naming;
	bool rooted;		/* the user stack reached its root */
};

/* Returns 0 or -errno; an error is returned by ingest__add() (the drain goes on). */
typedef int (*ingest_sample_fn)(void *ctx, const struct ingest_sample *s);

/*
 * A pipeline symbolizing with @syms (borrowed, must outlive it), handing
 * each sample to @fn(@ctx) when @fn is not NULL. No store until
 * ingest__open_store(). NULL with errno set.
 */
struct ingest *ingest__new(struct symbolizer *syms, ingest_sample_fn fn, void *ctx);

struct ingest_store_opts {
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
	const char *host;	/* the host name the run is stored under; NULL: gethostname() */
};

/*
 * Open (creating) the database and add a run: from now on samples are also
 * batched for it. Returns 0, or -errno after a warning (ingest goes on
 * without a store).
 */
int ingest__open_store(struct ingest *in, const struct ingest_store_opts *opts);

/*
 * Flush what is pending, mark the run ended, close the store, free. Returns
 * the flush's error, if any. Without a store, the same as ingest__free().
 */
int ingest__close(struct ingest *in);
/* Free without flushing (after a failed close, or on error paths). NULL is a no-op. */
void ingest__free(struct ingest *in);

/* The open store, or NULL. */
struct store *ingest__store(struct ingest *in);
/* The run's id in the store, 0 without one. */
__s64 ingest__run_id(const struct ingest *in);

/*
 * Call before each drain: starts a symbolizer generation, and the samples
 * about to be drained were taken since the previous call, so they go to the
 * bucket holding the middle of that window (the first drain's window starts
 * at ingest__open_store()). With drains at bucket boundaries (the agent's),
 * every sample lands in its own bucket.
 */
void ingest__begin_drain(struct ingest *in);

/* Keep the evaluation loop's frames, each under the Python frames it ran (default: replaced). */
void ingest__keep_interpreter_frames(struct ingest *in, bool keep);

/*
 * A collector_sample_fn: symbolize one drained sample, judge it, hand it on
 * (see above). @py's frames take the place of the CPython evaluation loop's
 * frames (_PyEval_EvalFrameDefault) in the user stack.
 */
int ingest__add(void *ingest, const struct sample_key *key, __u64 count, const __u64 *kips,
		int nr_kips, const __u64 *uips, int nr_uips, const struct py_stack *py);

/*
 * A collector_event_fn: a new process's mappings are read at once, while it
 * lives; after an exec (or a pid reused) the addresses cached for that pid
 * are resolved afresh; an exit lets its mappings go once drained.
 */
void ingest__proc_event(void *ingest, const struct proc_event *ev);

/*
 * Write the pending batch (and @health, if not NULL, with ingest's own
 * counts filled in) in one transaction. On failure nothing is written and
 * the batch stays pending. Returns 0 or -errno; -ENOENT without a store.
 */
int ingest__flush(struct ingest *in, struct store_health *health);

/* Drop the caches of processes that have exited (the agent calls this now and then). */
void ingest__forget_exited(struct ingest *in);

struct ingest_stats {
	__u64 keys, pcs;	/* ingest__add() calls, and the pcs they carried */
	__u64 samples;		/* samples they counted */
	__u64 user_stacks;	/* ... with a user stack */
	__u64 rooted;		/* ... that reached the root */
	__u64 complete;		/* ... rooted and not unnamed */
	__u64 unnamed;		/* user stacks with no frame named, rooted or not */
	__u64 rooted_unnamed;	/* ... of them rooted */
	__u64 user_lookups;	/* symbolizer calls: one per distinct (process, address) */
	__u64 kernel_lookups;	/* one per distinct kernel address */
	__u64 python_frames;	/* Python frames merged in, and those left without a name */
	__u64 python_unnamed;
	__u64 written;		/* samples committed */
	__u64 pending;		/* samples waiting for the next flush */
	__u64 lost;		/* samples given up: too much pending while the store failed */
	__u64 start_overs;	/* the interned frames, stacks and processes let go (a cap) */
	size_t frames, stacks, processes;	/* distinct, cached */
};
void ingest__stats(const struct ingest *in, struct ingest_stats *st);

/*
 * @s as one folded line (without its count) in @line, emptied first: the
 * comm, then the frames root first; an unnamed user frame is "[unknown]" or
 * "[unknown] (module)", kernel frames get "_[k]", inlined "_[i]", JIT "_[j]",
 * Python "_[p]";
 * a sample without frames is "comm;[no stack]". Returns 0 or -ENOMEM.
 */
int ingest_sample__folded(const struct ingest_sample *s, struct strbuf *line);

/* How @nr user frames (root first) are named: the rule ingest applies to each sample. */
enum ingest_naming ingest__naming(const struct store_frame *user, int nr);

/* Whether a frame-pointer stack whose outermost function is @name reached its root. */
bool ingest__is_root_function(const char *name);

#endif /* __PROFILER_INGEST_H */
