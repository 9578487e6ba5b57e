#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The cost of the CPython walk, in two parts:
# 1. BPF time per sample: two profilers sample the same python3.11 process
#    (tests/workloads/wl_python.py, three pure-Python functions five frames
#    deep) at the same time, one with --no-python, ROUNDS times, so the noise
#    of a shared machine hits both alike. The per-round difference B - A is
#    the walk's cost per sample.
# 2. The agent on a Python workload: two such processes keep both CPUs busy
#    while `profile agent` (99 Hz, every CPU) runs AGENT_SECONDS with the walk
#    and AGENT_SECONDS with --no-python, alternately, AGENT_ROUNDS times; each
#    run's user+sys time and its BPF programs' run time
#    (kernel.bpf_stats_enabled), as % of one CPU, from AGENT_WARMUP seconds
#    after it samples (its first reads of kallsyms and the host's binaries).
#    The agent samples the whole host: other load counts too.
#
# usage: [PYTHON=...] [AGENT_ROUNDS=3] [AGENT_SECONDS=20] [AGENT_WARMUP=10] \
#        bench/python.sh BUILD_DIR [ROUNDS] [SECONDS]
set -eu

out=$1
rounds=${2:-10}
secs=${3:-3}
arounds=${AGENT_ROUNDS:-3}
asecs=${AGENT_SECONDS:-20}
awarm=${AGENT_WARMUP:-10}
# CPU seconds the workloads run: to the end of both parts, with room
wl_secs=$((rounds * secs * 4 + arounds * (asecs + awarm + 30) * 2 + 60))
prof=$out/profile
py=${PYTHON:-/usr/bin/python3.11}
src=$(cd "$(dirname "$0")/.." && pwd)
. "$(dirname "$0")/lib.sh"
bench_begin python

"$py" "$src/tests/workloads/wl_python.py" split $wl_secs "$tmp/truth" &
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

# ---- 2. the agent's CPU on a Python workload ----
command -v bpftool >/dev/null && command -v jq >/dev/null ||
	{ echo "python.sh: the agent part needs bpftool and jq" >&2; exit 1; }
tck=$(getconf CLK_TCK)
"$py" "$src/tests/workloads/wl_python.py" split $wl_secs "$tmp/truth2" &
wl2=$!
pids="$pids $wl2"
while [ ! -e "$tmp/truth2.ready" ]; do sleep 0.05; done
kill -USR1 "$wl2"

# user + sys ticks of pid $1
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# "run_time_ns run_cnt" summed over the BPF programs pid $1 holds
bpf_time() {
	for fd in /proc/"$1"/fd/*; do
		case $(readlink "$fd") in
		anon_inode:bpf-prog | anon_inode:bpf_link)
			awk '/^prog_id:/ {print $2}' "/proc/$1/fdinfo/${fd##*/}" ;;
		esac
	done | sort -u | while read -r id; do
		bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"'
	done | awk '{ns += $1; n += $2} END {printf "%d %d\n", ns, n}'
}

# one agent run with options "$@": "cpu% bpf% bpf_ns_per_program_run" to stdout
agent_run() {
	"$prof" agent --db "$tmp/agent.db" -F 99 --stats-interval 0 "$@" 2>"$tmp/agent.log" &
	ag=$!
	# sampling (its setup takes seconds on a loaded machine), then the warm-up:
	# the first reads of kallsyms and of every binary on the host
	until grep -q 'sampling at' "$tmp/agent.log"; do
		kill -0 $ag 2>/dev/null || { cat "$tmp/agent.log" >&2; exit 1; }
		sleep 0.1
	done
	sleep "$awarm"
	t0=$(ticks $ag)
	b0=$(bpf_time $ag)
	sleep "$asecs"
	t1=$(ticks $ag)
	b1=$(bpf_time $ag)
	kill -TERM $ag
	wait $ag || { cat "$tmp/agent.log" >&2; exit 1; }
	rm -f "$tmp/agent.db"*
	echo "$t0 $t1 $b0 $b1" | awk -v tck="$tck" -v s="$asecs" '{
		printf "%.3f %.3f %.0f\n", ($2 - $1) / tck * 100 / s, ($5 - $3) / 1e7 / s,
			($6 > $4 ? ($5 - $3) / ($6 - $4) : 0) }'
}

i=0
while [ "$i" -lt "$arounds" ]; do
	echo "$(agent_run) $(agent_run --no-python)" >>"$tmp/arounds"
	i=$((i + 1))
done
echo
echo "profile agent at 99 Hz on every CPU, two $(basename "$py") processes busy, $arounds rounds of $asecs s each way ($awarm s after the start):"
echo "  with the walk:    user+sys median $(awk '{print $1}' "$tmp/arounds" | median)% of one CPU, BPF $(awk '{print $2}' "$tmp/arounds" | median)% ($(awk '{print $3}' "$tmp/arounds" | median) ns a program run)"
echo "  --no-python:      user+sys median $(awk '{print $4}' "$tmp/arounds" | median)% of one CPU, BPF $(awk '{print $5}' "$tmp/arounds" | median)% ($(awk '{print $6}' "$tmp/arounds" | median) ns a program run)"
echo "  rounds (cpu% bpf% ns, with / without):"
sed 's/^/    /' "$tmp/arounds"
