/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shipping a host's local store to the fleet's central one: `profile push`
 * once, and the agent's pusher thread after every flush. The local database
 * is the buffer: what could not be shipped stays there and goes with the
 * next attempt. Shipping is idempotent: each bucket of a run is written to
 * the central store whole, at most once, in the same transaction as its
 * mark (store_batch.ship), and the next attempt resumes after the newest
 * mark. A bucket still being filled is not shipped: only buckets before
 * @before_ts of a live run, every bucket of one that ended or went quiet.
 */
#ifndef __PROFILER_PUSH_H
#define __PROFILER_PUSH_H

#include "store/store.h"

struct push_stats {
	__u64 runs, buckets, samples;
};

/*
 * Ship the runs of @local that @sel selects to @central. Run @live_run (0:
 * none) is the caller's own, still sampling: only its buckets before
 * @live_before (unix seconds) go. Returns 0 or the first -errno (what was
 * shipped before it stays shipped); *@st (may be NULL) adds what was shipped.
 */
int push__runs(struct store *local, struct store *central, const struct store_selector *sel,
	       __s64 live_run, __s64 live_before, struct push_stats *st);

struct pusher;

/*
 * A thread shipping local database @local_db (read-only) to @to after each
 * pusher__kick(); when the central store fails, it logs once, keeps
 * retrying with backoff (1 s doubling to @max_backoff seconds) and logs again
 * when shipping resumes. NULL with errno set on failure.
 */
struct pusher *pusher__start(const char *local_db, const char *to, double max_backoff);
/* The agent flushed: its run @run_id has whole buckets before @before (unix seconds). */
void pusher__kick(struct pusher *p, __s64 run_id, __s64 before);
/*
 * The run ended: one last attempt at everything, waiting at most @timeout
 * seconds, then the thread is stopped and freed. Returns that attempt's
 * result (what it could not ship stays in the local database).
 */
int pusher__stop(struct pusher *p, double timeout);

#endif /* __PROFILER_PUSH_H */
