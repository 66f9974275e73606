// kbnet udp-ping: a UDP ping-pong client on kbnet's stack, speaking
// sockperf's message format, so it can measure a sockperf server (`sockperf
// server`, or `kbnet udp-echo`) from a kbnet stack. One message in flight at a
// time; the round trip is timed with the TSC.
//
//   kbnet udp-ping --port memif:/tmp/x.sock,role=client --address 10.0.0.2/24 --to 10.0.0.1:11111
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "port_setup.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/core/endian.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/stack/udp_socket.hpp"
#include "latency_histogram.hpp"
#include "signals.hpp"
#include "sockperf_message.hpp"

namespace kbnet::tools {
namespace {

struct UdpPingOptions {
    std::string port;
    std::string address;  // IP/PREFIX
    std::string to;       // IP:PORT
    std::string gateway;
    unsigned size = 64;
    double duration = 5;
    double timeout_ms = 100;
    int core = -1;
    bool json = false;
};

std::pair<wire::Ipv4Address, std::uint16_t> parse_endpoint(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    const auto ip = wire::Ipv4Address::parse(text.substr(0, colon == std::string::npos ? text.size() : colon));
    unsigned port = 0;
    if (colon != std::string::npos) {
        const char* b = text.data() + colon + 1;
        const char* e = text.data() + text.size();
        const auto [end, ec] = std::from_chars(b, e, port);
        if (ec != std::errc{} || end != e) port = 0;
    }
    if (!ip || port == 0 || port > 65535) {
        throw std::invalid_argument(fmt::format("--to '{}' needs IP:PORT (e.g. 10.0.0.1:11111)", text));
    }
    return {*ip, static_cast<std::uint16_t>(port)};
}

int run_udp_ping(const UdpPingOptions& o) {
    install_stop_signals();
    const auto [to_ip, to_port] = parse_endpoint(o.to);
    if (o.size < kSockperfHeaderLen || o.size > 1472) {
        throw std::invalid_argument(fmt::format("--size {}: give {} to 1472 bytes (a sockperf header, one frame)",
                                                o.size, kSockperfHeaderLen));
    }
    stack::StackConfig cfg;
    cfg.name = "udp-ping";
    cfg.port_spec = o.port;
    cfg.set_address(o.address);
    if (!o.gateway.empty()) {
        const auto gw = wire::Ipv4Address::parse(o.gateway);
        if (!gw) throw std::invalid_argument(fmt::format("--gateway '{}' is not an IPv4 address", o.gateway));
        cfg.gateway = *gw;
    }
    apply_device_defaults(cfg, o.port);
    const wire::Ipv4Address owned[] = {cfg.address};
    std::unique_ptr<port::Port> p = open_stack_port(o.port, owned, "udp-ping");
    pin_to_core(o.core);
    const TscClock& clock = TscClock::instance();
    stack::Stack st(*p, 0, cfg);
    Result<stack::UdpSocket> sock = st.udp_open();
    if (!sock) throw std::runtime_error(fmt::format("cannot open a UDP socket: {}", sock.error().reason));
    if (Status c = sock->connect(to_ip, to_port); !c) {
        throw std::invalid_argument(fmt::format("cannot connect to {}: {}", o.to, c.error().reason));
    }

    LatencyHistogram rtt;
    std::uint64_t sent = 0, received = 0, lost = 0, send_failed = 0, stray = 0;
    const std::uint64_t timeout = static_cast<std::uint64_t>(o.timeout_ms * 1e6);
    std::uint64_t start = clock.now_ns();
    std::uint64_t end = start + static_cast<std::uint64_t>(o.duration * 1e9);
    bool warm = false;  // the first exchange resolves the peer's MAC: not measured
    std::uint64_t seq = 0;
    while (!stop_requested()) {
        std::uint64_t now = clock.now_ns();
        if (now >= end) break;
        Result<stack::TxBuffer> tx = sock->alloc_tx();
        if (!tx) {
            ++send_failed;
            (void)st.poll(now);
            continue;
        }
        std::uint8_t* m = tx->data().data();
        std::memset(m, 0, o.size);
        store_be64(m, ++seq);
        store_be16(m + kSockperfFlagsOffset, kSockperfClient | kSockperfPongRequest);
        store_be32(m + kSockperfLengthOffset, o.size);
        tx->set_length(o.size);
        const std::uint64_t t0 = clock.now_ns();
        if (!sock->send(std::move(*tx))) {
            ++send_failed;
            (void)st.poll(now);
            continue;
        }
        ++sent;
        (void)st.flush();
        bool answered = false;
        while (!answered) {
            now = clock.now_ns();
            (void)st.poll(now);
            while (std::optional<stack::UdpDatagram> d = sock->receive()) {
                const auto b = d->payload();
                if (b.size() == o.size && load_be64(b.data()) == seq &&
                    (load_be16(b.data() + kSockperfFlagsOffset) & kSockperfClient) == 0) {
                    answered = true;
                } else {
                    ++stray;  // a late answer to an earlier message, or not an answer
                }
            }
            if (!answered && now - t0 > timeout) break;
        }
        if (!answered) {
            ++lost;
            continue;
        }
        const std::uint64_t t1 = clock.now_ns();
        ++received;
        if (!warm) {
            warm = true;
            start = t1;
            end = t1 + static_cast<std::uint64_t>(o.duration * 1e9);
            continue;
        }
        rtt.record(t1 - t0);
    }
    const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
    const auto us = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e3; };
    if (o.json) {
        nlohmann::json j = {
            {"port", o.port},
            {"to", o.to},
            {"size", o.size},
            {"seconds", seconds},
            {"sent", sent},
            {"received", received},
            {"lost", lost},
            {"stray", stray},
            {"send_failed", send_failed},
            {"rtt_ns",
             {{"p50", rtt.percentile(50)},
              {"p99", rtt.percentile(99)},
              {"p999", rtt.percentile(99.9)},
              {"max", rtt.max()},
              {"min", rtt.min()},
              {"mean", rtt.mean()},
              {"samples", rtt.count()}}},
        };
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print("udp-ping: {} sent, {} answered, {} lost in {:.3f} s\n", sent, received, lost, seconds);
        fmt::print("udp-ping: round trip p50 {:.2f} us  p99 {:.2f} us  p99.9 {:.2f} us  max {:.2f} us "
                   "(half round trip p50 {:.2f} us, as sockperf reports it)\n",
                   us(rtt.percentile(50)), us(rtt.percentile(99)), us(rtt.percentile(99.9)), us(rtt.max()),
                   us(rtt.percentile(50)) / 2);
    }
    return lost == 0 ? kExitOk : kExitFailure;
}

}  // namespace

Command add_udp_ping(CLI::App& app) {
    auto o = std::make_shared<UdpPingOptions>();
    CLI::App* sub = app.add_subcommand(
        "udp-ping", "UDP ping-pong client on kbnet's stack (sockperf's message format): round-trip percentiles");
    sub->add_option("--port", o->port, "Port spec, e.g. memif:/tmp/x.sock,role=client or afxdp:eth1")
        ->required()
        ->option_text("SPEC");
    sub->add_option("--address", o->address, "This stack's own address and prefix")
        ->required()
        ->option_text("IP/PREFIX");
    sub->add_option("--to", o->to, "The server's address and UDP port")->required()->option_text("IP:PORT");
    sub->add_option("--gateway", o->gateway, "Next hop for destinations outside the prefix")->option_text("IP");
    sub->add_option("--size", o->size, "Message size in bytes (UDP payload)")->capture_default_str();
    sub->add_option("--duration", o->duration, "Seconds of ping-pong")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--timeout-ms", o->timeout_ms, "A message unanswered this long counts as lost")
        ->check(CLI::PositiveNumber)
        ->capture_default_str();
    sub->add_option("--core", o->core, "Pin the polling thread to this CPU")->check(CLI::NonNegativeNumber);
    sub->add_flag("--json", o->json, "Print the summary as one JSON object on stdout");
    return {sub, [o] { return run_udp_ping(*o); }};
}

}  // namespace kbnet::tools
