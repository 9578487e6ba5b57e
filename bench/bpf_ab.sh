#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The BPF program's cost per sample of two profile builds, measured side by
# side: both sample the same workload (wl_qsort on every CPU) at the same
# time, ROUNDS times, so the noise of a shared machine hits both alike. The
# per-round ratio B/A is the figure to trust; absolute times swing by 2x from
# minute to minute on a shared VM.
#
# usage: bench/bpf_ab.sh PROFILE_A PROFILE_B [fp|dwarf|auto] [ROUNDS] [SECONDS]
set -eu

a=$1
b=$2
mode=${3:-dwarf}
rounds=${4:-15}
secs=${5:-3}
wl=$(dirname "$b")/workloads/wl_qsort
. "$(dirname "$0")/lib.sh"
bench_begin bpf-ab

i=0
while [ "$i" -lt "$(nproc)" ]; do
	"$wl" $((rounds * secs + 30)) "$tmp/truth.$i" &
	pids="$pids $!"
	i=$((i + 1))
done
sleep 0.5

i=0
while [ "$i" -lt "$rounds" ]; do
	"$a" -F 99 -d "$secs" --unwind "$mode" --comm wl_qsort -o - --no-progress --db - \
		>"$tmp/a" 2>&1 &
	pa=$!
	"$b" -F 99 -d "$secs" --unwind "$mode" --comm wl_qsort -o - --no-progress --db - \
		>"$tmp/b" 2>&1 &
	pb=$!
	wait "$pa" "$pb"
	echo "$(bpf_us_per_sample <"$tmp/a") $(bpf_us_per_sample <"$tmp/b")" >>"$tmp/rounds"
	i=$((i + 1))
done

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "BPF run time per sample, --unwind $mode, $rounds rounds of $secs s, both at once:"
echo "  A $a: median $(awk '{print $1}' "$tmp/rounds" | median) us"
echo "  B $b: median $(awk '{print $2}' "$tmp/rounds" | median) us"
echo "  B/A per round: median $(awk '$1 > 0 {print $2 / $1}' "$tmp/rounds" | median)"
