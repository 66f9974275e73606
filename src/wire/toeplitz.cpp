#include "kbnet/wire/toeplitz.hpp"

#include <cassert>
#include <stdexcept>
#include <string>

namespace kbnet::wire {

namespace {

// Key byte i, or 0 past the end of the key. Microsoft's ComputeHash shifts
// K left one bit per input bit, which brings zeros in at the right once the
// key's own bits run out; a short key behaves as if zero-padded.
inline std::uint32_t key_byte(std::span<const std::uint8_t> key, std::size_t i) noexcept {
    return i < key.size() ? key[i] : 0u;
}

// The 32 key bits that start at bit position `bit` (bit 0 is the most
// significant bit of key[0]): "the left-most 32 bits of K" after K has been
// shifted left `bit` times.
std::uint32_t key_window(std::span<const std::uint8_t> key, std::size_t bit) noexcept {
    const std::size_t byte = bit / 8;
    const unsigned shift = static_cast<unsigned>(bit % 8);
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 5; ++i) v = v << 8 | key_byte(key, byte + i);  // 40 bits cover any shift
    return static_cast<std::uint32_t>(v >> (8 - shift));
}

}  // namespace

ToeplitzHasher::ToeplitzHasher(std::span<const std::uint8_t> key) {
    // Input byte i, bit j uses the key window at bit 8i + j, whose last bit
    // is 8i + j + 31: hashing kMaxInput bytes needs kMaxInput + 4 key bytes.
    // A shorter key would silently zero-pad the windows of the last input
    // bytes (an IPv6 4-tuple's destination port), which no NIC does.
    if (key.size() < kMaxInput + 4) {
        throw std::invalid_argument("toeplitz: the RSS key must be at least " + std::to_string(kMaxInput + 4) +
                                    " bytes (" + std::to_string(kMaxInput) + "-byte IPv6 4-tuple input + 4), got " +
                                    std::to_string(key.size()));
    }
    // The hash is linear over GF(2) in the input bits: the contribution of
    // byte value b at position i is the xor of the windows of b's set bits.
    // Built from the single-bit entries: table[b] = table[b without its
    // lowest set bit] ^ table[that bit].
    for (std::size_t i = 0; i < kMaxInput; ++i) {
        auto& row = table_[i];
        row[0] = 0;
        for (std::size_t j = 0; j < 8; ++j) row[0x80u >> j] = key_window(key, 8 * i + j);
        for (std::size_t b = 1; b < 256; ++b) {
            const std::size_t low = b & (~b + 1);
            row[b] = row[b & ~low] ^ row[low];
        }
    }
}

std::uint32_t ToeplitzHasher::hash(std::span<const std::uint8_t> input) const noexcept {
    // Longer inputs are outside the contract (no RSS input is longer than an
    // IPv6 4-tuple); release builds hash the first kMaxInput bytes.
    assert(input.size() <= kMaxInput && "toeplitz: input longer than kMaxInput");
    const std::size_t n = input.size() < kMaxInput ? input.size() : kMaxInput;
    std::uint32_t h = 0;
    for (std::size_t i = 0; i < n; ++i) h ^= table_[i][input[i]];
    return h;
}

// Input layout (Microsoft RSS hashing functions, "IPv4 only"): source
// address then destination address, each in network byte order, i.e. most
// significant byte of the host-order value first.
std::uint32_t ToeplitzHasher::hash_ipv4(std::uint32_t src, std::uint32_t dst) const noexcept {
    return table_[0][src >> 24] ^ table_[1][(src >> 16) & 0xffu] ^ table_[2][(src >> 8) & 0xffu] ^
           table_[3][src & 0xffu] ^ table_[4][dst >> 24] ^ table_[5][(dst >> 16) & 0xffu] ^
           table_[6][(dst >> 8) & 0xffu] ^ table_[7][dst & 0xffu];
}

// "IPv4 with TCP header" (UDP uses the same layout): source address,
// destination address, source port, destination port, all big-endian.
std::uint32_t ToeplitzHasher::hash_ipv4_l4(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                           std::uint16_t dport) const noexcept {
    return hash_ipv4(src, dst) ^ table_[8][sport >> 8] ^ table_[9][sport & 0xffu] ^ table_[10][dport >> 8] ^
           table_[11][dport & 0xffu];
}

// Microsoft's ComputeHash, literally: walk the input bits from the most
// significant bit of input[0]; for each set bit xor in the left-most 32 bits
// of K, then shift K left by one.
std::uint32_t toeplitz_hash_reference(std::span<const std::uint8_t> key, std::span<const std::uint8_t> input) noexcept {
    std::uint32_t window = key_byte(key, 0) << 24 | key_byte(key, 1) << 16 | key_byte(key, 2) << 8 | key_byte(key, 3);
    std::uint32_t result = 0;
    for (std::size_t i = 0; i < input.size(); ++i) {
        const std::uint32_t next = key_byte(key, i + 4);  // the key byte shifted in during input byte i
        for (unsigned j = 0; j < 8; ++j) {
            if ((input[i] >> (7 - j)) & 1u) result ^= window;
            window = window << 1 | ((next >> (7 - j)) & 1u);
        }
    }
    return result;
}

}  // namespace kbnet::wire
