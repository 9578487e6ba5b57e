// SPDX-License-Identifier: GPL-2.0
/*
 * The fleet benchmark's generator: realistic agent batches for many hosts,
 * written to a store (PostgreSQL: the central one) through the store API, as
 * `profile agent --push` ships them. Every host runs a few processes of a
 * shared set of binaries; its stacks are a few thousand drawn from a shared
 * pool (so hosts share most of their stacks, as a real fleet does), and each
 * 10-s bucket holds a Zipf-like spread of samples over them.
 *
 * usage: fleet DB [hosts] [hours] [samples-per-bucket] [stacks-per-host] [buckets-per-batch]
 * Prints: batches, samples, seconds, samples/s, then the store's measure.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"

#define NR_BINARIES 40
#define FUNCS_PER_BINARY 250
#define POOL_STACKS 20000
#define PROCS_PER_HOST 6

static const char *const comms[] = {
	"nginx", "postgres", "java", "python3", "node", "envoy", "redis-server", "kubelet",
	"containerd", "sshd", "cron", "rsyslogd",
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ULL;

static unsigned long long next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	const struct store_opts wo = { .create = true };
	int hosts = argc > 2 ? atoi(argv[2]) : 50;
	double hours = argc > 3 ? atof(argv[3]) : 24;
	int per_bucket = argc > 4 ? atoi(argv[4]) : 400;
	int per_host = argc > 5 ? atoi(argv[5]) : 3000;
	int per_batch = argc > 6 ? atoi(argv[6]) : 1;
	int nr_buckets = (int)(hours * 360), h, b, i, j;
	struct store_frame *frames;
	char (*names)[48], (*bids)[24], (*mods)[24];
	__u32 *pool_frames, **host_stacks;
	struct store_stack *stacks;
	struct store_count *counts;
	struct store_process procs[PROCS_PER_HOST];
	char host[32], bid[PROCS_PER_HOST][24];
	__s64 *run_ids, t0;
	unsigned long long samples = 0, batches = 0;
	struct store_measure m;
	struct store *st;
	double start, took;
	int nr_frames = NR_BINARIES * FUNCS_PER_BINARY;

	if (argc < 2) {
		fprintf(stderr, "usage: fleet DB [hosts] [hours] [samples-per-bucket]"
			" [stacks-per-host] [buckets-per-batch]\n");
		return 2;
	}
	st = store__open(argv[1], &wo);
	if (!st)
		return 1;
	/* the shared binaries and their functions */
	frames = calloc(nr_frames, sizeof(*frames));
	names = calloc(nr_frames, sizeof(*names));
	bids = calloc(NR_BINARIES, sizeof(*bids));
	mods = calloc(NR_BINARIES, sizeof(*mods));
	for (i = 0; i < NR_BINARIES; i++) {
		snprintf(bids[i], sizeof(bids[i]), "%016llx", next_rand());
		snprintf(mods[i], sizeof(mods[i]), i < 8 ? "lib%d.so" : "bin%d", i);
	}
	for (i = 0; i < nr_frames; i++) {
		int bin = i / FUNCS_PER_BINARY;

		snprintf(names[i], sizeof(names[i]), "ns%d::Class%d::method_%d", bin, i % 17, i);
		frames[i] = (struct store_frame){
			.kernel = bin == 0, .module = bin == 0 ? "[kernel]" : mods[bin],
			.build_id = bin == 0 ? NULL : bids[bin],
			.addr = 0x1000 + 0x40ULL * (i % FUNCS_PER_BINARY), .name = names[i],
		};
	}
	/* the pool of stacks: 8 to 40 frames, libraries near the root, kernel at the leaf */
	pool_frames = calloc((size_t)POOL_STACKS * 40, sizeof(*pool_frames));
	stacks = calloc(POOL_STACKS, sizeof(*stacks));
	for (i = 0; i < POOL_STACKS; i++) {
		int depth = 8 + (int)(next_rand() % 33), app = 8 + (int)(next_rand() % (NR_BINARIES - 8));

		for (j = 0; j < depth; j++) {
			int bin = j < 2 ? 1 + j : j == depth - 1 && next_rand() % 3 == 0 ? 0 :
				  j % 4 == 3 ? 1 + (int)(next_rand() % 7) : app;
			/* callers near the root are few: the tree stays a tree */
			int spread = j < 6 ? 3 + j * 4 : FUNCS_PER_BINARY;

			pool_frames[(size_t)i * 40 + j] = bin * FUNCS_PER_BINARY +
							  next_rand() % spread;
		}
		stacks[i] = (struct store_stack){ &pool_frames[(size_t)i * 40], depth };
	}
	host_stacks = calloc(hosts, sizeof(*host_stacks));
	run_ids = calloc(hosts, sizeof(*run_ids));
	counts = calloc((size_t)per_bucket * per_batch, sizeof(*counts));
	t0 = (__s64)time(NULL) - (__s64)(hours * 3600);
	t0 -= t0 % 10;
	for (h = 0; h < hosts; h++) {
		struct store_run run = {
			.kind = "agent", .host = host, .cmdline = "profile agent --push", .freq = 99,
			.start_ms = t0 * 1000,
		};

		snprintf(host, sizeof(host), "host%03d", h);
		if (store__add_run(st, &run, &run_ids[h]))
			return 1;
		host_stacks[h] = calloc(per_host, sizeof(__u32));
		for (i = 0; i < per_host; i++)
			host_stacks[h][i] = next_rand() % POOL_STACKS;
	}
	start = now_s();
	for (b = 0; b < nr_buckets; b += per_batch) {
		for (h = 0; h < hosts; h++) {
			struct store_batch batch = {
				.run_id = run_ids[h], .frames = frames, .nr_frames = nr_frames,
				.stacks = stacks, .nr_stacks = POOL_STACKS, .processes = procs,
				.nr_processes = PROCS_PER_HOST, .counts = counts, .ship = true,
			};
			size_t n = 0;
			int k;

			for (i = 0; i < PROCS_PER_HOST; i++) {
				snprintf(bid[i], sizeof(bid[i]), "%s", bids[8 + (h + i) % (NR_BINARIES - 8)]);
				procs[i] = (struct store_process){
					.pid = 1000 + h * 10 + i, .comm = comms[(h + i) % 12],
					.exe_build_id = bid[i], .start_time = t0 - 100,
				};
			}
			for (k = 0; k < per_batch && b + k < nr_buckets; k++) {
				__s64 ts = t0 + 10LL * (b + k);
				int left = per_bucket;

				/* Zipf-like: a few hot stacks take most samples */
				while (left > 0) {
					double u = (next_rand() % 1000000) / 1e6;
					int rank = (int)(per_host * pow(u, 3.0));
					int c = 1 + (rank < 20 ? (int)(next_rand() % 6) : 0);

					if (c > left)
						c = left;
					counts[n++] = (struct store_count){
						.ts = ts, .process = rank % PROCS_PER_HOST,
						.stack = host_stacks[h][rank], .count = c,
					};
					left -= c;
					samples += c;
				}
			}
			/*
			 * the batch carries the whole frame and stack tables: the
			 * backend sends only what the counts use
			 */
			batch.nr_counts = n;
			if (store__write_batch(st, &batch)) {
				fprintf(stderr, "write failed at bucket %d host %d\n", b, h);
				return 1;
			}
			batches++;
		}
		if (isatty(2))
			fprintf(stderr, "\r%d/%d buckets", b + per_batch, nr_buckets);
	}
	took = now_s() - start;
	if (isatty(2))
		fprintf(stderr, "\n");
	printf("hosts %d, buckets %d, batches %llu, samples %llu, %.1f s, %.0f samples/s,"
	       " %.2f ms/batch\n", hosts, nr_buckets, batches, samples, took, samples / took,
	       took * 1000 / batches);
	if (!store__measure(st, &m))
		printf("stored: samples %llu, sample rows %llu, stacks %llu, frames %llu,"
		       " processes %llu; bytes: total %llu, samples table %llu (%.2f per sample)\n",
		       (unsigned long long)m.samples, (unsigned long long)m.sample_rows,
		       (unsigned long long)m.stacks, (unsigned long long)m.frames,
		       (unsigned long long)m.processes, (unsigned long long)m.used_bytes,
		       (unsigned long long)m.sample_table_bytes,
		       m.samples ? (double)m.sample_table_bytes / m.samples : 0.0);
	store__free(st);
	printf("t0 %lld\n", (long long)t0);
	return 0;
}
