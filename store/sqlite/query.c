// SPDX-License-Identifier: GPL-2.0
/*
 * The store's reading side: selectors turned into SQL, stacks decoded back
 * into named frames, the list of runs, and a measurement of what the bulky
 * parts take with and without zstd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "sqlite_internal.h"
#include "common/hashmap.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"

/* ---- selectors ---- */

struct where {
	struct strbuf sql;
	struct {
		bool text;
		__s64 num;
		const char *str;
		int len;
	} args[64];
	int nr;
	int err;
};

static void where_num(struct where *w, const char *cond, __s64 v)
{
	if (w->nr >= 64) {
		w->err = -E2BIG;
		return;
	}
	w->args[w->nr].text = false;
	w->args[w->nr++].num = v;
	if (!w->err)
		w->err = strbuf__adds(&w->sql, cond);
}

static void where_text(struct where *w, const char *cond, const char *v, int len)
{
	if (w->nr >= 64) {
		w->err = -E2BIG;
		return;
	}
	w->args[w->nr].text = true;
	w->args[w->nr].str = v;
	w->args[w->nr++].len = len;
	if (!w->err)
		w->err = strbuf__adds(&w->sql, cond);
}

/*
 * Conditions on processes (p), runs (r) and hosts (h). With @samples the
 * query has the samples table as s; without, process conditions become
 * EXISTS over the run's processes and time means the run overlaps the range.
 */
static int build_where(struct where *w, const struct store_selector *sel, bool samples)
{
	int i;

	w->err = strbuf__adds(&w->sql, " WHERE 1");
	if (sel->run_id)
		where_num(w, " AND r.id = ?", sel->run_id);
	if (samples) {
		if (sel->since)
			where_num(w, " AND s.ts >= ?", sel->since);
		if (sel->until)
			where_num(w, " AND s.ts < ?", sel->until);
	} else {
		if (sel->since)
			where_num(w, " AND (r.end_ms = 0 OR r.end_ms >= ? * 1000)", sel->since);
		if (sel->until)
			where_num(w, " AND r.start_ms < ? * 1000", sel->until);
	}
	for (i = 0; i < sel->nr_hosts; i++)
		where_text(w, i ? " OR h.name GLOB ?" : " AND (h.name GLOB ?", sel->hosts[i], -1);
	if (sel->nr_hosts)
		w->err = w->err ?: strbuf__addch(&w->sql, ')');
	for (i = 0; i < sel->nr_labels; i++) {
		const char *l = sel->labels[i], *eq = strchr(l, '=');

		if (!eq)
			return -EINVAL;
		where_text(w, " AND EXISTS (SELECT 1 FROM run_labels l WHERE l.run_id = r.id"
			      " AND l.key = ?", l, eq - l);
		where_text(w, " AND l.value = ?)", eq + 1, -1);
	}
	if (!samples && (sel->nr_pids || sel->comm || sel->build_id))
		w->err = w->err ?: strbuf__adds(&w->sql, " AND EXISTS (SELECT 1 FROM processes p"
					       " WHERE p.run_id = r.id");
	for (i = 0; i < sel->nr_pids; i++)
		where_num(w, i ? ", ?" : " AND p.pid IN (?", sel->pids[i]);
	if (sel->nr_pids)
		w->err = w->err ?: strbuf__addch(&w->sql, ')');
	if (sel->comm)
		where_text(w, " AND p.comm = ?", sel->comm, -1);
	if (sel->build_id) {
		where_text(w, " AND substr(p.exe_build_id, 1, length(?))", sel->build_id, -1);
		where_text(w, " = ?", sel->build_id, -1);
	}
	if (!samples && (sel->nr_pids || sel->comm || sel->build_id))
		w->err = w->err ?: strbuf__addch(&w->sql, ')');
	return w->err;
}

static int prepare_where(struct sqlite_store *st, struct where *w, sqlite3_stmt **out)
{
	int i, err;

	err = store_err(st, sqlite3_prepare_v2(st->db, w->sql.buf, -1, out, NULL),
			"cannot query the database");
	if (err)
		return err;
	for (i = 0; i < w->nr; i++) {
		if (w->args[i].text)
			sqlite3_bind_text(*out, i + 1, w->args[i].str, w->args[i].len,
					  SQLITE_STATIC);
		else
			sqlite3_bind_int64(*out, i + 1, w->args[i].num);
	}
	return 0;
}

/* ---- stacks ---- */

struct qframe {
	int name;	/* strset id, -1 when unresolved */
	int module, build_id, file;	/* strset ids */
	bool kernel;
	int flags;	/* STORE_FRAME_* */
	__u64 addr;
	int depth, line, start_line;
};

/*
 * A frame with its mapping, name and source line (none for frames stored
 * before schema version 6: an older file's reader sees frame_lines and
 * source_files as empty temp tables)
 */
#define FRAME_SQL "SELECT m.kernel, m.name, m.build_id, f.addr, f.depth, f.flags, fn.name," \
	" sf.name, coalesce(fl.line, 0), coalesce(fl.start_line, 0) FROM frames f" \
	" JOIN mappings m ON m.id = f.mapping_id" \
	" LEFT JOIN functions fn ON fn.id = f.function_id" \
	" LEFT JOIN frame_lines fl ON fl.frame_id = f.id" \
	" LEFT JOIN source_files sf ON sf.id = fl.file_id WHERE f.id = ?1"
/* The same columns without the source lines, for store__query_stacks(): two joins fewer a frame */
#define FRAME_SQL_NO_LINES "SELECT m.kernel, m.name, m.build_id, f.addr, f.depth, f.flags," \
	" fn.name, NULL, 0, 0 FROM frames f JOIN mappings m ON m.id = f.mapping_id" \
	" LEFT JOIN functions fn ON fn.id = f.function_id WHERE f.id = ?1"
enum { FC_KERNEL, FC_MODULE, FC_BUILD_ID, FC_ADDR, FC_DEPTH, FC_FLAGS, FC_NAME, FC_FILE, FC_LINE,
       FC_START_LINE };

static int intern_text(struct strset *strs, sqlite3_stmt *s, int col)
{
	const char *v = (const char *)sqlite3_column_text(s, col);

	return v ? strset__add(strs, v, strlen(v)) : strset__add(strs, "", 0);
}

struct stack_reader {
	struct sqlite_store *st;
	sqlite3_stmt *stack, *frame;
	struct hashmap frame_idx;	/* frame id -> index in frames */
	struct qframe *frames;
	size_t nr_frames, cap_frames;
	struct strset *strs;
	struct store_query_frame *out;
	size_t cap_out;
};

static int load_frame(struct stack_reader *r, __s64 id, size_t *idx)
{
	struct qframe *q;
	const unsigned char *name;
	uint64_t val;
	int rc, err;

	if (hashmap__get(&r->frame_idx, (uint64_t)id, &val)) {
		*idx = val;
		return 0;
	}
	if (r->nr_frames == r->cap_frames) {
		size_t cap = r->cap_frames ? r->cap_frames * 2 : 256;

		q = reallocarray(r->frames, cap, sizeof(*q));
		if (!q)
			return -ENOMEM;
		r->frames = q;
		r->cap_frames = cap;
	}
	q = &r->frames[r->nr_frames];
	sqlite3_reset(r->frame);
	sqlite3_bind_int64(r->frame, 1, id);
	rc = sqlite3_step(r->frame);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE) {
			pr_warn("'%s': a stack refers to missing frame %lld", r->st->path,
				(long long)id);
			return -EBADMSG;
		}
		return store_err(r->st, rc, "cannot read a frame");
	}
	q->kernel = sqlite3_column_int(r->frame, FC_KERNEL);
	q->flags = sqlite3_column_int(r->frame, FC_FLAGS);
	q->addr = (__u64)sqlite3_column_int64(r->frame, FC_ADDR);
	q->depth = sqlite3_column_int(r->frame, FC_DEPTH);
	q->line = sqlite3_column_int(r->frame, FC_LINE);
	q->start_line = sqlite3_column_int(r->frame, FC_START_LINE);
	name = sqlite3_column_text(r->frame, FC_NAME);
	q->module = intern_text(r->strs, r->frame, FC_MODULE);
	q->build_id = intern_text(r->strs, r->frame, FC_BUILD_ID);
	q->file = intern_text(r->strs, r->frame, FC_FILE);
	q->name = name ? strset__add(r->strs, (const char *)name, strlen((const char *)name)) : -1;
	if (q->module < 0 || q->build_id < 0 || q->file < 0 || (name && q->name < 0))
		return -ENOMEM;
	err = hashmap__set(&r->frame_idx, (uint64_t)id, r->nr_frames);
	if (err)
		return err;
	*idx = r->nr_frames++;
	return 0;
}

static void query_frame(const struct stack_reader *r, const struct qframe *q,
			struct store_query_frame *o)
{
	o->kernel = q->kernel;
	o->inlined = q->flags & STORE_FRAME_INLINED;
	o->python = q->flags & STORE_FRAME_PYTHON;
	o->jit = q->flags & STORE_FRAME_JIT;
	o->name = q->name >= 0 ? strset__str(r->strs, q->name) : NULL;
	o->module = strset__str(r->strs, q->module);
	o->build_id = strset__str(r->strs, q->build_id);
	o->file = strset__str(r->strs, q->file);
	o->addr = q->addr;
	o->depth = q->depth;
	o->line = q->line;
	o->start_line = q->start_line;
}

/* Decode stack @id into r->out; *@nr gets the number of frames. */
static int load_stack(struct stack_reader *r, __s64 id, int *nr)
{
	const unsigned char *blob;
	size_t len, pos = 0, used, idx = 0;
	__u64 frame;
	int rc, n = 0, err = 0;

	sqlite3_reset(r->stack);
	sqlite3_bind_int64(r->stack, 1, id);
	rc = sqlite3_step(r->stack);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE) {
			pr_warn("'%s': samples refer to missing stack %lld", r->st->path,
				(long long)id);
			return -EBADMSG;
		}
		return store_err(r->st, rc, "cannot read a stack");
	}
	blob = sqlite3_column_blob(r->stack, 0);
	len = sqlite3_column_bytes(r->stack, 0);
	while (pos < len && !err) {
		used = varint_get(blob + pos, len - pos, &frame);
		if (!used) {
			pr_warn("'%s': stack %lld is corrupt", r->st->path, (long long)id);
			return -EBADMSG;
		}
		pos += used;
		if ((size_t)n == r->cap_out) {
			size_t cap = r->cap_out ? r->cap_out * 2 : 64;
			struct store_query_frame *o = reallocarray(r->out, cap, sizeof(*o));

			if (!o)
				return -ENOMEM;
			r->out = o;
			r->cap_out = cap;
		}
		err = load_frame(r, (__s64)frame, &idx);
		if (!err) {
			query_frame(r, &r->frames[idx], &r->out[n]);
			r->out[n++].id = idx + 1;
		}
	}
	*nr = n;
	return err;
}

static void stack_reader__release(struct stack_reader *r)
{
	sqlite3_finalize(r->stack);
	sqlite3_finalize(r->frame);
	hashmap__release(&r->frame_idx);
	free(r->frames);
	free(r->out);
	strset__free(r->strs);
}

static int stack_reader__init(struct stack_reader *r, struct sqlite_store *st, bool lines)
{
	memset(r, 0, sizeof(*r));
	r->st = st;
	r->strs = strset__new();
	if (!r->strs)
		return -ENOMEM;
	return store_err(st, sqlite3_prepare_v2(st->db, "SELECT frames FROM stacks WHERE id = ?1",
						-1, &r->stack, NULL), "cannot query stacks") ?:
	       store_err(st, sqlite3_prepare_v2(st->db, lines ? FRAME_SQL : FRAME_SQL_NO_LINES, -1,
						&r->frame, NULL), "cannot query frames");
}

static const char *text_col(sqlite3_stmt *q, int col)
{
	const char *v = (const char *)sqlite3_column_text(q, col);

	return v ? v : "";
}

/*
 * Rows of (comm, stack, count) for @fn, or with @sfn of (host, pid, comm,
 * stack, count).
 */
static int run_stack_query(struct sqlite_store *st, sqlite3_stmt *q, store_stack_fn fn,
			   store_sample_fn sfn, void *ctx)
{
	struct stack_reader r;
	int rc = SQLITE_DONE, nr = 0, err, c = sfn ? 2 : 0;

	err = stack_reader__init(&r, st, sfn != NULL);
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		struct store_sample_key key = { .comm = text_col(q, c) };
		__u64 count = (__u64)sqlite3_column_int64(q, c + 2);

		err = load_stack(&r, sqlite3_column_int64(q, c + 1), &nr);
		if (err)
			break;
		if (!sfn) {
			err = fn(ctx, key.comm, r.out, nr, count);
			continue;
		}
		key.host = text_col(q, 0);
		key.pid = (__u32)sqlite3_column_int64(q, 1);
		err = sfn(ctx, &key, r.out, nr, count);
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot query samples");
	stack_reader__release(&r);
	return err;
}

static int query_stacks(struct sqlite_store *st, const struct store_selector *sel, store_stack_fn fn,
			store_sample_fn sfn, void *ctx)
{
	const char *group = sfn ? "h.name, p.pid, p.comm, s.stack_id" : "p.comm, s.stack_id";
	struct where w = { .sql = STRBUF_INIT };
	sqlite3_stmt *q = NULL;
	int err;

	err = strbuf__addf(&w.sql, "SELECT %s, sum(s.count) FROM " STORE_ALL_SAMPLES " s"
			   " JOIN processes p ON p.id = s.process_id"
			   " JOIN runs r ON r.id = p.run_id JOIN hosts h ON h.id = r.host_id", group);
	err = err ?: build_where(&w, sel, true);
	err = err ?: strbuf__addf(&w.sql, " GROUP BY %s", group);
	err = err ?: prepare_where(st, &w, &q);
	/* one read transaction: every statement sees the same snapshot */
	err = err ?: store_exec(st, "BEGIN");
	if (!err) {
		err = store_unpack(st, sel->since, sel->until);
		err = err ?: run_stack_query(st, q, fn, sfn, ctx);
		sqlite3_finalize(q);
		q = NULL;
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_finalize(q);
	strbuf__release(&w.sql);
	return err;
}

int sqlite__query_stacks(struct sqlite_store *st, const struct store_selector *sel, store_stack_fn fn,
			void *ctx)
{
	return query_stacks(st, sel, fn, NULL, ctx);
}

int sqlite__query_samples(struct sqlite_store *st, const struct store_selector *sel,
			  store_sample_fn fn, void *ctx)
{
	return query_stacks(st, sel, NULL, fn, ctx);
}

/* ---- samples over time ---- */

int sqlite__query_timeline(struct sqlite_store *st, const struct store_selector *sel, __s64 step,
			  store_timeline_fn fn, void *ctx)
{
	struct where w = { .sql = STRBUF_INIT };
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	if (step < 1)
		return -EINVAL;
	err = strbuf__addf(&w.sql, "SELECT (s.ts / %lld) * %lld AS b, sum(s.count) FROM "
			   STORE_ALL_SAMPLES " s JOIN processes p ON p.id = s.process_id"
			   " JOIN runs r ON r.id = p.run_id JOIN hosts h ON h.id = r.host_id",
			   (long long)step, (long long)step);
	err = err ?: build_where(&w, sel, true);
	err = err ?: strbuf__adds(&w.sql, " GROUP BY b ORDER BY b");
	err = err ?: prepare_where(st, &w, &q);
	err = err ?: store_exec(st, "BEGIN");
	if (!err) {
		err = store_unpack(st, sel->since, sel->until);
		while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
			err = fn(ctx, sqlite3_column_int64(q, 0), (__u64)sqlite3_column_int64(q, 1));
		if (!err && rc != SQLITE_DONE)
			err = store_err(st, rc, "cannot query samples");
		sqlite3_finalize(q);
		q = NULL;
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_finalize(q);
	strbuf__release(&w.sql);
	return err;
}

/* ---- executables ---- */

int sqlite__query_builds(struct sqlite_store *st, const struct store_selector *sel,
			 store_build_fn fn, void *ctx)
{
	struct where w = { .sql = STRBUF_INIT };
	sqlite3_stmt *q = NULL;
	int rc = SQLITE_DONE, err;

	err = strbuf__adds(&w.sql, "SELECT p.exe_build_id, p.comm, sum(s.count) AS n FROM "
			   STORE_ALL_SAMPLES " s JOIN processes p ON p.id = s.process_id"
			   " JOIN runs r ON r.id = p.run_id JOIN hosts h ON h.id = r.host_id");
	err = err ?: build_where(&w, sel, true);
	err = err ?: strbuf__adds(&w.sql, " GROUP BY p.exe_build_id, p.comm"
				  " ORDER BY n DESC, p.exe_build_id, p.comm");
	err = err ?: prepare_where(st, &w, &q);
	err = err ?: store_exec(st, "BEGIN");
	if (!err) {
		err = store_unpack(st, sel->since, sel->until);
		while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW)
			err = fn(ctx, (const char *)sqlite3_column_text(q, 0) ?: "",
				 (const char *)sqlite3_column_text(q, 1) ?: "",
				 (__u64)sqlite3_column_int64(q, 2));
		if (!err && rc != SQLITE_DONE)
			err = store_err(st, rc, "cannot query samples");
		sqlite3_finalize(q);
		q = NULL;
		sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	}
	sqlite3_finalize(q);
	strbuf__release(&w.sql);
	return err;
}

/* ---- runs ---- */

static void read_health(sqlite3_stmt *q, int col, struct store_health *h)
{
	__u64 *vals[] = {
		&h->samples, &h->recorded, &h->dropped, &h->collisions, &h->lost, &h->cpu_ms,
		&h->rss_kb, &h->db_bytes, &h->flushes, &h->flush_errors,
		&h->user_stacks, &h->complete, &h->unnamed, &h->idle, &h->filtered, &h->undrained,
	};
	size_t i;

	h->updated_ms = sqlite3_column_int64(q, col);
	h->pid = sqlite3_column_int64(q, col + 1);
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		*vals[i] = sqlite3_column_int64(q, col + 2 + i);
}

static const char *col_text(sqlite3_stmt *q, int col)
{
	const char *s = (const char *)sqlite3_column_text(q, col);

	return s ? s : "";
}

#define MAX_RUN_LABELS 64

/* The run's labels one by one into @v (copies, freed by the caller), at most MAX_RUN_LABELS. */
static int read_labels(struct sqlite_store *st, sqlite3_stmt *q, __s64 run_id, char **v, int *n)
{
	int rc, err = 0;

	*n = 0;
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, run_id);
	while ((rc = sqlite3_step(q)) == SQLITE_ROW && *n < MAX_RUN_LABELS) {
		v[*n] = strdup(col_text(q, 0));
		if (!v[(*n)++])
			return -ENOMEM;
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot list runs");
	return err;
}

int sqlite__list_runs(struct sqlite_store *st, const struct store_selector *sel, store_run_fn fn,
		     void *ctx)
{
	char *labels[MAX_RUN_LABELS];
	sqlite3_stmt *lq = NULL;
	int i, nr_labels = 0;
	struct where w = { .sql = STRBUF_INIT };
	struct store_run_info ri;
	sqlite3_stmt *q = NULL;
	int rc, err;

	err = strbuf__adds(&w.sql,
		"SELECT r.id, r.kind, h.name, r.cmdline, r.freq, r.start_ms, r.end_ms,"
		" (SELECT group_concat(key || '=' || value, ',') FROM run_labels WHERE run_id = r.id),"
		" a.first, a.last, a.n, ah.run_id, ah.updated_ms, ah.pid, ah.samples, ah.recorded,"
		" ah.dropped, ah.collisions, ah.lost, ah.cpu_ms, ah.rss_kb, ah.db_bytes, ah.flushes,"
		" ah.flush_errors, ak.user_stacks, ak.complete, ak.unnamed, ak.idle, ak.filtered,"
		" ak.undrained"
		" FROM runs r JOIN hosts h ON h.id = r.host_id"
		/* packed buckets count through packed_runs: no unpacking */
		" LEFT JOIN (SELECT run_id, min(first) AS first, max(last) AS last, sum(n) AS n FROM"
		" (SELECT p.run_id AS run_id, min(s.ts) AS first, max(s.ts) AS last,"
		" sum(s.count) AS n FROM samples s JOIN processes p ON p.id = s.process_id"
		" GROUP BY p.run_id UNION ALL SELECT run_id, min(ts), max(ts), sum(samples)"
		" FROM packed_runs GROUP BY run_id) GROUP BY run_id) a ON a.run_id = r.id"
		" LEFT JOIN agent_health ah ON ah.run_id = r.id"
		" LEFT JOIN agent_stacks ak ON ak.run_id = r.id");
	err = err ?: build_where(&w, sel, false);
	err = err ?: strbuf__adds(&w.sql, " ORDER BY r.id");
	err = err ?: prepare_where(st, &w, &q);
	err = err ?: store_err(st, sqlite3_prepare_v2(st->db, "SELECT key || '=' || value FROM"
						      " run_labels WHERE run_id = ?1 ORDER BY key",
						      -1, &lq, NULL), "cannot list runs");
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		memset(&ri, 0, sizeof(ri));
		ri.id = sqlite3_column_int64(q, 0);
		ri.kind = col_text(q, 1);
		ri.host = col_text(q, 2);
		ri.cmdline = col_text(q, 3);
		ri.freq = sqlite3_column_int64(q, 4);
		ri.start_ms = sqlite3_column_int64(q, 5);
		ri.end_ms = sqlite3_column_int64(q, 6);
		ri.labels = col_text(q, 7);
		ri.first_ts = sqlite3_column_int64(q, 8);
		ri.last_ts = sqlite3_column_int64(q, 9);
		ri.samples = sqlite3_column_int64(q, 10);
		ri.has_health = sqlite3_column_type(q, 11) != SQLITE_NULL;
		if (ri.has_health)
			read_health(q, 12, &ri.health);
		err = read_labels(st, lq, ri.id, labels, &nr_labels);
		ri.label_list = (const char *const *)labels;
		ri.nr_labels = nr_labels;
		err = err ?: fn(ctx, &ri);
		for (i = 0; i < nr_labels; i++)
			free(labels[i]);
		nr_labels = 0;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot list runs");
	sqlite3_finalize(lq);
	sqlite3_finalize(q);
	strbuf__release(&w.sql);
	return err;
}

int sqlite__last_run(struct sqlite_store *st, __s64 *run_id)
{
	return query_int(st, "SELECT max(id) FROM runs", run_id);
}

/* ---- measuring ---- */

static int measure_counts(struct sqlite_store *st, struct store_measure *m)
{
	static const struct {
		const char *sql;
		size_t off;
	} q[] = {
		{ "SELECT (SELECT coalesce(sum(count), 0) FROM samples) +"
		  " (SELECT coalesce(sum(samples), 0) FROM packed)",
		  offsetof(struct store_measure, samples) },
		{ "SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(rows), 0) FROM packed)",
		  offsetof(struct store_measure, sample_rows) },
		{ "SELECT count(*) FROM (SELECT ts FROM samples UNION SELECT ts FROM packed)",
		  offsetof(struct store_measure, buckets) },
		{ "SELECT count(*) FROM packed", offsetof(struct store_measure, packed_buckets) },
		{ "SELECT coalesce(sum(rows), 0) FROM packed",
		  offsetof(struct store_measure, packed_rows) },
		{ "SELECT coalesce(sum(samples), 0) FROM packed",
		  offsetof(struct store_measure, packed_samples) },
		{ "SELECT coalesce(sum(length(data)), 0) FROM packed",
		  offsetof(struct store_measure, packed_bytes) },
		{ "SELECT count(*) FROM stacks", offsetof(struct store_measure, stacks) },
		{ "SELECT count(*) FROM frames", offsetof(struct store_measure, frames) },
		{ "SELECT count(*) FROM processes", offsetof(struct store_measure, processes) },
		{ "SELECT count(*) FROM runs", offsetof(struct store_measure, runs) },
	};
	sqlite3_stmt *s;
	size_t i;
	__s64 v;
	int err;

	for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		err = query_int(st, q[i].sql, &v);
		if (err)
			return err;
		*(__u64 *)((char *)m + q[i].off) = v;
	}
	/* dbstat is optional in SQLite builds: without it the figure stays 0 */
	if (sqlite3_prepare_v2(st->db, "SELECT (SELECT sum(pgsize) FROM dbstat WHERE name = 'samples'),"
			       " (SELECT sum(pgsize) FROM dbstat WHERE name = 'packed')", -1,
			       &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW) {
			m->sample_table_bytes = sqlite3_column_int64(s, 0);
			m->packed_table_bytes = sqlite3_column_int64(s, 1);
		}
		sqlite3_finalize(s);
	}
	return 0;
}

static int zstd_size(const void *data, size_t len, void *buf, size_t cap, __u64 *sum)
{
	size_t n = ZSTD_compress(buf, cap, data, len, 3);

	if (ZSTD_isError(n)) {
		pr_warn("zstd: %s", ZSTD_getErrorName(n));
		return -EIO;
	}
	*sum += n;
	return 0;
}

static int measure_stacks(struct sqlite_store *st, struct store_measure *m)
{
	void *buf = NULL;
	size_t cap = 0, len, need;
	sqlite3_stmt *s;
	int rc, err;

	err = store_err(st, sqlite3_prepare_v2(st->db, "SELECT frames FROM stacks", -1, &s, NULL),
			"cannot read stacks");
	while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		len = sqlite3_column_bytes(s, 0);
		need = ZSTD_compressBound(len);
		if (need > cap) {
			void *n = realloc(buf, need);

			if (!n) {
				err = -ENOMEM;
				break;
			}
			buf = n;
			cap = need;
		}
		m->stack_blob_bytes += len;
		err = zstd_size(sqlite3_column_blob(s, 0), len, buf, cap, &m->stack_blob_zstd);
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read stacks");
	sqlite3_finalize(s);
	free(buf);
	return err;
}

static int flush_bucket(struct strbuf *pack, struct store_measure *m, struct strbuf *tmp)
{
	size_t need = ZSTD_compressBound(pack->len);
	int err;

	if (!pack->len)
		return 0;
	if (tmp->alloc < need && (err = strbuf__grow(tmp, need)))
		return err;
	m->bucket_packed_bytes += pack->len;
	err = zstd_size(pack->buf, pack->len, tmp->buf, tmp->alloc, &m->bucket_packed_zstd);
	strbuf__setlen(pack, 0);
	return err;
}

/*
 * Pack each bucket's rows as (process delta, stack or stack delta within a
 * process, count) varints, as sqlite__compact() encodes them.
 */
static int measure_buckets(struct sqlite_store *st, struct store_measure *m)
{
	struct strbuf pack = STRBUF_INIT, tmp = STRBUF_INIT;
	__s64 ts = 0, prev_proc = 0, prev_stack = 0;
	unsigned char v[30];
	sqlite3_stmt *s;
	size_t n;
	int rc, err;

	err = store_err(st, sqlite3_prepare_v2(st->db,
		"SELECT ts, process_id, stack_id, count FROM samples ORDER BY ts, process_id, stack_id",
		-1, &s, NULL), "cannot read samples");
	while (!err && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		__s64 t = sqlite3_column_int64(s, 0), proc = sqlite3_column_int64(s, 1);
		__s64 stack = sqlite3_column_int64(s, 2);

		if (t != ts) {
			err = flush_bucket(&pack, m, &tmp);
			ts = t;
			prev_proc = 0;
		}
		n = varint_put(v, proc - prev_proc);
		n += varint_put(v + n, proc == prev_proc ? stack - prev_stack : stack);
		n += varint_put(v + n, sqlite3_column_int64(s, 3));
		prev_proc = proc;
		prev_stack = stack;
		err = err ?: strbuf__add(&pack, v, n);
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read samples");
	err = err ?: flush_bucket(&pack, m, &tmp);
	sqlite3_finalize(s);
	strbuf__release(&pack);
	strbuf__release(&tmp);
	return err;
}

int sqlite__measure(struct sqlite_store *st, struct store_measure *m)
{
	int err;

	memset(m, 0, sizeof(*m));
	err = sqlite__used_bytes(st, &m->used_bytes);
	err = err ?: store_exec(st, "BEGIN");
	if (err)
		return err;
	err = measure_counts(st, m);
	err = err ?: measure_stacks(st, m);
	err = err ?: measure_buckets(st, m);
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
	return err;
}

/* ---- batches back, for shipping ---- */

/* Row ids of one bucket's processes, stacks and frames -> their place in the batch. */
struct batch_reader {
	struct sqlite_store *st;
	sqlite3_stmt *proc, *stack, *frame;
	struct strset *strs;
	struct hashmap pidx, sidx, fidx;	/* row id -> index + 1 in this bucket */
	struct store_process *procs;
	struct store_stack *stacks;
	struct store_frame *frames;
	struct store_count *counts;
	__u32 *frame_refs;	/* the stacks' frames, back to back */
	size_t nr_procs, nr_stacks, nr_frames, nr_counts, nr_refs;
	size_t cap_procs, cap_stacks, cap_frames, cap_counts, cap_frame_refs;
	int err;
};

static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	size_t cap2;
	void *q;

	if (need <= *cap)
		return p;
	cap2 = *cap ? *cap * 2 : 64;
	while (cap2 < need)
		cap2 *= 2;
	q = reallocarray(p, cap2, size);
	if (q)
		*cap = cap2;
	return q;
}

#define GROW(r, what, need)                                                           \
	({                                                                            \
		void *__q = grow((r)->what, &(r)->cap_##what, (need), sizeof(*(r)->what)); \
		if (__q)                                                              \
			(r)->what = __q;                                              \
		__q ? 0 : -ENOMEM;                                                    \
	})

static const char *intern_col(struct batch_reader *r, sqlite3_stmt *s, int col)
{
	const char *v = (const char *)sqlite3_column_text(s, col);
	int id;

	if (!v)
		return NULL;
	id = strset__add(r->strs, v, strlen(v));
	return id < 0 ? NULL : strset__str(r->strs, id);
}

static int batch_proc(struct batch_reader *r, __s64 id, __u32 *idx)
{
	struct store_process *p;
	uint64_t v;
	int rc;

	if (hashmap__get(&r->pidx, (uint64_t)id, &v)) {
		*idx = (__u32)v - 1;
		return 0;
	}
	if (GROW(r, procs, r->nr_procs + 1))
		return -ENOMEM;
	sqlite3_reset(r->proc);
	sqlite3_bind_int64(r->proc, 1, id);
	rc = sqlite3_step(r->proc);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -EBADMSG : store_err(r->st, rc, "cannot read a process");
	p = &r->procs[r->nr_procs];
	p->pid = sqlite3_column_int64(r->proc, 0);
	p->comm = intern_col(r, r->proc, 1) ?: "";
	p->exe_build_id = intern_col(r, r->proc, 2);
	p->start_time = sqlite3_column_int64(r->proc, 3);
	p->cgroup = intern_col(r, r->proc, 4);
	*idx = r->nr_procs++;
	return hashmap__set(&r->pidx, (uint64_t)id, *idx + 1);
}

static int batch_frame(struct batch_reader *r, __s64 id, __u32 *idx)
{
	struct store_frame *f;
	uint64_t v;
	int rc, flags;

	if (hashmap__get(&r->fidx, (uint64_t)id, &v)) {
		*idx = (__u32)v - 1;
		return 0;
	}
	if (GROW(r, frames, r->nr_frames + 1))
		return -ENOMEM;
	sqlite3_reset(r->frame);
	sqlite3_bind_int64(r->frame, 1, id);
	rc = sqlite3_step(r->frame);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			pr_warn("'%s': a stack refers to missing frame %lld", r->st->path,
				(long long)id);
		return rc == SQLITE_DONE ? -EBADMSG : store_err(r->st, rc, "cannot read a frame");
	}
	f = &r->frames[r->nr_frames];
	memset(f, 0, sizeof(*f));
	f->kernel = sqlite3_column_int(r->frame, FC_KERNEL);
	f->module = intern_col(r, r->frame, FC_MODULE);
	f->build_id = intern_col(r, r->frame, FC_BUILD_ID);
	f->addr = (__u64)sqlite3_column_int64(r->frame, FC_ADDR);
	f->depth = sqlite3_column_int(r->frame, FC_DEPTH);
	flags = sqlite3_column_int(r->frame, FC_FLAGS);
	f->inlined = flags & STORE_FRAME_INLINED;
	f->jit = flags & STORE_FRAME_JIT;
	f->python = flags & STORE_FRAME_PYTHON;
	f->name = intern_col(r, r->frame, FC_NAME);
	f->file = intern_col(r, r->frame, FC_FILE);
	f->line = sqlite3_column_int(r->frame, FC_LINE);
	f->start_line = sqlite3_column_int(r->frame, FC_START_LINE);
	*idx = r->nr_frames++;
	return hashmap__set(&r->fidx, (uint64_t)id, *idx + 1);
}

static int batch_stack(struct batch_reader *r, __s64 id, __u32 *idx)
{
	const unsigned char *blob;
	size_t len, pos = 0, used, start;
	uint64_t v;
	__u64 frame;
	__u32 fi = 0;
	int rc, err = 0;

	if (hashmap__get(&r->sidx, (uint64_t)id, &v)) {
		*idx = (__u32)v - 1;
		return 0;
	}
	if (GROW(r, stacks, r->nr_stacks + 1))
		return -ENOMEM;
	sqlite3_reset(r->stack);
	sqlite3_bind_int64(r->stack, 1, id);
	rc = sqlite3_step(r->stack);
	if (rc != SQLITE_ROW)
		return rc == SQLITE_DONE ? -EBADMSG : store_err(r->st, rc, "cannot read a stack");
	blob = sqlite3_column_blob(r->stack, 0);
	len = sqlite3_column_bytes(r->stack, 0);
	/* the frame lookups reset nothing of this row: copy it first */
	unsigned char *copy = malloc(len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, blob, len);
	start = r->nr_refs;
	while (!err && pos < len) {
		used = varint_get(copy + pos, len - pos, &frame);
		if (!used) {
			pr_warn("'%s': stack %lld is corrupt", r->st->path, (long long)id);
			err = -EBADMSG;
			break;
		}
		pos += used;
		err = batch_frame(r, (__s64)frame, &fi);
		err = err ?: GROW(r, frame_refs, r->nr_refs + 1);
		if (!err)
			r->frame_refs[r->nr_refs++] = fi;
	}
	free(copy);
	if (err)
		return err;
	/* pointers into frame_refs are set once the bucket is read: it may move */
	r->stacks[r->nr_stacks].frames = (const __u32 *)(uintptr_t)start;
	r->stacks[r->nr_stacks].nr = (__u32)(r->nr_refs - start);
	*idx = r->nr_stacks++;
	return hashmap__set(&r->sidx, (uint64_t)id, *idx + 1);
}

static int batch_emit(struct batch_reader *r, __s64 run_id, store_batch_fn fn, void *ctx)
{
	struct store_batch b = {
		.run_id = run_id, .frames = r->frames, .nr_frames = r->nr_frames,
		.stacks = r->stacks, .nr_stacks = r->nr_stacks, .processes = r->procs,
		.nr_processes = r->nr_procs, .counts = r->counts, .nr_counts = r->nr_counts,
	};
	size_t i;
	int err;

	for (i = 0; i < r->nr_stacks; i++)
		r->stacks[i].frames = r->frame_refs + (uintptr_t)r->stacks[i].frames;
	err = r->nr_counts ? fn(ctx, &b) : 0;
	hashmap__release(&r->pidx);
	hashmap__release(&r->sidx);
	hashmap__release(&r->fidx);
	r->nr_procs = r->nr_stacks = r->nr_frames = r->nr_counts = r->nr_refs = 0;
	return err;
}

int sqlite__read_batches(struct sqlite_store *st, const struct store_selector *sel,
			 __s64 after_ts, __s64 before_ts, store_batch_fn fn, void *ctx)
{
	struct batch_reader r = { .st = st };
	sqlite3_stmt *q = NULL;
	__s64 bucket = 0;
	int rc = SQLITE_DONE, err;

	r.strs = strset__new();
	err = r.strs ? 0 : -ENOMEM;
	err = err ?: store_err(st, sqlite3_prepare_v2(st->db,
		"SELECT s.ts, s.process_id, s.stack_id, sum(s.count) FROM " STORE_ALL_SAMPLES " s"
		" JOIN processes p ON p.id = s.process_id WHERE p.run_id = ?1 AND s.ts > ?2"
		" AND (?3 = 0 OR s.ts < ?3) GROUP BY s.ts, s.process_id, s.stack_id ORDER BY s.ts",
		-1, &q, NULL), "cannot read samples");
	err = err ?: store_err(st, sqlite3_prepare_v2(st->db,
		"SELECT pid, comm, exe_build_id, start_time, cgroup FROM processes WHERE id = ?1",
		-1, &r.proc, NULL), "cannot read processes");
	err = err ?: store_err(st, sqlite3_prepare_v2(st->db,
		"SELECT frames FROM stacks WHERE id = ?1", -1, &r.stack, NULL),
		"cannot read stacks");
	err = err ?: store_err(st, sqlite3_prepare_v2(st->db, FRAME_SQL, -1, &r.frame, NULL),
			       "cannot read frames");
	err = err ?: store_exec(st, "BEGIN");
	if (err)
		goto out;
	err = store_unpack(st, after_ts + 1, before_ts);
	if (!err) {
		sqlite3_bind_int64(q, 1, sel->run_id);
		sqlite3_bind_int64(q, 2, after_ts);
		sqlite3_bind_int64(q, 3, before_ts);
	}
	while (!err && (rc = sqlite3_step(q)) == SQLITE_ROW) {
		__s64 ts = sqlite3_column_int64(q, 0);
		__u32 pi = 0, si = 0;

		if (ts != bucket && r.nr_counts)
			err = batch_emit(&r, sel->run_id, fn, ctx);
		bucket = ts;
		err = err ?: batch_proc(&r, sqlite3_column_int64(q, 1), &pi);
		err = err ?: batch_stack(&r, sqlite3_column_int64(q, 2), &si);
		err = err ?: GROW(&r, counts, r.nr_counts + 1);
		if (!err)
			r.counts[r.nr_counts++] = (struct store_count){
				.ts = ts, .process = pi, .stack = si,
				.count = (__u64)sqlite3_column_int64(q, 3),
			};
	}
	if (!err && rc != SQLITE_DONE)
		err = store_err(st, rc, "cannot read samples");
	if (!err && r.nr_counts)
		err = batch_emit(&r, sel->run_id, fn, ctx);
	sqlite3_finalize(q);
	q = NULL;
	sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
out:
	sqlite3_finalize(q);
	sqlite3_finalize(r.proc);
	sqlite3_finalize(r.stack);
	sqlite3_finalize(r.frame);
	hashmap__release(&r.pidx);
	hashmap__release(&r.sidx);
	hashmap__release(&r.fidx);
	free(r.procs);
	free(r.stacks);
	free(r.frames);
	free(r.counts);
	free(r.frame_refs);
	strset__free(r.strs);
	return err;
}
