#!/usr/bin/env bash
# Build the libFuzzer targets with clang in build-fuzz/ and run each for
# a bounded time (docs/security.md).  Exits non-zero if a target finds a
# crash, a leak, a timeout or undefined behaviour: the input is left in
# build-fuzz/findings/<target>/; copy it to fuzz/regressions/<target>/
# (ctest replays it from then on) and fix the bug.
#
# Environment (optional):
#   FUZZ_SECONDS  seconds per target, default 20
#   FUZZ_TARGETS  targets to run, default "smtp_parse address config expand"
#   FUZZ_BUILD    build directory, default build-fuzz
#   FUZZ_SEED     libFuzzer's -seed, default 1: CI explores the same inputs
#                 every run, so a submission is not judged by luck; set it
#                 to 0 (random) for exploratory runs
set -euo pipefail

cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-20}
targets=${FUZZ_TARGETS:-smtp_parse address config expand}
dir=${FUZZ_BUILD:-build-fuzz}
seed=${FUZZ_SEED:-1}

# Warnings are errors in the gcc builds; clang's set differs, so here
# they are only shown.
cmake -S . -B "$dir" -DCMAKE_C_COMPILER=clang -DTERN_FUZZ=ON \
	-DCMAKE_BUILD_TYPE=Debug -DTERN_WERROR=OFF >/dev/null
cmake --build "$dir" -j2 --target fuzzers 2>&1 | grep -E 'error|warning:' || true
test -x "$dir/fuzz/fuzz_smtp_parse" || { echo "fuzz: build failed" >&2; exit 1; }

failed=()
for t in $targets; do
	work="$dir/fuzz-corpus/$t"      # grows run after run; seeds stay clean
	findings="$dir/findings/$t"
	mkdir -p "$work" "$findings"
	echo "==> fuzz_$t for ${secs}s"
	if ! ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$dir/fuzz/fuzz_$t" -max_total_time="$secs" -timeout=10 -seed="$seed" \
		-rss_limit_mb=2048 -max_len=4096 -close_fd_mask=3 \
		-print_final_stats=1 -artifact_prefix="$findings/" \
		"$work" "fuzz/corpus/$t" >"$dir/fuzz-$t.log" 2>&1; then
		failed+=("$t")
		tail -n 60 "$dir/fuzz-$t.log"
		echo "fuzz_$t: FINDING, input in $findings/" >&2
	else
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' \
			"$dir/fuzz-$t.log" | sed "s/^/  fuzz_$t /" || true
	fi
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: findings in ${failed[*]}" >&2
	exit 1
fi
echo "fuzz: no findings"
