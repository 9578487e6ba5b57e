// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of the presenting commands through the real binary:
 * `profile import perf-script` on a capture this test makes with
 * `perf record -g` of a workload with a known CPU split, `profile export
 * --format pprof` decoded by protoc against pprof's own profile.proto and
 * read by `go tool pprof` (-raw; -top of a recorded run against `profile top`),
 * `profile diff` and its --fail-above exit status, `profile flamegraph`
 * errors. The perf capture skips only when the kernel refuses perf events.
 *
 * Environment (tests/run.sh sets it): PROFILE, WORKLOADS, SRCDIR.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "e2e.h"

/* Run a shell command; returns its exit status (-1 when it did not exit). */
static int run(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Sum of the counts of folded lines whose stack contains @needle. */
static double folded_sum(const char *folded, const char *needle)
{
	const char *line = folded;
	double sum = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n'), *sp;
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		char buf[8192];

		snprintf(buf, sizeof(buf), "%.*s", (int)len, line);
		sp = strrchr(buf, ' ');
		if (sp && (!needle || strstr(buf, needle)))
			sum += atof(sp + 1);
		line = nl ? nl + 1 : NULL;
	}
	return sum;
}

/* Does the line at @p (up to its newline) hold @what? */
static bool line_has(const char *p, const char *what)
{
	const char *nl = strchr(p, '\n'), *at = strstr(p, what);

	return at && (!nl || at < nl);
}

/*
 * The wl_split samples of perf script text @text whose stack has @leaf
 * called from middle, outer and main (innermost first, a frame a line, as
 * "addr leaf_alpha+0x1e (/path)"): what the import's folded lines must count.
 */
static double script_chain_count(const char *text, const char *leaf)
{
	char want[64];
	const char *hdr, *end, *p, *q;
	double n = 0;

	snprintf(want, sizeof(want), " %s+0x", leaf);
	for (hdr = text; hdr; hdr = end) {
		end = strstr(hdr, "\n\n");
		if (end)
			end += 2;
		if (strncmp(hdr, "wl_split ", 9))
			continue;
		for (p = strchr(hdr, '\n'); p && (!end || p < end); p = strchr(p + 1, '\n')) {
			if (!line_has(p + 1, want))
				continue;
			q = strchr(p + 1, '\n');
			if (q && line_has(q + 1, " middle+0x") && (q = strchr(q + 1, '\n')) &&
			    line_has(q + 1, " outer+0x") && (q = strchr(q + 1, '\n')) &&
			    line_has(q + 1, " main+0x"))
				n++;
			break;
		}
	}
	return n;
}

static void test_import_perf_capture(void **state)
{
	const char *profile = env_path("PROFILE"), *wl = env_path("WORKLOADS");
	static const char *const leaves[] = { "leaf_alpha", "leaf_beta", "leaf_gamma" };
	char *folded, *truth, *tid_folded, *script_text, *count_folded;
	double total, samples = 0, period_sum = 0;
	const char *p;
	size_t i;

	(void)state;
	if (run("command -v perf >/dev/null"))
		fail_msg("perf is missing: scripts/install-deps.sh installs linux-perf");
	if (run("perf record -e cpu-clock -F 999 -g -o %s -- %s/wl_split 2 %s >%s 2>&1",
		tmp("perf.data"), wl, tmp("truth.txt"), tmp("record.log"))) {
		char *log = slurp(tmp("record.log"));

		printf("perf record failed (the kernel refuses perf events?): %s\n", log);
		free(log);
		skip();
	}
	assert_int_equal(run("perf script -i %s > %s 2>/dev/null", tmp("perf.data"), tmp("script.txt")), 0);
	assert_int_equal(run("%s import perf-script %s > %s", profile, tmp("script.txt"),
			     tmp("out.folded")), 0);
	assert_int_equal(run("%s import perf-script --tid --count-samples < %s > %s", profile,
			     tmp("script.txt"), tmp("tid.folded")), 0);
	assert_int_equal(run("%s import perf-script --count-samples < %s > %s", profile,
			     tmp("script.txt"), tmp("count.folded")), 0);
	folded = slurp(tmp("out.folded"));
	tid_folded = slurp(tmp("tid.folded"));
	truth = slurp(tmp("truth.txt"));
	script_text = slurp(tmp("script.txt"));
	assert_non_null(folded);
	assert_non_null(truth);
	/*
	 * every wl_split sample in the script weighs its period (the
	 * nanoseconds of cpu-clock perf prints before the event name)
	 */
	for (p = script_text; p; p = strstr(p + 1, "\nwl_split ")) {
		const char *hdr = *p == '\n' ? p + 1 : p, *ev, *eol;

		if (strncmp(hdr, "wl_split ", 9))
			continue;
		eol = strchr(hdr, '\n');
		ev = strstr(hdr, " cpu-clock:");
		assert_true(ev && (!eol || ev < eol));
		while (ev > hdr && ev[-1] >= '0' && ev[-1] <= '9')
			ev--;
		period_sum += atof(ev);
		samples++;
	}
	total = folded_sum(folded, "wl_split;");
	printf("perf script: %.0f wl_split samples, %.0f ns; folded: %.0f\n", samples, period_sum,
	       total);
	assert_true(samples > 500);
	assert_true(total == period_sum);
	assert_true(period_sum > samples * 100000);	/* about 1 ms a sample at 999 Hz */
	/*
	 * The call chain survives: each leaf under main -> outer -> middle
	 * counts exactly the samples perf script shows there. And the split is
	 * near what the workload measured, in samples: perf's sampling is
	 * perf's business, not the import's (cpu-clock at -F 999 adapts its
	 * period on a loaded or throttled machine; weighted by period,
	 * leaf_alpha read 59.0% against a measured 49.3% in one CI run, and
	 * counted 53.8% against 48.8% in another).
	 */
	count_folded = slurp(tmp("count.folded"));
	total = folded_sum(count_folded, "wl_split;");
	assert_true(total == samples);
	for (i = 0; i < 3; i++) {
		char chain[128];
		double got, want;
		const char *t = strstr(truth, leaves[i]);

		assert_non_null(t);
		want = 100 * atof(t + strlen(leaves[i]));
		snprintf(chain, sizeof(chain), "main;outer;middle;%s", leaves[i]);
		got = folded_sum(count_folded, chain);
		assert_true(got == script_chain_count(script_text, leaves[i]));
		got = 100 * got / total;
		printf("  %-10s measured %5.1f%%, perf %5.1f%%\n", leaves[i], want, got);
		assert_true(fabs(got - want) < 10);
	}
	/* --tid: comm-?/TID, as perf script prints no PID by default; --count-samples */
	assert_non_null(strstr(tid_folded, "wl_split-?/"));
	assert_true(folded_sum(tid_folded, "wl_split-?/") == samples);
	free(folded);
	free(count_folded);
	free(tid_folded);
	free(truth);
	free(script_text);
}

static void test_export_pprof_decodes(void **state)
{
	const char *profile = env_path("PROFILE"), *src = env_path("SRCDIR");
	char proto[4096] = "", *decoded;
	FILE *f;

	(void)state;
	f = popen("dpkg -L golang-github-google-pprof-dev 2>/dev/null | grep '/proto/profile.proto$'", "r");
	assert_non_null(f);
	if (!fgets(proto, sizeof(proto), f))
		proto[0] = '\0';
	pclose(f);
	proto[strcspn(proto, "\n")] = '\0';
	if (!*proto)
		fail_msg("pprof's profile.proto is missing: install golang-github-google-pprof-dev");
	*strrchr(proto, '/') = '\0';
	assert_int_equal(run("%s export --format pprof -o %s %s/tests/fixtures/basic.folded", profile,
			     tmp("p.pb.gz"), src), 0);
	assert_int_equal(run("zcat %s | protoc --decode perftools.profiles.Profile -I %s profile.proto > %s",
			     tmp("p.pb.gz"), proto, tmp("decoded.txt")), 0);
	decoded = slurp(tmp("decoded.txt"));
	assert_non_null(decoded);
	assert_non_null(strstr(decoded, "string_table: \"samples\""));
	assert_non_null(strstr(decoded, "string_table: \"lex\""));
	assert_non_null(strstr(decoded, "value: 40"));
	free(decoded);
	/* speedscope and folded through the same inputs */
	assert_int_equal(run("%s export -f speedscope %s/tests/fixtures/basic.folded | grep -q '\"type\":\"sampled\"'",
			     profile, src), 0);
	assert_int_equal(run("cat %s/tests/fixtures/basic.folded | %s export -f folded | grep -qx 'app;main;parse;lex 40'",
			     src, profile), 0);
	assert_int_equal(run("%s export %s/tests/fixtures/basic.folded 2>/dev/null", profile, src), 2);
	assert_int_equal(run("%s export -f svg %s/tests/fixtures/basic.folded 2>/dev/null", profile, src), 2);
}

/* `go tool pprof` on @pb with @args; its output in a file, slurped. */
static char *go_pprof(const char *args, const char *pb)
{
	if (run("command -v go >/dev/null"))
		fail_msg("go is missing: scripts/install-deps.sh test installs golang-go");
	/* -symbolize=none: the names are there; nothing is looked up anywhere */
	assert_int_equal(run("PPROF_TMPDIR=%s go tool pprof -symbolize=none %s %s > %s 2>%s",
			     tmp(""), args, pb, tmp("pprof.out"), tmp("pprof.err")), 0);
	return slurp(tmp("pprof.out"));
}

/* The line after the one holding @needle in @text, or NULL. */
static const char *line_after(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	p = p ? strchr(p, '\n') : NULL;
	return p ? p + 1 : NULL;
}

/*
 * The pprof export read by pprof itself: CPU time with its period, an
 * inline chain as the lines of one location, the kernel frames in a kernel
 * mapping, the process a label, no folded suffixes.
 */
static void test_pprof_read_by_go_tool(void **state)
{
	const char *profile = env_path("PROFILE"), *src = env_path("SRCDIR"), *l;
	char pb[4200], *raw, *top;

	(void)state;
	snprintf(pb, sizeof(pb), "%s", tmp("e.pb.gz"));
	assert_int_equal(run("%s export -f pprof -o %s %s/tests/fixtures/export.folded", profile, pb,
			     src), 0);
	raw = go_pprof("-raw", pb);
	assert_non_null(raw);
	assert_non_null(strstr(raw, "PeriodType: cpu nanoseconds\nPeriod: 10101010\n"));
	assert_non_null(strstr(raw, "samples/count cpu/nanoseconds[dflt]"));
	assert_non_null(strstr(raw, "process:[app]"));
	assert_non_null(strstr(raw, "process:[other]"));
	assert_null(strstr(raw, "_["));
	/* lex_inner inlined into inl_helper inlined into parse: one location, three lines */
	l = line_after(raw, " lex_inner :0");
	assert_non_null(l);
	assert_int_equal(strncmp(l + strspn(l, " "), "inl_helper :0", 13), 0);
	l = line_after(l, " inl_helper :0");
	assert_int_equal(strncmp(l + strspn(l, " "), "parse :0", 8), 0);
	/* kernel frames in the kernel mapping (M=1) */
	assert_non_null(strstr(raw, "M=1 vfs_write"));
	assert_non_null(strstr(raw, "[kernel.kallsyms]"));
	free(raw);
	top = go_pprof("-top -unit=ns -nodefraction=0 -sample_index=cpu", pb);
	assert_non_null(strstr(top, "404040404ns 72.73% 72.73% 404040404ns 72.73%  lex\n"));
	assert_non_null(strstr(top, "70707071ns"));
	assert_non_null(strstr(top, "lex_inner (inline)"));
	free(top);
}

struct fn_time {
	char name[256];
	double v;
};

static void fn_add(struct fn_time *t, size_t *n, size_t max, const char *name, size_t len,
		   double v)
{
	size_t i;

	for (i = 0; i < *n; i++) {
		if (strlen(t[i].name) == len && !strncmp(t[i].name, name, len)) {
			t[i].v += v;
			return;
		}
	}
	assert_true(*n < max && len < sizeof(t[0].name));
	memcpy(t[*n].name, name, len);
	t[*n].name[len] = '\0';
	t[*n].v = v;
	(*n)++;
}

/* The line number of the first line of @path holding @needle after one holding @after. */
static int source_line(const char *path, const char *after, const char *needle)
{
	char *text = slurp(path), *p;
	int line = 1;

	assert_non_null(text);
	p = strstr(text, after);
	assert_non_null(p);
	p = strstr(p, needle);
	assert_non_null(p);
	for (char *c = text; c < p; c++)
		line += *c == '\n';
	free(text);
	return line;
}

/*
 * The same recording as pprof models a process: wl_split a mapping with its
 * file name and build id, locations at nonzero addresses inside their
 * mapping, the source line of leaf_alpha's loop (-raw and -lines) and the
 * line it starts on, the pid and host labels; and speedscope frames with
 * their file and start line.
 */
static void check_pprof_lines(const char *pb, const char *db)
{
	char src[4200], bid[256] = "", want[4600], *raw, *lines, *ss, *p;
	unsigned long long start, limit, addr;
	int line, decl, map = 0, n;
	FILE *f;

	snprintf(src, sizeof(src), "%s/tests/workloads/wl_split.c", env_path("SRCDIR"));
	line = source_line(src, "void leaf_alpha(", "BURN(n);");
	decl = source_line(src, "", "void leaf_alpha(");
	f = popen("readelf -n \"$WORKLOADS/wl_split\" | sed -n 's/.*Build ID: //p'", "r");
	assert_non_null(f);
	assert_non_null(fgets(bid, sizeof(bid), f));
	pclose(f);
	bid[strcspn(bid, "\n")] = '\0';
	assert_true(strlen(bid) == 40);
	raw = go_pprof("-raw", pb);
	/* "Mappings\nID: START/LIMIT/OFFSET FILE BUILDID [FN]..." */
	snprintf(want, sizeof(want), " wl_split %s ", bid);
	p = strstr(raw, want);
	if (!p)
		fail_msg("no mapping of wl_split with build id %s:\n%s", bid, raw);
	while (p > raw && p[-1] != '\n')
		p--;
	assert_int_equal(sscanf(p, "%d: %llx/%llx/", &map, &start, &limit), 3);
	assert_true(start > 0 && limit > start);
	assert_non_null(strstr(raw, "pid:["));
	assert_non_null(strstr(raw, "host:["));
	/* "N: 0xADDR M=MAP leaf_alpha FILE:LINE s=START" */
	snprintf(want, sizeof(want), " M=%d leaf_alpha %s:%d s=%d\n", map, src, line, decl);
	p = strstr(raw, want);
	if (!p)
		fail_msg("no location of leaf_alpha at %s:%d in mapping %d:\n%s", src, line, map,
			 raw);
	while (p > raw && p[-1] != '\n')
		p--;
	assert_int_equal(sscanf(p, "%d: %llx", &n, &addr), 2);
	assert_true(addr >= start && addr < limit);
	free(raw);
	lines = go_pprof("-lines -top -nodecount=10", pb);
	snprintf(want, sizeof(want), "leaf_alpha %s:%d\n", src, line);
	if (!strstr(lines, want))
		fail_msg("pprof -lines -top lacks %s:\n%s", want, lines);
	free(lines);
	assert_int_equal(run("%s export -f speedscope --db %s -o %s store:run=1", env_path("PROFILE"),
			     db, tmp("pp.speedscope")), 0);
	ss = slurp(tmp("pp.speedscope"));
	assert_non_null(ss);
	snprintf(want, sizeof(want), "{\"name\":\"leaf_alpha\",\"file\":\"%s\",\"line\":", src);
	p = strstr(ss, want);
	if (!p)
		fail_msg("no speedscope frame %s...:\n%.2000s", want, ss);
	/* the function's start line */
	n = atoi(p + strlen(want));
	assert_int_equal(n, decl);
	free(ss);
}

/*
 * A recorded run exported from the store: `go tool pprof -top` in CPU time
 * gives every function the self time `profile top` gives it in samples, at
 * the recording's period (found in the store).
 */
static void test_pprof_top_matches_profile_top(void **state)
{
	char db[4200], pb[4200], truth[4200], wl_path[4096], *ptop, *otop, *line;
	const char *wl_argv[] = { wl_path, "4", truth, NULL };
	static struct fn_time ours[4096], theirs[4096];
	size_t nours = 0, ntheirs = 0, i, j, checked = 0;
	const double period = 1e9 / 499;
	pid_t wl;

	(void)state;
	REQUIRE_BPF();
	snprintf(db, sizeof(db), "%s", tmp("pp.db"));
	snprintf(pb, sizeof(pb), "%s", tmp("pp.pb.gz"));
	snprintf(truth, sizeof(truth), "%s", tmp("pp-truth.txt"));
	snprintf(wl_path, sizeof(wl_path), "%s/wl_split", env_path("WORKLOADS"));
	wl = spawn(wl_argv, NULL, NULL);
	assert_int_equal(run("%s record -d 1.5 -F 499 --comm wl_split --db %s --folded - -o - "
			     "--no-progress > %s 2>&1", env_path("PROFILE"), db, tmp("pp-rec.out")),
			 0);
	kill(wl, SIGTERM);
	wait_exit(wl);
	assert_int_equal(run("%s top --db %s --run 1 --top 100000 > %s", env_path("PROFILE"), db,
			     tmp("pp-top.txt")), 0);
	/* no --freq: the run's own 499 Hz */
	assert_int_equal(run("%s export -f pprof --db %s -o %s store:run=1",
			     env_path("PROFILE"), db, pb), 0);
	otop = slurp(tmp("pp-top.txt"));
	assert_non_null(otop);
	/* "SELF% TOTAL% SAMPLES  FUNCTION", the names with their folded suffixes */
	for (line = otop; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");
		double self;
		int name_at = 0;

		if (sscanf(line, "%*f%% %*f%% %lf %n", &self, &name_at) != 1 || !name_at)
			continue;
		len -= name_at;
		/* pprof names drop the folded suffixes */
		if (len > 4 && line[name_at + len - 4] == '_' && line[name_at + len - 3] == '[')
			len -= 4;
		if (self > 0)
			fn_add(ours, &nours, 4096, line + name_at, len, self);
	}
	ptop = go_pprof("-top -unit=ns -nodefraction=0 -nodecount=100000 -sample_index=cpu", pb);
	assert_non_null(ptop);
	/* "FLAT FLAT% SUM% CUM CUM%  NAME[ (inline)]" after a header */
	for (line = ptop; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		size_t len = strcspn(line, "\n");
		double flat;
		int name_at = 0;

		if (sscanf(line, "%lfns %*f%% %*f%% %*s %*f%% %n", &flat, &name_at) != 1 || !name_at)
			continue;
		len -= name_at;
		if (len > 9 && !strncmp(line + name_at + len - 9, " (inline)", 9))
			len -= 9;
		if (flat > 0)
			fn_add(theirs, &ntheirs, 4096, line + name_at, len, flat);
	}
	printf("profile top: %zu functions with self samples, pprof -top: %zu with flat time\n",
	       nours, ntheirs);
	assert_true(nours > 3);
	assert_int_equal(nours, ntheirs);
	for (i = 0; i < nours; i++) {
		for (j = 0; j < ntheirs && strcmp(ours[i].name, theirs[j].name); j++)
			;
		if (j == ntheirs)
			fail_msg("pprof -top lacks %s", ours[i].name);
		/* each sample's time is rounded to the nanosecond */
		if (fabs(theirs[j].v - ours[i].v * period) > ours[i].v)
			fail_msg("%s: %.0f samples at 499 Hz is %.0f ns, pprof says %.0f ns",
				 ours[i].name, ours[i].v, ours[i].v * period, theirs[j].v);
		checked++;
	}
	assert_true(checked == nours);
	free(otop);
	free(ptop);
	check_pprof_lines(pb, db);
}

static void test_diff_gate(void **state)
{
	const char *profile = env_path("PROFILE");
	char *out, *err, *svg;

	(void)state;
	write_file(tmp("base.folded"), "app;main;grow 1000\napp;main;steady 3000\napp;main;gone 500\n"
				       "app;main;noise 40\n");
	write_file(tmp("new.folded"), "app;main;grow 2000\napp;main;steady 3000\napp;main;fresh 500\n"
				      "app;main;noise 43\n");
	/* grow's share rises from 22.03% to 36.08% (+14.06 points), fresh's by 9.02 */
	assert_int_equal(run("%s diff %s %s -o %s --fail-above 5 > %s 2> %s", profile, tmp("base.folded"),
			     tmp("new.folded"), tmp("diff.svg"), tmp("out.txt"), tmp("err.txt")), 3);
	out = slurp(tmp("out.txt"));
	err = slurp(tmp("err.txt"));
	svg = slurp(tmp("diff.svg"));
	/* the table ranks grow first, marked significant */
	assert_non_null(strstr(out, "FUNCTION\n  +14.06*   +14.06*   22.03 ->  36.08"));
	assert_non_null(strstr(err, "regression: 'grow' self share grew by 14.06 points"));
	assert_non_null(strstr(err, "regression: 'fresh'"));
	assert_null(strstr(err, "'noise'"));
	assert_non_null(strstr(svg, "<rect class=\"f new\""));
	free(out);
	free(err);
	free(svg);
	assert_int_equal(run("%s diff %s %s --fail-above 14.5 >/dev/null 2>&1", profile,
			     tmp("base.folded"), tmp("new.folded")), 0);
	assert_int_equal(run("%s diff %s %s >/dev/null 2>&1", profile, tmp("base.folded"),
			     tmp("new.folded")), 0);
	/* the same profile never trips the gate */
	assert_int_equal(run("%s diff %s %s --fail-above 0 >/dev/null 2>&1", profile,
			     tmp("new.folded"), tmp("new.folded")), 0);
	/* bad input: one-line errors and distinct exit codes */
	assert_int_equal(run("%s diff %s 2>/dev/null", profile, tmp("base.folded")), 2);
	assert_int_equal(run("%s diff --fail-above x %s %s 2>/dev/null", profile, tmp("base.folded"),
			     tmp("new.folded")), 2);
	assert_int_equal(run("%s diff %s /nonexistent 2>/dev/null >/dev/null", profile,
			     tmp("base.folded")), 1);
}

/*
 * The renderer streams: 200 MB of folded input, 150,000 distinct stacks,
 * must take memory for the distinct frames (~400,000 tree nodes), not for
 * the input or its distinct stack strings (another 200 MB).
 */
static void test_flamegraph_streams(void **state)
{
	const char *profile = env_path("PROFILE");
	int fds[2], i, j, st;
	struct rusage ru;
	pid_t pid;
	FILE *f;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execl(profile, profile, "flamegraph", "-o", tmp("stream.svg"), (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	f = fdopen(fds[1], "w");
	assert_non_null(f);
	/* 150,000 distinct stacks of 41 frames that differ below a shared trunk */
	for (i = 0; i < 150000; i++) {
		for (j = 0; j < 40; j++)
			fprintf(f, "%sapp::module_%02d::Class%d::method_%d", j ? ";" : "", j,
				j > 30 ? (i >> (j - 30)) % 2 : 0, j);
		fprintf(f, ";leaf_%d %d\n", i, 1 + i % 9);
	}
	fclose(f);
	assert_int_equal(wait4(pid, &st, 0, &ru), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	printf("peak memory of the streaming renderer on 200 MB of input: %ld MB\n",
	       ru.ru_maxrss / 1024);
	/* ~25 MB (~65 MB under ASan); keeping the stacks or the input would pass 200 MB */
	assert_true(ru.ru_maxrss < 128 * 1024);
	assert_int_equal(run("grep -q 'data-n=\"app::module_39::Class' %s", tmp("stream.svg")), 0);
}

static void test_flamegraph_cli(void **state)
{
	const char *profile = env_path("PROFILE");
	char *err, *svg;

	(void)state;
	write_file(tmp("in.folded"), "a;b 1\nbroken\na;c 2.5\nx;y nope\n");
	assert_int_equal(run("%s flamegraph %s --icicle --reverse --palette hot --title T -o %s 2> %s",
			     profile, tmp("in.folded"), tmp("fg.svg"), tmp("fg.err")), 0);
	err = slurp(tmp("fg.err"));
	svg = slurp(tmp("fg.svg"));
	assert_non_null(strstr(err, "in.folded:2: malformed folded line skipped: no count after the stack"));
	assert_non_null(strstr(err, "in.folded:4: malformed folded line skipped: the count is not a number"));
	assert_non_null(strstr(svg, "data-n=\"c\""));
	assert_non_null(strstr(svg, "</svg>"));
	free(err);
	free(svg);
	assert_int_equal(run("cat %s | %s flamegraph --chart > %s 2>/dev/null", tmp("in.folded"), profile,
			     tmp("stdin.svg")), 0);
	assert_int_equal(run("%s flamegraph --palette nope %s 2>/dev/null", profile, tmp("in.folded")), 2);
	assert_int_equal(run("%s flamegraph --width 5 %s 2>/dev/null", profile, tmp("in.folded")), 2);
	assert_int_equal(run("%s flamegraph /nonexistent 2>/dev/null", profile), 1);
	assert_int_equal(run("%s import perf-script /nonexistent 2>/dev/null", profile), 1);
	assert_int_equal(run("%s import nope 2>/dev/null", profile), 2);
}

/*
 * A folded file of 32 MB or more is read in parts, one thread each: the
 * malformed lines are still reported with their line numbers in the file
 * (lines with fractional counts before them, in every part), at most ten.
 */
static void test_flamegraph_parts_warnings(void **state)
{
	const char *profile = env_path("PROFILE");
	size_t lines = 0, bad_at[20], nbad = 0, i;
	char want[256], *err, *p;
	int shown = 0;
	FILE *f;

	(void)state;
	f = fopen(tmp("big.folded"), "w");
	assert_non_null(f);
	/* 6 million lines, about 60 MB; a malformed line every 300,000 */
	while (lines < 6000000) {
		lines++;
		if (lines % 300000 == 7 && nbad < 20) {
			bad_at[nbad++] = lines;
			fputs("app;broken\n", f);
		} else {
			fputs(lines % 2 ? "app;main;a 1.5\n" : "app;main;b 2\n", f);
		}
	}
	assert_int_equal(fclose(f), 0);
	assert_int_equal(run("%s flamegraph %s -o %s 2> %s", profile, tmp("big.folded"),
			     tmp("big.svg"), tmp("big.err")), 0);
	err = slurp(tmp("big.err"));
	for (p = err; (p = strstr(p, "malformed folded line skipped")); p++)
		shown++;
	assert_int_equal(shown, 10);
	for (i = 0; i < 10; i++) {
		snprintf(want, sizeof(want), "big.folded:%zu: malformed folded line skipped", bad_at[i]);
		if (!strstr(err, want))
			fail_msg("no '%s' in:\n%s", want, err);
	}
	assert_non_null(strstr(err, "big.folded: 20 malformed lines skipped in all"));
	free(err);
	unlink(tmp("big.folded"));
	unlink(tmp("big.svg"));
}

/*
 * `profile import`: counts as given, a malformed line reported as such (not
 * as a failed write), and an output that is the input refused before it
 * is emptied.
 */
static void test_import_cli(void **state)
{
	const char *profile = env_path("PROFILE");
	char *out, *err;

	(void)state;
	write_file(tmp("frac.folded"), "main;a 1.5\nmain;b 0.4\nmain;c 3\n");
	assert_int_equal(run("%s import folded %s > %s", profile, tmp("frac.folded"),
			     tmp("frac.out")), 0);
	out = slurp(tmp("frac.out"));
	assert_string_equal(out, "main;a 1.5\nmain;b 0.4\nmain;c 3\n");
	free(out);

	write_file(tmp("neg.folded"), "main;a -5\nmain;b 3\n");
	assert_int_equal(run("%s import folded %s -o %s 2> %s", profile, tmp("neg.folded"),
			     tmp("neg.out"), tmp("neg.err")), 1);
	err = slurp(tmp("neg.err"));
	out = slurp(tmp("neg.out"));
	assert_non_null(strstr(err, "neg.folded': 1 malformed line"));
	assert_null(strstr(err, "cannot write"));
	assert_string_equal(out, "main;b 3\n");
	free(err);
	free(out);

	/* -o naming the input, by name or through stdin: refused, the input intact */
	write_file(tmp("same.folded"), "main;a 5\n");
	assert_int_equal(run("%s import folded %s -o %s 2> %s", profile, tmp("same.folded"),
			     tmp("same.folded"), tmp("same.err")), 2);
	err = slurp(tmp("same.err"));
	assert_non_null(strstr(err, "invalid --output"));
	assert_non_null(strstr(err, "it is the input"));
	free(err);
	assert_int_equal(run("%s import perf-script -o %s < %s 2>/dev/null", profile,
			     tmp("same.folded"), tmp("same.folded")), 2);
	out = slurp(tmp("same.folded"));
	assert_string_equal(out, "main;a 5\n");
	free(out);
	/* options of perf-script input are refused for folded input, which they would not change */
	assert_int_equal(run("%s import folded --tid %s 2> %s", profile, tmp("same.folded"),
			     tmp("same.err")), 2);
	err = slurp(tmp("same.err"));
	assert_non_null(strstr(err, "are for perf-script input"));
	free(err);
}

/*
 * An input in the wrong format (every line malformed) is an error naming
 * the file and the format expected, not an empty result; an empty input is
 * a warning, and no side of a diff may be empty or unreadable.
 */
static void test_wrong_format(void **state)
{
	const char *profile = env_path("PROFILE");
	char *err;

	(void)state;
	write_file(tmp("script.txt"), "app 100 1.0: 1 cpu-clock:\n\t5555 main+0x1 (/bin/app)\n\n");
	write_file(tmp("ok.folded"), "app;main 5\napp;other 5\n");
	write_file(tmp("empty.folded"), "");
	assert_int_equal(run("%s flamegraph %s -o %s 2> %s", profile, tmp("script.txt"),
			     tmp("wf.svg"), tmp("wf.err")), 1);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "script.txt' is not folded stacks"));
	free(err);
	assert_int_equal(access(tmp("wf.svg"), F_OK), -1);
	assert_int_equal(run("%s export -f pprof %s -o %s 2>/dev/null", profile, tmp("script.txt"),
			     tmp("wf.pb.gz")), 1);
	assert_int_equal(run("%s import perf-script %s 2> %s", profile, tmp("ok.folded"),
			     tmp("wf.err")), 1);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "ok.folded' is not perf script output"));
	free(err);
	assert_int_equal(run("%s import folded %s 2>/dev/null", profile, tmp("script.txt")), 1);
	/* the gate does not pass on a side it cannot read or that is empty */
	assert_int_equal(run("%s diff %s %s --fail-above 1 >/dev/null 2>&1", profile,
			     tmp("ok.folded"), tmp("script.txt")), 1);
	assert_int_equal(run("%s diff %s %s --fail-above 1 >/dev/null 2> %s", profile,
			     tmp("ok.folded"), tmp("empty.folded"), tmp("wf.err")), 1);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "no samples in"));
	assert_non_null(strstr(err, "cannot compare"));
	free(err);
	/* an endless line (a stream without newlines) is refused, not read until memory runs out */
	assert_int_equal(run("%s flamegraph /dev/zero -o %s 2> %s", profile, tmp("wf.svg"),
			     tmp("wf.err")), 1);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "cannot read '/dev/zero': a line longer than 256 MB"));
	free(err);
	assert_int_equal(run("head -c 300000000 /dev/zero | %s import perf-script > /dev/null 2> %s",
			     profile, tmp("wf.err")), 1);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "a line longer than 256 MB"));
	free(err);
	/* empty: a warning, exit 0 */
	assert_int_equal(run("%s flamegraph %s -o %s 2> %s", profile, tmp("empty.folded"),
			     tmp("wf.svg"), tmp("wf.err")), 0);
	err = slurp(tmp("wf.err"));
	assert_non_null(strstr(err, "no samples in"));
	free(err);
}

/* Names and lines from the input reach the terminal without their control characters. */
static void test_no_escapes_to_terminal(void **state)
{
	const char *profile = env_path("PROFILE");
	char *out, *err;

	(void)state;
	write_file(tmp("esc-base.folded"), "app;x 10\n");
	write_file(tmp("esc-new.folded"), "app;\033]0;pwned\007evil 100\napp;x 1\n");
	assert_int_equal(run("%s diff %s %s --fail-above 1 > %s 2> %s", profile,
			     tmp("esc-base.folded"), tmp("esc-new.folded"), tmp("esc.out"),
			     tmp("esc.err")), 3);
	out = slurp(tmp("esc.out"));
	err = slurp(tmp("esc.err"));
	assert_non_null(strstr(out, "\\x1b]0"));
	assert_non_null(strstr(err, "regression: 'pwned\\x07evil'"));
	assert_null(strchr(out, '\033'));
	assert_null(strchr(err, '\033'));
	assert_null(strchr(err, '\007'));
	free(out);
	free(err);
	write_file(tmp("esc.txt"), "app 1 1.0: 1 cpu-clock:\n\033[31mred\n\tf main (/x)\n\n");
	assert_int_equal(run("%s import perf-script %s > %s 2> %s", profile, tmp("esc.txt"),
			     tmp("esc.out"), tmp("esc.err")), 0);
	err = slurp(tmp("esc.err"));
	assert_non_null(strstr(err, "unrecognized line: \\x1b[31mred"));
	assert_null(strchr(err, '\033'));
	free(err);
	/* a run's host and labels are whoever stored it's: `profile runs` escapes them */
	write_file(tmp("esc-run.folded"), "app;x 3\n");
	assert_int_equal(run("%s import folded %s --store --db %s --host 'h\033[31mx' --label 'k=v\007y' > /dev/null 2>&1",
			     profile, tmp("esc-run.folded"), tmp("esc.db")), 0);
	assert_int_equal(run("%s runs --db %s > %s", profile, tmp("esc.db"), tmp("esc.out")), 0);
	out = slurp(tmp("esc.out"));
	assert_non_null(strstr(out, "h\\x1b[31mx"));
	assert_non_null(strstr(out, "k=v\\x07y"));
	assert_null(strchr(out, '\033'));
	assert_null(strchr(out, '\007'));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_import_perf_capture),
		cmocka_unit_test(test_export_pprof_decodes),
		cmocka_unit_test(test_pprof_read_by_go_tool),
		cmocka_unit_test(test_pprof_top_matches_profile_top),
		cmocka_unit_test(test_diff_gate),
		cmocka_unit_test(test_flamegraph_streams),
		cmocka_unit_test(test_flamegraph_cli),
		cmocka_unit_test(test_flamegraph_parts_warnings),
		cmocka_unit_test(test_import_cli),
		cmocka_unit_test(test_wrong_format),
		cmocka_unit_test(test_no_escapes_to_terminal),
	};

	if (getenv("TEST_FILTER"))	/* one test: TEST_FILTER=test_import_cli */
		cmocka_set_test_filter(getenv("TEST_FILTER"));
	return cmocka_run_group_tests_name("e2e_web", tests, setup_group, teardown_group);
}
