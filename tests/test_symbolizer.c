// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests for symbolizer/: the kallsyms and /proc/PID/maps parsers, file
 * offsets, and symbol lookup in live processes (PIE, non-PIE, a shared
 * library, a deleted binary) and in corrupt files.
 *
 * FIXTURES names the directory the Makefile built tests/fixtures/symfix.c
 * into (tests/run.sh sets it).
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
#include <pthread.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <gelf.h>

#include "symbolizer/symbolizer.h"
#include "symbolizer/symbolizer_internal.h"
#include "bpf/profiler.h"
#include "common/strbuf.h"
#include "common/strset.h"
#include "common/sigbus.h"

static const char *fixture(const char *name)
{
	static char path[4096];
	const char *dir = getenv("FIXTURES");

	if (!dir) {
		fail_msg("FIXTURES is not set: run the tests through 'make test'");
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return path;
}

/* ---- kallsyms ---- */

static const char KALLSYMS[] =
	"ffffffff81000000 T _stext\n"
	"ffffffff81000000 T startup_64\n"
	"ffffffff81001000 t do_one_thing\n"
	"ffffffff81001000 d some_data\n"
	"garbage line\n"
	"ffffffff81002000 W weak_fn\n"
	"ffffffff81003000 T __x64_sys_read\n"
	"ffffffff81003ff0 t __pfx_padded\n"
	"ffffffff81004000 t padded\n"
	"ffffffff81004ff0 t __pfx_other\n"
	"ffffffff81005000 t not_other\n"
	"ffffffffc00ffff0 t __pfx_ext4_readpage\t[ext4]\n"
	"ffffffffc0100000 t ext4_readpage\t[ext4]\n"
	"ffffffffc0100400 t ext4_map\t[ext4]\n";

static void test_kallsyms_lookup(void **state)
{
	static const struct {
		unsigned long long addr;
		const char *name;	/* NULL: not found */
		const char *module;
	} cases[] = {
		{ 0xffffffff80ffffffULL, NULL, NULL },
		{ 0xffffffff81000000ULL, "_stext", "[kernel]" },	/* shorter alias wins */
		{ 0xffffffff81000fffULL, "_stext", "[kernel]" },
		{ 0xffffffff81001000ULL, "do_one_thing", "[kernel]" },	/* data symbol skipped */
		{ 0xffffffff81002abcULL, "weak_fn", "[kernel]" },
		{ 0xffffffff81003010ULL, "__x64_sys_read", "[kernel]" },
		/* call padding: its own name, and the function's name shares its bytes */
		{ 0xffffffff81003ff4ULL, "__pfx_padded", "[kernel]" },
		{ 0xffffffff81004004ULL, "padded", "[kernel]" },
		{ 0xffffffff81004ff0ULL, "__pfx_other", "[kernel]" },
		{ 0xffffffff81005000ULL, "not_other", "[kernel]" },
		{ 0xffffffffc00ffff8ULL, "__pfx_ext4_readpage", "ext4" },
		{ 0xffffffffc0100010ULL, "ext4_readpage", "ext4" },
		{ 0xffffffffc0100400ULL, "ext4_map", "ext4" },
		{ 0xffffffffc1100400ULL, NULL, NULL },	/* far past the last symbol */
	};
	struct strset *strs = strset__new();
	struct ksyms ks = {};
	FILE *f = fmemopen((void *)KALLSYMS, sizeof(KALLSYMS) - 1, "r");
	size_t i;

	(void)state;
	assert_int_equal(ksyms__load(&ks, f, strs), 0);
	fclose(f);
	assert_int_equal(ks.nr, 12);
	/* "padded" and "ext4_readpage" are not stored again */
	assert_int_equal(ks.names_len, sizeof("_stext startup_64 do_one_thing weak_fn __x64_sys_read "
					      "__pfx_padded __pfx_other not_other "
					      "__pfx_ext4_readpage ext4_map"));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ksym *sym = ksyms__find(&ks, cases[i].addr);

		if (!cases[i].name) {
			assert_null(sym);
			continue;
		}
		assert_non_null(sym);
		assert_string_equal(ksyms__name(&ks, sym), cases[i].name);
		assert_string_equal(ksyms__module(&ks, sym), cases[i].module);
	}
	ksyms__release(&ks);
	strset__free(strs);
}

static void test_kallsyms_rejects_garbage(void **state)
{
	static const char junk[] = "this is not\nkallsyms at all\n";
	struct strset *strs = strset__new();
	struct ksyms ks = {};
	FILE *f = fmemopen((void *)junk, sizeof(junk) - 1, "r");

	(void)state;
	assert_int_equal(ksyms__load(&ks, f, strs), -EINVAL);
	fclose(f);
	ksyms__release(&ks);
	strset__free(strs);
}

static void test_symbolizer_kernel_from_file(void **state)
{
	char path[] = "/tmp/test-kallsyms-XXXXXX";
	struct symbolizer_opts opts = { .kallsyms_path = path };
	struct symbolizer *s;
	struct sym_frame f;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, KALLSYMS, sizeof(KALLSYMS) - 1), sizeof(KALLSYMS) - 1);
	close(fd);
	s = symbolizer__new(&opts);
	assert_non_null(s);
	assert_int_equal(symbolizer__kernel(s, 0xffffffffc0100404ULL, &f), 0);
	assert_string_equal(f.name, "ext4_map");
	assert_string_equal(f.module, "ext4");
	assert_int_equal(symbolizer__kernel(s, 0x1000, &f), -ENOENT);
	assert_null(f.name);
	symbolizer__free(s);
	unlink(path);
}

/* ---- /proc/PID/maps ---- */

static void test_maps_parse(void **state)
{
	static const struct {
		const char *line;
		int err;
		unsigned long long start, end, pgoff, inode;
		bool exec, deleted;
		enum map_kind kind;
		const char *path;
	} cases[] = {
		{ "55d0c8a00000-55d0c8a21000 r-xp 00002000 08:01 1319                       /usr/bin/cat\n",
		  0, 0x55d0c8a00000, 0x55d0c8a21000, 0x2000, 1319, true, false, MAPPING_FILE, "/usr/bin/cat" },
		{ "7f00-8f00 r--p 00000000 fd:00 77 /opt/my app/lib x.so (deleted)\n",
		  0, 0x7f00, 0x8f00, 0, 77, false, true, MAPPING_FILE, "/opt/my app/lib x.so" },
		{ "7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n",
		  0, 0x7ffd1000, 0x7ffd3000, 0, 0, true, false, MAPPING_VDSO, "[vdso]" },
		{ "1000-2000 rwxp 00000000 00:00 0\n",
		  0, 0x1000, 0x2000, 0, 0, true, false, MAPPING_ANON, "" },
		{ "1000-2000 rw-p 00000000 00:00 0   [heap]\n",
		  0, 0x1000, 0x2000, 0, 0, false, false, MAPPING_ANON, "[heap]" },
		{ "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]\n",
		  0, 0xffffffffff600000ULL, 0xffffffffff601000ULL, 0, 0, true, false, MAPPING_SPECIAL,
		  "[vsyscall]" },
		{ "2000-1000 r-xp 00000000 00:00 0\n", -EINVAL },
		{ "not a maps line\n", -EINVAL },
		{ "1000-2000 r-xp zz 00:00 0\n", -EINVAL },
	};
	struct strset *strs = strset__new();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proc_map m;
		int err = proc_map__parse(cases[i].line, &m, strs);

		assert_int_equal(err, cases[i].err);
		if (err)
			continue;
		assert_int_equal(m.start, cases[i].start);
		assert_int_equal(m.end, cases[i].end);
		assert_int_equal(m.pgoff, cases[i].pgoff);
		assert_int_equal(m.inode, cases[i].inode);
		assert_int_equal(m.exec, cases[i].exec);
		assert_int_equal(m.deleted, cases[i].deleted);
		assert_int_equal(m.kind, cases[i].kind);
		assert_string_equal(m.path, cases[i].path);
	}
	strset__free(strs);
}

static void test_maps_file_offset(void **state)
{
	static const struct {
		unsigned long long addr;
		bool inside;
		unsigned long long off;
	} cases[] = {
		{ 0x401000, true, 0x1000 },
		{ 0x401fff, true, 0x1fff },
		{ 0x400fff, false, 0 },
		{ 0x403000, false, 0 },	/* end is exclusive */
	};
	struct proc_map m = { .start = 0x401000, .end = 0x403000, .pgoff = 0x1000 };
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		__u64 off = 0;

		assert_int_equal(proc_map__file_offset(&m, cases[i].addr, &off), cases[i].inside);
		if (cases[i].inside)
			assert_int_equal(off, cases[i].off);
	}
}

/* ---- live processes ---- */

__attribute__((noinline)) int test_local_function(int x)
{
	return x + 1;
}

static void expect_user(struct symbolizer *s, pid_t pid, unsigned long long addr,
			const char *name, const char *module)
{
	struct sym_frame f[SYM_MAX_FRAMES];
	int n = symbolizer__user(s, pid, addr, f, SYM_MAX_FRAMES);

	/* the outermost frame is the function the address is in */
	if (n < 1 || !f[0].name || strcmp(f[0].name, name))
		fail_msg("pid %d addr %llx: want %s, got %s (%d, module %s)", pid, addr, name,
			 n > 0 && f[0].name ? f[0].name : "(null)", n,
			 n > 0 && f[0].module ? f[0].module : "(null)");
	if (module)
		assert_string_equal(f[0].module, module);
	/* built with -g: the symbolizer found the source line too */
	if (strncmp(name, "symfix_", 7) == 0) {
		assert_non_null(f[n - 1].file);
		assert_non_null(strstr(f[n - 1].file, "symfix.c"));
		assert_true(f[n - 1].line > 0);
	}
}

static void test_symbolize_self_and_libs(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	int (*fn)(int);
	void *lib;

	(void)state;
	assert_non_null(s);
	expect_user(s, getpid(), (uintptr_t)test_local_function, "test_local_function",
		    "test_symbolizer");
	expect_user(s, getpid(), (uintptr_t)test_local_function + 3, "test_local_function", NULL);
	/* a library loaded after the first lookup: found by re-reading the maps */
	lib = dlopen(fixture("libsymfix.so"), RTLD_NOW);
	assert_non_null(lib);
	fn = (int (*)(int))dlsym(lib, "symfix_second");
	assert_non_null(fn);
	symbolizer__next_generation(s);
	expect_user(s, getpid(), (uintptr_t)fn + 1, "symfix_second", "libsymfix.so");
	symbolizer__free(s);
	dlclose(lib);
}

struct child {
	pid_t pid;
	FILE *to, *from;
	unsigned long long first, second;
};

/* Run a symfix program and read the addresses it prints. */
static void start_child(struct child *c, const char *path)
{
	int in[2], out[2];

	assert_int_equal(pipe(in), 0);
	assert_int_equal(pipe(out), 0);
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl(path, path, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	c->to = fdopen(in[1], "w");
	c->from = fdopen(out[0], "r");
	assert_int_equal(fscanf(c->from, " symfix_first %llx", &c->first), 1);
	assert_int_equal(fscanf(c->from, " symfix_second %llx", &c->second), 1);
}

static void stop_child(struct child *c)
{
	int status;

	fclose(c->to);
	fclose(c->from);
	waitpid(c->pid, &status, 0);
}

static void test_symbolize_pie_and_nopie(void **state)
{
	static const char *const bins[] = { "symfix-pie", "symfix-nopie" };
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		struct symbolizer *s = symbolizer__new(NULL);
		struct child c;

		assert_non_null(s);
		start_child(&c, fixture(bins[i]));
		expect_user(s, c.pid, c.first, "symfix_first", bins[i]);
		expect_user(s, c.pid, c.second + 2, "symfix_second", bins[i]);
		stop_child(&c);
		symbolizer__free(s);
	}
}

static void copy_file(const char *from, const char *to, size_t limit)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	ssize_t n;
	size_t done = 0;

	assert_true(in >= 0 && out >= 0);
	while (done < limit && (n = read(in, buf, sizeof(buf))) > 0) {
		if ((size_t)n > limit - done)
			n = limit - done;
		assert_int_equal(write(out, buf, n), n);
		done += n;
	}
	close(in);
	fchmod(out, 0755);
	close(out);
}

static void test_symbolize_deleted_binary(void **state)
{
	char path[] = "/tmp/symfix-deleted-XXXXXX";
	struct symbolizer *s = symbolizer__new(NULL);
	struct child c;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	copy_file(fixture("symfix-pie"), path, SIZE_MAX);
	start_child(&c, path);
	assert_int_equal(unlink(path), 0);
	/* the file is gone from the file system; map_files still reaches it */
	expect_user(s, c.pid, c.first, "symfix_first", NULL);
	stop_child(&c);
	symbolizer__free(s);
}

/* The value of symbol @name in ELF file @path, 0 when absent. */
static GElf_Addr symbol_value(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY);
	Elf_Scn *scn = NULL;
	GElf_Addr v = 0;
	Elf *elf;

	assert_true(fd >= 0);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	while (!v && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t i;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (i = 0; i < sh.sh_size / (sh.sh_entsize ?: 1); i++) {
			GElf_Sym sym;
			const char *n;

			if (gelf_getsym(data, (int)i, &sym) &&
			    (n = elf_strptr(elf, sh.sh_link, sym.st_name)) && !strcmp(n, name)) {
				v = sym.st_value;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return v;
}

/*
 * A binary truncated while the symbolizer has it mapped (a library copied
 * over in place, by whoever may write it): reading it again is a SIGBUS,
 * caught; the DWARF of it is given up, its symbol table (a copy) still
 * names functions, and the process goes on.
 */
static void test_binary_truncated_while_mapped(void **state)
{
	char path[] = "/tmp/symfix-truncated-XXXXXX";
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	GElf_Addr first, second;
	unsigned long caught;
	int fd = mkstemp(path), h, n;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(sigbus__install(), 0);
	copy_file(fixture("symfix-pie"), path, SIZE_MAX);
	first = symbol_value(path, "symfix_first");
	second = symbol_value(path, "symfix_second");
	assert_true(first && second);
	h = symbolizer__open_file(s, path);
	assert_true(h >= 0);
	n = symbolizer__file_addr(s, h, first, f, SYM_MAX_FRAMES);
	assert_true(n >= 1);
	assert_string_equal(f[n - 1].name, "symfix_first");
	assert_non_null(f[n - 1].file);	/* from its DWARF */
	/* cut to its first page: every page the symbolizer read past it is gone */
	assert_int_equal(truncate(path, 4096), 0);
	caught = sigbus__caught();
	n = symbolizer__file_addr(s, h, second + 1, f, SYM_MAX_FRAMES);
	print_message("after the truncation: %d frame(s), '%s'; %lu SIGBUS caught\n", n,
		      n ? f[0].name : "", sigbus__caught() - caught);
	assert_true(sigbus__caught() > caught);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].name, "symfix_second");
	assert_null(f[0].file);
	/* and the symbol table keeps naming */
	n = symbolizer__file_addr(s, h, first + 1, f, SYM_MAX_FRAMES);
	assert_true(n >= 1);
	symbolizer__free(s);
	unlink(path);
}

static int keep_exec_map(void *ctx, const struct sym_exec_map *m)
{
	struct sym_exec_map *maps = ctx;
	size_t i;

	for (i = 0; maps[i].end; i++)
		;
	if (i + 1 < 64) {
		maps[i] = *m;
		maps[i].path = strdup(m->path);
		maps[i].build_id = m->build_id ? strdup(m->build_id) : NULL;
	}
	return 0;
}

/* @pid's executable mappings as the unwinder reads them (paths strdup'ed); their number. */
static size_t exec_maps_of(pid_t pid, struct sym_exec_map maps[64])
{
	size_t nr;

	assert_int_equal(symbolizer__for_each_exec_map(NULL, pid, keep_exec_map, maps), 0);
	for (nr = 0; maps[nr].end; nr++)
		;
	return nr;
}

/*
 * Mappings offered by another reader (the unwinder's thread) name a
 * process that exited, was reaped and was never read by the symbolizer.
 */
static void test_offered_maps_name_a_gone_process(void **state)
{
	struct sym_exec_map maps[64] = { 0 };
	struct symbolizer *s = symbolizer__new(NULL);
	struct child c;
	size_t nr, i;

	(void)state;
	start_child(&c, fixture("symfix-pie"));
	nr = exec_maps_of(c.pid, maps);
	assert_true(nr >= 3);
	assert_int_equal(symbolizer__offer_maps(s, c.pid, maps, nr), 0);
	for (i = 0; i < nr; i++) {
		free((char *)maps[i].path);
		free((char *)maps[i].build_id);
	}
	stop_child(&c);	/* exited and reaped: /proc has nothing of it */
	expect_user(s, c.pid, c.first, "symfix_first", "symfix-pie");
	expect_user(s, c.pid, c.second + 2, "symfix_second", "symfix-pie");
	/* no read of its own: the process was taken from the offer */
	assert_int_equal(symbolizer__add_process(s, c.pid), 0);
	symbolizer__free(s);
}

/*
 * The unwinder's thread offers what it read at a process's exec only after
 * building tables, which can take longer than the process lives: an offer
 * made after the exit was noted names the samples still to drain, and the
 * process still goes with them (it would be kept for good otherwise, with
 * its binaries).
 */
static void test_late_offer_after_exit(void **state)
{
	struct sym_exec_map maps[64] = { 0 };
	struct symbolizer *s = symbolizer__new(NULL);
	struct symbolizer_stats st;
	struct child c;
	size_t nr, i;

	(void)state;
	start_child(&c, fixture("symfix-pie"));
	nr = exec_maps_of(c.pid, maps);
	stop_child(&c);
	/* read at its exec and offered: known, alive */
	assert_int_equal(symbolizer__offer_maps(s, c.pid, maps, nr), 0);
	expect_user(s, c.pid, c.first, "symfix_first", "symfix-pie");
	symbolizer__process_exited(s, c.pid);
	/* a second read (a library mapped later) offered only now */
	assert_int_equal(symbolizer__offer_maps(s, c.pid, maps, nr), 0);
	expect_user(s, c.pid, c.second + 2, "symfix_second", "symfix-pie");
	symbolizer__stats(s, &st);
	assert_int_equal(st.processes, 1);
	/* still noted as exited: gone once the samples after its exit are drained */
	symbolizer__next_generation(s);
	symbolizer__next_generation(s);
	symbolizer__next_generation(s);
	symbolizer__stats(s, &st);
	assert_int_equal(st.processes, 0);
	for (i = 0; i < nr; i++) {
		free((char *)maps[i].path);
		free((char *)maps[i].build_id);
	}
	symbolizer__free(s);
}

/* ---- reading a process's mappings: the ioctl and the text ---- */

struct maps_list {
	struct proc_map m[512];
	int nr;
};

static int collect_map(void *ctx, const struct proc_map *m)
{
	struct maps_list *l = ctx;

	if (l->nr == 512)
		return -E2BIG;
	l->m[l->nr++] = *m;
	return 0;
}

/* PROCMAP_QUERY answered on this kernel (Linux 6.11 and later)? */
static bool kernel_has_procmap_query(void)
{
	struct { __u64 size, flags, addr, out[6]; __u32 dev[2], name_size, bid_size;
		 __u64 name_addr, bid_addr; } q = { .size = sizeof(q), .flags = 0x10 };
	int fd = open("/proc/self/maps", O_RDONLY);
	bool ok;

	assert_true(fd >= 0);
	ok = !ioctl(fd, _IOWR('f', 17, q), &q);
	close(fd);
	return ok;
}

/* Both ways give the same executable mappings of a live process. */
static void test_maps_ioctl_matches_text(void **state)
{
	static struct maps_list q, t;
	struct strset *strs = strset__new();
	void *lib = dlopen(fixture("libsymfix.so"), RTLD_NOW);
	bool has_query = kernel_has_procmap_query();
	int i, vsyscall = 0;

	(void)state;
	assert_non_null(lib);
	if (!has_query)
		print_message("this kernel has no PROCMAP_QUERY: both reads are the text\n");
	q.nr = t.nr = 0;
	assert_int_equal(proc_maps__for_each_exec(NULL, getpid(), false, strs, collect_map, &q), 0);
	assert_int_equal(proc_maps__for_each_exec(NULL, getpid(), true, strs, collect_map, &t), 0);
	/*
	 * The text lists the [vsyscall] page, which is not a mapping of the
	 * process (the ioctl does not return it): the one difference, and the
	 * sign that the ioctl was used.
	 */
	if (t.nr && !strcmp(t.m[t.nr - 1].path, "[vsyscall]")) {
		t.nr--;
		vsyscall = 1;
	}
	if (has_query && vsyscall)
		assert_int_equal(q.nr, t.nr);
	else
		q.nr -= q.nr && !strcmp(q.m[q.nr - 1].path, "[vsyscall]");
	/* this test, libc, ld.so, the vDSO, libsymfix.so at least */
	assert_true(t.nr >= 5);
	assert_int_equal(q.nr, t.nr);
	for (i = 0; i < t.nr; i++) {
		assert_int_equal(q.m[i].start, t.m[i].start);
		assert_int_equal(q.m[i].end, t.m[i].end);
		assert_int_equal(q.m[i].pgoff, t.m[i].pgoff);
		assert_int_equal(q.m[i].inode, t.m[i].inode);
		assert_int_equal(q.m[i].dev_major, t.m[i].dev_major);
		assert_int_equal(q.m[i].dev_minor, t.m[i].dev_minor);
		assert_int_equal(q.m[i].kind, t.m[i].kind);
		assert_string_equal(q.m[i].path, t.m[i].path);
		assert_true(q.m[i].exec && t.m[i].exec);
		assert_true(i == 0 || t.m[i].start >= t.m[i - 1].end);
	}
	dlclose(lib);
	strset__free(strs);
}

static volatile bool churn_stop;

/* Map and unmap executable memory as fast as possible. */
static void *churn_maps(void *arg)
{
	(void)arg;
	while (!churn_stop) {
		void *p = mmap(NULL, 65536, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			       0);

		if (p != MAP_FAILED)
			munmap(p, 65536);
	}
	return NULL;
}

/* Mappings that change while they are read: ordered, never overlapping, the stable ones there. */
static void test_maps_changing_while_read(void **state)
{
	static struct maps_list l;
	struct strset *strs = strset__new();
	pthread_t t;
	int round, i, mode;

	(void)state;
	churn_stop = false;
	assert_int_equal(pthread_create(&t, NULL, churn_maps, NULL), 0);
	for (round = 0; round < 200; round++) {
		for (mode = 0; mode < 2; mode++) {
			bool self = false;

			l.nr = 0;
			assert_int_equal(proc_maps__for_each_exec(NULL, getpid(), mode, strs,
								  collect_map, &l), 0);
			for (i = 0; i < l.nr; i++) {
				assert_true(l.m[i].start < l.m[i].end);
				assert_true(i == 0 || l.m[i].start >= l.m[i - 1].end);
				self |= l.m[i].start <= (uintptr_t)test_maps_changing_while_read &&
					(uintptr_t)test_maps_changing_while_read < l.m[i].end;
			}
			assert_true(self);
		}
	}
	churn_stop = true;
	pthread_join(t, NULL);
	strset__free(strs);
}

/* A process gone before or while its maps are read: -ESRCH, nothing half-read kept. */
static void test_maps_of_vanished_process(void **state)
{
	static struct maps_list l;
	struct strset *strs = strset__new();
	int status, i, mode;

	(void)state;
	for (i = 0; i < 50; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(0);
		/* racing its exit: any answer but a crash or an error other than -ESRCH */
		for (mode = 0; mode < 2; mode++) {
			int err;

			l.nr = 0;
			err = proc_maps__for_each_exec(NULL, pid, mode, strs, collect_map, &l);
			assert_true(err == 0 || err == -ESRCH);
		}
		waitpid(pid, &status, 0);
		for (mode = 0; mode < 2; mode++) {
			l.nr = 0;
			assert_int_equal(proc_maps__for_each_exec(NULL, pid, mode, strs, collect_map,
								  &l), -ESRCH);
			assert_int_equal(l.nr, 0);
		}
	}
	strset__free(strs);
}

/* Wait until @pid is a zombie: exited, not reaped, its maps readable and empty. */
static void wait_zombie(pid_t pid)
{
	char path[64], buf[256];
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	for (i = 0; i < 1000; i++) {
		FILE *f = fopen(path, "r");
		char *p = f && fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;

		if (f)
			fclose(f);
		if (p && p[1] == ' ' && p[2] == 'Z')
			return;
		usleep(1000);
	}
	fail_msg("pid %d did not become a zombie", pid);
}

/*
 * Samples drained after the process's exit event (taken while it was torn
 * down, or just not drained yet) keep their names: a late "new process" for
 * its pid, or a miss that reads the maps again, finds them empty and keeps
 * the mappings known.
 */
static void test_samples_after_exit_keep_names(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	struct child c;
	int status;

	(void)state;
	assert_non_null(s);
	start_child(&c, fixture("symfix-pie"));
	assert_int_equal(symbolizer__add_process(s, c.pid), 0);
	fclose(c.to);	/* the child exits on end of input */
	fclose(c.from);
	wait_zombie(c.pid);
	symbolizer__process_exited(s, c.pid);
	/* a sample of its teardown asks for the process again */
	assert_int_equal(symbolizer__add_process(s, c.pid), 0);
	expect_user(s, c.pid, c.first, "symfix_first", "symfix-pie");
	/* an address outside the known mappings reads the (empty) maps again */
	symbolizer__next_generation(s);
	assert_int_equal(symbolizer__user(s, c.pid, 0x1000, f, SYM_MAX_FRAMES), 1);
	assert_null(f[0].name);
	expect_user(s, c.pid, c.second + 2, "symfix_second", "symfix-pie");
	waitpid(c.pid, &status, 0);
	symbolizer__free(s);
}

struct file_frame_ctx {
	__u64 addr, frame;
};

/* The (file, offset) frame the BPF unwinder records for address c->addr. */
static int file_frame_cb(void *ctx, const struct sym_exec_map *m)
{
	struct file_frame_ctx *c = ctx;
	__u32 fid;

	if (c->addr < m->start || c->addr >= m->end || !*m->path)
		return 0;
	fid = unwind_file_id(unwind_kernel_dev(m->dev_major, m->dev_minor), m->inode);
	c->frame = UNWIND_FILE_FRAME | (__u64)fid << 32 | (c->addr - m->start + m->pgoff);
	return 1;
}

/*
 * A frame the BPF unwinder found through its VMA, in a process user space
 * never read (a short process gone before its first scan), comes as (file
 * id, file offset): it is named through a mapping of the same file in any
 * process seen, once that process is gone and drained too, in a pid never
 * seen.
 */
static void test_file_frames_named_after_exit(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct file_frame_ctx first = { 0 }, second = { 0 };
	struct sym_frame f[SYM_MAX_FRAMES];
	struct child c;
	int status;

	(void)state;
	assert_non_null(s);
	start_child(&c, fixture("symfix-pie"));
	first.addr = c.first;
	second.addr = c.second;
	assert_int_equal(symbolizer__for_each_exec_map(NULL, c.pid, file_frame_cb, &first), 1);
	assert_int_equal(symbolizer__for_each_exec_map(NULL, c.pid, file_frame_cb, &second), 1);
	assert_int_equal(symbolizer__add_process(s, c.pid), 0);
	fclose(c.to);	/* the child exits on end of input */
	fclose(c.from);
	waitpid(c.pid, &status, 0);
	symbolizer__process_exited(s, c.pid);
	/* a frame named before the process's samples are drained */
	expect_user(s, 0x7ffffff0, second.frame, "symfix_second", "symfix-pie");
	symbolizer__next_generation(s);
	symbolizer__next_generation(s);
	/* and after: the file's id stays known */
	expect_user(s, 0x7ffffff1, first.frame, "symfix_first", "symfix-pie");
	/* an id no mapping had: one unnamed frame, its offset kept */
	assert_int_equal(symbolizer__user(s, c.pid, UNWIND_FILE_FRAME | 0x1234ULL << 32 | 0x99,
					  f, SYM_MAX_FRAMES), 1);
	assert_null(f[0].name);
	assert_int_equal(f[0].offset, 0x99);
	symbolizer__free(s);
}

/*
 * The same, once the binary's symbol table went under the budget: no
 * process known maps it any more (those named by file never show their
 * mappings), so it is opened again by the path a mapping showed, the very
 * file (device, inode and build id) only.
 */
static void test_file_frames_named_after_eviction(void **state)
{
	struct symbolizer_opts opts = { .sym_mem_cap = 1 };
	struct symbolizer *s = symbolizer__new(&opts);
	struct file_frame_ctx first = { 0 };
	struct symbolizer_stats st;
	struct child c;
	int status, i;

	(void)state;
	assert_non_null(s);
	start_child(&c, fixture("symfix-pie"));
	first.addr = c.first;
	assert_int_equal(symbolizer__for_each_exec_map(NULL, c.pid, file_frame_cb, &first), 1);
	assert_int_equal(symbolizer__add_process(s, c.pid), 0);
	expect_user(s, c.pid, first.frame, "symfix_first", "symfix-pie");
	fclose(c.to);	/* the child exits on end of input */
	fclose(c.from);
	waitpid(c.pid, &status, 0);
	symbolizer__process_exited(s, c.pid);
	for (i = 0; i < 5; i++)
		symbolizer__next_generation(s);
	symbolizer__stats(s, &st);
	assert_true(st.sym_evicted >= 1);
	assert_int_equal(st.sym_reopened, 0);
	/* a process named by file, gone too: the binary by its path */
	expect_user(s, 0x7ffffff2, first.frame, "symfix_first", "symfix-pie");
	symbolizer__stats(s, &st);
	assert_true(st.sym_reopened >= 1);
	symbolizer__free(s);
}

static void test_symbolize_gone_process(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	pid_t pid = fork();
	int status;

	(void)state;
	if (pid == 0)
		_exit(0);
	waitpid(pid, &status, 0);
	/* one unnamed frame with no module: the address is kept, not dropped */
	assert_int_equal(symbolizer__user(s, pid, 0x401000, f, SYM_MAX_FRAMES), 1);
	assert_null(f[0].name);
	assert_null(f[0].module);
	assert_int_equal(f[0].offset, 0x401000);
	assert_int_equal(symbolizer__add_process(s, pid), -ESRCH);
	symbolizer__free(s);
}

static void test_corrupt_files(void **state)
{
	static const char *const kinds[] = { "truncated", "garbage", "empty" };
	char path[] = "/tmp/symfix-bad-XXXXXX";
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		struct dso *d;
		int fd = mkstemp(path);

		assert_true(fd >= 0);
		close(fd);
		if (i == 0) {
			copy_file(fixture("symfix-pie"), path, 200);
		} else if (i == 1) {
			fd = open(path, O_WRONLY);
			assert_int_equal(write(fd, "\x7f" "ELF garbage garbage garbage", 28), 28);
			close(fd);
		}
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		d = dso__open(fd, path);
		if (d)
			fail_msg("%s file opened as ELF", kinds[i]);
		unlink(path);
		memcpy(path + strlen(path) - 6, "XXXXXX", 6);
	}
}

/*
 * A sample at the dynamic loader's first instructions (in user mode, right
 * after execve) is a one-frame stack: its entry point, assembly without a
 * symbol type (_start, then _dl_start_user), must be named. Needs ld.so's
 * symbols (its debug file, libc6-dbg on Debian): skipped without them.
 */
static void test_loader_entry_named(void **state)
{
	const char *ld = "/lib64/ld-linux-x86-64.so.2";
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	GElf_Ehdr eh;
	Elf *elf;
	int fd, h, n;

	(void)state;
	assert_non_null(s);
	fd = open(ld, O_RDONLY);
	if (fd < 0) {
		symbolizer__free(s);
		skip();
	}
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(elf);
	assert_non_null(gelf_getehdr(elf, &eh));
	elf_end(elf);
	close(fd);
	h = symbolizer__open_file(s, ld);
	assert_true(h >= 0);
	/* a function of ld.so's with a type: there are symbols to name with */
	n = symbolizer__file_addr(s, h, eh.e_entry + 0x40, f, SYM_MAX_FRAMES);
	if (n < 1 || !f[0].name) {
		symbolizer__free(s);
		skip();
	}
	n = symbolizer__file_addr(s, h, eh.e_entry, f, SYM_MAX_FRAMES);
	assert_true(n >= 1);
	assert_non_null(f[0].name);
	assert_string_equal(f[0].name, "_start");
	/* a few bytes on (after the call to _dl_start returned): still named */
	n = symbolizer__file_addr(s, h, eh.e_entry + 8, f, SYM_MAX_FRAMES);
	assert_true(n >= 1);
	assert_non_null(f[0].name);
	symbolizer__free(s);
}

static void test_vdso_frames_are_named(void **state)
{
	unsigned long base = getauxval(AT_SYSINFO_EHDR), a;
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	int named = 0;

	(void)state;
	assert_true(base != 0);
	for (a = base; a < base + 8192; a += 4) {
		int n = symbolizer__user(s, getpid(), a, f, SYM_MAX_FRAMES);

		assert_true(n >= 1);
		assert_string_equal(f[0].module, "[vdso]");
		if (f[0].name && strstr(f[0].name, "clock_gettime"))
			named++;
	}
	assert_true(named > 0);
	symbolizer__free(s);
}

static void test_jit_perf_map(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	char path[64];
	void *code = mmap(NULL, 8192, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	FILE *m;

	(void)state;
	assert_true(code != MAP_FAILED);
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	m = fopen(path, "w");
	assert_non_null(m);
	fprintf(m, "%lx 100 LazyCompile:*render_frame app.js:42\n", (unsigned long)code);
	fprintf(m, "%lx 80 Builtin:ArrayMap\n", (unsigned long)code + 0x1000);
	fclose(m);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)code + 0x10, f, SYM_MAX_FRAMES), 1);
	assert_string_equal(f[0].name, "LazyCompile:*render_frame app.js:42");
	assert_true(f[0].jit);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)code + 0x1010, f, SYM_MAX_FRAMES), 1);
	assert_string_equal(f[0].name, "Builtin:ArrayMap");
	/* between the JIT's symbols: anonymous code, kept and labelled */
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)code + 0x800, f, SYM_MAX_FRAMES), 1);
	assert_null(f[0].name);
	assert_string_equal(f[0].module, "[anon]");
	/* the code freed, other code compiled at its address: the next drain names it */
	m = fopen(path, "a");
	assert_non_null(m);
	fprintf(m, "%lx 60 LazyCompile:*recompiled app.js:7\n", (unsigned long)code);
	fclose(m);
	symbolizer__next_generation(s);
	assert_int_equal(symbolizer__user(s, getpid(), (uintptr_t)code + 0x10, f, SYM_MAX_FRAMES), 1);
	assert_string_equal(f[0].name, "LazyCompile:*recompiled app.js:7");
	unlink(path);
	munmap(code, 8192);
	symbolizer__free(s);
}

static void count_changed(void *ctx, __u32 tgid)
{
	assert_int_equal(tgid, 4242);
	(*(int *)ctx)++;
}

/*
 * A library unloaded and another loaded where it was: callers that cached
 * names by address hear of it; a mapping added, or JIT code moving, is no
 * such change.
 */
static void test_remapped_file_reported(void **state)
{
	struct sym_exec_map a[] = {
		{ .start = 0x400000, .end = 0x401000, .inode = 10, .dev_major = 8, .path = "/opt/app" },
		{ .start = 0x7f0000000000, .end = 0x7f0000010000, .inode = 11, .dev_major = 8,
		  .path = "/opt/libA.so" },
	};
	struct sym_exec_map b[3];
	struct symbolizer *s = symbolizer__new(NULL);
	int changed = 0;

	(void)state;
	assert_int_equal(symbolizer__offer_maps(s, 4242, a, 2), 0);
	symbolizer__next_generation(s);
	symbolizer__take_changed(s, count_changed, &changed);
	assert_int_equal(changed, 0);	/* the first read changes nothing */
	/* JIT code added: not a change */
	b[0] = a[0];
	b[1] = (struct sym_exec_map){ .start = 0x500000, .end = 0x510000, .path = "", .anon = true };
	b[2] = a[1];
	assert_int_equal(symbolizer__offer_maps(s, 4242, b, 3), 0);
	symbolizer__next_generation(s);
	symbolizer__take_changed(s, count_changed, &changed);
	assert_int_equal(changed, 0);
	/* the JIT code gone: not a change either (its perf map names it) */
	assert_int_equal(symbolizer__offer_maps(s, 4242, a, 2), 0);
	symbolizer__next_generation(s);
	symbolizer__take_changed(s, count_changed, &changed);
	assert_int_equal(changed, 0);
	/* libA.so out, libB.so in at its address */
	b[0] = a[0];
	b[1] = a[1];
	b[1].inode = 12;
	b[1].path = "/opt/libB.so";
	assert_int_equal(symbolizer__offer_maps(s, 4242, b, 2), 0);
	symbolizer__next_generation(s);
	symbolizer__take_changed(s, count_changed, &changed);
	assert_int_equal(changed, 1);
	symbolizer__take_changed(s, count_changed, &changed);
	assert_int_equal(changed, 1);	/* told once */
	symbolizer__free(s);
}

static void test_dwarf_memory_cap(void **state)
{
	struct symbolizer_opts opts = { .dwarf_mem_cap = 1 };
	struct symbolizer *s = symbolizer__new(&opts);
	struct sym_frame f[SYM_MAX_FRAMES];
	struct symbolizer_stats st;
	int n;

	(void)state;
	/* the first lookup builds a CU index: line numbers */
	n = symbolizer__user(s, getpid(), (uintptr_t)test_local_function, f, SYM_MAX_FRAMES);
	assert_true(n >= 1 && f[n - 1].file && f[n - 1].line > 0);
	symbolizer__stats(s, &st);
	assert_true(st.dwarf_mem > 0);
	/* over the cap: a new address gets the symbol name only */
	symbolizer__next_generation(s);
	n = symbolizer__user(s, getpid(), (uintptr_t)test_dwarf_memory_cap + 4, f, SYM_MAX_FRAMES);
	assert_int_equal(n, 1);
	assert_string_equal(f[0].name, "test_dwarf_memory_cap");
	assert_null(f[0].file);
	symbolizer__free(s);
}

static void test_frames_carry_build_id(void **state)
{
	struct symbolizer *s = symbolizer__new(NULL);
	struct sym_frame f[SYM_MAX_FRAMES];
	char cmd[8200], want[128] = "";
	struct child c;
	FILE *p;

	(void)state;
	snprintf(cmd, sizeof(cmd), "readelf -n '%s' | sed -n 's/.*Build ID: *//p'",
		 fixture("symfix-pie"));
	p = popen(cmd, "r");
	assert_non_null(fgets(want, sizeof(want), p));
	pclose(p);
	want[strcspn(want, "\n")] = '\0';
	start_child(&c, fixture("symfix-pie"));
	assert_true(symbolizer__user(s, c.pid, c.first, f, SYM_MAX_FRAMES) >= 1);
	assert_string_equal(f[0].build_id, want);
	/* the file offset of the address, for symbolizing it later elsewhere */
	assert_true(f[0].offset > 0 && f[0].offset < 1 << 20);
	stop_child(&c);
	symbolizer__free(s);
}

/* Without DWARF the symbolizer keeps symbol names only: the ELF files are closed. */
static void test_names_only_closes_files(void **state)
{
	struct symbolizer_opts opts = { .no_dwarf = true };
	struct symbolizer *s = symbolizer__new(&opts);
	struct sym_frame f[SYM_MAX_FRAMES];
	char line[4096];
	struct child c;
	bool mapped = false;
	FILE *maps;

	(void)state;
	start_child(&c, fixture("symfix-nopie"));
	assert_int_equal(symbolizer__user(s, c.pid, c.second, f, SYM_MAX_FRAMES), 1);
	assert_string_equal(f[0].name, "symfix_second");
	assert_null(f[0].file);
	maps = fopen("/proc/self/maps", "r");
	while (fgets(line, sizeof(line), maps))
		mapped |= strstr(line, "symfix-nopie") != NULL;
	fclose(maps);
	assert_false(mapped);
	/* still answers after the file is closed */
	assert_int_equal(symbolizer__user(s, c.pid, c.first, f, SYM_MAX_FRAMES), 1);
	assert_string_equal(f[0].name, "symfix_first");
	stop_child(&c);
	symbolizer__free(s);
}

static void expect_name(struct symbolizer *s, pid_t pid, unsigned long long addr,
			const char *name)
{
	struct sym_frame f[SYM_MAX_FRAMES];
	int n = symbolizer__user(s, pid, addr, f, SYM_MAX_FRAMES);

	assert_true(n >= 1);
	assert_non_null(f[0].name);
	assert_string_equal(f[0].name, name);
	assert_string_equal(f[0].module, "symfix-pie");
}

/*
 * The symbol tables' budget: a binary a live process maps keeps its table
 * whatever the cap; once nothing maps it the cap holds, names already given
 * stay valid, and the binary mapped again names the same addresses the same.
 * With DWARF (libdw's data go with the table) and names only (the agent's
 * default).
 */
static void test_symbol_tables_evicted_and_reopened(void **state)
{
	struct sym_frame f[SYM_MAX_FRAMES];
	struct symbolizer_stats st;
	const char *first, *file;
	int dwarf, i, status;

	(void)state;
	for (dwarf = 0; dwarf < 2; dwarf++) {
		struct symbolizer_opts opts = { .no_dwarf = !dwarf, .sym_mem_cap = 1 };
		struct symbolizer *s = symbolizer__new(&opts);
		struct child c;

		assert_non_null(s);
		start_child(&c, fixture("symfix-pie"));
		assert_int_equal(symbolizer__add_process(s, c.pid), 0);
		assert_true(symbolizer__user(s, c.pid, c.first, f, SYM_MAX_FRAMES) >= 1);
		first = f[0].name;
		file = f[0].file;
		assert_string_equal(first, "symfix_first");
		assert_true(!dwarf || (file && strstr(file, "symfix.c")));
		/* mapped: over the cap, and kept */
		for (i = 0; i < 3; i++)
			symbolizer__next_generation(s);
		symbolizer__stats(s, &st);
		assert_true(st.sym_mem > opts.sym_mem_cap);
		assert_int_equal(st.sym_evicted, 0);
		expect_name(s, c.pid, c.second + 2, "symfix_second");

		fclose(c.to);	/* the child exits on end of input */
		fclose(c.from);
		waitpid(c.pid, &status, 0);
		symbolizer__process_exited(s, c.pid);
		/* its last samples are drained in the next generation; then nothing maps it */
		for (i = 0; i < 3; i++)
			symbolizer__next_generation(s);
		symbolizer__stats(s, &st);
		assert_true(st.sym_evicted >= 2);	/* symfix-pie and libc at least */
		assert_true(st.sym_mem <= opts.sym_mem_cap);
		assert_int_equal(st.sym_reopened, 0);
		/* strings given out outlive the table */
		assert_string_equal(first, "symfix_first");
		assert_true(!dwarf || strstr(file, "symfix.c"));

		/* the same binary in a new process: opened again, the same names */
		start_child(&c, fixture("symfix-pie"));
		expect_name(s, c.pid, c.second + 2, "symfix_second");
		expect_name(s, c.pid, c.first, "symfix_first");
		symbolizer__stats(s, &st);
		assert_true(st.sym_reopened >= 1);
		stop_child(&c);
		symbolizer__free(s);
	}
}

/* ---- perf maps: the parser, the bounded reader, and opening what a user controls ---- */

static void test_perf_map_parse_line(void **state)
{
	static const struct {
		const char *line;
		bool ok;
		__u64 start, size;
		const char *name;
	} cases[] = {
		{ "7f0010 20 LazyCompile:*f a.js:1\n", true, 0x7f0010, 0x20,
		  "LazyCompile:*f a.js:1" },
		{ "0x10 0x8 stub\r\n", true, 0x10, 0x8, "stub" },
		{ "  10\t8\t\tLjava/lang/Object;::hashCode", true, 0x10, 0x8,
		  "Ljava/lang/Object;::hashCode" },
		{ "ffffffffffffffff 1 wraps\n", false },
		{ "fffffffffffffff0 10 to_the_end\n", false },
		{ "10000000000000000 1 too_wide\n", false },
		{ "10 0 empty_size\n", false },
		{ "10 8\n", false },
		{ "10 8 \n", false },
		{ "10\n", false },
		{ "zz 8 name\n", false },
		{ "10x 8 name\n", false },
		{ "", false },
	};
	const char *name;
	size_t i, name_len;
	__u64 start, size;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int err = perf_map__parse_line(cases[i].line, strlen(cases[i].line), &start, &size,
					       &name, &name_len);

		if (!cases[i].ok) {
			if (!err)
				fail_msg("'%s' parsed", cases[i].line);
			continue;
		}
		assert_int_equal(err, 0);
		assert_int_equal(start, cases[i].start);
		assert_int_equal(size, cases[i].size);
		assert_int_equal(name_len, strlen(cases[i].name));
		assert_memory_equal(name, cases[i].name, name_len);
	}
}

static const char *jit_name(const struct perf_map *pm, __u64 addr)
{
	const struct perf_map_sym *sym = perf_map__find(pm, addr);

	return sym ? perf_map__name(pm, sym) : NULL;
}

/* Lines cut anywhere, over-long lines, names to clean, the later of two symbols */
static void test_perf_map_feed(void **state)
{
	static const char text[] = "1000 10 old\n"
				   "garbage\n"
				   "1000 10 new\n"
				   "2000 10 ctl\x1b[31m\xff name\n";
	struct perf_map pm = {};
	char longline[3 * PERF_MAP_MAX_LINE];
	size_t i, step;

	(void)state;
	for (step = 1; step <= sizeof(text); step += 6) {
		for (i = 0; i < sizeof(text) - 1; i += step) {
			size_t n = i + step < sizeof(text) - 1 ? step : sizeof(text) - 1 - i;

			assert_int_equal(perf_map__feed(&pm, text + i, n), 0);
		}
		assert_int_equal(perf_map__commit(&pm), 0);
		assert_string_equal(jit_name(&pm, 0x1008), "new");
		assert_string_equal(jit_name(&pm, 0x2000), "ctl?[31m? name");
		assert_null(jit_name(&pm, 0x1010));
		assert_int_equal(pm.counts.malformed, 1);
		perf_map__release(&pm);
	}
	/* a line over the limit is dropped whole, in whatever pieces it comes */
	memset(longline, 'a', sizeof(longline));
	assert_int_equal(perf_map__feed(&pm, "3000 10 ", 8), 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(perf_map__feed(&pm, longline, sizeof(longline)), 0);
	assert_int_equal(perf_map__feed(&pm, "\n4000 10 after\n", 15), 0);
	assert_int_equal(perf_map__commit(&pm), 0);
	assert_null(jit_name(&pm, 0x3000));
	assert_string_equal(jit_name(&pm, 0x4000), "after");
	assert_int_equal(pm.counts.too_long, 1);
	assert_int_equal(pm.line_len, 0);	/* nothing of it buffered */
	assert_true(perf_map__mem(&pm) < 1 << 20);
	perf_map__release(&pm);
}

static int read_map_file(struct perf_map *pm, const char *path, size_t *bytes)
{
	struct stat st;
	int fd = open(path, O_RDONLY), err;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	err = perf_map__read(pm, fd, &st, bytes);
	close(fd);
	return err;
}

static void append(const char *path, const char *text, bool truncate)
{
	FILE *f = fopen(path, truncate ? "w" : "a");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* A map that grows is read from where the last read stopped; a rewritten one afresh */
static void test_perf_map_incremental(void **state)
{
	char path[] = "/tmp/perfmap-test-XXXXXX";
	struct perf_map pm = {};
	size_t bytes;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	append(path, "1000 10 first\n2000 10 second\n300", true);
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_int_equal(bytes, 32);
	assert_string_equal(jit_name(&pm, 0x2004), "second");
	/* the line cut at the end of the file is finished by the next read */
	append(path, "0 10 third\n1000 10 first_again\n", false);
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_int_equal(bytes, 31);
	assert_string_equal(jit_name(&pm, 0x3000), "third");
	assert_string_equal(jit_name(&pm, 0x1000), "first_again");
	assert_string_equal(jit_name(&pm, 0x2000), "second");
	/* unchanged: nothing read */
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_int_equal(bytes, 0);
	/* rewritten, and longer than before: the old symbols go */
	append(path, "5000 10 rewritten_with_a_much_longer_line_than_before_xxxxxxxxxxxxxxx\n",
	       true);
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_null(jit_name(&pm, 0x1000));
	assert_non_null(jit_name(&pm, 0x5000));
	perf_map__release(&pm);
	unlink(path);
}

/*
 * 1 GiB without a newline but its last line: only the last window looked at,
 * its holes not even read, in bounded memory
 */
static void test_perf_map_huge_file(void **state)
{
	char path[] = "/tmp/perfmap-huge-XXXXXX";
	static const char last[] = "\n6000 10 newest\n";
	struct perf_map pm = {};
	size_t bytes;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1LL << 30), 0);
	assert_int_equal(pwrite(fd, last, sizeof(last) - 1, 1LL << 30), sizeof(last) - 1);
	close(fd);
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_true(bytes > 0 && bytes <= 1 << 20);
	assert_int_equal(pm.counts.windowed, 1);
	assert_int_equal(pm.line_len, 0);
	assert_string_equal(jit_name(&pm, 0x6000), "newest");
	assert_true(perf_map__mem(&pm) < 1 << 20);
	perf_map__release(&pm);
	unlink(path);
}

/* A dense file of one 96 MiB line: the window is read, no more, and nothing kept */
static void test_perf_map_dense_long_line(void **state)
{
	char path[] = "/tmp/perfmap-dense-XXXXXX", *chunk = malloc(1 << 20);
	struct perf_map pm = {};
	size_t bytes, i;
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_non_null(chunk);
	memset(chunk, 'x', 1 << 20);
	for (i = 0; i < 96; i++)
		assert_int_equal(write(fd, chunk, 1 << 20), 1 << 20);
	assert_int_equal(write(fd, "\n7000 10 tail\n", 14), 14);
	close(fd);
	free(chunk);
	assert_int_equal(read_map_file(&pm, path, &bytes), 0);
	assert_int_equal(bytes, PERF_MAP_WINDOW);
	assert_string_equal(jit_name(&pm, 0x7000), "tail");
	assert_int_equal(pm.nr, 1);
	assert_true(perf_map__mem(&pm) < 1 << 20);
	perf_map__release(&pm);
	unlink(path);
}

/* What a user can plant under a directory: only their own regular files open, never blocking */
static void test_untrusted_open(void **state)
{
	char dir[] = "/tmp/untrusted-test-XXXXXX", path[4200], cmd[4300];
	struct stat st;
	int root, fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/sub", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/sub/map", dir);
	append(path, "1000 10 mine\n", true);
	snprintf(path, sizeof(path), "%s/sub/fifo", dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/sub/link", dir);
	assert_int_equal(symlink("map", path), 0);
	snprintf(path, sizeof(path), "%s/dirlink", dir);
	assert_int_equal(symlink("sub", path), 0);
	root = open(dir, O_PATH | O_DIRECTORY);
	assert_true(root >= 0);

	fd = untrusted__open(root, "sub/map", getuid(), &st);
	assert_true(fd >= 0);
	assert_true(S_ISREG(st.st_mode));
	close(fd);
	fd = untrusted__open(root, "/sub//map", UNTRUSTED_ANY_OWNER, &st);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(untrusted__open(root, "sub/map", getuid() + 1, &st), -EPERM);
	assert_int_equal(untrusted__open(root, "sub/fifo", UNTRUSTED_ANY_OWNER, &st), -EINVAL);
	assert_int_equal(untrusted__open(root, "sub/link", UNTRUSTED_ANY_OWNER, &st), -ELOOP);
	assert_int_equal(untrusted__open(root, "dirlink/map", UNTRUSTED_ANY_OWNER, &st), -ELOOP);
	assert_int_equal(untrusted__open(root, "sub/../sub/map", UNTRUSTED_ANY_OWNER, &st),
			 -EINVAL);
	assert_int_equal(untrusted__open(root, "sub/none", UNTRUSTED_ANY_OWNER, &st), -ENOENT);
	close(root);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_names_are_cleaned(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "plain_name", "plain_name" },
		{ "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5",
		  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5" },
		{ "esc\x1b[2J\x07", "esc?[2J?" },
		{ "c1\xc2\x9b" "31m", "c1??31m" },
		{ "bad\xff\xc3", "bad??" },
		{ "overlong\xc0\xaf", "overlong??" },
		{ "surrogate\xed\xa0\x80", "surrogate???" },
		{ "del\x7f", "del?" },
	};
	char buf[64];
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].in);
		assert_int_equal(sym_name__clean(buf, cases[i].in, len),
				 strcmp(cases[i].in, cases[i].out) != 0);
		buf[len] = '\0';
		assert_string_equal(buf, cases[i].out);
		assert_int_equal(sym_name__is_clean(cases[i].in, len),
				 !strcmp(cases[i].in, cases[i].out));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kallsyms_lookup),
		cmocka_unit_test(test_kallsyms_rejects_garbage),
		cmocka_unit_test(test_symbolizer_kernel_from_file),
		cmocka_unit_test(test_maps_parse),
		cmocka_unit_test(test_maps_file_offset),
		cmocka_unit_test(test_symbolize_self_and_libs),
		cmocka_unit_test(test_symbolize_pie_and_nopie),
		cmocka_unit_test(test_symbolize_deleted_binary),
		cmocka_unit_test(test_binary_truncated_while_mapped),
		cmocka_unit_test(test_symbolize_gone_process),
		cmocka_unit_test(test_samples_after_exit_keep_names),
		cmocka_unit_test(test_file_frames_named_after_exit),
		cmocka_unit_test(test_loader_entry_named),
		cmocka_unit_test(test_offered_maps_name_a_gone_process),
		cmocka_unit_test(test_late_offer_after_exit),
		cmocka_unit_test(test_maps_ioctl_matches_text),
		cmocka_unit_test(test_maps_changing_while_read),
		cmocka_unit_test(test_maps_of_vanished_process),
		cmocka_unit_test(test_corrupt_files),
		cmocka_unit_test(test_vdso_frames_are_named),
		cmocka_unit_test(test_jit_perf_map),
		cmocka_unit_test(test_remapped_file_reported),
		cmocka_unit_test(test_dwarf_memory_cap),
		cmocka_unit_test(test_frames_carry_build_id),
		cmocka_unit_test(test_names_only_closes_files),
		cmocka_unit_test(test_symbol_tables_evicted_and_reopened),
		cmocka_unit_test(test_file_frames_named_after_eviction),
		cmocka_unit_test(test_perf_map_parse_line),
		cmocka_unit_test(test_perf_map_feed),
		cmocka_unit_test(test_perf_map_incremental),
		cmocka_unit_test(test_perf_map_huge_file),
		cmocka_unit_test(test_perf_map_dense_long_line),
		cmocka_unit_test(test_untrusted_open),
		cmocka_unit_test(test_names_are_cleaned),
	};

	return cmocka_run_group_tests_name("symbolizer", tests, NULL, NULL);
}
