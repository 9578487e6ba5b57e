// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for web/: XML escaping, folded input and output, the top
 * table, and the SVG renderer (a golden file plus structural checks).
 *
 * REGEN=1 rewrites the golden files instead of comparing (tests/regen.sh).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "web/web.h"
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

static char *render(const char *folded, const struct flamegraph_opts *opts)
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
	assert_int_equal(count_of(svg, "<g class=\"f\""), 5);
	assert_null(strstr(svg, "data-n=\"tiny\""));
	/* the pruned samples still count in b's width: 25.01 of 100.01 */
	assert_non_null(strstr(svg, "data-n=\"b\"><title>b (25.010 samples, 25.01%)</title>"));
	/* "a" sorts first and starts at the left edge; b follows it */
	assert_non_null(strstr(svg, "data-n=\"a\"><title>a (75 samples, 74.99%)</title><rect x=\"10.00\""));
	assert_non_null(strstr(svg, ">T &amp; T</text>"));
	free(svg);
}

static void test_svg_empty_input(void **state)
{
	char *svg = render("", NULL);

	(void)state;
	assert_int_equal(count_of(svg, "<g class=\"f\""), 0);
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

/* Golden files: tests/fixtures/<name>.folded rendered must equal <name>.svg. */
static void test_svg_golden(void **state)
{
	static const char *const names[] = { "basic", "kinds" };
	const char *src = getenv("SRCDIR") ? getenv("SRCDIR") : ".";
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char in_path[4096], out_path[4096], *in, *want, *got;
		struct flamegraph_opts opts = { .title = names[i], .min_width = 0.1 };

		snprintf(in_path, sizeof(in_path), "%s/tests/fixtures/%s.folded", src, names[i]);
		snprintf(out_path, sizeof(out_path), "%s/tests/fixtures/%s.svg", src, names[i]);
		in = slurp(in_path);
		assert_non_null(in);
		got = render(in, &opts);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_folded_add_frame),
		cmocka_unit_test(test_folded_roundtrip),
		cmocka_unit_test(test_top_self_and_total),
		cmocka_unit_test(test_svg_escapes_hostile_names),
		cmocka_unit_test(test_svg_structure),
		cmocka_unit_test(test_svg_empty_input),
		cmocka_unit_test(test_svg_golden),
	};

	return cmocka_run_group_tests_name("web", tests, NULL, NULL);
}
