/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Parsers and tables private to symbolizer/, exposed here for its unit tests.
 */
#ifndef __PROFILER_SYMBOLIZER_INTERNAL_H
#define __PROFILER_SYMBOLIZER_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <linux/types.h>

#include "bpf/profiler.h"
#include "symbolizer.h"

struct strset;

/* ---- kallsyms ---- */

/*
 * A kernel has 100k+ text symbols: each is 16 bytes here, its name in one
 * pool of bytes (no per-name allocation, no hash entry), its module an index
 * into a short list of interned module names.
 */
struct ksym {
	__u64 addr;
	__u32 name;		/* offset in ksyms.names */
	__u32 module;		/* index in ksyms.modules */
};

struct ksyms {
	struct ksym *syms;	/* sorted by addr */
	size_t nr, cap;
	char *names;
	size_t names_len, names_cap;
	const char **modules;	/* interned; [0] is "[kernel]", the core image */
	size_t nr_modules, cap_modules;
};

/*
 * Parse /proc/kallsyms text from @f, keeping text symbols (t, T, w, W).
 * Module names are interned in @strs. Returns 0, -EINVAL when no line
 * parses, or -ENOMEM. Lines that do not parse are skipped.
 */
int ksyms__load(struct ksyms *ks, FILE *f, struct strset *strs);
/* The symbol covering @addr, or NULL. */
const struct ksym *ksyms__find(const struct ksyms *ks, __u64 addr);
static inline const char *ksyms__name(const struct ksyms *ks, const struct ksym *sym)
{
	return ks->names + sym->name;
}

static inline const char *ksyms__module(const struct ksyms *ks, const struct ksym *sym)
{
	return ks->modules[sym->module];
}

void ksyms__release(struct ksyms *ks);

/* ---- /proc/PID/maps ---- */

enum map_kind {
	MAPPING_FILE,
	MAPPING_ANON,	/* anonymous or [heap]/[stack]: JIT code lives here */
	MAPPING_VDSO,
	MAPPING_SPECIAL,	/* [vsyscall] and other bracketed names */
};

struct proc_map {
	__u64 start, end, pgoff;
	__u32 dev_major, dev_minor;
	__u64 inode;
	bool exec;
	bool deleted;	/* path ended in " (deleted)" */
	enum map_kind kind;
	const char *path;	/* interned; "" for anonymous */
	/*
	 * The file's build id as the kernel read it (PROCMAP_QUERY), interned
	 * hex; NULL when not known (the text format, a file without one)
	 */
	const char *build_id;
	int dso;		/* index into the symbolizer's DSO table, -1 unknown */
};

/*
 * Parse one line of /proc/PID/maps. The path is interned in @strs. Returns 0,
 * -EINVAL for a malformed line, -ENOMEM.
 */
int proc_map__parse(const char *line, struct proc_map *m, struct strset *strs);

typedef int (*proc_map_fn)(void *ctx, const struct proc_map *m);

/*
 * Call @fn for each executable mapping of @tgid, in address order, paths
 * interned in @strs: through the PROCMAP_QUERY ioctl (Linux 6.11 and later),
 * else (or with @text_only) by parsing /proc/PID/maps. Stops at @fn's first
 * non-zero return and returns it; otherwise 0, -ESRCH when the process is
 * gone (before or while it is read), -ENOMEM.
 */
int proc_maps__for_each_exec(const char *proc_root, __u32 tgid, bool text_only,
			     struct strset *strs, proc_map_fn fn, void *ctx);

/* File offset of @addr in mapping @m; false if @addr is outside it. */
bool proc_map__file_offset(const struct proc_map *m, __u64 addr, __u64 *off);

/* ---- DWARF ---- */

#define MAX_INLINE_DEPTH 32

/* One frame of a binary-level lookup; strings belong to the binary's libdw data. */
struct dso_frame {
	const char *name;	/* raw (possibly mangled) name, NULL when unknown */
	const char *file;	/* source file, NULL when unknown */
	const char *comp_dir;	/* the compile unit's directory: @file may be relative to it */
	int line;		/* 0 when unknown */
	int start_line;		/* the line the function is declared on, 0 when unknown */
	bool inlined;		/* inlined into the frame before it */
};

struct dwarf_index;
typedef struct Dwarf Dwarf;

/* Index the compile units of @dw (borrowed); @name (borrowed) names it in messages. */
struct dwarf_index *dwarf_index__new(Dwarf *dw, const char *name);
void dwarf_index__free(struct dwarf_index *di);
/*
 * Frames for DWARF address @addr, outermost first, into @out (at most
 * @max). Returns the count; 0 when DWARF does not cover the address. The
 * outermost frame's name may be NULL (a line but no scope). @now stamps the
 * CU for dwarf_index__evict().
 */
int dwarf_index__lookup(struct dwarf_index *di, __u64 addr, __u64 now, struct dso_frame *out,
			int max);
/* Drop CU indexes last used before @older_than; returns the bytes freed. */
size_t dwarf_index__evict(struct dwarf_index *di, __u64 older_than);
size_t dwarf_index__mem(const struct dwarf_index *di);

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
/*
 * Frames for ELF virtual address @vaddr, outermost first: the DWARF inline
 * chain with file:line when @use_dwarf and the binary (or its separate
 * debuginfo) has DWARF, else the symbol table's name. Returns the count, 0
 * when nothing names the address.
 */
int dso__resolve(struct dso *d, __u64 vaddr, bool use_dwarf, __u64 now, struct dso_frame *out,
		 int max);
/* Bytes held by the DWARF index; dso__evict_dwarf() drops CU indexes older than @t. */
size_t dso__dwarf_mem(const struct dso *d);
size_t dso__evict_dwarf(struct dso *d, __u64 older_than);
/* Also search separate debuginfo under @dir (NULL: the default places only). */
int dso__set_debug_dir(const char *dir);
/* Path of the separate debug file libdwfl found, or NULL (borrowed). */
const char *dso__debug_file(const struct dso *d);
/*
 * Keep only the symbol table: close the ELF file (its mapping and libdwfl's
 * data go). Symbol names only from then on. Returns 0.
 */
int dso__drop_elf(struct dso *d);
/* Bytes the binary's symbol table, names and segments take (not libdwfl's). */
size_t dso__mem(const struct dso *d);

/* ---- files a profiled process controls (untrusted.c) ---- */

struct stat;

#define UNTRUSTED_ANY_OWNER ((uid_t)-1)

/*
 * Open @path below directory @dirfd (a process's root) for reading, as a
 * file an unprivileged user may have planted: no component may be a symlink
 * or "..", nothing is looked up on FUSE, and the file must be a regular file
 * owned by @owner (UNTRUSTED_ANY_OWNER: anyone). It is opened O_NONBLOCK
 * only after those checks, through the inode checked. Returns the fd (the
 * caller closes it) with @st filled, or -errno: -ELOOP a symlink, -EINVAL not
 * a regular file, -EPERM another owner, -EREMOTE on FUSE.
 */
int untrusted__open(int dirfd, const char *path, uid_t owner, struct stat *st);
/*
 * The same for a kernel magic link such as /proc/PID/map_files/A-B, which is
 * followed: it names the file the process has mapped. Regular files only.
 */
int untrusted__open_link(const char *link, struct stat *st);
/* A message for an error of untrusted__open() (static string). */
const char *untrusted__strerror(int err);

/*
 * Copy @len bytes of @src to @dst (which may be @src), each control
 * character and each byte that is not part of valid UTF-8 (C1 controls
 * included) turned into '?': the length does not change. Returns whether
 * anything was replaced.
 */
bool sym_name__clean(char *dst, const char *src, size_t len);
bool sym_name__is_clean(const char *s, size_t len);

/* ---- JIT perf maps (perfmap.c): "START SIZE name" per line, hex ---- */

#define PERF_MAP_WINDOW (64u << 20)	/* bytes read at most: a larger file's last ones */
#define PERF_MAP_MAX_LINE 4096		/* longer lines are skipped, never buffered whole */
#define PERF_MAP_MAX_SYMS (1u << 20)
#define PERF_MAP_MAX_NAMES (64u << 20)	/* bytes of names kept */

struct perf_map_sym {
	__u64 start;		/* first: the sort key sorted_count_le() reads */
	__u64 end;
	__u32 name;		/* offset in perf_map.names */
	__u32 seq;		/* order in the file: of equal starts, the later wins */
};

/* What reading skipped, for one message naming the file. */
struct perf_map_counts {
	size_t malformed;	/* lines that do not parse */
	size_t too_long;	/* lines over PERF_MAP_MAX_LINE */
	size_t over_limit;	/* symbols past PERF_MAP_MAX_SYMS or PERF_MAP_MAX_NAMES */
	size_t windowed;	/* reads that started PERF_MAP_WINDOW bytes before the end */
};

/* One process's JIT symbols; all zero is an empty map. */
struct perf_map {
	struct perf_map_sym *syms;	/* [0, nr_sorted) sorted by (start, seq) */
	size_t nr, cap, nr_sorted;
	char *names;			/* cleaned, NUL-terminated */
	size_t names_len, names_cap;
	__u32 seq;
	bool full;			/* a limit was reached: start over when the file grows */
	/* reading state: the file, where the last read stopped, a line cut there */
	__u64 dev, ino, off;
	unsigned char tail[32];		/* the bytes before off: appended to, or rewritten? */
	size_t tail_len;
	char *line;			/* PERF_MAP_MAX_LINE bytes, once a line is cut */
	size_t line_len;
	bool skipping;			/* inside an over-long line: drop up to its newline */
	struct perf_map_counts counts;
};

/*
 * Parse one perf map line of @len bytes (a trailing newline allowed; no NUL
 * needed): START and SIZE in hex (an optional 0x), blanks, then the name,
 * the rest of the line (borrowed from @line, not cleaned). Returns 0, or
 * -EINVAL for a malformed line, a zero size or a range past 2^64.
 */
int perf_map__parse_line(const char *line, size_t len, __u64 *start, __u64 *size,
			 const char **name, size_t *name_len);
/*
 * Add the lines in @buf (any bytes; a line may continue in the next call) to
 * @pm, unsorted until perf_map__commit(). Returns 0 or -ENOMEM.
 */
int perf_map__feed(struct perf_map *pm, const char *buf, size_t len);
/* Sort what perf_map__feed() added into the table. Returns 0 or -ENOMEM. */
int perf_map__commit(struct perf_map *pm);
/*
 * Read perf map @fd (borrowed; @st its fstat) into @pm: from where the last
 * read of the same file stopped when it only grew, else afresh; at most
 * PERF_MAP_WINDOW bytes, the file's last ones. @bytes gets the bytes read.
 * Returns 0, -ENOMEM or a read error (what was read is kept).
 */
int perf_map__read(struct perf_map *pm, int fd, const struct stat *st, size_t *bytes);
/* The symbol covering @addr (borrowed until the next read), or NULL. */
const struct perf_map_sym *perf_map__find(const struct perf_map *pm, __u64 addr);
static inline const char *perf_map__name(const struct perf_map *pm, const struct perf_map_sym *sym)
{
	return pm->names + sym->name;
}
size_t perf_map__mem(const struct perf_map *pm);
/* Free the table; @pm is an empty map again. */
void perf_map__release(struct perf_map *pm);

/* ---- CPython (python.c) ---- */

/* One minor version's structure offsets (x86-64). */
struct python_layout {
	__u32 minor;
	bool verified;		/* checked against a running interpreter: walked */
	bool debug_offsets;	/* 3.13: _PyRuntime starts with _Py_DebugOffsets */
	__u32 tss_key;		/* _PyRuntime -> the thread-state Py_tss_t */
	struct py_proc p;	/* what BPF reads (version, addresses unset) */
	__u32 code_filename, code_qualname, code_linetable;
	__u32 ascii_size, compact_size;	/* PyASCIIObject, PyCompactUnicodeObject */
};

/* The table entry for Py_Version @version, or NULL. */
const struct python_layout *python__layout(__u32 version);
/* Read @fd's dynamic symbols; @start/@pgoff: one executable mapping of it. */
int python__read_elf(int fd, __u64 start, __u64 pgoff, struct python_interp *out);
/*
 * The line of code unit @lasti in the 3.11+ location table @t (co_linetable),
 * firstlineno for @lasti < 0, -1 when the unit has no line or the table is
 * corrupt.
 */
int python__line(const __u8 *t, size_t len, int firstlineno, int lasti);
/* glibc's specific_1stblock offset in struct pthread, PY_OFF_NONE if not found. */
__u32 python__pthread_specific_offset(void);

#endif /* __PROFILER_SYMBOLIZER_INTERNAL_H */
