// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target for ELF binaries and their DWARF, read the ways the
 * profiler reads a profiled process's binaries:
 *   - the symbolizer's open-a-file path, as `profile symbolize -e FILE ADDR`
 *     takes it: symbolizer__open_file() on the input, then
 *     symbolizer__file_addr() (DWARF inline chains, file:line, symbol
 *     tables, MiniDebugInfo, demangling) at the entry point, at function
 *     symbols the input's own symbol tables list and at a few fixed addresses;
 *   - the unwinder's CFI reader, unwind_table__build(), with bounded rows and
 *     time as the agent runs it.
 * Seeds: the symbolizer and unwinder fixtures, copied by `make fuzz`.
 */
#include <gelf.h>
#include <libelf.h>

#include "fuzz.h"
#include "symbolizer/symbolizer.h"
#include "unwind/unwind.h"
#include "common/log.h"

#define MAX_ADDRS 24

/* Addresses worth resolving: the entry point and function symbols of the input. */
static size_t pick_addrs(Elf *elf, __u64 *addrs)
{
	size_t n = 0, i, nsyms;
	Elf_Scn *scn = NULL;
	GElf_Ehdr ehdr;
	GElf_Shdr sh;
	GElf_Sym sym;
	Elf_Data *d;

	if (gelf_getehdr(elf, &ehdr))
		addrs[n++] = ehdr.e_entry;
	while (n < MAX_ADDRS - 2 && (scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_SYMTAB && sh.sh_type != SHT_DYNSYM))
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !sh.sh_entsize)
			continue;
		nsyms = sh.sh_size / sh.sh_entsize;
		for (i = 0; i < nsyms && n < MAX_ADDRS - 2; i++) {
			if (!gelf_getsym(d, i, &sym) || GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    !sym.st_value)
				continue;
			addrs[n++] = sym.st_value + sym.st_size / 2;
		}
	}
	addrs[n++] = 0x1000;
	addrs[n++] = ~0ULL;
	return n;
}

static void fuzz_symbolizer(const uint8_t *data, size_t size, const __u64 *addrs, size_t n)
{
	struct symbolizer_opts o = { .proc_root = "/nonexistent" };
	struct symbolizer *s = symbolizer__new(&o);
	struct sym_frame f[SYM_MAX_FRAMES];
	int h, nf, i;
	size_t a;

	FUZZ_CHECK(s);
	h = symbolizer__open_file(s, fuzz_path(data, size));
	for (a = 0; h >= 0 && a < n; a++) {
		nf = symbolizer__file_addr(s, h, addrs[a], f, SYM_MAX_FRAMES);
		FUZZ_CHECK(nf >= 1 && nf <= SYM_MAX_FRAMES);
		for (i = 0; i < nf; i++) {
			FUZZ_CHECK(!f[i].name || strlen(f[i].name) < (1 << 20));
			FUZZ_CHECK(!f[i].file || strlen(f[i].file) < (1 << 20));
		}
	}
	symbolizer__free(s);
}

static void fuzz_unwind(Elf *elf)
{
	struct unwind_build_limits lim = { .max_rows = 1 << 16, .max_seconds = 1 };
	struct unwind_row *rows = NULL;
	struct unwind_table_stats st;
	size_t nr = 0, i;

	if (unwind_table__build(elf, "fuzz", &lim, &rows, &nr, &st))
		return;
	/* sorted by pc, each row found where it is */
	for (i = 1; i < nr; i++)
		FUZZ_CHECK(rows[i - 1].pc < rows[i].pc);
	for (i = 0; i < nr; i += 1 + nr / 8)
		FUZZ_CHECK(unwind_table__find(rows, nr, rows[i].pc) == (long)i);
	free(rows);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* never ask a debuginfod server about a fuzzed build id */
	unsetenv("DEBUGINFOD_URLS");
	elf_version(EV_CURRENT);
	log_set_quiet(true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	__u64 addrs[MAX_ADDRS];
	char *copy = malloc(size ? size : 1);
	size_t n = 0;
	Elf *elf;

	FUZZ_CHECK(copy);
	memcpy(copy, data, size);
	elf = elf_memory(copy, size);
	if (elf && elf_kind(elf) == ELF_K_ELF) {
		n = pick_addrs(elf, addrs);
		fuzz_unwind(elf);
	} else {
		addrs[n++] = 0x1000;
	}
	elf_end(elf);
	free(copy);
	fuzz_symbolizer(data, size, addrs, n);
	return 0;
}
