#!/usr/bin/env python3
"""kbnet l2echo over a pcap port writes every input frame back with the
MACs swapped and nothing else changed, for every pcap variant, and reports
what it did in its JSON summary.

usage: test_l2echo_pcap.py PATH-TO-kbnet
"""
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import pcaplib  # noqa: E402

KBNET = sys.argv[1]
failures = []
passes = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


def frames(rng, n):
    out = []
    for _ in range(n):
        size = rng.choice([14, 60, 64, 128, 1514, rng.randint(15, 1514)])
        out.append(bytes(rng.getrandbits(8) for _ in range(size)))
    return out


def swapped(frame):
    return frame[6:12] + frame[0:6] + frame[12:]


def run_echo(tmp, name, in_frames, **variant):
    src = os.path.join(tmp, name + ".in.pcap")
    dst = os.path.join(tmp, name + ".out.pcap")
    pcaplib.write(src, in_frames, **variant)
    proc = subprocess.run([KBNET, "l2echo", "--port", f"pcap:{src},out={dst}", "--json", "--stats-interval", "0"],
                          capture_output=True, text=True, timeout=60)
    check(proc.returncode == 0, f"{name}: exit code 0 (got {proc.returncode}: {proc.stderr.strip()[-300:]})")
    summary = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
    header, out = pcaplib.read(dst) if os.path.exists(dst) else ({}, [])
    return summary, header, [r[2] for r in out]


def main():
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory(prefix="kbt-l2echo-") as tmp:
        for variant in ({}, {"nanoseconds": True}, {"big_endian": True}, {"nanoseconds": True, "big_endian": True}):
            name = "us" if not variant.get("nanoseconds") else "ns"
            name += "-be" if variant.get("big_endian") else "-le"
            in_frames = frames(rng, 300)
            summary, header, out = run_echo(tmp, name, in_frames, **variant)
            check(header.get("linktype") == pcaplib.LINKTYPE_ETHERNET, f"{name}: output is an Ethernet pcap")
            check(len(out) == len(in_frames), f"{name}: {len(out)} frames written for {len(in_frames)} read")
            bad = [i for i, (a, b) in enumerate(zip(in_frames, out)) if swapped(a) != b]
            check(not bad, f"{name}: every frame echoed with MACs swapped, bytes otherwise identical "
                           f"(first mismatch: {bad[:1]})")
            check(summary.get("rx_packets") == len(in_frames) and summary.get("tx_packets") == len(in_frames),
                  f"{name}: JSON summary counts {summary.get('rx_packets')} rx / {summary.get('tx_packets')} tx")
            for key in ("seconds", "rx_mpps", "tx_mpps"):
                check(isinstance(summary.get(key), (int, float)), f"{name}: JSON summary has {key}")

        # Runts (shorter than an Ethernet header) are dropped and counted, not echoed.
        in_frames = [b"\x01" * 10, b"\x02" * 60, b"\x03" * 13, b"\x04" * 64]
        summary, _, out = run_echo(tmp, "runts", in_frames)
        check(out == [swapped(in_frames[1]), swapped(in_frames[3])], "runts: only full frames echoed")
        check(summary.get("dropped_runts") == 2, f"runts: 2 counted (got {summary.get('dropped_runts')})")

        # A damaged input ends the run with an error count, never a crash or silence.
        good = frames(rng, 5)
        src = os.path.join(tmp, "cut.in.pcap")
        pcaplib.write(src, good)
        with open(src, "rb+") as f:
            f.truncate(os.path.getsize(src) - 7)
        proc = subprocess.run([KBNET, "l2echo", "--port", f"pcap:{src},out={tmp}/cut.out.pcap", "--json"],
                              capture_output=True, text=True, timeout=60)
        summary = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.returncode == 0 else {}
        check(proc.returncode == 0 and summary.get("tx_packets") == 4,
              f"cut file: the 4 whole frames echoed (rc {proc.returncode}, tx {summary.get('tx_packets')})")
        check(summary.get("port_rx_errors", 0) >= 1, "cut file: the cut record counted as an rx error")
        check("cut" in proc.stderr or "truncated" in proc.stderr, "cut file: the log names the problem")

        # Not a pcap file: a one-line error and exit code 2.
        junk = os.path.join(tmp, "junk.pcap")
        with open(junk, "wb") as f:
            f.write(b"this is not a capture file at all")
        proc = subprocess.run([KBNET, "l2echo", "--port", f"pcap:{junk}"], capture_output=True, text=True, timeout=60)
        check(proc.returncode == 2, f"junk file: exit code 2 (got {proc.returncode})")
        check("not a pcap file" in proc.stderr, f"junk file: says 'not a pcap file' ({proc.stderr.strip()[:200]})")

        # `kbnet help` describes the command and its subcommands, not itself.
        proc = subprocess.run([KBNET, "help"], capture_output=True, text=True, timeout=60)
        check(proc.returncode == 0 and "l2echo" in proc.stdout and "pktgen" in proc.stdout,
              "kbnet help lists the subcommands")

        # A bad spec: exit code 2 and the grammar.
        proc = subprocess.run([KBNET, "l2echo", "--port", "nic:eth0"], capture_output=True, text=True, timeout=60)
        check(proc.returncode == 2 and "port spec grammar" in proc.stderr, "bad spec: exit 2 with the grammar")

    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
