#include "latency_histogram.hpp"

#include <algorithm>
#include <cmath>

namespace kbnet::tools {

void LatencyHistogram::merge(const LatencyHistogram& other) noexcept {
    if (other.count_ == 0) return;
    for (std::size_t i = 0; i < kBucketCount; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() noexcept {
    counts_.fill(0);
    count_ = 0;
    sum_ = 0;
    min_ = ~std::uint64_t{0};
    max_ = 0;
}

std::uint64_t LatencyHistogram::percentile(double percent) const noexcept {
    if (count_ == 0) return 0;
    if (!(percent > 0)) return min_;  // also NaN
    if (percent >= 100) return max_;
    // Nearest rank (the sample at position ceil(p/100 * n), 1-based). The
    // product is computed in long double so that p99.9 of 1000 samples is
    // rank 999, not 1000 through rounding up of 999.0000000001.
    const long double exact = static_cast<long double>(percent) / 100.0L * static_cast<long double>(count_);
    auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9L));
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBucketCount; ++i) {
        seen += counts_[i];
        if (seen >= rank) return std::clamp(bucket_highest(i), min_, max_);
    }
    return max_;
}

}  // namespace kbnet::tools
