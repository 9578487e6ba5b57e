/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The profile store, one API over two backends (store_backend.h): SQLite, the
 * embedded default and each host's durable buffer (store/sqlite/), and
 * PostgreSQL, the fleet's central store (store/postgres/). store__open()
 * picks one from the --db string; callers never see which.
 *
 * Writers hand over a whole batch (frames, stacks, processes, sample counts
 * and the agent's health of one flush) per call: it lands whole or not at
 * all, in one transaction, a few round trips to a remote server. Readers see
 * the last committed batch and never block the writer. Runs, stacks and
 * frames are the same on both: the same batches give the same answers.
 */
#ifndef __PROFILER_STORE_H
#define __PROFILER_STORE_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

struct store;
struct store_health;
struct store_selector;

/* Version of the schema this build writes; writers migrate older databases on open. */
#define STORE_SCHEMA_VERSION 6

/*
 * The default database: $PROFILE_DB when set, else /var/lib/profile/profile.db
 * for root, else $HOME/.local/share/profile/profile.db. The caller frees it.
 * NULL with errno set on failure.
 */
char *store__default_path(void);

struct store_opts {
	bool write;		/* open for writing, and bring the schema up to date */
	bool create;		/* create the file (and its directory) when missing; implies write */
	int busy_timeout_ms;	/* wait this long for a lock; default 2000 */
	bool quiet;		/* log failures only with -v: the caller reports them */
};

/*
 * Open the database @path: a file (SQLite), or a postgresql:// or
 * postgres:// URI or libpq conninfo string (PostgreSQL: a one-line error
 * naming the server and the cause when it cannot connect, refuses the
 * password or holds another schema version). Without @opts, or without
 * write or create, it is opened read-only: never created, migrated or written (SQLite may create
 * the -shm index beside a write-ahead log); a database of an older schema is
 * read as it is. A writer migrates the schema to STORE_SCHEMA_VERSION.
 *
 * The file is not trusted: its schema version and tables are checked, and a
 * write-ahead log that no open connection was using (left by a crash, or
 * another database's) is verified with PRAGMA quick_check once replayed.
 * NULL with errno set after one warning naming the file: ENOENT when it does
 * not exist and !create, EPROTO when a newer profile wrote it, EBADMSG when it
 * is not a profile database or is damaged. Later, a damaged page or packed
 * bucket makes any call fail with -EBADMSG: retrying will not help.
 */
struct store *store__open(const char *path, const struct store_opts *opts);
void store__free(struct store *st);
/* The path, or the server's URI without a password; for messages. */
const char *store__path(const struct store *st);
/* "sqlite" or "postgresql" */
const char *store__backend(const struct store *st);
int store__schema_version(struct store *st);

/* ---- runs ---- */

/*
 * The freq of a run whose counts are nanoseconds (an import of perf script
 * periods of cpu-clock): one count a nanosecond, as if sampled at 1 GHz, so
 * counts / freq is seconds as for any run.
 */
#define STORE_FREQ_NS 1000000000L

struct store_run {
	const char *kind;	/* "record" or "agent" */
	const char *host;	/* hostname */
	const char *cmdline;
	long freq;		/* samples a second; 0 unknown; STORE_FREQ_NS */
	__s64 start_ms;		/* unix time */
	const char *const *labels;	/* "key=value" */
	int nr_labels;
	/* where the run comes from, when shipped: adding it again finds it (PostgreSQL) */
	const char *source;
};

/* Insert a run in its own transaction. Returns 0 or -errno; sets *@run_id. */
int store__add_run(struct store *st, const struct store_run *run, __s64 *run_id);
/* Record the end of run @run_id (its own transaction). */
int store__end_run(struct store *st, __s64 run_id, __s64 end_ms);

/* ---- writing samples: one batch per call ---- */

struct store_frame {
	bool kernel;
	const char *module;	/* binary basename, kernel module, "[kernel]", "[anon]"...; may be NULL */
	const char *build_id;	/* hex, or NULL/"" when unknown */
	__u64 addr;		/* file offset (user) or address (kernel) */
	const char *name;	/* function, or NULL when unresolved */
	int depth;		/* place in the inline chain of @addr, 0 = outermost */
	bool inlined;		/* inlined into the frame before it */
	bool jit;		/* named by a JIT's perf map */
	bool python;		/* a CPython frame: @name its qualname, @module its file, @addr the line */
	/*
	 * Where in the source (DWARF): the line of @addr in @name's code, for an
	 * outer frame of an inline chain the call site of the frame after it;
	 * NULL/"" and 0 when unknown. Both follow from the fields above (the
	 * same binary, offset and depth give the same line), so the content
	 * hashes leave them out.
	 */
	const char *file;
	int line;
	int start_line;		/* the line @name is declared on, 0 when unknown */
};

struct store_process {
	__u32 pid;		/* the tgid */
	const char *comm;	/* thread command name */
	const char *exe_build_id;	/* may be NULL */
	__s64 start_time;	/* process start, unix seconds; 0 when unknown */
	const char *cgroup;	/* cgroup path (container), may be NULL */
};

/* @frames: indexes into the batch's frames, root first; @nr may be 0 */
struct store_stack {
	const __u32 *frames;
	__u32 nr;
};

/* @count samples at bucket time @ts (unix seconds) of the batch's @process and @stack */
struct store_count {
	__s64 ts;
	__u32 process, stack;
	__u64 count;
};

struct store_batch {
	__s64 run_id;
	const struct store_frame *frames;
	size_t nr_frames;
	const struct store_stack *stacks;
	size_t nr_stacks;
	const struct store_process *processes;
	size_t nr_processes;
	const struct store_count *counts;	/* counts of equal (ts, process, stack) add up */
	size_t nr_counts;
	const struct store_health *health;	/* NULL: leave the run's health as it is */
	/*
	 * Shipped buckets (PostgreSQL): the batch holds whole buckets of its run;
	 * each (run, bucket) is written at most once, and a bucket written
	 * before is skipped, so that shipping again never counts twice.
	 */
	bool ship;
};

/*
 * Write @b in one transaction (on failure, nothing of it is stored).
 * -EBUSY: another writer held the lock too long; -ENOSPC: full disk;
 * -ECONNRESET/-ECONNREFUSED: the server went away or is not there.
 */
int store__write_batch(struct store *st, const struct store_batch *b);

/*
 * Read back the samples of run @sel->run_id (only the run is used) in buckets
 * after @after_ts and before @before_ts (0: open), as one batch per bucket,
 * oldest first; @fn's batch and everything it points to are borrowed for the
 * call. A non-zero return from @fn stops and is returned.
 */
typedef int (*store_batch_fn)(void *ctx, const struct store_batch *b);
int store__read_batches(struct store *st, const struct store_selector *sel, __s64 after_ts,
			__s64 before_ts, store_batch_fn fn, void *ctx);
/* The newest bucket of run @run_id a shipped batch wrote (0: none). */
int store__shipped_until(struct store *st, __s64 run_id, __s64 *ts);

/* ---- bounding the database ---- */

/*
 * Delete the samples of buckets older than @before (unix seconds), then
 * whatever only they referenced. *@deleted (may be NULL) gets the number of
 * sample rows removed. Own transaction.
 */
int store__expire(struct store *st, __s64 before, __u64 *deleted);
/*
 * Delete the oldest buckets until the database uses at most @max_bytes.
 * Returns 0, or -EFBIG when even an empty sample table does not fit.
 */
int store__enforce_size(struct store *st, __u64 max_bytes, __u64 *deleted);
/*
 * Pack the sample rows of up to @max_buckets buckets older than @before (unix
 * seconds), oldest first, into one blob per bucket (varints, zstd when
 * smaller). Queries, retention and the size cap see packed buckets as they
 * were. Own transaction: a crash leaves a bucket packed or not, never both.
 * *@packed (may be NULL) gets the number of buckets packed.
 */
int store__compact(struct store *st, __s64 before, int max_buckets, __u64 *packed);
/* Bytes in use: database pages not on the free list (the file may be larger). */
int store__used_bytes(struct store *st, __u64 *bytes);
/* Size of the database file plus its WAL on disk. */
int store__file_bytes(struct store *st, __u64 *bytes);

/* ---- the agent's own health ---- */

struct store_health {
	__s64 updated_ms;
	__u32 pid;		/* the agent's pid */
	__u64 samples;		/* taken by the BPF program */
	__u64 recorded;		/* written to the store */
	__u64 dropped;		/* every drop reason, collisions included */
	__u64 collisions;	/* stack-map hash collisions */
	__u64 lost;		/* samples given up after the store kept failing */
	__u64 cpu_ms;		/* the agent's user + sys time */
	__u64 rss_kb;		/* the agent's resident set */
	__u64 db_bytes;		/* database file + WAL */
	__u64 flushes, flush_errors;
	/* drained samples with a user stack; of them complete (reached the root and
	 * not unnamed), and unnamed (no user frame named: a row of [unknown]) */
	__u64 user_stacks, complete, unnamed;
	/*
	 * The other outcomes of the samples taken, so that samples = recorded +
	 * dropped + lost + idle + filtered + undrained: the idle task (not
	 * recorded by default), other processes (-p, --comm), and those still in
	 * the kernel's maps (taken since the last drain). recorded counts the
	 * samples written with this health row, in the same transaction.
	 */
	__u64 idle, filtered, undrained;
};

/* Replace the health row of @run_id (inside a transaction, or its own). */
int store__put_health(struct store *st, __s64 run_id, const struct store_health *h);

/* ---- queries ---- */

struct store_selector {
	__s64 run_id;		/* 0: any run */
	__s64 since, until;	/* unix seconds, bucket start in [since, until); 0: open */
	const __u32 *pids;
	int nr_pids;
	const char *comm;
	const char *build_id;	/* executable build id, or a hex prefix of it */
	/*
	 * host names or patterns, any of which may match: '*' any string, '?'
	 * one character, "[a-z0-9]" one of a set ("[^...]" not of it), as
	 * SQLite's GLOB; case-sensitive
	 */
	const char *const *hosts;
	int nr_hosts;
	const char *const *labels;	/* "key=value", all must match */
	int nr_labels;
};

struct store_query_frame {
	const char *name;	/* NULL when unresolved */
	const char *module;	/* "" when unknown */
	bool kernel;
	bool inlined;
	bool jit;
	bool python;		/* a CPython frame (name: qualname, module: file, addr: line) */
	/*
	 * as struct store_frame has them; "" and 0 when unknown (older
	 * databases). The source lines (file, line, start_line) come from
	 * store__query_samples(); store__query_stacks() may leave them out.
	 */
	const char *build_id;
	__u64 addr;
	int depth;
	const char *file;
	int line, start_line;
	/*
	 * The frame's number in this query, from 1: the same frame has the same
	 * number in every stack of one store__query_stacks() or
	 * store__query_samples() call, so callers can do per-frame work once.
	 * 0 when the backend does not number frames.
	 */
	__u32 id;
};

/*
 * Call @fn once per distinct (comm, stack) the selector matches, with its
 * summed count. Frames are root first; borrowed for the call. The query reads
 * one consistent snapshot: a batch being written is seen whole or not at all.
 * A non-zero return from @fn stops the query and is returned.
 */
typedef int (*store_stack_fn)(void *ctx, const char *comm, const struct store_query_frame *frames,
			      int nr, __u64 count);
int store__query_stacks(struct store *st, const struct store_selector *sel, store_stack_fn fn,
			void *ctx);

/* Who a stack of store__query_samples() was sampled in. */
struct store_sample_key {
	const char *host;
	__u32 pid;
	const char *comm;
};

/*
 * As store__query_stacks(), but once per distinct (host, pid, comm, stack):
 * the frame-level query the exports (pprof, speedscope) use, whose labels
 * name the process, its pid and its host. @key and the frames are borrowed
 * for the call.
 */
typedef int (*store_sample_fn)(void *ctx, const struct store_sample_key *key,
			       const struct store_query_frame *frames, int nr, __u64 count);
int store__query_samples(struct store *st, const struct store_selector *sel, store_sample_fn fn,
			 void *ctx);

/*
 * Samples over time: call @fn for each time slot of @step seconds (slot start,
 * a multiple of @step) that holds samples the selector matches, oldest first,
 * with their sum. One consistent snapshot, as store__query_stacks().
 */
typedef int (*store_timeline_fn)(void *ctx, __s64 ts, __u64 count);
int store__query_timeline(struct store *st, const struct store_selector *sel, __s64 step,
			  store_timeline_fn fn, void *ctx);

/*
 * The executables behind the samples the selector matches: call @fn for each
 * distinct (executable build id, process name) with their samples, most
 * first; @build_id is "" for processes whose build id is unknown. One
 * consistent snapshot, as store__query_stacks().
 */
typedef int (*store_build_fn)(void *ctx, const char *build_id, const char *comm, __u64 samples);
int store__query_builds(struct store *st, const struct store_selector *sel, store_build_fn fn,
			void *ctx);

struct store_run_info {
	__s64 id;
	const char *kind, *host, *cmdline, *labels;	/* labels: "k=v,k=v" */
	/* the same labels one by one ("k=v"; a value may hold commas), borrowed for the call */
	const char *const *label_list;
	int nr_labels;
	long freq;
	__s64 start_ms, end_ms;	/* end_ms 0: still running (or killed) */
	__s64 first_ts, last_ts;	/* bucket range with samples, 0 when none */
	__u64 samples;
	bool has_health;
	struct store_health health;
	__s64 last_report_ms;	/* last batch written (PostgreSQL), 0 when unknown */
};

/* Runs matching @sel (its run, time, host and label parts), oldest first. */
typedef int (*store_run_fn)(void *ctx, const struct store_run_info *run);
int store__list_runs(struct store *st, const struct store_selector *sel, store_run_fn fn,
		     void *ctx);
/* The id of the newest run, or 0 when there is none. */
int store__last_run(struct store *st, __s64 *run_id);

/* What the database holds, and what zstd would make of its bulky parts. */
struct store_measure {
	__u64 used_bytes;	/* pages in use */
	__u64 samples;		/* sum of counts */
	__u64 sample_rows, buckets, stacks, frames, processes, runs;
	__u64 stack_blob_bytes;		/* frame arrays as stored (varints) */
	__u64 stack_blob_zstd;		/* the same, each compressed with zstd */
	__u64 sample_table_bytes;	/* samples table and index pages (dbstat), 0 if unknown */
	/* the rows not yet compacted if they were packed per bucket as varints */
	__u64 bucket_packed_bytes;
	__u64 bucket_packed_zstd;	/* ... and each bucket compressed with zstd */
	__u64 packed_buckets;		/* buckets already compacted (counted in buckets) */
	__u64 packed_rows;		/* their rows (counted in sample_rows) */
	__u64 packed_samples;		/* their samples (counted in samples) */
	__u64 packed_bytes;		/* their blobs as stored */
	__u64 packed_table_bytes;	/* packed table pages (dbstat), 0 if unknown */
};
int store__measure(struct store *st, struct store_measure *m);

#endif /* __PROFILER_STORE_H */
