// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of `profile import perf-script|folded --store`: a profile
 * made elsewhere stored as a run. The stored run reads back through
 * `profile folded --run N` as exactly the folded input (one line per
 * distinct stack, counts summed, kernel/inlined/JIT/Python suffixes kept), perf
 * script text as exactly what `profile import perf-script` prints; the run
 * carries its labels, host and time and is selected by them; `profile diff
 * store:...` compares two imported runs; bad input (fractional counts,
 * malformed lines, no stacks, bad options) is refused with one line and
 * leaves the database as it was.
 *
 * Environment (tests/run.sh sets it): PROFILE, FIXTURES' source in SRCDIR.
 */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2e.h"

static char db[4096];

struct server {
	pid_t pid;
	int port;
	char url[64];
};

/* servers still running, stopped at the end should a test fail before it stops them */
static pid_t servers[8];

/* Run the profiler with @args (NULL-terminated, after the program); output in *@out, *@err. */
static int cli(char **out, char **err, ...)
{
	const char *argv[64] = { env_path("PROFILE") };
	char o[4200], e[4200];
	va_list ap;
	int n = 1, rc;

	snprintf(o, sizeof(o), "%s/cli.out", tmpdir);
	snprintf(e, sizeof(e), "%s/cli.err", tmpdir);
	va_start(ap, err);
	while (n < 63 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	rc = wait_exit(spawn(argv, o, e));
	if (out)
		*out = slurp(o);
	if (err)
		*err = slurp(e);
	return rc;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static long long stored_run(const char *out)
{
	long long id = 0;
	const char *p = strstr(out, "stored run ");

	assert_non_null(p);
	assert_int_equal(sscanf(p, "stored run %lld:", &id), 1);
	assert_true(id > 0);
	return id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A folded profile of many distinct stacks: kernel, inlined and JIT frames,
 * names with spaces, parentheses, UTF-8 and punctuation, counts up to 2^40;
 * every stack written twice (the counts must add up), in scrambled order.
 * *@want gets the lines `profile folded` must print: sorted, summed.
 */
static void make_profile(const char *path, char **want)
{
	static const char *const comms[] = { "app", "worker thread", "jäva" };
	static const char *const names[] = {
		"main", "run_loop", "std::vector<int>::push_back(int&&)", "parse_json",
		"ŝtraße::ñame", "operator new(unsigned long)", "memcpy_[i]", "Interp::call_[j]",
		"do_syscall_64_[k]", "__x64_sys_read_[k]", "[unknown]", "a.b$c#d@e",
		"handle_request_[p]",
	};
	enum { NR = 600 };
	char *lines[NR];
	size_t len = 0, i, j;
	FILE *f = fopen(path, "w");
	char *w;

	assert_non_null(f);
	for (i = 0; i < NR; i++) {
		unsigned long long count = (i * 7919ULL) % 1000 + 1;
		char buf[512];
		int n;

		if (i % 97 == 0)
			count <<= 30;
		n = snprintf(buf, sizeof(buf), "%s", comms[i % 3]);
		for (j = 0; j < 2 + i % 9; j++)
			n += snprintf(buf + n, sizeof(buf) - n, ";%s",
				      names[(i / (j + 1) + j * 5) % (sizeof(names) / sizeof(names[0]))]);
		/* make each stack distinct */
		n += snprintf(buf + n, sizeof(buf) - n, ";leaf_%zu", i);
		assert_true(asprintf(&lines[i], "%s %llu", buf, 2 * count) > 0);
		/* the same stack twice, halves in two places */
		fprintf(f, "%s %llu\n", buf, count);
		len += strlen(lines[i]) + 1;
	}
	for (i = NR; i-- > 0;) {
		char *sp = strrchr(lines[i], ' ');

		fprintf(f, "%.*s %llu\n", (int)(sp - lines[i]), lines[i],
			strtoull(sp + 1, NULL, 10) / 2);
	}
	assert_int_equal(fclose(f), 0);
	/* `profile folded` sorts by stack, the count after a space */
	qsort(lines, NR, sizeof(*lines), cmp_str);
	w = calloc(1, len + 1);
	assert_non_null(w);
	for (i = 0; i < NR; i++) {
		strcat(w, lines[i]);
		strcat(w, "\n");
		free(lines[i]);
	}
	*want = w;
}

/* The lines of @text sorted, as a new text. */
static char *sorted_lines(const char *text)
{
	char *copy = strdup(text), *p, *out, **v = NULL;
	size_t n = 0, i;

	assert_non_null(copy);
	out = calloc(1, strlen(text) + 2);
	assert_non_null(out);
	for (p = copy; *p;) {
		char *nl = strchr(p, '\n');

		v = realloc(v, (n + 1) * sizeof(*v));
		assert_non_null(v);
		v[n++] = p;
		if (!nl)
			break;
		*nl = 0;
		p = nl + 1;
	}
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++) {
		strcat(out, v[i]);
		strcat(out, "\n");
	}
	free(v);
	free(copy);
	return out;
}

static void test_folded_round_trip(void **state)
{
	char *in = tmp("many.folded"), *want, *out, *err, run[32];
	long long id;

	(void)state;
	make_profile(in, &want);
	assert_int_equal(cli(&out, &err, "import", "folded", in, "--store", "--db", db,
			     "--label", "build=v1", "--label", "team=web", "--host", "far-host",
			     "--time", "@1700000000", NULL), 0);
	id = stored_run(out);
	assert_non_null(strstr(out, "600 stacks, 3 processes"));
	free(out);
	free(err);
	snprintf(run, sizeof(run), "%lld", id);
	assert_int_equal(cli(&out, &err, "folded", "--db", db, "--run", run, NULL), 0);
	assert_string_equal(out, want);
	free(out);
	free(err);
	/* the labels, host and time select it */
	assert_int_equal(cli(&out, &err, "folded", "--db", db, "--label", "build=v1", "--host",
			     "far-host", "--since", "@1700000000", "--until", "@1700000001", NULL), 0);
	assert_string_equal(out, want);
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "folded", "--db", db, "--run", run, "--since",
			     "@1700000001", NULL), 0);
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "runs", "--db", db, "--run", run, NULL), 0);
	assert_non_null(strstr(out, "import"));
	assert_non_null(strstr(out, "far-host"));
	assert_non_null(strstr(out, "build=v1"));
	free(out);
	free(err);
	free(want);
}

static void test_perf_script_round_trip(void **state)
{
	char fixture[4096], run[32], *out, *err, *want, *got, *p, *ws = NULL;
	size_t cap = 0;
	FILE *f;
	long long id;

	(void)state;
	snprintf(fixture, sizeof(fixture), "%s/tests/fixtures/perf-script.txt",
		 env_path("SRCDIR"));
	assert_int_equal(cli(&want, &err, "import", "perf-script", "--all", fixture, NULL), 0);
	free(err);
	assert_int_equal(cli(&out, &err, "import", "perf-script", "--all", fixture, "--store",
			     "--db", db, "--label", "build=v2", NULL), 0);
	id = stored_run(out);
	free(out);
	free(err);
	snprintf(run, sizeof(run), "%lld", id);
	assert_int_equal(cli(&got, &err, "folded", "--db", db, "--run", run, NULL), 0);
	free(err);
	/* a sample without a stack is stored as one: "comm;[no stack]" */
	f = open_memstream(&ws, &cap);
	assert_non_null(f);
	for (p = want; *p;) {
		char *nl = strchr(p, '\n'), *sp;

		assert_non_null(nl);
		*nl = 0;
		sp = strrchr(p, ' ');
		assert_non_null(sp);
		if (memchr(p, ';', sp - p))
			fprintf(f, "%s\n", p);
		else
			fprintf(f, "%.*s;[no stack]%s\n", (int)(sp - p), p, sp);
		p = nl + 1;
	}
	fclose(f);
	free(want);
	want = sorted_lines(ws);
	free(ws);
	assert_true(strlen(want) > 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
}

/*
 * Weights that are cpu-clock periods are nanoseconds: the run says so (its
 * frequency is STORE_FREQ_NS), and the exports give the recording's time,
 * not the counts at an assumed 99 Hz. Periods of another event are refused.
 */
static void test_perf_script_store_time(void **state)
{
	char run[32], *out, *err;
	FILE *f;
	int i;

	(void)state;
	f = fopen(tmp("clock.txt"), "w");
	assert_non_null(f);
	/* 300 samples of 10 ms: 3 s */
	for (i = 0; i < 300; i++)
		fprintf(f, "app 100 %d.0: 10000000 cpu-clock:\n\t5555 main+0x1 (/bin/app)\n\n", i);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(cli(&out, &err, "import", "perf-script", tmp("clock.txt"), "--store",
			     "--db", db, NULL), 0);
	assert_non_null(strstr(out, "3000000000 ns of CPU time"));
	snprintf(run, sizeof(run), "store:run=%lld", stored_run(out));
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "export", "-f", "speedscope", run, "--db", db, NULL), 0);
	assert_non_null(strstr(out, "\"unit\":\"nanoseconds\""));
	assert_non_null(strstr(out, "\"endValue\":3000000000"));
	free(out);
	free(err);
	write_file(tmp("cycles.txt"), "app 100 1.0: 250000 cycles:\n\t5555 main+0x1 (/bin/app)\n\n");
	assert_int_equal(cli(&out, &err, "import", "perf-script", tmp("cycles.txt"), "--store",
			     "--db", db, NULL), 1);
	assert_non_null(strstr(err, "periods of event 'cycles'"));
	assert_string_equal(out, "");
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "import", "perf-script", tmp("cycles.txt"), "--store",
			     "--count-samples", "--db", db, NULL), 0);
	assert_non_null(strstr(out, ": 1 samples,"));
	free(out);
	free(err);
}

static void test_diff_of_imports(void **state)
{
	char *a = tmp("a.folded"), *b = tmp("b.folded"), *out, *err, sa[64], sb[64];

	(void)state;
	write_file(a, "svc;main;handle;parse 500\nsvc;main;handle;render 500\n");
	write_file(b, "svc;main;handle;parse 900\nsvc;main;handle;render 100\n");
	assert_int_equal(cli(&out, &err, "import", "folded", a, "--store", "--db", db, NULL), 0);
	snprintf(sa, sizeof(sa), "store:run=%lld", stored_run(out));
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "import", "folded", b, "--store", "--db", db, NULL), 0);
	snprintf(sb, sizeof(sb), "store:run=%lld", stored_run(out));
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "diff", "--db", db, sa, sb, NULL), 0);
	/* parse grew from 50% to 90% of the samples, render shrank: both significant */
	assert_non_null(strstr(out, "+40.00"));
	assert_non_null(strstr(out, "-40.00"));
	assert_non_null(strstr(out, "parse"));
	free(out);
	free(err);
}

static void test_bad_input_stores_nothing(void **state)
{
	static const struct {
		const char *text;	/* the input, NULL: a file that does not exist */
		const char *opt, *arg;	/* one more option */
		int rc;
		const char *msg;
	} cases[] = {
		{ "a;b 1.5\n", NULL, NULL, 1, "is not a whole number" },
		{ "a;b 0.25\n", NULL, NULL, 1, "is not a whole number" },
		{ "a;b 3\nno count here\n", NULL, NULL, 1, "nothing stored" },
		{ "", NULL, NULL, 1, "holds no stacks" },
		{ "# only a comment\n\n", NULL, NULL, 1, "holds no stacks" },
		{ NULL, NULL, NULL, 1, "cannot open" },
		{ "a;b 1\n", "--time", "yesterday-ish", 1, "--time" },
		{ "a;b 1\n", "--label", "novalue", 2, "KEY=VALUE" },
		{ "a;b 1\n", "--host", "", 2, "--host" },
	};
	char *before, *after, *out, *err, in[4200], missing[4200];
	size_t i;

	(void)state;
	snprintf(in, sizeof(in), "%s/bad.folded", tmpdir);
	snprintf(missing, sizeof(missing), "%s/missing.folded", tmpdir);
	/* something stored before */
	write_file(tmp("good.folded"), "keep;me 3\n");
	assert_int_equal(cli(&out, &err, "import", "folded", tmp("good.folded"), "--store",
			     "--db", db, NULL), 0);
	free(out);
	free(err);
	assert_int_equal(cli(&before, &err, "runs", "--db", db, NULL), 0);
	free(err);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *path = cases[i].text ? in : missing;

		if (cases[i].text)
			write_file(in, cases[i].text);
		if (cases[i].opt)
			assert_int_equal(cli(&out, &err, "import", "folded", path, "--store", "--db",
					     db, cases[i].opt, cases[i].arg, NULL), cases[i].rc);
		else
			assert_int_equal(cli(&out, &err, "import", "folded", path, "--store", "--db",
					     db, NULL), cases[i].rc);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: '%s' not in: %s", i, cases[i].msg, err);
		assert_string_equal(out, "");
		free(out);
		free(err);
	}
	assert_int_equal(cli(&after, &err, "runs", "--db", db, NULL), 0);
	free(err);
	assert_string_equal(after, before);
	free(before);
	free(after);
	/* an unknown format still names itself */
	assert_int_equal(cli(&out, &err, "import", "pprof", in, NULL), 2);
	assert_non_null(strstr(err, "cannot import 'pprof'"));
	free(out);
	free(err);
}

/* `profile serve --db @path` on a free loopback port, stopped at the end should a test fail. */
static void serve(const char *path, struct server *sv)
{
	int i;

	memset(sv, 0, sizeof(*sv));
	sv->port = serve_on_free_port(path, NULL, NULL, &sv->pid);
	for (i = 0; i < 8; i++) {
		if (servers[i] <= 0) {
			servers[i] = sv->pid;
			break;
		}
	}
	snprintf(sv->url, sizeof(sv->url), "http://127.0.0.1:%d/", sv->port);
}

static void serve_stop(struct server *sv)
{
	int i;

	for (i = 0; i < 8; i++) {
		if (servers[i] == sv->pid)
			servers[i] = 0;
	}
	if (sv->pid > 0) {
		kill(sv->pid, SIGTERM);
		assert_int_equal(wait_exit(sv->pid), 0);
	}
	sv->pid = -1;
}

/*
 * Names anyone can give a function in a binary they build, and a process, a
 * host and labels: markup that runs script, quotes, entities, javascript:
 * URLs, template syntax, JS object keys, control characters, invalid UTF-8,
 * bidi overrides and line separators, a very long name.
 */
static const char *const hostile_names[] = {
	"</script><img src=x onerror=window.__pwned=1>",
	"\"><svg onload=window.__pwned=2>",
	"'single' & \"double\" &amp &lt b&gt",
	"<svg/onload=alert(3)>",
	"javascript:window.__pwned=4",
	"ctl\x01\x07\x1b[31mred\x7f\ttab",
	"bad\xff\xfeutf8\xc3\x28\xc0\xaf\xed\xa0\x80",
	"{{constructor.constructor('window.__pwned=5')()}}",
	"__proto__",
	"constructor",
	"<img src=x onerror=alert(1)>_[k]",
	"<iframe src=\"javascript:alert(6)\">_[i]",
	"\xe2\x80\xae\xe2\x80\xa8rtl&sep<b>",
	"?run=1&new.run=2#frag%0a%22",
	"${window.__pwned=7}`<math><mi xlink:href=\"javascript:alert(8)\">x</mi></math>",
	"<a href=javascript:alert(9)>j_[j]",
};
static const char *const hostile_comms[] = {
	"<script>window.__pwned=10</script>", "javascript:alert(11)", "\"comm'&<>",
	"ctl\x01\x1b[0m\xff\xfe<img src=x onerror=window.__pwned=12>",
};

#define NR_NAMES (sizeof(hostile_names) / sizeof(hostile_names[0]))
#define NR_COMMS (sizeof(hostile_comms) / sizeof(hostile_comms[0]))

/*
 * The hostile profile, or the same shape with plain names (@clean); @shift
 * changes the counts, so that two of them differ.
 */
static void write_named(const char *path, bool clean, int shift)
{
	char name[64], comm[64], longname[3001];
	FILE *f = fopen(path, "w");
	size_t c, i, j;
	int n = 0;

	assert_non_null(f);
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	for (c = 0; c < NR_COMMS; c++) {
		snprintf(comm, sizeof(comm), "comm%zu", c);
		for (i = 0; i <= NR_NAMES; i++) {
			for (j = 0; j < 6; j++) {
				const char *a = i == NR_NAMES ? longname : hostile_names[i];

				snprintf(name, sizeof(name), "name%zu", i);
				fprintf(f, "%s;main;%s;", clean ? comm : hostile_comms[c],
					clean && i < NR_NAMES ? name : a);
				if (clean)
					fprintf(f, "name%zu", j);
				else
					fputs(hostile_names[j], f);
				fprintf(f, " %d\n", (++n * (3 + shift * 5)) % 97 + 1 + shift * (int)i * 50);
			}
		}
	}
	assert_int_equal(fclose(f), 0);
}

/* A store of two runs, hostile or plain, with hosts and labels of the same kind. */
static void named_store(const char *path, bool clean)
{
	char in[2][4200], *out, *err;
	int k;

	for (k = 0; k < 2; k++) {
		snprintf(in[k], sizeof(in[k]), "%s/%s%d.folded", tmpdir, clean ? "clean" : "hostile", k);
		write_named(in[k], clean, k);
		assert_int_equal(cli(&out, &err, "import", "folded", in[k], "--store", "--db", path,
				     "--host", clean ? (k ? "host-b" : "host-a") :
				     k ? "javascript:alert(20)" : "<img src=x onerror=window.__pwned=21>",
				     "--label", clean ? "k1=v1" : "k<script>=v\"><img src=x onerror=alert(22)>",
				     "--label", clean ? "k2=v2" : "j=javascript:alert(23)",
				     "--time", k ? "-1h" : "-2h", NULL), 0);
		assert_int_equal(stored_run(out), k + 1);
		free(out);
		free(err);
	}
}

/*
 * The page over a store of hostile names (tests/browser/hostile.mjs): no
 * script runs and no element is added anywhere in the UI, compared step by
 * step with a store of plain names.
 */
static void test_hostile_names_in_chromium(void **state)
{
	char clean[4200], hostile[4200], args[256];
	struct server a, b;

	(void)state;
	need_browser();
	snprintf(clean, sizeof(clean), "%s/clean.db", tmpdir);
	snprintf(hostile, sizeof(hostile), "%s/hostile.db", tmpdir);
	named_store(clean, true);
	named_store(hostile, false);
	serve(clean, &a);
	serve(hostile, &b);
	snprintf(args, sizeof(args), "%s %s", a.url, b.url);
	node("hostile.mjs", args);
	serve_stop(&a);
	serve_stop(&b);
}

/*
 * A store of 100,000 distinct stacks (50 modules x 40 classes x 50 leaves,
 * shaped as bench/gen_stacks makes them shallower): the page draws its flame
 * graph in under 1 s after the data arrives and answers zoom, search and
 * tooltips in under 200 ms, in Chromium (tests/browser/serve_timing.mjs).
 */
static void test_large_profile_in_chromium(void **state)
{
	char in[4200], path[4200], args[256], *out, *err;
	struct server sv;

	(void)state;
	need_browser();
	snprintf(in, sizeof(in), "%s/100k.folded", tmpdir);
	snprintf(path, sizeof(path), "%s/100k.db", tmpdir);
	write_100k_folded(in);
	assert_int_equal(cli(&out, &err, "import", "folded", in, "--store", "--db", path, NULL), 0);
	assert_non_null(strstr(out, "100000 stacks"));
	free(out);
	free(err);
	serve(path, &sv);
	snprintf(args, sizeof(args), "%s 1", sv.url);
	node("serve_timing.mjs", args);
	serve_stop(&sv);
}

/*
 * The page's comparisons (tests/browser/compare.mjs): two hosts, two builds
 * picked from the build filter, two time ranges dragged on the timeline.
 */
static void test_compare_in_chromium(void **state)
{
	char a[4200], b[4200], path[4200], *out, *err;
	struct server sv;

	(void)state;
	need_browser();
	snprintf(a, sizeof(a), "%s/cmp-a.folded", tmpdir);
	snprintf(b, sizeof(b), "%s/cmp-b.folded", tmpdir);
	snprintf(path, sizeof(path), "%s/compare.db", tmpdir);
	write_file(a, "svc;main;handle;parse 500\nsvc;main;handle;render 500\n");
	write_file(b, "svc;main;handle;parse 900\nsvc;main;handle;render 100\n");
	assert_int_equal(cli(&out, &err, "import", "folded", a, "--store", "--db", path, "--host",
			     "alpha", "--build-id", "aaaa1111", "--time", "-3h", NULL), 0);
	free(out);
	free(err);
	assert_int_equal(cli(&out, &err, "import", "folded", b, "--store", "--db", path, "--host",
			     "beta", "--build-id", "bbbb2222", "--time", "-1h", NULL), 0);
	free(out);
	free(err);
	/* the build ids select as on the command line */
	assert_int_equal(cli(&out, &err, "folded", "--db", path, "--build-id", "bbbb", NULL), 0);
	assert_string_equal(out, "svc;main;handle;parse 900\nsvc;main;handle;render 100\n");
	free(out);
	free(err);
	serve(path, &sv);
	node("compare.mjs", sv.url);
	serve_stop(&sv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_round_trip),
		cmocka_unit_test(test_perf_script_round_trip),
		cmocka_unit_test(test_perf_script_store_time),
		cmocka_unit_test(test_diff_of_imports),
		cmocka_unit_test(test_bad_input_stores_nothing),
		cmocka_unit_test(test_hostile_names_in_chromium),
		cmocka_unit_test(test_large_profile_in_chromium),
		cmocka_unit_test(test_compare_in_chromium),
	};
	int ret;

	if (setup_group(NULL))
		return 1;
	snprintf(db, sizeof(db), "%s/import.db", tmpdir);
	ret = cmocka_run_group_tests_name("e2e_import", tests, NULL, NULL);
	for (size_t i = 0; i < 8; i++) {
		if (servers[i] > 0) {
			kill(servers[i], SIGTERM);
			waitpid(servers[i], NULL, 0);
		}
	}
	return teardown_group(NULL) ? 1 : ret;
}
