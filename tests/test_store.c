// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for store/ and the selector options that query it: schema
 * creation, migration from versions 1 and 2, refusing newer and foreign files,
 * bucket aggregation, stack and frame interning, every selector, retention,
 * the size cap, a locked database and a full one (SQLite's max_page_count)
 * that fail cleanly and succeed on retry, the time/size parsers, and the
 * compaction of old buckets (same answers, crash-safe, retention and cap).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "store/sqlite/sqlite_internal.h"

/* test vectors of the version 1 content hashes (store_backend.h) */
#define HASH_USER 4950176105248645681LL
#define HASH_KERNEL -9142189093164366779LL
#define HASH_STACK 8333644417907225368LL
#define HASH_EMPTY 5703882396140300140LL
#define HASH_PROC -8002663724859268925LL
#include "web/web.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/log.h"
#include "store_damage.h"

/* the selector parsers and the store -> folded conversion live in profiler/ */
#include "../profiler/selector.c"

static char tmpdir[] = "/tmp/profile-store-XXXXXX";

/* store__open() without options opens read-only; these tests also write */
static const struct store_opts writer = { .write = true };

static char *db_path(const char *name)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];

	snprintf(b, sizeof(buf[0]), "%s/%s", tmpdir, name);
	return b;
}

static struct store *fresh(const char *name)
{
	struct store_opts o = { .create = true, .busy_timeout_ms = 50 };
	char *p = db_path(name);
	struct strbuf side = STRBUF_INIT;
	struct store *st;

	unlink(p);
	strbuf__addf(&side, "%s-wal", p);
	unlink(side.buf);
	strbuf__release(&side);
	st = store__open(p, &o);
	assert_non_null(st);
	return st;
}

static __s64 q_int(struct store *st, const char *sql)
{
	__s64 v = -1;

	assert_int_equal(query_int(sq(st), sql, &v), 0);
	return v;
}

static void assert_integrity_ok(struct store *st)
{
	sqlite3_stmt *s;

	assert_int_equal(sqlite3_prepare_v2(sq(st)->db, "PRAGMA integrity_check", -1, &s, NULL), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "ok");
	sqlite3_finalize(s);
}

static __s64 add_run(struct store *st, const char *host, const char *label)
{
	const char *labels[] = { label };
	struct store_run r = {
		.kind = "record", .host = host, .cmdline = "profile -d 1", .freq = 99,
		.start_ms = 1000000, .labels = labels, .nr_labels = label ? 1 : 0,
	};
	__s64 id = 0;

	assert_int_equal(store__add_run(st, &r, &id), 0);
	assert_true(id > 0);
	return id;
}

static __s64 add_proc(struct store *st, __s64 run, __u32 pid, const char *comm, const char *bid)
{
	struct store_process p = { .pid = pid, .comm = comm, .exe_build_id = bid, .start_time = 5 };
	__s64 id = 0;

	assert_int_equal(sqlite__process_id(sq(st), run, &p, &id), 0);
	return id;
}

/*
 * A stack of user frames named @names (root first) in module "app" with build
 * id "ab12"; a frame's offset follows from its name, as in a real binary.
 */
static __s64 add_stack(struct store *st, const char *const *names, int nr)
{
	__s64 frames[16], id = 0;
	int i;

	for (i = 0; i < nr; i++) {
		struct store_frame f = {
			.module = "app", .build_id = "ab12", .name = names[i],
			.addr = str_hash(names[i], strlen(names[i])) & 0xffffff,
		};

		assert_int_equal(sqlite__frame_id(sq(st), &f, &frames[i]), 0);
	}
	assert_int_equal(sqlite__stack_id(sq(st), frames, nr, &id), 0);
	return id;
}

/* ---- folded output of a query ---- */

static char *folded(struct store *st, const struct store_selector *sel)
{
	struct selector s = { .sel = *sel };
	struct stack_agg *agg = stack_agg__new();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(agg);
	assert_int_equal(selector__fill(&s, st, agg), 0);
	assert_int_equal(stack_agg__write_folded(agg, f), 0);
	fclose(f);
	stack_agg__free(agg);
	return buf;
}

static int count_fn(void *ctx, const char *comm, const struct store_query_frame *frames, int nr,
		    __u64 count)
{
	(void)comm;
	(void)frames;
	(void)nr;
	*(__u64 *)ctx += count;
	return 0;
}

static __u64 total(struct store *st, const struct store_selector *sel)
{
	__u64 n = 0;

	assert_int_equal(store__query_stacks(st, sel, count_fn, &n), 0);
	return n;
}

/* ---- schema ---- */

static void test_schema_created(void **state)
{
	static const char *const tables[] = {
		"hosts", "runs", "run_labels", "processes", "mappings", "functions", "frames",
		"stacks", "samples", "agent_health",
	};
	struct store *st = fresh("schema.db");
	char sql[256];
	size_t i;

	(void)state;
	assert_int_equal(store__schema_version(st), STORE_SCHEMA_VERSION);
	for (i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
		snprintf(sql, sizeof(sql),
			 "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '%s'",
			 tables[i]);
		assert_int_equal(q_int(st, sql), 1);
	}
	assert_int_equal(q_int(st, "PRAGMA auto_vacuum"), 2);	/* incremental */
	store__free(st);
	/* reopening an up-to-date database changes nothing */
	st = store__open(db_path("schema.db"), NULL);
	assert_non_null(st);
	assert_int_equal(store__schema_version(st), STORE_SCHEMA_VERSION);
	store__free(st);
}

static void test_wal_mode(void **state)
{
	struct store *st = fresh("wal.db");
	sqlite3_stmt *s;

	(void)state;
	assert_int_equal(sqlite3_prepare_v2(sq(st)->db, "PRAGMA journal_mode", -1, &s, NULL), 0);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	store__free(st);
}

/*
 * A database at schema @version (what an older profile wrote) holding one
 * run, process and stack; the batch is left open for the caller's samples.
 */
static struct store *old_database(const char *name, int version, __s64 *proc, __s64 *stack)
{
	struct store_opts o = { .create = true };
	const char *names[] = { "main", "work" };
	struct store *st;
	__s64 run;

	unlink(db_path(name));
	st = (struct store *)store_open_raw(db_path(name), &o);
	assert_non_null(st);
	assert_int_equal(store_migrate(sq(st), version), 0);
	assert_int_equal(store__schema_version(st), version);
	run = add_run(st, "old-host", "env=old");
	assert_int_equal(sqlite__begin(sq(st)), 0);
	*proc = add_proc(st, run, 42, "oldapp", NULL);
	*stack = add_stack(st, names, 2);
	return st;
}

static void test_migrate_from_v1(void **state)
{
	struct store_selector all = {};
	struct store *st;
	__s64 proc, stack;
	char *out;

	(void)state;
	st = old_database("v1.db", 1, &proc, &stack);
	assert_int_equal(q_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'agent_health'"),
			 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1000, proc, stack, 7), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	store__free(st);

	st = store__open(db_path("v1.db"), &writer);
	assert_non_null(st);
	assert_int_equal(store__schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(q_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'agent_health'"),
			 1);
	out = folded(st, &all);
	assert_string_equal(out, "oldapp;main;work 7\n");
	free(out);
	store__free(st);
}

static void test_newer_and_foreign_files_refused(void **state)
{
	struct store *st = fresh("newer.db");
	FILE *f;

	(void)state;
	assert_int_equal(store_exec(sq(st), "PRAGMA user_version = 99"), 0);
	store__free(st);
	errno = 0;
	assert_null(store__open(db_path("newer.db"), NULL));
	assert_int_equal(errno, EPROTO);

	f = fopen(db_path("garbage.db"), "w");
	assert_non_null(f);
	fputs("this is not an SQLite database, just text that is long enough to have a header\n"
	      "and a second line, so the file is not empty\n", f);
	fclose(f);
	errno = 0;
	assert_null(store__open(db_path("garbage.db"), NULL));
	assert_int_equal(errno, EBADMSG);

	errno = 0;
	assert_null(store__open(db_path("missing.db"), NULL));
	assert_int_equal(errno, ENOENT);
}

/* ---- interning and aggregation ---- */

static void test_stacks_and_frames_interned(void **state)
{
	struct store *st = fresh("intern.db");
	const char *ab[] = { "a", "b" }, *ba[] = { "b", "a" };
	struct store_frame anon = { .module = "[anon]", .addr = 0x7f00 };
	struct store_frame named = anon;
	__s64 s1, s2, s3, e1, e2, f1, f2;

	(void)state;
	assert_int_equal(sqlite__begin(sq(st)), 0);
	s1 = add_stack(st, ab, 2);
	s2 = add_stack(st, ab, 2);
	s3 = add_stack(st, ba, 2);
	assert_int_equal(s1, s2);
	assert_int_not_equal(s1, s3);
	assert_int_equal(sqlite__stack_id(sq(st), NULL, 0, &e1), 0);
	assert_int_equal(sqlite__stack_id(sq(st), NULL, 0, &e2), 0);
	assert_int_equal(e1, e2);
	assert_int_not_equal(e1, s1);
	/* JIT code has no build id: the name tells two functions at one offset apart */
	assert_int_equal(sqlite__frame_id(sq(st), &anon, &f1), 0);
	named.name = "jit_fn";
	named.jit = true;
	assert_int_equal(sqlite__frame_id(sq(st), &named, &f2), 0);
	assert_int_not_equal(f1, f2);
	assert_int_equal(sqlite__frame_id(sq(st), &named, &f1), 0);
	assert_int_equal(f1, f2);
	/* an inline chain at one address: one frame per depth */
	named.depth = 1;
	named.inlined = true;
	assert_int_equal(sqlite__frame_id(sq(st), &named, &f1), 0);
	assert_int_not_equal(f1, f2);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM stacks"), 3);
	store__free(st);
}

static void test_bucket_aggregation(void **state)
{
	struct store *st = fresh("agg.db");
	const char *x[] = { "main", "x" }, *y[] = { "main", "y" };
	struct store_selector all = {};
	__s64 run, p1, p2, sx, sy;
	char *out;

	(void)state;
	run = add_run(st, "h", NULL);
	assert_int_equal(sqlite__begin(sq(st)), 0);
	p1 = add_proc(st, run, 10, "app", NULL);
	p2 = add_proc(st, run, 11, "app", NULL);
	sx = add_stack(st, x, 2);
	sy = add_stack(st, y, 2);
	/* the same (bucket, process, stack) twice: one row, counts summed */
	assert_int_equal(sqlite__add_samples(sq(st), 1000, p1, sx, 3), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1000, p1, sx, 4), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p1, sx, 5), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p2, sx, 1), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p2, sy, 2), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 4);
	assert_int_equal(q_int(st, "SELECT count FROM samples WHERE ts = 1000"), 7);
	/* a query merges buckets and processes with the same comm */
	out = folded(st, &all);
	assert_string_equal(out, "app;main;x 13\napp;main;y 2\n");
	free(out);
	store__free(st);
}

static void test_kernel_and_unknown_frames_folded(void **state)
{
	struct store *st = fresh("kinds.db");
	struct store_frame fr[] = {
		{ .module = "libc.so.6", .build_id = "cd34", .addr = 0x10 },	/* unnamed */
		{ .module = "app", .build_id = "ef56", .addr = 0x30, .name = "outer" },
		{ .module = "app", .build_id = "ef56", .addr = 0x30, .name = "inl", .depth = 1,
		  .inlined = true },
		{ .module = "[jit]", .addr = 0x40, .name = "Interpreter", .jit = true },
		{ .module = "", .addr = 0x20 },					/* nowhere */
		{ .kernel = true, .module = "[kernel]", .addr = 0xffffffff81000000ULL,
		  .name = "do_syscall_64" },
		{ .kernel = true, .module = "[kernel]", .addr = 0xffffffff81000100ULL },
	};
	struct store_selector all = {};
	__s64 ids[7], run, proc, stack, empty;
	char *out;
	int i;

	(void)state;
	run = add_run(st, "h", NULL);
	assert_int_equal(sqlite__begin(sq(st)), 0);
	proc = add_proc(st, run, 1, "k", NULL);
	for (i = 0; i < 7; i++)
		assert_int_equal(sqlite__frame_id(sq(st), &fr[i], &ids[i]), 0);
	assert_int_equal(sqlite__stack_id(sq(st), ids, 7, &stack), 0);
	assert_int_equal(sqlite__stack_id(sq(st), NULL, 0, &empty), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 10, proc, stack, 1), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 10, proc, empty, 2), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	out = folded(st, &all);
	assert_string_equal(out, "k;[no stack] 2\n"
				 "k;[unknown] (libc.so.6);outer;inl_[i];Interpreter_[j];[unknown];"
				 "do_syscall_64_[k];[unknown]_[k] 1\n");
	free(out);
	store__free(st);
}

static void test_corrupt_stack_reported(void **state)
{
	struct store *st = fresh("corrupt.db");
	const char *a[] = { "a" };
	struct store_selector all = {};
	__s64 run, proc, stack;
	__u64 n = 0;

	(void)state;
	run = add_run(st, "h", NULL);
	assert_int_equal(sqlite__begin(sq(st)), 0);
	proc = add_proc(st, run, 1, "c", NULL);
	stack = add_stack(st, a, 1);
	assert_int_equal(sqlite__add_samples(sq(st), 10, proc, stack, 1), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	/* an overlong varint, then a reference to a frame that does not exist */
	assert_int_equal(store_exec(sq(st), "UPDATE stacks SET frames = x'ffffffffffffffffffffff'"), 0);
	assert_int_equal(store__query_stacks(st, &all, count_fn, &n), -EBADMSG);
	assert_int_equal(store_exec(sq(st), "UPDATE stacks SET frames = x'7f'"), 0);
	assert_int_equal(store__query_stacks(st, &all, count_fn, &n), -EBADMSG);
	store__free(st);
}

/* ---- selectors ---- */

static struct store *selector_fixture(__s64 *runs)
{
	struct store *st = fresh("sel.db");
	const char *a[] = { "main", "a" }, *b[] = { "main", "b" };
	__s64 p1, p2, p3, sa, sb;

	runs[0] = add_run(st, "alpha", "env=prod");
	runs[1] = add_run(st, "beta", "env=test");
	assert_int_equal(sqlite__begin(sq(st)), 0);
	p1 = add_proc(st, runs[0], 100, "web", "aaaa1111");
	p2 = add_proc(st, runs[0], 200, "db", "bbbb2222");
	p3 = add_proc(st, runs[1], 100, "web", "aaaa3333");
	sa = add_stack(st, a, 2);
	sb = add_stack(st, b, 2);
	assert_int_equal(sqlite__add_samples(sq(st), 1000, p1, sa, 1), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p1, sb, 2), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p2, sa, 4), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1020, p3, sa, 8), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1030, p3, sb, 16), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	return st;
}

static const __u32 pid100[] = { 100 }, pids[] = { 200, 300 };
static const char *const prod[] = { "env=prod" }, *const both[] = { "env=prod", "env=test" };
static const char *const beta[] = { "beta" }, *const alpha[] = { "alpha" },
		  *const glob_a[] = { "al*" }, *const glob_set[] = { "[ab]e?a" },
		  *const two[] = { "alpha", "b*" }, *const not_a[] = { "[^a]*" };

/* Every selector over selector_fixture(), with the samples it matches. */
static const struct {
	struct store_selector sel;
	__u64 want;
} selector_cases[] = {
	{ {}, 31 },
	{ { .run_id = 1 }, 7 },
	{ { .run_id = 2 }, 24 },
	{ { .since = 1010 }, 30 },
	{ { .until = 1010 }, 1 },
	{ { .since = 1010, .until = 1030 }, 14 },
	{ { .pids = pid100, .nr_pids = 1 }, 27 },
	{ { .pids = pids, .nr_pids = 2 }, 4 },
	{ { .comm = "db" }, 4 },
	{ { .comm = "nope" }, 0 },
	{ { .build_id = "aaaa" }, 27 },
	{ { .build_id = "aaaa3333" }, 24 },
	{ { .build_id = "bbbb2222" }, 4 },
	{ { .hosts = beta, .nr_hosts = 1 }, 24 },
	{ { .hosts = glob_a, .nr_hosts = 1 }, 7 },
	{ { .hosts = glob_set, .nr_hosts = 1 }, 24 },
	{ { .hosts = two, .nr_hosts = 2 }, 31 },
	{ { .hosts = not_a, .nr_hosts = 1 }, 24 },
	{ { .labels = prod, .nr_labels = 1 }, 7 },
	{ { .labels = both, .nr_labels = 2 }, 0 },
	{ { .hosts = alpha, .nr_hosts = 1, .comm = "web", .since = 1005 }, 2 },
};
#define NR_SELECTOR_CASES (sizeof(selector_cases) / sizeof(selector_cases[0]))

static void test_selectors(void **state)
{
	__s64 runs[2];
	struct store *st = selector_fixture(runs);
	size_t i;

	(void)state;
	for (i = 0; i < NR_SELECTOR_CASES; i++) {
		__u64 got = total(st, &selector_cases[i].sel);

		if (got != selector_cases[i].want)
			fail_msg("selector case %zu: %llu samples, want %llu", i,
				 (unsigned long long)got, (unsigned long long)selector_cases[i].want);
	}
	store__free(st);
}

static int count_runs(void *ctx, const struct store_run_info *r)
{
	int *n = ctx;

	(void)r;
	(*n)++;
	return 0;
}

static void test_runs_listed_by_selector(void **state)
{
	static const char *const test[] = { "env=test" };
	__s64 runs[2], last;
	struct store *st = selector_fixture(runs);
	struct store_selector sel = {};
	int n = 0;

	(void)state;
	assert_int_equal(store__list_runs(st, &sel, count_runs, &n), 0);
	assert_int_equal(n, 2);
	n = 0;
	sel.labels = test;
	sel.nr_labels = 1;
	assert_int_equal(store__list_runs(st, &sel, count_runs, &n), 0);
	assert_int_equal(n, 1);
	n = 0;
	memset(&sel, 0, sizeof(sel));
	sel.comm = "db";
	assert_int_equal(store__list_runs(st, &sel, count_runs, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store__last_run(st, &last), 0);
	assert_int_equal(last, runs[1]);
	store__free(st);
}

static void test_selector_options(void **state)
{
	static const struct {
		int opt;
		const char *arg;
		int want;
	} cases[] = {
		{ SEL_OPT_RUN, "3", 0 }, { SEL_OPT_RUN, "last", 0 }, { SEL_OPT_RUN, "x", -EINVAL },
		{ SEL_OPT_RUN, "0", -EINVAL }, { SEL_OPT_SINCE, "-1h", 0 },
		{ SEL_OPT_SINCE, "yesterday", -EINVAL }, { SEL_OPT_PID, "1,2,3", 0 },
		{ SEL_OPT_PID, "1,x", -EINVAL },
		/* longer than the kernel's 15: imported profiles name processes freely (d17b466) */
		{ SEL_OPT_COMM, "0123456789abcdef", 0 }, { SEL_OPT_COMM, "", -EINVAL },
		{ SEL_OPT_BUILD_ID, "DEAD", -EINVAL }, { SEL_OPT_BUILD_ID, "dead", 0 },
		{ SEL_OPT_LABEL, "k=v", 0 }, { SEL_OPT_LABEL, "kv", -EINVAL },
		{ SEL_OPT_LABEL, "=v", -EINVAL }, { 'x', "", 1 },
	};
	size_t i;

	(void)state;
	log_set_quiet(true);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct selector s = {};
		int got = selector__parse(&s, cases[i].opt, cases[i].arg);

		if (got != cases[i].want)
			fail_msg("option %d '%s': got %d, want %d", cases[i].opt, cases[i].arg, got,
				 cases[i].want);
		selector__release(&s);
	}
}

static void test_time_and_size_parsers(void **state)
{
	const time_t now = 1700000000;
	static const struct {
		const char *in;
		__s64 want;	/* -1: invalid */
	} times[] = {
		{ "now", 1700000000 }, { "-1h", 1700000000 - 3600 }, { "-30m", 1700000000 - 1800 },
		{ "-2d", 1700000000 - 2 * 86400 }, { "-45", 1700000000 - 45 },
		{ "@1600000000", 1600000000 }, { "2023-11-14 22:13:20Z", 1700000000 },
		{ "2023-11-14T22:13Z", 1700000000 - 20 }, { "2023-11-14Z", 1699920000 },
		{ "-1y", -1 }, { "@x", -1 }, { "2023-13-45", -1 }, { "", -1 }, { "-", -1 },
	};
	static const struct {
		const char *in;
		__s64 want;
	} sizes[] = {
		{ "100", 100 }, { "4k", 4096 }, { "500M", 500LL << 20 }, { "2G", 2LL << 30 },
		{ "1.5M", 3 << 19 }, { "10MB", 10 << 20 }, { "5x", -1 }, { "-1", -1 }, { "M", -1 },
	};
	__s64 t, d;
	__u64 b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		int err = parse_time(times[i].in, now, &t);

		if (times[i].want < 0 ? !err : err || t != times[i].want)
			fail_msg("parse_time('%s'): err %d, %lld", times[i].in, err, (long long)t);
	}
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int err = parse_size(sizes[i].in, &b);

		if (sizes[i].want < 0 ? !err : err || (__s64)b != sizes[i].want)
			fail_msg("parse_size('%s'): err %d, %llu", sizes[i].in, err,
				 (unsigned long long)b);
	}
	assert_int_equal(parse_duration("7d", &d), 0);
	assert_int_equal(d, 7 * 86400);
	assert_int_equal(parse_duration("2w", &d), 0);
	assert_int_equal(d, 14 * 86400);
	assert_int_equal(parse_duration("1fortnight", &d), -EINVAL);
}

static void test_varint_roundtrip(void **state)
{
	static const __u64 vals[] = { 0, 1, 127, 128, 300, 16383, 16384, 1ULL << 35, ~0ULL };
	unsigned char buf[16];
	__u64 v;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		n = varint_put(buf, vals[i]);
		assert_int_equal(varint_get(buf, n, &v), n);
		assert_true(v == vals[i]);
		assert_int_equal(varint_get(buf, n - 1, &v), 0);	/* truncated */
	}
}

/* ---- bounding the database ---- */

static void check_retention(bool compact)
{
	__s64 runs[2], epoch, empty;
	struct store *st = selector_fixture(runs);
	struct store_selector all = {};
	__u64 n = 0;

	if (compact) {
		assert_int_equal(store__compact(st, 1025, 0, &n), 0);
		assert_int_equal(n, 3);
		assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 1);
	}
	empty = add_run(st, "gamma", NULL);

	/* run 1 ended before the cutoff; an empty run that ended after it stays */
	assert_int_equal(store__end_run(st, runs[0], 1015000), 0);
	assert_int_equal(store__end_run(st, empty, 1030000), 0);
	epoch = sqlite__epoch(sq(st));
	/* buckets before 1020: all of run 1 */
	assert_int_equal(store__expire(st, 1020, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(total(st, &all), 24);
	assert_int_not_equal(sqlite__epoch(sq(st)), epoch);
	/* what only the expired samples used is gone, the ended run too */
	assert_int_equal(q_int(st, "SELECT count(*) FROM processes"), 1);
	assert_int_equal(q_int(st, "SELECT count(*) FROM runs"), 2);
	assert_int_equal(q_int(st, "SELECT count(*) FROM runs WHERE id = 1"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM run_labels"), 1);
	assert_int_equal(q_int(st, "SELECT count(*) FROM stacks"), 2);
	/* nothing older: nothing happens, the epoch stays */
	epoch = sqlite__epoch(sq(st));
	assert_int_equal(store__expire(st, 1020, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(sqlite__epoch(sq(st)), epoch);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed WHERE ts < 1020"), 0);
	assert_integrity_ok(st);
	store__free(st);
}

static void test_retention(void **state)
{
	(void)state;
	check_retention(false);
}

static void test_retention_packed(void **state)
{
	(void)state;
	check_retention(true);
}

static void fill_buckets(struct store *st, __s64 run, int buckets, int rows)
{
	char name[32];
	const char *names[] = { "main", name };
	__s64 proc, stack;
	int b, r;

	assert_int_equal(sqlite__begin(sq(st)), 0);
	proc = add_proc(st, run, 1, "big", NULL);
	for (b = 0; b < buckets; b++) {
		for (r = 0; r < rows; r++) {
			snprintf(name, sizeof(name), "fn%d", r);
			stack = add_stack(st, names, 2);
			assert_int_equal(sqlite__add_samples(sq(st), 10000 + 10 * b, proc, stack, 1 + r), 0);
		}
	}
	assert_int_equal(sqlite__commit(sq(st)), 0);
}

static void test_size_cap(void **state)
{
	struct store *st = fresh("cap.db");
	__u64 used, after, n = 0;
	__s64 run = add_run(st, "h", NULL);

	(void)state;
	fill_buckets(st, run, 300, 60);
	assert_int_equal(store__used_bytes(st, &used), 0);
	assert_true(used > 200000);
	assert_int_equal(store__enforce_size(st, used / 2, &n), 0);
	assert_int_equal(store__used_bytes(st, &after), 0);
	assert_true(after <= used / 2);
	assert_true(n > 0);
	/* oldest first: the newest bucket survives, the oldest does not */
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples WHERE ts = 10000"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples WHERE ts = 12990"), 60);
	/* the file shrinks too (incremental vacuum) */
	assert_true(q_int(st, "PRAGMA freelist_count") < 8);
	/* a cap below the fixed tables cannot be met: reported, not looped on */
	assert_int_equal(store__enforce_size(st, 4096, &n), -EFBIG);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 0);
	store__free(st);
}

/* ---- compaction ---- */

static int print_run(void *ctx, const struct store_run_info *r)
{
	return strbuf__addf(ctx, "run %lld: %lld..%lld %llu samples\n", (long long)r->id,
			    (long long)r->first_ts, (long long)r->last_ts,
			    (unsigned long long)r->samples);
}

/* Everything a reader can see: each selector's folded stacks, the runs, the counts. */
static char *snapshot(struct store *st)
{
	struct strbuf sb = STRBUF_INIT;
	struct store_selector all = {};
	struct store_measure m;
	size_t i;
	char *f;

	for (i = 0; i < NR_SELECTOR_CASES; i++) {
		f = folded(st, &selector_cases[i].sel);
		assert_int_equal(strbuf__addf(&sb, "case %zu:\n%s", i, f ? f : ""), 0);
		free(f);
		assert_int_equal(store__list_runs(st, &selector_cases[i].sel, print_run, &sb), 0);
	}
	assert_int_equal(store__list_runs(st, &all, print_run, &sb), 0);
	assert_int_equal(store__measure(st, &m), 0);
	assert_int_equal(strbuf__addf(&sb, "%llu samples, %llu rows, %llu buckets, %llu stacks,"
				      " %llu processes\n", (unsigned long long)m.samples,
				      (unsigned long long)m.sample_rows,
				      (unsigned long long)m.buckets, (unsigned long long)m.stacks,
				      (unsigned long long)m.processes), 0);
	return sb.buf;
}

static void assert_same(struct store *st, const char *want, const char *when)
{
	char *got = snapshot(st);

	if (strcmp(got, want))
		fail_msg("%s: queries differ\n--- before\n%s--- after\n%s", when, want, got);
	free(got);
}

/* selector_fixture() plus a big bucket (1040) that zstd packs better than varints */
static struct store *compaction_fixture(void)
{
	__s64 runs[2], proc, stack;
	struct store *st = selector_fixture(runs);
	char name[32];
	const char *names[] = { "main", name };
	int i;

	assert_int_equal(sqlite__begin(sq(st)), 0);
	proc = add_proc(st, runs[1], 300, "batch", "cccc");
	for (i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "fn%d", i);
		stack = add_stack(st, names, 2);
		assert_int_equal(sqlite__add_samples(sq(st), 1040, proc, stack, 1 + i % 3), 0);
	}
	assert_int_equal(sqlite__commit(sq(st)), 0);
	return st;
}

static void test_compaction_keeps_answers(void **state)
{
	struct store *st = compaction_fixture();
	__s64 sa, p1;
	__u64 n = 0;
	char *want;

	(void)state;
	want = snapshot(st);
	assert_non_null(strstr(want, "batch;main;fn199 2\n"));
	/* part of the buckets, then the rest in small batches */
	assert_int_equal(store__compact(st, 1015, 0, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed"), 2);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples WHERE ts < 1015"), 0);
	assert_same(st, want, "after packing 2 buckets");
	do
		assert_int_equal(store__compact(st, INT64_MAX, 2, &n), 0);
	while (n);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed"), 5);
	/* small buckets stay varints, the big one is worth zstd */
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed WHERE substr(data, 1, 1) = x'01'"),
			 1);
	assert_int_equal(q_int(st, "SELECT ts FROM packed WHERE substr(data, 1, 1) = x'01'"), 1040);
	assert_true(q_int(st, "SELECT length(data) FROM packed WHERE ts = 1040") < 200);
	assert_same(st, want, "after packing everything");
	free(want);

	/* samples landing in a packed bucket (a clock step back) count, then merge */
	p1 = q_int(st, "SELECT id FROM processes WHERE pid = 100 AND comm = 'web'"
		       " AND exe_build_id = 'aaaa1111'");
	sa = q_int(st, "SELECT min(id) FROM stacks");
	assert_int_equal(sqlite__begin(sq(st)), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, p1, sa, 32), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	want = snapshot(st);
	assert_non_null(strstr(want, "web;main;a 33\n"));
	assert_int_equal(store__compact(st, INT64_MAX, 0, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 0);
	assert_int_equal(q_int(st, "SELECT rows FROM packed WHERE ts = 1010"), 3);
	assert_same(st, want, "after merging into a packed bucket");
	free(want);
	assert_integrity_ok(st);
	store__free(st);
}

static void test_corrupt_packed_bucket_reported(void **state)
{
	struct store *st = compaction_fixture();
	struct store_selector all = {};
	__u64 n = 0;

	(void)state;
	assert_int_equal(store__compact(st, INT64_MAX, 0, &n), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM (SELECT 1 FROM packed WHERE ts = 1010"
			       " UNION ALL SELECT 1 FROM packed WHERE ts = 1040)"), 2);
	assert_int_equal(store_exec(sq(st), "UPDATE packed SET data = x'0081' WHERE ts = 1010;"
				    "UPDATE packed SET data = substr(data, 1, 10) WHERE ts = 1040"),
			 0);
	log_set_quiet(true);
	assert_int_equal(store__query_stacks(st, &all, count_fn, &n), -EBADMSG);
	assert_int_equal(store__compact(st, INT64_MAX, 0, &n), 0);	/* nothing left to pack */
	log_set_quiet(false);
	store__free(st);
}

/* kill -9 in the middle of compacting: every bucket is packed or not, never both or neither */
static void test_compaction_killed(void **state)
{
	struct store *st = fresh("kill.db");
	__s64 run = add_run(st, "h", NULL);
	struct store_selector all = {};
	__u64 want, n;
	__s64 packed[3];
	pid_t pid;
	int status, i;

	(void)state;
	fill_buckets(st, run, 1000, 20);
	want = total(st, &all);
	store__free(st);
	for (i = 0; i < 3; i++) {
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			st = store__open(db_path("kill.db"), &writer);
			while (st && !store__compact(st, INT64_MAX, 1, &n) && n)
				;
			_exit(0);
		}
		/* kill it once it is well under way (it commits a bucket at a time) */
		st = store__open(db_path("kill.db"), NULL);
		assert_non_null(st);
		while (q_int(st, "SELECT count(*) FROM packed") < 100 * (i + 1) &&
		       waitpid(pid, &status, WNOHANG) == 0)
			usleep(500);
		kill(pid, SIGKILL);
		store__free(st);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		st = store__open(db_path("kill.db"), NULL);
		assert_non_null(st);
		assert_integrity_ok(st);
		assert_int_equal(total(st, &all), want);
		assert_int_equal(q_int(st, "SELECT count(*) FROM packed p WHERE EXISTS"
				       " (SELECT 1 FROM samples s WHERE s.ts = p.ts)"), 0);
		assert_int_equal(q_int(st, "SELECT count(*) FROM (SELECT ts FROM samples UNION"
				       " SELECT ts FROM packed)"), 1000);
		packed[i] = q_int(st, "SELECT count(*) FROM packed");
		store__free(st);
	}
	/* the kills landed mid-way, and each run went on from where the last stopped */
	assert_true(packed[0] >= 100 && packed[0] < packed[2] && packed[2] < 1000);
}

static void test_migrate_from_v2(void **state)
{
	struct store_selector all = {};
	struct store *st;
	__s64 proc, stack;
	__u64 n = 0;
	char *out;

	(void)state;
	st = old_database("v2.db", 2, &proc, &stack);
	assert_int_equal(q_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'packed'"), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1000, proc, stack, 7), 0);
	assert_int_equal(sqlite__add_samples(sq(st), 1010, proc, stack, 5), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	store__free(st);

	st = store__open(db_path("v2.db"), &writer);
	assert_non_null(st);
	assert_int_equal(store__schema_version(st), STORE_SCHEMA_VERSION);
	assert_int_equal(q_int(st, "SELECT count(*) FROM sqlite_master WHERE name = 'packed'"), 1);
	assert_int_equal(store__compact(st, 1005, 0, &n), 0);
	assert_int_equal(n, 1);
	out = folded(st, &all);
	assert_string_equal(out, "oldapp;main;work 12\n");
	free(out);
	assert_integrity_ok(st);
	store__free(st);
}

/* The rows of @sql, one per line, columns separated by '|'. */
static char *q_rows(struct store *st, const char *sql)
{
	struct strbuf sb = STRBUF_INIT;
	sqlite3_stmt *s;
	int i;

	assert_int_equal(sqlite3_prepare_v2(sq(st)->db, sql, -1, &s, NULL), 0);
	while (sqlite3_step(s) == SQLITE_ROW) {
		for (i = 0; i < sqlite3_column_count(s); i++)
			assert_int_equal(strbuf__addf(&sb, "%s%lld", i ? "|" : "",
						      (long long)sqlite3_column_int64(s, i)), 0);
		assert_int_equal(strbuf__adds(&sb, "\n"), 0);
	}
	sqlite3_finalize(s);
	return sb.buf ? sb.buf : strdup("");
}

/*
 * Version 4 indexes the packed buckets (packed_refs, packed_runs) so that
 * `runs` and garbage collection need not unpack them: a version 3 database
 * with packed buckets gets the same index when opened.
 */
static void test_migrate_from_v3(void **state)
{
	struct store *st = compaction_fixture();
	char *want, *refs, *runs, *got;
	__u64 n = 0;

	(void)state;
	assert_int_equal(store__compact(st, 1025, 0, &n), 0);
	assert_int_equal(n, 3);
	want = snapshot(st);
	refs = q_rows(st, "SELECT kind, id, last_ts FROM packed_refs ORDER BY kind, id");
	runs = q_rows(st, "SELECT ts, run_id, samples FROM packed_runs ORDER BY ts, run_id");
	assert_true(strlen(refs) > 0 && strlen(runs) > 0);
	/* what version 3 had */
	assert_int_equal(store_exec(sq(st), "DROP TABLE packed_refs; DROP TABLE packed_runs;"
				    " DROP TABLE agent_stacks; DROP TABLE source_files;"
				    " DROP TABLE frame_lines; PRAGMA user_version = 3"), 0);
	store__free(st);

	st = store__open(db_path("sel.db"), &writer);
	assert_non_null(st);
	assert_int_equal(store__schema_version(st), STORE_SCHEMA_VERSION);
	got = q_rows(st, "SELECT kind, id, last_ts FROM packed_refs ORDER BY kind, id");
	assert_string_equal(got, refs);
	free(got);
	got = q_rows(st, "SELECT ts, run_id, samples FROM packed_runs ORDER BY ts, run_id");
	assert_string_equal(got, runs);
	free(got);
	assert_same(st, want, "after the migration to version 4");
	/* expiry after the migration keeps what the packed bucket 1020 still uses */
	assert_int_equal(store__expire(st, 1020, &n), 0);
	assert_true(n > 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed_refs WHERE last_ts < 1020"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed_runs WHERE ts < 1020"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM stacks WHERE id NOT IN"
				   " (SELECT stack_id FROM samples) AND id NOT IN"
				   " (SELECT id FROM packed_refs WHERE kind = 1)"), 0);
	free(want);
	free(refs);
	free(runs);
	assert_integrity_ok(st);
	store__free(st);
}

static void test_size_cap_packed(void **state)
{
	struct store *st = fresh("cap-packed.db");
	__u64 used, after, n = 0;
	__s64 run = add_run(st, "h", NULL);
	struct store_selector all = {};

	(void)state;
	fill_buckets(st, run, 300, 60);
	assert_int_equal(store__compact(st, INT64_MAX, 1000, &n), 0);
	assert_int_equal(n, 300);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples"), 0);
	assert_int_equal(store__used_bytes(st, &used), 0);
	assert_int_equal(total(st, &all), 300 * (60 * 61 / 2));
	/* half the packed table: the oldest buckets go, whole */
	n = 0;
	assert_int_equal(store__enforce_size(st, used - q_int(st,
		"SELECT sum(length(data)) FROM packed") / 2, &n), 0);
	assert_int_equal(store__used_bytes(st, &after), 0);
	assert_true(n > 0 && n % 60 == 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed WHERE ts = 10000"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed WHERE ts = 12990"), 1);
	assert_int_equal(total(st, &all), (300 - n / 60) * (60 * 61 / 2));
	assert_int_equal(store__enforce_size(st, 4096, &n), -EFBIG);
	assert_int_equal(q_int(st, "SELECT count(*) FROM packed"), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM stacks"), 0);
	assert_integrity_ok(st);
	store__free(st);
}

static void test_locked_database_retried(void **state)
{
	struct store *st = fresh("locked.db");
	const char *a[] = { "a" };
	sqlite3 *other;
	__s64 run = add_run(st, "h", NULL), proc, stack;

	(void)state;
	assert_int_equal(sqlite3_open(db_path("locked.db"), &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	log_set_quiet(true);
	assert_int_equal(sqlite__begin(sq(st)), -EBUSY);
	sqlite3_exec(other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(other);
	assert_int_equal(sqlite__begin(sq(st)), 0);
	proc = add_proc(st, run, 1, "x", NULL);
	stack = add_stack(st, a, 1);
	assert_int_equal(sqlite__add_samples(sq(st), 1, proc, stack, 1), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	assert_int_equal(q_int(st, "SELECT sum(count) FROM samples"), 1);
	store__free(st);
}

static void test_full_disk_keeps_data(void **state)
{
	struct store *st = fresh("full.db");
	__s64 run = add_run(st, "h", NULL), epoch, pages;
	struct store_selector all = {};
	char sql[64];
	int err = 0, i;

	(void)state;
	fill_buckets(st, run, 5, 10);
	assert_int_equal(total(st, &all), 5 * 55);
	pages = q_int(st, "PRAGMA page_count");
	snprintf(sql, sizeof(sql), "PRAGMA max_page_count = %lld", (long long)pages);
	assert_int_equal(q_int(st, sql), pages);
	epoch = sqlite__epoch(sq(st));
	log_set_quiet(true);
	/* a batch far bigger than the free space: some step or the commit fails */
	assert_int_equal(sqlite__begin(sq(st)), 0);
	for (i = 0; i < 20000 && !err; i++)
		err = sqlite__add_samples(sq(st), 50000 + i, 1, 1, 1);
	if (!err)
		err = sqlite__commit(sq(st));
	else
		sqlite__rollback(sq(st));
	assert_int_equal(err, -ENOSPC);
	assert_int_not_equal(sqlite__epoch(sq(st)), epoch);
	/* nothing of the batch, everything from before */
	assert_int_equal(total(st, &all), 5 * 55);
	assert_int_equal(q_int(st, "SELECT count(*) FROM samples WHERE ts >= 50000"), 0);
	assert_integrity_ok(st);
	/* space again: the retried batch lands */
	assert_int_equal(q_int(st, "PRAGMA max_page_count = 1000000"), 1000000);
	assert_int_equal(sqlite__begin(sq(st)), 0);
	for (i = 0; i < 20000; i++)
		assert_int_equal(sqlite__add_samples(sq(st), 50000 + i, 1, 1, 1), 0);
	assert_int_equal(sqlite__commit(sq(st)), 0);
	assert_int_equal(total(st, &all), 5 * 55 + 20000);
	store__free(st);
}

static void test_measure(void **state)
{
	struct store *st = fresh("measure.db");
	struct store_measure m;
	__s64 run = add_run(st, "h", NULL);

	(void)state;
	fill_buckets(st, run, 20, 10);
	assert_int_equal(store__measure(st, &m), 0);
	assert_int_equal(m.samples, 20 * 55);
	assert_int_equal(m.sample_rows, 200);
	assert_int_equal(m.buckets, 20);
	assert_int_equal(m.stacks, 10);
	assert_true(m.used_bytes > 0);
	assert_true(m.stack_blob_bytes >= 20 && m.stack_blob_zstd > 0);
	assert_true(m.bucket_packed_bytes >= 20 * 10 * 3 && m.bucket_packed_zstd > 0);
	store__free(st);
}

/* ---- damaged and foreign files ---- */

/*
 * Every damaged copy (tests/store_damage.h): a reader is refused with the
 * expected error, or opens and fails with -EBADMSG when it reads the damaged
 * part; a writer is refused as well, before it writes; and neither changes a
 * byte of the file or its log.
 */
static void test_damaged_files_refused(void **state)
{
	struct store_selector all = {};
	struct damage_bytes before;
	struct store *st;
	char *path = db_path("damaged.db");
	size_t i;
	__u64 n;

	(void)state;
	for (i = 0; i < NR_DAMAGE_CASES; i++) {
		const struct damage_case *c = &damage_cases[i];

		print_message("%s\n", c->name);
		damage_good_database(path);
		c->damage(path);
		damage_remember(path, &before);
		errno = 0;
		st = store__open(path, NULL);
		if (c->open_err) {
			assert_null(st);
			assert_int_equal(-errno, c->open_err);
		} else {
			assert_non_null(st);
			n = 0;
			assert_int_equal(store__query_stacks(st, &all, count_fn, &n),
					 c->query_err ? -EBADMSG : 0);
			store__free(st);
		}
		damage_assert_unchanged(path, &before, c->name);

		damage_good_database(path);
		c->damage(path);
		damage_remember(path, &before);
		errno = 0;
		st = store__open(path, &writer);
		if (c->writer_ok) {
			assert_non_null(st);
			store__free(st);
			for (n = 0; n < 3; n++)
				free(before.data[n]);
			continue;
		}
		assert_null(st);
		assert_int_equal(-errno, c->open_err);
		damage_assert_unchanged(path, &before, c->name);
	}
	damage_unlink_all(path);
}

static int sum_run_samples(void *ctx, const struct store_run_info *run)
{
	*(__u64 *)ctx += run->samples;
	return 0;
}

/* A reader of an older schema reads it as it is: same answers, the file untouched. */
static void test_reader_of_old_schema(void **state)
{
	struct store_selector all = {};
	struct damage_bytes before;
	struct store *st;
	__s64 proc, stack;
	__u64 n;
	char *out;
	int v;

	(void)state;
	for (v = 1; v < STORE_SCHEMA_VERSION; v++) {
		st = old_database("old-reader.db", v, &proc, &stack);
		assert_int_equal(sqlite__add_samples(sq(st), 1000, proc, stack, 7), 0);
		/* version 4 and later index their packed buckets: plain rows there */
		if (v != 3) {
			assert_int_equal(sqlite__add_samples(sq(st), 1010, proc, stack, 5), 0);
		} else {
			/* a packed bucket, as version 3 wrote them: not in packed_runs */
			struct packed_rows r = {};
			struct strbuf blob = STRBUF_INIT;
			sqlite3_stmt *s;

			assert_int_equal(packed_rows__add(&r, proc, stack, 5), 0);
			assert_int_equal(packed_rows__encode(&r, &blob), 0);
			assert_int_equal(sqlite3_prepare_v2(sq(st)->db, "INSERT INTO packed(ts, rows,"
							    " samples, data) VALUES (1010, 1, 5, ?1)",
							    -1, &s, NULL), 0);
			sqlite3_bind_blob(s, 1, blob.buf, blob.len, SQLITE_STATIC);
			assert_int_equal(sqlite3_step(s), SQLITE_DONE);
			sqlite3_finalize(s);
			packed_rows__release(&r);
			strbuf__release(&blob);
		}
		assert_int_equal(sqlite__commit(sq(st)), 0);
		store__free(st);

		damage_remember(db_path("old-reader.db"), &before);
		st = store__open(db_path("old-reader.db"), NULL);
		assert_non_null(st);
		assert_int_equal(store__schema_version(st), v);
		out = folded(st, &all);
		assert_string_equal(out, "oldapp;main;work 12\n");
		free(out);
		n = 0;
		assert_int_equal(store__list_runs(st, &all, sum_run_samples, &n), 0);
		assert_int_equal(n, 12);
		store__free(st);
		damage_assert_unchanged(db_path("old-reader.db"), &before, "old schema");
	}
}

/* ---- source lines of frames (schema version 6) ---- */

struct sample_rows {
	struct strbuf out;
};

static int add_sample_row(void *ctx, const struct store_sample_key *key,
			  const struct store_query_frame *frames, int nr, __u64 count)
{
	struct sample_rows *r = ctx;
	int i;

	strbuf__addf(&r->out, "%s/%u/%s", key->host, key->pid, key->comm);
	for (i = 0; i < nr; i++)
		strbuf__addf(&r->out, ";%s@%s+%llx/%d %s:%d", frames[i].name ?: "?",
			     frames[i].build_id, (unsigned long long)frames[i].addr,
			     frames[i].depth, frames[i].file, frames[i].line);
	strbuf__addf(&r->out, " %llu\n", (unsigned long long)count);
	return 0;
}

static char *sample_rows(struct store *st)
{
	struct sample_rows r = { STRBUF_INIT };
	struct store_selector all = {};

	assert_int_equal(store__query_samples(st, &all, add_sample_row, &r), 0);
	return r.out.buf ? r.out.buf : strdup("");
}

/*
 * A frame's file and line go in with the batch and come back from the
 * frame-level query with its build id, offset and depth, per host, pid and
 * process; a database of version 5 (without them) answers with none.
 */
static void test_frame_lines(void **state)
{
	const struct store_frame fr[] = {
		{ .module = "app", .build_id = "ab12", .addr = 0x1234, .name = "main",
		  .file = "/src/app.c", .line = 40 },
		{ .module = "app", .build_id = "ab12", .addr = 0x1234, .name = "helper", .depth = 1,
		  .inlined = true, .file = "/src/util.h", .line = 7 },
		{ .kernel = true, .module = "[kernel]", .addr = 0xffffffff81000010ULL,
		  .name = "do_syscall_64" },
	};
	const __u32 s0[] = { 0, 1 }, s1[] = { 0, 1, 2 };
	const struct store_stack stacks[] = { { s0, 2 }, { s1, 3 } };
	const struct store_process procs[] = { { .pid = 42, .comm = "app", .start_time = 9 },
					       { .pid = 43, .comm = "app", .start_time = 9 } };
	const struct store_count counts[] = {
		{ .ts = 1000, .process = 0, .stack = 0, .count = 3 },
		{ .ts = 1010, .process = 1, .stack = 0, .count = 4 },
		{ .ts = 1010, .process = 1, .stack = 1, .count = 5 },
	};
	struct store_batch b = {
		.frames = fr, .nr_frames = 3, .stacks = stacks, .nr_stacks = 2,
		.processes = procs, .nr_processes = 2, .counts = counts, .nr_counts = 3,
	};
	struct store *st = fresh("lines.db");
	char *got;

	(void)state;
	b.run_id = add_run(st, "h1", NULL);
	assert_int_equal(store__write_batch(st, &b), 0);
	/* written again (a new epoch after reopening): the lines are not doubled */
	store__free(st);
	st = store__open(db_path("lines.db"), &writer);
	assert_non_null(st);
	assert_int_equal(store__write_batch(st, &b), 0);
	assert_int_equal(q_int(st, "SELECT count(*) FROM frame_lines"), 2);
	assert_int_equal(q_int(st, "SELECT count(*) FROM source_files"), 2);
	got = sample_rows(st);
	assert_non_null(strstr(got, "h1/42/app;main@ab12+1234/0 /src/app.c:40;"
				    "helper@ab12+1234/1 /src/util.h:7 6\n"));
	assert_non_null(strstr(got, "h1/43/app;main@ab12+1234/0 /src/app.c:40;"
				    "helper@ab12+1234/1 /src/util.h:7 8\n"));
	assert_non_null(strstr(got, "h1/43/app;main@ab12+1234/0 /src/app.c:40;"
				    "helper@ab12+1234/1 /src/util.h:7;"
				    "do_syscall_64@+ffffffff81000010/0 :0 10\n"));
	free(got);
	/* what version 5 had: the frames without their lines */
	assert_int_equal(store_exec(sq(st), "DROP TABLE frame_lines; DROP TABLE source_files;"
				    " PRAGMA user_version = 5"), 0);
	store__free(st);
	st = store__open(db_path("lines.db"), NULL);
	assert_non_null(st);
	assert_int_equal(store__schema_version(st), 5);
	got = sample_rows(st);
	assert_non_null(strstr(got, "h1/43/app;main@ab12+1234/0 :0;helper@ab12+1234/1 :0;"
				    "do_syscall_64@+ffffffff81000010/0 :0 10\n"));
	free(got);
	store__free(st);
}

/* ---- the packed-bucket decoder on arbitrary bytes ---- */

static void test_packed_decoder_roundtrip(void **state)
{
	struct packed_rows in = {}, out = {};
	struct strbuf blob = STRBUF_INIT;
	size_t nr, i;

	(void)state;
	/* a few rows stay varints; many similar ones are worth zstd */
	for (nr = 3; nr <= 3000; nr *= 1000) {
		in.nr = 0;
		for (i = 0; i < nr; i++)
			assert_int_equal(packed_rows__add(&in, 1 + i / 7, 1 + i * 3 % 101, i + 1), 0);
		packed_rows__merge(&in);
		assert_int_equal(packed_rows__encode(&in, &blob), 0);
		assert_int_equal(blob.buf[0], nr == 3 ? 0 : 1);
		out.nr = 0;
		assert_int_equal(packed_rows__decode(&out, blob.buf, blob.len, in.nr), 0);
		assert_int_equal(out.nr, in.nr);
		assert_memory_equal(out.v, in.v, in.nr * sizeof(*in.v));
		/* one row more than the bucket declares is corrupt */
		out.nr = 0;
		assert_int_equal(packed_rows__decode(&out, blob.buf, blob.len, in.nr - 1), -EBADMSG);
	}
	/* equal rows merge into one count, saturated where SQLite's integers end */
	in.nr = 0;
	assert_int_equal(packed_rows__add(&in, 2, 3, INT64_MAX - 1), 0);
	assert_int_equal(packed_rows__add(&in, 2, 3, 5), 0);
	assert_int_equal(packed_rows__add(&in, 1, 3, 5), 0);
	packed_rows__merge(&in);
	assert_int_equal(in.nr, 2);
	assert_true(in.v[0].proc == 1 && in.v[0].count == 5);
	assert_true(in.v[1].proc == 2 && in.v[1].count == INT64_MAX);
	/* merging nothing is nothing (no qsort of a NULL array) */
	packed_rows__release(&in);
	packed_rows__merge(&in);
	assert_int_equal(in.nr, 0);
	packed_rows__release(&out);
	strbuf__release(&blob);
}

static void test_packed_decoder_rejects(void **state)
{
	static const struct {
		const char *name;
		const char *blob;
		size_t len;
	} cases[] = {
#define BLOB(s) s, sizeof(s) - 1
		{ "empty", BLOB("") },
		{ "unknown format", BLOB("\x02\x01\x01\x01") },
		{ "truncated varint", BLOB("\x00\x81") },
		{ "half a row", BLOB("\x00\x01\x01") },
		{ "process 0", BLOB("\x00\x00\x01\x01") },
		{ "stack 0", BLOB("\x00\x01\x00\x01") },
		{ "process id overflows", BLOB("\x00\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x01\x01"
					       "\x01\x01\x01") },
		{ "stack id overflows", BLOB("\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x01"
					     "\x00\x01\x01") },
		{ "count beyond int64", BLOB("\x00\x01\x01\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01") },
		{ "a row twice", BLOB("\x00\x01\x01\x01\x00\x00\x01") },
		{ "zstd without its length", BLOB("\x01") },
		{ "zstd length without a frame", BLOB("\x01\x05") },
		{ "zstd frame that is not one", BLOB("\x01\x05\x28\xb5\x2f\xfd\x00\x00") },
#undef BLOB
	};
	struct packed_rows r = {};
	size_t i, len;
	void *bomb;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r.nr = 0;
		if (packed_rows__decode(&r, cases[i].blob, cases[i].len, 1000) != -EBADMSG)
			fail_msg("%s: not refused", cases[i].name);
	}
	/* the last good row before an overflow was decoded, nothing wrapped around */
	r.nr = 0;
	assert_int_equal(packed_rows__decode(&r, cases[6].blob, cases[6].len, 1000), -EBADMSG);
	assert_int_equal(r.nr, 1);
	assert_true(r.v[0].proc == INT64_MAX);

	/* a frame declaring 1 GiB: refused before anything that size is allocated */
	bomb = damage_zstd_blob(1ULL << 30, &len);
	r.nr = 0;
	assert_int_equal(packed_rows__decode(&r, bomb, len, STORE_PACKED_MAX_ROWS), -EBADMSG);
	assert_int_equal(packed_rows__decode(&r, bomb, len, STORE_PACKED_MAX_ROWS + 1), -EBADMSG);
	free(bomb);
	/* one declaring what the rows can take, but holding zeros: process 0, corrupt */
	bomb = damage_zstd_blob(30 * 1000, &len);
	assert_int_equal(packed_rows__decode(&r, bomb, len, 1000), -EBADMSG);
	free(bomb);
	packed_rows__release(&r);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) ? -1 : 0;
}


/*
 * The content hashes are written into PostgreSQL columns: frozen. These
 * values were computed once; a change here means a new hash version and a
 * schema migration, never an edit of the expected values.
 */
static void test_content_hashes_v1(void **state)
{
	const struct store_frame user = {
		.module = "libc.so.6", .build_id = "0123abcd", .addr = 0x29d90,
		.name = "__libc_start_main", .depth = 1, .inlined = true,
	};
	const struct store_frame kernel = {
		.kernel = true, .module = "[kernel]", .addr = 0xffffffff81000000ULL,
	};
	const struct store_process proc = { .pid = 4242, .comm = "postgres", .start_time = 1700000000 };
	struct store_frame unnamed = user;
	__s64 frames[2];

	(void)state;
	frames[0] = store_frame_hash_v1(&user);
	frames[1] = store_frame_hash_v1(&kernel);
	assert_true(frames[0] == HASH_USER);
	assert_true(frames[1] == HASH_KERNEL);
	assert_true(store_stack_hash_v1(frames, 2) == HASH_STACK);
	assert_true(store_stack_hash_v1(NULL, 0) == HASH_EMPTY);
	assert_true(store_process_hash_v1(7, &proc) == HASH_PROC);
	/* every field is in the hash: NULL and "" names differ */
	unnamed.name = NULL;
	assert_true(store_frame_hash_v1(&unnamed) != frames[0]);
	unnamed.name = "";
	assert_true(store_frame_hash_v1(&unnamed) != frames[0]);
	unnamed = user;
	unnamed.jit = true;
	assert_true(store_frame_hash_v1(&unnamed) != frames[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_created),
		cmocka_unit_test(test_wal_mode),
		cmocka_unit_test(test_migrate_from_v1),
		cmocka_unit_test(test_newer_and_foreign_files_refused),
		cmocka_unit_test(test_stacks_and_frames_interned),
		cmocka_unit_test(test_bucket_aggregation),
		cmocka_unit_test(test_kernel_and_unknown_frames_folded),
		cmocka_unit_test(test_corrupt_stack_reported),
		cmocka_unit_test(test_selectors),
		cmocka_unit_test(test_runs_listed_by_selector),
		cmocka_unit_test(test_selector_options),
		cmocka_unit_test(test_time_and_size_parsers),
		cmocka_unit_test(test_varint_roundtrip),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_locked_database_retried),
		cmocka_unit_test(test_full_disk_keeps_data),
		cmocka_unit_test(test_measure),
		cmocka_unit_test(test_retention_packed),
		cmocka_unit_test(test_size_cap_packed),
		cmocka_unit_test(test_compaction_keeps_answers),
		cmocka_unit_test(test_corrupt_packed_bucket_reported),
		cmocka_unit_test(test_compaction_killed),
		cmocka_unit_test(test_migrate_from_v2),
		cmocka_unit_test(test_migrate_from_v3),
		cmocka_unit_test(test_damaged_files_refused),
		cmocka_unit_test(test_reader_of_old_schema),
		cmocka_unit_test(test_frame_lines),
		cmocka_unit_test(test_packed_decoder_roundtrip),
		cmocka_unit_test(test_packed_decoder_rejects),
		cmocka_unit_test(test_content_hashes_v1),
	};

	return cmocka_run_group_tests_name("store", tests, setup, teardown);
}
