/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The few kernel types the BPF program needs, written by hand so the build
 * never reads the host's BTF or kernel headers. Values are the stable UAPI
 * ones from include/uapi/linux/bpf.h. Structs the program dereferences must be
 * declared with preserve_access_index so CO-RE relocates their fields.
 */
#ifndef __VMLINUX_H__
#define __VMLINUX_H__

typedef signed char __s8;
typedef unsigned char __u8;
typedef short __s16;
typedef unsigned short __u16;
typedef int __s32;
typedef unsigned int __u32;
typedef long long __s64;
typedef unsigned long long __u64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u64 __be64;
typedef __u32 __wsum;
typedef _Bool bool;
enum { false = 0, true = 1 };

enum bpf_map_type {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_STACK_TRACE = 7,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_RINGBUF = 27,
};

enum {
	BPF_F_NO_PREALLOC = (1U << 0),
	BPF_F_MMAPABLE = (1U << 10),
};

enum {
	BPF_ANY = 0,
	BPF_NOEXIST = 1,
	BPF_EXIST = 2,
};

/* bpf_ringbuf_output() flags and bpf_ringbuf_query() questions */
enum {
	BPF_RB_NO_WAKEUP = (1ULL << 0),
	BPF_RB_FORCE_WAKEUP = (1ULL << 1),
};

enum {
	BPF_RB_AVAIL_DATA = 0,
	BPF_RB_RING_SIZE = 1,
	BPF_RB_CONS_POS = 2,
	BPF_RB_PROD_POS = 3,
};

enum {
	BPF_F_SKIP_FIELD_MASK = 0xff,
	BPF_F_USER_STACK = (1ULL << 8),
	BPF_F_FAST_STACK_CMP = (1ULL << 9),
	BPF_F_REUSE_STACKID = (1ULL << 10),
};

/*
 * The perf_event program's context. Its registers are the UAPI
 * struct pt_regs layout of x86-64 (asm/ptrace.h), read through the context,
 * so no CO-RE relocation: the kernel rewrites these accesses itself.
 */
struct user_regs_x86_64 {
	unsigned long r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	unsigned long rax, rcx, rdx, rsi, rdi, orig_rax;
	unsigned long rip, cs, eflags, rsp, ss;
};

struct bpf_perf_event_data {
	struct user_regs_x86_64 regs;
	__u64 sample_period;
	__u64 addr;
};

/* Kernel structs read through BTF pointers: relocated by CO-RE. */
struct pt_regs {
	unsigned long r10;	/* syscall arguments: the 4th, 5th, 6th, 3rd, 2nd and 1st */
	unsigned long r9;
	unsigned long r8;
	unsigned long bp;
	unsigned long dx;
	unsigned long si;
	unsigned long di;
	unsigned long orig_ax;	/* the syscall's number */
	unsigned long ip;
	unsigned long cs;
	unsigned long sp;
} __attribute__((preserve_access_index));

/* x86-64: the user thread pointer (glibc's struct pthread), for the Python walk */
struct thread_struct {
	unsigned long fsbase;
} __attribute__((preserve_access_index));

struct task_struct {
	unsigned int flags;
	int pid;
	int tgid;
	struct thread_struct thread;
	struct task_struct *group_leader;
	__u64 start_boottime;
	struct mm_struct *mm;
	struct mm_struct *active_mm;
	struct files_struct *files;
	__u64 self_exec_id;	/* moved by each exec (u64 since 5.7) */
} __attribute__((preserve_access_index));

/* what bpf_find_vma() gives: the file behind a user address */
struct mm_struct;

struct super_block {
	__u32 s_dev;
} __attribute__((preserve_access_index));

/*
 * The inode's change time: two fields since 6.11; a struct timespec64
 * (__i_ctime from 6.6, i_ctime before) in the flavours below, which CO-RE
 * tells apart.
 */
struct inode {
	unsigned long i_ino;
	struct super_block *i_sb;
	long long i_ctime_sec;
	unsigned int i_ctime_nsec;
} __attribute__((preserve_access_index));

struct timespec64 {
	long long tv_sec;
	long tv_nsec;
} __attribute__((preserve_access_index));

struct inode___v66 {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v5 {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

/* a process's open files, as fd_inode() reads them */
struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __attribute__((preserve_access_index));

struct files_struct {
	struct fdtable *fdt;
} __attribute__((preserve_access_index));

/*
 * the executable's code and file, and (x86-64) mm->context.vdso, where the
 * vDSO is mapped
 */
struct mm_struct {
	unsigned long start_code;
	struct file *exe_file;
	struct {
		void *vdso;
	} context;
} __attribute__((preserve_access_index));

struct vm_area_struct {
	unsigned long vm_start;
	unsigned long vm_end;
	unsigned long vm_pgoff;
	unsigned long vm_flags;	/* in an anonymous union since 6.3: CO-RE finds it there */
	struct file *vm_file;
	struct mm_struct *vm_mm;
} __attribute__((preserve_access_index));

#define VM_EXEC 0x00000004	/* include/linux/mm.h */



#define PF_KTHREAD 0x00200000	/* include/linux/sched.h */

#endif /* __VMLINUX_H__ */
