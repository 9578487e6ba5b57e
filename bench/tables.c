// SPDX-License-Identifier: GPL-2.0
/*
 * Unwind table builds, one binary at a time: for each file given, the rows
 * unwind_table__build() derives, the thread CPU time the build took (best of
 * -n runs), and a hash of the rows, so two builds of the tree can be compared
 * row for row (make bench-tables).
 *
 * usage: bench/tables [-n RUNS] FILE...
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <gelf.h>

#include "unwind/unwind.h"

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

static int bench_file(const char *path, int runs)
{
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
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	for (i = 0; i < runs && !err; i++) {
		double t0 = thread_seconds(), t;

		free(rows);
		rows = NULL;
		err = elf ? unwind_table__build(elf, path, NULL, &rows, &nr, NULL) : -EINVAL;
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
	close(fd);
	return err;
}

int main(int argc, char **argv)
{
	int runs = 1, opt, err = 0;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n' || (runs = atoi(optarg)) < 1) {
			fprintf(stderr, "usage: %s [-n RUNS] FILE...\n", argv[0]);
			return 2;
		}
	}
	if (optind == argc) {
		fprintf(stderr, "usage: %s [-n RUNS] FILE...\n", argv[0]);
		return 2;
	}
	elf_version(EV_CURRENT);
	for (; optind < argc; optind++)
		err |= bench_file(argv[optind], runs) ? 1 : 0;
	return err;
}
