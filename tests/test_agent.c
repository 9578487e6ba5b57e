// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of `profile agent` with the real BPF program against the
 * wl_split workload:
 *  - SIGTERM flushes everything and exits 0;
 *  - kill -9 mid-run: the database opens, passes integrity_check, and holds
 *    every sample up to the last flush, which is at most one flush interval
 *    before the kill;
 *  - a reader querying while the agent writes never sees an error or a
 *    partial batch (the agent's health row, written in the same transaction,
 *    always agrees with the sample counts).
 * They skip only when the kernel refuses BPF or perf events.
 *
 * Environment (tests/run.sh sets it): PROFILE, WORKLOADS.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <sqlite3.h>
#include <cmocka.h>

#include "e2e.h"
#include "store/store.h"
#include "common/clock.h"
#include "common/log.h"

static long long wall_ms(void)
{
	return (long long)(wall_seconds() * 1000);
}

static pid_t start_workload(double seconds)
{
	char path[4096], dur[32];
	const char *argv[] = { path, dur, tmp("truth.txt"), NULL };
	pid_t pid;

	snprintf(path, sizeof(path), "%s/wl_split", env_path("WORKLOADS"));
	snprintf(dur, sizeof(dur), "%g", seconds);
	pid = spawn(argv, "/dev/null", "/dev/null");
	/* on a loaded machine the workload must still run every second */
	setpriority(PRIO_PROCESS, pid, -10);
	return pid;
}

/* @compact: --compact-after, how old a bucket gets before it is packed */
static pid_t start_agent(const char *db, const char *flush, const char *interval,
			 const char *compact)
{
	const char *argv[] = {
		env_path("PROFILE"), "agent", "--db", db, "--flush-interval", flush, "--interval",
		interval, "--bucket", "1", "--stats-interval", "0", "--label", "test=agent",
		"--compact-after", compact, NULL,
	};
	pid_t pid;

	pid = spawn(argv, tmp("agent.log"), tmp("agent.log"));
	/* and the agent must still drain on time */
	setpriority(PRIO_PROCESS, pid, -10);
	return pid;
}

/* ---- reading the database behind the agent's back ---- */

static sqlite3 *open_db(const char *path)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 2000);
	return db;
}

static long long one_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s;
	long long v;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc)
		fail_msg("'%s': %s", sql, sqlite3_errmsg(db));
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW)
		fail_msg("'%s': %s", sql, sqlite3_errmsg(db));
	v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static void assert_integrity_ok(sqlite3 *db)
{
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
}

/* Wait until the agent has flushed @n times (its health row says so). */
static void wait_flushes(const char *path, long long n, double timeout)
{
	double end = now_seconds() + timeout;

	while (now_seconds() < end) {
		sqlite3 *db;

		if (!access(path, F_OK)) {
			db = open_db(path);
			if (sqlite3_exec(db, "SELECT 1 FROM agent_health", NULL, NULL, NULL) ==
				    SQLITE_OK &&
			    one_int(db, "SELECT coalesce(max(flushes), 0) FROM agent_health") >= n) {
				sqlite3_close(db);
				return;
			}
			sqlite3_close(db);
		}
		sleep_s(0.1);
	}
	fail_msg("the agent did not flush %lld times within %g s", n, timeout);
}

/* samples in rows and in packed buckets */
static const char *const SUM_SQL = "SELECT (SELECT coalesce(sum(count), 0) FROM samples) +"
				   " (SELECT coalesce(sum(samples), 0) FROM packed)";
static const char *const RECORDED_SQL = "SELECT recorded FROM agent_health";

/* SIGTERM the agent (it must exit 0), then end the workload. */
static void stop_agent_and_workload(pid_t agent, pid_t wl)
{
	kill(agent, SIGTERM);
	assert_int_equal(wait_exit(agent), 0);
	kill(wl, SIGTERM);
	wait_exit(wl);
}

/* ---- the tests ---- */

static void test_agent_sigterm_flushes(void **state)
{
	const char *db_file = tmp("term.db");
	pid_t wl, agent;
	sqlite3 *db;

	(void)state;
	REQUIRE_BPF();
	wl = start_workload(15);
	agent = start_agent(db_file, "1", "0.5", "1h");
	wait_flushes(db_file, 2, 15);
	stop_agent_and_workload(agent, wl);

	db = open_db(db_file);
	assert_integrity_ok(db);
	assert_true(one_int(db, "SELECT end_ms FROM runs WHERE id = 1") > 0);
	/* everything recorded was written: the final flush happened */
	assert_int_equal(one_int(db, SUM_SQL), one_int(db, RECORDED_SQL));
	assert_int_equal(one_int(db, "SELECT lost FROM agent_health"), 0);
	/* the workload is there, with its whole call chain */
	assert_true(one_int(db, "SELECT sum(count) FROM samples s JOIN processes p"
				" ON p.id = s.process_id WHERE p.comm = 'wl_split'") > 50);
	assert_true(one_int(db, "SELECT count(*) FROM functions WHERE name IN"
				" ('main', 'outer', 'middle', 'leaf_alpha')") == 4);
	/* how whole and how named the user stacks were, with the health */
	assert_true(one_int(db, "SELECT user_stacks FROM agent_stacks") > 50);
	assert_true(one_int(db, "SELECT complete FROM agent_stacks") > 0);
	assert_true(one_int(db, "SELECT complete + unnamed FROM agent_stacks") <=
		    one_int(db, "SELECT user_stacks FROM agent_stacks"));
	/*
	 * Every sample taken has one outcome, and after the last drain and flush
	 * they add up exactly: nothing is left unexplained.
	 */
	assert_int_equal(one_int(db, "SELECT undrained FROM agent_stacks"), 0);
	assert_int_equal(one_int(db, "SELECT samples FROM agent_health"),
			 one_int(db, "SELECT h.recorded + h.dropped + h.lost + s.idle + s.filtered +"
				     " s.undrained FROM agent_health h JOIN agent_stacks s"
				     " USING (run_id)"));
	sqlite3_close(db);
	{
		const char *argv[] = { env_path("PROFILE"), "status", "--db", db_file, NULL };
		char *out = tmp("term-status.out"), *text;

		assert_int_equal(wait_exit(spawn(argv, out, NULL)), 0);
		text = slurp(out);
		if (!strstr(text, "complete (reached the root and named)") ||
		    !strstr(text, "unnamed (no frame named)"))
			fail_msg("status shows no stack health: %s", text);
		if (!strstr(text, "idle (not recorded)") || !strstr(text, "not drained yet"))
			fail_msg("status leaves sample outcomes out: %s", text);
		free(text);
	}
}

static void test_agent_kill9_loses_at_most_one_flush(void **state)
{
	const char *db_file = tmp("kill.db");
	long long before, kill_ms, last_flush_ms;
	const char *argv[] = { env_path("PROFILE"), "folded", "--db", db_file, "--run", "1",
			       "--comm", "wl_split", NULL };
	pid_t wl, agent, reader;
	sqlite3 *db;

	(void)state;
	REQUIRE_BPF();
	wl = start_workload(25);
	agent = start_agent(db_file, "1", "0.25", "1");
	/* long enough for buckets older than 1 s + a bucket to be packed */
	wait_flushes(db_file, 5, 20);
	db = open_db(db_file);
	before = one_int(db, SUM_SQL);
	sqlite3_close(db);
	sleep_s(0.6);	/* mid-interval */
	kill_ms = wall_ms();
	kill(agent, SIGKILL);
	assert_int_equal(wait_exit(agent), 128 + SIGKILL);

	db = open_db(db_file);
	assert_integrity_ok(db);
	/* every sample committed before the kill is still there */
	assert_true(one_int(db, SUM_SQL) >= before);
	/* the last flush is whole (health and samples agree) and recent */
	assert_int_equal(one_int(db, SUM_SQL), one_int(db, RECORDED_SQL));
	last_flush_ms = one_int(db, "SELECT updated_ms FROM agent_health");
	if (kill_ms - last_flush_ms > 1000 + 750)
		fail_msg("last flush %lld ms before the kill, interval 1000 ms",
			 kill_ms - last_flush_ms);
	assert_int_equal(one_int(db, "SELECT end_ms FROM runs WHERE id = 1"), 0);
	/* buckets older than 2 s were packed as it went, each exactly once */
	assert_true(one_int(db, "SELECT count(*) FROM packed") > 0);
	assert_int_equal(one_int(db, "SELECT count(*) FROM packed p WHERE EXISTS"
				     " (SELECT 1 FROM samples s WHERE s.ts = p.ts)"), 0);
	sqlite3_close(db);

	/* profile itself opens it and reads the workload back */
	reader = spawn(argv, tmp("folded.txt"), tmp("folded.txt"));
	assert_int_equal(wait_exit(reader), 0);
	kill(wl, SIGTERM);
	wait_exit(wl);
}

struct reader_ctx {
	__u64 sum;
};

static int sum_fn(void *ctx, const char *comm, const struct store_query_frame *frames, int nr,
		  __u64 count)
{
	(void)comm;
	(void)frames;
	(void)nr;
	((struct reader_ctx *)ctx)->sum += count;
	return 0;
}

static void test_reader_never_sees_partial_batch(void **state)
{
	const char *db_file = tmp("read.db");
	struct store_selector all = {};
	long long prev = -1, sum, recorded;
	int checks = 0, changes = 0;
	double end;
	pid_t wl, agent;
	sqlite3 *db;

	(void)state;
	REQUIRE_BPF();
	wl = start_workload(15);
	agent = start_agent(db_file, "0.2", "0.1", "1");
	wait_flushes(db_file, 1, 15);
	db = open_db(db_file);
	end = now_seconds() + 4;
	while (now_seconds() < end) {
		struct reader_ctx c = {};
		struct store *st;

		/* one snapshot: both counts come from the same committed state */
		assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
		sum = one_int(db, SUM_SQL);
		recorded = one_int(db, RECORDED_SQL);
		assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
		if (sum != recorded)
			fail_msg("partial batch: %lld samples stored, the batch's health says %lld",
				 sum, recorded);
		changes += prev >= 0 && sum != prev;
		prev = sum;
		checks++;
		/* the store's own query path, opened fresh each time like the CLI */
		st = store__open(db_file, NULL);
		assert_non_null(st);
		assert_int_equal(store__query_stacks(st, &all, sum_fn, &c), 0);
		assert_true(c.sum >= (__u64)sum);
		store__free(st);
		sleep_s(0.03);
	}
	sqlite3_close(db);
	stop_agent_and_workload(agent, wl);
	/* the reads interleaved with many batches */
	assert_true(checks >= 20);
	assert_true(changes >= 5);
}

static void test_agent_retries_a_locked_database(void **state)
{
	const char *db_file = tmp("locked.db");
	long long errors;
	pid_t wl, agent;
	sqlite3 *db, *locker;
	char *log;

	(void)state;
	REQUIRE_BPF();
	wl = start_workload(15);
	agent = start_agent(db_file, "0.3", "0.1", "1h");
	wait_flushes(db_file, 1, 15);
	/* another writer holds the lock for longer than the agent's busy timeout */
	locker = open_db(db_file);
	assert_int_equal(sqlite3_exec(locker, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	sleep_s(3.5);
	assert_int_equal(sqlite3_exec(locker, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(locker);
	sleep_s(1.5);
	stop_agent_and_workload(agent, wl);

	db = open_db(db_file);
	assert_integrity_ok(db);
	errors = one_int(db, "SELECT flush_errors FROM agent_health");
	assert_true(errors >= 1);
	/* nothing was lost: the batches kept while locked landed afterwards */
	assert_int_equal(one_int(db, "SELECT lost FROM agent_health"), 0);
	assert_int_equal(one_int(db, SUM_SQL), one_int(db, RECORDED_SQL));
	/*
	 * Draining went on while the database was locked: the locked seconds have
	 * their samples (a bucket or two may be empty on a loaded machine, as
	 * samples are bucketed when drained).
	 */
	assert_true(one_int(db, "SELECT max(ts) - min(ts) + 1 - count(DISTINCT ts) FROM samples s"
				" JOIN processes p ON p.id = s.process_id WHERE p.comm = 'wl_split'") <= 2);
	sqlite3_close(db);
	log = NULL;
	{
		FILE *f = fopen(tmp("agent.log"), "r");
		size_t cap = 0;

		assert_non_null(f);
		assert_true(getdelim(&log, &cap, '\0', f) > 0);
		fclose(f);
	}
	/* reported once, then every tenth failure: not once per try */
	assert_non_null(strstr(log, "will retry"));
	assert_non_null(strstr(log, "writing again after"));
	free(log);
}

/*
 * Samples go to the bucket of the time they were taken: drains come at the
 * bucket boundaries, so none of them straddles one. The workload runs from
 * just after one 2 s boundary to just before the second next: its samples
 * must all be in those two buckets, none in the ones around them, though
 * the drain interval (1.5 s) does not divide the bucket.
 */
static void test_samples_land_in_their_bucket(void **state)
{
	const char *db_file = tmp("bucket.db");
	const char *argv[] = {
		env_path("PROFILE"), "agent", "--db", db_file, "--flush-interval", "1",
		"--interval", "1.5", "--bucket", "2", "--stats-interval", "0", NULL,
	};
	long long start_ms, b0, inside, all;
	char sql[256];
	pid_t agent, wl;
	sqlite3 *db;

	(void)state;
	REQUIRE_BPF();
	agent = spawn(argv, tmp("bucket.log"), tmp("bucket.log"));
	setpriority(PRIO_PROCESS, agent, -10);
	wait_flushes(db_file, 1, 15);
	/* 0.2 s past the next even second: bucket b0 */
	start_ms = wall_ms();
	b0 = (start_ms / 2000 + 1) * 2;
	sleep_s((b0 * 1000 + 200 - start_ms) / 1000.0);
	wl = start_workload(3.6);
	assert_int_equal(wait_exit(wl), 0);
	sleep_s(2.5);	/* the last drain and flush */
	kill(agent, SIGTERM);
	assert_int_equal(wait_exit(agent), 0);

	db = open_db(db_file);
	/* by pid: other wl_split processes on the machine (a benchmark) are not ours */
	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(count), 0) FROM samples s JOIN processes p"
		 " ON p.id = s.process_id WHERE p.pid = %d", (int)wl);
	all = one_int(db, sql);
	snprintf(sql, sizeof(sql), "SELECT coalesce(sum(count), 0) FROM samples s JOIN processes p"
		 " ON p.id = s.process_id WHERE p.pid = %d AND ts IN (%lld, %lld)", (int)wl,
		 b0, b0 + 2);
	inside = one_int(db, sql);
	print_message("%lld of %lld wl_split samples in buckets %lld and %lld\n", inside, all, b0,
		      b0 + 2);
	sqlite3_close(db);
	assert_true(all > 200);
	assert_true(inside >= all * 0.98);
}

/*
 * Big binaries are tabled in the background: clang maps libLLVM and
 * libclang-cpp (about 220 MB, 1.5M unwind rows together), and building
 * their tables takes seconds of CPU on this machine. Meanwhile the agent
 * still flushes every second, drops nothing, and SIGTERM ends it at once.
 */
static void test_big_binaries_do_not_hold_up_flushes(void **state)
{
	const char *db_file = tmp("big.db"), *src = tmp("big.c");
	const char *clang = "/usr/lib/llvm-14/bin/clang";
	const char *argv[] = { clang, "-O2", "-c", src, "-o", tmp("big.o"), NULL };
	long long last = 0, gap = 0, t, stop_ms;
	double end;
	pid_t agent, cc = 0;
	sqlite3 *db;
	FILE *f;

	(void)state;
	REQUIRE_BPF();
	if (access(clang, X_OK))
		fail_msg("no %s: the build installs clang (BPF programs)", clang);
	f = fopen(src, "w");
	assert_non_null(f);
	fputs("int big(int x) { for (int i = 0; i < 1000; i++) x = x * 3 + i; return x; }\n", f);
	fclose(f);
	agent = start_agent(db_file, "1", "1", "1h");
	wait_flushes(db_file, 1, 15);
	db = open_db(db_file);
	/* clang over and over for 6 s, the health row read every 50 ms */
	end = now_seconds() + 6;
	while (now_seconds() < end) {
		if (!cc)
			cc = spawn(argv, NULL, NULL);
		else if (waitpid(cc, NULL, WNOHANG) == cc)
			cc = 0;
		t = one_int(db, "SELECT updated_ms FROM agent_health");
		if (last && t != last && t - last > gap)
			gap = t - last;
		if (t != last)
			last = t;
		sleep_s(0.05);
	}
	if (cc)
		wait_exit(cc);
	stop_ms = wall_ms();
	kill(agent, SIGTERM);
	assert_int_equal(wait_exit(agent), 0);
	stop_ms = wall_ms() - stop_ms;
	print_message("longest time between flushes %lld ms; SIGTERM to exit %lld ms\n", gap,
		      stop_ms);
	/* every second, give or take a drain that waits for a bucket boundary */
	assert_true(gap > 0 && gap < 2000);
	assert_true(stop_ms < 1000);
	/*
	 * nothing dropped for lack of room or time; a stack-map hash collision
	 * (two stacks, one bucket) is the one drop clang's many stacks may cause
	 */
	assert_int_equal(one_int(db, "SELECT dropped - collisions FROM agent_health"), 0);
	assert_int_equal(one_int(db, "SELECT lost FROM agent_health"), 0);
	sqlite3_close(db);
}

static void test_agent_bad_arguments(void **state)
{
	static const char *const bad[][4] = {
		{ "--retention", "7y" }, { "--max-db-size", "lots" }, { "--flush-interval", "0" },
		{ "--label", "novalue" }, { "--bogus" }, { "--unwind-mem", "100" },
		{ "--unwind-mem", "64G" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[] = { env_path("PROFILE"), "agent", bad[i][0], bad[i][1], NULL };
		pid_t p = spawn(argv, tmp("bad.log"), tmp("bad.log"));

		assert_int_equal(wait_exit(p), 2);
	}
}

/* e2e.h's BPF probe and temporary directory; the store's warnings stay quiet */
static int setup(void **state)
{
	log_set_quiet(true);
	return setup_group(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_agent_bad_arguments),
		cmocka_unit_test(test_agent_sigterm_flushes),
		cmocka_unit_test(test_agent_kill9_loses_at_most_one_flush),
		cmocka_unit_test(test_reader_never_sees_partial_batch),
		cmocka_unit_test(test_agent_retries_a_locked_database),
		cmocka_unit_test(test_samples_land_in_their_bucket),
		cmocka_unit_test(test_big_binaries_do_not_hold_up_flushes),
	};

	return cmocka_run_group_tests_name("agent", tests, setup, teardown_group);
}
