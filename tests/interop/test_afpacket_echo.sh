#!/usr/bin/env bash
# kbnet l2echo over an afpacket port, end to end on a two-queue veth pair
# between two network namespaces made for this run (and deleted by it):
#
#   kbt-a-* : va  <- kbnet l2echo --port afpacket:va[,queues=2]
#   kbt-b-* : vb  <- scapy sender, kernel UDP sockets
#
# Checks: bad input gives exit code 2 and one line (no interface, interface
# down, MTU too large for the frame, no CAP_NET_RAW); every frame sent
# from the other side is echoed MAC-swapped and otherwise byte-identical
# (VLAN-tagged frames included), and nothing else is echoed: the frames
# the kernel itself sends out of va (a TCP reset, ICMP errors) are not
# received; promisc=1 puts the interface in promiscuous mode only while the
# port is open, also when the process is killed; with queues=2 both sockets
# of the fanout group receive and echo their share of 64 flows.
#
# usage: test_afpacket_echo.sh PATH-TO-kbnet
# Exit status: 0 passed, 1 failed, 77 skipped (not root, no scapy); ctest
# maps 77 to "skipped" with SKIP_RETURN_CODE 77.
set -euo pipefail
KBNET=$(realpath "${1:?usage: $0 PATH-TO-kbnet}")
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib/topology.sh"

[[ $(id -u) == 0 ]] || topo_skip "needs root (network namespaces and AF_PACKET sockets)"
command -v ip >/dev/null || topo_skip "ip (iproute2) not installed; run make deps"
command -v ethtool >/dev/null || topo_skip "ethtool not installed; run make deps"
"$TOPO_PY" -c 'import scapy.all' 2>/dev/null || topo_skip "python3-scapy not installed for $TOPO_PY; run make deps"
# 17 = AF_PACKET
"$TOPO_PY" -c 'import socket; socket.socket(17, socket.SOCK_RAW, 0).close()' 2>/dev/null ||
    topo_skip "this kernel has no AF_PACKET sockets (CONFIG_PACKET)"
topo_veth_pair 2
PORT=$((20000 + RANDOM % 10000))

promisc() { ip -d -n "$NSA" link show va | grep -qE "promiscuity [1-9]"; }
not_promisc() { ! promisc; }

# echo_start NAME ARGS...: l2echo in the background, waits for "ready"; sets ECHO_PID.
echo_start() {
    local name=$1
    shift
    topo_bg "$TMP/$name.log" "${IN_A[@]}" "$KBNET" l2echo --stats-interval 0 "$@"
    ECHO_PID=$BG_PID
    wait_for "$TMP/$name.log" "ready" && return 0
    echo "l2echo $name did not become ready:" >&2
    sed 's/^/    /' "$TMP/$name.log" >&2
    return 1
}
# echo_json NAME: the JSON summary line of a finished run.
echo_json() { grep '^{' "$TMP/$1.log" >"$TMP/$1.json" || echo '{}' >"$TMP/$1.json"; }

# ---- bad input: exit code 2, one line ------------------------------------
bad_input() { # bad_input NAME EXPECTED-TEXT PORT-SPEC [PREFIX...]
    local name=$1 want=$2 spec=$3
    shift 3
    local rc=0
    in_a "$@" timeout 30 "$KBNET" l2echo --port "$spec" --duration 1 >"$TMP/$name.out" 2>"$TMP/$name.err" || rc=$?
    local lines errline
    lines=$(wc -l <"$TMP/$name.err")
    errline=$(cat "$TMP/$name.err")
    if [[ $rc == 2 && $lines == 1 && $errline == *"$want"* ]]; then
        return 0
    fi
    echo "  exit $rc, stderr:" >&2
    sed 's/^/    /' "$TMP/$name.err" >&2
    return 1
}
check "nonexistent interface: exit 2, one line naming it" bad_input noif "no interface 'kbtnope0' (see \`ip link\`)" \
    afpacket:kbtnope0
ip -n "$NSA" link set va down
check "interface down: exit 2, one line with the fix" bad_input down \
    "afpacket:va: interface 'va' is down (ip link set dev va up)" afpacket:va
ip -n "$NSA" link set va up
# Taking the link down flushed the permanent neighbour entry; without it
# va's kernel would ARP for vb during the echo below (one more frame in).
ip -n "$NSA" neigh replace "$IPB" lladdr "$MACB" dev va nud permanent
ip -n "$NSA" link set va mtu 3000
check "MTU too large for the buffer frame: exit 2, names the limit" bad_input mtu "carries an MTU of at most 1774" \
    afpacket:va
ip -n "$NSA" link set va mtu 1500
if command -v setpriv >/dev/null; then
    check "without CAP_NET_RAW: exit 2, names the capability and root" bad_input nocap \
        "needs root or the capability CAP_NET_RAW" afpacket:va setpriv --reuid=65534 --regid=65534 --clear-groups
fi
check "bad input left the interface as it was (not promiscuous)" not_promisc

# ---- one queue: every frame echoed, nothing else ---------------------------
echo_start one --port afpacket:va,promisc=1 --duration 6 --json
check "promisc=1: va is promiscuous while l2echo runs" promisc
check "every frame echoed MAC-swapped, byte-identical otherwise (VLAN, fragments, ARP, TCP, raw EtherType)" \
    in_b "$TOPO_PY" "$HERE/afxdp_frames.py" vb "$MACB" "$MACA" "$IPB" "$IPA" "$PORT" all
wait "$ECHO_PID" && rc=0 || rc=$?
check "l2echo exits 0 at the end of --duration" test "$rc" = 0
echo_json one
rx=$(json_field "$TMP/one.json" rx_packets 2>/dev/null || echo 0)
tx=$(json_field "$TMP/one.json" tx_packets 2>/dev/null || echo -1)
# The kernel on va answers some of those frames (a reset to the TCP SYN,
# port-unreachable errors): outgoing frames, which the port must not take
# for received ones. So exactly the 11 frames sent, each echoed once.
check "exactly the 11 frames sent were received and echoed (rx $rx, tx $tx)" test "$rx" = 11 -a "$tx" = 11
check "promisc=1 is undone when the port closes" not_promisc

echo_start killed --port afpacket:va,promisc=1
kill -9 "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null || true
check "promisc=1 is undone by the kernel after kill -9" not_promisc

# ---- two queues: a fanout group shares 64 flows ---------------------------
cores=()
if (($(nproc) >= 2)) && "$KBNET" l2echo --help 2>&1 | grep -q -- "--cores"; then cores=(--cores 0-1); fi
echo_start two --port afpacket:va,queues=2 "${cores[@]}" --duration 6 --json
# 64 kernel UDP sockets, one flow each: the fanout hash spreads them over
# the two sockets (and the veth over both rx queues).
in_b "$TOPO_PY" - "$IPA" <<'PY'
import socket, sys, time
socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(64)]
for rnd in range(20):
    for s in socks:
        s.sendto(b"kbnet afpacket fanout test", (sys.argv[1], 9))
    time.sleep(0.01)
PY
wait "$ECHO_PID" && rc=0 || rc=$?
echo_json two
rx0=$(json_field "$TMP/two.json" queues 0 rx_packets 2>/dev/null || echo 0)
rx1=$(json_field "$TMP/two.json" queues 1 rx_packets 2>/dev/null || echo 0)
rx=$(json_field "$TMP/two.json" rx_packets 2>/dev/null || echo 0)
tx=$(json_field "$TMP/two.json" tx_packets 2>/dev/null || echo -1)
check "queues=2: l2echo exits 0" test "$rc" = 0
check "queues=2: both fanout sockets received (queue 0: $rx0, queue 1: $rx1)" test "$rx0" -gt 0 -a "$rx1" -gt 0
check "queues=2: each of the 1280 datagrams received once and echoed (rx $rx, tx $tx)" \
    test "$rx" = 1280 -a "$tx" = 1280

topo_finish
