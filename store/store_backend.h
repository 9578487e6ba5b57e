/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The seam between store.h and its backends, in the manner of SQLite's
 * sqlite3_vfs: a table of operations chosen once, at open, from the --db
 * string (a path: SQLite; a postgresql:// or postgres:// URI or a libpq
 * conninfo string: PostgreSQL). Each backend embeds struct store as the first
 * member of its own handle. An operation a backend cannot do is NULL, and
 * the call returns -EOPNOTSUPP after a one-line warning.
 *
 * Also the content hashes both backends compute on the host: frozen (they
 * are written into PostgreSQL columns), named by version, and pinned by a
 * test vector in tests/test_store.c.
 */
#ifndef __PROFILER_STORE_BACKEND_H
#define __PROFILER_STORE_BACKEND_H

#include "store.h"

struct store_ops {
	const char *name;	/* "sqlite", "postgresql" */
	void (*free)(struct store *st);
	int (*schema_version)(struct store *st);
	int (*add_run)(struct store *st, const struct store_run *run, __s64 *run_id);
	int (*end_run)(struct store *st, __s64 run_id, __s64 end_ms);
	int (*write_batch)(struct store *st, const struct store_batch *b);
	int (*put_health)(struct store *st, __s64 run_id, const struct store_health *h);
	int (*shipped_until)(struct store *st, __s64 run_id, __s64 *ts);
	int (*expire)(struct store *st, __s64 before, __u64 *deleted);
	int (*enforce_size)(struct store *st, __u64 max_bytes, __u64 *deleted);
	int (*compact)(struct store *st, __s64 before, int max_buckets, __u64 *packed);
	int (*used_bytes)(struct store *st, __u64 *bytes);
	int (*file_bytes)(struct store *st, __u64 *bytes);
	int (*query_stacks)(struct store *st, const struct store_selector *sel, store_stack_fn fn,
			    void *ctx);
	int (*query_samples)(struct store *st, const struct store_selector *sel,
			     store_sample_fn fn, void *ctx);
	int (*query_timeline)(struct store *st, const struct store_selector *sel, __s64 step,
			      store_timeline_fn fn, void *ctx);
	int (*query_builds)(struct store *st, const struct store_selector *sel,
			    store_build_fn fn, void *ctx);
	int (*read_batches)(struct store *st, const struct store_selector *sel, __s64 after_ts,
			    __s64 before_ts, store_batch_fn fn, void *ctx);
	int (*list_runs)(struct store *st, const struct store_selector *sel, store_run_fn fn,
			 void *ctx);
	int (*last_run)(struct store *st, __s64 *run_id);
	int (*measure)(struct store *st, struct store_measure *m);
};

struct store {
	const struct store_ops *ops;
	char *name;		/* the path, or the URI without its password */
};

/* Backends' open functions: NULL with errno set after one warning. */
struct store *sqlite_store__open(const char *path, const struct store_opts *opts);
struct store *pg_store__open(const char *conninfo, const struct store_opts *opts);

/* Whether @db names a PostgreSQL database rather than a file. */
bool store_is_postgres(const char *db);

/*
 * Content hashes, version 1 (XXH3-64 of a fixed serialisation, read as a
 * signed 64-bit integer). Never change them: a new serialisation is a new
 * version with a new name and a schema migration.
 */
__s64 store_frame_hash_v1(const struct store_frame *f);
/* @frames: the frames' hashes, root first */
__s64 store_stack_hash_v1(const __s64 *frames, __u32 nr);
/* a process of run @run_id, by the key SQLite's processes table is unique on */
__s64 store_process_hash_v1(__s64 run_id, const struct store_process *p);

#endif /* __PROFILER_STORE_BACKEND_H */
