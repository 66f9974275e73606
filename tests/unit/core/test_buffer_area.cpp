// BufferArea: frame addressing, UMEM-style addresses, packet growth, bounds
// checks on foreign handles, and setup errors.
#include "kbnet/core/buffer_area.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include <sys/mman.h>
#include <unistd.h>

#include "kbnet/core/log.hpp"

namespace kbnet {
namespace {

class BufferAreaTest : public testing::Test {
  protected:
    void SetUp() override { set_log_level(LogLevel::warn); }  // the area logs its page kind at info
    void TearDown() override { set_log_level(LogLevel::info); }
};

BufferAreaConfig small_config() {
    BufferAreaConfig c;
    c.frame_count = 64;
    c.frame_size = 2048;
    c.headroom = 256;
    c.hugepages = false;
    return c;
}

TEST_F(BufferAreaTest, ordinary_pages_when_hugepages_are_not_requested) {
    BufferArea area(small_config());
    EXPECT_EQ(area.page_kind(), PageKind::normal);
    EXPECT_EQ(area.frame_count(), 64u);
    EXPECT_EQ(area.frame_size(), 2048u);
    EXPECT_EQ(area.headroom(), 256u);
    EXPECT_GE(area.size_bytes(), 64u * 2048u);
    EXPECT_EQ(area.size_bytes() % 4096, 0u);
}

TEST_F(BufferAreaTest, hugepage_request_falls_back_to_ordinary_pages_when_none_are_free) {
    // Either kind is right depending on the machine; the area must be usable
    // and sized in whole pages of the kind it got.
    BufferAreaConfig c = small_config();
    c.hugepages = true;
    BufferArea area(c);
    const std::size_t page = area.page_kind() == PageKind::huge_2m ? (2u << 20) : 4096u;
    EXPECT_EQ(area.size_bytes() % page, 0u);
    std::memset(area.base(), 0xab, 64u * 2048u);  // every frame is mapped and writable
}

TEST_F(BufferAreaTest, frames_are_consecutive_and_writable) {
    BufferArea area(small_config());
    for (std::uint32_t f = 0; f < area.frame_count(); ++f) {
        ASSERT_EQ(area.frame_start(f), area.base() + std::size_t{f} * 2048u);
        std::memset(area.frame_start(f), static_cast<int>(f), area.frame_size());
    }
    for (std::uint32_t f = 0; f < area.frame_count(); ++f) {
        ASSERT_EQ(area.frame_start(f)[0], static_cast<std::uint8_t>(f));
        ASSERT_EQ(area.frame_start(f)[2047], static_cast<std::uint8_t>(f));
    }
}

TEST_F(BufferAreaTest, fresh_handle_starts_after_the_headroom_and_is_empty) {
    BufferArea area(small_config());
    const PacketHandle h = area.fresh(5);
    EXPECT_EQ(h.frame, 5u);
    EXPECT_EQ(h.offset, 256u);
    EXPECT_EQ(h.length, 0u);
    EXPECT_EQ(area.data(h), area.frame_start(5) + 256);
    EXPECT_TRUE(area.bytes(h).empty());
}

TEST_F(BufferAreaTest, address_and_from_address_round_trip) {
    BufferArea area(small_config());
    for (std::uint32_t f : {0u, 1u, 17u, 63u}) {
        for (std::uint16_t off : {std::uint16_t{0}, std::uint16_t{1}, std::uint16_t{256}, std::uint16_t{2047}}) {
            const PacketHandle h{f, off, 42};
            const std::uint64_t addr = area.address(h);
            EXPECT_EQ(addr, std::uint64_t{f} * 2048u + off);
            EXPECT_EQ(area.base() + addr, area.data(h));
            EXPECT_EQ(area.from_address(addr, 42), h);
        }
    }
}

TEST_F(BufferAreaTest, append_grows_into_tailroom_and_refuses_past_the_frame_end) {
    BufferArea area(small_config());
    PacketHandle h = area.fresh(3);
    EXPECT_EQ(area.tailroom(h), 2048u - 256u);
    ASSERT_TRUE(area.append(h, 1000));
    EXPECT_EQ(h.length, 1000u);
    EXPECT_EQ(area.tailroom(h), 2048u - 256u - 1000u);
    EXPECT_EQ(area.bytes(h).size(), 1000u);
    const PacketHandle before = h;
    EXPECT_FALSE(area.append(h, area.tailroom(h) + 1));
    EXPECT_EQ(h, before);                           // unchanged on failure
    ASSERT_TRUE(area.append(h, area.tailroom(h)));  // exactly to the end
    EXPECT_EQ(area.tailroom(h), 0u);
    EXPECT_EQ(std::uint32_t{h.offset} + h.length, area.frame_size());
    EXPECT_FALSE(area.append(h, 1));
}

TEST_F(BufferAreaTest, contains_rejects_handles_outside_the_area) {
    BufferArea area(small_config());
    EXPECT_TRUE(area.contains(PacketHandle{0, 0, 2048}));
    EXPECT_TRUE(area.contains(PacketHandle{63, 2000, 48}));
    EXPECT_FALSE(area.contains(PacketHandle{64, 0, 0}));         // no such frame
    EXPECT_FALSE(area.contains(PacketHandle{63, 2000, 49}));     // runs past the frame
    EXPECT_FALSE(area.contains(PacketHandle{0, 2049, 0}));       // starts past the frame
    EXPECT_FALSE(area.contains(PacketHandle{0, 65535, 65535}));  // no 16-bit overflow
}

TEST_F(BufferAreaTest, bad_frame_size_throws_naming_the_field) {
    for (std::uint32_t size : {0u, 128u, 255u, 1000u, 3000u, 131072u}) {
        BufferAreaConfig c = small_config();
        c.frame_size = size;
        c.headroom = 0;
        EXPECT_THAT([&] { BufferArea a(c); },
                    testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("frame_size")))
            << size;
    }
}

TEST_F(BufferAreaTest, bad_frame_count_throws_naming_the_field) {
    for (std::uint32_t count : {0u, (1u << 24) + 1}) {
        BufferAreaConfig c = small_config();
        c.frame_count = count;
        EXPECT_THAT([&] { BufferArea a(c); },
                    testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("frame_count")))
            << count;
    }
}

TEST_F(BufferAreaTest, headroom_leaving_under_128_bytes_throws) {
    BufferAreaConfig c = small_config();
    c.frame_size = 256;
    c.headroom = 129;
    EXPECT_THAT([&] { BufferArea a(c); },
                testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("headroom")));
    c.headroom = 128;  // leaves exactly 128
    BufferArea ok(c);
    EXPECT_EQ(ok.tailroom(ok.fresh(0)), 128u);
}

TEST_F(BufferAreaTest, largest_frames_work_with_16_bit_offsets) {
    BufferAreaConfig c = small_config();
    c.frame_count = 4;
    c.frame_size = 65536;
    c.headroom = 256;
    BufferArea area(c);
    PacketHandle h = area.fresh(3);
    EXPECT_EQ(area.tailroom(h), 65536u - 256u);
    EXPECT_EQ(area.from_address(area.address(h), 0), h);
}

TEST_F(BufferAreaTest, shared_area_is_visible_through_its_memfd_and_cannot_be_resized) {
    BufferAreaConfig c = small_config();
    c.shared = true;
    BufferArea area(c);
    ASSERT_GE(area.fd(), 0);
    // A second mapping of the fd, as a memif peer makes, sees the same bytes.
    void* peer = ::mmap(nullptr, area.size_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, area.fd(), 0);
    ASSERT_NE(peer, MAP_FAILED);
    area.frame_start(3)[7] = 0x5a;
    EXPECT_EQ(static_cast<std::uint8_t*>(peer)[3 * area.frame_size() + 7], 0x5a);
    static_cast<std::uint8_t*>(peer)[0] = 0xa5;
    EXPECT_EQ(area.frame_start(0)[0], 0xa5);
    ::munmap(peer, area.size_bytes());
    // Sealed: the peer can rely on the size it was told.
    EXPECT_NE(::ftruncate(area.fd(), 0), 0);
}

TEST_F(BufferAreaTest, private_area_has_no_fd) {
    BufferArea area(small_config());
    EXPECT_EQ(area.fd(), -1);
}

}  // namespace
}  // namespace kbnet
