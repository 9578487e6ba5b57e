#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the libFuzzer targets built in FUZZ_DIR (make fuzz): for each, replay
# every input under tests/fuzz/regress/NAME/, then fuzz for FUZZ_SECONDS from
# the seeds in tests/fuzz/corpus/NAME/ (and FUZZ_DIR/seeds/NAME/). Each is
# reported in cmocka's words, so tests/run.sh counts them:
#   [ RUN      ] fuzz_folded:regress ... [       OK ] / [  FAILED  ]
# A crash, a sanitizer report, a leak, a timeout or a failed check fails it;
# the input that did it is kept in FUZZ_DIR/crashes/NAME/.
#
# usage: tests/fuzz/run.sh [FUZZ_DIR]   (env: FUZZ_SECONDS, default 4; FUZZ_ONLY=NAME)
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-${FUZZ_DIR:-}}
secs=${FUZZ_SECONDS:-4}
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
	echo "usage: tests/fuzz/run.sh FUZZ_DIR (built by make fuzz)" >&2
	exit 2
fi
dir=$(cd "$dir" && pwd)

export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
unset DEBUGINFOD_URLS

# the longest input each target is given, and the slowest one input may be
max_len() {
	case $1 in
	fuzz_elf) echo 81920 ;;
	*) echo 16384 ;;
	esac
}

status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

report() {	# NAME RC
	if [ "$2" -eq 0 ]; then
		echo "[       OK ] $1"
	else
		# the sanitizer or libFuzzer report: what failed, where
		grep -E 'ERROR|SUMMARY|runtime error|check failed|Test unit written|^    #[0-9]' \
			"$log" | head -40
		echo "[  FAILED  ] $1"
		status=1
	fi
}

for bin in "$dir"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	short=${name#fuzz_}
	[ -n "${FUZZ_ONLY:-}" ] && [ "$FUZZ_ONLY" != "$name" ] && continue
	crashes="$dir/crashes/$short"
	mkdir -p "$crashes" "$dir/corpus/$short"
	common="-rss_limit_mb=2048 -timeout=20 -max_len=$(max_len "$name") -artifact_prefix=$crashes/"

	regress="$src/tests/fuzz/regress/$short"
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		echo "[ RUN      ] $name:regress"
		# shellcheck disable=SC2086
		"$bin" $common "$regress"/* >"$log" 2>&1
		rc=$?
		echo "$name: replayed $(ls "$regress" | wc -l) regression inputs"
		report "$name:regress" $rc
	fi

	echo "[ RUN      ] $name:fuzz"
	seeds=""
	for s in "$src/tests/fuzz/corpus/$short" "$dir/seeds/$short"; do
		[ -d "$s" ] && seeds="$seeds $s"
	done
	start=$(date +%s)
	# new inputs go to the build's own corpus, never to the checked-in seeds
	# shellcheck disable=SC2086
	"$bin" $common -max_total_time="$secs" -print_final_stats=1 "$dir/corpus/$short" \
		$seeds >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
	echo "$name: ${runs:-?} runs in $(($(date +%s) - start)) s, ${cov:-cov: ?}," \
		"corpus $(ls "$dir/corpus/$short" | wc -l) inputs"
	report "$name:fuzz" $rc
done
exit $status
