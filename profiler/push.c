// SPDX-License-Identifier: GPL-2.0
/*
 * Shipping runs from a host's SQLite store to the central one (push.h): runs
 * found again by their source (host, start, local id), buckets read back as
 * batches and written with their marks, health and end copied over; and the
 * agent's pusher thread with its backoff.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "push.h"
#include "common/clock.h"
#include "common/strbuf.h"
#include "common/log.h"

/* A run that has not had a sample for this long is not being written any more. */
#define QUIET_SECS 120

struct run_copy {
	struct store_run_info info;
	char *kind, *host, *cmdline;
	char **labels;		/* one by one: a value may hold a comma */
};

struct run_list {
	struct run_copy *v;
	size_t nr, cap;
};

static int collect_run(void *ctx, const struct store_run_info *ri)
{
	struct run_list *l = ctx;
	struct run_copy *c;
	int i;

	if (l->nr == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		c = reallocarray(l->v, cap, sizeof(*c));
		if (!c)
			return -ENOMEM;
		l->v = c;
		l->cap = cap;
	}
	c = &l->v[l->nr];
	c->info = *ri;
	c->kind = strdup(ri->kind);
	c->host = strdup(ri->host);
	c->cmdline = strdup(ri->cmdline);
	c->labels = calloc(ri->nr_labels + 1, sizeof(*c->labels));
	l->nr++;
	if (!c->kind || !c->host || !c->cmdline || !c->labels)
		return -ENOMEM;
	for (i = 0; i < ri->nr_labels; i++) {
		c->labels[i] = strdup(ri->label_list[i]);
		if (!c->labels[i])
			return -ENOMEM;
	}
	c->info.nr_labels = ri->nr_labels;
	/* borrowed for the call: not kept */
	c->info.labels = NULL;
	c->info.label_list = NULL;
	return 0;
}

static void run_list__release(struct run_list *l)
{
	size_t i;
	int j;

	for (i = 0; i < l->nr; i++) {
		free(l->v[i].kind);
		free(l->v[i].host);
		free(l->v[i].cmdline);
		for (j = 0; l->v[i].labels && j < l->v[i].info.nr_labels; j++)
			free(l->v[i].labels[j]);
		free(l->v[i].labels);
	}
	free(l->v);
}

struct ship_ctx {
	struct store *central;
	__s64 run_id;
	struct push_stats *st;
};

static int ship_batch(void *ctx, const struct store_batch *b)
{
	struct ship_ctx *c = ctx;
	struct store_batch out = *b;
	size_t i;
	int err;

	out.run_id = c->run_id;
	out.ship = true;
	err = store__write_batch(c->central, &out);
	if (err)
		return err;
	c->st->buckets++;
	for (i = 0; i < b->nr_counts; i++)
		c->st->samples += b->counts[i].count;
	return 0;
}

/* An agent's run whose agent is no longer there (killed): it gets no more samples. */
static bool agent_gone(const struct store_run_info *ri)
{
	return ri->has_health && ri->health.pid && kill((pid_t)ri->health.pid, 0) && errno == ESRCH;
}

static int push_run(struct store *local, struct store *central, const struct run_copy *r,
		    __s64 live_run, __s64 live_before, struct push_stats *st)
{
	struct store_selector sel = { .run_id = r->info.id };
	struct strbuf source = STRBUF_INIT;
	struct store_run run = {
		.kind = r->kind, .host = r->host, .cmdline = r->cmdline, .freq = r->info.freq,
		.start_ms = r->info.start_ms, .labels = (const char *const *)r->labels,
		.nr_labels = r->info.nr_labels,
	};
	struct ship_ctx c = { .central = central, .st = st };
	__s64 after = 0, before = 0;
	int err;

	/* the same local run is the same central run, however often it is pushed */
	err = strbuf__addf(&source, "%s/%lld/%lld", r->host, (long long)r->info.start_ms,
			   (long long)r->info.id);
	run.source = source.buf;
	err = err ?: store__add_run(central, &run, &c.run_id);
	err = err ?: store__shipped_until(central, c.run_id, &after);
	if (!err) {
		if (r->info.id == live_run)
			before = live_before;
		else if (!r->info.end_ms && r->info.last_ts > time(NULL) - QUIET_SECS &&
			 !agent_gone(&r->info))
			before = time(NULL) - QUIET_SECS;	/* someone else's live run */
		err = store__read_batches(local, &sel, after, before, ship_batch, &c);
	}
	if (!err && r->info.has_health)
		err = store__put_health(central, c.run_id, &r->info.health);
	if (!err && r->info.end_ms)
		err = store__end_run(central, c.run_id, r->info.end_ms);
	if (!err)
		st->runs++;
	strbuf__release(&source);
	return err;
}

int push__runs(struct store *local, struct store *central, const struct store_selector *sel,
	       __s64 live_run, __s64 live_before, struct push_stats *st)
{
	struct push_stats none;
	struct run_list l = {};
	size_t i;
	int err;

	if (!st)
		st = &none;
	err = store__list_runs(local, sel, collect_run, &l);
	for (i = 0; !err && i < l.nr; i++)
		err = push_run(local, central, &l.v[i], live_run, live_before, st);
	run_list__release(&l);
	return err;
}

/* ---- the agent's pusher thread ---- */

struct pusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *local_db, *to;
	double max_backoff;
	__s64 run_id, before;
	bool kicked, stopping, done;
	int last_err;
};

static int attempt(struct pusher *p, struct store **local, struct store **central, __s64 run_id,
		   __s64 before)
{
	const struct store_opts ro = { .quiet = true }, wo = { .create = true, .quiet = true };
	struct store_selector all = {};
	struct push_stats st = {};
	int err;

	if (!*local && !(*local = store__open(p->local_db, &ro)))
		return -errno;
	if (!*central && !(*central = store__open(p->to, &wo)))
		return -errno;
	err = push__runs(*local, *central, &all, run_id, before, &st);
	if (st.buckets)
		pr_debug("pushed %llu buckets (%llu samples) to '%s'",
			 (unsigned long long)st.buckets, (unsigned long long)st.samples,
			 store__path(*central));
	if (err) {
		/* a new connection at the next attempt */
		store__free(*central);
		*central = NULL;
		store__free(*local);
		*local = NULL;
	}
	return err;
}

static void *pusher_main(void *arg)
{
	struct pusher *p = arg;
	struct store *local = NULL, *central = NULL;
	double backoff = 1, next_try = 0;
	bool failing = false, last;
	__s64 run_id, before;
	struct timespec ts;
	int err;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stopping && (!p->kicked || wall_seconds() < next_try)) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			pthread_cond_timedwait(&p->cond, &p->lock, &ts);
		}
		last = p->stopping;
		run_id = p->run_id;
		before = last ? 0 : p->before;
		p->kicked = false;
		pthread_mutex_unlock(&p->lock);

		/* at the end, the caller's run has ended: all of it goes */
		err = attempt(p, &local, &central, run_id, before);
		if (err && !failing) {
			pr_warn("agent: cannot ship to '%s' (%s); the samples stay in '%s' and are"
				" shipped when it is back", p->to, strerror(-err), p->local_db);
			failing = true;
		} else if (!err && failing) {
			pr_info("agent: shipping to '%s' again; the backlog is shipped", p->to);
			failing = false;
		}
		if (err) {
			next_try = wall_seconds() + backoff;
			backoff = backoff * 2 > p->max_backoff ? p->max_backoff : backoff * 2;
		} else {
			backoff = 1;
			next_try = 0;
		}
		pthread_mutex_lock(&p->lock);
		if (last) {
			p->last_err = err;
			break;
		}
		/* retry a failure even without a new flush */
		if (err)
			p->kicked = true;
	}
	p->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	store__free(local);
	store__free(central);
	return NULL;
}

struct pusher *pusher__start(const char *local_db, const char *to, double max_backoff)
{
	struct pusher *p = calloc(1, sizeof(*p));
	int err;

	if (!p || !(p->local_db = strdup(local_db)) || !(p->to = strdup(to))) {
		if (p)
			free(p->local_db);
		free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->max_backoff = max_backoff > 1 ? max_backoff : 1;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	err = pthread_create(&p->thread, NULL, pusher_main, p);
	if (err) {
		free(p->local_db);
		free(p->to);
		free(p);
		errno = err;
		return NULL;
	}
	return p;
}

void pusher__kick(struct pusher *p, __s64 run_id, __s64 before)
{
	pthread_mutex_lock(&p->lock);
	p->run_id = run_id;
	p->before = before;
	p->kicked = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int pusher__stop(struct pusher *p, double timeout)
{
	struct timespec ts;
	int err = 0;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->cond);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)timeout;
	while (!p->done && !err)
		err = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	pthread_mutex_unlock(&p->lock);
	if (!p->done) {
		/* the server hangs: leave the thread to the exit; the local store has it all */
		pr_warn("agent: '%s' did not answer within %g s; what is not shipped stays local",
			p->to, timeout);
		pthread_detach(p->thread);
		return -ETIMEDOUT;
	}
	pthread_join(p->thread, NULL);
	err = p->last_err;
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->local_db);
	free(p->to);
	free(p);
	return err;
}
