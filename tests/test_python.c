// SPDX-License-Identifier: GPL-2.0
/*
 * symbolizer/python.c against the real interpreters (tests/pythons.h: Debian's
 * python3.11, and 3.11 to 3.13 from pyenv when present): version detection
 * from the dynamic symbols (of the executable or its libpython), the layout
 * check against what the live interpreter publishes, the thread-state key
 * against pthread_getspecific() in the interpreter, the line table decoder
 * against code.co_positions(), and naming code objects whose addresses
 * (id()) and fields the interpreter prints itself. One case per interpreter,
 * named after it; skipped when none is found.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "symbolizer/symbolizer.h"
#include "symbolizer/symbolizer_internal.h"
#include "pythons.h"

/* Functions whose code the tests look at: several lines, a loop, a nested function. */
static const char SCRIPT[] =
	"import sys, time\n"
	"def outer(n):\n"
	"    total = 0\n"
	"    for i in range(n):\n"
	"        total += i * 2\n"
	"\n"
	"        if total > 100:\n"
	"            total -= (\n"
	"                3)\n"
	"    def inner(x):\n"
	"        return [y for y in range(x)\n"
	"                if y % 3]\n"
	"    return inner(total)\n"
	"class K:\n"
	"    def méthode(self, a, b=2, *c, **d):\n"
	"        try:\n"
	"            return a / b\n"
	"        except ZeroDivisionError:\n"
	"            return None\n"
	"codes = [outer.__code__, outer.__code__.co_consts[-2] if False else None,\n"
	"         K.méthode.__code__, sys._getframe().f_code]\n"
	"codes = [c for c in codes if c is not None]\n"
	"for c in list(codes):\n"
	"    codes += [k for k in c.co_consts if hasattr(k, 'co_code')]\n"
	"import ctypes\n"
	"ctypes.pythonapi.PyThreadState_Get.restype = ctypes.c_void_p\n"
	"libc = ctypes.CDLL(None)\n"
	"libc.pthread_getspecific.restype = ctypes.c_void_p\n"
	"libc.pthread_getspecific.argtypes = [ctypes.c_uint]\n"
	"print(sys.hexversion)\n"
	"print(ctypes.pythonapi.PyThreadState_Get(),\n"
	"      *(libc.pthread_getspecific(k) or 0 for k in range(32)))\n"
	"for c in codes:\n"
	"    lines = ','.join(str(p[0] if p[0] is not None else -1) for p in c.co_positions())\n"
	"    print(id(c), c.co_firstlineno, c.co_argcount, c.co_flags, c.co_stacksize,\n"
	"          len(c.co_code) // 2, c.co_linetable.hex(), lines, c.co_filename, c.co_qualname)\n"
	"print('end', flush=True)\n"
	"sys.stdin.read()\n";

struct child {
	pid_t pid;
	FILE *out;
	int in_fd;
};

static int start_python(struct child *c, const char *python)
{
	int to[2], from[2];

	if (access(python, X_OK) || pipe(to) || pipe(from))
		return -1;
	c->pid = fork();
	if (c->pid == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		execl(python, python, "-c", SCRIPT, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	c->in_fd = to[1];
	c->out = fdopen(from[0], "r");
	return c->out ? 0 : -1;
}

static void stop_python(struct child *c)
{
	close(c->in_fd);
	fclose(c->out);
	waitpid(c->pid, NULL, 0);
}

static int collect_map(void *ctx, const struct sym_exec_map *m)
{
	struct { struct sym_exec_map maps[64]; char paths[64][256]; size_t nr; } *mc = ctx;

	if (mc->nr < 64) {
		mc->maps[mc->nr] = *m;
		snprintf(mc->paths[mc->nr], sizeof(mc->paths[0]), "%s", m->path);
		mc->maps[mc->nr].path = mc->paths[mc->nr];
		mc->maps[mc->nr].build_id = NULL;	/* borrowed: not kept */
		mc->nr++;
	}
	return 0;
}

static void test_name_minor(void **state __attribute__((unused)))
{
	static const struct { const char *path; int minor; } cases[] = {
		{ "/usr/bin/python3.11", 11 },
		{ "/usr/lib/x86_64-linux-gnu/libpython3.12.so.1.0", 12 },
		{ "libpython3.13d.so", 13 },
		{ "/usr/bin/python3.11d", 11 },
		{ "/usr/bin/python3", -1 },
		{ "/usr/bin/python3.11-config", -1 },
		{ "/usr/lib/python3.11/lib-dynload/zlib.cpython-311-x86_64-linux-gnu.so", -1 },
		{ "/opt/notpython3.11", -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(python__name_minor(cases[i].path), cases[i].minor);
	assert_non_null(python__layout(0x030b02f0));
	assert_true(python__layout(0x030b02f0)->verified);
	assert_true(python__layout(0x030c01f0)->verified);
	assert_true(python__layout(0x030d00f0)->verified);
	assert_null(python__layout(0x030e00f0));
	assert_null(python__layout(0x030a00f0));
	assert_null(python__layout(0x020700f0));
}

/*
 * The key the walker reads the thread state with, read from the child as
 * BPF would: pthread_getspecific() of that key, in the interpreter, gives
 * PyThreadState_Get(). @line: the thread state, then the 32 keys' values.
 */
static void check_tss_key(pid_t pid, const struct py_proc *bp, char *line)
{
	unsigned long long tstate, spec[32];
	__u32 tss[2];
	struct iovec local = { tss, sizeof(tss) };
	struct iovec remote = { (void *)(unsigned long)bp->tss_key_addr, sizeof(tss) };
	char *p = line;
	int i;

	tstate = strtoull(p, &p, 10);
	for (i = 0; i < 32; i++)
		spec[i] = strtoull(p, &p, 10);
	assert_int_equal(process_vm_readv(pid, &local, 1, &remote, 1, 0), sizeof(tss));
	assert_int_equal(tss[0], 1);
	assert_true(tss[1] < 32);
	assert_true(tstate != 0);
	assert_int_equal(spec[tss[1]], tstate);
}

/* The interpreter's own answers, line by line, for each code object. */
static void test_live_interpreter(void **state)
{
	const struct test_python *py = *state;
	struct { struct sym_exec_map maps[64]; char paths[64][256]; size_t nr; } mc = {};
	struct python_namer *namer;
	struct python_interp in;
	struct py_proc bp;
	char line[65536], tss_line[4096];
	unsigned long hexversion;
	int nr_codes = 0;
	struct child c = { .pid = -1, .in_fd = -1 };

	if (start_python(&c, py->path))
		fail_msg("cannot start %s", py->path);
	assert_non_null(fgets(line, sizeof(line), c.out));
	hexversion = strtoul(line, NULL, 10);
	assert_int_equal((hexversion >> 16) & 0xff, py->minor);
	assert_non_null(fgets(tss_line, sizeof(tss_line), c.out));
	assert_int_equal(symbolizer__for_each_exec_map(NULL, c.pid, collect_map, &mc), 0);
	assert_int_equal(python__find_interp(NULL, c.pid, mc.maps, mc.nr, &in), 0);
	assert_int_equal(in.version, hexversion);
	assert_non_null(in.layout);
	assert_true(in.eval_size > 1000);
	assert_int_equal(python__bpf_proc(c.pid, &in, &bp), 0);
	assert_int_equal(bp.version, hexversion);
	check_tss_key(c.pid, &bp, tss_line);

	namer = python_namer__new();
	assert_non_null(namer);
	while (fgets(line, sizeof(line), c.out) && strncmp(line, "end", 3)) {
		unsigned long long id;
		unsigned int first, argc, flags, stacksize, units;
		char hex[16384], lines[16384], file[1024], qual[1024];
		__u8 table[8192];
		size_t len, i;
		char *p;
		int unit, want;

		assert_int_equal(sscanf(line, "%llu %u %u %u %u %u %16383s %16383s %1023s %1023s", &id,
					&first, &argc, &flags, &stacksize, &units, hex, lines, file,
					qual), 10);
		len = strlen(hex) / 2;
		for (i = 0; i < len; i++)
			sscanf(hex + 2 * i, "%2hhx", &table[i]);
		/* every code unit's line, as co_positions() gives it */
		for (unit = 0, p = lines; *p; unit++) {
			want = strtol(p, &p, 10);

			assert_int_equal(python__line(table, len, first, unit), want);
			if (*p == ',')
				p++;
		}
		assert_int_equal(unit, units);
		/* naming from the live process, at the address id() gives */
		{
			struct py_frame f = {
				.code = id, .lasti = units - 1,
				.fingerprint = py_fingerprint(units, flags, argc, stacksize, first),
			};
			struct py_name nm;

			if (python_namer__name(namer, c.pid, in.version, &f, &nm))
				fail_msg("cannot name %s at %#llx", qual, id);
			assert_string_equal(nm.qualname, qual);
			assert_string_equal(nm.file, file);
			want = python__line(table, len, first, units - 1);
			assert_int_equal(nm.line, want < 0 ? 0 : want);
			/* another fingerprint at the same address: not this code */
			f.fingerprint ^= 1;
			assert_int_equal(python_namer__name(namer, c.pid, in.version, &f, &nm),
					 -ENOENT);
		}
		nr_codes++;
	}
	assert_true(nr_codes >= 5);
	stop_python(&c);
	python_namer__free(namer);
}

/* A corrupt table never reads past its end and never loops. */
static void test_line_table_corrupt(void **state __attribute__((unused)))
{
	static const __u8 cases[][4] = {
		{ 0xf0, 0xff, 0xff, 0xff },	/* long form, varint running off the end */
		{ 0x01, 0x02, 0x03, 0x04 },	/* no entry start byte */
		{ 0xd0, 0x7f, 0x7f, 0x7f },	/* no-column form, endless varint */
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(python__line(cases[i], sizeof(cases[i]), 1, 3), -1);
	assert_int_equal(python__line(NULL, 0, 7, -1), 7);
}

static __u32 key_seen;
static void *other_thread(void *arg)
{
	pthread_key_t *key = arg;
	static int value;
	const char *self = (const char *)pthread_self();
	__u32 off = python__pthread_specific_offset();
	void *data;

	pthread_setspecific(*key, &value);
	memcpy(&data, self + off + 16 * *key + 8, sizeof(data));
	key_seen = data == &value;
	return NULL;
}

/* The offset measured once is the one glibc uses on every thread, for every key. */
static void test_pthread_specific(void **state __attribute__((unused)))
{
	pthread_key_t keys[3];
	pthread_t t;
	int i;

	assert_int_not_equal(python__pthread_specific_offset(), PY_OFF_NONE);
	for (i = 0; i < 3; i++)
		assert_int_equal(pthread_key_create(&keys[i], NULL), 0);
	assert_true(keys[2] < 32);
	assert_int_equal(pthread_create(&t, NULL, other_thread, &keys[2]), 0);
	pthread_join(t, NULL);
	assert_true(key_seen);
	for (i = 0; i < 3; i++)
		pthread_key_delete(keys[i]);
}

int main(void)
{
	static struct test_python pys[MAX_TEST_PYTHONS];
	struct CMUnitTest tests[3 + MAX_TEST_PYTHONS] = {
		cmocka_unit_test(test_name_minor),
		cmocka_unit_test(test_line_table_corrupt),
		cmocka_unit_test(test_pthread_specific),
	};
	int i, nr = test_pythons(pys);

	test_pythons_print("test_python", pys, nr);
	for (i = 0; i < nr; i++) {
		tests[3 + i] = (struct CMUnitTest)cmocka_unit_test_prestate(test_live_interpreter,
									    &pys[i]);
		tests[3 + i].name = pys[i].name;
	}
	return _cmocka_run_group_tests("python", tests, 3 + nr, NULL, NULL);
}
