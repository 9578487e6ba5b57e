/* SPDX-License-Identifier: GPL-2.0 */
/*
 * CPython stacks walked at sample time. Included once, by profiler.bpf.c.
 *
 * User space (symbolizer/python.c) puts what it found in a process's
 * interpreter into py_procs[tgid]. For a sampled thread of such a process
 * the walk finds the thread's PyThreadState as pthread_getspecific() would
 * (the key from _PyRuntime, then glibc's struct pthread at fsbase), then
 * follows the _PyInterpreterFrame chain from the current frame outwards,
 * one frame per bpf_loop() callback: per frame the code object's address, a
 * fingerprint of its fields and the instruction offset. No strings: names
 * are read in user space. Two reads per frame, MAX_PY_DEPTH frames at most
 * (a deeper stack is kept and marked PY_END_DEPTH).
 */
#ifndef __PROFILER_PYTHON_BPF_H
#define __PROFILER_PYTHON_BPF_H

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, __u32);
	__type(value, struct py_proc);
	__uint(max_entries, 4096);
} py_procs SEC(".maps");

/* not preallocated: memory only for processes that run Python */
struct py_stack_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct py_stack);
	__uint(max_entries, 8192);
};

struct py_stack_map pystacks0 SEC(".maps"), pystacks1 SEC(".maps");

#define PY_BUF 256
#define PY_READ 96	/* bytes read of a frame and of a code object: every field used */

struct py_scratch {
	struct py_stack stack;
	__u64 frame;		/* the next frame to read */
	__u64 hash;
	__u8 buf[PY_BUF];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct py_scratch);
	__uint(max_entries, 1);
} py_scratch SEC(".maps");

static __always_inline __u64 py_ld64(const __u8 *buf, __u32 off)
{
	__u64 v;

	__builtin_memcpy(&v, buf + (off & 127), sizeof(v));
	return v;
}

static __always_inline __u32 py_ld32(const __u8 *buf, __u32 off)
{
	__u32 v;

	__builtin_memcpy(&v, buf + (off & 127), sizeof(v));
	return v;
}

struct py_loop_ctx {
	const struct py_proc *pp;
	struct py_scratch *sc;
};

static long py_frame_cb(__u64 i, void *data)
{
	struct py_loop_ctx *lc = data;
	const struct py_proc *pp = lc->pp;
	struct py_scratch *sc = lc->sc;
	__u64 code, instr, start;
	__u32 n = sc->stack.nr, fp, entry = 0, owner;
	__s64 lasti;

	if (!sc->frame)
		return 1;
	if (n >= MAX_PY_DEPTH) {
		sc->stack.end = PY_END_DEPTH;
		return 1;
	}
	if (bpf_probe_read_user(sc->buf, PY_READ, (const void *)sc->frame)) {
		sc->stack.end = PY_END_READ_ERROR;
		return 1;
	}
	code = py_ld64(sc->buf, pp->frame_code);
	instr = py_ld64(sc->buf, pp->frame_instr);
	sc->frame = py_ld64(sc->buf, pp->frame_previous);
	owner = sc->buf[pp->frame_owner & 127];
	if (pp->frame_entry != PY_OFF_NONE)
		entry = sc->buf[pp->frame_entry & 127];
	if (owner == pp->owner_cstack) {
		/* 3.12+: the shim an evaluation loop call starts with */
		if (n > 0 && n <= MAX_PY_DEPTH)
			sc->stack.frames[(n - 1) & (MAX_PY_DEPTH - 1)].flags |= PY_FRAME_ENTRY;
		return 0;
	}
	if (bpf_probe_read_user(sc->buf, PY_READ, (const void *)code)) {
		sc->stack.end = PY_END_READ_ERROR;
		return 1;
	}
	fp = py_fingerprint((__u32)py_ld64(sc->buf, pp->code_size), py_ld32(sc->buf, pp->code_flags),
			    py_ld32(sc->buf, pp->code_argcount), py_ld32(sc->buf, pp->code_stacksize),
			    py_ld32(sc->buf, pp->code_firstlineno));
	start = code + pp->code_adaptive;
	lasti = -1;
	if (instr >= start && (instr - start) >> 1 <= 0x7fffffff)
		lasti = (instr - start) >> 1;
	n &= MAX_PY_DEPTH - 1;
	sc->stack.frames[n].code = code;
	sc->stack.frames[n].fingerprint = fp;
	sc->stack.frames[n].lasti = lasti;
	sc->stack.frames[n].flags = entry ? PY_FRAME_ENTRY : 0;
	sc->stack.frames[n].pad = 0;
	sc->stack.nr = n + 1;
	sc->hash = (sc->hash ^ code) * 0x100000001b3ULL;
	sc->hash = (sc->hash ^ ((__u64)(__u32)lasti << 1 | entry)) * 0x100000001b3ULL;
	sc->hash ^= sc->hash >> 29;
	return 0;
}

/* The current thread's PyThreadState, or 0. */
static __always_inline __u64 py_thread_state(const struct py_proc *pp)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct { __s32 initialized; __u32 key; } tss;
	__u64 tstate = 0, fsbase;

	if (bpf_probe_read_user(&tss, sizeof(tss), (const void *)pp->tss_key_addr) ||
	    !tss.initialized || tss.key >= 32)
		return 0;
	fsbase = task->thread.fsbase;
	bpf_probe_read_user(&tstate, sizeof(tstate),
			    (const void *)(fsbase + pp->pthread_specific + tss.key * 16 + 8));
	return tstate;
}

/*
 * The Python stack of the current thread into @stacks (a py_stack_map);
 * key->pystack_hash is 0 when the process runs no Python or the thread has
 * no frame. Returns 0 or the stack map update's error.
 */
static __always_inline long python_walk(struct sample_key *key, void *stacks)
{
	struct py_loop_ctx lc;
	struct py_scratch *sc;
	__u64 frame = 0, tstate;
	__u32 zero = 0;
	long err;

	key->pystack_hash = 0;
	lc.pp = bpf_map_lookup_elem(&py_procs, &key->tgid);
	if (!lc.pp)
		return 0;
	tstate = py_thread_state(lc.pp);
	if (!tstate || bpf_probe_read_user(&frame, sizeof(frame),
					   (const void *)(tstate + lc.pp->tstate_frame)))
		return 0;
	if (lc.pp->cframe_frame != PY_OFF_NONE &&
	    (!frame || bpf_probe_read_user(&frame, sizeof(frame),
					   (const void *)(frame + lc.pp->cframe_frame))))
		return 0;
	sc = bpf_map_lookup_elem(&py_scratch, &zero);
	if (!sc || !frame)
		return 0;
	lc.sc = sc;
	sc->frame = frame;
	sc->hash = 0xcbf29ce484222325ULL;
	sc->stack.nr = 0;
	sc->stack.end = PY_END_DONE;
	sc->stack.version = lc.pp->version;
	sc->stack.pad = 0;
	/* 3.12+: a shim frame per evaluation loop call takes a step too */
	bpf_loop(2 * MAX_PY_DEPTH + 1, py_frame_cb, &lc, 0);
	if (!sc->stack.nr)
		return 0;
	if (sc->frame && !sc->stack.end)
		sc->stack.end = PY_END_DEPTH;
	key->pystack_hash = (sc->hash ^ sc->stack.end) | 1;
	if (bpf_map_lookup_elem(stacks, &key->pystack_hash))
		return 0;
	err = bpf_map_update_elem(stacks, &key->pystack_hash, &sc->stack, BPF_NOEXIST);
	return err == -EEXIST ? 0 : err;
}

/* A new image or the end of a process: its interpreter is gone. */
static __always_inline void python_process_gone(__u32 tgid)
{
	bpf_map_delete_elem(&py_procs, &tgid);
}

#endif /* __PROFILER_PYTHON_BPF_H */
