// kbnet l2echo: receive bursts, swap source and destination MAC, send back.
//
// The simplest job on a raw port and the baseline for every port's speed:
// no parsing beyond the Ethernet addresses, one pass over each burst. With
// --cores, one polling thread per core, each pinned and owning its queues
// (the classic "L2 multi echo"): queue q belongs to worker q % cores, so no
// queue is ever touched by two threads.
#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <netinet/in.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "feeder.hpp"
#include "port_setup.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/wire/address.hpp"
#include "signals.hpp"

namespace kbnet::tools {
namespace {

struct EchoOptions {
    std::string port;
    double duration = 0;        // seconds; 0 = until a signal or the input ends
    double stats_interval = 1;  // seconds; 0 = only the final summary
    bool json = false;
    unsigned burst = kDefaultBurst;
    std::string cores;                 // CPU list; empty = one unpinned thread
    std::vector<std::string> filters;  // udp:PORT[@ADDR], tcp:PORT[@ADDR]
    bool feed = false;
    bool sink = false;  // receive and free: a pure receiver for benchmarks
    unsigned feed_size = 64;
};

// What the echo itself counts, beyond the port's counters. One per worker,
// on its own cache line; written only by that worker.
struct alignas(kCacheLine) EchoCounters {
    std::uint64_t runts = 0;       // frames too short to hold two MAC addresses: dropped
    std::uint64_t tx_refused = 0;  // echoes the port would not take (ring full): dropped
    std::uint64_t busy_cycles = 0;  // TSC cycles spent in bursts that carried packets
};

// Parses udp:PORT[@ADDR] or tcp:PORT[@ADDR]; throws std::invalid_argument
// with the expected form (a usage error, exit 2).
port::SteeringFilter parse_filter(const std::string& text) {
    const auto bad = [&](const char* why) {
        return std::invalid_argument(
            fmt::format("--filter '{}': {} (expected udp:PORT or tcp:PORT, optionally @IPV4, e.g. udp:9000@10.0.0.1)",
                        text, why));
    };
    port::SteeringFilter f;
    std::string_view rest(text);
    if (rest.starts_with("udp:")) {
        f.protocol = IPPROTO_UDP;
    } else if (rest.starts_with("tcp:")) {
        f.protocol = IPPROTO_TCP;
    } else {
        throw bad("unknown protocol");
    }
    rest.remove_prefix(4);
    const std::size_t at = rest.find('@');
    const std::string_view port_text = rest.substr(0, at);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
        throw bad("port must be 1..65535");
    }
    f.port = static_cast<std::uint16_t>(port);
    if (at != std::string_view::npos) {
        const auto addr = wire::Ipv4Address::parse(rest.substr(at + 1));
        if (!addr) throw bad("not an IPv4 address after '@'");
        f.address = addr->value;
    }
    return f;
}

inline void swap_macs(std::uint8_t* frame) noexcept {
    std::uint8_t tmp[6];
    std::memcpy(tmp, frame, 6);
    std::memcpy(frame, frame + 6, 6);
    std::memcpy(frame + 6, tmp, 6);
}

// One pass over one queue: receive a burst, echo it. Returns the number of
// frames received (0 = idle).
std::uint16_t echo_burst(port::Port& p, std::uint16_t q, std::span<PacketHandle> pkts, EchoCounters& ec,
                         bool sink) noexcept {
    const std::uint16_t n = p.rx_burst(q, pkts);
    if (n == 0) return 0;
    if (sink) {
        p.free(q, pkts.first(n));
        return n;
    }
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

// Polls its queues until stop, the deadline, or (for finite inputs) the
// end of every one of its queues.
void worker_loop(port::Port& p, std::span<const std::uint16_t> queues, unsigned burst, std::uint64_t deadline_ns,
                 const std::atomic<bool>& stop, EchoCounters& ec, bool sink) {
    const TscClock& clock = TscClock::instance();
    std::vector<PacketHandle> pkts(burst);
    std::uint32_t polls = 0;
    std::uint32_t idle = 0;
    for (;;) {
        std::uint32_t got = 0;
        for (std::uint16_t q : queues) {
            // Busy cycles: the cost of the bursts that did work, without the
            // empty polls (what dpdk-testpmd's --record-core-cycles counts),
            // so a receiver faster than its sender still shows its own cost.
            const std::uint64_t t0 = rdtsc();
            const std::uint16_t n = echo_burst(p, q, pkts, ec, sink);
            if (n > 0) ec.busy_cycles += rdtsc() - t0;
            got += n;
        }
        if (got > 0) idle = 0;
        if (got == 0) {
            // A port in interrupt mode (memif) lets a lone idle queue sleep
            // until its peer kicks it, instead of spinning.
            if (queues.size() == 1 && ++idle >= 64 && p.wait_rx(queues[0], 10)) idle = 0;
            bool finished = true;
            for (std::uint16_t q : queues) {
                p.flush(q);
                finished = finished && p.rx_finished(q);
            }
            if (finished) break;
        }
        // Reading the clock and the flags costs a few ns; every 64 polls
        // keeps it off the busy path while bounding the overshoot to µs.
        if (KBNET_UNLIKELY((++polls & 63) == 0)) {
            if (stop.load(std::memory_order_relaxed) || stop_requested()) break;
            if (clock.now_ns() >= deadline_ns) break;
        }
    }
    for (std::uint16_t q : queues) p.flush(q);
}

// Totals of one queue's counters as another thread sees them. The counters
// are plain per-thread integers (design.md, decision 8); a relaxed atomic
// read of an aligned 64-bit word is never torn on x86-64 or arm64, so the
// display may be a few packets behind but is never garbage.
port::QueueCounters read_totals(const port::Port& p) {
    port::QueueCounters sum;
    for (std::uint16_t q = 0; q < p.queue_count(); ++q) {
        const port::QueueCounters& c = p.counters(q);
        port::QueueCounters snap;
        snap.rx_packets = std::atomic_ref(const_cast<std::uint64_t&>(c.rx_packets)).load(std::memory_order_relaxed);
        snap.tx_packets = std::atomic_ref(const_cast<std::uint64_t&>(c.tx_packets)).load(std::memory_order_relaxed);
        sum += snap;
    }
    return sum;
}

int run_l2echo(const EchoOptions& o) {
    install_stop_signals();
    const TscClock& clock = TscClock::instance();

    std::vector<port::SteeringFilter> filters;
    for (const std::string& f : o.filters) filters.push_back(parse_filter(f));
    std::vector<unsigned> cpus;
    if (!o.cores.empty()) cpus = parse_cpu_list(o.cores);

    std::unique_ptr<port::Port> p = port::open_port(o.port);
    const std::uint16_t queues = p->queue_count();
    const unsigned workers = cpus.empty() ? 1u : static_cast<unsigned>(cpus.size());
    if (workers > queues) {
        throw std::invalid_argument(fmt::format("--cores lists {} CPUs but the port has {} queue{}: give at most {} "
                                                "(or more queues in the spec, e.g. queues={})",
                                                workers, queues, queues == 1 ? "" : "s", queues, workers));
    }

    // Steering (AF_XDP): everything on our queues, or only the filtered flows
    // with the rest left to the kernel.
    if (port::Steering* s = p->steering()) {
        if (filters.empty()) {
            s->steer_all();
        } else {
            for (const auto& f : filters) s->add_filter(f.protocol, f.port, f.address);
            s->steer_filtered();
        }
    } else if (!filters.empty()) {
        throw std::invalid_argument(fmt::format("--filter needs a port that shares its device with the kernel "
                                                "(afxdp); {} ports receive everything",
                                                p->kind()));
    }

    // The feeder opens the pair's other end in this process (make demo).
    std::optional<Feeder> feeder;
    if (o.feed) {
        if (p->kind() != "pair") {
            throw std::invalid_argument("--feed needs a pair: port (the feeder drives the pair's other end); got " +
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
            if (std::find(cpus.begin(), cpus.end(), c) == cpus.end()) {
                feeder_cpu = static_cast<int>(c);
                break;
            }
        }
        feeder_thread = std::thread([&feeder, feeder_cpu] {
            if (feeder_cpu >= 0) (void)pin_current_thread(static_cast<unsigned>(feeder_cpu));
            feeder->run();
        });
    }

    // A port with a peer (memif) carries nothing until the peer is there;
    // the clock starts when it is.
    if (!wait_for_link(*p, "l2echo", o.port)) return kExitOk;

    // Queue q goes to worker q % workers.
    std::vector<std::vector<std::uint16_t>> owned(workers);
    for (std::uint16_t q = 0; q < queues; ++q) owned[q % workers].push_back(q);
    std::vector<EchoCounters> counters(workers);
    std::atomic<bool> stop{false};
    std::atomic<unsigned> running{workers};
    std::vector<std::string> pin_errors(workers);

    const std::uint64_t start = clock.now_ns();
    const std::uint64_t deadline =
        o.duration > 0 ? start + static_cast<std::uint64_t>(o.duration * 1e9) : ~std::uint64_t{0};
    std::vector<std::thread> threads;
    for (unsigned w = 0; w < workers; ++w) {
        threads.emplace_back([&, w] {
            if (!cpus.empty()) {
                if (Status s = pin_current_thread(cpus[w]); !s) {
                    pin_errors[w] = fmt::format("--cores: cannot pin to CPU {}: {}", cpus[w], s.error().reason);
                    stop.store(true);
                }
            }
            if (pin_errors[w].empty()) worker_loop(*p, owned[w], o.burst, deadline, stop, counters[w], o.sink);
            running.fetch_sub(1);
        });
    }

    // This thread only reports; the workers poll.
    FILE* stats_out = o.json ? stderr : stdout;
    const std::uint64_t interval = static_cast<std::uint64_t>(o.stats_interval * 1e9);
    std::uint64_t last_stats = start;
    port::QueueCounters last{};
    while (running.load() > 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const std::uint64_t now = clock.now_ns();
        if (interval > 0 && now - last_stats >= interval) {
            const port::QueueCounters t = read_totals(*p);
            const double secs = static_cast<double>(now - last_stats) / 1e9;
            fmt::print(stats_out, "l2echo: rx {:.3f} Mpps  tx {:.3f} Mpps  (rx {} tx {} packets)\n",
                       mpps(t.rx_packets - last.rx_packets, secs), mpps(t.tx_packets - last.tx_packets, secs),
                       t.rx_packets, t.tx_packets);
            std::fflush(stats_out);
            last = t;
            last_stats = now;
        }
    }
    for (std::thread& t : threads) t.join();
    const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
    if (feeder) {
        feeder->stop();
        feeder_thread.join();
    }
    for (const std::string& e : pin_errors) {
        if (!e.empty()) throw std::invalid_argument(e);
    }

    EchoCounters ec;
    for (const EchoCounters& c : counters) {
        ec.runts += c.runts;
        ec.tx_refused += c.tx_refused;
        ec.busy_cycles += c.busy_cycles;
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
        {"workers", workers},
        // Every worker busy-polls its CPU: the cycles it spent per packet
        // received, at the TSC's rate.
        {"cycles_per_packet", t.rx_packets > 0 ? clock.cycles_per_ns() * seconds * 1e9 * workers /
                                                     static_cast<double>(t.rx_packets)
                                               : 0.0},
        {"busy_cycles_per_packet",
         t.rx_packets > 0 ? static_cast<double>(ec.busy_cycles) / static_cast<double>(t.rx_packets) : 0.0},
        {"tsc_ghz", clock.cycles_per_ns()},
    };
    nlohmann::json per_queue = nlohmann::json::array();
    for (std::uint16_t q = 0; q < queues; ++q) {
        const port::QueueCounters& c = p->counters(q);
        per_queue.push_back({{"queue", q},
                             {"worker", q % workers},
                             {"cpu", cpus.empty() ? -1 : static_cast<int>(cpus[q % workers])},
                             {"rx_packets", c.rx_packets},
                             {"tx_packets", c.tx_packets},
                             {"rx_dropped", c.rx_dropped}});
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
        if (queues > 1) {
            for (std::uint16_t q = 0; q < queues; ++q) {
                const port::QueueCounters& c = p->counters(q);
                fmt::print("l2echo:   queue {} (worker {}): rx {} tx {}\n", q, q % workers, c.rx_packets,
                           c.tx_packets);
            }
        }
        if (ec.runts + ec.tx_refused + t.rx_dropped + t.tx_dropped + t.rx_errors > 0) {
            fmt::print("l2echo: dropped {} runts, {} on a full tx ring; port rx_dropped {} tx_dropped {} "
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
    sub->add_option("--port", opts->port, "Port spec, e.g. pcap:in.pcap,out=out.pcap or afxdp:eth0,queues=2")
        ->required()
        ->option_text("SPEC");
    sub->add_option("--duration", opts->duration,
                    "Stop after SEC seconds (default: until SIGINT/SIGTERM or the input ends)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--stats-interval", opts->stats_interval, "Print rates every SEC seconds (0: only at the end)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC")
        ->capture_default_str();
    sub->add_flag("--json", opts->json, "Print the final summary as one JSON object on stdout");
    sub->add_option("--burst", opts->burst, "Frames per rx/tx burst")->check(CLI::Range(1, 256))->capture_default_str();
    sub->add_option("--cores", opts->cores,
                    "One polling thread per listed CPU, pinned; queue q goes to the (q mod N)th (e.g. 0-1)")
        ->option_text("LIST");
    sub->add_option("--filter", opts->filters,
                    "afxdp: echo only this flow, leave the rest to the kernel (udp:PORT or tcp:PORT[@IPV4]; "
                    "repeatable). Without it every frame on the port's queues is echoed")
        ->option_text("FLOW");
    sub->add_flag("--sink", opts->sink, "Receive and drop (count) instead of echoing: a receiver for benchmarks");
    sub->add_flag("--feed", opts->feed,
                  "pair ports only: run a traffic generator on the pair's other end in this process");
    sub->add_option("--feed-size", opts->feed_size, "Size of the feeder's frames in bytes")
        ->check(CLI::Range(60, 1514))
        ->capture_default_str();
    sub->footer(std::string(port::port_spec_grammar()));
    return {sub, [opts] { return run_l2echo(*opts); }};
}

}  // namespace kbnet::tools
