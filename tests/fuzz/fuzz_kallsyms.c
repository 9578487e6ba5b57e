// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for /proc/kallsyms text (ksyms__load(), also what
 * `symbolizer_opts.kallsyms_path` names). A loaded table must be sorted, its
 * names and modules in bounds, and every symbol's own address must find a
 * symbol at that address.
 */
#include <errno.h>

#include "fuzz.h"
#include "symbolizer/symbolizer_internal.h"
#include "common/log.h"
#include "common/strset.h"

static void check_table(const struct ksyms *ks)
{
	const struct ksym *hit;
	size_t i;

	for (i = 0; i < ks->nr; i++) {
		FUZZ_CHECK(ks->syms[i].name < ks->names_len);
		FUZZ_CHECK(ks->syms[i].module < ks->nr_modules);
		FUZZ_CHECK(*ksyms__name(ks, &ks->syms[i]));
		FUZZ_CHECK(ksyms__module(ks, &ks->syms[i]));
		FUZZ_CHECK(ks->syms[i].addr);
		if (i)
			FUZZ_CHECK(ks->syms[i - 1].addr <= ks->syms[i].addr);
		hit = ksyms__find(ks, ks->syms[i].addr);
		FUZZ_CHECK(hit && hit->addr == ks->syms[i].addr);
		ksyms__find(ks, ks->syms[i].addr - 1);
		ksyms__find(ks, ks->syms[i].addr + (1 << 20) + 1);
	}
	ksyms__find(ks, 0);
	ksyms__find(ks, ~0ULL);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_quiet(true);
	return 0;
}

static int load(struct ksyms *ks, struct strset *strs, const uint8_t *data, size_t size)
{
	FILE *f = fuzz_stream(data, size);
	int err;

	FUZZ_CHECK(f);
	err = ksyms__load(ks, f, strs);
	fclose(f);
	FUZZ_CHECK(!err || err == -EINVAL);
	return err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char junk[] = "\nnot a kallsyms line\n";
	struct strset *strs = strset__new();
	struct ksyms ks = {}, more = {};
	uint8_t *padded = malloc(size + sizeof(junk));
	size_t i;
	int err;

	FUZZ_CHECK(strs && padded);
	err = load(&ks, strs, data, size);
	if (!err)
		check_table(&ks);
	/* a malformed line is skipped, wherever it is: the same table with one appended */
	memcpy(padded, data, size);
	memcpy(padded + size, junk, sizeof(junk) - 1);
	if (!err) {
		FUZZ_CHECK(!load(&more, strs, padded, size + sizeof(junk) - 1));
		FUZZ_CHECK(more.nr == ks.nr);
		for (i = 0; i < ks.nr; i++) {
			FUZZ_CHECK(more.syms[i].addr == ks.syms[i].addr);
			FUZZ_CHECK(!strcmp(ksyms__name(&more, &more.syms[i]),
					   ksyms__name(&ks, &ks.syms[i])));
		}
	}
	ksyms__release(&more);
	ksyms__release(&ks);
	free(padded);
	strset__free(strs);
	return 0;
}
