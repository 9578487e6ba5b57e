// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for folded-stack input (`profile flamegraph`, `diff`,
 * `export` read it from files anyone may hand them). The first byte picks
 * options, the rest is the folded text:
 *   bit 0-2  reverse, flame chart, icicle for the streamed flame graph
 *   bit 3    read it as a regular file (the reader maps those) instead of a stream
 * Each input is streamed into a flame graph and its SVG, aggregated, written
 * back as folded text and read again (same stacks, same total), ranked by
 * stack_agg__top(), diffed against its own first half, and exported to pprof
 * and speedscope.
 */
#include <math.h>
#include <stdbool.h>

#include "fuzz.h"
#include "web/web.h"
#include "common/log.h"
#include "common/strbuf.h"

static FILE *open_input(const uint8_t *data, size_t size, bool file)
{
	FILE *f = file ? fuzz_file(data, size) : fuzz_stream(data, size);

	FUZZ_CHECK(f);
	return f;
}

static void fuzz_flamegraph(const uint8_t *data, size_t size, unsigned mode)
{
	struct flamegraph_opts o = { .reverse = mode & 1, .chart = mode & 2, .icicle = mode & 4,
				     .palette = (mode >> 4) % 3 };
	struct flamegraph *fg = flamegraph__new(&o);
	struct strbuf sb = STRBUF_INIT;
	FILE *f = open_input(data, size, mode & 8);
	size_t bad;

	FUZZ_CHECK(fg);
	if (!flamegraph__read_folded(fg, f, "fuzz", &bad) && !flamegraph__write_svg(fg, &sb))
		FUZZ_CHECK(sb.len && strstr(strbuf__str(&sb), "</svg>"));
	fclose(f);
	strbuf__release(&sb);
	flamegraph__free(fg);
}

/* Write @agg as folded text and read it back: the same stacks, the same total. */
static void check_round_trip(const struct stack_agg *agg)
{
	struct stack_agg *back = stack_agg__new();
	char *text = NULL;
	size_t len = 0, bad;
	FILE *f = open_memstream(&text, &len);

	FUZZ_CHECK(back && f);
	FUZZ_CHECK(!stack_agg__write_folded(agg, f));
	fclose(f);
	f = fuzz_stream((const uint8_t *)text, len);
	FUZZ_CHECK(f);
	FUZZ_CHECK(!stack_agg__read_folded(back, f, "round-trip", &bad));
	fclose(f);
	FUZZ_CHECK(!bad);
	FUZZ_CHECK(stack_agg__nr_stacks(back) == stack_agg__nr_stacks(agg));
	FUZZ_CHECK(fabs(stack_agg__total(back) - stack_agg__total(agg)) <=
		   1e-9 * stack_agg__total(agg));
	free(text);
	stack_agg__free(back);
}

static void fuzz_agg(const uint8_t *data, size_t size, unsigned mode)
{
	struct stack_agg *a = stack_agg__new(), *half = stack_agg__new();
	struct diff_opts o = { .fg = { .min_width = 0 } };
	struct strbuf sb = STRBUF_INIT;
	struct top_entry *top;
	struct diff_entry *e;
	size_t bad, nr;
	FILE *f;

	FUZZ_CHECK(a && half);
	f = open_input(data, size, mode & 8);
	if (stack_agg__read_folded(a, f, "fuzz", &bad))
		goto out;
	fclose(f);
	f = open_input(data, size / 2, !(mode & 8));
	stack_agg__read_folded(half, f, "half", &bad);
	check_round_trip(a);
	if (!stack_agg__top(a, mode & 16, &top, &nr))
		free(top);
	FUZZ_CHECK(!flamegraph__render(a, NULL, &sb));
	strbuf__setlen(&sb, 0);
	flamegraph__render_diff(half, a, &o, &sb);
	if (!stack_agg__diff_top(half, a, mode & 16, &e, &nr))
		free(e);
	strbuf__setlen(&sb, 0);
	stack_agg__write_pprof(a, &sb);
	strbuf__setlen(&sb, 0);
	stack_agg__write_speedscope(a, "fuzz", &sb);
out:
	fclose(f);
	strbuf__release(&sb);
	stack_agg__free(a);
	stack_agg__free(half);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_quiet(true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	fuzz_flamegraph(data + 1, size - 1, data[0]);
	fuzz_agg(data + 1, size - 1, data[0]);
	return 0;
}
