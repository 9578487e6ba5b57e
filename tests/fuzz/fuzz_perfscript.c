// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for `perf script` text (`profile import perf-script`).
 * The first byte picks the options, the rest is the text:
 *   bit 0-4  --kernel, --jit, --pid, --tid, --addrs
 *   bit 5    an event filter ("cycles")
 *   bit 6    read it as a regular file (mapped) instead of a stream
 *   bit 7    --count-samples (every sample 1, not its period)
 * Every stack handed out must be non-empty, with a positive count, in strictly
 * increasing byte order, and must be accepted by the folded aggregator.
 */
#include <stdbool.h>

#include "fuzz.h"
#include "web/web.h"
#include "common/log.h"
#include "common/strbuf.h"

struct seen {
	struct stack_agg *agg;
	struct strbuf prev;
	bool have_prev;
};

static int on_stack(void *ctx, const char *stack, size_t len, double count)
{
	struct seen *s = ctx;
	size_t n = len < s->prev.len ? len : s->prev.len;
	int cmp;

	FUZZ_CHECK(len > 0 && count > 0);
	if (s->have_prev) {
		cmp = memcmp(s->prev.buf, stack, n);
		FUZZ_CHECK(cmp < 0 || (cmp == 0 && s->prev.len < len));
	}
	strbuf__setlen(&s->prev, 0);
	FUZZ_CHECK(!strbuf__add(&s->prev, stack, len));
	s->have_prev = true;
	FUZZ_CHECK(!stack_agg__add(s->agg, stack, len, count));
	return 0;
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
	struct perf_script_opts o;
	struct seen s = { .prev = STRBUF_INIT };
	unsigned mode;
	FILE *f;

	if (size < 1)
		return 0;
	mode = data[0];
	o = (struct perf_script_opts){ .kernel = mode & 1, .jit = mode & 2, .pid = mode & 4,
				       .tid = mode & 8, .addrs = mode & 16,
				       .event_filter = mode & 32 ? "cycles" : NULL,
				       .count_samples = mode & 128 };
	f = mode & 64 ? fuzz_file(data + 1, size - 1) : fuzz_stream(data + 1, size - 1);
	s.agg = stack_agg__new();
	FUZZ_CHECK(f && s.agg);
	perf_script__collapse(f, "fuzz", &o, on_stack, &s, NULL);
	fclose(f);
	strbuf__release(&s.prev);
	stack_agg__free(s.agg);
	return 0;
}
