// kbnet pktgen: send numbered, timestamped UDP frames over a port, take
// back what an echo returns, and report rates, loss, reordering and
// round-trip percentiles.
//
// One polling thread does both directions: a paced (or unpaced) transmit
// burst, then a receive burst on every queue. The frames are built from a
// template (pktgen_frame.hpp), the echoes matched against it, their
// round-trip times recorded in a preallocated histogram
// (latency_histogram.hpp) and their sequence numbers in a tracker
// (pktgen_sequence.hpp): nothing on the data path allocates, throws or
// makes a syscall of its own.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "device_info.hpp"
#include "port_setup.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "kbnet/port/steering.hpp"
#include "latency_histogram.hpp"
#include "pktgen_frame.hpp"
#include "pktgen_pacer.hpp"
#include "pktgen_sequence.hpp"
#include "signals.hpp"

namespace kbnet::tools {
namespace {

struct PktgenOptions {
    std::string port;
    double rate = 0;  // packets per second; 0 = as fast as the port takes them
    unsigned size = 64;
    unsigned flows = 1;
    std::uint64_t count = 0;  // 0 = no limit
    double duration = 0;      // seconds of sending; 0 = no limit
    std::string src_mac;      // empty: the device's own, else 02:00:00:00:00:01
    std::string dst_mac = "02:00:00:00:00:02";
    std::string src_ip = "10.0.0.1";
    std::string dst_ip = "10.0.0.2";
    unsigned src_port = 1024;
    unsigned dst_port = 9;  // discard (RFC 863): a host without an echo drops them quietly
    bool json = false;
    unsigned burst = kDefaultBurst;
    int core = -1;
    unsigned wait_ms = 200;
    double linger = 0;  // seconds the port stays open after the summary
    double stats_interval = 1;
    bool echo = false;
};

// A one-line usage error, in main's format, and exit code 2.
template <typename... Args>
int usage_error(fmt::format_string<Args...> f, Args&&... args) {
    fmt::print(stderr, "kbnet pktgen: error: {}\n", fmt::format(f, std::forward<Args>(args)...));
    return kExitUsage;
}

double mpps(std::uint64_t packets, double seconds) {
    return seconds > 0 ? static_cast<double>(packets) / seconds / 1e6 : 0.0;
}

// The pair spec inside a (possibly fault-wrapped) spec, for --echo; empty
// if there is none.
std::string inner_pair_spec(const std::string& spec_text) {
    port::PortSpec spec = port::parse_port_spec(spec_text);
    while (spec.kind == "fault") spec = port::parse_port_spec(spec.target);
    return spec.kind == "pair" ? spec.text : std::string{};
}

// --echo: an L2 echo (MAC swap, like `kbnet l2echo`) on the other end of a
// pair, in this process, so pktgen can be tried end to end without a
// network or privileges.
class PairEcho {
  public:
    explicit PairEcho(std::unique_ptr<port::Port> port) : port_(std::move(port)) {}
    void run() noexcept {
        std::array<PacketHandle, kDefaultBurst> pkts;
        const std::uint16_t queues = port_->queue_count();
        const BufferArea& area = port_->area();
        while (!stop_.load(std::memory_order_relaxed)) {
            bool idle = true;
            for (std::uint16_t q = 0; q < queues; ++q) {
                const std::uint16_t n = port_->rx_burst(q, pkts);
                if (n == 0) continue;
                idle = false;
                for (std::uint16_t i = 0; i < n; ++i) {
                    std::uint8_t* d = area.data(pkts[i]);
                    if (pkts[i].length < 12) continue;
                    std::uint8_t tmp[6];
                    std::memcpy(tmp, d, 6);
                    std::memcpy(d, d + 6, 6);
                    std::memcpy(d + 6, tmp, 6);
                }
                const std::uint16_t sent = port_->tx_burst(q, std::span<const PacketHandle>(pkts.data(), n));
                if (sent < n) port_->free(q, std::span<const PacketHandle>(pkts.data() + sent, n - sent));
            }
            if (idle) {
                for (std::uint16_t q = 0; q < queues; ++q) port_->flush(q);
            }
        }
    }
    void stop() noexcept { stop_.store(true, std::memory_order_relaxed); }

  private:
    std::unique_ptr<port::Port> port_;
    std::atomic<bool> stop_{false};
};

// What the generator counts beyond the sequence tracker and the port.
struct GenCounters {
    std::uint64_t sent = 0;       // frames the port took; also the next sequence number
    std::uint64_t tx_full = 0;    // sends the port took only part of (a full ring); the rest was held
    std::uint64_t no_buffer = 0;  // wanted to send but the port had no free buffer
    std::uint64_t foreign = 0;    // received frames that are not this run's
};

// Which of the flows each transmit queue sends: queue q sends flows q,
// q + Q, q + 2Q, ... in turn, so every flow stays on one queue (a flow's
// frames cannot overtake each other between queues) and the receiver's
// hash spreads them. With one queue, flow = seq % flows.
struct TxLane {
    std::uint32_t first_flow = 0;
    std::uint32_t flow_count = 0;
    std::uint32_t cursor = 0;  // next flow: first_flow + cursor * stride
};

class Generator {
  public:
    Generator(port::Port& p, const FrameTemplate& tmpl, const PktgenOptions& o)
        : port_(p),
          area_(p.area()),
          tmpl_(tmpl),
          clock_(TscClock::instance()),
          use_tsc_(clock_.uses_tsc()),
          tx_pkts_(o.burst),
          rx_pkts_(o.burst),
          tracker_(o.flows),
          total_(std::make_unique<LatencyHistogram>()),
          interval_(std::make_unique<LatencyHistogram>()) {
        const std::uint16_t queues = p.queue_count();
        stride_ = std::min<std::uint32_t>(queues, o.flows);
        for (std::uint32_t q = 0; q < stride_; ++q) {
            lanes_.push_back({q, (o.flows - q + stride_ - 1) / stride_, 0});
        }
    }

    // The queue the next send must use: the one holding refused frames, if
    // any, else the caller's round-robin choice.
    std::uint16_t send_queue(std::uint16_t round_robin) const noexcept { return held_ > 0 ? held_q_ : round_robin; }

    // Sends up to want frames on queue q (send_queue()'s choice); returns
    // how many left. Frames the port refuses (a full ring) are held and go
    // first next time, renumbered and retimed but not rebuilt: at rate 0
    // the ring is often full, and rebuilding a burst per poll would be
    // wasted work. They hold the next sequence numbers, which is why no
    // other queue may send until they have left: the numbers leave in order.
    std::uint32_t send_burst(std::uint16_t q, std::uint32_t want) noexcept {
        std::uint32_t n = held_;
        if (n < want) {
            const std::span<PacketHandle> fresh(tx_pkts_.data() + n, want - n);
            const std::uint16_t got = port_.alloc(q, fresh);
            if (KBNET_UNLIKELY(got < fresh.size())) ++c_.no_buffer;
            const auto len = static_cast<std::uint16_t>(tmpl_.size());
            for (std::uint16_t i = 0; i < got; ++i) {
                std::memcpy(area_.data(fresh[i]), tmpl_.bytes().data(), len);
                fresh[i].length = len;
            }
            n += got;
        }
        if (n == 0) return 0;
        const std::uint32_t offer = std::min(n, want);
        TxLane& lane = lanes_[q];
        // One timestamp per burst: the frames are handed to the port
        // together, and a TSC read per frame would cost more than the
        // build spread it covers (a few ns per frame).
        const std::uint64_t ts = stamp_now();
        std::uint32_t cursor = lane.cursor;
        for (std::uint32_t i = 0; i < offer; ++i) {
            tmpl_.stamp_fields(area_.data(tx_pkts_[i]), lane.first_flow + cursor * stride_, c_.sent + i, ts);
            if (++cursor == lane.flow_count) cursor = 0;
        }
        const std::uint16_t sent =
            port_.tx_burst(q, std::span<const PacketHandle>(tx_pkts_.data(), static_cast<std::size_t>(offer)));
        if (KBNET_UNLIKELY(sent < offer)) ++c_.tx_full;
        // Only what left is numbered: the held frames take the next numbers
        // and flows, so the sequence has no gaps that would read as loss.
        held_ = n - sent;
        held_q_ = q;
        if (sent > 0 && held_ > 0) std::copy(tx_pkts_.begin() + sent, tx_pkts_.begin() + n, tx_pkts_.begin());
        c_.sent += sent;
        lane.cursor = static_cast<std::uint32_t>((lane.cursor + sent) % lane.flow_count);
        return sent;
    }
    // Gives the held frames back to the port (sending has stopped).
    void release_held() noexcept {
        if (held_ > 0) port_.free(held_q_, std::span<const PacketHandle>(tx_pkts_.data(), held_));
        held_ = 0;
    }

    // Receives one burst on queue q and accounts for it; returns its size.
    std::uint16_t receive_burst(std::uint16_t q) noexcept {
        const std::uint16_t n = port_.rx_burst(q, rx_pkts_);
        if (n == 0) return 0;
        const std::uint64_t now = stamp_now();
        for (std::uint16_t i = 0; i < n; ++i) {
            Echo e;
            // A number not sent yet cannot be an echo of this run.
            if (!tmpl_.match(area_.bytes(rx_pkts_[i]), e) || e.seq >= c_.sent) {
                ++c_.foreign;
                continue;
            }
            if (tracker_.record(e.seq, e.flow) == SequenceTracker::Verdict::duplicate) continue;
            // A timestamp from the future (another CPU's TSC a little
            // ahead) is a round trip of 0, not of 2^64 cycles.
            interval_->record(now > e.tsc ? to_ns(now - e.tsc) : 0);
        }
        port_.free(q, std::span<const PacketHandle>(rx_pkts_.data(), n));
        return n;
    }

    std::uint32_t tx_queues() const noexcept { return stride_; }
    const GenCounters& counters() const noexcept { return c_; }
    const SequenceTracker& tracker() const noexcept { return tracker_; }
    // Folds the interval's samples into the total and returns the interval's
    // histogram for printing (valid until the next call).
    const LatencyHistogram& roll_interval() noexcept {
        total_->merge(*interval_);
        last_interval_.swap(interval_);
        interval_->reset();
        return *last_interval_;
    }
    const LatencyHistogram& total() const noexcept { return *total_; }

  private:
    std::uint64_t stamp_now() const noexcept { return use_tsc_ ? rdtsc() : monotonic_ns(); }
    std::uint64_t to_ns(std::uint64_t ticks) const noexcept { return use_tsc_ ? clock_.cycles_to_ns(ticks) : ticks; }

    port::Port& port_;
    const BufferArea& area_;
    const FrameTemplate& tmpl_;
    const TscClock& clock_;
    bool use_tsc_;
    std::vector<PacketHandle> tx_pkts_;  // the first held_ are frames built and refused
    std::uint32_t held_ = 0;
    std::uint16_t held_q_ = 0;
    std::vector<PacketHandle> rx_pkts_;
    std::vector<TxLane> lanes_;
    std::uint32_t stride_ = 1;
    GenCounters c_;
    SequenceTracker tracker_;
    std::unique_ptr<LatencyHistogram> total_;
    std::unique_ptr<LatencyHistogram> interval_;
    std::unique_ptr<LatencyHistogram> last_interval_ = std::make_unique<LatencyHistogram>();
};

std::string us(std::uint64_t ns) { return fmt::format("{:.1f} us", static_cast<double>(ns) / 1e3); }

nlohmann::json rtt_json(const LatencyHistogram& h) {
    if (h.count() == 0) {
        return {{"samples", 0},   {"p50", nullptr}, {"p99", nullptr}, {"p999", nullptr},
                {"max", nullptr}, {"min", nullptr}, {"mean", nullptr}};
    }
    return {{"samples", h.count()}, {"p50", h.percentile(50)}, {"p99", h.percentile(99)}, {"p999", h.percentile(99.9)},
            {"max", h.max()},       {"min", h.min()},          {"mean", h.mean()}};
}

int run_pktgen(const PktgenOptions& o) {
    // ---- what to send: checked before anything is opened ----------------
    const std::optional<wire::MacAddress> dst_mac = wire::MacAddress::parse(o.dst_mac);
    if (!dst_mac) {
        return usage_error("--dst-mac '{}' is not a MAC address; write six hex bytes, e.g. 02:00:00:00:00:02",
                           o.dst_mac);
    }
    std::optional<wire::MacAddress> src_mac;
    if (!o.src_mac.empty()) {
        src_mac = wire::MacAddress::parse(o.src_mac);
        if (!src_mac) {
            return usage_error("--src-mac '{}' is not a MAC address; write six hex bytes, e.g. 02:00:00:00:00:01",
                               o.src_mac);
        }
        if (src_mac->is_multicast()) {
            return usage_error("--src-mac {} is a group address; a source MAC must be unicast (first byte even)",
                               o.src_mac);
        }
    }
    const std::optional<wire::Ipv4Address> src_ip = wire::Ipv4Address::parse(o.src_ip);
    if (!src_ip) {
        return usage_error("--src-ip '{}' is not an IPv4 address; write a dotted quad, e.g. 10.0.0.1", o.src_ip);
    }
    const std::optional<wire::Ipv4Address> dst_ip = wire::Ipv4Address::parse(o.dst_ip);
    if (!dst_ip) {
        return usage_error("--dst-ip '{}' is not an IPv4 address; write a dotted quad, e.g. 10.0.0.2", o.dst_ip);
    }
    if (o.flows == 0) return usage_error("--flows 0: send at least one flow (--flows 1 or more)");
    if (o.src_port == 0 || o.src_port > 0xffff) {
        return usage_error("--src-port {} is not a port; use 1 to 65535", o.src_port);
    }
    if (o.dst_port == 0 || o.dst_port > 0xffff) {
        return usage_error("--dst-port {} is not a port; use 1 to 65535", o.dst_port);
    }
    if (std::uint64_t{o.src_port} + o.flows - 1 > 0xffff) {
        return usage_error(
            "--flows {} from --src-port {} runs past port 65535; use at most {} flows or a lower --src-port", o.flows,
            o.src_port, 0x10000 - o.src_port);
    }
    if (o.size < kMinFrameSize) {
        return usage_error("--size {} is below the {}-byte minimum Ethernet frame (without FCS); use --size {} or more",
                           o.size, kMinFrameSize, kMinFrameSize);
    }
    if (o.rate != 0 && (o.rate < TokenBucket::kMinRate || o.rate > TokenBucket::kMaxRate)) {
        return usage_error(
            "--rate {} is out of range; use 0 (as fast as possible) or {:.0f} to {:.0f} packets per second", o.rate,
            TokenBucket::kMinRate, TokenBucket::kMaxRate);
    }
    if (o.burst == 0 || o.burst > 256) return usage_error("--burst {} is out of range; use 1 to 256", o.burst);
    if (o.echo && inner_pair_spec(o.port).empty()) {
        return usage_error(
            "--echo needs a pair: port (optionally inside fault(...)), to echo on its other end; got '{}'", o.port);
    }

    install_stop_signals();
    const TscClock& clock = TscClock::instance();
    std::unique_ptr<port::Port> p = port::open_port(o.port);
    const port::Capabilities caps = p->capabilities();
    if (o.size > caps.max_frame) {
        return usage_error("--size {} is larger than the {} bytes a frame of {} can carry; use --size {} or less",
                           o.size, caps.max_frame, o.port, caps.max_frame);
    }
    // The device drops what its MTU does not allow (the IPv4 packet is the
    // Ethernet payload): better said now than counted as loss.
    const DeviceInfo dev = device_info(o.port);
    if (dev.mtu && o.size > *dev.mtu + wire::kEthernetHeaderLen) {
        return usage_error(
            "--size {} does not fit the MTU {} of {} ({} bytes with the Ethernet header); use --size "
            "{} or less, or raise the MTU",
            o.size, *dev.mtu, dev.name, *dev.mtu + wire::kEthernetHeaderLen, *dev.mtu + wire::kEthernetHeaderLen);
    }
    // A port that shares its device with the kernel hands us nothing until
    // asked: the echoes come back to the destination port (the echo swaps
    // MACs only), so that is the filter.
    if (port::Steering* s = p->steering(); s != nullptr && s->steer_mode() == port::SteerMode::filtered) {
        s->add_filter(wire::kIpProtoUdp, static_cast<std::uint16_t>(o.dst_port));
        KBNET_LOG_INFO("pktgen: steering udp:{} on {} to this port (the echoes' destination port)", o.dst_port, o.port);
    }

    TrafficConfig cfg;
    cfg.src_mac = src_mac ? *src_mac : dev.mac.value_or(wire::MacAddress{{0x02, 0, 0, 0, 0, 0x01}});
    cfg.dst_mac = *dst_mac;
    cfg.src_ip = *src_ip;
    cfg.dst_ip = *dst_ip;
    cfg.src_port = static_cast<std::uint16_t>(o.src_port);
    cfg.dst_port = static_cast<std::uint16_t>(o.dst_port);
    cfg.flows = o.flows;
    cfg.frame_size = o.size;
    // A tag per run, so that echoes of an earlier run still in a ring are
    // not taken for this one's (never zero, the value a cleared header has).
    {
        std::uint64_t x = rdtsc() ^ (static_cast<std::uint64_t>(::getpid()) << 32);
        x ^= x >> 33;
        x *= 0xff51afd7ed558ccdull;  // murmur3's finaliser: spreads the low TSC bits
        x ^= x >> 33;
        cfg.run_tag = static_cast<std::uint16_t>(x) == 0 ? 1 : static_cast<std::uint16_t>(x);
    }
    Result<FrameTemplate> tmpl = FrameTemplate::build(cfg);
    if (!tmpl) return usage_error("cannot build the frame: {}", tmpl.error().reason);

    // --echo: the pair's other end, echoing in its own thread. With --core
    // it gets a CPU of its own, chosen and pinned before this thread pins
    // itself (a thread started after would inherit that one CPU and the
    // two would time-slice); without, the scheduler places both.
    std::unique_ptr<PairEcho> echo;
    std::thread echo_thread;
    if (o.echo) {
        echo = std::make_unique<PairEcho>(port::open_port(inner_pair_spec(o.port)));
        int echo_cpu = -1;
        if (o.core >= 0) {
            for (unsigned c : allowed_cpus()) {
                if (static_cast<int>(c) != o.core) {
                    echo_cpu = static_cast<int>(c);
                    break;
                }
            }
        }
        echo_thread = std::thread([e = echo.get(), echo_cpu] {
            if (echo_cpu >= 0) (void)pin_current_thread(static_cast<unsigned>(echo_cpu));
            e->run();
        });
    }
    auto stop_echo = [&] {
        if (echo) {
            echo->stop();
            echo_thread.join();
        }
    };
    if (o.core >= 0) {
        if (Status s = pin_current_thread(static_cast<unsigned>(o.core)); !s) {
            stop_echo();
            return usage_error("--core {}: {}", o.core, s.error().reason);
        }
    }

    // A port with a peer (memif) carries nothing until the peer is there;
    // sending starts when it is.
    (void)wait_for_link(*p, "pktgen", o.port);

    Generator gen(*p, *tmpl, o);
    const std::uint16_t queues = p->queue_count();
    const std::uint32_t tx_queues = gen.tx_queues();
    FILE* stats_out = o.json ? stderr : stdout;

    const std::uint64_t start = clock.now_ns();
    const std::uint64_t send_end =
        o.duration > 0 ? start + static_cast<std::uint64_t>(o.duration * 1e9) : ~std::uint64_t{0};
    const std::uint64_t interval = static_cast<std::uint64_t>(o.stats_interval * 1e9);
    std::uint64_t next_stats = interval > 0 ? start + interval : ~std::uint64_t{0};
    std::uint64_t last_stats = start;
    std::uint64_t last_sent = 0, last_received = 0;
    std::optional<TokenBucket> pacer;
    // Depth: a millisecond of packets (at least a burst), enough to ride
    // out a short preemption without a deficit, short enough that catching
    // up is a microburst rather than a flood.
    if (o.rate > 0) {
        pacer.emplace(o.rate, std::max<std::uint32_t>(o.burst, static_cast<std::uint32_t>(o.rate / 1000)), start);
    }

    bool sending = true;
    std::uint64_t send_stop = 0;  // when sending stopped
    std::uint64_t drain_end = 0;
    std::uint16_t next_txq = 0;
    const char* stop_reason = "";
    for (;;) {
        const std::uint64_t now = clock.now_ns();
        bool busy = false;
        if (sending) {
            const GenCounters& c = gen.counters();
            const char* why = nullptr;
            if (stop_requested()) {
                why = "signal";
            } else if (o.count > 0 && c.sent >= o.count) {
                why = "count";
            } else if (now >= send_end) {
                why = "duration";
            }
            if (why != nullptr) {
                sending = false;
                gen.release_held();
                stop_reason = why;
                send_stop = now;
                drain_end = now + std::uint64_t{o.wait_ms} * 1'000'000;
            } else {
                std::uint32_t want = o.burst;
                if (o.count > 0) want = static_cast<std::uint32_t>(std::min<std::uint64_t>(want, o.count - c.sent));
                if (pacer) want = pacer->take(now, want);
                if (want > 0) {
                    const std::uint16_t q = gen.send_queue(next_txq);
                    const std::uint32_t sent = gen.send_burst(q, want);
                    if (pacer && sent < want) pacer->give_back(want - sent);
                    next_txq = static_cast<std::uint16_t>(q + 1u == tx_queues ? 0u : q + 1u);
                    busy = sent > 0;
                }
            }
        }
        for (std::uint16_t q = 0; q < queues; ++q) busy = gen.receive_burst(q) > 0 || busy;
        if (!busy) {
            for (std::uint16_t q = 0; q < queues; ++q) p->flush(q);
        }
        if (!sending) {
            // Done once every frame is back, the wait is over, or no queue
            // can deliver anything more (a pcap port without input).
            bool finished = gen.tracker().received() >= gen.counters().sent || now >= drain_end;
            if (!finished) {
                finished = true;
                for (std::uint16_t q = 0; q < queues; ++q) finished = finished && p->rx_finished(q);
            }
            if (finished) break;
        }
        if (KBNET_UNLIKELY(now >= next_stats)) {
            const GenCounters& c = gen.counters();
            const std::uint64_t received = gen.tracker().received();
            const double secs = static_cast<double>(now - last_stats) / 1e9;
            const LatencyHistogram& h = gen.roll_interval();
            const std::string rtt = h.count() == 0 ? std::string("rtt -")
                                                   : fmt::format("rtt p50 {} p99 {} max {}", us(h.percentile(50)),
                                                                 us(h.percentile(99)), us(h.max()));
            fmt::print(stats_out,
                       "pktgen: tx {:.3f} Mpps  rx {:.3f} Mpps  {}  (sent {} received {} reordered {} foreign {})\n",
                       mpps(c.sent - last_sent, secs), mpps(received - last_received, secs), rtt, c.sent, received,
                       gen.tracker().reordered(), c.foreign);
            std::fflush(stats_out);
            last_sent = c.sent;
            last_received = received;
            last_stats = now;
            next_stats = now + interval;
        }
    }
    for (std::uint16_t q = 0; q < queues; ++q) p->flush(q);
    const std::uint64_t end = clock.now_ns();
    stop_echo();
    (void)gen.roll_interval();

    const GenCounters& c = gen.counters();
    const SequenceTracker& t = gen.tracker();
    const LatencyHistogram& h = gen.total();
    const double seconds = static_cast<double>(send_stop - start) / 1e9;
    const port::QueueCounters pc = p->totals();
    nlohmann::json j = {
        {"tx_packets", c.sent},
        {"rx_packets", t.received()},
        {"lost", t.lost(c.sent)},
        {"reordered", t.reordered()},
        {"flow_reordered", t.flow_reordered()},
        {"duplicates", t.duplicates()},
        {"late", t.late()},
        {"foreign", c.foreign},
        {"seconds", seconds},
        {"total_seconds", static_cast<double>(end - start) / 1e9},
        {"tx_mpps", mpps(c.sent, seconds)},
        {"rx_mpps", mpps(t.received(), seconds)},
        {"tx_gbps", seconds > 0 ? static_cast<double>(c.sent) * o.size * 8 / seconds / 1e9 : 0.0},
        {"rtt_ns", rtt_json(h)},
        {"stopped_by", stop_reason},
        {"pacing_shortfall", pacer ? pacer->shortfall() : 0},
        {"tx_ring_full", c.tx_full},
        {"tx_no_buffer", c.no_buffer},
        {"port_rx_dropped", pc.rx_dropped},
        {"port_tx_dropped", pc.tx_dropped},
        {"port_rx_errors", pc.rx_errors},
        {"clock", clock.uses_tsc() ? "tsc" : "monotonic"},
        {"config",
         {{"port", o.port},
          {"rate", o.rate},
          {"size", o.size},
          {"flows", o.flows},
          {"count", o.count},
          {"duration", o.duration},
          {"burst", o.burst},
          {"wait_ms", o.wait_ms},
          {"src_mac", cfg.src_mac.to_string()},
          {"dst_mac", cfg.dst_mac.to_string()},
          {"src_ip", cfg.src_ip.to_string()},
          {"dst_ip", cfg.dst_ip.to_string()},
          {"src_port", cfg.src_port},
          {"dst_port", cfg.dst_port},
          {"run_tag", cfg.run_tag},
          {"echo", o.echo}}},
    };
    if (o.json) {
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("pktgen: sent {} frames of {} bytes in {:.3f} s ({:.3f} Mpps), {} came back ({:.3f} Mpps)\n", c.sent,
                   o.size, seconds, mpps(c.sent, seconds), t.received(), mpps(t.received(), seconds));
        fmt::print("pktgen: lost {}, reordered {} ({} within a flow), duplicates {}, foreign {}\n", t.lost(c.sent),
                   t.reordered(), t.flow_reordered(), t.duplicates(), c.foreign);
        if (h.count() > 0) {
            fmt::print("pktgen: rtt p50 {}  p99 {}  p99.9 {}  max {}  (min {}, mean {:.1f} us, {} samples)\n",
                       us(h.percentile(50)), us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()), us(h.min()),
                       h.mean() / 1e3, h.count());
        }
        if (pacer && pacer->shortfall() > 0) {
            fmt::print(
                "pktgen: fell {} frames behind --rate {} (this thread was preempted, or the port refused frames); the "
                "rates above are what was achieved\n",
                pacer->shortfall(), o.rate);
        }
        if (c.tx_full + c.no_buffer > 0) {
            fmt::print("pktgen: the transmit ring was full {} times and the port out of buffers {} times\n", c.tx_full,
                       c.no_buffer);
        }
    }
    if (o.linger > 0) {
        // The summary is out; the port (and a memif peer's connection, whose
        // counters DPDK forgets on disconnect) stays up a while longer.
        std::fflush(stdout);
        const std::uint64_t until = clock.now_ns() + static_cast<std::uint64_t>(o.linger * 1e9);
        while (clock.now_ns() < until && !stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return kExitOk;
}

}  // namespace

Command add_pktgen(CLI::App& app) {
    auto opts = std::make_shared<PktgenOptions>();
    CLI::App* sub = app.add_subcommand(
        "pktgen", "Send numbered, timestamped UDP frames; measure loss, reordering and round trip of their echoes");
    sub->add_option("--port", opts->port, "Port spec, e.g. afxdp:veth0,steer=all or pcap:-,out=out.pcap")
        ->required()
        ->option_text("SPEC");
    sub->add_option("--rate", opts->rate, "Packets per second; 0 sends as fast as the port takes them")
        ->capture_default_str();
    sub->add_option("--size", opts->size, "Ethernet frame size in bytes, without FCS (60 up to the port's maximum)")
        ->capture_default_str();
    sub->add_option("--flows", opts->flows, "Number of flows (source ports from --src-port up)")->capture_default_str();
    auto* count = sub->add_option("--count", opts->count, "Stop sending after N frames")->option_text("N");
    sub->add_option("--duration", opts->duration, "Stop sending after SEC seconds")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC")
        ->excludes(count);
    sub->add_option("--src-mac", opts->src_mac, "Source MAC (default: the interface's own, else 02:00:00:00:00:01)");
    sub->add_option("--dst-mac", opts->dst_mac, "Destination MAC")->capture_default_str();
    sub->add_option("--src-ip", opts->src_ip, "Source IPv4 address")->capture_default_str();
    sub->add_option("--dst-ip", opts->dst_ip, "Destination IPv4 address")->capture_default_str();
    sub->add_option("--src-port", opts->src_port, "UDP source port of flow 0 (flow f uses this + f)")
        ->capture_default_str();
    sub->add_option("--dst-port", opts->dst_port, "UDP destination port")->capture_default_str();
    sub->add_flag("--json", opts->json, "Print the summary as one JSON object on stdout (periodic lines go to stderr)");
    sub->add_option("--burst", opts->burst, "Frames per tx/rx burst")->capture_default_str();
    sub->add_option("--core", opts->core, "Pin the polling thread to this CPU")->check(CLI::NonNegativeNumber);
    sub->add_option("--linger", opts->linger,
                    "Keep the port open SEC seconds after printing the summary (a memif peer can read its counters "
                    "before the link goes down)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--wait-ms", opts->wait_ms, "After sending, wait up to this many milliseconds for the last echoes")
        ->capture_default_str();
    sub->add_option("--stats-interval", opts->stats_interval, "Print rates every SEC seconds (0: only at the end)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC")
        ->capture_default_str();
    sub->add_flag("--echo", opts->echo,
                  "pair ports only: echo (swap MACs) on the pair's other end in this process, for a test "
                  "without a network");
    sub->footer(std::string(port::port_spec_grammar()));
    return {sub, [opts] { return run_pktgen(*opts); }};
}

}  // namespace kbnet::tools
