// SPDX-License-Identifier: GPL-2.0
/*
 * One binary (executable or shared library): its build id, its PT_LOAD
 * segments (to turn file offsets into ELF addresses) and a sorted table of its
 * function symbols. libdwfl reads .symtab, falls back to .dynsym, and finds a
 * separate debug file's symbols (build-id directory, .gnu_debuglink) or
 * MiniDebugInfo when the binary itself is stripped. The table holds its
 * own copy of the names, so it outlives the ELF file (dso__drop_elf()).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <zlib.h>

#include "symbolizer_internal.h"
#include "common/array.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sigbus.h"

/*
 * A binary keeps one of these per function (16 bytes), its name in one blob
 * of names: a symbol table outlives the ELF file it came from.
 */
struct dso_sym {
	__u64 start;		/* first: the key sorted_count_le() reads */
	__u32 size;		/* bytes, 0 for an assembly label without one */
	__u32 name;		/* offset in dso.names */
};

/* A symbol as read, before the table is laid out. */
struct raw_sym {
	__u64 start;
	__u64 size;
	const char *name;	/* points into the ELF string table held by dwfl */
	int bind_rank;		/* GLOBAL < WEAK < LOCAL: which alias wins */
};

struct load_seg {
	__u64 offset, vaddr, filesz;
};

struct dso {
	Dwfl *dwfl;		/* NULL after dso__drop_elf() */
	char *names;		/* symbol names, NUL-terminated, one after another */
	size_t names_len;
	Dwfl_Module *mod;
	GElf_Addr elf_bias;
	GElf_Addr dwarf_bias;
	struct dwarf_index *dwarf;
	bool dwarf_tried;
	char build_id[2 * 64 + 1];
	struct load_seg *segs;
	size_t nr_segs;
	struct dso_sym *syms;
	size_t nr_syms;
	/*
	 * A SIGBUS while reading the mapped file (truncated meanwhile): libdw's
	 * state of it is abandoned (leaked, never touched again), the symbol
	 * table (a copy) still names addresses
	 */
	bool poisoned;
	char *path;		/* for messages: libdwfl's copy is not read once poisoned */
	char *scratch;		/* the last DWARF answer's strings, copied out of the mapping */
	size_t cap_scratch;
};

/* libdwfl's search path: the binary's directory, its .debug/, then debug roots */
#define DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug"
static char *debuginfo_path;

/* A file's CRC-32 as .gnu_debuglink records it (zlib's crc32). */
static int file_crc32(int fd, uint32_t *crc)
{
	unsigned char buf[1 << 16];
	uLong c = crc32(0L, Z_NULL, 0);
	off_t off = 0;
	ssize_t n;

	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		c = crc32(c, buf, n);
		off += n;
	}
	if (n < 0)
		return -errno;
	*crc = c;
	return 0;
}

/*
 * libdwfl's standard search, plus the check it leaves out when the main file
 * has a build id: a debug file found through .gnu_debuglink (not by build
 * id) must match the CRC the link records, as gdb requires.
 */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  GElf_Addr base, const char *file_name, const char *debuglink_file,
			  GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	uint32_t crc;
	int fd;

	fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name, debuglink_file,
					  debuglink_crc, debuginfo_file_name);
	if (fd < 0 || !debuglink_file || !*debuginfo_file_name ||
	    strstr(*debuginfo_file_name, "/.build-id/") ||
	    strstr(*debuginfo_file_name, "debuginfod_client"))
		return fd;
	if (file_crc32(fd, &crc) || crc != debuglink_crc) {
		pr_warn("'%s': ignoring debuginfo '%s': it does not match the .gnu_debuglink CRC",
			file_name ? file_name : modname, *debuginfo_file_name);
		close(fd);
		free(*debuginfo_file_name);
		*debuginfo_file_name = NULL;
		return -1;
	}
	return fd;
}

static const Dwfl_Callbacks offline_callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = find_debuginfo,
	.section_address = dwfl_offline_section_address,
	.debuginfo_path = &debuginfo_path,
};

int dso__set_debug_dir(const char *dir)
{
	char *path = NULL;

	if (dir && asprintf(&path, "%s:%s", DEFAULT_DEBUGINFO_PATH, dir) < 0)
		return -ENOMEM;
	free(debuginfo_path);
	debuginfo_path = path;	/* NULL: libdwfl's default */
	return 0;
}

static int bind_rank(unsigned char bind)
{
	switch (bind) {
	case STB_GLOBAL:
		return 0;
	case STB_WEAK:
		return 1;
	default:
		return 2;
	}
}

static int cmp_sym(const void *a, const void *b)
{
	const struct raw_sym *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->bind_rank != y->bind_rank)
		return x->bind_rank - y->bind_rank;
	if ((x->size == 0) != (y->size == 0))
		return x->size == 0 ? 1 : -1;
	return strcmp(x->name, y->name);
}

static int read_segments(struct dso *d, Elf *elf)
{
	size_t phnum, i;

	if (elf_getphdrnum(elf, &phnum))
		return -EINVAL;
	d->segs = calloc(phnum ? phnum : 1, sizeof(*d->segs));
	if (!d->segs)
		return -ENOMEM;
	for (i = 0; i < phnum; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		d->segs[d->nr_segs].offset = ph.p_offset;
		d->segs[d->nr_segs].vaddr = ph.p_vaddr;
		d->segs[d->nr_segs].filesz = ph.p_filesz;
		d->nr_segs++;
	}
	return d->nr_segs ? 0 : -ENOEXEC;
}

/* Reject a file cut short: headers and every section with contents must lie inside it. */
static int check_sections(Elf *elf, const char *path, size_t size)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;

	if (!gelf_getehdr(elf, &eh)) {
		pr_warn("'%s': corrupt ELF header: %s", path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	if ((eh.e_shoff && eh.e_shoff + (size_t)eh.e_shnum * eh.e_shentsize > size) ||
	    (eh.e_phoff && eh.e_phoff + (size_t)eh.e_phnum * eh.e_phentsize > size)) {
		pr_warn("'%s': truncated: its headers end past the end of the file (%zu bytes)",
			path, size);
		return -ENOEXEC;
	}
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (!gelf_getshdr(scn, &sh)) {
			pr_warn("'%s': corrupt section header: %s", path, elf_errmsg(-1));
			return -ENOEXEC;
		}
		if (sh.sh_type != SHT_NOBITS && (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset)) {
			pr_warn("'%s': truncated: section %zu ends past the end of the file",
				path, elf_ndxscn(scn));
			return -ENOEXEC;
		}
	}
	return 0;
}

/*
 * Lay out the sorted @raw symbols (@n) as @d's table. An alias with the
 * start and size of the one before it is left out: lookups find the first
 * of them, which sorts as the preferred name.
 */
static int lay_out_symbols(struct dso *d, const struct raw_sym *raw, size_t n)
{
	size_t i, out = 0, bytes = 0, len;

	for (i = 0; i < n; i++) {
		if (i && raw[i].start == raw[i - 1].start && raw[i].size == raw[i - 1].size)
			continue;
		bytes += strlen(raw[i].name) + 1;
		out++;
	}
	if (bytes > UINT32_MAX)
		return -E2BIG;
	d->syms = calloc(out ? out : 1, sizeof(*d->syms));
	d->names = malloc(bytes ? bytes : 1);
	if (!d->syms || !d->names)
		return -ENOMEM;
	for (i = 0, out = 0; i < n; i++) {
		if (i && raw[i].start == raw[i - 1].start && raw[i].size == raw[i - 1].size)
			continue;
		len = strlen(raw[i].name) + 1;
		d->syms[out].start = raw[i].start;
		d->syms[out].size = raw[i].size > UINT32_MAX ? UINT32_MAX : raw[i].size;
		d->syms[out].name = d->names_len;
		memcpy(d->names + d->names_len, raw[i].name, len);
		d->names_len += len;
		out++;
	}
	d->nr_syms = out;
	return 0;
}

static int read_symbols(struct dso *d, GElf_Addr bias)
{
	int n = dwfl_module_getsymtab(d->mod), i, err;
	GElf_Addr entry = 0, elf_bias;
	struct raw_sym *raw;
	size_t out = 0;
	Elf *elf;
	GElf_Ehdr eh;

	if (n <= 0)
		return 0;	/* no symbols at all: every address is [unknown] */
	/*
	 * The entry point is often assembly without a symbol type (ld.so's
	 * _start, followed by _dl_start_user): it is named all the same, so
	 * a sample taken there is not a lone [unknown].
	 */
	elf = dwfl_module_getelf(d->mod, &elf_bias);
	if (elf && gelf_getehdr(elf, &eh))
		entry = eh.e_entry;
	raw = calloc(n, sizeof(*raw));
	if (!raw)
		return -ENOMEM;
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name;
		int type;

		name = dwfl_module_getsym_info(d->mod, i, &sym, &addr, NULL, NULL, NULL);
		if (!name || !*name || sym.st_shndx == SHN_UNDEF)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC &&
		    !(type == STT_NOTYPE && entry && addr - bias == entry))
			continue;
		raw[out].start = addr - bias;
		raw[out].size = sym.st_size;
		raw[out].name = name;
		raw[out].bind_rank = bind_rank(GELF_ST_BIND(sym.st_info));
		out++;
	}
	qsort(raw, out, sizeof(*raw), cmp_sym);
	err = lay_out_symbols(d, raw, out);
	free(raw);
	return err;
}

static void read_build_id(struct dso *d)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int len;

	len = dwfl_module_build_id(d->mod, &bits, &vaddr);
	if (len <= 0 || len > 64)
		return;
	hex_encode(d->build_id, bits, len);
}

/* dso__open()'s reading of the file, @fd taken over by libdwfl; under a SIGBUS guard. */
static int read_elf(struct dso *d, int fd, const char *path, size_t size)
{
	GElf_Addr bias;
	Elf *elf;
	int err;

	d->mod = dwfl_report_elf(d->dwfl, path, path, fd, 0, false);
	if (!d->mod || dwfl_report_end(d->dwfl, NULL, NULL)) {
		pr_warn("'%s': not a usable ELF file: %s", path, dwfl_errmsg(-1));
		return -ENOEXEC;
	}
	elf = dwfl_module_getelf(d->mod, &bias);
	if (!elf) {
		pr_warn("'%s': cannot read ELF: %s", path, dwfl_errmsg(-1));
		return -ENOEXEC;
	}
	err = check_sections(elf, path, size);
	if (err)
		return err;
	err = read_segments(d, elf);
	if (err) {
		pr_warn("'%s': no loadable segments", path);
		return err;
	}
	d->elf_bias = bias;
	read_build_id(d);
	return read_symbols(d, bias);
}

struct dso *dso__open(int fd, const char *path)
{
	struct sigbus_guard g;
	struct stat st;
	size_t size;
	struct dso *d;
	int err;

	if (fstat(fd, &st)) {
		err = -errno;
		pr_warn("'%s': %s", path, strerror(-err));
		close(fd);
		errno = -err;
		return NULL;
	}
	size = st.st_size;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->path = strdup(path))) {
		free(d);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	d->dwfl = dwfl_begin(&offline_callbacks);
	if (!d->dwfl) {
		close(fd);
		pr_warn("'%s': %s", path, dwfl_errmsg(-1));
		err = -ENOMEM;
		goto err_out;
	}
	/* libdwfl takes @fd over from here, also on failure */
	sigbus__enter(&g);
	if (!sigsetjmp(g.env, 1)) {
		err = read_elf(d, fd, path, size);
	} else {
		pr_warn("'%s' changed while it was read (truncated?): not used", path);
		d->poisoned = true;
		err = -EIO;
	}
	sigbus__leave(&g);
	if (err)
		goto err_out;
	pr_debug("'%s': %zu function symbols, build id %s", path, d->nr_syms,
		 d->build_id[0] ? d->build_id : "(none)");
	return d;

err_out:
	dso__free(d);
	errno = -err;
	return NULL;
}

void dso__free(struct dso *d)
{
	if (!d)
		return;
	if (!d->poisoned) {
		dwarf_index__free(d->dwarf);
		if (d->dwfl)
			dwfl_end(d->dwfl);
	} else {
		/*
		 * libdw's state is left as it was; libdwfl closed the file after
		 * mapping it, and the mapping of a truncated file holds no pages
		 */
		sigbus__abandon(d->dwarf);
		sigbus__abandon(d->dwfl);
	}
	free(d->path);
	free(d->scratch);
	free(d->names);
	free(d->segs);
	free(d->syms);
	free(d);
}

const char *dso__build_id(const struct dso *d)
{
	return d->build_id;
}

bool dso__offset_to_vaddr(const struct dso *d, __u64 off, __u64 *vaddr)
{
	size_t i;

	for (i = 0; i < d->nr_segs; i++) {
		const struct load_seg *s = &d->segs[i];

		if (off >= s->offset && off < s->offset + s->filesz) {
			*vaddr = off - s->offset + s->vaddr;
			return true;
		}
	}
	return false;
}

const char *dso__find_symbol(const struct dso *d, __u64 vaddr)
{
	size_t lo = sorted_count_le(d->syms, d->nr_syms, sizeof(*d->syms), vaddr);
	const struct dso_sym *sym;

	if (lo == 0)
		return NULL;
	sym = &d->syms[lo - 1];
	while (sym > d->syms && sym[-1].start == sym->start)
		sym--;	/* the preferred alias sorts first */
	if (sym->size && vaddr - sym->start < sym->size)
		return d->names + sym->name;
	if (!sym->size) {
		/* sizeless (assembly) symbol: it runs up to the next symbol */
		return d->names + sym->name;
	}
	/*
	 * Past the end of the nearest symbol: the address may still be inside
	 * an enclosing larger symbol that starts earlier (nested labels).
	 */
	while (sym > d->syms) {
		sym--;
		if (sym->size && vaddr - sym->start < sym->size)
			return d->names + sym->name;
		if (vaddr - sym->start > (1u << 20))
			break;
	}
	return NULL;
}

size_t dso__nr_symbols(const struct dso *d)
{
	return d->nr_syms;
}

static void load_dwarf(struct dso *d)
{
	Dwarf *dw;

	d->dwarf_tried = true;
	/* finds separate debuginfo (build-id dirs, debuglink, debuginfod) as needed */
	dw = dwfl_module_getdwarf(d->mod, &d->dwarf_bias);
	if (!dw)
		return;
	d->dwarf = dwarf_index__new(dw, dwfl_module_info(d->mod, NULL, NULL, NULL, NULL, NULL,
							  NULL, NULL));
	if (!d->dwarf)
		pr_warn("'%s': cannot index DWARF: %s", dwfl_module_info(d->mod, NULL, NULL, NULL,
									NULL, NULL, NULL, NULL),
			strerror(errno));
}

/* Copy @n frames' strings out of the mapping into d->scratch. */
static int copy_out(struct dso *d, struct dso_frame *out, int n)
{
	size_t need = 0, at = 0, len;
	const char **strs[3];
	int i, k;

	for (i = 0; i < n; i++) {
		strs[0] = &out[i].name, strs[1] = &out[i].file, strs[2] = &out[i].comp_dir;
		for (k = 0; k < 3; k++)
			if (*strs[k])
				need += strlen(*strs[k]) + 1;
	}
	if (ARRAY_GROW(d->scratch, d->cap_scratch, need + 1, 256))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		strs[0] = &out[i].name, strs[1] = &out[i].file, strs[2] = &out[i].comp_dir;
		for (k = 0; k < 3; k++) {
			if (!*strs[k])
				continue;
			len = strlen(*strs[k]) + 1;
			memcpy(d->scratch + at, *strs[k], len);
			*strs[k] = d->scratch + at;
			at += len;
		}
	}
	return 0;
}

/* The DWARF part of dso__resolve(), reading the mapped file: under a SIGBUS guard. */
static int resolve_dwarf(struct dso *d, __u64 vaddr, __u64 now, struct dso_frame *out, int max)
{
	int n;

	if (!d->dwarf_tried)
		load_dwarf(d);
	if (!d->dwarf)
		return 0;
	n = dwarf_index__lookup(d->dwarf, vaddr + d->elf_bias - d->dwarf_bias, now, out, max);
	return n > 0 && copy_out(d, out, n) ? 0 : n;
}

/*
 * @vaddr's frames, inlined ones first, into @out; their strings stay valid
 * until the next call for @d.
 */
int dso__resolve(struct dso *d, __u64 vaddr, bool use_dwarf, __u64 now, struct dso_frame *out,
		 int max)
{
	struct sigbus_guard g;
	int n = 0;

	if (max <= 0)
		return 0;
	if (use_dwarf && !d->poisoned && (d->dwarf || !d->dwarf_tried)) {
		sigbus__enter(&g);
		if (!sigsetjmp(g.env, 1)) {
			n = resolve_dwarf(d, vaddr, now, out, max);
		} else {
			pr_warn("'%s' changed while it was read (truncated?): its DWARF is not"
				" used any more", d->path);
			d->poisoned = true;
			sigbus__abandon(d->dwarf);
			d->dwarf = NULL;
			d->dwarf_tried = true;
			n = 0;
		}
		sigbus__leave(&g);
	}
	if (!n) {
		out[0].name = dso__find_symbol(d, vaddr);
		if (!out[0].name)
			return 0;
		out[0].file = NULL;
		out[0].comp_dir = NULL;
		out[0].line = 0;
		out[0].start_line = 0;
		out[0].inlined = false;
		return 1;
	}
	if (!out[0].name)
		out[0].name = dso__find_symbol(d, vaddr);
	return n;
}

size_t dso__dwarf_mem(const struct dso *d)
{
	return d->dwarf ? dwarf_index__mem(d->dwarf) : 0;
}

size_t dso__evict_dwarf(struct dso *d, __u64 older_than)
{
	return d->dwarf && !d->poisoned ? dwarf_index__evict(d->dwarf, older_than) : 0;
}

const char *dso__debug_file(const struct dso *d)
{
	const char *debug = NULL;

	if (d->mod && !d->poisoned)
		dwfl_module_info(d->mod, NULL, NULL, NULL, NULL, NULL, NULL, &debug);
	return debug;
}

int dso__drop_elf(struct dso *d)
{
	if (!d->dwfl || d->poisoned)
		return 0;
	/* the symbol table has its own copy of the names */
	dwarf_index__free(d->dwarf);
	d->dwarf = NULL;
	d->dwarf_tried = true;	/* no DWARF from now on */
	dwfl_end(d->dwfl);
	d->dwfl = NULL;
	d->mod = NULL;
	return 0;
}

size_t dso__mem(const struct dso *d)
{
	return sizeof(*d) + d->nr_syms * sizeof(*d->syms) + d->names_len +
	       d->nr_segs * sizeof(*d->segs);
}
