// UDP between two stacks on the two ends of a pair, and against a
// hand-driven peer: bind and ephemeral ports, conflicts, connect filtering,
// checksums, bounded queues, fragmentation, zero-copy and callback receive,
// broadcast, multicast membership, and frames given back on close.
#include <gtest/gtest.h>

#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

// Stack A (10.0.0.1) on end 0, stack B (10.0.0.2) on end 1.
class TwoStacks {
  public:
    TwoStacks() {
        const std::string name = unique_pair_name();
        port_a_ = port::open_port(name, small_area());
        port_b_ = port::open_port(name, small_area());
        a_ = std::make_unique<Stack>(*port_a_, 0, base_config(kStackIp));
        b_ = std::make_unique<Stack>(*port_b_, 0, base_config(kPeerIp));
    }
    Stack& a() { return *a_; }
    Stack& b() { return *b_; }
    // Polls both until neither has work, a millisecond apart.
    void run() {
        for (int i = 0; i < 20; ++i) {
            now_ += kMs;
            const std::size_t work = a_->poll(now_) + b_->poll(now_);
            if (work == 0 && i > 2) break;
        }
    }

  private:
    std::unique_ptr<port::Port> port_a_;
    std::unique_ptr<port::Port> port_b_;
    std::unique_ptr<Stack> a_;
    std::unique_ptr<Stack> b_;
    std::uint64_t now_ = kSec;
};

UdpSocket open_bound(Stack& s, std::uint16_t port, Ipv4Address local = Ipv4Address{}) {
    auto sock = s.udp_open();
    EXPECT_TRUE(sock);
    EXPECT_TRUE(sock->bind(local, port).ok());
    return std::move(*sock);
}

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(StackUdp, two_stacks_exchange_datagrams_both_ways_after_resolving_each_other) {
    TwoStacks net;
    UdpSocket server = open_bound(net.b(), 7);
    UdpSocket client = open_bound(net.a(), 0);
    const Bytes ping = payload_of(100, 1);
    ASSERT_TRUE(client.send_to(ping, kPeerIp, 7).ok());
    net.run();
    auto d = server.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(same(d->payload(), ping));
    EXPECT_EQ(d->source(), kStackIp);
    EXPECT_EQ(d->source_port(), client.local_port());

    // Echo it back zero-copy: a transmit buffer filled in place.
    auto tx = server.alloc_tx();
    ASSERT_TRUE(tx);
    ASSERT_GE(tx->capacity(), d->payload().size());
    std::copy(d->payload().begin(), d->payload().end(), tx->data().begin());
    ASSERT_TRUE(tx->set_length(d->payload().size()));
    ASSERT_TRUE(server.send_to(std::move(*tx), d->source(), d->source_port()).ok());
    d->release();
    net.run();
    auto back = client.receive();
    ASSERT_TRUE(back);
    EXPECT_TRUE(same(back->payload(), ping));
    EXPECT_EQ(back->source_port(), 7);
    EXPECT_EQ(net.a().counters().udp.out_datagrams, 1u);
    EXPECT_EQ(net.a().counters().udp.in_datagrams, 1u);
    EXPECT_EQ(net.b().counters().udp.in_datagrams, 1u);
}

TEST(StackUdp, large_datagram_leaves_in_fragments_and_is_reassembled_by_the_other_stack) {
    TwoStacks net;
    UdpSocket server = open_bound(net.b(), 7);
    UdpSocket client = open_bound(net.a(), 0);
    ASSERT_TRUE(client.send_to(payload_of(1), kPeerIp, 7).ok());  // resolve first
    net.run();
    ASSERT_TRUE(server.receive());
    const Bytes big = payload_of(20000, 3);
    ASSERT_TRUE(client.send_to(big, kPeerIp, 7).ok());
    net.run();
    auto d = server.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(same(d->payload(), big));
    EXPECT_EQ(net.a().counters().ip.frag_oks, 1u);
    EXPECT_EQ(net.a().counters().ip.frag_creates, 14u);  // 20028 bytes in 1480-byte pieces
    EXPECT_EQ(net.b().counters().ip.reasm_oks, 1u);
}

TEST(StackUdp, tx_buffer_larger_than_the_mtu_is_fragmented_too) {
    TwoStacks net;
    UdpSocket server = open_bound(net.b(), 7);
    UdpSocket client = open_bound(net.a(), 0);
    auto tx = client.alloc_tx();
    ASSERT_TRUE(tx);
    ASSERT_GE(tx->capacity(), 1700u);
    const Bytes data = payload_of(1700, 5);
    std::copy(data.begin(), data.end(), tx->data().begin());
    ASSERT_TRUE(tx->set_length(data.size()));
    ASSERT_TRUE(client.send_to(std::move(*tx), kPeerIp, 7).ok());
    net.run();
    auto d = server.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(same(d->payload(), data));
    EXPECT_EQ(net.a().counters().ip.frag_creates, 2u);
}

TEST(StackUdp, bind_port_zero_picks_distinct_ephemeral_ports) {
    StackHarness h;
    UdpSocket a = open_bound(h.stack(), 0);
    UdpSocket b = open_bound(h.stack(), 0);
    EXPECT_GE(a.local_port(), kEphemeralFirst);
    EXPECT_GE(b.local_port(), kEphemeralFirst);
    EXPECT_NE(a.local_port(), b.local_port());
}

TEST(StackUdp, ephemeral_search_skips_a_port_already_bound) {
    StackHarness h;
    UdpSocket fixed = open_bound(h.stack(), kEphemeralFirst);
    UdpSocket any = open_bound(h.stack(), 0);
    EXPECT_EQ(any.local_port(), kEphemeralFirst + 1);
}

TEST(StackUdp, binding_an_overlapping_address_and_port_is_refused) {
    StackHarness h;
    UdpSocket first = open_bound(h.stack(), 53);
    auto second = h.stack().udp_open();
    EXPECT_EQ(second->bind(kStackIp, 53).code(), Errc::would_block);
    EXPECT_EQ(second->bind(Ipv4Address{}, 53).code(), Errc::would_block);
    EXPECT_TRUE(second->bind(Ipv4Address{}, 54).ok());
    auto third = h.stack().udp_open();
    EXPECT_EQ(third->bind(kOtherIp, 55).code(), Errc::invalid_argument);  // not our address
}

TEST(StackUdp, reuse_address_lets_two_sockets_share_a_port) {
    StackHarness h;
    auto a = h.stack().udp_open();
    auto b = h.stack().udp_open();
    a->set_reuse_address(true);
    b->set_reuse_address(true);
    EXPECT_TRUE(a->bind(Ipv4Address{}, 5353).ok());
    EXPECT_TRUE(b->bind(Ipv4Address{}, 5353).ok());
}

TEST(StackUdp, closing_a_socket_frees_its_port) {
    StackHarness h;
    UdpSocket first = open_bound(h.stack(), 53);
    first.close();
    UdpSocket again = open_bound(h.stack(), 53);
    EXPECT_EQ(again.local_port(), 53);
}

TEST(StackUdp, connected_socket_receives_only_from_its_remote) {
    StackHarness h;
    UdpSocket sock = open_bound(h.stack(), 6000);
    ASSERT_TRUE(sock.connect(kPeerIp, 5000).ok());
    h.exchange(udp_frame(kPeerIp, kStackIp, 5001, 6000, payload_of(4)));   // wrong port
    h.exchange(udp_frame(kOtherIp, kStackIp, 5000, 6000, payload_of(4)));  // wrong host
    EXPECT_FALSE(sock.receive());
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(4)));
    EXPECT_TRUE(sock.receive());
    EXPECT_EQ(h.counters().udp.no_ports, 2u);
}

TEST(StackUdp, connected_socket_wins_over_a_wildcard_one_for_its_remote) {
    StackHarness h;
    auto wild = h.stack().udp_open();
    auto conn = h.stack().udp_open();
    wild->set_reuse_address(true);
    conn->set_reuse_address(true);
    ASSERT_TRUE(wild->bind(Ipv4Address{}, 6000).ok());
    ASSERT_TRUE(conn->bind(Ipv4Address{}, 6000).ok());
    ASSERT_TRUE(conn->connect(kPeerIp, 5000).ok());
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(4)));
    h.exchange(udp_frame(kOtherIp, kStackIp, 5000, 6000, payload_of(4)));
    auto c = conn->receive();
    auto w = wild->receive();
    ASSERT_TRUE(c);
    ASSERT_TRUE(w);
    EXPECT_EQ(c->source(), kPeerIp);
    EXPECT_EQ(w->source(), kOtherIp);
}

TEST(StackUdp, drops_a_datagram_with_a_bad_checksum_and_counts_it) {
    StackHarness h;
    UdpSocket sock = open_bound(h.stack(), 6000);
    Bytes frame = udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(10));
    frame.back() ^= 0x5a;
    h.exchange(frame);
    EXPECT_FALSE(sock.receive());
    EXPECT_EQ(h.counters().udp.in_csum_errors, 1u);
    EXPECT_EQ(h.counters().udp.in_errors, 1u);
}

TEST(StackUdp, accepts_a_datagram_without_a_checksum) {
    StackHarness h;
    UdpSocket sock = open_bound(h.stack(), 6000);
    const Bytes data = payload_of(10);
    h.exchange(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                        ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp),
                             udp(kPeerIp, kStackIp, 5000, 6000, data, /*checksum=*/false))));
    auto d = sock.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(same(d->payload(), data));
}

TEST(StackUdp, sends_a_valid_nonzero_checksum) {
    StackHarness h;
    h.learn_peer();
    UdpSocket sock = open_bound(h.stack(), 6000);
    ASSERT_TRUE(sock.send_to(payload_of(33), kPeerIp, 5000).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->udp.has_checksum());
    EXPECT_TRUE(u->udp.checksum_ok(kStackIp, kPeerIp));
    EXPECT_EQ(u->udp.source_port(), 6000);
    EXPECT_FALSE(u->ip.dont_fragment());
}

TEST(StackUdp, a_full_receive_queue_drops_and_counts_the_newest) {
    StackConfig config = base_config();
    config.udp_queue_depth = 4;
    StackHarness h(config);
    UdpSocket sock = open_bound(h.stack(), 6000);
    for (std::uint8_t i = 0; i < 6; ++i) {
        const Bytes data(1, i);
        h.peer().send(udp_frame(kPeerIp, kStackIp, 5000, 6000, data));
    }
    h.poll();
    EXPECT_EQ(sock.rx_queue_depth(), 4u);
    EXPECT_EQ(sock.rx_drops(), 2u);
    EXPECT_EQ(h.counters().udp.rcvbuf_errors, 2u);
    for (std::uint8_t i = 0; i < 4; ++i) {
        auto d = sock.receive();
        ASSERT_TRUE(d);
        EXPECT_EQ(d->payload()[0], i);  // oldest first
    }
    EXPECT_FALSE(sock.receive());
}

TEST(StackUdp, closing_a_socket_gives_its_queued_frames_back) {
    // The peer's pool has 1024 frames; 3 rounds of 500 queued datagrams only
    // fit if close() returns each round's frames.
    StackConfig config = base_config();
    config.udp_queue_depth = 512;
    StackHarness h(config);
    for (int round = 0; round < 3; ++round) {
        UdpSocket sock = open_bound(h.stack(), 6000);
        for (int i = 0; i < 500; ++i) {
            h.peer().send(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(4)));
            if (i % 32 == 31) h.poll();
        }
        h.poll();
        ASSERT_EQ(sock.rx_queue_depth(), 500u) << "round " << round;
        sock.close();
    }
}

TEST(StackUdp, callback_receives_datagrams_from_poll) {
    StackHarness h;
    UdpSocket sock = open_bound(h.stack(), 6000);
    struct Seen {
        std::vector<Bytes> payloads;
    } seen;
    sock.set_on_datagram(
        [](void* ctx, UdpDatagram& d) {
            static_cast<Seen*>(ctx)->payloads.emplace_back(d.payload().begin(), d.payload().end());
        },
        &seen);
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(5, 1)));
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(6, 2)));
    ASSERT_EQ(seen.payloads.size(), 2u);
    EXPECT_EQ(seen.payloads[1], payload_of(6, 2));
    EXPECT_EQ(sock.rx_queue_depth(), 0u);
}

TEST(StackUdp, broadcast_send_needs_the_broadcast_flag) {
    StackHarness h;
    UdpSocket sock = open_bound(h.stack(), 6000);
    const Bytes data = payload_of(4);
    EXPECT_EQ(sock.send_to(data, kSubnetBroadcast, 9).code(), Errc::invalid_argument);
    sock.set_broadcast(true);
    ASSERT_TRUE(sock.send_to(data, kSubnetBroadcast, 9).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_TRUE(u->eth.destination().is_broadcast());
}

class RecordingObserver : public MulticastMembershipObserver {
  public:
    Status on_first_join(Ipv4Address g) noexcept override {
        joins.push_back(g);
        return {};
    }
    void on_last_leave(Ipv4Address g) noexcept override { leaves.push_back(g); }
    std::vector<Ipv4Address> joins;
    std::vector<Ipv4Address> leaves;
};

TEST(StackUdp, every_socket_joined_to_a_group_receives_its_datagrams) {
    StackHarness h;
    constexpr Ipv4Address kGroup = Ipv4Address::from_octets(239, 1, 2, 3);
    const MacAddress group_mac = MacAddress::for_ipv4_multicast(kGroup.value);
    RecordingObserver observer;
    h.stack().set_membership_observer(&observer);
    auto a = h.stack().udp_open();
    auto b = h.stack().udp_open();
    a->set_reuse_address(true);
    b->set_reuse_address(true);
    ASSERT_TRUE(a->bind(Ipv4Address{}, 5000).ok());
    ASSERT_TRUE(b->bind(Ipv4Address{}, 5000).ok());

    // Not joined yet: dropped at the link (the group's MAC is not ours).
    h.exchange(udp_frame(kPeerIp, kGroup, 4000, 5000, payload_of(4), group_mac));
    EXPECT_EQ(h.counters().link.rx_not_for_us, 1u);

    ASSERT_TRUE(a->join_group(kGroup).ok());
    ASSERT_TRUE(b->join_group(kGroup).ok());
    EXPECT_EQ(observer.joins, std::vector<Ipv4Address>{kGroup});  // first join only
    EXPECT_TRUE(h.stack().accepts_multicast(kGroup));
    const Bytes data = payload_of(20, 4);
    h.exchange(udp_frame(kPeerIp, kGroup, 4000, 5000, data, group_mac));
    auto da = a->receive();
    auto db = b->receive();
    ASSERT_TRUE(da);
    ASSERT_TRUE(db);
    EXPECT_TRUE(same(da->payload(), data));
    EXPECT_TRUE(same(db->payload(), data));
    EXPECT_EQ(da->destination(), kGroup);

    ASSERT_TRUE(a->leave_group(kGroup).ok());
    EXPECT_TRUE(observer.leaves.empty());
    b->close();
    EXPECT_EQ(observer.leaves, std::vector<Ipv4Address>{kGroup});  // close leaves too
    EXPECT_FALSE(h.stack().accepts_multicast(kGroup));
    h.stack().set_membership_observer(nullptr);
}

TEST(StackUdp, multicast_send_uses_the_group_mac_and_ttl_one) {
    StackHarness h;
    constexpr Ipv4Address kGroup = Ipv4Address::from_octets(239, 1, 2, 3);
    UdpSocket sock = open_bound(h.stack(), 6000);
    ASSERT_TRUE(sock.send_to(payload_of(4), kGroup, 5000).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->eth.destination(), MacAddress::for_ipv4_multicast(kGroup.value));
    EXPECT_EQ(u->ip.ttl(), 1);
}

}  // namespace
}  // namespace kbnet::stack::testing
