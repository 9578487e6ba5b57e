/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One step of the user-stack unwinder: from the registers of one frame
 * (pc, sp, bp) to its caller's, with the tables of bpf/profiler.h. The BPF
 * program and the unit tests both include this file, so the logic the tests
 * check against a recorded stack is the logic the kernel runs. The includer
 * defines, before including it:
 *
 *   static __always_inline int unwind_read(void *rctx, __u64 addr, __u64 *out);
 *	read 8 bytes of user memory; 0 or < 0
 *   static __always_inline const struct unwind_row *unwind_get_row(void *rctx, __u32 idx);
 *   static __always_inline const struct unwind_table *unwind_get_table(void *rctx, __u32 id);
 *	NULL when out of range
 *   static __always_inline int unwind_find_slot(void *rctx, __u64 from, __u32 slots, __u64 value,
 *					       __u64 *at);
 *	the first of the @slots 8-byte slots from @from holding @value: 0 with
 *	its address in *at, or < 0 (not found, or unreadable first)
 *   static __always_inline struct unwind_row_cache_slot *unwind_get_cache_slot(void *rctx,
 *										 __u32 hash);
 *	the row-cache slot of this walk for @hash (its top bits pick the slot;
 *	see unwind_lookup_row()), or NULL for no cache
 *   static __always_inline const struct unwind_mapping *
 *   unwind_find_file(void *rctx, struct unwind_state *s);
 *	for a pc outside the process's known mappings: a mapping made up from
 *	the file behind s->pc (its table, if the binary has one), with s->enc
 *	set to the frame as (file, offset), or NULL when nothing is known
 *
 * Everything that changes from frame to frame lives in struct unwind_state,
 * which the BPF side keeps in a per-CPU map value rather than on its stack:
 * values loaded from a map are unknown to the verifier, so the states of the
 * search loops converge instead of multiplying with every frame.
 *
 * x86-64 only: the return address sits at CFA - 8, rbp is the frame pointer.
 */
#ifndef __PROFILER_UNWIND_STEP_H
#define __PROFILER_UNWIND_STEP_H

/* enough binary-search rounds for 2^24 rows per table and MAX_UNWIND_MAPS mappings */
#define UNWIND_ROW_SEARCH_STEPS 24
#define UNWIND_MAP_SEARCH_STEPS 9

/*
 * How far above an eh_return frame's CFA the slot holding its return address
 * is looked for, when the walk past that frame failed (unwind_eh_resume()).
 */
#define UNWIND_EH_SCAN_SLOTS 512

/*
 * The kernel's x86-64 rt_sigframe once the handler returned into
 * __restore_rt: rsp points at struct ucontext (the return address has been
 * popped). uc_mcontext starts at byte 40; rbp, rsp and rip are its 11th,
 * 16th and 17th words.
 */
#define SIGFRAME_RBP 120
#define SIGFRAME_RSP 160
#define SIGFRAME_RIP 168

struct unwind_state {
	__u64 pc, sp, bp;
	__u64 hash;		/* of the pcs recorded so far */
	__u32 nr;		/* frames recorded so far */
	__u32 end;		/* enum unwind_end, 0 while going */
	__u32 mode;		/* enum unwind_mode */
	__u32 exact_pc;		/* pc is not a return address (leaf, or after a signal frame) */
	__u32 missing;		/* a pc fell outside the known mappings: rescan */
	__u32 lo, hi;		/* binary search bounds */
	__u32 last_map;		/* index of the previous frame's mapping: callers are often there too */
	/* the last eh_return frame passed (UNWIND_ROW_EH_RETURN), to resume from on failure */
	__u64 eh_cfa, eh_ra, eh_bp, eh_hash;
	__u32 eh_nr;		/* frames recorded up to and including it */
	__u32 eh_resumed;	/* resumed once already: no second try */
	__u32 tables_gen;	/* generation of the tables, for the row cache */
	__u32 pad;
	/* the frame being stepped as UNWIND_FILE_FRAME (file, offset), or 0: as its pc */
	__u64 enc;
};



/* The mapping of @p holding s->pc, or NULL. */
static __always_inline const struct unwind_mapping *
unwind_find_mapping(const struct unwind_proc *p, struct unwind_state *s)
{
	const struct unwind_mapping *m = &p->maps[s->last_map & (MAX_UNWIND_MAPS - 1)];
	__u32 i, mid;

	if (s->pc >= m->start && s->pc < m->end && s->last_map < p->nr)
		return m;
	s->lo = 0;
	s->hi = p->nr;
	for (i = 0; i < UNWIND_MAP_SEARCH_STEPS; i++) {
		if (s->lo >= s->hi)
			return NULL;
		mid = (s->lo + s->hi) / 2;
		m = &p->maps[mid & (MAX_UNWIND_MAPS - 1)];
		if (s->pc < m->start)
			s->hi = mid;
		else if (s->pc >= m->end)
			s->lo = mid + 1;
		else {
			s->last_map = mid;
			return m;
		}
	}
	return NULL;
}

/* Entry @k of @t's index, or -1. */
static __always_inline long unwind_index_entry(void *rctx, const struct unwind_table *t, __u32 k)
{
	const __u32 *w = (const __u32 *)unwind_get_row(rctx, t->idx_first +
						       k / UNWIND_INDEX_PER_SLOT);

	return w ? (long)w[k % UNWIND_INDEX_PER_SLOT] : -1;
}

/*
 * The rows of @t to search for @pc into s->lo, s->hi: its bucket's, when @t
 * has an index, else all. False when no row can cover @pc.
 */
static __always_inline bool unwind_row_bounds(void *rctx, const struct unwind_table *t, __u32 pc,
					      struct unwind_state *s)
{
	long lo, hi = t->nr;
	__u32 k;

	s->lo = 0;
	s->hi = t->nr;
	if (!t->nidx)
		return true;
	if (pc < t->base)
		return false;
	k = (pc - t->base) >> (t->shift & 31);
	if (k >= t->nidx - 1)
		k = t->nidx - 1;	/* the last bucket runs to the end */
	else
		hi = unwind_index_entry(rctx, t, k + 1);
	lo = unwind_index_entry(rctx, t, k);
	/* a bad index costs a whole search, not a wrong row */
	if (lo >= 0 && lo <= hi && hi <= t->nr) {
		s->lo = lo;
		s->hi = hi;
	}
	return true;
}

/* The row of @t covering ELF address @pc: the last one whose pc <= @pc. */
static __always_inline const struct unwind_row *
unwind_find_row(void *rctx, const struct unwind_table *t, __u64 pc, struct unwind_state *s)
{
	const struct unwind_row *r;
	__u32 i, mid;

	if (pc > 0xffffffffULL || !unwind_row_bounds(rctx, t, pc, s))
		return NULL;
	for (i = 0; i < UNWIND_ROW_SEARCH_STEPS && s->lo < s->hi; i++) {
		mid = s->lo + (s->hi - s->lo) / 2;
		r = unwind_get_row(rctx, t->first + mid);
		if (!r)
			return NULL;
		if (r->pc <= pc)
			s->lo = mid + 1;
		else
			s->hi = mid;
	}
	if (s->lo == 0 || s->lo > t->nr)
		return NULL;
	return unwind_get_row(rctx, t->first + s->lo - 1);
}

/* The row of table @id covering ELF address @pc, through the row cache. */
static __always_inline const struct unwind_row *
unwind_lookup_row(void *rctx, __u32 id, __u64 pc, struct unwind_state *s)
{
	struct unwind_row_cache_slot *e;
	const struct unwind_table *t;
	const struct unwind_row *row;

	if (pc > 0xffffffffULL)
		return NULL;
	e = unwind_get_cache_slot(rctx, ((__u32)pc ^ id * 0x85ebca6bU) * 0x9e3779b1U);
	if (e && e->table == id + 1 && e->pc == (__u32)pc && e->gen == s->tables_gen)
		return &e->row;
	t = unwind_get_table(rctx, id);
	row = t ? unwind_find_row(rctx, t, pc, s) : NULL;
	if (row && e) {
		e->row = *row;
		e->pc = pc;
		e->table = id + 1;
		e->gen = s->tables_gen;
	}
	return row;
}

/* Follow a table row. Returns 0 with the caller's registers in @s, or an unwind_end. */
static __always_inline int unwind_step_row(void *rctx, const struct unwind_row *row,
					   struct unwind_state *s)
{
	__u64 cfa, ra, bp = s->bp;

	switch (UNWIND_ROW_CFA(row)) {
	case UNWIND_CFA_ROOT:
		return UNWIND_END_ROOT;
	case UNWIND_CFA_SIGNAL:
		if (unwind_read(rctx, s->sp + SIGFRAME_RBP, &bp) ||
		    unwind_read(rctx, s->sp + SIGFRAME_RSP, &cfa) ||
		    unwind_read(rctx, s->sp + SIGFRAME_RIP, &ra))
			return UNWIND_END_READ_ERROR;
		/* the interrupted code resumes at ra itself: no call to step back over */
		s->pc = ra;
		s->sp = cfa;
		s->bp = bp;
		s->exact_pc = 1;
		return ra ? 0 : UNWIND_END_ROOT;
	case UNWIND_CFA_RSP:
		cfa = s->sp + (__s64)row->cfa_off;
		break;
	case UNWIND_CFA_RBP:
		cfa = s->bp + (__s64)row->cfa_off;
		break;
	case UNWIND_CFA_PLT:
		cfa = s->sp + (__s64)row->cfa_off + ((s->pc & 15) >= (__u64)row->rbp_off ? 8 : 0);
		break;
	default:
		return UNWIND_END_UNSUPPORTED;
	}
	if (cfa <= s->sp)
		return UNWIND_END_BAD_FRAME;
	if (unwind_read(rctx, cfa - 8, &ra))
		return UNWIND_END_READ_ERROR;
	if (UNWIND_ROW_RBP(row) == UNWIND_RBP_OFFSET &&
	    unwind_read(rctx, cfa + (__s64)row->rbp_off, &bp))
		return UNWIND_END_READ_ERROR;
	if (row->type & UNWIND_ROW_EH_RETURN) {
		s->eh_cfa = cfa;
		s->eh_ra = ra;
		s->eh_bp = bp;
		s->eh_nr = s->nr;
		s->eh_hash = s->hash;
	}
	/*
	 * A zero return address ends the walk as the outermost frame, unless
	 * an eh_return frame was passed: then it is more likely a slot read
	 * from the wrong frame (see unwind_eh_resume()).
	 */
	if (!ra && s->eh_cfa && !s->eh_resumed)
		return UNWIND_END_BAD_FRAME;
	s->pc = ra;
	s->sp = cfa;
	s->bp = bp;
	s->exact_pc = 0;
	return ra ? 0 : UNWIND_END_ROOT;
}

/*
 * The walk failed after an eh_return frame. Right before such a frame
 * returns into an exception handler, libgcc has copied the handler frame's
 * registers over its save slots, return address included: what was read at
 * its CFA - 8 is then the return address into the handler's function, and
 * the frames in between (__cxa_throw, the throwing functions) are already
 * unwound as far as the exception goes. The true slot of that return
 * address is further up, in the frame the handler's function called: find
 * it, and go on from there with the handler's rbp (copied too). Returns true
 * when the walk resumes (s->nr and s->hash set back to that frame).
 */
static __always_inline bool unwind_eh_resume(void *rctx, struct unwind_state *s)
{
	__u64 at;

	if (!s->eh_cfa || s->eh_resumed)
		return false;
	s->eh_resumed = 1;
	if (unwind_find_slot(rctx, s->eh_cfa, UNWIND_EH_SCAN_SLOTS, s->eh_ra, &at))
		return false;
	s->pc = s->eh_ra;
	s->sp = at + 8;
	s->bp = s->eh_bp;
	s->exact_pc = 0;
	s->missing = 0;
	s->nr = s->eh_nr;
	s->hash = s->eh_hash;
	return true;
}

/* One frame-pointer step, for code without a table. */
static __always_inline int unwind_step_fp(void *rctx, struct unwind_state *s)
{
	__u64 ra, bp;

	if (!s->bp)
		return UNWIND_END_ROOT;	/* _start clears rbp: the end of the chain */
	if (s->bp < s->sp)
		return UNWIND_END_BAD_FRAME;
	if (unwind_read(rctx, s->bp + 8, &ra) || unwind_read(rctx, s->bp, &bp))
		return UNWIND_END_READ_ERROR;
	s->sp = s->bp + 16;
	s->pc = ra;
	s->bp = bp;
	s->exact_pc = 0;
	return ra ? 0 : UNWIND_END_ROOT;
}

/*
 * From the frame at s->pc to its caller, with the mappings of the process
 * (@p, NULL when unknown). Returns 0 or an unwind_end.
 */
static __always_inline int unwind_step(void *rctx, const struct unwind_proc *p,
				       struct unwind_state *s)
{
	const struct unwind_mapping *m = p ? unwind_find_mapping(p, s) : NULL;
	const struct unwind_row *row;
	__u64 pc;

	s->enc = 0;
	if (!m)
		m = unwind_find_file(rctx, s);
	if (!m) {
		s->missing = 1;
		if (s->mode != UNWIND_MODE_AUTO)
			return UNWIND_END_NO_MAPPING;
		return unwind_step_fp(rctx, s);
	}
	/* a file's code: the frame as (file, offset), which names it after its process is gone */
	pc = s->pc - m->start + ((__u64)m->pgoff << 12);
	if (m->fid && pc <= 0xffffffffULL)
		s->enc = UNWIND_FILE_FRAME | (__u64)m->fid << 32 | pc;
	/*
	 * JIT code (V8, the JVM with -XX:+PreserveFramePointer, LuaJIT...) has
	 * no table; the JITs that keep frame pointers are walked by them, and
	 * the tables take over again in native code. dwarf mode stops there.
	 */
	if (m->kind == UNWIND_MAP_JIT)
		return s->mode == UNWIND_MODE_AUTO ? unwind_step_fp(rctx, s) : UNWIND_END_JIT;
	if (m->kind == UNWIND_MAP_TABLE) {
		/* a return address may be just past the function's end: look up the call */
		pc = s->pc - m->bias - (s->exact_pc ? 0 : 1);
		row = unwind_lookup_row(rctx, m->table, pc, s);
		if (row && UNWIND_ROW_CFA(row) != UNWIND_CFA_NONE)
			return unwind_step_row(rctx, row, s);
	}
	if (s->mode != UNWIND_MODE_AUTO)
		return UNWIND_END_NO_TABLE;
	return unwind_step_fp(rctx, s);
}

#endif /* __PROFILER_UNWIND_STEP_H */
