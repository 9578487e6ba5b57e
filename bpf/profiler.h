/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Record layouts shared by the BPF program and user space. Only fixed-width
 * types and fixed arrays: both compilers must lay them out identically.
 */
#ifndef __PROFILER_BPF_H
#define __PROFILER_BPF_H

#ifndef TASK_COMM_LEN
#define TASK_COMM_LEN 16
#endif

/* perf's default kernel.perf_event_max_stack; the stack maps' value size */
#ifndef MAX_STACK_DEPTH
#define MAX_STACK_DEPTH 127
#endif

#ifndef MAX_FILTER_PIDS
#define MAX_FILTER_PIDS 1024
#endif

/*
 * Samples are aggregated in the kernel: one counts-map entry per distinct
 * (thread, kernel stack, user stack). A stack id < 0 means "no such stack"
 * (-EFAULT: a user-mode sample has no kernel stack, a kernel thread no user
 * stack). Any other failure is counted in the stats map and the sample is not
 * recorded.
 */
struct sample_key {
	__u32 tgid;
	__u32 pid;
	__s32 kern_stack_id;
	__s32 user_stack_id;
	char comm[TASK_COMM_LEN];
	__u32 unwind_end;	/* enum unwind_end: how the user stack's unwind ended */
	__u32 pad;
	__u64 ustack_hash;	/* != 0: user stack is in the ustacks_dwarf map */
	__u64 pystack_hash;	/* != 0: the thread's Python stack is in the pystacks map */
};

/*
 * Per-CPU counters, indexed by enum profiler_stat (not "stat":
 * that tag belongs to <sys/stat.h>). Every time the program runs it adds
 * one to STAT_SAMPLES and then exactly one of the outcome counters
 * (STAT_RECORDED .. STAT_DROP_OTHER), so they always add up.
 */
enum profiler_stat {
	STAT_SAMPLES = 0,		/* program invocations */
	STAT_RECORDED,			/* added to a counts map */
	STAT_IDLE,			/* pid 0 (idle task) and idle not wanted */
	STAT_FILTERED,			/* excluded by -p / --comm */
	STAT_DROP_KSTACK_COLLISION,	/* kernel stack hash bucket taken (-EEXIST) */
	STAT_DROP_USTACK_COLLISION,	/* user stack hash bucket taken (-EEXIST) */
	STAT_DROP_STACKMAP_FULL,	/* stack map out of entries (-ENOMEM) */
	STAT_DROP_COUNTS_FULL,		/* counts map out of entries */
	STAT_DROP_OTHER,		/* any other error from a helper */
	STAT_EVENTS_LOST,		/* process events the ring buffer had no room for */
	STAT_MAX,
};

/*
 * Process events, through one ring buffer (events), so user space captures a
 * process's mappings while it lives: EVENT_NEW on the first sample of a
 * process (and the first after an exec), EVENT_EXEC and EVENT_EXIT when a
 * process the sampler announced or the unwinder tracks execs or ends, and
 * EVENT_SCAN when the BPF unwinder needs a process's mappings (read) again.
 * The low byte of proc_event.type is the enum, the bits above it the
 * EVENT_F_* flags. One event per exec and per exit at most.
 */
enum proc_event_type {
	EVENT_NEW = 1,
	EVENT_EXEC = 2,
	EVENT_EXIT = 3,
	EVENT_SCAN = 4,
};

#define EVENT_TYPE(t) ((t) & 0xff)
/* EXEC, EXIT: the sampler had announced the process (EVENT_NEW) */
#define EVENT_F_SAMPLED 0x100
/* EXEC, NEW: read the (new image's) mappings; EXIT: the unwinder had its mappings */
#define EVENT_F_UNWIND 0x200
/*
 * NEW: the process is not to be read: every code mapping it has is of a file
 * user space tabled, so its user frames come as (file, offset)
 * (UNWIND_FILE_FRAME), and exe_fid names its executable
 */
#define EVENT_F_BY_FILE 0x400

struct proc_event {
	__u32 type;		/* enum proc_event_type | EVENT_F_* */
	__u32 tgid;
	__u64 start_ns;		/* EVENT_NEW: when the process started, ns since boot (boottime) */
	__u64 cgroup_id;	/* EVENT_NEW: the sampled thread's cgroup v2 id */
	__u32 exe_fid;		/* EVENT_NEW: unwind_file_id() of its executable, 0: unknown */
	__u32 pad;
};

/*
 * What the BPF side keeps per process, in one map (proc_state[tgid]): one
 * lookup at exec and at exit instead of one per concern.
 */
#define PROC_KNOWN 1u		/* EVENT_NEW sent */

/* proc_state.scan_ns's low bit: that request woke the events' reader */
#define SCAN_WOKE 1ULL

struct proc_state {
	__u64 scan_ns;		/* last EVENT_SCAN, to ask at most every 20 or 100 ms */
	__u64 flags;		/* PROC_*; 64 bits for the atomic or */
};

/*
 * The events ring buffer wakes its reader when past this many bytes, or for
 * an event that needs an answer soon (a sample's miss); others, the scan
 * after an exec among them (a binary tabled already unwinds without it),
 * wait for the reader's next look.
 */
#define EVENTS_RING_BYTES (256 * 1024)
#define EVENTS_WAKE_BYTES (EVENTS_RING_BYTES / 4)

#ifndef MAX_TRACKED_PROCS
#define MAX_TRACKED_PROCS 32768
#endif

/* Number of map sets the program alternates between, see profiler.bpf.c */
#define NR_MAP_SETS 2

/* ---- user stacks unwound in BPF from .eh_frame tables (see bpf/unwind.bpf.h) ---- */

#ifndef MAX_UNWIND_MAPS
#define MAX_UNWIND_MAPS 256		/* executable mappings kept per process */
#endif

/* rodata unwind_mode */
enum unwind_mode {
	UNWIND_MODE_FP = 0,	/* the kernel's frame-pointer walk (bpf_get_stackid) */
	UNWIND_MODE_DWARF,	/* tables only: code without a table ends the stack */
	UNWIND_MODE_AUTO,	/* tables, frame pointers where there is no table */
};

/* How a user stack's unwind ended; sample_key.unwind_end. */
enum unwind_end {
	UNWIND_END_NONE = 0,	/* no verdict: fp mode, or no user stack (kernel thread) */
	UNWIND_END_ROOT,	/* reached the outermost frame: the stack is complete */
	UNWIND_END_NO_TABLE,	/* code without unwind table (dwarf mode), or a bad frame pointer */
	UNWIND_END_JIT,		/* anonymous executable memory (JIT code) */
	UNWIND_END_UNSUPPORTED,	/* a CFI rule the BPF unwinder cannot follow */
	UNWIND_END_DEPTH,	/* MAX_STACK_DEPTH frames and not done */
	UNWIND_END_READ_ERROR,	/* user memory could not be read */
	UNWIND_END_NO_MAPPING,	/* pc outside the process's known mappings (rescan requested) */
	UNWIND_END_BAD_FRAME,	/* the stack pointer did not move up: corrupt stack */
	UNWIND_END_MAX,
};

/* unwind_row.cfa_type */
enum unwind_cfa {
	UNWIND_CFA_NONE = 0,	/* no CFI covers the address: fall back to frame pointers */
	UNWIND_CFA_RSP,		/* CFA = rsp + cfa_off */
	UNWIND_CFA_RBP,		/* CFA = rbp + cfa_off */
	UNWIND_CFA_PLT,		/* CFA = rsp + cfa_off + ((rip & 15) >= rbp_off ? 8 : 0) */
	UNWIND_CFA_SIGNAL,	/* rt_sigreturn trampoline: registers from the ucontext at rsp */
	UNWIND_CFA_ROOT,	/* return address undefined: the outermost frame */
	UNWIND_CFA_UNSUPPORTED,	/* a rule the BPF side cannot follow: the unwind stops */
};

/* unwind_row.rbp_type */
enum unwind_rbp {
	UNWIND_RBP_SAME = 0,	/* the caller's rbp is this frame's rbp */
	UNWIND_RBP_OFFSET,	/* the caller's rbp is saved at CFA + rbp_off */
};

/*
 * One row of an unwind table: the rules from @pc (an ELF virtual address) up
 * to the next row's pc. The return address is always at CFA - 8 (rows where
 * CFI says otherwise are UNWIND_CFA_UNSUPPORTED).
 */
struct unwind_row {
	__u32 pc;
	__u32 type;		/* enum unwind_cfa | enum unwind_rbp << 8 */
	__s32 cfa_off;
	__s32 rbp_off;		/* RBP_OFFSET: offset from the CFA; CFA_PLT: the threshold */
};

/*
 * Rows found before, by (table, ELF pc). A profile keeps sampling the same
 * few loops and their callers: most lookups hit, and a hit costs one load
 * instead of a binary search touching a dozen cold cache lines. A
 * compiler's samples spread over thousands of functions, hence up to 4096
 * slots (128 KB a CPU): on a build loop, 256 slots missed 4.9 times a
 * sample, 4096 miss 1.7 times. The loader gives each CPU fewer slots on a
 * host with many CPUs (unwind_row_cache_bits()), so the caches stay within
 * a few megabytes of kernel memory. Table ids and rows are reused after an
 * eviction; user space then moves the tables' generation, which voids every
 * entry made before.
 */
#define UNWIND_ROW_CACHE_BITS 12	/* the most slots a CPU: 1 << this */
#define UNWIND_ROW_CACHE_MIN_BITS 8
#define UNWIND_ROW_CACHE_SLOTS (1U << UNWIND_ROW_CACHE_BITS)

struct unwind_row_cache_slot {
	__u32 pc;
	__u32 table;		/* table id + 1; 0: empty */
	__u32 gen;
	__u32 pad;
	struct unwind_row row;
};

/*
 * unwind_row.type flag: the frame's CFI saves rax and rdx, the registers GCC
 * reserves for __builtin_eh_return's data; only functions that return into
 * an exception handler (libgcc's _Unwind_RaiseException, _Unwind_Resume, ...)
 * do. Just before that return, libgcc copies the handler frame's registers,
 * return address included, over this frame's save slots: the return address
 * read at CFA - 8 may then be the handler frame's, whose own slot lies
 * further up the stack (see unwind_step_row()).
 */
#define UNWIND_ROW_EH_RETURN (1u << 16)

#define UNWIND_ROW_CFA(r) ((r)->type & 0xff)
#define UNWIND_ROW_RBP(r) (((r)->type >> 8) & 0xff)
#define UNWIND_ROW_TYPE(cfa, rbp) ((cfa) | (rbp) << 8)

/*
 * One binary's rows: unwind_rows[first .. first + nr), sorted by pc. With
 * an index (@nidx not 0), the search for a pc starts from its bucket, the
 * 2^@shift bytes of code from @base it falls in: index entry k is the
 * number of rows below @base + (k << @shift), and the entries are packed
 * four to a row slot from unwind_rows[@idx_first] on. A binary search of a
 * whole table touches about 20 cold rows; a bucket holds a few.
 */
struct unwind_table {
	__u32 first;
	__u32 nr;
	__u32 idx_first;
	__u32 nidx;
	__u32 base;
	__u32 shift;
};

/* index entries per row slot, and rows per bucket the index aims at */
#define UNWIND_INDEX_PER_SLOT 4
#define UNWIND_INDEX_ROWS 4

/* unwind_mapping.kind */
enum unwind_map_kind {
	UNWIND_MAP_TABLE = 0,	/* rows in unwind_tables[table] */
	UNWIND_MAP_NO_TABLE,	/* a binary without a usable table: frame pointers */
	UNWIND_MAP_JIT,		/* anonymous executable memory: stop */
};

/*
 * One executable mapping: ELF vaddr = address - bias. A frame in a file's
 * mapping (@fid not 0) is recorded as (file, offset): UNWIND_FILE_FRAME.
 */
struct unwind_mapping {
	__u64 start;
	__u64 end;
	__u64 bias;
	__u32 table;
	__u32 kind;		/* enum unwind_map_kind */
	__u32 fid;		/* unwind_file_id() of its file, 0: none (anonymous) */
	__u32 pgoff;		/* file offset of @start, in pages */
};

/*
 * A binary with a table, by file identity: unwind_files[{dev, ino}]. A pc
 * outside the mappings known for its process (a process user space has not
 * read yet, or a library mapped since) is looked up by the file of its VMA
 * (bpf_find_vma), so a binary tabled once unwinds in every process that maps
 * it. @dev is the kernel's encoding (major << 20 | minor), as i_sb->s_dev.
 * The vDSO, which has no file, is { 0, 0 }.
 */
#define UNWIND_FILE_SEGS 4

struct unwind_file_key {
	__u64 dev;
	__u64 ino;
};

struct unwind_file_seg {
	__u64 offset;		/* the executable PT_LOAD's p_offset, p_vaddr, p_filesz */
	__u64 vaddr;
	__u64 filesz;
};

/*
 * unwind_file.flags: the processes mapping it are read all the same (a
 * Python interpreter: its stacks are walked once user space has found its
 * interpreter state in the maps)
 */
#define UNWIND_FILE_F_READ 1

struct unwind_file {
	__u32 table;
	__u16 nr_segs;
	__u16 flags;		/* UNWIND_FILE_F_* */
	/*
	 * The inode's change time (ns) when user space last knew its content:
	 * a VMA of the inode with another one maps a file rewritten since (a
	 * binary relinked in place keeps its inode), whose table is not this.
	 */
	__s64 ctime_ns;
	struct unwind_file_seg segs[UNWIND_FILE_SEGS];
};

/*
 * A frame found through its VMA rather than the process's known mappings is
 * recorded as (file, file offset), not as an address, so it can be named
 * after the process is gone: bit 63 set, the file's id (unwind_file_id() of
 * its device and inode) in bits 32-62, the file offset in bits 0-31. User
 * addresses never have bit 63 set.
 */
#define UNWIND_FILE_FRAME (1ULL << 63)
#define UNWIND_FILE_FRAME_ID(ip) ((__u32)((ip) >> 32) & 0x7fffffffu)
#define UNWIND_FILE_FRAME_OFFSET(ip) ((__u32)(ip))

static inline __u32 unwind_file_id(__u64 dev, __u64 ino)
{
	__u64 h = 0xcbf29ce484222325ULL;

	h = (h ^ dev) * 0x100000001b3ULL;
	h ^= h >> 31;
	h = (h ^ ino) * 0x100000001b3ULL;
	h ^= h >> 29;
	return (__u32)(h ^ (h >> 32)) & 0x7fffffffu;
}

/* The kernel's dev_t (include/linux/kdev_t.h) from /proc/PID/maps' major:minor. */
static inline __u64 unwind_kernel_dev(__u32 major, __u32 minor)
{
	return (__u64)major << 20 | minor;
}

/* A process's executable mappings, sorted by start; unwind_procs[tgid]. */
struct unwind_proc {
	__u32 nr;
	__u32 flags;		/* UNWIND_PROC_*, 0 as user space writes it */
	struct unwind_mapping maps[MAX_UNWIND_MAPS];
};

/* unwind_proc.flags: a forked child's copy of its parent's entry, unknown to user space */
#define UNWIND_PROC_INHERITED 1u
/*
 * unwind_proc.flags, set by user space: a fork's child is read, not named by
 * file, for it may need what only a read finds (an interpreter, JIT code,
 * mappings beyond MAX_UNWIND_MAPS)
 */
#define UNWIND_PROC_READ_FORKS 2u

/* A user stack unwound in BPF; ustacks_dwarf[hash]. ips[0] is the innermost. */
struct unwind_stack {
	__u64 nr;
	__u64 ips[MAX_STACK_DEPTH];
};

/* ---- CPython frames walked in BPF (see bpf/python.bpf.h, symbolizer/python.c) ---- */

#ifndef MAX_PY_DEPTH
#define MAX_PY_DEPTH 64			/* Python frames recorded per sample */
#endif

#define PY_OFF_NONE 0xffffffffu		/* a field this version does not have */

/*
 * Where to find a process's Python stacks: what user space found in its
 * interpreter (symbolizer/python.c), py_procs[tgid]. Offsets in bytes.
 */
struct py_proc {
	__u64 tss_key_addr;	/* the Py_tss_t of the thread-state key in _PyRuntime */
	__u32 pthread_specific;	/* glibc: offset of specific_1stblock in struct pthread */
	__u32 version;		/* Py_Version, e.g. 0x030b02f0 */
	__u32 tstate_frame;	/* PyThreadState -> _PyCFrame * (3.11, 3.12) or frame (3.13) */
	__u32 cframe_frame;	/* _PyCFrame -> current frame, or PY_OFF_NONE */
	__u32 frame_code;	/* _PyInterpreterFrame fields */
	__u32 frame_previous;
	__u32 frame_instr;	/* prev_instr (3.11, 3.12) or instr_ptr (3.13) */
	__u32 frame_entry;	/* is_entry (3.11), or PY_OFF_NONE */
	__u32 frame_owner;
	__u32 owner_cstack;	/* owner of the eval loop's entry shim (3.12+), or PY_OFF_NONE */
	__u32 code_adaptive;	/* PyCodeObject: the bytecode (co_code_adaptive) */
	__u32 code_size;	/* ob_size: the bytecode's length in code units */
	__u32 code_flags;	/* the fields of the fingerprint, see py_fingerprint() */
	__u32 code_argcount;
	__u32 code_stacksize;
	__u32 code_firstlineno;
};

/* py_frame.flags */
#define PY_FRAME_ENTRY 1u	/* the outermost frame run by its evaluation loop call */

/*
 * One Python frame: the code object's address and fingerprint (which tells
 * a reused address apart, and names the code once its process is gone), and
 * the index of the last instruction started, in code units (-1: none yet).
 */
struct py_frame {
	__u64 code;
	__u32 fingerprint;
	__s32 lasti;
	__u32 flags;
	__u32 pad;
};

/* py_stack.end */
enum py_end {
	PY_END_DONE = 0,	/* the first frame of the thread reached */
	PY_END_DEPTH,		/* MAX_PY_DEPTH frames and not done */
	PY_END_READ_ERROR,	/* a frame or code object could not be read */
};

/* A thread's Python stack, innermost first; pystacks[hash]. */
struct py_stack {
	__u32 nr;
	__u32 end;		/* enum py_end */
	__u32 version;		/* Py_Version of the interpreter */
	__u32 pad;
	struct py_frame frames[MAX_PY_DEPTH];
};

/* Fields of a code object that stay put while it lives, mixed: both sides compute it. */
static inline __u32 py_fingerprint(__u32 size, __u32 flags, __u32 argcount, __u32 stacksize,
				   __u32 firstlineno)
{
	__u64 h = 0xcbf29ce484222325ULL;

	h = (h ^ size) * 0x100000001b3ULL;
	h = (h ^ flags) * 0x100000001b3ULL;
	h = (h ^ argcount) * 0x100000001b3ULL;
	h = (h ^ stacksize) * 0x100000001b3ULL;
	h = (h ^ firstlineno) * 0x100000001b3ULL;
	return (__u32)(h ^ (h >> 32));
}

#endif /* __PROFILER_BPF_H */
