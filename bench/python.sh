#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The BPF cost per sample of the CPython walk: two profilers sample the same
# python3.11 process (tests/workloads/wl_python.py, three pure-Python
# functions five frames deep) at the same time, one with --no-python, ROUNDS
# times, so the noise of a shared machine hits both alike. The per-round
# difference B - A is the walk's cost per sample.
#
# usage: bench/python.sh BUILD_DIR [ROUNDS] [SECONDS]
set -eu

out=$1
rounds=${2:-10}
secs=${3:-3}
prof=$out/profile
py=${PYTHON:-/usr/bin/python3.11}
src=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
bench_begin python

"$py" "$src/tests/workloads/wl_python.py" split $((rounds * secs * 4 + 60)) "$tmp/truth" &
wl=$!
pids="$wl"
while [ ! -e "$tmp/truth.ready" ]; do sleep 0.05; done
kill -USR1 "$wl"

i=0
while [ "$i" -lt "$rounds" ]; do
	"$prof" -F 499 -d "$secs" -p "$wl" --no-python -o - --folded - --no-progress --db - \
		>"$tmp/a" 2>&1 &
	pa=$!
	"$prof" -F 499 -d "$secs" -p "$wl" -o - --folded "$tmp/b.folded" --no-progress --db - \
		>"$tmp/b" 2>&1 &
	pb=$!
	wait "$pa" "$pb"
	echo "$(bpf_us_per_sample <"$tmp/a") $(bpf_us_per_sample <"$tmp/b")" >>"$tmp/rounds"
	i=$((i + 1))
done

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
echo "BPF run time per sample of a python3.11 process, $rounds rounds of $secs s at 499 Hz:"
echo "  without the walk (--no-python): median $(awk '{print $1}' "$tmp/rounds" | median) us"
echo "  with the walk:                  median $(awk '{print $2}' "$tmp/rounds" | median) us"
echo "  difference per round:           median $(awk '{print $2 - $1}' "$tmp/rounds" | median) us"
echo "  Python frames per sample (last round): $(awk '{n += $NF; f += $NF * gsub(/_\[p\]/, "")} END {printf "%.1f", f / n}' "$tmp/b.folded")"
