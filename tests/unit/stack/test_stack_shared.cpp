// The shared address model (design.md, decision 4) against a fake kernel
// (KernelSource): the address comes from the kernel; no ARP, no ping
// answers, no ICMP errors; next hops from the kernel's routes and
// neighbours, with resolution asked of the kernel while the packet waits;
// the cache flushed when the tables change; every UDP bind held by a
// kernel socket, ephemeral ports picked by the kernel.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

constexpr Ipv4Address kGatewayIp = Ipv4Address::from_octets(10, 0, 0, 254);
constexpr MacAddress kGatewayMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0xfe}};
constexpr Ipv4Address kFarIp = Ipv4Address::from_octets(192, 168, 7, 7);
constexpr MacAddress kInterfaceMac{{0x02, 0x00, 0x00, 0xaa, 0x00, 0x01}};

// The kernel as the stack sees it: 10.0.0.1/24 on the interface, a default
// route via 10.0.0.254 when `default_route`, neighbours as set.
class FakeKernel final : public KernelSource {
  public:
    std::optional<InterfaceAddress> address = InterfaceAddress{kStackIp, 24, false};
    bool default_route = true;
    std::map<std::uint32_t, KernelNeighbour> neighbours;
    std::uint64_t gen = 1;
    std::size_t polls = 0;
    std::vector<Ipv4Address> resolution_requests;
    std::set<std::uint16_t> held;
    std::set<std::uint16_t> taken_by_kernel_apps;
    std::size_t hold_calls = 0;
    std::uint16_t next_ephemeral = 41000;

    std::size_t poll() noexcept override {
        ++polls;
        return 0;
    }
    std::uint64_t generation() const noexcept override { return gen; }
    std::optional<InterfaceAddress> interface_address() const noexcept override { return address; }
    std::optional<KernelRoute> route(Ipv4Address d) const noexcept override {
        if ((d.value & 0xffffff00u) == (kStackIp.value & 0xffffff00u)) return KernelRoute{d, 24, false, kStackIp};
        if (default_route) return KernelRoute{kGatewayIp, 0, true, kStackIp};
        return std::nullopt;
    }
    std::optional<KernelNeighbour> neighbour(Ipv4Address a) const noexcept override {
        auto it = neighbours.find(a.value);
        if (it == neighbours.end()) return std::nullopt;
        return it->second;
    }
    Status request_resolution(Ipv4Address a, std::uint64_t) noexcept override {
        resolution_requests.push_back(a);
        return {};
    }
    Result<std::uint16_t> hold_udp_port(Ipv4Address a, std::uint16_t port) noexcept override {
        ++hold_calls;
        EXPECT_EQ(a, kStackIp);  // held at the shared address
        if (port == 0) port = next_ephemeral++;
        if (taken_by_kernel_apps.count(port) != 0 || held.count(port) != 0) {
            return Error{Errc::would_block, "port in use by a kernel socket (EADDRINUSE)"};
        }
        held.insert(port);
        return port;
    }
    void release_udp_port(std::uint16_t port) noexcept override { held.erase(port); }
    Status join_group(Ipv4Address group) noexcept override {
        if (refuse_joins) return Error{Errc::io_error, "the kernel refused to join the group (test)"};
        groups.insert(group.value);
        return {};
    }
    void leave_group(Ipv4Address group) noexcept override { groups.erase(group.value); }

    std::set<std::uint32_t> groups;  // the kernel's memberships
    bool refuse_joins = false;
};

StackConfig shared_config() {
    StackConfig c;
    c.mode = AddressMode::shared;
    c.interface = "fake0";
    c.mac = kInterfaceMac;
    c.publish_stats = false;
    c.gratuitous_arp = true;  // shared mode ignores it: ARP is the kernel's
    return c;
}

// A shared-mode stack on end 0 of a pair, the fake kernel, a raw peer.
class SharedHarness {
  public:
    explicit SharedHarness(StackConfig config = shared_config(), bool steered = false) {
        const std::string name = unique_pair_name();
        stack_port_ = port::open_port(name, small_area());
        if (steered) stack_port_ = std::make_unique<SteeredPort>(std::move(stack_port_));
        peer_ = std::make_unique<Peer>(port::open_port(name, small_area()));
        auto fake = std::make_unique<FakeKernel>();
        kernel_ = fake.get();
        stack_ = std::make_unique<Stack>(*stack_port_, 0, config, std::move(fake));
        stack_->poll(now_);
    }
    ~SharedHarness() {
        stack_.reset();
        peer_->receive();
    }
    Stack& stack() { return *stack_; }
    Peer& peer() { return *peer_; }
    FakeKernel& kernel() { return *kernel_; }
    SteeredPort& steered_port() { return dynamic_cast<SteeredPort&>(*stack_port_); }
    StackCounters& counters() { return stack_->counters(); }
    void poll(std::uint64_t advance_ns = kMs) {
        now_ += advance_ns;
        stack_->poll(now_);
    }
    std::vector<Bytes> exchange(std::span<const std::uint8_t> frame) {
        peer_->send(frame);
        poll();
        return peer_->receive();
    }

  private:
    std::unique_ptr<port::Port> stack_port_;
    std::unique_ptr<Peer> peer_;
    FakeKernel* kernel_ = nullptr;
    std::unique_ptr<Stack> stack_;
    std::uint64_t now_ = kSec;
};

Bytes udp_to_stack(std::uint16_t dport, std::span<const std::uint8_t> payload) {
    return ethernet(
        kInterfaceMac, kPeerMac, wire::kEtherTypeIpv4,
        ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp), udp(kPeerIp, kStackIp, 4000, dport, payload)));
}

UdpSocket bound(Stack& s, std::uint16_t port, bool reuse = false) {
    auto sock = s.udp_open();
    EXPECT_TRUE(sock);
    sock->set_reuse_address(reuse);
    EXPECT_TRUE(sock->bind(Ipv4Address{}, port).ok());
    return std::move(*sock);
}

TEST(StackShared, takes_the_address_and_prefix_from_the_kernel_interface) {
    StackConfig c = shared_config();
    c.address = Ipv4Address::from_octets(172, 16, 0, 9);  // ignored in shared mode
    SharedHarness h(c);
    EXPECT_EQ(h.stack().address(), kStackIp);
    EXPECT_EQ(h.stack().config().prefix_len, 24);
    EXPECT_TRUE(h.stack().shared());
    EXPECT_EQ(h.stack().mac(), kInterfaceMac);
}

TEST(StackShared, refuses_an_interface_without_ipv4_address_naming_the_fix) {
    auto fake = std::make_unique<FakeKernel>();
    fake->address.reset();
    auto p = port::open_port(unique_pair_name(), small_area());
    try {
        Stack s(*p, 0, shared_config(), std::move(fake));
        FAIL() << "accepted an interface without an address";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("ip addr add"), std::string::npos) << e.what();
    }
}

TEST(StackShared, refuses_shared_mode_without_the_interface_mac) {
    StackConfig c = shared_config();
    c.mac.reset();
    auto p = port::open_port(unique_pair_name(), small_area());
    EXPECT_THROW(Stack(*p, 0, c, std::make_unique<FakeKernel>()), std::invalid_argument);
}

TEST(StackShared, sends_no_gratuitous_arp_and_answers_no_arp_request) {
    SharedHarness h;
    h.poll(3 * kSec);
    EXPECT_TRUE(h.peer().receive().empty());
    const auto out = h.exchange(arp_frame({wire::kArpOpRequest, kPeerMac, kPeerIp, MacAddress{}, kStackIp}));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().arp.out_replies, 0u);
    EXPECT_EQ(h.counters().arp.out_requests, 0u);
}

TEST(StackShared, leaves_ping_to_the_kernel) {
    SharedHarness h;
    Bytes echo(wire::kIcmpHeaderLen + 8, 0xab);
    ASSERT_TRUE((wire::IcmpHeader{wire::kIcmpEchoRequest, 0, 0x00010001}.emit(echo).ok()));
    const auto out = h.exchange(ethernet(kInterfaceMac, kPeerMac, wire::kEtherTypeIpv4,
                                         ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoIcmp), echo)));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().icmp.out_echo_reps, 0u);
}

TEST(StackShared, sends_no_port_unreachable_for_a_port_it_does_not_serve) {
    SharedHarness h;
    const auto out = h.exchange(udp_to_stack(9999, payload_of(10)));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().udp.no_ports, 1u);
    EXPECT_EQ(h.counters().icmp.out_dest_unreachs, 0u);
}

TEST(StackShared, bind_holds_the_port_in_the_kernel_until_close) {
    SharedHarness h;
    UdpSocket s = bound(h.stack(), 7000);
    EXPECT_EQ(h.kernel().held, std::set<std::uint16_t>{7000});
    s.close();
    EXPECT_TRUE(h.kernel().held.empty());
}

TEST(StackShared, ephemeral_bind_takes_the_port_the_kernel_picked) {
    SharedHarness h;
    UdpSocket s = bound(h.stack(), 0);
    EXPECT_EQ(s.local_port(), 41000);
    EXPECT_EQ(h.kernel().held, std::set<std::uint16_t>{41000});
    // The implicit bind of a first send goes the same way.
    auto t = h.stack().udp_open();
    ASSERT_TRUE(t);
    h.kernel().neighbours[kPeerIp.value] = {kPeerMac, KernelNeighbourState::reachable};
    ASSERT_TRUE(t->send_to(payload_of(4), kPeerIp, 9).ok());
    EXPECT_EQ(t->local_port(), 41001);
    EXPECT_EQ(h.kernel().held.count(41001), 1u);
}

TEST(StackShared, bind_to_a_port_a_kernel_socket_holds_fails_with_eaddrinuse) {
    SharedHarness h;
    h.kernel().taken_by_kernel_apps.insert(8000);
    auto s = h.stack().udp_open();
    ASSERT_TRUE(s);
    const Status st = s->bind(Ipv4Address{}, 8000);
    ASSERT_FALSE(st);
    EXPECT_EQ(st.code(), Errc::would_block);
    EXPECT_TRUE(s->bind(Ipv4Address{}, 8001).ok());  // still unbound after the failure
    // Nothing was bound on 8000: a datagram to it finds no socket.
    h.exchange(udp_to_stack(8000, payload_of(3)));
    EXPECT_EQ(h.counters().udp.no_ports, 1u);
}

TEST(StackShared, sockets_sharing_a_port_share_one_kernel_hold) {
    SharedHarness h;
    UdpSocket a = bound(h.stack(), 5000, true);
    UdpSocket b = bound(h.stack(), 5000, true);
    EXPECT_EQ(h.kernel().hold_calls, 1u);
    a.close();
    EXPECT_EQ(h.kernel().held, std::set<std::uint16_t>{5000});  // b still has it
    b.close();
    EXPECT_TRUE(h.kernel().held.empty());
}

TEST(StackShared, datagrams_reach_a_bound_socket) {
    SharedHarness h;
    UdpSocket s = bound(h.stack(), 7000);
    h.exchange(udp_to_stack(7000, payload_of(32, 5)));
    auto d = s.receive();
    ASSERT_TRUE(d);
    EXPECT_EQ(Bytes(d->payload().begin(), d->payload().end()), payload_of(32, 5));
}

TEST(StackShared, sends_to_the_mac_of_the_kernels_neighbour_without_arp) {
    SharedHarness h;
    h.kernel().neighbours[kPeerIp.value] = {kPeerMac, KernelNeighbourState::reachable};
    UdpSocket s = bound(h.stack(), 7000);
    ASSERT_TRUE(s.send_to(payload_of(10), kPeerIp, 9).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->eth.destination(), kPeerMac);
    EXPECT_EQ(u->eth.source(), kInterfaceMac);
    EXPECT_EQ(u->ip.source(), kStackIp);
    EXPECT_TRUE(h.kernel().resolution_requests.empty());
}

TEST(StackShared, off_link_destinations_go_to_the_kernels_gateway) {
    SharedHarness h;
    h.kernel().neighbours[kGatewayIp.value] = {kGatewayMac, KernelNeighbourState::permanent};
    UdpSocket s = bound(h.stack(), 7000);
    ASSERT_TRUE(s.send_to(payload_of(10), kFarIp, 9).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->eth.destination(), kGatewayMac);
    EXPECT_EQ(u->ip.destination(), kFarIp);
}

TEST(StackShared, no_kernel_route_refuses_the_send_and_counts_it) {
    SharedHarness h;
    h.kernel().default_route = false;
    UdpSocket s = bound(h.stack(), 7000);
    EXPECT_FALSE(s.send_to(payload_of(10), kFarIp, 9).ok());
    EXPECT_EQ(h.counters().ip.out_no_routes, 1u);
}

TEST(StackShared, unresolved_next_hop_asks_the_kernel_and_sends_once_it_resolves) {
    SharedHarness h;
    UdpSocket s = bound(h.stack(), 7000);
    ASSERT_TRUE(s.send_to(payload_of(10, 1), kPeerIp, 9).ok());
    ASSERT_TRUE(s.send_to(payload_of(10, 2), kPeerIp, 9).ok());
    h.poll();
    EXPECT_TRUE(h.peer().receive().empty());  // held, and no ARP from us
    ASSERT_FALSE(h.kernel().resolution_requests.empty());
    EXPECT_EQ(h.kernel().resolution_requests[0], kPeerIp);

    h.kernel().neighbours[kPeerIp.value] = {kPeerMac, KernelNeighbourState::reachable};
    h.kernel().gen++;
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        auto u = parse_udp(out[i]);
        ASSERT_TRUE(u);
        EXPECT_EQ(u->eth.destination(), kPeerMac);
        EXPECT_EQ(Bytes(u->udp.payload().begin(), u->udp.payload().end()),
                  payload_of(10, static_cast<std::uint8_t>(i + 1)));  // in order
    }
    EXPECT_FALSE(h.stack().neighbours().find(kPeerIp));  // the kernel's table stays the reference
}

TEST(StackShared, next_hops_the_kernel_never_resolves_free_their_watch_slots) {
    // The neighbour table gives up after its retries (7 s); the kernel may
    // never tell us anything (no table change), and the watch slots must
    // still come free for new next hops.
    SharedHarness h;
    UdpSocket s = bound(h.stack(), 7000);
    for (std::uint8_t i = 0; i < 16; ++i) {
        ASSERT_TRUE(s.send_to(payload_of(10), Ipv4Address::from_octets(10, 0, 0, 100 + i), 9).ok());
    }
    EXPECT_EQ(s.send_to(payload_of(10), Ipv4Address::from_octets(10, 0, 0, 200), 9).code(), Errc::no_buffers);
    for (int i = 0; i < 100; ++i) h.poll(100 * kMs);  // 10 s, no generation change
    EXPECT_TRUE(s.send_to(payload_of(10), Ipv4Address::from_octets(10, 0, 0, 200), 9).ok());
}

TEST(StackShared, a_change_in_the_kernels_tables_flushes_cached_next_hops) {
    SharedHarness h;
    constexpr MacAddress kNewMac{{0x02, 0x00, 0x00, 0x00, 0x00, 0x42}};
    h.kernel().neighbours[kPeerIp.value] = {kPeerMac, KernelNeighbourState::reachable};
    UdpSocket s = bound(h.stack(), 7000);
    auto dst_mac = [&] {
        EXPECT_TRUE(s.send_to(payload_of(4), kPeerIp, 9).ok());
        h.poll();
        const auto out = h.peer().receive();
        EXPECT_EQ(out.size(), 1u);
        auto u = out.empty() ? std::nullopt : parse_udp(out[0]);
        return u ? u->eth.destination() : MacAddress{};
    };
    EXPECT_EQ(dst_mac(), kPeerMac);
    h.kernel().neighbours[kPeerIp.value] = {kNewMac, KernelNeighbourState::reachable};
    EXPECT_EQ(dst_mac(), kPeerMac);  // cached: the generation did not move
    h.kernel().gen++;
    h.poll();
    EXPECT_EQ(dst_mac(), kNewMac);
}

TEST(StackShared, a_stale_kernel_neighbour_is_used_and_reconfirmed) {
    SharedHarness h;
    h.kernel().neighbours[kPeerIp.value] = {kPeerMac, KernelNeighbourState::stale};
    UdpSocket s = bound(h.stack(), 7000);
    ASSERT_TRUE(s.send_to(payload_of(4), kPeerIp, 9).ok());
    h.poll();
    EXPECT_EQ(h.peer().receive().size(), 1u);
    EXPECT_EQ(h.kernel().resolution_requests, std::vector<Ipv4Address>{kPeerIp});
}

TEST(StackShared, the_kernel_mirror_is_polled_about_once_a_millisecond) {
    SharedHarness h;
    const std::size_t before = h.kernel().polls;
    for (int i = 0; i < 100; ++i) h.poll(10'000);  // 100 polls over 1 ms
    EXPECT_GE(h.kernel().polls - before, 1u);
    EXPECT_LE(h.kernel().polls - before, 2u);
}

constexpr Ipv4Address kGroup = Ipv4Address::from_octets(239, 1, 2, 3);

TEST(StackShared, the_kernel_holds_the_group_membership_and_the_stack_sends_no_igmp) {
    // Shared mode: IGMP is the kernel's, like ARP. A kernel membership
    // reports the group and answers queries; the stack sends nothing.
    SharedHarness h;
    UdpSocket a = bound(h.stack(), 5000, true);
    UdpSocket b = bound(h.stack(), 5000, true);
    ASSERT_TRUE(a.join_group(kGroup).ok());
    ASSERT_TRUE(b.join_group(kGroup).ok());
    EXPECT_EQ(h.kernel().groups, std::set<std::uint32_t>{kGroup.value});
    for (int i = 0; i < 300; ++i) h.poll(10 * kMs);  // past every report interval
    for (const Bytes& f : h.peer().receive()) {
        auto eth = wire::EthernetView::parse(f);
        ASSERT_TRUE(eth);
        auto ip = wire::Ipv4View::parse(eth->payload());
        EXPECT_FALSE(ip && ip->protocol() == wire::kIpProtoIgmp) << "the stack sent IGMP in shared mode";
    }
    EXPECT_EQ(h.counters().igmp.out_reports, 0u);
    EXPECT_EQ(h.counters().igmp.out_leaves, 0u);
    a.close();
    EXPECT_EQ(h.kernel().groups.size(), 1u);
    b.close();
    EXPECT_TRUE(h.kernel().groups.empty());
}

TEST(StackShared, group_datagrams_to_a_bound_port_are_steered_while_a_member_is_there) {
    SharedHarness h(shared_config(), /*steered=*/true);
    SteeredPort& port = h.steered_port();
    auto early = h.stack().udp_open();  // joins before it binds
    ASSERT_TRUE(early);
    early->set_reuse_address(true);
    ASSERT_TRUE(early->join_group(kGroup).ok());
    EXPECT_FALSE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    ASSERT_TRUE(early->bind(Ipv4Address{}, 5000).ok());
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kStackIp));
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    UdpSocket late = bound(h.stack(), 5000, true);
    ASSERT_TRUE(late.join_group(kGroup).ok());
    UdpSocket other = bound(h.stack(), 6000);
    ASSERT_TRUE(other.join_group(kGroup).ok());
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 6000, kGroup));
    // Only UDP: IGMP queries to the group stay with the kernel.
    EXPECT_FALSE(port.has_filter(port::kOwnedAddress, 0, kGroup));

    early->close();  // late still listens on 5000
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    ASSERT_TRUE(late.leave_group(kGroup).ok());
    EXPECT_FALSE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kStackIp));  // still bound
    other.close();
    EXPECT_FALSE(port.has_filter(wire::kIpProtoUdp, 6000, kGroup));
    EXPECT_FALSE(port.has_filter(wire::kIpProtoUdp, 6000, kStackIp));
}

TEST(StackShared, group_datagrams_reach_every_member_socket) {
    SharedHarness h;
    UdpSocket a = bound(h.stack(), 5000, true);
    UdpSocket b = bound(h.stack(), 5000, true);
    ASSERT_TRUE(a.join_group(kGroup).ok());
    ASSERT_TRUE(b.join_group(kGroup).ok());
    h.peer().send(ethernet(
        MacAddress::for_ipv4_multicast(kGroup.value), kPeerMac, wire::kEtherTypeIpv4,
        ipv4(ip_header(kPeerIp, kGroup, wire::kIpProtoUdp), udp(kPeerIp, kGroup, 4000, 5000, payload_of(77)))));
    h.poll();
    EXPECT_TRUE(a.receive());
    EXPECT_TRUE(b.receive());
}

TEST(StackShared, a_socket_that_joins_then_binds_a_port_already_served_gets_the_group_steered) {
    SharedHarness h(shared_config(), /*steered=*/true);
    SteeredPort& port = h.steered_port();
    UdpSocket first = bound(h.stack(), 5000, true);  // on the port, not in the group
    auto second = h.stack().udp_open();
    ASSERT_TRUE(second);
    second->set_reuse_address(true);
    ASSERT_TRUE(second->join_group(kGroup).ok());
    ASSERT_TRUE(second->bind(Ipv4Address{}, 5000).ok());
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    second->close();
    EXPECT_FALSE(port.has_filter(wire::kIpProtoUdp, 5000, kGroup));
    EXPECT_TRUE(port.has_filter(wire::kIpProtoUdp, 5000, kStackIp));  // first is still there
}

TEST(StackShared, a_socket_bound_to_the_unicast_address_does_not_take_the_group_from_the_kernel) {
    // It would never receive the group's datagrams (a socket bound to a
    // unicast address takes no multicast), so it must not steer them away.
    SharedHarness h(shared_config(), /*steered=*/true);
    auto s = h.stack().udp_open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->bind(kStackIp, 5000).ok());
    ASSERT_TRUE(s->join_group(kGroup).ok());
    EXPECT_FALSE(h.steered_port().has_filter(wire::kIpProtoUdp, 5000, kGroup));
}

TEST(StackShared, a_group_the_kernel_will_not_join_is_refused_with_nothing_left_behind) {
    SharedHarness h(shared_config(), /*steered=*/true);
    h.kernel().refuse_joins = true;
    UdpSocket s = bound(h.stack(), 5000);
    const Status st = s.join_group(kGroup);
    EXPECT_FALSE(st.ok());
    EXPECT_FALSE(h.steered_port().has_filter(wire::kIpProtoUdp, 5000, kGroup));
    EXPECT_EQ(h.stack().multicast_groups().members(kGroup), 0u);
    h.kernel().refuse_joins = false;
    EXPECT_TRUE(s.join_group(kGroup).ok());  // and a later join works
}

TEST(StackShared, a_refused_group_filter_fails_the_join_and_takes_the_membership_back) {
    SharedHarness h(shared_config(), /*steered=*/true);
    UdpSocket s = bound(h.stack(), 5000);
    h.steered_port().refuse_filters = true;
    EXPECT_FALSE(s.join_group(kGroup).ok());
    EXPECT_TRUE(h.kernel().groups.empty());
    EXPECT_EQ(h.stack().multicast_groups().members(kGroup), 0u);
}

}  // namespace
}  // namespace kbnet::stack::testing
