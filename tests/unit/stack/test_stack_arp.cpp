// The stack's ARP in dedicated mode: replies for our address (RFC 826),
// announcements at start (RFC 5227 §3), resolution of next hops with a
// held packet, routing to the gateway, and malformed ARP counted by reason.
#include <gtest/gtest.h>

#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

std::vector<wire::ArpPacket> arps_in(const std::vector<Bytes>& frames) {
    std::vector<wire::ArpPacket> out;
    for (const Bytes& f : frames) {
        auto eth = wire::EthernetView::parse(f);
        if (!eth || eth->ether_type() != wire::kEtherTypeArp) continue;
        auto arp = wire::ArpView::parse(eth->payload());
        if (arp) out.push_back(wire::ArpPacket::from_view(*arp));
    }
    return out;
}

TEST(StackArp, replies_to_a_request_for_our_address_with_our_mac) {
    StackHarness h;
    const auto out = h.exchange(arp_frame(wire::ArpPacket::request(kPeerMac, kPeerIp, kStackIp)));
    ASSERT_EQ(out.size(), 1u);
    auto eth = wire::EthernetView::parse(out[0]);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), kPeerMac);
    EXPECT_EQ(eth->source(), kStackMac);
    EXPECT_GE(out[0].size(), wire::kEthernetMinFrameLen);
    const auto arps = arps_in(out);
    ASSERT_EQ(arps.size(), 1u);
    EXPECT_EQ(arps[0], (wire::ArpPacket{wire::kArpOpReply, kStackMac, kStackIp, kPeerMac, kPeerIp}));
    EXPECT_EQ(h.counters().arp.in_requests, 1u);
    EXPECT_EQ(h.counters().arp.out_replies, 1u);
    // RFC 826: the requester was learned on the way (no request needed to send to it).
    ASSERT_TRUE(h.stack().neighbours().find(kPeerIp).has_value());
    EXPECT_EQ(h.stack().neighbours().find(kPeerIp)->mac, kPeerMac);
}

TEST(StackArp, does_not_answer_a_request_for_another_address) {
    StackHarness h;
    const auto out = h.exchange(arp_frame(wire::ArpPacket::request(kPeerMac, kPeerIp, kOtherIp)));
    EXPECT_TRUE(out.empty());
    EXPECT_EQ(h.counters().arp.in_not_for_us, 1u);
    EXPECT_EQ(h.counters().arp.out_replies, 0u);
}

TEST(StackArp, answers_an_rfc5227_probe_from_address_zero) {
    StackHarness h;
    const auto out = h.exchange(arp_frame(wire::ArpPacket::request(kPeerMac, Ipv4Address{}, kStackIp)));
    const auto arps = arps_in(out);
    ASSERT_EQ(arps.size(), 1u);
    EXPECT_EQ(arps[0].operation, wire::kArpOpReply);
    EXPECT_EQ(arps[0].target_mac, kPeerMac);
}

TEST(StackArp, announces_its_address_twice_two_seconds_apart_at_start) {
    StackConfig config = base_config();
    config.gratuitous_arp = true;
    StackHarness h(config);
    h.poll();
    auto first = arps_in(h.peer().receive());
    ASSERT_EQ(first.size(), 1u);
    // RFC 5227 §3: a request with sender and target protocol address ours.
    EXPECT_EQ(first[0], (wire::ArpPacket{wire::kArpOpRequest, kStackMac, kStackIp, MacAddress{}, kStackIp}));
    h.poll(1 * kSec);
    EXPECT_TRUE(arps_in(h.peer().receive()).empty());
    h.poll(1 * kSec + kMs);
    EXPECT_EQ(arps_in(h.peer().receive()).size(), 1u);
    h.poll(10 * kSec);
    EXPECT_TRUE(arps_in(h.peer().receive()).empty());
    EXPECT_EQ(h.counters().arp.out_requests, 2u);
}

TEST(StackArp, holds_a_datagram_until_the_next_hop_answers_then_sends_it) {
    StackHarness h;
    auto sock = h.stack().udp_open();
    ASSERT_TRUE(sock);
    const Bytes data = payload_of(32);
    ASSERT_TRUE(sock->send_to(data, kPeerIp, 9000).ok());
    h.poll();
    auto out = h.peer().receive();
    const auto requests = arps_in(out);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0], wire::ArpPacket::request(kStackMac, kStackIp, kPeerIp));

    const auto sent =
        h.exchange(arp_frame(wire::ArpPacket{wire::kArpOpReply, kPeerMac, kPeerIp, kStackMac, kStackIp}, kStackMac));
    ASSERT_EQ(sent.size(), 1u);
    auto u = parse_udp(sent[0]);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->eth.destination(), kPeerMac);
    EXPECT_EQ(u->ip.destination(), kPeerIp);
    EXPECT_EQ(u->udp.destination_port(), 9000);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), u->udp.payload().begin(), u->udp.payload().end()));
}

TEST(StackArp, drops_off_link_traffic_without_a_gateway_and_counts_no_route) {
    StackHarness h;
    auto sock = h.stack().udp_open();
    const Bytes data = payload_of(8);
    const Status st = sock->send_to(data, Ipv4Address::from_octets(192, 168, 1, 1), 53);
    EXPECT_FALSE(st.ok());
    EXPECT_EQ(h.counters().ip.out_no_routes, 1u);
    h.poll();
    EXPECT_TRUE(h.peer().receive().empty());
}

TEST(StackArp, resolves_the_gateway_for_off_link_destinations) {
    StackConfig config = base_config();
    config.gateway = Ipv4Address::from_octets(10, 0, 0, 254);
    StackHarness h(config);
    auto sock = h.stack().udp_open();
    const Bytes data = payload_of(8);
    ASSERT_TRUE(sock->send_to(data, Ipv4Address::from_octets(192, 168, 1, 1), 53).ok());
    h.poll();
    const auto arps = arps_in(h.peer().receive());
    ASSERT_EQ(arps.size(), 1u);
    EXPECT_EQ(arps[0].target_ip, *config.gateway);
}

TEST(StackArp, counts_truncated_arp_as_malformed_and_foreign_types_as_bad_type) {
    StackHarness h;
    Bytes arp(wire::kArpLen);
    ASSERT_TRUE(wire::ArpPacket::request(kPeerMac, kPeerIp, kStackIp).emit(arp).ok());
    const Bytes truncated(arp.begin(), arp.begin() + 20);
    EXPECT_TRUE(h.exchange(ethernet(MacAddress::broadcast(), kPeerMac, wire::kEtherTypeArp, truncated)).empty());
    EXPECT_EQ(h.counters().arp.in_malformed, 1u);

    Bytes bad_type = arp;
    bad_type[1] = 6;  // hardware type IEEE 802 instead of Ethernet
    EXPECT_TRUE(h.exchange(ethernet(MacAddress::broadcast(), kPeerMac, wire::kEtherTypeArp, bad_type)).empty());
    EXPECT_EQ(h.counters().arp.in_bad_type, 1u);

    Bytes bad_op = arp;
    bad_op[7] = 9;
    EXPECT_TRUE(h.exchange(ethernet(MacAddress::broadcast(), kPeerMac, wire::kEtherTypeArp, bad_op)).empty());
    EXPECT_EQ(h.counters().arp.in_malformed, 2u);
    EXPECT_EQ(h.counters().arp.out_replies, 0u);
}

TEST(StackArp, never_learns_a_station_claiming_our_own_address) {
    StackHarness h;
    const MacAddress intruder{{0x02, 0, 0, 0, 0, 0x66}};
    EXPECT_TRUE(h.exchange(arp_frame(wire::ArpPacket::request(intruder, kStackIp, kStackIp))).empty());
    EXPECT_FALSE(h.stack().neighbours().find(kStackIp).has_value());
}

}  // namespace
}  // namespace kbnet::stack::testing
