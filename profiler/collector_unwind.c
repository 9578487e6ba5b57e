// SPDX-License-Identifier: GPL-2.0
/*
 * Keeps the BPF unwinder fed: a thread reads the events ring buffer, where
 * the exec program asks for a new image's mappings, the sampling program for
 * a process's when it meets a pc outside the known mappings, the mmap program
 * when a process maps code (dlopen), and the exit program says when a
 * process is gone. The thread is the ring buffer's one reader: the events
 * for the main thread (a process's first sample, exec and exit, for the
 * symbolizer and the store) wait in a queue it takes with
 * unwind_feeder__poll(). Wake-ups are batched (see event_flags() in
 * bpf/profiler.bpf.c): the thread wakes for a scan request, then reads
 * whatever else came, and looks every POLL_MS_MIN..POLL_MS_MAX ms for the
 * events that do not wake it.
 * Every 30 s the known processes are read again, so unmapped
 * libraries do not linger. With -p or --comm, the processes chosen are read
 * before sampling starts; otherwise each process is read at its first
 * sample, so only the binaries that run get a table (reading every process
 * at start tabled 80 binaries on a developer's machine, filled the tables,
 * and the profiler took 17% of the samples doing it). Tables are built once
 * per binary (unwind/); a big one on the unwinder's worker thread, whose
 * eventfd wakes this thread to publish it.
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
#include <sys/timerfd.h>
#include <poll.h>
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
/* how often the thread looks at the ring buffer: sooner while events come */
#define POLL_MS_MIN 100
#define POLL_MS_MAX 1000
/*
 * A process's first sample reaches the main thread once this thread has read
 * the maps asked for in the same batch (the symbolizer then need not), or
 * after this long, when this thread is busy (a table being built) and the
 * process may be gone before it is done.
 */
#define MAIN_WAIT_MS 20

struct unwind_feeder {
	struct unwinder *uw;
	struct symbolizer *syms;	/* NULL: the maps read are not offered */
	int py_procs_fd;		/* interpreters found, for the BPF Python walk */
	struct ring_buffer *rb;
	volatile __u64 *reader_asleep;	/* the BPF side's events_reader_asleep */
	__u64 not_queued;	/* events for the main thread dropped for lack of memory (ev_lock) */
	struct bpf_link *fork_link, *mmap_link;	/* exec and exit: the collector's programs */
	/*
	 * ev_lock: the ring buffer (read by this thread, and by the main thread
	 * before a drain), what its events gathered, and the counts.
	 */
	pthread_mutex_t ev_lock;
	__u32 *pending;		/* tgids to read, gathered from a burst of events */
	size_t nr_pending, cap_pending;
	__u32 *gone;		/* tgids whose mappings the unwinder lets go */
	size_t nr_gone, cap_gone;
	struct proc_event *queue;	/* for the main thread, in order */
	size_t nr_queue, cap_queue;
	bool main_new;		/* an EVENT_NEW waits in the queue */
	bool main_told;		/* main_fd written since the main thread last took the queue */
	__u64 events[EVENT_SCAN + 1];	/* events read, by type */
	__u64 new_by_file;		/* EVENT_NEW with EVENT_F_BY_FILE */
	pthread_t thread;
	bool thread_started;
	volatile bool stop;
	int wake_fd;		/* eventfd: written to stop the thread, or when main found scans */
	int epoll_fd;		/* the ring buffer's epoll fd and wake_fd */
	int main_fd;		/* eventfd: a process's first sample waits in the queue */
	int main_timer;		/* timerfd: it has waited MAIN_WAIT_MS, the thread is busy */
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

/* Whether the kernel has raw tracepoint @name (its BTF names it), so that attaching it won't fail loudly. */
static bool raw_tracepoint_exists(const char *name)
{
	return libbpf_find_vmlinux_btf_id(name, BPF_TRACE_RAW_TP) > 0;
}

/*
 * The row cache's slots a CPU, as a power of two: the most (128 KB a CPU)
 * up to 64 CPUs, then fewer, so the caches stay within 8 MB of kernel
 * memory, down to 256 slots (8 KB) a CPU.
 */
#define UNWIND_ROW_CACHES_BYTES (8u << 20)

static __u32 unwind_row_cache_bits(__u32 cpus)
{
	__u32 bits = UNWIND_ROW_CACHE_BITS;

	while (bits > UNWIND_ROW_CACHE_MIN_BITS &&
	       (__u64)cpus * (sizeof(struct unwind_row_cache_slot) << bits) > UNWIND_ROW_CACHES_BYTES)
		bits--;
	return bits;
}

int unwind_feeder__configure(struct profiler_bpf *skel, const struct collector_opts *o)
{
	bool on = o->unwind != UNWIND_MODE_FP;
	__u32 rows = o->unwind_rows ? o->unwind_rows : DEFAULT_UNWIND_ROWS;
	__u32 dwarf_entries = dwarf_stack_entries(o);
	int err;

	skel->rodata->unwind_mode = o->unwind;
	if (on)
		skel->rodata->vdso_size = symbolizer__vdso_size();
	bpf_program__set_autoload(skel->progs.unwind_on_fork, on);
	bpf_program__set_autoload(skel->progs.unwind_on_unmapped_area, on);
	bpf_program__set_autoload(skel->progs.unwind_on_mmap_unlock, on);
	/* fp mode: shrink what it never uses */
	err = bpf_map__set_max_entries(skel->maps.unwind_rows, on ? rows : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_tables, on ? MAX_UNWIND_TABLES : 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_procs, on ? 8192 : 1);
	if (!err) {
		int cpus = libbpf_num_possible_cpus();
		__u32 bits = unwind_row_cache_bits(cpus > 0 ? (__u32)cpus : 1);

		skel->rodata->unwind_row_cache_bits = bits;
		err = bpf_map__set_max_entries(skel->maps.unwind_row_caches,
					       on ? (__u32)(cpus > 0 ? cpus : 1) << bits : 1);
	}
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.unwind_files, on ? MAX_UNWIND_TABLES : 1);
	if (!err)	/* an LRU map is allocated whole at load */
		err = bpf_map__set_max_entries(skel->maps.unwind_vmas, on ? 1024 : 1);
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

static int push_tgid(__u32 **arr, size_t *nr, size_t *cap, __u32 tgid)
{
	size_t i;

	for (i = 0; i < *nr; i++) {
		if ((*arr)[i] == tgid)
			return 0;
	}
	if (*nr == *cap) {
		size_t n = *cap ? 2 * *cap : 64;
		__u32 *a = reallocarray(*arr, n, sizeof(*a));

		if (!a)
			return -ENOMEM;	/* the next miss asks again */
		*arr = a;
		*cap = n;
	}
	(*arr)[(*nr)++] = tgid;
	return 0;
}

static void drop_pending(struct unwind_feeder *f, __u32 tgid)
{
	size_t i;

	for (i = 0; i < f->nr_pending; i++) {
		if (f->pending[i] == tgid)
			f->pending[i] = f->pending[--f->nr_pending];
	}
}

/* An event for the main thread; a process's first sample wakes it, see wake_main(). */
static void queue_for_main(struct unwind_feeder *f, __u32 type, __u32 tgid,
			   const struct proc_event *ev)
{
	if (f->nr_queue == f->cap_queue) {
		size_t cap = f->cap_queue ? 2 * f->cap_queue : 256;
		struct proc_event *q = reallocarray(f->queue, cap, sizeof(*q));

		if (!q) {
			/* counted with the events the ring buffer lost */
			if (!f->not_queued++)
				pr_warn("no memory for a process event of pid %u", tgid);
			return;
		}
		f->queue = q;
		f->cap_queue = cap;
	}
	f->queue[f->nr_queue] = *ev;
	f->queue[f->nr_queue].type = type;
	f->nr_queue++;
	/* one named by file needs nothing read while it lives: no hurry */
	if (type == EVENT_NEW && !f->main_new) {
		struct itimerspec its = { .it_value = { 0, MAIN_WAIT_MS * 1000 * 1000 } };

		f->main_new = true;
		if (timerfd_settime(f->main_timer, 0, &its, NULL))
			pr_debug("cannot arm the main thread's timer: %s", strerror(errno));
	}
}

/*
 * After the scans of a batch, so that the mappings they read reach the
 * symbolizer before the processes' first samples do (it would read them
 * itself otherwise): wake the main thread for a process's first sample,
 * once until it takes the queue.
 */
static void wake_main(struct unwind_feeder *f)
{
	struct itimerspec off = { 0 };

	pthread_mutex_lock(&f->ev_lock);
	if (f->main_new && !f->main_told) {
		f->main_told = true;
		timerfd_settime(f->main_timer, 0, &off, NULL);
		if (eventfd_write(f->main_fd, 1))
			pr_debug("cannot wake the main thread: %s", strerror(errno));
	}
	pthread_mutex_unlock(&f->ev_lock);
}

/* A CPython binary: its processes are read, to find the interpreter (find_python()). */
static bool is_python(const char *path)
{
	return python__name_minor(path) >= 0;
}

/* Called with ev_lock held, by either thread: only gathers, the feeder thread does the work. */
static int on_event(void *ctx, void *data, size_t size)
{
	struct unwind_feeder *f = ctx;
	const struct proc_event *ev = data;
	__u32 type;

	if (size < sizeof(*ev))
		return 0;
	type = EVENT_TYPE(ev->type);
	if (type <= EVENT_SCAN)
		f->events[type]++;
	f->new_by_file += type == EVENT_NEW && (ev->type & EVENT_F_BY_FILE);
	switch (type) {
	case EVENT_NEW:
		/* not read at its exec (its binaries had tables): read now, before the main thread looks */
		if (ev->type & EVENT_F_UNWIND)
			push_tgid(&f->pending, &f->nr_pending, &f->cap_pending, ev->tgid);
		queue_for_main(f, EVENT_NEW | (ev->type & EVENT_F_BY_FILE), ev->tgid, ev);
		break;
	case EVENT_EXEC:
		if (ev->type & EVENT_F_UNWIND)
			push_tgid(&f->pending, &f->nr_pending, &f->cap_pending, ev->tgid);
		if (ev->type & EVENT_F_SAMPLED)
			queue_for_main(f, EVENT_EXEC, ev->tgid, ev);
		break;
	case EVENT_EXIT:
		/*
		 * F_SAMPLED alone too: a fork's child read at its first sample
		 * may exit before that read reached BPF (its entry was still the
		 * parent's copy), and the unwinder would keep it until a rescan.
		 */
		if (ev->type & (EVENT_F_SAMPLED | EVENT_F_UNWIND)) {
			drop_pending(f, ev->tgid);
			push_tgid(&f->gone, &f->nr_gone, &f->cap_gone, ev->tgid);
		}
		/*
		 * A process read at its exec but never sampled is known to the
		 * symbolizer too (its maps were offered): it must hear of the
		 * exit, or keep the process, and its binaries, for good.
		 */
		if (ev->type & (EVENT_F_SAMPLED | EVENT_F_UNWIND))
			queue_for_main(f, EVENT_EXIT, ev->tgid, ev);
		break;
	case EVENT_SCAN:
		push_tgid(&f->pending, &f->nr_pending, &f->cap_pending, ev->tgid);
		break;
	}
	return 0;
}

/* Read the ring buffer: the number of events, or -errno. */
static int consume(struct unwind_feeder *f)
{
	int n;

	pthread_mutex_lock(&f->ev_lock);
	n = ring_buffer__consume(f->rb);
	pthread_mutex_unlock(&f->ev_lock);
	return n;
}

/*
 * Let go of the processes gone, then read the maps of every process asked
 * for, a moment after the first request.
 */
static void serve_pending(struct unwind_feeder *f)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	__u32 *tgids = NULL;
	size_t i, nr = 0;

	pthread_mutex_lock(&f->ev_lock);
	for (i = 0; i < f->nr_gone; i++)
		unwinder__remove_process(f->uw, f->gone[i]);
	f->nr_gone = 0;
	nr = f->nr_pending;
	pthread_mutex_unlock(&f->ev_lock);
	if (!nr)
		return;
	/* ld.so maps a program's libraries within a millisecond or two: one read for all */
	nanosleep(&ts, NULL);
	consume(f);
	pthread_mutex_lock(&f->ev_lock);
	for (i = 0; i < f->nr_gone; i++)
		unwinder__remove_process(f->uw, f->gone[i]);
	f->nr_gone = 0;
	/* the scans run unlocked: take the list, leave an empty one */
	tgids = f->pending;
	nr = f->nr_pending;
	f->pending = NULL;
	f->nr_pending = f->cap_pending = 0;
	pthread_mutex_unlock(&f->ev_lock);
	for (i = 0; i < nr && !f->stop; i++) {
		/* gone before its read: nothing of it is kept */
		if (unwinder__scan_process_soon(f->uw, tgids[i]) == -ESRCH)
			unwinder__remove_process(f->uw, tgids[i]);
	}
	free(tgids);
}

static void rescan_all(struct unwind_feeder *f)
{
	__u32 *tgids = NULL;
	size_t n = 0, i;

	if (!unwinder__list_processes(f->uw, &tgids, &n)) {
		for (i = 0; i < n && !f->stop; i++) {
			if (unwinder__scan_process_soon(f->uw, tgids[i]) == -ESRCH)
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
			consume(f);
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
	int period = POLL_MS_MIN;

	while (!f->stop) {
		double left = RESCAN_SECONDS - (now_seconds() - last);
		int timeout = left > 0 ? (int)(left * 1000) + 1 : 0;
		struct epoll_event ev;
		eventfd_t v;
		int n, err, got;

		/* the next urgent event wakes us: what came before it is read first */
		__atomic_store_n(f->reader_asleep, 1, __ATOMIC_SEQ_CST);
		got = consume(f);
		n = got ? 0 : epoll_wait(f->epoll_fd, &ev, 1, timeout < period ? timeout : period);
		if (n < 0 && errno != EINTR) {
			pr_warn("waiting for unwind events failed: %s", strerror(errno));
			break;
		}
		if (f->stop)
			break;
		if (n > 0 && ev.data.fd == f->wake_fd)
			eventfd_read(f->wake_fd, &v);	/* the builds' fd is read when they are taken */
		err = consume(f);
		if (err < 0) {
			pr_warn("reading unwind events failed: %s", strerror(-err));
			break;
		}
		/* events that do not wake the thread: look sooner while they come */
		period = got > 0 || err > 0 || n > 0 ? POLL_MS_MIN : period * 2;
		if (period > POLL_MS_MAX)
			period = POLL_MS_MAX;
		serve_pending(f);
		wake_main(f);
		if (now_seconds() - last >= RESCAN_SECONDS) {
			rescan_all(f);
			last = now_seconds();
		}
		/* big tables derived meanwhile on the unwinder's worker thread */
		if (unwinder__finish_builds(f->uw))
			wake_main(f);
		publish_stats(f);	/* exits too */
	}
	return NULL;
}

/* One epoll set for the thread: the ring buffer (its own epoll fd) and the wake-up eventfd. */
static int open_wait_set(struct unwind_feeder *f)
{
	struct epoll_event ev = { .events = EPOLLIN };

	f->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->main_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->main_timer = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (f->wake_fd < 0 || f->main_fd < 0 || f->main_timer < 0 || f->epoll_fd < 0)
		return -errno;
	ev.data.fd = f->wake_fd;
	if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->wake_fd, &ev))
		return -errno;
	ev.data.fd = ring_buffer__epoll_fd(f->rb);
	if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, ring_buffer__epoll_fd(f->rb), &ev))
		return -errno;
	ev.data.fd = unwinder__builds_fd(f->uw);
	if (ev.data.fd >= 0 && epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, ev.data.fd, &ev))
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
		.background = true,
	};
	struct unwind_feeder *f = calloc(1, sizeof(*f));
	int err = -ENOMEM, i;

	if (!f)
		goto err_out;
	f->wake_fd = f->epoll_fd = f->main_fd = f->main_timer = -1;
	pthread_mutex_init(&f->stats_lock, NULL);
	pthread_mutex_init(&f->ev_lock, NULL);
	uo.cancel = &f->stop;
	f->syms = o->syms;
	f->py_procs_fd = o->no_python ? -1 : bpf_map__fd(skel->maps.py_procs);
	uo.maps_fn = offer_maps;
	uo.maps_ctx = f;
	if (f->py_procs_fd >= 0)
		uo.read_fn = is_python;
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
	f->reader_asleep = &skel->bss->events_reader_asleep;
	f->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, f, NULL);
	if (!f->rb) {
		err = -errno;
		pr_warn("cannot open the event ring buffer: %s", strerror(-err));
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
	/*
	 * New code mappings: the mmap lock's release in the mmap syscall; else
	 * vm_unmapped_area, for processes read already.
	 */
	if (bpf_program__autoload(skel->progs.unwind_on_mmap_unlock)) {
		errno = ENOENT;
		if (raw_tracepoint_exists("mmap_lock_released"))
			f->mmap_link = bpf_program__attach(skel->progs.unwind_on_mmap_unlock);
		if (f->mmap_link) {
			pr_debug("new mappings: from the mmap lock's tracepoint");
		} else {
			pr_debug("no mmap_lock tracepoint (%s): vm_unmapped_area instead",
				 strerror(errno));
			f->mmap_link = bpf_program__attach(skel->progs.unwind_on_unmapped_area);
			if (!f->mmap_link)
				pr_debug("no mmap tracking (%s): new libraries are found when a sample misses them",
					 strerror(errno));
		}
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
	if (f->main_fd >= 0)
		close(f->main_fd);
	if (f->main_timer >= 0)
		close(f->main_timer);
	bpf_link__destroy(f->mmap_link);
	bpf_link__destroy(f->fork_link);
	ring_buffer__free(f->rb);
	unwinder__free(f->uw);
	free(f->pending);
	free(f->gone);
	free(f->queue);
	pthread_mutex_destroy(&f->stats_lock);
	pthread_mutex_destroy(&f->ev_lock);
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
	pthread_mutex_lock(&f->ev_lock);
	memcpy(st->events, f->events, sizeof(st->events));
	st->new_by_file = f->new_by_file;
	st->stat[STAT_EVENTS_LOST] += f->not_queued;
	pthread_mutex_unlock(&f->ev_lock);
}

int unwind_feeder__poll(struct unwind_feeder *f, int timeout_ms, collector_event_fn fn, void *ctx)
{
	struct pollfd pfd[2] = {
		{ .fd = f->main_fd, .events = POLLIN }, { .fd = f->main_timer, .events = POLLIN },
	};
	struct itimerspec off = { 0 };
	struct proc_event *q;
	__u64 expired;
	bool scans;
	eventfd_t v;
	size_t i, nr;
	int err;

	if (timeout_ms > 0 && poll(pfd, 2, timeout_ms) < 0 && errno == EINTR)
		return -EINTR;
	eventfd_read(f->main_fd, &v);
	if (read(f->main_timer, &expired, sizeof(expired)) < 0 && errno != EAGAIN)
		pr_debug("cannot read the main thread's timer: %s", strerror(errno));
	/* what came since the thread last looked too: the caller drains next */
	pthread_mutex_lock(&f->ev_lock);
	err = ring_buffer__consume(f->rb);
	scans = f->nr_pending || f->nr_gone;
	q = f->queue;
	nr = f->nr_queue;
	f->queue = NULL;
	f->nr_queue = f->cap_queue = 0;
	f->main_told = f->main_new = false;
	timerfd_settime(f->main_timer, 0, &off, NULL);
	pthread_mutex_unlock(&f->ev_lock);
	if (scans && eventfd_write(f->wake_fd, 1))
		pr_debug("cannot wake the unwind thread: %s", strerror(errno));
	for (i = 0; i < nr; i++)
		fn(ctx, &q[i]);
	free(q);
	return err < 0 ? err : (int)nr;
}
