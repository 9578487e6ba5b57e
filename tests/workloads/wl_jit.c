// SPDX-License-Identifier: GPL-2.0
/*
 * A tiny JIT: writes a counting loop as machine code into anonymous memory
 * at a fixed address (WL_JIT_ADDR), makes it executable, names it in its
 * /tmp/perf-PID.map as "wl_jit_spin" (unless --no-map: the test plants the
 * map itself), prints "ready" and runs the code for SECONDS of wall time.
 * The address is fixed so a test can write a perf map covering the code
 * before the process starts. Exits 77 on an architecture it has no code for.
 *
 * usage: wl_jit SECONDS [--no-map]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wl_clock.h"

#define WL_JIT_ADDR 0x2000000000UL
#define WL_JIT_SIZE 0x40

#if defined(__x86_64__)
/* mov %rdi,%rax; 1: dec %rax; jnz 1b; ret */
static const unsigned char code[] = { 0x48, 0x89, 0xf8, 0x48, 0xff, 0xc8, 0x75, 0xfb, 0xc3 };
#elif defined(__aarch64__)
/* 1: subs x0, x0, #1; b.ne 1b; ret */
static const uint32_t code[] = { 0xf1000400, 0x54ffffe1, 0xd65f03c0 };
#else
static const unsigned char code[1];
#define NO_CODE
#endif

typedef void (*spin_fn)(unsigned long n);

static int write_map(void)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/perf-%d.map", getpid());
	f = fopen(path, "w");
	if (!f)
		return -1;
	fprintf(f, "%lx %x wl_jit_spin\n", WL_JIT_ADDR, WL_JIT_SIZE);
	return fclose(f);
}

__attribute__((noinline)) static void run_jitted(spin_fn fn, double seconds)
{
	double end = now_seconds() + seconds;

	while (now_seconds() < end)
		fn(1000000);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5;
	void *mem;

#ifdef NO_CODE
	fprintf(stderr, "wl_jit: no machine code for this architecture\n");
	return 77;
#endif
	mem = mmap((void *)WL_JIT_ADDR, 4096, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (mem != (void *)WL_JIT_ADDR) {
		perror("wl_jit: mmap");
		return 77;
	}
	memcpy(mem, code, sizeof(code));
	__builtin___clear_cache((char *)mem, (char *)mem + sizeof(code));
	if (mprotect(mem, 4096, PROT_READ | PROT_EXEC)) {
		perror("wl_jit: mprotect");
		return 1;
	}
	if (!(argc > 2 && !strcmp(argv[2], "--no-map")) && write_map())
		perror("wl_jit: perf map");	/* a test may have planted one */
	printf("ready\n");
	fflush(stdout);
	run_jitted((spin_fn)mem, seconds);
	return 0;
}
