#!/usr/bin/env bash
# kbnet l2echo over an afxdp port, end to end on a veth pair between two
# network namespaces made for this run (and deleted by it):
#
#   kbt-a-*  : va  <- kbnet l2echo --port afxdp:va   (IPA, 10.x.y.1)
#   kbt-b-*  : vb  <- scapy sender, kernel TCP peer  (IPB, 10.x.y.2)
#
# Checks: bad input gives exit code 2, one line, nothing attached (no
# interface, queue out of range, MTU too large on either end); steer=all
# echoes every frame MAC-swapped and otherwise byte-identical; with
# --filter udp:PORT only that port's frames reach the echo while a kernel
# TCP connection on the same interface works; SIGTERM and SIGINT detach the
# XDP program; after kill -9 the next start replaces the program left
# behind and detaches it when it exits.
#
# usage: test_afxdp_echo.sh PATH-TO-kbnet
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no AF_XDP, no
# scapy); ctest maps 77 to "skipped" with SKIP_RETURN_CODE 77.
set -euo pipefail

KBNET=$(realpath "${1:?usage: $0 PATH-TO-kbnet}")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3  # Debian's python3-scapy is installed for this one

skip() {
    echo "SKIP: $*"
    exit 77
}
[[ $(id -u) == 0 ]] || skip "needs root (network namespaces and XDP)"
command -v ip >/dev/null || skip "ip (iproute2) not installed; run make deps"
command -v ethtool >/dev/null || skip "ethtool not installed; run make deps"
command -v nc >/dev/null || skip "nc (netcat-openbsd) not installed; run make deps"
"$PY" -c 'import scapy.all' 2>/dev/null || skip "python3-scapy not installed for $PY; run make deps"
# 44 = AF_XDP
"$PY" -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0).close()' 2>/dev/null ||
    skip "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)"

source "$HERE/lib/topology.sh"
PORT=$((20000 + RANDOM % 10000))
topo_veth_pair 1

xdp_attached() { ip -n "$NSA" link show va | grep -qE 'xdp|prog/xdp'; }
no_xdp_attached() { ! xdp_attached; }

# Starts l2echo in the background: echo_start NAME ARGS...; sets ECHO_PID.
echo_start() {
    local name=$1
    shift
    # Not through in_a or timeout: $! must be kbnet itself (ip netns exec
    # and env exec it), so the signals below reach it.
    ip netns exec "$NSA" env LIBXDP_BPFFS="$BPFFS" "$KBNET" l2echo --stats-interval 0 "$@" \
        >"$TMP/$name.json" 2>"$TMP/$name.log" &
    ECHO_PID=$!
    topo_pids+=("$ECHO_PID")
    local i
    for i in $(seq 100); do
        grep -q "ready" "$TMP/$name.log" 2>/dev/null && return 0
        kill -0 "$ECHO_PID" 2>/dev/null || break
        sleep 0.1
    done
    echo "l2echo $name did not become ready:" >&2
    cat "$TMP/$name.log" >&2
    return 1
}

# ---- bad input: exit code 2, one line, nothing attached -----------------
bad_input() {  # bad_input NAME EXPECTED-TEXT PORT-SPEC
    local rc=0
    in_a timeout 30 "$KBNET" l2echo --port "$3" --duration 1 >"$TMP/$1.out" 2>"$TMP/$1.err" || rc=$?
    local errline
    errline=$(grep "error:" "$TMP/$1.err" || true)
    if [[ $rc == 2 && $(grep -c "error:" "$TMP/$1.err") == 1 && $errline == *"$2"* ]] && no_xdp_attached; then
        return 0
    fi
    echo "  exit $rc, stderr:" >&2
    sed 's/^/    /' "$TMP/$1.err" >&2
    return 1
}
check "nonexistent interface: exit 2, names it" bad_input noif "no interface 'kbtnope0'" "afxdp:kbtnope0"
check "queue index out of range: exit 2, names the count" bad_input queue "has 1 rx queue(s)" "afxdp:va,queue=3"
ip -n "$NSA" link set va mtu 3000
check "MTU too large for the frame: exit 2, names the limit" bad_input mtu "at most 1778" "afxdp:va"
ip -n "$NSA" link set va mtu 1500
ip -n "$NSB" link set vb mtu 4000
check "veth peer MTU too large for XDP: exit 2, names the limit" bad_input peer_mtu "at most 3506" "afxdp:va"
ip -n "$NSB" link set vb mtu 1500

# ---- steer=all: every frame comes back MAC-swapped ---------------------
echo_start all --port "afxdp:va,steer=all" --duration 6 --json
check "steer=all: XDP program attached while l2echo runs" xdp_attached
check "steer=all: every frame echoed, MAC-swapped, byte-identical otherwise" \
    in_b "$PY" "$HERE/afxdp_frames.py" vb "$MACB" "$MACA" "$IPB" "$IPA" "$PORT" all
wait "$ECHO_PID" && rc=0 || rc=$?
check "steer=all: l2echo exits 0 at the end of --duration" test "$rc" = 0
rx=$(json_field "$TMP/all.json" rx_packets)
tx=$(json_field "$TMP/all.json" tx_packets)
check "steer=all: l2echo counted the frames (rx $rx >= 11, tx $tx = rx)" test "$rx" -ge 11 -a "$tx" = "$rx"
check "steer=all: XDP program detached after a clean exit" no_xdp_attached

# ---- filtered: only udp:PORT reaches kbnet, the kernel keeps the rest ---
if "$KBNET" l2echo --help 2>&1 | grep -q -- "--filter"; then
    echo_start filtered --port "afxdp:va" --filter "udp:$PORT" --duration 8 --json
    ip netns exec "$NSA" timeout 10 nc -l "$IPA" 5001 >"$TMP/tcp.out" &
    topo_pids+=($!)
    sleep 0.3
    printf 'kernel tcp beside kbnet\n' | in_b timeout 5 nc -N "$IPA" 5001 || true
    sleep 0.3
    check "filtered: a kernel TCP connection on the same interface works" \
        grep -q "kernel tcp beside kbnet" "$TMP/tcp.out"
    check "filtered: only udp:$PORT frames are echoed; TCP, ARP, fragments, other ports go to the kernel" \
        in_b "$PY" "$HERE/afxdp_frames.py" vb "$MACB" "$MACA" "$IPB" "$IPA" "$PORT" filtered
    wait "$ECHO_PID" && rc=0 || rc=$?
    rx=$(json_field "$TMP/filtered.json" rx_packets)
    check "filtered: l2echo exits 0 and saw exactly the 5 filtered frames (rx $rx)" test "$rc" = 0 -a "$rx" = 5
    check "filtered: XDP program detached after a clean exit" no_xdp_attached
else
    echo "SKIP filtered part: this kbnet l2echo has no --filter option yet"
fi

# ---- signals detach the program ----------------------------------------
for sig in TERM INT; do
    echo_start "sig$sig" --port "afxdp:va,steer=all" --json
    kill -s "$sig" "$ECHO_PID"
    wait "$ECHO_PID" && rc=0 || rc=$?
    check "SIG$sig: l2echo exits 0 and detaches its XDP program" test "$rc" = 0
    check "SIG$sig: nothing left attached" no_xdp_attached
done

# ---- kill -9 leaves the program behind; the next start replaces it -----
echo_start killed --port "afxdp:va,steer=all" --json
kill -9 "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null || true
check "kill -9: the XDP program stays attached" xdp_attached
echo_start after_kill --port "afxdp:va,steer=all" --duration 2 --json
wait "$ECHO_PID" && rc=0 || rc=$?
check "after kill -9: the next start replaces the stale program (and says so)" \
    grep -q "left behind by process" "$TMP/after_kill.log"
check "after kill -9: the next run exits 0 and leaves nothing attached" test "$rc" = 0 -a "$(xdp_attached && echo y || echo n)" = n

topo_finish
