// SPDX-License-Identifier: GPL-2.0
/*
 * Compaction of old buckets. A bucket's sample rows (ts, process, stack,
 * count) cost a B-tree entry each; once a bucket is old enough to take no
 * more samples, its rows are packed into one blob of varints in the packed
 * table, compressed with zstd when that is smaller, in the same transaction
 * that deletes the rows: a crash leaves either form, never both.
 *
 * Readers see packed buckets through temp.unpacked: store_unpack() fills it
 * with the packed rows of a time range inside the reader's transaction, and
 * queries read samples UNION ALL temp.unpacked (STORE_ALL_SAMPLES).
 *
 * What needs every bucket but not every row reads a small index kept with
 * the blobs instead (schema version 4): packed_refs holds, per process and
 * per stack, the newest packed bucket that uses it (garbage collection after
 * expiry: buckets go oldest first, so one older than the cut-off is used by
 * none left), and packed_runs each bucket's samples per run (`profile runs`).
 *
 * The blob format and its decoder, which trusts no byte of it, are in
 * packed.c; here a decoded bucket is also checked against the rows and
 * samples its row in the packed table declares.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sqlite_internal.h"
#include "common/strbuf.h"
#include "common/log.h"

static int prepare(struct sqlite_store *st, const char *sql, sqlite3_stmt **s)
{
	return store_err(st, sqlite3_prepare_v2(st->db, sql, -1, s, NULL),
			 "cannot compact the database");
}

/*
 * The packed rows in column @col of @get's current row (bucket @ts), appended
 * to @r; columns @col + 1 and @col + 2 are the rows and samples the bucket
 * declares, and the blob must decode to exactly those.
 */
static int unpack_column(struct sqlite_store *st, sqlite3_stmt *get, int col, __s64 ts,
			 struct packed_rows *r)
{
	__s64 rows = sqlite3_column_int64(get, col + 1), samples = sqlite3_column_int64(get, col + 2);
	size_t i, first = r->nr;
	__u64 sum = 0;
	int err = -EBADMSG;

	if (rows >= 0 && rows <= STORE_PACKED_MAX_ROWS)
		err = packed_rows__decode(r, sqlite3_column_blob(get, col),
					  sqlite3_column_bytes(get, col), rows);
	for (i = first; !err && i < r->nr; i++)
		sum += r->v[i].count;
	if (!err && (r->nr - first != (size_t)rows || sum != (__u64)samples))
		err = -EBADMSG;
	if (err == -EBADMSG)
		pr_warn("'%s': packed bucket %lld is corrupt", st->path, (long long)ts);
	return err;
}

/* The packed rows of bucket @ts, if any, appended to @r. */
static int read_packed(struct sqlite_store *st, sqlite3_stmt *get, __s64 ts, struct packed_rows *r)
{
	int rc, err = 0;

	sqlite3_reset(get);
	sqlite3_bind_int64(get, 1, ts);
	rc = sqlite3_step(get);
	if (rc == SQLITE_ROW)
		err = unpack_column(st, get, 0, ts, r);
	else if (rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read packed samples");
	sqlite3_reset(get);
	return err;
}

/* packed_refs: @id (a process for kind 0, a stack for kind 1) is used up to @ts at least */
static int put_ref(struct sqlite_store *st, sqlite3_stmt *put, int kind, __s64 id, __s64 ts)
{
	int rc;

	sqlite3_reset(put);
	sqlite3_bind_int64(put, 1, kind);
	sqlite3_bind_int64(put, 2, id);
	sqlite3_bind_int64(put, 3, ts);
	rc = sqlite3_step(put);
	return rc == SQLITE_DONE ? 0 : store_err(st, rc, "cannot index packed samples");
}

static int put_run(struct sqlite_store *st, sqlite3_stmt *put, __s64 ts, __s64 run, __u64 samples)
{
	int rc;

	if (run < 0 || !samples)
		return 0;
	sqlite3_reset(put);
	sqlite3_bind_int64(put, 1, ts);
	sqlite3_bind_int64(put, 2, run);
	sqlite3_bind_int64(put, 3, (sqlite3_int64)samples);
	rc = sqlite3_step(put);
	return rc == SQLITE_DONE ? 0 : store_err(st, rc, "cannot index packed samples");
}

/*
 * Index the (merged, whole) rows @r of packed bucket @ts: the processes and
 * stacks it uses, and its samples per run.
 */
static int index_bucket(struct sqlite_store *st, __s64 ts, const struct packed_rows *r)
{
	static const char *const sql[] = {
		"INSERT INTO packed_refs(kind, id, last_ts) VALUES (?1, ?2, ?3)"
		" ON CONFLICT(kind, id) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)",
		"SELECT run_id FROM processes WHERE id = ?1",
		"DELETE FROM packed_runs WHERE ts = ?1",
		"INSERT INTO packed_runs(ts, run_id, samples) VALUES (?1, ?2, ?3)"
		" ON CONFLICT(ts, run_id) DO UPDATE SET samples = samples + excluded.samples",
	};
	sqlite3_stmt *s[4] = {};
	__s64 run = -1, proc = -1;
	__u64 run_samples = 0;
	size_t i, k;
	int rc, err = 0;

	for (k = 0; !err && k < 4; k++)
		err = prepare(st, sql[k], &s[k]);
	if (!err) {
		sqlite3_bind_int64(s[2], 1, ts);
		rc = sqlite3_step(s[2]);
		err = rc == SQLITE_DONE ? 0 : store_err(st, rc, "cannot index packed samples");
	}
	/* rows are sorted by process: one run lookup per process */
	for (i = 0; !err && i < r->nr; i++) {
		if (r->v[i].proc != proc) {
			err = put_run(st, s[3], ts, run, run_samples);
			proc = r->v[i].proc;
			run_samples = 0;
			run = -1;
			sqlite3_reset(s[1]);
			sqlite3_bind_int64(s[1], 1, proc);
			if (sqlite3_step(s[1]) == SQLITE_ROW)
				run = sqlite3_column_int64(s[1], 0);
			err = err ?: put_ref(st, s[0], 0, proc, ts);
		}
		run_samples += r->v[i].count;
		err = err ?: put_ref(st, s[0], 1, r->v[i].stack, ts);
	}
	err = err ?: put_run(st, s[3], ts, run, run_samples);
	for (k = 0; k < 4; k++)
		sqlite3_finalize(s[k]);
	return err;
}

int store_index_packed(struct sqlite_store *st)
{
	sqlite3_stmt *get = NULL;
	struct packed_rows r = {};
	int rc = SQLITE_DONE, err;

	err = prepare(st, "SELECT ts, data, rows, samples FROM packed", &get);
	while (!err && (rc = sqlite3_step(get)) == SQLITE_ROW) {
		__s64 ts = sqlite3_column_int64(get, 0);

		r.nr = 0;
		err = unpack_column(st, get, 1, ts, &r);
		if (!err) {
			packed_rows__merge(&r);
			err = index_bucket(st, ts, &r);
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read packed samples");
	sqlite3_finalize(get);
	packed_rows__release(&r);
	return err;
}

static int compact_bucket(struct sqlite_store *st, sqlite3_stmt **s, __s64 ts, struct packed_rows *r,
			  struct strbuf *blob)
{
	__u64 total = 0;
	size_t i;
	int rc = SQLITE_DONE, err;

	r->nr = 0;
	err = read_packed(st, s[1], ts, r);
	sqlite3_reset(s[2]);
	sqlite3_bind_int64(s[2], 1, ts);
	while (!err && (rc = sqlite3_step(s[2])) == SQLITE_ROW)
		err = packed_rows__add(r, sqlite3_column_int64(s[2], 0), sqlite3_column_int64(s[2], 1),
				(__u64)sqlite3_column_int64(s[2], 2));
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read samples");
	sqlite3_reset(s[2]);
	if (err)
		return err;
	packed_rows__merge(r);
	/* more than a reader would accept: the bucket stays unpacked (no real host gets here) */
	if (r->nr > STORE_PACKED_MAX_ROWS) {
		pr_warn("'%s': bucket %lld has %zu rows, too many to pack", st->path, (long long)ts,
			r->nr);
		return 0;
	}
	for (i = 0; i < r->nr; i++)
		total += r->v[i].count;
	err = packed_rows__encode(r, blob);
	if (err)
		return err;
	sqlite3_reset(s[3]);
	sqlite3_bind_int64(s[3], 1, ts);
	sqlite3_bind_int64(s[3], 2, (sqlite3_int64)r->nr);
	sqlite3_bind_int64(s[3], 3, (sqlite3_int64)total);
	sqlite3_bind_blob(s[3], 4, blob->buf, blob->len, SQLITE_STATIC);
	rc = sqlite3_step(s[3]);
	sqlite3_reset(s[3]);
	if (rc != SQLITE_DONE)
		return store_err(st, rc, "cannot store packed samples");
	sqlite3_reset(s[4]);
	sqlite3_bind_int64(s[4], 1, ts);
	rc = sqlite3_step(s[4]);
	sqlite3_reset(s[4]);
	if (rc != SQLITE_DONE)
		return store_err(st, rc, "cannot delete packed samples");
	return index_bucket(st, ts, r);
}

int sqlite__compact(struct sqlite_store *st, __s64 before, int max_buckets, __u64 *packed)
{
	static const char *const sql[] = {
		"SELECT DISTINCT ts FROM samples WHERE ts < ?1 ORDER BY ts LIMIT ?2",
		"SELECT data, rows, samples FROM packed WHERE ts = ?1",
		"SELECT process_id, stack_id, count FROM samples WHERE ts = ?1",
		"INSERT OR REPLACE INTO packed(ts, rows, samples, data) VALUES (?1, ?2, ?3, ?4)",
		"DELETE FROM samples WHERE ts = ?1",
	};
	sqlite3_stmt *s[5] = {};
	struct strbuf blob = STRBUF_INIT;
	struct packed_rows r = {};
	__s64 *ts = NULL;
	int i, nr = 0, rc = SQLITE_DONE, err;

	if (packed)
		*packed = 0;
	if (max_buckets <= 0)
		max_buckets = 64;
	ts = calloc(max_buckets, sizeof(*ts));
	if (!ts)
		return -ENOMEM;
	err = sqlite__begin(st);
	if (err)
		goto out;
	for (i = 0; !err && i < 5; i++)
		err = prepare(st, sql[i], &s[i]);
	if (!err) {
		sqlite3_bind_int64(s[0], 1, before);
		sqlite3_bind_int64(s[0], 2, max_buckets);
		while (nr < max_buckets && (rc = sqlite3_step(s[0])) == SQLITE_ROW)
			ts[nr++] = sqlite3_column_int64(s[0], 0);
		if (nr < max_buckets && rc != SQLITE_DONE)
			err = store_err(st, rc, "cannot find old buckets");
		sqlite3_reset(s[0]);
	}
	for (i = 0; !err && i < nr; i++)
		err = compact_bucket(st, s, ts[i], &r, &blob);
	for (i = 0; i < 5; i++)
		sqlite3_finalize(s[i]);
	if (err) {
		sqlite__rollback(st);
		goto out;
	}
	err = sqlite__commit(st);
	if (!err && packed)
		*packed = nr;
out:
	free(ts);
	packed_rows__release(&r);
	strbuf__release(&blob);
	return err;
}

int store_unpack(struct sqlite_store *st, __s64 since, __s64 until)
{
	sqlite3_stmt *get = NULL, *put = NULL;
	struct packed_rows r = {};
	size_t i;
	int rc = SQLITE_DONE, err;

	err = store_exec(st, "DELETE FROM temp.unpacked");
	err = err ?: prepare(st, "SELECT ts, data, rows, samples FROM packed"
			     " WHERE ts >= ?1 AND ts < ?2", &get);
	err = err ?: prepare(st, "INSERT INTO temp.unpacked(ts, process_id, stack_id, count)"
			     " VALUES (?1, ?2, ?3, ?4)", &put);
	if (err)
		goto out;
	sqlite3_bind_int64(get, 1, since);
	sqlite3_bind_int64(get, 2, until ? until : INT64_MAX);
	while (!err && (rc = sqlite3_step(get)) == SQLITE_ROW) {
		__s64 ts = sqlite3_column_int64(get, 0);

		r.nr = 0;
		err = unpack_column(st, get, 1, ts, &r);
		for (i = 0; !err && i < r.nr; i++) {
			sqlite3_bind_int64(put, 1, ts);
			sqlite3_bind_int64(put, 2, r.v[i].proc);
			sqlite3_bind_int64(put, 3, r.v[i].stack);
			sqlite3_bind_int64(put, 4, (sqlite3_int64)r.v[i].count);
			rc = sqlite3_step(put);
			sqlite3_reset(put);
			if (rc != SQLITE_DONE)
				err = store_err(st, rc, "cannot unpack samples");
		}
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read packed samples");
out:
	sqlite3_finalize(get);
	sqlite3_finalize(put);
	packed_rows__release(&r);
	return err;
}
