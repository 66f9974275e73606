// Transmit pacing for `kbnet pktgen --rate`: a token bucket kept in
// picoseconds and fed by the caller's clock readings (TscClock in the
// tool, simulated time in tests). No sleeping: the polling loop asks how
// many packets it may send now and sends them, so receive keeps being
// polled between sends.
//
// The credit grows with elapsed time and is spent per packet; it is capped
// at `depth` packets' worth, so after a stall (a full transmit ring, a
// preempted thread) at most one depth of packets goes out at once instead
// of the whole backlog; what the cap throws away is counted (shortfall),
// so a run that fell behind says by how much. Picoseconds keep the rounding of the per-packet
// cost (1e12 / rate) below 0.5 ps: the long-run rate is exact to better
// than 1e-6 for rates up to 1 Mpps and 5e-4 at 1 Gpps.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace kbnet::tools {

class TokenBucket {
  public:
    static constexpr double kMinRate = 1;    // packets per second
    static constexpr double kMaxRate = 1e9;  // cost still 1000 ps

    // rate_pps in [kMinRate, kMaxRate] (the caller checked it); depth >= 1.
    TokenBucket(double rate_pps, std::uint32_t depth, std::uint64_t now_ns) noexcept
        : cost_ps_(static_cast<std::uint64_t>(std::llround(1e12 / rate_pps))),
          depth_ps_(cost_ps_ * std::max<std::uint32_t>(depth, 1)),
          credit_ps_(cost_ps_),  // the first packet may leave at once
          last_ns_(now_ns) {}

    // How many packets may leave now, at most max; they are paid for.
    [[nodiscard]] std::uint32_t take(std::uint64_t now_ns, std::uint32_t max) noexcept {
        if (now_ns > last_ns_) {
            const std::uint64_t elapsed = now_ns - last_ns_;
            last_ns_ = now_ns;
            const std::uint64_t room = depth_ps_ - credit_ps_;
            // Compared in ns, so a stall of any length cannot overflow; in
            // this branch elapsed * 1000 > room: the bucket overflows.
            if (elapsed > room / 1000) {
                discarded_ps_ += std::min(elapsed, kMaxElapsedNs) * 1000 - room;
                credit_ps_ = depth_ps_;
            } else {
                credit_ps_ += elapsed * 1000;
            }
        }
        const std::uint64_t n = std::min<std::uint64_t>(max, credit_ps_ / cost_ps_);
        credit_ps_ -= n * cost_ps_;
        return static_cast<std::uint32_t>(n);
    }
    // Refunds n packets taken but not sent (the port refused them), so a
    // refusal delays them instead of losing their share of the rate.
    void give_back(std::uint32_t n) noexcept { credit_ps_ = std::min(credit_ps_ + n * cost_ps_, depth_ps_); }

    [[nodiscard]] std::uint64_t cost_ps() const noexcept { return cost_ps_; }
    // Packets the rate allowed but the cap threw away because the caller
    // fell behind (it was descheduled, or the port refused frames for
    // longer than the depth covers): sent + shortfall = rate * elapsed,
    // give or take one depth, whatever happened to the caller.
    [[nodiscard]] std::uint64_t shortfall() const noexcept { return discarded_ps_ / cost_ps_; }

  private:
    static constexpr std::uint64_t kMaxElapsedNs = ~std::uint64_t{0} / 1000;  // 213 days: no overflow in * 1000

    std::uint64_t cost_ps_;
    std::uint64_t depth_ps_;
    std::uint64_t credit_ps_;
    std::uint64_t last_ns_;
    std::uint64_t discarded_ps_ = 0;
};

}  // namespace kbnet::tools
