// Byte-order loads and stores at any alignment.
#include "kbnet/core/endian.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace kbnet {
namespace {

TEST(Endian, big_endian_loads_read_the_most_significant_byte_first) {
    const std::array<std::uint8_t, 9> b = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x55};
    EXPECT_EQ(load_be16(b.data()), 0x0123u);
    EXPECT_EQ(load_be32(b.data()), 0x01234567u);
    EXPECT_EQ(load_be64(b.data()), 0x0123456789abcdefull);
    EXPECT_EQ(load_le16(b.data()), 0x2301u);
    EXPECT_EQ(load_le32(b.data()), 0x67452301u);
    EXPECT_EQ(load_le64(b.data()), 0xefcdab8967452301ull);
}

TEST(Endian, loads_work_at_every_alignment) {
    std::array<std::uint8_t, 24> buf{};
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<std::uint8_t>(i);
    for (std::size_t off = 0; off < 8; ++off) {
        const std::uint8_t* p = buf.data() + off;
        const auto o = static_cast<std::uint64_t>(off);
        EXPECT_EQ(load_be16(p), (o << 8) | (o + 1));
        EXPECT_EQ(load_be32(p), (o << 24) | ((o + 1) << 16) | ((o + 2) << 8) | (o + 3));
        EXPECT_EQ(load_le32(p), (o) | ((o + 1) << 8) | ((o + 2) << 16) | ((o + 3) << 24));
        EXPECT_EQ(load_be64(p) >> 56, o);
        EXPECT_EQ(load_le64(p) & 0xff, o);
    }
}

TEST(Endian, stores_write_the_byte_order_they_name) {
    std::array<std::uint8_t, 11> b{};
    store_be16(b.data() + 1, 0xbeef);
    EXPECT_EQ(b[1], 0xbe);
    EXPECT_EQ(b[2], 0xef);
    store_le16(b.data() + 1, 0xbeef);
    EXPECT_EQ(b[1], 0xef);
    EXPECT_EQ(b[2], 0xbe);
    store_be32(b.data() + 3, 0xc0a80001);
    EXPECT_EQ((std::array<std::uint8_t, 4>{b[3], b[4], b[5], b[6]}),
              (std::array<std::uint8_t, 4>{0xc0, 0xa8, 0x00, 0x01}));
    store_le32(b.data() + 3, 0xc0a80001);
    EXPECT_EQ((std::array<std::uint8_t, 4>{b[3], b[4], b[5], b[6]}),
              (std::array<std::uint8_t, 4>{0x01, 0x00, 0xa8, 0xc0}));
    EXPECT_EQ(b[0], 0u);  // neighbours untouched
    EXPECT_EQ(b[7], 0u);
}

TEST(Endian, store_then_load_round_trips_at_odd_offsets) {
    std::array<std::uint8_t, 16> b{};
    store_be64(b.data() + 3, 0x1122334455667788ull);
    EXPECT_EQ(load_be64(b.data() + 3), 0x1122334455667788ull);
    EXPECT_EQ(b[3], 0x11);
    store_le64(b.data() + 5, 0x1122334455667788ull);
    EXPECT_EQ(load_le64(b.data() + 5), 0x1122334455667788ull);
    EXPECT_EQ(b[5], 0x88);
}

TEST(Endian, byte_swaps_reverse_the_bytes) {
    EXPECT_EQ(bswap16(0x1234), 0x3412u);
    EXPECT_EQ(bswap32(0x12345678u), 0x78563412u);
    EXPECT_EQ(bswap64(0x0102030405060708ull), 0x0807060504030201ull);
}

}  // namespace
}  // namespace kbnet
