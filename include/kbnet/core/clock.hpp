// Time for the data path: the CPU's time-stamp counter, calibrated once
// against CLOCK_MONOTONIC, read without a syscall in a few cycles.
//
// The stack never reads a clock itself: its poll loop is handed `now`
// (design.md, decision 5), so tests drive it with simulated time. This
// clock is what production loops and tools pass in.
#pragma once

#include <cstdint>

namespace kbnet {

// CLOCK_MONOTONIC in nanoseconds (vDSO, no syscall on x86-64 Linux).
[[nodiscard]] std::uint64_t monotonic_ns() noexcept;

// Raw time-stamp counter.
[[nodiscard]] inline std::uint64_t rdtsc() noexcept { return __builtin_ia32_rdtsc(); }

class TscClock {
  public:
    // The process-wide clock, calibrated on first use (about 20 ms, setup
    // path). Falls back to monotonic_ns() when the CPU has no invariant TSC
    // (the log says so), so now_ns() is always monotonic and in nanoseconds.
    static const TscClock& instance();

    // Calibrates against CLOCK_MONOTONIC over the given span.
    explicit TscClock(std::uint64_t calibration_ns = 20'000'000);

    [[nodiscard]] std::uint64_t now_ns() const noexcept {
        if (!use_tsc_) return monotonic_ns();
        return cycles_to_ns(rdtsc() - tsc_base_) + ns_base_;
    }
    [[nodiscard]] std::uint64_t cycles_to_ns(std::uint64_t cycles) const noexcept {
        // Fixed point: ns = cycles * mult >> 32. The product is split so it
        // cannot overflow for any cycle count below 2^64.
        const std::uint64_t hi = cycles >> 32, lo = cycles & 0xffffffffu;
        return hi * ns_per_cycle_q32_ + ((lo * ns_per_cycle_q32_) >> 32);
    }
    [[nodiscard]] std::uint64_t ns_to_cycles(std::uint64_t ns) const noexcept;
    [[nodiscard]] double cycles_per_ns() const noexcept { return cycles_per_ns_; }
    [[nodiscard]] bool uses_tsc() const noexcept { return use_tsc_; }

  private:
    std::uint64_t tsc_base_ = 0;
    std::uint64_t ns_base_ = 0;
    std::uint64_t ns_per_cycle_q32_ = 0;  // nanoseconds per cycle, 32.32 fixed point
    double cycles_per_ns_ = 0;
    bool use_tsc_ = false;
};

}  // namespace kbnet
