// SpscRing: burst vs bulk, wrap-around, capacity, and a two-thread run that
// checks order, loss and duplication (and gives ThreadSanitizer something to
// look at: every cross-thread access in this file goes through the ring).
#include "kbnet/core/spsc_ring.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "kbnet/core/packet.hpp"

namespace kbnet {
namespace {

std::vector<std::uint32_t> iota_vec(std::size_t n, std::uint32_t first) {
    std::vector<std::uint32_t> v(n);
    std::iota(v.begin(), v.end(), first);
    return v;
}

TEST(SpscRing, capacity_must_be_a_power_of_two_of_at_least_two) {
    for (std::size_t bad : {0u, 1u, 3u, 6u, 100u, 1000u}) {
        EXPECT_THAT([&] { SpscRing<int> r(bad); },
                    testing::ThrowsMessage<std::invalid_argument>(testing::HasSubstr("power of two")))
            << bad;
    }
    for (std::size_t good : {2u, 4u, 1024u}) {
        SpscRing<int> r(good);
        EXPECT_EQ(r.capacity(), good);
        EXPECT_TRUE(r.empty());
    }
}

TEST(SpscRing, holds_exactly_capacity_items) {
    SpscRing<std::uint32_t> ring(8);
    for (std::uint32_t i = 0; i < 8; ++i) ASSERT_TRUE(ring.push(i)) << i;
    EXPECT_FALSE(ring.push(99));
    EXPECT_EQ(ring.size(), 8u);
    std::uint32_t v = 0;
    ASSERT_TRUE(ring.pop(v));
    EXPECT_EQ(v, 0u);
    EXPECT_TRUE(ring.push(8));  // one slot freed, one fits
    EXPECT_FALSE(ring.push(9));
}

TEST(SpscRing, enqueue_burst_moves_as_many_as_fit) {
    SpscRing<std::uint32_t> ring(8);
    const auto items = iota_vec(5, 0);
    EXPECT_EQ(ring.enqueue_burst(items), 5u);
    EXPECT_EQ(ring.enqueue_burst(items), 3u);  // 3 free slots left
    EXPECT_EQ(ring.enqueue_burst(items), 0u);
    EXPECT_EQ(ring.size(), 8u);
    std::array<std::uint32_t, 8> out{};
    ASSERT_EQ(ring.dequeue_burst(out), 8u);
    EXPECT_THAT(out, testing::ElementsAre(0, 1, 2, 3, 4, 0, 1, 2));
}

TEST(SpscRing, enqueue_bulk_moves_all_or_nothing) {
    SpscRing<std::uint32_t> ring(8);
    const auto items = iota_vec(5, 0);
    EXPECT_TRUE(ring.enqueue_bulk(items));
    EXPECT_FALSE(ring.enqueue_bulk(items));  // 3 free: none of the 5 go in
    EXPECT_EQ(ring.size(), 5u);
    EXPECT_TRUE(ring.enqueue_bulk(std::span(items).first(3)));
    EXPECT_EQ(ring.size(), 8u);
    EXPECT_TRUE(ring.enqueue_bulk(std::span<const std::uint32_t>{}));  // nothing is all of nothing
}

TEST(SpscRing, dequeue_burst_takes_what_is_present) {
    SpscRing<std::uint32_t> ring(16);
    ASSERT_EQ(ring.enqueue_burst(iota_vec(3, 10)), 3u);
    std::array<std::uint32_t, 8> out{};
    EXPECT_EQ(ring.dequeue_burst(out), 3u);
    EXPECT_THAT(std::span(out).first(3), testing::ElementsAre(10, 11, 12));
    EXPECT_EQ(ring.dequeue_burst(out), 0u);
    EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, dequeue_bulk_takes_all_or_nothing) {
    SpscRing<std::uint32_t> ring(16);
    ASSERT_EQ(ring.enqueue_burst(iota_vec(3, 10)), 3u);
    std::array<std::uint32_t, 4> out{};
    EXPECT_FALSE(ring.dequeue_bulk(out));
    EXPECT_EQ(ring.size(), 3u);  // nothing was taken
    EXPECT_TRUE(ring.dequeue_bulk(std::span(out).first(3)));
    EXPECT_THAT(std::span(out).first(3), testing::ElementsAre(10, 11, 12));
    std::uint32_t v = 0;
    EXPECT_FALSE(ring.pop(v));
}

TEST(SpscRing, bursts_wrap_around_the_end_of_the_slot_array) {
    // Capacity 8, bursts of 5: every second burst straddles the wrap, and
    // after many laps the indices are far past the slot count.
    SpscRing<std::uint32_t> ring(8);
    std::uint32_t next_in = 0, next_out = 0;
    for (int lap = 0; lap < 1000; ++lap) {
        const auto items = iota_vec(5, next_in);
        ASSERT_TRUE(ring.enqueue_bulk(items));
        next_in += 5;
        std::array<std::uint32_t, 5> out{};
        ASSERT_TRUE(ring.dequeue_bulk(out));
        for (std::uint32_t v : out) ASSERT_EQ(v, next_out++);
    }
    EXPECT_TRUE(ring.empty());
}

TEST(SpscRing, full_ring_wraps_with_partial_bursts) {
    SpscRing<std::uint32_t> ring(4);
    ASSERT_EQ(ring.enqueue_burst(iota_vec(3, 0)), 3u);
    std::array<std::uint32_t, 2> two{};
    ASSERT_EQ(ring.dequeue_burst(two), 2u);              // read index 2, one item left
    ASSERT_EQ(ring.enqueue_burst(iota_vec(10, 3)), 3u);  // fills slots 3, 0, 1
    std::array<std::uint32_t, 8> out{};
    ASSERT_EQ(ring.dequeue_burst(out), 4u);
    EXPECT_THAT(std::span(out).first(4), testing::ElementsAre(2, 3, 4, 5));
}

TEST(SpscRing, moves_packet_handles_by_value) {
    SpscRing<PacketHandle> ring(4);
    const PacketHandle h{7, 256, 1500};
    ASSERT_TRUE(ring.push(h));
    PacketHandle out{};
    ASSERT_TRUE(ring.pop(out));
    EXPECT_EQ(out, h);
}

TEST(SpscRing, two_threads_move_ten_million_items_in_order_without_loss_or_duplication) {
    constexpr std::uint64_t kItems = 10'000'000;
    SpscRing<std::uint64_t> ring(1024);

    // The producer's RNG and counters are its own; the consumer's result is
    // read only after join(), which orders it before the checks.
    std::thread producer([&ring] {
        std::mt19937 rng(42);
        std::array<std::uint64_t, 32> burst{};
        std::uint64_t next = 0;
        while (next < kItems) {
            const std::uint64_t want = std::min<std::uint64_t>(1 + rng() % 32, kItems - next);
            for (std::uint64_t i = 0; i < want; ++i) burst[i] = next + i;
            std::size_t sent = 0;
            while (sent < want) {
                const std::size_t n =
                    ring.enqueue_burst(std::span<const std::uint64_t>(burst.data() + sent, want - sent));
                if (n == 0) std::this_thread::yield();  // full: the tests may share two cores
                sent += n;
            }
            next += want;
        }
    });

    std::mt19937 rng(7);
    std::array<std::uint64_t, 32> out{};
    std::uint64_t expected = 0;
    std::uint64_t out_of_order = 0;
    while (expected < kItems) {
        const std::size_t want = 1 + rng() % 32;
        const std::size_t n = ring.dequeue_burst(std::span(out).first(want));
        if (n == 0) {
            std::this_thread::yield();
            continue;
        }
        for (std::size_t i = 0; i < n; ++i) {
            if (out[i] != expected) ++out_of_order;
            expected = out[i] + 1;  // resynchronise so one slip is counted once
        }
    }
    producer.join();

    EXPECT_EQ(out_of_order, 0u);
    EXPECT_EQ(expected, kItems);
    EXPECT_TRUE(ring.empty());  // nothing duplicated past the end
}

}  // namespace
}  // namespace kbnet
