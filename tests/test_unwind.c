// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for unwind/: the rows unwind_table__build() derives are checked
 * against the CFI eu-readelf prints for the same binaries, and the BPF
 * unwinder's stepping logic (bpf/unwind_step.h, compiled here as user-space
 * code) walks a stack recorded in this very process, through a library built
 * without frame pointers and through a signal frame.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <gelf.h>

#include "unwind/unwind.h"
#include "unwind/unwind_internal.h"
#include "symbolizer/symbolizer.h"

static const char *fixture(const char *name)
{
	static char buf[4][4096];
	static int next;
	char *b = buf[next++ % 4];
	const char *dir = getenv("FIXTURES");

	if (!dir)
		fail_msg("FIXTURES is not set: run the tests through 'make check'");
	snprintf(b, sizeof(buf[0]), "%s/%s", dir, name);
	return b;
}

static int build_file(const char *path, struct unwind_row **rows, size_t *nr,
		      struct unwind_table_stats *st)
{
	int fd = open(path, O_RDONLY), err;
	Elf *elf;

	if (fd < 0)
		fail_msg("cannot open '%s': %s", path, strerror(errno));
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	err = unwind_table__build(elf, path, NULL, rows, nr, st);
	elf_end(elf);
	close(fd);
	return err;
}

/* ---- the oracle: the CFI as eu-readelf prints it ---- */

struct cfi_state {
	int cfa_reg;		/* 7 rsp, 6 rbp, -1 unsupported, -2 the PLT expression */
	long cfa_off;
	int rbp_saved;		/* rbp at CFA + rbp_off */
	long rbp_off;
	int ra_undefined;
	int plt_thr;
	int rax_saved, rdx_saved;	/* the eh_return data registers, saved at CFA + n */
};

struct oracle {
	struct cfi_state cie[512];	/* initial states by CIE offset slot */
	long cie_off[512];
	int cie_signal[512];
	int nr_cie;
	size_t checked, skipped, mismatches;
	const struct unwind_row *rows;
	size_t nr;
};

static unsigned int expected_type(const struct cfi_state *s, int signal)
{
	if (signal)
		return UNWIND_ROW_TYPE(UNWIND_CFA_SIGNAL, UNWIND_RBP_SAME);
	if (s->ra_undefined)
		return UNWIND_ROW_TYPE(UNWIND_CFA_ROOT, UNWIND_RBP_SAME);
	if (s->cfa_reg == -2)
		return UNWIND_ROW_TYPE(UNWIND_CFA_PLT, UNWIND_RBP_SAME);
	if (s->cfa_reg == -1)
		return UNWIND_ROW_TYPE(UNWIND_CFA_UNSUPPORTED, UNWIND_RBP_SAME);
	return UNWIND_ROW_TYPE(s->cfa_reg == 6 ? UNWIND_CFA_RBP : UNWIND_CFA_RSP,
			       s->rbp_saved ? UNWIND_RBP_OFFSET : UNWIND_RBP_SAME) |
	       (s->rax_saved && s->rdx_saved ? UNWIND_ROW_EH_RETURN : 0);
}

/* Compare the rows over [from, to) with state @s. */
static void check_range(struct oracle *o, unsigned long from, unsigned long to,
			const struct cfi_state *s, int signal, int supported)
{
	unsigned long at[2] = { from, to - 1 };
	int i;

	if (from >= to)
		return;
	if (!supported) {
		o->skipped++;
		return;
	}
	for (i = 0; i < 2; i++) {
		long idx = unwind_table__find(o->rows, o->nr, at[i]);
		const struct unwind_row *r;
		unsigned int want = expected_type(s, signal);
		int ok;

		if (idx < 0) {
			print_message("no row covers 0x%lx\n", at[i]);
			o->mismatches++;
			continue;
		}
		r = &o->rows[idx];
		ok = r->type == want;
		if (ok && UNWIND_ROW_CFA(r) == UNWIND_CFA_PLT)
			ok = r->cfa_off == s->cfa_off && r->rbp_off == s->plt_thr;
		else if (ok && (UNWIND_ROW_CFA(r) == UNWIND_CFA_RSP || UNWIND_ROW_CFA(r) == UNWIND_CFA_RBP))
			ok = r->cfa_off == s->cfa_off &&
			     (!s->rbp_saved || r->rbp_off == s->rbp_off);
		if (!ok) {
			print_message("0x%lx: row type 0x%x cfa %d rbp %d, eu-readelf says type 0x%x cfa r%d%+ld rbp %s%+ld\n",
				      at[i], r->type, r->cfa_off, r->rbp_off, want, s->cfa_reg,
				      s->cfa_off, s->rbp_saved ? "cfa" : "same", s->rbp_off);
			o->mismatches++;
		}
		o->checked++;
	}
}

static int reg_of(const char *p)
{
	const char *r = strstr(p, " r");

	return r ? atoi(r + 2) : -1;
}

/* The CFA register named in @p: rsp and rbp, else -1 (the BPF side stops there). */
static int cfa_reg_of(const char *p)
{
	int r = reg_of(p);

	return r == 6 || r == 7 ? r : -1;
}

/*
 * Apply one instruction line to @s. Returns 0, or -1 for an instruction on
 * rsp/rbp/rip this oracle does not model (the FDE is then skipped).
 */
static int apply(struct cfi_state *s, const char *insn, FILE *f, struct cfi_state *stack,
		 int *depth)
{
	char line[512];
	long v;

	if (sscanf(insn, "def_cfa r%*d (%*[^)]) at offset %ld", &v) == 1) {
		s->cfa_reg = cfa_reg_of(insn - 1);
		s->cfa_off = v;
	} else if (sscanf(insn, "def_cfa_offset %ld", &v) == 1) {
		s->cfa_off = v;
	} else if (!strncmp(insn, "def_cfa_register", 16)) {
		s->cfa_reg = cfa_reg_of(insn);
	} else if (!strncmp(insn, "def_cfa_expression", 18)) {
		static const char *const plt[] = { "breg7", "breg16 0", "lit15", "and", NULL, "ge",
						   "lit3", "shl", "plus" };
		int i, ok = 1;

		s->cfa_reg = -1;
		for (i = 0; i < 9; i++) {
			char *op;

			if (!fgets(line, sizeof(line), f))
				return -1;
			op = strchr(line, ']');
			if (!op)
				return -1;
			op += 2;
			op[strcspn(op, "\n")] = '\0';
			if (i == 0)
				ok &= sscanf(op, "breg7 %ld", &s->cfa_off) == 1;
			else if (i == 4)
				ok &= sscanf(op, "lit%d", &s->plt_thr) == 1;
			else
				ok &= !strcmp(op, plt[i]);
		}
		if (!ok)
			return -1;
		s->cfa_reg = -2;
	} else if (sscanf(insn, "offset r6 (rbp) at cfa%ld", &v) == 1) {
		s->rbp_saved = 1;
		s->rbp_off = v;
	} else if (!strncmp(insn, "restore r6", 10) || !strncmp(insn, "same_value r6", 13) ||
		   !strncmp(insn, "undefined r6", 12)) {
		s->rbp_saved = 0;
	} else if (!strncmp(insn, "offset r0 (rax) at cfa", 22)) {
		s->rax_saved = 1;
	} else if (!strncmp(insn, "offset r1 (rdx) at cfa", 22)) {
		s->rdx_saved = 1;
	} else if (!strncmp(insn, "restore r0 ", 11) || !strncmp(insn, "same_value r0 ", 14) ||
		   !strncmp(insn, "undefined r0 ", 13)) {
		s->rax_saved = 0;
	} else if (!strncmp(insn, "restore r1 ", 11) || !strncmp(insn, "same_value r1 ", 14) ||
		   !strncmp(insn, "undefined r1 ", 13)) {
		s->rdx_saved = 0;
	} else if (!strncmp(insn, "offset r16 (rip) at cfa-8", 25)) {
		s->ra_undefined = 0;
	} else if (!strncmp(insn, "undefined r16", 13)) {
		s->ra_undefined = 1;
	} else if (!strncmp(insn, "remember_state", 14)) {
		if (*depth >= 16)
			return -1;
		stack[(*depth)++] = *s;
	} else if (!strncmp(insn, "restore_state", 13)) {
		if (!*depth)
			return -1;
		*s = stack[--(*depth)];
	} else if (!strncmp(insn, "nop", 3) || !strncmp(insn, "offset r", 8) ||
		   !strncmp(insn, "restore r", 9) || !strncmp(insn, "GNU_args_size", 13)) {
		/* other registers do not matter to the unwinder */
		if (reg_of(insn) == 6 || reg_of(insn) == 7 || reg_of(insn) == 16)
			return -1;
	} else {
		int r = reg_of(insn);

		if (r == 6 || r == 7 || r == 16 || strstr(insn, "cfa"))
			return -1;
	}
	return 0;
}

/* Walk `eu-readelf --debug-dump=frames` output for @path and compare every row. */
static void compare_with_readelf(const char *path, struct oracle *o)
{
	char cmd[4200], line[512];
	struct cfi_state s = { 0 }, stack[16], *cie = NULL;
	unsigned long loc = 0, end = 0;
	int in_fde = 0, supported = 1, signal = 0, depth = 0, in_eh = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "eu-readelf --debug-dump=frames '%s'", path);
	f = popen(cmd, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");
		long off;
		int i;

		if (strstr(line, "Call frame information section")) {
			in_eh = strstr(line, "'.eh_frame'") != NULL;
			continue;
		}
		if (!in_eh)
			continue;
		if ((strstr(line, "] CIE ") || strstr(line, "] FDE ")) &&
		    sscanf(line, " [%lx]", &off) == 1) {
			if (in_fde)
				check_range(o, loc, end, &s, signal, supported);
			in_fde = 0;
			if (strstr(line, "CIE")) {
				assert_true(o->nr_cie < 512);
				o->cie_off[o->nr_cie] = off;
				cie = &o->cie[o->nr_cie];
				o->cie_signal[o->nr_cie++] = 0;
				memset(cie, 0, sizeof(*cie));
				cie->cfa_reg = 7;
				depth = 0;
			} else {
				long c = strtol(strstr(line, "cie=[") + 5, NULL, 16);

				for (i = 0; i < o->nr_cie && o->cie_off[i] != c; i++)
					;
				assert_true(i < o->nr_cie);
				s = o->cie[i];
				signal = o->cie_signal[i];
				cie = NULL;
				in_fde = 1;
				supported = s.cfa_reg != -1;
				depth = 0;
			}
			continue;
		}
		if (cie && strstr(p, "augmentation:") == p && strchr(strchr(p, '"'), 'S'))
			o->cie_signal[o->nr_cie - 1] = 1;
		if (in_fde && sscanf(p, "initial_location: +%lx", &loc) == 1)
			continue;
		if (in_fde && strstr(p, "address_range:") == p) {
			end = strtoul(strstr(p, "end offset: ") + 12, NULL, 16);
			continue;
		}
		if (!strncmp(p, "advance_loc", 11) && in_fde) {
			unsigned long to = strtoul(strstr(p, " to ") + 4, NULL, 16);

			check_range(o, loc, to, &s, signal, supported);
			loc = to;
			continue;
		}
		if (strchr(p, '\n') == p || !strncmp(p, "Program:", 8) || strchr(p, ':'))
			continue;
		if (cie && apply(cie, p, f, stack, &depth))
			cie->cfa_reg = -1;
		else if (in_fde && supported && apply(&s, p, f, stack, &depth))
			supported = 0;
	}
	if (in_fde)
		check_range(o, loc, end, &s, signal, supported);
	assert_int_equal(pclose(f), 0);
}

static void check_binary(const char *path, size_t min_checked)
{
	struct oracle *o = calloc(1, sizeof(*o));
	struct unwind_table_stats st;
	struct unwind_row *rows;
	size_t nr, i;

	assert_non_null(o);
	assert_int_equal(build_file(path, &rows, &nr, &st), 0);
	for (i = 1; i < nr; i++)
		assert_true(rows[i - 1].pc < rows[i].pc);
	o->rows = rows;
	o->nr = nr;
	compare_with_readelf(path, o);
	print_message("%s: %zu rows, %zu row ranges checked against eu-readelf, %zu FDE ranges skipped, %zu unsupported\n",
		      path, nr, o->checked, o->skipped, st.unsupported);
	assert_int_equal(o->mismatches, 0);
	assert_true(o->checked >= min_checked);
	free(rows);
	free(o);
}

static void test_rows_match_readelf_fixtures(void **state)
{
	(void)state;
	check_binary(fixture("unwfix-nofp"), 20);
	check_binary(fixture("unwfix-fp"), 20);
	check_binary(fixture("libunwfix.so"), 20);
}

static void test_rows_match_readelf_libc(void **state)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";

	(void)state;
	if (access(libc, R_OK)) {
		print_message("SKIP: no %s\n", libc);
		skip();
	}
	check_binary(libc, 20000);
}

/*
 * Big binaries, as the agent meets them on a build host: every row the same
 * as eu-readelf's CFI for them (the walk renews libdw's CFI handle every few
 * hundred lookups; the rows must not change with that).
 */
static const char *const big_binaries[] = {
	"/usr/lib/gcc/x86_64-linux-gnu/12/cc1",
	"/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
	"/usr/bin/python3.11",
	"/lib/x86_64-linux-gnu/libc.so.6",
};

static void test_rows_match_readelf_big(void **state)
{
	size_t i, n = 0;

	(void)state;
	/*
	 * Not cc1: eu-readelf takes minutes of CPU to print its CFI; nor the
	 * non-PIE python3.11, whose absolute locations the oracle does not
	 * read. Their rows are compared by hash before and after a change
	 * with bench/tables (make bench-tables).
	 */
	for (i = 1; i < 2; i++) {
		if (access(big_binaries[i], R_OK))
			continue;
		check_binary(big_binaries[i], 10000);
		n++;
	}
	if (!n) {
		print_message("SKIP: no libstdc++ here\n");
		skip();
	}
}

struct rows_src {
	const struct unwind_row *rows;
	struct unwind_row *out;
	size_t nr, calls;
	int fail_at;		/* write: fail at this call (-1 never) */
};

static int read_cb(void *ctx, size_t at, size_t n, struct unwind_row *out)
{
	struct rows_src *s = ctx;

	assert_true(at + n <= s->nr && n <= UNWIND_PACK_CHUNK);
	memcpy(out, s->rows + at, n * sizeof(*out));
	return 0;
}

static int write_cb(void *ctx, size_t at, const struct unwind_row *rows, size_t n)
{
	struct rows_src *s = ctx;

	if ((int)s->calls++ == s->fail_at)
		return -EIO;
	assert_true(at + n <= s->nr && n <= UNWIND_PACK_CHUNK);
	memcpy(s->out + at, rows, n * sizeof(*rows));
	return 0;
}

/* The binaries the table round trips run on: two fixtures and the big ones installed. */
static size_t table_test_paths(const char *paths[8])
{
	size_t nr = 0, i;

	paths[nr++] = fixture("unwfix-nofp");
	paths[nr++] = fixture("libunwfix.so");
	for (i = 0; i < sizeof(big_binaries) / sizeof(big_binaries[0]) && nr < 8; i++) {
		if (!access(big_binaries[i], R_OK))
			paths[nr++] = big_binaries[i];
	}
	return nr;
}

/*
 * Evicted tables are kept packed: every row comes back as it went in, for
 * big tables and small; a blob cut short or with bytes after its rows is
 * refused, and so is one asked for more rows than it holds.
 */
static void test_pack_roundtrip(void **state)
{
	const char *paths[8];
	size_t nr_paths, i;

	(void)state;
	nr_paths = table_test_paths(paths);
	for (i = 0; i < nr_paths; i++) {
		struct rows_src src = { .fail_at = -1 };
		struct unwind_row *rows;
		size_t nr, size;
		void *blob;
		char *cut;

		assert_int_equal(build_file(paths[i], &rows, &nr, NULL), 0);
		src.rows = rows;
		src.nr = nr;
		src.out = calloc(nr, sizeof(*rows));
		assert_non_null(src.out);
		assert_int_equal(unwind_pack__rows(read_cb, &src, nr, &blob, &size), 0);
		assert_int_equal(unwind_pack__unpack(blob, size, nr, write_cb, &src), 0);
		assert_memory_equal(src.out, rows, nr * sizeof(*rows));
		print_message("%s: %zu rows, %zu bytes -> %zu packed (%.1f bytes a row)\n", paths[i],
			      nr, nr * sizeof(*rows), size, (double)size / nr);
		assert_true(size < nr * sizeof(*rows) / 3);

		assert_int_equal(unwind_pack__unpack(blob, size - 1, nr, write_cb, &src), -EINVAL);
		assert_int_equal(unwind_pack__unpack(blob, size, nr + 1, write_cb, &src), -EINVAL);
		cut = malloc(size + 1);
		assert_non_null(cut);
		memcpy(cut, blob, size);
		cut[size] = 0;
		assert_int_equal(unwind_pack__unpack(cut, size + 1, nr, write_cb, &src), -EINVAL);
		free(cut);
		src.calls = 0;
		src.fail_at = 0;
		assert_int_equal(unwind_pack__unpack(blob, size, nr, write_cb, &src), -EIO);
		free(blob);
		free(src.out);
		free(rows);
	}
}

struct collected {
	struct unwind_row *rows;
	size_t nr, cap, calls, most;
	int fail_at;		/* fail at this call (-1 never) */
};

static int collect_cb(void *ctx, const struct unwind_row *rows, size_t n)
{
	struct collected *c = ctx;

	if ((int)c->calls++ == c->fail_at)
		return -EIO;
	if (c->nr + n > c->cap) {
		c->cap = (c->nr + n) * 2;
		c->rows = reallocarray(c->rows, c->cap, sizeof(*rows));
		assert_non_null(c->rows);
	}
	memcpy(c->rows + c->nr, rows, n * sizeof(*rows));
	c->nr += n;
	c->most = n > c->most ? n : c->most;
	return 0;
}

static int pack_cb(void *ctx, const struct unwind_row *rows, size_t n)
{
	return unwind_packer__add(ctx, rows, n);
}

/*
 * A table streamed as it is derived (as the unwinder builds one) has the
 * rows of the buffered derivation, handed on a window at a time, and packed
 * as they come it unpacks to them too; an error of the consumer stops the
 * walk and comes back, and the row limit holds.
 */
static void test_stream_matches_buffered(void **state)
{
	struct unwind_build_limits small = { .max_rows = 10 };
	const char *paths[8];
	size_t nr_paths, i;

	(void)state;
	nr_paths = table_test_paths(paths);
	for (i = 0; i < nr_paths; i++) {
		struct collected c = { .fail_at = -1 }, fail = { .fail_at = 0 };
		struct rows_src src = { .fail_at = -1 };
		struct unwind_packer *pk = unwind_packer__new();
		struct unwind_row *rows;
		size_t nr, snr = 0, pnr = 0, size;
		void *blob;
		int fd = open(paths[i], O_RDONLY);
		Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);

		assert_non_null(elf);
		assert_non_null(pk);
		assert_int_equal(build_file(paths[i], &rows, &nr, NULL), 0);
		assert_int_equal(unwind_table__build_stream(elf, paths[i], NULL, collect_cb, &c, &snr,
							    NULL), 0);
		assert_int_equal(snr, nr);
		assert_int_equal(c.nr, nr);
		assert_memory_equal(c.rows, rows, nr * sizeof(*rows));
		assert_true(c.most <= 4096);

		assert_int_equal(unwind_table__build_stream(elf, paths[i], NULL, pack_cb, pk, &snr,
							    NULL), 0);
		assert_int_equal(unwind_packer__finish(pk, &blob, &size, &pnr), 0);
		assert_int_equal(pnr, nr);
		src.nr = nr;
		src.out = calloc(nr, sizeof(*rows));
		assert_non_null(src.out);
		assert_int_equal(unwind_pack__unpack(blob, size, nr, write_cb, &src), 0);
		assert_memory_equal(src.out, rows, nr * sizeof(*rows));
		print_message("%s: %zu rows streamed, at most %zu a call, %zu bytes packed\n",
			      paths[i], nr, c.most, size);

		if (nr > 4096)
			assert_int_equal(unwind_table__build_stream(elf, paths[i], NULL, collect_cb,
								    &fail, &snr, NULL), -EIO);
		assert_int_equal(unwind_table__build_stream(elf, paths[i], &small, collect_cb, &c,
							    &snr, NULL), -E2BIG);
		free(fail.rows);
		free(blob);
		free(src.out);
		free(c.rows);
		free(rows);
		unwind_packer__free(pk);
		elf_end(elf);
		close(fd);
	}
}

/*
 * libgcc_s returns into exception handlers through __builtin_eh_return:
 * those functions save rax and rdx, and their rows carry the flag.
 */
static void test_rows_match_readelf_libgcc(void **state)
{
	const char *lib = "/lib/x86_64-linux-gnu/libgcc_s.so.1";
	struct unwind_row *rows;
	size_t nr, i, flagged = 0;

	(void)state;
	if (access(lib, R_OK)) {
		print_message("SKIP: no %s\n", lib);
		skip();
	}
	check_binary(lib, 500);
	assert_int_equal(build_file(lib, &rows, &nr, NULL), 0);
	for (i = 0; i < nr; i++)
		flagged += !!(rows[i].type & UNWIND_ROW_EH_RETURN);
	print_message("%zu of %zu rows in eh_return frames\n", flagged, nr);
	assert_true(flagged > 0);
	free(rows);
}

/* libc has every kind of row: PLT stubs, a signal trampoline, thread roots */
static void test_libc_shapes(void **state)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	struct unwind_row *rows;
	size_t nr, i, seen[UNWIND_CFA_UNSUPPORTED + 1] = { 0 };

	(void)state;
	if (access(libc, R_OK)) {
		print_message("SKIP: no %s\n", libc);
		skip();
	}
	assert_int_equal(build_file(libc, &rows, &nr, NULL), 0);
	for (i = 0; i < nr; i++) {
		assert_true(UNWIND_ROW_CFA(&rows[i]) <= UNWIND_CFA_UNSUPPORTED);
		seen[UNWIND_ROW_CFA(&rows[i])]++;
	}
	assert_true(seen[UNWIND_CFA_PLT] >= 1);
	assert_true(seen[UNWIND_CFA_SIGNAL] >= 1);	/* __restore_rt */
	assert_true(seen[UNWIND_CFA_ROOT] >= 1);	/* clone, clone3 */
	assert_true(seen[UNWIND_CFA_RSP] > 10 * seen[UNWIND_CFA_UNSUPPORTED]);
	free(rows);
}

/* The specific shapes the fixture was written for. */
static void test_fixture_shapes(void **state)
{
	struct unwind_row *rows;
	size_t nr, i, rbp_cfa = 0, big = 0, root = 0;

	(void)state;
	assert_int_equal(build_file(fixture("unwfix-nofp"), &rows, &nr, NULL), 0);
	for (i = 0; i < nr; i++) {
		rbp_cfa += UNWIND_ROW_CFA(&rows[i]) == UNWIND_CFA_RBP;	/* alloca */
		big += UNWIND_ROW_CFA(&rows[i]) == UNWIND_CFA_RSP && rows[i].cfa_off > 4096;
		root += UNWIND_ROW_CFA(&rows[i]) == UNWIND_CFA_ROOT;	/* _start */
	}
	assert_true(rbp_cfa >= 1);
	assert_true(big >= 1);
	assert_int_equal(root, 1);
	free(rows);
}

/* A table larger or slower than allowed is given up early, not built whole. */
static void test_row_limit(void **state)
{
	struct unwind_build_limits small = { .max_rows = 10 }, enough = { .max_rows = 1000 };
	struct unwind_build_limits no_time = { .max_seconds = 1e-9 };
	struct unwind_row *rows = NULL;
	size_t nr = 0;
	int fd = open(fixture("unwfix-nofp"), O_RDONLY);
	Elf *elf;

	(void)state;
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);

	assert_int_equal(unwind_table__build(elf, "unwfix-nofp", &small, &rows, &nr, NULL), -E2BIG);
	assert_null(rows);
	assert_int_equal(unwind_table__build(elf, "unwfix-nofp", &no_time, &rows, &nr, NULL),
			 -ETIME);
	assert_null(rows);
	assert_int_equal(unwind_table__build(elf, "unwfix-nofp", &enough, &rows, &nr, NULL), 0);
	assert_true(nr > 10 && nr <= 1000);
	free(rows);
	elf_end(elf);
	close(fd);
}

/* The address of function @name in @path's symbol table. */
static __u64 symbol_addr(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	Elf_Scn *scn = NULL;
	__u64 addr = 0;
	GElf_Shdr sh;
	GElf_Sym sym;
	size_t i;

	assert_non_null(elf);
	while (!addr && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d = gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB ?
			      elf_getdata(scn, NULL) : NULL;

		for (i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *n = gelf_getsym(d, i, &sym) ?
					elf_strptr(elf, sh.sh_link, sym.st_name) : NULL;

			if (n && !strcmp(n, name))
				addr = sym.st_value;
		}
	}
	elf_end(elf);
	close(fd);
	if (!addr)
		fail_msg("no symbol '%s' in '%s'", name, path);
	return addr;
}

/* Code without CFI is jumped over (32 MiB in a few probes), and a build can be called off. */
static void test_gap_and_cancel(void **state)
{
	volatile bool stop = true;
	struct unwind_build_limits one_second = { .max_seconds = 1 }, cancel = { .cancel = &stop };
	struct unwind_row *rows = NULL;
	size_t nr = 0;
	long i;
	int fd = open(fixture("unwgap"), O_RDONLY);
	Elf *elf;

	(void)state;
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	/* probing the gap one address at a time took 11 s of CPU */
	assert_int_equal(unwind_table__build(elf, "unwgap", &one_second, &rows, &nr, NULL), 0);
	/* symbols of the fixture: nocfi_blob at the first text function, after_blob 32 MiB on */
	i = unwind_table__find(rows, nr, symbol_addr(fixture("unwgap"), "nocfi_blob") + 4096);
	assert_true(i >= 0);
	assert_int_equal(UNWIND_ROW_CFA(&rows[i]), UNWIND_CFA_NONE);
	i = unwind_table__find(rows, nr, symbol_addr(fixture("unwgap"), "after_blob"));
	assert_true(i >= 0);
	assert_int_equal(UNWIND_ROW_CFA(&rows[i]), UNWIND_CFA_RSP);
	assert_int_equal(rows[i].cfa_off, 8);
	free(rows);
	rows = NULL;
	assert_int_equal(unwind_table__build(elf, "unwgap", &cancel, &rows, &nr, NULL), -ECANCELED);
	assert_null(rows);
	elf_end(elf);
	close(fd);
}

static void test_no_cfi(void **state)
{
	struct unwind_row *rows = NULL;
	size_t nr = 0;

	(void)state;
	assert_int_equal(build_file(fixture("unwfix-nocfi"), &rows, &nr, NULL), -ENOENT);
	assert_null(rows);
}

static void test_find(void **state)
{
	static const struct unwind_row rows[] = { { .pc = 0x10 }, { .pc = 0x20 }, { .pc = 0x30 } };
	static const struct {
		__u64 pc;
		long idx;
	} cases[] = { { 0x0, -1 }, { 0xf, -1 }, { 0x10, 0 }, { 0x1f, 0 }, { 0x20, 1 },
		      { 0x30, 2 }, { 0xffffffff, 2 } };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(unwind_table__find(rows, 3, cases[i].pc), cases[i].idx);
	assert_int_equal(unwind_table__find(rows, 0, 0x10), -1);
}

/* ---- the stepping logic against a recorded stack ---- */

#define SNAP_BYTES (64 * 1024)

struct snapshot {
	__u64 pc, sp, bp;
	__u64 base;
	size_t len;
	unsigned char mem[SNAP_BYTES];
	struct unwinder *u;
	struct unwind_row row;		/* the last row read */
	unsigned int cfa_types_seen;	/* bit per enum unwind_cfa followed */
	struct unwind_row_cache_slot *cache;	/* UNWIND_ROW_CACHE_SLOTS, or NULL: no cache */
	__u32 gen;			/* the tables' generation the walks see */
};

static int unwind_read(void *rctx, __u64 addr, __u64 *out)
{
	struct snapshot *s = rctx;

	if (addr < s->base || addr + 8 > s->base + s->len)
		return -EFAULT;
	memcpy(out, s->mem + (addr - s->base), 8);
	return 0;
}

static const struct unwind_row *unwind_get_row(void *rctx, __u32 idx)
{
	struct snapshot *s = rctx;

	return unwinder__row(s->u, idx, &s->row) ? NULL : &s->row;
}

static const struct unwind_table *unwind_get_table(void *rctx, __u32 id)
{
	return unwinder__table(((struct snapshot *)rctx)->u, id);
}

static int unwind_find_slot(void *rctx, __u64 from, __u32 slots, __u64 value, __u64 *at)
{
	__u64 v;
	__u32 i;

	for (i = 0; i < slots; i++) {
		if (unwind_read(rctx, from + (__u64)i * 8, &v))
			return -EFAULT;
		if (v == value) {
			*at = from + (__u64)i * 8;
			return 0;
		}
	}
	return -ENOENT;
}

static struct unwind_row_cache_slot *unwind_get_cache_slot(void *rctx, __u32 hash)
{
	struct snapshot *s = rctx;

	return s->cache ? &s->cache[hash >> (32 - UNWIND_ROW_CACHE_BITS)] : NULL;
}

struct unwind_state;

/* no VMAs to look up here: every mapping the walk knows is the process's */
static const struct unwind_mapping *unwind_find_file(void *rctx, struct unwind_state *s)
{
	(void)rctx;
	(void)s;
	return NULL;
}

#include "bpf/unwind_step.h"

static struct snapshot *snap;
static __u64 stack_top;

static int stack_top_cb(void *ctx, const struct sym_exec_map *m)
{
	(void)ctx;
	(void)m;
	return 0;
}

static __u64 find_stack_top(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	unsigned long long a, b;
	__u64 top = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "[stack]") && sscanf(line, "%llx-%llx", &a, &b) == 2)
			top = b;
	}
	fclose(f);
	return top;
}

/*
 * Record the registers and the stack above them, as the BPF program would see
 * them. The copy is a plain loop outside AddressSanitizer: the callers' frames
 * hold its redzones, which memcpy() would report.
 */
__attribute__((noinline, no_sanitize_address)) static void capture(void *arg)
{
	const volatile __u64 *src;
	__u64 pc, sp, bp, *dst;
	size_t len, i;

	(void)arg;
	__asm__ __volatile__("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			     : "=r"(pc), "=r"(sp), "=r"(bp));
	len = stack_top - sp < SNAP_BYTES ? stack_top - sp : SNAP_BYTES;
	src = (const volatile __u64 *)sp;
	dst = (__u64 *)snap->mem;
	for (i = 0; i < len / 8; i++)
		dst[i] = src[i];
	snap->pc = pc;
	snap->sp = sp;
	snap->bp = bp;
	snap->base = sp;
	snap->len = len / 8 * 8;
}

static void on_usr1(int sig)
{
	(void)sig;
	capture(NULL);
	__asm__ __volatile__("" ::: "memory");	/* a call, not a sibling jump */
}

__attribute__((noinline)) static void raise_usr1(void *arg)
{
	(void)arg;
	raise(SIGUSR1);
	__asm__ __volatile__("" ::: "memory");
}

/* Unwind the snapshot; fills @names (innermost first) and returns the unwind_end. */
static int walk_snapshot(struct symbolizer *syms, enum unwind_mode mode, const char **names,
			 int *nr)
{
	const struct unwind_proc *p = unwinder__process(snap->u, getpid());
	struct unwind_state s = { .pc = snap->pc, .sp = snap->sp, .bp = snap->bp, .mode = mode,
				  .exact_pc = 1, .tables_gen = snap->gen };
	int end = 0;

	assert_non_null(p);
	for (*nr = 0; *nr < MAX_STACK_DEPTH && !end; (*nr)++) {
		const struct unwind_mapping *m = unwind_find_mapping(p, &s);
		struct sym_frame f[SYM_MAX_FRAMES];
		int n = symbolizer__user(syms, getpid(), s.exact_pc ? s.pc : s.pc - 1, f,
					 SYM_MAX_FRAMES);

		/* the function itself: the outermost frame of its inline chain */
		names[*nr] = n > 0 && f[0].name ? f[0].name : "?";
		if (m && m->kind == UNWIND_MAP_TABLE) {
			const struct unwind_table *t = unwinder__table(snap->u, m->table);
			const struct unwind_row *r =
				unwind_find_row(snap, t, s.pc - m->bias - (s.exact_pc ? 0 : 1), &s);

			if (r)
				snap->cfa_types_seen |= 1u << UNWIND_ROW_CFA(r);
		}
		end = unwind_step(snap, p, &s);
	}
	return end;
}

/* @want appear in @names in this order (other frames may sit between them). */
static void assert_chain(const char **names, int nr, const char *const *want, int nr_want)
{
	int i, w = 0;

	for (i = 0; i < nr && w < nr_want; i++) {
		if (!strcmp(names[i], want[w]))
			w++;
	}
	if (w < nr_want) {
		for (i = 0; i < nr; i++)
			print_message("  #%d %s\n", i, names[i]);
		fail_msg("'%s' missing from the unwound stack (in order)", want[w]);
	}
}

/* The same walk as @names (@nr frames, to the root), through a row cache. */
static void walk_with_row_cache(struct symbolizer *syms, const char **names, int nr)
{
	const char *again[MAX_STACK_DEPTH];
	int n, i, pass, filled = 0;

	snap->cache = calloc(UNWIND_ROW_CACHE_SLOTS, sizeof(*snap->cache));
	assert_non_null(snap->cache);
	/* cold, then warm: the same stack either way */
	for (pass = 0; pass < 2; pass++) {
		assert_int_equal(walk_snapshot(syms, UNWIND_MODE_DWARF, again, &n),
				 UNWIND_END_ROOT);
		assert_int_equal(n, nr);
		for (i = 0; i < nr; i++)
			assert_string_equal(again[i], names[i]);
	}
	/* the walk's rows are in the cache, and a warm walk takes them from there */
	for (i = 0; i < (int)UNWIND_ROW_CACHE_SLOTS; i++) {
		struct unwind_row_cache_slot *e = &snap->cache[i];

		if (!e->table)
			continue;
		assert_int_equal(e->gen, snap->gen);
		e->row.type = UNWIND_ROW_TYPE(UNWIND_CFA_UNSUPPORTED, 0);
		filled++;
	}
	assert_true(filled > 0 && filled <= nr);
	/*
	 * Poisoned: the walk stops at the first frame whose poisoned row is
	 * still there (a frame sharing its slot with an earlier one finds the
	 * earlier frame's row, misses, and replaces it with a good one).
	 */
	assert_int_equal(walk_snapshot(syms, UNWIND_MODE_DWARF, again, &n),
			 UNWIND_END_UNSUPPORTED);
	assert_true(n >= 1 && n <= nr);
	/* a new generation of the tables voids every entry */
	snap->gen++;
	assert_int_equal(walk_snapshot(syms, UNWIND_MODE_DWARF, again, &n), UNWIND_END_ROOT);
	assert_int_equal(n, nr);
	free(snap->cache);
	snap->cache = NULL;
}

static void record_and_walk(void (*cb)(void *), const char *const *want, int nr_want,
			    unsigned int must_see)
{
	struct unwinder_opts uo = { .rows_fd = -1, .tables_fd = -1, .procs_fd = -1,
				    .max_rows = 1 << 20, .max_tables = 256 };
	void (*chain_a)(void (*)(void *), void *);
	struct symbolizer *syms;
	const char *names[MAX_STACK_DEPTH];
	void *lib;
	int nr, end;

	lib = dlopen(fixture("libunwfix.so"), RTLD_NOW);
	if (!lib)
		fail_msg("dlopen: %s", dlerror());
	*(void **)&chain_a = dlsym(lib, "unwfix_chain_a");
	assert_non_null(chain_a);
	snap = calloc(1, sizeof(*snap));
	assert_non_null(snap);
	stack_top = find_stack_top();
	assert_true(stack_top != 0);
	chain_a(cb, NULL);
	assert_true(snap->len > 0);

	snap->u = unwinder__new(&uo);
	assert_non_null(snap->u);
	assert_int_equal(unwinder__scan_process(snap->u, getpid()), 0);
	syms = symbolizer__new(NULL);
	assert_non_null(syms);

	end = walk_snapshot(syms, UNWIND_MODE_DWARF, names, &nr);
	assert_chain(names, nr, want, nr_want);
	if (end != UNWIND_END_ROOT) {
		for (int i = 0; i < nr; i++)
			print_message("  #%d %s\n", i, names[i]);
		fail_msg("the unwind ended with %d, not at the root", end);
	}
	assert_true((snap->cfa_types_seen & must_see) == must_see);
	print_message("unwound %d frames from %s to %s\n", nr, names[0], names[nr - 1]);
	walk_with_row_cache(syms, names, nr);

	symbolizer__free(syms);
	unwinder__free(snap->u);
	free(snap);
	snap = NULL;
	dlclose(lib);
}

/*
 * The index of a big table (libc's, this program's) gives the row a search
 * of the whole table gives, for every row's pc, the bytes around it, and
 * pcs before and past the table.
 */
static void test_index_search(void **state)
{
	struct unwinder_opts uo = { .rows_fd = -1, .tables_fd = -1, .procs_fd = -1,
				    .max_rows = 2 << 20, .max_tables = 256 };
	struct snapshot *ctx;
	struct unwinder_stats st;
	size_t indexed = 0, checked = 0;
	__u32 id;

	(void)state;
	ctx = calloc(1, sizeof(*ctx));
	assert_non_null(ctx);
	ctx->u = unwinder__new(&uo);
	assert_non_null(ctx->u);
	assert_int_equal(unwinder__scan_process(ctx->u, getpid()), 0);
	unwinder__stats(ctx->u, &st);
	for (id = 0; id < st.tables + 8; id++) {
		const struct unwind_table *t = unwinder__table(ctx->u, id);
		struct unwind_table whole;
		struct unwind_row first, last;
		struct unwind_state a = { 0 }, b = { 0 };
		__u32 i, d;

		if (!t || !t->nidx)
			continue;
		indexed++;
		whole = *t;
		whole.nidx = 0;
		assert_int_equal(unwinder__row(ctx->u, t->first, &first), 0);
		assert_int_equal(unwinder__row(ctx->u, t->first + t->nr - 1, &last), 0);
		assert_int_equal(t->base, first.pc);
		/* about UNWIND_INDEX_ROWS rows a bucket: a 16th of the rows' memory */
		assert_true(t->nidx <= t->nr / UNWIND_INDEX_ROWS);
		for (i = 0; i < t->nr; i++) {
			struct unwind_row r;

			assert_int_equal(unwinder__row(ctx->u, t->first + i, &r), 0);
			for (d = 0; d < 3; d++) {
				__u64 pc = (__u64)r.pc + d - 1;
				const struct unwind_row *x, *y;
				struct unwind_row xr;

				x = unwind_find_row(ctx, t, pc, &a);
				if (x)
					xr = *x;	/* ctx->row is overwritten by the next search */
				y = unwind_find_row(ctx, &whole, pc, &b);
				assert_true(!x == !y);
				if (x)
					assert_memory_equal(&xr, y, sizeof(xr));
				checked++;
			}
		}
		/* the first byte of every bucket and the one before it, and past the last row */
		for (i = 0; i <= t->nidx; i++) {
			__u64 start = (__u64)t->base + ((__u64)i << t->shift);

			for (d = 0; d < 2; d++) {
				const struct unwind_row *x, *y;
				struct unwind_row xr;

				x = unwind_find_row(ctx, t, start - d, &a);
				if (x)
					xr = *x;
				y = unwind_find_row(ctx, &whole, start - d, &b);
				assert_true(!x == !y);
				if (x)
					assert_memory_equal(&xr, y, sizeof(xr));
				checked++;
			}
		}
		assert_null(unwind_find_row(ctx, t, (__u64)first.pc - 1, &a));
		assert_non_null(unwind_find_row(ctx, t, (__u64)last.pc + 4096, &a));
		assert_int_equal(memcmp(unwind_find_row(ctx, t, (__u64)last.pc + 4096, &a), &last,
					sizeof(last)), 0);
	}
	print_message("%zu indexed tables, %zu pcs looked up both ways\n", indexed, checked);
	assert_true(indexed >= 2);	/* libc and this program at least */
	unwinder__free(ctx->u);
	free(ctx);
}

static void test_walk_recorded_stack(void **state)
{
	static const char *const want[] = { "capture", "unwfix_chain_c", "unwfix_chain_b",
					    "unwfix_chain_a", "record_and_walk", "main", "_start" };

	(void)state;
	(void)stack_top_cb;
	record_and_walk(capture, want, 7, 1u << UNWIND_CFA_ROOT);
}

static void test_walk_through_signal_frame(void **state)
{
	static const char *const want[] = { "capture", "on_usr1", "raise_usr1", "unwfix_chain_c",
					    "unwfix_chain_b", "unwfix_chain_a", "main", "_start" };
	struct sigaction sa = { .sa_handler = on_usr1 }, old;

	(void)state;
	sigaction(SIGUSR1, &sa, &old);
	record_and_walk(raise_usr1, want, 8, 1u << UNWIND_CFA_SIGNAL | 1u << UNWIND_CFA_ROOT);
	sigaction(SIGUSR1, &old, NULL);
}

/* A corrupt stack ends the walk with a verdict, never a loop. */
static void test_corrupt_stack_stops(void **state)
{
	struct unwind_row row = { .type = UNWIND_ROW_TYPE(UNWIND_CFA_RSP, UNWIND_RBP_SAME),
				  .cfa_off = 8 };
	struct snapshot *s = calloc(1, sizeof(*s));
	struct unwind_state st = { .pc = 0x1000, .sp = 0x7000, .bp = 0 };

	(void)state;
	assert_non_null(s);
	s->base = 0x7000;
	s->len = 64;
	/* a return address that leads nowhere readable */
	memcpy(s->mem, &(__u64){ 0x4242 }, 8);
	assert_int_equal(unwind_step_row(s, &row, &st), 0);
	assert_int_equal(st.pc, 0x4242);
	assert_int_equal(st.sp, 0x7008);
	/* the CFA beyond the recorded memory */
	row.cfa_off = 4096;
	assert_int_equal(unwind_step_row(s, &row, &st), UNWIND_END_READ_ERROR);
	/* a CFA below the stack pointer */
	row.cfa_off = -16;
	assert_int_equal(unwind_step_row(s, &row, &st), UNWIND_END_BAD_FRAME);
	row.type = UNWIND_ROW_TYPE(UNWIND_CFA_UNSUPPORTED, 0);
	assert_int_equal(unwind_step_row(s, &row, &st), UNWIND_END_UNSUPPORTED);
	/* frame pointers: rbp 0 ends the chain, rbp below rsp is corrupt */
	st.bp = 0;
	assert_int_equal(unwind_step_fp(s, &st), UNWIND_END_ROOT);
	st.bp = st.sp - 64;
	assert_int_equal(unwind_step_fp(s, &st), UNWIND_END_BAD_FRAME);
	free(s);
}

/* PLT rows: CFA = rsp + 8, plus 8 once the stub has pushed its index (rip & 15 >= 11). */
static void test_plt_row(void **state)
{
	static const struct {
		__u64 pc, want_sp;
	} cases[] = { { 0x1000, 0x7008 }, { 0x100a, 0x7008 }, { 0x100b, 0x7010 },
		      { 0x100f, 0x7010 }, { 0x1010, 0x7008 } };
	struct unwind_row row = { .type = UNWIND_ROW_TYPE(UNWIND_CFA_PLT, UNWIND_RBP_SAME),
				  .cfa_off = 8, .rbp_off = 11 };
	struct snapshot *s = calloc(1, sizeof(*s));
	size_t i;

	(void)state;
	assert_non_null(s);
	s->base = 0x7000;
	s->len = 64;
	memcpy(s->mem, &(__u64){ 0x4000 }, 8);
	memcpy(s->mem + 8, &(__u64){ 0x5000 }, 8);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unwind_state st = { .pc = cases[i].pc, .sp = 0x7000, .bp = 0x99 };

		assert_int_equal(unwind_step_row(s, &row, &st), 0);
		assert_int_equal(st.sp, cases[i].want_sp);
		assert_int_equal(st.pc, cases[i].want_sp == 0x7008 ? 0x4000 : 0x5000);
		assert_int_equal(st.bp, 0x99);	/* PLT code leaves rbp alone */
	}
	free(s);
}

/*
 * An eh_return frame whose save slots libgcc has already overwritten with
 * the handler frame's registers: the return address read at CFA - 8 belongs
 * to a slot further up. The walk resumes from that slot once, and only for
 * frames the row flags.
 */
static void test_eh_return_resume(void **state)
{
	struct unwind_row row = { .type = UNWIND_ROW_TYPE(UNWIND_CFA_RSP, UNWIND_RBP_OFFSET) |
					  UNWIND_ROW_EH_RETURN,
				  .cfa_off = 0x20, .rbp_off = -16 };
	struct snapshot *s = calloc(1, sizeof(*s));
	struct unwind_state st = { .pc = 0x1000, .sp = 0x7000, .bp = 0x1, .nr = 3, .hash = 42 };

	(void)state;
	assert_non_null(s);
	s->base = 0x7000;
	s->len = 0x100;
	memcpy(s->mem + 0x10, &(__u64){ 0xbeef }, 8);	/* the handler frame's rbp */
	memcpy(s->mem + 0x18, &(__u64){ 0x5555 }, 8);	/* the handler's return address */
	memcpy(s->mem + 0x48, &(__u64){ 0x5555 }, 8);	/* ... in its own slot */

	assert_int_equal(unwind_step_row(s, &row, &st), 0);
	assert_int_equal(st.pc, 0x5555);
	assert_int_equal(st.sp, 0x7020);
	assert_int_equal(st.bp, 0xbeef);
	{
		/* a zero return address past such a frame is a slot of the wrong frame */
		struct unwind_row plain = { .type = UNWIND_ROW_TYPE(UNWIND_CFA_RSP, UNWIND_RBP_SAME),
					    .cfa_off = 0x10 };
		struct unwind_state st2 = st, fresh = { .pc = 0x1000, .sp = 0x7020 };

		assert_int_equal(unwind_step_row(s, &plain, &st2), UNWIND_END_BAD_FRAME);
		assert_int_equal(unwind_step_row(s, &plain, &fresh), UNWIND_END_ROOT);
	}
	/* the walk goes on and fails a few frames later */
	st.nr = 6;
	st.hash = 99;
	st.sp = 0x7080;
	st.missing = 1;
	assert_true(unwind_eh_resume(s, &st));
	assert_int_equal(st.pc, 0x5555);
	assert_int_equal(st.sp, 0x7050);
	assert_int_equal(st.bp, 0xbeef);
	assert_int_equal(st.nr, 3);
	assert_int_equal(st.hash, 42);
	assert_int_equal(st.missing, 0);
	assert_int_equal(st.exact_pc, 0);
	/* once only */
	assert_false(unwind_eh_resume(s, &st));

	/* no slot further up holds it: nothing to resume from */
	memset(s->mem + 0x48, 0, 8);
	memset(&st, 0, sizeof(st));
	st.pc = 0x1000;
	st.sp = 0x7000;
	assert_int_equal(unwind_step_row(s, &row, &st), 0);
	st.sp = 0x7080;
	assert_false(unwind_eh_resume(s, &st));
	assert_int_equal(st.sp, 0x7080);

	/* an ordinary frame leaves nothing to resume from */
	memcpy(s->mem + 0x48, &(__u64){ 0x5555 }, 8);
	row.type &= ~UNWIND_ROW_EH_RETURN;
	memset(&st, 0, sizeof(st));
	st.pc = 0x1000;
	st.sp = 0x7000;
	assert_int_equal(unwind_step_row(s, &row, &st), 0);
	assert_false(unwind_eh_resume(s, &st));
	free(s);
}

/* What each kind of mapping does to the walk, per mode. */
static void test_mapping_kinds(void **state)
{
	static const struct {
		__u32 kind;
		__u32 mode;
		int want;
	} cases[] = {
		{ UNWIND_MAP_JIT, UNWIND_MODE_AUTO, 0 },	/* frame pointers through JIT code */
		{ UNWIND_MAP_JIT, UNWIND_MODE_DWARF, UNWIND_END_JIT },
		{ UNWIND_MAP_NO_TABLE, UNWIND_MODE_DWARF, UNWIND_END_NO_TABLE },
		{ UNWIND_MAP_NO_TABLE, UNWIND_MODE_AUTO, 0 },	/* frame pointers */
	};
	struct unwind_proc *p = calloc(1, sizeof(*p));
	struct snapshot *s = calloc(1, sizeof(*s));
	size_t i;

	(void)state;
	assert_non_null(p);
	assert_non_null(s);
	s->base = 0x7000;
	s->len = 64;
	/* a frame record at 0x7010: saved rbp 0, return address 0x4242 */
	memcpy(s->mem + 0x18, &(__u64){ 0x4242 }, 8);
	p->nr = 1;
	p->maps[0].start = 0x1000;
	p->maps[0].end = 0x2000;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct unwind_state st = { .pc = 0x1800, .sp = 0x7000, .bp = 0x7010,
					   .mode = cases[i].mode };

		p->maps[0].kind = cases[i].kind;
		assert_int_equal(unwind_step(s, p, &st), cases[i].want);
		if (!cases[i].want) {
			assert_int_equal(st.pc, 0x4242);
			assert_int_equal(st.sp, 0x7020);
			assert_int_equal(st.bp, 0);
		}
		assert_int_equal(st.missing, 0);
	}
	/* a pc outside every mapping: a rescan is due */
	{
		struct unwind_state st = { .pc = 0x3000, .sp = 0x7000, .bp = 0x7010,
					   .mode = UNWIND_MODE_DWARF };

		assert_int_equal(unwind_step(s, p, &st), UNWIND_END_NO_MAPPING);
		assert_int_equal(st.missing, 1);
	}
	free(p);
	free(s);
}

/* A fake /proc with process @tgid mapping @binary as its only executable mapping. */
static void fake_process(const char *root, int tgid, const char *binary)
{
	char path[4200];
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%d", root, tgid);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%d/root", root, tgid);
	unlink(path);
	assert_int_equal(symlink("/", path), 0);
	snprintf(path, sizeof(path), "%s/%d/maps", root, tgid);
	f = fopen(path, "w");
	assert_non_null(f);
	/* the real inode: a mapping's path is opened only while it still names that file */
	assert_int_equal(stat(binary, &st), 0);
	fprintf(f, "00401000-00402000 r-xp 00001000 fd:00 %lu %s\n", (unsigned long)st.st_ino,
		binary);
	fclose(f);
}

/*
 * Room for one fixture table besides the vDSO's: a second binary gets no
 * table while the first is mapped, and evicts it once no process maps it.
 */
/* Resident bytes of this process's mappings of BPF maps, from /proc/self/smaps. */
static size_t bpf_map_rss(void)
{
	FILE *fp = fopen("/proc/self/smaps", "r");
	unsigned long start, end, kb;
	bool in = false;
	size_t rss = 0;
	char line[512];

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = strstr(line, "bpf-map") != NULL;
		else if (in && sscanf(line, "Rss: %lu kB", &kb) == 1)
			rss += kb * 1024;
	}
	fclose(fp);
	return rss;
}

/*
 * With a real (mmappable) rows map, rows are written through a passing
 * mapping: the map holds exactly the rows unwind_table__build() derives, and
 * none of its pages stay in this process's RSS.
 */
static void test_rows_map_costs_no_rss(void **state)
{
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE);
	LIBBPF_OPTS(bpf_map_create_opts, no_prealloc, .map_flags = BPF_F_NO_PREALLOC);
	struct unwinder_opts uo = { .max_rows = 2 << 20, .max_tables = 256 };
	__u64 self_pc = (__u64)(uintptr_t)&test_rows_map_costs_no_rss;
	const struct unwind_mapping *m = NULL;
	struct unwind_row *own = NULL, in_map;
	const struct unwind_proc *p;
	const struct unwind_table *t;
	struct unwinder_stats st;
	struct unwinder *u;
	size_t nr_own = 0;
	__u32 i;
	Elf *elf;
	int fd;

	(void)state;
	uo.rows_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_rows", 4, sizeof(struct unwind_row),
				    uo.max_rows, &mmapable);
	if (uo.rows_fd < 0) {
		print_message("skipped: the kernel refused an mmappable BPF array: %s\n",
			      strerror(errno));
		skip();
	}
	uo.tables_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "t_tables", 4,
				      sizeof(struct unwind_table), uo.max_tables, NULL);
	uo.procs_fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_procs", 4, sizeof(struct unwind_proc),
				     16, &no_prealloc);
	assert_true(uo.tables_fd >= 0 && uo.procs_fd >= 0);
	u = unwinder__new(&uo);
	assert_non_null(u);
	assert_int_equal(unwinder__scan_process(u, getpid()), 0);
	unwinder__stats(u, &st);
	assert_true(st.tables >= 2);	/* this program and libc at least */
	assert_true(st.rows > 1000 && st.rows < uo.max_rows / 4);

	/* this program's table in the map is the one derived from its file */
	p = unwinder__process(u, getpid());
	assert_non_null(p);
	for (i = 0; i < p->nr; i++)
		if (self_pc >= p->maps[i].start && self_pc < p->maps[i].end)
			m = &p->maps[i];
	assert_non_null(m);
	assert_int_equal(m->kind, UNWIND_MAP_TABLE);
	t = unwinder__table(u, m->table);
	assert_non_null(t);
	fd = open("/proc/self/exe", O_RDONLY);
	assert_true(fd >= 0);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	assert_non_null(elf);
	assert_int_equal(unwind_table__build(elf, "self", NULL, &own, &nr_own, NULL), 0);
	assert_int_equal(t->nr, nr_own);
	for (i = 0; i < t->nr; i++) {
		assert_int_equal(unwinder__row(u, t->first + i, &in_map), 0);
		assert_memory_equal(&in_map, &own[i], sizeof(in_map));
	}
	free(own);
	elf_end(elf);
	close(fd);
	assert_int_equal(unwinder__row(u, uo.max_rows, &in_map), -ENOENT);

	print_message("%zu rows in %zu tables; %zu bytes of BPF maps resident here\n", st.rows,
		      st.tables, bpf_map_rss());
	assert_int_equal(bpf_map_rss(), 0);

	unwinder__free(u);
	close(uo.rows_fd);
	close(uo.tables_fd);
	close(uo.procs_fd);
}

static void test_eviction(void **state)
{
	char root[] = "/tmp/unwind-proc-XXXXXX", lib[4096], exe[4096], cmd[4200];
	__u32 gen = 0;
	struct unwinder_opts uo = { .proc_root = root, .rows_fd = -1, .tables_fd = -1,
				    .procs_fd = -1, .max_rows = 100, .max_tables = 8,
				    .tables_gen = &gen };
	const struct unwind_proc *p;
	struct unwinder_stats st;
	struct unwinder *u;
	__u32 id, first;
	size_t builds;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_non_null(realpath(fixture("unwfix-nofp"), exe));
	assert_non_null(realpath(fixture("libunwfix.so"), lib));
	fake_process(root, 1, exe);
	fake_process(root, 2, lib);
	u = unwinder__new(&uo);
	assert_non_null(u);

	assert_int_equal(unwinder__scan_process(u, 1), 0);
	p = unwinder__process(u, 1);
	assert_non_null(p);
	assert_int_equal(p->maps[0].kind, UNWIND_MAP_TABLE);
	id = p->maps[0].table;
	first = unwinder__table(u, id)->first;

	/* no room while process 1 maps the executable */
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	assert_int_equal(unwinder__process(u, 2)->maps[0].kind, UNWIND_MAP_NO_TABLE);
	/* nor at the next scan, which does not derive the table again to find that out */
	unwinder__stats(u, &st);
	builds = st.builds;
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	assert_int_equal(unwinder__process(u, 2)->maps[0].kind, UNWIND_MAP_NO_TABLE);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, builds);

	/* process 1 exits: the library takes the executable's rows and table id */
	unwinder__remove_process(u, 1);
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	p = unwinder__process(u, 2);
	assert_int_equal(p->maps[0].kind, UNWIND_MAP_TABLE);
	assert_int_equal(p->maps[0].table, id);
	assert_int_equal(unwinder__table(u, id)->first, first);
	unwinder__stats(u, &st);
	assert_int_equal(st.evicted, 1);
	/* same id, same rows, other binary: the BPF side's row caches must forget */
	assert_int_equal(gen, 1);

	/* and now the executable has no room */
	assert_int_equal(unwinder__scan_process(u, 1), 0);
	assert_int_equal(unwinder__process(u, 1)->maps[0].kind, UNWIND_MAP_NO_TABLE);
	unwinder__free(u);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/*
 * Eviction takes the table mapped least recently: a binary that short
 * processes run over and over keeps its table between them.
 */
static void test_eviction_lru(void **state)
{
	char root[] = "/tmp/unwind-proc-XXXXXX", a[4096], b[4096], c[4096], cmd[4200];
	/* rows: unwfix-nofp 42, libunwfix.so 45, symfix-pie 12 */
	struct unwinder_opts uo = { .proc_root = root, .rows_fd = -1, .tables_fd = -1,
				    .procs_fd = -1, .max_rows = 90, .max_tables = 8 };
	struct unwinder_stats st;
	struct unwinder *u;
	size_t builds;

	(void)state;
	assert_non_null(mkdtemp(root));
	assert_non_null(realpath(fixture("unwfix-nofp"), a));
	assert_non_null(realpath(fixture("libunwfix.so"), b));
	assert_non_null(realpath(fixture("symfix-pie"), c));
	fake_process(root, 1, a);
	fake_process(root, 2, b);
	fake_process(root, 3, c);
	fake_process(root, 4, b);
	/* the vDSO's table comes first: room for 90 rows besides it */
	u = unwinder__new(&uo);
	assert_non_null(u);
	unwinder__stats(u, &st);
	unwinder__free(u);
	uo.max_rows += st.rows;
	u = unwinder__new(&uo);
	assert_non_null(u);

	assert_int_equal(unwinder__scan_process(u, 1), 0);
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	assert_int_equal(unwinder__process(u, 2)->maps[0].kind, UNWIND_MAP_TABLE);
	/* both exit, the library's process last */
	unwinder__remove_process(u, 1);
	unwinder__remove_process(u, 2);
	/* a third binary needs room: the executable's table goes, the library's stays */
	assert_int_equal(unwinder__scan_process(u, 3), 0);
	assert_int_equal(unwinder__process(u, 3)->maps[0].kind, UNWIND_MAP_TABLE);
	unwinder__stats(u, &st);
	assert_int_equal(st.evicted, 1);
	builds = st.builds;
	/* the library mapped again: its table is there, nothing is derived again */
	assert_int_equal(unwinder__scan_process(u, 4), 0);
	assert_int_equal(unwinder__process(u, 4)->maps[0].kind, UNWIND_MAP_TABLE);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, builds);
	assert_int_equal(st.evicted, 1);
	unwinder__free(u);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void copy_file(const char *from, const char *to)
{
	char cmd[8400];

	/* cat, not cp: an existing @to keeps its inode, as a file rewritten in place does */
	snprintf(cmd, sizeof(cmd), "cat '%s' > '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

/* Every row of table @id as the BPF side sees it, the same as @path's rows. */
static void assert_table_rows(struct unwinder *u, __u32 id, const char *path)
{
	const struct unwind_table *t = unwinder__table(u, id);
	struct unwind_row *rows, in_map;
	size_t nr, i;

	assert_non_null(t);
	assert_int_equal(build_file(path, &rows, &nr, NULL), 0);
	assert_int_equal(t->nr, nr);
	for (i = 0; i < nr; i++) {
		assert_int_equal(unwinder__row(u, t->first + i, &in_map), 0);
		assert_memory_equal(&in_map, &rows[i], sizeof(in_map));
	}
	free(rows);
}

/* fake_process() for a real library: a mapping of its executable segment. */
static void fake_library_process(const char *root, int tgid, const char *binary)
{
	int fd = open(binary, O_RDONLY);
	Elf *elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	char path[4200];
	GElf_Phdr ph;
	struct stat st;
	size_t n, i;
	FILE *f;

	assert_non_null(elf);
	assert_int_equal(elf_getphdrnum(elf, &n), 0);
	for (i = 0; i < n; i++) {
		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && (ph.p_flags & PF_X))
			break;
	}
	assert_true(i < n);
	fake_process(root, tgid, binary);
	snprintf(path, sizeof(path), "%s/%d/maps", root, tgid);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(stat(binary, &st), 0);
	fprintf(f, "7f0000%06llx-%llx r-xp %08llx fd:00 %lu %s\n",
		(unsigned long long)(ph.p_vaddr & ~0xfffULL),
		0x7f0000000000ULL + ((ph.p_vaddr + ph.p_filesz + 0xfff) & ~0xfffULL),
		(unsigned long long)(ph.p_offset & ~0xfffULL), (unsigned long)st.st_ino, binary);
	fclose(f);
	elf_end(elf);
	close(fd);
}

/*
 * A table is written into the rows map as it is derived while there is room
 * past the high-water mark; one that outgrows that room midway goes on
 * packed, the rows written so far read back, and lands where eviction makes
 * room: both the same rows as a derivation in one buffer.
 */
static void test_streamed_tables(void **state)
{
	static const char *const libs[] = { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
					    "/lib/x86_64-linux-gnu/libc.so.6" };
	char root[] = "/tmp/unwind-proc-XXXXXX", cmd[4200], big[4096], other[4096];
	struct unwinder_opts uo = { .proc_root = root, .rows_fd = -1, .tables_fd = -1,
				    .procs_fd = -1, .max_tables = 8 };
	const struct unwind_proc *p;
	struct unwinder_stats st;
	struct unwinder *u;
	size_t nr_big;
	struct unwind_row *rows;

	(void)state;
	/* the files themselves: a process's path is not followed through symlinks */
	if (!realpath(libs[0], big) || !realpath(libs[1], other)) {
		print_message("SKIP: no libstdc++ or libc here\n");
		skip();
	}
	assert_int_equal(build_file(big, &rows, &nr_big, NULL), 0);
	free(rows);
	assert_non_null(mkdtemp(root));
	fake_library_process(root, 1, big);
	fake_library_process(root, 2, other);
	/* the vDSO's rows, then libstdc++'s, then room for 10,000 (libc needs 28,278) */
	uo.max_rows = 100;
	u = unwinder__new(&uo);
	assert_non_null(u);
	unwinder__stats(u, &st);
	unwinder__free(u);
	uo.max_rows = st.rows + nr_big + 10000;
	u = unwinder__new(&uo);
	assert_non_null(u);

	assert_int_equal(unwinder__scan_process(u, 1), 0);
	p = unwinder__process(u, 1);
	assert_int_equal(p->maps[0].kind, UNWIND_MAP_TABLE);
	assert_table_rows(u, p->maps[0].table, big);
	unwinder__remove_process(u, 1);
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	p = unwinder__process(u, 2);
	assert_int_equal(p->maps[0].kind, UNWIND_MAP_TABLE);
	assert_table_rows(u, p->maps[0].table, other);
	unwinder__stats(u, &st);
	assert_int_equal(st.evicted, 1);
	unwinder__free(u);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/*
 * An evicted table's rows are kept (keep_bytes): its binary mapped again
 * gets them back without a derivation, the same rows; a file rewritten in
 * place under the same inode is derived anew. Without keep_bytes, as before.
 */
static void test_evicted_rows_kept(void **state)
{
	char root[] = "/tmp/unwind-proc-XXXXXX", a[4200], b[4096], c[4096], cmd[4200];
	/* rows: unwfix-nofp 42, libunwfix.so 45, symfix-pie 12 */
	struct unwinder_opts uo = { .proc_root = root, .rows_fd = -1, .tables_fd = -1,
				    .procs_fd = -1, .max_rows = 90, .max_tables = 8,
				    .keep_bytes = 1 << 20 };
	struct unwinder_stats st, st0;
	struct unwinder *u;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(a, sizeof(a), "%s/a.out", root);
	copy_file(fixture("unwfix-nofp"), a);
	assert_non_null(realpath(fixture("libunwfix.so"), b));
	assert_non_null(realpath(fixture("symfix-pie"), c));
	u = unwinder__new(&uo);
	assert_non_null(u);
	unwinder__stats(u, &st);
	unwinder__free(u);
	uo.max_rows += st.rows;	/* the vDSO's */
	u = unwinder__new(&uo);
	assert_non_null(u);

	fake_process(root, 1, a);
	fake_process(root, 2, b);
	fake_process(root, 3, c);
	assert_int_equal(unwinder__scan_process(u, 1), 0);
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	unwinder__remove_process(u, 1);
	unwinder__remove_process(u, 2);
	/* the executable's table goes for the third binary's, its rows kept */
	assert_int_equal(unwinder__scan_process(u, 3), 0);
	unwinder__stats(u, &st0);
	assert_int_equal(st0.evicted, 1);
	assert_int_equal(st0.kept, 1);
	assert_true(st0.kept_bytes > 0 && st0.kept_bytes < 42 * sizeof(struct unwind_row));

	/* mapped again: the library's table goes (kept), the executable's comes back */
	fake_process(root, 4, a);
	assert_int_equal(unwinder__scan_process(u, 4), 0);
	assert_int_equal(unwinder__process(u, 4)->maps[0].kind, UNWIND_MAP_TABLE);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, st0.builds);
	assert_int_equal(st.restores, 1);
	assert_int_equal(st.evicted, 2);
	assert_int_equal(st.kept, 1);
	assert_table_rows(u, unwinder__process(u, 4)->maps[0].table, a);

	/* the library again: back from its kept rows, the executable's kept in turn */
	unwinder__remove_process(u, 4);
	fake_process(root, 5, b);
	assert_int_equal(unwinder__scan_process(u, 5), 0);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, st0.builds);
	assert_int_equal(st.restores, 2);
	assert_table_rows(u, unwinder__process(u, 5)->maps[0].table, b);

	/* the executable rewritten in place: another build id, derived anew */
	unwinder__remove_process(u, 5);
	copy_file(fixture("unwfix-fp"), a);
	fake_process(root, 6, a);
	assert_int_equal(unwinder__scan_process(u, 6), 0);
	assert_int_equal(unwinder__process(u, 6)->maps[0].kind, UNWIND_MAP_TABLE);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, st0.builds + 1);
	assert_int_equal(st.restores, 2);
	assert_table_rows(u, unwinder__process(u, 6)->maps[0].table, a);
	unwinder__free(u);

	/* nothing kept without a budget: derived again */
	uo.keep_bytes = 0;
	copy_file(fixture("unwfix-nofp"), a);
	fake_process(root, 1, a);
	u = unwinder__new(&uo);
	assert_non_null(u);
	assert_int_equal(unwinder__scan_process(u, 1), 0);
	assert_int_equal(unwinder__scan_process(u, 2), 0);
	unwinder__remove_process(u, 1);
	unwinder__remove_process(u, 2);
	assert_int_equal(unwinder__scan_process(u, 3), 0);
	unwinder__stats(u, &st0);
	assert_int_equal(st0.kept, 0);
	assert_int_equal(unwinder__scan_process(u, 4), 0);
	unwinder__stats(u, &st);
	assert_int_equal(st.builds, st0.builds + 1);
	assert_int_equal(st.restores, 0);
	unwinder__free(u);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_rows_match_readelf_fixtures),
		cmocka_unit_test(test_rows_match_readelf_libc),
		cmocka_unit_test(test_rows_match_readelf_big),
		cmocka_unit_test(test_pack_roundtrip),
		cmocka_unit_test(test_stream_matches_buffered),
		cmocka_unit_test(test_streamed_tables),
		cmocka_unit_test(test_evicted_rows_kept),
		cmocka_unit_test(test_rows_match_readelf_libgcc),
		cmocka_unit_test(test_fixture_shapes),
		cmocka_unit_test(test_libc_shapes),
		cmocka_unit_test(test_no_cfi),
		cmocka_unit_test(test_gap_and_cancel),
		cmocka_unit_test(test_row_limit),
		cmocka_unit_test(test_walk_recorded_stack),
		cmocka_unit_test(test_walk_through_signal_frame),
		cmocka_unit_test(test_corrupt_stack_stops),
		cmocka_unit_test(test_plt_row),
		cmocka_unit_test(test_eh_return_resume),
		cmocka_unit_test(test_mapping_kinds),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_eviction_lru),
		cmocka_unit_test(test_rows_map_costs_no_rss),
		cmocka_unit_test(test_index_search),
	};

	return cmocka_run_group_tests_name("unwind", tests, NULL, NULL);
}
