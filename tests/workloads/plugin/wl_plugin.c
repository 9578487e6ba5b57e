// SPDX-License-Identifier: GPL-2.0
/*
 * A library wl_cxx loads with dlopen() only after profiling has started,
 * built with -O2 -fomit-frame-pointer: its stacks can only be whole if the
 * unwinder learns about the new mapping while the process runs.
 */
volatile unsigned long plugin_sink;

__attribute__((noinline)) void plugin_leaf(void)
{
	unsigned long acc = plugin_sink;

	for (unsigned long i = 0; i < 200000; i++)
		acc = acc * 37 + (i ^ (acc >> 9));
	plugin_sink = acc;
}

__attribute__((noinline)) void plugin_middle(void)
{
	plugin_leaf();
	__asm__ __volatile__("" ::: "memory");
}

void plugin_work(void)
{
	plugin_middle();
	__asm__ __volatile__("" ::: "memory");
}
