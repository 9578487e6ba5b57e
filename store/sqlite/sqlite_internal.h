/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations private to store/, shared by its files and its unit tests. */
#ifndef __PROFILER_STORE_INTERNAL_H
#define __PROFILER_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store_backend.h"
#include "common/hashmap.h"

struct strbuf;

/* frames.flags */
#define STORE_FRAME_INLINED 1
#define STORE_FRAME_JIT 2
#define STORE_FRAME_PYTHON 4

enum store_stmt {
	STMT_FRAME_GET,
	STMT_FRAME_PUT,
	STMT_FUNC_PUT,
	STMT_FUNC_GET,
	STMT_MAP_PUT,
	STMT_MAP_GET,
	STMT_FILE_PUT,
	STMT_FILE_GET,
	STMT_LINE_PUT,
	STMT_STACK_GET,
	STMT_STACK_PUT,
	STMT_PROC_PUT,
	STMT_PROC_GET,
	STMT_SAMPLE_PUT,
	STMT_MAX,
};

struct sqlite_store {
	struct store base;	/* base.name is path */
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[STMT_MAX];
	bool in_tx;
	bool quiet;
	bool damaged;	/* SQLite found corruption: close without a checkpoint */
	__u64 epoch;
	/* content hash -> row id of frames, stacks and processes, for this epoch */
	struct hashmap frame_ids, stack_ids, proc_ids;
	/* and of what new frames name: mappings, functions, source files */
	struct hashmap map_ids, func_ids, file_ids;
	__u64 cache_epoch;
};

static inline struct sqlite_store *sq(struct store *st)
{
	return (struct sqlite_store *)st;
}

/* The item-level writing API, for the batch writer and the module's tests. */
struct sqlite_store *sqlite__open(const char *path, const struct store_opts *opts);
void sqlite__free(struct sqlite_store *st);
/* BEGIN IMMEDIATE. -EBUSY when another writer holds the lock past the timeout. */
int sqlite__begin(struct sqlite_store *st);
/* Commit; on failure the transaction is rolled back. -ENOSPC for a full disk. */
int sqlite__commit(struct sqlite_store *st);
/* Roll back the open transaction, if any; starts a new epoch. */
void sqlite__rollback(struct sqlite_store *st);
/* Ids handed out are valid for the current epoch: a rollback or a garbage collection starts a new one. */
__u64 sqlite__epoch(const struct sqlite_store *st);
/* Forget the cached row ids when a rollback or a collection made them stale. */
void sqlite__drop_stale_caches(struct sqlite_store *st);
/* Find or insert; each sets *@id. Return 0 or -errno. */
int sqlite__frame_id(struct sqlite_store *st, const struct store_frame *f, __s64 *id);
/* @frames root first; @nr may be 0 (a sample without a stack). */
int sqlite__stack_id(struct sqlite_store *st, const __s64 *frames, int nr, __s64 *id);
int sqlite__process_id(struct sqlite_store *st, __s64 run_id, const struct store_process *p,
		       __s64 *id);
/* Add @count samples at bucket time @ts (unix seconds) to (process, stack). */
int sqlite__add_samples(struct sqlite_store *st, __s64 ts, __s64 process_id, __s64 stack_id,
			__u64 count);

/* The backend's operations, in this directory's files */
extern const struct store_ops sqlite_ops;
int sqlite__schema_version(struct sqlite_store *st);
int sqlite__add_run(struct sqlite_store *st, const struct store_run *run, __s64 *run_id);
int sqlite__end_run(struct sqlite_store *st, __s64 run_id, __s64 end_ms);
int sqlite__write_batch(struct sqlite_store *st, const struct store_batch *b);
int sqlite__put_health(struct sqlite_store *st, __s64 run_id, const struct store_health *h);
int sqlite__expire(struct sqlite_store *st, __s64 before, __u64 *deleted);
int sqlite__enforce_size(struct sqlite_store *st, __u64 max_bytes, __u64 *deleted);
int sqlite__compact(struct sqlite_store *st, __s64 before, int max_buckets, __u64 *packed);
int sqlite__used_bytes(struct sqlite_store *st, __u64 *bytes);
int sqlite__file_bytes(struct sqlite_store *st, __u64 *bytes);
int sqlite__query_stacks(struct sqlite_store *st, const struct store_selector *sel,
			 store_stack_fn fn, void *ctx);
int sqlite__query_samples(struct sqlite_store *st, const struct store_selector *sel,
			  store_sample_fn fn, void *ctx);
int sqlite__query_timeline(struct sqlite_store *st, const struct store_selector *sel, __s64 step,
			   store_timeline_fn fn, void *ctx);
int sqlite__query_builds(struct sqlite_store *st, const struct store_selector *sel,
			 store_build_fn fn, void *ctx);
int sqlite__read_batches(struct sqlite_store *st, const struct store_selector *sel,
			 __s64 after_ts, __s64 before_ts, store_batch_fn fn, void *ctx);
int sqlite__list_runs(struct sqlite_store *st, const struct store_selector *sel, store_run_fn fn,
		      void *ctx);
int sqlite__last_run(struct sqlite_store *st, __s64 *run_id);
int sqlite__measure(struct sqlite_store *st, struct store_measure *m);

/* Map a SQLite result code to -Exxx and log "<what>: <sqlite message>" unless it is OK/DONE/ROW. */
int store_err(struct sqlite_store *st, int rc, const char *what);
/* Run @sql (no results); returns 0 or -errno after a warning. */
int store_exec(struct sqlite_store *st, const char *sql);
/* A cached prepared statement, reset and with bindings cleared. */
sqlite3_stmt *store_stmt(struct sqlite_store *st, enum store_stmt which);

/* Run @sql and return the first column of its first row in *@out (0 when none). */
int query_int(struct sqlite_store *st, const char *sql, __s64 *out);

/* Apply the schema migrations up to version @target (for tests: build an old database). */
int store_migrate(struct sqlite_store *st, int target);
/* Open without migrating (tests). */
struct sqlite_store *store_open_raw(const char *path, const struct store_opts *opts);

/* Unsigned LEB128 encoding of frame-id arrays and packed buckets (packed.c). */
size_t varint_put(unsigned char *buf, __u64 v);
/* Returns bytes consumed, 0 on a truncated or overlong varint. */
size_t varint_get(const unsigned char *buf, size_t len, __u64 *v);

/* ---- packed buckets (packed.c): the blob format and its decoder ---- */

/* The most rows a packed bucket may hold: a reader's memory bound, and compaction's limit. */
#define STORE_PACKED_MAX_ROWS (1 << 20)
/* A row is three varints of at most 10 bytes. */
#define PACKED_ROW_MAX_BYTES 30

struct packed_row {
	__s64 proc, stack;	/* process and stack ids, both > 0 once decoded */
	__u64 count;
};

/* A growable array of rows; zero-initialise it, free it with packed_rows__release(). */
struct packed_rows {
	struct packed_row *v;
	size_t nr, cap;
};

int packed_rows__add(struct packed_rows *r, __s64 proc, __s64 stack, __u64 count);
/* Sort by (process, stack) and sum the counts of equal rows, saturating at INT64_MAX. */
void packed_rows__merge(struct packed_rows *r);
void packed_rows__release(struct packed_rows *r);
/* Encode sorted, merged @r into @out (replacing its contents): varints, or zstd when smaller. */
int packed_rows__encode(const struct packed_rows *r, struct strbuf *out);
/*
 * Decode the packed bucket @blob (@len bytes, any content) and append its rows
 * to @r: positive ids in strictly increasing (process, stack) order, counts
 * at most INT64_MAX. A bucket of more than @max_rows rows (at most
 * STORE_PACKED_MAX_ROWS) is corrupt; memory and time are bounded by @max_rows, whatever the blob
 * declares. Returns 0, -EBADMSG when the blob is corrupt (@r may then hold
 * some of its rows), or -ENOMEM.
 */
int packed_rows__decode(struct packed_rows *r, const void *blob, size_t len, size_t max_rows);

/*
 * Every sample row, packed or not, for queries: store_unpack() must first
 * fill temp.unpacked with the packed buckets of the range, inside the same
 * read transaction.
 */
#define STORE_ALL_SAMPLES "(SELECT ts, process_id, stack_id, count FROM main.samples" \
	" UNION ALL SELECT ts, process_id, stack_id, count FROM temp.unpacked)"
/* Fill temp.unpacked with the packed rows of buckets in [@since, @until) (@until 0: open). */
int store_unpack(struct sqlite_store *st, __s64 since, __s64 until);
/* Build packed_refs and packed_runs from every packed bucket (the migration to version 4). */
int store_index_packed(struct sqlite_store *st);

#endif /* __PROFILER_STORE_INTERNAL_H */
