// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for the store's packed buckets: the blob of a packed
 * sample bucket (varints, or zstd of them) as a damaged or forged database
 * may hold it, through packed_rows__decode(), the decoder every query of
 * packed samples runs. A blob that decodes must give positive ids in
 * strictly increasing (process, stack) order and counts an SQLite integer
 * holds, and merging (a no-op then), encoding and decoding its rows again
 * must give back the same rows. Memory stays bounded by the rows allowed
 * (libFuzzer's -rss_limit_mb and -malloc_limit_mb catch a blob that declares
 * more).
 */
#include <errno.h>
#include <stdint.h>

#include "fuzz.h"
#include "store/sqlite/sqlite_internal.h"
#include "common/log.h"
#include "common/strbuf.h"

#define FUZZ_MAX_ROWS (1 << 14)

static void check_round_trip(struct packed_rows *r)
{
	struct packed_rows back = {};
	struct strbuf blob = STRBUF_INIT;
	size_t i, nr = r->nr;

	/* rows decoded are already merged: merging changes nothing */
	packed_rows__merge(r);
	FUZZ_CHECK(r->nr == nr);
	FUZZ_CHECK(!packed_rows__encode(r, &blob));
	FUZZ_CHECK(!packed_rows__decode(&back, blob.buf, blob.len, FUZZ_MAX_ROWS));
	FUZZ_CHECK(back.nr == r->nr);
	for (i = 0; i < r->nr; i++) {
		FUZZ_CHECK(back.v[i].proc == r->v[i].proc && back.v[i].stack == r->v[i].stack);
		FUZZ_CHECK(back.v[i].count == r->v[i].count);
	}
	packed_rows__release(&back);
	strbuf__release(&blob);
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
	struct packed_rows r = {};
	size_t i;
	int err;

	err = packed_rows__decode(&r, data, size, FUZZ_MAX_ROWS);
	FUZZ_CHECK(!err || err == -EBADMSG);
	FUZZ_CHECK(r.nr <= FUZZ_MAX_ROWS);
	if (!err) {
		for (i = 0; i < r.nr; i++) {
			FUZZ_CHECK(r.v[i].proc > 0 && r.v[i].stack > 0 && r.v[i].count <= INT64_MAX);
			if (i)
				FUZZ_CHECK(r.v[i - 1].proc < r.v[i].proc ||
					   (r.v[i - 1].proc == r.v[i].proc &&
					    r.v[i - 1].stack < r.v[i].stack));
		}
		check_round_trip(&r);
	}
	packed_rows__release(&r);
	return 0;
}
