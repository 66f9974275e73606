// A fixed-size log-linear histogram of latencies in nanoseconds, for
// percentiles of round-trip times measured on the data path.
//
// Layout (the idea of HdrHistogram, reduced to what a generator needs):
// values below 2^(kSubBucketBits + 1) = 256 ns have a bucket each (exact);
// above, every power of two [2^e, 2^(e+1)) is split into 128 equal
// buckets, so a bucket is at most 1/128 (0.78 %) of the values it holds
// wide. With values up to 2^40 ns (about 18 minutes) that is 4352 buckets
// of 8 bytes, 34 KiB, preallocated: record() is a bit scan, a shift and an
// increment, with no allocation, no branch on the data beyond the small/
// large split, and no floating point. Larger values land in the last
// bucket (min and max stay exact).
//
// Percentiles use the nearest-rank definition over buckets and report the
// highest value of the bucket they fall in, clamped to the exact maximum:
// a reported p99 of X means at least 99 % of samples were <= X, and X is
// within 0.78 % of the true value.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace kbnet::tools {

class LatencyHistogram {
  public:
    static constexpr unsigned kSubBucketBits = 7;  // 128 buckets per power of two
    static constexpr std::uint64_t kSubBuckets = 1u << kSubBucketBits;
    static constexpr std::uint64_t kLinearLimit = kSubBuckets * 2;  // below this every value has its own bucket
    static constexpr unsigned kMaxExponent = 39;                    // the top power of two: [2^39, 2^40)
    static constexpr std::uint64_t kMaxTrackable = (std::uint64_t{1} << (kMaxExponent + 1)) - 1;
    static constexpr std::size_t kBucketCount = (kMaxExponent - kSubBucketBits + 2) * kSubBuckets;

    // The bucket a value belongs to; values above kMaxTrackable share the last.
    [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
        if (ns > kMaxTrackable) ns = kMaxTrackable;
        if (ns < kLinearLimit) return static_cast<std::size_t>(ns);
        // e >= kSubBucketBits + 1; (ns >> shift) is in [128, 256), so the
        // octaves follow each other without gaps: octave e starts at
        // (e - kSubBucketBits + 1) * 128.
        const unsigned shift = static_cast<unsigned>(std::bit_width(ns)) - 1 - kSubBucketBits;
        return static_cast<std::size_t>(shift * kSubBuckets + (ns >> shift));
    }
    // The smallest and largest value a bucket holds.
    [[nodiscard]] static constexpr std::uint64_t bucket_lowest(std::size_t bucket) noexcept {
        if (bucket < kLinearLimit) return bucket;
        const std::uint64_t shift = bucket / kSubBuckets - 1;
        const std::uint64_t sub = bucket % kSubBuckets + kSubBuckets;
        return sub << shift;
    }
    [[nodiscard]] static constexpr std::uint64_t bucket_highest(std::size_t bucket) noexcept {
        if (bucket < kLinearLimit) return bucket;
        const std::uint64_t shift = bucket / kSubBuckets - 1;
        return bucket_lowest(bucket) + (std::uint64_t{1} << shift) - 1;
    }

    void record(std::uint64_t ns) noexcept {
        ++counts_[bucket_of(ns)];
        ++count_;
        sum_ += ns;
        if (ns < min_) min_ = ns;
        if (ns > max_) max_ = ns;
    }
    // Adds every sample of other (an interval's histogram into the total).
    void merge(const LatencyHistogram& other) noexcept;
    void reset() noexcept;

    [[nodiscard]] std::uint64_t count() const noexcept { return count_; }
    // Exact; 0 when empty.
    [[nodiscard]] std::uint64_t min() const noexcept { return count_ == 0 ? 0 : min_; }
    [[nodiscard]] std::uint64_t max() const noexcept { return max_; }
    [[nodiscard]] double mean() const noexcept {
        return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
    }
    // The smallest bucket value X such that at least percent % of the
    // samples are <= X (nearest rank), clamped to [min(), max()]; 0 when
    // empty. percent is clamped to [0, 100]; 0 gives min(), 100 max().
    [[nodiscard]] std::uint64_t percentile(double percent) const noexcept;

  private:
    std::array<std::uint64_t, kBucketCount> counts_{};
    std::uint64_t count_ = 0;
    std::uint64_t sum_ = 0;  // 2^64 ns is 584 years of summed latency: no overflow in practice
    std::uint64_t min_ = ~std::uint64_t{0};
    std::uint64_t max_ = 0;
};

static_assert(LatencyHistogram::bucket_of(LatencyHistogram::kMaxTrackable) == LatencyHistogram::kBucketCount - 1);
static_assert(LatencyHistogram::bucket_of(255) == 255 && LatencyHistogram::bucket_of(256) == 256);
static_assert(LatencyHistogram::bucket_highest(LatencyHistogram::kBucketCount - 1) == LatencyHistogram::kMaxTrackable);

}  // namespace kbnet::tools
