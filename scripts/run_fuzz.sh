#!/usr/bin/env bash
# Runs every libFuzzer target in BUILD_DIR for SECONDS each, from the seed
# corpus in tests/fuzz/corpus/NAME when there is one. Fails on any finding.
set -euo pipefail
build=${1:?build dir}
seconds=${2:-20}
root="$(cd "$(dirname "$0")/.." && pwd)"
shopt -s nullglob
targets=("$build"/tests/fuzz/fuzz_*)
if ((${#targets[@]} == 0)); then
    echo "fuzz: no targets built in $build" >&2
    exit 1
fi
passed=0
for t in "${targets[@]}"; do
    [[ -x $t ]] || continue
    name=$(basename "$t")
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    seeds=()
    [[ -d $root/tests/fuzz/corpus/$name ]] && seeds=("$root/tests/fuzz/corpus/$name")
    echo "fuzz: $name for ${seconds}s"
    "$t" -max_total_time="$seconds" -max_len=4096 -print_final_stats=1 "$work" "${seeds[@]}" 2>"$work.log" ||
        { tail -n 60 "$work.log" >&2; echo "fuzz: $name FAILED" >&2; exit 1; }
    grep -E '^stat::number_of_executed_units' "$work.log" || true
    rm -rf "$work" "$work.log"
    passed=$((passed + 1))
done
echo "fuzz: ${passed} passed, 0 failed"
