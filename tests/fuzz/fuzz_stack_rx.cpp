// Fuzzes the stack's receive path: each input is one Ethernet frame given
// to a Stack (10.0.0.1/24) through the other end of a pair port, followed by
// a poll with simulated time moving on, so timers (ARP retries, reassembly
// timeouts) run too. The stack has a bound UDP socket (port 7) whose queue
// is drained, and a multicast group joined, so those paths are reachable.
// Whatever the stack sends is read back and freed, so frames cannot run out.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>

#include "kbnet/core/log.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/stack/stack.hpp"

namespace {

using namespace kbnet;

struct World {
    std::unique_ptr<port::Port> stack_port;
    std::unique_ptr<port::Port> peer;
    std::unique_ptr<stack::Stack> stack;
    stack::UdpSocket socket;
    std::uint64_t now = 1'000'000'000;

    World() {
        set_log_level(LogLevel::error);
        port::PortOptions options;
        options.area.frame_count = 512;
        options.area.hugepages = false;
        stack_port = port::open_port("pair:fuzz_stack_rx", options);
        peer = port::open_port("pair:fuzz_stack_rx", options);
        stack::StackConfig config;
        config.set_address("10.0.0.1/24");
        config.gateway = wire::Ipv4Address::from_octets(10, 0, 0, 254);
        config.publish_stats = false;
        config.udp_queue_depth = 8;
        // Small limits keep every reassembly path within reach of short inputs.
        config.reassembly.max_datagrams = 4;
        config.reassembly.timeout_ns = 50'000'000;
        stack = std::make_unique<stack::Stack>(*stack_port, 0, config);
        auto s = stack->udp_open();
        socket = std::move(*s);
        (void)socket.bind(wire::Ipv4Address{}, 7);
        (void)socket.join_group(wire::Ipv4Address::from_octets(239, 1, 1, 1));
        (void)socket.connect(wire::Ipv4Address::from_octets(10, 0, 0, 2), 9);
        socket.disconnect();
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static World w;
    PacketHandle h;
    if (size <= 1514 && w.peer->alloc(0, std::span<PacketHandle>(&h, 1)) == 1) {
        if (w.peer->area().append(h, static_cast<std::uint32_t>(size))) {
            if (size > 0) std::memcpy(w.peer->area().data(h), data, size);
            if (w.peer->tx_burst(0, std::span<const PacketHandle>(&h, 1)) != 1) w.peer->free(0, std::span(&h, 1));
        } else {
            w.peer->free(0, std::span<const PacketHandle>(&h, 1));
        }
    }
    // The first byte picks how far time moves: 0 .. 255 ms.
    w.now += (size > 0 ? data[0] : 1) * 1'000'000ull;
    w.stack->poll(w.now);
    while (auto d = w.socket.receive()) {
        // Echo what arrived, exercising the zero-copy send path.
        auto tx = w.socket.alloc_tx();
        if (tx && tx->set_length(d->payload().size() < tx->capacity() ? d->payload().size() : 0)) {
            std::memcpy(tx->data().data(), d->payload().data(), tx->length());
            (void)w.socket.send_to(std::move(*tx), d->source(), d->source_port());
        }
    }
    if (auto e = w.socket.take_error()) (void)e;
    w.stack->flush();
    PacketHandle out[32];
    for (;;) {
        const std::uint16_t n = w.peer->rx_burst(0, out);
        if (n == 0) break;
        w.peer->free(0, std::span<const PacketHandle>(out, n));
    }
    return 0;
}
