#!/usr/bin/env bash
# Multicast into kbnet's stack over a veth pair, AF_XDP, dedicated mode:
#   kbt-a-*: va  <- kbnet mcast-recv, address IPK, 2 sockets joined to GROUP:GPORT
#   kbt-b-*: vb  <- the kernel: a Python sender multicasting to the group, tshark
# Checks: the IGMPv3 report for the group appears on the wire when kbnet
# joins (TTL 1, Router Alert, to 224.0.0.22); both kbnet sockets receive
# every one of the kernel's 200 datagrams, with the same digest as the
# sender's; the leave (CHANGE_TO_INCLUDE_MODE) appears when kbnet exits.
# Root (SKIP, exit 77, without).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KBNET=${1:?usage: test_multicast.sh path/to/kbnet}
source "$HERE/lib/topology.sh"
topo_require_root_and_afxdp
command -v tshark >/dev/null || { echo "FAIL tshark not installed (make deps)"; exit 1; }
topo_veth_pair 1
IPK="${TOPO_NET%.0}.5"
GROUP=239.1.2.3
GPORT=5000
COUNT=200
NAME="mcast-recv-$TOPO_TAG"

# ---- capture IGMP on the kernel side for the whole run ------------------------
topo_bg "$TMP/tshark.log" "${IN_B[@]}" tshark -i vb -w "$TMP/igmp.pcapng" -f igmp
CAP_PID=$BG_PID
check "tshark captures on vb" wait_for "$TMP/tshark.log" "Capturing on" 100

cat >"$TMP/send.py" <<'PY'
import random, socket, struct, sys, time
group, port, count, iface_ip = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# Out through vb (there is no multicast route), one hop.
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(iface_ip))
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
digest = 0xcbf29ce484222325
rng = random.Random(7)
for i in range(count):
    data = struct.pack("!I", i) + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 1400)))
    s.sendto(data, (group, port))
    # The digest kbnet computes: FNV-1a 64 over length (4 bytes, big
    # endian) and bytes of each datagram, in order.
    for b in struct.pack("!I", len(data)) + data:
        digest = ((digest ^ b) * 0x100000001b3) & 0xffffffffffffffff
    time.sleep(0.001)
print(f"sent {count} digest {digest:016x}")
PY

# receive_phase MODE [--address IP/PREFIX]: mcast-recv with two sockets, the
# kernel's datagrams, SIGINT; leaves the summary in $TMP/recv-MODE.json.
receive_phase() {
    local mode=$1 log="$TMP/recv-$1.log"
    shift
    topo_bg "$log" "${IN_A[@]}" "$KBNET" mcast-recv --port afxdp:va "$@" \
        --group "$GROUP:$GPORT" --sockets 2 --name "$NAME-$mode" --json
    RECV_PID=$BG_PID
    check "$mode: mcast-recv starts and joins" wait_for "$log" "mcast-recv: 2 sockets joined $GROUP:$GPORT" 100
    check "$mode: mcast-recv reports the $mode address model" grep -q "$mode address" "$log"
    sleep 0.5
    if [ "$mode" = shared ]; then
        # The kernel holds the membership for the shared address.
        check "shared: the kernel joined $GROUP on va (ip maddr)" \
            sh -c "ip -n '$NSA' maddr show dev va | grep -qw '$GROUP'"
    fi
    in_b "$TOPO_PY" "$TMP/send.py" "$GROUP" "$GPORT" "$COUNT" "$IPB" >"$TMP/send-$mode.txt" 2>&1
    check "$mode: the kernel sent $COUNT datagrams to $GROUP ($(cat "$TMP/send-$mode.txt"))" \
        grep -q "^sent $COUNT digest" "$TMP/send-$mode.txt"
    local want
    want=$(awk '/^sent/ {print $4}' "$TMP/send-$mode.txt")
    sleep 0.5
    kill -INT "$RECV_PID"
    wait "$RECV_PID"
    check "$mode: mcast-recv exits 0 on SIGINT" test $? == 0
    grep '^{' "$log" | tail -1 >"$TMP/recv-$mode.json"
    local i got dig
    for i in 0 1; do
        got=$(json_field "$TMP/recv-$mode.json" sockets $i received 2>/dev/null)
        dig=$(json_field "$TMP/recv-$mode.json" sockets $i digest 2>/dev/null)
        check "$mode: kbnet socket $i received all $COUNT datagrams (${got:-?})" test "${got:-0}" == "$COUNT"
        check "$mode: kbnet socket $i saw the sender's bytes in order (digest ${dig:-?} vs $want)" \
            test "${dig:-x}" == "$want"
    done
}

# ---- dedicated: kbnet owns IPK and is the group's member on the wire ----------
receive_phase dedicated --address "$IPK/24"
reports=$(json_field "$TMP/recv-dedicated.json" igmp_out_reports 2>/dev/null)
leaves=$(json_field "$TMP/recv-dedicated.json" igmp_out_leaves 2>/dev/null)
# RFC 3376 §5.1: each state change is sent [Robustness Variable] (2) times.
check "dedicated: kbnet counted 2 join reports (${reports:-?}) and 2 leaves (${leaves:-?})" \
    test "${reports:-0}" == 2 -a "${leaves:-0}" == 2

# ---- shared: the interface's address; the kernel keeps IGMP -------------------
receive_phase shared
reports=$(json_field "$TMP/recv-shared.json" igmp_out_reports 2>/dev/null)
check "shared: the stack sent no IGMP itself (${reports:-?} reports)" test "${reports:-x}" == 0
check "shared: the kernel left $GROUP when kbnet exited" \
    sh -c "! ip -n '$NSA' maddr show dev va | grep -qw '$GROUP'"

# ---- what the wire saw --------------------------------------------------------
sleep 0.3
kill -INT "$CAP_PID"
wait "$CAP_PID" 2>/dev/null
fields() { tshark -r "$TMP/igmp.pcapng" -Y "$1" -T fields -e frame.number "${@:2}" 2>/dev/null; }
join=$(fields "ip.src == $IPK && igmp.type == 0x22 && igmp.maddr == $GROUP && igmp.record_type == 4" | head -1)
leave=$(fields "ip.src == $IPK && ((igmp.type == 0x22 && igmp.maddr == $GROUP && igmp.record_type == 3) || \
    (igmp.type == 0x17 && igmp.maddr == $GROUP))" | head -1)
check "tshark: a v3 report CHANGE_TO_EXCLUDE_MODE for $GROUP from $IPK (frame ${join:-none})" test -n "$join"
check "tshark: the join report went to 224.0.0.22 with TTL 1 and Router Alert" \
    test "$(fields "frame.number == ${join:-0}" -e ip.dst -e ip.ttl -e ip.opt.type | tr '\t' ' ')" == \
    "${join:-0} 224.0.0.22 1 148"
check "tshark: the leave (CHANGE_TO_INCLUDE_MODE or v2 leave) for $GROUP after the join (frame ${leave:-none})" \
    test -n "$leave" -a "${leave:-0}" -gt "${join:-0}"
tshark -r "$TMP/igmp.pcapng" -Y "ip.src == $IPK" -T fields -e ip.checksum.status -e igmp.checksum.status \
    -o ip.check_checksum:TRUE 2>/dev/null | sort | uniq -c >"$TMP/cksum.txt"
check "tshark: every IGMP message from kbnet has good IP and IGMP checksums ($(tr -s ' \n' ' ' <"$TMP/cksum.txt"))" \
    test "$(awk '$2 != 1 || $3 != 1 {bad += $1} END {print bad + 0}' "$TMP/cksum.txt")" == 0 -a -s "$TMP/cksum.txt"
kernel_join=$(fields "ip.src == $IPA && igmp.maddr == $GROUP && (igmp.type == 0x22 || igmp.type == 0x16)" | head -1)
check "tshark: the kernel reported $GROUP from $IPA for the shared stack (frame ${kernel_join:-none})" \
    test -n "$kernel_join"
topo_finish
