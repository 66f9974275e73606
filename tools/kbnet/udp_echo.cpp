// kbnet udp-echo: a UDP responder on kbnet's stack. It answers sockperf
// (ping-pong and under-load: pong requests get the datagram back with the
// client bit cleared; throughput traffic gets nothing) and echoes any other
// datagram as it came. It polls one queue of one port on one core.
//
//   kbnet udp-echo --port afxdp:eth1 --listen 10.0.0.5:11111 --address 10.0.0.5/24
//
// With --address the stack owns that address (dedicated mode: it answers ARP
// and ping for it; on AF_XDP the XDP program hands it every packet to that
// address). Without it, the stack shares the interface's own address with
// the kernel (shared mode, design.md decision 4): the kernel keeps ARP,
// ICMP and every other port; the stack holds the listening port with a
// kernel socket and, on AF_XDP, steers just that UDP port to itself.
// IP fragments to a shared address stay with the kernel (the XDP program
// cannot match a non-first fragment to a port), so in shared mode only
// datagrams that fit one frame reach the echo.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "device_info.hpp"
#include "port_setup.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/stack/udp_socket.hpp"
#include "signals.hpp"
#include "sockperf_message.hpp"

namespace kbnet::tools {
namespace {

struct UdpEchoOptions {
    std::string port;
    std::string listen;   // IP:PORT
    std::string address;  // IP/PREFIX: dedicated mode
    std::string gateway;
    std::string name = "udp-echo";
    double duration = 0;
    double stats_interval = 0;
    int core = -1;
    bool json = false;
};

struct EchoStats {
    std::uint64_t received = 0;
    std::uint64_t replied = 0;
    std::uint64_t sockperf_ignored = 0;  // sockperf messages that want no reply
    std::uint64_t send_failed = 0;       // replies the stack refused (no buffer, no route)
};

wire::Ipv4Address parse_ip(const std::string& text, const char* what) {
    const auto a = wire::Ipv4Address::parse(text);
    if (!a) throw std::invalid_argument(fmt::format("{} '{}' is not an IPv4 address (e.g. 10.0.0.1)", what, text));
    return *a;
}

std::pair<wire::Ipv4Address, std::uint16_t> parse_listen(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string::npos) {
        throw std::invalid_argument(fmt::format("--listen '{}' needs IP:PORT (e.g. 0.0.0.0:11111)", text));
    }
    unsigned port = 0;
    const char* b = text.data() + colon + 1;
    const char* e = text.data() + text.size();
    const auto [end, ec] = std::from_chars(b, e, port);
    if (ec != std::errc{} || end != e || port == 0 || port > 65535) {
        throw std::invalid_argument(fmt::format("--listen '{}': the port must be 1 to 65535", text));
    }
    return {parse_ip(text.substr(0, colon), "--listen"), static_cast<std::uint16_t>(port)};
}

// Builds the reply to one datagram into a transmit buffer and sends it.
void answer(stack::UdpSocket& sock, const stack::UdpDatagram& d, EchoStats& st) noexcept {
    ++st.received;
    Result<stack::TxBuffer> tx = sock.alloc_tx();
    if (!tx || tx->capacity() < d.payload().size()) {
        // Larger than a frame (a datagram reassembled from fragments): the
        // copying send fragments the reply. Not the fast path.
        static std::array<std::uint8_t, 65536> big;
        const auto p = d.payload();
        std::memcpy(big.data(), p.data(), p.size());
        const std::span<std::uint8_t> copy(big.data(), p.size());
        if (is_sockperf_request(copy) && sockperf_serve(copy) == SockperfAction::ignore) {
            ++st.sockperf_ignored;
            return;
        }
        if (sock.send_to(std::span<const std::uint8_t>(copy), d.source(), d.source_port())) {
            ++st.replied;
        } else {
            ++st.send_failed;
        }
        return;
    }
    std::span<std::uint8_t> out = tx->data().first(d.payload().size());
    std::memcpy(out.data(), d.payload().data(), out.size());
    // sockperf: a client's message is answered only if it asks for a pong;
    // anything else is echoed as it came.
    if (is_sockperf_request(out) && sockperf_serve(out) == SockperfAction::ignore) {
        ++st.sockperf_ignored;
        return;
    }
    tx->set_length(out.size());
    if (sock.send_to(std::move(*tx), d.source(), d.source_port())) {
        ++st.replied;
    } else {
        ++st.send_failed;
    }
}

int run_udp_echo(const UdpEchoOptions& o) {
    install_stop_signals();
    const auto [listen_ip, listen_port] = parse_listen(o.listen);
    stack::StackConfig cfg;
    cfg.name = o.name;
    cfg.port_spec = o.port;
    const bool shared = set_address_mode(cfg, o.address, o.port);
    if (shared) {
        if (!o.gateway.empty()) {
            throw std::invalid_argument("--gateway needs --address: in shared mode the kernel's routes are used");
        }
    } else {
        if (!o.gateway.empty()) cfg.gateway = parse_ip(o.gateway, "--gateway");
        if (listen_ip != wire::Ipv4Address{} && listen_ip != cfg.address) {
            throw std::invalid_argument(fmt::format("--listen {} is not the stack's address {} (or 0.0.0.0)",
                                                    listen_ip.to_string(), cfg.address.to_string()));
        }
    }
    apply_device_defaults(cfg, o.port);
    // Dedicated: the whole address to the stack (ARP, ICMP, UDP, fragments).
    // Shared: nothing yet; the stack steers each UDP port it binds (and only
    // that) when the socket binds.
    std::vector<wire::Ipv4Address> owned;
    if (!shared) owned.push_back(cfg.address);
    std::unique_ptr<port::Port> p = open_stack_port(o.port, owned, "udp-echo");
    pin_to_core(o.core);

    const TscClock& clock = TscClock::instance();
    stack::Stack st(*p, 0, cfg);
    if (shared && listen_ip != wire::Ipv4Address{} && listen_ip != st.address()) {
        throw std::invalid_argument(fmt::format("--listen {} is not {}'s address {} (or 0.0.0.0)",
                                                listen_ip.to_string(), cfg.interface, st.address().to_string()));
    }
    Result<stack::UdpSocket> sock = st.udp_open();
    if (!sock) throw std::runtime_error(fmt::format("cannot open a UDP socket: {}", sock.error().reason));
    if (Status b = sock->bind(listen_ip, listen_port); !b) {
        throw std::invalid_argument(fmt::format("cannot bind {}: {}", o.listen, b.error().reason));
    }
    (void)st.poll(clock.now_ns());
    FILE* out = o.json ? stderr : stdout;
    fmt::print(out, "udp-echo: {} on {} ({}, {} address), stack '{}' (kbnet stackdump shows its counters)\n", o.listen,
               st.address().to_string(), o.port, shared ? "shared" : "dedicated", o.name);
    std::fflush(out);

    EchoStats stats;
    const std::uint64_t start = clock.now_ns();
    const std::uint64_t end = o.duration > 0 ? start + static_cast<std::uint64_t>(o.duration * 1e9) : ~0ull;
    const std::uint64_t interval = static_cast<std::uint64_t>(o.stats_interval * 1e9);
    std::uint64_t next_stats = interval > 0 ? start + interval : ~0ull;
    std::uint64_t last_received = 0;
    std::uint32_t polls = 0;
    for (;;) {
        const std::uint64_t now = clock.now_ns();
        (void)st.poll(now);
        while (std::optional<stack::UdpDatagram> d = sock->receive()) answer(*sock, *d, stats);
        (void)st.flush();
        if ((++polls & 255) == 0) {
            if (stop_requested() || now >= end) break;
            if (now >= next_stats) {
                fmt::print(out, "udp-echo: {} datagrams/s, {} replied in all\n",
                           static_cast<double>(stats.received - last_received) * 1e9 / static_cast<double>(interval),
                           stats.replied);
                std::fflush(out);
                last_received = stats.received;
                next_stats += interval;
            }
        }
    }
    const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
    const stack::StackCounters& c = st.counters();
    if (o.json) {
        nlohmann::json j = {{"port", o.port},
                            {"address", st.address().to_string()},
                            {"mode", shared ? "shared" : "dedicated"},
                            {"listen", o.listen},
                            {"seconds", seconds},
                            {"received", stats.received},
                            {"replied", stats.replied},
                            {"sockperf_ignored", stats.sockperf_ignored},
                            {"send_failed", stats.send_failed},
                            {"ip_in_receives", c.ip.in_receives},
                            {"udp_in_datagrams", c.udp.in_datagrams},
                            {"udp_out_datagrams", c.udp.out_datagrams},
                            {"icmp_out_echo_reps", c.icmp.out_echo_reps}};
        fmt::print("{}\n", j.dump());
    } else {
        fmt::print(
            "udp-echo: {} datagrams received, {} replied, {} sockperf messages wanting no reply, {} replies "
            "failed, in {:.3f} s\n",
            stats.received, stats.replied, stats.sockperf_ignored, stats.send_failed, seconds);
    }
    return kExitOk;
}

}  // namespace

Command add_udp_echo(CLI::App& app) {
    auto o = std::make_shared<UdpEchoOptions>();
    CLI::App* sub = app.add_subcommand(
        "udp-echo", "Answer UDP datagrams on kbnet's stack: sockperf's server protocol, or a plain echo");
    sub->add_option("--port", o->port, "Port spec, e.g. afxdp:eth1 or memif:/tmp/x.sock")
        ->required()
        ->option_text("SPEC");
    sub->add_option("--listen", o->listen, "Address and UDP port to answer on (0.0.0.0 for the stack's address)")
        ->required()
        ->option_text("IP:PORT");
    sub->add_option("--address", o->address,
                    "The stack's own address and prefix (dedicated mode: it answers ARP and ping for it); without "
                    "it the stack shares the interface's address with the kernel (shared mode)")
        ->option_text("IP/PREFIX");
    sub->add_option("--gateway", o->gateway, "Next hop for destinations outside the prefix")->option_text("IP");
    sub->add_option("--duration", o->duration, "Stop after SEC seconds (default: until SIGINT/SIGTERM)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--stats-interval", o->stats_interval, "Print the rate every SEC seconds")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--core", o->core, "Pin the polling thread to this CPU")->check(CLI::NonNegativeNumber);
    sub->add_option("--name", o->name, "Stack name, as kbnet stackdump shows it")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the summary as one JSON object on stdout");
    return {sub, [o] { return run_udp_echo(*o); }};
}

}  // namespace kbnet::tools
