// SPDX-License-Identifier: GPL-2.0
/*
 * Keeps the BPF unwinder fed: a thread waits on the unwind_events ring
 * buffer, where the sampling program asks for a process's mappings when it
 * meets an unknown process or a pc outside the known mappings (a new process,
 * an exec, a dlopen), and the exit tracepoint says when a process is gone.
 * Every few seconds the known processes are read again, so unmapped
 * libraries do not linger. Without -p/--comm, every running process is read
 * once at start, in the thread. Tables are built once per binary (unwind/).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

#include "collector_internal.h"
#include "profiler.skel.h"
#include "unwind/unwind.h"
#include "common/log.h"

#define DEFAULT_UNWIND_ROWS (2u << 20)	/* 32 MiB of 16-byte rows */
#define MAX_UNWIND_TABLES 4096
#define RESCAN_SECONDS 5

struct unwind_feeder {
	struct unwinder *uw;
	struct ring_buffer *rb;
	struct bpf_link *exit_link, *exec_link, *fork_link;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	bool scan_all;		/* system-wide: read every process once at start */
	pthread_mutex_t lock;	/* the unwinder, between the thread and stats */
};

int unwind_feeder__configure(struct profiler_bpf *skel, const struct collector_opts *o)
{
	bool on = o->unwind != UNWIND_MODE_FP;
	__u32 rows = o->unwind_rows ? o->unwind_rows : DEFAULT_UNWIND_ROWS;
	int err;

	skel->rodata->unwind_mode = o->unwind;
	bpf_program__set_autoload(skel->progs.unwind_on_exit, on);
	bpf_program__set_autoload(skel->progs.unwind_on_exec, on);
	bpf_program__set_autoload(skel->progs.unwind_on_fork, on);
	/* fp mode: shrink what it never uses */
	err = bpf_map__set_max_entries(skel->maps.unwind_rows, on ? rows : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_tables, on ? MAX_UNWIND_TABLES : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_procs, on ? 8192 : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_scan_asked, on ? 8192 : 1);
	if (!err && !on)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf0, 1);
	if (!err && !on)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf1, 1);
	if (!err && on && o->stack_entries)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf0, o->stack_entries);
	if (!err && on && o->stack_entries)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf1, o->stack_entries);
	return err;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct unwind_feeder *f = ctx;
	const struct unwind_event *ev = data;

	if (size < sizeof(*ev))
		return 0;
	pthread_mutex_lock(&f->lock);
	if (ev->kind == UNWIND_EVENT_EXIT)
		unwinder__remove_process(f->uw, ev->tgid);
	else if (ev->kind == UNWIND_EVENT_SCAN)
		unwinder__scan_process(f->uw, ev->tgid);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void rescan_all(struct unwind_feeder *f)
{
	__u32 *tgids = NULL;
	size_t n = 0, i;

	pthread_mutex_lock(&f->lock);
	if (!unwinder__list_processes(f->uw, &tgids, &n)) {
		for (i = 0; i < n; i++) {
			if (unwinder__scan_process(f->uw, tgids[i]) == -ESRCH)
				unwinder__remove_process(f->uw, tgids[i]);
		}
	}
	pthread_mutex_unlock(&f->lock);
	free(tgids);
}

/* Every process running now, so their first samples already unwind whole. */
static void scan_running(struct unwind_feeder *f)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while (!f->stop && (e = readdir(d))) {
		char *end;
		unsigned long tgid = strtoul(e->d_name, &end, 10);

		if (*end || !tgid)
			continue;
		pthread_mutex_lock(&f->lock);
		unwinder__scan_process(f->uw, tgid);
		pthread_mutex_unlock(&f->lock);
		/* requests for new processes wait less */
		ring_buffer__consume(f->rb);
	}
	closedir(d);
}

static void *feeder_thread(void *arg)
{
	struct unwind_feeder *f = arg;
	double last = now_seconds();

	if (f->scan_all)
		scan_running(f);
	while (!f->stop) {
		int err = ring_buffer__poll(f->rb, 100);

		if (err < 0 && err != -EINTR) {
			pr_warn("reading unwind events failed: %s", strerror(-err));
			break;
		}
		if (now_seconds() - last >= RESCAN_SECONDS) {
			rescan_all(f);
			last = now_seconds();
		}
	}
	return NULL;
}

struct unwind_feeder *unwind_feeder__new(struct profiler_bpf *skel, const struct collector_opts *o)
{
	struct unwinder_opts uo = {
		.rows_fd = bpf_map__fd(skel->maps.unwind_rows),
		.tables_fd = bpf_map__fd(skel->maps.unwind_tables),
		.procs_fd = bpf_map__fd(skel->maps.unwind_procs),
		.max_rows = bpf_map__max_entries(skel->maps.unwind_rows),
		.max_tables = bpf_map__max_entries(skel->maps.unwind_tables),
	};
	struct unwind_feeder *f = calloc(1, sizeof(*f));
	int err = -ENOMEM, i;

	if (!f)
		goto err_out;
	pthread_mutex_init(&f->lock, NULL);
	f->uw = unwinder__new(&uo);
	if (!f->uw) {
		err = -errno;
		goto err_out;
	}
	for (i = 0; i < o->nr_pids; i++)
		unwinder__scan_process(f->uw, o->pids[i]);
	f->scan_all = !o->nr_pids && !o->comm;
	f->rb = ring_buffer__new(bpf_map__fd(skel->maps.unwind_events), on_event, f, NULL);
	if (!f->rb) {
		err = -errno;
		pr_warn("cannot open the unwind event ring buffer: %s", strerror(-err));
		goto err_out;
	}
	f->exit_link = bpf_program__attach(skel->progs.unwind_on_exit);
	f->exec_link = f->exit_link ? bpf_program__attach(skel->progs.unwind_on_exec) : NULL;
	f->fork_link = f->exec_link ? bpf_program__attach(skel->progs.unwind_on_fork) : NULL;
	if (!f->fork_link) {
		err = -errno;
		pr_warn("cannot attach the process fork/exec/exit tracepoints: %s", strerror(-err));
		goto err_out;
	}
	err = -pthread_create(&f->thread, NULL, feeder_thread, f);
	if (err)
		goto err_out;
	f->thread_started = true;
	return f;

err_out:
	unwind_feeder__free(f);
	errno = -err;
	return NULL;
}

void unwind_feeder__free(struct unwind_feeder *f)
{
	if (!f)
		return;
	f->stop = true;
	if (f->thread_started)
		pthread_join(f->thread, NULL);
	bpf_link__destroy(f->fork_link);
	bpf_link__destroy(f->exec_link);
	bpf_link__destroy(f->exit_link);
	ring_buffer__free(f->rb);
	unwinder__free(f->uw);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void unwind_feeder__stats(struct unwind_feeder *f, struct collector_stats *st)
{
	struct unwinder_stats us;

	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	unwinder__stats(f->uw, &us);
	pthread_mutex_unlock(&f->lock);
	st->unwind_tables = us.tables;
	st->unwind_no_table = us.no_table;
	st->unwind_rows = us.rows;
	st->unwind_max_rows = us.max_rows;
	st->unwind_scans = us.scans;
}
