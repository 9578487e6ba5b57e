/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Unwind tables for the BPF unwinder. unwind_table__build() turns a binary's
 * CFI (.eh_frame, else .debug_frame) into compact sorted rows with libdw's CFI
 * API. The unwinder object keeps one table per binary (by device/inode and
 * build id, so every process mapping it shares it) and a table of executable
 * mappings per process, and mirrors both into the BPF maps the sampling
 * program reads (layouts in bpf/profiler.h).
 */
#ifndef __PROFILER_UNWIND_H
#define __PROFILER_UNWIND_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <libelf.h>

#include "bpf/profiler.h"

struct sym_exec_map;

struct unwind_table_stats {
	size_t fdes;		/* address ranges with CFI */
	size_t unsupported;	/* rows the BPF unwinder cannot follow */
};

/* Bounds on one table's derivation, so a huge binary costs a bounded walk. */
struct unwind_build_limits {
	size_t max_rows;	/* 0: no limit */
	double max_seconds;	/* CPU seconds of this thread; 0: no limit */
	const volatile bool *cancel;	/* NULL, or stop (-ECANCELED) once it is set */
	/*
	 * NULL, or the private file mapping (@map_len bytes) the ELF image is
	 * read from: a streamed build drops its pages from our memory every 64K
	 * rows (they stay in the page cache; libdw faults back what it reads
	 * again), so a binary's whole .eh_frame is never resident at once.
	 */
	void *map;
	size_t map_len;
};

/*
 * Derive the rows of @elf (whose CFI is read with libdw; @name names it in
 * messages). On success *@rows (owned by the caller, free()) holds *@nr rows
 * sorted by pc, gaps between FDEs filled with UNWIND_CFA_NONE rows, adjacent
 * rows with equal rules merged. Returns 0, -ENOENT when the binary has no CFI,
 * -ERANGE when its addresses do not fit the 32-bit rows, -E2BIG when it needs
 * more rows than @lim allows, -ETIME when it takes longer (the walk stops
 * there), -ECANCELED when @lim's cancel flag is set meanwhile, -EINVAL for corrupt CFI, -ENOMEM. @lim and @st may be NULL.
 */
int unwind_table__build(Elf *elf, const char *name, const struct unwind_build_limits *lim,
			struct unwind_row **rows, size_t *nr, struct unwind_table_stats *st);

/*
 * The same rows, handed to @emit as they are derived, a few thousand at a
 * time (@rows borrowed for the call; it returns 0 or -errno, which stops
 * the walk and is returned): no buffer of the whole table. *@nr gets the
 * count. The errors are unwind_table__build()'s.
 */
int unwind_table__build_stream(Elf *elf, const char *name, const struct unwind_build_limits *lim,
			       int (*emit)(void *ctx, const struct unwind_row *rows, size_t n),
			       void *ctx, size_t *nr, struct unwind_table_stats *st);

/* Index of the row covering ELF address @pc in @rows, or -1. */
long unwind_table__find(const struct unwind_row *rows, size_t nr, __u64 pc);

struct unwinder;

struct unwinder_opts {
	const char *proc_root;	/* default "/proc" */
	int rows_fd;		/* BPF maps to fill; -1 keeps everything in user space */
	int tables_fd;
	int procs_fd;
	/*
	 * The unwind_files map: tabled binaries by (device, inode), for pcs
	 * outside the mappings known for their process. 0 or -1: none.
	 */
	int files_fd;
	/*
	 * The BPF side's unwind_tables_gen (mmapped .bss), moved on every
	 * eviction to void its row caches; NULL without BPF.
	 */
	__u32 *tables_gen;
	__u32 max_rows;		/* capacity of the rows map */
	__u32 max_tables;	/* capacity of the tables map */
	double max_build_seconds;	/* CPU time one binary's table may take; 0: no limit */
	const volatile bool *cancel;	/* NULL, or: once set, builds stop at once */
	/*
	 * Derive big tables on a thread of their own, for
	 * unwinder__scan_process_soon(): a browser's never holds up the small
	 * ones of the processes that start meanwhile.
	 */
	bool background;
	/*
	 * Rows of evicted tables kept in user space (packed, see
	 * unwind_internal.h) up to this many bytes, least recently evicted
	 * dropped first: a binary mapped again (a compiler in a build loop)
	 * gets its table back without a new derivation. 0: none kept.
	 */
	size_t keep_bytes;
	/*
	 * NULL, or told each process's executable mappings as they are read
	 * (paths borrowed for the call), so others need not read them again.
	 */
	void (*maps_fn)(void *ctx, __u32 tgid, const struct sym_exec_map *maps, size_t nr);
	void *maps_ctx;
	/*
	 * NULL, or true for a binary whose processes are to be read even when
	 * it is tabled: an interpreter whose stacks are walked once user space
	 * has found its state through the maps. The others' processes are
	 * named by file (EVENT_F_BY_FILE) and need no read.
	 */
	bool (*read_fn)(const char *path);
};

/* Returns NULL with errno set. */
struct unwinder *unwinder__new(const struct unwinder_opts *opts);
void unwinder__free(struct unwinder *u);

/*
 * (Re)read /proc/@tgid/maps, build the tables of binaries not seen before and
 * store the process's mappings (in the BPF map too). Returns 0, -ESRCH when
 * the process is gone, -ENOMEM.
 */
int unwinder__scan_process(struct unwinder *u, __u32 tgid);

/*
 * The same, but with opts.background a table that would take long to derive
 * (a compiler, a browser: more than DEFER_COST bytes of CFI) is derived by
 * the worker thread, so the small tables of the processes read meanwhile
 * are not held up behind it; the process is read again once it is there
 * (unwinder__finish_builds()).
 */
int unwinder__scan_process_soon(struct unwinder *u, __u32 tgid);

/*
 * Readable (an eventfd) when the worker has derived a table; -1 without
 * opts.background.
 */
int unwinder__builds_fd(const struct unwinder *u);

/*
 * Publish the tables the worker derived, and read the processes waiting for
 * them again. Returns how many it took.
 */
int unwinder__finish_builds(struct unwinder *u);

/* Forget @tgid (it exited). */
void unwinder__remove_process(struct unwinder *u, __u32 tgid);

/* The tgids known, in *@tgids (the caller frees it). Returns 0 or -ENOMEM. */
int unwinder__list_processes(const struct unwinder *u, __u32 **tgids, size_t *nr);

/* The process's mappings as last scanned, or NULL (borrowed). */
const struct unwind_proc *unwinder__process(const struct unwinder *u, __u32 tgid);

/* Table @id as the BPF side sees it, or NULL (borrowed). */
const struct unwind_table *unwinder__table(const struct unwinder *u, __u32 id);
/* Row @idx as the BPF side sees it (read from the map): 0, or -ENOENT or -errno. */
int unwinder__row(const struct unwinder *u, __u32 idx, struct unwind_row *out);

struct unwinder_stats {
	size_t processes;	/* known processes */
	size_t tables;		/* binaries with a table */
	size_t no_table;	/* binaries without one (no CFI, unreadable, full) */
	size_t rows;		/* rows in use */
	size_t evicted;		/* tables dropped because no process mapped them any more */
	size_t max_rows;
	size_t scans;		/* /proc/PID/maps reads */
	size_t builds;		/* table derivations started, those that failed included */
	double build_seconds;	/* CPU time of those derivations */
	size_t restores;	/* evicted tables put back from their kept rows, not derived */
	size_t kept;		/* evicted tables whose rows are kept */
	size_t kept_bytes;	/* the memory those take */
};
void unwinder__stats(const struct unwinder *u, struct unwinder_stats *st);

#endif /* __PROFILER_UNWIND_H */
