// SPDX-License-Identifier: GPL-2.0
/*
 * Keeps the BPF unwinder fed: a thread waits on the unwind_events ring
 * buffer, where the sampling program asks for a process's mappings when it
 * meets an unknown process or a pc outside the known mappings (a new process,
 * an exec, a dlopen), and the exit tracepoint says when a process is gone.
 * Every 30 s the known processes are read again, so unmapped
 * libraries do not linger. With -p or --comm, the processes chosen are read
 * before sampling starts; otherwise each process is read at its first
 * sample, so only the binaries that run get a table (reading every process
 * at start tabled 80 binaries on a developer's machine, filled the tables,
 * and the profiler took 17% of the samples doing it). Tables are built once
 * per binary (unwind/).
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector_internal.h"
#include "profiler.skel.h"
#include "unwind/unwind.h"
#include "symbolizer/symbolizer.h"
#include "common/clock.h"
#include "common/log.h"

#ifndef DEFAULT_UNWIND_ROWS
#define DEFAULT_UNWIND_ROWS (2u << 20)	/* 32 MiB of 16-byte rows */
#endif
#define MAX_UNWIND_TABLES 4096
/*
 * Evicted tables' rows kept in user space, packed (about 1.4 bytes a row for
 * cc1, 2 for libc): about 3 million rows, more than the rows map holds, so a
 * compiler of a build loop evicted between two runs is not derived again.
 */
#ifndef UNWIND_KEEP_BYTES
#define UNWIND_KEEP_BYTES (4u << 20)
#endif
#define RESCAN_SECONDS 30

struct unwind_feeder {
	struct unwinder *uw;
	struct symbolizer *syms;	/* NULL: the maps read are not offered */
	int py_procs_fd;		/* interpreters found, for the BPF Python walk */
	struct ring_buffer *rb;
	struct bpf_link *fork_link, *mmap_link;	/* exec and exit: the collector's programs */
	__u32 *pending;		/* tgids to read, gathered from a burst of events */
	size_t nr_pending, cap_pending;
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	int wake_fd;		/* eventfd: written to stop the thread */
	int epoll_fd;		/* the ring buffer's epoll fd and wake_fd */
	char comm[TASK_COMM_LEN];	/* --comm: only those with this comm */
	/*
	 * The unwinder belongs to the thread (and to the constructor before it
	 * starts). Others read a copy of its stats, refreshed after each piece
	 * of work: a table being built (seconds for a big binary) never holds
	 * up a flush that asks for them.
	 */
	pthread_mutex_t stats_lock;
	struct unwinder_stats stats;
};

static void publish_stats(struct unwind_feeder *f)
{
	struct unwinder_stats st;

	unwinder__stats(f->uw, &st);
	pthread_mutex_lock(&f->stats_lock);
	f->stats = st;
	pthread_mutex_unlock(&f->stats_lock);
}

/*
 * Unwound stacks per map set: a set holds at most the samples of one drain
 * window, each stack a kilobyte. Four times that (a late drain, bursts),
 * between 1024 and the 16384 of the other stack maps.
 */
static __u32 dwarf_stack_entries(const struct collector_opts *o)
{
	double window = o->drain_interval > 0 ? o->drain_interval : 1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	double want = 4.0 * (o->freq > 0 ? o->freq : 99) * (cpus > 0 ? cpus : 1) * window;
	__u32 n = 1024;

	if (o->stack_entries)
		return o->stack_entries;
	while (n < 16384 && n < want)
		n *= 2;
	return n;
}

/*
 * A process whose mappings hold a CPython interpreter gets its Python
 * stacks walked: told once per image (the exec and exit programs forget it).
 * An interpreter whose data is not ready yet (libpython not relocated) is
 * looked at again at the next read of the process's maps.
 */
static void find_python(struct unwind_feeder *f, __u32 tgid, const struct sym_exec_map *maps,
			size_t nr)
{
	struct python_interp in;
	struct py_proc pp;
	int err;

	if (f->py_procs_fd < 0 || !bpf_map_lookup_elem(f->py_procs_fd, &tgid, &pp))
		return;
	err = python__find_interp(NULL, tgid, maps, nr, &in);
	if (!err)
		err = python__bpf_proc(tgid, &in, &pp);
	if (err) {
		if (err != -ENOENT)
			pr_debug("pid %u: python %#x not walked: %s", tgid, in.version,
				 strerror(-err));
		return;
	}
	if (bpf_map_update_elem(f->py_procs_fd, &tgid, &pp, BPF_ANY))
		pr_debug("pid %u: cannot add its python: %s", tgid, strerror(errno));
	else
		pr_debug("pid %u: python %u.%u stacks walked", tgid, in.version >> 24,
			 (in.version >> 16) & 0xff);
}

static void offer_maps(void *ctx, __u32 tgid, const struct sym_exec_map *maps, size_t nr)
{
	struct unwind_feeder *f = ctx;

	find_python(f, tgid, maps, nr);
	if (f->syms)
		symbolizer__offer_maps(f->syms, tgid, maps, nr);
}

int unwind_feeder__configure(struct profiler_bpf *skel, const struct collector_opts *o)
{
	bool on = o->unwind != UNWIND_MODE_FP;
	__u32 rows = o->unwind_rows ? o->unwind_rows : DEFAULT_UNWIND_ROWS;
	__u32 dwarf_entries = dwarf_stack_entries(o);
	int err;

	skel->rodata->unwind_mode = o->unwind;
	bpf_program__set_autoload(skel->progs.unwind_on_fork, on);
	bpf_program__set_autoload(skel->progs.unwind_on_mmap, on);
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
	/* the frame-pointer user stack maps only hold the profiler's own stacks */
	if (!err && on && !o->stack_entries)
		err = bpf_map__set_max_entries(skel->maps.ustacks0, 2048);
	if (!err && on && !o->stack_entries)
		err = bpf_map__set_max_entries(skel->maps.ustacks1, 2048);
	if (!err && on)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf0, dwarf_entries);
	if (!err && on)
		err = bpf_map__set_max_entries(skel->maps.ustacks_dwarf1, dwarf_entries);
	/* Python stacks are walked with the BPF unwinder only */
	if (!err && !on)
		err = bpf_map__set_max_entries(skel->maps.py_procs, 1);
	if (!err && !on)
		err = bpf_map__set_max_entries(skel->maps.pystacks0, 1);
	if (!err && !on)
		err = bpf_map__set_max_entries(skel->maps.pystacks1, 1);
	return err;
}

static void drop_pending(struct unwind_feeder *f, __u32 tgid)
{
	size_t i;

	for (i = 0; i < f->nr_pending; i++) {
		if (f->pending[i] == tgid)
			f->pending[i] = f->pending[--f->nr_pending];
	}
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct unwind_feeder *f = ctx;
	const struct unwind_event *ev = data;
	size_t i;

	if (size < sizeof(*ev))
		return 0;
	if (ev->kind == UNWIND_EVENT_EXIT) {
		drop_pending(f, ev->tgid);
		unwinder__remove_process(f->uw, ev->tgid);
		return 0;
	}
	for (i = 0; i < f->nr_pending; i++) {
		if (f->pending[i] == ev->tgid)
			return 0;
	}
	if (f->nr_pending == f->cap_pending) {
		size_t cap = f->cap_pending ? 2 * f->cap_pending : 64;
		__u32 *n = reallocarray(f->pending, cap, sizeof(*n));

		if (!n)
			return 0;	/* the next miss asks again */
		f->pending = n;
		f->cap_pending = cap;
	}
	f->pending[f->nr_pending++] = ev->tgid;
	return 0;
}

/* Read the maps of every process asked for, a moment after the first request. */
static void serve_pending(struct unwind_feeder *f)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	size_t i;

	if (!f->nr_pending)
		return;
	/* ld.so maps a program's libraries within a millisecond or two: one read for all */
	nanosleep(&ts, NULL);
	ring_buffer__consume(f->rb);
	for (i = 0; i < f->nr_pending && !f->stop; i++)
		unwinder__scan_process(f->uw, f->pending[i]);
	f->nr_pending = 0;
}

static void rescan_all(struct unwind_feeder *f)
{
	__u32 *tgids = NULL;
	size_t n = 0, i;

	if (!unwinder__list_processes(f->uw, &tgids, &n)) {
		for (i = 0; i < n && !f->stop; i++) {
			if (unwinder__scan_process(f->uw, tgids[i]) == -ESRCH)
				unwinder__remove_process(f->uw, tgids[i]);
		}
	}
	free(tgids);
	publish_stats(f);
}

static bool comm_is(unsigned long tgid, const char *want)
{
	char path[64], comm[64] = "";
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%lu/comm", tgid);
	fp = fopen(path, "r");
	if (!fp)
		return false;
	if (!fgets(comm, sizeof(comm), fp))
		comm[0] = '\0';
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, want);
}

/* The processes running now (with --comm, those it selects), so their first samples unwind whole. */
static void scan_running(struct unwind_feeder *f)
{
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	while (!f->stop && (e = readdir(d))) {
		char *end;
		unsigned long tgid = strtoul(e->d_name, &end, 10);

		/* the profiler's own stacks follow frame pointers (self_tgid) */
		if (*end || !tgid || tgid == (unsigned long)getpid() ||
		    (f->comm[0] && !comm_is(tgid, f->comm)))
			continue;
		unwinder__scan_process(f->uw, tgid);
		if (f->thread_started) {
			/* requests for new processes wait less */
			ring_buffer__consume(f->rb);
			serve_pending(f);
		}
	}
	closedir(d);
	publish_stats(f);
}

/*
 * Sleeps until an event, the next rescan or a stop: an always-on agent
 * should not wake up when there is nothing to do.
 */
static void *feeder_thread(void *arg)
{
	struct unwind_feeder *f = arg;
	double last = now_seconds();

	while (!f->stop) {
		double left = RESCAN_SECONDS - (now_seconds() - last);
		struct epoll_event ev;
		int n, err;

		n = epoll_wait(f->epoll_fd, &ev, 1, left > 0 ? (int)(left * 1000) + 1 : 0);
		if (n < 0 && errno != EINTR) {
			pr_warn("waiting for unwind events failed: %s", strerror(errno));
			break;
		}
		if (f->stop)
			break;
		err = ring_buffer__consume(f->rb);
		if (err < 0) {
			pr_warn("reading unwind events failed: %s", strerror(-err));
			break;
		}
		serve_pending(f);
		if (now_seconds() - last >= RESCAN_SECONDS) {
			rescan_all(f);
			last = now_seconds();
		}
		publish_stats(f);	/* exits too */
	}
	return NULL;
}

/* One epoll set for the thread: the ring buffer (its own epoll fd) and the wake-up eventfd. */
static int open_wait_set(struct unwind_feeder *f)
{
	struct epoll_event ev = { .events = EPOLLIN };

	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (f->wake_fd < 0 || f->epoll_fd < 0)
		return -errno;
	if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->wake_fd, &ev) ||
	    epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(f->rb), &ev))
		return -errno;
	return 0;
}

struct unwind_feeder *unwind_feeder__new(struct profiler_bpf *skel, const struct collector_opts *o)
{
	struct unwinder_opts uo = {
		.rows_fd = bpf_map__fd(skel->maps.unwind_rows),
		.tables_fd = bpf_map__fd(skel->maps.unwind_tables),
		.tables_gen = &skel->bss->unwind_tables_gen,
		.procs_fd = bpf_map__fd(skel->maps.unwind_procs),
		.files_fd = bpf_map__fd(skel->maps.unwind_files),
		.max_rows = bpf_map__max_entries(skel->maps.unwind_rows),
		.max_tables = bpf_map__max_entries(skel->maps.unwind_tables),
		/* cc1 (480k rows) takes 0.4-0.8 s; a browser-sized binary gives up here */
		.max_build_seconds = 2,
		.keep_bytes = UNWIND_KEEP_BYTES,
	};
	struct unwind_feeder *f = calloc(1, sizeof(*f));
	int err = -ENOMEM, i;

	if (!f)
		goto err_out;
	f->wake_fd = f->epoll_fd = -1;
	pthread_mutex_init(&f->stats_lock, NULL);
	uo.cancel = &f->stop;
	f->syms = o->syms;
	f->py_procs_fd = o->no_python ? -1 : bpf_map__fd(skel->maps.py_procs);
	uo.maps_fn = offer_maps;
	uo.maps_ctx = f;
	f->uw = unwinder__new(&uo);
	if (!f->uw) {
		err = -errno;
		goto err_out;
	}
	for (i = 0; i < o->nr_pids; i++)
		unwinder__scan_process(f->uw, o->pids[i]);
	publish_stats(f);
	if (o->comm) {
		/* few processes: read them before sampling starts */
		snprintf(f->comm, sizeof(f->comm), "%s", o->comm);
		scan_running(f);
	}
	f->rb = ring_buffer__new(bpf_map__fd(skel->maps.unwind_events), on_event, f, NULL);
	if (!f->rb) {
		err = -errno;
		pr_warn("cannot open the unwind event ring buffer: %s", strerror(-err));
		goto err_out;
	}
	err = open_wait_set(f);
	if (err) {
		pr_warn("cannot set up the unwind event wait: %s", strerror(-err));
		goto err_out;
	}
	f->fork_link = bpf_program__attach(skel->progs.unwind_on_fork);
	if (!f->fork_link) {
		err = -errno;
		pr_warn("cannot attach the process fork tracepoint: %s", strerror(-err));
		goto err_out;
	}
	if (bpf_program__autoload(skel->progs.unwind_on_mmap)) {
		f->mmap_link = bpf_program__attach(skel->progs.unwind_on_mmap);
		if (!f->mmap_link)
			pr_debug("no mmap tracking (%s): new libraries are found when a sample misses them",
				 strerror(errno));
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
	if (f->thread_started) {
		if (eventfd_write(f->wake_fd, 1))
			pr_warn("cannot wake the unwind thread: %s", strerror(errno));
		pthread_join(f->thread, NULL);
	}
	if (f->epoll_fd >= 0)
		close(f->epoll_fd);
	if (f->wake_fd >= 0)
		close(f->wake_fd);
	bpf_link__destroy(f->mmap_link);
	bpf_link__destroy(f->fork_link);
	ring_buffer__free(f->rb);
	unwinder__free(f->uw);
	free(f->pending);
	pthread_mutex_destroy(&f->stats_lock);
	free(f);
}

void unwind_feeder__stats(struct unwind_feeder *f, struct collector_stats *st)
{
	struct unwinder_stats us;

	if (!f)
		return;
	pthread_mutex_lock(&f->stats_lock);
	us = f->stats;
	pthread_mutex_unlock(&f->stats_lock);
	st->unwind_tables = us.tables;
	st->unwind_no_table = us.no_table;
	st->unwind_rows = us.rows;
	st->unwind_max_rows = us.max_rows;
	st->unwind_scans = us.scans;
	st->unwind_builds = us.builds;
	st->unwind_build_ms = us.build_seconds * 1e3;
	st->unwind_restores = us.restores;
	st->unwind_kept_bytes = us.kept_bytes;
}
