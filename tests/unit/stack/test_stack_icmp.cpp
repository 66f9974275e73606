// ICMP: echo replies (RFC 792), port unreachable under RFC 1122 §3.2.2's
// rules and the rate limit, errors reported to connected sockets, and Time
// Exceeded for a reassembly that timed out.
#include <gtest/gtest.h>

#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

Bytes echo_request(std::uint16_t id, std::uint16_t seq, std::span<const std::uint8_t> data, Ipv4Address dst = kStackIp,
                   const MacAddress& eth_dst = kStackMac) {
    Bytes msg(wire::kIcmpHeaderLen + data.size());
    std::copy(data.begin(), data.end(), msg.begin() + wire::kIcmpHeaderLen);
    EXPECT_TRUE(wire::IcmpHeader::echo_request(id, seq).emit(msg).ok());
    return ethernet(eth_dst, kPeerMac, wire::kEtherTypeIpv4, ipv4(ip_header(kPeerIp, dst, wire::kIpProtoIcmp), msg));
}

struct IcmpOut {
    Bytes frame;
    std::uint8_t type = 0;
    std::uint8_t code = 0;
};
std::vector<IcmpOut> icmp_in(const std::vector<Bytes>& frames) {
    std::vector<IcmpOut> out;
    for (const Bytes& f : frames) {
        auto eth = wire::EthernetView::parse(f);
        if (!eth || eth->ether_type() != wire::kEtherTypeIpv4) continue;
        auto ip = wire::Ipv4View::parse(eth->payload());
        if (!ip || ip->protocol() != wire::kIpProtoIcmp) continue;
        auto icmp = wire::IcmpView::parse(ip->payload());
        if (icmp) out.push_back({f, icmp->type(), icmp->code()});
    }
    return out;
}

TEST(StackIcmp, answers_an_echo_request_with_the_same_id_sequence_and_data) {
    StackHarness h;
    h.learn_peer();
    const Bytes data = payload_of(56, 9);
    const auto out = h.exchange(echo_request(0x1234, 7, data));
    ASSERT_EQ(out.size(), 1u);
    auto eth = wire::EthernetView::parse(out[0]);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), kPeerMac);
    EXPECT_EQ(eth->source(), kStackMac);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->header_checksum_ok());
    EXPECT_EQ(ip->source(), kStackIp);
    EXPECT_EQ(ip->destination(), kPeerIp);
    EXPECT_EQ(ip->ttl(), 64);
    EXPECT_EQ(ip->total_length(), 20u + 8u + 56u);
    auto icmp = wire::IcmpView::parse(ip->payload());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), wire::kIcmpEchoReply);
    EXPECT_EQ(icmp->code(), 0);
    EXPECT_EQ(icmp->identifier(), 0x1234);
    EXPECT_EQ(icmp->sequence_number(), 7);
    EXPECT_TRUE(icmp->checksum_ok());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), icmp->data().begin(), icmp->data().end()));
    EXPECT_EQ(h.counters().icmp.in_echos, 1u);
    EXPECT_EQ(h.counters().icmp.out_echo_reps, 1u);
}

TEST(StackIcmp, answers_a_large_fragmented_ping_with_a_fragmented_reply) {
    StackHarness h;
    h.learn_peer();
    const Bytes data = payload_of(4000);
    Bytes msg(wire::kIcmpHeaderLen + data.size());
    std::copy(data.begin(), data.end(), msg.begin() + wire::kIcmpHeaderLen);
    ASSERT_TRUE(wire::IcmpHeader::echo_request(1, 1).emit(msg).ok());
    for (std::size_t off = 0; off < msg.size(); off += 1480) {
        const std::size_t n = std::min<std::size_t>(1480, msg.size() - off);
        wire::Ipv4Header hdr = ip_header(kPeerIp, kStackIp, wire::kIpProtoIcmp, 99);
        hdr.fragment_offset = static_cast<std::uint16_t>(off);
        hdr.more_fragments = off + n < msg.size();
        h.peer().send(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                               ipv4(hdr, std::span<const std::uint8_t>(msg).subspan(off, n))));
    }
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 3u);
    // Put the reply's fragments back together with a reassembler of our own.
    Ipv4Reassembler r;
    std::optional<Bytes> whole;
    for (const Bytes& f : out) {
        auto eth = wire::EthernetView::parse(f);
        auto ip = wire::Ipv4View::parse(eth->payload());
        ASSERT_TRUE(ip);
        EXPECT_LE(ip->total_length(), 1500u);
        auto res = r.add(*ip, 0);
        ASSERT_TRUE(res);
        if (res->state == Ipv4ReassemblyState::complete) whole = Bytes(res->datagram.begin(), res->datagram.end());
    }
    ASSERT_TRUE(whole);
    auto ip = wire::Ipv4View::parse(*whole);
    auto icmp = wire::IcmpView::parse(ip->payload());
    EXPECT_EQ(icmp->type(), wire::kIcmpEchoReply);
    EXPECT_TRUE(icmp->checksum_ok());
    EXPECT_TRUE(std::equal(data.begin(), data.end(), icmp->data().begin(), icmp->data().end()));
}

TEST(StackIcmp, ignores_an_echo_request_to_a_broadcast_address) {
    StackHarness h;
    h.learn_peer();
    const auto out = h.exchange(echo_request(1, 1, payload_of(8), kSubnetBroadcast, MacAddress::broadcast()));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().icmp.in_echos, 1u);
    EXPECT_EQ(h.counters().icmp.out_echo_reps, 0u);
}

TEST(StackIcmp, drops_a_message_with_a_bad_checksum_and_counts_it) {
    StackHarness h;
    h.learn_peer();
    Bytes frame = echo_request(1, 1, payload_of(8));
    frame.back() ^= 0xff;
    EXPECT_TRUE(h.exchange(frame).empty());
    EXPECT_EQ(h.counters().icmp.in_csum_errors, 1u);
    EXPECT_EQ(h.counters().icmp.out_echo_reps, 0u);
}

TEST(StackIcmp, sends_port_unreachable_quoting_a_datagram_to_a_closed_port) {
    StackHarness h;
    h.learn_peer();
    const auto out = icmp_in(h.exchange(udp_frame(kPeerIp, kStackIp, 5000, 4444, payload_of(30))));
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, wire::kIcmpDestinationUnreachable);
    EXPECT_EQ(out[0].code, wire::kIcmpPortUnreachable);
    auto eth = wire::EthernetView::parse(out[0].frame);
    auto ip = wire::Ipv4View::parse(eth->payload());
    auto icmp = wire::IcmpView::parse(ip->payload());
    EXPECT_TRUE(icmp->checksum_ok());
    auto quoted = icmp->quoted_datagram();
    ASSERT_TRUE(quoted);
    auto ports = wire::icmp_quoted_ports(*quoted);
    ASSERT_TRUE(ports);
    EXPECT_EQ(ports->source_port, 5000);
    EXPECT_EQ(ports->destination_port, 4444);
    EXPECT_EQ(h.counters().udp.no_ports, 1u);
    EXPECT_EQ(h.counters().icmp.out_dest_unreachs, 1u);
}

TEST(StackIcmp, rate_limits_port_unreachable_to_a_burst_then_the_refill_rate) {
    StackConfig config = base_config();
    config.icmp_error_rate = 1000;  // one token per millisecond
    config.icmp_error_burst = 50;
    StackHarness h(config);
    h.learn_peer();
    // 100 datagrams to a closed port within one poll: the burst of 50 passes.
    for (int i = 0; i < 100; ++i) h.peer().send(udp_frame(kPeerIp, kStackIp, 5000, 4444, payload_of(4)));
    for (int i = 0; i < 4; ++i) h.poll(0);
    EXPECT_EQ(icmp_in(h.peer().receive()).size(), 50u);
    EXPECT_EQ(h.counters().icmp.out_rate_limited, 50u);
    // 10 ms later ten tokens are back.
    h.poll(10 * kMs);
    for (int i = 0; i < 20; ++i) h.peer().send(udp_frame(kPeerIp, kStackIp, 5000, 4444, payload_of(4)));
    h.poll(0);
    EXPECT_EQ(icmp_in(h.peer().receive()).size(), 10u);
    EXPECT_EQ(h.counters().udp.no_ports, 120u);
}

TEST(StackIcmp, sends_no_port_unreachable_for_broadcast_datagrams) {
    StackHarness h;
    h.learn_peer();
    const auto out =
        h.exchange(udp_frame(kPeerIp, kSubnetBroadcast, 5000, 4444, payload_of(4), MacAddress::broadcast()));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().udp.no_ports, 1u);
    EXPECT_EQ(h.counters().icmp.out_msgs, 0u);
}

TEST(StackIcmp, sends_no_port_unreachable_to_a_source_that_names_no_host) {
    StackHarness h;
    h.learn_peer();
    // RFC 1122 §3.2.1.3 lets 0.0.0.0 in (a host booting), but §3.2.2 forbids
    // an error to it.
    const auto out = h.exchange(udp_frame(Ipv4Address{}, kStackIp, 68, 4444, payload_of(4)));
    EXPECT_TRUE(icmp_in(out).empty());
    EXPECT_EQ(h.counters().udp.no_ports, 1u);
    EXPECT_EQ(h.counters().icmp.out_msgs, 0u);
}

TEST(StackIcmp, reports_port_unreachable_to_the_connected_socket_it_quotes) {
    StackHarness h;
    h.learn_peer();
    auto sock = h.stack().udp_open();
    ASSERT_TRUE(sock->connect(kPeerIp, 9999).ok());
    ASSERT_TRUE(sock->send(payload_of(12)).ok());
    h.poll();
    const auto sent = h.peer().receive();
    ASSERT_EQ(sent.size(), 1u);
    auto eth = wire::EthernetView::parse(sent[0]);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    // The peer answers as Linux does for a closed port.
    const auto quote = wire::icmp_error_quote(*ip);
    Bytes msg(wire::kIcmpHeaderLen + quote.size());
    std::copy(quote.begin(), quote.end(), msg.begin() + wire::kIcmpHeaderLen);
    ASSERT_TRUE(wire::IcmpHeader::destination_unreachable(wire::kIcmpPortUnreachable).emit(msg).ok());
    EXPECT_FALSE(sock->take_error());
    h.exchange(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                        ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoIcmp), msg)));
    auto err = sock->take_error();
    ASSERT_TRUE(err);
    EXPECT_TRUE(err->connection_refused());
    EXPECT_EQ(err->reporter, kPeerIp);
    EXPECT_FALSE(sock->take_error());  // read once, like SO_ERROR
}

TEST(StackIcmp, sends_time_exceeded_when_a_reassembly_with_fragment_zero_times_out) {
    StackConfig config = base_config();
    config.reassembly.timeout_ns = 30 * kSec;
    StackHarness h(config);
    h.learn_peer();
    wire::Ipv4Header hdr = ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp, 5);
    hdr.more_fragments = true;
    h.exchange(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4, ipv4(hdr, payload_of(64))));
    EXPECT_EQ(h.stack().reassembler().in_progress(), 1u);
    h.poll(29 * kSec);
    EXPECT_TRUE(h.peer().receive().empty());
    h.poll(1 * kSec);
    const auto out = icmp_in(h.peer().receive());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, wire::kIcmpTimeExceeded);
    EXPECT_EQ(out[0].code, wire::kIcmpReassemblyTimeExceeded);
    EXPECT_EQ(h.stack().reassembler().in_progress(), 0u);
    EXPECT_EQ(h.counters().ip.reasm_fails, 1u);
}

}  // namespace
}  // namespace kbnet::stack::testing
