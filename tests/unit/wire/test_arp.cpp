// ARP (RFC 826) for IPv4 over Ethernet.
#include "kbnet/wire/arp.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "unit/wire/fixtures.hpp"

#include "kbnet/wire/ethernet.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark): "who-has 192.168.1.1 tell 192.168.1.10"
// broadcast by Linux, padded to the minimum frame; the router's reply.
// clang-format off
constexpr const auto& kArpRequestFrame = fixtures::kArpRequestFrame;


constexpr std::array<std::uint8_t, 28> kArpReply = {
    // htype 1 (Ethernet), ptype 0x0800, hlen 6, plen 4, op 2 (reply)
    0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02,
    // sender 00:1b:21:3a:4f:5e 192.168.1.1
    0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e, 0xc0, 0xa8, 0x01, 0x01,
    // target 52:54:00:12:34:56 192.168.1.10
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0xa8, 0x01, 0x0a,
};
// clang-format on

const MacAddress kHostMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddress kRouterMac{{0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e}};
const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(192, 168, 1, 1);

TEST(Arp, parses_linux_request_from_padded_frame) {
    auto eth = EthernetView::parse(kArpRequestFrame);
    ASSERT_TRUE(eth.ok());
    auto arp = ArpView::parse(eth->payload());
    ASSERT_TRUE(arp.ok()) << arp.error().reason;
    EXPECT_EQ(arp->hardware_type(), kArpHardwareEthernet);
    EXPECT_EQ(arp->protocol_type(), kEtherTypeIpv4);
    EXPECT_EQ(arp->operation(), kArpOpRequest);
    EXPECT_EQ(arp->sender_mac(), kHostMac);
    EXPECT_EQ(arp->sender_ip(), kHostIp);
    EXPECT_TRUE(arp->target_mac().is_zero());
    EXPECT_EQ(arp->target_ip(), kRouterIp);
    EXPECT_EQ(arp->bytes().size(), kArpLen);  // padding is not part of the packet
}

TEST(Arp, builds_request_byte_exact) {
    const ArpPacket req = ArpPacket::request(kHostMac, kHostIp, kRouterIp);
    std::array<std::uint8_t, kArpLen> out{};
    ASSERT_TRUE(req.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin() + 14));
}

TEST(Arp, parses_reply) {
    auto arp = ArpView::parse(kArpReply);
    ASSERT_TRUE(arp.ok());
    EXPECT_EQ(arp->operation(), kArpOpReply);
    EXPECT_EQ(arp->sender_mac(), kRouterMac);
    EXPECT_EQ(arp->sender_ip(), kRouterIp);
    EXPECT_EQ(arp->target_mac(), kHostMac);
    EXPECT_EQ(arp->target_ip(), kHostIp);
}

TEST(Arp, reply_value_to_request_matches_fixture) {
    auto arp = ArpView::parse(std::span<const std::uint8_t>(kArpRequestFrame).subspan(14));
    ASSERT_TRUE(arp.ok());
    const ArpPacket reply = ArpPacket::from_view(*arp).reply(kRouterMac);
    std::array<std::uint8_t, kArpLen> out{};
    ASSERT_TRUE(reply.emit(out).ok());
    EXPECT_EQ(out, kArpReply);
}

TEST(Arp, make_reply_turns_request_into_reply_in_place) {
    std::vector<std::uint8_t> buf(kArpRequestFrame.begin() + 14, kArpRequestFrame.end());
    auto arp = ArpViewMut::parse(buf);
    ASSERT_TRUE(arp.ok());
    arp->make_reply(kRouterMac);
    EXPECT_TRUE(std::equal(kArpReply.begin(), kArpReply.end(), buf.begin()));
}

TEST(Arp, round_trips_through_value) {
    auto arp = ArpView::parse(kArpReply);
    ASSERT_TRUE(arp.ok());
    const ArpPacket value = ArpPacket::from_view(*arp);
    std::array<std::uint8_t, kArpLen> out{};
    ASSERT_TRUE(value.emit(out).ok());
    auto again = ArpView::parse(out);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(ArpPacket::from_view(*again), value);
    EXPECT_EQ(out, kArpReply);
}

TEST(Arp, rejects_every_prefix_shorter_than_28_bytes) {
    for (std::size_t n = 0; n < kArpLen; ++n) {
        std::vector<std::uint8_t> prefix(kArpReply.begin(), kArpReply.begin() + static_cast<std::ptrdiff_t>(n));
        auto arp = ArpView::parse(prefix);
        ASSERT_FALSE(arp.ok()) << n;
        EXPECT_EQ(arp.code(), Errc::truncated) << n;
    }
}

TEST(Arp, rejects_other_hardware_and_protocol_types) {
    // {offset, value}: hardware 6 (IEEE 802), protocol IPv6, hlen 8, plen 16.
    const std::array<std::pair<std::size_t, std::uint8_t>, 4> edits = {{{1, 6}, {2, 0x86}, {4, 8}, {5, 16}}};
    for (auto [at, value] : edits) {
        auto buf = std::vector<std::uint8_t>(kArpReply.begin(), kArpReply.end());
        buf[at] = value;
        auto arp = ArpView::parse(buf);
        ASSERT_FALSE(arp.ok()) << at;
        EXPECT_EQ(arp.code(), Errc::unsupported) << at;
    }
}

TEST(Arp, accepts_unknown_operation) {
    auto buf = std::vector<std::uint8_t>(kArpReply.begin(), kArpReply.end());
    buf[7] = 3;  // RARP request (RFC 903): the stack decides, not the parser
    auto arp = ArpView::parse(buf);
    ASSERT_TRUE(arp.ok());
    EXPECT_EQ(arp->operation(), 3);
}

TEST(Arp, emit_refuses_short_buffer) {
    std::array<std::uint8_t, kArpLen - 1> out{};
    EXPECT_EQ(ArpPacket{}.emit(out).code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace kbnet::wire
