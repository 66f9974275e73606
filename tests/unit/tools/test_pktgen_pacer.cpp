#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>

#include "pktgen_pacer.hpp"

namespace kbnet::tools {
namespace {

// Polls at random intervals (as a loop doing other work would) for the
// given simulated time and returns how many packets the bucket released.
std::uint64_t run(TokenBucket& b, std::uint64_t start, std::uint64_t span_ns, std::uint64_t max_step_ns,
                  std::uint32_t burst, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::uint64_t sent = 0;
    for (std::uint64_t now = start; now <= start + span_ns; now += 1 + rng() % max_step_ns) sent += b.take(now, burst);
    return sent;
}

TEST(TokenBucket, long_run_rate_is_exact_whatever_the_polling_pattern) {
    for (const double rate : {1.0, 1000.0, 100'000.0, 3'000'000.0, 14'880'952.0}) {
        TokenBucket b(rate, 32, 0);
        const std::uint64_t span = 10'000'000'000ull;  // 10 s simulated
        // Steps well under the bucket depth (32 packets' time), so no credit
        // is capped away.
        const auto max_step = static_cast<std::uint64_t>(std::clamp(16 * 1e9 / rate, 1.0, 1e6));
        const std::uint64_t sent = run(b, 0, span, max_step, 32, 5);
        const double expected = rate * 10 + 1;  // + the packet allowed at once
        EXPECT_NEAR(static_cast<double>(sent), expected, expected * 1e-6 + 33) << rate;
    }
}

TEST(TokenBucket, releases_nothing_before_a_packets_time_has_passed) {
    TokenBucket b(1000, 32, 0);    // one per millisecond
    EXPECT_EQ(b.take(0, 32), 1u);  // the first at once
    EXPECT_EQ(b.take(999'999, 32), 0u);
    EXPECT_EQ(b.take(1'000'000, 32), 1u);
    EXPECT_EQ(b.take(1'500'000, 32), 0u);
    EXPECT_EQ(b.take(3'000'000, 32), 2u);
}

TEST(TokenBucket, a_stall_releases_at_most_one_depth_of_packets) {
    TokenBucket b(1'000'000, 8, 0);
    (void)b.take(0, 32);
    EXPECT_EQ(b.take(1'000'000'000, 32), 8u);  // a second's worth of credit, capped at 8
    EXPECT_EQ(b.take(1'000'000'000, 32), 0u);
    EXPECT_EQ(b.take(1'000'000'000 + 1000, 32), 1u);
}

TEST(TokenBucket, what_a_stall_throws_away_is_counted_as_shortfall) {
    TokenBucket b(1'000'000, 8, 0);
    EXPECT_EQ(b.take(0, 32), 1u);
    EXPECT_EQ(b.shortfall(), 0u);
    EXPECT_EQ(b.take(1'000'000'000, 32), 8u);
    // A second at 1 Mpps is 1'000'000 packets: 1 + 8 sent, the rest short.
    EXPECT_EQ(b.shortfall(), 1'000'000u - 8u);
}

TEST(TokenBucket, sent_plus_shortfall_is_the_rate_over_time_even_when_the_caller_stalls) {
    std::mt19937_64 rng(9);
    TokenBucket b(250'000, 250, 0);
    std::uint64_t sent = 0, now = 0;
    while (now < 5'000'000'000ull) {
        // Mostly quick polls, sometimes a preemption of up to 20 ms.
        now += rng() % 100 == 0 ? rng() % 20'000'000 : rng() % 2'000;
        sent += b.take(now, 32);
    }
    const double expected = 250'000.0 * static_cast<double>(now) / 1e9 + 1;
    EXPECT_GT(b.shortfall(), 0u);
    EXPECT_NEAR(static_cast<double>(sent + b.shortfall()), expected, 250 + 2);  // within one depth
}

TEST(TokenBucket, never_gives_more_than_asked_and_keeps_the_rest) {
    TokenBucket b(1'000'000, 32, 0);
    (void)b.take(0, 32);
    EXPECT_EQ(b.take(10'000, 4), 4u);  // 10 due, 4 asked
    EXPECT_EQ(b.take(10'000, 32), 6u);
}

TEST(TokenBucket, refused_packets_given_back_go_out_next_without_lowering_the_rate) {
    TokenBucket b(1'000'000, 32, 0);
    (void)b.take(0, 32);
    EXPECT_EQ(b.take(5'000, 32), 5u);
    b.give_back(3);  // the port took only 2
    EXPECT_EQ(b.take(5'000, 32), 3u);
}

TEST(TokenBucket, a_clock_that_steps_back_is_ignored) {
    TokenBucket b(1'000'000, 32, 1'000'000);
    EXPECT_EQ(b.take(1'000'000, 32), 1u);
    EXPECT_EQ(b.take(500'000, 32), 0u);
    EXPECT_EQ(b.take(1'002'000, 32), 2u);
}

}  // namespace
}  // namespace kbnet::tools
