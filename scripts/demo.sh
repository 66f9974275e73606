#!/usr/bin/env bash
# make demo: the main job. In private network namespaces, the kernel's
# sockperf client measures UDP ping-pong against kbnet udp-echo (kbnet's
# stack on AF_XDP, its own address) and against the kernel's own sockperf
# server, over the same veth pair, and the latency distributions are
# printed side by side (for sockperf's default client and for one that
# polls); then kbnet to kbnet over memif shared memory.
# Without root (namespaces, AF_XDP) it says so and runs what needs none: the
# memif part and l2echo over an in-process pair port.
set -euo pipefail
build=${1:-build/release}
seconds=${DEMO_SECONDS:-3}
kbnet="$build/tools/kbnet"
here="$(cd "$(dirname "$0")" && pwd)"
[[ -x $kbnet ]] || { echo "demo: $kbnet not built; run 'make build'" >&2; exit 1; }

echo "== kbnet demo: UDP ping-pong, sockperf (kernel client) against kbnet udp-echo and the kernel (${seconds}s each) =="
out=$(mktemp /tmp/kbnet-demo-XXXXXX.json)
trap 'rm -f "$out"' EXIT
KBNET_BENCH_UDP_SECONDS=$seconds KBNET_BENCH_UDP_ROUNDS=1 bash "$here/bench_udp.sh" "$build" "$out"
python3 "$here/udp_report.py" "$out"

if [[ $(id -u) != 0 ]]; then
    echo
    echo "== (not root: the AF_XDP part needs root; here is l2echo over an in-process pair port instead) =="
    core_opt=()
    (($(nproc) >= 2)) && core_opt=(--cores 0)
    "$kbnet" l2echo --port pair:demo --feed --duration "$seconds" "${core_opt[@]}"
fi
