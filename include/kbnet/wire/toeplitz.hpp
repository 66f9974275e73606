// Toeplitz hash for receive-side scaling (RSS), as NICs compute it
// (Microsoft "RSS hashing" specification), so software can predict which
// queue a flow lands on and pick ports that hash back to its own queue.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace kbnet::wire {

// The 40-byte key of the Microsoft RSS verification suite, which most NIC
// drivers also use as their default.
inline constexpr std::array<std::uint8_t, 40> kRssDefaultKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

// A key made of the 16-bit pattern 0x6d5a repeated: the hash of (a, b) and
// of (b, a) are equal, so both directions of a flow land on one queue
// (Woo and Park, "Scalable TCP Session Monitoring with Symmetric RSS").
inline constexpr std::array<std::uint8_t, 40> kRssSymmetricKey = {
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a,
    0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a, 0x6d, 0x5a};

// Table-driven hasher for a fixed key: for each input byte position, a
// table of 256 precomputed 32-bit contributions, so hashing costs one load
// and one xor per input byte. Inputs up to kMaxInput bytes (IPv6 4-tuple).
class ToeplitzHasher {
  public:
    static constexpr std::size_t kMaxInput = 36;

    // The key must be at least input length + 4 bytes long; 40 bytes covers
    // every RSS input. Setup path: throws std::invalid_argument otherwise.
    explicit ToeplitzHasher(std::span<const std::uint8_t> key = kRssDefaultKey);

    [[nodiscard]] std::uint32_t hash(std::span<const std::uint8_t> input) const noexcept;

    // RSS input for IPv4 (addresses as host-order values): src, dst.
    [[nodiscard]] std::uint32_t hash_ipv4(std::uint32_t src, std::uint32_t dst) const noexcept;
    // IPv4 with TCP or UDP ports: src, dst, sport, dport.
    [[nodiscard]] std::uint32_t hash_ipv4_l4(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                             std::uint16_t dport) const noexcept;

  private:
    std::array<std::array<std::uint32_t, 256>, kMaxInput> table_{};
};

// Bit-by-bit definition of the hash, for tests and as the benchmark's
// reference: for each set bit of the input, xor in the 32 key bits that
// start at that bit position.
[[nodiscard]] std::uint32_t toeplitz_hash_reference(std::span<const std::uint8_t> key,
                                                    std::span<const std::uint8_t> input) noexcept;

}  // namespace kbnet::wire
