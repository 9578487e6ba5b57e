/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Address -> frames. Kernel addresses resolve through /proc/kallsyms; user
 * addresses through the process's /proc/PID/maps to a (binary, file offset)
 * pair, then that binary's DWARF (inline chain, file:line) and ELF symbol
 * tables, read with libdw/libdwfl, with separate debuginfo found by build
 * id, .gnu_debuglink (CRC checked) or debuginfod. Names are demangled.
 * Binaries are opened through /proc/PID/map_files, so deleted files and
 * files in other mount namespaces resolve, and are cached by build id: a
 * binary mapped by many processes is read once. JIT code resolves through
 * the process's /tmp/perf-PID.map, the vDSO through the kernel's image.
 * C++ names are demangled without their parameter lists unless asked.
 */
#ifndef __PROFILER_SYMBOLIZER_H
#define __PROFILER_SYMBOLIZER_H

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>

struct symbolizer;

struct symbolizer_opts {
	const char *proc_root;		/* default "/proc"; tests point it elsewhere */
	const char *kallsyms_path;	/* default "<proc_root>/kallsyms" */
	bool no_dwarf;			/* symbol tables only: no inlines, no file:line */
	const char *debug_dir;		/* extra root for separate debuginfo, or NULL */
	size_t dwarf_mem_cap;		/* bytes of DWARF index kept; 0 = default (256 MiB) */
	size_t sym_mem_cap;		/* bytes of symbol tables kept when no process maps
					 * their binaries; 0 = SYM_MEM_CAP_DEFAULT */
	bool full_names;		/* C++ names with parameter lists ("f(int) const");
					 * default: "ns::Cls<T>::f", as perf shows them */
};

/*
 * Symbol tables of binaries no known process maps are evicted, least
 * recently used first, while all tables together take more than this; an
 * evicted binary is opened again (same build id) when an address needs it.
 */
#define SYM_MEM_CAP_DEFAULT (4u << 20)

/* Returns NULL and sets errno on failure. @opts may be NULL. */
struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *s);

/*
 * One resolved frame. All strings are borrowed from the symbolizer and stay
 * valid until symbolizer__free().
 */
struct sym_frame {
	const char *name;	/* demangled function name, NULL when unresolved */
	const char *raw_name;	/* the name as the binary spells it (mangled), or NULL */
	const char *module;	/* binary basename, kernel module, "[kernel]", "[vdso]", "[anon]" ... */
	const char *build_id;	/* hex build id of the binary, "" when none */
	const char *file;	/* source file, NULL when unknown */
	int line;		/* source line, 0 when unknown */
	int start_line;		/* the line the function is declared on, 0 when unknown */
	bool inlined;		/* inlined into the frame before it (its caller) */
	bool jit;		/* named by a JIT's /tmp/perf-PID.map */
	__u64 offset;		/* file offset in the module (user), or the address (kernel) */
};

/* Most frames one address can expand to (an inline chain). */
#define SYM_MAX_FRAMES 32

/*
 * Resolve a kernel address into one frame. Returns 0, or -ENOENT when the
 * address is not in kallsyms (out->name is then NULL).
 */
int symbolizer__kernel(struct symbolizer *s, __u64 addr, struct sym_frame *out);

/*
 * Resolve @addr in process @tgid into @frames (at most @max), outermost
 * first: the function and, with DWARF, the functions inlined into it down
 * to the one at @addr. Returns the number of frames (at least 1: an address
 * that cannot be named gives one frame with name NULL and, when known, its
 * module), or -ENOMEM. The first call for a tgid snapshots its mappings; an
 * address outside every known mapping re-reads them once per generation.
 */
int symbolizer__user(struct symbolizer *s, __u32 tgid, __u64 addr, struct sym_frame *frames,
		     int max);

/*
 * addr2line mode: open @path once (cached by build id like any binary) and
 * return a handle for symbolizer__file_addr(), or -errno after a warning.
 */
int symbolizer__open_file(struct symbolizer *s, const char *path);
/* Resolve ELF virtual address @vaddr of an opened file, as symbolizer__user(). */
int symbolizer__file_addr(struct symbolizer *s, int handle, __u64 vaddr, struct sym_frame *frames,
			  int max);

/* Make sure @tgid's mappings are captured now, while it lives. */
int symbolizer__add_process(struct symbolizer *s, __u32 tgid);
/*
 * A new process @tgid whose user frames all come as (file, offset)
 * (EVENT_F_BY_FILE): its mappings are read only if a frame needs them (an
 * address in no file, a file no other process showed). A pid known before
 * (an earlier image) is read at once, as symbolizer__add_process() does.
 */
int symbolizer__add_process_by_file(struct symbolizer *s, __u32 tgid);

/*
 * Start a new generation (one drain of samples): a process whose mappings
 * miss an address may re-read them once per generation.
 */
void symbolizer__next_generation(struct symbolizer *s);

/* The process exited: its mappings may be dropped once its samples are drained. */
void symbolizer__process_exited(struct symbolizer *s, __u32 tgid);

/*
 * Call @fn for each process whose file mappings changed since the last call
 * in a way that may name an address differently than before (a library
 * unloaded, another mapped where it was): names cached by address for it
 * are stale. New mappings alone are not a change.
 */
void symbolizer__take_changed(struct symbolizer *s, void (*fn)(void *ctx, __u32 tgid), void *ctx);

struct sym_exec_map;

/*
 * Mappings of @tgid read by another part of the profiler (the unwinder's
 * thread reads a process's maps at its exec and as it maps libraries),
 * taken over at the next generation or lookup: a process that exits before
 * its samples are drained keeps what was read while it ran, and is not read
 * again. The one call that may come from another thread than the
 * symbolizer's. @maps (@nr of them, paths borrowed) are copied. Returns 0 or
 * -ENOMEM (the offer is then dropped).
 */
int symbolizer__offer_maps(struct symbolizer *s, __u32 tgid, const struct sym_exec_map *maps,
			   size_t nr);

/*
 * Moves whenever a file id of the BPF unwinder's (file, offset) frames comes
 * to name another binary (a file rewritten in place, two files under one
 * id): until it moves, such a frame of a process named by file
 * (symbolizer__add_process_by_file()) resolves the same in every process.
 */
__u64 symbolizer__fid_epoch(const struct symbolizer *s);
/*
 * Does file id @fid name one binary (through any process's mapping), open
 * now? Only then is a (file, offset) frame named the same in every process,
 * and an offset without a name there has none.
 */
bool symbolizer__fid_shared(const struct symbolizer *s, __u32 fid);

/*
 * Build id (hex, borrowed until symbolizer__free()) of @tgid's executable
 * (/proc/PID/exe, found among its mappings), or NULL when unknown or none.
 * @exe_fid, when not 0, is the executable's unwind_file_id() as BPF saw it:
 * the mapping of that file is the executable's, and a process never read is
 * answered through another's mapping of it, without a read.
 */
const char *symbolizer__exe_build_id(struct symbolizer *s, __u32 tgid, __u32 exe_fid);

struct symbolizer_stats {
	size_t processes;
	size_t dsos;
	size_t dso_failures;
	size_t kernel_symbols;
	size_t dwarf_mem;	/* bytes in DWARF indexes */
	size_t cached_addrs;	/* resolved addresses remembered */
	size_t sym_mem;		/* bytes in symbol tables (as of the last generation) */
	size_t sym_evicted;	/* symbol tables evicted under sym_mem_cap, and */
	size_t sym_reopened;	/* binaries opened again after it */
	size_t maps_reads;	/* a live process's mappings read by the symbolizer itself */
};
void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st);

/* An executable mapping as /proc/PID/maps shows it, for modules that track mappings. */
struct sym_exec_map {
	__u64 start, end, pgoff;
	__u32 dev_major, dev_minor;
	__u64 inode;
	const char *path;	/* "" when anonymous; borrowed for the callback only */
	const char *build_id;	/* hex, NULL when not known; borrowed too */
	bool deleted;		/* the file was unlinked (path without " (deleted)") */
	bool anon;		/* anonymous, heap or stack: JIT code lives here */
	bool vdso;
	bool special;		/* [vsyscall] and other bracketed names */
};

/*
 * Call @fn for each executable mapping of @tgid in address order
 * (@proc_root NULL means "/proc"). Stops at the first non-zero return of @fn
 * and returns it; otherwise 0, -ESRCH when the maps cannot be read, -ENOMEM.
 */
int symbolizer__for_each_exec_map(const char *proc_root, __u32 tgid,
				  int (*fn)(void *ctx, const struct sym_exec_map *m), void *ctx);

/* The size of the vDSO's mapping (ours, the same in every process), or 0. */
__u64 symbolizer__vdso_size(void);

/*
 * Open the file behind mapping [@start, @end) of @tgid read-only, through
 * /proc/PID/map_files (deleted files, other mount namespaces), else through
 * /proc/PID/root/@path when that is still inode @inode: the process's user
 * controls that path, so no symlink is followed, FUSE is not read, and only
 * a regular file is opened (never blocking). When the process is gone, @path
 * in the profiler's own mount namespace, if it is still that device and
 * inode. Returns the fd (the caller closes it) or -errno (-ESTALE: the path
 * names another file now; -ESRCH: the process is gone and so is the file).
 */
int symbolizer__open_mapping(const char *proc_root, __u32 tgid, __u64 start, __u64 end,
			     __u32 dev_major, __u32 dev_minor, __u64 inode, const char *path);

/* ---- CPython (symbolizer/python.c) ---- */

struct py_proc;
struct py_frame;
struct python_layout;

/* A CPython interpreter found in a process; addresses are the process's. */
struct python_interp {
	__u32 version;		/* Py_Version, e.g. 0x030b02f0 for 3.11.2 */
	__u64 runtime;		/* _PyRuntime */
	__u64 eval, eval_size;	/* _PyEval_EvalFrameDefault */
	__u64 code_type;	/* PyCode_Type */
	const struct python_layout *layout;	/* NULL: a version without a table */
};

/* The minor version a python3.X or libpython3.X.so path names, or -1. */
int python__name_minor(const char *path);

/*
 * Look for CPython among the executable mappings @maps of @tgid (a
 * python3.X executable or a libpython3.X.so), from its dynamic symbols.
 * Returns 0, -ENOENT (no CPython), -ENOTSUP (no Py_Version: before 3.11),
 * or another -errno when the binary cannot be read.
 */
int python__find_interp(const char *proc_root, __u32 tgid, const struct sym_exec_map *maps,
			size_t nr, struct python_interp *out);

/*
 * What the BPF walker needs for @tgid's interpreter @in, after checking the
 * code object layout against the one the live interpreter publishes (and,
 * from 3.13, its _Py_DebugOffsets) and that the thread-state key is set.
 * Returns 0, -ENOTSUP (a version not walked), -EPROTO (the interpreter's
 * layout differs from the table), -EAGAIN (the runtime is not up yet) or
 * -errno reading the process.
 */
int python__bpf_proc(__u32 tgid, const struct python_interp *in, struct py_proc *out);

/* Names of Python code objects recorded by the BPF walker. */
struct python_namer;

struct py_name {
	const char *qualname;	/* borrowed until python_namer__free() */
	const char *file;	/* may be NULL */
	int line;		/* 0 when unknown */
};

struct python_namer *python_namer__new(void);
void python_namer__free(struct python_namer *n);

/*
 * Name frame @f of process @tgid, whose interpreter is version @version:
 * from the process while it lives, else from the same code seen before.
 * Returns 0 or -ENOENT (out->qualname NULL).
 */
int python_namer__name(struct python_namer *n, __u32 tgid, __u32 version,
		       const struct py_frame *f, struct py_name *out);

#endif /* __PROFILER_SYMBOLIZER_H */
