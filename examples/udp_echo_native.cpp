// A UDP echo server on the native zero-copy API, in dedicated address mode.
//
//   udp_echo_native PORT-SPEC ADDRESS/PREFIX UDP-PORT [--gateway IP] [--cpu N] [--seconds S]
//   udp_echo_native pair:x 10.0.0.1/24 7
//   sudo udp_echo_native afxdp:veth0 10.0.0.1/24 7 --cpu 2
//
// The stack answers ARP and ping for ADDRESS itself, and every datagram to
// UDP-PORT comes back to its sender: received as a view over the frame it
// arrived in, answered from a transmit buffer the payload is copied into
// (the one copy an echo needs), sent from the callback that poll() runs.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>

#include "kbnet/core/clock.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/stack/stack.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Echo {
    kbnet::stack::UdpSocket* socket = nullptr;
    std::uint64_t echoed = 0;
    std::uint64_t failed = 0;
};

void echo_one(void* context, kbnet::stack::UdpDatagram& datagram) {
    auto& echo = *static_cast<Echo*>(context);
    auto tx = echo.socket->alloc_tx();
    if (!tx || !tx->set_length(datagram.payload().size())) {
        ++echo.failed;
        return;
    }
    std::memcpy(tx->data().data(), datagram.payload().data(), datagram.payload().size());
    if (echo.socket->send_to(std::move(*tx), datagram.source(), datagram.source_port())) {
        ++echo.echoed;
    } else {
        ++echo.failed;
    }
}

int usage() {
    std::fprintf(stderr,
                 "usage: udp_echo_native PORT-SPEC ADDRESS/PREFIX UDP-PORT [--gateway IP] [--cpu N] [--seconds S]\n"
                 "  e.g. udp_echo_native pair:x 10.0.0.1/24 7\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) return usage();
    try {
        kbnet::stack::StackConfig config;
        config.name = "udp_echo_native";
        config.set_address(argv[2]);
        const unsigned long udp_port = std::strtoul(argv[3], nullptr, 10);
        if (udp_port == 0 || udp_port > 65535) return usage();
        long cpu = -1;
        double seconds = 0;
        for (int i = 4; i + 1 < argc; i += 2) {
            const std::string_view opt = argv[i];
            if (opt == "--gateway") {
                auto gw = kbnet::wire::Ipv4Address::parse(argv[i + 1]);
                if (!gw) return usage();
                config.gateway = *gw;
            } else if (opt == "--cpu") {
                cpu = std::strtol(argv[i + 1], nullptr, 10);
            } else if (opt == "--seconds") {
                seconds = std::strtod(argv[i + 1], nullptr);
            } else {
                return usage();
            }
        }
        // One stack per polling thread; pin it so its caches stay warm.
        if (cpu >= 0) {
            if (auto st = kbnet::pin_current_thread(static_cast<unsigned>(cpu)); !st) {
                std::fprintf(stderr, "cannot pin to cpu %ld: %s\n", cpu, st.error().reason);
            }
        }
        auto port = kbnet::port::open_port(argv[1]);
        config.port_spec = argv[1];
        kbnet::stack::Stack stack(*port, 0, config);

        auto opened = stack.udp_open();
        if (!opened) throw std::runtime_error(opened.error().reason);
        kbnet::stack::UdpSocket socket = std::move(*opened);
        if (auto st = socket.bind(kbnet::wire::Ipv4Address{}, static_cast<std::uint16_t>(udp_port)); !st) {
            throw std::runtime_error(st.error().reason);
        }
        Echo echo;
        echo.socket = &socket;
        socket.set_on_datagram(&echo_one, &echo);

        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        std::fprintf(stderr, "echoing UDP port %lu on %s (%s), ctrl-c to stop\n", udp_port, argv[2], argv[1]);
        const auto& clock = kbnet::TscClock::instance();
        const std::uint64_t start = clock.now_ns();
        const auto limit = static_cast<std::uint64_t>(seconds * 1e9);
        while (g_stop == 0) {
            const std::uint64_t now = clock.now_ns();
            if (limit != 0 && now - start >= limit) break;
            if (stack.poll(now) == 0) port->flush(0);  // idle: let the port do its housekeeping
            if (port->rx_finished(0)) break;
        }
        socket.close();
        std::fprintf(stderr, "echoed %llu datagrams, %llu not echoed\n", static_cast<unsigned long long>(echo.echoed),
                     static_cast<unsigned long long>(echo.failed));
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "udp_echo_native: %s\n", e.what());
        return 1;
    }
}
