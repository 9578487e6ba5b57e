/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers and tables private to symbolizer/, exposed here for its unit tests.
 */
#ifndef __PROFILER_SYMBOLIZER_INTERNAL_H
#define __PROFILER_SYMBOLIZER_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct strset;

/* ---- kallsyms ---- */

struct ksym {
	__u64 addr;
	const char *name;	/* interned */
	const char *module;	/* interned, "[kernel]" for the core image */
};

struct ksyms {
	struct ksym *syms;	/* sorted by addr */
	size_t nr, cap;
};

/*
 * Parse /proc/kallsyms text from @f, keeping text symbols (t, T, w, W).
 * Names are interned in @strs. Returns 0, -EINVAL when no line parses, or
 * -ENOMEM. Lines that do not parse are skipped.
 */
int ksyms__load(struct ksyms *ks, FILE *f, struct strset *strs);
/* The symbol covering @addr, or NULL. */
const struct ksym *ksyms__find(const struct ksyms *ks, __u64 addr);
void ksyms__release(struct ksyms *ks);

/* ---- /proc/PID/maps ---- */

enum map_kind {
	MAP_FILE,
	MAP_ANON,	/* anonymous or [heap]/[stack]: JIT code lives here */
	MAP_VDSO,
	MAP_SPECIAL,	/* [vsyscall] and other bracketed names */
};

struct proc_map {
	__u64 start, end, pgoff;
	__u32 dev_major, dev_minor;
	__u64 inode;
	bool exec;
	bool deleted;	/* path ended in " (deleted)" */
	enum map_kind kind;
	const char *path;	/* interned; "" for anonymous */
	int dso;		/* index into the symbolizer's DSO table, -1 unknown */
};

/*
 * Parse one line of /proc/PID/maps. The path is interned in @strs. Returns 0,
 * -EINVAL for a malformed line, -ENOMEM.
 */
int proc_map__parse(const char *line, struct proc_map *m, struct strset *strs);

/* File offset of @addr in mapping @m; false if @addr is outside it. */
bool proc_map__file_offset(const struct proc_map *m, __u64 addr, __u64 *off);

/* ---- ELF symbol tables (one per binary) ---- */

struct dso;

/*
 * Open an ELF binary through @fd (consumed) with libdwfl; @path names it in
 * messages and locates separate debuginfo. NULL with errno set on failure,
 * after one warning naming the file.
 */
struct dso *dso__open(int fd, const char *path);
void dso__free(struct dso *d);
/* Hex build id, or "" when the binary has none (borrowed). */
const char *dso__build_id(const struct dso *d);
/* ELF virtual address of file offset @off; false if no PT_LOAD covers it. */
bool dso__offset_to_vaddr(const struct dso *d, __u64 off, __u64 *vaddr);
/* Function containing ELF virtual address @vaddr, or NULL (borrowed). */
const char *dso__find_symbol(const struct dso *d, __u64 vaddr);
size_t dso__nr_symbols(const struct dso *d);

#endif /* __PROFILER_SYMBOLIZER_INTERNAL_H */
