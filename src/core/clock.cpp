#include "kbnet/core/clock.hpp"

#include <cpuid.h>
#include <time.h>

#include "kbnet/core/log.hpp"

namespace kbnet {
namespace {

// CPUID leaf 0x80000007, EDX bit 8: the TSC runs at a constant rate in all
// power states (Intel SDM vol. 3, 17.17.1). Without it TSC deltas do not
// measure time.
bool has_invariant_tsc() noexcept {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    // The cast: gcc declares __get_cpuid_max unsigned, clang int.
    if (static_cast<unsigned>(__get_cpuid_max(0x80000000u, nullptr)) < 0x80000007u) return false;
    __get_cpuid(0x80000007u, &eax, &ebx, &ecx, &edx);
    return (edx & (1u << 8)) != 0;
}

}  // namespace

std::uint64_t monotonic_ns() noexcept {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<std::uint64_t>(ts.tv_nsec);
}

const TscClock& TscClock::instance() {
    static const TscClock clock;
    return clock;
}

TscClock::TscClock(std::uint64_t calibration_ns) {
    ns_base_ = monotonic_ns();
    tsc_base_ = rdtsc();
    if (!has_invariant_tsc()) {
        KBNET_LOG_INFO("clock: no invariant TSC on this CPU; timing falls back to CLOCK_MONOTONIC");
        return;
    }
    // Sample both clocks at the ends of a busy-waited span. Each sample reads
    // the TSC on both sides of clock_gettime and keeps the midpoint; of
    // several tries it keeps the tightest pair, so a preemption between the
    // reads (milliseconds on a loaded machine) cannot skew the rate.
    auto sample = [](std::uint64_t& tsc, std::uint64_t& ns) {
        std::uint64_t best = ~std::uint64_t{0};
        for (int i = 0; i < 16; ++i) {
            const std::uint64_t t0 = rdtsc();
            const std::uint64_t n = monotonic_ns();
            const std::uint64_t t1 = rdtsc();
            if (t1 - t0 < best) {
                best = t1 - t0;
                tsc = t0 + (t1 - t0) / 2;
                ns = n;
            }
        }
    };
    std::uint64_t tsc0 = 0, ns0 = 0, tsc1 = 0, ns1 = 0;
    sample(tsc0, ns0);
    do {
        sample(tsc1, ns1);
    } while (ns1 - ns0 < calibration_ns);

    const double cycles = static_cast<double>(tsc1 - tsc0);
    const double ns = static_cast<double>(ns1 - ns0);
    if (cycles <= 0 || ns <= 0) {
        KBNET_LOG_WARN("clock: TSC calibration failed; timing falls back to CLOCK_MONOTONIC");
        return;
    }
    cycles_per_ns_ = cycles / ns;
    ns_per_cycle_q32_ = static_cast<std::uint64_t>(ns / cycles * 4294967296.0);
    tsc_base_ = tsc1;
    ns_base_ = ns1;
    use_tsc_ = true;
    KBNET_LOG_DEBUG("clock: TSC at {:.3f} GHz", cycles_per_ns_);
}

std::uint64_t TscClock::ns_to_cycles(std::uint64_t ns) const noexcept {
    if (!use_tsc_) return ns;
    return static_cast<std::uint64_t>(static_cast<double>(ns) * cycles_per_ns_);
}

}  // namespace kbnet
