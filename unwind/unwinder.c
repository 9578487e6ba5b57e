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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
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
#include "common/hashmap.h"
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
};

/* The file a bin's table comes from, as bin_for_map() opened it. */
struct bin_file {
	__u64 build_id;
	__s64 mtime_ns;
	__u64 size;
	void *map;		/* its private mapping, when its pages may be dropped as read */
};

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
	int vdso_bin;			/* -1: none */

	struct hashmap procs;		/* tgid -> struct unwind_proc * */
	struct unwind_files *files;	/* tabled binaries by (device, inode), for BPF */
	size_t scans, builds, restores;
	double build_seconds;
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
		rows += is_evictable(u, id) ? u->tables[id].nr : 0;
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
	struct unwind_table none = { 0, 0 };
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
		/*
		 * Unpublished before anything reuses the rows (after the grace
		 * period below): the BPF side falls back to frame pointers there.
		 */
		if (u->opts.tables_fd >= 0)
			bpf_map_update_elem(u->opts.tables_fd, &id, &none, BPF_ANY);
		unwind_files__drop_table(u->files, id);
		freed += u->tables[id].nr;
		u->used_rows -= u->tables[id].nr;
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

/*
 * Publish rows [@first, @first + @nr), written already, as the table of bin
 * @bin. On failure the rows are given back.
 */
static int publish_table(struct unwinder *u, int bin, __u32 first, size_t nr, const char *name)
{
	struct unwind_table t = { .first = first, .nr = nr };
	__u32 id;
	int err;

	id = u->nr_free_ids ? u->free_ids[--u->nr_free_ids] : u->nr_tables++;
	if (u->opts.tables_fd >= 0 && bpf_map_update_elem(u->opts.tables_fd, &id, &t, BPF_ANY)) {
		err = -errno;

		pr_warn("cannot store the unwind table of '%s': %s", name, strerror(-err));
		u->free_ids[u->nr_free_ids++] = id;
		free_rows(u, first, nr);
		return err;
	}
	u->tables[id] = t;
	u->table_bin[id] = bin;
	u->table_refs[id] = 0;
	u->table_used[id] = ++u->clock;
	u->used_rows += nr;
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
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
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

/*
 * Give bin @bin its table: its kept rows when it has some and @file (NULL
 * for the vDSO) is the file they came from, else derived from @elf.
 */
static void build_table(struct unwinder *u, int bin, Elf *elf, const char *name,
			const struct bin_file *file)
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

static uint64_t build_id_key(Elf *elf)
{
	const void *bits;
	uint64_t h = 0;
	ssize_t len, i;

	len = dwelf_elf_gnu_build_id(elf, &bits);
	if (len <= 0)
		return 0;
	for (i = 0; i < len; i++)
		h = hash_u64(h ^ ((const unsigned char *)bits)[i]) + i;
	return h ? h : 1;
}

/*
 * The bin of file mapping @m, opening the file and building its table the
 * first time, and again when there was no room for it or it was evicted.
 */
static int bin_for_map(struct unwinder *u, __u32 tgid, const struct sym_exec_map *m)
{
	struct bin_file file = { 0 };
	uint64_t key, bkey = 0, val;
	bool is_new = false;
	void *map = MAP_FAILED;
	Elf *elf = NULL;
	struct stat sb;
	int fd, idx = -1;

	key = hash_u64(((uint64_t)m->dev_major << 44) ^ ((uint64_t)m->dev_minor << 32)) ^ m->inode;
	if (hashmap__get(&u->bin_by_inode, key, &val)) {
		if (!u->bins[val].retry)
			return val;
		idx = val;
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
	if (map != MAP_FAILED)
		elf = elf_memory(map, sb.st_size);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		bkey = build_id_key(elf);
		file.build_id = bkey;
		file.mtime_ns = (__s64)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
		file.size = sb.st_size;
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
				build_table(u, idx, elf, m->path, &file);
			goto out;
		}
	}
	if (idx < 0) {
		idx = add_bin(u);
		is_new = true;
	}
	if (idx >= 0) {
		if (elf && elf_kind(elf) == ELF_K_ELF)
			build_table(u, idx, elf, m->path, &file);
		else
			pr_debug("cannot read '%s' of pid %u: %s", m->path, tgid,
				 fd < 0 ? strerror(-fd) : elf_errmsg(-1));
		if (is_new && (hashmap__set(&u->bin_by_inode, key, idx) ||
			       (bkey && hashmap__set(&u->bin_by_build_id, bkey, idx))))
			idx = -ENOMEM;
	}
out:
	elf_end(elf);
	if (map != MAP_FAILED)
		munmap(map, sb.st_size);
	if (fd >= 0)
		close(fd);
	return idx;
}

/*
 * Let the BPF side find @b's table by its file (@dev as the kernel encodes
 * it, @ino; the vDSO is { 0, 0 }) too, in processes it has no mappings of.
 */
static void note_file(struct unwinder *u, __u64 dev, __u64 ino, const struct bin *b)
{
	struct unwind_file f = { .table = b->table };
	size_t i;

	for (i = 0; i < b->nr_segs && f.nr_segs < UNWIND_FILE_SEGS; i++) {
		f.segs[f.nr_segs].offset = b->segs[i].offset;
		f.segs[f.nr_segs].vaddr = b->segs[i].vaddr;
		f.segs[f.nr_segs++].filesz = b->segs[i].filesz;
	}
	unwind_files__set(u->files, dev, ino, &f);
}

/* The kernel maps the same vDSO into every process: build its table from ours. */
static int vdso_size_cb(void *ctx, const struct sym_exec_map *m)
{
	size_t *size = ctx;

	if (m->vdso)
		*size = m->end - m->start;
	return 0;
}

static void load_vdso(struct unwinder *u)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR);
	size_t size = 0;
	char *copy;
	Elf *elf;
	int idx;

	u->vdso_bin = -1;
	if (!base || symbolizer__for_each_exec_map(NULL, getpid(), vdso_size_cb, &size) || !size)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, (const void *)base, size);
	elf = elf_memory(copy, size);
	idx = elf ? add_bin(u) : -1;
	if (idx >= 0) {
		build_table(u, idx, elf, "[vdso]", NULL);
		u->vdso_bin = idx;
		if (u->bins[idx].has_table)
			note_file(u, 0, 0, &u->bins[idx]);
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
	char *path;

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
	if (!path) {
		c->lost = true;
		return;
	}
	c->all[c->nr_all] = *m;
	c->all[c->nr_all++].path = path;
}

/* Tell opts.maps_fn what was read, and let the copies go. */
static void tell_mappings(struct scan_ctx *c)
{
	size_t i;

	if (c->u->opts.maps_fn && !c->lost)
		c->u->opts.maps_fn(c->u->opts.maps_ctx, c->tgid, c->all, c->nr_all);
	for (i = 0; i < c->nr_all; i++)
		free((char *)c->all[i].path);
	free(c->all);
}

static int add_mapping_cb(void *data, const struct sym_exec_map *m)
{
	struct scan_ctx *c = data;
	struct unwind_mapping *um;
	const struct bin *b;
	int idx = -1;
	size_t i;

	keep_mapping(c, m);
	if (c->p->nr >= MAX_UNWIND_MAPS)
		return 0;	/* later mappings: unknown to the unwinder, frame pointers */
	um = &c->p->maps[c->p->nr++];
	memset(um, 0, sizeof(*um));
	um->start = m->start;
	um->end = m->end;
	um->kind = UNWIND_MAP_NO_TABLE;
	if (m->anon || m->special) {
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
	if (!m->vdso)
		note_file(c->u, unwind_kernel_dev(m->dev_major, m->dev_minor), m->inode, b);
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

void unwinder__remove_process(struct unwinder *u, __u32 tgid)
{
	uint64_t val;

	if (hashmap__delete(&u->procs, tgid, &val)) {
		ref_tables(u, (struct unwind_proc *)(uintptr_t)val, -1);
		free((void *)(uintptr_t)val);
	}
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
	return u;

err_out:
	unwinder__free(u);
	errno = -err;
	return NULL;
}

void unwinder__free(struct unwinder *u)
{
	size_t i = 0;
	uint64_t val;

	if (!u)
		return;
	while (hashmap__next(&u->procs, &i, NULL, &val))
		free((void *)(uintptr_t)val);
	hashmap__release(&u->procs);
	unwind_files__free(u->files);
	hashmap__release(&u->bin_by_inode);
	hashmap__release(&u->bin_by_build_id);
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
	free(u->proc_root);
	free(u);
}
