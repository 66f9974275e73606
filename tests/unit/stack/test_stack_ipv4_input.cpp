// IPv4 and Ethernet input: each malformed header is dropped and counted by
// its reason, addresses are accepted or refused per RFC 1122 §3.2.1.3 and
// §3.3.6, Ethernet padding is trimmed, and fragments are reassembled.
#include <gtest/gtest.h>

#include "kbnet/core/endian.hpp"
#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

constexpr std::uint16_t kPort = 7000;

class StackIpv4Input : public ::testing::Test {
  protected:
    void SetUp() override {
        auto s = h.stack().udp_open();
        ASSERT_TRUE(s);
        sock = std::move(*s);
        ASSERT_TRUE(sock.bind(Ipv4Address{}, kPort).ok());
    }
    // A valid UDP-in-IPv4 frame to our port, for tests to corrupt.
    Bytes good_frame(std::span<const std::uint8_t> data) { return udp_frame(kPeerIp, kStackIp, 5000, kPort, data); }
    static constexpr std::size_t kIp = wire::kEthernetHeaderLen;  // offset of the IPv4 header

    StackHarness h;
    UdpSocket sock;
};

TEST_F(StackIpv4Input, delivers_a_valid_datagram_and_counts_it) {
    const Bytes data = payload_of(100);
    h.exchange(good_frame(data));
    auto d = sock.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), d->payload().begin(), d->payload().end()));
    EXPECT_EQ(d->source(), kPeerIp);
    EXPECT_EQ(d->source_port(), 5000);
    EXPECT_EQ(h.counters().ip.in_receives, 1u);
    EXPECT_EQ(h.counters().ip.in_delivers, 1u);
    EXPECT_EQ(h.counters().udp.in_datagrams, 1u);
}

TEST_F(StackIpv4Input, trims_ethernet_padding_after_the_datagram) {
    const Bytes data = payload_of(3);
    Bytes frame = good_frame(data);
    ASSERT_LT(frame.size(), 60u);
    frame.resize(60, 0xee);  // padding that is not part of the datagram
    h.exchange(frame);
    auto d = sock.receive();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->payload().size(), 3u);
}

TEST_F(StackIpv4Input, drops_a_frame_shorter_than_an_ethernet_header) {
    const Bytes runt(10, 0xff);
    h.exchange(runt);
    EXPECT_EQ(h.counters().link.rx_too_short, 1u);
}

TEST_F(StackIpv4Input, drops_a_frame_for_another_mac) {
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, kPort, payload_of(4), MacAddress{{0x02, 0, 0, 0, 0, 0x99}}));
    EXPECT_EQ(h.counters().link.rx_not_for_us, 1u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, drops_unknown_ethertypes_and_vlan_tagged_frames) {
    h.exchange(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv6, payload_of(40)));
    EXPECT_EQ(h.counters().link.rx_unknown_ethertype, 1u);
    wire::EthernetHeader tagged;
    tagged.destination = kStackMac;
    tagged.source = kPeerMac;
    tagged.vlan_count = 1;
    tagged.vlans[0].vid = 10;
    const Bytes ip =
        ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp), udp(kPeerIp, kStackIp, 5000, kPort, payload_of(4)));
    Bytes frame(tagged.header_len() + ip.size());
    ASSERT_TRUE(tagged.emit(frame).ok());
    std::copy(ip.begin(), ip.end(), frame.begin() + static_cast<std::ptrdiff_t>(tagged.header_len()));
    h.exchange(frame);
    EXPECT_EQ(h.counters().link.rx_vlan, 1u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, counts_each_header_error_by_reason_and_delivers_none) {
    const Bytes data = payload_of(20);
    Bytes version = good_frame(data);
    version[kIp] = 0x65;
    h.exchange(version);
    Bytes ihl = good_frame(data);
    ihl[kIp] = 0x44;  // IHL 4: below the minimum of 5
    h.exchange(ihl);
    Bytes long_total = good_frame(data);
    store_be16(long_total.data() + kIp + 2, 1000);  // beyond the frame
    h.exchange(long_total);
    Bytes short_total = good_frame(data);
    store_be16(short_total.data() + kIp + 2, 12);  // shorter than the header
    h.exchange(short_total);
    Bytes checksum = good_frame(data);
    checksum[kIp + 10] ^= 0x01;
    h.exchange(checksum);
    Bytes truncated = good_frame(data);
    truncated.resize(kIp + 12);
    h.exchange(truncated);

    const IpCounters& ip = h.counters().ip;
    EXPECT_EQ(ip.in_hdr_errors_version, 1u);
    EXPECT_EQ(ip.in_hdr_errors_ihl, 1u);
    EXPECT_EQ(ip.in_hdr_errors_total_length, 3u);  // too long, too short, truncated header
    EXPECT_EQ(ip.in_hdr_errors_checksum, 1u);
    EXPECT_EQ(ip.in_receives, 6u);
    EXPECT_EQ(ip.in_delivers, 0u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, drops_a_truncated_udp_header_as_a_udp_error) {
    Bytes frame = ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                           ipv4(ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp), payload_of(5)));
    h.exchange(frame);
    EXPECT_EQ(h.counters().udp.in_errors, 1u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, accepts_a_datagram_with_ttl_zero_as_rfc1122_asks_of_a_host) {
    wire::Ipv4Header hdr = ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp);
    hdr.ttl = 0;
    h.exchange(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                        ipv4(hdr, udp(kPeerIp, kStackIp, 5000, kPort, payload_of(4)))));
    EXPECT_TRUE(sock.receive());
}

TEST_F(StackIpv4Input, drops_a_datagram_for_another_address) {
    h.exchange(udp_frame(kPeerIp, kOtherIp, 5000, kPort, payload_of(4)));
    EXPECT_EQ(h.counters().ip.in_addr_errors, 1u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, drops_a_datagram_from_a_broadcast_or_loopback_source) {
    h.exchange(udp_frame(Ipv4Address::from_octets(255, 255, 255, 255), kStackIp, 5000, kPort, payload_of(4)));
    h.exchange(udp_frame(Ipv4Address::from_octets(127, 0, 0, 1), kStackIp, 5000, kPort, payload_of(4)));
    h.exchange(udp_frame(Ipv4Address::from_octets(224, 0, 0, 5), kStackIp, 5000, kPort, payload_of(4)));
    EXPECT_EQ(h.counters().ip.in_addr_errors, 3u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, drops_unicast_ip_sent_as_a_link_layer_broadcast) {
    h.exchange(udp_frame(kPeerIp, kStackIp, 5000, kPort, payload_of(4), MacAddress::broadcast()));
    EXPECT_EQ(h.counters().ip.in_addr_errors, 1u);
    EXPECT_FALSE(sock.receive());
}

TEST_F(StackIpv4Input, accepts_limited_and_directed_broadcast) {
    h.exchange(udp_frame(kPeerIp, Ipv4Address::from_octets(255, 255, 255, 255), 5000, kPort, payload_of(4),
                         MacAddress::broadcast()));
    h.exchange(udp_frame(kPeerIp, kSubnetBroadcast, 5000, kPort, payload_of(4), MacAddress::broadcast()));
    auto a = sock.receive();
    auto b = sock.receive();
    ASSERT_TRUE(a);
    ASSERT_TRUE(b);
    EXPECT_TRUE(a->destination().is_broadcast());
    EXPECT_EQ(b->destination(), kSubnetBroadcast);
}

TEST_F(StackIpv4Input, counts_an_unknown_protocol_and_answers_protocol_unreachable) {
    h.learn_peer();
    const auto out = h.exchange(
        ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4, ipv4(ip_header(kPeerIp, kStackIp, 99), payload_of(16))));
    EXPECT_EQ(h.counters().ip.in_unknown_protos, 1u);
    ASSERT_EQ(out.size(), 1u);
    auto eth = wire::EthernetView::parse(out[0]);
    ASSERT_TRUE(eth);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_EQ(ip->protocol(), wire::kIpProtoIcmp);
    auto icmp = wire::IcmpView::parse(ip->payload());
    ASSERT_TRUE(icmp);
    EXPECT_EQ(icmp->type(), wire::kIcmpDestinationUnreachable);
    EXPECT_EQ(icmp->code(), wire::kIcmpProtocolUnreachable);
    EXPECT_TRUE(icmp->checksum_ok());
}

TEST_F(StackIpv4Input, reassembles_fragments_and_delivers_the_whole_datagram) {
    const Bytes data = payload_of(3000);
    const Bytes dgram = udp(kPeerIp, kStackIp, 5000, kPort, data);
    // Three fragments of 1480, 1480 and the rest, sent last first.
    const std::size_t chunk = 1480;
    std::vector<Bytes> frames;
    for (std::size_t off = 0; off < dgram.size(); off += chunk) {
        const std::size_t n = std::min(chunk, dgram.size() - off);
        wire::Ipv4Header hdr = ip_header(kPeerIp, kStackIp, wire::kIpProtoUdp, 77);
        hdr.fragment_offset = static_cast<std::uint16_t>(off);
        hdr.more_fragments = off + n < dgram.size();
        frames.push_back(ethernet(kStackMac, kPeerMac, wire::kEtherTypeIpv4,
                                  ipv4(hdr, std::span<const std::uint8_t>(dgram).subspan(off, n))));
    }
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) h.peer().send(*it);
    h.poll();
    auto d = sock.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(std::equal(data.begin(), data.end(), d->payload().begin(), d->payload().end()));
    EXPECT_EQ(h.counters().ip.reasm_oks, 1u);
    EXPECT_EQ(h.stack().reassembler().buffers_in_use(), 1u);  // held by the datagram
    d->release();
    EXPECT_EQ(h.stack().reassembler().buffers_in_use(), 0u);
}

}  // namespace
}  // namespace kbnet::stack::testing
