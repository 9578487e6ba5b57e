/* SPDX-License-Identifier: GPL-2.0 */
/* Declarations private to store/, shared by its files and its unit tests. */
#ifndef __PROFILER_STORE_INTERNAL_H
#define __PROFILER_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

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

/* Unsigned LEB128 encoding of frame-id arrays. */
size_t varint_put(unsigned char *buf, __u64 v);
/* Returns bytes consumed, 0 on a truncated or overlong varint. */
size_t varint_get(const unsigned char *buf, size_t len, __u64 *v);

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
