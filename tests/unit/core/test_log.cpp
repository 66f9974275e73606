// Logging: level names, the level switch, one-write lines, and the rate
// limiter that keeps a packet flood from becoming a log flood.
#include "kbnet/core/log.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

namespace kbnet {
namespace {

TEST(Log, parse_log_level_knows_the_four_names) {
    LogLevel l = LogLevel::info;
    ASSERT_TRUE(parse_log_level("error", l));
    EXPECT_EQ(l, LogLevel::error);
    ASSERT_TRUE(parse_log_level("warn", l));
    EXPECT_EQ(l, LogLevel::warn);
    ASSERT_TRUE(parse_log_level("info", l));
    EXPECT_EQ(l, LogLevel::info);
    ASSERT_TRUE(parse_log_level("debug", l));
    EXPECT_EQ(l, LogLevel::debug);
}

TEST(Log, parse_log_level_rejects_unknown_names_and_leaves_the_output) {
    LogLevel l = LogLevel::warn;
    for (const char* bad : {"", "warning", "INFO", "trace", "debug "}) {
        EXPECT_FALSE(parse_log_level(bad, l)) << bad;
        EXPECT_EQ(l, LogLevel::warn);
    }
}

TEST(Log, set_log_level_filters_less_severe_messages) {
    const LogLevel saved = log_level();
    set_log_level(LogLevel::warn);
    EXPECT_EQ(log_level(), LogLevel::warn);
    testing::internal::CaptureStderr();
    KBNET_LOG_INFO("hidden {}", 1);
    KBNET_LOG_WARN("shown {}", 2);
    const std::string out = testing::internal::GetCapturedStderr();
    set_log_level(saved);
    EXPECT_EQ(out, "kbnet warn: shown 2\n");
}

TEST(Log, log_write_prefixes_the_level_and_ends_the_line) {
    testing::internal::CaptureStderr();
    log_write(LogLevel::error, "disk on fire");
    EXPECT_EQ(testing::internal::GetCapturedStderr(), "kbnet error: disk on fire\n");
}

TEST(Log, coarse_clock_is_monotonic) {
    const std::uint64_t a = coarse_now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const std::uint64_t b = coarse_now_ns();
    EXPECT_GT(b, a);
    EXPECT_GE(b - a, 10'000'000u);  // the coarse clock ticks every few ms at most
}

TEST(RateLimit, lets_one_message_through_per_interval_and_counts_the_rest) {
    RateLimit rl;
    constexpr std::uint64_t kInterval = 200'000'000;  // 200 ms: far longer than the loop below
    std::uint64_t suppressed = 99;
    ASSERT_TRUE(rl.allow(kInterval, suppressed));
    EXPECT_EQ(suppressed, 0u);
    int allowed = 0;
    for (int i = 0; i < 1000; ++i) {
        std::uint64_t s = 0;
        if (rl.allow(kInterval, s)) ++allowed;
    }
    ASSERT_EQ(allowed, 0) << "the loop took longer than the interval?";

    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    ASSERT_TRUE(rl.allow(kInterval, suppressed));
    EXPECT_EQ(suppressed, 1000u);  // the next message reports what was dropped
    ASSERT_FALSE(rl.allow(kInterval, suppressed));
}

TEST(RateLimit, macro_reports_suppressed_count_in_the_next_line) {
    const LogLevel saved = log_level();
    set_log_level(LogLevel::warn);
    testing::internal::CaptureStderr();
    for (int round = 0; round < 2; ++round) {
        for (int i = 0; i < 5; ++i) KBNET_LOG_RATELIMITED(LogLevel::warn, 200'000'000, "bad frame {}", i);
        if (round == 0) std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
    const std::string out = testing::internal::GetCapturedStderr();
    set_log_level(saved);
    EXPECT_EQ(out, "kbnet warn: bad frame 0\nkbnet warn: bad frame 0 (4 similar suppressed)\n");
}

}  // namespace
}  // namespace kbnet
