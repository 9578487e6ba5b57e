// SPDX-License-Identifier: GPL-2.0
/*
 * CPython: finding the interpreter in a process and naming the frames the
 * BPF walker (bpf/python.bpf.h) records.
 *
 * Detection reads only what any build exports: the dynamic symbols
 * _PyRuntime, Py_Version, _PyEval_EvalFrameDefault and PyCode_Type of the
 * python3.X executable or the libpython3.X.so it maps. The structure offsets
 * come from a table per minor version; the code object's, which the
 * interpreter publishes itself in PyCode_Type's member table and basic size,
 * are read from the live process and must agree with the table before the
 * walk is enabled. The thread-state key lives in _PyRuntime; the BPF side
 * reads it as pthread_getspecific() does, from glibc's struct pthread, whose
 * specific_1stblock offset is measured once on the profiler's own thread.
 *
 * Naming: a code object's co_qualname, co_filename, co_firstlineno and
 * co_linetable are read from the process (process_vm_readv, bounded sizes:
 * the process's memory is untrusted input) and cached by (process, address)
 * with the fingerprint BPF computed; a second index by fingerprint and
 * interpreter version names the code objects of a process already gone when
 * the same code ran before (the same script run again).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "symbolizer.h"
#include "symbolizer_internal.h"
#include "common/hashmap.h"
#include "common/strset.h"
#include "common/log.h"

/* ---- per-version layouts ---- */

static const struct python_layout layouts[] = {
	{
		/* 3.11: Include/internal/pycore_frame.h, pycore_runtime.h, cpython/code.h */
		.minor = 11, .verified = true, .tss_key = 592,
		.p = {
			.tstate_frame = 56, .cframe_frame = 8,
			.frame_code = 32, .frame_previous = 48, .frame_instr = 56,
			.frame_entry = 68, .frame_owner = 69, .owner_cstack = PY_OFF_NONE,
			.code_adaptive = 184, .code_size = 16, .code_flags = 48,
			.code_argcount = 56, .code_stacksize = 68, .code_firstlineno = 72,
		},
		.code_filename = 112, .code_qualname = 128, .code_linetable = 136,
		.ascii_size = 48, .compact_size = 72,
	},
	{
		/*
		 * 3.12: the frame starts with f_code; each call of the eval loop
		 * starts with a shim frame owned by the C stack; co_warmup gone,
		 * so the code object's ints moved up; no wstr in str objects.
		 */
		.minor = 12, .verified = true, .tss_key = 1544,
		.p = {
			.tstate_frame = 56, .cframe_frame = 0,
			.frame_code = 0, .frame_previous = 8, .frame_instr = 56,
			.frame_entry = PY_OFF_NONE, .frame_owner = 70, .owner_cstack = 3,
			.code_adaptive = 192, .code_size = 16, .code_flags = 48,
			.code_argcount = 52, .code_stacksize = 64, .code_firstlineno = 68,
		},
		.code_filename = 112, .code_qualname = 128, .code_linetable = 136,
		.ascii_size = 40, .compact_size = 56,
	},
	{
		/*
		 * 3.13: no _PyCFrame (tstate->current_frame), f_executable,
		 * instr_ptr (the instruction running, where 3.12's prev_instr is
		 * the last one started: the same lasti). _PyRuntime starts with
		 * _Py_DebugOffsets, checked against this entry.
		 */
		.minor = 13, .verified = true, .debug_offsets = true, .tss_key = 2160,
		.p = {
			.tstate_frame = 72, .cframe_frame = PY_OFF_NONE,
			.frame_code = 0, .frame_previous = 8, .frame_instr = 56,
			.frame_entry = PY_OFF_NONE, .frame_owner = 70, .owner_cstack = 3,
			.code_adaptive = 200, .code_size = 16, .code_flags = 48,
			.code_argcount = 52, .code_stacksize = 64, .code_firstlineno = 68,
		},
		.code_filename = 112, .code_qualname = 128, .code_linetable = 136,
		.ascii_size = 40, .compact_size = 56,
	},
};

const struct python_layout *python__layout(__u32 version)
{
	size_t i;

	if ((version >> 24) != 3)
		return NULL;
	for (i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].minor == ((version >> 16) & 0xff))
			return &layouts[i];
	}
	return NULL;
}

/* ---- detection ---- */

/* "python3.11", "libpython3.11.so.1.0": the minor version the name says, or -1. */
int python__name_minor(const char *path)
{
	const char *base = strrchr(path, '/');
	char *end;
	long minor;

	base = base ? base + 1 : path;
	if (!strncmp(base, "lib", 3))
		base += 3;
	if (strncmp(base, "python3.", 8))
		return -1;
	minor = strtol(base + 8, &end, 10);
	if (end == base + 8 || minor < 0 || minor > 99)
		return -1;
	/* "python3.11", "python3.11d", "libpython3.11.so.1.0", "libpython3.11d.so" */
	if (*end == 'd')
		end++;
	if (*end && strncmp(end, ".so", 3))
		return -1;
	return minor;
}

struct elf_syms {
	__u64 runtime, version_vaddr, eval, eval_size, code_type;
	__u32 version;
};

static int read_version(Elf *elf, __u64 vaddr, __u32 *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;
		__u64 v;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || vaddr < sh.sh_addr ||
		    vaddr + 8 > sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf || vaddr - sh.sh_addr + 8 > d->d_size)
			return -EINVAL;
		memcpy(&v, (const char *)d->d_buf + (vaddr - sh.sh_addr), sizeof(v));
		*out = (__u32)v;
		return 0;
	}
	return -ENOENT;
}

static int read_dynsyms(Elf *elf, struct elf_syms *out)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t i, n;

	while ((scn = elf_nextscn(elf, scn))) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d)
			return -EINVAL;
		n = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < n; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, i, &sym) || sym.st_shndx == SHN_UNDEF)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name)
				continue;
			if (!strcmp(name, "_PyRuntime"))
				out->runtime = sym.st_value;
			else if (!strcmp(name, "Py_Version"))
				out->version_vaddr = sym.st_value;
			else if (!strcmp(name, "PyCode_Type"))
				out->code_type = sym.st_value;
			else if (!strcmp(name, "_PyEval_EvalFrameDefault")) {
				out->eval = sym.st_value;
				out->eval_size = sym.st_size;
			}
		}
	}
	if (!out->runtime || !out->eval || !out->code_type)
		return -ENOENT;
	/* Py_Version appeared in 3.11; older interpreters are not walked */
	if (!out->version_vaddr)
		return -ENOTSUP;
	return read_version(elf, out->version_vaddr, &out->version);
}

/* The load bias of the mapping at @start with file offset @pgoff: runtime = vaddr + bias. */
static int load_bias(Elf *elf, __u64 start, __u64 pgoff, __u64 *bias)
{
	size_t i, n;

	if (elf_getphdrnum(elf, &n))
		return -EINVAL;
	for (i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (pgoff < (ph.p_offset & ~0xfffULL) || pgoff >= ph.p_offset + ph.p_filesz)
			continue;
		*bias = start - pgoff - ((ph.p_vaddr - ph.p_offset) & ~0ULL);
		return 0;
	}
	return -ENOENT;
}

int python__read_elf(int fd, __u64 start, __u64 pgoff, struct python_interp *out)
{
	struct elf_syms es = {};
	__u64 bias = 0;
	Elf *elf;
	int err;

	elf_version(EV_CURRENT);
	/* read, not mapped: a file truncated meanwhile is a read error, not a SIGBUS */
	elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!elf)
		return -EINVAL;
	err = read_dynsyms(elf, &es);
	if (!err)
		err = load_bias(elf, start, pgoff, &bias);
	elf_end(elf);
	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->version = es.version;
	out->runtime = es.runtime + bias;
	out->eval = es.eval + bias;
	out->eval_size = es.eval_size;
	out->code_type = es.code_type + bias;
	out->layout = python__layout(es.version);
	return 0;
}

struct find_ctx {
	const char *proc_root;
	__u32 tgid;
	struct python_interp *out;
	int err;
};

int python__find_interp(const char *proc_root, __u32 tgid, const struct sym_exec_map *maps,
			size_t nr, struct python_interp *out)
{
	size_t i;
	int fd, err = -ENOENT;

	for (i = 0; i < nr; i++) {
		const struct sym_exec_map *m = &maps[i];

		if (m->anon || m->vdso || m->special || python__name_minor(m->path) < 0)
			continue;
		fd = symbolizer__open_mapping(proc_root, tgid, m->start, m->end, m->dev_major,
					      m->dev_minor, m->inode, m->path);
		if (fd < 0)
			return fd;
		err = python__read_elf(fd, m->start, m->pgoff, out);
		close(fd);
		/* the executable may be a launcher that maps libpython: look on */
		if (err != -ENOENT)
			return err;
	}
	return err;
}

/* ---- reading the process ---- */

static int read_mem(__u32 tgid, __u64 addr, void *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)(unsigned long)addr, len };
	ssize_t n = process_vm_readv(tgid, &local, 1, &remote, 1, 0);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

static int read_u64(__u32 tgid, __u64 addr, __u64 *v)
{
	return read_mem(tgid, addr, v, sizeof(*v));
}

/*
 * PyCode_Type's tp_basicsize (offsetof co_code_adaptive) and tp_members
 * (PyMemberDef: name, type, offset, flags, doc), as the live interpreter
 * has them, checked against @l.
 */
static int check_members(__u32 tgid, __u64 code_type, const struct python_layout *l)
{
	static const struct { const char *name; size_t off; } want[] = {
		{ "co_argcount", offsetof(struct py_proc, code_argcount) },
		{ "co_flags", offsetof(struct py_proc, code_flags) },
		{ "co_stacksize", offsetof(struct py_proc, code_stacksize) },
		{ "co_firstlineno", offsetof(struct py_proc, code_firstlineno) },
	};
	__u64 basicsize, members, m[5];
	char name[32];
	int i, j, found = 0, err;

	/* PyTypeObject: tp_basicsize at 32, tp_members at 240 since 3.8 */
	err = read_u64(tgid, code_type + 32, &basicsize);
	err = err ?: read_u64(tgid, code_type + 240, &members);
	if (err)
		return err;
	if (basicsize != l->p.code_adaptive)
		return -EPROTO;
	for (i = 0; i < 64; i++) {
		if (read_mem(tgid, members + i * sizeof(m), m, sizeof(m)))
			return -EFAULT;
		if (!m[0])
			break;
		if (read_mem(tgid, m[0], name, sizeof(name)))
			continue;
		name[sizeof(name) - 1] = '\0';
		for (j = 0; j < (int)(sizeof(want) / sizeof(want[0])); j++) {
			__u32 have = *(const __u32 *)((const char *)&l->p + want[j].off);

			if (strcmp(name, want[j].name))
				continue;
			if (m[2] != have)
				return -EPROTO;
			found++;
		}
		if (!strcmp(name, "co_filename") && m[2] != l->code_filename)
			return -EPROTO;
		if (!strcmp(name, "co_qualname") && m[2] != l->code_qualname)
			return -EPROTO;
	}
	return found == (int)(sizeof(want) / sizeof(want[0])) ? 0 : -EPROTO;
}

static pthread_once_t specific_once = PTHREAD_ONCE_INIT;
static __u32 specific_off = PY_OFF_NONE;

/*
 * glibc keeps the first 32 keys' values in struct pthread, at
 * specific_1stblock[key] = { seq, data }; x86-64's thread pointer (fsbase)
 * is the struct pthread. Find the array on this thread: set a key, look
 * for its value.
 */
static void measure_specific(void)
{
	const __u64 *self = (const __u64 *)pthread_self();
	static int marker;
	pthread_key_t key;
	size_t i;

	if (pthread_key_create(&key, NULL))
		return;
	if (key < 32 && !pthread_setspecific(key, &marker)) {
		for (i = 1; i < 4096 / 8; i++) {
			if (self[i] != (__u64)(unsigned long)&marker)
				continue;
			if (i * 8 >= 16 * key + 8)
				specific_off = i * 8 - 16 * key - 8;
			break;
		}
	}
	pthread_key_delete(key);
}

__u32 python__pthread_specific_offset(void)
{
	pthread_once(&specific_once, measure_specific);
	return specific_off;
}

/*
 * 3.13's _Py_DebugOffsets, at the start of _PyRuntime: the offsets the
 * interpreter states about itself, against @l. The positions below are
 * 3.13's struct (it grows in later versions: a table entry each).
 */
static int check_debug_offsets(__u32 tgid, __u64 runtime, __u32 version,
			       const struct python_layout *l)
{
	static const struct { __u32 at; size_t off; } fields[] = {
		{ 184, offsetof(struct py_proc, tstate_frame) },
		{ 232, offsetof(struct py_proc, frame_previous) },
		{ 240, offsetof(struct py_proc, frame_code) },
		{ 248, offsetof(struct py_proc, frame_instr) },
		{ 264, offsetof(struct py_proc, frame_owner) },
		{ 312, offsetof(struct py_proc, code_firstlineno) },
		{ 320, offsetof(struct py_proc, code_argcount) },
		{ 344, offsetof(struct py_proc, code_adaptive) },
	};
	__u64 d[46];
	size_t i;

	if (read_mem(tgid, runtime, d, sizeof(d)))
		return -EFAULT;
	/* "xdebugpy", the version, not free-threaded (another layout) */
	if (memcmp(d, "xdebugpy", 8) || d[1] != version || d[2])
		return -EPROTO;
	for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		__u32 have = *(const __u32 *)((const char *)&l->p + fields[i].off);

		if (d[fields[i].at / 8] != have)
			return -EPROTO;
	}
	if (d[280 / 8] != l->code_filename || d[296 / 8] != l->code_qualname ||
	    d[304 / 8] != l->code_linetable)
		return -EPROTO;
	return 0;
}

/*
 * The thread-state key (Py_tss_t: int initialized, pthread_key_t key) is
 * set once the runtime is up: -EAGAIN before, -EPROTO when what is there
 * is no key the walk can read (glibc's first block holds keys 0-31).
 */
static int check_tss(__u32 tgid, __u64 addr)
{
	__u32 tss[2];

	if (read_mem(tgid, addr, tss, sizeof(tss)))
		return -EFAULT;
	if (!tss[0])
		return -EAGAIN;
	return tss[0] == 1 && tss[1] < 32 ? 0 : -EPROTO;
}

int python__bpf_proc(__u32 tgid, const struct python_interp *in, struct py_proc *out)
{
	const struct python_layout *l = in->layout;
	int err;

	if (!l || !l->verified)
		return -ENOTSUP;
	err = check_members(tgid, in->code_type, l);
	if (!err && l->debug_offsets)
		err = check_debug_offsets(tgid, in->runtime, in->version, l);
	if (!err)
		err = check_tss(tgid, in->runtime + l->tss_key);
	if (err)
		return err;
	*out = l->p;
	out->version = in->version;
	out->tss_key_addr = in->runtime + l->tss_key;
	out->pthread_specific = python__pthread_specific_offset();
	return out->pthread_specific == PY_OFF_NONE ? -ENOTSUP : 0;
}

/* ---- the line table (3.11+ location table) ---- */

static int read_varint(const __u8 *t, size_t len, size_t *i, unsigned int *out)
{
	unsigned int v = 0, shift = 0;
	__u8 b;

	do {
		if (*i >= len || shift > 24)
			return -1;
		b = t[(*i)++];
		v |= (unsigned int)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = v;
	return 0;
}

static int read_svarint(const __u8 *t, size_t len, size_t *i, int *out)
{
	unsigned int v;

	if (read_varint(t, len, i, &v))
		return -1;
	*out = v & 1 ? -(int)(v >> 1) : (int)(v >> 1);
	return 0;
}

int python__line(const __u8 *t, size_t len, int firstlineno, int lasti)
{
	size_t i = 0;
	int line = firstlineno, addr = 0;

	if (lasti < 0)
		return firstlineno;
	while (i < len) {
		__u8 b = t[i++];
		int code = (b >> 3) & 15, units = (b & 7) + 1, delta = 0, none = 0;
		unsigned int skip;

		if (!(b & 0x80))
			return -1;	/* not at an entry's first byte: a corrupt table */
		if (code == 15) {
			none = 1;
		} else if (code == 14) {
			if (read_svarint(t, len, &i, &delta) || read_varint(t, len, &i, &skip) ||
			    read_varint(t, len, &i, &skip) || read_varint(t, len, &i, &skip))
				return -1;
		} else if (code == 13) {
			if (read_svarint(t, len, &i, &delta))
				return -1;
		} else if (code >= 10) {
			delta = code - 10;
			i += 2;
		} else {
			i += 1;
		}
		if (i > len)
			return -1;
		line += delta;
		if (lasti < addr + units)
			return none ? -1 : line;
		addr += units;
	}
	return -1;
}

/* ---- naming ---- */

struct py_code {
	__u32 tgid;
	__u32 fingerprint;
	__u32 version;
	int firstlineno;
	__u64 code;
	const char *qualname;	/* interned */
	const char *file;	/* interned */
	__u8 *linetable;
	size_t linetable_len;
};

struct python_namer {
	struct strset *strs;
	struct py_code *codes;
	size_t nr, cap;
	struct hashmap by_addr;	/* hash(tgid, code) -> index + 1 */
	struct hashmap by_fp;	/* (version, fingerprint) -> index + 1 */
	size_t reads, failures;
};

#define MAX_PY_CODES 65536
#define MAX_PY_STRING 1024
#define MAX_PY_LINETABLE 65536

struct python_namer *python_namer__new(void)
{
	struct python_namer *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->strs = strset__new();
	if (!n->strs) {
		free(n);
		errno = ENOMEM;
		return NULL;
	}
	return n;
}

static void forget_codes(struct python_namer *n)
{
	size_t i;

	for (i = 0; i < n->nr; i++)
		free(n->codes[i].linetable);
	n->nr = 0;
	hashmap__release(&n->by_addr);
	hashmap__release(&n->by_fp);
	memset(&n->by_addr, 0, sizeof(n->by_addr));
	memset(&n->by_fp, 0, sizeof(n->by_fp));
}

void python_namer__free(struct python_namer *n)
{
	if (!n)
		return;
	forget_codes(n);
	free(n->codes);
	strset__free(n->strs);
	free(n);
}

static __u64 addr_key(__u32 tgid, __u64 code)
{
	return hash_u64(code ^ ((__u64)tgid << 48) ^ ((__u64)tgid >> 16));
}

static __u64 fp_key(__u32 version, __u32 fp)
{
	return (__u64)version << 32 | fp;
}

/* A str object, as UTF-8, interned; NULL when it cannot be read. */
static const char *read_str(struct python_namer *n, __u32 tgid, __u64 obj,
			    const struct python_layout *l)
{
	char out[MAX_PY_STRING * 4 + 1];
	__u8 raw[MAX_PY_STRING * 4];
	__u64 hdr[5];
	__u32 state, kind, i, o = 0;
	__u64 len, data;
	int id;

	if (read_mem(tgid, obj, hdr, sizeof(hdr)))
		return NULL;
	len = hdr[2];
	state = (__u32)hdr[4];
	kind = (state >> 2) & 7;
	if (!(state & 32) || (kind != 1 && kind != 2 && kind != 4))
		return NULL;	/* not compact: names always are */
	if (len > MAX_PY_STRING)
		len = MAX_PY_STRING;
	data = obj + ((state & 64) ? l->ascii_size : l->compact_size);
	if (read_mem(tgid, data, raw, len * kind))
		return NULL;
	for (i = 0; i < len; i++) {
		__u32 c = kind == 1 ? raw[i] : kind == 2 ? ((__u16 *)raw)[i] : ((__u32 *)raw)[i];

		if (c < 0x80) {
			out[o++] = c ? c : '?';
		} else if (c < 0x800) {
			out[o++] = 0xc0 | c >> 6;
			out[o++] = 0x80 | (c & 63);
		} else if (c < 0x10000) {
			out[o++] = 0xe0 | c >> 12;
			out[o++] = 0x80 | ((c >> 6) & 63);
			out[o++] = 0x80 | (c & 63);
		} else {
			out[o++] = '?';
		}
	}
	id = strset__add(n->strs, out, o);
	return id < 0 ? NULL : strset__str(n->strs, id);
}

static int read_code(struct python_namer *n, __u32 tgid, __u64 code,
		     const struct python_layout *l, struct py_code *c)
{
	__u8 buf[256];
	__u64 filename, qualname, table, tlen;
	__u32 size;

	if (l->code_linetable + 8 > sizeof(buf) || read_mem(tgid, code, buf, sizeof(buf)))
		return -EFAULT;
#define FIELD32(off) (*(const __u32 *)(buf + (off)))
#define FIELD64(off) (*(const __u64 *)(buf + (off)))
	size = (__u32)FIELD64(l->p.code_size);
	c->fingerprint = py_fingerprint(size, FIELD32(l->p.code_flags), FIELD32(l->p.code_argcount),
					FIELD32(l->p.code_stacksize),
					FIELD32(l->p.code_firstlineno));
	c->firstlineno = (int)FIELD32(l->p.code_firstlineno);
	filename = FIELD64(l->code_filename);
	qualname = FIELD64(l->code_qualname);
	table = FIELD64(l->code_linetable);
#undef FIELD32
#undef FIELD64
	c->qualname = read_str(n, tgid, qualname, l);
	c->file = read_str(n, tgid, filename, l);
	if (!c->qualname)
		return -EFAULT;
	/* bytes: ob_size at 16, the bytes at 32 */
	if (read_u64(tgid, table + 16, &tlen) || tlen > MAX_PY_LINETABLE)
		return 0;
	c->linetable = malloc(tlen ? tlen : 1);
	if (c->linetable && !read_mem(tgid, table + 32, c->linetable, tlen)) {
		c->linetable_len = tlen;
	} else {
		free(c->linetable);
		c->linetable = NULL;
	}
	return 0;
}

static const struct py_code *lookup(struct python_namer *n, __u32 tgid, __u32 version,
				    const struct py_frame *f)
{
	const struct python_layout *l = python__layout(version);
	struct py_code c = { .tgid = tgid, .version = version, .code = f->code };
	uint64_t v;

	if (hashmap__get(&n->by_addr, addr_key(tgid, f->code), &v) && v <= n->nr &&
	    n->codes[v - 1].code == f->code && n->codes[v - 1].tgid == tgid &&
	    n->codes[v - 1].fingerprint == f->fingerprint)
		return &n->codes[v - 1];
	if (l && !read_code(n, tgid, f->code, l, &c) && c.fingerprint == f->fingerprint) {
		n->reads++;
		if (n->nr >= MAX_PY_CODES)
			forget_codes(n);
		if (n->nr == n->cap) {
			size_t cap = n->cap ? n->cap * 2 : 256;
			struct py_code *p = reallocarray(n->codes, cap, sizeof(*p));

			if (!p) {
				free(c.linetable);
				return NULL;
			}
			n->codes = p;
			n->cap = cap;
		}
		n->codes[n->nr++] = c;
		if (hashmap__set(&n->by_addr, addr_key(tgid, f->code), n->nr) ||
		    hashmap__set(&n->by_fp, fp_key(version, f->fingerprint), n->nr))
			return NULL;
		return &n->codes[n->nr - 1];
	}
	free(c.linetable);
	n->failures++;
	/* gone, or reused: the same code seen in another process (or before) */
	if (hashmap__get(&n->by_fp, fp_key(version, f->fingerprint), &v) && v <= n->nr)
		return &n->codes[v - 1];
	return NULL;
}

int python_namer__name(struct python_namer *n, __u32 tgid, __u32 version,
		       const struct py_frame *f, struct py_name *out)
{
	const struct py_code *c = lookup(n, tgid, version, f);

	memset(out, 0, sizeof(*out));
	if (!c)
		return -ENOENT;
	out->qualname = c->qualname;
	out->file = c->file;
	out->line = c->linetable ? python__line(c->linetable, c->linetable_len, c->firstlineno,
						  f->lasti) : c->firstlineno;
	if (out->line < 0)
		out->line = 0;
	return 0;
}
