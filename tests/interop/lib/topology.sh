# Test topology helper for interop scripts (bash; source it).
#
#   source "$HERE/lib/topology.sh"
#   topo_require_root_and_afxdp          # SKIP (exit 77) with the reason otherwise
#   topo_veth_pair 2                     # two namespaces, one veth pair with 2 queues
#   in_a CMD...; in_b CMD...             # run in namespace A (kbnet side) or B (kernel side)
#   check "what" CMD...                  # counts ok/FAIL lines
#   topo_finish                          # prints "N passed, M failed", exits 0/1
#
# Namespaces are named kbt-<x>-<pid>-<random> so runs can overlap; the veth
# ends are created inside them, so the root namespace is never touched.
# Everything made here is removed by an EXIT trap, also on failure or
# interruption. Background processes started with topo_bg are killed first.

TOPO_PY=/usr/bin/python3 # Debian's python3-scapy is installed for this one
TOPO_TAG="$$-$RANDOM"
NSA="kbt-a-$TOPO_TAG"
NSB="kbt-b-$TOPO_TAG"
TOPO_NET="10.$((RANDOM % 200 + 20)).$((RANDOM % 250)).0"
IPA="${TOPO_NET%.0}.1"
IPB="${TOPO_NET%.0}.2"
MACA="02:00:00:aa:00:01"
MACB="02:00:00:bb:00:02"
TMP=$(mktemp -d /tmp/kbt-topo-XXXXXX)
BPFFS="$TMP/bpffs"
topo_pids=()
topo_passed=0
topo_failed=0

topo_skip() {
    echo "SKIP: $*"
    exit 77
}

topo_cleanup() {
    set +e
    for p in "${topo_pids[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    mountpoint -q "$BPFFS" 2>/dev/null && umount "$BPFFS"
    rm -rf "$TMP"
}
trap topo_cleanup EXIT

topo_require_root_and_afxdp() {
    [[ $(id -u) == 0 ]] || topo_skip "needs root (network namespaces and XDP)"
    command -v ip >/dev/null || topo_skip "ip (iproute2) not installed; run make deps"
    command -v ethtool >/dev/null || topo_skip "ethtool not installed; run make deps"
    # 44 = AF_XDP
    "$TOPO_PY" -c 'import socket; socket.socket(44, socket.SOCK_RAW, 0).close()' 2>/dev/null ||
        topo_skip "this kernel has no AF_XDP sockets (CONFIG_XDP_SOCKETS)"
}

# topo_veth_pair [QUEUES]: NSA:va (MACA, IPA) <-> NSB:vb (MACB, IPB).
topo_veth_pair() {
    local queues=${1:-1}
    ip netns add "$NSA"
    ip netns add "$NSB"
    ip -n "$NSA" link add va address "$MACA" numrxqueues "$queues" numtxqueues "$queues" type veth \
        peer name vb netns "$NSB" address "$MACB" numrxqueues "$queues" numtxqueues "$queues"
    local ns
    for ns in "$NSA" "$NSB"; do
        ip -n "$ns" link set lo up
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
    done
    ip -n "$NSA" addr add "$IPA/24" dev va
    ip -n "$NSB" addr add "$IPB/24" dev vb
    ip -n "$NSA" link set va up
    ip -n "$NSB" link set vb up
    ip -n "$NSA" neigh replace "$IPB" lladdr "$MACB" dev va nud permanent
    ip -n "$NSB" neigh replace "$IPA" lladdr "$MACA" dev vb nud permanent
    # Full checksums from the kernel side, and GRO on so frames that XDP
    # redirects into a veth are not lost (../shared/peers.md).
    ip netns exec "$NSB" ethtool -K vb tx off >/dev/null
    ip netns exec "$NSB" ethtool -K vb gro on >/dev/null
    mkdir -p "$BPFFS"
    mount -t bpf bpf "$BPFFS"
}

in_a() { ip netns exec "$NSA" env LIBXDP_BPFFS="$BPFFS" "$@"; }
in_b() { ip netns exec "$NSB" "$@"; }
# The same as command prefixes, for topo_bg: started through a function,
# the background PID would be a subshell's, and a signal sent to it would
# not reach the program (ip netns exec and env exec it, keeping the PID).
IN_A=(ip netns exec "$NSA" env LIBXDP_BPFFS="$BPFFS")
IN_B=(ip netns exec "$NSB")

# topo_bg LOG CMD...: runs CMD in the background (killed at exit); sets BG_PID.
topo_bg() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    BG_PID=$!
    topo_pids+=("$BG_PID")
}

# wait_for FILE PATTERN [TENTHS]: true once FILE contains PATTERN.
wait_for() {
    local i
    for ((i = 0; i < ${3:-100}; i++)); do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

check() {
    local what=$1
    shift
    if "$@"; then
        echo "ok   $what"
        topo_passed=$((topo_passed + 1))
    else
        echo "FAIL $what"
        topo_failed=$((topo_failed + 1))
    fi
}

topo_finish() {
    echo "$topo_passed passed, $topo_failed failed"
    ((topo_failed == 0))
    exit $?
}

json_field() { "$TOPO_PY" -c 'import json,sys
d=json.load(open(sys.argv[1]))
for k in sys.argv[2:]: d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$@"; }
