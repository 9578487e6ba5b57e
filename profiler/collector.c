// SPDX-License-Identifier: GPL-2.0
/*
 * BPF side of the profiler in user space: open the skeleton, set rodata and
 * map sizes, load, fill the pid filter, attach one perf event per online CPU,
 * and drain the map sets.
 */
#include <errno.h>
#include <linux/membarrier.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "collector.h"
#include "collector_internal.h"
#include "profiler.skel.h"
#include "symbolizer/symbolizer.h"
#include "common/clock.h"
#include "common/log.h"

struct collector {
	struct profiler_bpf *skel;
	struct bpf_link **links;
	int nr_links;
	int nr_cpus;		/* CPUs sampled; links stay counted after stop */
	int nr_cpus_possible;
	int counts_fd[NR_MAP_SETS], kstack_fd[NR_MAP_SETS], ustack_fd[NR_MAP_SETS];
	int dstack_fd[NR_MAP_SETS];	/* stacks of the BPF unwinder, keyed by hash */
	int pystack_fd[NR_MAP_SETS];	/* Python stacks, keyed by hash */
	struct unwind_feeder *feeder;	/* dwarf/auto unwinding only */
	__u64 unreadable;
	struct ring_buffer *events;
	struct bpf_link *exec_link, *exit_link;
	collector_event_fn event_fn;
	void *event_ctx;
	__u64 unwind_end[UNWIND_END_MAX];
	__u64 py_samples, py_truncated;
	/* drain buffers, reused across drains */
	struct sample_key *keys;
	size_t cap_keys;
};

static long perf_event_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd,
			    unsigned long flags)
{
	return syscall(__NR_perf_event_open, attr, pid, cpu, group_fd, flags);
}

static int configure(struct collector *c, const struct collector_opts *o)
{
	struct profiler_bpf *skel = c->skel;
	struct bpf_map *stack_maps[] = {
		skel->maps.kstacks0, skel->maps.kstacks1, skel->maps.ustacks0, skel->maps.ustacks1,
	};
	__u32 stack_entries = o->stack_entries ? o->stack_entries : 16384;
	__u32 count_entries = o->count_entries ? o->count_entries : 16384;
	size_t i;
	int err;

	skel->rodata->filter_pids = o->nr_pids > 0;
	skel->rodata->self_tgid = getpid();
	skel->rodata->include_idle = o->include_idle;
	skel->rodata->want_kernel = !o->no_kernel;
	skel->rodata->want_user = !o->no_user;
	if (o->comm) {
		skel->rodata->filter_comm = true;
		/* comm_filter is zero-filled; copy at most TASK_COMM_LEN - 1 bytes */
		memcpy((char *)skel->rodata->comm_filter, o->comm,
		       strnlen(o->comm, TASK_COMM_LEN - 1));
	}
	for (i = 0; i < sizeof(stack_maps) / sizeof(stack_maps[0]); i++) {
		err = bpf_map__set_max_entries(stack_maps[i], stack_entries);
		if (err)
			return err;
	}
	err = bpf_map__set_max_entries(skel->maps.counts0, count_entries);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.counts1, count_entries);
	if (!err)
		err = unwind_feeder__configure(skel, o);
	return err;
}

static int fill_pid_filter(struct collector *c, const struct collector_opts *o)
{
	int fd = bpf_map__fd(c->skel->maps.pid_filter), i, err;
	__u8 one = 1;

	if (o->nr_pids > MAX_FILTER_PIDS) {
		pr_warn("at most %d processes can be selected with -p", MAX_FILTER_PIDS);
		return -E2BIG;
	}
	for (i = 0; i < o->nr_pids; i++) {
		__u32 pid = o->pids[i];

		if (bpf_map_update_elem(fd, &pid, &one, BPF_ANY)) {
			err = -errno;
			pr_warn("cannot add pid %u to the filter: %s", pid, strerror(-err));
			return err;
		}
	}
	return 0;
}

static int attach_cpus(struct collector *c, const struct collector_opts *o)
{
	struct perf_event_attr attr = {
		.size = sizeof(attr),
		.sample_freq = o->freq,
		.freq = 1,
	};
	int cpu, fd, err;

	if (o->event == EVENT_CYCLES) {
		attr.type = PERF_TYPE_HARDWARE;
		attr.config = PERF_COUNT_HW_CPU_CYCLES;
	} else {
		attr.type = PERF_TYPE_SOFTWARE;
		attr.config = PERF_COUNT_SW_CPU_CLOCK;
	}
	c->links = calloc(c->nr_cpus_possible, sizeof(*c->links));
	if (!c->links)
		return -ENOMEM;
	for (cpu = 0; cpu < c->nr_cpus_possible; cpu++) {
		fd = perf_event_open(&attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
		if (fd < 0) {
			err = -errno;
			if (err == -ENODEV)	/* offline CPU */
				continue;
			if (o->event == EVENT_CYCLES && (err == -ENOENT || err == -EOPNOTSUPP))
				pr_warn("the cycles event is not available here (no hardware PMU?): use the default cpu-clock");
			else
				pr_warn("cannot open a perf event on cpu %d: %s", cpu, strerror(-err));
			return err;
		}
		c->links[c->nr_links] = bpf_program__attach_perf_event(c->skel->progs.do_sample, fd);
		if (!c->links[c->nr_links]) {
			err = -errno;
			close(fd);
			pr_warn("cannot attach the BPF program on cpu %d: %s", cpu, strerror(-err));
			return err;
		}
		c->nr_links++;
		c->nr_cpus++;
	}
	if (!c->nr_links) {
		pr_warn("no online CPU accepted a perf event");
		return -ENODEV;
	}
	return 0;
}

static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;

	if (size >= sizeof(struct proc_event) && c->event_fn)
		c->event_fn(c->event_ctx, data);
	return 0;
}

/* Process tracking: exec/exit tracepoints and the ring buffer they share. */
static int attach_events(struct collector *c)
{
	int err;

	c->events = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_ring_event, c, NULL);
	if (!c->events) {
		err = -errno;
		pr_warn("cannot set up the event ring buffer: %s", strerror(-err));
		return err;
	}
	c->exec_link = bpf_program__attach(c->skel->progs.on_exec);
	c->exit_link = bpf_program__attach(c->skel->progs.on_exit);
	if (!c->exec_link || !c->exit_link) {
		err = -errno;
		pr_warn("cannot attach to the sched raw tracepoints: %s", strerror(-err));
		return err;
	}
	return 0;
}

int collector__poll(struct collector *c, int timeout_ms, collector_event_fn fn, void *ctx)
{
	int n;

	c->event_fn = fn;
	c->event_ctx = ctx;
	n = ring_buffer__poll(c->events, timeout_ms);
	c->event_fn = NULL;
	return n;
}

void collector__poll_until(struct collector *c, double deadline, const volatile sig_atomic_t *stop,
			   collector_event_fn fn, void *ctx)
{
	double left;

	while (!*stop && (left = deadline - now_seconds()) > 0) {
		if (collector__poll(c, (int)(left * 1000) + 1, fn, ctx) == -EINTR)
			break;
	}
}

void collector__symbolizer_events(void *syms, const struct proc_event *ev)
{
	if (ev->type == EVENT_NEW)
		symbolizer__add_process(syms, ev->tgid);
	else
		symbolizer__process_exited(syms, ev->tgid);
}

struct collector *collector__new(const struct collector_opts *o)
{
	struct collector *c;
	int err;

	c = calloc(1, sizeof(*c));
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	c->nr_cpus_possible = libbpf_num_possible_cpus();
	if (c->nr_cpus_possible <= 0) {
		err = c->nr_cpus_possible ? c->nr_cpus_possible : -EINVAL;
		pr_warn("cannot count the CPUs: %s", strerror(-err));
		goto err_out;
	}
	c->skel = profiler_bpf__open();
	if (!c->skel) {
		err = -errno;
		pr_warn("cannot open the BPF object: %s", strerror(-err));
		goto err_out;
	}
	err = configure(c, o);
	if (err) {
		pr_warn("cannot configure the BPF object: %s", strerror(-err));
		goto err_out;
	}
	err = profiler_bpf__load(c->skel);
	if (err) {
		pr_warn("cannot load the BPF program: %s%s", strerror(-err),
			err == -EPERM || err == -EACCES ? " (run as root, or with CAP_BPF and CAP_PERFMON)" : "");
		goto err_out;
	}
	err = fill_pid_filter(c, o);
	if (err)
		goto err_out;
	c->counts_fd[0] = bpf_map__fd(c->skel->maps.counts0);
	c->counts_fd[1] = bpf_map__fd(c->skel->maps.counts1);
	c->kstack_fd[0] = bpf_map__fd(c->skel->maps.kstacks0);
	c->kstack_fd[1] = bpf_map__fd(c->skel->maps.kstacks1);
	c->ustack_fd[0] = bpf_map__fd(c->skel->maps.ustacks0);
	c->ustack_fd[1] = bpf_map__fd(c->skel->maps.ustacks1);
	err = attach_events(c);
	if (err)
		goto err_out;
	c->dstack_fd[0] = bpf_map__fd(c->skel->maps.ustacks_dwarf0);
	c->dstack_fd[1] = bpf_map__fd(c->skel->maps.ustacks_dwarf1);
	c->pystack_fd[0] = bpf_map__fd(c->skel->maps.pystacks0);
	c->pystack_fd[1] = bpf_map__fd(c->skel->maps.pystacks1);
	if (o->unwind != UNWIND_MODE_FP) {
		c->feeder = unwind_feeder__new(c->skel, o);
		if (!c->feeder) {
			err = -errno;
			goto err_out;
		}
	}
	err = attach_cpus(c, o);
	if (err)
		goto err_out;
	return c;

err_out:
	collector__free(c);
	errno = -err;
	return NULL;
}

int collector__stop(struct collector *c)
{
	int i, err = 0;

	for (i = 0; i < c->nr_links; i++) {
		if (bpf_link__destroy(c->links[i]) && !err)
			err = -errno;
		c->links[i] = NULL;
	}
	return err;
}

void collector__free(struct collector *c)
{
	if (!c)
		return;
	collector__stop(c);
	bpf_link__destroy(c->exec_link);
	bpf_link__destroy(c->exit_link);
	ring_buffer__free(c->events);
	free(c->links);
	unwind_feeder__free(c->feeder);
	profiler_bpf__destroy(c->skel);
	free(c->keys);
	free(c);
}

/*
 * Wait until no program run that read the old active_set is still going.
 * The programs run inside RCU read-side sections, so an RCU grace period is
 * enough; membarrier(MEMBARRIER_CMD_GLOBAL) waits for exactly that.
 */
static void wait_for_running_programs(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0) == 0)
		return;
	/* nohz_full kernels refuse it; a program run takes microseconds */
	nanosleep(&ts, NULL);
}

static int read_stack(int fd, __s32 id, __u64 *ips, int *nr)
{
	int i;

	*nr = 0;
	if (id < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &id, ips))
		return -errno;
	for (i = 0; i < MAX_STACK_DEPTH && ips[i]; i++)
		;
	*nr = i;
	return 0;
}

/* A stack of the BPF unwinder: innermost first, like the stack maps' */
/*
 * -v: how an incomplete user stack ended, with its pcs innermost first (the
 * last one is where the unwinder stopped), for `profile symbolize -p PID`.
 */
static void log_unwind_end(const struct sample_key *key, const __u64 *ips, int nr)
{
	char buf[512];
	size_t len = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < nr && len < sizeof(buf) - 20; i++)
		len += snprintf(buf + len, sizeof(buf) - len, " 0x%llx", (unsigned long long)ips[i]);
	pr_debug("pid %u (%.16s): unwind ended (%u) after %d frames:%s%s", key->tgid, key->comm,
		 key->unwind_end, nr, buf, i < nr ? " ..." : "");
}

static int read_dwarf_stack(int fd, __u64 hash, __u64 *ips, int *nr)
{
	struct unwind_stack st;

	*nr = 0;
	if (!hash)
		return 0;
	if (bpf_map_lookup_elem(fd, &hash, &st))
		return -errno;
	*nr = st.nr < MAX_STACK_DEPTH ? st.nr : MAX_STACK_DEPTH;
	memcpy(ips, st.ips, *nr * sizeof(*ips));
	return 0;
}

static void clear_dwarf_stacks(int fd)
{
	__u64 *keys = NULL, *prev = NULL, key;
	size_t n = 0, cap = 0, i;

	/* deleting while walking a hash map restarts the walk: collect, then delete */
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		if (n == cap) {
			__u64 *k = reallocarray(keys, cap = cap ? 2 * cap : 1024, sizeof(*k));

			if (!k)
				break;
			keys = k;
		}
		keys[n++] = key;
		prev = &keys[n - 1];
	}
	for (i = 0; i < n; i++)
		bpf_map_delete_elem(fd, &keys[i]);
	free(keys);
}

static int collect_keys(struct collector *c, int fd, size_t *nr)
{
	struct sample_key *prev = NULL, key;

	*nr = 0;
	while (bpf_map_get_next_key(fd, prev, &key) == 0) {
		if (*nr == c->cap_keys) {
			size_t cap = c->cap_keys ? c->cap_keys * 2 : 1024;
			struct sample_key *n = reallocarray(c->keys, cap, sizeof(*n));

			if (!n)
				return -ENOMEM;
			c->keys = n;
			c->cap_keys = cap;
		}
		c->keys[(*nr)++] = key;
		prev = &c->keys[*nr - 1];
	}
	return errno == ENOENT ? 0 : -errno;
}

static void clear_stack_map(int fd)
{
	__u32 id, next;
	__u32 *prev = NULL;

	/* stack ids are bucket indexes: get_next_key works from a deleted id */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		bpf_map_delete_elem(fd, &next);
		id = next;
		prev = &id;
	}
}

/* The Python stack of @hash into @py; NULL when there is none. */
static const struct py_stack *read_py_stack(int fd, __u64 hash, struct py_stack *py)
{
	if (!hash || bpf_map_lookup_elem(fd, &hash, py))
		return NULL;
	if (py->nr > MAX_PY_DEPTH)
		py->nr = MAX_PY_DEPTH;
	return py->nr ? py : NULL;
}

int collector__drain(struct collector *c, collector_sample_fn fn, void *ctx)
{
	__u64 kips[MAX_STACK_DEPTH], uips[MAX_STACK_DEPTH];
	struct py_stack pybuf;
	const struct py_stack *py;
	__u32 old = c->skel->bss->active_set;
	int nr_k, nr_u, err, first_err = 0;
	size_t nr, i;

	__atomic_store_n(&c->skel->bss->active_set, !old, __ATOMIC_SEQ_CST);
	wait_for_running_programs();

	err = collect_keys(c, c->counts_fd[old], &nr);
	if (err) {
		pr_warn("cannot read the counts map: %s", strerror(-err));
		first_err = err;
	}
	for (i = 0; i < nr; i++) {
		const struct sample_key *key = &c->keys[i];
		__u64 count;

		if (bpf_map_lookup_elem(c->counts_fd[old], key, &count))
			continue;
		bpf_map_delete_elem(c->counts_fd[old], key);
		if (read_stack(c->kstack_fd[old], key->kern_stack_id, kips, &nr_k) ||
		    read_stack(c->ustack_fd[old], key->user_stack_id, uips, &nr_u) ||
		    (key->ustack_hash &&
		     read_dwarf_stack(c->dstack_fd[old], key->ustack_hash, uips, &nr_u))) {
			c->unreadable += count;
			continue;
		}
		if (key->unwind_end < UNWIND_END_MAX)
			c->unwind_end[key->unwind_end] += count;
		if (key->unwind_end > UNWIND_END_ROOT && log_is_verbose())
			log_unwind_end(key, uips, nr_u);
		py = read_py_stack(c->pystack_fd[old], key->pystack_hash, &pybuf);
		if (py) {
			c->py_samples += count;
			if (py->end != PY_END_DONE)
				c->py_truncated += count;
		}
		err = fn(ctx, key, count, kips, nr_k, uips, nr_u, py);
		if (err && !first_err)
			first_err = err;
	}
	clear_stack_map(c->kstack_fd[old]);
	clear_stack_map(c->ustack_fd[old]);
	if (c->feeder) {
		clear_dwarf_stacks(c->dstack_fd[old]);
		clear_dwarf_stacks(c->pystack_fd[old]);
	}
	return first_err;
}

static void add_prog_runtime(struct bpf_program *prog, struct collector_stats *st)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(prog);

	if (fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len)) {
		st->bpf_run_ns += info.run_time_ns;
		st->bpf_runs += info.run_cnt;
	}
}

int collector__stats(struct collector *c, struct collector_stats *st)
{
	int fd = bpf_map__fd(c->skel->maps.stats), cpu, err;
	__u64 *vals;
	__u32 i;

	memset(st, 0, sizeof(*st));
	vals = calloc(c->nr_cpus_possible, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (i = 0; i < STAT_MAX; i++) {
		if (bpf_map_lookup_elem(fd, &i, vals)) {
			err = -errno;
			free(vals);
			return err;
		}
		for (cpu = 0; cpu < c->nr_cpus_possible; cpu++)
			st->stat[i] += vals[cpu];
	}
	free(vals);
	st->unreadable = c->unreadable;
	st->nr_cpus = c->nr_cpus;
	memcpy(st->unwind_end, c->unwind_end, sizeof(st->unwind_end));
	st->py_samples = c->py_samples;
	st->py_truncated = c->py_truncated;
	unwind_feeder__stats(c->feeder, st);
	add_prog_runtime(c->skel->progs.do_sample, st);
	add_prog_runtime(c->skel->progs.on_exec, st);
	add_prog_runtime(c->skel->progs.on_exit, st);
	add_prog_runtime(c->skel->progs.unwind_on_fork, st);
	add_prog_runtime(c->skel->progs.unwind_on_mmap, st);
	return 0;
}
