// SPDX-License-Identifier: GPL-2.0
/*
 * C++ workload for the unwinder, built with -O2 -fomit-frame-pointer:
 * exceptions thrown through several frames and caught in a loop (the time
 * goes to libstdc++/libgcc_s unwinding code, itself without frame pointers),
 * and, after DELAY seconds, a library loaded with dlopen() whose functions
 * then take the rest of the time.
 *
 * usage: wl_cxx DURATION DELAY PLUGIN.so TRUTH_FILE
 * TRUTH_FILE gets "throw SHARE" and "plugin SHARE" (of the thread's CPU
 * time, measured around each part).
 */
#include <dlfcn.h>
#include <signal.h>
#include <stdexcept>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "wl_clock.h"

static volatile sig_atomic_t stop;
static volatile unsigned long sink;

__attribute__((noinline)) static void thrower_inner(int i)
{
	if (i >= 0)
		throw std::runtime_error("bang");
	sink++;
}

__attribute__((noinline)) static void thrower_outer(int i)
{
	thrower_inner(i);
	sink++;
}

__attribute__((noinline)) static void run_throws(void)
{
	for (int i = 0; i < 200; i++) {
		try {
			thrower_outer(i);
		} catch (const std::runtime_error &e) {
			sink += e.what()[0];
		}
	}
}

__attribute__((noinline)) static void run_plugin(void (*work)(void))
{
	work();
	__asm__ __volatile__("" ::: "memory");
}

static void on_term(int)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	double t_throw = 0, t_plugin = 0, start, cpu0, a, total, duration, delay;
	void (*work)(void) = NULL;
	void *lib = NULL;
	FILE *f;

	if (argc != 5) {
		fprintf(stderr, "usage: wl_cxx DURATION DELAY PLUGIN.so TRUTH_FILE\n");
		return 2;
	}
	duration = atof(argv[1]);
	delay = atof(argv[2]);
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	start = now_seconds();
	cpu0 = thread_cpu();
	while (!stop && now_seconds() - start < duration) {
		if (!lib && now_seconds() - start >= delay) {
			lib = dlopen(argv[3], RTLD_NOW);
			if (!lib) {
				fprintf(stderr, "wl_cxx: %s\n", dlerror());
				return 1;
			}
			*(void **)&work = dlsym(lib, "plugin_work");
			if (!work)
				return 1;
		}
		a = thread_cpu();
		run_throws();
		t_throw += thread_cpu() - a;
		if (work) {
			a = thread_cpu();
			run_plugin(work);
			t_plugin += thread_cpu() - a;
		}
	}
	total = thread_cpu() - cpu0;
	f = fopen(argv[4], "w");
	if (!f) {
		perror(argv[4]);
		return 1;
	}
	fprintf(f, "throw %.6f\nplugin %.6f\n", t_throw / total, t_plugin / total);
	return fclose(f) ? 1 : 0;
}
