// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for web/: XML escaping, folded input and output, the top
 * table, the SVG renderer (golden files plus structural checks), the
 * differential graph and change table, perf script import and the pprof and
 * speedscope exports.
 *
 * REGEN=1 rewrites the golden files instead of comparing (tests/regen.sh).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>
#include <zlib.h>

#include "profile.pb-c.h"
#include "web/web.h"
#include "web/web_internal.h"
#include "common/strbuf.h"

static void test_xml_escape(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "plain_name", "plain_name" },
		{ "a<b>&c", "a&lt;b&gt;&amp;c" },
		{ "\"q\" 'a'", "&quot;q&quot; &#39;a&#39;" },
		{ "</script><script>alert(1)</script>",
		  "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" },
		{ "std::vector<int>::push_back", "std::vector&lt;int&gt;::push_back" },
		{ "caf\xc3\xa9", "caf\xc3\xa9" },			/* valid UTF-8 kept */
		{ "bad\xff" "byte", "bad\xef\xbf\xbd" "byte" },		/* invalid byte */
		{ "cut\xc3", "cut\xef\xbf\xbd" },			/* truncated sequence */
		{ "over\xc0\xaf", "over\xef\xbf\xbd\xef\xbf\xbd" },	/* overlong */
		{ "ctl\x01\x1f", "ctl\xef\xbf\xbd\xef\xbf\xbd" },	/* not allowed in XML */
		{ "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf sb = STRBUF_INIT;

		assert_int_equal(xml_escape(&sb, cases[i].in, strlen(cases[i].in)), 0);
		assert_string_equal(strbuf__str(&sb), cases[i].out);
		strbuf__release(&sb);
	}
}

/* Text for a terminal: control characters (C0, DEL, C1) and invalid bytes as \xNN, the rest kept. */
static void test_term_escape(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_string_equal(term_escape(&sb, "caf\xc3\xa9 a\\b", 9), "caf\xc3\xa9 a\\b");
	assert_string_equal(term_escape(&sb, "\x1b]0;x\x07\x7f\xc2\x9b\xff", 10),
			    "\\x1b]0;x\\x07\\x7f\\xc2\\x9b\\xff");
	assert_string_equal(term_escape(&sb, "", 0), "");
	strbuf__release(&sb);
}

static void test_folded_add_frame(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	assert_int_equal(folded__add_frame(&sb, "comm", NULL), 0);
	assert_int_equal(folded__add_frame(&sb, "a;b\nc", NULL), 0);
	assert_int_equal(folded__add_frame(&sb, "do_syscall_64", "_[k]"), 0);
	assert_string_equal(sb.buf, "comm;a:b?c;do_syscall_64_[k]");
	strbuf__release(&sb);
}

static struct stack_agg *agg_from(const char *text, size_t *bad)
{
	struct stack_agg *agg = stack_agg__new();
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	assert_non_null(agg);
	assert_non_null(f);
	assert_int_equal(stack_agg__read_folded(agg, f, "input", bad), 0);
	fclose(f);
	return agg;
}

static char *folded_of(const struct stack_agg *agg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_int_equal(stack_agg__write_folded(agg, f), 0);
	fclose(f);
	return buf;
}

static void test_folded_roundtrip(void **state)
{
	static const char in[] =
		"b;c 3\n"
		"a;b 2\n"
		"# comment\n"
		"\n"
		"no_count_here\n"
		"a;b 5\n"
		"x;y notanumber\n"
		"with spaces in;frame names 1.5\n"
		" 4\n"
		"neg -1\n"
		"zero 0\n";
	size_t bad;
	struct stack_agg *agg = agg_from(in, &bad);
	char *out;

	(void)state;
	assert_int_equal(bad, 4);
	assert_int_equal(stack_agg__nr_stacks(agg), 3);
	assert_true(stack_agg__total(agg) == 11.5);
	out = folded_of(agg);
	assert_string_equal(out, "a;b 7\nb;c 3\nwith spaces in;frame names 1.5\n");
	free(out);
	stack_agg__free(agg);
}

/*
 * flamegraph.pl's reading of a line: a byte order mark before the first line
 * is no part of it; the count follows the last space, and the spaces before
 * that one stay in the last frame. Whole counts are written as digits only,
 * however large.
 */
static void test_folded_flamegraph_pl_rules(void **state)
{
	static const char in[] =
		"\xef\xbb\xbfmain;foo 10\n"
		"main;foo 5\n"
		"a;x ;y 1\n"
		"a;x  2\n"
		"big 1000000000000000\n"
		"huge 1e20\n"
		"tab;sep\t7\n";
	size_t bad;
	struct stack_agg *agg = agg_from(in, &bad);
	char *out, num[FOLDED_COUNT_MAX];

	(void)state;
	assert_int_equal(bad, 0);
	out = folded_of(agg);
	assert_string_equal(out, "a;x  2\na;x ;y 1\nbig 1000000000000000\n"
				 "huge 100000000000000000000\nmain;foo 15\ntab;sep 7\n");
	free(out);
	folded__format_count(num, sizeof(num), 1.5);
	assert_string_equal(num, "1.5");
	folded__format_count(num, sizeof(num), 18446744073709551615.0);
	assert_string_equal(num, "18446744073709551616");
	stack_agg__free(agg);
}

static void test_top_self_and_total(void **state)
{
	static const char in[] =
		"app;main;work;leaf 6\n"
		"app;main;work 2\n"
		"app;main;rec;rec;rec 2\n";
	static const struct {
		const char *name;
		double self, total;
	} want[] = {
		{ "leaf", 6, 6 },
		{ "work", 2, 8 },
		{ "rec", 2, 2 },	/* recursion counts once per stack */
		{ "main", 0, 10 },
	};
	size_t bad, n, i;
	struct stack_agg *agg = agg_from(in, &bad);
	struct top_entry *top;

	(void)state;
	assert_int_equal(stack_agg__top(agg, true, &top, &n), 0);
	assert_int_equal(n, 4);	/* "app", the root, is skipped */
	for (i = 0; i < n; i++) {
		assert_string_equal(top[i].name, want[i].name);
		assert_true(top[i].self == want[i].self);
		assert_true(top[i].total == want[i].total);
	}
	free(top);
	stack_agg__free(agg);
}

/* Render folded text the way `profile flamegraph` does: streamed into the frame tree. */
static char *render(const char *folded, const struct flamegraph_opts *opts)
{
	struct strbuf sb = STRBUF_INIT;
	struct flamegraph *fg = flamegraph__new(opts);
	FILE *f = fmemopen((void *)folded, strlen(folded) ? strlen(folded) : 1, "r");
	size_t bad;

	assert_non_null(fg);
	assert_non_null(f);
	if (*folded)
		assert_int_equal(flamegraph__read_folded(fg, f, "input", &bad), 0);
	fclose(f);
	assert_int_equal(flamegraph__write_svg(fg, &sb), 0);
	flamegraph__free(fg);
	return sb.buf;
}

/* The same through an aggregation, as the recorder and the store use it. */
static char *render_agg(const char *folded, const struct flamegraph_opts *opts)
{
	struct strbuf sb = STRBUF_INIT;
	size_t bad;
	struct stack_agg *agg = agg_from(folded, &bad);

	assert_int_equal(flamegraph__render(agg, opts, &sb), 0);
	stack_agg__free(agg);
	return sb.buf;
}

static size_t count_of(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle))
		n++;
	return n;
}

static void test_svg_escapes_hostile_names(void **state)
{
	static const char in[] =
		"app;</script><script>alert(1)</script>;x 3\n"
		"app;\"onload=\"alert(2);<img src=x onerror=alert(3)> 2\n"
		"app;]]><script>alert(4)</script> 1\n";
	char *svg = render(in, NULL);

	(void)state;
	/* only our own script element, and no markup made from names */
	assert_int_equal(count_of(svg, "<rect class=\"f\""), 7);
	assert_int_equal(count_of(svg, "<script"), 1);
	assert_int_equal(count_of(svg, "]]>"), 1);
	assert_null(strstr(svg, "<img"));
	assert_null(strstr(svg, "\"onload=\"alert"));
	assert_non_null(strstr(svg, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	free(svg);
}

static void test_svg_structure(void **state)
{
	static const char in[] = "app;main;a 75\napp;main;b 25\napp;main;b;tiny 0.01\n";
	struct flamegraph_opts opts = { .width = 1000, .min_width = 0.5, .title = "T & T" };
	char *svg = render(in, &opts);

	(void)state;
	/* all, app, main, a, b; "tiny" is 0.1 px wide and pruned */
	assert_int_equal(count_of(svg, "<rect class=\"f\""), 5);
	assert_null(strstr(svg, "data-n=\"tiny\""));
	/* the pruned samples still count in b's width: 25.01 of 100.01 */
	assert_non_null(strstr(svg, "data-x=\"75\" data-v=\"25.01\" data-e=\"5\" data-p=\"2\" data-n=\"b\""));
	/* "a" sorts first and starts at the left edge; b follows it; pre-order indices */
	assert_non_null(strstr(svg, "<rect class=\"f\" x=\"10.0000\" y=\"60.0\" width=\"734.9265\""));
	assert_non_null(strstr(svg, "data-x=\"0\" data-v=\"75\" data-e=\"4\" data-p=\"2\" data-n=\"a\""));
	assert_non_null(strstr(svg, ">T &amp; T</text>"));
	free(svg);
}

static void test_svg_empty_input(void **state)
{
	char *svg = render("", NULL);

	(void)state;
	assert_int_equal(count_of(svg, "<rect class=\"f"), 0);
	assert_non_null(strstr(svg, "No samples"));
	assert_non_null(strstr(svg, "</svg>"));
	free(svg);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (!f)
		return NULL;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	return buf;
}

/*
 * Golden files: tests/fixtures/<input>.folded rendered with the case's
 * options must equal tests/fixtures/<name>.svg byte for byte.
 */
static void test_svg_golden(void **state)
{
	static const struct {
		const char *name, *input;
		struct flamegraph_opts opts;
	} cases[] = {
		{ "basic", "basic", { .title = "basic", .min_width = 0.1 } },
		{ "kinds", "kinds", { .title = "kinds", .min_width = 0.1 } },
		{ "options", "basic", { .title = "Options <&>", .subtitle = "sub \"title\"",
					.count_name = "ms", .width = 640, .min_width = 0.1 } },
		{ "icicle", "basic", { .title = "icicle", .icicle = true, .min_width = 0.1 } },
		{ "reversed", "basic", { .title = "reversed", .reverse = true, .min_width = 0.1 } },
		{ "chart", "chart", { .title = "chart", .chart = true, .min_width = 0.1 } },
		{ "pruned", "basic", { .title = "pruned", .width = 200, .min_width = 12 } },
		{ "palette-hot", "kinds", { .title = "hot", .palette = FG_PALETTE_HOT, .min_width = 0.1 } },
		{ "palette-cold", "kinds", { .title = "cold", .palette = FG_PALETTE_COLD, .min_width = 0.1 } },
		{ "fractional", "fractional", { .title = "fractional", .min_width = 0.1 } },
		{ "empty", "empty", { .title = "empty", .min_width = 0.1 } },
	};
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char in_path[4096], out_path[4096], *in, *want, *got;

		snprintf(in_path, sizeof(in_path), "%s/tests/fixtures/%s.folded", src, cases[i].input);
		snprintf(out_path, sizeof(out_path), "%s/tests/fixtures/%s.svg", src, cases[i].name);
		in = slurp(in_path);
		if (!in)
			fail_msg("missing input %s", in_path);
		got = render(in, &cases[i].opts);
		if (getenv("REGEN")) {
			FILE *f = fopen(out_path, "w");

			assert_non_null(f);
			fputs(got, f);
			fclose(f);
		}
		want = slurp(out_path);
		if (!want)
			fail_msg("missing golden file %s (run tests/regen.sh)", out_path);
		if (strcmp(want, got))
			fail_msg("%s differs from the renderer's output; if intended, run tests/regen.sh",
				 out_path);
		free(in);
		free(want);
		free(got);
	}
}

/* data-v of the frame named @name whose parent is frame @parent ("-1" for the root). */
static double frame_value(const char *svg, const char *name, const char *parent)
{
	char needle[256];
	const char *p;

	snprintf(needle, sizeof(needle), "data-p=\"%s\" data-n=\"%s\"", parent, name);
	p = strstr(svg, needle);
	if (!p)
		return -1;
	while (p > svg && strncmp(p, "data-v=\"", 8))
		p--;
	return strtod(p + 8, NULL);
}

static void test_svg_reverse_merges_callers(void **state)
{
	struct flamegraph_opts opts = { .reverse = true, .min_width = 0 };
	char *svg = render("a;b;c 1\nx;b;c 2\ny;c 4\n", &opts);

	(void)state;
	/* leaf first: c (7) above all, then its callers b (3) and y (4), then a and x */
	assert_int_equal(count_of(svg, "<rect class=\"f\""), 6);
	assert_true(frame_value(svg, "c", "0") == 7);
	assert_true(frame_value(svg, "b", "1") == 3);
	assert_true(frame_value(svg, "y", "1") == 4);
	assert_true(frame_value(svg, "a", "2") == 1);
	assert_true(frame_value(svg, "x", "2") == 2);
	free(svg);
}

static void test_svg_chart_keeps_order(void **state)
{
	struct flamegraph_opts chart = { .chart = true, .min_width = 0 }, graph = { .min_width = 0 };
	static const char in[] = "m;b 1\nm;c 1\nm;b 1\nm;b 2\nz 1\nm;b 1\n";
	char *c = render(in, &chart), *g = render(in, &graph);

	(void)state;
	/* chart: m, b, c, b (merged with the next b), z, m, b; time order kept */
	assert_int_equal(count_of(c, "<rect class=\"f\""), 8);
	assert_non_null(strstr(c, "data-x=\"0\" data-v=\"5\" data-e=\"5\" data-p=\"0\" data-n=\"m\""));
	assert_non_null(strstr(c, "data-x=\"2\" data-v=\"3\" data-e=\"5\" data-p=\"1\" data-n=\"b\""));
	assert_non_null(strstr(c, "data-x=\"5\" data-v=\"1\" data-e=\"6\" data-p=\"0\" data-n=\"z\""));
	assert_non_null(strstr(c, "data-x=\"6\" data-v=\"1\" data-e=\"8\" data-p=\"0\" data-n=\"m\""));
	/* graph: m and z, b merged */
	assert_int_equal(count_of(g, "<rect class=\"f\""), 5);
	assert_true(frame_value(g, "b", "1") == 5);
	free(c);
	free(g);
}

/* Input order must not change the graph: the prefix reuse of the streaming tree is exact. */
static void test_svg_input_order_irrelevant(void **state)
{
	static const char sorted[] =
		"a;b;c 1\na;b;c;d 2\na;b;cc 3\na;b;cc;d 4\na;bb 5\na;bb;c 6\nb 7\nb;a 8\n";
	static const char shuffled[] =
		"a;bb;c 6\nb;a 8\na;b;cc 3\na;b;c;d 2\na;bb 5\nb 7\na;b;c 1\na;b;cc;d 4\na;b;c 0.5\n"
		"a;b;c -1\n";
	struct flamegraph_opts opts = { .min_width = 0 };
	char *x, *y;
	size_t bad;
	struct stack_agg *agg = agg_from(shuffled, &bad);

	(void)state;
	assert_int_equal(bad, 1);
	stack_agg__free(agg);
	x = render(sorted, &opts);
	y = render(shuffled, &opts);
	/* only a;b;c differs: 1 vs 1.5, so c under a;b has 3 vs 3.5 inclusive */
	assert_non_null(strstr(x, "data-v=\"3\" data-e=\"5\" data-p=\"2\" data-n=\"c\""));
	assert_non_null(strstr(y, "data-v=\"3.5\" data-e=\"5\" data-p=\"2\" data-n=\"c\""));
	assert_int_equal(count_of(x, "<rect class=\"f\""), 11);
	assert_int_equal(count_of(y, "<rect class=\"f\""), 11);
	free(x);
	free(y);
	/* streamed and aggregated give the same picture */
	x = render(shuffled, &opts);
	y = render_agg(shuffled, &opts);
	assert_string_equal(x, y);
	free(x);
	free(y);
}

/*
 * A large file is read in parts by several threads, each into a tree of its
 * own, merged at the end: the picture is the one a single reader draws (the
 * same text read through a stream), and a malformed line in a later part is
 * counted once.
 */
static void test_svg_parallel_read_same(void **state)
{
	struct flamegraph_opts opts = { .min_width = 0 };
	struct strbuf text = STRBUF_INIT, a = STRBUF_INIT, b = STRBUF_INIT;
	char path[] = "/tmp/test-web-parts-XXXXXX";
	struct flamegraph *fg;
	uint64_t rng = 42;
	size_t bad = 0, i, bad_off = 0;
	FILE *f;
	int fd;

	(void)state;
	/* 40 MB, over the size read in parts; stacks random, so parts share frames */
	for (i = 0; text.len < (40u << 20); i++) {
		int depth, d;

		rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
		depth = 3 + (rng >> 62);
		assert_int_equal(strbuf__addf(&text, "comm%d", (int)(rng >> 60) & 3), 0);
		/* a few thousand distinct frames: every one drawn stays quick */
		for (d = 0; d < depth; d++)
			assert_int_equal(strbuf__addf(&text, ";fn_%02d_%d", d,
						      (int)((rng >> (4 * d + 8)) & (d < 2 ? 7 : 1))),
					 0);
		assert_int_equal(strbuf__addf(&text, " %d\n", (int)(rng >> 40) % 9 + 1), 0);
		if (!bad_off && text.len > (30u << 20)) {
			/* in the second half: a line without a count */
			bad_off = text.len;
			assert_int_equal(strbuf__adds(&text, "broken;line\n"), 0);
		}
	}
	assert_true(bad_off > text.len / 2);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text.buf, text.len), (ssize_t)text.len);
	close(fd);
	f = fopen(path, "r");
	assert_non_null(f);
	fg = flamegraph__new(&opts);
	assert_int_equal(flamegraph__read_folded(fg, f, "parts", &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(flamegraph__write_svg(fg, &a), 0);
	flamegraph__free(fg);
	fclose(f);
	unlink(path);
	f = fmemopen(text.buf, text.len, "r");
	assert_non_null(f);
	fg = flamegraph__new(&opts);
	assert_int_equal(flamegraph__read_folded(fg, f, "stream", &bad), 0);
	assert_int_equal(bad, 1);
	assert_int_equal(flamegraph__write_svg(fg, &b), 0);
	flamegraph__free(fg);
	fclose(f);
	assert_true(a.len > 1000);
	if (strcmp(a.buf, b.buf))
		fail_msg("the parallel read draws another picture (%zu vs %zu bytes)", a.len, b.len);
	strbuf__release(&text);
	strbuf__release(&a);
	strbuf__release(&b);
}

static int count_line(void *ctx, const char *stack, size_t len, double count)
{
	double *sum = ctx;

	(void)stack;
	sum[0] += count;
	sum[1] += len;
	return 0;
}

/* The chunked reader: long lines, CRLF, a last line without newline, NUL bytes. */
/*
 * The server lays out and writes several selections at once, one per worker
 * thread: each thread's picture and folded text are the ones a single thread
 * makes (sorting once kept its tree in a global: two threads mixed theirs).
 */
struct render_job {
	int id;
	char *svg, *folded;	/* what one thread alone made */
	int mismatches;
};

static int render_job_once(struct render_job *j, char **svg, char **folded)
{
	struct flamegraph_opts opts = { .min_width = 0 };
	struct stack_agg *agg = stack_agg__new();
	struct strbuf sb = STRBUF_INIT;
	size_t len = 0;
	char line[128];
	FILE *f;
	int i, err = agg ? 0 : -ENOMEM;

	/* 600 siblings in an order of their own per job, so every layout sorts */
	for (i = 0; i < 600 && !err; i++) {
		int n = snprintf(line, sizeof(line), "root_%d;fn_%d_%d;leaf_%d", j->id, j->id,
				 (i * 7919) % 600, i % 13);

		err = stack_agg__add(agg, line, n, 1 + i % 5);
	}
	if (!err)
		err = flamegraph__render(agg, &opts, &sb);
	*svg = sb.buf;
	*folded = NULL;
	f = err ? NULL : open_memstream(folded, &len);
	if (f) {
		err = stack_agg__write_folded(agg, f);
		fclose(f);
	}
	stack_agg__free(agg);
	return err;
}

static void *render_job_run(void *arg)
{
	struct render_job *j = arg;
	int round;

	for (round = 0; round < 50; round++) {
		char *svg = NULL, *folded = NULL;

		if (render_job_once(j, &svg, &folded) || !svg || !folded ||
		    strcmp(svg, j->svg) || strcmp(folded, j->folded))
			j->mismatches++;
		free(svg);
		free(folded);
	}
	return NULL;
}

static void test_render_in_threads(void **state)
{
	struct render_job jobs[4];
	pthread_t th[4];
	int i;

	(void)state;
	for (i = 0; i < 4; i++) {
		jobs[i] = (struct render_job){ .id = i };
		assert_int_equal(render_job_once(&jobs[i], &jobs[i].svg, &jobs[i].folded), 0);
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, render_job_run, &jobs[i]), 0);
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < 4; i++) {
		if (jobs[i].mismatches)
			fail_msg("thread %d: %d of 50 renders differ from a single thread's", i,
				 jobs[i].mismatches);
		free(jobs[i].svg);
		free(jobs[i].folded);
	}
}

/*
 * Stacks added as interned names (how the store's readers fill an
 * aggregate) and the same stacks added as folded text give the same
 * stacks in the same order, the same folded output, top table and flame
 * graphs (plain, reversed, chart); two stacks of different frames that read
 * the same are one stack either way; text added to stacks of names turns
 * them into text, names added to text are joined.
 */
#define NAMES_POOL 40

static char *agg_folded(const struct stack_agg *agg)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(stack_agg__write_folded(agg, f), 0);
	fclose(f);
	return buf;
}

static char *agg_top(const struct stack_agg *agg, bool skip_root)
{
	struct top_entry *top;
	struct strbuf sb = STRBUF_INIT;
	size_t n, i;

	assert_int_equal(stack_agg__top(agg, skip_root, &top, &n), 0);
	for (i = 0; i < n; i++)
		assert_int_equal(strbuf__addf(&sb, "%s %.0f %.0f\n", top[i].name, top[i].self,
					      top[i].total), 0);
	free(top);
	return sb.buf ? sb.buf : strdup("");
}

static char *agg_svg(const struct stack_agg *agg, bool reverse, bool chart)
{
	struct flamegraph_opts o = { .min_width = 0, .reverse = reverse, .chart = chart };
	struct strbuf sb = STRBUF_INIT;

	assert_int_equal(flamegraph__render(agg, &o, &sb), 0);
	return sb.buf;
}

static void assert_aggs_same(const struct stack_agg *a, const struct stack_agg *b)
{
	const char *sa, *sb;
	double ca, cb;
	char *x, *y;
	size_t i;
	int v;

	assert_int_equal(stack_agg__nr_stacks(a), stack_agg__nr_stacks(b));
	assert_true(stack_agg__total(a) == stack_agg__total(b));
	for (i = 0; stack_agg__get(a, i, &sa, &ca); i++) {
		assert_true(stack_agg__get(b, i, &sb, &cb));
		assert_string_equal(sa, sb);
		assert_true(ca == cb);
	}
	assert_int_equal(i, stack_agg__nr_stacks(a));
	x = agg_folded(a);
	y = agg_folded(b);
	assert_string_equal(x, y);
	free(x);
	free(y);
	for (v = 0; v < 2; v++) {
		x = agg_top(a, v);
		y = agg_top(b, v);
		assert_string_equal(x, y);
		free(x);
		free(y);
	}
	for (v = 0; v < 3; v++) {
		x = agg_svg(a, v == 1, v == 2);
		y = agg_svg(b, v == 1, v == 2);
		assert_string_equal(x, y);
		free(x);
		free(y);
	}
}

static void test_stacks_of_names(void **state)
{
	struct stack_agg *text = stack_agg__new(), *names = stack_agg__new();
	int32_t ids[NAMES_POOL + 1], pool[NAMES_POOL];
	struct strbuf line = STRBUF_INIT;
	char name[32];
	unsigned int r = 7;
	int i, j, n;
	int32_t bad = 12345;

	(void)state;
	assert_non_null(text);
	assert_non_null(names);
	for (i = 0; i < NAMES_POOL; i++) {
		/* "f7" twice: two frames of one name are one name id */
		if (i % 20 == 7)
			snprintf(name, sizeof(name), "f7");
		else
			snprintf(name, sizeof(name), "f%d%s", i, i % 3 ? "" : "_[k]");
		pool[i] = stack_agg__name(names, name, strlen(name));
		assert_true(pool[i] >= 0);
		assert_int_equal(stack_agg__name(names, name, strlen(name)), pool[i]);
	}
	assert_int_equal(pool[7], pool[27]);
	assert_int_equal(stack_agg__nr_names(names), NAMES_POOL - 1);
	for (i = 0; i < 3000; i++) {
		n = 1 + (r = r * 1103515245 + 12345) % 9;
		strbuf__setlen(&line, 0);
		for (j = 0; j < n; j++) {
			/* few roots, deep recursion now and then */
			const char *s;
			size_t len;

			if (j)
				r = r * 1103515245 + 12345;
			ids[j] = pool[(r >> 8) % (!j ? 3 : j > 5 ? 4 : NAMES_POOL)];
			s = stack_agg__name_str(names, ids[j], &len);
			assert_int_equal(len, strlen(s));
			assert_int_equal((j ? strbuf__addch(&line, ';') : 0) ?:
					 strbuf__add(&line, s, len), 0);
		}
		assert_int_equal(stack_agg__add(text, line.buf, line.len, 1 + i % 7), 0);
		assert_int_equal(stack_agg__add_names(names, ids, n, 1 + i % 7), 0);
	}
	assert_true(stack_agg__by_names(names));
	assert_false(stack_agg__by_names(text));
	assert_true(stack_agg__nr_stacks(names) < 3000);	/* repeats are summed */
	assert_aggs_same(text, names);

	/* what is refused */
	assert_int_equal(stack_agg__name(names, "a;b", 3), -EINVAL);
	assert_int_equal(stack_agg__add_names(names, ids, 0, 1), -EINVAL);
	assert_int_equal(stack_agg__add_names(names, &bad, 1, 1), -EINVAL);
	assert_int_equal(stack_agg__add_names(names, ids, 2, 0), -EINVAL);
	assert_int_equal(stack_agg__add_names(names, ids, 2, NAN), -EINVAL);
	ids[0] = stack_agg__name(names, "", 0);
	assert_true(ids[0] >= 0);
	assert_int_equal(stack_agg__add_names(names, ids, 1, 1), -EINVAL);	/* as "" */
	assert_int_equal(stack_agg__add(text, "", 0, 1), -EINVAL);
	assert_aggs_same(text, names);

	/* text into stacks of names: all text from then on, the same stacks */
	assert_int_equal(stack_agg__add(text, "f1;f2;new", 9, 5), 0);
	assert_int_equal(stack_agg__add(names, "f1;f2;new", 9, 5), 0);
	assert_false(stack_agg__by_names(names));
	assert_aggs_same(text, names);
	/* and names into text: joined */
	ids[0] = pool[1];
	ids[1] = pool[3];
	assert_int_equal(stack_agg__add_names(names, ids, 2, 3), 0);
	assert_int_equal(stack_agg__add(text, "f1;f3_[k]", 9, 3), 0);
	assert_aggs_same(text, names);
	strbuf__release(&line);
	stack_agg__free(text);
	stack_agg__free(names);
}

/* The text of stacks of names is made once, whichever reader thread asks first. */
struct names_reader {
	const struct stack_agg *agg;
	char *folded;
};

static void *names_reader_run(void *arg)
{
	struct names_reader *r = arg;

	r->folded = agg_folded(r->agg);
	return NULL;
}

static void test_stacks_of_names_threads(void **state)
{
	struct stack_agg *agg = stack_agg__new();
	struct names_reader rd[4];
	pthread_t th[4];
	int32_t ids[3];
	int i;

	(void)state;
	assert_non_null(agg);
	for (i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "n%d", i);
		ids[i] = stack_agg__name(agg, name, strlen(name));
	}
	for (i = 0; i < 20000; i++) {
		int32_t s[3] = { ids[i % 3], ids[(i / 3) % 3], ids[(i / 9) % 3] };

		assert_int_equal(stack_agg__add_names(agg, s, 1 + i % 3, 1), 0);
	}
	for (i = 0; i < 4; i++) {
		rd[i] = (struct names_reader){ .agg = agg };
		assert_int_equal(pthread_create(&th[i], NULL, names_reader_run, &rd[i]), 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (i = 1; i < 4; i++)
		assert_string_equal(rd[i].folded, rd[0].folded);
	assert_non_null(strstr(rd[0].folded, "n2;n2;n2 "));
	for (i = 0; i < 4; i++)
		free(rd[i].folded);
	stack_agg__free(agg);
}

/*
 * The drawing's numbers as printf prints them: random values at every
 * scale, exact halves and values a hair either side of them (printf rounds
 * the binary value: 0.125 and 0.375 are exact, 0.15 is not), integers;
 * what the fast path leaves out is left to printf.
 */
static void check_fixed(double v, int prec, int *fast)
{
	char want[512], got[64], *end;

	snprintf(want, sizeof(want), "%.*f", prec, v);
	end = fg__put_fixed(got, v, prec);
	if (!end)
		return;
	(*fast)++;
	*end = '\0';
	if (strcmp(got, want))
		fail_msg("%.17g at %d decimals: '%s', printf '%s'", v, prec, got, want);
}

static void test_svg_numbers(void **state)
{
	static const double edges[] = {
		0, 0.5, 1.5, 2.5, 0.125, 0.375, 0.15, 0.25, 1.00005, 2.00015, 0.00005, 0.00015,
		9.99995, 99999.99995, 99999.4, 1e5, 1e6, -0.0, -1, 1e-300, NAN, INFINITY,
	};
	char want[64], got[64], *end;
	unsigned long long r = 1;
	int i, prec, fast = 0;

	(void)state;
	for (i = 0; i < (int)(sizeof(edges) / sizeof(edges[0])); i++) {
		for (prec = 0; prec <= 4; prec++) {
			check_fixed(edges[i], prec, &fast);
			check_fixed(nextafter(edges[i], 0), prec, &fast);
			check_fixed(nextafter(edges[i], 1e9), prec, &fast);
		}
	}
	for (i = 0; i < 300000; i++) {
		double v;

		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		v = (double)(r >> 11) / (1ULL << 53) * pow(10, (int)(r % 7) - 1);
		if (i % 3 == 0)	/* halves at the last decimal, as counts times a scale give */
			v = floor(v * 10000) / 10000 + 0.00005;
		check_fixed(v, 1 + i % 4, &fast);
	}
	print_message("%d of the values without printf\n", fast);
	assert_true(fast > 200000);	/* the fast path is the usual one */
	for (i = 0; i < 100000; i++) {
		double v = i < 50000 ? i : floor(pow(1.0005, i - 50000) * 1000) / (i % 2 ? 1 : 8);

		snprintf(want, sizeof(want), "%.10g", v);
		end = fg__put_count(got, v);
		if (!end)
			continue;
		*end = '\0';
		if (strcmp(got, want))
			fail_msg("count %.17g: '%s', printf '%s'", v, got, want);
	}
	assert_null(fg__put_count(got, 0.5));
	assert_null(fg__put_count(got, 1e10));
	assert_null(fg__put_count(got, -0.0));
	assert_non_null(fg__put_count(got, 9999999999.0));
}

static void test_folded_reader_edges(void **state)
{
	size_t long_len = 9u << 20, bad, i;
	char *text = malloc(long_len + 64);
	double sum[2] = {};
	FILE *f;

	(void)state;
	assert_non_null(text);
	for (i = 0; i < long_len; i++)
		text[i] = i % 2 ? ';' : 'x';
	text[long_len - 1] = 'x';
	memcpy(text + long_len, " 2\r\nbad\0line 1\nlast 3", 21);
	f = fmemopen(text, long_len + 21, "r");
	assert_non_null(f);
	assert_int_equal(folded__read(f, "edges", count_line, sum, &bad), 0);
	fclose(f);
	assert_int_equal(bad, 1);	/* the NUL line */
	assert_true(sum[0] == 5);
	assert_true(sum[1] == long_len + 4);
	free(text);
}

/* ---- differential ---- */

static void test_diff_zscore(void **state)
{
	(void)state;
	/* 0 of 1000 vs 1 of 1000: about 1, not significant */
	assert_true(fabs(diff__zscore(0, 1000, 1, 1000) - 1.0) < 0.01);
	/* 100 of 1000 vs 200 of 1000: clearly significant growth */
	assert_true(diff__zscore(100, 1000, 200, 1000) > 5);
	assert_true(diff__zscore(200, 1000, 100, 1000) < -5);
	/* equal shares at different totals: no change */
	assert_true(fabs(diff__zscore(50, 500, 100, 1000)) < 1e-9);
	assert_true(diff__zscore(1, 0, 1, 10) == 0);
}

/* BASE and NEW with known changes: grow doubles, fresh appears, gone vanishes, noise wobbles. */
static const char diff_base[] =
	"app;main;grow 1000\napp;main;steady 3000\napp;main;gone 500\napp;main;noise 40\n"
	"app;main;steady;tiny 1\n";
static const char diff_new[] =
	"app;main;grow 2000\napp;main;steady 3000\napp;main;fresh 500\napp;main;noise 43\n"
	"app;main;steady;tiny 2\n";

static const struct diff_entry *entry_of(const struct diff_entry *e, size_t nr, const char *name)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (!strcmp(e[i].name, name))
			return &e[i];
	}
	fail_msg("no entry for %s", name);
	return NULL;
}

static void test_diff_table(void **state)
{
	size_t bad, nr;
	struct stack_agg *base = agg_from(diff_base, &bad), *new = agg_from(diff_new, &bad);
	const struct diff_entry *g;
	struct diff_entry *e;

	(void)state;
	assert_int_equal(stack_agg__diff_top(base, new, false, &e, &nr), 0);
	assert_int_equal(nr, 8);
	/* ranked by the largest change: grow first (+12.7 points), then gone/fresh */
	assert_string_equal(e[0].name, "grow");
	g = entry_of(e, nr, "grow");
	assert_true(fabs(g->base_self - 100.0 * 1000 / 4541) < 1e-9);
	assert_true(fabs(g->new_total - 100.0 * 2000 / 5545) < 1e-9);
	assert_true(g->z_total > 3);
	assert_true(entry_of(e, nr, "gone")->new_total == 0);
	assert_true(entry_of(e, nr, "gone")->z_total < -3);
	assert_true(entry_of(e, nr, "fresh")->base_total == 0);
	assert_true(fabs(entry_of(e, nr, "noise")->z_total) < 3);
	assert_true(fabs(entry_of(e, nr, "tiny")->z_total) < 3);
	/* steady keeps its count but its share shrinks as grow takes more */
	assert_true(entry_of(e, nr, "steady")->z_total < -3);
	free(e);
	stack_agg__free(base);
	stack_agg__free(new);
}

/* The fill of the frame @name under parent index @parent in a diff SVG. */
static const char *fill_of(const char *svg, const char *name, const char *parent, char *buf,
			   size_t size)
{
	char needle[256];
	const char *p, *fill;

	snprintf(needle, sizeof(needle), "data-p=\"%s\" data-n=\"%s\"", parent, name);
	p = strstr(svg, needle);
	if (!p)
		return NULL;
	while (p > svg && strncmp(p, "<rect", 5))
		p--;
	fill = strstr(p, "fill=\"");
	snprintf(buf, size, "%.*s", (int)strcspn(fill + 6, "\""), fill + 6);
	return buf;
}

static void test_diff_svg(void **state)
{
	struct diff_opts opts = { .fg = { .min_width = 0 }, .z = 3 };
	struct strbuf sb = STRBUF_INIT;
	size_t bad;
	struct stack_agg *base = agg_from(diff_base, &bad), *new = agg_from(diff_new, &bad);
	char buf[64];
	const char *svg;

	(void)state;
	assert_int_equal(flamegraph__render_diff(base, new, &opts, &sb), 0);
	svg = sb.buf;
	/* NEW's shape: gone is not drawn, fresh is */
	assert_null(strstr(svg, "data-n=\"gone\""));
	assert_non_null(strstr(svg, "data-n=\"fresh\""));
	/* every frame is coloured, not only leaves: grew red, shrank blue, noise grey */
	assert_string_equal(fill_of(svg, "grow", "2", buf, sizeof(buf)), "rgb(255,0,0)");
	assert_int_equal(strncmp(fill_of(svg, "steady", "2", buf, sizeof(buf)), "rgb(", 4), 0);
	assert_non_null(strstr(fill_of(svg, "steady", "2", buf, sizeof(buf)), ",255)"));
	assert_string_equal(fill_of(svg, "noise", "2", buf, sizeof(buf)), "rgb(214,214,214)");
	assert_string_equal(fill_of(svg, "tiny", "6", buf, sizeof(buf)), "rgb(214,214,214)");
	assert_string_equal(fill_of(svg, "main", "1", buf, sizeof(buf)), "rgb(214,214,214)");
	/* fresh is marked new; main, the parent of gone, is marked */
	assert_non_null(strstr(svg, "<rect class=\"f new\""));
	assert_non_null(strstr(svg, "<rect class=\"f gone\""));
	assert_non_null(strstr(svg, "vanished below it: gone (11.01% of BASE)"));
	assert_non_null(strstr(svg, ">  app;main;gone  (11.01% of BASE)</text>"));
	assert_non_null(strstr(svg, "two-proportion z-test, |z| &lt; 3"));
	strbuf__release(&sb);
	stack_agg__free(base);
	stack_agg__free(new);
}

/* Two samples of one distribution: sampling noise alone must leave every frame grey. */
static void test_diff_noise_stays_grey(void **state)
{
	static const double weights[] = { 30, 20, 15, 10, 8, 6, 5, 3, 2, 1 };
	struct diff_opts opts = { .fg = { .min_width = 0 }, .z = 3 };
	struct stack_agg *side[2] = { stack_agg__new(), stack_agg__new() };
	struct strbuf sb = STRBUF_INIT;
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	const char *p;
	int s, n, k;

	(void)state;
	for (s = 0; s < 2; s++) {
		for (n = 0; n < 20000; n++) {
			char stack[64];
			double r;

			rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
			r = (rng >> 11) * (100.0 / 9007199254740992.0);
			for (k = 0; r >= weights[k] && k < 9; k++)
				r -= weights[k];
			snprintf(stack, sizeof(stack), "app;main;mod%d;leaf%d", k % 3, k);
			assert_int_equal(stack_agg__add(side[s], stack, strlen(stack), 1), 0);
		}
	}
	assert_int_equal(flamegraph__render_diff(side[0], side[1], &opts, &sb), 0);
	assert_int_equal(count_of(sb.buf, "<rect class=\"f\""), 16);
	for (p = strstr(sb.buf, "<rect class=\"f"); p; p = strstr(p + 1, "<rect class=\"f"))
		assert_int_equal(strncmp(strstr(p, "fill=\""), "fill=\"rgb(214,214,214)\"", 23), 0);
	strbuf__release(&sb);
	stack_agg__free(side[0]);
	stack_agg__free(side[1]);
}

/* ---- perf script ---- */

static int collect_folded(void *ctx, const char *stack, size_t len, double count)
{
	return strbuf__addf(ctx, "%.*s %.0f\n", (int)len, stack, count);
}

/*
 * Hand-checked expectations for the rules of stackcollapse-perf.pl (see
 * web/perfscript.c); tests/fixtures/perf-script.txt holds the tricky input.
 */
static void test_perf_script_rules(void **state)
{
	static const struct {
		const char *expected;
		struct perf_script_opts opts;
	} cases[] = {
		{ "perf-script.folded", {} },
		{ "perf-script-all.folded", { .kernel = true, .jit = true } },
		{ "perf-script-pid.folded", { .pid = true } },
		{ "perf-script-tid-addrs.folded", { .tid = true, .addrs = true } },
		{ "perf-script-event.folded", { .event_filter = "cycles" } },
		{ "perf-script-samples.folded", { .count_samples = true } },
	};
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	char path[4096], *want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf out = STRBUF_INIT;
		FILE *f;

		snprintf(path, sizeof(path), "%s/tests/fixtures/perf-script.txt", src);
		f = fopen(path, "r");
		assert_non_null(f);
		assert_int_equal(perf_script__collapse(f, "perf-script.txt", &cases[i].opts,
						       collect_folded, &out, NULL), 0);
		fclose(f);
		snprintf(path, sizeof(path), "%s/tests/fixtures/%s", src, cases[i].expected);
		want = slurp(path);
		if (!want)
			fail_msg("missing %s", path);
		if (strcmp(want, strbuf__str(&out)))
			fail_msg("%s: got\n%s", cases[i].expected, strbuf__str(&out));
		free(want);
		strbuf__release(&out);
	}
}

/* Collapse perf script @text with default options into @out; returns the collapse's result. */
static int collapse_text(const char *text, struct strbuf *out)
{
	struct perf_script_opts o = {};
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int err;

	assert_non_null(f);
	err = perf_script__collapse(f, "text", &o, collect_folded, out, NULL);
	fclose(f);
	return err;
}

/* A BOM before perf script's first header is no part of the process name. */
static void test_perf_script_bom(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	assert_int_equal(collapse_text("\xef\xbb\xbf" "app 100 1.0: 1 cpu-clock:\n"
				       "\t5555 main+0x1 (/bin/app)\n\n"
				       "app 100 2.0: 1 cpu-clock:\n"
				       "\t5555 main+0x1 (/bin/app)\n\n", &out), 0);
	assert_string_equal(strbuf__str(&out), "app;main 2\n");
	strbuf__release(&out);
}

/* CRLF line ends (a capture that went through Windows) read as LF ones, the module's last ')' too. */
static void test_perf_script_crlf(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	assert_int_equal(collapse_text("app 100 1.0: 1 cpu-clock:\r\n"
				       "\t5555 main+0x1 (/bin/app)\r\n"
				       "\t6666 start+0x2 (/bin/app)\r\n\r\n"
				       "app 100 2.0: 1 cpu-clock:\r\n"
				       "\t7777 [unknown] (/opt/lib/x.so)\r\n\r\n", &out), 0);
	assert_string_equal(strbuf__str(&out), "app;[x.so] 1\napp;start;main 1\n");
	strbuf__release(&out);
}

/* A module path with spaces in it is one module, as stackcollapse-perf.pl's (.*) has it. */
static void test_perf_script_module_spaces(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	assert_int_equal(collapse_text("app 100 1.0: 1 cpu-clock:\n"
				       "\t5555 main+0x1 (/opt/My App/bin/app)\n"
				       "\t6666 __libc_start_main+0x2 (/usr/lib/libc.so.6)\n\n"
				       "app 100 2.0: 1 cpu-clock:\n"
				       "\t7777 [unknown] (/opt/My App/lib/x y.so)\n\n",
				       &out), 0);
	assert_string_equal(strbuf__str(&out),
			    "app;[x y.so] 1\napp;__libc_start_main;main 1\n");
	strbuf__release(&out);
}

/*
 * Cases of FlameGraph's own regression corpus (tests/fixtures/flamegraph-corpus,
 * see its README): the captures collapsed in each mode must equal what
 * stackcollapse-perf.pl wrote for them, sample periods as weights included.
 */
static void test_perf_script_corpus(void **state)
{
	static const char *const inputs[] = {
		"perf-dd-stacks-01", "perf-java-faults-01", "perf-js-stacks-01", "perf-java-stacks-02",
	};
	static const char *const modes[] = { "kernel", "jit", "all", "addrs" };
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	char path[4096], *want;
	size_t i, m;

	(void)state;
	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			struct perf_script_opts o = {
				.kernel = m == 0 || m == 2,
				.jit = m == 1 || m == 2,
				.addrs = m == 3,
			};
			struct strbuf out = STRBUF_INIT;
			FILE *f;

			snprintf(path, sizeof(path), "%s/tests/fixtures/flamegraph-corpus/%s.txt", src,
				 inputs[i]);
			f = fopen(path, "r");
			assert_non_null(f);
			assert_int_equal(perf_script__collapse(f, inputs[i], &o, collect_folded, &out, NULL), 0);
			fclose(f);
			snprintf(path, sizeof(path),
				 "%s/tests/fixtures/flamegraph-corpus/%s-collapsed-%s.txt", src,
				 inputs[i], modes[m]);
			want = slurp(path);
			if (!want)
				fail_msg("missing %s", path);
			if (strcmp(want, strbuf__str(&out)))
				fail_msg("%s --%s: got\n%s", inputs[i], modes[m], strbuf__str(&out));
			free(want);
			strbuf__release(&out);
		}
	}
}

/* ---- export ---- */

/* Inflate and decode a gzip-compressed pprof profile. */
static Perftools__Profiles__Profile *pprof_decode(const struct strbuf *sb)
{
	Perftools__Profiles__Profile *prof;
	unsigned char *raw = malloc(1 << 20);
	z_stream zs = {};

	assert_non_null(raw);
	/* gzip magic, then inflate */
	assert_int_equal((unsigned char)sb->buf[0], 0x1f);
	assert_int_equal((unsigned char)sb->buf[1], 0x8b);
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (unsigned char *)sb->buf;
	zs.avail_in = sb->len;
	zs.next_out = raw;
	zs.avail_out = 1 << 20;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	inflateEnd(&zs);
	prof = perftools__profiles__profile__unpack(NULL, zs.total_out, raw);
	free(raw);
	assert_non_null(prof);
	return prof;
}

static const char *pprof_fn_name(const Perftools__Profiles__Profile *prof, uint64_t fn)
{
	assert_int_equal(prof->function[fn - 1]->id, fn);
	return prof->string_table[prof->function[fn - 1]->name];
}

/*
 * pprof as its readers model it: CPU time with the period, one location a
 * frame with the frames inlined into it as its lines (innermost first),
 * kernel frames in a kernel mapping, the process a label; no folded suffix
 * in any name.
 */
static void test_export_pprof(void **state)
{
	const struct export_opts o = { .period_ns = 1e9 / 99, .root_is_process = true };
	Perftools__Profiles__Profile *prof;
	Perftools__Profiles__Location *loc;
	struct strbuf sb = STRBUF_INIT;
	size_t bad, i;
	struct stack_agg *agg = agg_from("app;main;leaf 5\napp;main;inl_[i];deep_[i];leaf2 2\n"
					 "sys;idle_[k] 1.4\n", &bad);

	(void)state;
	assert_int_equal(stack_agg__export_pprof(agg, &o, &sb), 0);
	prof = pprof_decode(&sb);
	assert_int_equal(prof->n_sample, 3);
	assert_int_equal(prof->n_sample_type, 2);
	assert_string_equal(prof->string_table[prof->sample_type[0]->type], "samples");
	assert_string_equal(prof->string_table[prof->sample_type[0]->unit], "count");
	assert_string_equal(prof->string_table[prof->sample_type[1]->type], "cpu");
	assert_string_equal(prof->string_table[prof->sample_type[1]->unit], "nanoseconds");
	assert_non_null(prof->period_type);
	assert_string_equal(prof->string_table[prof->period_type->type], "cpu");
	assert_string_equal(prof->string_table[prof->period_type->unit], "nanoseconds");
	assert_int_equal(prof->period, 10101010);
	for (i = 0; i < prof->n_string_table; i++)
		assert_null(strstr(prof->string_table[i], "_["));
	/* app;main;leaf: two locations leaf first, the process a label */
	assert_int_equal(prof->sample[0]->n_location_id, 2);
	assert_int_equal(prof->sample[0]->value[0], 5);
	assert_int_equal(prof->sample[0]->value[1], 50505051);
	assert_int_equal(prof->sample[0]->n_label, 1);
	assert_string_equal(prof->string_table[prof->sample[0]->label[0]->key], "process");
	assert_string_equal(prof->string_table[prof->sample[0]->label[0]->str], "app");
	loc = prof->location[prof->sample[0]->location_id[0] - 1];
	assert_int_equal(loc->n_line, 1);
	assert_string_equal(pprof_fn_name(prof, loc->line[0]->function_id), "leaf");
	assert_int_equal(loc->mapping_id, 0);
	/* main with inl and deep inlined into it: one location, three lines innermost first */
	assert_int_equal(prof->sample[1]->n_location_id, 2);
	loc = prof->location[prof->sample[1]->location_id[1] - 1];
	assert_int_equal(loc->n_line, 3);
	assert_string_equal(pprof_fn_name(prof, loc->line[0]->function_id), "deep");
	assert_string_equal(pprof_fn_name(prof, loc->line[1]->function_id), "inl");
	assert_string_equal(pprof_fn_name(prof, loc->line[2]->function_id), "main");
	/* the kernel frame: in the kernel mapping, its count rounded */
	assert_int_equal(prof->sample[2]->value[0], 1);
	loc = prof->location[prof->sample[2]->location_id[0] - 1];
	assert_string_equal(pprof_fn_name(prof, loc->line[0]->function_id), "idle");
	assert_int_equal(loc->mapping_id, 1);
	assert_int_equal(prof->n_mapping, 1);
	assert_string_equal(prof->string_table[prof->mapping[0]->filename], "[kernel.kallsyms]");
	/* one function a name */
	assert_int_equal(prof->n_function, 6);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	strbuf__release(&sb);
	/* the period unknown: samples alone */
	assert_int_equal(stack_agg__write_pprof(agg, &sb), 0);
	prof = pprof_decode(&sb);
	assert_int_equal(prof->n_sample_type, 1);
	assert_string_equal(prof->string_table[prof->sample_type[0]->type], "samples");
	assert_null(prof->period_type);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	strbuf__release(&sb);
	stack_agg__free(agg);
}

/* The location of sample @si's @li-th location (leaf first). */
static Perftools__Profiles__Location *pprof_loc(Perftools__Profiles__Profile *prof, size_t si,
						size_t li)
{
	assert_true(si < prof->n_sample && li < prof->sample[si]->n_location_id);
	return prof->location[prof->sample[si]->location_id[li] - 1];
}

/*
 * A profile with its frames' binaries, addresses and lines (a store's): a
 * mapping per binary with its file name, build id and a range of its own in
 * which address - start = the file offset; the kernel's at its addresses;
 * inline chains as lines of one location with their line numbers; functions
 * with file and start line; a Python frame's file and line from its module
 * and address, without a mapping; labels process, pid and host.
 */
static void test_export_pprof_frames(void **state)
{
	const struct export_frame fr[] = {
		{ .name = "main", .module = "app", .build_id = "ab12", .file = "/s/app.c",
		  .addr = 0x1234, .line = 40, .start_line = 30 },
		{ .name = "helper", .module = "app", .build_id = "ab12", .file = "/s/h.h",
		  .addr = 0x1234, .line = 7, .start_line = 5, .inlined = true },
		{ .name = "memcpy", .module = "libc.so.6", .build_id = "cc33", .addr = 0x2001 },
		{ .name = "do_syscall_64", .module = "[kernel]", .addr = 0xffffffff81000010ULL,
		  .kernel = true },
		{ .name = "[unknown] (libx.so)", .module = "libx.so", .addr = 0x50,
		  .unresolved = true },
		{ .name = "run", .module = "/py/app.py", .addr = 12, .python = true },
	};
	const struct export_key k = { .comm = "app", .host = "h1", .pid = 42 };
	const struct export_opts o = { .period_ns = 1e9 / 99 };
	struct export_profile *p = export_profile__new();
	Perftools__Profiles__Profile *prof;
	Perftools__Profiles__Location *loc;
	Perftools__Profiles__Mapping *m;
	Perftools__Profiles__Function *fn;
	struct strbuf sb = STRBUF_INIT;
	json_t *doc, *frames, *f;
	json_error_t jerr;
	size_t i;

	(void)state;
	assert_non_null(p);
	assert_int_equal(export_profile__add(p, &k, fr, 4, 3), 0);
	assert_int_equal(export_profile__add(p, &k, &fr[4], 2, 1), 0);
	assert_int_equal(export_profile__pprof(p, &o, &sb), 0);
	prof = pprof_decode(&sb);
	assert_int_equal(prof->n_sample, 2);
	assert_int_equal(prof->n_mapping, 4);
	/* app: 0x400000 up to the page after its highest offset, file offset 0 */
	m = prof->mapping[0];
	assert_string_equal(prof->string_table[m->filename], "app");
	assert_string_equal(prof->string_table[m->build_id], "ab12");
	assert_int_equal(m->memory_start, 0x400000);
	assert_int_equal(m->memory_limit, 0x402000);
	assert_int_equal(m->file_offset, 0);
	assert_true(m->has_functions && m->has_filenames && m->has_line_numbers);
	/* libc next, a page apart; without lines */
	m = prof->mapping[1];
	assert_string_equal(prof->string_table[m->filename], "libc.so.6");
	assert_int_equal(m->memory_start, 0x402000);
	assert_int_equal(m->memory_limit, 0x405000);
	assert_true(m->has_functions && !m->has_filenames && !m->has_line_numbers);
	m = prof->mapping[2];
	assert_string_equal(prof->string_table[m->filename], "[kernel.kallsyms]");
	assert_int_equal(m->memory_start, 0xffffffff81000000ULL);
	assert_true(m->memory_limit > 0xffffffff81000010ULL);
	/* an unnamed frame: the mapping says pprof may symbolize it */
	assert_false(prof->mapping[3]->has_functions);
	/* leaf first: the kernel frame at its address */
	loc = pprof_loc(prof, 0, 0);
	assert_int_equal(loc->mapping_id, 3);
	assert_int_equal(loc->address, 0xffffffff81000010ULL);
	loc = pprof_loc(prof, 0, 1);
	assert_int_equal(loc->mapping_id, 2);
	assert_int_equal(loc->address, 0x402000 + 0x2001);
	/* main with helper inlined: one location at main's offset, helper's line first */
	loc = pprof_loc(prof, 0, 2);
	assert_int_equal(loc->mapping_id, 1);
	assert_int_equal(loc->address, 0x400000 + 0x1234);
	assert_int_equal(loc->n_line, 2);
	assert_string_equal(pprof_fn_name(prof, loc->line[0]->function_id), "helper");
	assert_int_equal(loc->line[0]->line, 7);
	assert_int_equal(loc->line[1]->line, 40);
	fn = prof->function[loc->line[1]->function_id - 1];
	assert_string_equal(prof->string_table[fn->filename], "/s/app.c");
	assert_int_equal(fn->start_line, 30);
	/* the Python frame: no mapping, its module the file and its address the line */
	loc = pprof_loc(prof, 1, 0);
	assert_int_equal(loc->mapping_id, 0);
	assert_int_equal(loc->address, 0);
	assert_int_equal(loc->line[0]->line, 12);
	fn = prof->function[loc->line[0]->function_id - 1];
	assert_string_equal(prof->string_table[fn->filename], "/py/app.py");
	/* labels */
	assert_int_equal(prof->sample[0]->n_label, 3);
	for (i = 0; i < 3; i++) {
		Perftools__Profiles__Label *l = prof->sample[0]->label[i];
		const char *key = prof->string_table[l->key];

		if (!strcmp(key, "pid"))
			assert_int_equal(l->num, 42);
		else
			assert_string_equal(prof->string_table[l->str],
					    !strcmp(key, "host") ? "h1" : "app");
	}
	assert_int_equal(prof->sample[0]->value[0], 3);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	/* speedscope: the frames with file and (start) line, the process the root */
	strbuf__setlen(&sb, 0);
	assert_int_equal(export_profile__speedscope(p, &o, &sb), 0);
	doc = json_loads(sb.buf, 0, &jerr);
	assert_non_null(doc);
	frames = json_object_get(json_object_get(doc, "shared"), "frames");
	f = json_array_get(frames, 0);
	assert_string_equal(json_string_value(json_object_get(f, "name")), "main");
	assert_string_equal(json_string_value(json_object_get(f, "file")), "/s/app.c");
	assert_int_equal(json_integer_value(json_object_get(f, "line")), 30);
	f = json_array_get(frames, 5);
	assert_string_equal(json_string_value(json_object_get(f, "name")), "run");
	assert_int_equal(json_integer_value(json_object_get(f, "line")), 12);
	assert_null(json_object_get(json_array_get(frames, 2), "file"));
	f = json_array_get(json_object_get(json_array_get(json_object_get(doc, "profiles"), 0),
					   "samples"), 0);
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(frames, json_integer_value(json_array_get(f, 0))),
				    "name")), "app");
	json_decref(doc);
	strbuf__release(&sb);
	export_profile__free(p);
}

/* A stack of the process alone (no frame under it) exports: a sample without locations. */
static void test_export_process_alone(void **state)
{
	const struct export_opts o = { .root_is_process = true };
	Perftools__Profiles__Profile *prof;
	struct strbuf sb = STRBUF_INIT;
	struct stack_agg *agg;
	size_t bad;

	(void)state;
	agg = agg_from("solo 2\n", &bad);
	assert_int_equal(stack_agg__export_pprof(agg, &o, &sb), 0);
	prof = pprof_decode(&sb);
	assert_int_equal(prof->n_sample, 1);
	assert_int_equal(prof->sample[0]->n_location_id, 0);
	assert_int_equal(prof->sample[0]->value[0], 2);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	strbuf__setlen(&sb, 0);
	assert_int_equal(stack_agg__write_speedscope(agg, "t", &sb), 0);
	assert_non_null(strstr(sb.buf, "\"samples\":[[0]]"));
	strbuf__release(&sb);
	stack_agg__free(agg);
}

static void test_export_speedscope(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	json_t *doc, *prof, *frames;
	json_error_t jerr;
	size_t bad;
	struct stack_agg *agg = agg_from("app;a\"<b>\\ 3\napp;x 1.5\nbad\xff;x 1\n"
					 "app;caf\xc3\xa9\xff 1\n", &bad);

	(void)state;
	assert_int_equal(stack_agg__write_speedscope(agg, "test", &sb), 0);
	doc = json_loads(sb.buf, 0, &jerr);
	if (!doc)
		fail_msg("invalid JSON: %s", jerr.text);
	frames = json_object_get(json_object_get(doc, "shared"), "frames");
	assert_string_equal(json_string_value(json_object_get(json_array_get(frames, 1), "name")),
			    "a\"<b>\\");
	/* only the invalid byte is replaced, not the valid UTF-8 around it */
	assert_string_equal(json_string_value(json_object_get(json_array_get(frames, 3), "name")),
			    "bad\xef\xbf\xbd");
	assert_string_equal(json_string_value(json_object_get(json_array_get(frames, 4), "name")),
			    "caf\xc3\xa9\xef\xbf\xbd");
	prof = json_array_get(json_object_get(doc, "profiles"), 0);
	assert_string_equal(json_string_value(json_object_get(prof, "type")), "sampled");
	assert_int_equal(json_array_size(json_object_get(prof, "samples")), 4);
	assert_true(json_number_value(json_array_get(json_object_get(prof, "weights"), 1)) == 1.5);
	assert_true(json_number_value(json_object_get(prof, "endValue")) == 6.5);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(
				 json_object_get(prof, "samples"), 0), 1)), 1);
	assert_string_equal(json_string_value(json_object_get(prof, "unit")), "none");
	json_decref(doc);
	strbuf__release(&sb);
	stack_agg__free(agg);
}

/* pprof's string table is UTF-8 (proto3 strings): invalid bytes become U+FFFD. */
static void test_export_pprof_utf8(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	Perftools__Profiles__Profile *prof;
	size_t bad, i;
	bool found = false;
	struct stack_agg *agg = agg_from("main;f\xff\xfeoo 10\nmain;caf\xc3\xa9 1\n", &bad);

	(void)state;
	assert_int_equal(stack_agg__write_pprof(agg, &sb), 0);
	prof = pprof_decode(&sb);
	for (i = 0; i < prof->n_string_table; i++) {
		const char *str = prof->string_table[i];

		assert_true(utf8_is_valid(str, strlen(str)));
		found |= !strcmp(str, "f\xef\xbf\xbd\xef\xbf\xbdoo");
	}
	assert_true(found);
	perftools__profiles__profile__free_unpacked(prof, NULL);
	strbuf__release(&sb);
	stack_agg__free(agg);
}

/*
 * Values that do not fit pprof's int64 (alone, in nanoseconds, or summed)
 * are refused, not wrapped to negative; speedscope's JSON numbers hold them.
 */
static void test_export_huge_counts(void **state)
{
	const struct export_opts per99 = { .period_ns = 1e9 / 99, .root_is_process = true };
	const struct export_opts ns = { .counts_are_ns = true, .root_is_process = true };
	struct strbuf sb = STRBUF_INIT;
	size_t bad;
	struct stack_agg *big = agg_from("perf;main;hot 1000000000000\n", &bad);
	struct stack_agg *max = agg_from("perf;main;hot 18446744073709551615\n", &bad);
	struct stack_agg *sum = agg_from("p;a 5000000000000000000\np;b 5000000000000000000\n", &bad);
	json_t *doc;
	double w;

	(void)state;
	assert_int_equal(stack_agg__export_pprof(big, &per99, &sb), -ERANGE);
	strbuf__setlen(&sb, 0);
	assert_int_equal(stack_agg__export_pprof(big, &ns, &sb), 0);
	strbuf__setlen(&sb, 0);
	assert_int_equal(stack_agg__export_pprof(max, &ns, &sb), -ERANGE);
	strbuf__setlen(&sb, 0);
	assert_int_equal(stack_agg__export_pprof(sum, &ns, &sb), -ERANGE);
	strbuf__setlen(&sb, 0);
	assert_int_equal(stack_agg__export_speedscope(big, &per99, &sb), 0);
	doc = json_loads(sb.buf, 0, NULL);
	assert_non_null(doc);
	w = json_number_value(json_array_get(json_object_get(
		json_array_get(json_object_get(doc, "profiles"), 0), "weights"), 0));
	assert_true(fabs(w - 1e12 * 1e9 / 99) < 1e6);
	json_decref(doc);
	strbuf__release(&sb);
	stack_agg__free(big);
	stack_agg__free(max);
	stack_agg__free(sum);
}

/* With the period: a time axis in nanoseconds, names without the folded suffixes. */
static void test_export_speedscope_time(void **state)
{
	const struct export_opts o = { .name = "t", .period_ns = 1e9 / 99 };
	struct strbuf sb = STRBUF_INIT;
	json_t *doc, *prof, *frames;
	json_error_t jerr;
	size_t bad, i;
	struct stack_agg *agg = agg_from("app;main;f_[i] 3\napp;f;sys_[k] 1\njava;run_[j] 2\n", &bad);

	(void)state;
	assert_int_equal(stack_agg__export_speedscope(agg, &o, &sb), 0);
	doc = json_loads(sb.buf, 0, &jerr);
	if (!doc)
		fail_msg("invalid JSON: %s", jerr.text);
	frames = json_object_get(json_object_get(doc, "shared"), "frames");
	/* app main f sys java run: f and f_[i] are one frame */
	assert_int_equal(json_array_size(frames), 6);
	for (i = 0; i < json_array_size(frames); i++)
		assert_null(strchr(json_string_value(json_object_get(json_array_get(frames, i),
								      "name")), '['));
	prof = json_array_get(json_object_get(doc, "profiles"), 0);
	assert_string_equal(json_string_value(json_object_get(prof, "unit")), "nanoseconds");
	assert_int_equal(json_integer_value(json_array_get(json_object_get(prof, "weights"), 0)),
			 30303030);
	assert_int_equal(json_integer_value(json_object_get(prof, "endValue")),
			 30303030 + 10101010 + 20202020);
	assert_int_equal(json_integer_value(json_array_get(json_array_get(
				 json_object_get(prof, "samples"), 1), 1)), 2);
	json_decref(doc);
	strbuf__release(&sb);
	stack_agg__free(agg);
}

/*
 * An error that replaces a response a handler had begun (an SVG with its own
 * script policy, a download): JSON with the strict policy, no attachment,
 * the message and parameter escaped.
 */
static void test_error_response(void **state)
{
	struct http_response r = { .type = "image/svg+xml", .filename = "x.svg",
				   .csp = "script-src 'unsafe-inline'", .body = STRBUF_INIT };
	json_error_t jerr;
	json_t *doc;

	(void)state;
	assert_int_equal(strbuf__adds(&r.body, "<svg>half"), 0);
	assert_int_equal(http_response__error(&r, 500, "q\"<", "cannot read '%s'", "a\nb"), 0);
	assert_int_equal(r.status, 500);
	assert_string_equal(r.type, "application/json");
	assert_null(r.filename);
	assert_null(r.csp);
	doc = json_loads(r.body.buf, 0, &jerr);
	if (!doc)
		fail_msg("invalid JSON: %s in %s", jerr.text, r.body.buf);
	assert_string_equal(json_string_value(json_object_get(doc, "error")), "cannot read 'a\nb'");
	assert_string_equal(json_string_value(json_object_get(doc, "param")), "q\"<");
	json_decref(doc);
	strbuf__release(&r.body);
}

/*
 * Bytes that are not UTF-8 in the parameter or the message (a request's
 * %ff, a message cut inside a character) still give JSON: U+FFFD for each.
 */
static void test_error_response_not_utf8(void **state)
{
	static const struct {
		const char *param, *value;
		const char *want_param, *want_error;
	} cases[] = {
		{ "run", "\xff", "run", "bad '\xef\xbf\xbd'" },
		{ "\xff", "\xfe", "\xef\xbf\xbd", "bad '\xef\xbf\xbd'" },
		{ "new.\xc3(", "a\xe2\x82", "new.\xef\xbf\xbd(", "bad 'a\xef\xbf\xbd\xef\xbf\xbd'" },
		{ "host", "\xc3\xa9t\xc3\xa9", "host", "bad '\xc3\xa9t\xc3\xa9'" },
	};
	struct http_response r = { .body = STRBUF_INIT };
	char big[1024];
	json_error_t jerr;
	json_t *doc;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(http_response__error(&r, 400, cases[i].param, "bad '%s'",
						      cases[i].value), 0);
		doc = json_loads(r.body.buf, 0, &jerr);
		if (!doc)
			fail_msg("case %zu: invalid JSON: %s in %s", i, jerr.text, r.body.buf);
		assert_string_equal(json_string_value(json_object_get(doc, "error")),
				    cases[i].want_error);
		assert_string_equal(json_string_value(json_object_get(doc, "param")),
				    cases[i].want_param);
		json_decref(doc);
	}
	/* the message is cut at 511 bytes, inside a 2-byte character */
	memset(big, 'a', sizeof(big));
	for (i = 0; i + 1 < sizeof(big); i += 2)
		memcpy(big + i, "\xc3\xa9", 2);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(http_response__error(&r, 400, NULL, "xy%s", big), 0);
	doc = json_loads(r.body.buf, 0, &jerr);
	if (!doc)
		fail_msg("invalid JSON: %s in %.80s", jerr.text, r.body.buf);
	json_decref(doc);
	strbuf__release(&r.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_term_escape),
		cmocka_unit_test(test_folded_add_frame),
		cmocka_unit_test(test_folded_roundtrip),
		cmocka_unit_test(test_folded_flamegraph_pl_rules),
		cmocka_unit_test(test_top_self_and_total),
		cmocka_unit_test(test_svg_escapes_hostile_names),
		cmocka_unit_test(test_svg_structure),
		cmocka_unit_test(test_svg_empty_input),
		cmocka_unit_test(test_svg_golden),
		cmocka_unit_test(test_svg_reverse_merges_callers),
		cmocka_unit_test(test_svg_chart_keeps_order),
		cmocka_unit_test(test_svg_input_order_irrelevant),
		cmocka_unit_test(test_svg_parallel_read_same),
		cmocka_unit_test(test_render_in_threads),
		cmocka_unit_test(test_stacks_of_names),
		cmocka_unit_test(test_stacks_of_names_threads),
		cmocka_unit_test(test_svg_numbers),
		cmocka_unit_test(test_folded_reader_edges),
		cmocka_unit_test(test_diff_zscore),
		cmocka_unit_test(test_diff_table),
		cmocka_unit_test(test_diff_svg),
		cmocka_unit_test(test_diff_noise_stays_grey),
		cmocka_unit_test(test_perf_script_rules),
		cmocka_unit_test(test_perf_script_corpus),
		cmocka_unit_test(test_perf_script_module_spaces),
		cmocka_unit_test(test_perf_script_bom),
		cmocka_unit_test(test_perf_script_crlf),
		cmocka_unit_test(test_export_pprof),
		cmocka_unit_test(test_export_pprof_frames),
		cmocka_unit_test(test_export_process_alone),
		cmocka_unit_test(test_export_speedscope),
		cmocka_unit_test(test_export_pprof_utf8),
		cmocka_unit_test(test_export_huge_counts),
		cmocka_unit_test(test_export_speedscope_time),
		cmocka_unit_test(test_error_response),
		cmocka_unit_test(test_error_response_not_utf8),
	};

	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
