/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Address -> function name. Kernel addresses resolve through /proc/kallsyms;
 * user addresses through the process's /proc/PID/maps to a (binary, file
 * offset) pair and then that binary's ELF symbol tables, read with libdwfl.
 * Binaries are opened through /proc/PID/map_files, so deleted files and files
 * in other mount namespaces resolve, and are cached by build id: a binary
 * mapped by many processes is read once.
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
};

/* Returns NULL and sets errno on failure. @opts may be NULL. */
struct symbolizer *symbolizer__new(const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *s);

/*
 * One resolved frame. All strings are borrowed from the symbolizer and stay
 * valid until symbolizer__free().
 */
struct sym_frame {
	const char *name;	/* function, or NULL when it could not be resolved */
	const char *module;	/* binary basename, kernel module, "[kernel]", "[vdso]", "[anon]" ... */
	__u64 offset;		/* file offset in the module (user), or the address (kernel) */
};

/*
 * Resolve a kernel address. Always fills @out. Returns 0, or -ENOENT when the
 * address is not in kallsyms (out->name is then NULL).
 */
int symbolizer__kernel(struct symbolizer *s, __u64 addr, struct sym_frame *out);

/*
 * Resolve @addr in process @tgid. Always fills @out. Returns 0, -ENOENT when
 * the address could not be named (out->module still says where it was when
 * known), or -ESRCH when the process is gone and was never seen.
 * The first call for a tgid snapshots its mappings; an address outside every
 * known mapping triggers one re-read per generation (dlopen).
 */
int symbolizer__user(struct symbolizer *s, __u32 tgid, __u64 addr, struct sym_frame *out);

/* Make sure @tgid's mappings are captured now, while it lives. */
int symbolizer__add_process(struct symbolizer *s, __u32 tgid);

/*
 * Start a new generation (one drain of samples): a process whose mappings
 * miss an address may re-read them once per generation.
 */
void symbolizer__next_generation(struct symbolizer *s);

struct symbolizer_stats {
	size_t processes;
	size_t dsos;
	size_t dso_failures;
	size_t kernel_symbols;
};
void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *st);

/* An executable mapping as /proc/PID/maps shows it, for modules that track mappings. */
struct sym_exec_map {
	__u64 start, end, pgoff;
	__u32 dev_major, dev_minor;
	__u64 inode;
	const char *path;	/* "" when anonymous; borrowed for the callback only */
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

/*
 * Open the file behind mapping [@start, @end) of @tgid read-only, through
 * /proc/PID/map_files (deleted files, other mount namespaces), else through
 * /proc/PID/root/@path. Returns the fd (the caller closes it) or -errno.
 */
int symbolizer__open_mapping(const char *proc_root, __u32 tgid, __u64 start, __u64 end,
			     const char *path);

#endif /* __PROFILER_SYMBOLIZER_H */
