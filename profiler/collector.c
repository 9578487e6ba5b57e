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
#include "common/hashmap.h"
#include "common/log.h"

/*
 * The stacks of one drain, packed back to back: each map's id or hash ->
 * offset << 8 | number of pcs. Each distinct stack is read once per drain,
 * however many counts use it.
 */
struct stack_pool {
	struct hashmap kernel, user, dwarf;
	__u64 *ips;
	size_t nr, cap;
};

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
	struct ring_buffer *events;	/* without a feeder, which reads it otherwise */
	__u64 nr_events[EVENT_SCAN + 1];
	struct bpf_link *exec_link, *exit_link;
	collector_event_fn event_fn;
	void *event_ctx;
	__u64 unwind_end[UNWIND_END_MAX];
	__u64 py_samples, py_truncated;
	/* drain buffers, reused across drains */
	struct sample_key *keys;
	__u64 *counts;
	size_t cap_keys;
	struct unwind_stack *dbuf;	/* one batch of the unwinder's stacks */
	__u64 *dkeys;
	struct stack_pool pool;
	bool stack_lad_unsupported;	/* no lookup-and-delete on stack trace maps */
};

static void pool_reset(struct stack_pool *p)
{
	hashmap__release(&p->kernel);
	hashmap__release(&p->user);
	hashmap__release(&p->dwarf);
	p->nr = 0;
}

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

/* Frame-pointer mode: only the sampler's events, for the main thread. */
static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct collector *c = ctx;
	struct proc_event ev;
	__u32 type;

	if (size < sizeof(ev))
		return 0;
	memcpy(&ev, data, sizeof(ev));
	type = EVENT_TYPE(ev.type);
	if (type <= EVENT_SCAN)
		c->nr_events[type]++;
	if (type == EVENT_SCAN || (type != EVENT_NEW && !(ev.type & EVENT_F_SAMPLED)))
		return 0;
	ev.type = type;
	if (c->event_fn)
		c->event_fn(c->event_ctx, &ev);
	return 0;
}

/*
 * Process tracking: the exec/exit tracepoints. Their ring buffer is read
 * here in frame-pointer mode, else by the unwind feeder's thread.
 */
static int attach_events(struct collector *c, const struct collector_opts *o)
{
	int err;

	if (o->unwind == UNWIND_MODE_FP) {
		c->events = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_ring_event, c,
					     NULL);
		if (!c->events) {
			err = -errno;
			pr_warn("cannot set up the event ring buffer: %s", strerror(-err));
			return err;
		}
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
	int n, m;

	if (c->feeder)
		return unwind_feeder__poll(c->feeder, timeout_ms, fn, ctx);
	if (!c->events)
		return 0;
	c->event_fn = fn;
	c->event_ctx = ctx;
	/* the next urgent event wakes us (see event_flags() in bpf/profiler.bpf.c) */
	__atomic_store_n(&c->skel->bss->events_reader_asleep, 1, __ATOMIC_SEQ_CST);
	n = ring_buffer__consume(c->events);
	if (n == 0)
		n = ring_buffer__poll(c->events, timeout_ms);
	/* the events that did not wake us */
	if (n >= 0) {
		m = ring_buffer__consume(c->events);
		n = m < 0 ? m : n + m;
	}
	c->event_fn = NULL;
	return n;
}

void collector__poll_until(struct collector *c, double deadline, const volatile sig_atomic_t *stop,
			   collector_event_fn fn, void *ctx)
{
	double left;

	while (!*stop && (left = deadline - now_seconds()) > 0) {
		if (collector__poll(c, (int)(left * 1000) + 1, fn, ctx) == -EINTR)
			return;
	}
	if (!*stop)
		collector__poll(c, 0, fn, ctx);
}

void collector__symbolizer_events(void *syms, const struct proc_event *ev)
{
	if (ev->type == (EVENT_NEW | EVENT_F_BY_FILE))
		symbolizer__add_process_by_file(syms, ev->tgid);
	else if (EVENT_TYPE(ev->type) == EVENT_NEW)
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
	err = attach_events(c, o);
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
	free(c->counts);
	free(c->dbuf);
	free(c->dkeys);
	pool_reset(&c->pool);
	free(c->pool.ips);
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

/* Append @nr pcs to the pool under @key in @index; -ENOMEM leaves the stack unread. */
static int pool_add(struct stack_pool *p, struct hashmap *index, __u64 key, const __u64 *ips,
		    __u32 nr)
{
	if (p->nr + nr > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		__u64 *n;

		while (cap < p->nr + nr)
			cap *= 2;
		n = reallocarray(p->ips, cap, sizeof(*n));
		if (!n)
			return -ENOMEM;
		p->ips = n;
		p->cap = cap;
	}
	if (hashmap__set(index, key, (uint64_t)p->nr << 8 | nr))
		return -ENOMEM;
	memcpy(p->ips + p->nr, ips, nr * sizeof(*ips));
	p->nr += nr;
	return 0;
}

/* The pcs stored under @key, valid until the next pool_add(); NULL when there are none. */
static const __u64 *pool_get(const struct stack_pool *p, const struct hashmap *index, __u64 key,
			     int *nr)
{
	uint64_t v;

	if (!hashmap__get(index, key, &v))
		return NULL;
	*nr = v & 0xff;
	return p->ips + (v >> 8);
}

/*
 * Stack @id of a stack trace map, read once per drain and deleted as it is
 * read (the kernel takes lookup-and-delete on stack trace maps since 6.x;
 * before that, a lookup and a delete). Returns 0 or -errno.
 */
static int read_stack(struct collector *c, int fd, struct hashmap *index, __s32 id)
{
	__u64 ips[MAX_STACK_DEPTH];
	uint64_t v;
	int i;

	if (id < 0 || hashmap__get(index, id, &v))
		return 0;
	if (c->stack_lad_unsupported || bpf_map_lookup_and_delete_elem(fd, &id, ips)) {
		if (!c->stack_lad_unsupported && errno != ENOENT) {
			c->stack_lad_unsupported = true;
			pr_debug("stack trace maps: no lookup-and-delete (%s), lookup then delete",
				 strerror(errno));
		}
		if (bpf_map_lookup_elem(fd, &id, ips))
			return -errno;
		bpf_map_delete_elem(fd, &id);
	}
	for (i = 0; i < MAX_STACK_DEPTH && ips[i]; i++)
		;
	return pool_add(&c->pool, index, id, ips, i);
}

/* Delete what no count referred to (a sample dropped after its stack was stored). */
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

#define DRAIN_BATCH 64

/*
 * Read and delete every stack of the BPF unwinder's map @fd into the pool,
 * DRAIN_BATCH a syscall. A hash bucket holding more than that (ENOSPC) is
 * read one element at a time.
 */
static int read_dwarf_stacks(struct collector *c, int fd)
{
	__u32 token, count, i;
	bool first = true;
	int err = 0;

	if (!c->dbuf || !c->dkeys) {
		free(c->dbuf);
		free(c->dkeys);
		c->dbuf = calloc(DRAIN_BATCH, sizeof(*c->dbuf));
		c->dkeys = calloc(DRAIN_BATCH, sizeof(*c->dkeys));
		if (!c->dbuf || !c->dkeys)
			return -ENOMEM;
	}
	do {
		count = DRAIN_BATCH;
		if (bpf_map_lookup_and_delete_batch(fd, first ? NULL : &token, &token, c->dkeys,
						    c->dbuf, &count, NULL))
			err = -errno;
		first = false;
		for (i = 0; i < count; i++) {
			__u32 nr = c->dbuf[i].nr < MAX_STACK_DEPTH ? c->dbuf[i].nr : MAX_STACK_DEPTH;

			/* already deleted from the map: reported, so the drain counts it */
			if (pool_add(&c->pool, &c->pool.dwarf, c->dkeys[i], c->dbuf[i].ips, nr))
				return -ENOMEM;
		}
	} while (!err);
	if (err == -ENOENT)
		return 0;
	if (err == -ENOSPC) {
		__u64 key;

		while (bpf_map_get_next_key(fd, NULL, &key) == 0) {
			if (bpf_map_lookup_and_delete_elem(fd, &key, c->dbuf))
				return -errno;
			count = c->dbuf->nr < MAX_STACK_DEPTH ? c->dbuf->nr : MAX_STACK_DEPTH;
			if (pool_add(&c->pool, &c->pool.dwarf, key, c->dbuf->ips, count))
				return -ENOMEM;
		}
		return 0;
	}
	return err;
}

static int grow_keys(struct collector *c)
{
	size_t cap = c->cap_keys ? c->cap_keys * 2 : 1024;
	struct sample_key *k = reallocarray(c->keys, cap, sizeof(*k));
	__u64 *v;

	if (!k)
		return -ENOMEM;
	c->keys = k;
	v = reallocarray(c->counts, cap, sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->counts = v;
	c->cap_keys = cap;
	return 0;
}

/* Read and delete the counts of map @fd, in batches; *nr of them in c->keys, c->counts. */
static int read_counts(struct collector *c, int fd, size_t *nr)
{
	__u32 token, count;
	bool first = true;
	int err;

	*nr = 0;
	for (;;) {
		if (c->cap_keys - *nr < DRAIN_BATCH && (err = grow_keys(c)))
			return err;
		count = c->cap_keys - *nr;
		if (!bpf_map_lookup_and_delete_batch(fd, first ? NULL : &token, &token,
						     c->keys + *nr, c->counts + *nr, &count, NULL)) {
			*nr += count;
			first = false;
			continue;
		}
		err = -errno;
		*nr += count;
		if (err == -ENOENT)
			return 0;
		/* a hash bucket larger than the room left: grow, then the same bucket again */
		if (err != -ENOSPC || count || (err = grow_keys(c)))
			return err;
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
	const __u64 *kips, *uips;
	struct py_stack pybuf;
	const struct py_stack *py;
	__u32 old = c->skel->bss->active_set;
	int nr_k, nr_u, err, first_err = 0;
	size_t nr, i;

	__atomic_store_n(&c->skel->bss->active_set, !old, __ATOMIC_SEQ_CST);
	wait_for_running_programs();

	pool_reset(&c->pool);
	err = read_counts(c, c->counts_fd[old], &nr);
	if (err) {
		pr_warn("cannot read the counts map: %s", strerror(-err));
		first_err = err;
	}
	if (c->feeder) {
		err = read_dwarf_stacks(c, c->dstack_fd[old]);
		if (err) {
			pr_warn("cannot read the unwound stacks: %s", strerror(-err));
			first_err = first_err ?: err;
			/* what is left would fill the map: the BPF unwinder could store no more */
			clear_dwarf_stacks(c->dstack_fd[old]);
		}
	}
	for (i = 0; i < nr; i++) {
		const struct sample_key *key = &c->keys[i];
		__u64 count = c->counts[i];

		if (read_stack(c, c->kstack_fd[old], &c->pool.kernel, key->kern_stack_id) ||
		    read_stack(c, c->ustack_fd[old], &c->pool.user, key->user_stack_id)) {
			c->unreadable += count;
			continue;
		}
		/* after the reads: they may move the pool */
		nr_k = nr_u = 0;
		kips = key->kern_stack_id < 0 ? NULL :
		       pool_get(&c->pool, &c->pool.kernel, key->kern_stack_id, &nr_k);
		if (key->ustack_hash)
			uips = pool_get(&c->pool, &c->pool.dwarf, key->ustack_hash, &nr_u);
		else
			uips = key->user_stack_id < 0 ? NULL :
			       pool_get(&c->pool, &c->pool.user, key->user_stack_id, &nr_u);
		if ((key->kern_stack_id >= 0 && !kips) ||
		    ((key->ustack_hash || key->user_stack_id >= 0) && !uips)) {
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
	/* stacks no count used: one look each when there are none */
	clear_stack_map(c->kstack_fd[old]);
	clear_stack_map(c->ustack_fd[old]);
	if (c->feeder)
		clear_dwarf_stacks(c->pystack_fd[old]);
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
	memcpy(st->events, c->nr_events, sizeof(st->events));
	unwind_feeder__stats(c->feeder, st);
	add_prog_runtime(c->skel->progs.do_sample, st);
	add_prog_runtime(c->skel->progs.on_exec, st);
	add_prog_runtime(c->skel->progs.on_exit, st);
	add_prog_runtime(c->skel->progs.unwind_on_fork, st);
	add_prog_runtime(c->skel->progs.unwind_on_unmapped_area, st);
	add_prog_runtime(c->skel->progs.unwind_on_mmap_unlock, st);
	return 0;
}
