// SPDX-License-Identifier: GPL-2.0
/*
 * Deterministic synthetic profiles for the benchmarks.
 *
 *   gen_stacks folded LINES          sorted folded stacks, 41 frames a line,
 *                                    ~34-byte C++-like names (~1.4 KB a line)
 *   gen_stacks perf-script STACKS    `perf script` text of the same shape, each
 *                                    stack sampled 1 to 19 times (10 on average)
 *
 * The call tree splits in two at random levels so that LINES distinct stacks
 * share prefixes the way real profiles do (about 3.5 tree nodes per line).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEPTH 41
#define POOL 20000

static char *names[POOL];
static uint64_t rng = 0x243f6a8885a308d3ULL;
static int path[DEPTH];
static int perf_mode;
static unsigned long long sample_no;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void make_names(void)
{
	static const char *const ns[] = { "app", "net", "db", "std", "rt", "io", "json", "http" };
	static const char *const verb[] = { "process", "handle", "parse", "dispatch", "encode",
					    "lookup", "update", "flush", "read", "compute" };
	char buf[128];
	int i;

	for (i = 0; i < POOL; i++) {
		snprintf(buf, sizeof(buf), "%s::mod%d::Class%d::%s_%d", ns[next() % 8],
			 (int)(next() % 90), (int)(next() % 400), verb[next() % 10], i);
		names[i] = strdup(buf);
	}
}

static void emit(void)
{
	int i, reps;

	if (!perf_mode) {
		for (i = 0; i < DEPTH; i++)
			printf(i ? ";%s" : "%s", names[path[i]]);
		printf(" %d\n", (int)(next() % 1000) + 1);
		return;
	}
	for (reps = 1 + next() % 19; reps > 0; reps--) {
		printf("app-worker %d/%d [%03d] %llu.%06llu:     250000 cpu-clock:ppp: \n",
		       4242, 4242 + (int)(sample_no % 4), (int)(sample_no % 2),
		       1000 + sample_no / 4000, (sample_no % 4000) * 250);
		sample_no++;
		for (i = DEPTH - 1; i > 0; i--)
			printf("\t    %12llx %s+0x%x (/usr/lib/app/libapp.so)\n",
			       0x7f0000000000ULL + path[i] * 64ULL, names[path[i]],
			       (path[i] * 7) % 512);
		printf("\t    %12llx __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\n",
		       0x7f1000029d8aULL);
	}
}

static void gen(int depth, unsigned long long budget)
{
	int r = DEPTH - 1 - depth, kids[2], k = 1, i;
	unsigned long long part[2] = { budget, 0 };

	if (depth == DEPTH - 1) {
		emit();
		return;
	}
	if (budget > 1 && (r < 63 && budget > (1ULL << (r - 1)) ? 1 : next() % 100 < 45)) {
		unsigned long long cap = r - 1 < 63 ? 1ULL << (r - 1) : ~0ULL;

		part[0] = budget * (30 + next() % 41) / 100;
		if (!part[0])
			part[0] = 1;
		if (part[0] > cap)
			part[0] = cap;
		if (budget - part[0] > cap)
			part[0] = budget - cap;
		part[1] = budget - part[0];
		k = 2;
	}
	kids[0] = (path[depth] * 31 + depth * 7 + (int)(next() % 97)) % POOL;
	kids[1] = (kids[0] + 1 + (int)(next() % (POOL - 1))) % POOL;
	if (k == 2 && strcmp(names[kids[0]], names[kids[1]]) > 0) {
		unsigned long long t = part[0];
		int n = kids[0];

		kids[0] = kids[1], kids[1] = n;
		part[0] = part[1], part[1] = t;
	}
	for (i = 0; i < k; i++) {
		path[depth + 1] = kids[i];
		gen(depth + 1, part[i]);
	}
}

int main(int argc, char **argv)
{
	unsigned long long n;

	if (argc != 3 || (strcmp(argv[1], "folded") && strcmp(argv[1], "perf-script"))) {
		fprintf(stderr, "usage: gen_stacks folded|perf-script N\n");
		return 2;
	}
	perf_mode = !strcmp(argv[1], "perf-script");
	n = strtoull(argv[2], NULL, 10);
	make_names();
	path[0] = 0;
	gen(0, n);
	return fflush(stdout) ? 1 : 0;
}
