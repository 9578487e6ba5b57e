#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the test binaries and print one closing line:
#   N passed, N failed, N skipped
# usage: tests/run.sh --unit|--all BUILD_DIR
set -u

mode=$1
out=$2
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(cd "$out" && pwd)

export FIXTURES="$out/fixtures" WORKLOADS="$out/workloads" PROFILE="$out/profile" SRCDIR="$src"
# one-off runs store themselves in the default database: keep the tests' runs out of the real one
export PROFILE_DB="${PROFILE_DB:-$out/test-profile.db}"

bins=""
for t in "$out"/tests/test_*; do
	[ -x "$t" ] || continue
	case "$(basename "$t")" in
	test_e2e | test_e2e_* | test_addr2line | test_agent) [ "$mode" = --all ] && bins="$bins $t" ;;
	*) bins="$bins $t" ;;
	esac
done

# the libFuzzer targets, when built (make fuzz, make test): FUZZ_SECONDS each
if [ "$mode" = --all ] && ls "$out"/fuzz/fuzz_* >/dev/null 2>&1; then
	export FUZZ_DIR="$out/fuzz"
	bins="$bins $src/tests/fuzz/run.sh"
fi

passed=0 failed=0 skipped=0 broken="" failed_names=""
log=$(mktemp)
for t in $bins; do
	start=$(date +%s)
	"$t" >"$log" 2>&1
	status=$?
	cat "$log"
	# each binary's wall time: what to look at when the suite nears its time budget
	echo "== $(basename "$t"): $(($(date +%s) - start)) s"
	p=$(grep -c '^\[       OK \]' "$log")
	s=$(grep -c '^\[  SKIPPED \]' "$log")
	# the summary repeats failed names once more: count each failing test once
	f=$(grep '^\[  FAILED  \] ' "$log" | grep -v 'test(s)' | sort -u | wc -l)
	[ "$f" -gt 0 ] && failed_names="$failed_names $(basename "$t"):$(grep '^\[  FAILED  \] ' \
		"$log" | grep -v 'test(s)' | sed 's/^\[  FAILED  \] //' | sort -u | tr '\n' ' ')"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed or failed outside a test case
		failed=$((failed + 1))
		broken="$broken $(basename "$t")"
	fi
done
rm -f "$log"
[ -n "$broken" ] && echo "test binaries that exited abnormally:$broken"
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
