#!/usr/bin/env bash
# memif benchmarks, side by side in one run: scripts/bench_memif.sh BUILD_DIR OUT.json
#
#   (a) dpdk-testpmd txonly (server, CPU 1) -> dpdk-testpmd rxonly (client, CPU 0)
#   (b) dpdk-testpmd txonly (server, CPU 1) -> kbnet l2echo --sink (client, CPU 0)
#   (c) kbnet pktgen (client, CPU 1) <-> kbnet l2echo (server, CPU 0): rate and round trip
#
# The same generator feeds both receivers; (a) and (b) alternate over rounds
# and each keeps its best round (the machine is shared). A receiver's rate is
# the median of its per-second samples after the first. Both receivers keep
# up with one generator core, so the rates tie at the generator's; what tells
# them apart is the receiver's busy cycles per packet (cycles of the bursts
# that carried packets, as testpmd's --record-core-cycles counts them and
# kbnet l2echo reports), and the rate one core would reach at that cost.
# Writes one JSON object; bench.sh prints the table. Needs root for testpmd;
# without it, or without testpmd, (a) and (b) are recorded as skipped.
set -euo pipefail
BUILD=$(realpath "${1:?usage: bench_memif.sh BUILD_DIR OUT.json}")
OUT=${2:?usage: bench_memif.sh BUILD_DIR OUT.json}
KBNET=$BUILD/tools/kbnet
SECS=${KBNET_BENCH_MEMIF_SECONDS:-6}
ROUNDS=${KBNET_BENCH_MEMIF_ROUNDS:-2}
RTT_RATE=${KBNET_BENCH_MEMIF_RTT_RATE:-100000}
TMP=$(mktemp -d /tmp/kbt-bench-memif-XXXXXX)
TAG="$$-$RANDOM"
pids=()
cleanup() {
    set +e
    for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP" /var/run/dpdk/kbt-bm-"$TAG"-*
}
trap cleanup EXIT

have_testpmd=1
if [[ $(id -u) != 0 ]]; then
    have_testpmd=0
    why="needs root (dpdk-testpmd)"
elif ! command -v dpdk-testpmd >/dev/null; then
    have_testpmd=0
    why="dpdk-testpmd not installed (make deps)"
fi

# generator SOCK LOG: testpmd txonly as memif server, both lcores on CPU 1
# (the main one sleeps between statistics).
generator() {
    dpdk-testpmd --lcores 0@1,1@1 --no-pci --no-huge -m 512 --file-prefix "kbt-bm-$TAG-gen-$RANDOM" \
        --log-level=lib.eal:error --vdev "net_memif0,role=server,socket=$1,socket-abstract=no" -- \
        --forward-mode=txonly --txpkts=64 --stats-period 1 --total-num-mbufs=32768 >"$2" 2>&1 &
    GEN_PID=$!
    pids+=("$GEN_PID")
    for _ in $(seq 100); do [[ -S $1 ]] && break; sleep 0.1; done
}
stop() {
    kill -INT "$1" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

if ((have_testpmd)); then
    for round in $(seq "$ROUNDS"); do
        echo "bench: memif round $round: testpmd txonly -> testpmd rxonly, then -> kbnet (${SECS}s each)..." >&2
        sock="$TMP/a$round.sock"
        generator "$sock" "$TMP/gen-a$round.log"
        timeout -s INT "$SECS" dpdk-testpmd --lcores 0@0,1@0 --no-pci --no-huge -m 512 \
            --file-prefix "kbt-bm-$TAG-rx-$round" --log-level=lib.eal:error \
            --vdev "net_memif0,role=client,socket=$sock,socket-abstract=no" -- --forward-mode=rxonly \
            --stats-period 1 --total-num-mbufs=32768 --no-flush-rx --record-core-cycles \
            >"$TMP/rx-testpmd-$round.log" 2>&1 || true
        stop "$GEN_PID"

        sock="$TMP/b$round.sock"
        generator "$sock" "$TMP/gen-b$round.log"
        "$KBNET" l2echo --port "memif:$sock,role=client" --sink --cores 0 --duration "$SECS" --stats-interval 1 \
            --json >"$TMP/rx-kbnet-$round.json" 2>"$TMP/rx-kbnet-$round.log" || true
        stop "$GEN_PID"
    done
fi

echo "bench: memif kbnet pktgen <-> kbnet l2echo: full rate, then $RTT_RATE pps (${SECS}s each)..." >&2
sock="$TMP/c.sock"
"$KBNET" l2echo --port "memif:$sock" --cores 0 --stats-interval 0 >"$TMP/echo-c.log" 2>&1 &
echo_pid=$!
pids+=("$echo_pid")
for rate in 0 "$RTT_RATE"; do
    "$KBNET" pktgen --port "memif:$sock,role=client" --core 1 --rate "$rate" --size 64 --duration "$SECS" \
        --json >"$TMP/kk-$rate.json" 2>"$TMP/kk-$rate.log" || echo '{}' >"$TMP/kk-$rate.json"
done
stop "$echo_pid"

python3 - "$TMP" "$OUT" "$have_testpmd" "${why:-}" "$ROUNDS" "$RTT_RATE" <<'PY'
import json, os, re, statistics, sys
tmp, out, have, why, rounds, rtt_rate = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4], \
    int(sys.argv[5]), int(sys.argv[6])

def median_after_first(samples):
    s = samples[1:] if len(samples) > 2 else samples
    return statistics.median(s) if s else None

def testpmd_rates(path, key):
    if not os.path.exists(path):
        return []
    return [int(m) / 1e6 for m in re.findall(rf"{key}:\s+(\d+)", open(path, errors="replace").read())]

def testpmd_cycles(path):
    m = re.search(r"CPU cycles/packet=([0-9.]+)", open(path, errors="replace").read()) if os.path.exists(path) else None
    return float(m.group(1)) if m else None

def kbnet_rates(path):
    if not os.path.exists(path):
        return []
    return [float(m) for m in re.findall(r"l2echo: rx ([0-9.]+) Mpps", open(path).read())]

def load(path):
    try:
        return json.load(open(path))
    except (OSError, ValueError):
        return {}

data = {"rounds": rounds}
tsc_ghz = None
if have:
    tp, kb = [], []
    for r in range(1, rounds + 1):
        # The receiver's samples; zeros are before the link came up.
        t = [v for v in testpmd_rates(f"{tmp}/rx-testpmd-{r}.log", "Rx-pps") if v > 0]
        k = [v for v in kbnet_rates(f"{tmp}/rx-kbnet-{r}.log") if v > 0]
        g = [v for v in testpmd_rates(f"{tmp}/gen-b{r}.log", "Tx-pps") if v > 0]
        j = load(f"{tmp}/rx-kbnet-{r}.json")
        tsc_ghz = tsc_ghz or j.get("tsc_ghz")
        tp.append({"mpps": median_after_first(t), "samples": t,
                   "busy_cycles_per_packet": testpmd_cycles(f"{tmp}/rx-testpmd-{r}.log")})
        kb.append({"mpps": median_after_first(k), "samples": k, "generator_mpps": median_after_first(g),
                   "busy_cycles_per_packet": j.get("busy_cycles_per_packet"),
                   "port_rx_dropped": j.get("port_rx_dropped"), "port_rx_errors": j.get("port_rx_errors")})
    # Best round: the lowest busy cost (the least disturbed by other load).
    best = lambda runs: min(runs, key=lambda x: x["busy_cycles_per_packet"] or float("inf"))
    data["testpmd_rx"], data["kbnet_rx"] = best(tp), best(kb)
    data["testpmd_rx_rounds"] = [x["busy_cycles_per_packet"] for x in tp]
    data["kbnet_rx_rounds"] = [x["busy_cycles_per_packet"] for x in kb]
else:
    data["skipped_testpmd"] = why
data["tsc_ghz"] = tsc_ghz
data["kk_max"] = load(f"{tmp}/kk-0.json")
data["kk_rtt"] = load(f"{tmp}/kk-{rtt_rate}.json")
json.dump(data, open(out, "w"), indent=1)
PY
