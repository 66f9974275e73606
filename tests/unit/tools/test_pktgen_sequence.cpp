#include <gtest/gtest.h>

#include <cstdint>

#include "pktgen_sequence.hpp"

namespace kbnet::tools {
namespace {

using V = SequenceTracker::Verdict;

TEST(SequenceTracker, in_order_stream_has_no_loss_reordering_or_duplicates) {
    SequenceTracker t(4);
    for (std::uint64_t s = 0; s < 1000; ++s) ASSERT_EQ(t.record(s, s % 4), V::in_order);
    EXPECT_EQ(t.received(), 1000u);
    EXPECT_EQ(t.lost(1000), 0u);
    EXPECT_EQ(t.reordered(), 0u);
    EXPECT_EQ(t.flow_reordered(), 0u);
    EXPECT_EQ(t.duplicates(), 0u);
}

TEST(SequenceTracker, gaps_are_loss_until_the_missing_numbers_arrive) {
    SequenceTracker t(1);
    for (std::uint64_t s : {0u, 1u, 4u, 5u}) ASSERT_EQ(t.record(s, 0), V::in_order);
    EXPECT_EQ(t.lost(6), 2u);
    EXPECT_EQ(t.record(2, 0), V::reordered);
    EXPECT_EQ(t.lost(6), 1u);
    EXPECT_EQ(t.reordered(), 1u);
}

TEST(SequenceTracker, a_number_below_the_highest_is_reordered_and_counted_once) {
    SequenceTracker t(1);
    EXPECT_EQ(t.record(1, 0), V::in_order);
    EXPECT_EQ(t.record(0, 0), V::reordered);
    EXPECT_EQ(t.record(0, 0), V::duplicate);
    EXPECT_EQ(t.record(1, 0), V::duplicate);
    EXPECT_EQ(t.received(), 2u);
    EXPECT_EQ(t.reordered(), 1u);
    EXPECT_EQ(t.duplicates(), 2u);
    EXPECT_EQ(t.lost(2), 0u);
}

TEST(SequenceTracker, the_first_number_received_need_not_be_zero) {
    SequenceTracker t(1);
    EXPECT_EQ(t.record(5, 0), V::in_order);
    EXPECT_EQ(t.record(3, 0), V::reordered);  // 0..4 were delayed, not duplicates
    EXPECT_EQ(t.record(4, 0), V::reordered);
    EXPECT_EQ(t.record(5, 0), V::duplicate);
}

TEST(SequenceTracker, duplicates_are_found_anywhere_in_the_window_as_it_slides) {
    SequenceTracker t(1);
    constexpr std::uint64_t W = SequenceTracker::kWindow;
    for (std::uint64_t s = 0; s < 3 * W; ++s) ASSERT_EQ(t.record(s, 0), V::in_order);
    // The oldest number still in the window, and the newest.
    EXPECT_EQ(t.record(3 * W - W, 0), V::duplicate);
    EXPECT_EQ(t.record(3 * W - 1, 0), V::duplicate);
    // Slots reused by the slide do not remember the numbers a window older.
    SequenceTracker u(1);
    EXPECT_EQ(u.record(0, 0), V::in_order);
    EXPECT_EQ(u.record(W + 10, 0), V::in_order);  // a big jump clears everything
    EXPECT_EQ(u.record(11, 0), V::reordered);     // same slot as W + 11, never seen
    EXPECT_EQ(u.record(W + 10, 0), V::duplicate);
}

TEST(SequenceTracker, numbers_older_than_the_window_are_late_and_still_received) {
    SequenceTracker t(1);
    constexpr std::uint64_t W = SequenceTracker::kWindow;
    EXPECT_EQ(t.record(W, 0), V::in_order);
    EXPECT_EQ(t.record(0, 0), V::late);
    EXPECT_EQ(t.record(0, 0), V::late);  // a duplicate that old cannot be told apart
    EXPECT_EQ(t.late(), 2u);
    EXPECT_EQ(t.reordered(), 2u);
    EXPECT_EQ(t.received(), 3u);
    EXPECT_EQ(t.lost(2), 0u);  // more received than sent: loss is 0, not a wrapped count
}

TEST(SequenceTracker, interleaving_between_flows_is_not_reordering_within_a_flow) {
    SequenceTracker t(2);
    // Two queues polled in turn: flow 0 holds even numbers, flow 1 odd ones,
    // each in order, but a later burst of flow 0 arrives after flow 1's.
    for (std::uint64_t s : {1u, 3u, 5u, 7u}) t.record(s, 1);
    for (std::uint64_t s : {0u, 2u, 4u, 6u}) t.record(s, 0);
    EXPECT_EQ(t.reordered(), 4u);
    EXPECT_EQ(t.flow_reordered(), 0u);
    t.record(2 + 8, 0);
    t.record(0 + 8, 0);  // now flow 0 itself went backwards
    EXPECT_EQ(t.flow_reordered(), 1u);
}

}  // namespace
}  // namespace kbnet::tools
