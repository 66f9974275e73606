// The internet checksum (RFC 1071) and its incremental update (RFC 1624).
//
// Conventions used throughout kbnet:
//  - A "sum" is a 32-bit one's-complement accumulator of 16-bit words read
//    in network byte order. Sums of consecutive pieces add with sum_add().
//  - A "checksum" is the folded, complemented 16-bit value in host order:
//    store it with store_be16() into the header field.
//  - A received header verifies when checksum(header) == 0 (RFC 1071 §1:
//    summing the data with its checksum field included gives all ones).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kbnet::wire {

// One's-complement sum of data as 16-bit big-endian words, added to
// initial. An odd final byte is padded with a zero byte (RFC 1071 §4.1).
// The fast path (8 bytes per step, carries folded at the end) is what the
// data path uses; checksum_sum_reference() is the byte-wise definition
// tests and benchmarks compare it with. The two return equal one's-
// complement values, not equal bits: they agree after sum_fold().
[[nodiscard]] std::uint32_t checksum_sum(std::span<const std::uint8_t> data, std::uint32_t initial = 0) noexcept;
[[nodiscard]] std::uint32_t checksum_sum_reference(std::span<const std::uint8_t> data,
                                                   std::uint32_t initial = 0) noexcept;

// End-around carry add of two sums.
[[nodiscard]] constexpr std::uint32_t sum_add(std::uint32_t a, std::uint32_t b) noexcept {
    const std::uint64_t s = static_cast<std::uint64_t>(a) + b;
    return static_cast<std::uint32_t>((s & 0xffffffffu) + (s >> 32));
}

// Folds a sum to 16 bits (without complementing).
[[nodiscard]] constexpr std::uint16_t sum_fold(std::uint32_t sum) noexcept {
    sum = (sum & 0xffffu) + (sum >> 16);
    sum = (sum & 0xffffu) + (sum >> 16);
    return static_cast<std::uint16_t>(sum);
}

// The checksum of a finished sum: fold and complement.
[[nodiscard]] constexpr std::uint16_t sum_to_checksum(std::uint32_t sum) noexcept {
    return static_cast<std::uint16_t>(~sum_fold(sum));
}

// Checksum of one buffer (an IPv4 header, an ICMP message).
[[nodiscard]] inline std::uint16_t internet_checksum(std::span<const std::uint8_t> data) noexcept {
    return sum_to_checksum(checksum_sum(data));
}

// Sum of the IPv4 pseudo-header used by UDP and TCP (RFC 768, RFC 9293
// §3.1): source and destination addresses (host order values), zero,
// protocol, and the transport length in bytes.
[[nodiscard]] constexpr std::uint32_t pseudo_header_sum(std::uint32_t src, std::uint32_t dst, std::uint8_t protocol,
                                                        std::uint16_t length) noexcept {
    std::uint32_t s = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu);
    s += protocol;
    s += length;
    return s;
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), the checksum after a 16-bit
// field changes from old_word to new_word, without re-summing the data.
// Eqn. 3 (not eqn. 2) so a result of 0x0000 is never produced from a
// non-zero sum (RFC 1624 §3). The one case it cannot get right: data that
// is all zeros but for the checksum, whose true checksum is 0xffff, comes
// out as 0x0000 (the other zero of one's complement). IPv4, UDP and TCP
// headers always hold a non-zero word; ICMP handles it where it updates.
[[nodiscard]] constexpr std::uint16_t checksum_update16(std::uint16_t checksum, std::uint16_t old_word,
                                                        std::uint16_t new_word) noexcept {
    std::uint32_t s = static_cast<std::uint16_t>(~checksum);
    s += static_cast<std::uint16_t>(~old_word);
    s += new_word;
    return static_cast<std::uint16_t>(~sum_fold(s));
}

// The same for a 32-bit field (an IPv4 address in a NAT rewrite).
[[nodiscard]] constexpr std::uint16_t checksum_update32(std::uint16_t checksum, std::uint32_t old_value,
                                                        std::uint32_t new_value) noexcept {
    checksum = checksum_update16(checksum, static_cast<std::uint16_t>(old_value >> 16),
                                 static_cast<std::uint16_t>(new_value >> 16));
    return checksum_update16(checksum, static_cast<std::uint16_t>(old_value & 0xffffu),
                             static_cast<std::uint16_t>(new_value & 0xffffu));
}

}  // namespace kbnet::wire
