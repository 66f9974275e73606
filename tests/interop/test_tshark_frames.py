#!/usr/bin/env python3
"""Frames built by kbnet's wire layer are dissected by tshark as the protocols
they claim to be, with every checksum verified good and no malformed-packet
or error/warning expert info.

usage: test_tshark_frames.py PATH-TO-write_frames
"""
import re
import shutil
import subprocess
import sys
import tempfile

WRITER = sys.argv[1]
passes, failures = [], []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    (passes if cond else failures).append(what)


def main():
    tshark = shutil.which("tshark")
    if not tshark:
        print("FAIL tshark is not installed (make deps installs it)")
        return 1
    with tempfile.TemporaryDirectory(prefix="kbt-tshark-") as tmp:
        out = f"{tmp}/frames.pcap"
        w = subprocess.run([WRITER, out], capture_output=True, text=True, timeout=60)
        check(w.returncode == 0, f"write_frames ran ({w.stderr.strip()})")
        expected = w.stdout.split()
        # Checksum validation is off by default in tshark; turn on every one we build.
        prefs = ["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE"]
        fields = subprocess.run(
            [tshark, "-n", "-r", out, *prefs, "-T", "fields", "-E", "separator=|", "-e", "frame.number",
             "-e", "frame.protocols", "-e", "_ws.expert.severity", "-e", "_ws.malformed"],
            capture_output=True, text=True, timeout=120)
        check(fields.returncode == 0, f"tshark read the file ({fields.stderr.strip()[:300]})")
        rows = [line.split("|") for line in fields.stdout.splitlines() if line]
        check(len(rows) == len(expected), f"tshark saw {len(rows)} frames, {len(expected)} written")
        for row, want in zip(rows, expected):
            number, protocols, severity, malformed = (row + ["", "", "", ""])[:4]
            check(protocols.startswith(want), f"frame {number}: dissected as {protocols}, built as {want}")
            check(not malformed, f"frame {number}: not malformed")
            # Expert severities: 2097152 = note, 4194304 = warning, 8388608 = error.
            worst = max([int(s) for s in severity.split(",") if s] or [0])
            check(worst < 4194304, f"frame {number}: no warning or error expert info ({severity or 'none'})")

        verbose = subprocess.run([tshark, "-n", "-r", out, *prefs, "-V"], capture_output=True, text=True, timeout=120)
        bad = re.findall(r"checksum status: bad\]|bad checksum|incorrect, should be", verbose.stdout, flags=re.I)
        check(not bad, f"no bad checksum anywhere ({len(bad)} found)")
        # Every frame but ARP carries checksums (IPv4 header, and UDP, TCP,
        # ICMP or IGMP): each must have been verified, not merely not flagged.
        per_frame = re.split(r"^Frame \d+: ", verbose.stdout, flags=re.M)[1:]
        for i, (text, want) in enumerate(zip(per_frame, expected), start=1):
            if ":arp" in want:
                continue
            good = len(re.findall(r"checksum status: good\]", text, flags=re.I))
            check(good >= 1, f"frame {i}: {good} checksums verified good")
    print(f"{len(passes)} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
