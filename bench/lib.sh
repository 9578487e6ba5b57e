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
