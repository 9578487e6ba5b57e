// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of `profile import perf-script|folded --store`: a profile
 * made elsewhere stored as a run. The stored run reads back through
 * `profile folded --run N` as exactly the folded input (one line per
 * distinct stack, counts summed, kernel/inlined/JIT suffixes kept), perf
 * script text as exactly what `profile import perf-script` prints; the run
 * carries its labels, host and time and is selected by them; `profile diff
 * store:...` compares two imported runs; bad input (fractional counts,
 * malformed lines, no stacks, bad options) is refused with one line and
 * leaves the database as it was.
 *
 * Environment (tests/run.sh sets it): PROFILE, FIXTURES' source in SRCDIR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "e2e.h"

static char db[4096];

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
				      names[(i / (j + 1) + j * 5) % 12]);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_folded_round_trip),
		cmocka_unit_test(test_perf_script_round_trip),
		cmocka_unit_test(test_diff_of_imports),
		cmocka_unit_test(test_bad_input_stores_nothing),
	};
	int ret;

	if (setup_group(NULL))
		return 1;
	snprintf(db, sizeof(db), "%s/import.db", tmpdir);
	ret = cmocka_run_group_tests_name("e2e_import", tests, NULL, NULL);
	return teardown_group(NULL) ? 1 : ret;
}
