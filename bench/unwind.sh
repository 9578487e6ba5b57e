#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Frame-pointer vs DWARF (.eh_frame) unwinding, side by side: the share of
# complete user stacks and the profiler's own CPU cost (user + sys of the
# profile process, plus the run time of its BPF programs, which the kernel
# counts while kernel.bpf_stats_enabled=1) at 99 Hz on every CPU, with one
# workload instance per CPU.
#
# usage: bench/unwind.sh BUILD_DIR [SECONDS]      (make bench-unwind)
set -eu

out=$1
secs=${2:-20}
ncpu=$(nproc)
. "$(dirname "$0")/lib.sh"
bench_begin bench-unwind

start_workload() {	# NAME: one instance per CPU, running well past the profile
	pids=""
	i=0
	while [ "$i" -lt "$ncpu" ]; do
		case $1 in
		wl_cxx) "$out/workloads/wl_cxx" $((secs + 30)) 3 "$out/workloads/libwl_plugin.so" \
			"$tmp/truth.$i" & ;;
		*) "$out/workloads/$1" $((secs + 30)) "$tmp/truth.$i" & ;;
		esac
		pids="$pids $!"
		i=$((i + 1))
	done
	sleep 0.5
}

stop_workload() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=""
}

# LABEL METHOD [profile options...]: one profile run, one table row
measure() {
	label=$1
	method=$2
	shift 2
	/usr/bin/time -f '%U %S' -o "$tmp/time" "$out/profile" -F 99 -d "$secs" --unwind "$method" \
		--folded "$tmp/folded" -o - --no-progress "$@" >"$tmp/out" 2>"$tmp/err" || {
		cat "$tmp/err" >&2
		exit 1
	}
	samples=$(sed -n 's/^  \([0-9]*\) recorded.*/\1/p' "$tmp/out")
	complete=$(sed -n 's/.*user stacks ([^)]*): \([0-9.]*\)% complete.*/\1/p' "$tmp/out")
	bpf_ms=$(sed -n 's/.*BPF programs: [0-9]* runs, \([0-9.]*\) ms.*/\1/p' "$tmp/out")
	read -r user sys <"$tmp/time"
	awk -v l="$label" -v m="$method" -v n="$samples" -v c="${complete:-n/a}" -v u="$user" \
		-v s="$sys" -v b="${bpf_ms:-0}" -v d="$secs" 'BEGIN {
		tot = u * 1000 + s * 1000 + b
		printf "%-22s %-6s %8d %9s%% %8.0f %8.0f %8.1f %9.0f %7.2f%%\n", l, m, n, c,
		       u * 1000, s * 1000, b, tot, tot / (d * 10)
	}'
	grep -E 'user stacks|unwind tables' "$tmp/out" | sed 's/^/#   /' >>"$tmp/notes"
}

echo "unwinding benchmark: $secs s per run at 99 Hz on $ncpu CPUs, one workload instance per CPU"
echo "CPU = user + sys of the profile process + BPF program run time (ms); last column: share of one CPU"
echo
printf "%-22s %-6s %8s %10s %8s %8s %8s %9s %8s\n" WORKLOAD METHOD SAMPLES COMPLETE USER SYS BPF CPU CPU%
: >"$tmp/notes"
for wl in wl_qsort wl_qsort_fp wl_cxx; do
	comm=$wl
	start_workload "$wl"
	for method in fp dwarf; do
		echo "# $wl --unwind $method" >>"$tmp/notes"
		measure "$wl" "$method" --comm "$comm"
	done
	stop_workload
done
# the whole machine (whatever else runs on it, plus wl_qsort on every CPU)
start_workload wl_qsort
for method in fp dwarf; do
	echo "# system-wide --unwind $method" >>"$tmp/notes"
	measure "system-wide" "$method"
done
stop_workload
echo
echo "fp: complete = the outermost frame is _start or a thread start; dwarf: the unwinder reached the root"
cat "$tmp/notes"
