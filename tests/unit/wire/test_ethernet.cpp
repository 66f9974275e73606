// Ethernet II and 802.1Q/802.1ad tag parsing and building.
#include "kbnet/wire/ethernet.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "unit/wire/fixtures.hpp"

namespace kbnet::wire {
namespace {

// Fixtures: frames as a Linux host sends them (checked with tshark).
// clang-format off
constexpr const auto& kArpRequestFrame = fixtures::kArpRequestFrame;


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

constexpr std::array<std::uint8_t, 79> kQinQFrame = {
    // destination 00:1b:21:3a:4f:5e
    0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e,
    // source 52:54:00:12:34:56
    0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    // 802.1ad S-tag: TPID 0x88a8, TCI 0x100a (PCP 0, DEI 1, VID 10)
    0x88, 0xa8, 0x10, 0x0a,
    // 802.1Q C-tag: TPID 0x8100, TCI 0x0064 (PCP 0, DEI 0, VID 100)
    0x81, 0x00, 0x00, 0x64,
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

const MacAddress kHostMac{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
const MacAddress kRouterMac{{0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e}};

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

TEST(Ethernet, parses_untagged_arp_frame) {
    auto eth = EthernetView::parse(kArpRequestFrame);
    ASSERT_TRUE(eth.ok()) << eth.error().reason;
    EXPECT_EQ(eth->destination(), MacAddress::broadcast());
    EXPECT_EQ(eth->source(), kHostMac);
    EXPECT_EQ(eth->vlan_count(), 0u);
    EXPECT_EQ(eth->ether_type(), kEtherTypeArp);
    EXPECT_EQ(eth->header_len(), 14u);
    // Padding stays in the payload: ARP knows its own length.
    EXPECT_EQ(eth->payload().size(), 46u);
    EXPECT_EQ(eth->payload().data(), kArpRequestFrame.data() + 14);
    EXPECT_EQ(eth->frame().size(), kArpRequestFrame.size());
}

TEST(Ethernet, builds_untagged_header_byte_exact) {
    EthernetHeader h;
    h.destination = MacAddress::broadcast();
    h.source = kHostMac;
    h.ether_type = kEtherTypeArp;
    ASSERT_EQ(h.header_len(), 14u);
    std::array<std::uint8_t, 14> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kArpRequestFrame.begin()));
}

TEST(Ethernet, parses_single_802_1q_tag) {
    auto eth = EthernetView::parse(kVlanFrame);
    ASSERT_TRUE(eth.ok()) << eth.error().reason;
    EXPECT_EQ(eth->destination(), kRouterMac);
    EXPECT_EQ(eth->source(), kHostMac);
    ASSERT_EQ(eth->vlan_count(), 1u);
    const VlanTag tag = eth->vlan(0);
    EXPECT_EQ(tag.tpid, kEtherTypeVlan);
    EXPECT_EQ(tag.pcp, 3);
    EXPECT_FALSE(tag.dei);
    EXPECT_EQ(tag.vid, 100);
    EXPECT_EQ(tag.tci(), 0x6064);
    EXPECT_EQ(eth->ether_type(), kEtherTypeIpv4);
    EXPECT_EQ(eth->header_len(), 18u);
    EXPECT_EQ(eth->payload().size(), 57u);
    EXPECT_EQ(eth->payload()[0], 0x45);
    EXPECT_EQ(eth->vlan(1), VlanTag{});  // past vlan_count: a default tag, no read
}

TEST(Ethernet, builds_single_tag_header_byte_exact) {
    EthernetHeader h;
    h.destination = kRouterMac;
    h.source = kHostMac;
    h.vlan_count = 1;
    h.vlans[0] = VlanTag{kEtherTypeVlan, 3, false, 100};
    h.ether_type = kEtherTypeIpv4;
    ASSERT_EQ(h.header_len(), 18u);
    std::array<std::uint8_t, 18> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kVlanFrame.begin()));
}

TEST(Ethernet, parses_qinq_s_tag_then_c_tag) {
    auto eth = EthernetView::parse(kQinQFrame);
    ASSERT_TRUE(eth.ok()) << eth.error().reason;
    ASSERT_EQ(eth->vlan_count(), 2u);
    EXPECT_EQ(eth->vlan(0), (VlanTag{kEtherTypeQinQ, 0, true, 10}));
    EXPECT_EQ(eth->vlan(1), (VlanTag{kEtherTypeVlan, 0, false, 100}));
    EXPECT_EQ(eth->ether_type(), kEtherTypeIpv4);
    EXPECT_EQ(eth->header_len(), 22u);
    EXPECT_EQ(eth->payload().size(), 57u);
}

TEST(Ethernet, builds_qinq_header_byte_exact_and_round_trips) {
    auto eth = EthernetView::parse(kQinQFrame);
    ASSERT_TRUE(eth.ok());
    const EthernetHeader h = EthernetHeader::from_view(*eth);
    EXPECT_EQ(h.vlan_count, 2);
    std::array<std::uint8_t, 22> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kQinQFrame.begin()));
}

TEST(Ethernet, accepts_two_stacked_8100_tags) {
    auto frame = bytes_of(kQinQFrame);
    frame[12] = 0x81;
    frame[13] = 0x00;
    auto eth = EthernetView::parse(frame);
    ASSERT_TRUE(eth.ok());
    EXPECT_EQ(eth->vlan_count(), 2u);
    EXPECT_EQ(eth->vlan(0).tpid, kEtherTypeVlan);
}

TEST(Ethernet, rejects_third_vlan_tag_as_unsupported) {
    // Turn the inner type (0x0800) into a third tag.
    auto frame = bytes_of(kQinQFrame);
    frame[20] = 0x81;
    frame[21] = 0x00;
    auto eth = EthernetView::parse(frame);
    ASSERT_FALSE(eth.ok());
    EXPECT_EQ(eth.code(), Errc::unsupported);
}

TEST(Ethernet, rejects_every_prefix_shorter_than_the_header) {
    for (const auto* fixture : {static_cast<const std::uint8_t*>(kVlanFrame.data()), kQinQFrame.data()}) {
        const std::size_t header = fixture == kVlanFrame.data() ? 18 : 22;
        for (std::size_t n = 0; n < header; ++n) {
            // A copy of exactly n bytes, so ASan sees any read past it.
            std::vector<std::uint8_t> prefix(fixture, fixture + n);
            auto eth = EthernetView::parse(prefix);
            ASSERT_FALSE(eth.ok()) << "prefix " << n;
            EXPECT_EQ(eth.code(), Errc::truncated) << "prefix " << n;
        }
        std::vector<std::uint8_t> exact(fixture, fixture + header);
        auto eth = EthernetView::parse(exact);
        ASSERT_TRUE(eth.ok());
        EXPECT_TRUE(eth->payload().empty());
    }
}

TEST(Ethernet, keeps_8023_length_field_as_type) {
    // IEEE 802.3 §3.2.6: below 0x0600 the field is a length (LLC frames).
    auto frame = bytes_of(kArpRequestFrame);
    frame[12] = 0x00;
    frame[13] = 0x2e;
    auto eth = EthernetView::parse(frame);
    ASSERT_TRUE(eth.ok());
    EXPECT_LT(eth->ether_type(), kEtherTypeMin);
}

TEST(Ethernet, mutable_view_rewrites_addresses_and_vid_in_place) {
    auto frame = bytes_of(kVlanFrame);
    auto eth = EthernetViewMut::parse(std::span<std::uint8_t>(frame));
    ASSERT_TRUE(eth.ok());
    eth->set_destination(kHostMac);
    eth->set_source(kRouterMac);
    eth->set_vlan_id(0, 200);
    eth->set_vlan_id(1, 300);  // no second tag: ignored
    EXPECT_TRUE(std::equal(frame.begin(), frame.begin() + 6, kHostMac.bytes.begin()));
    EXPECT_TRUE(std::equal(frame.begin() + 6, frame.begin() + 12, kRouterMac.bytes.begin()));
    const EthernetView view = *eth;  // mutable converts to read-only
    EXPECT_EQ(view.vlan(0), (VlanTag{kEtherTypeVlan, 3, false, 200}));
    EXPECT_TRUE(std::equal(frame.begin() + 18, frame.end(), kVlanFrame.begin() + 18));
}

TEST(Ethernet, emit_refuses_short_buffer_and_writes_nothing) {
    EthernetHeader h;
    h.vlan_count = 1;
    std::array<std::uint8_t, 17> out{};
    out.fill(0xaa);
    auto st = h.emit(out);
    EXPECT_EQ(st.code(), Errc::invalid_argument);
    for (auto b : out) EXPECT_EQ(b, 0xaa);
}

TEST(Ethernet, emit_refuses_out_of_range_tags) {
    std::array<std::uint8_t, 64> out{};
    EthernetHeader h;
    h.vlan_count = 3;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.vlan_count = 1;
    h.vlans[0].vid = 4096;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.vlans[0].vid = 1;
    h.vlans[0].pcp = 8;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.vlans[0].pcp = 7;
    h.vlans[0].tpid = kEtherTypeIpv4;  // would not parse back as a tag
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.vlans[0].tpid = kEtherTypeQinQ;
    EXPECT_TRUE(h.emit(out).ok());
}

TEST(Ethernet, header_equality_ignores_unused_tag_slots) {
    EthernetHeader a, b;
    b.vlans[1].vid = 77;  // not in use: vlan_count is 0
    EXPECT_EQ(a, b);
    a.vlan_count = b.vlan_count = 2;
    EXPECT_NE(a, b);
}

}  // namespace
}  // namespace kbnet::wire
