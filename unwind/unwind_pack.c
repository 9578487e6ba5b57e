// SPDX-License-Identifier: GPL-2.0
/*
 * Evicted tables' rows in a compact form. Rows go into one zstd stream a
 * chunk at a time, each chunk laid out by field (pc deltas, types, CFA
 * offsets, rbp offsets): the deltas are small and the other fields repeat,
 * so they compress well at zstd's fastest level. Neither side holds more
 * than a chunk of plain rows, so packing a big table costs no big buffer;
 * a table being derived is packed as its rows come (struct unwind_packer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "unwind_internal.h"

/* Chunk @rows (@n of them, after pc @prev) into @out by field. */
static void to_fields(const struct unwind_row *rows, size_t n, __u32 prev, __u32 *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[i] = rows[i].pc - prev;
		prev = rows[i].pc;
		out[n + i] = rows[i].type;
		out[2 * n + i] = (__u32)rows[i].cfa_off;
		out[3 * n + i] = (__u32)rows[i].rbp_off;
	}
}

static void from_fields(const __u32 *in, size_t n, __u32 prev, struct unwind_row *rows)
{
	size_t i;

	for (i = 0; i < n; i++) {
		prev += in[i];
		rows[i].pc = prev;
		rows[i].type = in[n + i];
		rows[i].cfa_off = (__s32)in[2 * n + i];
		rows[i].rbp_off = (__s32)in[3 * n + i];
	}
}

/* Compress @in into the growing buffer *@buf (*@cap bytes, *@len used). */
static int compress_into(ZSTD_CCtx *cctx, const void *in, size_t in_len, bool last, char **buf,
			 size_t *cap, size_t *len)
{
	ZSTD_inBuffer ib = { in, in_len, 0 };
	size_t left;

	do {
		ZSTD_outBuffer ob;

		if (*cap - *len < ZSTD_CStreamOutSize()) {
			size_t ncap = *cap * 2 > *len + ZSTD_CStreamOutSize() ?
					      *cap * 2 : *len + ZSTD_CStreamOutSize();
			char *n = realloc(*buf, ncap);

			if (!n)
				return -ENOMEM;
			*buf = n;
			*cap = ncap;
		}
		ob = (ZSTD_outBuffer){ *buf, *cap, *len };
		left = ZSTD_compressStream2(cctx, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
		if (ZSTD_isError(left))
			return -ENOMEM;	/* zstd fails only for lack of memory here */
		*len = ob.pos;
	} while (last ? left != 0 : ib.pos < ib.size);
	return 0;
}

struct unwind_packer {
	ZSTD_CCtx *cctx;
	struct unwind_row *rows;	/* the chunk being filled */
	__u32 *fields;
	size_t nr_chunk;		/* rows in it */
	size_t nr;			/* rows added */
	__u32 prev;			/* pc of the last row packed */
	char *buf;
	size_t cap, len;
};

struct unwind_packer *unwind_packer__new(void)
{
	struct unwind_packer *pk = calloc(1, sizeof(*pk));

	if (!pk)
		return NULL;
	pk->rows = malloc(UNWIND_PACK_CHUNK * sizeof(*pk->rows));
	pk->fields = malloc(UNWIND_PACK_CHUNK * sizeof(*pk->rows));
	pk->cctx = ZSTD_createCCtx();
	if (!pk->rows || !pk->fields || !pk->cctx ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(pk->cctx, ZSTD_c_compressionLevel, 1))) {
		unwind_packer__free(pk);
		return NULL;
	}
	return pk;
}

void unwind_packer__free(struct unwind_packer *pk)
{
	if (!pk)
		return;
	ZSTD_freeCCtx(pk->cctx);
	free(pk->fields);
	free(pk->rows);
	free(pk->buf);
	free(pk);
}

/* Pack the chunk: every chunk but the last is UNWIND_PACK_CHUNK rows, as unpacking reads them. */
static int pack_chunk(struct unwind_packer *pk)
{
	size_t n = pk->nr_chunk;

	to_fields(pk->rows, n, pk->prev, pk->fields);
	pk->prev = pk->rows[n - 1].pc;
	pk->nr_chunk = 0;
	return compress_into(pk->cctx, pk->fields, n * sizeof(*pk->rows), false, &pk->buf,
			     &pk->cap, &pk->len);
}

int unwind_packer__add(struct unwind_packer *pk, const struct unwind_row *rows, size_t n)
{
	int err;

	while (n) {
		size_t take = UNWIND_PACK_CHUNK - pk->nr_chunk;

		if (take > n)
			take = n;
		memcpy(pk->rows + pk->nr_chunk, rows, take * sizeof(*rows));
		pk->nr_chunk += take;
		pk->nr += take;
		rows += take;
		n -= take;
		if (pk->nr_chunk == UNWIND_PACK_CHUNK) {
			err = pack_chunk(pk);
			if (err)
				return err;
		}
	}
	return 0;
}

int unwind_packer__finish(struct unwind_packer *pk, void **blob, size_t *size, size_t *nr)
{
	char *shrunk;
	int err = 0;

	if (pk->nr_chunk)
		err = pack_chunk(pk);
	if (!err)
		err = compress_into(pk->cctx, NULL, 0, true, &pk->buf, &pk->cap, &pk->len);
	if (err)
		return err;
	/* a table kept for long: no slack */
	shrunk = realloc(pk->buf, pk->len ? pk->len : 1);
	*blob = shrunk ? shrunk : pk->buf;
	*size = pk->len;
	*nr = pk->nr;
	pk->buf = NULL;
	pk->cap = pk->len = 0;
	return 0;
}

int unwind_pack__rows(int (*read)(void *ctx, size_t at, size_t n, struct unwind_row *out),
		      void *ctx, size_t nr, void **blob, size_t *size)
{
	struct unwind_packer *pk = unwind_packer__new();
	struct unwind_row *rows = malloc(UNWIND_PACK_CHUNK * sizeof(*rows));
	size_t at, got;
	int err = -ENOMEM;

	if (!pk || !rows)
		goto out;
	err = 0;
	for (at = 0; at < nr && !err; at += UNWIND_PACK_CHUNK) {
		size_t n = nr - at < UNWIND_PACK_CHUNK ? nr - at : UNWIND_PACK_CHUNK;

		err = read(ctx, at, n, rows);
		if (!err)
			err = unwind_packer__add(pk, rows, n);
	}
	if (!err)
		err = unwind_packer__finish(pk, blob, size, &got);
out:
	free(rows);
	unwind_packer__free(pk);
	return err;
}

/* Fill @out (@len bytes) from the stream; -EINVAL when it ends first. */
static int decompress_exact(ZSTD_DCtx *dctx, ZSTD_inBuffer *ib, void *out, size_t len)
{
	ZSTD_outBuffer ob = { out, len, 0 };

	while (ob.pos < ob.size) {
		size_t in_before = ib->pos, r = ZSTD_decompressStream(dctx, &ob, ib);

		if (ZSTD_isError(r))
			return -EINVAL;
		if (ob.pos < ob.size && ib->pos == in_before && ib->pos == ib->size)
			return -EINVAL;	/* no input left, no progress */
	}
	return 0;
}

int unwind_pack__unpack(const void *blob, size_t size, size_t nr,
			int (*write)(void *ctx, size_t at, const struct unwind_row *rows, size_t n),
			void *ctx)
{
	struct unwind_row *rows = malloc(UNWIND_PACK_CHUNK * sizeof(*rows));
	__u32 *fields = malloc(UNWIND_PACK_CHUNK * sizeof(*rows));
	ZSTD_DCtx *dctx = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { blob, size, 0 };
	__u32 prev = 0;
	size_t at;
	int err = -ENOMEM;

	if (!rows || !fields || !dctx)
		goto out;
	err = 0;
	for (at = 0; at < nr && !err; at += UNWIND_PACK_CHUNK) {
		size_t n = nr - at < UNWIND_PACK_CHUNK ? nr - at : UNWIND_PACK_CHUNK;

		err = decompress_exact(dctx, &ib, fields, n * sizeof(*rows));
		if (err)
			break;
		from_fields(fields, n, prev, rows);
		prev = rows[n - 1].pc;
		err = write(ctx, at, rows, n);
	}
	/* all of it, and nothing more */
	if (!err && ib.pos != ib.size)
		err = -EINVAL;
out:
	ZSTD_freeDCtx(dctx);
	free(fields);
	free(rows);
	return err;
}
