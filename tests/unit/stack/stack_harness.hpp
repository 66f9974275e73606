// Test harness for the stack: a Stack on one end of a `pair:` port and a
// hand-driven peer on the other, which builds frames with the wire value
// types and reads what the stack sent with the wire views. Time is
// explicit: every poll gets the harness's simulated clock.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kbnet/port/port.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/arp.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/ipv4.hpp"
#include "kbnet/wire/udp.hpp"

namespace kbnet::stack::testing {

using wire::Ipv4Address;
using wire::MacAddress;
using Bytes = std::vector<std::uint8_t>;

inline constexpr std::uint64_t kMs = 1'000'000;
inline constexpr std::uint64_t kSec = 1'000 * kMs;

inline constexpr Ipv4Address kStackIp = Ipv4Address::from_octets(10, 0, 0, 1);
inline constexpr MacAddress kStackMac{{0x02, 0x00, 10, 0, 0, 1}};  // derived from the address
inline constexpr Ipv4Address kPeerIp = Ipv4Address::from_octets(10, 0, 0, 2);
inline constexpr MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x02}};
inline constexpr Ipv4Address kOtherIp = Ipv4Address::from_octets(10, 0, 0, 3);
inline constexpr Ipv4Address kSubnetBroadcast = Ipv4Address::from_octets(10, 0, 0, 255);

inline std::string unique_pair_name() {
    static std::atomic<int> n{0};
    return "pair:stacktest-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

inline port::PortOptions small_area() {
    port::PortOptions o;
    o.area.frame_count = 1024;
    o.area.hugepages = false;
    return o;
}

inline StackConfig base_config(Ipv4Address address = kStackIp) {
    StackConfig c;
    c.address = address;
    c.prefix_len = 24;
    c.publish_stats = false;
    c.gratuitous_arp = false;
    return c;
}

// ---- frame builders (wire value types)

inline Bytes ethernet(const MacAddress& dst, const MacAddress& src, std::uint16_t type,
                      std::span<const std::uint8_t> payload) {
    wire::EthernetHeader h;
    h.destination = dst;
    h.source = src;
    h.ether_type = type;
    Bytes out(h.header_len() + payload.size());
    EXPECT_TRUE(h.emit(out).ok());
    std::memcpy(out.data() + h.header_len(), payload.data(), payload.size());
    return out;
}

inline Bytes ipv4(const wire::Ipv4Header& header_in, std::span<const std::uint8_t> payload) {
    wire::Ipv4Header h = header_in;
    h.payload_len = static_cast<std::uint16_t>(payload.size());
    Bytes out(h.header_len() + payload.size());
    EXPECT_TRUE(h.emit(out).ok());
    std::memcpy(out.data() + h.header_len(), payload.data(), payload.size());
    return out;
}

inline wire::Ipv4Header ip_header(Ipv4Address src, Ipv4Address dst, std::uint8_t protocol, std::uint16_t id = 1) {
    wire::Ipv4Header h;
    h.source = src;
    h.destination = dst;
    h.protocol = protocol;
    h.identification = id;
    return h;
}

inline Bytes udp(Ipv4Address src, Ipv4Address dst, std::uint16_t sport, std::uint16_t dport,
                 std::span<const std::uint8_t> payload, bool checksum = true) {
    Bytes out(wire::kUdpHeaderLen + payload.size());
    std::memcpy(out.data() + wire::kUdpHeaderLen, payload.data(), payload.size());
    wire::UdpHeader h{sport, dport};
    EXPECT_TRUE((checksum ? h.emit(out, src, dst) : h.emit_without_checksum(out)).ok());
    return out;
}

inline Bytes udp_frame(Ipv4Address src, Ipv4Address dst, std::uint16_t sport, std::uint16_t dport,
                       std::span<const std::uint8_t> payload, const MacAddress& eth_dst = kStackMac) {
    return ethernet(eth_dst, kPeerMac, wire::kEtherTypeIpv4,
                    ipv4(ip_header(src, dst, wire::kIpProtoUdp), udp(src, dst, sport, dport, payload)));
}

inline Bytes arp_frame(const wire::ArpPacket& p, const MacAddress& eth_dst = MacAddress::broadcast()) {
    Bytes arp(wire::kArpLen);
    EXPECT_TRUE(p.emit(arp).ok());
    return ethernet(eth_dst, p.sender_mac, wire::kEtherTypeArp, arp);
}

inline Bytes payload_of(std::size_t n, std::uint8_t seed = 1) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

// One raw end of a pair.
class Peer {
  public:
    explicit Peer(std::unique_ptr<port::Port> p) : port_(std::move(p)) {}
    port::Port& port() { return *port_; }

    void send(std::span<const std::uint8_t> frame) {
        PacketHandle h;
        ASSERT_EQ(port_->alloc(0, std::span<PacketHandle>(&h, 1)), 1);
        ASSERT_TRUE(port_->area().append(h, static_cast<std::uint32_t>(frame.size())));
        std::memcpy(port_->area().data(h), frame.data(), frame.size());
        ASSERT_EQ(port_->tx_burst(0, std::span<const PacketHandle>(&h, 1)), 1);
    }
    std::vector<Bytes> receive() {
        std::vector<Bytes> out;
        PacketHandle burst[32];
        for (;;) {
            const std::uint16_t n = port_->rx_burst(0, burst);
            for (std::uint16_t i = 0; i < n; ++i) {
                auto b = port_->bytes(burst[i]);
                out.emplace_back(b.begin(), b.end());
            }
            port_->free(0, std::span<const PacketHandle>(burst, n));
            if (n == 0) break;
        }
        return out;
    }

  private:
    std::unique_ptr<port::Port> port_;
};

// A port that forwards to another and records the steering the stack asks
// of it, as an AF_XDP port on a device shared with the kernel would get.
class SteeredPort final : public port::Port, public port::Steering {
  public:
    explicit SteeredPort(std::unique_ptr<port::Port> inner)
        : port::Port(inner->spec(), inner->queue_count()), inner_(std::move(inner)) {}

    std::string_view kind() const noexcept override { return inner_->kind(); }
    port::Capabilities capabilities() const noexcept override { return inner_->capabilities(); }
    const BufferArea& area() const noexcept override { return inner_->area(); }
    std::uint16_t rx_burst(std::uint16_t q, std::span<PacketHandle> out) noexcept override {
        return inner_->rx_burst(q, out);
    }
    std::uint16_t tx_burst(std::uint16_t q, std::span<const PacketHandle> pkts) noexcept override {
        return inner_->tx_burst(q, pkts);
    }
    std::uint16_t alloc(std::uint16_t q, std::span<PacketHandle> out) noexcept override {
        return inner_->alloc(q, out);
    }
    void free(std::uint16_t q, std::span<const PacketHandle> pkts) noexcept override { inner_->free(q, pkts); }
    port::Steering* steering() noexcept override { return this; }

    void steer_all() override { mode_ = port::SteerMode::all; }
    void steer_filtered() override { mode_ = port::SteerMode::filtered; }
    port::SteerMode steer_mode() const override { return mode_; }
    void add_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address,
                    port::FilterAction action) override {
        if (refuse_filters) throw port::PortError("the XDP filter map is full (test)");
        (void)remove_filter(protocol, port, address);
        filters_.push_back(port::SteeringFilter{protocol, port, address, action});
    }
    bool remove_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address) override {
        for (auto it = filters_.begin(); it != filters_.end(); ++it) {
            if (it->protocol == protocol && it->port == port && it->address == address) {
                filters_.erase(it);
                return true;
            }
        }
        return false;
    }
    std::vector<port::SteeringFilter> filters() const override { return filters_; }
    bool has_filter(std::uint8_t protocol, std::uint16_t port, Ipv4Address address) const {
        for (const port::SteeringFilter& f : filters_) {
            if (f.protocol == protocol && f.port == port && f.address == address.value) return true;
        }
        return false;
    }

    bool refuse_filters = false;  // add_filter throws, as on a full filter map

  private:
    std::unique_ptr<port::Port> inner_;
    port::SteerMode mode_ = port::SteerMode::filtered;
    std::vector<port::SteeringFilter> filters_;
};

// A stack on end 0, a raw peer on end 1, and the clock.
class StackHarness {
  public:
    // steered: the stack's port records steering (SteeredPort), like AF_XDP.
    explicit StackHarness(const StackConfig& config = base_config(), bool steered = false) {
        const std::string name = unique_pair_name();
        stack_port_ = port::open_port(name, small_area());
        if (steered) stack_port_ = std::make_unique<SteeredPort>(std::move(stack_port_));
        peer_ = std::make_unique<Peer>(port::open_port(name, small_area()));
        stack_ = std::make_unique<Stack>(*stack_port_, 0, config);
        // A first poll sets the stack's clock: sends between polls use the
        // time of the last one.
        stack_->poll(now_);
    }
    ~StackHarness() {
        stack_.reset();
        peer_->receive();
    }
    Stack& stack() { return *stack_; }
    Peer& peer() { return *peer_; }
    StackCounters& counters() { return stack_->counters(); }
    std::uint64_t now() const { return now_; }
    // The steering the stack asked for (a harness made with steered only).
    SteeredPort& steered_port() { return dynamic_cast<SteeredPort&>(*stack_port_); }

    std::size_t poll(std::uint64_t advance_ns = kMs) {
        now_ += advance_ns;
        return stack_->poll(now_);
    }
    // Peer sends one frame, the stack polls, the peer collects the output.
    std::vector<Bytes> exchange(std::span<const std::uint8_t> frame) {
        peer_->send(frame);
        poll();
        return peer_->receive();
    }
    // Teaches the stack the peer's MAC, so sends need no ARP round.
    void learn_peer() { ASSERT_TRUE(stack_->neighbours().add_static(kPeerIp, kPeerMac).ok()); }

  private:
    std::unique_ptr<port::Port> stack_port_;
    std::unique_ptr<Peer> peer_;
    std::unique_ptr<Stack> stack_;
    std::uint64_t now_ = 1 * kSec;
};

// Parsed views over a frame the stack sent (the bytes must outlive them).
struct ParsedUdp {
    wire::EthernetView eth;
    wire::Ipv4View ip;
    wire::UdpView udp;
};
inline std::optional<ParsedUdp> parse_udp(const Bytes& frame) {
    auto eth = wire::EthernetView::parse(frame);
    if (!eth || eth->ether_type() != wire::kEtherTypeIpv4) return std::nullopt;
    auto ip = wire::Ipv4View::parse(eth->payload());
    if (!ip || ip->protocol() != wire::kIpProtoUdp || ip->is_fragment()) return std::nullopt;
    auto u = wire::UdpView::parse(ip->payload());
    if (!u) return std::nullopt;
    return ParsedUdp{*eth, *ip, *u};
}

}  // namespace kbnet::stack::testing
