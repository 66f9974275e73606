#!/usr/bin/env bash
# kbnet's IPv4 stack against the Linux kernel over a veth pair, AF_XDP, with
# the stack owning its own address (dedicated mode):
#   kbt-a-*: va  <- kbnet udp-echo, address IPK (the kernel of A keeps IPA)
#   kbt-b-*: vb  <- the kernel: ping, sockperf, Python UDP sockets, scapy
# Checks: ARP, ping (sequence numbers, checksums verified by tshark),
# sockperf ping-pong with no loss, UDP both ways byte-exact, IP fragments
# both ways, a storm of malformed frames dropped and counted by reason while
# the echo keeps answering, kbnet stackdump. Root (SKIP, exit 77, without).
set -uo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
KBNET=${1:?usage: test_udp_echo.sh path/to/kbnet}
source "$HERE/lib/topology.sh"
topo_require_root_and_afxdp
for tool in sockperf ping tshark; do
    command -v $tool >/dev/null || { echo "FAIL $tool not installed (make deps)"; exit 1; }
done
topo_veth_pair 1
IPK="${TOPO_NET%.0}.5"
PORT=11111
NAME="udp-echo-$TOPO_TAG"

topo_bg "$TMP/echo.log" "${IN_A[@]}" "$KBNET" udp-echo --port afxdp:va --listen "0.0.0.0:$PORT" \
    --address "$IPK/24" --core 0 --name "$NAME" --json
ECHO_PID=$BG_PID
check "udp-echo starts" wait_for "$TMP/echo.log" "udp-echo: 0.0.0.0:$PORT on $IPK" 100

# ---- ARP and ping, captured on the kernel side -------------------------------
"${IN_B[@]}" tshark -q -i vb -w "$TMP/ping.pcapng" -f "icmp or arp" >"$TMP/tshark.log" 2>&1 &
cap=$!
wait_for "$TMP/tshark.log" "Capturing on" 100
sleep 0.5
in_b ping -c 5 -i 0.2 -W 2 "$IPK" >"$TMP/ping.txt" 2>&1
sleep 0.5
kill -INT $cap
wait $cap 2>/dev/null
check "ping: 5 sent, 5 replies" grep -q "5 packets transmitted, 5 received" "$TMP/ping.txt"
check "ping: sequence numbers 1..5 answered" \
    test "$(grep -o 'icmp_seq=[0-9]*' "$TMP/ping.txt" | tr -d 'icmp_seq=' | tr '\n' ' ')" == "1 2 3 4 5 "
in_b ip neigh show "$IPK" dev vb >"$TMP/neigh.txt"
check "the kernel learned kbnet's MAC by ARP ($(cat "$TMP/neigh.txt"))" grep -qi "$MACA" "$TMP/neigh.txt"
tshark -r "$TMP/ping.pcapng" -Y "icmp.type == 0" -T fields -e icmp.checksum.status -e ip.checksum.status \
    -o ip.check_checksum:TRUE 2>/dev/null | sort | uniq -c >"$TMP/cksum.txt"
check "tshark: every echo reply has good ICMP and IP checksums ($(tr -s ' ' <"$TMP/cksum.txt"))" \
    test "$(awk '$2 == 1 && $3 == 1 {n += $1} END {print n + 0}' "$TMP/cksum.txt")" == 5
check "tshark: kbnet answered the kernel's ARP request" \
    test "$(tshark -r "$TMP/ping.pcapng" -Y "arp.opcode == 2 && arp.src.proto_ipv4 == $IPK" 2>/dev/null | wc -l)" -ge 1

# ---- sockperf ping-pong: the kernel's client against kbnet --------------------
in_b sockperf ping-pong -i "$IPK" -p "$PORT" -t 3 -m 64 >"$TMP/sockperf.txt" 2>&1
sent=$(grep -o 'SentMessages=[0-9]*' "$TMP/sockperf.txt" | head -1 | cut -d= -f2)
recv=$(grep -o 'ReceivedMessages=[0-9]*' "$TMP/sockperf.txt" | head -1 | cut -d= -f2)
echo "     sockperf: sent ${sent:-?} received ${recv:-?}; $(grep -o 'Latency is [0-9.]* usec' "$TMP/sockperf.txt")"
# The request in flight when the run ends is not lost; sockperf's own loss
# accounting (dropped, duplicated, out-of-order) must be all zeros.
check "sockperf ping-pong: no message dropped, duplicated or out of order" \
    grep -q "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0" "$TMP/sockperf.txt"
check "sockperf ping-pong: answers to all but at most the last request (${recv:-0} of ${sent:-0})" \
    test "${sent:-0}" -gt 1000 -a $((${sent:-0} - ${recv:-0})) -le 1 -a $((${sent:-0} - ${recv:-0})) -ge 0

# ---- UDP from and to kernel sockets, byte for byte; fragments both ways -------
cat >"$TMP/udp.py" <<'PY'
import os, socket, sys
dst, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
ok = bad = 0
# Small, MTU-sized, and larger than the MTU: 4000 and 9000 bytes leave the
# kernel as fragments, which kbnet reassembles; its echo leaves kbnet as
# fragments, which the kernel reassembles.
for size in [1, 14, 64, 512, 1472, 1473, 4000, 9000, 20000] * 3:
    data = os.urandom(size)
    s.sendto(data, (dst, port))
    try:
        back, frm = s.recvfrom(65535)
        ok += back == data and frm == (dst, port)
        bad += back != data
    except socket.timeout:
        bad += 1
print(f"udp ok {ok} bad {bad}")
PY
in_b "$TOPO_PY" "$TMP/udp.py" "$IPK" "$PORT" >"$TMP/udp.txt" 2>&1
check "kernel UDP -> kbnet -> kernel: 27 datagrams of 1..20000 bytes echoed byte for byte ($(cat "$TMP/udp.txt"))" \
    grep -q "udp ok 27 bad 0" "$TMP/udp.txt"

# ---- malformed frames while the echo goes on ---------------------------------
dump() { "$KBNET" stackdump --json "$NAME" >"$1" 2>/dev/null; }
counter() { json_field "$1" stacks 0 counters "$2" "$3"; }
dump "$TMP/before.json"
cat >"$TMP/storm.py" <<'PY'
import sys
from scapy.all import Ether, IP, UDP, ICMP, ARP, Raw, sendp, conf
conf.verb = 0
dst_ip, dst_mac, iface, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
eth = Ether(dst=dst_mac)
good = bytes(eth / IP(dst=dst_ip) / UDP(dport=port, sport=5000) / Raw(b"x" * 32))
frames = []
frames.append(good[:14 + 10])                                   # IPv4 header cut short
frames.append(bytes(eth / IP(dst=dst_ip, ihl=4) / UDP(dport=port) / Raw(b"y" * 20)))   # IHL below 5
frames.append(bytes(eth / IP(dst=dst_ip, len=2000) / UDP(dport=port) / Raw(b"y" * 20)))  # total length beyond the frame
bad_csum = bytearray(good); bad_csum[14 + 10] ^= 0xff; frames.append(bytes(bad_csum))  # header checksum
frames.append(bytes(eth / IP(dst=dst_ip, version=5) / UDP(dport=port)))                 # version 5
frames.append(bytes(eth / IP(dst=dst_ip) / UDP(dport=port, chksum=0x1234) / Raw(b"z" * 16)))  # UDP checksum
frames.append(bytes(eth / IP(dst=dst_ip) / UDP(dport=port, len=200) / Raw(b"z" * 16)))   # UDP length too long
# Overlapping fragments of one datagram: offset 0 (24 bytes) and offset 8.
frames.append(bytes(eth / IP(dst=dst_ip, id=777, flags="MF", frag=0, proto=17) / Raw(b"a" * 24)))
frames.append(bytes(eth / IP(dst=dst_ip, id=777, flags=0, frag=1, proto=17) / Raw(b"b" * 24)))
# A fragment that would end past 65535 bytes.
frames.append(bytes(eth / IP(dst=dst_ip, id=778, flags=0, frag=8190, proto=17) / Raw(b"c" * 64)))
# ARP for our address with a hardware type other than Ethernet, and with an
# unknown operation. (ARP too short to name its target, or for another
# protocol, cannot be told to be ours: the XDP program leaves it to the kernel.)
arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP(pdst=dst_ip, psrc="10.255.255.254"))
bad_htype = bytearray(arp); bad_htype[14:16] = b"\x00\x06"; frames.append(bytes(bad_htype))
bad_op = bytearray(arp); bad_op[14 + 6:14 + 8] = b"\x00\x07"; frames.append(bytes(bad_op))
frames.append(bytes(eth / IP(dst=dst_ip, proto=2) / Raw(b"\x11\x64\x00\x00")))           # IGMP too short/bad sum
frames.append(b"\x00" * 10)                                                             # runt
for _ in range(20):
    sendp([Raw(f) for f in frames], iface=iface)
PY
in_b "$TOPO_PY" "$TMP/storm.py" "$IPK" "$MACA" vb "$PORT" >"$TMP/storm.txt" 2>&1
sleep 0.5
dump "$TMP/after.json"
delta() { echo $(($(counter "$TMP/after.json" "$1" "$2") - $(counter "$TMP/before.json" "$1" "$2"))); }
for c in ip:InHdrErrorsTotalLength ip:InHdrErrorsIhl ip:InHdrErrorsChecksum ip:InHdrErrorsVersion \
    udp:InCsumErrors udp:InErrors ip:ReasmFails arp:InErrorsMalformed arp:InErrorsBadType; do
    d=$(delta "${c%%:*}" "${c#*:}")
    check "malformed frames counted by reason: $c +$d" test "$d" -ge 20
done
in_b "$TOPO_PY" "$TMP/udp.py" "$IPK" "$PORT" >"$TMP/udp2.txt" 2>&1
check "the echo still answers after the storm ($(cat "$TMP/udp2.txt"))" grep -q "udp ok 27 bad 0" "$TMP/udp2.txt"
check "the echo process is still running" kill -0 "$ECHO_PID"

# ---- stackdump ----------------------------------------------------------------
check "stackdump lists the stack with its pid and port" \
    test "$(json_field "$TMP/after.json" stacks 0 pid)" == "$ECHO_PID" -a \
    "$(json_field "$TMP/after.json" stacks 0 port)" == "afxdp:va"
check "stackdump shows the bound socket" \
    test "$(json_field "$TMP/after.json" stacks 0 sockets 0 local_port)" == "$PORT"

kill -INT "$ECHO_PID"
wait "$ECHO_PID"
check "udp-echo exits 0 on SIGINT" test $? == 0
check "the stack's segment is gone after exit" bash -c "! ls /dev/shm | grep -q 'kbnet-stack.$ECHO_PID.'"
topo_finish
