#!/usr/bin/env bash
# UDP latency on kbnet's stack, side by side with the kernel in one run:
#   scripts/bench_udp.sh BUILD_DIR OUT.json
#
#   (1) sockperf ping-pong, the same kernel client (CPU 1, namespace B) against
#       (a) kbnet udp-echo on AF_XDP (veth va, its own address, CPU 0) and
#       (b) the kernel's `sockperf server` (namespace A, CPU 0), over one veth
#       pair; the two servers alternate over rounds, each keeps its best.
#       Twice: with sockperf's default client, which sleeps in epoll_wait
#       between messages ("sleeping"), and with one that spins there
#       (--nonblocked --timeout 0, "polling"), which takes the client's own
#       wakeups out of both servers' figures.
#   (2) kbnet to kbnet over memif: kbnet udp-ping (CPU 1) against kbnet
#       udp-echo (CPU 0), no kernel in the path.
# Half round trips (sockperf's "latency"), microseconds. Writes JSON; the
# table is printed by scripts/udp_report.py. Needs root for (1); without it
# (1) is recorded as skipped.
set -euo pipefail
BUILD=$(realpath "${1:?usage: bench_udp.sh BUILD_DIR OUT.json}")
OUT=${2:?usage: bench_udp.sh BUILD_DIR OUT.json}
KBNET=$BUILD/tools/kbnet
SECS=${KBNET_BENCH_UDP_SECONDS:-5}
ROUNDS=${KBNET_BENCH_UDP_ROUNDS:-2}
# Which sockperf clients to run (both servers get the same client).
read -r -a CLIENTS <<<"${KBNET_BENCH_UDP_CLIENTS:-sleeping polling}"
client_opts() {
    case $1 in
        sleeping) ;;
        polling) echo "--nonblocked --timeout 0" ;;
        *) echo "bench_udp.sh: unknown client '$1' in KBNET_BENCH_UDP_CLIENTS (sleeping, polling)" >&2; exit 2 ;;
    esac
}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
results=$(mktemp -d /tmp/kbt-bench-udp-XXXXXX)
PORT=11111

memif_run() {
    local sock="$results/udp.sock"
    "$KBNET" udp-echo --port "memif:$sock" --address 10.99.0.1/24 --listen "0.0.0.0:$PORT" --core 0 \
        --duration $((SECS + 10)) --name "bench-memif-$$" >"$results/memif-echo.log" 2>&1 &
    local echo_pid=$!
    "$KBNET" udp-ping --port "memif:$sock,role=client" --address 10.99.0.2/24 --to "10.99.0.1:$PORT" --core 1 \
        --duration "$SECS" --json >"$results/memif.json" 2>"$results/memif-ping.log" || true
    kill -INT "$echo_pid" 2>/dev/null || true
    wait "$echo_pid" 2>/dev/null || true
}

finish() {
    "${PYTHON:-python3}" - "$results" "$OUT" "$ROUNDS" "${1:-}" "${CLIENTS[*]}" <<'PY'
import json, os, re, sys
res, out, rounds, skipped, clients = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split()

def sockperf(path):
    """Half round trips in us from sockperf ping-pong's summary."""
    if not os.path.exists(path):
        return {}
    t = open(path, errors="replace").read()
    d = {}
    m = re.search(r"Latency is ([0-9.]+) usec", t)
    if m: d["avg"] = float(m.group(1))
    for key, pct in (("p50", "50.000"), ("p99", "99.000"), ("p999", "99.900"), ("max", None)):
        m = re.search(rf"percentile {pct} =\s*([0-9.]+)", t) if pct else re.search(r"<MAX> observation =\s*([0-9.]+)", t)
        if m: d[key] = float(m.group(1))
    m = re.search(r"SentMessages=(\d+); ReceivedMessages=(\d+)", t)
    if m: d["sent"], d["received"] = int(m.group(1)), int(m.group(2))
    d["no_loss"] = "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" in t
    return d

data = {"rounds": rounds}
if skipped:
    data["skipped_afxdp"] = skipped
else:
    data["clients"] = {}
    for client in clients:
        c = data["clients"][client] = {}
        for server in ("kbnet", "kernel"):
            runs = [sockperf(os.path.join(res, f"{server}-{client}-{r}.txt")) for r in range(1, rounds + 1)]
            runs = [r for r in runs if "p50" in r]
            c[server] = min(runs, key=lambda r: r["p50"]) if runs else {}
            c[server + "_rounds_p50"] = [r["p50"] for r in runs]
try:
    m = json.load(open(os.path.join(res, "memif.json")))
    r = m.get("rtt_ns", {})
    data["memif"] = {k: r[k] / 2000.0 for k in ("p50", "p99", "p999", "max", "mean") if k in r}
    data["memif"].update({"sent": m.get("sent"), "received": m.get("received"), "lost": m.get("lost")})
except (OSError, ValueError):
    data["memif"] = {}
json.dump(data, open(out, "w"), indent=1)
PY
    rm -rf "$results"
}

if [[ $(id -u) != 0 ]]; then
    memif_run
    finish "needs root (namespaces, AF_XDP)"
    exit 0
fi
source "$ROOT/tests/interop/lib/topology.sh"
topo_skip() {
    memif_run
    finish "$*"
    exit 0
}
topo_require_root_and_afxdp
command -v sockperf >/dev/null || topo_skip "sockperf not installed (make deps)"
topo_veth_pair 1
IPK="${TOPO_NET%.0}.5"

for round in $(seq "$ROUNDS"); do
    for client in "${CLIENTS[@]}"; do
        read -r -a opts <<<"$(client_opts "$client")"
        echo "bench: UDP round $round, $client client: sockperf ping-pong ${SECS}s against kbnet udp-echo" \
            "(AF_XDP), then the kernel..." >&2
        topo_bg "$TMP/echo.log" "${IN_A[@]}" "$KBNET" udp-echo --port afxdp:va --address "$IPK/24" \
            --listen "0.0.0.0:$PORT" --core 0 --name "bench-$TOPO_TAG"
        pid=$BG_PID
        wait_for "$TMP/echo.log" "udp-echo: 0.0.0.0" 100 || true
        in_b ping -c 1 -W 2 "$IPK" >/dev/null 2>&1 || true  # ARP before the clock
        in_b taskset -c 1 sockperf ping-pong -i "$IPK" -p "$PORT" -t "$SECS" -m 64 "${opts[@]}" \
            >"$results/kbnet-$client-$round.txt" 2>&1 || true
        kill -INT "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true

        topo_bg "$TMP/ksrv.log" "${IN_A[@]}" taskset -c 0 sockperf server -i "$IPA" -p "$PORT"
        pid=$BG_PID
        sleep 1
        in_b taskset -c 1 sockperf ping-pong -i "$IPA" -p "$PORT" -t "$SECS" -m 64 "${opts[@]}" \
            >"$results/kernel-$client-$round.txt" 2>&1 || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
done
echo "bench: kbnet udp-ping <-> kbnet udp-echo over memif, ${SECS}s..." >&2
memif_run
finish
