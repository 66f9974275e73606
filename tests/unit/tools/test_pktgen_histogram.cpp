#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "latency_histogram.hpp"

namespace kbnet::tools {
namespace {

using H = LatencyHistogram;

TEST(LatencyHistogram, small_values_have_a_bucket_each) {
    for (std::uint64_t v = 0; v < H::kLinearLimit; ++v) {
        EXPECT_EQ(H::bucket_of(v), v);
        EXPECT_EQ(H::bucket_lowest(v), v);
        EXPECT_EQ(H::bucket_highest(v), v);
    }
}

TEST(LatencyHistogram, buckets_tile_the_range_without_gaps_or_overlap) {
    for (std::size_t b = 0; b + 1 < H::kBucketCount; ++b) {
        ASSERT_EQ(H::bucket_highest(b) + 1, H::bucket_lowest(b + 1)) << "bucket " << b;
        ASSERT_EQ(H::bucket_of(H::bucket_lowest(b)), b);
        ASSERT_EQ(H::bucket_of(H::bucket_highest(b)), b);
    }
    EXPECT_EQ(H::bucket_highest(H::kBucketCount - 1), H::kMaxTrackable);
}

TEST(LatencyHistogram, bucket_width_is_within_one_percent_of_its_values_from_100ns_to_10s) {
    // 1/v in the linear range (1 % at 100 ns), at most 1/128 above it.
    for (std::uint64_t v = 100; v <= 10'000'000'000ull; v = v * 101 / 100 + 1) {
        const std::size_t b = H::bucket_of(v);
        const double width = static_cast<double>(H::bucket_highest(b) - H::bucket_lowest(b) + 1);
        EXPECT_LE(width / static_cast<double>(H::bucket_lowest(b)), 0.01) << v;
    }
}

TEST(LatencyHistogram, values_beyond_the_range_land_in_the_last_bucket_and_keep_an_exact_max) {
    auto h = std::make_unique<H>();
    h->record(~std::uint64_t{0});
    EXPECT_EQ(H::bucket_of(~std::uint64_t{0}), H::kBucketCount - 1);
    EXPECT_EQ(h->max(), ~std::uint64_t{0});
    EXPECT_EQ(h->percentile(100), ~std::uint64_t{0});
    EXPECT_EQ(h->percentile(50), ~std::uint64_t{0});  // clamped to [min, max], which are both this value
}

TEST(LatencyHistogram, empty_reports_zero) {
    auto h = std::make_unique<H>();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->min(), 0u);
    EXPECT_EQ(h->max(), 0u);
    EXPECT_EQ(h->mean(), 0.0);
    EXPECT_EQ(h->percentile(50), 0u);
    EXPECT_EQ(h->percentile(99.9), 0u);
}

TEST(LatencyHistogram, exact_percentiles_for_values_in_the_linear_range) {
    auto h = std::make_unique<H>();
    for (std::uint64_t v = 1; v <= 100; ++v) h->record(v);  // 1..100 ns
    EXPECT_EQ(h->count(), 100u);
    EXPECT_EQ(h->min(), 1u);
    EXPECT_EQ(h->max(), 100u);
    EXPECT_DOUBLE_EQ(h->mean(), 50.5);
    EXPECT_EQ(h->percentile(0), 1u);
    EXPECT_EQ(h->percentile(1), 1u);
    EXPECT_EQ(h->percentile(50), 50u);    // nearest rank: the 50th of 100
    EXPECT_EQ(h->percentile(50.5), 51u);  // rank ceil(50.5) = 51
    EXPECT_EQ(h->percentile(99), 99u);
    EXPECT_EQ(h->percentile(99.9), 100u);
    EXPECT_EQ(h->percentile(100), 100u);
}

TEST(LatencyHistogram, p999_of_a_thousand_samples_is_the_999th_not_the_last) {
    auto h = std::make_unique<H>();
    for (int i = 0; i < 999; ++i) h->record(10);
    h->record(1'000'000);
    // Rank ceil(0.999 * 1000) = 999 exactly: a rounding of the product up
    // to 999.0000001 would make it 1000 and report the outlier.
    EXPECT_EQ(h->percentile(99.9), 10u);
    EXPECT_EQ(h->percentile(99.95), 1'000'000u);
}

TEST(LatencyHistogram, a_single_value_is_reported_exactly_at_every_percentile) {
    auto h = std::make_unique<H>();
    h->record(12'345);
    for (double p : {0.0, 1.0, 50.0, 99.0, 99.9, 100.0}) EXPECT_EQ(h->percentile(p), 12'345u) << p;
    EXPECT_DOUBLE_EQ(h->mean(), 12'345.0);
}

TEST(LatencyHistogram, percentiles_are_within_bucket_precision_of_the_exact_ones) {
    std::mt19937_64 rng(7);
    // Log-uniform from 100 ns to 10 s, like round trips that mostly sit
    // low with a long tail.
    std::uniform_real_distribution<double> exp(std::log(100.0), std::log(1e10));
    std::vector<std::uint64_t> values(200'000);
    auto h = std::make_unique<H>();
    for (std::uint64_t& v : values) {
        v = static_cast<std::uint64_t>(std::exp(exp(rng)));
        h->record(v);
    }
    std::sort(values.begin(), values.end());
    for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
        const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * static_cast<double>(values.size())));
        const std::uint64_t exact = values[rank - 1];
        const std::uint64_t got = h->percentile(p);
        EXPECT_GE(got, exact) << "p" << p;  // the bucket's top: never below the true value
        EXPECT_LE(static_cast<double>(got - exact), static_cast<double>(exact) / 128.0) << "p" << p;
    }
    EXPECT_EQ(h->min(), values.front());
    EXPECT_EQ(h->max(), values.back());
    EXPECT_EQ(h->percentile(100), values.back());
}

TEST(LatencyHistogram, merge_equals_recording_everything_in_one) {
    auto a = std::make_unique<H>(), b = std::make_unique<H>(), all = std::make_unique<H>();
    for (std::uint64_t v = 0; v < 5000; ++v) {
        const std::uint64_t x = v * v * 37 % 9'000'001;
        (v % 3 == 0 ? *a : *b).record(x);
        all->record(x);
    }
    a->merge(*b);
    EXPECT_EQ(a->count(), all->count());
    EXPECT_EQ(a->min(), all->min());
    EXPECT_EQ(a->max(), all->max());
    EXPECT_DOUBLE_EQ(a->mean(), all->mean());
    for (double p : {10.0, 50.0, 99.0, 99.9}) EXPECT_EQ(a->percentile(p), all->percentile(p)) << p;
}

TEST(LatencyHistogram, reset_forgets_every_sample) {
    auto h = std::make_unique<H>();
    h->record(5);
    h->record(5'000'000);
    h->reset();
    EXPECT_EQ(h->count(), 0u);
    EXPECT_EQ(h->max(), 0u);
    h->record(7);
    EXPECT_EQ(h->min(), 7u);
    EXPECT_EQ(h->percentile(99), 7u);
}

}  // namespace
}  // namespace kbnet::tools
