// kbnet mcast-recv: N sockets of one stack joined to one multicast group,
// counting what each receives: the "several subscribers in one process"
// case of issue 5, and a check that IGMP reports go out on join and leave.
//
//   kbnet mcast-recv --port afxdp:eth1 --address 10.0.0.5/24 --group 239.1.2.3:5000 --sockets 2 --json
//   kbnet mcast-recv --port afxdp:eth1 --group 239.1.2.3:5000        (shared mode)
//
// With --address the stack owns that address (dedicated mode): it sends the
// IGMP reports itself, and on AF_XDP the XDP program hands it every packet
// to its address and to the group (the stack asks for the group when its
// first socket joins). Without --address the stack shares the interface's
// address (shared mode): the kernel joins the group and keeps IGMP, and
// the XDP program hands the stack the group's UDP datagrams to the bound
// port only. Each socket keeps a count and a digest of the datagrams it got
// (FNV-1a 64 over each datagram's 4-byte big-endian length and bytes, in
// arrival order), so a test can tell every socket saw the same bytes in the
// same order. On SIGINT/SIGTERM or --duration the sockets close (the stack
// reports the leave), the stack runs a little longer so the leave and its
// repetition leave, and the summary is printed.
//
// Limit in dedicated mode: a NIC filters multicast MACs it was not told
// about. On a veth (the tests) every frame arrives; on a real NIC add the
// group's MAC to the device (ip maddr add 01:00:5e:.. dev IF) or set
// allmulticast. In shared mode the kernel's membership does that.
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "command.hpp"
#include "port_setup.hpp"
#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/stack/udp_socket.hpp"
#include "signals.hpp"

namespace kbnet::tools {
namespace {

// RFC 3376 §8.11: a v3 state change is repeated within 1 s; staying this
// long after the sockets close lets the leave's repetition out too.
constexpr std::uint64_t kLeaveLingerNs = 1'100'000'000;

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ull;

struct McastRecvOptions {
    std::string port;
    std::string address;
    std::string group;  // GROUP:PORT
    std::string name = "mcast-recv";
    unsigned sockets = 2;
    double duration = 0;
    int core = -1;
    bool json = false;
};

struct SocketTally {
    std::uint64_t received = 0;
    std::uint64_t bytes = 0;
    std::uint64_t digest = kFnvOffset;

    void add(std::span<const std::uint8_t> payload) noexcept {
        const auto n = static_cast<std::uint32_t>(payload.size());
        const std::uint8_t len[4] = {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
                                     static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
        for (std::uint8_t b : len) digest = (digest ^ b) * kFnvPrime;
        for (std::uint8_t b : payload) digest = (digest ^ b) * kFnvPrime;
        ++received;
        bytes += payload.size();
    }
};

std::pair<wire::Ipv4Address, std::uint16_t> parse_group(const std::string& text) {
    const std::size_t colon = text.rfind(':');
    const auto ip = wire::Ipv4Address::parse(std::string_view(text).substr(0, colon));
    unsigned port = 0;
    bool ok = colon != std::string::npos && ip && ip->is_multicast();
    if (ok) {
        const char* b = text.data() + colon + 1;
        const char* e = text.data() + text.size();
        const auto [end, ec] = std::from_chars(b, e, port);
        ok = ec == std::errc{} && end == e && port > 0 && port <= 65535;
    }
    if (!ok) {
        throw std::invalid_argument(fmt::format(
            "--group '{}' needs GROUP:PORT with a multicast group (224.0.0.0/4), e.g. 239.1.2.3:5000", text));
    }
    return {*ip, static_cast<std::uint16_t>(port)};
}

int run_mcast_recv(const McastRecvOptions& o) {
    install_stop_signals();
    const auto [group, group_port] = parse_group(o.group);
    if (o.sockets == 0 || o.sockets > 64) throw std::invalid_argument("--sockets must be 1 .. 64");
    stack::StackConfig cfg;
    cfg.name = o.name;
    cfg.port_spec = o.port;
    const bool shared = set_address_mode(cfg, o.address, o.port);
    apply_device_defaults(cfg, o.port);
    // Dedicated: our address (ARP, unicast) to the stack; the stack itself
    // steers the group when it joins. Shared: the stack steers what it binds.
    std::vector<wire::Ipv4Address> owned;
    if (!shared) owned.push_back(cfg.address);
    std::unique_ptr<port::Port> p = open_stack_port(o.port, owned, "mcast-recv");
    pin_to_core(o.core);
    const TscClock& clock = TscClock::instance();
    stack::Stack st(*p, 0, cfg);
    (void)st.poll(clock.now_ns());  // the stack's clock, for the join's timers
    std::vector<stack::UdpSocket> socks;
    std::vector<SocketTally> tallies(o.sockets);
    for (unsigned i = 0; i < o.sockets; ++i) {
        Result<stack::UdpSocket> sock = st.udp_open();
        if (!sock) throw std::runtime_error(fmt::format("cannot open a UDP socket: {}", sock.error().reason));
        sock->set_reuse_address(true);
        if (Status b = sock->bind(wire::Ipv4Address{}, group_port); !b) {
            throw std::invalid_argument(fmt::format("cannot bind port {}: {}", group_port, b.error().reason));
        }
        if (Status j = sock->join_group(group); !j) {
            throw std::invalid_argument(fmt::format("cannot join {}: {}", group.to_string(), j.error().reason));
        }
        socks.push_back(std::move(*sock));
    }
    (void)st.poll(clock.now_ns());
    FILE* out = o.json ? stderr : stdout;
    fmt::print(out, "mcast-recv: {} sockets joined {} on {} ({}, {} address), stack '{}'\n", o.sockets, o.group,
               st.address().to_string(), o.port, shared ? "shared" : "dedicated", o.name);
    std::fflush(out);

    const std::uint64_t start = clock.now_ns();
    const std::uint64_t end = o.duration > 0 ? start + static_cast<std::uint64_t>(o.duration * 1e9) : ~0ull;
    std::uint32_t polls = 0;
    for (;;) {
        const std::uint64_t now = clock.now_ns();
        (void)st.poll(now);
        for (std::size_t i = 0; i < socks.size(); ++i) {
            while (std::optional<stack::UdpDatagram> d = socks[i].receive()) tallies[i].add(d->payload());
        }
        if ((++polls & 255) == 0 && (stop_requested() || now >= end)) break;
    }
    const double seconds = static_cast<double>(clock.now_ns() - start) / 1e9;
    // Closing leaves the group: the stack sends the leave at once and
    // repeats it (RFC 3376 §5.1); stay for the repetition.
    for (stack::UdpSocket& s : socks) s.close();
    const std::uint64_t linger_end = clock.now_ns() + kLeaveLingerNs;
    while (clock.now_ns() < linger_end) {
        (void)st.poll(clock.now_ns());
        std::this_thread::sleep_for(std::chrono::microseconds(100));
    }

    const stack::StackCounters& c = st.counters();
    if (o.json) {
        nlohmann::json list = nlohmann::json::array();
        for (const SocketTally& t : tallies) {
            list.push_back(
                {{"received", t.received}, {"bytes", t.bytes}, {"digest", fmt::format("{:016x}", t.digest)}});
        }
        nlohmann::json j = {{"port", o.port},
                            {"address", st.address().to_string()},
                            {"mode", shared ? "shared" : "dedicated"},
                            {"group", o.group},
                            {"seconds", seconds},
                            {"sockets", list},
                            {"igmp_out_reports", c.igmp.out_reports},
                            {"igmp_out_leaves", c.igmp.out_leaves},
                            {"igmp_in_queries", c.igmp.in_queries},
                            {"udp_in_datagrams", c.udp.in_datagrams},
                            {"udp_rcvbuf_errors", c.udp.rcvbuf_errors}};
        fmt::print("{}\n", j.dump());
    } else {
        for (std::size_t i = 0; i < tallies.size(); ++i) {
            fmt::print("mcast-recv: socket {}: {} datagrams, {} bytes, digest {:016x}\n", i, tallies[i].received,
                       tallies[i].bytes, tallies[i].digest);
        }
        fmt::print("mcast-recv: {} IGMP reports sent by the stack, in {:.3f} s\n", c.igmp.out_reports, seconds);
    }
    return kExitOk;
}

}  // namespace

Command add_mcast_recv(CLI::App& app) {
    auto o = std::make_shared<McastRecvOptions>();
    CLI::App* sub = app.add_subcommand(
        "mcast-recv", "Join a multicast group with several sockets of one kbnet stack and count what each receives");
    sub->add_option("--port", o->port, "Port spec, e.g. afxdp:eth1")->required()->option_text("SPEC");
    sub->add_option("--address", o->address,
                    "The stack's own address and prefix (dedicated mode); without it the stack shares the "
                    "interface's address and the kernel keeps IGMP (shared mode)")
        ->option_text("IP/PREFIX");
    sub->add_option("--group", o->group, "Multicast group and UDP port, e.g. 239.1.2.3:5000")
        ->required()
        ->option_text("GROUP:PORT");
    sub->add_option("--sockets", o->sockets, "Sockets joined to the group")->capture_default_str();
    sub->add_option("--duration", o->duration, "Stop after SEC seconds (default: until SIGINT/SIGTERM)")
        ->check(CLI::NonNegativeNumber)
        ->option_text("SEC");
    sub->add_option("--core", o->core, "Pin the polling thread to this CPU")->check(CLI::NonNegativeNumber);
    sub->add_option("--name", o->name, "Stack name, as kbnet stackdump shows it")->capture_default_str();
    sub->add_flag("--json", o->json, "Print the summary as one JSON object on stdout");
    return {sub, [o] { return run_mcast_recv(*o); }};
}

}  // namespace kbnet::tools
