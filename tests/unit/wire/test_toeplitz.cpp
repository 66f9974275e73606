// Toeplitz RSS hash: Microsoft's verification suite, the table-driven hasher
// against the bit-by-bit definition, and the symmetric key.
#include "kbnet/wire/toeplitz.hpp"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

#include "kbnet/core/endian.hpp"

namespace kbnet::wire {
namespace {

constexpr std::uint32_t ip(std::uint32_t a, std::uint32_t b, std::uint32_t c, std::uint32_t d) {
    return a << 24 | b << 16 | c << 8 | d;
}

// Microsoft "Verifying the RSS Hash Calculation", IPv4 table (also the
// 82599 datasheet's "RSS Verification Suite"), with the default key. The
// table lists destination first; the hash input is source first.
struct Ipv4Vector {
    std::uint32_t dst;
    std::uint16_t dport;
    std::uint32_t src;
    std::uint16_t sport;
    std::uint32_t hash_ipv4;
    std::uint32_t hash_ipv4_tcp;
};
constexpr std::array<Ipv4Vector, 5> kIpv4Suite = {{
    {ip(161, 142, 100, 80), 1766, ip(66, 9, 149, 187), 2794, 0x323e8fc2, 0x51ccc178},
    {ip(65, 69, 140, 83), 4739, ip(199, 92, 111, 2), 14230, 0xd718262a, 0xc626b0ea},
    {ip(12, 22, 207, 184), 38024, ip(24, 19, 198, 95), 12898, 0xd2d0a5de, 0x5c2b394a},
    {ip(209, 142, 163, 6), 2217, ip(38, 27, 205, 30), 48228, 0x82989176, 0xafc7327f},
    {ip(202, 188, 127, 2), 1303, ip(153, 39, 163, 191), 44251, 0x5d1809c5, 0x10e828a2},
}};

std::array<std::uint8_t, 12> ipv4_l4_input(std::uint32_t src, std::uint32_t dst, std::uint16_t sport,
                                           std::uint16_t dport) {
    std::array<std::uint8_t, 12> in{};
    store_be32(in.data(), src);
    store_be32(in.data() + 4, dst);
    store_be16(in.data() + 8, sport);
    store_be16(in.data() + 10, dport);
    return in;
}

TEST(Toeplitz, ms_verification_suite_ipv4_only) {
    const ToeplitzHasher hasher;
    for (const auto& v : kIpv4Suite) {
        EXPECT_EQ(hasher.hash_ipv4(v.src, v.dst), v.hash_ipv4) << std::hex << v.src;
        const auto in = ipv4_l4_input(v.src, v.dst, v.sport, v.dport);
        EXPECT_EQ(toeplitz_hash_reference(kRssDefaultKey, std::span(in).first(8)), v.hash_ipv4);
        EXPECT_EQ(hasher.hash(std::span(in).first(8)), v.hash_ipv4);
    }
}

TEST(Toeplitz, ms_verification_suite_ipv4_with_tcp_ports) {
    const ToeplitzHasher hasher;
    for (const auto& v : kIpv4Suite) {
        EXPECT_EQ(hasher.hash_ipv4_l4(v.src, v.dst, v.sport, v.dport), v.hash_ipv4_tcp) << std::hex << v.src;
        const auto in = ipv4_l4_input(v.src, v.dst, v.sport, v.dport);
        EXPECT_EQ(toeplitz_hash_reference(kRssDefaultKey, in), v.hash_ipv4_tcp);
        EXPECT_EQ(hasher.hash(in), v.hash_ipv4_tcp);
    }
}

TEST(Toeplitz, hash_input_order_is_source_then_destination) {
    // Swapping the roles must change the hash with the default key: a
    // hasher fed dst-first would fail the suite above, and this pins why.
    const ToeplitzHasher hasher;
    const auto& v = kIpv4Suite[0];
    EXPECT_NE(hasher.hash_ipv4_l4(v.dst, v.src, v.dport, v.sport), v.hash_ipv4_tcp);
}

TEST(Toeplitz, ms_verification_suite_ipv6_uses_the_full_36_byte_input) {
    // The IPv6 rows of the same suite: 16-byte source, 16-byte destination,
    // source port, destination port (kMaxInput bytes), and the addresses alone.
    struct V6 {
        const char* src;
        const char* dst;
        std::uint16_t sport, dport;
        std::uint32_t hash_l3, hash_l4;
        bool has_l3;
    };
    const std::array<V6, 3> suite = {{
        {"3ffe:2501:200:1fff::7", "3ffe:2501:200:3::1", 2794, 1766, 0x2cc18cd5, 0x40207d3d, true},
        {"3ffe:501:8::260:97ff:fe40:efab", "ff02::1", 14230, 4739, 0x0f0c461c, 0xdde51bbf, true},
        {"3ffe:1900:4545:3:200:f8ff:fe21:67cf", "fe80::200:f8ff:fe21:67cf", 44251, 38024, 0, 0x02d1feef, false},
    }};
    const ToeplitzHasher hasher;
    for (const auto& v : suite) {
        std::array<std::uint8_t, ToeplitzHasher::kMaxInput> in{};
        ASSERT_EQ(inet_pton(AF_INET6, v.src, in.data()), 1) << v.src;
        ASSERT_EQ(inet_pton(AF_INET6, v.dst, in.data() + 16), 1) << v.dst;
        store_be16(in.data() + 32, v.sport);
        store_be16(in.data() + 34, v.dport);
        EXPECT_EQ(hasher.hash(in), v.hash_l4);
        EXPECT_EQ(toeplitz_hash_reference(kRssDefaultKey, in), v.hash_l4);
        if (v.has_l3) {
            EXPECT_EQ(hasher.hash(std::span(in).first(32)), v.hash_l3);
            EXPECT_EQ(toeplitz_hash_reference(kRssDefaultKey, std::span(in).first(32)), v.hash_l3);
        }
    }
}

TEST(Toeplitz, single_set_input_bit_selects_the_key_window_at_that_bit) {
    // The definition: bit q of the input (q = 0 is the MSB of input[0]) xors
    // in key bits q .. q + 31.
    const std::array<std::uint8_t, 8> key = {0x80, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x00};
    std::array<std::uint8_t, 1> in = {0x80};
    EXPECT_EQ(toeplitz_hash_reference(key, in), 0x80000001u);
    in[0] = 0x01;  // bit 7: key bits 7 .. 38, of which only 31 .. 38 are set
    EXPECT_EQ(toeplitz_hash_reference(key, in), 0x000000ffu);
    in[0] = 0x40;  // bit 1: key bits 1 .. 32, of which 31 and 32 are set
    EXPECT_EQ(toeplitz_hash_reference(key, in), 0x00000003u);
}

TEST(Toeplitz, reference_treats_key_bits_past_the_end_as_zero) {
    // ComputeHash shifts K left, bringing zeros in: a 4-byte key hashing a
    // 2-byte input is the 6-byte key with two zero bytes appended.
    const std::array<std::uint8_t, 4> short_key = {0xde, 0xad, 0xbe, 0xef};
    const std::array<std::uint8_t, 6> padded_key = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x00};
    const std::array<std::uint8_t, 2> in = {0xa5, 0x3c};
    EXPECT_EQ(toeplitz_hash_reference(short_key, in), toeplitz_hash_reference(padded_key, in));
    EXPECT_EQ(toeplitz_hash_reference({}, in), 0u);
}

TEST(Toeplitz, table_matches_reference_on_random_inputs_of_every_length) {
    std::mt19937_64 rng(0x5a);
    std::vector<std::array<std::uint8_t, 40>> keys = {kRssDefaultKey, kRssSymmetricKey};
    for (int k = 0; k < 4; ++k) {
        std::array<std::uint8_t, 40> key{};
        for (auto& b : key) b = static_cast<std::uint8_t>(rng());
        keys.push_back(key);
    }
    for (const auto& key : keys) {
        const ToeplitzHasher hasher(key);
        for (std::size_t len = 0; len <= ToeplitzHasher::kMaxInput; ++len) {
            for (int i = 0; i < 200; ++i) {
                std::array<std::uint8_t, ToeplitzHasher::kMaxInput> in{};
                for (auto& b : in) b = static_cast<std::uint8_t>(rng());
                const std::span<const std::uint8_t> input(in.data(), len);
                ASSERT_EQ(hasher.hash(input), toeplitz_hash_reference(key, input)) << "length " << len;
            }
        }
    }
}

TEST(Toeplitz, ipv4_helpers_equal_hash_of_big_endian_layout) {
    std::mt19937_64 rng(4);
    const ToeplitzHasher hasher;
    for (int i = 0; i < 10000; ++i) {
        const auto src = static_cast<std::uint32_t>(rng());
        const auto dst = static_cast<std::uint32_t>(rng());
        const auto sport = static_cast<std::uint16_t>(rng());
        const auto dport = static_cast<std::uint16_t>(rng());
        const auto in = ipv4_l4_input(src, dst, sport, dport);
        ASSERT_EQ(hasher.hash_ipv4_l4(src, dst, sport, dport), toeplitz_hash_reference(kRssDefaultKey, in));
        ASSERT_EQ(hasher.hash_ipv4(src, dst), toeplitz_hash_reference(kRssDefaultKey, std::span(in).first(8)));
    }
}

TEST(Toeplitz, symmetric_key_hashes_both_directions_of_a_flow_alike) {
    std::mt19937_64 rng(0x6d5a);
    const ToeplitzHasher hasher(kRssSymmetricKey);
    for (int i = 0; i < 100000; ++i) {
        const auto a = static_cast<std::uint32_t>(rng());
        const auto b = static_cast<std::uint32_t>(rng());
        const auto pa = static_cast<std::uint16_t>(rng());
        const auto pb = static_cast<std::uint16_t>(rng());
        ASSERT_EQ(hasher.hash_ipv4_l4(a, b, pa, pb), hasher.hash_ipv4_l4(b, a, pb, pa));
        ASSERT_EQ(hasher.hash_ipv4(a, b), hasher.hash_ipv4(b, a));
    }
}

TEST(Toeplitz, default_key_is_not_symmetric) {
    const ToeplitzHasher hasher;
    int asymmetric = 0;
    std::mt19937_64 rng(1);
    for (int i = 0; i < 100; ++i) {
        const auto a = static_cast<std::uint32_t>(rng());
        const auto b = static_cast<std::uint32_t>(rng());
        const auto pa = static_cast<std::uint16_t>(rng());
        const auto pb = static_cast<std::uint16_t>(rng());
        if (hasher.hash_ipv4_l4(a, b, pa, pb) != hasher.hash_ipv4_l4(b, a, pb, pa)) ++asymmetric;
    }
    EXPECT_GT(asymmetric, 90);
}

TEST(Toeplitz, key_shorter_than_max_input_plus_four_throws_with_the_sizes) {
    const std::array<std::uint8_t, 39> short_key{};
    EXPECT_THAT([&] { (void)ToeplitzHasher(short_key); },
                testing::ThrowsMessage<std::invalid_argument>(
                    testing::AllOf(testing::HasSubstr("at least 40"), testing::HasSubstr("got 39"))));
    EXPECT_THROW((void)ToeplitzHasher(std::span<const std::uint8_t>{}), std::invalid_argument);
    EXPECT_NO_THROW((void)ToeplitzHasher(kRssDefaultKey));
}

TEST(Toeplitz, key_longer_than_needed_uses_its_first_40_bytes) {
    std::array<std::uint8_t, 52> long_key{};  // some NICs take 52-byte keys
    std::copy(kRssDefaultKey.begin(), kRssDefaultKey.end(), long_key.begin());
    std::fill(long_key.begin() + 40, long_key.end(), std::uint8_t{0xff});
    const ToeplitzHasher hasher(long_key);
    const auto& v = kIpv4Suite[2];
    EXPECT_EQ(hasher.hash_ipv4_l4(v.src, v.dst, v.sport, v.dport), v.hash_ipv4_tcp);
}

}  // namespace
}  // namespace kbnet::wire
