#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The always-on agent's cost, side by side with `perf record -F 99 -a -g`:
# both run for SECONDS at 99 Hz, one after the other on the same load:
#  - LOAD=steady (default): two wl_split workloads keep both CPUs busy;
#  - LOAD=churn: a build loop, as on a CI runner or a build host: a shell
#    compiles a small C file with `gcc -O2 -g` (gcc, cc1, as, collect2, ld:
#    a few short processes each time) and runs the result, over and over.
# Reported:
#  - CPU: the tool's user + sys time (getrusage of the tool process), plus for
#    the agent the BPF program's run time (kernel.bpf_stats_enabled), as a
#    percentage of one CPU over the run;
#  - what the tool adds to every syscall on the host (the CPU time of a
#    getppid() while it runs, against none attached), and that times the
#    load's syscall rate: a cost neither of the above shows;
#  - peak RSS;
#  - storage: database (or perf.data) bytes per sample and per hour.
# usage: [LOAD=steady|churn] bench/agent.sh BUILD_DIR [SECONDS]
#        (make bench-agent BENCH_SECONDS=600, make bench-churn BENCH_SECONDS=120)
set -euo pipefail

out=$(cd "${1:-build}" && pwd)
secs=${2:-600}
freq=99
profile=$out/profile
work=$(mktemp -d /tmp/profile-bench-XXXXXX)
. "$(dirname "$0")/lib.sh"
trap 'kill $(jobs -p) 2>/dev/null || true; wait; rm -rf "$work"; bpf_stats_restore' EXIT

[ "$(id -u)" -eq 0 ] || { echo "bench-agent: run as root (BPF, perf events)" >&2; exit 1; }
need=""
command -v jq >/dev/null || need="$need jq"
command -v perf >/dev/null || need="$need linux-perf"
command -v bpftool >/dev/null || need="$need bpftool"
if [ -n "$need" ]; then
	echo "bench-agent: installing$need" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >&2
fi
bpf_stats_on

busy_pids=""
busy() {
	"$out/workloads/wl_split" $((secs * 2 + 60)) "$work/truth.$1" &
	busy_pids="$busy_pids $!"
}

# the build loop: a new compiler driver, cc1, assembler and linker about ten
# times a second on this 2-CPU machine, and the program they built
churn() {
	churn_loop "$work"
}

case ${LOAD:=steady} in
steady)
	busy 1
	busy 2
	;;
churn)
	command -v gcc >/dev/null || { echo "bench-agent: LOAD=churn needs gcc" >&2; exit 1; }
	churn
	;;
*)
	echo "bench-agent: LOAD is steady or churn, not '$LOAD'" >&2
	exit 2
	;;
esac

# $1: pid -> "user_ticks sys_ticks hwm_kb"
proc_cost() {
	local stat hwm
	stat=$(sed 's/.*) //' "/proc/$1/stat")
	hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$1/status")
	echo "$(echo "$stat" | awk '{print $12, $13}') $hwm"
}

tck=$(getconf CLK_TCK)

# The host's speed of the moment: the BPF time per sample of a short
# frame-pointer run (about 2-4 us on a quiet 2-CPU VM here, 2-3x that when
# the host is loaded), before the agent and after perf.
reference_us() {
	"$profile" -F $freq -d 5 --unwind fp --db - -o - --no-progress 2>&1 | bpf_us_per_sample
}
ref_before=$(reference_us)

# What a tool adds to every syscall on the host (a program on a syscall
# tracepoint sends them all through the kernel's slow path), and how many
# the load makes: the CPU time of a getppid() with nothing attached first.
# The load is paused meanwhile (its page faults and IPIs move the figure by
# tens of ns), and each figure is the median of three medians.
cc -O2 -o "$work/syscall" "$(dirname "$0")/syscall.c"
sys_ns() {
	touch "$work/pause"
	[ -z "$busy_pids" ] || kill -STOP $busy_pids
	sleep 1	# a compiler already started finishes
	for _ in 1 2 3; do "$work/syscall"; done | sort -n | sed -n 2p
	rm -f "$work/pause"
	[ -z "$busy_pids" ] || kill -CONT $busy_pids
}
sys_base=$(sys_ns)
sys_rate=$(perf stat -x, -e raw_syscalls:sys_enter -a sleep 5 2>&1 | awk -F, '/sys_enter/ {printf "%d", $1 / 5}')

# ---- the agent ----
db=$work/bench.db
echo "agent: $secs s at $freq Hz, $LOAD load..." >&2
# AGENT_ARGS: extra options for the agent, e.g. --unwind fp
"$profile" agent --db "$db" -F $freq --stats-interval 0 ${AGENT_ARGS:-} 2>"$work/agent.log" &
agent=$!
sleep 2
# the agent's BPF programs: the prog_id of its bpf-prog and bpf_link fds
prog_ids=$(for fd in /proc/$agent/fd/*; do
	case $(readlink "$fd") in
	anon_inode:bpf-prog | anon_inode:bpf_link)
		awk '/^prog_id:/ {print $2}' "/proc/$agent/fdinfo/${fd##*/}" ;;
	esac
done | sort -u)
[ -n "$prog_ids" ] || { echo "bench-agent: cannot find the agent's BPF program" >&2; exit 1; }
# steady state: from 10 s in (kallsyms and the first binaries are read by then) to the end
sleep 8
read -r au0 as0 _ < <(proc_cost $agent)
builds0=$( (cat "$work/builds" 2>/dev/null || true) | wc -l)
sleep $((secs - 10))
read -r au1 as1 _ < <(proc_cost $agent)
builds1=$( (cat "$work/builds" 2>/dev/null || true) | wc -l)
# kernel memory of the agent's BPF maps (not in its RSS): memlock of each map fd
bpf_kb=$(for fd in /proc/$agent/fd/*; do
	[ "$(readlink "$fd")" = anon_inode:bpf-map ] &&
		awk '/^memlock:/ {print $2}' "/proc/$agent/fdinfo/${fd##*/}"
done | awk '{s += $1} END {printf "%d", s / 1024}')
sys_agent=$(sys_ns)
rss_anon=$(awk '/^RssAnon/ {print $2}' /proc/$agent/status)
rss_file=$(awk '/^RssFile/ {print $2}' /proc/$agent/status)
bpf_ns=0
bpf_cnt=0
for id in $prog_ids; do
	read -r ns cnt < <(bpftool -j prog show id "$id" | jq -r '"\(.run_time_ns // 0) \(.run_cnt // 0)"')
	bpf_ns=$((bpf_ns + ns))
	bpf_cnt=$((bpf_cnt + cnt))
done
kill -TERM $agent
wait $agent || { echo "bench-agent: the agent failed:" >&2; cat "$work/agent.log" >&2; exit 1; }

health=$(sqlite3 "$db" "SELECT cpu_ms, rss_kb, samples, recorded, dropped, lost FROM agent_health
	ORDER BY run_id DESC LIMIT 1")
run_s=$(sqlite3 "$db" "SELECT (end_ms - start_ms) / 1000.0 FROM runs ORDER BY id DESC LIMIT 1")
IFS='|' read -r cpu_ms rss_kb taken recorded dropped lost <<<"$health"
measure=$("$profile" status --db "$db" --measure)
db_bytes=$(stat -c %s "$db")
[ -e "$db-wal" ] && db_bytes=$((db_bytes + $(stat -c %s "$db-wal")))

# ---- perf record ----
echo "perf record -F $freq -a -g: $secs s..." >&2
perf record -F $freq -a -g -o "$work/perf.data" 2>"$work/perf.log" &
perf_pid=$!
sleep "$secs"
read -r pu ps phwm < <(proc_cost $perf_pid)
sys_perf=$(sys_ns)
kill -INT $perf_pid
wait $perf_pid || true
perf_samples=$(grep -o '([0-9]* samples)' "$work/perf.log" | tr -dc 0-9)
perf_bytes=$(stat -c %s "$work/perf.data")

ref_after=$(reference_us)

# ---- report ----
awk -v secs="$run_s" -v cpu_ms="$cpu_ms" -v bpf_ns="$bpf_ns" -v bpf_cnt="$bpf_cnt" \
    -v rss="$rss_kb" -v taken="$taken" -v rec="$recorded" -v dropped="$dropped" -v lost="$lost" \
    -v dbb="$db_bytes" -v pu="$pu" -v ps="$ps" -v tck="$tck" -v phwm="$phwm" \
    -v psamp="${perf_samples:-0}" -v pbytes="$perf_bytes" -v psecs="$secs" \
    -v steady=$(( (au1 + as1) - (au0 + as0) )) -v ranon="$rss_anon" -v rfile="$rss_file" \
    -v bpfkb="${bpf_kb:-0}" -v sb="$sys_base" -v sa="$sys_agent" -v sp="$sys_perf" \
    -v srate="${sys_rate:-0}" 'BEGIN {
	printf "\n%-34s %16s %16s\n", "", "profile agent", "perf record -g"
	printf "%-34s %16.0f %16.0f\n", "seconds", secs, psecs
	printf "%-34s %15.3f%% %15.3f%%\n", "user+sys, % of one CPU", cpu_ms / 10 / secs, (pu + ps) / tck * 100 / psecs
	printf "%-34s %15.3f%% %16s\n", "  steady state (10 s .. end)", steady / tck * 100 / (psecs - 10), ""
	printf "%-34s %15.3f%% %16s\n", "BPF program run time, % of one CPU", bpf_ns / 1e7 / secs, "-"
	printf "%-34s %15.3f%% %16s\n", "total, % of one CPU", cpu_ms / 10 / secs + bpf_ns / 1e7 / secs, "n/a"
	printf "%-34s %16.2f %16s\n", "BPF ns per sample", bpf_cnt ? bpf_ns / bpf_cnt : 0, "-"
	printf "%-34s %16.1f %16.1f\n", "a syscall (getppid), ns", sa, sp
	printf "%-34s %16.1f %16.1f\n", "  added to each, ns", sa - sb, sp - sb
	printf "%-34s %15.3f%% %15.3f%%\n", "  on the syscalls of the load", srate * (sa - sb) / 1e7, srate * (sp - sb) / 1e7
	printf "%-34s %16.1f %16.1f\n", "peak RSS, MB", rss / 1024, phwm / 1024
	printf "%-34s %16.1f %16s\n", "  at the end: anonymous, MB", ranon / 1024, ""
	printf "%-34s %16.1f %16s\n", "  at the end: file-backed, MB", rfile / 1024, ""
	printf "%-34s %16.1f %16s\n", "BPF maps (kernel memory), MB", bpfkb / 1024, "-"
	printf "%-34s %16d %16d\n", "samples", rec, psamp
	printf "%-34s %16.2f %16.2f\n", "bytes per sample", rec ? dbb / rec : 0, psamp ? pbytes / psamp : 0
	printf "%-34s %16.2f %16.2f\n", "MB per hour", dbb / secs * 3600 / 1048576, pbytes / psecs * 3600 / 1048576
	printf "\nagent: %d samples taken, %d stored, %d dropped, %d lost\n", taken, rec, dropped, lost
}'
[ "$LOAD" = churn ] && echo "load: $(( (builds1 - builds0) * 10 / (secs - 10) )) builds per 10 s during the agent's run"
# the unwind thread's work: tables derived and their CPU time, tables put back from kept rows
grep -o 'unwind tables: .*' "$work/agent.log" | tail -1 | sed 's/^/agent: /' || true
echo "syscalls: ${sys_base} ns a getppid() with no tool attached; the load makes ${sys_rate:-?} a second"
echo "host reference: fp-mode BPF time per sample of a 5 s profile run: ${ref_before:-?} us before the agent, ${ref_after:-?} us after perf"
echo "$measure" | sed -n '/^measured/,$p'
