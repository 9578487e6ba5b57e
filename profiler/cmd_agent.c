// SPDX-License-Identifier: GPL-2.0
/*
 * `profile agent`: always-on sampling into the store. The kernel maps are
 * drained every --interval (symbolizing as they are, with caches kept across
 * flushes); every --flush-interval the batch is written in one transaction,
 * with the agent's own health. A failed flush (database locked, disk full) is
 * reported and retried at the next one; the batch stays in memory meanwhile.
 * Retention and the size cap delete the oldest buckets. SIGTERM or SIGINT:
 * stop sampling, drain, flush, exit 0. A kill -9 loses at most the samples
 * since the last flush: every flush is a committed WAL transaction. With
 * --push URI, a thread ships every whole bucket to the central store after
 * each flush (push.h); the local database is its buffer during an outage.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cmds.h"
#include "collector.h"
#include "unwind_report.h"
#include "selector.h"
#include "ingest.h"
#include "push.h"
#include "store/store.h"
#include "symbolizer/symbolizer.h"
#include "common/clock.h"
#include "common/log.h"

struct agent_opts {
	long freq;
	double interval;	/* drain */
	double flush_interval;
	__s64 bucket_secs;
	__s64 retention;	/* seconds, 0 = forever */
	__u64 max_db_size;	/* bytes, 0 = no cap */
	__s64 compact_after;	/* pack buckets older than this, seconds; 0 = never */
	double stats_interval;	/* log a health line, 0 = never */
	const char *db_path;
	const char *push;	/* the central store, or NULL */
	const char *host;	/* the host name runs are stored under, or NULL */
	struct kv_args labels;
	bool include_idle;
	bool dwarf;		/* inline frames from DWARF (memory!) */
	bool full_names;	/* C++ names with parameter lists */
	bool no_python;		/* no CPython stack walk */
	bool python_eval;	/* keep the eval loop's frames under the Python ones */
	enum unwind_mode unwind;	/* user stacks: fp, dwarf or auto */
	__u64 dwarf_mem;	/* cap on DWARF indexes, bytes */
	__u64 unwind_mem;	/* unwind-table map, bytes; 0: the collector's default */
	int argc;
	char **argv;
};

struct agent {
	struct agent_opts *opts;
	struct symbolizer *syms;
	struct collector *coll;
	struct ingest *ingest;
	struct store_health health;
	struct pusher *pusher;
	double start, last_expire, last_stats;
	int failures_in_row;
	int maintenance_failures;
	bool damaged;	/* the store reported corruption: stop, never retry */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

const struct command_def agent_cmd = {
	.name = "agent",
	.summary = "sample continuously into the database (the always-on service)",
	.usage = "[options]",
	.description =
		"Sample every CPU continuously and write the samples to the store, bucketed\n"
		"in time, until SIGTERM or SIGINT (which flush and exit 0). A kill -9 loses at\n"
		"most the samples since the last flush.",
	.notes =
		"Sizes take a unit k, M or G (powers of 1024); times a unit s, m, h, d or w.",
	.max_args = 0,
};

/* A size in [opt->min, opt->max] bytes (0 is always allowed when min is 0). */
static int opt_size(const struct option_def *opt, const char *arg)
{
	__u64 v;

	if (parse_size(arg, &v) || v < opt->min || v > opt->max)
		return parse_options__bad(opt, arg, "give %.0fM to %.0fG, e.g. 500M or 2G",
					  opt->min / 1048576, opt->max / 1073741824);
	*(__u64 *)opt->value = v;
	return 0;
}

static int opt_unwind(const struct option_def *opt, const char *arg)
{
	return unwind_mode__parse(arg, opt->value) ? -EINVAL : 0;
}

#define OPT_SIZE(l, v, a, w, lo, hi, h) \
	{ .type = OPTION_CALLBACK, .long_name = (l), .value = (v), .argh = (a), .what = (w), \
	  .min = (lo), .max = (hi), .callback = opt_size, .help = (h) }

static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	double bucket = o->bucket_secs, retention = o->retention, compact = o->compact_after;
	const struct option_def opts[] = {
		OPT_LONG('F', "freq", &o->freq, "HZ", "frequency", 1, 100000,
			 "samples per second per CPU (default 99)"),
		OPT_SECONDS(0, "flush-interval", &o->flush_interval, "SEC", "flush interval", 0.1,
			    86400, "write to the database this often (default 10)"),
		OPT_SECONDS(0, "bucket", &bucket, "SEC", "bucket", 1, 86400,
			    "time bucket of the stored counts (default 10)"),
		OPT_SECONDS(0, "retention", &retention, "TIME", "retention", 0, 10 * OPT_MAX_SECONDS,
			    "drop buckets older than this: 7d, 12h (default 7d; 0: keep)"),
		OPT_SIZE("max-db-size", &o->max_db_size, "SIZE", "size", 0, 1ULL << 50,
			 "drop the oldest buckets beyond this: 500M, 2G (default 1G; 0: no cap)"),
		OPT_SECONDS(0, "compact-after", &compact, "TIME", "compaction age", 0,
			    10 * OPT_MAX_SECONDS,
			    "pack the sample rows of buckets older than this into one compressed blob each: 30m, 1h (default 1h; 0: never)"),
		OPT_KEY_VALUE(0, "label", &o->labels, "KEY=VALUE", "label",
			      "tag the run (repeatable)"),
		OPT_DB(&o->db_path, "database"),
		OPT_STRING(0, "push", &o->push, "URI",
			   "also ship every flushed bucket to this central store (postgresql://...)"),
		OPT_STRING(0, "host", &o->host, "NAME",
			   "store the run under host NAME (default: the host name)"),
		OPT_FLAG(0, "include-idle", &o->include_idle, "also record the idle task"),
		OPT_FLAG(0, "dwarf", &o->dwarf, "name inlined functions from DWARF (more memory)"),
		OPT_FLAG(0, "full-names", &o->full_names,
			 "C++ names with parameter lists (default: without, as perf shows them)"),
		OPT_SIZE("dwarf-mem", &o->dwarf_mem, "SIZE", "size", 1 << 20, 1ULL << 40,
			 "cap on the DWARF indexes kept with --dwarf (default 32M)"),
		OPT_CALLBACK(0, "unwind", &o->unwind, "METHOD", "unwind method", opt_unwind,
			     "user stacks: fp, dwarf (.eh_frame tables) or auto (tables, else frame pointers; default)"),
		OPT_FLAG(0, "no-python", &o->no_python,
			 "no CPython frames: Python code shows as the interpreter's C frames"),
		OPT_FLAG(0, "python-interpreter-frames", &o->python_eval,
			 "keep _PyEval_EvalFrameDefault under the Python frames it ran"),
		OPT_SIZE("unwind-mem", &o->unwind_mem, "SIZE", "unwind table size", 1 << 20,
			 32ULL << 30,
			 "kernel memory for unwind tables (default 32M, 16 bytes a row; libc takes 28k rows)"),
		OPT_SECONDS(0, "interval", &o->interval, "SEC", "interval", 0.01, 3600,
			    "how often the kernel maps are drained (default 5)"),
		OPT_SECONDS(0, "stats-interval", &o->stats_interval, "SEC", "stats interval", 0,
			    OPT_MAX_SECONDS,
			    "log the agent's health this often (default 300; 0: never); -v logs it at every flush"),
		OPT_END(),
	};
	int first, err;

	err = parse_options(&agent_cmd, opts, argc, argv, &first);
	if (err)
		return err;
	o->bucket_secs = (__s64)bucket;
	o->retention = (__s64)retention;
	o->compact_after = (__s64)compact;
	if (o->interval > o->flush_interval)
		o->interval = o->flush_interval;
	return 0;
}

/* ---- health ---- */

static void update_health(struct agent *a)
{
	struct store_health *h = &a->health;
	struct collector_stats cs;
	struct rusage ru;
	struct timespec ts;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->updated_ms = ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
	h->pid = getpid();
	if (!collector__stats(a->coll, &cs)) {
		struct ingest_stats is;
		__u64 drained;

		ingest__stats(a->ingest, &is);
		h->samples = cs.stat[STAT_SAMPLES];
		h->dropped = cs.unreadable;
		for (i = STAT_DROP_KSTACK_COLLISION; i <= STAT_DROP_OTHER; i++)
			h->dropped += cs.stat[i];
		h->collisions = cs.stat[STAT_DROP_KSTACK_COLLISION] +
				cs.stat[STAT_DROP_USTACK_COLLISION];
		h->idle = cs.stat[STAT_IDLE];
		h->filtered = cs.stat[STAT_FILTERED];
		/* recorded by the BPF program, not drained yet (the per-CPU sums race a little) */
		drained = is.samples + cs.unreadable;
		h->undrained = cs.stat[STAT_RECORDED] > drained ? cs.stat[STAT_RECORDED] - drained : 0;
	}
	if (!getrusage(RUSAGE_SELF, &ru)) {
		h->cpu_ms = ru.ru_utime.tv_sec * 1000ULL + ru.ru_utime.tv_usec / 1000 +
			    ru.ru_stime.tv_sec * 1000ULL + ru.ru_stime.tv_usec / 1000;
		h->rss_kb = ru.ru_maxrss;
	}
	store__file_bytes(ingest__store(a->ingest), &h->db_bytes);
}

/* how whole and how named user stacks are; dwarf/auto: what the tables hold */
static void log_unwind_health(struct agent *a)
{
	struct collector_stats cs;
	struct symbolizer_stats ss;
	struct ingest_stats is;

	ingest__stats(a->ingest, &is);
	symbolizer__stats(a->syms, &ss);
	pr_info("agent: user stacks %.2f%% complete (reached the root and named), %llu unnamed",
		is.user_stacks ? 100.0 * is.complete / is.user_stacks : 0.0,
		(unsigned long long)is.unnamed);
	if (collector__stats(a->coll, &cs) || !cs.unwind_max_rows)
		return;
	pr_info("agent: process events: %llu new (%llu named by file), %llu exec, %llu exit, %llu scan requests, %llu lost",
		(unsigned long long)cs.events[EVENT_NEW], (unsigned long long)cs.new_by_file,
		(unsigned long long)cs.events[EVENT_EXEC],
		(unsigned long long)cs.events[EVENT_EXIT], (unsigned long long)cs.events[EVENT_SCAN],
		(unsigned long long)cs.stat[STAT_EVENTS_LOST]);
	pr_info("agent: unwind tables: %llu binaries, %llu rows of %llu, %llu maps reads (%zu by the symbolizer), %llu derived in %llu ms of CPU, %llu restored from %llu kept bytes",
		(unsigned long long)cs.unwind_tables, (unsigned long long)cs.unwind_rows,
		(unsigned long long)cs.unwind_max_rows,
		(unsigned long long)cs.unwind_scans + ss.maps_reads, ss.maps_reads,
		(unsigned long long)cs.unwind_builds, (unsigned long long)cs.unwind_build_ms,
		(unsigned long long)cs.unwind_restores, (unsigned long long)cs.unwind_kept_bytes);
}

static void log_health(struct agent *a)
{
	const struct store_health *h = &a->health;
	struct ingest_stats ss;
	double secs = now_seconds() - a->start;

	ingest__stats(a->ingest, &ss);
	pr_info("agent: %llu samples taken: %llu stored, %llu pending, %llu idle, %llu of other "
		"processes, %llu dropped (%llu collisions), %llu lost, %llu not drained; "
		"cpu %.3f%% of one CPU, rss %.1f MB, db %.1f MB; %zu frames, %zu stacks cached "
		"(started over %llu times)",
		(unsigned long long)h->samples, (unsigned long long)ss.written,
		(unsigned long long)ss.pending, (unsigned long long)h->idle,
		(unsigned long long)h->filtered, (unsigned long long)h->dropped,
		(unsigned long long)h->collisions, (unsigned long long)ss.lost,
		(unsigned long long)h->undrained,
		secs > 0 ? h->cpu_ms / 10.0 / secs : 0.0, h->rss_kb / 1024.0,
		h->db_bytes / 1048576.0, ss.frames, ss.stacks,
		(unsigned long long)ss.start_overs);
	log_unwind_health(a);
}

/* ---- the loop ---- */

/* A damaged database is not retried like a locked or full one: the agent stops, once. */
static int stop_on_damage(struct agent *a)
{
	if (!a->damaged)
		pr_warn("agent: '%s' is damaged; stopping (move it aside and start again for a new one)",
			store__path(ingest__store(a->ingest)));
	a->damaged = true;
	return -EBADMSG;
}

static int maintain(struct agent *a)
{
	const struct agent_opts *o = a->opts;
	struct store *st = ingest__store(a->ingest);
	double check = o->retention / 10.0, now = now_seconds();
	__u64 n = 0;
	int err = 0;

	/* expiry rescans the samples to collect garbage: not at every flush */
	if (check > 3600)
		check = 3600;
	if (o->retention && now - a->last_expire >= check) {
		a->last_expire = now;
		err = store__expire(st, time(NULL) - o->retention, &n);
		if (!err && n)
			pr_debug("expired %llu sample rows older than %lld s", (unsigned long long)n,
				 (long long)o->retention);
	}
	n = 0;
	/* a bounded batch per flush keeps the drain loop responsive */
	if (!err && o->compact_after) {
		err = store__compact(st, time(NULL) - o->compact_after - o->bucket_secs, 64, &n);
		if (!err && n)
			pr_debug("packed %llu buckets", (unsigned long long)n);
	}
	n = 0;
	if (!err && o->max_db_size) {
		err = store__enforce_size(st, o->max_db_size, &n);
		if (!err && n)
			pr_info("size cap: deleted %llu of the oldest sample rows",
				(unsigned long long)n);
	}
	if (err == -EBADMSG)
		return stop_on_damage(a);
	if (err && a->maintenance_failures++ % 10 == 0)
		pr_warn("agent: cannot compact or apply retention or the size cap to '%s': %s;"
			" will retry",
			store__path(st), strerror(-err));
	return 0;
}

static int flush(struct agent *a)
{
	int err;

	if (a->damaged)
		return -EBADMSG;
	update_health(a);
	a->health.flushes++;
	ingest__forget_exited(a->ingest);
	err = ingest__flush(a->ingest, &a->health);
	if (err == -EBADMSG)
		return stop_on_damage(a);
	if (err) {
		a->health.flush_errors++;
		/* the first failure and then every tenth: a stuck database must not flood the log */
		if (a->failures_in_row++ % 10 == 0)
			pr_warn("agent: cannot write to '%s': %s; keeping the samples, will retry",
				store__path(ingest__store(a->ingest)), strerror(-err));
		return err;
	}
	if (a->failures_in_row)
		pr_info("agent: writing again after %d failed flushes", a->failures_in_row);
	a->failures_in_row = 0;
	/* what the batch, evicted tables and table builds freed: back to the kernel */
	malloc_trim(0);
	/*
	 * Whole buckets only: the last drain was at most an interval ago, and a
	 * drain never straddles a bucket boundary
	 */
	if (a->pusher)
		pusher__kick(a->pusher, ingest__run_id(a->ingest),
			     (__s64)(wall_seconds() - a->opts->interval) - a->opts->bucket_secs);
	if (maintain(a))
		return -EBADMSG;
	if (log_is_verbose() || (a->opts->stats_interval > 0 &&
				 now_seconds() - a->last_stats >= a->opts->stats_interval)) {
		a->last_stats = now_seconds();
		log_health(a);
	}
	return 0;
}

static int drain(struct agent *a)
{
	int err;

	ingest__begin_drain(a->ingest);
	err = collector__drain(a->coll, ingest__add, a->ingest);
	if (err)
		pr_warn("agent: draining samples failed: %s", strerror(-err));
	return err;
}

/* Handle process events for @secs, or until a signal. */
static void nap(struct agent *a, double secs)
{
	collector__poll_until(a->coll, now_seconds() + secs, &stop_requested,
			      ingest__proc_event, a->ingest);
}

/*
 * When to drain next (on the monotonic clock): at the next wall-clock
 * multiple of the drain interval or of the bucket, whichever comes first,
 * so that no drain window straddles a bucket boundary.
 */
static double next_drain_time(const struct agent_opts *o)
{
	double wall = wall_seconds(), tick, bucket;

	tick = (floor(wall / o->interval) + 1) * o->interval;
	bucket = (floor(wall / o->bucket_secs) + 1) * o->bucket_secs;
	if (bucket < tick)
		tick = bucket;
	/* a millisecond past the boundary: the timer may fire a little early */
	return now_seconds() + (tick - wall) + 0.001;
}

static int run(struct agent *a)
{
	const struct agent_opts *o = a->opts;
	double next_drain = next_drain_time(o), next_flush = now_seconds() + o->flush_interval;
	int err = 0;

	while (!stop_requested) {
		nap(a, (next_drain < next_flush ? next_drain : next_flush) - now_seconds());
		if (stop_requested)
			break;
		if (now_seconds() >= next_drain) {
			err = drain(a);
			if (err)
				break;
			next_drain = next_drain_time(o);
		}
		if (now_seconds() >= next_flush) {
			/* failures are retried at the next flush, but not damage */
			if (flush(a) == -EBADMSG) {
				err = -EBADMSG;
				break;
			}
			next_flush += o->flush_interval;
			if (next_flush < now_seconds())
				next_flush = now_seconds() + o->flush_interval;
		}
	}
	return err;
}

/* Stop sampling, empty both map sets, and write everything: retried while the store is busy or full. */
static int shut_down(struct agent *a)
{
	int err, i;

	err = collector__stop(a->coll);
	collector__poll(a->coll, 0, ingest__proc_event, a->ingest);
	err = err ?: drain(a);
	err = err ?: drain(a);
	for (i = 0; i < 10; i++) {
		int e = flush(a);

		if (!e || (e != -EBUSY && e != -ENOSPC)) {
			err = err ?: e;
			break;
		}
		sleep(1);
		if (i == 9)
			err = err ?: e;
	}
	log_health(a);
	return err;
}

static int setup(struct agent *a)
{
	const struct agent_opts *o = a->opts;
	struct collector_opts co = {
		.freq = o->freq, .include_idle = o->include_idle, .unwind = o->unwind,
		/* only processes that run get tables, built when first sampled */
		.unwind_rows = o->unwind_mem / sizeof(struct unwind_row),
		.drain_interval = o->interval, .no_python = o->no_python,
	};
	struct ingest_store_opts so = {
		.db_path = o->db_path, .kind = "agent", .freq = o->freq,
		.bucket_secs = o->bucket_secs, .argc = o->argc, .argv = o->argv,
		.labels = o->labels.v, .nr_labels = o->labels.nr, .quiet = true, .host = o->host,
		/* a locked database must not hold up draining: retry at the next flush */
		.busy_timeout_ms = 250,
	};
	struct symbolizer_opts sy = { .no_dwarf = !o->dwarf, .dwarf_mem_cap = o->dwarf_mem,
				      .full_names = o->full_names };
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	/*
	 * Before any thread: one malloc arena for the drain and the table
	 * builder, and blocks of 256 KiB and more mapped and given back when
	 * freed (glibc would raise that threshold after the first such free and
	 * keep the next ones in the heap, resident for good).
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	/* symbol tables by default: DWARF indexes would dominate the agent's memory */
	a->syms = symbolizer__new(&sy);
	if (!a->syms)
		return -errno;
	co.syms = a->syms;	/* one read of a process's mappings for both */
	a->coll = collector__new(&co);
	if (!a->coll)
		return -errno;
	a->ingest = ingest__new(a->syms, NULL, NULL);
	if (!a->ingest)
		return -errno;
	ingest__keep_interpreter_frames(a->ingest, o->python_eval);
	err = ingest__open_store(a->ingest, &so);
	if (err)
		return err;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	a->start = a->last_stats = now_seconds();
	a->last_expire = -1e9;
	if (maintain(a))
		return -EBADMSG;
	if (o->push) {
		a->pusher = pusher__start(store__path(ingest__store(a->ingest)), o->push, 60);
		if (!a->pusher)
			return -errno;
	}
	pr_info("agent: run %lld, sampling at %ld Hz, writing to '%s' every %g s",
		(long long)ingest__run_id(a->ingest), o->freq,
		store__path(ingest__store(a->ingest)), o->flush_interval);
	return 0;
}

int cmd_agent(int argc, char **argv)
{
	struct agent_opts o = {
		/* draining walks whole kernel maps: at 99 Hz every 5 s is plenty and costs less */
		.freq = 99, .interval = 5, .flush_interval = 10, .bucket_secs = 10,
		.retention = 7 * 86400, .max_db_size = 1ULL << 30, .compact_after = 3600, .stats_interval = 300,
		.dwarf_mem = 32 << 20, .unwind = UNWIND_MODE_AUTO,
		.argc = argc, .argv = argv,
	};
	struct agent a = { .opts = &o };
	int err;

	err = parse_args(argc, argv, &o);
	if (err) {
		free(o.labels.v);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	err = setup(&a);
	if (!err) {
		err = run(&a);
		err = shut_down(&a) ?: err;
		if (!err)
			err = ingest__close(a.ingest);
		else
			ingest__free(a.ingest);
		a.ingest = NULL;
	}
	/* after the run's end is stored: the last attempt ships all of it */
	if (a.pusher)
		pusher__stop(a.pusher, 10);
	ingest__free(a.ingest);
	collector__free(a.coll);
	symbolizer__free(a.syms);
	free(o.labels.v);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
