#!/usr/bin/env python3
"""kbnet pktgen writes exactly the frames it says: over a pcap port, N frames
of the requested size, each a valid UDP/IPv4 datagram (checksums verified
here by an independent implementation, and by tshark when installed), with
sequence numbers 0..N-1 and source ports spread over the requested flows;
its JSON summary counts them all as sent and, with nothing to echo them,
all as lost. Over an in-process pair with --echo (and fault injection) it
counts loss, duplicates and reordering and measures round trips. Bad
options are one-line errors with exit code 2.

usage: test_pktgen_pcap.py PATH-TO-kbnet
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import pcaplib  # noqa: E402

KBNET = sys.argv[1]
failures = []
passes = []

MAGIC = 0x6B50  # "kP", tools/kbnet/pktgen_payload.hpp


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


def csum(data):
    """RFC 1071 internet checksum of bytes (the complement of the folded sum)."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def parse_frame(f):
    """Returns a dict of the frame's fields and checksum verdicts, or a str saying what is wrong."""
    if len(f) < 42:
        return f"{len(f)} bytes: shorter than Ethernet + IPv4 + UDP"
    if struct.unpack_from("!H", f, 12)[0] != 0x0800:
        return "not IPv4"
    ip = f[14:34]
    if ip[0] != 0x45:
        return f"IPv4 version/IHL byte {ip[0]:#x}, expected 0x45"
    total_len, ident, flags_frag, _, proto = struct.unpack_from("!HHHBB", ip, 2)
    src, dst = ip[12:16], ip[16:20]
    if proto != 17:
        return f"protocol {proto}, not UDP"
    if total_len != len(f) - 14:
        return f"IPv4 total length {total_len} for a {len(f)}-byte frame"
    udp = f[34:14 + total_len]
    sport, dport, ulen, ucsum = struct.unpack_from("!HHHH", udp, 0)
    if ulen != len(udp):
        return f"UDP length {ulen}, datagram {len(udp)}"
    pseudo = src + dst + struct.pack("!BBH", 0, 17, ulen)
    payload = udp[8:]
    magic, seq, tsc = struct.unpack_from("!HQQ", payload, 0)
    return {
        "ip_csum_ok": csum(ip) == 0,
        "udp_csum_present": ucsum != 0,
        "udp_csum_ok": csum(pseudo + udp) == 0,
        "ident": ident, "df": bool(flags_frag & 0x4000), "src": src, "dst": dst,
        "sport": sport, "dport": dport, "magic": magic, "seq": seq, "tsc": tsc,
        "padding_zero": all(b == 0 for b in payload[18:]),
        "dst_mac": f[0:6], "src_mac": f[6:12],
    }


def pktgen(*args, timeout=60):
    proc = subprocess.run([KBNET, "pktgen", "--stats-interval", "0", *args], capture_output=True, text=True,
                          timeout=timeout)
    summary = {}
    if proc.returncode == 0 and "--json" in args:
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
    return proc, summary


def test_pcap(tmp):
    out = os.path.join(tmp, "gen.pcap")
    proc, s = pktgen("--port", f"pcap:-,out={out}", "--count", "1000", "--flows", "8", "--size", "128", "--json")
    check(proc.returncode == 0, f"pcap: exit code 0 (got {proc.returncode}: {proc.stderr.strip()[-300:]})")
    check(s.get("tx_packets") == 1000, f"pcap: JSON tx_packets 1000 (got {s.get('tx_packets')})")
    check(s.get("rx_packets") == 0 and s.get("lost") == 1000,
          f"pcap: nothing came back, lost 1000 (rx {s.get('rx_packets')}, lost {s.get('lost')})")
    check(s.get("stopped_by") == "count", f"pcap: stopped by --count (got {s.get('stopped_by')})")
    for key in ("reordered", "foreign", "seconds", "tx_mpps", "rx_mpps", "rtt_ns", "config"):
        check(key in s, f"pcap: JSON has {key}")
    rtt = s.get("rtt_ns", {})
    check(all(k in rtt for k in ("p50", "p99", "p999", "max", "min", "mean")) and rtt.get("samples") == 0,
          f"pcap: rtt_ns has p50/p99/p999/max/min/mean and 0 samples ({rtt})")
    cfg = s.get("config", {})
    check(cfg.get("size") == 128 and cfg.get("flows") == 8 and cfg.get("dst_port") == 9,
          f"pcap: JSON config echoes the options ({cfg})")

    header, records = pcaplib.read(out) if os.path.exists(out) else ({}, [])
    frames = [r[2] for r in records]
    check(header.get("linktype") == pcaplib.LINKTYPE_ETHERNET, "pcap: output is an Ethernet pcap")
    check(len(frames) == 1000, f"pcap: exactly 1000 frames written (got {len(frames)})")
    check(all(len(f) == 128 for f in frames), f"pcap: every frame is 128 bytes ({sorted({len(f) for f in frames})})")
    parsed = [parse_frame(f) for f in frames]
    bad = [(i, p) for i, p in enumerate(parsed) if isinstance(p, str)]
    check(not bad, f"pcap: every frame is Ethernet/IPv4/UDP (first problem: {bad[:1]})")
    if bad:
        return
    check(all(p["ip_csum_ok"] for p in parsed), "pcap: every IPv4 header checksum verifies")
    check(all(p["udp_csum_present"] and p["udp_csum_ok"] for p in parsed),
          "pcap: every UDP checksum is present and verifies over pseudo-header and data")
    check([p["seq"] for p in parsed] == list(range(1000)), "pcap: sequence numbers 0..999 in order")
    check(all(p["magic"] == MAGIC for p in parsed), "pcap: every payload starts with the magic")
    sports = {p["sport"] for p in parsed}
    check(sports == set(range(1024, 1032)), f"pcap: 8 distinct source ports 1024..1031 (got {sorted(sports)})")
    check(all(p["sport"] == 1024 + p["seq"] % 8 for p in parsed), "pcap: one queue: flow = seq % flows")
    check(all(p["dport"] == 9 for p in parsed), "pcap: destination port 9")
    check(all(p["src"] == bytes([10, 0, 0, 1]) and p["dst"] == bytes([10, 0, 0, 2]) for p in parsed),
          "pcap: 10.0.0.1 -> 10.0.0.2")
    check(all(p["dst_mac"] == bytes.fromhex("020000000002") and p["src_mac"] == bytes.fromhex("020000000001")
              for p in parsed), "pcap: default MACs 02:00:00:00:00:01 -> 02:00:00:00:00:02 (unicast)")
    check(len({p["ident"] for p in parsed}) == 1 and parsed[0]["ident"] == cfg.get("run_tag"),
          "pcap: IPv4 identification is the run tag of the JSON config, in every frame")
    check(all(p["df"] for p in parsed), "pcap: DF set")
    check(all(p["padding_zero"] for p in parsed), "pcap: bytes after the 18-byte payload are zero")
    tscs = [p["tsc"] for p in parsed]
    check(all(a <= b for a, b in zip(tscs, tscs[1:])) and tscs[0] > 0, "pcap: timestamps non-zero, non-decreasing")

    # Other sizes, including the minimum and odd lengths, and options.
    for size in (60, 61, 1514):
        out2 = os.path.join(tmp, f"gen{size}.pcap")
        proc, s = pktgen("--port", f"pcap:-,out={out2}", "--count", "50", "--size", str(size), "--json",
                         "--src-mac", "02:11:22:33:44:55", "--dst-mac", "02:66:77:88:99:aa", "--src-ip", "192.0.2.1",
                         "--dst-ip", "192.0.2.200", "--dst-port", "7777", "--src-port", "40000")
        frames = [r[2] for r in pcaplib.read(out2)[1]] if proc.returncode == 0 else []
        parsed = [parse_frame(f) for f in frames]
        ok = (len(frames) == 50 and all(len(f) == size for f in frames) and
              all(isinstance(p, dict) and p["ip_csum_ok"] and p["udp_csum_ok"] and p["dport"] == 7777 and
                  p["sport"] == 40000 and p["src"] == bytes([192, 0, 2, 1]) and
                  p["src_mac"] == bytes.fromhex("021122334455") for p in parsed))
        check(ok, f"size {size} with explicit addresses and ports: 50 valid frames (rc {proc.returncode})")

    # tshark's dissectors agree: no bad checksum, nothing malformed.
    if shutil.which("tshark") is None:
        print("SKIP tshark checks: tshark not installed")
        return
    t = subprocess.run(["tshark", "-r", out, "-o", "udp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-V"],
                       capture_output=True, text=True, timeout=120)
    check(t.returncode == 0, f"tshark: reads the capture (rc {t.returncode}: {t.stderr.strip()[:200]})")
    text = t.stdout
    check("Bad" not in text and "Malformed" not in text and "[incorrect" not in text,
          "tshark: no bad checksum, nothing malformed")
    good_udp = text.count("[Checksum Status: Good]")
    good_ip = text.count("[Header checksum status: Good]")
    check(good_udp == 1000 and good_ip == 1000,
          f"tshark: 1000 good UDP and 1000 good IPv4 checksums (got {good_udp}, {good_ip})")


def test_echo(tmp):
    # No loss over an in-process pair with an echo at a moderate rate.
    proc, s = pktgen("--port", "pair:gen", "--echo", "--count", "20000", "--rate", "50000", "--flows", "4",
                     "--wait-ms", "2000", "--json")
    check(proc.returncode == 0, f"echo: exit code 0 (got {proc.returncode}: {proc.stderr.strip()[-300:]})")
    rtt = s.get("rtt_ns", {})
    check(s.get("tx_packets") == 20000 and s.get("rx_packets") == 20000 and s.get("lost") == 0,
          f"echo: 20000 sent, 20000 back, none lost (tx {s.get('tx_packets')} rx {s.get('rx_packets')} "
          f"lost {s.get('lost')})")
    check(s.get("reordered") == 0 and s.get("duplicates") == 0 and s.get("foreign") == 0,
          f"echo: no reordering, duplicates or foreign frames ({s.get('reordered')}, {s.get('duplicates')}, "
          f"{s.get('foreign')})")
    check(rtt.get("samples") == 20000 and 0 < rtt.get("min", 0) <= rtt.get("p50", 0) <= rtt.get("p99", 0) <=
          rtt.get("p999", 0) <= rtt.get("max", 0), f"echo: 20000 round trips, ordered percentiles ({rtt})")
    # Pacing: never faster than asked; what was not sent on time (this
    # thread preempted on a busy machine) is counted as shortfall, and the
    # two add up to the rate over the time taken (one 50-packet depth of
    # slack above; 10 % below for a preemption just before the end).
    secs, tx, short = s.get("seconds", 0), s.get("tx_packets", 0), s.get("pacing_shortfall", -1)
    check(short >= 0 and 0.9 * 50000 * secs <= tx + short <= 50000 * secs + 52,
          f"echo: --rate 50000: sent {tx} + shortfall {short} = 50 kpps over {secs:.3f} s")

    # Faults injected on the generator's side are counted as what they are.
    proc, s = pktgen("--port", "fault(drop=0.1,seed=7,side=tx):pair:lossy", "--echo", "--count", "10000", "--rate",
                     "50000", "--wait-ms", "2000", "--json")
    lost = s.get("lost", -1)
    check(proc.returncode == 0 and 700 <= lost <= 1300 and s.get("duplicates") == 0,
          f"fault drop=0.1: about 10 % of 10000 lost (got {lost})")
    proc, s = pktgen("--port", "fault(duplicate=0.05,seed=7,side=rx):pair:dups", "--echo", "--count", "10000",
                     "--rate", "50000", "--wait-ms", "2000", "--json")
    dups = s.get("duplicates", -1)
    check(proc.returncode == 0 and 300 <= dups <= 700 and s.get("lost") == 0 and s.get("rx_packets") == 10000,
          f"fault duplicate=0.05: about 500 duplicates, not counted as received (got {dups}, "
          f"rx {s.get('rx_packets')}, lost {s.get('lost')})")
    proc, s = pktgen("--port", "fault(reorder=0.05,seed=7,side=rx):pair:reord", "--echo", "--count", "10000",
                     "--rate", "50000", "--wait-ms", "2000", "--json")
    reord = s.get("reordered", -1)
    check(proc.returncode == 0 and reord >= 100 and s.get("lost") == 0 and s.get("duplicates") == 0,
          f"fault reorder=0.05: reordering counted, nothing lost (reordered {reord}, lost {s.get('lost')})")

    # Two queues: each flow is sent on one queue, so the two queues' echoes
    # interleave (reordered overall) but no flow is ever reordered.
    proc, s = pktgen("--port", "pair:mq,queues=2", "--echo", "--flows", "8", "--count", "20000", "--rate", "50000",
                     "--wait-ms", "2000", "--json")
    check(proc.returncode == 0 and s.get("rx_packets") == 20000 and s.get("flow_reordered") == 0,
          f"two queues, 8 flows: all back, none reordered within its flow (rx {s.get('rx_packets')}, "
          f"reordered {s.get('reordered')}, within a flow {s.get('flow_reordered')})")

    # As fast as possible into a shallow ring: the ring is often full, and
    # the frames it refuses are held and renumbered, so the numbers that
    # come back are still a gap-free, in-order stream (echo-side overflow
    # aside, which is loss).
    proc, s = pktgen("--port", "pair:full,depth=64", "--echo", "--count", "200000", "--flows", "4", "--json")
    check(proc.returncode == 0 and s.get("tx_packets") == 200000 and s.get("tx_ring_full", 0) > 0 and
          s.get("reordered") == 0 and s.get("duplicates") == 0 and s.get("foreign") == 0 and
          s.get("rx_packets", 0) + s.get("lost", 0) == 200000 and s.get("rx_packets", 0) > 100000,
          f"rate 0 into a 64-deep ring: 200000 sent in order, ring full {s.get('tx_ring_full')} times, "
          f"rx {s.get('rx_packets')} + lost {s.get('lost')}, reordered {s.get('reordered')}, "
          f"foreign {s.get('foreign')}")

    # --duration stops sending after that long, then drains.
    proc, s = pktgen("--port", "pair:dur", "--echo", "--duration", "0.5", "--rate", "10000", "--json")
    tx, short = s.get("tx_packets", 0), s.get("pacing_shortfall", 0)
    check(proc.returncode == 0 and s.get("stopped_by") == "duration" and 0.5 <= s.get("seconds", 0) <= 0.6 and
          4500 <= tx + short <= 5000 + 32 and s.get("lost") == 0,
          f"--duration 0.5 at 10 kpps: 5000 due in 0.5 s (sent {tx} + shortfall {short}, {s.get('seconds')} s, "
          f"lost {s.get('lost')})")

    # The human-readable summary.
    proc, _ = pktgen("--port", "pair:text", "--echo", "--count", "1000", "--rate", "100000")
    check(proc.returncode == 0 and "pktgen: sent 1000 frames" in proc.stdout and "rtt p50" in proc.stdout,
          f"text summary names the frames sent and the round trip ({proc.stdout.strip()[:300]})")


def test_bad_options(tmp):
    out = os.path.join(tmp, "bad.pcap")
    cases = [
        ("size below 60", ["--size", "59"], "--size"),
        ("size above the port's maximum", ["--size", "9000"], "--size"),
        ("zero flows", ["--flows", "0"], "--flows"),
        ("flows past port 65535", ["--flows", "100", "--src-port", "65500"], "--flows"),
        ("unparseable destination MAC", ["--dst-mac", "02:00:00:00:00"], "--dst-mac"),
        ("unparseable source MAC", ["--src-mac", "zz:00:00:00:00:01"], "--src-mac"),
        ("group source MAC", ["--src-mac", "01:00:5e:00:00:01"], "--src-mac"),
        ("unparseable source IP", ["--src-ip", "10.0.0"], "--src-ip"),
        ("unparseable destination IP", ["--dst-ip", "10.0.0.256"], "--dst-ip"),
        ("destination port 0", ["--dst-port", "0"], "--dst-port"),
        ("negative rate", ["--rate", "-5"], "--rate"),
        ("--echo without a pair", ["--echo"], "--echo"),
    ]
    for what, args, name in cases:
        proc, _ = pktgen("--port", f"pcap:-,out={out}", "--count", "1", *args)
        lines = [ln for ln in proc.stderr.splitlines() if "error" in ln]
        check(proc.returncode == 2 and len(lines) == 1 and name in lines[0],
              f"bad option, {what}: exit 2 and one error line naming {name} (rc {proc.returncode}: {lines})")
    proc, _ = pktgen("--port", "nic:eth0")
    check(proc.returncode == 2 and "port spec grammar" in proc.stderr, "bad port spec: exit 2 with the grammar")


def main():
    with tempfile.TemporaryDirectory(prefix="kbt-pktgen-") as tmp:
        test_pcap(tmp)
        test_echo(tmp)
        test_bad_options(tmp)
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
