/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations private to unwind/ (and its tests): the compact form the
 * unwinder keeps an evicted table's rows in, so that a binary mapped again
 * gets its table back without a new derivation from its CFI.
 */
#ifndef __PROFILER_UNWIND_INTERNAL_H
#define __PROFILER_UNWIND_INTERNAL_H

#include <stddef.h>

#include "unwind.h"

/* Rows are packed and unpacked this many at a time (64 KiB of rows). */
#define UNWIND_PACK_CHUNK 4096

/*
 * Pack @nr rows, which @read gives UNWIND_PACK_CHUNK at a time (@at: index
 * of the first, @n of them, into @out; returns 0 or -errno), into *@blob (a
 * zstd frame of the rows with pcs as deltas, by field; the caller frees it)
 * of *@size bytes. Returns 0, -ENOMEM, or @read's error.
 */
int unwind_pack__rows(int (*read)(void *ctx, size_t at, size_t n, struct unwind_row *out),
		      void *ctx, size_t nr, void **blob, size_t *size);

/*
 * The same packing, rows pushed as they come: unwind_packer__add() takes
 * any number at a time (copied), unwind_packer__finish() gives the blob
 * (the caller frees it), its size and the row count. Functions return 0 or
 * -ENOMEM; new returns NULL when out of memory.
 */
struct unwind_packer;

struct unwind_packer *unwind_packer__new(void);
void unwind_packer__free(struct unwind_packer *pk);
int unwind_packer__add(struct unwind_packer *pk, const struct unwind_row *rows, size_t n);
int unwind_packer__finish(struct unwind_packer *pk, void **blob, size_t *size, size_t *nr);

/*
 * Unpack the @nr rows of @blob (@size bytes, from unwind_pack__rows()) and
 * hand them to @write UNWIND_PACK_CHUNK at a time (@rows borrowed for the
 * call). Returns 0, -EINVAL when @blob does not hold @nr rows, -ENOMEM, or
 * @write's error.
 */
int unwind_pack__unpack(const void *blob, size_t size, size_t nr,
			int (*write)(void *ctx, size_t at, const struct unwind_row *rows, size_t n),
			void *ctx);

/*
 * The binaries with a table by file identity, mirrored into the BPF
 * unwind_files map (@fd, or -1 for none): see unwind/unwind_files.c.
 */
struct unwind_files;

/* Returns NULL when out of memory. */
struct unwind_files *unwind_files__new(int fd);
void unwind_files__free(struct unwind_files *f);
/* File (@dev as the kernel encodes it, @ino) has table @val: 0 or -errno. */
int unwind_files__set(struct unwind_files *f, __u64 dev, __u64 ino, const struct unwind_file *val);
/* The entry of a file, or NULL (borrowed). */
const struct unwind_file *unwind_files__get(const struct unwind_files *f, __u64 dev, __u64 ino);
/* Forget file (@dev, @ino): another file is under its inode now. */
void unwind_files__drop(struct unwind_files *f, __u64 dev, __u64 ino);
/* Table @table is evicted: forget every file pointing at it. */
void unwind_files__drop_table(struct unwind_files *f, __u32 table);
size_t unwind_files__count(const struct unwind_files *f);

#endif /* __PROFILER_UNWIND_INTERNAL_H */
