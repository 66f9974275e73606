#include "port/pair/pair_port.hpp"

#include <array>
#include <atomic>
#include <map>
#include <mutex>
#include <vector>

#include <fmt/format.h>

#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/spsc_ring.hpp"

namespace kbnet::port {
namespace {

std::size_t next_pow2(std::size_t v) {
    std::size_t p = 2;
    while (p < v) p <<= 1;
    return p;
}

// Everything both ends share; it lives until the last end closes.
struct PairShared {
    struct Lane {
        // Packets sent by one end on one queue; the other end receives them.
        SpscRing<PacketHandle> data;
        // Frames owned by the sending end's pool, handed back by the other
        // end when it frees them. Sized to hold every frame of that pool, so
        // a push into it never fails.
        SpscRing<PacketHandle> returns;
        Lane(std::size_t depth, std::size_t pool) : data(depth), returns(next_pow2(pool)) {}
    };

    PairShared(std::string pair_name, std::uint16_t queue_count, std::uint32_t ring_depth, const BufferAreaConfig& cfg)
        : name(std::move(pair_name)),
          queues(queue_count),
          depth(ring_depth),
          frames_per_pool(cfg.frame_count),
          area(with_frames(cfg, std::uint64_t{cfg.frame_count} * 2 * queue_count)) {
        for (std::uint32_t end = 0; end < 2; ++end) {
            for (std::uint16_t q = 0; q < queues; ++q) {
                lanes[end].push_back(std::make_unique<Lane>(depth, frames_per_pool));
                pools[end].push_back(
                    std::make_unique<FramePool>(area, (end * queues + q) * frames_per_pool, frames_per_pool));
            }
        }
    }

    static BufferAreaConfig with_frames(BufferAreaConfig cfg, std::uint64_t total) {
        if (total > (1u << 24)) throw PortError("pair: too many frames; lower queues or the frame count");
        cfg.frame_count = static_cast<std::uint32_t>(total);
        return cfg;
    }

    const std::string name;
    const std::uint16_t queues;
    const std::uint32_t depth;
    const std::uint32_t frames_per_pool;
    BufferArea area;
    std::array<std::vector<std::unique_ptr<Lane>>, 2> lanes;       // [sending end][queue]
    std::array<std::vector<std::unique_ptr<FramePool>>, 2> pools;  // [owning end][queue]
    std::array<std::atomic<bool>, 2> open{};
};

class PairPort final : public Port {
  public:
    PairPort(std::string spec, std::shared_ptr<PairShared> shared, std::uint32_t end)
        : Port(std::move(spec), shared->queues), shared_(std::move(shared)), end_(end), peer_(1 - end) {
        shared_->open[end_].store(true, std::memory_order_release);
    }
    ~PairPort() override {
        // Release: everything this end enqueued is visible to a peer that
        // sees it closed (rx_finished drains the ring before saying so).
        shared_->open[end_].store(false, std::memory_order_release);
    }

    std::string_view kind() const noexcept override { return "pair"; }
    Capabilities capabilities() const noexcept override {
        Capabilities c;
        c.rx_queues = c.tx_queues = shared_->queues;
        c.zero_copy = true;
        c.max_frame = shared_->area.frame_size() - shared_->area.headroom();
        return c;
    }
    const BufferArea& area() const noexcept override { return shared_->area; }

    std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override {
        const auto n = static_cast<std::uint16_t>(shared_->lanes[peer_][queue]->data.dequeue_burst(out));
        QueueCounters& c = counters_of(queue);
        c.rx_packets += n;
        for (std::uint16_t i = 0; i < n; ++i) c.rx_bytes += out[i].length;
        return n;
    }

    std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override {
        const auto n = static_cast<std::uint16_t>(shared_->lanes[end_][queue]->data.enqueue_burst(pkts));
        QueueCounters& c = counters_of(queue);
        c.tx_packets += n;
        for (std::uint16_t i = 0; i < n; ++i) c.tx_bytes += pkts[i].length;
        c.tx_busy += pkts.size() - n;
        return n;
    }

    std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override {
        FramePool& pool = *shared_->pools[end_][queue];
        if (pool.available() < out.size()) reclaim(queue);
        return static_cast<std::uint16_t>(pool.alloc_burst(out));
    }

    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override {
        FramePool& own = *shared_->pools[end_][queue];
        const FramePool& peer = *shared_->pools[peer_][queue];
        std::array<PacketHandle, kDefaultBurst> home;  // frames going back to the peer
        std::size_t n_home = 0;
        for (const PacketHandle& h : pkts) {
            if (own.owns(h.frame)) {
                own.free(h);
            } else if (peer.owns(h.frame)) {
                home[n_home++] = h;
                if (n_home == home.size()) {
                    send_home(queue, std::span<const PacketHandle>(home.data(), n_home));
                    n_home = 0;
                }
            } else {
                // A handle from another queue or another port: a caller bug.
                // Counted, not trusted.
                ++counters_of(queue).rx_errors;
            }
        }
        if (n_home > 0) send_home(queue, std::span<const PacketHandle>(home.data(), n_home));
    }

    bool rx_finished(std::uint16_t queue) const noexcept override {
        // Acquire pairs with the peer's release store in its destructor.
        return !shared_->open[peer_].load(std::memory_order_acquire) && shared_->lanes[peer_][queue]->data.empty();
    }

  private:
    void send_home(std::uint16_t queue, std::span<const PacketHandle> frames) noexcept {
        // Cannot fail: the return ring holds the peer's whole pool.
        const std::size_t n = shared_->lanes[peer_][queue]->returns.enqueue_burst(frames);
        counters_of(queue).tx_dropped += frames.size() - n;
    }
    void reclaim(std::uint16_t queue) noexcept {
        std::array<PacketHandle, 256> back;
        auto& returns = shared_->lanes[end_][queue]->returns;
        FramePool& pool = *shared_->pools[end_][queue];
        for (;;) {
            const std::size_t n = returns.dequeue_burst(back);
            if (n == 0) break;
            pool.free(std::span<const PacketHandle>(back.data(), n));
        }
    }

    std::shared_ptr<PairShared> shared_;
    std::uint32_t end_;
    std::uint32_t peer_;
};

struct Registry {
    struct Entry {
        std::weak_ptr<PairShared> shared;
        std::uint32_t opened = 0;
    };
    std::mutex mutex;
    std::map<std::string, Entry, std::less<>> pairs;
};

Registry& registry() {
    static Registry r;
    return r;
}

}  // namespace

std::unique_ptr<Port> make_pair_port(const PortSpec& spec, const PortOptions& options) {
    const auto queues = static_cast<std::uint16_t>(spec.uint_or("queues", 1, 1, 64));
    // Default depth: 1024, or the largest power of two the pool can fill.
    std::uint32_t default_depth = 1024;
    while (default_depth > 2 && default_depth > options.area.frame_count) default_depth >>= 1;
    const auto depth = static_cast<std::uint32_t>(spec.uint_or("depth", default_depth, 2, 1u << 20));
    if ((depth & (depth - 1)) != 0) {
        throw PortError(fmt::format("bad port spec '{}': depth={} must be a power of two", spec.text, depth));
    }
    if (depth > options.area.frame_count) {
        throw PortError(fmt::format("bad port spec '{}': depth={} is more than the {} frames each end has per queue",
                                    spec.text, depth, options.area.frame_count));
    }

    Registry& r = registry();
    std::lock_guard lock(r.mutex);
    Registry::Entry& e = r.pairs[spec.target];
    std::shared_ptr<PairShared> shared = e.shared.lock();
    if (!shared) {
        shared = std::make_shared<PairShared>(spec.target, queues, depth, options.area);
        e.shared = shared;
        e.opened = 0;
    } else if (e.opened >= 2) {
        throw PortError(fmt::format("pair:{} already has both ends open", spec.target));
    } else if (shared->queues != queues || shared->depth != depth) {
        throw PortError(fmt::format("pair:{}: end 1 asks for queues={},depth={} but end 0 has queues={},depth={}",
                                    spec.target, queues, depth, shared->queues, shared->depth));
    }
    const std::uint32_t end = e.opened++;
    return std::make_unique<PairPort>(spec.text, std::move(shared), end);
}

}  // namespace kbnet::port
