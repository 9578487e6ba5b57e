// SPDX-License-Identifier: GPL-2.0
/*
 * Unwind table builds, one binary at a time: for each file given, the rows
 * unwind_table__build() derives, the thread CPU time the build took (best of
 * -n runs), and a hash of the rows, so two builds of the tree can be compared
 * row for row (make bench-tables). With -p, as the unwinder builds a table:
 * streamed and packed as derived, then unpacked (the time counts all three);
 * -d also maps the file as the unwinder does and drops the pages read.
 *
 * usage: bench/tables [-n RUNS] [-p|-d] FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <gelf.h>

#include "unwind/unwind.h"
#include "unwind/unwind_internal.h"

static int pack_cb(void *ctx, const struct unwind_row *rows, size_t n)
{
	return unwind_packer__add(ctx, rows, n);
}

struct unpacked {
	struct unwind_row *rows;
};

static int unpack_cb(void *ctx, size_t at, const struct unwind_row *rows, size_t n)
{
	memcpy(((struct unpacked *)ctx)->rows + at, rows, n * sizeof(*rows));
	return 0;
}

/*
 * The unwinder's way: rows packed as they come, then unpacked into place
 * (here: @rows); with @map, the pages of the file read dropped as it goes.
 */
static int build_packed(Elf *elf, const char *path, void *map, size_t map_len,
			struct unwind_row **rows, size_t *nr)
{
	struct unwind_build_limits lim = { .map = map, .map_len = map_len };
	struct unwind_packer *pk = unwind_packer__new();
	struct unpacked out = { NULL };
	size_t size;
	void *blob = NULL;
	int err;

	if (!pk)
		return -ENOMEM;
	err = unwind_table__build_stream(elf, path, &lim, pack_cb, pk, nr, NULL);
	err = err ?: unwind_packer__finish(pk, &blob, &size, nr);
	unwind_packer__free(pk);
	if (!err && !(out.rows = calloc(*nr ? *nr : 1, sizeof(*out.rows))))
		err = -ENOMEM;
	err = err ?: unwind_pack__unpack(blob, size, *nr, unpack_cb, &out);
	free(blob);
	if (err)
		free(out.rows);
	else
		*rows = out.rows;
	return err;
}

static double thread_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* FNV-1a over the rows' fields, independent of padding */
static unsigned long long hash_rows(const struct unwind_row *rows, size_t nr)
{
	unsigned long long h = 0xcbf29ce484222325ULL;
	size_t i, j;

	for (i = 0; i < nr; i++) {
		__u32 v[4] = { rows[i].pc, rows[i].type, (__u32)rows[i].cfa_off,
			       (__u32)rows[i].rbp_off };

		for (j = 0; j < sizeof(v); j++) {
			h ^= ((const unsigned char *)v)[j];
			h *= 0x100000001b3ULL;
		}
	}
	return h;
}

static int bench_file(const char *path, int runs, bool packed, bool drop)
{
	void *map = MAP_FAILED;
	struct stat st;
	struct unwind_row *rows = NULL;
	double best = 0;
	size_t nr = 0;
	int fd, err = 0, i;
	Elf *elf;

	fd = open(path, O_RDONLY);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "tables: cannot open '%s': %s\n", path, strerror(-err));
		return err;
	}
	if (drop && !fstat(fd, &st))
		map = mmap(NULL, st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (map != MAP_FAILED)
		elf = elf_memory(map, st.st_size);
	else
		elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	for (i = 0; i < runs && !err; i++) {
		double t0 = thread_seconds(), t;

		free(rows);
		rows = NULL;
		if (!elf)
			err = -EINVAL;
		else if (packed)
			err = build_packed(elf, path, map != MAP_FAILED ? map : NULL,
					   map != MAP_FAILED ? st.st_size : 0, &rows, &nr);
		else
			err = unwind_table__build(elf, path, NULL, &rows, &nr, NULL);
		t = thread_seconds() - t0;
		if (!i || t < best)
			best = t;
	}
	if (err)
		fprintf(stderr, "tables: '%s': %s\n", path, strerror(-err));
	else
		printf("%-50s %9zu rows %9.1f ms  %016llx\n", path, nr, best * 1e3,
		       hash_rows(rows, nr));
	free(rows);
	elf_end(elf);
	if (map != MAP_FAILED)
		munmap(map, st.st_size);
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	int runs = 1, opt, err = 0;
	bool packed = false, drop = false;

	while ((opt = getopt(argc, argv, "n:pd")) != -1) {
		if (opt == 'p') {
			packed = true;
		} else if (opt == 'd') {
			packed = drop = true;
		} else if (opt != 'n' || (runs = atoi(optarg)) < 1) {
			fprintf(stderr, "usage: %s [-n RUNS] [-p|-d] FILE...\n", argv[0]);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: %s [-n RUNS] [-p|-d] FILE...\n", argv[0]);
		return 2;
	}
	elf_version(EV_CURRENT);
	for (; optind < argc; optind++)
		err |= bench_file(argv[optind], runs, packed, drop) ? 1 : 0;
	return err;
}
