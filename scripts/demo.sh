#!/usr/bin/env bash
# make demo: the main job as it stands today. kbnet l2echo runs on one end of
# an in-process pair port; a feeder thread drives the other end with 64-byte
# UDP frames and checks every echo. No network, no privileges needed.
set -euo pipefail
build=${1:-build/release}
seconds=${DEMO_SECONDS:-5}
kbnet="$build/tools/kbnet"
[[ -x $kbnet ]] || { echo "demo: $kbnet not built; run 'make build'" >&2; exit 1; }

cores=$(nproc)
core_opt=()
((cores >= 2)) && core_opt=(--cores 0)

echo "== kbnet demo: l2echo over an in-process pair port, fed by a generator (${seconds}s) =="
echo "   $kbnet l2echo --port pair:demo --feed --duration $seconds ${core_opt[*]}"
"$kbnet" l2echo --port pair:demo --feed --duration "$seconds" "${core_opt[@]}"
