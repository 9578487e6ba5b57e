#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# What processes cost the agent: builds of the agent side by side, at the same
# time, on the same load (the fair comparison on a shared, noisy host):
#  - LOAD=churn (default): the build loop of bench/agent.sh (gcc -O2 -g of a
#    small file, then the program built), for SECONDS;
#  - LOAD=exec: COUNT runs of /bin/true from a shell loop, as fast as they go.
# Reported per agent, over the measured window (from 10 s in): user+sys ticks,
# voluntary context switches of all its threads (wake-ups), the run time of
# each of its BPF programs (kernel.bpf_stats_enabled=1: per run and as a
# share of one CPU), peak RSS, and its own summary lines (process events,
# maps reads).
# usage: [LOAD=churn|exec] bench/process_events.sh SECONDS|COUNT PROFILE...
set -uo pipefail

n=$1
shift
work=$(mktemp -d /tmp/process-events-XXXXXX)
. "$(dirname "$0")/lib.sh"
pids=()
trap 'kill ${pids[*]} $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work" 2>/dev/null; bpf_stats_restore' EXIT
[ "$(id -u)" -eq 0 ] || { echo "process_events: run as root (BPF, perf events)" >&2; exit 1; }
for t in bpftool jq bc; do
	command -v $t >/dev/null || { echo "process_events: needs $t" >&2; exit 1; }
done
bpf_stats_on

case ${LOAD:=churn} in
churn | exec) ;;
*) echo "process_events: LOAD is churn or exec, not '$LOAD'" >&2; exit 2 ;;
esac

i=0
for b in "$@"; do
	"$b" agent --db "$work/db$i" -F 99 --stats-interval 0 2>"$work/log$i" &
	pids+=($!)
	i=$((i + 1))
done

# $1: pid -> its BPF programs' ids (through its prog and link fds)
progs() {
	for fd in /proc/$1/fd/*; do
		case $(readlink "$fd") in
		anon_inode:bpf-prog | anon_inode:bpf_link)
			awk '/^prog_id:/ {print $2}' "/proc/$1/fdinfo/${fd##*/}" ;;
		esac
	done | sort -u
}

# $1: pid -> lines "name run_time_ns run_cnt", "ticks T 0", "wakeups W 0"
snap() {
	for id in $(progs "$1"); do
		bpftool -j prog show id "$id" | jq -r '"\(.name) \(.run_time_ns // 0) \(.run_cnt // 0)"'
	done
	echo "ticks $(sed 's/.*) //' "/proc/$1/stat" | awk '{print $12 + $13}') 0"
	echo "wakeups $(cat /proc/"$1"/task/*/status |
		awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}') 0"
}

if [ "$LOAD" = churn ]; then
	churn_loop "$work"
fi
sleep 10	# loaded, attached, the first tables built
for i in "${!pids[@]}"; do snap "${pids[$i]}" >"$work/a$i"; done
t0=$(date +%s.%N)
if [ "$LOAD" = churn ]; then
	sleep $((n - 10))
else
	for j in $(seq "$n"); do /bin/true; done
	sleep 1	# the last exits
fi
t1=$(date +%s.%N)
for i in "${!pids[@]}"; do
	snap "${pids[$i]}" >"$work/b$i"
	awk '/^VmHWM/ {print $2}' "/proc/${pids[$i]}/status" >"$work/hwm$i"
done
w=$(echo "$t1 - $t0" | bc)
builds=0
[ -e "$work/builds" ] && builds=$(wc -l <"$work/builds")
echo "LOAD=$LOAD: window $w s, $builds builds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for i in "${!pids[@]}"; do
	echo "== ${@:$((i + 1)):1}"
	join <(sort "$work/a$i") <(sort "$work/b$i") | awk -v w="$w" -v n="$n" -v load="$LOAD" '
	{
		d = $4 - $2; c = $5 - $3
		if ($1 == "ticks")
			printf "  user+sys                %6d ticks  %7.3f%% of one CPU\n", d, d / w
		else if ($1 == "wakeups")
			printf "  voluntary switches      %6d        %7.1f a second\n", d, d / w
		else if (c > 0) {
			printf "  %-22s %8d runs %7.2f us a run %7.3f%% of one CPU", $1, c, d / c / 1000, d / w / 1e7
			if (load == "exec")
				printf " %7.2f us an exec", d / n / 1000
			printf "\n"
			t += d
		}
	} END { printf "  BPF, all programs                      %7.3f%% of one CPU\n", t / w / 1e7 }'
	echo "  peak RSS $(($(cat "$work/hwm$i") / 1024)) MB"
done
for p in "${pids[@]}"; do kill -TERM "$p"; done
wait "${pids[@]}" 2>/dev/null
pids=()
for i in $(seq 0 $(($# - 1))); do
	echo "-- ${@:$((i + 1)):1}"
	grep -oE "(user stacks|process events|unwind tables:).*" "$work/log$i" | tail -3 | sed 's/^/  /'
done
