// A token bucket for rate-limiting messages the stack generates on its own
// (ICMP errors): RFC 1122 §3.2.2 lets a host limit the rate of ICMP error
// messages, and RFC 1812 §4.3.2.8 names the token bucket as the method that
// keeps a burst of errors timely while bounding the average.
//
// Time is passed in, in nanoseconds, like everything in the stack. Integer
// arithmetic only: the credit is kept in nanoseconds, and one message costs
// 1e9 / rate of them (Linux's icmp_global_allow does the same with jiffies).
#pragma once

#include <cstdint>

namespace kbnet::stack {

class TokenBucket {
  public:
    // rate_per_sec >= 1 and burst >= 1 (the stack checks its config). The
    // bucket starts full, so the first `burst` messages go out at once.
    TokenBucket(std::uint32_t rate_per_sec, std::uint32_t burst) noexcept
        : cost_ns_(1'000'000'000ull / (rate_per_sec == 0 ? 1 : rate_per_sec)),
          max_credit_ns_(cost_ns_ * (burst == 0 ? 1 : burst)),
          credit_ns_(max_credit_ns_) {}

    // Takes one token if there is one. Time going backwards adds nothing.
    [[nodiscard]] bool allow(std::uint64_t now_ns) noexcept {
        if (now_ns > last_ns_) {
            const std::uint64_t elapsed = now_ns - last_ns_;
            credit_ns_ = elapsed >= max_credit_ns_ - credit_ns_ ? max_credit_ns_ : credit_ns_ + elapsed;
            last_ns_ = now_ns;
        }
        if (credit_ns_ < cost_ns_) return false;
        credit_ns_ -= cost_ns_;
        return true;
    }

  private:
    std::uint64_t cost_ns_;
    std::uint64_t max_credit_ns_;
    std::uint64_t credit_ns_;
    std::uint64_t last_ns_ = 0;
};

}  // namespace kbnet::stack
