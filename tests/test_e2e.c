// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests: the real profile binary, the real BPF program, a
 * workload with a known CPU split. They skip only when the kernel refuses
 * BPF or perf events, and say why.
 *
 * Environment (tests/run.sh sets it): PROFILE, the binary; WORKLOADS, the
 * directory with wl_split.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "common/clock.h"
#include "e2e.h"

static pid_t start_workload(const char *truth, double seconds)
{
	char path[4096], dur[32];
	const char *argv[] = { path, dur, truth, NULL };

	snprintf(path, sizeof(path), "%s/wl_split", env_path("WORKLOADS"));
	snprintf(dur, sizeof(dur), "%g", seconds);
	return spawn(argv, NULL, NULL);
}

/*
 * wl_split that spins outside its leaves until SIGUSR1, then runs them for
 * @cpu_seconds of its own CPU time, writes @truth and exits
 */
static pid_t start_workload_on_signal(const char *truth, double cpu_seconds)
{
	char path[4096], dur[32];
	const char *argv[] = { path, dur, truth, "--on-sigusr1", NULL };

	snprintf(path, sizeof(path), "%s/wl_split", env_path("WORKLOADS"));
	snprintf(dur, sizeof(dur), "%g", cpu_seconds);
	return spawn(argv, NULL, NULL);
}

/*
 * Wait until the profiler samples: its program attached to the perf event
 * of every online CPU, which the kernel shows as one "perf" BPF link each in
 * /proc/PID/fdinfo. A fixed sleep is a guess that a loaded machine beats.
 */
static void wait_sampling(pid_t prof, const char *errf)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double deadline = now_seconds() + 60;
	int status;

	while (perf_links(prof) < cpus) {
		if (waitpid(prof, &status, WNOHANG) == prof)
			fail_msg("profile exited before it sampled: %s", slurp(errf));
		if (now_seconds() > deadline)
			fail_msg("profile has not attached to the %ld CPUs' perf events in 60 s", cpus);
		sleep_s(0.01);
	}
}

struct shares {
	double total, waiting, leaf[3], chained[3];
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
		if (strstr(line, ";wait_for_go"))
			sh->waiting += c;
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

/* the split test's children, stopped by its teardown if it fails half-way */
static pid_t split_children[66];
static int nr_split_children;

static pid_t split_child(pid_t pid)
{
	if (nr_split_children < (int)(sizeof(split_children) / sizeof(split_children[0])))
		split_children[nr_split_children++] = pid;
	return pid;
}

static int split_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < nr_split_children; i++) {
		pid_t pid = split_children[i];

		/* 0: still our unreaped child, so the pid cannot be someone else's */
		if (waitpid(pid, NULL, WNOHANG) == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
	}
	nr_split_children = 0;
	return 0;
}

/* high enough that the shares' sampling error stays around a point */
#define FREQ 999
#define FREQ_S "999"
/* CPU seconds the leaves run for: about 5000 samples, on a busy machine too */
#define SPLIT_CPU 5.0
/*
 * How many standard errors a leaf's share may stray from its truth. The
 * samples of a leaf are a binomial count out of the n leaf samples (fixed-rate
 * sampling of a loop that is preempted and interrupted at random is at worst
 * that noisy), so its share has a standard error of sqrt(p (1 - p) / n). 4.5
 * of them are crossed by chance once in 150,000 leaves; at n = 5000 that is
 * 3.2 points for leaf_alpha, 2.7 for leaf_gamma.
 */
#define SPLIT_SIGMAS 4.5

static void test_split_matches_truth(void **state)
{
	char *truth = tmp("truth.txt"), *folded = tmp("split.folded"), *svg = tmp("split.svg");
	char *out = tmp("split.out"), *errf = tmp("split.err");
	char pidbuf[32], *text;
	double want[3], wsum = 0, n = 0, burn, cpu;
	struct summary s;
	struct shares sh;
	pid_t wl, prof, spinners[64];
	int i, nr_spinners, status;

	(void)state;
	REQUIRE_BPF();
	/*
	 * Unselected instances keep every CPU busy before, during and after
	 * the measured span: an idle CPU gets no cpu-clock ticks on some
	 * kernels (perf sees the same), and the test checks that every tick
	 * was taken and accounted for.
	 */
	nr_spinners = sysconf(_SC_NPROCESSORS_ONLN);
	if (nr_spinners > 64)
		nr_spinners = 64;
	for (i = 0; i < nr_spinners; i++) {
		char name[32];

		snprintf(name, sizeof(name), "truth-spinner%d.txt", i);
		spinners[i] = split_child(start_workload(tmp(name), 300));
	}
	/*
	 * The truth must cover the span the samples cover: the leaves' relative
	 * cost drifts by several points from second to second (see wl_split.c),
	 * so a truth measured over the workload's whole life, profiler start-up
	 * and symbolization included, is not the truth of the sampled seconds;
	 * that is how this test once failed (leaf_alpha 52.1% measured, 48.2%
	 * "truth"), with the profiler right. So the leaves run only once the
	 * profiler samples, and the workload exits when its span ends, which
	 * ends the profile.
	 */
	wl = split_child(start_workload_on_signal(truth, SPLIT_CPU));
	boost(wl);
	snprintf(pidbuf, sizeof(pidbuf), "%d", wl);
	{
		const char *argv[] = { env_path("PROFILE"), "-p", pidbuf, "-d", "120", "-F", FREQ_S,
				       "--folded", folded, "-o", svg, NULL };

		prof = split_child(spawn(argv, out, errf));
		/* a crawling start-up or symbolization would only make the test slow */
		boost(prof);
	}
	wait_sampling(prof, errf);
	kill(wl, SIGUSR1);
	/*
	 * Reap the workload as soon as it exits (the profiler counts a zombie
	 * as alive); the profile then ends within its 1 s drain interval.
	 */
	while (waitpid(wl, &status, WNOHANG) != wl) {
		if (waitpid(prof, &status, WNOHANG) == prof)
			fail_msg("the profile ended before wl_split ran %.0f s of CPU: %s", SPLIT_CPU,
				 slurp(errf));
		sleep_s(0.05);
	}
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	if (wait_exit(prof) != 0) {
		text = slurp(errf);
		fail_msg("profile failed: %s", text);
	}
	for (i = 0; i < nr_spinners; i++)
		kill(spinners[i], SIGTERM);
	for (i = 0; i < nr_spinners; i++)
		wait_exit(spinners[i]);

	text = slurp(out);
	print_message("%s", text);
	parse_summary(text, &s);
	/* every sample the kernel took is accounted for */
	assert_int_equal(s.taken, s.recorded + s.idle + s.filtered + s.dropped);
	/* the timer fired as often as asked, on every (busy) CPU */
	assert_true(fabs((double)s.taken - s.expected) <= 0.05 * s.expected);
	/* the other CPUs' samples went to the spinners and were filtered out */
	assert_true(s.filtered > 0);
	assert_true(s.dropped <= 0.01 * s.recorded);
	assert_non_null(strstr(text, "leaf_alpha"));
	free(text);

	parse_folded(folded, &sh);
	assert_true(sh.total == s.recorded);
	/*
	 * One sample per tick the workload ran: the span's CPU time, as its
	 * thread clock measured it, predicts the samples outside wait_for_go()
	 * (the span, and its few microseconds of writing the truth and exiting).
	 */
	cpu = read_truth(truth, "cpu");
	assert_true(cpu >= SPLIT_CPU);
	burn = sh.total - sh.waiting;
	print_message("leaves ran %.2f s of CPU: %.0f samples predicted, %.0f recorded\n", cpu,
		      cpu * FREQ, burn);
	assert_true(burn >= 0.85 * cpu * FREQ && burn <= 1.10 * cpu * FREQ);

	/*
	 * Shares among the three leaves on both sides: the loop around them
	 * (the clock reads in middle(), the loop in main) is left out of both.
	 */
	for (i = 0; i < 3; i++) {
		want[i] = read_truth(truth, LEAVES[i]);
		wsum += want[i];
		n += sh.leaf[i];
	}
	for (i = 0; i < 3; i++) {
		double p = want[i] / wsum, got = sh.leaf[i] / n;
		double tol = SPLIT_SIGMAS * sqrt(p * (1 - p) / n);

		print_message("%s: measured %.2f%%, truth %.2f%% (+-%.2f), whole chain in %.1f%%\n",
			      LEAVES[i], 100 * got, 100 * p, 100 * tol,
			      100 * sh.chained[i] / sh.leaf[i]);
		if (fabs(got - p) > tol)
			fail_msg("%s share %.2f%% is %.1f standard errors from the truth %.2f%% (n = %.0f)",
				 LEAVES[i], 100 * got, fabs(got - p) / sqrt(p * (1 - p) / n),
				 100 * p, n);
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
	prof = spawn(argv, out, tmp("int.err"));
	/* sampling for a second, however long the start took on a loaded machine */
	wait_sampling(prof, tmp("int.err"));
	sleep_s(1);
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
		{ { "--comm", "a-name-longer-than-15" }, 2, "(of this name, 'a-name-longer-t')" },
		/* refused before sampling, not after the whole run */
		{ { "-d", "60", "-o", "/nonexistent/x.svg" }, 2, "cannot write '/nonexistent/x.svg'" },
		{ { "-d", "60", "--folded", "/nonexistent/x.folded" }, 2,
		  "cannot write '/nonexistent/x.folded'" },
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

/* -p with a thread's id profiles the thread's process, as perf does, and says so. */
static void test_thread_id_profiles_its_process(void **state)
{
	const char *py[] = { "/usr/bin/python3", "-c",
			     "import threading\n"
			     "def spin():\n"
			     "    while True: pass\n"
			     "threading.Thread(target=spin, daemon=True).start()\n"
			     "import time; time.sleep(60)\n", NULL };
	const char *argv[] = { env_path("PROFILE"), "-p", NULL, "-d", "2", "--db", "-", "-o", "-",
			       "--folded", NULL, "--no-progress", NULL };
	char tid[32], want[96], path[64], *text;
	double deadline = now_seconds() + 10;
	pid_t child, t = 0;
	double total = 0;
	struct dirent *d;
	DIR *dir;
	FILE *f;
	char line[8192];

	(void)state;
	REQUIRE_BPF();
	child = spawn(py, "/dev/null", NULL);
	snprintf(path, sizeof(path), "/proc/%d/task", (int)child);
	/* the spinning thread: the task that is not the process itself */
	while (!t && now_seconds() < deadline) {
		dir = opendir(path);
		assert_non_null(dir);
		while ((d = readdir(dir)))
			if (atoi(d->d_name) > 0 && atoi(d->d_name) != child)
				t = atoi(d->d_name);
		closedir(dir);
		if (!t)
			usleep(20000);
	}
	assert_true(t > 0);
	snprintf(tid, sizeof(tid), "%d", (int)t);
	argv[2] = tid;
	argv[10] = tmp("tid.folded");
	assert_int_equal(wait_exit(spawn(argv, "/dev/null", tmp("tid.err"))), 0);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	text = slurp(tmp("tid.err"));
	snprintf(want, sizeof(want), "%d is a thread of process %d", (int)t, (int)child);
	if (!strstr(text, want))
		fail_msg("want '%s' in: %s", want, text);
	free(text);
	f = fopen(tmp("tid.folded"), "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		total += atof(strrchr(line, ' ') + 1);
	fclose(f);
	print_message("profile -p TID: %.0f samples of its process\n", total);
	assert_true(total >= 0.5 * 2 * 99);	/* the spinning thread, most of 2 s */
}

/* A -p target that exits but is not reaped yet (a zombie) ends the run, as a gone one does. */
static void test_zombie_target_ends_run(void **state)
{
	const char *argv[] = { env_path("PROFILE"), "-p", NULL, "-d", "60", "--db", "-", "-o", "-",
			       "--folded", "/dev/null", "--no-progress", NULL };
	char pid[32];
	double start;
	pid_t child, prof;

	(void)state;
	REQUIRE_BPF();
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		double end = now_seconds() + 1;

		while (now_seconds() < end)
			;
		_exit(0);
	}
	snprintf(pid, sizeof(pid), "%d", (int)child);
	argv[2] = pid;
	start = now_seconds();
	prof = spawn(argv, "/dev/null", NULL);
	/* the child stays a zombie: this test reaps it only after the profile ended */
	assert_int_equal(wait_exit(prof), 0);
	print_message("profile -p ZOMBIE -d 60 ended after %.1f s\n", now_seconds() - start);
	assert_true(now_seconds() - start < 15);
	assert_int_equal(waitpid(child, NULL, 0), child);
}

/*
 * Outputs that are not regular files are written as they are: `-o /dev/null`
 * run as root once replaced /dev/null with a regular file (a rename over it).
 */
static void test_special_file_outputs_stay(void **state)
{
	char *fifo = tmp("out.fifo"), *got = tmp("fifo.got"), cmd[8400];
	const char *argv[] = { env_path("PROFILE"), "-d", "1", "--db", "-", "--no-progress",
			       "-o", fifo, "--folded", "/dev/null", NULL };
	struct stat st;
	pid_t reader;
	char *text;

	(void)state;
	REQUIRE_BPF();
	unlink(fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(cmd, sizeof(cmd), "cat '%s' > '%s'", fifo, got);
	reader = fork();
	assert_true(reader >= 0);
	if (reader == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(wait_exit(spawn(argv, "/dev/null", NULL)), 0);
	assert_int_equal(wait_exit(reader), 0);
	assert_int_equal(stat(fifo, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	text = slurp(got);
	assert_non_null(strstr(text, "<svg"));
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_split_matches_truth, split_teardown),
		cmocka_unit_test(test_sigint_still_writes),
		cmocka_unit_test(test_short_lived_processes),
		cmocka_unit_test(test_diff_and_export_from_store),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_zombie_target_ends_run),
		cmocka_unit_test(test_thread_id_profiles_its_process),
		cmocka_unit_test(test_special_file_outputs_stay),
	};

	if (getenv("TEST_FILTER"))	/* one test: TEST_FILTER=test_split_matches_truth */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("e2e", tests, setup_group, teardown_group);
}
