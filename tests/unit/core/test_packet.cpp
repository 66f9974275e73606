// PacketHandle: growing into the headroom and trimming, with their limits.
#include "kbnet/core/packet.hpp"

#include <gtest/gtest.h>

namespace kbnet {
namespace {

TEST(PacketHandle, prepend_grows_into_the_headroom) {
    PacketHandle h{3, 256, 100};
    ASSERT_TRUE(h.prepend(14));
    EXPECT_EQ(h, (PacketHandle{3, 242, 114}));
}

TEST(PacketHandle, prepend_may_use_the_whole_headroom_and_no_more) {
    PacketHandle h{3, 20, 100};
    EXPECT_FALSE(h.prepend(21));
    EXPECT_EQ(h, (PacketHandle{3, 20, 100}));  // unchanged on failure
    ASSERT_TRUE(h.prepend(20));
    EXPECT_EQ(h, (PacketHandle{3, 0, 120}));
    EXPECT_FALSE(h.prepend(1));
    EXPECT_TRUE(h.prepend(0));
}

TEST(PacketHandle, trim_front_strips_a_header) {
    PacketHandle h{1, 100, 60};
    ASSERT_TRUE(h.trim_front(14));
    EXPECT_EQ(h, (PacketHandle{1, 114, 46}));
    EXPECT_FALSE(h.trim_front(47));
    EXPECT_EQ(h, (PacketHandle{1, 114, 46}));
    ASSERT_TRUE(h.trim_front(46));
    EXPECT_EQ(h, (PacketHandle{1, 160, 0}));
}

TEST(PacketHandle, trim_back_drops_a_trailer_but_not_past_the_start) {
    PacketHandle h{1, 100, 64};
    ASSERT_TRUE(h.trim_back(4));
    EXPECT_EQ(h, (PacketHandle{1, 100, 60}));
    EXPECT_FALSE(h.trim_back(61));
    EXPECT_EQ(h, (PacketHandle{1, 100, 60}));
    ASSERT_TRUE(h.trim_back(60));
    EXPECT_EQ(h.length, 0u);
    EXPECT_EQ(h.offset, 100u);
}

TEST(PacketHandle, prepend_then_trim_front_is_the_identity) {
    PacketHandle h{9, 128, 500};
    const PacketHandle before = h;
    ASSERT_TRUE(h.prepend(42));
    ASSERT_TRUE(h.trim_front(42));
    EXPECT_EQ(h, before);
}

TEST(PacketHandle, is_eight_bytes_and_compares_all_fields) {
    static_assert(sizeof(PacketHandle) == 8);
    EXPECT_NE((PacketHandle{1, 2, 3}), (PacketHandle{0, 2, 3}));
    EXPECT_NE((PacketHandle{1, 2, 3}), (PacketHandle{1, 0, 3}));
    EXPECT_NE((PacketHandle{1, 2, 3}), (PacketHandle{1, 2, 0}));
}

}  // namespace
}  // namespace kbnet
