/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the end-to-end test binaries (tests/test_e2e*.c): a
 * temporary directory, spawning the profiler and workloads, reading their
 * output, and skipping when the kernel refuses BPF or perf events. Each test
 * binary includes this once; the group setup/teardown go to
 * cmocka_run_group_tests_name().
 */
#ifndef __PROFILER_TESTS_E2E_H
#define __PROFILER_TESTS_E2E_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static char tmpdir[] = "/tmp/profile-e2e-XXXXXX";
static const char *skip_reason;

static inline const char *env_path(const char *name)
{
	const char *v = getenv(name);

	if (!v)
		fail_msg("%s is not set: run the tests through 'make test'", name);
	return v;
}

static inline char *tmp(const char *name)
{
	static char bufs[8][4096];
	static int next;
	char *b = bufs[next++ % 8];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmpdir, name);
	return b;
}

static inline void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * The children spawn() started: a failed assertion leaves the test without
 * stopping them (an agent, a workload, a server), so they are killed when
 * the test binary exits. Only children still unreaped are: waitpid() says
 * ECHILD for any other pid.
 */
static pid_t spawned[256] __attribute__((unused));
static int nr_spawned __attribute__((unused));

static inline void kill_spawned(void)
{
	int i;

	for (i = 0; i < nr_spawned && i < 256; i++) {
		if (spawned[i] > 0 && waitpid(spawned[i], NULL, WNOHANG) == 0) {
			kill(spawned[i], SIGKILL);
			waitpid(spawned[i], NULL, 0);
		}
	}
}

/*
 * fork + exec @argv with stdout and stderr to files (NULL: inherited; the
 * same path for both: one file, as 2>&1); returns the pid
 */
static inline pid_t spawn(const char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid > 0) {
		if (!nr_spawned)
			atexit(kill_spawned);
		/* past 256, the oldest slots (long reaped) are reused */
		spawned[nr_spawned++ % 256] = pid;
	}
	if (pid == 0) {
		if (out) {
			int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			dup2(fd, 1);
			if (err && !strcmp(err, out)) {
				dup2(fd, 2);
				err = NULL;
			}
		}
		if (err) {
			int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/*
 * Give a workload a larger CPU share than the other processes of a shared
 * machine (tests run as root), so it gets enough samples for the accuracy
 * checks even when other jobs keep every CPU busy.
 */
static inline void boost(pid_t pid)
{
	setpriority(PRIO_PROCESS, pid, -10);
}

static inline int wait_exit(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * The BPF links of type perf (a program on a perf event) process @pid holds:
 * one per CPU once a profiler samples.
 */
static inline int perf_links(pid_t pid)
{
	char dir[64], path[400], line[256];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fdinfo", pid);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = e->d_name[0] == '.' ? NULL : fopen(path, "r");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (!strcmp(line, "link_type:\tperf\n")) {
				n++;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

static __attribute__((unused)) char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	if (!f)
		fail_msg("cannot open '%s': %s", path, strerror(errno));
	if (getdelim(&buf, &cap, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/*
 * Wait until profiler @prof samples: its program attached to the perf event
 * of every online CPU (the last thing it attaches, after the process-event
 * programs). A fixed sleep is a guess that a loaded machine beats.
 */
static __attribute__((unused)) void wait_attached(pid_t prof)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int i, status;

	for (i = 0; perf_links(prof) < cpus; i++) {
		if (waitpid(prof, &status, WNOHANG) == prof)
			fail_msg("the profiler exited before it sampled");
		if (i > 6000)
			fail_msg("the profiler has not attached to the %ld CPUs' perf events in 60 s",
				 cpus);
		sleep_s(0.01);
	}
}

static inline int setup_group(void **state)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr), .type = PERF_TYPE_SOFTWARE,
		.config = PERF_COUNT_SW_CPU_CLOCK, .sample_freq = 99, .freq = 1,
	};
	int ret, fd;

	(void)state;
	if (!mkdtemp(tmpdir))
		return -1;
	ret = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_PERF_EVENT, NULL);
	if (ret <= 0) {
		skip_reason = ret == 0 ? "the kernel does not support perf_event BPF programs"
				       : "the kernel refused to load a BPF program (not root? no CAP_BPF?)";
		return 0;
	}
	fd = syscall(__NR_perf_event_open, &attr, -1, 0, -1, 0);
	if (fd < 0) {
		skip_reason = "the kernel refused a system-wide cpu-clock perf event";
		return 0;
	}
	close(fd);
	return 0;
}

static inline int teardown_group(void **state)
{
	char cmd[4200];

	(void)state;
	if (!getenv("KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			return -1;
	}
	return 0;
}

#define REQUIRE_BPF()                                                        \
	do {                                                                 \
		if (skip_reason) {                                           \
			print_message("SKIP: %s\n", skip_reason);            \
			skip();                                              \
		}                                                            \
	} while (0)

struct summary {
	unsigned long long expected, taken, recorded, idle, filtered, dropped;
};

static inline void parse_summary(const char *out, struct summary *s)
{
	const char *p = strstr(out, "samples expected");

	assert_non_null(p);
	while (p > out && p[-1] != ':')
		p--;
	assert_int_equal(sscanf(p, " %llu samples expected, %llu taken", &s->expected, &s->taken),
			 2);
	p = strstr(p, "\n");
	assert_non_null(p);
	assert_int_equal(sscanf(p, " %llu recorded, %llu idle", &s->recorded, &s->idle), 2);
	p = strstr(p, "filtered out");
	assert_non_null(p);
	while (p[-1] != ',')
		p--;
	assert_int_equal(sscanf(p, " %llu filtered out, %llu dropped", &s->filtered, &s->dropped),
			 2);
}

static inline double read_truth(const char *path, const char *name)
{
	char *text = slurp(path), *p = strstr(text, name);
	double v;

	assert_non_null(p);
	assert_int_equal(sscanf(p + strlen(name), " %lf", &v), 1);
	free(text);
	return v;
}

/*
 * `profile serve --db @store` on a free loopback port, with @opt1 and @opt2
 * (extra arguments, or NULL); its pid in *@pid, the port returned. Its output
 * goes to files of its own, so an earlier server's address is never read.
 */
static __attribute__((unused)) int serve_on_free_port(const char *store, const char *opt1,
						      const char *opt2, pid_t *pid)
{
	const char *argv[] = { env_path("PROFILE"), "serve", "--db", store, "--listen",
			       "127.0.0.1:0", opt1, opt2, NULL };
	static int nr;
	char outf[64], errf[64];
	int i, port = 0;

	snprintf(outf, sizeof(outf), "serve%d.out", nr);
	snprintf(errf, sizeof(errf), "serve%d.err", nr++);
	*pid = spawn(argv, tmp(outf), tmp(errf));
	for (i = 0; i < 200 && !port; i++) {
		char *out = access(tmp(outf), R_OK) ? strdup("") : slurp(tmp(outf));
		char *at = strstr(out, "http://127.0.0.1:");

		if (at)
			port = atoi(at + strlen("http://127.0.0.1:"));
		free(out);
		if (!port)
			sleep_s(0.05);
	}
	if (!port)
		fail_msg("profile serve printed no address: %s", slurp(tmp(errf)));
	return port;
}

/*
 * 100,000 distinct stacks in folded form at @path (50 modules x 40 classes x
 * 50 leaves, 4,900,035 samples): the large profile the page tests draw.
 */
static __attribute__((unused)) void write_100k_folded(const char *path)
{
	FILE *f = fopen(path, "w");
	int a, b, c;

	assert_non_null(f);
	for (a = 0; a < 50; a++) {
		for (b = 0; b < 40; b++) {
			for (c = 0; c < 50; c++) {
				int leaf = (a * 40 + b) * 50 + c;

				fprintf(f, "app;main;app::module_%02d::dispatch;app::module_%02d::Worker::run;"
					"app::module_%02d::Class%d::method_%d;leaf_%d %d\n",
					a, a, a, b, b, leaf, 1 + (leaf * 7919) % 97);
			}
		}
	}
	assert_int_equal(fclose(f), 0);
}

/* Fails the test unless the browser tests' packages are installed. */
static __attribute__((unused)) void need_browser(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/tests/browser/node_modules/playwright-core/package.json",
		 env_path("SRCDIR"));
	if (access(path, R_OK))
		fail_msg("%s is missing: 'make test' installs it (npm ci in tests/browser)", path);
}

/* Run tests/browser/@script with @args under node; fails the test unless it exits 0. */
static __attribute__((unused)) void node(const char *script, const char *args)
{
	char cmd[8192];
	int st;

	need_browser();
	snprintf(cmd, sizeof(cmd), "cd '%s/tests/browser' && node %s %s 2>&1",
		 env_path("SRCDIR"), script, args);
	fflush(stdout);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

#endif /* __PROFILER_TESTS_E2E_H */
