// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests: the real profile binary, the real BPF program, a
 * workload with a known CPU split. They skip only when the kernel refuses
 * BPF or perf events, and say why.
 *
 * Environment (tests/run.sh sets it): PROFILE, the binary; WORKLOADS, the
 * directory with wl_split.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "e2e.h"

static pid_t start_workload(const char *truth, double seconds)
{
	char path[4096], dur[32];
	const char *argv[] = { path, dur, truth, NULL };

	snprintf(path, sizeof(path), "%s/wl_split", env_path("WORKLOADS"));
	snprintf(dur, sizeof(dur), "%g", seconds);
	return spawn(argv, NULL, NULL);
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* utime + stime of a process, in seconds */
static double process_cpu_seconds(pid_t pid)
{
	char path[64], *text, *p;
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	text = slurp(path);
	p = strrchr(text, ')');	/* comm may hold spaces */
	assert_non_null(p);
	assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st), 2);
	free(text);
	return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

struct shares {
	double total, leaf[3], chained[3];
};

static const char *const LEAVES[] = { "leaf_alpha", "leaf_beta", "leaf_gamma" };

static void parse_folded(const char *path, struct shares *sh)
{
	char *text = slurp(path), *line, *save = NULL;

	memset(sh, 0, sizeof(*sh));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strrchr(line, ' ');
		double c;
		int i;

		assert_non_null(sp);
		c = atof(sp + 1);
		*sp = '\0';
		sh->total += c;
		for (i = 0; i < 3; i++) {
			char chain[64];

			if (!strstr(line, LEAVES[i]))
				continue;
			sh->leaf[i] += c;
			snprintf(chain, sizeof(chain), ";main;outer;middle;%s", LEAVES[i]);
			if (strstr(line, chain))
				sh->chained[i] += c;
		}
	}
	free(text);
}

/* high enough that the shares' sampling error stays well under 3 points */
#define FREQ 999
#define FREQ_S "999"

static void test_split_matches_truth(void **state)
{
	char *truth = tmp("truth.txt"), *folded = tmp("split.folded"), *svg = tmp("split.svg");
	char *out = tmp("split.out"), *errf = tmp("split.err");
	char pidbuf[32], *text;
	struct summary s;
	struct shares sh;
	pid_t wl, prof, spinner;
	double cpu_before, cpu, wall, profiled;
	int i;

	(void)state;
	REQUIRE_BPF();
	/*
	 * A second, unselected instance keeps the other CPU busy: an idle CPU
	 * gets no cpu-clock ticks on some kernels (perf sees the same), and
	 * the test checks that every tick was taken and accounted for.
	 */
	spinner = start_workload(tmp("truth-spinner.txt"), 60);
	wl = start_workload(truth, 60);
	boost(wl);
	sleep_s(0.5);
	snprintf(pidbuf, sizeof(pidbuf), "%d", wl);
	cpu_before = process_cpu_seconds(wl);
	wall = now_seconds();
	{
		const char *argv[] = { env_path("PROFILE"), "-p", pidbuf, "-d", "6", "-F", FREQ_S,
				 "--folded", folded, "-o", svg, NULL };

		prof = spawn(argv, out, errf);
		/*
		 * The workload's CPU time counts from before the profiler starts
		 * sampling to after it has symbolized: on a busy machine the
		 * profiler must not crawl through those phases while the boosted
		 * workload keeps running.
		 */
		boost(prof);
	}
	if (wait_exit(prof) != 0) {
		text = slurp(errf);
		fail_msg("profile failed: %s", text);
	}
	cpu = process_cpu_seconds(wl) - cpu_before;
	wall = now_seconds() - wall;
	kill(wl, SIGTERM);
	kill(spinner, SIGTERM);
	assert_int_equal(wait_exit(wl), 0);
	wait_exit(spinner);

	text = slurp(out);
	print_message("%s", text);
	parse_summary(text, &s);
	/* every sample the kernel took is accounted for */
	assert_int_equal(s.taken, s.recorded + s.idle + s.filtered + s.dropped);
	/* the timer fired as often as asked, on every (busy) CPU */
	assert_true(fabs((double)s.taken - s.expected) <= 0.05 * s.expected);
	/* the other CPU's samples went to the spinner and were filtered out */
	assert_true(s.filtered > 0);
	/*
	 * One sample per tick the workload ran: its CPU time, as the kernel
	 * accounts it, predicts the count. The CPU time is measured around
	 * the whole profile process (BPF load and detach included, slow on a
	 * loaded machine), so scale its rate to the time actually sampled.
	 */
	assert_int_equal(sscanf(strstr(text, "Profiled "), "Profiled %lf s", &profiled), 1);
	print_message("workload CPU %.2f s in %.2f s: %.0f samples predicted for %.2f s sampled, %llu recorded\n",
		      cpu, wall, cpu / wall * profiled * FREQ, profiled, s.recorded);
	assert_true(s.recorded >= 0.85 * cpu / wall * profiled * FREQ &&
		    s.recorded <= 1.10 * cpu / wall * profiled * FREQ);
	assert_true(s.dropped <= 0.01 * s.recorded);
	assert_non_null(strstr(text, "leaf_alpha"));
	free(text);

	parse_folded(folded, &sh);
	assert_true(sh.total == s.recorded);
	for (i = 0; i < 3; i++) {
		double want = read_truth(truth, LEAVES[i]), got = sh.leaf[i] / sh.total;

		print_message("%s: measured %.2f%%, truth %.2f%%, whole chain in %.1f%%\n",
			      LEAVES[i], 100 * got, 100 * want, 100 * sh.chained[i] / sh.leaf[i]);
		if (fabs(got - want) > 0.03)
			fail_msg("%s share %.2f%% is more than 3 points from the truth %.2f%%",
				 LEAVES[i], 100 * got, 100 * want);
		/* the stack holds main -> outer -> middle -> leaf */
		assert_true(sh.chained[i] >= 0.97 * sh.leaf[i]);
	}

	text = slurp(svg);
	assert_non_null(strstr(text, "data-n=\"leaf_alpha\""));
	assert_non_null(strstr(text, "</svg>"));
	free(text);
	{
		char cmd[8400];

		snprintf(cmd, sizeof(cmd), "xmllint --noout '%s'", svg);
		assert_int_equal(system(cmd), 0);
	}
}

static void test_sigint_still_writes(void **state)
{
	char *truth = tmp("truth2.txt"), *folded = tmp("int.folded"), *svg = tmp("int.svg");
	char *out = tmp("int.out");
	const char *argv[] = { env_path("PROFILE"), "--comm", "wl_split", "-d", "60",
			 "--folded", folded, "-o", svg, NULL };
	pid_t wl, prof;
	char *text;

	(void)state;
	REQUIRE_BPF();
	wl = start_workload(truth, 30);
	prof = spawn(argv, out, NULL);
	sleep_s(3);
	kill(prof, SIGINT);
	assert_int_equal(wait_exit(prof), 0);
	kill(wl, SIGTERM);
	wait_exit(wl);

	text = slurp(out);
	assert_non_null(strstr(text, "Profiled"));
	free(text);
	text = slurp(folded);
	/* --comm kept only the workload, and the samples up to SIGINT are there */
	assert_true(strlen(text) > 0);
	for (char *l = text; *l; l = strchr(l, '\n') + 1) {
		if (strncmp(l, "wl_split;", 9))
			fail_msg("a stack of another command passed --comm: %.60s", l);
		if (!strchr(l, '\n'))
			break;
	}
	assert_non_null(strstr(text, "leaf_alpha"));
	free(text);
}

/*
 * Processes that live ~50 ms, far less than the 1 s between drains: their
 * samples must still carry named frames, because the first sample makes the
 * profiler capture the mappings at once.
 */
static void test_short_lived_processes(void **state)
{
	char *folded = tmp("short.folded"), *out = tmp("short.out"), wl[4096], *text, *l, *save;
	const char *argv[] = { env_path("PROFILE"), "--comm", "wl_short", "-d", "60", "-F", "499",
			       "--folded", folded, "-o", "-", NULL };
	double named = 0, unnamed = 0;
	pid_t prof;
	int i;

	(void)state;
	REQUIRE_BPF();
	snprintf(wl, sizeof(wl), "%s/wl_short", env_path("WORKLOADS"));
	prof = spawn(argv, out, NULL);
	sleep_s(1.5);	/* BPF loaded and attached */
	for (i = 0; i < 15; i++) {
		const char *wargv[] = { wl, "50", NULL };

		assert_int_equal(wait_exit(spawn(wargv, NULL, NULL)), 0);
	}
	kill(prof, SIGINT);
	assert_int_equal(wait_exit(prof), 0);

	text = slurp(folded);
	for (l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		double c = atof(strrchr(l, ' ') + 1);

		if (strstr(l, ";main;short_lived_hot"))
			named += c;
		else if (strstr(l, "[unknown] (wl_short)") || !strstr(l, ";"))
			unnamed += c;
	}
	free(text);
	print_message("short-lived: %.0f samples named, %.0f not\n", named, unnamed);
	/* 15 runs x 50 ms at 499 Hz is ~370 samples: most must be named */
	assert_true(named >= 100);
	assert_true(unnamed <= 0.05 * (named + unnamed));
}

/* Everything after the first @skip lines of @text. */
static const char *after_lines(const char *text, int skip)
{
	while (skip-- > 0 && text && *text) {
		text = strchr(text, '\n');
		text = text ? text + 1 : "";
	}
	return text;
}

/*
 * Two recorded runs compared from the store ("store:run=N" sides) give the
 * same change table as the same runs' folded files, and export from the
 * store gives back the run's folded stacks.
 */
static void test_diff_and_export_from_store(void **state)
{
	/* tmp() recycles a few buffers: keep our own copies of the paths */
	char db[4200], f1[4200], f2[4200], o1[4200], o2[4200], o3[4200], rec_err[4200];
	char *a, *b;
	pid_t wl;
	int i;

	(void)state;
	REQUIRE_BPF();
	snprintf(db, sizeof(db), "%s", tmp("sel.db"));
	snprintf(f1, sizeof(f1), "%s", tmp("sel1.folded"));
	snprintf(f2, sizeof(f2), "%s", tmp("sel2.folded"));
	snprintf(o1, sizeof(o1), "%s", tmp("sel-store.out"));
	snprintf(o2, sizeof(o2), "%s", tmp("sel-files.out"));
	snprintf(o3, sizeof(o3), "%s", tmp("sel-export.out"));
	snprintf(rec_err, sizeof(rec_err), "%s", tmp("sel-rec.err"));
	wl = start_workload(tmp("truth-sel.txt"), 30);
	for (i = 0; i < 2; i++) {
		const char *argv[] = { env_path("PROFILE"), "-d", "1.5", "-F", "499", "--comm",
				       "wl_split", "--db", db, "--folded", i ? f2 : f1, "-o", "-",
				       "--no-progress", NULL };

		if (wait_exit(spawn(argv, tmp("sel-rec.out"), rec_err)) != 0)
			fail_msg("profile failed: %s", slurp(rec_err));
	}
	kill(wl, SIGTERM);
	wait_exit(wl);
	{
		const char *sd[] = { env_path("PROFILE"), "diff", "--db", db, "--top", "0",
				     "store:run=1", "store:run=2", NULL };
		const char *fd[] = { env_path("PROFILE"), "diff", "--top", "0", f1, f2, NULL };
		const char *ex[] = { env_path("PROFILE"), "export", "--format", "folded", "--db", db,
				     "store:run=1,comm=wl_split", NULL };

		assert_int_equal(wait_exit(spawn(sd, o1, NULL)), 0);
		assert_int_equal(wait_exit(spawn(fd, o2, NULL)), 0);
		assert_int_equal(wait_exit(spawn(ex, o3, NULL)), 0);
	}
	/* the first two lines name the inputs; the tables must be identical */
	a = slurp(o1);
	b = slurp(o2);
	assert_non_null(strstr(a, "leaf_alpha"));
	assert_string_equal(after_lines(a, 2), after_lines(b, 2));
	free(a);
	free(b);
	a = slurp(o3);
	b = slurp(f1);
	assert_true(strlen(b) > 0);
	assert_string_equal(a, b);
	free(a);
	free(b);
	{
		const char *bad[] = { env_path("PROFILE"), "diff", "--db", db, "store:color=red",
				      "store:run=2", NULL };
		char *err = tmp("sel-bad.err");

		assert_int_equal(wait_exit(spawn(bad, NULL, err)), 1);
		a = slurp(err);
		assert_non_null(strstr(a, "unknown key 'color'"));
		free(a);
	}
}

static void test_bad_arguments(void **state)
{
	static const struct {
		const char *args[4];
		int status;
		const char *msg;
	} cases[] = {
		{ { "-F", "0" }, 2, "invalid frequency" },
		{ { "-d", "soon" }, 2, "invalid duration" },
		{ { "-p", "999999999" }, 2, "no process with pid" },
		{ { "--comm", "a-name-longer-than-15" }, 2, "invalid comm" },
		{ { "frobnicate" }, 2, "not a profile command" },
		{ { "flamegraph", "/nonexistent/x.folded" }, 1, "cannot open '/nonexistent/x.folded'" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[6] = { env_path("PROFILE") };
		char *err = tmp("bad.err"), *text;
		int j;

		for (j = 0; j < 4 && cases[i].args[j]; j++)
			argv[j + 1] = cases[i].args[j];
		assert_int_equal(wait_exit(spawn(argv, tmp("bad.out"), err)), cases[i].status);
		text = slurp(err);
		if (!strstr(text, cases[i].msg))
			fail_msg("case %zu: want '%s' in: %s", i, cases[i].msg, text);
		/* one line, no stack dumps */
		assert_int_equal(strchr(text, '\n') - text + 1, (long)strlen(text));
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_matches_truth),
		cmocka_unit_test(test_sigint_still_writes),
		cmocka_unit_test(test_short_lived_processes),
		cmocka_unit_test(test_diff_and_export_from_store),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests_name("e2e", tests, setup_group, teardown_group);
}
