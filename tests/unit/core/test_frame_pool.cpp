// FramePool: burst vs bulk allocation, LIFO reuse, ranges, and bad frees
// (an assertion in debug builds, a counter in release builds).
#include "kbnet/core/frame_pool.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <set>
#include <stdexcept>
#include <vector>

#include "kbnet/core/log.hpp"

namespace kbnet {
namespace {

class FramePoolTest : public testing::Test {
  protected:
    static BufferAreaConfig config() {
        BufferAreaConfig c;
        c.frame_count = 32;
        c.frame_size = 2048;
        c.headroom = 128;
        c.hugepages = false;
        return c;
    }
    FramePoolTest() : quiet_(), area_(config()) {}
    ~FramePoolTest() override { set_log_level(LogLevel::info); }

    struct Quiet {
        Quiet() { set_log_level(LogLevel::warn); }
    } quiet_;
    BufferArea area_;
};

TEST_F(FramePoolTest, fresh_pool_hands_out_its_frames_in_address_order_with_headroom) {
    FramePool pool(area_, 8, 16);
    EXPECT_EQ(pool.capacity(), 16u);
    EXPECT_EQ(pool.available(), 16u);
    std::array<PacketHandle, 16> out{};
    ASSERT_EQ(pool.alloc_burst(out), 16u);
    for (std::uint32_t i = 0; i < 16; ++i) {
        EXPECT_EQ(out[i].frame, 8 + i);
        EXPECT_EQ(out[i].offset, 128u);
        EXPECT_EQ(out[i].length, 0u);
    }
    EXPECT_EQ(pool.available(), 0u);
}

TEST_F(FramePoolTest, alloc_burst_returns_as_many_as_are_free) {
    FramePool pool(area_, 0, 5);
    std::array<PacketHandle, 8> out{};
    EXPECT_EQ(pool.alloc_burst(out), 5u);
    EXPECT_EQ(pool.available(), 0u);
    EXPECT_EQ(pool.alloc_burst(out), 0u);
}

TEST_F(FramePoolTest, alloc_bulk_is_all_or_nothing) {
    FramePool pool(area_, 0, 5);
    std::array<PacketHandle, 8> out{};
    EXPECT_FALSE(pool.alloc_bulk(out));
    EXPECT_EQ(pool.available(), 5u);  // nothing taken
    EXPECT_TRUE(pool.alloc_bulk(std::span(out).first(5)));
    EXPECT_EQ(pool.available(), 0u);
    PacketHandle one{};
    EXPECT_FALSE(pool.alloc(one));
}

TEST_F(FramePoolTest, frees_are_reused_last_in_first_out) {
    FramePool pool(area_, 0, 8);
    std::array<PacketHandle, 8> all{};
    ASSERT_TRUE(pool.alloc_bulk(all));
    pool.free(all[2]);
    pool.free(all[6]);
    PacketHandle h{};
    ASSERT_TRUE(pool.alloc(h));
    EXPECT_EQ(h.frame, all[6].frame);  // the warmest frame first
    ASSERT_TRUE(pool.alloc(h));
    EXPECT_EQ(h.frame, all[2].frame);
}

TEST_F(FramePoolTest, freed_handles_come_back_fresh_whatever_their_offset_and_length) {
    FramePool pool(area_, 0, 1);
    PacketHandle h{};
    ASSERT_TRUE(pool.alloc(h));
    h.offset = 10;
    h.length = 1500;
    pool.free(h);
    PacketHandle again{};
    ASSERT_TRUE(pool.alloc(again));
    EXPECT_EQ(again, (PacketHandle{h.frame, 128, 0}));
}

TEST_F(FramePoolTest, every_frame_is_handed_out_once_between_frees) {
    FramePool pool(area_, 4, 20);
    std::vector<PacketHandle> out(20);
    ASSERT_TRUE(pool.alloc_bulk(out));
    std::set<std::uint32_t> frames;
    for (const auto& h : out) {
        EXPECT_TRUE(pool.owns(h.frame));
        frames.insert(h.frame);
    }
    EXPECT_EQ(frames.size(), 20u);
    pool.free(out);
    EXPECT_EQ(pool.available(), 20u);
    EXPECT_EQ(pool.bad_frees(), 0u);
}

TEST_F(FramePoolTest, owns_only_its_range) {
    FramePool pool(area_, 4, 8);
    EXPECT_FALSE(pool.owns(3));
    EXPECT_TRUE(pool.owns(4));
    EXPECT_TRUE(pool.owns(11));
    EXPECT_FALSE(pool.owns(12));
    EXPECT_FALSE(pool.owns(0xffffffffu));
}

TEST_F(FramePoolTest, range_outside_the_area_throws) {
    EXPECT_THAT([&] { FramePool p(area_, 30, 3); },
                testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("32 frames")));
    EXPECT_THROW(FramePool(area_, 0, 0), std::invalid_argument);
    EXPECT_THROW(FramePool(area_, 33, 1), std::invalid_argument);
    EXPECT_THROW(FramePool(area_, 1, 0xffffffffu), std::invalid_argument);  // first + count wraps
    EXPECT_NO_THROW(FramePool(area_, 0, 32));
    EXPECT_NO_THROW(FramePool(area_, 31, 1));
}

// Bad frees assert in debug builds; release builds ignore and count them.
// EXPECT_DEBUG_DEATH checks the first and only runs the statement in the
// second, so each test covers whichever build it runs in.
TEST_F(FramePoolTest, freeing_a_frame_of_another_range_is_a_bad_free) {
    FramePool pool(area_, 0, 4);
    const PacketHandle foreign{10, 128, 0};
    EXPECT_DEBUG_DEATH(pool.free(foreign), "frame pool");
#ifdef NDEBUG
    EXPECT_EQ(pool.bad_frees(), 1u);
    EXPECT_EQ(pool.available(), 4u);  // not added
#endif
}

TEST_F(FramePoolTest, freeing_more_than_was_allocated_is_a_bad_free) {
    FramePool pool(area_, 0, 4);
    PacketHandle h{};
    ASSERT_TRUE(pool.alloc(h));
    pool.free(h);
    EXPECT_DEBUG_DEATH(pool.free(h), "frame pool");  // double free into a full pool
#ifdef NDEBUG
    EXPECT_EQ(pool.bad_frees(), 1u);
    EXPECT_EQ(pool.available(), 4u);
    std::array<PacketHandle, 4> out{};
    ASSERT_EQ(pool.alloc_burst(out), 4u);  // still four distinct frames
    std::set<std::uint32_t> frames;
    for (const auto& x : out) frames.insert(x.frame);
    EXPECT_EQ(frames.size(), 4u);
#endif
}

}  // namespace
}  // namespace kbnet

TEST(FramePoolFreeOwned, frees_owned_frames_and_counts_foreign_ones_without_touching_them) {
    kbnet::BufferAreaConfig cfg;
    cfg.frame_count = 8;
    cfg.hugepages = false;
    const kbnet::BufferArea area(cfg);
    kbnet::FramePool pool(area, 0, 4);
    std::array<kbnet::PacketHandle, 4> got{};
    ASSERT_EQ(pool.alloc_burst(got), 4u);
    // Two of ours, one from frames 4..7 (another pool's).
    const std::array<kbnet::PacketHandle, 3> mixed = {got[0], kbnet::PacketHandle{6, 0, 0}, got[1]};
    EXPECT_EQ(pool.free_owned(mixed), 1u);
    EXPECT_EQ(pool.available(), 2u);
    EXPECT_EQ(pool.bad_frees(), 0u);
    EXPECT_EQ(pool.free_owned(std::span(got).subspan(2)), 0u);
    EXPECT_EQ(pool.available(), 4u);
}
