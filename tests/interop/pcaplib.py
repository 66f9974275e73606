"""Minimal classic-pcap reader and writer for the integration tests.

Written independently of kbnet's own pcap code so that the tests check kbnet
against a second implementation, not against itself. Standard library only.
"""
import struct

MAGIC_US = 0xA1B2C3D4
MAGIC_NS = 0xA1B23C4D
LINKTYPE_ETHERNET = 1


def write(path, frames, nanoseconds=False, big_endian=False, start=(1_700_000_000, 0)):
    """Writes frames (bytes) with increasing timestamps."""
    order = ">" if big_endian else "<"
    magic = MAGIC_NS if nanoseconds else MAGIC_US
    with open(path, "wb") as f:
        f.write(struct.pack(order + "IHHiIII", magic, 2, 4, 0, 0, 65535, LINKTYPE_ETHERNET))
        sec, frac = start
        for frame in frames:
            f.write(struct.pack(order + "IIII", sec, frac, len(frame), len(frame)))
            f.write(frame)
            frac += 1000
            if frac >= (1_000_000_000 if nanoseconds else 1_000_000):
                sec, frac = sec + 1, 0


def read(path):
    """Returns (header dict, list of (ts_sec, ts_frac, frame bytes))."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        raise ValueError(f"{path}: {len(data)} bytes, shorter than a pcap header")
    for order in ("<", ">"):
        magic = struct.unpack_from(order + "I", data, 0)[0]
        if magic in (MAGIC_US, MAGIC_NS):
            break
    else:
        raise ValueError(f"{path}: not a pcap file")
    _, major, minor, _, _, snaplen, linktype = struct.unpack_from(order + "IHHiIII", data, 0)
    header = {"nanoseconds": magic == MAGIC_NS, "big_endian": order == ">", "version": (major, minor),
              "snaplen": snaplen, "linktype": linktype}
    records, off = [], 24
    while off < len(data):
        if off + 16 > len(data):
            raise ValueError(f"{path}: record header cut at byte {off}")
        sec, frac, incl, orig = struct.unpack_from(order + "IIII", data, off)
        off += 16
        if off + incl > len(data):
            raise ValueError(f"{path}: record body cut at byte {off}")
        if incl > orig:
            raise ValueError(f"{path}: incl_len {incl} > orig_len {orig}")
        records.append((sec, frac, data[off:off + incl]))
        off += incl
    return header, records
