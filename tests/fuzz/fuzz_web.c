// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the untrusted inputs of web/: the first byte picks
 * the consumer, the rest is the input.
 *   0: folded text streamed into a flame graph (plain, reversed, chart)
 *   1: `perf script` text collapsed, with every option
 *   2: folded text as both sides of a diff, and exported to pprof and speedscope
 * Build and run: make fuzz (FUZZ_SECONDS=60).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"
#include "common/log.h"
#include "common/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int ignore(void *ctx, const char *stack, size_t len, double count)
{
	(void)ctx;
	(void)stack;
	(void)len;
	(void)count;
	return 0;
}

static void fuzz_flamegraph(const uint8_t *data, size_t size, int mode)
{
	struct flamegraph_opts o = { .reverse = mode & 1, .chart = mode & 2, .icicle = mode & 4 };
	struct flamegraph *fg = flamegraph__new(&o);
	struct strbuf sb = STRBUF_INIT;
	FILE *f = fmemopen((void *)data, size, "r");
	size_t bad;

	if (fg && f && !flamegraph__read_folded(fg, f, "fuzz", &bad))
		flamegraph__write_svg(fg, &sb);
	if (f)
		fclose(f);
	strbuf__release(&sb);
	flamegraph__free(fg);
}

static void fuzz_perf_script(const uint8_t *data, size_t size, int mode)
{
	struct perf_script_opts o = { .kernel = mode & 1, .jit = mode & 2, .pid = mode & 4,
				      .tid = mode & 8, .addrs = mode & 16 };
	FILE *f = fmemopen((void *)data, size, "r");

	if (f) {
		perf_script__collapse(f, "fuzz", &o, ignore, NULL);
		fclose(f);
	}
}

static void fuzz_diff_export(const uint8_t *data, size_t size)
{
	struct stack_agg *a = stack_agg__new(), *b = stack_agg__new();
	struct diff_opts o = { .fg = { .min_width = 0 } };
	struct strbuf sb = STRBUF_INIT;
	struct diff_entry *e = NULL;
	size_t half = size / 2, bad, nr;
	FILE *f;

	if (!a || !b)
		goto out;
	f = fmemopen((void *)data, half ? half : 1, "r");
	if (f) {
		stack_agg__read_folded(a, f, "base", &bad);
		fclose(f);
	}
	f = fmemopen((void *)(data + half), size - half ? size - half : 1, "r");
	if (f) {
		stack_agg__read_folded(b, f, "new", &bad);
		fclose(f);
	}
	flamegraph__render_diff(a, b, &o, &sb);
	if (!stack_agg__diff_top(a, b, false, &e, &nr))
		free(e);
	strbuf__setlen(&sb, 0);
	stack_agg__write_pprof(b, &sb);
	strbuf__setlen(&sb, 0);
	stack_agg__write_speedscope(b, "fuzz", &sb);
out:
	strbuf__release(&sb);
	stack_agg__free(a);
	stack_agg__free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1 << 20))
		return 0;
	log_set_quiet(true);
	switch (data[0] % 3) {
	case 0:
		fuzz_flamegraph(data + 1, size - 1, data[0] >> 2);
		break;
	case 1:
		fuzz_perf_script(data + 1, size - 1, data[0] >> 2);
		break;
	default:
		fuzz_diff_export(data + 1, size - 1);
	}
	return 0;
}
