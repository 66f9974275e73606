#!/usr/bin/python3
"""Sends crafted frames on an interface and checks which come back echoed
(MACs swapped, every other byte the same), for test_afxdp_echo.sh.

Run inside the sender's network namespace, with Debian's python3 (scapy is
installed for /usr/bin/python3):

  afxdp_frames.py IFACE OUR_MAC PEER_MAC OUR_IP PEER_IP PORT EXPECT

EXPECT says which frames the echo should return:
  all       every frame (the port steers everything to user space)
  filtered  only the unfragmented IPv4 UDP frames to PORT (plain and in a
            VLAN), since the port's XDP filter is udp:PORT; the rest must
            reach the peer's kernel instead and never come back echoed

Prints one line per frame kind and a JSON summary; exits 0 when what came
back is exactly what EXPECT says.
"""
import json
import random
import sys
import time

from scapy.all import ARP, IP, TCP, UDP, AsyncSniffer, Dot1Q, Ether, Raw, conf, sendp  # noqa: E402

conf.verb = 0


def swapped(frame: bytes) -> bytes:
    return frame[6:12] + frame[0:6] + frame[12:]


def frames(our_mac, peer_mac, our_ip, peer_ip, port, rng):
    """(name, bytes, echoed_when_filtered) for every kind of frame."""
    eth = Ether(src=our_mac, dst=peer_mac)
    out = []
    for size in (18, 100, 1000, 1400):
        payload = bytes(rng.getrandbits(8) for _ in range(size))
        out.append((f"udp:{port} {size}B", eth / IP(src=our_ip, dst=peer_ip) / UDP(sport=40000 + size, dport=port) / Raw(payload), True))
    out.append((f"vlan udp:{port}", Ether(src=our_mac, dst=peer_mac) / Dot1Q(vlan=5) / IP(src=our_ip, dst=peer_ip) / UDP(sport=40001, dport=port) / Raw(b"vlan" * 10), True))
    out.append((f"udp:{port + 1} (other port)", eth / IP(src=our_ip, dst=peer_ip) / UDP(sport=40002, dport=port + 1) / Raw(b"x" * 64), False))
    out.append((f"tcp:{port} SYN (other protocol)", eth / IP(src=our_ip, dst=peer_ip) / TCP(sport=40003, dport=port, flags="S", seq=1), False))
    out.append(("first fragment", eth / IP(src=our_ip, dst=peer_ip, id=77, flags="MF", frag=0, proto=17) / Raw(bytes(UDP(sport=40004, dport=port, len=208)) + b"f" * 96), False))
    out.append(("later fragment", eth / IP(src=our_ip, dst=peer_ip, id=77, frag=13, proto=17) / Raw(b"g" * 96), False))
    out.append(("arp request", Ether(src=our_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=our_mac, psrc=our_ip, pdst="10.255.255.254"), False))
    out.append(("ethertype 0x88b5", Ether(src=our_mac, dst=peer_mac, type=0x88B5) / Raw(bytes(rng.getrandbits(8) for _ in range(50))), False))
    return [(name, bytes(f), filt) for name, f, filt in out]


def main():
    iface, our_mac, peer_mac, our_ip, peer_ip, port, expect = sys.argv[1:8]
    port = int(port)
    rng = random.Random(port)
    sent = frames(our_mac, peer_mac, our_ip, peer_ip, port, rng)
    want = {swapped(f): name for name, f, filt in sent if expect == "all" or filt}
    unwanted = {swapped(f): name for name, f, filt in sent if not (expect == "all" or filt)}

    # Whole frames are compared, so the kernel's own traffic (ARP replies,
    # ICMP errors) never counts as an echo.
    interesting = set(want) | set(unwanted)
    sniffer = AsyncSniffer(iface=iface, store=True, lfilter=lambda p: bytes(p) in interesting)
    sniffer.start()
    time.sleep(0.5)
    for _, f, _ in sent:
        sendp(f, iface=iface)
    deadline = time.time() + 3
    while time.time() < deadline:
        got = {bytes(p) for p in (sniffer.results or [])}
        if all(w in got for w in want):
            break
        time.sleep(0.1)
    time.sleep(0.5)  # let anything unwanted arrive too
    captured = sniffer.stop()
    got = [bytes(p) for p in captured]

    ok = True
    for name, f, filt in sent:
        expected = expect == "all" or filt
        n = sum(1 for g in got if g == swapped(f))
        good = (n >= 1) if expected else (n == 0)
        ok = ok and good
        print(f"{'ok  ' if good else 'FAIL'} {name}: {'echoed' if n else 'not echoed'}"
              f" ({'expected' if expected else 'must stay with the kernel'})")
    summary = {
        "sent": len(sent),
        "expected_echoes": len(want),
        "echoed": sum(1 for w in want if w in got),
        "unexpected_echoes": sorted({unwanted[g] for g in got if g in unwanted}),
    }
    print(json.dumps(summary))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
