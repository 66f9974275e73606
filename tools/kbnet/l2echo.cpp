// kbnet l2echo: receive bursts, swap source and destination MAC, send back.
//
// The simplest job on a raw port and the baseline for every port's speed:
// no parsing beyond the Ethernet addresses, one pass over each burst.
#include <array>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "feeder.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "signals.hpp"

namespace kbnet::tools {
namespace {

struct EchoOptions {
    std::string port;
    double duration = 0;        // seconds; 0 = until a signal or the input ends
    double stats_interval = 1;  // seconds; 0 = only the final summary
    bool json = false;
    unsigned burst = kDefaultBurst;
    int core = -1;
    bool feed = false;
    unsigned feed_size = 64;
};

// What the echo itself counts, beyond the port's counters.
struct EchoCounters {
    std::uint64_t runts = 0;       // frames too short to hold two MAC addresses: dropped
    std::uint64_t tx_refused = 0;  // echoes the port would not take (ring full): dropped
};

inline void swap_macs(std::uint8_t* frame) noexcept {
    std::uint8_t tmp[6];
    std::memcpy(tmp, frame, 6);
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, tmp, 6);
}

// One pass over one queue: receive a burst, echo it. Returns the number of
// frames received (0 = idle).
std::uint16_t echo_burst(port::Port& p, std::uint16_t q, std::span<PacketHandle> pkts, EchoCounters& ec) noexcept {
    const std::uint16_t n = p.rx_burst(q, pkts);
    if (n == 0) return 0;
    // Compact in place: runts are freed, the rest get their MACs swapped.
    std::uint16_t keep = 0;
    std::array<PacketHandle, 256> runts;
    std::uint16_t n_runts = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        const PacketHandle h = pkts[i];
        if (KBNET_UNLIKELY(h.length < 14)) {  // dst MAC, src MAC, EtherType
            runts[n_runts++] = h;
            continue;
        }
        swap_macs(p.area().data(h));
        pkts[keep++] = h;
    }
    if (n_runts > 0) {
        ec.runts += n_runts;
        p.free(q, std::span<const PacketHandle>(runts.data(), n_runts));
    }
    const std::uint16_t sent = p.tx_burst(q, pkts.first(keep));
    if (KBNET_UNLIKELY(sent < keep)) {
        ec.tx_refused += keep - sent;
        p.free(q, pkts.subspan(sent, keep - sent));
    }
    return n;
}

double mpps(std::uint64_t packets, double seconds) {
    return seconds > 0 ? static_cast<double>(packets) / seconds / 1e6 : 0.0;
}

int run_l2echo(const EchoOptions& o) {
    install_stop_signals();
    const TscClock& clock = TscClock::instance();

    std::unique_ptr<port::Port> p = port::open_port(o.port);
    // The feeder opens the pair's other end in this process (make demo).
    std::optional<Feeder> feeder;
    if (o.feed) {
        if (p->kind() != "pair") {
            throw port::PortError("--feed needs a pair: port (the feeder drives the pair's other end); got " +
                                  std::string(p->kind()));
        }
        feeder.emplace(port::open_port(o.port), o.feed_size, o.burst);
    }
    // The feeder gets a CPU of its own: a thread started after the echo
    // pinned itself would inherit that one CPU and the two would time-slice.
    std::thread feeder_thread;
    if (feeder) {
        int feeder_cpu = -1;
        for (unsigned c : allowed_cpus()) {
            if (static_cast<int>(c) != o.core) {
                feeder_cpu = static_cast<int>(c);
                break;
            }
        }
        feeder_thread = std::thread([&feeder, feeder_cpu] {
            if (feeder_cpu >= 0) (void)pin_current_thread(static_cast<unsigned>(feeder_cpu));
            feeder->run();
        });
    }
    if (o.core >= 0) {
        if (Status s = pin_current_thread(static_cast<unsigned>(o.core)); !s) {
            if (feeder) {
                feeder->stop();
                feeder_thread.join();
            }
            throw std::invalid_argument(fmt::format("--core {}: {}", o.core, s.error().reason));
        }
    }

    const std::uint16_t queues = p->queue_count();
    std::vector<PacketHandle> pkts(o.burst);
    EchoCounters ec;
    FILE* stats_out = o.json ? stderr : stdout;

    const std::uint64_t start = clock.now_ns();
    const std::uint64_t end = o.duration > 0 ? start + static_cast<std::uint64_t>(o.duration * 1e9) : ~std::uint64_t{0};
    const std::uint64_t interval = static_cast<std::uint64_t>(o.stats_interval * 1e9);
    std::uint64_t next_stats = interval > 0 ? start + interval : ~std::uint64_t{0};
    std::uint64_t last_stats = start;
    port::QueueCounters last = p->totals();

    for (;;) {
        std::uint32_t got = 0;
        for (std::uint16_t q = 0; q < queues; ++q) got += echo_burst(*p, q, pkts, ec);
        if (got == 0) {
            bool finished = true;
            for (std::uint16_t q = 0; q < queues; ++q) {
                p->flush(q);
                finished = finished && p->rx_finished(q);
            }
            if (finished) break;
        }
        if (stop_requested()) break;
        const std::uint64_t now = clock.now_ns();
        if (KBNET_UNLIKELY(now >= next_stats)) {
            const port::QueueCounters t = p->totals();
            const double secs = static_cast<double>(now - last_stats) / 1e9;
            fmt::print(stats_out, "l2echo: rx {:.3f} Mpps  tx {:.3f} Mpps  (rx {} tx {} packets)\n",
                       mpps(t.rx_packets - last.rx_packets, secs), mpps(t.tx_packets - last.tx_packets, secs),
                       t.rx_packets, t.tx_packets);
            std::fflush(stats_out);
            last = t;
            last_stats = now;
            next_stats = now + interval;
        }
        if (KBNET_UNLIKELY(now >= end)) break;
    }
    for (std::uint16_t q = 0; q < queues; ++q) p->flush(q);
    const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
    if (feeder) {
        feeder->stop();
        feeder_thread.join();
    }

    const port::QueueCounters t = p->totals();
    nlohmann::json j = {
        {"port", o.port},
        {"seconds", seconds},
        {"rx_packets", t.rx_packets},
        {"tx_packets", t.tx_packets},
        {"rx_bytes", t.rx_bytes},
        {"tx_bytes", t.tx_bytes},
        {"rx_mpps", mpps(t.rx_packets, seconds)},
        {"tx_mpps", mpps(t.tx_packets, seconds)},
        {"dropped_runts", ec.runts},
        {"dropped_tx_full", ec.tx_refused},
        {"port_rx_dropped", t.rx_dropped},
        {"port_tx_dropped", t.tx_dropped},
        {"port_rx_errors", t.rx_errors},
    };
    nlohmann::json per_queue = nlohmann::json::array();
    for (std::uint16_t q = 0; q < queues; ++q) {
        const port::QueueCounters& c = p->counters(q);
        per_queue.push_back({{"queue", q}, {"rx_packets", c.rx_packets}, {"tx_packets", c.tx_packets}});
    }
    j["queues"] = per_queue;
    if (feeder) {
        const FeederStats f = feeder->stats();
        j["feeder"] = {{"sent", f.sent}, {"echoed", f.echoed}, {"bad_echoes", f.bad_echoes}};
    }

    if (o.json) {
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("l2echo: {} packets received, {} sent back in {:.3f} s: rx {:.3f} Mpps, tx {:.3f} Mpps\n",
                   t.rx_packets, t.tx_packets, seconds, mpps(t.rx_packets, seconds), mpps(t.tx_packets, seconds));
        if (ec.runts + ec.tx_refused + t.rx_dropped + t.tx_dropped + t.rx_errors > 0) {
            fmt::print(
                "l2echo: dropped {} runts, {} on a full tx ring; port rx_dropped {} tx_dropped {} "
                "rx_errors {}\n",
                ec.runts, ec.tx_refused, t.rx_dropped, t.tx_dropped, t.rx_errors);
        }
        if (feeder) {
            const FeederStats f = feeder->stats();
            fmt::print("l2echo: feeder sent {} frames, {} came back echoed ({} with wrong MACs)\n", f.sent, f.echoed,
                       f.bad_echoes);
        }
    }
    return kExitOk;
}

}  // namespace

Command add_l2echo(CLI::App& app) {
    auto opts = std::make_shared<EchoOptions>();
    CLI::App* sub = app.add_subcommand("l2echo", "Echo every frame back with source and destination MAC swapped");
    sub->add_option("--port", opts->port, "Port spec, e.g. pcap:in.pcap,out=out.pcap or pair:demo")
        ->required()
        ->option_text("SPEC");
    sub->add_option("--duration", opts->duration,
                    "Stop after SEC seconds (default: until SIGINT/SIGTERM or the "
                    "input ends)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--stats-interval", opts->stats_interval, "Print rates every SEC seconds (0: only at the end)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC")
        ->capture_default_str();
    sub->add_flag("--json", opts->json, "Print the final summary as one JSON object on stdout");
    sub->add_option("--burst", opts->burst, "Frames per rx/tx burst")->check(CLI::Range(1, 256))->capture_default_str();
    sub->add_option("--core", opts->core, "Pin the polling thread to this CPU")->check(CLI::NonNegativeNumber);
    sub->add_flag("--feed", opts->feed,
                  "pair ports only: run a traffic generator on the pair's other end in this process");
    sub->add_option("--feed-size", opts->feed_size, "Size of the feeder's frames in bytes")
        ->check(CLI::Range(60, 1514))
        ->capture_default_str();
    sub->footer(std::string(port::port_spec_grammar()));
    return {sub, [opts] { return run_l2echo(*opts); }};
}

}  // namespace kbnet::tools
