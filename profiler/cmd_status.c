// SPDX-License-Identifier: GPL-2.0
/*
 * `profile status`: the database (size, runs, samples) and the health the
 * agent writes at each flush: samples taken and dropped, stack-map
 * collisions, how many user stacks were complete and how many unnamed, its
 * own CPU time and RSS. --measure adds what the bulky parts
 * take with and without zstd.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmds.h"
#include "selector.h"
#include "common/log.h"

const struct command_def status_cmd = {
	.name = "status",
	.summary = "the database and the agent's health",
	.usage = "[options]",
	.description =
		"Show the database and the health of agent runs: samples taken, dropped and\n"
		"lost, stack-map collisions, the agent's CPU time and RSS, database size.",
	.max_args = 0,
};

static int print_health(void *ctx, const struct store_run_info *r)
{
	const struct store_health *h = &r->health;
	double secs, age;
	char when[32];
	bool alive;

	(void)ctx;
	if (!r->has_health)
		return 0;
	secs = ((r->end_ms ? r->end_ms : h->updated_ms) - r->start_ms) / 1000.0;
	age = (time(NULL) * 1000.0 - h->updated_ms) / 1000.0;
	if (age < 0)
		age = 0;
	alive = !r->end_ms && h->pid && (!kill(h->pid, 0) || errno == EPERM);
	printf("\nagent run %lld (pid %u, %s), started %s, %s\n", (long long)r->id, h->pid,
	       r->host, format_time(r->start_ms / 1000, when, sizeof(when)),
	       r->end_ms ? "stopped" : alive ? "running" : "not running (killed?)");
	printf("  last flush      %.0f s ago (%llu flushes, %llu failed)\n", age,
	       (unsigned long long)h->flushes, (unsigned long long)h->flush_errors);
	printf("  samples         %llu taken: %llu stored, %llu idle (not recorded), %llu of other "
	       "processes, %llu dropped (%llu stack-map collisions), %llu lost to store errors, "
	       "%llu not drained yet\n",
	       (unsigned long long)h->samples, (unsigned long long)h->recorded,
	       (unsigned long long)h->idle, (unsigned long long)h->filtered,
	       (unsigned long long)h->dropped, (unsigned long long)h->collisions,
	       (unsigned long long)h->lost, (unsigned long long)h->undrained);
	if (h->user_stacks)
		printf("  user stacks     %llu: %.2f%% complete (reached the root and named), "
		       "%llu unnamed (no frame named)\n",
		       (unsigned long long)h->user_stacks, 100.0 * h->complete / h->user_stacks,
		       (unsigned long long)h->unnamed);
	printf("  agent CPU       %.3f s user+sys = %.3f%% of one CPU\n", h->cpu_ms / 1000.0,
	       secs > 0 ? h->cpu_ms / 10.0 / secs : 0.0);
	printf("  agent RSS       %.1f MB (peak)\n", h->rss_kb / 1024.0);
	printf("  database        %.1f MB (file + WAL)\n", h->db_bytes / 1048576.0);
	return 0;
}

static void print_measure(const struct store_measure *m)
{
	double per = m->samples ? 1.0 / m->samples : 0;

	printf("\nmeasured: %llu samples in %llu rows, %llu buckets, %llu stacks, %llu frames\n",
	       (unsigned long long)m->samples, (unsigned long long)m->sample_rows,
	       (unsigned long long)m->buckets, (unsigned long long)m->stacks,
	       (unsigned long long)m->frames);
	printf("  database        %.2f bytes/sample (%llu bytes in use)\n", m->used_bytes * per,
	       (unsigned long long)m->used_bytes);
	__u64 rows_samples = m->samples - m->packed_samples;
	double per_row = rows_samples ? 1.0 / rows_samples : 0;
	double per_packed = m->packed_samples ? 1.0 / m->packed_samples : 0;

	if (m->sample_table_bytes)
		printf("  sample rows     %.2f bytes/sample as SQLite rows (%llu bytes, %llu samples)\n",
		       m->sample_table_bytes * per_row, (unsigned long long)m->sample_table_bytes,
		       (unsigned long long)rows_samples);
	printf("  if packed       %.2f bytes/sample as varints, %.2f with zstd\n",
	       m->bucket_packed_bytes * per_row, m->bucket_packed_zstd * per_row);
	printf("  packed buckets  %llu: %.2f bytes/sample as stored blobs (%llu bytes, %llu samples)",
	       (unsigned long long)m->packed_buckets, m->packed_bytes * per_packed,
	       (unsigned long long)m->packed_bytes, (unsigned long long)m->packed_samples);
	if (m->packed_table_bytes)
		printf(", %.2f with their table pages", m->packed_table_bytes * per_packed);
	printf("\n");
	printf("  stack arrays    %llu bytes as varints, %llu with zstd per stack\n",
	       (unsigned long long)m->stack_blob_bytes, (unsigned long long)m->stack_blob_zstd);
}

int cmd_status(int argc, char **argv)
{
	struct selector s = {};
	struct store_measure m;
	__u64 file = 0, used = 0;
	bool measure = false;
	struct store *st;
	int err, first;
	const struct option_def opts[] = {
		OPT_FLAG(0, "measure", &measure,
			 "also measure bytes per sample, with and without zstd"),
		SELECTOR_OPTIONS(&s),
		OPT_END(),
	};

	err = parse_options(&status_cmd, opts, argc, argv, &first);
	if (err) {
		selector__release(&s);
		return err > 0 ? 0 : EXIT_USAGE;
	}
	st = selector__open(&s);
	err = st ? store__file_bytes(st, &file) : -errno;
	err = err ?: store__used_bytes(st, &used);
	if (!err)
		printf("database %s: schema version %d, %.2f MB on disk, %.2f MB in use\n",
		       store__path(st), store__schema_version(st), file / 1048576.0,
		       used / 1048576.0);
	err = err ?: store__list_runs(st, &s.sel, print_health, NULL);
	if (!err && measure) {
		err = store__measure(st, &m);
		if (!err)
			print_measure(&m);
	}
	store__free(st);
	selector__release(&s);
	return err ? EXIT_FAILURE : EXIT_SUCCESS;
}
