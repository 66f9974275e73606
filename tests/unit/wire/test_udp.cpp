// UDP (RFC 768, RFC 1122 §4.1): parsing, checksums and building.
#include "kbnet/wire/udp.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark, checksums computed independently in
// Python): a DNS query as Linux sends it, alone and in an 802.1Q frame;
// a datagram whose checksum computes to 0 and goes out as 0xffff.
// clang-format off
constexpr std::array<std::uint8_t, 57> kUdpPacket = {
    // IPv4: IHL 5, total length 57, id 0x8a5e, DF, TTL 64, protocol 17 (UDP), checksum 0x2cfa
    0x45, 0x00, 0x00, 0x39, 0x8a, 0x5e, 0x40, 0x00, 0x40, 0x11, 0x2c, 0xfa,
    // source 192.168.1.10, destination 192.168.1.1
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
    // UDP: source port 54321, destination port 53, length 37, checksum 0xc63f
    0xd4, 0x31, 0x00, 0x35, 0x00, 0x25, 0xc6, 0x3f,
    // DNS query: id 0x1234, RD, 1 question, A example.com IN
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
};

constexpr std::array<std::uint8_t, 30> kUdpAllOnesPacket = {
    // IPv4: IHL 5, total length 30, id 1, DF, TTL 64, protocol 17 (UDP), checksum
    0x45, 0x00, 0x00, 0x1e, 0x00, 0x01, 0x40, 0x00, 0x40, 0x11, 0xb7, 0x72,
    // source 192.168.1.10, destination 192.168.1.1
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
    // UDP: ports 1234 -> 5678, length 10, checksum 0xffff (computed 0, RFC 768)
    0x04, 0xd2, 0x16, 0x2e, 0x00, 0x0a, 0xff, 0xff,
    // payload chosen so the computed checksum is 0
    0x61, 0x7e,
};

constexpr std::array<std::uint8_t, 75> kVlanFrame = {
    // destination 00:1b:21:3a:4f:5e
    0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e,
    // source 52:54:00:12:34:56
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    // 802.1Q tag: TPID 0x8100, TCI 0x6064 (PCP 3, DEI 0, VID 100)
    0x81, 0x00, 0x60, 0x64,
    // EtherType 0x0800 (IPv4)
    0x08, 0x00,
    // IPv4 + UDP DNS query, 57 bytes
    0x45, 0x00, 0x00, 0x39, 0x8a, 0x5e, 0x40, 0x00, 0x40, 0x11, 0x2c, 0xfa,
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01, 0xd4, 0x31, 0x00, 0x35,
    0x00, 0x25, 0xc6, 0x3f, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65,
    0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x01, 0x00, 0x01,
};
// clang-format on

const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(192, 168, 1, 1);

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

TEST(Udp, parses_dns_query) {
    auto ip = Ipv4View::parse(kUdpPacket);
    ASSERT_TRUE(ip.ok());
    auto udp = UdpView::parse(ip->payload());
    ASSERT_TRUE(udp.ok()) << udp.error().reason;
    EXPECT_EQ(udp->source_port(), 54321);
    EXPECT_EQ(udp->destination_port(), 53);
    EXPECT_EQ(udp->length(), 37);
    EXPECT_EQ(udp->checksum(), 0xc63f);
    EXPECT_TRUE(udp->has_checksum());
    ASSERT_EQ(udp->payload().size(), 29u);
    EXPECT_EQ(udp->payload()[0], 0x12);
    EXPECT_EQ(udp->payload().data(), kUdpPacket.data() + 28);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
}

TEST(Udp, checksum_covers_pseudo_header) {
    auto udp = UdpView::parse(std::span<const std::uint8_t>(kUdpPacket).subspan(20));
    ASSERT_TRUE(udp.ok());
    EXPECT_TRUE(udp->checksum_ok(kHostIp, kRouterIp));
    EXPECT_FALSE(udp->checksum_ok(kHostIp, Ipv4Address::from_octets(192, 168, 1, 2)));
    EXPECT_FALSE(udp->checksum_ok(Ipv4Address::from_octets(192, 168, 1, 11), kRouterIp));
}

TEST(Udp, builds_dns_query_packet_byte_exact) {
    std::vector<std::uint8_t> packet(57);
    std::copy(kUdpPacket.begin() + 28, kUdpPacket.end(), packet.begin() + 28);
    Ipv4Header ip;
    ip.identification = 0x8a5e;
    ip.dont_fragment = true;
    ip.protocol = kIpProtoUdp;
    ip.source = kHostIp;
    ip.destination = kRouterIp;
    ip.payload_len = 37;
    ASSERT_TRUE(ip.emit(packet).ok());
    ASSERT_TRUE((UdpHeader{54321, 53}).emit(std::span<std::uint8_t>(packet).subspan(20), kHostIp, kRouterIp).ok());
    EXPECT_EQ(packet, bytes_of(kUdpPacket));
}

TEST(Udp, sends_computed_zero_checksum_as_all_ones) {
    std::vector<std::uint8_t> datagram(kUdpAllOnesPacket.begin() + 20, kUdpAllOnesPacket.end());
    std::fill(datagram.begin(), datagram.begin() + 8, std::uint8_t{0});
    ASSERT_TRUE((UdpHeader{1234, 5678}).emit(datagram, kHostIp, kRouterIp).ok());
    EXPECT_EQ(datagram[6], 0xff);
    EXPECT_EQ(datagram[7], 0xff);
    EXPECT_TRUE(std::equal(datagram.begin(), datagram.end(), kUdpAllOnesPacket.begin() + 20));
    auto udp = UdpView::parse(datagram);
    ASSERT_TRUE(udp.ok());
    EXPECT_TRUE(udp->has_checksum());
    EXPECT_TRUE(udp->checksum_ok(kHostIp, kRouterIp));  // 0xffff is another zero in one's complement
    // fill_checksum follows the same rule.
    auto mut = UdpViewMut::parse(datagram);
    ASSERT_TRUE(mut.ok());
    mut->fill_checksum(kHostIp, kRouterIp);
    EXPECT_EQ(mut->checksum(), 0xffff);
}

TEST(Udp, zero_checksum_means_none) {
    auto packet = bytes_of(kUdpPacket);
    packet[26] = packet[27] = 0;
    packet[40] ^= 0xff;  // corrupt the payload: nothing can tell
    auto udp = UdpView::parse(std::span<const std::uint8_t>(packet).subspan(20));
    ASSERT_TRUE(udp.ok());
    EXPECT_FALSE(udp->has_checksum());
    EXPECT_TRUE(udp->checksum_ok(kHostIp, kRouterIp));
}

TEST(Udp, emit_without_checksum_writes_zero) {
    std::vector<std::uint8_t> datagram(kUdpPacket.begin() + 20, kUdpPacket.end());
    ASSERT_TRUE((UdpHeader{54321, 53}).emit_without_checksum(datagram).ok());
    EXPECT_EQ(datagram[6], 0);
    EXPECT_EQ(datagram[7], 0);
    EXPECT_EQ(datagram[5], 37);
}

TEST(Udp, detects_bad_checksum) {
    auto packet = bytes_of(kUdpPacket);
    packet.back() ^= 0x01;
    auto udp = UdpView::parse(std::span<const std::uint8_t>(packet).subspan(20));
    ASSERT_TRUE(udp.ok());
    EXPECT_FALSE(udp->checksum_ok(kHostIp, kRouterIp));
}

TEST(Udp, parses_through_802_1q_frame) {
    auto eth = EthernetView::parse(kVlanFrame);
    ASSERT_TRUE(eth.ok());
    ASSERT_EQ(eth->ether_type(), kEtherTypeIpv4);
    auto ip = Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip.ok());
    ASSERT_EQ(ip->protocol(), kIpProtoUdp);
    auto udp = UdpView::parse(ip->payload());
    ASSERT_TRUE(udp.ok());
    EXPECT_EQ(udp->destination_port(), 53);
    EXPECT_TRUE(udp->checksum_ok(ip->source(), ip->destination()));
}

TEST(Udp, trims_to_udp_length) {
    std::vector<std::uint8_t> datagram(kUdpPacket.begin() + 20, kUdpPacket.end());
    datagram.push_back(0xee);  // trailing byte beyond the UDP length
    datagram.push_back(0xee);
    auto udp = UdpView::parse(datagram);
    ASSERT_TRUE(udp.ok());
    EXPECT_EQ(udp->datagram().size(), 37u);
    EXPECT_EQ(udp->payload().size(), 29u);
    EXPECT_TRUE(udp->checksum_ok(kHostIp, kRouterIp));
}

TEST(Udp, rejects_every_truncated_prefix) {
    const auto full = std::span<const std::uint8_t>(kUdpPacket).subspan(20);
    for (std::size_t n = 0; n < full.size(); ++n) {
        std::vector<std::uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        auto udp = UdpView::parse(prefix);
        ASSERT_FALSE(udp.ok()) << n;
        EXPECT_EQ(udp.code(), Errc::truncated) << n;
    }
}

TEST(Udp, rejects_length_below_eight) {
    for (std::uint8_t len = 0; len < 8; ++len) {
        std::vector<std::uint8_t> datagram(kUdpPacket.begin() + 20, kUdpPacket.end());
        datagram[4] = 0;
        datagram[5] = len;
        auto udp = UdpView::parse(datagram);
        ASSERT_FALSE(udp.ok());
        EXPECT_EQ(udp.code(), Errc::malformed) << int{len};
    }
}

TEST(Udp, port_rewrites_keep_checksum_valid_or_absent) {
    std::vector<std::uint8_t> datagram(kUdpPacket.begin() + 20, kUdpPacket.end());
    auto udp = UdpViewMut::parse(datagram);
    ASSERT_TRUE(udp.ok());
    udp->set_source_port(40000);
    udp->set_destination_port(5353);
    EXPECT_EQ(udp->source_port(), 40000);
    EXPECT_EQ(udp->destination_port(), 5353);
    EXPECT_TRUE(udp->checksum_ok(kHostIp, kRouterIp));

    datagram[6] = datagram[7] = 0;
    udp->set_source_port(1);
    EXPECT_EQ(udp->checksum(), 0);  // no checksum stays no checksum
}

TEST(Udp, round_trips_through_value) {
    auto udp = UdpView::parse(std::span<const std::uint8_t>(kUdpPacket).subspan(20));
    ASSERT_TRUE(udp.ok());
    std::vector<std::uint8_t> datagram(udp->datagram().begin(), udp->datagram().end());
    std::fill(datagram.begin(), datagram.begin() + 8, std::uint8_t{0});
    ASSERT_TRUE(UdpHeader::from_view(*udp).emit(datagram, kHostIp, kRouterIp).ok());
    EXPECT_TRUE(std::equal(datagram.begin(), datagram.end(), kUdpPacket.begin() + 20));
}

TEST(Udp, emit_refuses_datagram_shorter_than_header) {
    std::array<std::uint8_t, 7> out{};
    EXPECT_EQ(UdpHeader{}.emit(out, kHostIp, kRouterIp).code(), Errc::invalid_argument);
    EXPECT_EQ(UdpHeader{}.emit_without_checksum(out).code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace kbnet::wire
