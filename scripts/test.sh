#!/usr/bin/env bash
# Build Tern twice and run every test in each build:
#   build/       Release, warnings as errors
#   build-asan/  Debug with AddressSanitizer + UndefinedBehaviorSanitizer
# Unit tests (cmocka) and black-box tests (pytest against the staged
# installation) all run under ctest.  Exits non-zero if anything fails.
#
# On a fresh Debian 12, as root (or a user with sudo):
#     ./scripts/test.sh
#
# Environment (optional):
#   TERN_BUILDS  which builds to run, default "release asan"
#   CTEST_ARGS   extra ctest arguments, e.g. "-R blackbox"
#   FUZZ_SECONDS seconds per fuzz target (scripts/fuzz.sh), 0 to skip
set -euo pipefail

cd "$(dirname "$0")/.."
# shellcheck source=scripts/common.sh
. scripts/common.sh

mapfile -t pkgs < <(deps build; deps test)
ensure_packages "${pkgs[@]}"

declare -A flags=(
	[release]="-DCMAKE_BUILD_TYPE=Release -DTERN_WERROR=ON -DTERN_SANITIZE=OFF"
	[asan]="-DCMAKE_BUILD_TYPE=Debug -DTERN_WERROR=ON -DTERN_SANITIZE=ON"
)
declare -A dirs=([release]=build [asan]=build-asan)

failed=()
summary=()
for b in ${TERN_BUILDS:-release asan}; do
	dir=${dirs[$b]:?unknown build $b}
	echo "==> $b build in $dir/"
	# shellcheck disable=SC2086
	if ! cmake -S . -B "$dir" ${flags[$b]} || ! cmake --build "$dir" -j2; then
		failed+=("$b (build)")
		summary+=("$b: BUILD FAILED")
		continue
	fi
	echo "==> $b tests"
	log="$dir/ctest.log"
	# shellcheck disable=SC2086
	if ! ctest --test-dir "$dir" --output-on-failure ${CTEST_ARGS:-} 2>&1 |
		tee "$log"; then
		failed+=("$b (tests)")
	fi
	while IFS= read -r line; do
		summary+=("$b: $line")
	done < <(grep -E 'tests passed|tests failed|Total Test time|The following tests|^[[:space:]]+[0-9]+ - ' "$log" || true)
done

# libFuzzer targets (scripts/fuzz.sh): FUZZ_SECONDS per target (default
# 20; 0 skips fuzzing).
if [ "${FUZZ_SECONDS:-20}" != 0 ]; then
	echo "==> fuzzing (${FUZZ_SECONDS:-20}s per target)"
	if FUZZ_SECONDS=${FUZZ_SECONDS:-20} scripts/fuzz.sh; then
		summary+=("fuzz: no findings")
	else
		failed+=("fuzz")
		summary+=("fuzz: FINDINGS (see build-fuzz/findings/)")
	fi
fi

echo
echo "==> summary"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
	echo "FAILED: ${failed[*]}"
	exit 1
fi
echo "all passed"
