/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations private to store/, shared by its files and its unit tests. */
#ifndef __PROFILER_STORE_INTERNAL_H
#define __PROFILER_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

struct strbuf;

/* frames.flags */
#define STORE_FRAME_INLINED 1
#define STORE_FRAME_JIT 2

enum store_stmt {
	STMT_FRAME_GET,
	STMT_FRAME_PUT,
	STMT_FUNC_PUT,
	STMT_FUNC_GET,
	STMT_MAP_PUT,
	STMT_MAP_GET,
	STMT_STACK_GET,
	STMT_STACK_PUT,
	STMT_PROC_PUT,
	STMT_PROC_GET,
	STMT_SAMPLE_PUT,
	STMT_MAX,
};

struct store {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *stmts[STMT_MAX];
	bool in_tx;
	bool quiet;
	bool damaged;	/* SQLite found corruption: close without a checkpoint */
	__u64 epoch;
};

/* Map a SQLite result code to -Exxx and log "<what>: <sqlite message>" unless it is OK/DONE/ROW. */
int store_err(struct store *st, int rc, const char *what);
/* Run @sql (no results); returns 0 or -errno after a warning. */
int store_exec(struct store *st, const char *sql);
/* A cached prepared statement, reset and with bindings cleared. */
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt which);

/* Run @sql and return the first column of its first row in *@out (0 when none). */
int query_int(struct store *st, const char *sql, __s64 *out);

/* Apply the schema migrations up to version @target (for tests: build an old database). */
int store_migrate(struct store *st, int target);
/* Open without migrating (tests). */
struct store *store_open_raw(const char *path, const struct store_opts *opts);

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
int store_unpack(struct store *st, __s64 since, __s64 until);
/* Build packed_refs and packed_runs from every packed bucket (the migration to version 4). */
int store_index_packed(struct store *st);

#endif /* __PROFILER_STORE_INTERNAL_H */
