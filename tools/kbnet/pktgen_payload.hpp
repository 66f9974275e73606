// What `kbnet pktgen` carries in each UDP datagram, right after the UDP
// header (frame offset 42 in an untagged IPv4 frame without options):
//
//   offset  size  field
//        0     2  magic 0x6b50 ("kP"), network order
//        2     8  sequence number, network order: 0, 1, 2, ... per run
//       10     8  transmit timestamp, network order: the sender's TSC
//                 (rdtsc) when the frame was built
//       18        end; the rest of the datagram, up to the frame size, is zero
//
// 18 bytes because the smallest frame is 60 (64 on the wire with the FCS):
// 14 Ethernet + 20 IPv4 + 8 UDP + 18 = 60, so even a minimum-size frame
// carries the whole payload. The fields start at even offsets of the UDP
// datagram (10 and 18), so each is four whole 16-bit words of the UDP
// checksum and the checksum can be updated per packet by adding them
// (RFC 1624) instead of summing the datagram again.
//
// The IPv4 identification field holds the run's tag (random per run), so
// echoes of an earlier run still in flight are told apart from this run's
// (they count as foreign, not as duplicates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kbnet/core/endian.hpp"

namespace kbnet::tools {

inline constexpr std::uint16_t kPayloadMagic = 0x6b50;  // "kP"
inline constexpr std::size_t kPayloadMagicOffset = 0;
inline constexpr std::size_t kPayloadSeqOffset = 2;
inline constexpr std::size_t kPayloadTscOffset = 10;
inline constexpr std::size_t kPayloadLen = 18;

struct Payload {
    std::uint64_t seq = 0;
    std::uint64_t tsc = 0;

    friend constexpr bool operator==(const Payload&, const Payload&) = default;
};

// Writes the 18 payload bytes at p.
inline void write_payload(std::uint8_t* p, const Payload& v) noexcept {
    store_be16(p + kPayloadMagicOffset, kPayloadMagic);
    store_be64(p + kPayloadSeqOffset, v.seq);
    store_be64(p + kPayloadTscOffset, v.tsc);
}

// Reads a payload; false, and out untouched, if the bytes are too short or
// do not start with the magic.
[[nodiscard]] inline bool read_payload(std::span<const std::uint8_t> bytes, Payload& out) noexcept {
    if (bytes.size() < kPayloadLen || load_be16(bytes.data() + kPayloadMagicOffset) != kPayloadMagic) return false;
    out.seq = load_be64(bytes.data() + kPayloadSeqOffset);
    out.tsc = load_be64(bytes.data() + kPayloadTscOffset);
    return true;
}

// One's-complement sum of a 64-bit value as the four 16-bit big-endian
// words it occupies when stored with store_be64 (not folded; at most
// 4 * 0xffff). The per-packet checksum update adds these.
[[nodiscard]] constexpr std::uint32_t sum_be64_words(std::uint64_t v) noexcept {
    // Two 16-bit lanes per 32-bit half, added in parallel, then the halves.
    const std::uint64_t pairs = (v & 0x0000ffff0000ffffull) + ((v >> 16) & 0x0000ffff0000ffffull);
    return static_cast<std::uint32_t>((pairs & 0xffffffffu) + (pairs >> 32));
}

}  // namespace kbnet::tools
