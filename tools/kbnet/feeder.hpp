// An in-process traffic source for `kbnet l2echo --feed` on a pair port:
// it drives the pair's other end, keeps a window of UDP frames in flight,
// and counts the echoes that come back. It lets `make demo` show the echo's
// rate with no network and no privileges. (The real generator with rates,
// flows and latency is `kbnet pktgen`.)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "kbnet/port/port.hpp"

namespace kbnet::tools {

struct FeederStats {
    std::uint64_t sent = 0;
    std::uint64_t echoed = 0;
    std::uint64_t bad_echoes = 0;  // came back without the MACs swapped
};

class Feeder {
  public:
    Feeder(std::unique_ptr<port::Port> port, unsigned frame_size, unsigned burst);

    void run();  // polls until stop(); call from its own thread
    void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }
    // Valid after run() has returned.
    [[nodiscard]] FeederStats stats() const noexcept { return stats_; }

  private:
    // At most this many frames in flight: below the pair's ring depth, so
    // the echo's transmit ring toward us can never fill and drop.
    static constexpr std::uint64_t kWindow = 512;

    std::unique_ptr<port::Port> port_;
    std::vector<std::uint8_t> frame_;
    unsigned burst_;
    std::atomic<bool> stop_{false};
    FeederStats stats_;
};

}  // namespace kbnet::tools
