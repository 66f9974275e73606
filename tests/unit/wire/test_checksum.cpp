// The internet checksum: the fast sum against the byte-wise definition, the
// RFC's own numbers, and the RFC 1624 incremental update against a full
// recomputation.
#include "kbnet/wire/checksum.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "kbnet/core/endian.hpp"

namespace kbnet::wire {
namespace {

std::vector<std::uint8_t> random_bytes(std::mt19937_64& rng, std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (auto& b : v) b = static_cast<std::uint8_t>(rng());
    return v;
}

// Sums are compared as one's-complement numbers: two 32-bit accumulators
// that fold to the same 16 bits are the same sum (see checksum.cpp).
void expect_same_sum(std::uint32_t fast, std::uint32_t reference, std::size_t len, std::size_t offset,
                     std::uint32_t initial) {
    ASSERT_EQ(sum_fold(fast), sum_fold(reference))
        << "length " << len << ", offset " << offset << ", initial 0x" << std::hex << initial;
}

// ---- fast path == definition ------------------------------------------------

TEST(Checksum, fast_sum_matches_reference_for_every_length_and_alignment) {
    std::mt19937_64 rng(0x1071);
    const std::vector<std::uint8_t> buf = random_bytes(rng, 2048 + 8);
    for (std::size_t len = 0; len <= 2048; ++len) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            const std::span<const std::uint8_t> data(buf.data() + offset, len);
            const auto initial = static_cast<std::uint32_t>(rng());
            expect_same_sum(checksum_sum(data, initial), checksum_sum_reference(data, initial), len, offset, initial);
            expect_same_sum(checksum_sum(data), checksum_sum_reference(data), len, offset, 0);
        }
    }
}

TEST(Checksum, fast_sum_matches_reference_on_all_ones_data_where_every_add_carries) {
    // 0xff bytes make every 64-bit add overflow: the end-around carries are
    // the whole result.
    const std::vector<std::uint8_t> ones(4096 + 8, 0xff);
    for (std::size_t len = 0; len <= 4096; len += 1 + len / 64) {
        for (std::size_t offset = 0; offset < 8; ++offset) {
            const std::span<const std::uint8_t> data(ones.data() + offset, len);
            for (std::uint32_t initial : {0u, 1u, 0xffffu, 0xfffffffeu, 0xffffffffu}) {
                expect_same_sum(checksum_sum(data, initial), checksum_sum_reference(data, initial), len, offset,
                                initial);
            }
        }
    }
}

TEST(Checksum, zero_sum_only_for_all_zero_data_and_zero_initial) {
    // One's complement has two zeros; the sum of anything non-zero is never
    // +0 (RFC 1624 §3), and a checksum computed over it is never 0xffff.
    const std::vector<std::uint8_t> zeros(100, 0);
    EXPECT_EQ(sum_fold(checksum_sum(zeros)), 0u);
    EXPECT_EQ(sum_fold(checksum_sum({})), 0u);
    EXPECT_EQ(sum_fold(checksum_sum({}, 0xffff)), 0xffffu);
    EXPECT_EQ(sum_fold(checksum_sum(zeros, 0xffff)), 0xffffu);
    // 0x0001 + 0xfffe is -0 (0xffff), not +0.
    const std::array<std::uint8_t, 4> minus_zero = {0x00, 0x01, 0xff, 0xfe};
    EXPECT_EQ(sum_fold(checksum_sum(minus_zero)), 0xffffu);
    EXPECT_EQ(sum_fold(checksum_sum_reference(minus_zero)), 0xffffu);
}

TEST(Checksum, odd_final_byte_is_the_high_half_of_a_zero_padded_word) {
    // RFC 1071 §4.1: "Add left-over byte, if any".
    const std::array<std::uint8_t, 3> data = {0x12, 0x34, 0xab};
    EXPECT_EQ(sum_fold(checksum_sum(data)), 0x1234u + 0xab00u);
    EXPECT_EQ(checksum_sum_reference(data), 0x1234u + 0xab00u);
}

TEST(Checksum, sums_of_pieces_add_to_the_sum_of_the_whole) {
    // Even-length pieces keep word boundaries, so a sum carried through
    // `initial` or sum_add() equals the one-pass sum.
    std::mt19937_64 rng(7);
    const std::vector<std::uint8_t> buf = random_bytes(rng, 1501);
    const std::span<const std::uint8_t> all(buf);
    for (std::size_t cut = 0; cut <= buf.size(); cut += 2) {
        const std::uint32_t head = checksum_sum(all.first(cut));
        EXPECT_EQ(sum_fold(checksum_sum(all.subspan(cut), head)), sum_fold(checksum_sum(all))) << cut;
        EXPECT_EQ(sum_fold(sum_add(head, checksum_sum(all.subspan(cut)))), sum_fold(checksum_sum(all))) << cut;
    }
}

// ---- known vectors ----------------------------------------------------------

TEST(Checksum, rfc1071_numerical_example_sums_to_ddf2) {
    // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7; "Normal" order Sum1 is
    // 2ddf0, and after adding the carries Sum2 is ddf2.
    const std::array<std::uint8_t, 8> data = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    EXPECT_EQ(checksum_sum_reference(data), 0x2ddf0u);
    EXPECT_EQ(sum_fold(checksum_sum_reference(data)), 0xddf2u);
    EXPECT_EQ(sum_fold(checksum_sum(data)), 0xddf2u);
    EXPECT_EQ(internet_checksum(data), static_cast<std::uint16_t>(~0xddf2u));
}

TEST(Checksum, rfc1071_example_at_every_alignment) {
    std::array<std::uint8_t, 16> buf{};
    const std::array<std::uint8_t, 8> example = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    for (std::size_t offset = 0; offset < 8; ++offset) {
        buf.fill(0xee);
        std::copy(example.begin(), example.end(), buf.begin() + static_cast<std::ptrdiff_t>(offset));
        EXPECT_EQ(sum_fold(checksum_sum(std::span<const std::uint8_t>(buf).subspan(offset, 8))), 0xddf2u) << offset;
    }
}

TEST(Checksum, ipv4_header_checksum_of_known_header_is_b861) {
    // A 20-byte IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199) with its
    // checksum field b8 61.
    std::array<std::uint8_t, 20> header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                           0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    // RFC 1071 §1: with the checksum in place the sum is all ones, so the
    // verifying checksum is zero.
    EXPECT_EQ(internet_checksum(header), 0u);
    header[10] = 0;
    header[11] = 0;
    EXPECT_EQ(internet_checksum(header), 0xb861u);
    EXPECT_EQ(sum_to_checksum(checksum_sum_reference(header)), 0xb861u);
}

TEST(Checksum, pseudo_header_sum_equals_sum_of_the_pseudo_header_bytes) {
    // RFC 768: source address, destination address, zero, protocol, length.
    std::mt19937_64 rng(768);
    for (int i = 0; i < 10000; ++i) {
        const auto src = static_cast<std::uint32_t>(rng());
        const auto dst = static_cast<std::uint32_t>(rng());
        const auto proto = static_cast<std::uint8_t>(rng());
        const auto len = static_cast<std::uint16_t>(rng());
        std::array<std::uint8_t, 12> bytes{};
        store_be32(bytes.data(), src);
        store_be32(bytes.data() + 4, dst);
        bytes[8] = 0;
        bytes[9] = proto;
        store_be16(bytes.data() + 10, len);
        ASSERT_EQ(sum_fold(pseudo_header_sum(src, dst, proto, len)), sum_fold(checksum_sum_reference(bytes)));
    }
}

TEST(Checksum, udp_checksum_over_pseudo_header_verifies_to_zero) {
    // A UDP datagram 10.0.0.1:1234 -> 10.0.0.2:53 with a 5-byte payload: the
    // checksum computed with the pseudo-header as `initial` makes the
    // receiver's sum (pseudo-header + datagram, checksum included) all ones.
    std::array<std::uint8_t, 13> udp = {0x04, 0xd2, 0x00, 0x35, 0x00, 13, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'};
    const std::uint32_t ph = pseudo_header_sum(0x0a000001, 0x0a000002, 17, 13);
    const std::uint16_t csum = sum_to_checksum(checksum_sum(udp, ph));
    store_be16(udp.data() + 6, csum);
    EXPECT_EQ(sum_to_checksum(checksum_sum(udp, ph)), 0u);
    EXPECT_EQ(sum_to_checksum(checksum_sum_reference(udp, ph)), 0u);
}

// ---- incremental update (RFC 1624) ---------------------------------------------

TEST(Checksum, rfc1624_update_gives_plus_zero_where_eqn2_gives_minus_zero) {
    // RFC 1624 §4: the other header words sum to 0xCD7A and a field changes
    // from 0x5555 to 0x3285. HC = ~(0xCD7A + 0x5555) = 0xDD2F; recomputation
    // gives ~(0xCD7A + 0x3285) = ~0xFFFF = 0x0000. [Eqn. 2] would produce
    // 0xFFFF (-0), a value no recomputation yields from non-zero data (§3).
    std::array<std::uint8_t, 4> header = {0xcd, 0x7a, 0x55, 0x55};
    const std::uint16_t hc = internet_checksum(header);
    ASSERT_EQ(hc, 0xdd2fu);
    header[2] = 0x32;
    header[3] = 0x85;
    ASSERT_EQ(internet_checksum(header), 0x0000u);
    EXPECT_EQ(checksum_update16(hc, 0x5555, 0x3285), 0x0000u);
}

TEST(Checksum, update_never_yields_minus_zero_from_a_nonzero_header) {
    // Exhaustive over the new value of one field, the rest fixed and
    // non-zero: RFC 1624 §3's guarantee that 0xFFFF never appears.
    std::array<std::uint8_t, 6> header = {0x45, 0x00, 0x12, 0x34, 0x00, 0x00};
    const std::uint16_t hc = internet_checksum(header);
    for (std::uint32_t m2 = 0; m2 <= 0xffff; ++m2) {
        const auto updated = checksum_update16(hc, 0x1234, static_cast<std::uint16_t>(m2));
        store_be16(header.data() + 2, static_cast<std::uint16_t>(m2));
        ASSERT_EQ(updated, internet_checksum(header)) << "m' = 0x" << std::hex << m2;
        ASSERT_NE(updated, 0xffffu);
    }
}

TEST(Checksum, update16_equals_full_recomputation_on_random_mutations) {
    std::mt19937_64 rng(1624);
    for (int iter = 0; iter < 20000; ++iter) {
        // An even-length "header" whose first word is non-zero (as an IPv4
        // header's version/IHL is) and whose checksum field is word 1.
        const std::size_t words = 3 + rng() % 30;
        std::vector<std::uint8_t> h = random_bytes(rng, 2 * words);
        if (iter % 4 == 0) std::fill(h.begin() + 4, h.end(), std::uint8_t{0});  // mostly-zero headers too
        store_be16(h.data(), 0x4500);
        store_be16(h.data() + 2, 0);
        store_be16(h.data() + 2, internet_checksum(h));

        const std::size_t w = 2 + rng() % (words - 2);  // any word but version and checksum
        const std::uint16_t old_word = load_be16(h.data() + 2 * w);
        const std::uint16_t new_word = iter % 8 == 1 ? old_word : static_cast<std::uint16_t>(rng());
        const std::uint16_t updated = checksum_update16(load_be16(h.data() + 2), old_word, new_word);

        store_be16(h.data() + 2 * w, new_word);
        store_be16(h.data() + 2, 0);
        ASSERT_EQ(updated, internet_checksum(h)) << "iteration " << iter;
        store_be16(h.data() + 2, updated);
        ASSERT_EQ(internet_checksum(h), 0u) << "iteration " << iter;
    }
}

TEST(Checksum, update32_equals_full_recomputation_on_address_rewrites) {
    // A NAT rewriting the source address of a real IPv4 header.
    std::array<std::uint8_t, 20> header = {0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                                           0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7};
    std::mt19937_64 rng(32);
    for (int iter = 0; iter < 20000; ++iter) {
        const std::size_t field = iter % 2 == 0 ? 12 : 16;  // source or destination address
        const std::uint32_t old_addr = load_be32(header.data() + field);
        const auto new_addr = static_cast<std::uint32_t>(rng());
        const std::uint16_t updated = checksum_update32(load_be16(header.data() + 10), old_addr, new_addr);
        store_be32(header.data() + field, new_addr);
        store_be16(header.data() + 10, 0);
        ASSERT_EQ(updated, internet_checksum(header)) << "iteration " << iter;
        store_be16(header.data() + 10, updated);
        ASSERT_EQ(internet_checksum(header), 0u);
    }
}

}  // namespace
}  // namespace kbnet::wire
