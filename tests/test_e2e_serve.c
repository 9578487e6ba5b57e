// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of `profile serve`: a store recorded by the agent (two
 * workloads, a label) and by `profile record`, then the server started on a
 * free loopback port, and every API answer compared with the CLI's for the
 * same selection (folded text and top table byte for byte, the diff table,
 * runs); bad parameters, unknown paths and oversized requests get 400, 404
 * and 413 and the server goes on serving; 50 requests at once while an agent
 * writes the same database are all answered and the agent loses nothing.
 * The HTTP client is a plain HTTP/1.1 request over a loopback socket.
 *
 * Environment (tests/run.sh sets it): PROFILE, WORKLOADS.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cmocka.h>

#include "e2e.h"
#include "pg.h"

static char db[4096];
static const char *cur_db = db;	/* the store the CLI reads: db, or the PostgreSQL URI */
static pid_t server = -1;
static int port;
static struct pg_server pg;
static long long run_agent, run_record;
static int wl_pid;

struct reply {
	int status;
	char *headers;
	char *body;
	size_t len;
};

static void reply_free(struct reply *r)
{
	free(r->headers);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* One request (@extra: more header lines, each ending \r\n; @body may be NULL). */
static int http(const char *method, const char *path, const char *extra, const char *body,
		size_t body_len, struct reply *r)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	char *req = NULL, *buf = NULL, *sep;
	size_t cap = 0, len = 0;
	int fd, n;

	memset(r, 0, sizeof(*r));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	n = asprintf(&req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%s"
		     "Content-Length: %zu\r\n\r\n", method, path, extra ? extra : "", body_len);
	if (n < 0 || write(fd, req, n) != n) {
		free(req);
		close(fd);
		return -EIO;
	}
	free(req);
	/* a server may answer (413) before reading the whole body: stop writing then */
	if (body && body_len && write(fd, body, body_len) < 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		close(fd);
		return -EIO;
	}
	for (;;) {
		ssize_t got;

		if (cap - len < 65536) {
			cap = cap ? cap * 2 : 131072;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
		got = read(fd, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += got;
	}
	close(fd);
	if (!buf)
		return -EIO;
	buf[len] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep || sscanf(buf, "HTTP/1.1 %d", &r->status) != 1) {
		free(buf);
		return -EPROTO;
	}
	r->headers = strndup(buf, sep - buf + 2);
	r->len = len - (sep + 4 - buf);
	r->body = malloc(r->len + 1);
	memcpy(r->body, sep + 4, r->len);
	r->body[r->len] = '\0';
	free(buf);
	return 0;
}

static void get(const char *path, struct reply *r)
{
	int err = http("GET", path, NULL, NULL, 0, r);

	if (err)
		fail_msg("GET %s: %s", path, strerror(-err));
}

/* Run the profiler with @args (NULL-terminated), return its stdout; exit status in *@status. */
static char *cli(int *status, const char *arg, ...)
{
	const char *argv[64] = { env_path("PROFILE") };
	char *out = tmp("cli.out");
	va_list ap;
	int n = 1;

	va_start(ap, arg);
	for (; arg && n < 62; arg = va_arg(ap, const char *))
		argv[n++] = arg;
	va_end(ap);
	argv[n] = NULL;
	*status = wait_exit(spawn(argv, out, tmp("cli.err")));
	return slurp(out);
}

static int start_server_opt(const char *store, const char *opt1, const char *opt2, pid_t *pid)
{
	return serve_on_free_port(store, opt1, opt2, pid);
}

static int start_server(const char *store, pid_t *pid)
{
	return start_server_opt(store, NULL, NULL, pid);
}

static long long last_run_id(void)
{
	int st;
	char *out = cli(&st, "runs", "--db", cur_db, NULL), *line, *save = NULL;
	long long id = 0, v;

	assert_int_equal(st, 0);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (sscanf(line, " %lld", &v) == 1)
			id = v;
	free(out);
	return id;
}

static int group_setup(void **state)
{
	const char *wl = getenv("WORKLOADS");
	char split[4096], qsort_[4096], truth[4096];
	const char *agent[] = { getenv("PROFILE"), "agent", "--db", db, "--flush-interval", "0.3",
				"--bucket", "1", "--label", "env=test", "--label", "k=<b>x</b>",
				NULL };
	pid_t a, w1, w2;
	int st;

	if (setup_group(state) || skip_reason || !wl || !getenv("PROFILE"))
		return 0;
	snprintf(db, sizeof(db), "%s/serve.db", tmpdir);
	snprintf(split, sizeof(split), "%s/wl_split", wl);
	snprintf(qsort_, sizeof(qsort_), "%s/wl_qsort_fp", wl);
	snprintf(truth, sizeof(truth), "%s/truth", tmpdir);
	a = spawn(agent, tmp("agent1.out"), tmp("agent1.err"));
	sleep_s(1.0);
	{
		const char *w1argv[] = { split, "3", truth, NULL };
		const char *w2argv[] = { qsort_, "3", tmp("truth-qsort"), NULL };

		w1 = spawn(w1argv, "/dev/null", NULL);
		w2 = spawn(w2argv, "/dev/null", NULL);
		wl_pid = w1;
		wait_exit(w1);
		wait_exit(w2);
	}
	kill(a, SIGINT);
	wait_exit(a);
	{
		const char *w1argv[] = { split, "4", truth, NULL };
		const char *rec[] = { getenv("PROFILE"), "-d", "1.5", "--db", db, "--comm", "wl_split",
				      "-o", "/dev/null", "--folded", "/dev/null", "--no-progress",
				      NULL };
		pid_t r;

		w1 = spawn(w1argv, "/dev/null", NULL);
		sleep_s(0.3);
		r = spawn(rec, tmp("record.out"), tmp("record.err"));
		wait_exit(r);
		kill(w1, SIGTERM);
		wait_exit(w1);
	}
	run_record = last_run_id();
	run_agent = run_record - 1;
	(void)st;
	port = start_server(db, &server);
	return 0;
}

static int group_teardown(void **state)
{
	if (server > 0) {
		kill(server, SIGTERM);
		wait_exit(server);
	}
	return teardown_group(state);
}

/* A selection as query parameters and as CLI options. */
struct sel {
	const char *query;
	const char *args[8];
};

static void sel_cases(struct sel *c, size_t *n, char bufs[][128])
{
	size_t i = 0;

	snprintf(bufs[0], 128, "run=%lld", run_agent);
	snprintf(bufs[1], 128, "%lld", run_agent);
	snprintf(bufs[2], 128, "run=%lld&comm=wl_split", run_record);
	snprintf(bufs[3], 128, "%lld", run_record);
	snprintf(bufs[4], 128, "pid=%d", wl_pid);
	snprintf(bufs[5], 128, "%d", wl_pid);
	c[i++] = (struct sel){ "", { NULL } };
	c[i++] = (struct sel){ bufs[0], { "--run", bufs[1] } };
	c[i++] = (struct sel){ bufs[2], { "--run", bufs[3], "--comm", "wl_split" } };
	c[i++] = (struct sel){ "comm=wl_qsort_fp", { "--comm", "wl_qsort_fp" } };
	c[i++] = (struct sel){ bufs[4], { "--pid", bufs[5] } };
	c[i++] = (struct sel){ "label=env%3Dtest&since=-1h", { "--label", "env=test", "--since", "-1h" } };
	c[i++] = (struct sel){ "run=last&until=now", { "--run", "last", "--until", "now" } };
	c[i++] = (struct sel){ "comm=nothing", { "--comm", "nothing" } };
	*n = i;
}

static char *cli_sel(const char *cmd, const struct sel *s, const char *extra1, const char *extra2)
{
	const char *argv[20] = { env_path("PROFILE"), cmd, "--db", cur_db };
	int n = 4, i, st;

	for (i = 0; s->args[i]; i++)
		argv[n++] = s->args[i];
	if (extra1)
		argv[n++] = extra1;
	if (extra2)
		argv[n++] = extra2;
	argv[n] = NULL;
	st = wait_exit(spawn(argv, tmp("cli.out"), tmp("cli.err")));
	assert_int_equal(st, 0);
	return slurp(tmp("cli.out"));
}

static void check_api_equals_cli(void)
{
	struct sel cases[16];
	char bufs[8][128], path[1024];
	size_t n, i;

	assert_true(port > 0);
	sel_cases(cases, &n, bufs);
	for (i = 0; i < n; i++) {
		struct reply r;
		char *want;

		snprintf(path, sizeof(path), "/api/folded?%s", cases[i].query);
		get(path, &r);
		want = cli_sel("folded", &cases[i], NULL, NULL);
		assert_int_equal(r.status, 200);
		if (strcmp(r.body, want))
			fail_msg("%s differs from 'profile folded' (%zu vs %zu bytes)", path, r.len,
				 strlen(want));
		if (!i && r.len < 100)
			fail_msg("the store holds almost nothing: %s", r.body);
		print_message("%-45s %6zu bytes, as 'profile folded'\n", path, r.len);
		free(want);
		reply_free(&r);

		snprintf(path, sizeof(path), "/api/top.txt?limit=30&%s", cases[i].query);
		get(path, &r);
		want = cli_sel("top", &cases[i], "--top", "30");
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, want);
		free(want);
		reply_free(&r);
		if (i)
			continue;
		/* no limit: 20 rows, as 'profile top'; limit=0: every row, as in the JSON */
		snprintf(path, sizeof(path), "/api/top.txt?%s", cases[i].query);
		get(path, &r);
		want = cli_sel("top", &cases[i], NULL, NULL);
		assert_string_equal(r.body, want);
		free(want);
		reply_free(&r);
		snprintf(path, sizeof(path), "/api/top.txt?limit=0&%s", cases[i].query);
		get(path, &r);
		want = cli_sel("top", &cases[i], "--top", "1000000");
		assert_string_equal(r.body, want);
		free(want);
		reply_free(&r);
	}
}

static void test_api_equals_cli(void **state)
{
	(void)state;
	REQUIRE_BPF();
	check_api_equals_cli();
}

/* The JSON top rows are the text table's rows; the timeline adds up to the total. */
/* The whole of a binary file: its bytes, their number in *@len. */
static char *slurp_len(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n = -1;

	if (!f)
		fail_msg("cannot open '%s': %s", path, strerror(errno));
	if (!fseek(f, 0, SEEK_END))
		n = ftell(f);
	if (n < 0 || fseek(f, 0, SEEK_SET))
		fail_msg("cannot read '%s': %s", path, strerror(errno));
	buf = malloc(n + 1);
	assert_non_null(buf);
	*len = fread(buf, 1, n, f);
	assert_int_equal(*len, (size_t)n);
	fclose(f);
	return buf;
}

static void check_json_endpoints(void)
{
	struct reply r, t;
	char path[256], spec[64], *p, *txt, *want;
	double total = 0, sum = 0;
	long long ts, count;
	size_t want_len;
	int st, rows = 0;

	snprintf(path, sizeof(path), "/api/top?limit=10&run=%lld", run_agent);
	get(path, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "application/json"));
	snprintf(path, sizeof(path), "%lld", run_agent);
	txt = cli(&st, "top", "--db", cur_db, "--run", path, "--top", "10", NULL);
	for (p = strstr(txt, "FUNCTION\n"); p && (p = strchr(p, '\n')) && p[1]; rows++) {
		double self;
		char name[512], needle[700];

		p++;
		if (sscanf(p, "%*f%% %*f%% %lf %511[^\n]", &self, name) != 2)
			break;
		snprintf(needle, sizeof(needle), "\"name\":\"%s\",\"self\":%.1f", name, self);
		if (!strstr(r.body, needle))
			fail_msg("row '%s' of 'profile top' is not in /api/top: %s", needle, r.body);
	}
	assert_true(rows >= 3);
	free(txt);
	assert_non_null(p = strstr(r.body, "\"total\":"));
	total = atof(p + 8);
	snprintf(path, sizeof(path), "/api/timeline?run=%lld", run_agent);
	get(path, &t);
	assert_int_equal(t.status, 200);
	for (p = strstr(t.body, "\"points\":[") + 10; sscanf(p, "[%lld,%lld]", &ts, &count) == 2;) {
		sum += count;
		p = strchr(p, ']') + 1;
		if (*p == ',')
			p++;
	}
	print_message("run %lld: %.0f samples, timeline sums to %.0f\n", run_agent, total, sum);
	assert_true(total > 0);
	assert_true(sum == total);
	reply_free(&r);
	reply_free(&t);

	get("/api/runs", &r);
	assert_int_equal(r.status, 200);
	snprintf(path, sizeof(path), "\"id\":%lld", run_record);
	assert_non_null(strstr(r.body, path));
	reply_free(&r);
	get("/api/labels", &r);
	assert_string_equal(r.body, "{\"labels\":[\"env=test\",\"k=<b>x</b>\"]}\n");
	reply_free(&r);
	get("/api/hosts", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "{\"hosts\":[\""));
	reply_free(&r);
	get("/api/comms", &r);
	assert_non_null(strstr(r.body, "\"name\":\"wl_split\""));
	assert_non_null(strstr(r.body, "\"name\":\"wl_qsort_fp\""));
	reply_free(&r);
	snprintf(path, sizeof(path), "/api/flamegraph.svg?run=%lld&width=800", run_agent);
	get(path, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "image/svg+xml"));
	assert_non_null(strstr(r.body, "<svg"));
	assert_non_null(strstr(r.body, "leaf_alpha"));
	reply_free(&r);
	snprintf(path, sizeof(path), "/api/pprof?run=%lld", run_agent);
	get(path, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.len > 100 && (unsigned char)r.body[0] == 0x1f && (unsigned char)r.body[1] == 0x8b);
	/* byte for byte what `profile export` writes: binaries, addresses and lines included */
	snprintf(spec, sizeof(spec), "store:run=%lld", run_agent);
	free(cli(&st, "export", "--format", "pprof", "--name", "profile", "--db", cur_db, "-o",
		 tmp("cli.pb.gz"), spec, NULL));
	assert_int_equal(st, 0);
	want = slurp_len(tmp("cli.pb.gz"), &want_len);
	if (want_len != r.len || memcmp(want, r.body, r.len))
		fail_msg("/api/pprof (%zu bytes) differs from profile export (%zu bytes)", r.len,
			 want_len);
	free(want);
	reply_free(&r);
}

static void test_json_endpoints(void **state)
{
	(void)state;
	REQUIRE_BPF();
	check_json_endpoints();
}

/* /api/diff ranks the functions as 'profile diff' does, with the same shares. */
static void check_diff_equals_cli(void)
{
	char path[256], base[64], new[64], *txt, *p;
	struct reply r;
	int st, rows = 0;

	snprintf(path, sizeof(path), "/api/diff?base.run=%lld&new.run=%lld&limit=8", run_agent,
		 run_record);
	get(path, &r);
	assert_int_equal(r.status, 200);
	snprintf(base, sizeof(base), "store:run=%lld", run_agent);
	snprintf(new, sizeof(new), "store:run=%lld", run_record);
	txt = cli(&st, "diff", "--db", cur_db, "--top", "8", base, new, NULL);
	assert_int_equal(st, 0);
	p = strstr(txt, "FUNCTION\n");
	assert_non_null(p);
	for (p = strchr(p, '\n'); p && p[1]; p = strchr(p, '\n')) {
		double bs, ns, bt, nt;
		char name[512], needle[800];

		p++;
		if (sscanf(p, "%*f%*[* ] %*f%*[* ] %lf -> %lf %lf -> %lf %511[^\n]", &bs, &ns, &bt,
			   &nt, name) != 5)
			break;
		snprintf(needle, sizeof(needle), "\"name\":\"%s\"", name);
		if (!strstr(r.body, needle))
			fail_msg("'%s' of 'profile diff' is not in /api/diff: %s", name, r.body);
		rows++;
	}
	print_message("/api/diff: %d rows as 'profile diff'\n", rows);
	assert_true(rows >= 3);
	free(txt);
	reply_free(&r);
	snprintf(path, sizeof(path), "/api/diff.svg?base.run=%lld&new.run=%lld", run_agent,
		 run_record);
	get(path, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "<svg"));
	reply_free(&r);
}

static void test_diff_equals_cli(void **state)
{
	(void)state;
	REQUIRE_BPF();
	check_diff_equals_cli();
}

/*
 * The same store shipped to a real PostgreSQL server by `profile push` and
 * served from there: every answer equals the CLI's on that URI, and the
 * folded stacks, runs, hosts and labels equal the SQLite store's.
 */
static void test_postgres_store(void **state)
{
	long long sqlite_runs[2] = { run_agent, run_record };
	int sqlite_port = port, st;
	const char *paths[] = { "/api/folded", "/api/hosts", "/api/labels", "/api/comms",
				"/api/builds", "/api/timeline", "/api/top?limit=40",
				"/api/flamegraph.svg?width=900", "/api/diff?base.comm=wl_split&new.comm=wl_qsort_fp" };
	struct reply a, b;
	char *out;
	pid_t pg_serve;
	size_t i;

	(void)state;
	REQUIRE_BPF();
	if (pg_server__init(&pg))
		fail_msg("no PostgreSQL server to test with (make test installs Debian's postgresql)");
	out = cli(&st, "push", "--db", db, "--to", pg.uri, NULL);
	if (st)
		fail_msg("profile push failed: %s", slurp(tmp("cli.err")));
	free(out);
	port = start_server(pg.uri, &pg_serve);
	cur_db = pg.uri;
	/* the central store numbers runs its own way: the last two are ours */
	run_record = last_run_id();
	run_agent = run_record - 1;
	print_message("serving %s on port %d (runs %lld, %lld)\n", pg.uri, port, run_agent,
		      run_record);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		int pg_port = port;

		port = sqlite_port;
		get(paths[i], &a);
		port = pg_port;
		get(paths[i], &b);
		assert_int_equal(a.status, 200);
		assert_int_equal(b.status, 200);
		if (strcmp(a.body, b.body))
			fail_msg("%s from PostgreSQL differs from SQLite's:\n%.2000s\n---\n%.2000s",
				 paths[i], b.body, a.body);
		reply_free(&a);
		reply_free(&b);
	}
	check_api_equals_cli();
	check_json_endpoints();
	check_diff_equals_cli();
	kill(pg_serve, SIGTERM);
	assert_int_equal(wait_exit(pg_serve), 0);
	port = sqlite_port;
	cur_db = db;
	run_agent = sqlite_runs[0];
	run_record = sqlite_runs[1];
	pg_server__remove(&pg);
}

static void expect(const char *method, const char *path, const char *extra, size_t body_len,
		   int status, const char *param)
{
	char *body = body_len ? calloc(1, body_len) : NULL;
	struct reply r;
	int err;

	if (body_len)
		memset(body, 'x', body_len);
	err = http(method, path, extra, body, body_len, &r);
	free(body);
	if (err)
		fail_msg("%s %.60s: %s", method, path, strerror(-err));
	if (r.status != status)
		fail_msg("%s %.60s: %d, not %d: %s", method, path, r.status, status, r.body);
	if (status >= 400) {
		assert_non_null(strstr(r.headers, "application/json"));
		assert_non_null(strstr(r.body, "{\"error\":"));
		assert_non_null(strchr(r.body, '\n'));
		assert_true(strchr(r.body, '\n') == r.body + r.len - 1);
	}
	if (param) {
		char needle[128];

		snprintf(needle, sizeof(needle), "\"param\":\"%s\"", param);
		if (!strstr(r.body, needle))
			fail_msg("%s: the error does not name '%s': %s", path, param, r.body);
	}
	print_message("%-6s %-50.50s %d %s", method, path, r.status, r.body);
	reply_free(&r);
}

static void test_bad_requests(void **state)
{
	char *longq = malloc(20100);

	(void)state;
	REQUIRE_BPF();
	expect("GET", "/api/folded?since=yesterday", NULL, 0, 400, "since");
	expect("GET", "/api/folded?until=%00", NULL, 0, 400, "until");
	expect("GET", "/api/top?pid=12,x", NULL, 0, 400, "pid");
	expect("GET", "/api/top?run=0", NULL, 0, 400, "run");
	expect("GET", "/api/runs?label=novalue", NULL, 0, 400, "label");
	expect("GET", "/api/runs?comm=", NULL, 0, 400, "comm");
	expect("GET", "/api/top?build_id=XYZ", NULL, 0, 400, "build_id");
	expect("GET", "/api/top?limit=-1", NULL, 0, 400, "limit");
	expect("GET", "/api/folded?limit=5", NULL, 0, 400, "limit");
	expect("GET", "/api/top?color=red", NULL, 0, 400, "color");
	expect("GET", "/api/flamegraph.svg?width=5", NULL, 0, 400, "width");
	expect("GET", "/api/flamegraph.svg?focus=", NULL, 0, 400, "focus");
	expect("GET", "/api/top?focus=main", NULL, 0, 400, "focus");
	expect("GET", "/api/diff?base.since=soon", NULL, 0, 400, "base.since");
	expect("GET", "/api/diff?new.pid=-3", NULL, 0, 400, "new.pid");
	expect("GET", "/api/diff?since=-1h", NULL, 0, 400, "since");
	expect("GET", "/api/nothing", NULL, 0, 404, NULL);
	expect("GET", "/etc/passwd", NULL, 0, 404, NULL);
	expect("GET", "/../../etc/passwd", NULL, 0, 404, NULL);
	memcpy(longq, "/api/folded?comm=", 17);
	memset(longq + 17, 'a', 20000);
	longq[20017] = '\0';
	expect("GET", longq, NULL, 0, 413, NULL);
	expect("POST", "/api/folded", NULL, 200000, 413, NULL);
	expect("POST", "/api/folded", NULL, 10, 405, NULL);
	expect("DELETE", "/api/runs", NULL, 0, 405, NULL);
	free(longq);
	/* still serving */
	expect("GET", "/api/runs", NULL, 0, 200, NULL);
	expect("GET", "/", NULL, 0, 200, NULL);
}

static void put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* A store of two imported runs: host db1 (svc;main;one 10), host db2 (svc;main;two 30). */
static void hosts_store(const char *path)
{
	static const char *const host[] = { "db1", "db2" };
	static const char *const stacks[] = { "svc;main;one 10\n", "svc;main;two 30\n" };
	char in[4200];
	char *out;
	int i, st;

	if (!access(path, R_OK))
		return;
	for (i = 0; i < 2; i++) {
		snprintf(in, sizeof(in), "%s/%s.folded", tmpdir, host[i]);
		put_file(in, stacks[i]);
		out = cli(&st, "import", "folded", in, "--store", "--db", path, "--host", host[i],
			  "--time", i ? "-1h" : "-2h", NULL);
		assert_int_equal(st, 0);
		free(out);
	}
}

/*
 * A server of one test's own on @store (options as start_server_opt()):
 * the requests go to it until own_server_stop(); returns the port to go
 * back to.
 */
static int own_server(const char *store, const char *opt1, const char *opt2, pid_t *srv)
{
	int saved = port;

	port = start_server_opt(store, opt1, opt2, srv);
	return saved;
}

static void own_server_stop(pid_t srv, int saved)
{
	kill(srv, SIGTERM);
	assert_int_equal(wait_exit(srv), 0);
	port = saved;
}

/*
 * own_server() on the store @make builds (once) as @name in the test
 * directory.
 */
static int own_store_server(void (*make)(const char *path), const char *name, const char *opt1,
			    const char *opt2, pid_t *srv)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	make(path);
	return own_server(path, opt1, opt2, srv);
}

/*
 * --auth-token: /api/ wants the token (a Bearer header or token=), the page,
 * its script and style sheet do not (they hold no data, and a page opened as
 * /?token=T loads them without it); in Chromium that page works end to end
 * (tests/browser/serve_token.mjs).
 */
static void test_auth_token(void **state)
{
	static const char token[] = "s3cret-t0ken-0123456789";
	char path[4200], tokf[4200], opt[4300], url[128], hdr[128];
	int saved;
	pid_t srv;

	(void)state;
	snprintf(path, sizeof(path), "%s/hosts.db", tmpdir);
	hosts_store(path);
	snprintf(tokf, sizeof(tokf), "%s/token", tmpdir);
	put_file(tokf, token);
	snprintf(opt, sizeof(opt), "--auth-token=%s", tokf);
	saved = own_server(path, opt, NULL, &srv);
	expect("GET", "/", NULL, 0, 200, NULL);
	expect("GET", "/app.js", NULL, 0, 200, NULL);
	expect("GET", "/app.css", NULL, 0, 200, NULL);
	expect("GET", "/?token=wrong", NULL, 0, 200, NULL);
	expect("GET", "/nothing", NULL, 0, 404, NULL);
	expect("GET", "/api/runs", NULL, 0, 401, NULL);
	expect("GET", "/api/folded?token=wrong", NULL, 0, 401, NULL);
	expect("GET", "/api/folded", "Authorization: Bearer wrong\r\n", 0, 401, NULL);
	snprintf(hdr, sizeof(hdr), "/api/runs?token=%s", token);
	expect("GET", hdr, NULL, 0, 200, NULL);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", token);
	expect("GET", "/api/runs", hdr, 0, 200, NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ %s", port, token);
	node("serve_token.mjs", url);
	own_server_stop(srv, saved);
}

/*
 * A parameter's name or value that is not UTF-8 still gets a JSON error
 * body, the bytes that are not UTF-8 as U+FFFD: JSON strings are UTF-8.
 * One holding a NUL byte is refused. HEAD gets what GET does but the body.
 */
static void test_errors_not_utf8(void **state)
{
	static const struct {
		const char *path, *param, *text;
	} cases[] = {
		{ "/api/top?run=%ff", "run", "invalid run '\\uFFFD'" },
		{ "/api/top?%ff=%fe", "\\uFFFD", "unknown parameter '\\uFFFD'" },
		{ "/api/top?limit=a%c3", "limit", "invalid limit 'a\\uFFFD'" },
		{ "/api/diff?new.%c3%28=1", "new.\\uFFFD(", NULL },
		{ "/api/flamegraph.svg?width=%e2%82", "width", "'\\uFFFD\\uFFFD'" },
		/* a NUL would cut the value short: run=1%00x is not run 1 */
		{ "/api/top?run=1%00x", "run", "NUL byte" },
		{ "/api/top?comm=a%00b", "comm", "NUL byte" },
		{ "/api/runs?x%00y=1", "x", "NUL byte" },
		{ "/api/runs?%00=1", "", "NUL byte" },
	};
	char want[64];
	struct reply r, h;
	size_t i;
	int saved;
	pid_t srv;

	(void)state;
	saved = own_store_server(hosts_store, "hosts.db", NULL, NULL, &srv);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect("GET", cases[i].path, NULL, 0, 400, cases[i].param);
		get(cases[i].path, &r);
		if (cases[i].text && !strstr(r.body, cases[i].text))
			fail_msg("%s: no %s in %s", cases[i].path, cases[i].text, r.body);
		reply_free(&r);
	}
	/* HEAD: the headers of a GET, its length included, and no body */
	get("/api/runs", &r);
	assert_int_equal(http("HEAD", "/api/runs", NULL, NULL, 0, &h), 0);
	assert_int_equal(h.status, 200);
	assert_int_equal(h.len, 0);
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n", r.len);
	if (!strstr(h.headers, want))
		fail_msg("HEAD: no '%s' in %s", want, h.headers);
	reply_free(&r);
	reply_free(&h);
	own_server_stop(srv, saved);
}

/*
 * The standalone SVGs' search (a prompt()) works under their policy, whose
 * sandbox allows modals and scripts, nothing else (tests/browser/serve_svg_search.mjs).
 */
static void test_svg_search_in_chromium(void **state)
{
	char url[64];
	struct reply r;
	int saved;
	pid_t srv;

	(void)state;
	saved = own_store_server(hosts_store, "hosts.db", NULL, NULL, &srv);
	get("/api/flamegraph.svg?run=2", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers, "; sandbox allow-scripts allow-modals\r\n"));
	reply_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	node("serve_svg_search.mjs", url);
	own_server_stop(srv, saved);
}

/*
 * Three runs whose names are not patterns: host db1 (svc;main;one 10), host
 * "db[1]" labelled k=a,b (two 30), host "db*" labelled k=a (three 50).
 */
static void names_store(const char *path)
{
	static const char *const host[] = { "db1", "db[1]", "db*" };
	static const char *const label[] = { "env=x", "k=a,b", "k=a" };
	static const char *const stacks[] = { "svc;main;one 10\n", "svc;main;two 30\n",
					      "svc;main;three 50\n" };
	char in[4200];
	char *out;
	int i, st;

	if (!access(path, R_OK))
		return;
	for (i = 0; i < 3; i++) {
		snprintf(in, sizeof(in), "%s/names%d.folded", tmpdir, i);
		put_file(in, stacks[i]);
		out = cli(&st, "import", "folded", in, "--store", "--db", path, "--host", host[i],
			  "--label", label[i], NULL);
		assert_int_equal(st, 0);
		free(out);
	}
}

/* A label's value holds a ',': /api/labels and /api/runs give it whole, label= selects it. */
static void test_label_with_comma(void **state)
{
	struct reply r;
	int saved;
	pid_t srv;

	(void)state;
	saved = own_store_server(names_store, "names.db", NULL, NULL, &srv);
	get("/api/labels", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"labels\":[\"env=x\",\"k=a\",\"k=a,b\"]}\n");
	reply_free(&r);
	get("/api/runs?label=k%3Da%2Cb", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\"labels\":[\"k=a,b\"]"));
	assert_non_null(strstr(r.body, "\"id\":2,"));
	assert_null(strstr(r.body, "\"id\":1,"));
	assert_null(strstr(r.body, "\"id\":3,"));
	reply_free(&r);
	get("/api/folded?label=k%3Da%2Cb", &r);
	assert_string_equal(r.body, "svc;main;two 30\n");
	reply_free(&r);
	own_server_stop(srv, saved);
}

/*
 * host= is a glob; names picked from the page's filters select only
 * themselves (tests/browser/serve_names.mjs). The API's quoting: a set of
 * one character, as SQLite's GLOB has no escape character.
 */
static void test_names_not_patterns(void **state)
{
	char url[64];
	struct reply r;
	int saved;
	pid_t srv;

	(void)state;
	saved = own_store_server(names_store, "names.db", NULL, NULL, &srv);
	get("/api/folded?host=db%5B%5B%5D1%5D", &r);
	assert_string_equal(r.body, "svc;main;two 30\n");
	reply_free(&r);
	get("/api/folded?host=db%5B*%5D", &r);
	assert_string_equal(r.body, "svc;main;three 50\n");
	reply_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	node("serve_names.mjs", url);
	own_server_stop(srv, saved);
}

/*
 * A name that is not UTF-8 (bytes from an arbitrary binary): the SVG and the
 * JSON both show U+FFFD for its bad bytes, and focus= with the name as
 * shown (what the page sends back on a click) finds its stacks.
 */
static void test_focus_on_name_not_utf8(void **state)
{
	char path[4200], in[4200], *out;
	struct reply r;
	int saved, st;
	pid_t srv;

	(void)state;
	snprintf(path, sizeof(path), "%s/notutf8.db", tmpdir);
	snprintf(in, sizeof(in), "%s/notutf8.folded", tmpdir);
	put_file(in, "bad\xffproc;main;fn\xff\xfe;leaf 10\nbad\xffproc;main;other 4\nok;x 5\n");
	out = cli(&st, "import", "folded", in, "--store", "--db", path, NULL);
	assert_int_equal(st, 0);
	free(out);
	saved = own_server(path, NULL, NULL, &srv);
	get("/api/top?limit=10", &r);
	assert_int_equal(r.status, 200);
	if (!strstr(r.body, "\"name\":\"fn\\uFFFD\\uFFFD\""))
		fail_msg("no fn<U+FFFD><U+FFFD> in %s", r.body);
	reply_free(&r);
	get("/api/flamegraph.svg?focus=bad%EF%BF%BDproc%3Bmain%3Bfn%EF%BF%BD%EF%BF%BD", &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "No samples"));
	assert_non_null(strstr(r.body, "data-n=\"leaf\""));
	assert_null(strstr(r.body, "data-n=\"other\""));
	reply_free(&r);
	own_server_stop(srv, saved);
}

/*
 * Many query parameters get a prompt answer: 400 for an unknown one while
 * the query is under 16 KB, 413 over it, however many bare '&' it has.
 * libmicrohttpd's pool holds a record per parameter; out of it, it sends
 * nothing and the client waits for the idle timeout (here 5 s: a failure
 * is an empty reply).
 */
static double now_s(void);

static void test_many_parameters(void **state)
{
	static const struct {
		const char *item;
		int times, status;
	} cases[] = {
		{ "a=1&", 2000, 400 }, { "a&", 4000, 400 }, { "&", 8000, 400 },
		{ "a=1&", 8000, 413 }, { "&", 16000, 413 }, { "&", 30000, 413 },
		{ "&", 40000, 413 }, { "&", 120000, 413 },
	};
	char *q = malloc(128 * 1024);
	int saved, i, k;
	size_t len;
	double t0;
	pid_t srv;

	(void)state;
	saved = own_store_server(hosts_store, "hosts.db", "--idle-timeout=5", NULL, &srv);
	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		len = strlen(cases[i].item);
		memcpy(q, "/api/runs?", 10);
		for (k = 0; k < cases[i].times; k++)
			memcpy(q + 10 + k * len, cases[i].item, len);
		q[10 + cases[i].times * len] = '\0';
		t0 = now_s();
		expect("GET", q, NULL, 0, cases[i].status, NULL);
		if (now_s() - t0 > 2)
			fail_msg("%d x '%s': answered after %.1f s", cases[i].times, cases[i].item,
				 now_s() - t0);
	}
	free(q);
	expect("GET", "/api/runs", NULL, 0, 200, NULL);
	own_server_stop(srv, saved);
}

/*
 * The page in headless Chromium (tests/browser/serve.mjs): timeline range in
 * the URL, process filter, zoom, search, table, comparison of the two runs;
 * no console error. SERVE_SCREENSHOT=FILE.png keeps a picture of it.
 */
static void test_page_in_chromium(void **state)
{
	const char *src = env_path("SRCDIR"), *shot = getenv("SERVE_SCREENSHOT");
	char cmd[8192], path[4096];
	int st;

	(void)state;
	REQUIRE_BPF();
	snprintf(path, sizeof(path), "%s/tests/browser/node_modules/playwright-core/package.json", src);
	if (access(path, R_OK))
		fail_msg("%s is missing: 'make test' installs it (npm ci in tests/browser)", path);
	snprintf(cmd, sizeof(cmd), "cd '%s/tests/browser' && node serve.mjs http://127.0.0.1:%d/ %lld %lld wl_split %s 2>&1",
		 src, port, run_agent, run_record, shot ? shot : "");
	fflush(stdout);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

struct worker {
	pthread_t t;
	int i;
	const char *path;	/* NULL: one of the mix below */
	int status, err;
	size_t len;
	double secs;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	static const char *const paths[] = {
		"/api/folded", "/api/top?limit=50", "/api/timeline", "/api/flamegraph.svg",
		"/api/runs", "/api/comms", "/api/diff?base.comm=wl_split&new.comm=wl_qsort_fp",
	};
	struct worker *w = arg;
	struct reply r;
	double t0 = now_s();

	w->err = http("GET", w->path ? w->path : paths[w->i % 7], NULL, NULL, 0, &r);
	w->secs = now_s() - t0;
	if (!w->err) {
		w->status = r.status;
		w->len = r.len;
		reply_free(&r);
	}
	return NULL;
}

/* 50 requests at once while an agent writes the same database. */
static void test_concurrent_with_agent(void **state)
{
	const char *agent[] = { env_path("PROFILE"), "agent", "--db", db, "--flush-interval", "0.2",
				"--bucket", "1", "--stats-interval", "0", NULL };
	const char *wlargv[] = { NULL, "4", tmp("truth2"), NULL };
	char split[4096], *err;
	struct worker w[50];
	pid_t a, wl;
	int i, round, ok = 0;

	(void)state;
	REQUIRE_BPF();
	snprintf(split, sizeof(split), "%s/wl_split", env_path("WORKLOADS"));
	wlargv[0] = split;
	wl = spawn(wlargv, "/dev/null", NULL);
	a = spawn(agent, tmp("agent2.out"), tmp("agent2.err"));
	sleep_s(1.0);
	for (round = 0; round < 2; round++) {
		for (i = 0; i < 50; i++) {
			w[i] = (struct worker){ .i = i };
			assert_int_equal(pthread_create(&w[i].t, NULL, worker, &w[i]), 0);
		}
		for (i = 0; i < 50; i++) {
			pthread_join(w[i].t, NULL);
			if (w[i].status != 200 || !w[i].len)
				fail_msg("request %d: status %d, %zu bytes (%s)", i, w[i].status,
					 w[i].len, strerror(-w[i].err));
			ok++;
		}
		sleep_s(0.5);
	}
	kill(a, SIGINT);
	assert_int_equal(wait_exit(a), 0);
	kill(wl, SIGTERM);
	wait_exit(wl);
	err = slurp(tmp("agent2.err"));
	print_message("%d requests answered while the agent wrote; agent: %s", ok,
		      strstr(err, "samples taken") ? strstr(err, "samples taken") : err);
	if (strstr(err, "cannot write") || strstr(err, "failed flushes") ||
	    !strstr(err, " 0 lost"))
		fail_msg("the agent lost samples or failed to write:\n%s", err);
	free(err);
}

/*
 * Occurrences of @needle in @s, in one pass: strstr() in a loop is linear
 * too, but ASan's strstr measures the whole rest of @s on every call, which
 * made this quadratic on a 17 MB SVG (an hour under the sanitizers).
 */
static int count(const char *s, const char *needle)
{
	size_t len = strlen(needle);
	int n = 0;

	for (; (s = strchr(s, needle[0])); s++)
		n += !strncmp(s, needle, len);
	return n;
}

/* The frames a graph left out to keep max_frames (data-cut). */
static int cut(const char *svg)
{
	const char *p = strstr(svg, "data-cut=\"");

	return p ? atoi(p + 10) : 0;
}

/* 100,000 distinct stacks (50 modules x 40 classes x 50 leaves) imported as run 1 of @path. */
static void large_store(const char *path)
{
	char in[4200];
	char *out;
	int st;

	if (!access(path, R_OK))
		return;
	snprintf(in, sizeof(in), "%s/100k.folded", tmpdir);
	write_100k_folded(in);
	out = cli(&st, "import", "folded", in, "--store", "--db", path, NULL);
	assert_int_equal(st, 0);
	assert_non_null(strstr(out, "run 1: 4900035 samples, 100000 stacks"));
	free(out);
}

/*
 * Zooming into frames the server pruned (tests/browser/serve_zoom.mjs): the
 * page fetches the frame's own graph (focus=) and draws its real children.
 * The API: focus= keeps the stacks through that frame, root first, or leaf
 * first with reverse=1.
 */
static void test_zoom_detail_in_chromium(void **state)
{
	char path[4200], url[64];
	struct reply r;
	int saved;
	pid_t srv;

	(void)state;
	REQUIRE_BPF();
	snprintf(path, sizeof(path), "%s/100k.db", tmpdir);
	large_store(path);
	saved = own_server(path, NULL, NULL, &srv);
	get("/api/flamegraph.svg?run=1&focus=app%3Bmain%3Bapp%3A%3Amodule_07%3A%3Adispatch", &r);
	assert_int_equal(r.status, 200);
	/* the chain to the frame (all, app, main), then it with all of its samples */
	assert_non_null(strstr(r.body, "data-v=\"97987\" data-e=\""));
	assert_non_null(strstr(r.body, "\" data-p=\"2\" data-n=\"app::module_07::dispatch\""));
	assert_non_null(strstr(r.body, "data-n=\"leaf_14001\""));
	assert_null(strstr(r.body, "module_08"));
	reply_free(&r);
	get("/api/flamegraph.svg?run=1&reverse=1&focus=leaf_14150%3Bapp%3A%3Amodule_07%3A%3AClass3%3A%3Amethod_3", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "data-v=\"33\" data-e=\"7\" data-p=\"-1\" data-n=\"all\""));
	assert_non_null(strstr(r.body, "data-p=\"5\" data-n=\"app\""));
	reply_free(&r);
	get("/api/diff.svg?base.run=1&new.run=1&focus=app%3Bmain%3Bapp%3A%3Amodule_07%3A%3Adispatch", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "\" data-p=\"2\" data-n=\"app::module_07::dispatch\""));
	assert_null(strstr(r.body, "module_08"));
	reply_free(&r);
	get("/api/flamegraph.svg?run=1&focus=app%3Bnothing", &r);
	assert_non_null(strstr(r.body, "No samples"));
	reply_free(&r);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ 1", port);
	node("serve_zoom.mjs", url);
	/*
	 * Every frame (min_width=0): 102,103 of them; the widest 3000 by
	 * default, the others counted in data-cut; max_frames= takes more
	 */
	get("/api/flamegraph.svg?run=1&min_width=0", &r);
	/* (all the 2103 frames above the leaves: the leaves wide enough tie with more) */
	assert_int_equal(count(r.body, "<rect class=\"f"), 2103);
	assert_int_equal(cut(r.body), 100000);
	reply_free(&r);
	get("/api/flamegraph.svg?run=1&min_width=0&max_frames=20000", &r);
	assert_in_range(count(r.body, "<rect class=\"f"), 10000, 20000);
	assert_int_equal(count(r.body, "<rect class=\"f") + cut(r.body), 102103);
	reply_free(&r);
	get("/api/flamegraph.svg?run=1&min_width=0&max_frames=1000000", &r);
	assert_int_equal(count(r.body, "<rect class=\"f"), 102103);
	assert_null(strstr(r.body, "data-cut"));
	reply_free(&r);
	/* and the page draws it in under 1 s, zoom and search under 200 ms */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/ 1 0", port);
	node("serve_timing.mjs", url);
	own_server_stop(srv, saved);
}

/*
 * A request that waits for a worker is answered however long it waits: the
 * idle timeout counts only a silent client. One worker, a 1 s timeout, and
 * rounds of 4 requests at once over the 100,000 stacks (each reads them all)
 * until some waited over 1.5 s.
 */
static void test_waiting_requests_answered(void **state)
{
	struct worker w[4];
	double slowest = 0;
	int i, round, saved = port, answered = 0;
	char path[4200];
	pid_t srv;

	(void)state;
	REQUIRE_BPF();
	snprintf(path, sizeof(path), "%s/100k.db", tmpdir);
	large_store(path);
	saved = own_server(path, "--threads=1", "--idle-timeout=1", &srv);
	for (round = 0; round < 5 && slowest <= 1.5; round++) {
		for (i = 0; i < 4; i++) {
			w[i] = (struct worker){ .i = i, .path = "/api/top?limit=5" };
			assert_int_equal(pthread_create(&w[i].t, NULL, worker, &w[i]), 0);
		}
		for (i = 0; i < 4; i++) {
			pthread_join(w[i].t, NULL);
			if (w[i].status != 200 || !w[i].len)
				fail_msg("request %d after %.2f s: status %d, %zu bytes (%s)", i,
					 w[i].secs, w[i].status, w[i].len, strerror(-w[i].err));
			answered++;
			if (w[i].secs > slowest)
				slowest = w[i].secs;
		}
	}
	print_message("%d requests answered by one worker, the slowest after %.2f s (idle timeout 1 s)\n",
		      answered, slowest);
	if (slowest <= 1.5)
		fail_msg("no request waited over 1.5 s: this test tested nothing");
	own_server_stop(srv, saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_api_equals_cli),
		cmocka_unit_test(test_json_endpoints),
		cmocka_unit_test(test_diff_equals_cli),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_auth_token),
		cmocka_unit_test(test_errors_not_utf8),
		cmocka_unit_test(test_svg_search_in_chromium),
		cmocka_unit_test(test_label_with_comma),
		cmocka_unit_test(test_names_not_patterns),
		cmocka_unit_test(test_many_parameters),
		cmocka_unit_test(test_focus_on_name_not_utf8),
		cmocka_unit_test(test_page_in_chromium),
		cmocka_unit_test(test_postgres_store),
		cmocka_unit_test(test_concurrent_with_agent),
		cmocka_unit_test(test_zoom_detail_in_chromium),
		cmocka_unit_test(test_waiting_requests_answered),
	};

	if (getenv("TEST_FILTER"))	/* one test: TEST_FILTER=test_auth_token */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("e2e_serve", tests, group_setup, group_teardown);
}
