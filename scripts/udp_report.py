#!/usr/bin/env python3
"""Prints scripts/bench_udp.sh's results side by side: udp_report.py RESULTS.json"""
import json
import sys

d = json.load(open(sys.argv[1]))


def row(label, r):
    f = lambda k: f"{r[k]:.2f}" if k in r else "-"
    return f"  {label:<44}{f('p50'):>8}{f('p99'):>8}{f('p999'):>9}{f('max'):>10}{f('avg'):>8}"


print()
print("UDP ping-pong, 64-byte messages, half round trip in us (sockperf's latency)")
print(f"  {'server':<44}{'p50':>8}{'p99':>8}{'p99.9':>9}{'max':>10}{'avg':>8}")
if "skipped_afxdp" in d:
    print(f"  sockperf against kbnet and the kernel: skipped ({d['skipped_afxdp']})")
else:
    clients = {
        "sleeping": "sockperf's default client, sleeping in epoll_wait",
        "polling": "the client spinning in epoll_wait (--nonblocked --timeout 0)",
    }
    for client, c in d.get("clients", {}).items():
        k, n = c.get("kbnet", {}), c.get("kernel", {})
        print("  the same kernel sockperf client (CPU 1) over one veth pair, server on CPU 0;")
        print(f"  {clients.get(client, client)}:")
        print(row("kbnet udp-echo on AF_XDP (copy mode)", k))
        print(row("kernel sockperf server", n))
        for name, r in (("kbnet", k), ("kernel", n)):
            if "sent" in r:
                print(f"    {name}: {r['sent']} requests, {r['received']} answers, "
                      f"{'no loss' if r.get('no_loss') else 'LOSS reported by sockperf'}")
        print(f"    rounds (p50): kbnet {c.get('kbnet_rounds_p50')}, kernel {c.get('kernel_rounds_p50')} (best kept)")
        for key, goal in (("p50", 0.6), ("p999", 0.5)):
            if key in k and key in n and n[key] > 0:
                ratio = k[key] / n[key]
                verdict = "PASS" if ratio <= goal else "MISS"
                print(f"  {client} client, kbnet / kernel {key}: {ratio:.2f}x   target <= {goal}x   {verdict}")
            else:
                print(f"  {client} client, kbnet / kernel {key}: no result   MISS")
m = d.get("memif", {})
print("  kbnet udp-ping (CPU 1) <-> kbnet udp-echo (CPU 0) over memif, both on kbnet's stack:")
if m:
    print(row("kbnet to kbnet over memif", m))
    if m.get("sent") is not None:
        print(f"    {m['sent']} requests, {m['received']} answers, {m['lost']} lost")
    if "p50" in m:
        verdict = "PASS" if m["p50"] < 1.0 else "MISS"
        print(f"  memif half round trip p50 {m['p50']:.2f} us   target < 1 us   {verdict}")
else:
    print("  (no result)")
