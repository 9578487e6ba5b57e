// SPDX-License-Identifier: GPL-2.0
/*
 * The unwinder's user-space half: which binary each executable mapping of a
 * process holds, that binary's unwind table (built once, found again by
 * device/inode or build id), and the load bias turning addresses into ELF
 * addresses. Rows are written into the rows map through a passing mmap; table
 * ranges and process mappings are written to their BPF maps after the rows
 * they point to, so the BPF side never sees a table before its rows. When
 * room runs out, tables no known process maps are evicted, least recently
 * mapped first: unpublished, then (after an RCU grace period) their rows and
 * ids are reused. An evicted table's rows are kept, packed, under a byte
 * budget: when its binary is mapped again (the same file: build id, else
 * modification time and size), they go back without a new derivation.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/eventfd.h>
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <elfutils/libdwelf.h>
#include <gelf.h>

#include "unwind.h"
#include "unwind_internal.h"
#include "common/array.h"
#include "common/clock.h"
#include "common/sigbus.h"
#include "common/hashmap.h"
#include "common/hex.h"
#include "common/log.h"
#include "symbolizer/symbolizer.h"

struct load_seg {
	__u64 offset, vaddr, filesz;
};

struct bin {
	__u32 table;		/* valid when has_table */
	bool has_table;
	bool retry;		/* no table for lack of room, or evicted: build when mapped again */
	/*
	 * More rows than this were needed when it did not fit: it is built
	 * again only once that many are free, not at every scan of a process
	 * mapping it (mmaps trigger scans every 100 ms).
	 */
	__u32 min_rows;
	struct load_seg *segs;	/* executable PT_LOADs */
	size_t nr_segs;
	/* the file the table was derived from */
	__u64 build_id;		/* build_id_key(), 0 without one */
	__s64 mtime_ns;
	__u64 size;
	/* evicted: its rows, packed (unwind_internal.h), or NULL */
	void *kept;
	size_t kept_size;
	__u32 kept_rows;
	__u64 kept_clock;	/* when evicted: the budget drops the oldest first */
	double stamp_checked_ms;	/* when a file of it was last checked for a change */
	__u32 gen;		/* moves when its file info is replaced */
	bool queued;		/* its table is being derived by the worker */
};

/* The file a bin's table comes from, as bin_for_map() opened it. */
struct bin_file {
	__u64 build_id;
	__s64 mtime_ns;
	__u64 size;
	void *map;		/* its private mapping, when its pages may be dropped as read */
	int fd;			/* the file, open */
};

/*
 * A table derived in the background (opts.background): this many bytes of
 * call frame information, or of code (1/64 counted: gaps are probed), or
 * more. cc1's 2.4 MB of .eh_frame take 0.4-0.9 s; 512 kB about 0.1 s.
 */
#define DEFER_COST (512u << 10)

/* A table derived by the worker thread, packed, for the owner to publish. */
struct build_job {
	struct build_job *next;
	int bin;
	__u32 gen;		/* the bin's file generation it was asked for */
	__u64 cost;
	char *name;
	void *map;		/* the file, mapped privately for the job alone */
	size_t map_len;
	size_t max_rows;
	/* results */
	int err;
	void *blob;
	size_t size, nr, unsupported;
	double seconds;		/* of the worker's CPU */
};

/* A process waiting for bin @bin's table from the worker. */
struct waiter {
	__u32 tgid;
	int bin;
};

/* How often a tabled file's change time is checked, at most (a stat), per binary. */
#define STAMP_CHECK_MS 1000

struct row_range {
	__u32 first, nr;
};

struct unwinder {
	struct unwinder_opts opts;
	char *proc_root;
	struct unwind_row *rows;	/* without BPF (rows_fd < 0): the rows, on the heap */
	struct unwind_table *tables;	/* user-space copy of the tables map */
	__u32 nr_rows, nr_tables;	/* high-water marks of rows and table ids */
	__u32 used_rows;		/* rows of live tables */
	bool warned_full;
	/*
	 * Tables no known process maps any more are evicted when room runs
	 * out: their rows and ids are reused.
	 */
	__u32 *table_refs;		/* mappings of known processes per table id */
	__u64 *table_used;		/* per table id: clock when last mapped or let go */
	__u64 clock;			/* moves at every change of the mappings known */
	int *table_bin;			/* bin per table id, -1 when free */
	struct row_range *free_rows;	/* sorted, merged */
	size_t nr_free_rows, cap_free_rows;
	__u32 *free_ids;
	size_t nr_free_ids;
	size_t evicted;

	struct bin *bins;
	size_t nr_bins, cap_bins;
	struct hashmap bin_by_inode;	/* hash(dev, inode) -> bin index */
	struct hashmap bin_by_build_id;	/* hash(build id) -> bin index */
	/*
	 * hash(dev, inode) -> the file's change time (ns) when its content was
	 * last known, for the BPF side (struct unwind_file)
	 */
	struct hashmap ctime_by_inode;
	int vdso_bin;			/* -1: none */

	struct hashmap procs;		/* tgid -> struct unwind_proc * */
	struct unwind_files *files;	/* tabled binaries by (device, inode), for BPF */
	size_t scans, builds, restores;
	double build_seconds;
	bool deferring;			/* in unwinder__scan_process_soon() */
	struct waiter *waiters;		/* processes waiting for the worker's tables */
	size_t nr_waiters, cap_waiters;
	/*
	 * The worker thread (opts.background): derives the big tables, a job
	 * at a time, cheapest first. jobs_lock: the two lists and stop.
	 */
	pthread_t worker;
	bool worker_started;
	pthread_mutex_t jobs_lock;
	pthread_cond_t jobs_cond;
	struct build_job *todo, *done;
	bool worker_stop;
	int done_fd;			/* eventfd: a job is done */
	size_t kept, kept_bytes;	/* bins with kept rows, and their bytes */
};

static int add_bin(struct unwinder *u)
{
	if (u->nr_bins == u->cap_bins) {
		size_t cap = u->cap_bins ? 2 * u->cap_bins : 64;
		struct bin *n = reallocarray(u->bins, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;
		u->bins = n;
		u->cap_bins = cap;
	}
	memset(&u->bins[u->nr_bins], 0, sizeof(u->bins[0]));
	return u->nr_bins++;
}

static int read_exec_segments(Elf *elf, struct bin *b)
{
	size_t phnum, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	b->segs = calloc(phnum ? phnum : 1, sizeof(*b->segs));
	if (!b->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		b->segs[b->nr_segs].offset = ph.p_offset;
		b->segs[b->nr_segs].vaddr = ph.p_vaddr;
		b->segs[b->nr_segs].filesz = ph.p_filesz;
		b->nr_segs++;
	}
	return b->nr_segs ? 0 : -ENOEXEC;
}

/*
 * Rows are copied to and from the table through a mapping of just the pages
 * they fall in, unmapped again at once. A mapping left in place would count
 * every page written in our RSS for good.
 */
static int copy_rows_window(struct unwinder *u, __u32 first, struct unwind_row *rows, size_t nr,
			    bool to_map)
{
	size_t page = sysconf(_SC_PAGESIZE);
	size_t from = (size_t)first * sizeof(*rows), len = nr * sizeof(*rows);
	size_t off = from & ~(page - 1);
	size_t span = ((from + len + page - 1) & ~(page - 1)) - off;
	char *p;

	p = mmap(NULL, span, to_map ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED,
		 u->opts.rows_fd, off);
	if (p == MAP_FAILED) {
		int err = -errno;

		pr_warn("cannot map unwind rows %zu-%zu: %s", off, off + span, strerror(-err));
		return err;
	}
	if (to_map)
		memcpy(p + (from - off), rows, len);
	else
		memcpy(rows, p + (from - off), len);
	munmap(p, span);
	return 0;
}

/* Rows go through a window of this many at a time: a big table's pages are never all mapped. */
#define ROWS_WINDOW 16384

/*
 * Copy @nr rows to rows [@first, @first + @nr) of the table (@to_map), or
 * from there to @rows.
 */
static int copy_rows(struct unwinder *u, __u32 first, struct unwind_row *rows, size_t nr,
		     bool to_map)
{
	size_t done, n;
	int err = 0;

	if (u->opts.rows_fd < 0) {
		if (to_map)
			memcpy(&u->rows[first], rows, nr * sizeof(*rows));
		else
			memcpy(rows, &u->rows[first], nr * sizeof(*rows));
		return 0;
	}
	for (done = 0; done < nr && !err; done += n) {
		n = nr - done < ROWS_WINDOW ? nr - done : ROWS_WINDOW;
		err = copy_rows_window(u, first + done, rows + done, n, to_map);
	}
	return err;
}

static int write_rows(struct unwinder *u, __u32 first, const struct unwind_row *rows, size_t nr)
{
	return copy_rows(u, first, (struct unwind_row *)rows, nr, true);
}

/* Row slots of @t's index. */
static __u32 index_slots(const struct unwind_table *t)
{
	return (t->nidx + UNWIND_INDEX_PER_SLOT - 1) / UNWIND_INDEX_PER_SLOT;
}

/* Row slots @t takes in all: its rows and its index. */
static __u32 table_slots(const struct unwind_table *t)
{
	return t->nr + index_slots(t);
}

/* First fit in the freed ranges, else past the high-water mark. */
static int alloc_rows(struct unwinder *u, __u32 nr, __u32 *first)
{
	size_t i;

	for (i = 0; i < u->nr_free_rows; i++) {
		struct row_range *r = &u->free_rows[i];

		if (r->nr < nr)
			continue;
		*first = r->first;
		r->first += nr;
		r->nr -= nr;
		if (!r->nr)
			memmove(r, r + 1, (--u->nr_free_rows - i) * sizeof(*r));
		return 0;
	}
	if (nr > u->opts.max_rows - u->nr_rows)
		return -ENOSPC;
	*first = u->nr_rows;
	u->nr_rows += nr;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct row_range *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

static int free_rows(struct unwinder *u, __u32 first, __u32 nr)
{
	size_t i, out = 0;

	if (u->nr_free_rows == u->cap_free_rows) {
		size_t cap = u->cap_free_rows ? 2 * u->cap_free_rows : 16;
		struct row_range *n = reallocarray(u->free_rows, cap, sizeof(*n));

		if (!n)
			return -ENOMEM;	/* the rows stay lost until the end of the run */
		u->free_rows = n;
		u->cap_free_rows = cap;
	}
	u->free_rows[u->nr_free_rows++] = (struct row_range){ first, nr };
	qsort(u->free_rows, u->nr_free_rows, sizeof(*u->free_rows), cmp_range);
	for (i = 0; i < u->nr_free_rows; i++) {
		struct row_range *r = &u->free_rows[i];

		if (out && u->free_rows[out - 1].first + u->free_rows[out - 1].nr == r->first)
			u->free_rows[out - 1].nr += r->nr;
		else
			u->free_rows[out++] = *r;
	}
	u->nr_free_rows = out;
	/* a free range at the top lowers the high-water mark */
	if (out && u->free_rows[out - 1].first + u->free_rows[out - 1].nr == u->nr_rows) {
		u->nr_rows = u->free_rows[out - 1].first;
		u->nr_free_rows--;
	}
	return 0;
}

/*
 * Wait until no BPF program run can still be reading rows just unpublished.
 * The programs run under RCU: one grace period, which MEMBARRIER_CMD_GLOBAL
 * waits for (nohz_full kernels refuse it; a run takes microseconds).
 */
static void wait_for_readers(struct unwinder *u)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	if (u->opts.tables_fd < 0)
		return;
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0))
		nanosleep(&ts, NULL);
}

static bool is_evictable(const struct unwinder *u, __u32 id)
{
	int bin = u->table_bin[id];

	return bin >= 0 && !u->table_refs[id] && bin != u->vdso_bin;
}

/* Rows that evicting every table no known process maps would give back. */
static __u32 evictable_rows(const struct unwinder *u)
{
	__u32 id, rows = 0;

	for (id = 0; id < u->nr_tables; id++)
		rows += is_evictable(u, id) ? table_slots(&u->tables[id]) : 0;
	return rows;
}

static void drop_kept(struct unwinder *u, struct bin *b)
{
	if (!b->kept)
		return;
	free(b->kept);
	u->kept--;
	u->kept_bytes -= b->kept_size;
	b->kept = NULL;
	b->kept_size = 0;
	b->kept_rows = 0;
}

struct rows_at {
	struct unwinder *u;
	__u32 first;
};

static int read_rows_cb(void *ctx, size_t at, size_t n, struct unwind_row *out)
{
	struct rows_at *r = ctx;

	return copy_rows(r->u, r->first + at, out, n, false);
}

static int write_rows_cb(void *ctx, size_t at, const struct unwind_row *rows, size_t n)
{
	struct rows_at *r = ctx;

	return write_rows(r->u, r->first + at, rows, n);
}

/*
 * Give @b the packed rows @blob (taken over), dropping the kept rows evicted
 * longest ago while the budget is short.
 */
static void set_kept(struct unwinder *u, struct bin *b, void *blob, size_t size, __u32 nr)
{
	size_t i;

	drop_kept(u, b);
	if (size > u->opts.keep_bytes) {
		free(blob);
		return;
	}
	while (u->kept_bytes + size > u->opts.keep_bytes) {
		struct bin *oldest = NULL;

		for (i = 0; i < u->nr_bins; i++) {
			if (u->bins[i].kept && (!oldest || u->bins[i].kept_clock < oldest->kept_clock))
				oldest = &u->bins[i];
		}
		drop_kept(u, oldest);
	}
	b->kept = blob;
	b->kept_size = size;
	b->kept_rows = nr;
	b->kept_clock = ++u->clock;
	u->kept++;
	u->kept_bytes += size;
}

/*
 * Keep the rows of table @id (about to be evicted) with its bin, packed;
 * the kept rows evicted longest ago go when the budget is short.
 */
static void keep_rows(struct unwinder *u, __u32 id)
{
	struct rows_at at = { u, u->tables[id].first };
	struct bin *b = &u->bins[u->table_bin[id]];
	size_t size;
	void *blob;

	if (!u->opts.keep_bytes ||
	    unwind_pack__rows(read_rows_cb, &at, u->tables[id].nr, &blob, &size))
		return;
	set_kept(u, b, blob, size, u->tables[id].nr);
}

static int cmp_last_used(const void *a, const void *b, void *ctx)
{
	const __u64 *used = ctx;
	__u32 x = *(const __u32 *)a, y = *(const __u32 *)b;

	return used[x] < used[y] ? -1 : used[x] > used[y];
}

/*
 * Evict tables no known process maps, least recently mapped first, until
 * @want rows are given back (and at least one table id). A binary run over
 * and over by short processes (a compiler in a build loop) was mapped last
 * a moment ago: it stays, and is not rebuilt for each of them. Returns how
 * many tables went.
 */
static size_t evict_lru(struct unwinder *u, __u32 want)
{
	struct unwind_table none = { 0 };
	__u32 *ids, nr_ids = 0, id, freed = 0, i;
	size_t n = 0;

	ids = calloc(u->nr_tables ? u->nr_tables : 1, sizeof(*ids));
	if (!ids)
		return 0;
	for (id = 0; id < u->nr_tables; id++) {
		if (is_evictable(u, id))
			ids[nr_ids++] = id;
	}
	qsort_r(ids, nr_ids, sizeof(*ids), cmp_last_used, u->table_used);
	for (i = 0; i < nr_ids && (freed < want || !n); i++) {
		int bin;

		id = ids[i];
		bin = u->table_bin[id];
		keep_rows(u, id);
		/* rows given back first: on failure the table stays published and whole */
		if (free_rows(u, u->tables[id].first, u->tables[id].nr))
			continue;
		/* the index's slots: when that fails, only they are lost until the end of the run */
		if (u->tables[id].nidx)
			free_rows(u, u->tables[id].idx_first, index_slots(&u->tables[id]));
		/*
		 * Unpublished before anything reuses the rows (after the grace
		 * period below): the BPF side falls back to frame pointers there.
		 */
		if (u->opts.tables_fd >= 0)
			bpf_map_update_elem(u->opts.tables_fd, &id, &none, BPF_ANY);
		unwind_files__drop_table(u->files, id);
		freed += table_slots(&u->tables[id]);
		u->used_rows -= table_slots(&u->tables[id]);
		u->tables[id] = none;
		u->table_bin[id] = -1;
		u->free_ids[u->nr_free_ids++] = id;
		u->bins[bin].has_table = false;
		u->bins[bin].retry = true;
		n++;
	}
	free(ids);
	if (n) {
		/* after the unpublishing: a run that sees the new generation sees that too */
		if (u->opts.tables_gen)
			__atomic_add_fetch(u->opts.tables_gen, 1, __ATOMIC_RELEASE);
		wait_for_readers(u);
		u->evicted += n;
		pr_debug("evicted %zu unwind tables no process maps any more (%u rows)", n, freed);
	}
	return n;
}

static void warn_full(struct unwinder *u, const char *name)
{
	if (!u->warned_full)
		pr_warn("unwind tables are full (%u rows, %u binaries): '%s' and others fall back to frame pointers until tables no process maps can be evicted",
			u->used_rows, u->nr_tables - (__u32)u->nr_free_ids, name);
	u->warned_full = true;
}

/* Room for @nr rows of bin @bin, and a table id, evicting others as needed. */
static int reserve_rows(struct unwinder *u, int bin, size_t nr, const char *name, __u32 *first)
{
	bool ids_left = u->nr_free_ids || u->nr_tables < u->opts.max_tables;

	/* freed rows need not be contiguous: evict more until the table fits */
	while (!ids_left || alloc_rows(u, nr, first)) {
		if (!evict_lru(u, nr)) {
			warn_full(u, name);
			u->bins[bin].retry = true;
			return -ENOSPC;
		}
		ids_left = true;
	}
	return 0;
}

/* Tables smaller than this are searched whole: a few steps anyway. */
#define INDEX_MIN_ROWS 64

/*
 * Give table @t (its rows written) an index, in row slots of its own: the
 * BPF search then starts from the bucket of a pc instead of the whole table
 * (see struct unwind_table). Buckets are the smallest power of two of code
 * that keeps about UNWIND_INDEX_ROWS rows each on average, so the index
 * costs a sixteenth of the rows' memory. Without room for it, or memory,
 * the table is searched whole.
 */
static void index_table(struct unwinder *u, struct unwind_table *t)
{
	struct unwind_row *win = NULL;
	__u32 *idx = NULL, first_pc, last_pc, k, slots, shift = 4, at;
	size_t i, n;

	if (t->nr < INDEX_MIN_ROWS)
		return;
	win = malloc((t->nr < ROWS_WINDOW ? t->nr : ROWS_WINDOW) * sizeof(*win));
	if (!win || copy_rows(u, t->first, win, 1, false) ||
	    copy_rows(u, t->first + t->nr - 1, win + 1, 1, false))
		goto out;
	first_pc = win[0].pc;
	last_pc = win[1].pc;
	if (last_pc < first_pc)
		goto out;
	while (shift < 31 && ((last_pc - first_pc) >> shift) + 1 > t->nr / UNWIND_INDEX_ROWS)
		shift++;
	t->nidx = ((last_pc - first_pc) >> shift) + 1;
	slots = index_slots(t);
	idx = calloc((size_t)slots * UNWIND_INDEX_PER_SLOT + 1, sizeof(*idx));
	if (!idx || alloc_rows(u, slots, &at)) {
		t->nidx = 0;
		goto out;
	}
	/* rows per bucket, then entry k = rows below bucket k: a running sum */
	for (i = 0; i < t->nr; i += n) {
		n = t->nr - i < ROWS_WINDOW ? t->nr - i : ROWS_WINDOW;
		if (copy_rows(u, t->first + i, win, n, false))
			break;
		for (k = 0; k < n; k++) {
			__u32 b = (win[k].pc - first_pc) >> shift;

			idx[(b < t->nidx ? b : t->nidx - 1) + 1]++;
		}
	}
	for (k = 1; k < t->nidx; k++)
		idx[k] += idx[k - 1];
	if (i < t->nr ||
	    copy_rows(u, at, (struct unwind_row *)idx, slots, true)) {
		free_rows(u, at, slots);
		t->nidx = 0;
		goto out;
	}
	t->idx_first = at;
	t->base = first_pc;
	t->shift = shift;
out:
	free(idx);
	free(win);
}

/*
 * Publish rows [@first, @first + @nr), written already, as the table of bin
 * @bin. On failure the rows are given back.
 */
static int publish_table(struct unwinder *u, int bin, __u32 first, size_t nr, const char *name)
{
	struct unwind_table t = { .first = first, .nr = nr };
	__u32 id;
	int err;

	index_table(u, &t);
	id = u->nr_free_ids ? u->free_ids[--u->nr_free_ids] : u->nr_tables++;
	if (u->opts.tables_fd >= 0 && bpf_map_update_elem(u->opts.tables_fd, &id, &t, BPF_ANY)) {
		err = -errno;

		pr_warn("cannot store the unwind table of '%s': %s", name, strerror(-err));
		u->free_ids[u->nr_free_ids++] = id;
		free_rows(u, first, nr);
		if (t.nidx)
			free_rows(u, t.idx_first, index_slots(&t));
		return err;
	}
	u->tables[id] = t;
	u->table_bin[id] = bin;
	u->table_refs[id] = 0;
	u->table_used[id] = ++u->clock;
	u->used_rows += table_slots(&t);
	u->bins[bin].table = id;
	u->bins[bin].has_table = true;
	u->bins[bin].retry = false;
	u->bins[bin].min_rows = 0;
	return 0;
}

/*
 * Publish the @nr rows packed in @blob (@size bytes) as the table of bin
 * @bin: room first (-ENOSPC: none), the rows unpacked into it a chunk at a
 * time, then the range that points to them.
 */
static int store_packed(struct unwinder *u, int bin, const void *blob, size_t size, size_t nr,
			const char *name)
{
	struct rows_at at = { u, 0 };
	int err;

	err = reserve_rows(u, bin, nr, name, &at.first);
	if (err)
		return err;
	err = unwind_pack__unpack(blob, size, nr, write_rows_cb, &at);
	if (err) {
		free_rows(u, at.first, nr);
		return err;
	}
	return publish_table(u, bin, at.first, nr, name);
}

/*
 * Put bin @bin's kept rows back as its table: 0, -ENOSPC (they stay kept,
 * budget permitting), or -errno (they are gone).
 */
static int restore_table(struct unwinder *u, int bin, const char *name)
{
	struct bin *b = &u->bins[bin];
	void *blob = b->kept;
	size_t size = b->kept_size, nr = b->kept_rows;
	int err;

	/* taken out first: the evictions that make room keep rows too, and drop the oldest */
	b->kept = NULL;
	u->kept--;
	u->kept_bytes -= size;
	b->kept_size = b->kept_rows = 0;
	err = store_packed(u, bin, blob, size, nr, name);
	if (err == -ENOSPC) {
		set_kept(u, b, blob, size, nr);	/* for when there is room */
		return err;
	}
	free(blob);
	if (!err)
		u->restores++;
	else if (err != -ENOSPC)
		pr_debug("'%s': kept unwind rows not restored: %s", name, strerror(-err));
	return err;
}

static double now_ms(void)
{
	return now_seconds() * 1e3;
}

static double thread_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool same_file(const struct bin *b, const struct bin_file *f)
{
	if (b->build_id || f->build_id)
		return b->build_id == f->build_id;
	return b->mtime_ns == f->mtime_ns && b->size == f->size;
}

/*
 * Where a table's rows go as they are derived: straight into the rows map
 * past its high-water mark while there is room there (nothing else takes
 * rows meanwhile: evictions and builds run on this thread), else packed.
 */
struct stream {
	struct unwinder *u;
	__u32 first;		/* the high-water mark when the build began */
	size_t nr;		/* rows written from there */
	struct unwind_packer *pk;	/* NULL while they are written in place */
};

/* Pack the rows written in place so far, and all the next ones. */
static int stream_to_packer(struct stream *st)
{
	struct unwind_row rows[256];
	size_t at, n;
	int err = 0;

	st->pk = unwind_packer__new();
	if (!st->pk)
		return -ENOMEM;
	for (at = 0; at < st->nr && !err; at += n) {
		n = st->nr - at < 256 ? st->nr - at : 256;
		err = copy_rows(st->u, st->first + at, rows, n, false);
		err = err ?: unwind_packer__add(st->pk, rows, n);
	}
	return err;
}

static int stream_rows_cb(void *ctx, const struct unwind_row *rows, size_t n)
{
	struct stream *st = ctx;
	int err;

	if (!st->pk && st->first + st->nr + n <= st->u->opts.max_rows) {
		err = write_rows(st->u, st->first + st->nr, rows, n);
		if (!err)
			st->nr += n;
		return err;
	}
	if (!st->pk) {
		err = stream_to_packer(st);
		if (err)
			return err;
	}
	return unwind_packer__add(st->pk, rows, n);
}

/*
 * Publish the streamed rows as bin @bin's table: in place when they all fit
 * past the high-water mark and a table id is free, else packed and
 * unpacked into rows reserved as for any table.
 */
static int store_stream(struct unwinder *u, int bin, struct stream *st, const char *name)
{
	size_t size, nr;
	void *blob;
	int err;

	if (!st->pk && u->nr_rows == st->first &&
	    (u->nr_free_ids || u->nr_tables < u->opts.max_tables)) {
		u->nr_rows += st->nr;
		return publish_table(u, bin, st->first, st->nr, name);
	}
	if (!st->pk && (err = stream_to_packer(st)))
		return err;
	err = unwind_packer__finish(st->pk, &blob, &size, &nr);
	if (err)
		return err;
	err = store_packed(u, bin, blob, size, nr, name);
	free(blob);
	return err;
}

/* What deriving @elf's table costs, roughly: see DEFER_COST. */
static __u64 build_cost(Elf *elf, const struct bin *b)
{
	size_t shstrndx, i;
	Elf_Scn *scn = NULL;
	__u64 cost = 0;
	GElf_Shdr sh;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (name && (!strcmp(name, ".eh_frame") || !strcmp(name, ".debug_frame")))
			cost += sh.sh_size;
	}
	for (i = 0; i < b->nr_segs; i++)
		cost += b->segs[i].filesz / 64;
	return cost;
}

/* @tgid waits for bin @bin's table from the worker; false when out of memory. */
static bool add_waiter(struct unwinder *u, __u32 tgid, int bin)
{
	size_t i;

	for (i = 0; i < u->nr_waiters; i++) {
		if (u->waiters[i].tgid == tgid && u->waiters[i].bin == bin)
			return true;
	}
	if (ARRAY_GROW(u->waiters, u->cap_waiters, u->nr_waiters + 1, 16))
		return false;
	u->waiters[u->nr_waiters].tgid = tgid;
	u->waiters[u->nr_waiters++].bin = bin;
	return true;
}

static void drop_waiter(struct unwinder *u, __u32 tgid)
{
	size_t i = 0;

	while (i < u->nr_waiters) {
		if (u->waiters[i].tgid == tgid)
			u->waiters[i] = u->waiters[--u->nr_waiters];
		else
			i++;
	}
}

static void free_job(struct build_job *j)
{
	if (j->map && j->map != MAP_FAILED)
		munmap(j->map, j->map_len);
	free(j->blob);
	free(j->name);
	free(j);
}

static int pack_rows_cb(void *ctx, const struct unwind_row *rows, size_t n)
{
	return unwind_packer__add(ctx, rows, n);
}

/* In the worker: derive @j's table, packed. */
static void run_job(struct unwinder *u, struct build_job *j)
{
	struct unwind_build_limits lim = {
		.max_rows = j->max_rows, .max_seconds = u->opts.max_build_seconds,
		.cancel = &u->worker_stop, .map = j->map, .map_len = j->map_len,
	};
	struct unwind_table_stats st = { 0 };
	struct unwind_packer *pk = unwind_packer__new();
	double cpu0 = thread_seconds();
	Elf *elf = elf_memory(j->map, j->map_len);
	size_t nr = 0;

	j->err = !pk || !elf ? -ENOMEM : 0;
	if (!j->err) {
		struct sigbus_guard g;

		sigbus__enter(&g);
		if (!sigsetjmp(g.env, 1)) {
			j->err = unwind_table__build_stream(elf, j->name, &lim, pack_rows_cb, pk,
							    &nr, &st);
		} else {
			/* truncated meanwhile: libelf's and libdw's state of it is left behind */
			pr_warn("'%s' changed while its unwind table was derived (truncated?)",
				j->name);
			j->err = -EIO;
			st.unsupported = 0;
			sigbus__abandon(elf);
			elf = NULL;
		}
		sigbus__leave(&g);
	}
	if (!j->err)
		j->err = unwind_packer__finish(pk, &j->blob, &j->size, &j->nr);
	j->unsupported = st.unsupported;
	j->seconds = thread_seconds() - cpu0;
	elf_end(elf);
	unwind_packer__free(pk);
	/* the file is read: give the mapping back now, not when the owner looks */
	munmap(j->map, j->map_len);
	j->map = NULL;
}

static void *worker_thread(void *arg)
{
	struct unwinder *u = arg;

	pthread_mutex_lock(&u->jobs_lock);
	while (!u->worker_stop) {
		struct build_job **pp, **best = NULL, *j;

		if (!u->todo) {
			pthread_cond_wait(&u->jobs_cond, &u->jobs_lock);
			continue;
		}
		for (pp = &u->todo; *pp; pp = &(*pp)->next) {
			if (!best || (*pp)->cost < (*best)->cost)
				best = pp;
		}
		j = *best;
		*best = j->next;
		pthread_mutex_unlock(&u->jobs_lock);
		run_job(u, j);
		pthread_mutex_lock(&u->jobs_lock);
		j->next = u->done;
		u->done = j;
		if (eventfd_write(u->done_fd, 1))
			pr_debug("cannot tell of a table derived: %s", strerror(errno));
	}
	pthread_mutex_unlock(&u->jobs_lock);
	return NULL;
}

/*
 * Hand bin @bin's derivation from @file to the worker, process @tgid
 * waiting for it: true, or false when it must be done here.
 */
static bool queue_build(struct unwinder *u, int bin, const char *name,
			const struct bin_file *file, size_t max_rows, __u64 cost, __u32 tgid)
{
	struct bin *b = &u->bins[bin];
	struct build_job *j;

	if (b->queued) {
		add_waiter(u, tgid, bin);	/* or not: its next sample asks again */
		return true;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return false;
	j->bin = bin;
	j->gen = b->gen;
	j->cost = cost;
	j->max_rows = max_rows;
	j->name = strdup(name);
	j->map_len = file->size;
	j->map = mmap(NULL, file->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, file->fd, 0);
	if (!j->name || j->map == MAP_FAILED || !add_waiter(u, tgid, bin)) {
		free_job(j);
		return false;
	}
	b->queued = true;
	pthread_mutex_lock(&u->jobs_lock);
	j->next = u->todo;
	u->todo = j;
	pthread_cond_signal(&u->jobs_cond);
	pthread_mutex_unlock(&u->jobs_lock);
	pr_debug("'%s': unwind table derived in the background (%llu bytes of CFI, and code / 64)",
		 name, (unsigned long long)cost);
	return true;
}

/*
 * Give bin @bin its table: its kept rows when it has some and @file (NULL
 * for the vDSO) is the file they came from, else derived from @elf, here or
 * (a big one, in unwinder__scan_process_soon()) by the worker, process
 * @tgid waiting for it.
 */
static void build_table(struct unwinder *u, int bin, Elf *elf, const char *name,
			const struct bin_file *file, __u32 tgid)
{
	struct bin *b = &u->bins[bin];
	struct unwind_table_stats st;
	struct unwind_build_limits lim;
	struct stream stream = { u, u->nr_rows, 0, NULL };
	double t0 = now_ms(), cpu0;
	size_t nr;
	int err;

	if (b->kept && file && same_file(b, file)) {
		err = restore_table(u, bin, name);
		if (!err)
			pr_debug("'%s': unwind table %u, %u rows, restored in %.1f ms", name,
				 u->bins[bin].table, u->tables[u->bins[bin].table].nr, now_ms() - t0);
		if (err != -EINVAL && err != -ENOMEM)
			return;	/* restored, or no room for it: a derivation would not fit either */
		b = &u->bins[bin];
	}
	drop_kept(u, b);	/* another file now, or rows that did not unpack */
	if (file) {
		/* the file may have changed under its inode: its segments too */
		b->gen++;
		free(b->segs);
		b->segs = NULL;
		b->nr_segs = 0;
		b->build_id = file->build_id;
		b->mtime_ns = file->mtime_ns;
		b->size = file->size;
	}
	if (!b->segs && read_exec_segments(elf, b)) {
		pr_debug("'%s': no executable segment", name);
		return;
	}
	/* room left, counting what evicting unused tables would give back */
	lim.max_rows = u->opts.max_rows - u->used_rows + evictable_rows(u);
	if (b->min_rows > lim.max_rows)
		return;	/* too big last time, and still: b->retry stays set */
	if (b->queued && tgid && add_waiter(u, tgid, bin))
		return;	/* the worker is at it */
	if (u->deferring && tgid && file && file->fd >= 0 && u->worker_started) {
		__u64 cost = build_cost(elf, b);

		if (cost >= DEFER_COST && queue_build(u, bin, name, file, lim.max_rows, cost, tgid))
			return;
	}
	lim.max_seconds = u->opts.max_build_seconds;
	lim.cancel = u->opts.cancel;
	lim.map = file ? file->map : NULL;
	lim.map_len = file ? file->size : 0;
	u->builds++;
	cpu0 = thread_seconds();
	/*
	 * No buffer of the whole table: rows go into the rows map as they come,
	 * or packed (cc1: 1.4 bytes a row, not 16) when there is no room there
	 */
	stream.first = u->nr_rows;
	err = lim.max_rows ? unwind_table__build_stream(elf, name, &lim, stream_rows_cb, &stream,
							&nr, &st)
			   : -E2BIG;
	u->build_seconds += thread_seconds() - cpu0;
	if (err == -E2BIG) {
		warn_full(u, name);
		b->retry = true;
		b->min_rows = lim.max_rows + 1;
	}
	if (!err && !store_stream(u, bin, &stream, name))
		pr_debug("'%s': unwind table %u, %zu rows, %zu unsupported, %.1f ms", name, b->table,
			 nr, st.unsupported, now_ms() - t0);
	unwind_packer__free(stream.pk);
}

static uint64_t bytes_key(const unsigned char *bits, size_t len)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < len; i++)
		h = hash_u64(h ^ bits[i]) + i;
	return h ? h : 1;
}

static uint64_t build_id_key(Elf *elf)
{
	const void *bits;
	ssize_t len;

	len = dwelf_elf_gnu_build_id(elf, &bits);
	return len > 0 ? bytes_key(bits, len) : 0;
}

/* build_id_key() of the build id the kernel gave for a mapping (hex); 0 when none. */
static uint64_t map_build_id_key(const struct sym_exec_map *m)
{
	unsigned char bits[64];
	size_t len = 0;
	const char *p;

	if (!m->build_id)
		return 0;
	for (p = m->build_id; p[0] && p[1] && len < sizeof(bits); p += 2) {
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);

		if (hi < 0 || lo < 0)
			return 0;
		bits[len++] = hi << 4 | lo;
	}
	return len ? bytes_key(bits, len) : 0;
}

static uint64_t map_inode_key(const struct sym_exec_map *m)
{
	return hash_u64(((uint64_t)m->dev_major << 44) ^ ((uint64_t)m->dev_minor << 32)) ^ m->inode;
}

static __s64 stat_ctime_ns(const struct stat *st)
{
	return (__s64)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
}

/*
 * Has the file of mapping @m, tabled as bin @bin, changed since? Its change
 * time is looked at (a stat, at most every STAMP_CHECK_MS per binary): the
 * same build id as the kernel reads it now means the same content (touched,
 * linked again, relinked identically: the time is taken as the file's);
 * another change time without a build id to compare is a change.
 */
static bool stamp_changed(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m, int bin,
			  uint64_t bid_now)
{
	struct bin *b = &u->bins[bin];
	uint64_t key = map_inode_key(m), had;
	char path[PATH_MAX];
	double t = now_ms();
	struct stat st;

	if (t - b->stamp_checked_ms < STAMP_CHECK_MS)
		return false;
	b->stamp_checked_ms = t;
	snprintf(path, sizeof(path), "%s/%u/map_files/%llx-%llx", u->proc_root, tgid,
		 (unsigned long long)m->start, (unsigned long long)m->end);
	if (stat(path, &st))
		return false;	/* gone, or not ours to look at: the next scan looks again */
	if (hashmap__get(&u->ctime_by_inode, key, &had) && (__s64)had == stat_ctime_ns(&st))
		return false;
	if (!bid_now || bid_now != b->build_id)
		return true;
	hashmap__set(&u->ctime_by_inode, key, stat_ctime_ns(&st));
	return false;
}

/*
 * bin_for_map()'s reading of the mapped file @map (@sb its stat): the bin,
 * @idx when known, its table built. Under a SIGBUS guard: the file may be
 * truncated while it is read.
 */
static int bin_from_file(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m,
			 uint64_t key, int idx, int fd, void *map, const struct stat *sb)
{
	struct bin_file file = { 0 };
	uint64_t bkey = 0, val;
	bool is_new = false;
	Elf *elf = NULL;

	file.fd = fd;
	if (map != MAP_FAILED)
		elf = elf_memory(map, sb->st_size);
	/* the content about to be read is the file's as of this change time */
	if (map != MAP_FAILED && hashmap__set(&u->ctime_by_inode, key, stat_ctime_ns(sb))) {
		idx = -ENOMEM;
		goto out;
	}
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		bkey = build_id_key(elf);
		file.build_id = bkey;
		file.mtime_ns = (__s64)sb->st_mtim.tv_sec * 1000000000 + sb->st_mtim.tv_nsec;
		file.size = sb->st_size;
		/* data of the other byte order is converted in place: such pages must stay */
		if (elf_getident(elf, NULL)[EI_DATA] == ELFDATA2LSB)
			file.map = map;
	}
	if (idx < 0 && elf && elf_kind(elf) == ELF_K_ELF) {
		if (bkey && hashmap__get(&u->bin_by_build_id, bkey, &val)) {
			/* the same binary under another inode (a copy, another container layer) */
			idx = val;
			if (hashmap__set(&u->bin_by_inode, key, val))
				idx = -ENOMEM;
			else if (u->bins[idx].retry)
				build_table(u, idx, elf, m->path, &file, tgid);
			goto out;
		}
	}
	if (idx < 0) {
		idx = add_bin(u);
		is_new = true;
	}
	if (idx >= 0) {
		if (elf && elf_kind(elf) == ELF_K_ELF)
			build_table(u, idx, elf, m->path, &file, tgid);
		else
			pr_debug("cannot read '%s' of pid %u: %s", m->path, tgid,
				 fd < 0 ? strerror(-fd) : elf_errmsg(-1));
		if (is_new && (hashmap__set(&u->bin_by_inode, key, idx) ||
			       (bkey && hashmap__set(&u->bin_by_build_id, bkey, idx))))
			idx = -ENOMEM;
	}
out:
	elf_end(elf);
	return idx;
}

static int bin_from_file_guarded(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m,
				 uint64_t key, int idx, int fd, void *map, const struct stat *sb)
{
	struct sigbus_guard g;
	int got;

	sigbus__enter(&g);
	if (!sigsetjmp(g.env, 1)) {
		got = bin_from_file(u, tgid, m, key, idx, fd, map, sb);
	} else {
		/* what libelf and libdw had of it is left behind; the rows streamed are unused */
		pr_warn("'%s' changed while its unwind table was derived (truncated?)", m->path);
		got = -EIO;
	}
	sigbus__leave(&g);
	return got;
}

/*
 * The bin of file mapping @m, opening the file and building its table the
 * first time, and again when there was no room for it or it was evicted, or
 * the file changed under its inode.
 */
static int bin_for_map(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m)
{
	uint64_t key, val;
	void *map = MAP_FAILED;
	struct stat sb;
	int fd, idx = -1, got;

	key = map_inode_key(m);
	if (hashmap__get(&u->bin_by_inode, key, &val)) {
		uint64_t now = map_build_id_key(m), had = u->bins[val].build_id;

		if ((now && had && now != had) ||
		    (u->bins[val].has_table && stamp_changed(u, tgid, m, val, now))) {
			/*
			 * Another file under the inode: a binary relinked in
			 * place, or a new file given a freed inode. Its table is
			 * another binary's (found by build id), or a new one.
			 */
			pr_debug("'%s': changed under its inode: opened again", m->path);
			hashmap__delete(&u->bin_by_inode, key, NULL);
			/* the BPF side no longer walks new processes with the old table */
			unwind_files__drop(u->files, unwind_kernel_dev(m->dev_major, m->dev_minor),
					   m->inode);
		} else if (!u->bins[val].retry) {
			return val;
		} else {
			idx = val;
		}
	}
	fd = symbolizer__open_mapping(u->proc_root, tgid, m->start, m->end, m->dev_major,
				      m->dev_minor, m->inode, m->path);
	if (fd == -ESRCH)
		return idx >= 0 ? idx : -ESRCH;	/* gone first: nothing learnt about the binary */
	/*
	 * Mapped here, not by libelf, so the table build may drop the pages it
	 * has read (writable and private: libelf may convert data in place)
	 */
	if (fd >= 0 && !fstat(fd, &sb) && sb.st_size > 0)
		map = mmap(NULL, sb.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	got = bin_from_file_guarded(u, tgid, m, key, idx, fd, map, &sb);
	if (map != MAP_FAILED)
		munmap(map, sb.st_size);
	if (fd >= 0)
		close(fd);
	return got;
}

/*
 * Let the BPF side find @b's table by its file (@dev as the kernel encodes
 * it, @ino; the vDSO is { 0, 0 }) too, in processes it has no mappings of.
 */
static void note_file(struct unwinder *u, __u64 dev, __u64 ino, const struct bin *b,
		      __s64 ctime_ns, const char *path)
{
	struct unwind_file f = { .table = b->table, .ctime_ns = ctime_ns };

	if (path && u->opts.read_fn && u->opts.read_fn(path))
		f.flags |= UNWIND_FILE_F_READ;
	size_t i;

	for (i = 0; i < b->nr_segs && f.nr_segs < UNWIND_FILE_SEGS; i++) {
		f.segs[f.nr_segs].offset = b->segs[i].offset;
		f.segs[f.nr_segs].vaddr = b->segs[i].vaddr;
		f.segs[f.nr_segs++].filesz = b->segs[i].filesz;
	}
	unwind_files__set(u->files, dev, ino, &f);
}

/* The kernel maps the same vDSO into every process: build its table from ours. */
static void load_vdso(struct unwinder *u)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	size_t size = symbolizer__vdso_size();
	char *copy;
	Elf *elf;
	int idx;

	u->vdso_bin = -1;
	if (!base || !size)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, (const void *)base, size);
	elf = elf_memory(copy, size);
	idx = elf ? add_bin(u) : -1;
	if (idx >= 0) {
		build_table(u, idx, elf, "[vdso]", NULL, 0);
		u->vdso_bin = idx;
		if (u->bins[idx].has_table)
			note_file(u, 0, 0, &u->bins[idx], 0, NULL);
	}
	elf_end(elf);
	free(copy);
}

struct scan_ctx {
	struct unwinder *u;
	__u32 tgid;
	struct unwind_proc *p;
	/* for opts.maps_fn: every mapping read, paths copied */
	struct sym_exec_map *all;
	size_t nr_all, cap_all;
	bool lost;		/* out of memory copying them: tell nobody */
};

static void keep_mapping(struct scan_ctx *c, const struct sym_exec_map *m)
{
	char *path, *bid;

	if (c->lost || !c->u->opts.maps_fn)
		return;
	if (c->nr_all == c->cap_all) {
		size_t cap = c->cap_all ? 2 * c->cap_all : 32;
		struct sym_exec_map *n = reallocarray(c->all, cap, sizeof(*n));

		if (!n) {
			c->lost = true;
			return;
		}
		c->all = n;
		c->cap_all = cap;
	}
	path = strdup(m->path);
	bid = m->build_id ? strdup(m->build_id) : NULL;
	if (!path || (m->build_id && !bid)) {
		free(path);
		c->lost = true;
		return;
	}
	c->all[c->nr_all] = *m;
	c->all[c->nr_all].build_id = bid;
	c->all[c->nr_all++].path = path;
}

/* Tell opts.maps_fn what was read, and let the copies go. */
static void tell_mappings(struct scan_ctx *c)
{
	size_t i;

	if (c->u->opts.maps_fn && !c->lost)
		c->u->opts.maps_fn(c->u->opts.maps_ctx, c->tgid, c->all, c->nr_all);
	for (i = 0; i < c->nr_all; i++) {
		free((char *)c->all[i].path);
		free((char *)c->all[i].build_id);
	}
	free(c->all);
}

static int add_mapping_cb(void *data, const struct sym_exec_map *m)
{
	struct scan_ctx *c = data;
	struct unwind_mapping *um;
	const struct bin *b;
	uint64_t ctime;
	int idx = -1;
	size_t i;

	keep_mapping(c, m);
	if (*m->path && c->u->opts.read_fn && c->u->opts.read_fn(m->path))
		c->p->flags |= UNWIND_PROC_READ_FORKS;
	if (c->p->nr >= MAX_UNWIND_MAPS) {
		c->p->flags |= UNWIND_PROC_READ_FORKS;
		return 0;	/* later mappings: unknown to the unwinder, frame pointers */
	}
	um = &c->p->maps[c->p->nr++];
	memset(um, 0, sizeof(*um));
	um->start = m->start;
	um->end = m->end;
	um->kind = UNWIND_MAP_NO_TABLE;
	if (m->anon || m->special) {
		/* JIT code: a fork's frames there are named from the maps and a perf map */
		if (m->anon)
			c->p->flags |= UNWIND_PROC_READ_FORKS;
		um->kind = UNWIND_MAP_JIT;
		return 0;
	}
	/* frames in it recorded as (file, offset): named even when the symbolizer never read it */
	if (m->vdso || *m->path) {
		um->fid = m->vdso ? unwind_file_id(0, 0)
				  : unwind_file_id(unwind_kernel_dev(m->dev_major, m->dev_minor),
						   m->inode);
		um->pgoff = m->pgoff >> 12;
	}
	if (m->vdso)
		idx = c->u->vdso_bin;
	else if (*m->path)
		idx = bin_for_map(c->u, c->tgid, m);
	if (idx == -ENOMEM)
		return idx;
	if (idx < 0 || !c->u->bins[idx].has_table)
		return 0;
	b = &c->u->bins[idx];
	for (i = 0; i < b->nr_segs; i++) {
		const struct load_seg *s = &b->segs[i];

		if ((s->offset & ~0xfffULL) <= m->pgoff && m->pgoff < s->offset + s->filesz)
			break;
	}
	if (i == b->nr_segs) {
		if (!m->vdso)
			return 0;
		i = 0;	/* a vDSO mapping has pgoff 0 */
	}
	um->bias = m->start - m->pgoff + b->segs[i].offset - b->segs[i].vaddr;
	um->table = b->table;
	um->kind = UNWIND_MAP_TABLE;
	if (!m->vdso && hashmap__get(&c->u->ctime_by_inode, map_inode_key(m), &ctime))
		note_file(c->u, unwind_kernel_dev(m->dev_major, m->dev_minor), m->inode, b, ctime,
			  m->path);
	return 0;
}

/*
 * Count @p's mappings in the tables they use (@delta +1 or -1), and note
 * when each was last mapped or let go, for eviction.
 */
static void ref_tables(struct unwinder *u, const struct unwind_proc *p, int delta)
{
	__u32 i;

	u->clock++;
	for (i = 0; p && i < p->nr; i++) {
		if (p->maps[i].kind == UNWIND_MAP_TABLE && p->maps[i].table < u->nr_tables) {
			u->table_refs[p->maps[i].table] += delta;
			u->table_used[p->maps[i].table] = u->clock;
		}
	}
}

int unwinder__scan_process(struct unwinder *u, __u32 tgid)
{
	struct scan_ctx c = { .u = u, .tgid = tgid };
	struct unwind_proc *old = NULL;
	uint64_t val;
	int err;

	c.p = calloc(1, sizeof(*c.p));
	if (!c.p)
		return -ENOMEM;
	u->scans++;
	err = symbolizer__for_each_exec_map(u->proc_root, tgid, add_mapping_cb, &c);
	c.lost |= err != 0;	/* half read: nothing to tell */
	tell_mappings(&c);
	if (err) {
		free(c.p);
		return err;
	}
	if (!c.p->nr) {
		free(c.p);	/* a kernel thread: nothing to unwind */
		return 0;
	}
	if (hashmap__get(&u->procs, tgid, &val))
		old = (struct unwind_proc *)(uintptr_t)val;
	if (old && !memcmp(old, c.p, sizeof(*old))) {
		free(c.p);
		return 0;
	}
	if (u->opts.procs_fd >= 0 && bpf_map_update_elem(u->opts.procs_fd, &tgid, c.p, BPF_ANY)) {
		err = -errno;
		pr_debug("cannot store the mappings of pid %u: %s", tgid, strerror(-err));
		free(c.p);
		return err;
	}
	if (hashmap__set(&u->procs, tgid, (uintptr_t)c.p)) {
		free(c.p);
		return -ENOMEM;
	}
	ref_tables(u, c.p, 1);
	ref_tables(u, old, -1);
	free(old);
	return 0;
}

int unwinder__scan_process_soon(struct unwinder *u, __u32 tgid)
{
	int err;

	u->deferring = true;
	err = unwinder__scan_process(u, tgid);
	u->deferring = false;
	if (err == -ESRCH)
		drop_waiter(u, tgid);
	return err;
}

int unwinder__builds_fd(const struct unwinder *u)
{
	return u->worker_started ? u->done_fd : -1;
}

/* Publish what job @j derived, if its bin still wants it. */
static void finish_job(struct unwinder *u, struct build_job *j)
{
	struct bin *b = &u->bins[j->bin];

	b->queued = false;
	u->builds++;
	u->build_seconds += j->seconds;
	if (b->has_table)
		return;
	if (j->gen != b->gen) {
		b->retry = true;	/* another file under its inode meanwhile: its own table */
		return;
	}
	if (j->err == -E2BIG) {
		warn_full(u, j->name);
		b->retry = true;
		b->min_rows = j->max_rows + 1;
	}
	if (j->err)
		return;
	if (!store_packed(u, j->bin, j->blob, j->size, j->nr, j->name))
		pr_debug("'%s': unwind table %u, %zu rows, %zu unsupported, %.1f ms of CPU in the "
			 "background", j->name, u->bins[j->bin].table, j->nr, j->unsupported,
			 j->seconds * 1e3);
}

int unwinder__finish_builds(struct unwinder *u)
{
	struct build_job *done, *next;
	__u32 *tgids = NULL;
	size_t nr = 0, cap = 0, i;
	int n = 0;
	eventfd_t v;

	if (!u->worker_started)
		return 0;
	eventfd_read(u->done_fd, &v);
	pthread_mutex_lock(&u->jobs_lock);
	done = u->done;
	u->done = NULL;
	pthread_mutex_unlock(&u->jobs_lock);
	for (; done; done = next, n++) {
		next = done->next;
		finish_job(u, done);
		/* the processes waiting for it: read again, now with its table */
		for (i = 0; i < u->nr_waiters;) {
			if (u->waiters[i].bin != done->bin) {
				i++;
				continue;
			}
			if (ARRAY_GROW(tgids, cap, nr + 1, 16))
				break;
			tgids[nr++] = u->waiters[i].tgid;
			u->waiters[i] = u->waiters[--u->nr_waiters];
		}
		free_job(done);
	}
	for (i = 0; i < nr; i++) {
		if (unwinder__scan_process_soon(u, tgids[i]) == -ESRCH)
			unwinder__remove_process(u, tgids[i]);
	}
	free(tgids);
	return n;
}

void unwinder__remove_process(struct unwinder *u, __u32 tgid)
{
	uint64_t val;

	drop_waiter(u, tgid);
	if (!hashmap__delete(&u->procs, tgid, &val))
		return;	/* never stored: the BPF side's copies (forks) are its own to drop */
	ref_tables(u, (struct unwind_proc *)(uintptr_t)val, -1);
	free((void *)(uintptr_t)val);
	if (u->opts.procs_fd >= 0)
		bpf_map_delete_elem(u->opts.procs_fd, &tgid);
}

int unwinder__list_processes(const struct unwinder *u, __u32 **tgids, size_t *nr)
{
	size_t i = 0, n = 0;
	uint64_t key;

	*tgids = calloc(u->procs.count ? u->procs.count : 1, sizeof(**tgids));
	if (!*tgids)
		return -ENOMEM;
	while (n < u->procs.count && hashmap__next(&u->procs, &i, &key, NULL))
		(*tgids)[n++] = key;
	*nr = n;
	return 0;
}

const struct unwind_proc *unwinder__process(const struct unwinder *u, __u32 tgid)
{
	uint64_t val;

	return hashmap__get(&u->procs, tgid, &val) ? (const struct unwind_proc *)(uintptr_t)val
						   : NULL;
}

const struct unwind_table *unwinder__table(const struct unwinder *u, __u32 id)
{
	return id < u->nr_tables ? &u->tables[id] : NULL;
}

int unwinder__row(const struct unwinder *u, __u32 idx, struct unwind_row *out)
{
	if (idx >= u->opts.max_rows)
		return -ENOENT;
	if (u->opts.rows_fd < 0) {
		*out = u->rows[idx];
		return 0;
	}
	return bpf_map_lookup_elem(u->opts.rows_fd, &idx, out) ? -errno : 0;
}

void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st)
{
	size_t i;

	st->no_table = 0;
	for (i = 0; i < u->nr_bins; i++)
		st->no_table += !u->bins[i].has_table;
	st->processes = u->procs.count;
	st->tables = u->nr_tables - u->nr_free_ids;
	st->rows = u->used_rows;
	st->evicted = u->evicted;
	st->max_rows = u->opts.max_rows;
	st->scans = u->scans;
	st->builds = u->builds;
	st->build_seconds = u->build_seconds;
	st->restores = u->restores;
	st->kept = u->kept;
	st->kept_bytes = u->kept_bytes;
}

struct unwinder *unwinder__new(const struct unwinder_opts *opts)
{
	struct unwinder *u = calloc(1, sizeof(*u));
	int err = -ENOMEM;

	if (!u)
		goto err_out;
	u->opts = *opts;
	u->done_fd = -1;
	pthread_mutex_init(&u->jobs_lock, NULL);
	pthread_cond_init(&u->jobs_cond, NULL);
	if (!u->opts.max_rows || !u->opts.max_tables) {
		err = -EINVAL;
		goto err_out;
	}
	u->proc_root = strdup(opts->proc_root ? opts->proc_root : "/proc");
	u->tables = calloc(u->opts.max_tables, sizeof(*u->tables));
	u->table_refs = calloc(u->opts.max_tables, sizeof(*u->table_refs));
	u->table_used = calloc(u->opts.max_tables, sizeof(*u->table_used));
	u->table_bin = calloc(u->opts.max_tables, sizeof(*u->table_bin));
	u->free_ids = calloc(u->opts.max_tables, sizeof(*u->free_ids));
	u->files = unwind_files__new(opts->rows_fd >= 0 && opts->files_fd > 0 ? opts->files_fd : -1);
	if (!u->proc_root || !u->tables || !u->table_refs || !u->table_used || !u->table_bin ||
	    !u->free_ids || !u->files)
		goto err_out;
	if (u->opts.rows_fd < 0) {
		u->rows = calloc(u->opts.max_rows, sizeof(*u->rows));
		if (!u->rows)
			goto err_out;
	}
	elf_version(EV_CURRENT);
	load_vdso(u);
	if (opts->background) {
		u->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (u->done_fd < 0) {
			err = -errno;
			goto err_out;
		}
		err = -pthread_create(&u->worker, NULL, worker_thread, u);
		if (err)
			goto err_out;
		u->worker_started = true;
	}
	return u;

err_out:
	unwinder__free(u);
	errno = -err;
	return NULL;
}

void unwinder__free(struct unwinder *u)
{
	struct build_job *j;
	size_t i = 0;
	uint64_t val;

	if (!u)
		return;
	if (u->worker_started) {
		pthread_mutex_lock(&u->jobs_lock);
		u->worker_stop = true;	/* a derivation under way stops too (-ECANCELED) */
		pthread_cond_signal(&u->jobs_cond);
		pthread_mutex_unlock(&u->jobs_lock);
		pthread_join(u->worker, NULL);
	}
	while ((j = u->todo)) {
		u->todo = j->next;
		free_job(j);
	}
	while ((j = u->done)) {
		u->done = j->next;
		free_job(j);
	}
	if (u->done_fd >= 0)
		close(u->done_fd);
	pthread_mutex_destroy(&u->jobs_lock);
	pthread_cond_destroy(&u->jobs_cond);
	while (hashmap__next(&u->procs, &i, NULL, &val))
		free((void *)(uintptr_t)val);
	hashmap__release(&u->procs);
	unwind_files__free(u->files);
	hashmap__release(&u->bin_by_inode);
	hashmap__release(&u->bin_by_build_id);
	hashmap__release(&u->ctime_by_inode);
	for (i = 0; i < u->nr_bins; i++) {
		free(u->bins[i].segs);
		free(u->bins[i].kept);
	}
	free(u->bins);
	free(u->rows);
	free(u->tables);
	free(u->table_refs);
	free(u->table_used);
	free(u->table_bin);
	free(u->free_ids);
	free(u->free_rows);
	free(u->waiters);
	free(u->proc_root);
	free(u);
}
