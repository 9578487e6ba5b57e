// SPDX-License-Identifier: GPL-2.0
/*
 * The SQLite backend behind the store's seam: a batch written in one
 * transaction through the item-level interning of store.c, with the row ids
 * of frames, stacks and processes cached by content hash for one epoch (a
 * rollback or a garbage collection starts a new one), and the table of
 * operations store__open() picks for a path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_internal.h"
#include "common/log.h"

/*
 * Row ids cached at most, frames, stacks, processes and names together: an
 * agent on a build host meets new addresses for as long as it runs. Past
 * that the caches start over; the rows are found again in the tables.
 */
#define STORE_CACHED_IDS (1u << 15)

void sqlite__drop_stale_caches(struct sqlite_store *st)
{
	if (st->cache_epoch == st->epoch &&
	    st->frame_ids.count + st->stack_ids.count + st->proc_ids.count + st->func_ids.count +
	    st->file_ids.count <= STORE_CACHED_IDS)
		return;
	hashmap__release(&st->frame_ids);
	hashmap__release(&st->stack_ids);
	hashmap__release(&st->proc_ids);
	hashmap__release(&st->map_ids);
	hashmap__release(&st->func_ids);
	hashmap__release(&st->file_ids);
	st->cache_epoch = st->epoch;
}

static int cached(struct hashmap *map, __s64 hash, __s64 *id)
{
	uint64_t v;

	if (!hashmap__get(map, (uint64_t)hash, &v))
		return 0;
	*id = (__s64)v;
	return 1;
}

static int write_batch(struct sqlite_store *st, const struct store_batch *b, __s64 *fids,
		       __s64 *fhash, __s64 *sids, __s64 *pids, __s64 *tmp)
{
	size_t i;
	__u32 j;
	int err = 0;

	for (i = 0; !err && i < b->nr_frames; i++) {
		fhash[i] = store_frame_hash_v1(&b->frames[i]);
		if (cached(&st->frame_ids, fhash[i], &fids[i]))
			continue;
		err = sqlite__frame_id(st, &b->frames[i], &fids[i]);
		err = err ?: hashmap__set(&st->frame_ids, (uint64_t)fhash[i], (uint64_t)fids[i]);
	}
	for (i = 0; !err && i < b->nr_stacks; i++) {
		const struct store_stack *s = &b->stacks[i];
		__s64 h;

		for (j = 0; j < s->nr; j++) {
			if (s->frames[j] >= b->nr_frames) {
				pr_warn("a stack refers to frame %u of a batch of %zu", s->frames[j],
					b->nr_frames);
				return -EINVAL;
			}
			tmp[j] = fhash[s->frames[j]];
		}
		h = store_stack_hash_v1(tmp, s->nr);
		if (cached(&st->stack_ids, h, &sids[i]))
			continue;
		for (j = 0; j < s->nr; j++)
			tmp[j] = fids[s->frames[j]];
		err = sqlite__stack_id(st, tmp, (int)s->nr, &sids[i]);
		err = err ?: hashmap__set(&st->stack_ids, (uint64_t)h, (uint64_t)sids[i]);
	}
	for (i = 0; !err && i < b->nr_processes; i++) {
		__s64 h = store_process_hash_v1(b->run_id, &b->processes[i]);

		if (cached(&st->proc_ids, h, &pids[i]))
			continue;
		err = sqlite__process_id(st, b->run_id, &b->processes[i], &pids[i]);
		err = err ?: hashmap__set(&st->proc_ids, (uint64_t)h, (uint64_t)pids[i]);
	}
	for (i = 0; !err && i < b->nr_counts; i++) {
		const struct store_count *c = &b->counts[i];

		if (c->process >= b->nr_processes || c->stack >= b->nr_stacks) {
			pr_warn("a sample count refers to process %u, stack %u of a batch of %zu, %zu",
				c->process, c->stack, b->nr_processes, b->nr_stacks);
			return -EINVAL;
		}
		err = sqlite__add_samples(st, c->ts, pids[c->process], sids[c->stack], c->count);
	}
	if (!err && b->health)
		err = sqlite__put_health(st, b->run_id, b->health);
	return err;
}

int sqlite__write_batch(struct sqlite_store *st, const struct store_batch *b)
{
	__s64 *fids, *fhash, *sids, *pids, *tmp;
	size_t i, max = 0;
	int err;

	for (i = 0; i < b->nr_stacks; i++)
		if (b->stacks[i].nr > max)
			max = b->stacks[i].nr;
	fids = calloc(b->nr_frames + 1, sizeof(*fids));
	fhash = calloc(b->nr_frames + 1, sizeof(*fhash));
	sids = calloc(b->nr_stacks + 1, sizeof(*sids));
	pids = calloc(b->nr_processes + 1, sizeof(*pids));
	tmp = calloc(max + 1, sizeof(*tmp));
	err = fids && fhash && sids && pids && tmp ? 0 : -ENOMEM;
	if (!err)
		sqlite__drop_stale_caches(st);
	err = err ?: sqlite__begin(st);
	if (!err) {
		err = write_batch(st, b, fids, fhash, sids, pids, tmp);
		if (err)
			sqlite__rollback(st);
		else
			err = sqlite__commit(st);
		/* ids cached in a transaction that did not commit are gone (a new epoch) */
		if (err)
			sqlite__drop_stale_caches(st);
	}
	free(fids);
	free(fhash);
	free(sids);
	free(pids);
	free(tmp);
	return err;
}

/* ---- the table of operations ---- */

static void op_free(struct store *st)
{
	sqlite__free(sq(st));
}

static int op_schema_version(struct store *st)
{
	return sqlite__schema_version(sq(st));
}

static int op_add_run(struct store *st, const struct store_run *run, __s64 *run_id)
{
	return sqlite__add_run(sq(st), run, run_id);
}

static int op_end_run(struct store *st, __s64 run_id, __s64 end_ms)
{
	return sqlite__end_run(sq(st), run_id, end_ms);
}

static int op_write_batch(struct store *st, const struct store_batch *b)
{
	return sqlite__write_batch(sq(st), b);
}

static int op_put_health(struct store *st, __s64 run_id, const struct store_health *h)
{
	return sqlite__put_health(sq(st), run_id, h);
}

static int op_expire(struct store *st, __s64 before, __u64 *deleted)
{
	return sqlite__expire(sq(st), before, deleted);
}

static int op_enforce_size(struct store *st, __u64 max_bytes, __u64 *deleted)
{
	return sqlite__enforce_size(sq(st), max_bytes, deleted);
}

static int op_compact(struct store *st, __s64 before, int max_buckets, __u64 *packed)
{
	return sqlite__compact(sq(st), before, max_buckets, packed);
}

static int op_used_bytes(struct store *st, __u64 *bytes)
{
	return sqlite__used_bytes(sq(st), bytes);
}

static int op_file_bytes(struct store *st, __u64 *bytes)
{
	return sqlite__file_bytes(sq(st), bytes);
}

static int op_query_samples(struct store *st, const struct store_selector *sel,
			    store_sample_fn fn, void *ctx)
{
	return sqlite__query_samples(sq(st), sel, fn, ctx);
}

static int op_query_stacks(struct store *st, const struct store_selector *sel, store_stack_fn fn,
			   void *ctx)
{
	return sqlite__query_stacks(sq(st), sel, fn, ctx);
}

static int op_query_timeline(struct store *st, const struct store_selector *sel, __s64 step,
			     store_timeline_fn fn, void *ctx)
{
	return sqlite__query_timeline(sq(st), sel, step, fn, ctx);
}

static int op_query_builds(struct store *st, const struct store_selector *sel, store_build_fn fn,
			   void *ctx)
{
	return sqlite__query_builds(sq(st), sel, fn, ctx);
}

static int op_read_batches(struct store *st, const struct store_selector *sel, __s64 after_ts,
			   __s64 before_ts, store_batch_fn fn, void *ctx)
{
	return sqlite__read_batches(sq(st), sel, after_ts, before_ts, fn, ctx);
}

static int op_list_runs(struct store *st, const struct store_selector *sel, store_run_fn fn,
			void *ctx)
{
	return sqlite__list_runs(sq(st), sel, fn, ctx);
}

static int op_last_run(struct store *st, __s64 *run_id)
{
	return sqlite__last_run(sq(st), run_id);
}

static int op_measure(struct store *st, struct store_measure *m)
{
	return sqlite__measure(sq(st), m);
}

const struct store_ops sqlite_ops = {
	.name = "sqlite",
	.free = op_free,
	.schema_version = op_schema_version,
	.add_run = op_add_run,
	.end_run = op_end_run,
	.write_batch = op_write_batch,
	.put_health = op_put_health,
	.expire = op_expire,
	.enforce_size = op_enforce_size,
	.compact = op_compact,
	.used_bytes = op_used_bytes,
	.file_bytes = op_file_bytes,
	.query_stacks = op_query_stacks,
	.query_samples = op_query_samples,
	.query_timeline = op_query_timeline,
	.query_builds = op_query_builds,
	.read_batches = op_read_batches,
	.list_runs = op_list_runs,
	.last_run = op_last_run,
	.measure = op_measure,
};

struct store *sqlite_store__open(const char *path, const struct store_opts *opts)
{
	struct sqlite_store *st = sqlite__open(path, opts);

	return st ? &st->base : NULL;
}
