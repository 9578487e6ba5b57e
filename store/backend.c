// SPDX-License-Identifier: GPL-2.0
/*
 * The backend-neutral store: the --db string picks a backend at open, every
 * store__ call goes through its table of operations, and the content hashes
 * both backends compute on the host (frozen: see store_backend.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "store_backend.h"
#include "common/strbuf.h"
#include "common/log.h"

/* ---- choosing a backend ---- */

char *store__default_path(void)
{
	const char *env = getenv("PROFILE_DB"), *home;
	struct strbuf sb = STRBUF_INIT;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/profile/profile.db");
	home = getenv("HOME");
	if (strbuf__addf(&sb, "%s/.local/share/profile/profile.db", home && *home ? home : "."))
		return NULL;
	return sb.buf;
}

bool store_is_postgres(const char *db)
{
	const char *eq;

	if (!strncmp(db, "postgresql://", 13) || !strncmp(db, "postgres://", 11))
		return true;
	/* a libpq conninfo string: "keyword=value ..." whose first word has no '/' */
	eq = strchr(db, '=');
	return eq && eq > db && !memchr(db, '/', eq - db) && !memchr(db, ' ', eq - db);
}

struct store *store__open(const char *db, const struct store_opts *opts)
{
	if (!db || !*db) {
		pr_warn("no database given");
		errno = EINVAL;
		return NULL;
	}
	return store_is_postgres(db) ? pg_store__open(db, opts) : sqlite_store__open(db, opts);
}

void store__free(struct store *st)
{
	if (st)
		st->ops->free(st);
}

const char *store__path(const struct store *st)
{
	return st->name;
}

const char *store__backend(const struct store *st)
{
	return st->ops->name;
}

static int unsupported(struct store *st, const char *what)
{
	pr_warn("'%s': %s is not supported by the %s store", st->name, what, st->ops->name);
	return -EOPNOTSUPP;
}

#define CALL(op, what, ...) (st->ops->op ? st->ops->op(st, __VA_ARGS__) : unsupported(st, what))

int store__schema_version(struct store *st)
{
	return st->ops->schema_version(st);
}

int store__add_run(struct store *st, const struct store_run *run, __s64 *run_id)
{
	return CALL(add_run, "adding a run", run, run_id);
}

int store__end_run(struct store *st, __s64 run_id, __s64 end_ms)
{
	return CALL(end_run, "ending a run", run_id, end_ms);
}

int store__write_batch(struct store *st, const struct store_batch *b)
{
	return CALL(write_batch, "writing samples", b);
}

int store__put_health(struct store *st, __s64 run_id, const struct store_health *h)
{
	return CALL(put_health, "the agent's health", run_id, h);
}

int store__shipped_until(struct store *st, __s64 run_id, __s64 *ts)
{
	return CALL(shipped_until, "shipping", run_id, ts);
}

int store__expire(struct store *st, __s64 before, __u64 *deleted)
{
	return CALL(expire, "retention", before, deleted);
}

int store__enforce_size(struct store *st, __u64 max_bytes, __u64 *deleted)
{
	return CALL(enforce_size, "a size cap", max_bytes, deleted);
}

int store__compact(struct store *st, __s64 before, int max_buckets, __u64 *packed)
{
	return CALL(compact, "compaction", before, max_buckets, packed);
}

int store__used_bytes(struct store *st, __u64 *bytes)
{
	return CALL(used_bytes, "measuring the size", bytes);
}

int store__file_bytes(struct store *st, __u64 *bytes)
{
	return CALL(file_bytes, "measuring the file", bytes);
}

int store__query_stacks(struct store *st, const struct store_selector *sel, store_stack_fn fn,
			void *ctx)
{
	return CALL(query_stacks, "querying stacks", sel, fn, ctx);
}

int store__query_samples(struct store *st, const struct store_selector *sel, store_sample_fn fn,
			 void *ctx)
{
	return CALL(query_samples, "querying samples", sel, fn, ctx);
}

int store__query_timeline(struct store *st, const struct store_selector *sel, __s64 step,
			  store_timeline_fn fn, void *ctx)
{
	return CALL(query_timeline, "a timeline", sel, step, fn, ctx);
}

int store__query_builds(struct store *st, const struct store_selector *sel, store_build_fn fn,
			void *ctx)
{
	return CALL(query_builds, "listing builds", sel, fn, ctx);
}

int store__read_batches(struct store *st, const struct store_selector *sel, __s64 after_ts,
			__s64 before_ts, store_batch_fn fn, void *ctx)
{
	return CALL(read_batches, "reading batches", sel, after_ts, before_ts, fn, ctx);
}

int store__list_runs(struct store *st, const struct store_selector *sel, store_run_fn fn,
		     void *ctx)
{
	return CALL(list_runs, "listing runs", sel, fn, ctx);
}

int store__last_run(struct store *st, __s64 *run_id)
{
	return CALL(last_run, "finding the last run", run_id);
}

int store__measure(struct store *st, struct store_measure *m)
{
	return CALL(measure, "measuring", m);
}

/* ---- content hashes, version 1 (frozen) ---- */

static void put_le(struct strbuf *sb, __u64 v, int bytes)
{
	int i;

	for (i = 0; i < bytes; i++)
		strbuf__addch(sb, (char)(v >> (8 * i)));
}

static void put_str(struct strbuf *sb, const char *s)
{
	strbuf__add(sb, s ? s : "", (s ? strlen(s) : 0) + 1);
	if (!s)
		sb->buf[sb->len - 1] = '\0';
}

static __s64 digest(struct strbuf *sb)
{
	__s64 h = sb->buf ? (__s64)XXH3_64bits(sb->buf, sb->len) : 0;

	strbuf__release(sb);
	return h;
}

/*
 * "F1", kernel (1 byte), flags (1 byte: 1 inlined, 2 jit, 4 python), depth (4 bytes LE),
 * addr (8 bytes LE), build id, module, then 1 and the name or 0 alone when
 * unnamed; strings NUL-terminated, NULL read as "".
 */
__s64 store_frame_hash_v1(const struct store_frame *f)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf__add(&sb, "F1", 2);
	put_le(&sb, f->kernel, 1);
	put_le(&sb, (f->inlined ? 1 : 0) | (f->jit ? 2 : 0) | (f->python ? 4 : 0), 1);
	put_le(&sb, (__u32)f->depth, 4);
	put_le(&sb, f->addr, 8);
	put_str(&sb, f->build_id);
	put_str(&sb, f->module);
	put_le(&sb, f->name ? 1 : 0, 1);
	if (f->name)
		put_str(&sb, f->name);
	return digest(&sb);
}

/* "S1", then each frame hash (8 bytes LE), root first */
__s64 store_stack_hash_v1(const __s64 *frames, __u32 nr)
{
	struct strbuf sb = STRBUF_INIT;
	__u32 i;

	strbuf__add(&sb, "S1", 2);
	for (i = 0; i < nr; i++)
		put_le(&sb, (__u64)frames[i], 8);
	return digest(&sb);
}

/* "P1", run id (8 bytes LE), pid (4), start time (8), comm */
__s64 store_process_hash_v1(__s64 run_id, const struct store_process *p)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf__add(&sb, "P1", 2);
	put_le(&sb, (__u64)run_id, 8);
	put_le(&sb, p->pid, 4);
	put_le(&sb, (__u64)p->start_time, 8);
	put_str(&sb, p->comm);
	return digest(&sb);
}
