# SPDX-License-Identifier: GPL-2.0
# Shared by the benchmark scripts (sourced, POSIX sh).

# Count BPF program run time (kernel.bpf_stats_enabled=1) until bpf_stats_restore.
bpf_stats_on() {
	bpf_stats_old=$(sysctl -n kernel.bpf_stats_enabled)
	sysctl -q -w kernel.bpf_stats_enabled=1
}

bpf_stats_restore() {
	[ -n "${bpf_stats_old:-}" ] || return 0
	sysctl -q -w kernel.bpf_stats_enabled="$bpf_stats_old" || true
}

# The BPF time per sample, in us, of the profile summary on stdin ("(N us each ...)").
bpf_us_per_sample() {
	sed -n 's/.*(\([0-9.]*\) us each.*/\1/p'
}

# A temporary directory ($tmp, named after $1) and background jobs ($pids) that
# go at exit, with BPF run time counted until then.
bench_begin() {
	tmp=$(mktemp -d "/tmp/$1-XXXXXX")
	pids=""
	trap bench_end EXIT INT TERM
	bpf_stats_on
}

bench_end() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	bpf_stats_restore
	rm -rf "$tmp"
}

# The build loop of the churn benchmarks, in the background in directory $1: a
# shell compiles a small C file with `gcc -O2 -g` (driver, cc1, as, collect2,
# ld) and runs the result, over and over; $1/builds gets a line per build.
churn_loop() {
	cat >"$1/tiny.c" <<-'EOF'
	#include <stdlib.h>
	static int cmp(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
	int main(void)
	{
		static int v[20000];
		for (int i = 0; i < 20000; i++)
			v[i] = (i * 7919) % 20000;
		qsort(v, 20000, sizeof(v[0]), cmp);
		return v[0];
	}
	EOF
	# (ends once its directory is gone, rather than spinning on a failing gcc;
	# waits while a file "pause" is there)
	(cd "$1" && while [ -f tiny.c ]; do
		if [ -f pause ]; then
			sleep 0.1
			continue
		fi
		gcc -O2 -g tiny.c -o tiny && ./tiny
		echo >>builds
	done) >/dev/null 2>&1 &
}
