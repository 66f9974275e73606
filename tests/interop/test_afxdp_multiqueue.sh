#!/usr/bin/env bash
# kbnet l2echo over AF_XDP on a two-queue veth with two pinned cores, the
# XDP program's life after kill -9 as `kbnet xdp status|unload` show it, and
# dpdk-testpmd (net_af_xdp) generating traffic that kbnet echoes back.
#
#   kbt-a-* : va (2 queues) <- kbnet l2echo --port afxdp:va,queues=2 --cores 0-1
#   kbt-b-* : vb (2 queues) <- kernel UDP senders / dpdk-testpmd flowgen
#
# usage: test_afxdp_multiqueue.sh PATH-TO-kbnet
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no AF_XDP).
set -euo pipefail
KBNET=$(realpath "${1:?usage: $0 PATH-TO-kbnet}")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/topology.sh"
topo_require_root_and_afxdp
(($(nproc) >= 2)) || topo_skip "needs two CPUs for two pinned workers"
topo_veth_pair 2

# ---- two queues, two cores: both queues echo ------------------------------
topo_bg "$TMP/mq.log" "${IN_A[@]}" "$KBNET" l2echo --port afxdp:va,queues=2 --cores 0-1 --duration 6 --json \
    --stats-interval 0
echo_pid=$BG_PID
wait_for "$TMP/mq.log" "ready" || { cat "$TMP/mq.log"; exit 1; }
# 64 kernel UDP sockets: each gets its own transmit hash, so the veth spreads
# them over both of vb's tx queues, which are va's rx queues.
in_b "$TOPO_PY" - "$IPA" <<'PY'
import socket, sys
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
for rnd in range(20):
    for s in socks:
        s.sendto(b"kbnet multiqueue test", (sys.argv[1], 9))
PY
wait "$echo_pid" || true
grep '^{' "$TMP/mq.log" >"$TMP/mq.json" || true
rx0=$(json_field "$TMP/mq.json" queues 0 rx_packets 2>/dev/null || echo 0)
rx1=$(json_field "$TMP/mq.json" queues 1 rx_packets 2>/dev/null || echo 0)
rx=$(json_field "$TMP/mq.json" rx_packets 2>/dev/null || echo 0)
tx=$(json_field "$TMP/mq.json" tx_packets 2>/dev/null || echo -1)
check "two queues on two cores: queue 0 echoed ($rx0) and queue 1 echoed ($rx1)" test "$rx0" -gt 0 -a "$rx1" -gt 0
check "two queues on two cores: all 1280 datagrams received and sent back (rx $rx, tx $tx)" \
    test "$rx" -ge 1280 -a "$tx" = "$rx"
check "two queues on two cores: workers pinned to CPUs 0 and 1" \
    test "$(json_field "$TMP/mq.json" queues 0 cpu)$(json_field "$TMP/mq.json" queues 1 cpu)" = "01"

# ---- kill -9, then status, unload and a clean restart ----------------------
status_json() { in_a "$KBNET" xdp status va --json; }
programs() { status_json | "$TOPO_PY" -c 'import json,sys; print(len(json.load(sys.stdin)["kbnet_programs"]))'; }
owner_alive() { status_json | "$TOPO_PY" -c 'import json,sys; print(json.load(sys.stdin)["kbnet_programs"][0]["owner_alive"])'; }

topo_bg "$TMP/k9.log" "${IN_A[@]}" "$KBNET" l2echo --port afxdp:va --stats-interval 0
wait_for "$TMP/k9.log" "ready" || { cat "$TMP/k9.log"; exit 1; }
check "while l2echo runs: xdp status shows one kbnet program, owner alive" \
    test "$(programs)/$(owner_alive)" = "1/True"
kill -9 "$BG_PID"
wait "$BG_PID" 2>/dev/null || true
check "after kill -9: xdp status shows the program left behind, owner gone" \
    test "$(programs)/$(owner_alive)" = "1/False"
check "after kill -9: the text status says the owner is gone" bash -c "
    ip netns exec $NSA env LIBXDP_BPFFS=$BPFFS $KBNET xdp status va | grep -qiE 'gone|not running|dead'"
check "next start after kill -9 runs and exits 0" \
    in_a timeout 30 "$KBNET" l2echo --port afxdp:va --duration 1 --stats-interval 0
check "after that clean exit: xdp status shows no stale program" test "$(programs)" = "0"

topo_bg "$TMP/k9b.log" "${IN_A[@]}" "$KBNET" l2echo --port afxdp:va --stats-interval 0
wait_for "$TMP/k9b.log" "ready" || { cat "$TMP/k9b.log"; exit 1; }
kill -9 "$BG_PID"
wait "$BG_PID" 2>/dev/null || true
check "xdp unload removes a program left by kill -9" bash -c "
    ip netns exec $NSA env LIBXDP_BPFFS=$BPFFS $KBNET xdp unload va | grep -q 'removed 1'"
check "after unload: no kbnet program and no XDP on the interface" \
    bash -c "test \"\$(ip netns exec $NSA env LIBXDP_BPFFS=$BPFFS $KBNET xdp status va --json | \
        $TOPO_PY -c 'import json,sys; print(len(json.load(sys.stdin)[\"kbnet_programs\"]))')\" = 0 && \
        ! ip -n $NSA link show va | grep -q xdp"

# ---- kbnet pktgen -> kbnet l2echo at a moderate rate: nothing lost ----------
topo_bg "$TMP/pg-echo.log" "${IN_A[@]}" "$KBNET" l2echo --port afxdp:va,steer=all --cores 0 --stats-interval 0
echo_pid=$BG_PID
wait_for "$TMP/pg-echo.log" "ready" || { cat "$TMP/pg-echo.log"; exit 1; }
"${IN_B[@]}" env LIBXDP_BPFFS="$BPFFS" "$KBNET" pktgen --port afxdp:vb,steer=all --core 1 --rate 20000 \
    --count 40000 --flows 8 --size 64 --src-mac "$MACB" --dst-mac "$MACA" --src-ip "$IPB" --dst-ip "$IPA" \
    --wait-ms 1000 --stats-interval 0 --json >"$TMP/pg.json" 2>"$TMP/pg.log" || cat "$TMP/pg.log"
kill -INT "$echo_pid" 2>/dev/null || true
wait "$echo_pid" || true
pg_tx=$(json_field "$TMP/pg.json" tx_packets 2>/dev/null || echo 0)
pg_rx=$(json_field "$TMP/pg.json" rx_packets 2>/dev/null || echo 0)
pg_lost=$(json_field "$TMP/pg.json" lost 2>/dev/null || echo -1)
pg_p50=$(json_field "$TMP/pg.json" rtt_ns p50 2>/dev/null || echo -)
pg_p999=$(json_field "$TMP/pg.json" rtt_ns p999 2>/dev/null || echo -)
echo "     pktgen sent $pg_tx, got $pg_rx back, lost $pg_lost; round trip p50 ${pg_p50} ns, p99.9 ${pg_p999} ns"
check "pktgen -> l2echo at 20 kpps over AF_XDP: all 40000 frames came back (lost $pg_lost)" \
    test "$pg_tx" = 40000 -a "$pg_rx" = 40000 -a "$pg_lost" = 0

# ---- missing privilege: exit 2, one line naming the fix ----------------------
if command -v setpriv >/dev/null; then
    rc=0
    in_a setpriv --inh-caps=-all --bounding-set=-all "$KBNET" l2echo --port afxdp:va --duration 1 \
        >"$TMP/priv.out" 2>"$TMP/priv.err" || rc=$?
    check "no privilege: exit 2 with one line naming root or CAP_NET_ADMIN/CAP_BPF (rc $rc)" bash -c "
        test $rc = 2 && test \$(grep -c error: $TMP/priv.err) = 1 && grep -q 'CAP_NET_ADMIN' $TMP/priv.err &&
        grep -q 'CAP_BPF' $TMP/priv.err"
    check "no privilege: nothing left attached" bash -c "! ip -n $NSA link show va | grep -q xdp"
fi

# ---- dpdk-testpmd generates, kbnet echoes, testpmd counts the echoes -------
if command -v dpdk-testpmd >/dev/null; then
    topo_bg "$TMP/tp-echo.log" "${IN_A[@]}" "$KBNET" l2echo --port afxdp:va,queues=2 --cores 0-1 --duration 8 --json \
        --stats-interval 0
    echo_pid=$BG_PID
    wait_for "$TMP/tp-echo.log" "ready" || { cat "$TMP/tp-echo.log"; exit 1; }
    # flowgen sends and also receives (and counts) what comes back; testpmd
    # exits when its stdin closes. --no-huge: no hugepage sysctl to change
# (--in-memory refuses it, so a run-unique --file-prefix keeps runs apart).
    (sleep 4) | in_b dpdk-testpmd -l 0-1 --no-pci --no-huge -m 512 --file-prefix "kbt-$TOPO_TAG" \
        --log-level=lib.eal:error \
        --vdev net_af_xdp0,iface=vb,queue_count=1 -- --forward-mode=flowgen --auto-start \
        --total-num-mbufs=16384 --txpkts=64 >"$TMP/testpmd.log" 2>&1 || true
    rm -rf "/var/run/dpdk/kbt-$TOPO_TAG"  # testpmd's runtime directory for that prefix
    wait "$echo_pid" || true
    grep '^{' "$TMP/tp-echo.log" >"$TMP/tp-echo.json" || true
    tp_tx=$(grep -E 'TX-packets:' "$TMP/testpmd.log" | tail -1 | sed -E 's/.*TX-packets: *([0-9]+).*/\1/' || true)
    tp_rx=$(grep -E 'RX-packets:' "$TMP/testpmd.log" | tail -1 | sed -E 's/.*RX-packets: *([0-9]+).*/\1/' || true)
    [[ -n $tp_tx ]] || sed 's/^/    testpmd: /' "$TMP/testpmd.log" | tail -20
    kb_rx=$(json_field "$TMP/tp-echo.json" rx_packets 2>/dev/null || echo 0)
    kb_tx=$(json_field "$TMP/tp-echo.json" tx_packets 2>/dev/null || echo 0)
    echo "     testpmd sent ${tp_tx:-?} received ${tp_rx:-?}; kbnet received $kb_rx echoed $kb_tx"
    check "dpdk-testpmd sent traffic (${tp_tx:-0} frames)" test "${tp_tx:-0}" -gt 0
    check "kbnet l2echo echoed testpmd's frames ($kb_tx)" test "$kb_tx" -gt 0
    check "dpdk-testpmd counted kbnet's echoes (${tp_rx:-0})" test "${tp_rx:-0}" -gt 0
else
    echo "FAIL dpdk-testpmd not installed (make deps installs package dpdk)"
    topo_failed=$((topo_failed + 1))
fi

topo_finish
