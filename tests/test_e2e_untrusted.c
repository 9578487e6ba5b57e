// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end: what an ordinary user can do to the root profiler through the
 * perf map of a JIT process of theirs. A user created for the test
 * (profile-test) runs wl_jit, whose perf map names its code "wl_jit_spin";
 * the test replaces that map with a FIFO, a symlink to a root-only file, a
 * file owned by someone else, a 2 GiB sparse file without a newline, and
 * garbage bytes around a name full of control characters; and, from a user
 * namespace of the user's, bind-mounts the root-only file over the map.
 * Each time `profile -p PID` must finish in time, exit 0 and stay small,
 * and nothing from the root-only file may reach the folded stacks, the SVG
 * or the database; with the user's own map the JIT name must.
 *
 * It skips only when the kernel refuses BPF or perf events, and says why.
 * Environment (tests/run.sh sets it): PROFILE, WORKLOADS (wl_jit).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include <cmocka.h>

#include "e2e.h"

#define TEST_USER "profile-test"
#define JIT_ADDR "2000000000"	/* wl_jit's code, WL_JIT_ADDR */
#define LEGIT_NAME "wl_jit_spin"
#define SECRET_NAME "secret_root_only_symbol"
#define OTHER_NAME "someone_elses_symbol"
#define MAX_RSS_KB (200 * 1024)
#define RUN_TIMEOUT 40.0	/* seconds for a 2-second profile, on a busy machine */

static uid_t user_uid;
static gid_t user_gid;
static pid_t jit_pid;	/* the test's workload, stopped by the teardown even after a failure */
static char wl_path[4200], secret_path[4200];

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ssize_t n = -1;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0) {
		if (write(out, buf, n) != n) {
			n = -1;
			break;
		}
	}
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return n == 0 && !chmod(to, mode) ? 0 : -1;
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	size_t len = strlen(text);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	return ok && !chmod(path, mode) ? 0 : -1;
}

static int setup(void **state)
{
	struct passwd *pw;
	char src[4200];

	if (setup_group(state))
		return -1;
	pw = getpwnam(TEST_USER);
	if (!pw) {
		if (system("useradd --system --no-create-home --home-dir /nonexistent "
			   "--shell /usr/sbin/nologin " TEST_USER))
			fprintf(stderr, "useradd " TEST_USER " failed\n");
		pw = getpwnam(TEST_USER);
	}
	if (!pw) {
		fprintf(stderr, "no user " TEST_USER " and none could be created\n");
		return -1;
	}
	user_uid = pw->pw_uid;
	user_gid = pw->pw_gid;
	/* the user may walk into the directory, not list it; the workload is copied there */
	if (chmod(tmpdir, 0711))
		return -1;
	snprintf(src, sizeof(src), "%s/wl_jit", env_path("WORKLOADS"));
	snprintf(wl_path, sizeof(wl_path), "%s/wl_jit", tmpdir);
	if (copy_file(src, wl_path, 0755))
		return -1;
	/* what only root may read: a perf map line naming the workload's code */
	snprintf(secret_path, sizeof(secret_path), "%s/secret.map", tmpdir);
	return write_file(secret_path, JIT_ADDR " 40 " SECRET_NAME "\n", 0600);
}

static void map_path(pid_t pid, char *buf, size_t size)
{
	snprintf(buf, size, "/tmp/perf-%d.map", pid);
}

/*
 * Run @argv as the test user, stdout to a pipe, stderr to @err; wait for its
 * "ready" line. Returns the pid, or -1 (the process is gone) when it never
 * got ready.
 */
static pid_t start_as_user(const char *const argv[], const char *err)
{
	char buf[64] = "";
	struct pollfd pfd;
	int p[2], status;
	ssize_t n = 0;
	pid_t pid;

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(p[1], 1);
		dup2(fd, 2);
		if (setgroups(0, NULL) || setgid(user_gid) || setuid(user_uid))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	pfd = (struct pollfd){ .fd = p[0], .events = POLLIN };
	if (poll(&pfd, 1, 15000) == 1)
		n = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (n > 0 && !strncmp(buf, "ready", 5))
		return pid;
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

static pid_t start_jit(void)
{
	const char *argv[] = { wl_path, "30", NULL };

	jit_pid = start_as_user(argv, tmp("wl.err"));
	if (jit_pid < 0)
		fail_msg("wl_jit did not start as " TEST_USER ": %s", slurp(tmp("wl.err")));
	return jit_pid;
}

static void stop_jit(pid_t pid)
{
	char path[64];
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	map_path(pid, path, sizeof(path));
	unlink(path);
	jit_pid = 0;
}

static int teardown_test(void **state)
{
	(void)state;
	if (jit_pid > 0)
		stop_jit(jit_pid);
	return 0;
}

/* Replace @pid's perf map by what @make creates, owned by the test user when @chown_it. */
static void plant(pid_t pid, bool chown_it, void (*make)(const char *path))
{
	char path[64];

	map_path(pid, path, sizeof(path));
	assert_true(unlink(path) == 0 || errno == ENOENT);
	make(path);
	if (chown_it)
		assert_int_equal(lchown(path, user_uid, user_gid), 0);
}

struct run {
	int status;
	long maxrss_kb;
	double seconds;
	char folded[4200], svg[4200], db[4200], err[4200];
};

/* `profile -p PID -d 2` with every output, under a deadline, measuring its memory. */
static void profile_pid(pid_t pid, const char *name, struct run *r)
{
	char pidbuf[16], out[4200];
	const char *argv[] = { env_path("PROFILE"), "-p", pidbuf, "-d", "2", "--folded", r->folded,
			       "-o", r->svg, "--db", r->db, NULL };
	struct rusage ru;
	double start;
	pid_t prof;
	int status;

	snprintf(pidbuf, sizeof(pidbuf), "%d", pid);
	snprintf(r->folded, sizeof(r->folded), "%s/%s.folded", tmpdir, name);
	snprintf(r->svg, sizeof(r->svg), "%s/%s.svg", tmpdir, name);
	snprintf(r->db, sizeof(r->db), "%s/%s.db", tmpdir, name);
	snprintf(r->err, sizeof(r->err), "%s/%s.err", tmpdir, name);
	snprintf(out, sizeof(out), "%s/%s.out", tmpdir, name);
	start = mono_now();
	prof = spawn(argv, out, r->err);
	for (;;) {
		pid_t w = wait4(prof, &status, WNOHANG, &ru);

		assert_true(w >= 0);
		if (w == prof)
			break;
		if (mono_now() - start > RUN_TIMEOUT) {
			kill(prof, SIGKILL);
			wait4(prof, &status, 0, &ru);
			fail_msg("%s: profile -p %d -d 2 still running after %.0f s", name, pid,
				 RUN_TIMEOUT);
		}
		sleep_s(0.05);
	}
	r->seconds = mono_now() - start;
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->maxrss_kb = ru.ru_maxrss;
	print_message("%s: exit %d in %.1f s, max RSS %ld KiB\n", name, r->status, r->seconds,
		      r->maxrss_kb);
	if (r->status)
		fail_msg("%s: profile exited %d: %s", name, r->status, slurp(r->err));
	assert_true(r->maxrss_kb < MAX_RSS_KB);
}

/* Whether @path (any bytes) holds @needle; a missing file holds nothing. */
static bool file_has(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;
	bool found;

	if (!f)
		return false;
	for (;;) {
		if (len + 65536 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = fread(buf + len, 1, cap - len, f);
		if (!n)
			break;
		len += n;
	}
	fclose(f);
	found = len && memmem(buf, len, needle, strlen(needle));
	free(buf);
	return found;
}

/* In the database file or its WAL? */
static bool db_has(const struct run *r, const char *needle)
{
	char wal[4300];

	snprintf(wal, sizeof(wal), "%s-wal", r->db);
	return file_has(r->db, needle) || file_has(wal, needle);
}

/* In the folded stacks, the SVG or the database? */
static bool output_has(const struct run *r, const char *needle)
{
	return file_has(r->folded, needle) || file_has(r->svg, needle) || db_has(r, needle);
}

/* The run profiled the workload: its samples are there, under its comm. */
static void assert_profiled(const struct run *r)
{
	assert_true(file_has(r->folded, "wl_jit;"));
}

/* One hostile perf map: planted, profiled, and nothing of the root-only file shows. */
static void hostile_case(const char *name, bool chown_it, void (*make)(const char *path),
			 const char *want_err)
{
	struct run r;
	pid_t pid;

	REQUIRE_BPF();
	pid = start_jit();
	plant(pid, chown_it, make);
	profile_pid(pid, name, &r);
	stop_jit(pid);
	assert_profiled(&r);
	assert_false(output_has(&r, SECRET_NAME));
	assert_false(output_has(&r, OTHER_NAME));
	assert_false(output_has(&r, LEGIT_NAME));
	if (want_err && !file_has(r.err, want_err))
		fail_msg("%s: no '%s' in the warnings: %s", name, want_err, slurp(r.err));
}

/* The user's own map is read: the test can tell a refused map from an ignored one. */
static void test_own_map_is_named(void **state)
{
	struct run r;
	pid_t pid;

	(void)state;
	REQUIRE_BPF();
	pid = start_jit();
	profile_pid(pid, "legit", &r);
	stop_jit(pid);
	assert_profiled(&r);
	assert_true(file_has(r.folded, LEGIT_NAME));
	assert_true(file_has(r.svg, LEGIT_NAME));
	assert_true(db_has(&r, LEGIT_NAME));
}

static void make_fifo(const char *path)
{
	assert_int_equal(mkfifo(path, 0644), 0);
}

static void test_fifo_map(void **state)
{
	(void)state;
	hostile_case("fifo", true, make_fifo, "not a regular file");
}

static void make_symlink(const char *path)
{
	assert_int_equal(symlink(secret_path, path), 0);
}

static void test_symlink_to_root_only_file(void **state)
{
	(void)state;
	hostile_case("symlink", true, make_symlink, "symlink");
}

static void make_other_owner(const char *path)
{
	assert_int_equal(write_file(path, JIT_ADDR " 40 " OTHER_NAME "\n", 0644), 0);
}

/* A regular file, but not the process's user's: a hardlink or bind mount of someone else's */
static void test_map_of_another_owner(void **state)
{
	(void)state;
	hostile_case("other-owner", false, make_other_owner, "not owned");
}

static void make_huge(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2LL << 30), 0);
	close(fd);
}

/* 2 GiB without a newline: read up to a bound, in bounded memory and time */
static void test_huge_sparse_map(void **state)
{
	(void)state;
	hostile_case("huge", true, make_huge, "64 MiB");
}

#define EVIL_NAME "evil\x1b]0;owned\x07name\xff\xfe<svg>&"

static void make_garbage(const char *path)
{
	size_t len = 4 << 20, i;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	char *buf = malloc(len);
	FILE *f = fopen(path, "w");

	assert_non_null(buf);
	assert_non_null(f);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		buf[i] = (x & 63) == 0 ? '\n' : (char)(x >> 24);
	}
	assert_int_equal(fwrite(buf, 1, len, f), len);
	/* one line that parses, its name full of what no output may carry raw */
	fprintf(f, "\n" JIT_ADDR " 40 " EVIL_NAME "\n");
	fclose(f);
	free(buf);
}

/* Garbage around a name of control characters and invalid UTF-8: cleaned, then escaped */
static void test_garbage_map(void **state)
{
	char *folded, *svg, *p;
	struct run r;
	pid_t pid;

	(void)state;
	REQUIRE_BPF();
	pid = start_jit();
	plant(pid, true, make_garbage);
	profile_pid(pid, "garbage", &r);
	stop_jit(pid);
	assert_profiled(&r);
	/* control characters and bad bytes are '?', the folded format's ';' a ':' */
	assert_true(file_has(r.folded, "evil?]0:owned?name?" "?<svg>&"));
	folded = slurp(r.folded);
	for (p = folded; *p; p++)
		assert_true(*p == '\n' || (unsigned char)*p >= 0x20);
	free(folded);
	svg = slurp(r.svg);
	assert_non_null(strstr(svg, "evil?]0:owned?name?" "?&lt;svg&gt;&amp;"));
	assert_null(strstr(svg, "<svg>&"));
	assert_null(strchr(svg, '\x1b'));
	free(svg);
	/* stored cleaned: the database holds the name before the folded format's ':' */
	assert_true(db_has(&r, "evil?]0;owned?name?" "?<svg>&"));
	assert_false(db_has(&r, "evil\x1b"));
}

/*
 * With its own user and mount namespace, the user bind-mounts the root-only
 * file over its perf map: no symlink anywhere, and protected_symlinks does
 * not apply. The file is root's, not the process's user's: refused.
 */
static void test_bind_mount_in_user_namespace(void **state)
{
	char script[8800];
	const char *argv[] = { "/usr/bin/unshare", "-Urm", "/bin/sh", "-c", script, NULL };
	struct run r;
	pid_t pid;

	(void)state;
	REQUIRE_BPF();
	snprintf(script, sizeof(script),
		 "touch /tmp/perf-$$.map && mount --bind '%s' /tmp/perf-$$.map && "
		 "exec '%s' 30 --no-map",
		 secret_path, wl_path);
	pid = jit_pid = start_as_user(argv, tmp("userns.err"));
	if (pid < 0) {
		/* no user namespaces for users here: then neither is this attack possible */
		print_message("SKIP: no user namespace for " TEST_USER ": %s\n",
			      slurp(tmp("userns.err")));
		skip();
	}
	profile_pid(pid, "userns-bind", &r);
	stop_jit(pid);
	assert_profiled(&r);
	assert_false(output_has(&r, SECRET_NAME));
	if (!file_has(r.err, "not owned"))
		fail_msg("userns-bind: the refused map is not named: %s", slurp(r.err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_own_map_is_named, teardown_test),
		cmocka_unit_test_teardown(test_fifo_map, teardown_test),
		cmocka_unit_test_teardown(test_symlink_to_root_only_file, teardown_test),
		cmocka_unit_test_teardown(test_map_of_another_owner, teardown_test),
		cmocka_unit_test_teardown(test_huge_sparse_map, teardown_test),
		cmocka_unit_test_teardown(test_garbage_map, teardown_test),
		cmocka_unit_test_teardown(test_bind_mount_in_user_namespace, teardown_test),
	};

	return cmocka_run_group_tests_name("e2e_untrusted", tests, setup, teardown_group);
}
