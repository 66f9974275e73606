#include <gtest/gtest.h>

#include <thread>

#include "kbnet/core/clock.hpp"

using kbnet::monotonic_ns;
using kbnet::TscClock;

TEST(TscClock, now_is_monotonic_over_many_reads) {
    const TscClock& c = TscClock::instance();
    std::uint64_t prev = c.now_ns();
    for (int i = 0; i < 100000; ++i) {
        const std::uint64_t now = c.now_ns();
        ASSERT_GE(now, prev);
        prev = now;
    }
}

// Reads both clocks as close together as this machine allows: the pair
// whose bracketing CLOCK_MONOTONIC reads are nearest, of several tries, so a
// preemption in between does not count as clock error.
static void read_pair(const TscClock& c, std::uint64_t& tsc_ns, std::uint64_t& mono_ns) {
    std::uint64_t best = ~std::uint64_t{0};
    for (int i = 0; i < 32; ++i) {
        const std::uint64_t m0 = monotonic_ns();
        const std::uint64_t t = c.now_ns();
        const std::uint64_t m1 = monotonic_ns();
        if (m1 - m0 < best) {
            best = m1 - m0;
            tsc_ns = t;
            mono_ns = m0 + (m1 - m0) / 2;
        }
    }
}

TEST(TscClock, tracks_clock_monotonic_within_a_few_percent) {
    const TscClock& c = TscClock::instance();
    std::uint64_t t0 = 0, m0 = 0, t1 = 0, m1 = 0;
    read_pair(c, t0, m0);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    read_pair(c, t1, m1);
    const double ratio = static_cast<double>(t1 - t0) / static_cast<double>(m1 - m0);
    EXPECT_NEAR(ratio, 1.0, 0.02);
}

TEST(TscClock, starts_near_clock_monotonic) {
    const TscClock& c = TscClock::instance();
    const std::uint64_t m = monotonic_ns();
    const std::uint64_t t = c.now_ns();
    // Same epoch: the two differ by calibration error, not by an offset.
    EXPECT_LT(t > m ? t - m : m - t, 50'000'000u);
}

TEST(TscClock, cycle_conversions_round_trip) {
    const TscClock& c = TscClock::instance();
    if (!c.uses_tsc()) GTEST_SKIP() << "no invariant TSC: conversions are the identity";
    for (std::uint64_t ns : {1'000ull, 1'000'000ull, 1'000'000'000ull, 3'600'000'000'000ull}) {
        const std::uint64_t back = c.cycles_to_ns(c.ns_to_cycles(ns));
        EXPECT_NEAR(static_cast<double>(back), static_cast<double>(ns), static_cast<double>(ns) * 1e-6 + 2);
    }
    // The split multiplication must not overflow for huge cycle counts.
    EXPECT_GT(c.cycles_to_ns(1ull << 62), c.cycles_to_ns(1ull << 61));
}
