#!/usr/bin/env bash
# memif end to end, in separate processes:
#   1. kbnet client  <-> dpdk-testpmd server (macswap): counts match both ways
#   2. kbnet server  <-> dpdk-testpmd client (macswap): counts match both ways
#   3. a wrong secret against testpmd is refused, with the reason on both sides
#   4. kbnet <-> kbnet (l2echo server, pktgen client), each killed with -9 and
#      restarted: the survivor reconnects, leaking no descriptors or mappings
# Needs no network: the sockets live in a private temporary directory.
# dpdk-testpmd (package dpdk-dev) is required; without root, testpmd cannot
# run (SKIP, exit 77).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KBNET=${1:?usage: test_memif.sh path/to/kbnet}
source "$HERE/lib/topology.sh"

[[ $(id -u) == 0 ]] || topo_skip "needs root (dpdk-testpmd)"
command -v dpdk-testpmd >/dev/null || {
    echo "FAIL dpdk-testpmd not installed (make deps installs package dpdk-dev)"
    exit 1
}

prefixes=()
cleanup_dpdk() { for p in "${prefixes[@]}"; do rm -rf "/var/run/dpdk/$p"; done; }
trap 'cleanup_dpdk; [[ -n ${KEEP_TMP:-} ]] && cp -r "$TMP" /tmp/memif-debug; topo_cleanup' EXIT

# testpmd LOG ROLE SOCKET [DEVARGS]: dpdk-testpmd on a memif port in the
# background (BG_PID), echoing with swapped MACs. The forwarding lcore runs
# on CPU 0 and the main one on CPU 1 (two CPUs here); --stats-period keeps
# it running without a terminal until SIGINT, when it prints its totals.
# --no-flush-rx: testpmd otherwise discards, uncounted, whatever arrived
# before forwarding started (our side may start sending first). The memif
# debug log shows the control messages it sends and the reasons it gets.
testpmd() {
    local log=$1 role=$2 sock=$3 extra=${4:-}
    local prefix="kbt-memif-$TOPO_TAG-${#prefixes[@]}"
    prefixes+=("$prefix")
    topo_bg "$log" dpdk-testpmd --lcores 0@1,1@0 --no-pci --no-huge -m 512 --file-prefix "$prefix" \
        --log-level=pmd.net.memif:debug \
        --vdev "net_memif0,role=$role,socket=$sock,socket-abstract=no,id=0$extra" -- \
        --forward-mode=macswap --stats-period 1 --total-num-mbufs=16384 --no-flush-rx
}
# stop_testpmd PID: SIGINT and wait, so it prints "Forward statistics".
stop_testpmd() {
    kill -INT "$1" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null
    wait "$1" 2>/dev/null
}
# testpmd_total LOG RX|TX [packets|dropped]: a count testpmd printed at exit.
testpmd_total() {
    grep -E "$2-packets:" "$1" | tail -1 | sed -E "s/.*$2-${3:-packets}: *([0-9]+).*/\1/"
}

COUNT=20000
# 20 kpps: a 1024-slot ring then rides out a 50 ms preemption of the receiver.
PKTGEN=("$KBNET" pktgen --count "$COUNT" --rate 20000 --size 64 --json --wait-ms 2000 --core 1)

# ---- 1. kbnet client, testpmd server --------------------------------------
SOCK1="$TMP/tp-server.sock"
testpmd "$TMP/tp1.log" server "$SOCK1"
tp1=$BG_PID
check "dpdk-testpmd server is listening" wait_for "$TMP/tp1.log" "Press enter\|Port statistics\|Checking link" 200
for _ in $(seq 100); do [[ -S $SOCK1 ]] && break; sleep 0.1; done
"${PKTGEN[@]}" --port "memif:$SOCK1,role=client" --linger 2.5 >"$TMP/pg1.json" 2>"$TMP/pg1.err" &
pg1=$!
for _ in $(seq 200); do [[ -s $TMP/pg1.json ]] && break; sleep 0.1; done
stop_testpmd "$tp1"
wait "$pg1"
sent=$(json_field "$TMP/pg1.json" tx_packets 2>/dev/null || echo 0)
back=$(json_field "$TMP/pg1.json" rx_packets 2>/dev/null || echo 0)
lost=$(json_field "$TMP/pg1.json" lost 2>/dev/null || echo 0)
tp_rx=$(testpmd_total "$TMP/tp1.log" RX)
tp_tx=$(testpmd_total "$TMP/tp1.log" TX)
tp_drop=$(testpmd_total "$TMP/tp1.log" TX dropped)
echo "     kbnet client sent $sent, got $back back; testpmd server received ${tp_rx:-?}, sent ${tp_tx:-?}," \
    "dropped ${tp_drop:-?} (ring full)"
[[ $sent == "$COUNT" ]] || { tail -5 "$TMP/pg1.err"; tail -30 "$TMP/tp1.log"; }
check "kbnet client -> testpmd server: $COUNT sent, testpmd received them all" \
    test "$sent" == "$COUNT" -a "${tp_rx:-0}" == "$COUNT"
check "testpmd server -> kbnet client: kbnet received exactly what testpmd sent" \
    test "${tp_tx:-0}" -gt 0 -a "${tp_tx:-0}" == "$back"
# A busy machine can stall the receiver long enough for testpmd to find the
# ring full; it counts those as TX-dropped. Every loss must be one of them.
check "every echo kbnet missed is one testpmd counted as dropped ($lost lost, ${tp_drop:-?} dropped)" \
    test "$lost" == "${tp_drop:-x}" -a "$(json_field "$TMP/pg1.json" reordered)" == 0
((lost == 0)) || echo "     note: $lost echoes dropped by testpmd on a full ring (receiver preempted)"

# ---- 2. kbnet server, testpmd client --------------------------------------
SOCK2="$TMP/kb-server.sock"
"${PKTGEN[@]}" --port "memif:$SOCK2" --linger 2.5 >"$TMP/pg2.json" 2>"$TMP/pg2.err" &
pg2=$!
topo_pids+=("$pg2")
check "kbnet server is listening" wait_for "$TMP/pg2.err" "waiting for the peer" 100
testpmd "$TMP/tp2.log" client "$SOCK2"
tp2=$BG_PID
for _ in $(seq 300); do [[ -s $TMP/pg2.json ]] && break; sleep 0.1; done
stop_testpmd "$tp2"
wait "$pg2"
sent=$(json_field "$TMP/pg2.json" tx_packets 2>/dev/null || echo 0)
back=$(json_field "$TMP/pg2.json" rx_packets 2>/dev/null || echo 0)
lost=$(json_field "$TMP/pg2.json" lost 2>/dev/null || echo 0)
tp_rx=$(testpmd_total "$TMP/tp2.log" RX)
tp_tx=$(testpmd_total "$TMP/tp2.log" TX)
tp_drop=$(testpmd_total "$TMP/tp2.log" TX dropped)
echo "     kbnet server sent $sent, got $back back; testpmd client received ${tp_rx:-?}, sent ${tp_tx:-?}," \
    "dropped ${tp_drop:-?} (ring full)"
[[ $sent == "$COUNT" ]] || { tail -5 "$TMP/pg2.err"; tail -30 "$TMP/tp2.log"; }
check "kbnet server -> testpmd client: $COUNT sent, testpmd received them all" \
    test "$sent" == "$COUNT" -a "${tp_rx:-0}" == "$COUNT"
check "testpmd client -> kbnet server: kbnet received exactly what testpmd sent" \
    test "${tp_tx:-0}" -gt 0 -a "${tp_tx:-0}" == "$back"
check "every echo kbnet missed is one testpmd counted as dropped ($lost lost, ${tp_drop:-?} dropped)" \
    test "$lost" == "${tp_drop:-x}"

# ---- 3. a wrong secret is refused, and both sides say so -------------------
SOCK3="$TMP/secret.sock"
testpmd "$TMP/tp3.log" server "$SOCK3" ",secret=right"
tp3=$BG_PID
for _ in $(seq 100); do [[ -S $SOCK3 ]] && break; sleep 0.1; done
timeout 3 "$KBNET" l2echo --port "memif:$SOCK3,role=client,secret=wrong" >/dev/null 2>"$TMP/secret.err"
stop_testpmd "$tp3"
check "kbnet client logs testpmd's refusal (wrong secret)" grep -q "peer disconnected: Incorrect secret" "$TMP/secret.err"
# testpmd's server logs no reason text, only that it sent DISCONNECT (type 8).
check "testpmd refuses the client (sends DISCONNECT)" grep -q "Sent msg type 8" "$TMP/tp3.log"
SOCK4="$TMP/secret-kb.sock"
topo_bg "$TMP/secret-kb.err" "$KBNET" l2echo --port "memif:$SOCK4,secret=right"
kb4=$BG_PID
wait_for "$TMP/secret-kb.err" "waiting for the peer" 100
testpmd "$TMP/tp4.log" client "$SOCK4" ",secret=wrong"
tp4=$BG_PID
wait_for "$TMP/secret-kb.err" "refusing the peer" 100
stop_testpmd "$tp4"
kill -INT "$kb4"
wait "$kb4"
check "kbnet server refuses testpmd's wrong secret with a message" \
    grep -q "refusing the peer: wrong secret" "$TMP/secret-kb.err"
check "testpmd client logs kbnet's refusal" grep -q "Disconnect received: wrong secret" "$TMP/tp4.log"

# ---- 4. kbnet <-> kbnet, kill -9 and restart -------------------------------
SOCK5="$TMP/kk.sock"
run_client() { # run_client N: a short pktgen run; true if nothing was lost
    "$KBNET" pktgen --port "memif:$SOCK5,role=client" --count 5000 --rate 50000 --json --wait-ms 2000 \
        >"$TMP/kk$1.json" 2>"$TMP/kk$1.err"
    [[ $(json_field "$TMP/kk$1.json" rx_packets 2>/dev/null) == 5000 ]]
}
resources() { # resources PID: open descriptors and memfd mappings
    echo "$(ls "/proc/$1/fd" | wc -l) $(grep -c memfd "/proc/$1/maps")"
}
topo_bg "$TMP/echo1.log" "$KBNET" l2echo --port "memif:$SOCK5" --cores 0
echo1=$BG_PID
check "kbnet -> kbnet: first client, nothing lost" run_client 1
before=$(resources "$echo1")
# A client killed in the middle of a run: the server goes back to waiting.
"$KBNET" pktgen --port "memif:$SOCK5,role=client" --rate 50000 --duration 30 >/dev/null 2>&1 &
victim=$!
topo_pids+=("$victim")
sleep 1
kill -9 "$victim"
wait "$victim" 2>/dev/null
check "server notices the killed client" wait_for "$TMP/echo1.log" "disconnected" 50
check "kbnet -> kbnet: a new client after kill -9 of the old one, nothing lost" run_client 2
after=$(resources "$echo1")
echo "     server descriptors/memfd mappings: before $before, after a killed client $after"
check "the server holds no more descriptors or mappings than before" test "$before" == "$after"
# The server killed: a client that is running reconnects to its successor.
"$KBNET" pktgen --port "memif:$SOCK5,role=client" --rate 20000 --duration 6 --json --wait-ms 500 \
    >"$TMP/long.json" 2>"$TMP/long.err" &
long=$!
topo_pids+=("$long")
sleep 1.5
kill -9 "$echo1"
wait "$echo1" 2>/dev/null
topo_bg "$TMP/echo2.log" "$KBNET" l2echo --port "memif:$SOCK5" --cores 0
check "the client logs the lost server" wait_for "$TMP/long.err" "disconnected\|closed" 50
check "the client reconnects to the restarted server" wait_for "$TMP/long.err" "connected (client" 50
wait "$long"
got=$(json_field "$TMP/long.json" rx_packets 2>/dev/null || echo 0)
sent=$(json_field "$TMP/long.json" tx_packets 2>/dev/null || echo 0)
echo "     across the server restart: sent $sent, received $got"
check "traffic flowed after the restart (received $got of $sent)" test "$got" -gt $((sent / 2))
check "kbnet -> kbnet: a new client with the restarted server, nothing lost" run_client 3

topo_finish
