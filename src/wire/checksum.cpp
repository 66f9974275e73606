#include "kbnet/wire/checksum.hpp"

#include "kbnet/core/endian.hpp"

namespace kbnet::wire {

// The definition, one big-endian 16-bit word at a time (RFC 1071 §4.1's
// loop), with the odd final byte as the high half of a zero-padded word.
std::uint32_t checksum_sum_reference(std::span<const std::uint8_t> data, std::uint32_t initial) noexcept {
    std::uint64_t sum = initial;
    std::size_t i = 0;
    for (; i + 1 < data.size(); i += 2) sum += static_cast<std::uint32_t>(data[i] << 8 | data[i + 1]);
    if (i < data.size()) sum += static_cast<std::uint32_t>(data[i] << 8);
    while (sum >> 32) sum = (sum & 0xffffffffu) + (sum >> 32);
    return static_cast<std::uint32_t>(sum);
}

namespace {

// One's-complement addition of 64-bit words: the carry out of bit 63 is
// worth 2^64, and 2^64 = (2^16)^4 = 1 (mod 2^16 - 1), so it is added back in
// at bit 0 (RFC 1071 §2(C), "parallel summation": any word width that is a
// multiple of 16 bits gives the same folded sum). The comparison compiles to
// add + adc. The result is never zero unless both inputs were, which keeps
// the one's-complement "zero is only all-zero data" property the reference
// has.
inline std::uint64_t add_end_around(std::uint64_t a, std::uint64_t b) noexcept {
    a += b;
    return a + (a < b ? 1u : 0u);
}

// Folds 64 bits to 16 with end-around carries, never turning a non-zero
// sum into 0x0000 (additions only, no modulo). The last step is the
// rotate trick: in v + rotr(v, 16) the high half is hi + lo plus the carry
// out of the low half's identical sum, i.e. exactly the end-around carry.
inline std::uint16_t fold64(std::uint64_t s) noexcept {
    auto v = static_cast<std::uint32_t>(s);
    const auto hi = static_cast<std::uint32_t>(s >> 32);
    v += hi;
    v += v < hi ? 1u : 0u;
    const std::uint32_t rotated = v >> 16 | v << 16;
    return static_cast<std::uint16_t>((v + rotated) >> 16);
}

// A network-order sum moved into native order: each 16-bit half byte-swapped
// (RFC 1071 §2(B) applied to `initial`), so it can start the native
// accumulator instead of being added after the final swap.
inline std::uint64_t to_native_order(std::uint32_t sum) noexcept {
    return ((sum & 0x00ff00ffu) << 8) | ((sum >> 8) & 0x00ff00ffu);
}

}  // namespace

// Fast path. Two facts from RFC 1071 make it work on a little-endian host:
//  - §2(B) byte-order independence: summing the data as native (here
//    little-endian, byte-swapped) 16-bit words gives the byte-swapped sum, so
//    one swap of the folded result gives the big-endian sum;
//  - §2(C) parallel summation: 64-bit words can be summed with end-around
//    carry and folded at the end (§3's example takes 32 bits at a time);
//  - §2(1) deferred carries: the carries out of the accumulators are only
//    counted in the loop and added back once.
// Four independent accumulators let the adds of consecutive loads issue in
// parallel instead of waiting on one carry chain. Loads go through memcpy, so any
// alignment of data is fine; the tail is taken in 4-, 2- and 1-byte pieces,
// all at even offsets from data[0] except the last odd byte, which lands in
// the low (first in memory) half of a native word: the zero-padded high byte
// of RFC 1071 §4.1 once swapped.
//
// The result is already folded to 16 bits. It is the same one's-complement
// number as the reference's (equal after sum_fold(); in particular 0 only
// for all-zero data with initial 0) but not always the same bit pattern: the
// reference returns the exact total folded only to 32 bits (RFC 1071 §3's
// "Sum1" 2ddf0 where this returns ddf2).
std::uint32_t checksum_sum(std::span<const std::uint8_t> data, std::uint32_t initial) noexcept {
    const std::uint8_t* p = data.data();
    std::size_t n = data.size();

    std::uint64_t s = to_native_order(initial);
    std::uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    std::uint64_t carries = 0;  // each one worth 1 after folding (2^64 = 1 mod 0xffff)
    while (n >= 32) {
        const std::uint64_t x0 = load_native<std::uint64_t>(p);
        const std::uint64_t x1 = load_native<std::uint64_t>(p + 8);
        const std::uint64_t x2 = load_native<std::uint64_t>(p + 16);
        const std::uint64_t x3 = load_native<std::uint64_t>(p + 24);
        a0 += x0;
        carries += a0 < x0 ? 1u : 0u;
        a1 += x1;
        carries += a1 < x1 ? 1u : 0u;
        a2 += x2;
        carries += a2 < x2 ? 1u : 0u;
        a3 += x3;
        carries += a3 < x3 ? 1u : 0u;
        p += 32;
        n -= 32;
    }
    s = add_end_around(s, add_end_around(add_end_around(a0, a1), add_end_around(a2, a3)));
    s = add_end_around(s, carries);
    while (n >= 8) {
        s = add_end_around(s, load_native<std::uint64_t>(p));
        p += 8;
        n -= 8;
    }
    std::uint64_t tail = 0;  // at most 0xffffffff + 0xffff + 0xff: no overflow
    if (n & 4) {
        tail += load_native<std::uint32_t>(p);
        p += 4;
    }
    if (n & 2) {
        tail += load_native<std::uint16_t>(p);
        p += 2;
    }
    if (n & 1) tail += *p;
    s = add_end_around(s, tail);

    // Back to network order (RFC 1071 §2(B)).
    return bswap16(fold64(s));
}

}  // namespace kbnet::wire
