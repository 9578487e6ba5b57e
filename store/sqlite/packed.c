// SPDX-License-Identifier: GPL-2.0
/*
 * The packed-bucket blob, the one owner of its format: a compacted bucket's
 * rows encoded into one blob, and decoded back. Also the unsigned LEB128
 * varints that stacks and packed buckets are made of.
 *
 * Blob format: a format byte (0: varints, 1: zstd of the varints, preceded
 * by their length as a varint), then per row sorted by (process, stack):
 * process delta, stack (delta from the previous row's when the process
 * delta is 0), count.
 *
 * The database is not trusted: a blob may hold any bytes. Decoding never
 * makes more rows than the bucket declares (packed.rows, at most
 * STORE_PACKED_MAX_ROWS), never decompresses more than those rows can take
 * (PACKED_ROW_MAX_BYTES each), and rejects ids that are not positive 64-bit
 * row ids instead of letting the deltas overflow, rows out of order or
 * repeated (the encoder writes merged rows), and counts beyond INT64_MAX. Nothing here uses SQLite,
 * so a fuzzer can link this file alone (with common/strbuf.c and zstd).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "sqlite_internal.h"
#include "common/strbuf.h"

enum { PACK_VARINT = 0, PACK_ZSTD = 1 };

/* the window our encoder uses is 2 MB at most (level 3); a frame asking for more is not ours */
#define PACK_WINDOW_LOG_MAX 24

size_t varint_put(unsigned char *buf, __u64 v)
{
	size_t n = 0;

	do {
		buf[n++] = (v & 0x7f) | (v > 0x7f ? 0x80 : 0);
		v >>= 7;
	} while (v);
	return n;
}

size_t varint_get(const unsigned char *buf, size_t len, __u64 *v)
{
	__u64 r = 0;
	size_t i;

	for (i = 0; i < len && i < 10; i++) {
		r |= (__u64)(buf[i] & 0x7f) << (7 * i);
		if (!(buf[i] & 0x80)) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

int packed_rows__add(struct packed_rows *r, __s64 proc, __s64 stack, __u64 count)
{
	if (r->nr == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		struct packed_row *n = reallocarray(r->v, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		r->v = n;
		r->cap = cap;
	}
	r->v[r->nr++] = (struct packed_row){ proc, stack, count };
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct packed_row *x = a, *y = b;

	if (x->proc != y->proc)
		return x->proc < y->proc ? -1 : 1;
	return x->stack < y->stack ? -1 : x->stack > y->stack;
}

void packed_rows__merge(struct packed_rows *r)
{
	size_t i, o = 0;

	if (r->nr < 2)
		return;
	qsort(r->v, r->nr, sizeof(*r->v), row_cmp);
	for (i = 0; i < r->nr; i++) {
		if (o && r->v[o - 1].proc == r->v[i].proc && r->v[o - 1].stack == r->v[i].stack)
			/* saturated: a count is stored as an SQLite integer */
			r->v[o - 1].count = r->v[i].count > INT64_MAX - r->v[o - 1].count ?
					    INT64_MAX : r->v[o - 1].count + r->v[i].count;
		else
			r->v[o++] = r->v[i];
	}
	r->nr = o;
}

void packed_rows__release(struct packed_rows *r)
{
	free(r->v);
	r->v = NULL;
	r->nr = r->cap = 0;
}

int packed_rows__encode(const struct packed_rows *r, struct strbuf *out)
{
	struct strbuf raw = STRBUF_INIT;
	unsigned char v[3 * 10];
	__s64 proc = 0, stack = 0;
	size_t i, n, bound, z;
	int err = strbuf__addch(&raw, PACK_VARINT);

	for (i = 0; !err && i < r->nr; i++) {
		const struct packed_row *w = &r->v[i];

		n = varint_put(v, (__u64)(w->proc - proc));
		n += varint_put(v + n, (__u64)(w->proc == proc ? w->stack - stack : w->stack));
		n += varint_put(v + n, w->count);
		proc = w->proc;
		stack = w->stack;
		err = strbuf__add(&raw, v, n);
	}
	if (err)
		goto out;
	strbuf__setlen(out, 0);
	bound = ZSTD_compressBound(raw.len - 1);
	err = strbuf__grow(out, bound + 12);
	if (err)
		goto out;
	out->buf[0] = PACK_ZSTD;
	n = 1 + varint_put((unsigned char *)out->buf + 1, raw.len - 1);
	z = ZSTD_compress(out->buf + n, bound, raw.buf + 1, raw.len - 1, 3);
	if (!ZSTD_isError(z) && n + z < raw.len) {
		out->len = n + z;	/* written in place, within the grown buffer */
		out->buf[out->len] = '\0';
	} else {
		err = strbuf__add(out, raw.buf, raw.len);
	}
out:
	strbuf__release(&raw);
	return err;
}

/* Rows from the varints @p[0..@len), at most @max_rows of them, appended to @r. */
static int decode_rows(const unsigned char *p, size_t len, size_t max_rows, struct packed_rows *r)
{
	__u64 dp, ds, count, proc = 0, stack = 0;
	size_t pos = 0, n1, n2, n3, nr = 0;
	int err;

	while (pos < len) {
		n1 = varint_get(p + pos, len - pos, &dp);
		n2 = n1 ? varint_get(p + pos + n1, len - pos - n1, &ds) : 0;
		n3 = n2 ? varint_get(p + pos + n1 + n2, len - pos - n1 - n2, &count) : 0;
		if (!n3 || ++nr > max_rows)
			return -EBADMSG;
		pos += n1 + n2 + n3;
		/* unsigned, and checked: ids are positive SQLite row ids */
		if (dp) {
			if (dp > INT64_MAX - proc)
				return -EBADMSG;
			proc += dp;
			stack = 0;
		}
		/* rows were merged before encoding: (process, stack) strictly increases */
		if ((!dp && !ds) || ds > INT64_MAX - stack || count > INT64_MAX)
			return -EBADMSG;
		stack += ds;
		if (!proc || !stack)
			return -EBADMSG;
		err = packed_rows__add(r, (__s64)proc, (__s64)stack, count);
		if (err)
			return err;
	}
	return 0;
}

static int decode_zstd(const unsigned char *p, size_t len, size_t max_rows, struct packed_rows *r)
{
	unsigned long long declared;
	__u64 rawlen;
	ZSTD_DCtx *dctx;
	size_t n, got;
	void *buf;
	int err;

	n = varint_get(p, len, &rawlen);
	if (!n)
		return -EBADMSG;
	declared = ZSTD_getFrameContentSize(p + n, len - n);
	/* what the declared rows can take, checked before anything is allocated */
	if (declared != rawlen || rawlen > (__u64)max_rows * PACKED_ROW_MAX_BYTES)
		return -EBADMSG;
	if (!rawlen)
		return 0;
	buf = malloc(rawlen);
	dctx = ZSTD_createDCtx();
	if (!buf || !dctx) {
		err = -ENOMEM;
		goto out;
	}
	got = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, PACK_WINDOW_LOG_MAX);
	if (!ZSTD_isError(got))
		got = ZSTD_decompressDCtx(dctx, buf, rawlen, p + n, len - n);
	err = ZSTD_isError(got) || got != rawlen ? -EBADMSG : decode_rows(buf, rawlen, max_rows, r);
out:
	ZSTD_freeDCtx(dctx);
	free(buf);
	return err;
}

int packed_rows__decode(struct packed_rows *r, const void *blob, size_t len, size_t max_rows)
{
	const unsigned char *p = blob;

	if (!len || max_rows > STORE_PACKED_MAX_ROWS)
		return -EBADMSG;
	if (p[0] == PACK_VARINT)
		return decode_rows(p + 1, len - 1, max_rows, r);
	if (p[0] == PACK_ZSTD)
		return decode_zstd(p + 1, len - 1, max_rows, r);
	return -EBADMSG;
}
