// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet: the PostgreSQL backend against a real server this test starts
 * (tests/pg.h), and the same data in SQLite and PostgreSQL giving
 * byte-identical `profile folded` and `profile top` output for every
 * selector; the errors for a server that is not there, a database of another
 * schema version, and a refused password.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e.h"
#include "pg.h"
#include "store/store.h"
#include "common/strbuf.h"

static struct pg_server server;

static int setup(void **state)
{
	if (setup_group(state))
		return -1;
	return pg_server__init(&server);
}

static int teardown(void **state)
{
	pg_server__remove(&server);
	return teardown_group(state);
}

/* Run the profile binary with @args (NULL-terminated); stdout and stderr to files. */
static int profile(const char *out, const char *err, ...)
{
	const char *argv[32] = { env_path("PROFILE") };
	va_list ap;
	int n = 1;

	va_start(ap, err);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return wait_exit(spawn(argv, out, err));
}

/* The first number psql prints for @sql in database @db; -1 for none. */
static int psql_count(const char *db, const char *sql)
{
	char cmd[1024];
	int n = -1;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/psql -X -At -h %s -p %d -U postgres -d %s -c \"%s\"",
		 server.bin, server.dir, server.port, db, sql);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	pclose(f);
	return n;
}

/* ---- one data set, written to both backends ---- */

#define T0 1700000000LL	/* 2023-11-14 22:13:20 UTC: buckets cross a day */

static const struct store_frame frames[] = {
	{ .module = "app", .build_id = "aa11", .addr = 0x1000, .name = "main",
	  .file = "/src/app.c", .line = 12 },
	{ .module = "app", .build_id = "aa11", .addr = 0x1100, .name = "work" },
	{ .module = "app", .build_id = "aa11", .addr = 0x1200, .name = "inner", .depth = 1,
	  .inlined = true, .file = "/src/inner \"h\".h", .line = 3, .start_line = 1 },
	{ .module = "libc.so.6", .build_id = "cc33", .addr = 0x29d90, .name = "memcpy" },
	{ .module = "libc.so.6", .build_id = "cc33", .addr = 0x29e00, .name = NULL },
	{ .kernel = true, .module = "[kernel]", .addr = 0xffffffff81000000ULL,
	  .name = "do_syscall_64" },
	{ .module = "[anon]", .addr = 0x7f00, .name = "jitted \"quoted\", {braced}\\", .jit = true },
	{ .module = "db", .build_id = "bb22", .addr = 0x500, .name = "std::map<int, char>::find" },
	{ .module = "db", .build_id = "bb22", .addr = 0x600, .name = "" },
};

static const __u32 s0[] = { 0, 1 }, s1[] = { 0, 1, 2 }, s2[] = { 0, 3, 5 }, s3[] = { 0, 4 },
		  s4[] = { 6 }, s5[] = { 7, 8, 5 };
static const struct store_stack stacks[] = {
	{ s0, 2 }, { s1, 3 }, { s2, 3 }, { s3, 2 }, { s4, 1 }, { s5, 3 }, { NULL, 0 },
};

static const struct store_process procs[] = {
	{ .pid = 101, .comm = "app", .exe_build_id = "aa11", .start_time = T0 - 5 },
	{ .pid = 102, .comm = "app", .exe_build_id = "aa11", .start_time = T0 - 3 },
	{ .pid = 201, .comm = "db", .exe_build_id = "bb22", .start_time = T0 - 9,
	  .cgroup = "/system.slice/db.service" },
};

static const char *const labels_prod[] = { "env=prod", "team=core" };
static const char *const labels_test[] = { "env=test" };

/* Three runs on three hosts, each with two batches over 30 buckets that cross midnight UTC. */
static void fill(struct store *st)
{
	static const char *const hosts[] = { "h1", "h2", "h3" };
	struct store_count counts[64];
	struct store_batch b = {
		.frames = frames, .nr_frames = sizeof(frames) / sizeof(frames[0]),
		.stacks = stacks, .nr_stacks = sizeof(stacks) / sizeof(stacks[0]),
		.processes = procs, .nr_processes = 3, .counts = counts,
	};
	int r, batch, i;

	for (r = 0; r < 3; r++) {
		struct store_run run = {
			.kind = r == 2 ? "record" : "agent", .host = hosts[r], .cmdline = "profile agent",
			.freq = 99, .start_ms = (T0 - 60) * 1000,
			.labels = r == 2 ? labels_test : labels_prod, .nr_labels = r == 2 ? 1 : 2,
		};

		assert_int_equal(store__add_run(st, &run, &b.run_id), 0);
		for (batch = 0; batch < 2; batch++) {
			b.nr_counts = 0;
			for (i = 0; i < 30; i++) {
				/* bucket i of run r; the second batch repeats some rows: they add up */
				counts[b.nr_counts++] = (struct store_count){
					.ts = T0 + 7000 + 10 * i + 3600 * r,
					.process = (i + r) % 3,
					.stack = (i * 3 + r + batch) % 7,
					.count = 1 + (i * 13 + r * 5 + batch) % 11,
				};
				/* and some buckets hold two processes */
				if ((i + batch) % 4 == 0)
					counts[b.nr_counts++] = (struct store_count){
						.ts = T0 + 7000 + 10 * i + 3600 * r,
						.process = (i + r + 1) % 3,
						.stack = (i + r) % 6,
						.count = 200 + i * r,
					};
			}
			assert_int_equal(store__write_batch(st, &b), 0);
		}
		assert_int_equal(store__end_run(st, b.run_id, (T0 + 20000) * 1000), 0);
	}
}

/* Store @db (a SQLite path or a PostgreSQL URI), created if need be, filled by @fn. */
static void fill_store(const char *db, void (*fn)(struct store *))
{
	const struct store_opts o = { .create = true };
	struct store *st = store__open(db, &o);

	assert_non_null(st);
	fn(st);
	store__free(st);
}

static void compare_with(const char *cmd, const char *const *sel, const char *sqlite_db,
			 const char *pg_db)
{
	const char *dbs[2] = { sqlite_db, pg_db };
	char *outs[2];
	int i;

	for (i = 0; i < 2; i++) {
		const char *argv[20] = { env_path("PROFILE"), cmd, "--db", dbs[i] };
		int n = 4, j;

		for (j = 0; sel[j]; j++)
			argv[n++] = sel[j];
		argv[n] = NULL;
		assert_int_equal(wait_exit(spawn(argv, tmp(i ? "pg.out" : "sq.out"), tmp("err"))), 0);
		outs[i] = slurp(tmp(i ? "pg.out" : "sq.out"));
	}
	if (strcmp(outs[0], outs[1]))
		fail_msg("%s %s...: SQLite and PostgreSQL differ:\n%s\n---\n%s", cmd, sel[0] ?: "",
			 outs[0], outs[1]);
	free(outs[0]);
	free(outs[1]);
}

static void compare(const char *cmd, const char *const *sel, const char *sqlite_db)
{
	compare_with(cmd, sel, sqlite_db, server.uri);
}

static int add_sample_line(void *ctx, const struct store_sample_key *key,
			   const struct store_query_frame *fr, int nr, __u64 count)
{
	struct strbuf *out = ctx;
	int i;

	strbuf__addf(out, "%s/%u/%s", key->host, key->pid, key->comm);
	for (i = 0; i < nr; i++)
		strbuf__addf(out, ";%s %s %s+%llx/%d%s %s:%d:%d", fr[i].name ?: "?",
			     fr[i].module, fr[i].build_id,
			     (unsigned long long)fr[i].addr, fr[i].depth,
			     fr[i].kernel ? "k" : fr[i].inlined ? "i" : fr[i].jit ? "j" : "",
			     fr[i].file, fr[i].line, fr[i].start_line);
	strbuf__addf(out, " %llu\n", (unsigned long long)count);
	return 0;
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* store__query_samples() of @db as lines, sorted (the backends' row orders differ). */
static char *sample_lines(const char *db)
{
	struct strbuf out = STRBUF_INIT, sorted = STRBUF_INIT;
	struct store_selector all = {};
	struct store *st = store__open(db, NULL);
	char *lines[4096], *p, *save = NULL;
	size_t n = 0, i;

	assert_non_null(st);
	assert_int_equal(store__query_samples(st, &all, add_sample_line, &out), 0);
	store__free(st);
	assert_non_null(out.buf);
	for (p = strtok_r(out.buf, "\n", &save); p && n < 4096; p = strtok_r(NULL, "\n", &save))
		lines[n++] = p;
	qsort(lines, n, sizeof(lines[0]), cmp_lines);
	for (i = 0; i < n; i++)
		strbuf__addf(&sorted, "%s\n", lines[i]);
	strbuf__release(&out);
	return sorted.buf;
}

static int add_point_line(void *ctx, __s64 ts, __u64 count)
{
	return strbuf__addf(ctx, "%lld %llu\n", (long long)ts, (unsigned long long)count);
}

static int add_build_line(void *ctx, const char *build_id, const char *comm, __u64 n)
{
	return strbuf__addf(ctx, "%s %s %llu\n", build_id, comm, (unsigned long long)n);
}

/* store__query_timeline() (two steps) and store__query_builds() of @db for @sel, as text. */
static char *timeline_and_builds(const char *db, const struct store_selector *sel)
{
	struct strbuf out = STRBUF_INIT;
	struct store *st = store__open(db, NULL);

	assert_non_null(st);
	assert_int_equal(store__query_timeline(st, sel, 60, add_point_line, &out), 0);
	strbuf__adds(&out, "--\n");
	assert_int_equal(store__query_timeline(st, sel, 3600, add_point_line, &out), 0);
	strbuf__adds(&out, "--\n");
	assert_int_equal(store__query_builds(st, sel, add_build_line, &out), 0);
	store__free(st);
	assert_non_null(out.buf);
	return out.buf;
}

/* The timelines and builds of both backends, for selectors the edges and the rollups answer. */
static void compare_timelines(const char *sqlite_db, const char *pg_db)
{
	static const __u32 pids[] = { 102, 201 };
	static const char *const h2[] = { "h2" };
	const struct store_selector sels[] = {
		{ 0 },
		{ .comm = "db" },
		{ .pids = pids, .nr_pids = 2 },
		{ .since = T0 + 7100, .until = T0 + 10800 },
		{ .since = T0 + 7100, .until = T0 + 14400, .comm = "app" },
		{ .hosts = h2, .nr_hosts = 1, .build_id = "bb" },
		{ .since = T0 + 9000, .hosts = h2, .nr_hosts = 1 },
	};
	size_t i;

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		char *sq = timeline_and_builds(sqlite_db, &sels[i]);
		char *pg = timeline_and_builds(pg_db, &sels[i]);

		if (strcmp(sq, pg))
			fail_msg("selector %zu: timelines or builds differ:\n%s\n---\n%s", i, sq, pg);
		assert_true(i == 5 || strlen(sq) > 8);	/* not all empty */
		free(sq);
		free(pg);
	}
}

static void test_same_answers(void **state)
{
	const struct store_opts o = { .create = true };
	static const char *const sels[][8] = {
		{ NULL },
		{ "--host", "h1", NULL },
		{ "--comm", "db", NULL },
		{ "--pid", "101,201", NULL },
		{ "--since", "@1700007100", "--until", "@1700010800", NULL },
		{ "--label", "env=prod", NULL },
		{ "--label", "env=prod", "--label", "team=core", "--comm", "app", NULL },
		{ "--build-id", "bb", NULL },
		{ "--run", "2", NULL },
		{ "--host", "h3", "--since", "@1700014000", NULL },
		{ "--host", "nosuch", NULL },
		{ "--host", "h*", NULL },
		{ "--host", "h1", "--host", "h[23]", "--comm", "app", NULL },
		{ "--host", "?[^2]", "--since", "@1700007100", NULL },
		{ "--host", "[!h]*", NULL },
	};
	struct store *st;
	size_t i;
	char *folded;

	(void)state;
	unlink(tmp("equal.db"));
	st = store__open(tmp("equal.db"), &o);
	assert_non_null(st);
	assert_string_equal(store__backend(st), "sqlite");
	fill(st);
	store__free(st);
	st = store__open(server.conninfo, &o);
	assert_non_null(st);
	assert_string_equal(store__backend(st), "postgresql");
	fill(st);
	store__free(st);

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		compare("folded", sels[i], tmp("equal.db"));
		compare("top", sels[i], tmp("equal.db"));
		compare("flamegraph", sels[i], tmp("equal.db"));
	}
	compare_timelines(tmp("equal.db"), server.conninfo);
	/* the server's varints are the ones bucket_entries() reads; out of range is an error */
	assert_int_equal(psql_count("postgres", "SELECT count(*) FROM (VALUES (0, '00'),"
				    " (127, '7f'), (128, '8001'), (16383, 'ff7f'), (16384, '808001'),"
				    " (2097151, 'ffff7f'), (2097152, '80808001'), (268435455, 'ffffff7f'),"
				    " (268435456, '8080808001'), (34359738367, 'ffffffff7f')) AS t(v, h)"
				    " WHERE encode(profile_varint(v), 'hex') = h"), 10);
	assert_int_not_equal(pg_server__psql(&server, "SELECT profile_varint(v) FROM"
					     " (VALUES (34359738368)) AS t(v)"), 0);
	assert_int_not_equal(pg_server__psql(&server, "SELECT profile_varint(v) FROM"
					     " (VALUES (-1)) AS t(v)"), 0);
	/* a pattern no backend could take is refused before either sees it */
	assert_int_not_equal(profile(tmp("out"), tmp("err"), "folded", "--db", server.uri,
				     "--host", "h[12", NULL), 0);
	folded = slurp(tmp("err"));
	if (!strstr(folded, "invalid --host 'h[12': a '[' without its ']'"))
		fail_msg("unexpected error: %s", folded);
	free(folded);
	/* not trivially equal: the whole set is there, with its awkward names */
	assert_int_equal(profile(tmp("all.out"), tmp("err"), "folded", "--db", server.uri, NULL),
			 0);
	folded = slurp(tmp("all.out"));
	if (!strstr(folded, "jitted \"quoted\", {braced}\\"))
		fail_msg("the awkward name is not there:\n%s", folded);
	assert_non_null(strstr(folded, "std::map<int, char>::find"));
	assert_non_null(strstr(folded, "do_syscall_64"));
	free(folded);
	/* the exports' query: frames with their binaries, addresses and lines, per host and pid */
	{
		char *sq = sample_lines(tmp("equal.db")), *pg = sample_lines(server.conninfo);

		if (strcmp(sq, pg))
			fail_msg("store__query_samples: SQLite and PostgreSQL differ:\n%s\n---\n%s",
				 sq, pg);
		assert_non_null(strstr(sq, "h2/201/db;"));
		assert_non_null(strstr(sq, ";main app aa11+1000/0 /src/app.c:12:0;work app aa11+1100/0 :0:0;"
					   "inner app aa11+1200/1i /src/inner \"h\".h:3:1"));
		free(sq);
		free(pg);
	}
}

/* A one-line error naming the server and the cause; non-zero exit. */
static void expect_error(const char *db, const char *what)
{
	char *err;

	assert_int_not_equal(profile(tmp("out"), tmp("err"), "folded", "--db", db, NULL), 0);
	err = slurp(tmp("err"));
	if (!strstr(err, what) || strchr(err, '\n') != err + strlen(err) - 1)
		fail_msg("expected one line with '%s', got: %s", what, err);
	free(err);
}

static void test_errors(void **state)
{
	char db[512];
	const struct store_opts o = { .create = true };
	struct store *st;

	(void)state;
	/* nobody listens on that port */
	snprintf(db, sizeof(db), "host=%s port=%d dbname=postgres user=postgres", server.dir,
		 server.port + 1);
	expect_error(db, "cannot connect to PostgreSQL");
	/* a database without the schema: a reader does not create it */
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE empty"), 0);
	snprintf(db, sizeof(db), "postgresql:///empty?host=%s&port=%d&user=postgres", server.dir,
		 server.port);
	expect_error(db, "holds no profile schema");
	/* another (newer) schema version */
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE newer"), 0);
	snprintf(db, sizeof(db), "postgresql:///newer?host=%s&port=%d&user=postgres", server.dir,
		 server.port);
	st = store__open(db, &o);
	assert_non_null(st);
	store__free(st);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=newer user=postgres", server.dir,
		 server.port);
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s/psql -X -q -h %s -p %d -U postgres -d newer -c"
			 " 'UPDATE profile_schema SET version = 99' >/dev/null", server.bin,
			 server.dir, server.port);
		assert_int_equal(system(cmd), 0);
	}
	expect_error(db, "newer than this profile knows");
	/* a refused password */
	assert_int_equal(pg_server__psql(&server, "CREATE ROLE locked LOGIN PASSWORD 'right'"), 0);
	snprintf(db, sizeof(db), "postgresql://locked:wrong@localhost:%d/postgres?host=%s",
		 server.port, server.dir);
	{
		char hba[256], cmd[512];
		FILE *f;

		snprintf(hba, sizeof(hba), "%s/data/pg_hba.conf", server.dir);
		f = fopen(hba, "w");
		assert_non_null(f);
		fprintf(f, "local all postgres trust\nlocal all all scram-sha-256\n");
		fclose(f);
		snprintf(cmd, sizeof(cmd), "%s/psql -X -q -h %s -p %d -U postgres -c"
			 " 'SELECT pg_reload_conf()' >/dev/null", server.bin, server.dir,
			 server.port);
		assert_int_equal(system(cmd), 0);
	}
	expect_error(db, "password authentication failed");
	/* and the password is not in the message */
	{
		char *err = slurp(tmp("err"));

		assert_null(strstr(err, "wrong"));
		free(err);
	}
	/* a frame, then the stacks, that the samples name are missing: one line, non-zero exit */
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE broken"), 0);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=broken user=postgres", server.dir,
		 server.port);
	st = store__open(db, &o);
	assert_non_null(st);
	fill(st);
	store__free(st);
	assert_int_equal(profile(tmp("out"), tmp("err"), "folded", "--db", db, NULL), 0);
	{
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s/psql -X -q -h %s -p %d -U postgres -d broken -c"
			 " 'DELETE FROM frames WHERE hash ="
			 " (SELECT max(f) FROM stacks, unnest(frames) f)' >/dev/null",
			 server.bin, server.dir, server.port);
		assert_int_equal(system(cmd), 0);
		expect_error(db, "a stack refers to missing frame");
		snprintf(cmd, sizeof(cmd), "%s/psql -X -q -h %s -p %d -U postgres -d broken -c"
			 " 'DELETE FROM stacks' >/dev/null", server.bin, server.dir, server.port);
		assert_int_equal(system(cmd), 0);
		expect_error(db, "samples refer to missing stack");
	}
}

/* ---- shipping, with the central server failing under it ---- */

struct timeline {
	__s64 ts[4096];
	__u64 n[4096];
	int nr;
};

static int add_point(void *ctx, __s64 ts, __u64 count)
{
	struct timeline *t = ctx;

	if (t->nr < 4096) {
		t->ts[t->nr] = ts;
		t->n[t->nr++] = count;
	}
	return 0;
}

static void timeline_of(const char *db, const char *host, struct timeline *t)
{
	struct store_selector sel = { .hosts = &host, .nr_hosts = 1 };
	struct store *st = store__open(db, NULL);

	assert_non_null(st);
	t->nr = 0;
	assert_int_equal(store__query_timeline(st, &sel, 1, add_point, t), 0);
	store__free(st);
}

static int count_lines_with(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)); p += strlen(what))
		n++;
	return n;
}

static void test_agent_ships_through_faults(void **state)
{
	char wl[4096], local[4096], *log, *top;
	const char *wlargv[] = { wl, "20", tmp("truth.txt"), NULL };
	const char *agargv[] = {
		env_path("PROFILE"), "agent", "--db", local, "--push", server.uri, "--host",
		"fleet-h1", "--flush-interval", "1", "--interval", "0.5", "--bucket", "1",
		"--stats-interval", "0", "--compact-after", "0", NULL,
	};
	struct timeline *lt = calloc(1, sizeof(*lt)), *ct = calloc(1, sizeof(*ct));
	__u64 lsum = 0, csum = 0;
	pid_t wpid, apid;
	int i, j;

	(void)state;
	REQUIRE_BPF();
	snprintf(wl, sizeof(wl), "%s/wl_split", env_path("WORKLOADS"));
	snprintf(local, sizeof(local), "%s", tmp("agent-local.db"));
	wpid = spawn(wlargv, "/dev/null", "/dev/null");
	setpriority(PRIO_PROCESS, wpid, -10);
	apid = spawn(agargv, tmp("agent.out"), tmp("agent.err"));
	sleep_s(4);
	/* the server goes away for a while: the agent keeps sampling locally */
	assert_int_equal(pg_server__stop(&server), 0);
	sleep_s(4);
	assert_int_equal(pg_server__start(&server), 0);
	/*
	 * the agent ships again (its retries back off to 8 s by now, longer on
	 * a loaded machine) before its sessions are cut: a fixed wait here
	 * made the test fail now and then
	 */
	for (i = 0; i < 300; i++) {
		log = slurp(tmp("agent.err"));
		j = strstr(log, " again;") != NULL;
		free(log);
		if (j)
			break;
		sleep_s(0.1);
	}
	sleep_s(1);
	/* every session cut from the server side, mid-batch or not */
	for (i = 0; i < 3; i++) {
		assert_int_equal(pg_server__psql(&server, "SELECT pg_terminate_backend(pid) FROM"
			" pg_stat_activity WHERE backend_type = 'client backend'"
			" AND pid <> pg_backend_pid()"), 0);
		sleep_s(0.7);
	}
	sleep_s(2);
	/* and the agent killed, perhaps in the middle of a push */
	kill(apid, SIGKILL);
	assert_int_equal(wait_exit(apid), 128 + SIGKILL);
	kill(wpid, SIGTERM);
	wait_exit(wpid);
	log = slurp(tmp("agent.err"));
	/* each outage logged once, and its end: never two failures in a row */
	{
		const char *fail = strstr(log, "cannot ship to"), *next;

		if (!fail || !strstr(log, "shipping to"))
			fail_msg("the outage was not logged, or not its end:\n%s", log);
		for (; fail; fail = next) {
			const char *again = strstr(fail, " again;");

			next = strstr(fail + 1, "cannot ship to");
			if (next && (!again || again > next))
				fail_msg("an outage logged twice:\n%s", log);
		}
		assert_true(count_lines_with(log, "cannot ship to") <= 4);
	}
	free(log);

	/* what the kill left unshipped goes with a push */
	assert_int_equal(profile(tmp("push.out"), tmp("push.err"), "push", "--db", local, "--to",
				 server.uri, NULL), 0);
	/* pushing again adds nothing */
	assert_int_equal(profile(tmp("push2.out"), tmp("push.err"), "push", "--db", local, "--to",
				 server.uri, NULL), 0);
	log = slurp(tmp("push2.out"));
	assert_non_null(strstr(log, " 0 new buckets, 0 samples"));
	free(log);

	timeline_of(local, "fleet-h1", lt);
	timeline_of(server.conninfo, "fleet-h1", ct);
	/* a loaded machine may take seconds to start the agent: a few buckets will do */
	if (lt->nr < 3)
		fail_msg("only %d buckets of fleet-h1 in the local database", lt->nr);
	for (i = 0, j = 0; i < lt->nr; i++) {
		lsum += lt->n[i];
		while (j < ct->nr && ct->ts[j] < lt->ts[i])
			j++;
		if (j >= ct->nr || ct->ts[j] != lt->ts[i] || ct->n[j] != lt->n[i])
			fail_msg("bucket %lld: %llu samples local, %llu central", (long long)lt->ts[i],
				 (unsigned long long)lt->n[i],
				 j < ct->nr && ct->ts[j] == lt->ts[i] ? (unsigned long long)ct->n[j] : 0);
	}
	for (j = 0; j < ct->nr; j++)
		csum += ct->n[j];
	print_message("%d buckets, %llu samples local, %llu central\n", lt->nr,
		      (unsigned long long)lsum, (unsigned long long)csum);
	assert_true(lsum == csum);
	free(lt);
	free(ct);

	/* which hosts reported, and when */
	assert_int_equal(profile(tmp("runs.out"), tmp("runs.err"), "runs", "--db", server.uri, NULL),
			 0);
	top = slurp(tmp("runs.out"));
	if (!strstr(top, "LAST REPORT") || !strstr(strstr(top, "LAST REPORT"), "fleet-h1"))
		fail_msg("runs --db URI does not list fleet-h1's last report:\n%s", top);
	free(top);
	/* the workload's hot functions, from the central store */
	assert_int_equal(profile(tmp("top.out"), tmp("top.err"), "top", "--db", server.uri, "--host",
				 "fleet-h1", "--comm", "wl_split", NULL), 0);
	top = slurp(tmp("top.out"));
	if (!strstr(top, "leaf_alpha") || !strstr(top, "leaf_beta")) {
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%s/psql -X -h %s -p %d -U postgres -c 'SELECT comm, count(*)"
			 " FROM processes GROUP BY 1' -c 'SELECT in_day, count(*) FROM rollup_h"
			 " GROUP BY 1' -c 'SELECT count(*), sum(n) FROM samples' >&2; %s top --db '%s'"
			 " --host fleet-h1 >&2", server.bin, server.dir, server.port,
			 env_path("PROFILE"), server.uri);
		if (system(cmd))
			print_message("(%s failed)\n", cmd);
		fail_msg("the workload's functions are not in the central top:\n%s", top);
	}
	free(top);
}

/* ---- retention on the central store ---- */

static void write_at(const char *db, __s64 ts, __u32 stack)
{
	const struct store_opts o = { .create = true };
	struct store_run run = { .kind = "agent", .host = "gc-host", .cmdline = "x", .freq = 99,
				 .start_ms = ts * 1000 };
	struct store_count c = { .ts = ts, .process = 0, .stack = stack, .count = 5 };
	struct store_batch b = {
		.frames = frames, .nr_frames = sizeof(frames) / sizeof(frames[0]), .stacks = stacks,
		.nr_stacks = sizeof(stacks) / sizeof(stacks[0]), .processes = procs,
		.nr_processes = 1, .counts = &c, .nr_counts = 1,
	};
	struct store *st = store__open(db, &o);

	assert_non_null(st);
	assert_int_equal(store__add_run(st, &run, &b.run_id), 0);
	assert_int_equal(store__write_batch(st, &b), 0);
	assert_int_equal(store__end_run(st, b.run_id, ts * 1000 + 10000), 0);
	store__free(st);
}

static void test_gc(void **state)
{
	char db[512];
	__s64 now = time(NULL);
	char *out;

	(void)state;
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE gc"), 0);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=gc user=postgres", server.dir,
		 server.port);
	write_at(db, now - 45 * 86400, 4);	/* the jitted stack, only then */
	write_at(db, now - 40 * 86400, 1);
	/* as if those batches had been written back then */
	assert_int_equal(psql_count("gc", "WITH a AS (UPDATE frames SET seen_day = seen_day - 40),"
				    " b AS (UPDATE stacks SET seen_day = seen_day - 40)"
				    " UPDATE processes SET seen_day = seen_day - 40"), -1);
	write_at(db, now - 86400, 1);
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM pg_inherits"
				    " WHERE inhparent = 'samples'::regclass"), 3);
	assert_int_equal(profile(tmp("gc.out"), tmp("gc.err"), "gc", "--db", db, "--retention",
				 "30d", NULL), 0);
	out = slurp(tmp("gc.out"));
	assert_non_null(strstr(out, "deleted 2 sample rows older than "));
	assert_non_null(strstr(out, " (30 days) from '"));
	free(out);
	/* two day partitions dropped, the stack only they used gone, the other kept */
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM pg_inherits"
				    " WHERE inhparent = 'samples'::regclass"), 1);
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM stacks"), 1);
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM frames"), 3);
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM runs"), 1);
	/* the expired days' rollups went with them */
	snprintf(db, sizeof(db), "SELECT (SELECT count(*) FROM rollup_h WHERE hour < %lld) +"
		 " (SELECT count(*) FROM rollup_d WHERE day < %lld)", (long long)now - 30 * 86400,
		 (long long)now - 30 * 86400);
	assert_int_equal(psql_count("gc", db), 0);
	assert_int_equal(psql_count("gc", "SELECT count(*) FROM rollup_h"), 1);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=gc user=postgres", server.dir,
		 server.port);
	assert_int_equal(profile(tmp("gc.out"), tmp("gc.err"), "folded", "--db", db, NULL), 0);
	out = slurp(tmp("gc.out"));
	assert_string_equal(out, "app;main;work;inner_[i] 5\n");
	free(out);
	/*
	 * a writer that does not say it writes the store's schema (one of an
	 * older profile, still running when the schema moved on) is refused
	 */
	{
		char cmd[1024], *err;

		snprintf(cmd, sizeof(cmd), "%s/psql -X -q -h %s -p %d -U postgres -d gc -c \"INSERT"
			 " INTO samples VALUES (%lld, 1, 0, '')\" 2>%s", server.bin, server.dir,
			 server.port, (long long)now - 86400, tmp("old.err"));
		assert_int_not_equal(system(cmd), 0);
		err = slurp(tmp("old.err"));
		if (!strstr(err, "does not write profile schema version"))
			fail_msg("an old writer's insert was not refused: %s", err);
		free(err);
		assert_int_equal(psql_count("gc", "SELECT count(*) FROM samples"), 1);
	}
}

/* Sum what a selection of the store holds. */
static int add_count(void *ctx, const char *comm, const struct store_query_frame *f, int nr,
		     __u64 count)
{
	(void)comm, (void)f, (void)nr;
	*(__u64 *)ctx += count;
	return 0;
}

/*
 * Two writers of one run at once (an agent and a `profile push` of the same
 * run), each batch reaching into hours and days the other merges: neither
 * fails (no deadlock between their merges) and the rollups sum to what was
 * written.
 */
static void test_two_writers_one_run(void **state)
{
	const struct store_opts o = { .create = true };
	struct store_run run = { .kind = "agent", .host = "two", .cmdline = "x", .freq = 99,
				 .start_ms = T0 * 1000 };
	const struct store_selector all = {};
	__u64 sum = 0;
	__s64 run_id;
	pid_t kids[2];
	char db[512];
	struct store *st;
	int k, status;

	(void)state;
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE two"), 0);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=two user=postgres", server.dir,
		 server.port);
	st = store__open(db, &o);
	assert_non_null(st);
	assert_int_equal(store__add_run(st, &run, &run_id), 0);
	store__free(st);
	for (k = 0; k < 2; k++) {
		kids[k] = fork();
		assert_true(kids[k] >= 0);
		if (!kids[k]) {
			struct store_count counts[3];
			struct store_batch b = {
				.run_id = run_id, .frames = frames,
				.nr_frames = sizeof(frames) / sizeof(frames[0]), .stacks = stacks,
				.nr_stacks = sizeof(stacks) / sizeof(stacks[0]), .processes = procs,
				.nr_processes = 3, .counts = counts, .nr_counts = 3,
			};
			int i, bad = 0;

			st = store__open(db, &o);
			for (i = 0; st && i < 40; i++) {
				/* one writer forwards, the other backwards, over 40 hours */
				int h = k ? 39 - i : i;

				counts[0] = (struct store_count){ .ts = T0 + 3600LL * h + 10 * k,
								  .process = 0, .stack = 0, .count = 1 };
				counts[1] = (struct store_count){ .ts = T0 + 3600LL * ((h + 7) % 40) +
									20 + 10 * k,
								  .process = 1, .stack = 1, .count = 2 };
				counts[2] = (struct store_count){ .ts = T0 + 3600LL * ((h + 23) % 40) +
									40 + 10 * k,
								  .process = 2, .stack = 0, .count = 3 };
				bad |= store__write_batch(st, &b) != 0;
			}
			store__free(st);
			_exit(!st || bad);
		}
	}
	for (k = 0; k < 2; k++) {
		assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* the whole run, read from the day rollups and the hours not merged into them */
	st = store__open(db, &o);
	assert_non_null(st);
	assert_int_equal(store__query_stacks(st, &all, add_count, &sum), 0);
	store__free(st);
	assert_int_equal(sum, 2 * 40 * (1 + 2 + 3));
	assert_int_equal(psql_count("two", "SELECT sum(n) FROM samples"),
			 2 * 40 * (1 + 2 + 3));
}

/*
 * One run over two and a half days of 10-minute buckets, written in time
 * order as an agent ships them (so the hours and days behind it are merged
 * into the rollups), then a late batch into an hour and a day already merged.
 */
#define T1 (1700006400LL + 22 * 3600 + 1800)	/* 2023-11-15 22:30 UTC */

static void fill_days(struct store *st)
{
	struct store_count counts[8];
	struct store_run run = { .kind = "agent", .host = "roll", .cmdline = "profile agent",
				 .freq = 99, .start_ms = T1 * 1000 };
	struct store_batch b = {
		.frames = frames, .nr_frames = sizeof(frames) / sizeof(frames[0]),
		.stacks = stacks, .nr_stacks = sizeof(stacks) / sizeof(stacks[0]),
		.processes = procs, .nr_processes = 3, .counts = counts,
	};
	int i, k;

	assert_int_equal(store__add_run(st, &run, &b.run_id), 0);
	for (i = 0; i < 52 * 6; i += 4) {
		b.nr_counts = 0;
		for (k = 0; k < 4; k++) {
			counts[b.nr_counts++] = (struct store_count){
				.ts = T1 + 600LL * (i + k), .process = (i + k) % 3,
				.stack = (i * 5 + k) % 6, .count = 1 + (i + 3 * k) % 7,
			};
			/* counts above the server's 16 bits per entry */
			if ((i + k) % 50 == 7)
				counts[b.nr_counts - 1].count = 40000;
		}
		assert_int_equal(store__write_batch(st, &b), 0);
	}
	/* then a bucket a batch, as an agent ships: the current hour is merged as it fills */
	for (i = 0; i < 90; i++) {
		counts[0] = (struct store_count){ .ts = T1 + 52 * 3600 + 10 * i, .process = i % 3,
						  .stack = i % 5, .count = 1 + i % 4 };
		counts[1] = (struct store_count){ .ts = T1 + 52 * 3600 + 10 * i,
						  .process = (i + 1) % 3, .stack = 5, .count = 2 };
		b.nr_counts = 2;
		assert_int_equal(store__write_batch(st, &b), 0);
	}
	/* late: into 23:00 of the first day and 01:10 of the second, both merged by now */
	counts[0] = (struct store_count){ .ts = T1 + 1800 + 20, .process = 1, .stack = 5,
					  .count = 9 };
	counts[1] = (struct store_count){ .ts = T1 + 9600, .process = 2, .stack = 0, .count = 4 };
	b.nr_counts = 2;
	assert_int_equal(store__write_batch(st, &b), 0);
	assert_int_equal(store__end_run(st, b.run_id, (T1 + 53 * 3600) * 1000), 0);
}

/*
 * Selections that start and end mid-hour, on whole hours, on whole days,
 * open at either end: the rollups give what the samples give (SQLite has no
 * rollups, so it is the oracle), and they are really used.
 */
static void test_rollups_exact(void **state)
{
	static const char *const sels[][8] = {
		{ NULL },
		{ "--since", "@1700088600", NULL },				/* 11-15 22:50 */
		{ "--until", "@1700181000", NULL },				/* 11-17 00:30 */
		{ "--since", "@1700088600", "--until", "@1700181000", NULL },
		{ "--since", "@1700089200", "--until", "@1700179200", NULL },	/* 23:00, 00:00 */
		{ "--since", "@1700092800", "--until", "@1700179200", NULL },	/* 11-16 whole */
		{ "--since", "@1700096430", "--until", "@1700099990", NULL },	/* in 01:00 */
		{ "--since", "@1700096400", "--until", "@1700100000", NULL },	/* 01:00 whole */
		{ "--since", "@1700179200", NULL },				/* 11-17, open */
		{ "--since", "@1700088610", "--until", "@1700253000", "--comm", "db", NULL },
		{ "--since", "@1700088600", "--until", "@1700181000", "--pid", "102", NULL },
		{ "--host", "roll", "--since", "@1700090000", "--until", "@1700200000", NULL },
		{ "--since", "@1700272800", "--until", "@1700276400", NULL },	/* 11-18 02:00 */
		{ "--since", "@1700274900", "--comm", "app", NULL },		/* 02:35, open */
	};
	char db[512];
	size_t i;

	(void)state;
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE rollups"), 0);
	snprintf(db, sizeof(db), "postgresql:///rollups?host=%s&port=%d&user=postgres",
		 server.dir, server.port);
	unlink(tmp("days.db"));
	fill_store(tmp("days.db"), fill_days);
	fill_store(db, fill_days);

	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		compare_with("folded", sels[i], tmp("days.db"), db);
		compare_with("top", sels[i], tmp("days.db"), db);
	}
	/* the hours behind the last batch merged, the days all, the late deltas not yet */
	assert_true(psql_count("rollups", "SELECT count(*) FROM rollup_h WHERE in_day") > 40);
	assert_int_equal(psql_count("rollups", "SELECT count(DISTINCT day) FROM rollup_d"
				    " WHERE merged"), 4);
	assert_int_equal(psql_count("rollups", "SELECT count(*) FROM rollup_d WHERE NOT merged"), 0);
	/* the hour being written was merged once 64 deltas had piled up, and went on */
	assert_int_equal(psql_count("rollups", "SELECT count(*) FROM rollup_h WHERE in_day"
				    " AND hour = 1700272800"), 3);
	assert_true(psql_count("rollups", "SELECT count(*) FROM rollup_h WHERE NOT in_day"
			       " AND hour = 1700272800") > 0);
	assert_int_equal(psql_count("rollups", "SELECT count(*) FROM rollup_h WHERE NOT in_day"
				    " AND hour < 1700179200"), 2);
	/* and every count of the samples is in each rollup */
	assert_int_equal(psql_count("rollups", "SELECT (SELECT sum(n) FROM samples)"
				    " - (SELECT sum(c) FROM rollup_h, unnest(counts) c)"), 0);
	assert_int_equal(psql_count("rollups", "SELECT (SELECT sum(n) FROM samples"
				    " WHERE ts < 1700179200) - (SELECT sum(c)"
				    " FROM rollup_d, unnest(counts) c WHERE day < 1700179200)"
				    " - (SELECT sum(c) FROM rollup_h, unnest(counts) c"
				    " WHERE NOT in_day AND hour < 1700179200)"), 0);
}

/*
 * Schema 4 as the previous release left it, made from a store of schema 5
 * here: its samples unpacked (a PL/pgSQL reader of the packed rows) into one
 * row per (bucket, process) of two arrays, the shipped marks back, the
 * version set to 4.
 */
static const char downgrade_to_4[] =
	"BEGIN;\n"
	"CREATE FUNCTION v5_entries(e bytea) RETURNS TABLE(p bigint, s bigint, c integer)\n"
	"LANGUAGE plpgsql AS $f$\n"
	"DECLARE i integer := 0; n bigint; k bigint; v bigint; sh integer; b integer;\n"
	"BEGIN\n"
	"  WHILE i < length(e) LOOP\n"
	"    p := ('x' || encode(substring(e FROM i + 1 FOR 8), 'hex'))::bit(64)::bigint;\n"
	"    i := i + 8; n := 0; sh := 0;\n"
	"    LOOP b := get_byte(e, i); i := i + 1; n := n | ((b & 127)::bigint << sh);\n"
	"      sh := sh + 7; EXIT WHEN b < 128; END LOOP;\n"
	"    FOR k IN 1..n LOOP\n"
	"      s := ('x' || encode(substring(e FROM i + 1 FOR 8), 'hex'))::bit(64)::bigint;\n"
	"      i := i + 8; v := 0; sh := 0;\n"
	"      LOOP b := get_byte(e, i); i := i + 1; v := v | ((b & 127)::bigint << sh);\n"
	"        sh := sh + 7; EXIT WHEN b < 128; END LOOP;\n"
	"      c := v; RETURN NEXT;\n"
	"    END LOOP;\n"
	"  END LOOP;\n"
	"END $f$;\n"
	"CREATE TABLE old_rows AS SELECT ts, run_id, u.p, u.s, u.c FROM samples, v5_entries(e) u;\n"
	"DROP TABLE samples;\n"
	"DROP FUNCTION v5_entries(bytea);\n"
	"DROP FUNCTION profile_varint(bigint);\n"
	"CREATE TABLE samples(ts bigint NOT NULL, run_id bigint NOT NULL,\n"
	"  process_id bigint NOT NULL, stacks bigint[] NOT NULL, counts smallint[] NOT NULL)\n"
	"  PARTITION BY RANGE (ts);\n"
	"CREATE INDEX samples_by_run ON samples(run_id, ts);\n"
	"CREATE INDEX samples_by_ts ON samples USING brin (ts) WITH (pages_per_range = 16);\n"
	"DO $d$ DECLARE d bigint; BEGIN\n"
	"  FOR d IN SELECT DISTINCT ts / 86400 FROM old_rows LOOP\n"
	"    EXECUTE format('CREATE TABLE samples_d%s PARTITION OF samples"
	" FOR VALUES FROM (%s) TO (%s)', d, d * 86400, (d + 1) * 86400);\n"
	"  END LOOP; END $d$;\n"
	"CREATE TABLE shipped(run_id bigint NOT NULL, ts bigint NOT NULL, PRIMARY KEY(run_id, ts));\n"
	"INSERT INTO shipped SELECT DISTINCT run_id, ts FROM old_rows;\n"
	/* as a writer of version 4 wrote them: a batch's rows apart, two here */
	"INSERT INTO samples SELECT ts, run_id, p, array_agg(s ORDER BY s), array_agg(c ORDER BY s)\n"
	"  FROM old_rows WHERE s % 2 = 0 GROUP BY ts, run_id, p;\n"
	"INSERT INTO samples SELECT ts, run_id, p, array_agg(s ORDER BY s), array_agg(c ORDER BY s)\n"
	"  FROM old_rows WHERE s % 2 != 0 GROUP BY ts, run_id, p;\n"
	"CREATE TRIGGER samples_writer BEFORE INSERT ON samples FOR EACH STATEMENT\n"
	"  EXECUTE FUNCTION profile_writer_check();\n"
	"DROP TABLE old_rows;\n"
	"UPDATE profile_schema SET version = 4;\n"
	"COMMIT;\n";

/*
 * A store of schema 4 (one row per bucket and process) opened by a writer:
 * migrated to 5 in place, its answers those of the same data in SQLite.
 */
static void test_migrate_from_4(void **state)
{
	static const char *const sels[][8] = {
		{ NULL },
		{ "--comm", "db", NULL },
		{ "--since", "@1700007100", "--until", "@1700010800", NULL },
		{ "--host", "h2", "--pid", "102,201", NULL },
	};
	const struct store_opts o = { .create = true };
	char db[512], cmd[1024];
	struct store *st;
	size_t i;
	FILE *f;

	(void)state;
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE migrate"), 0);
	snprintf(db, sizeof(db), "host=%s port=%d dbname=migrate user=postgres", server.dir,
		 server.port);
	unlink(tmp("migrate.db"));
	fill_store(tmp("migrate.db"), fill);
	fill_store(db, fill);
	f = fopen(tmp("downgrade.sql"), "w");
	assert_non_null(f);
	assert_int_equal(fputs(downgrade_to_4, f) >= 0, 1);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/psql -X -q -v ON_ERROR_STOP=1 -h %s -p %d -U postgres"
		 " -d migrate -f %s >%s 2>&1", server.bin, server.dir, server.port,
		 tmp("downgrade.sql"), tmp("downgrade.out"));
	if (system(cmd)) {
		char *out = slurp(tmp("downgrade.out"));

		fail_msg("cannot make a store of schema 4: %s", out);
	}
	assert_int_equal(psql_count("migrate", "SELECT count(*) FROM samples"
				    " WHERE cardinality(stacks) > 0"), psql_count("migrate",
				    "SELECT count(*) FROM samples"));
	assert_true(psql_count("migrate", "SELECT count(*) FROM samples") > 90);
	/* a reader does not migrate: it says how */
	expect_error(db, "has profile schema version 4: open it for writing once to migrate it");
	/* a writer does */
	st = store__open(db, &o);
	assert_non_null(st);
	store__free(st);
	assert_int_equal(psql_count("migrate", "SELECT max(version) FROM profile_schema"), 5);
	assert_int_equal(psql_count("migrate", "SELECT count(*) FROM pg_tables"
				    " WHERE tablename = 'shipped'"), 0);
	/* one row per (run, bucket): 30 buckets of 3 runs */
	assert_int_equal(psql_count("migrate", "SELECT count(*) FROM samples"), 90);
	assert_int_equal(psql_count("migrate", "SELECT count(*) FROM pg_inherits"
				    " WHERE inhparent = 'samples'::regclass"),
			 psql_count("migrate", "SELECT count(DISTINCT ts / 86400) FROM samples"));
	for (i = 0; i < sizeof(sels) / sizeof(sels[0]); i++) {
		compare_with("folded", sels[i], tmp("migrate.db"), db);
		compare_with("top", sels[i], tmp("migrate.db"), db);
	}
	compare_timelines(tmp("migrate.db"), db);
	/* and it goes on taking batches: a bucket shipped again is skipped */
	fill_store(db, fill);
	fill_store(tmp("migrate.db"), fill);
	compare_with("folded", sels[0], tmp("migrate.db"), db);
	/* a row cut short (a damaged or foreign writer's) is refused in one line, not read past */
	assert_true(psql_count("migrate", "WITH u AS (UPDATE samples SET e = substr(e, 1,"
			       " length(e) - 1) WHERE ts = 1700007000 RETURNING 1)"
			       " SELECT count(*) FROM u") >= 1);
	assert_int_not_equal(profile(tmp("out"), tmp("err"), "folded", "--db", db, "--since",
				     "@1700007000", "--until", "@1700007100", NULL), 0);
	{
		char *err = slurp(tmp("err"));

		if (!strstr(err, "a row of samples is malformed") ||
		    strchr(err, '\n') != err + strlen(err) - 1)
			fail_msg("expected one line about the malformed row, got: %s", err);
		free(err);
	}
}

/* Labels whose values hold commas (and '=') arrive whole through `profile push`. */
static void test_labels_with_commas(void **state)
{
	static const char *const labels[] = { "team=a,b", "note=x, y=z" };
	static const char *const sel[] = { "--label", "team=a,b", "--label", "note=x, y=z", NULL };
	const struct store_opts o = { .create = true };
	struct store_run run = { .kind = "record", .host = "lh", .cmdline = "profile", .freq = 99,
				 .start_ms = T0 * 1000, .labels = labels, .nr_labels = 2 };
	struct store_count c = { .ts = T0, .process = 0, .stack = 1, .count = 7 };
	struct store_batch b = {
		.frames = frames, .nr_frames = sizeof(frames) / sizeof(frames[0]), .stacks = stacks,
		.nr_stacks = sizeof(stacks) / sizeof(stacks[0]), .processes = procs,
		.nr_processes = 1, .counts = &c, .nr_counts = 1,
	};
	struct store *st;
	char db[512], *out;

	(void)state;
	assert_int_equal(pg_server__psql(&server, "CREATE DATABASE labels"), 0);
	snprintf(db, sizeof(db), "postgresql:///labels?host=%s&port=%d&user=postgres",
		 server.dir, server.port);
	unlink(tmp("labels.db"));
	st = store__open(tmp("labels.db"), &o);
	assert_non_null(st);
	assert_int_equal(store__add_run(st, &run, &b.run_id), 0);
	assert_int_equal(store__write_batch(st, &b), 0);
	assert_int_equal(store__end_run(st, b.run_id, (T0 + 60) * 1000), 0);
	store__free(st);
	assert_int_equal(profile(tmp("push.out"), tmp("push.err"), "push", "--db", tmp("labels.db"),
				 "--to", db, NULL), 0);
	compare_with("folded", sel, tmp("labels.db"), db);
	assert_int_equal(profile(tmp("l.out"), tmp("err"), "folded", "--db", db, "--label",
				 "team=a,b", NULL), 0);
	out = slurp(tmp("l.out"));
	assert_string_equal(out, "app;main;work;inner_[i] 7\n");
	free(out);
	assert_int_equal(profile(tmp("l.out"), tmp("err"), "runs", "--db", db, NULL), 0);
	out = slurp(tmp("l.out"));
	if (!strstr(out, "note=x, y=z") || !strstr(out, "team=a,b"))
		fail_msg("the labels are not whole:\n%s", out);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_answers),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_gc),
		cmocka_unit_test(test_rollups_exact),
		cmocka_unit_test(test_migrate_from_4),
		cmocka_unit_test(test_two_writers_one_run),
		cmocka_unit_test(test_labels_with_commas),
		cmocka_unit_test(test_agent_ships_through_faults),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
