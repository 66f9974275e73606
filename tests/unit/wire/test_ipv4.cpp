// IPv4 headers (RFC 791, RFC 1122 §3.2.1): parsing, building, options,
// fragments and in-place rewrites.
#include "kbnet/wire/ipv4.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "unit/wire/fixtures.hpp"

#include "kbnet/wire/ethernet.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark, checksums computed independently in
// Python): a Linux ping, a middle fragment over a 68-byte MTU link (RFC 791's
// minimum), and an IGMPv2 report carrying the Router Alert option, bare and
// in a padded Ethernet frame.
// clang-format off
constexpr const auto& kPingPacket = fixtures::kPingPacket;


constexpr std::array<std::uint8_t, 68> kFragmentPacket = {
    // IPv4: IHL 5, total length 68, id 0x1c46, flags MF, offset 6 (48 bytes), TTL 64, protocol 17, checksum
    0x45, 0x00, 0x00, 0x44, 0x1c, 0x46, 0x20, 0x06, 0x40, 0x11, 0xbb, 0x01,
    // source 192.168.1.10, destination 192.168.1.1
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
    // 48 bytes of fragment data
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b,
    0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47,
    0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53,
    0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f,
};

constexpr std::array<std::uint8_t, 32> kIgmpV2ReportPacket = {
    // IPv4: IHL 6, TOS 0xc0, total length 32, id 0, DF, TTL 1, protocol 2 (IGMP), checksum
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x31, 0x61,
    // source 192.168.1.10, destination 239.1.2.3
    0xc0, 0xa8, 0x01, 0x0a, 0xef, 0x01, 0x02, 0x03,
    // option: Router Alert (RFC 2113), type 148, length 4, value 0
    0x94, 0x04, 0x00, 0x00,
    // IGMPv2: type 0x16 (v2 report), max resp 0, checksum, group 239.1.2.3
    0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03,
};

constexpr std::array<std::uint8_t, 60> kIgmpV2ReportFrame = {
    // Ethernet: 01:00:5e:01:02:03 <- 52:54:00:12:34:56, type 0x0800
    0x01, 0x00, 0x5e, 0x01, 0x02, 0x03, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56,
    0x08, 0x00,
    // the IGMPv2 report packet above
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x31, 0x61,
    0xc0, 0xa8, 0x01, 0x0a, 0xef, 0x01, 0x02, 0x03, 0x94, 0x04, 0x00, 0x00,
    0x16, 0x00, 0xf8, 0xfa, 0xef, 0x01, 0x02, 0x03,
    // padding to the 60-byte minimum frame
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00,
};
// clang-format on

const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(192, 168, 1, 1);

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

TEST(Ipv4, parses_every_field_of_linux_ping) {
    auto ip = Ipv4View::parse(kPingPacket);
    ASSERT_TRUE(ip.ok()) << ip.error().reason;
    EXPECT_EQ(ip->version(), 4);
    EXPECT_EQ(ip->header_len(), 20u);
    EXPECT_EQ(ip->dscp(), 0);
    EXPECT_EQ(ip->ecn(), 0);
    EXPECT_EQ(ip->total_length(), 84);
    EXPECT_EQ(ip->identification(), 0x3f3c);
    EXPECT_FALSE(ip->reserved_flag());
    EXPECT_TRUE(ip->dont_fragment());
    EXPECT_FALSE(ip->more_fragments());
    EXPECT_EQ(ip->fragment_offset(), 0u);
    EXPECT_FALSE(ip->is_fragment());
    EXPECT_EQ(ip->ttl(), 64);
    EXPECT_EQ(ip->protocol(), kIpProtoIcmp);
    EXPECT_EQ(ip->header_checksum(), 0x29ab);
    EXPECT_EQ(ip->source(), kHostIp);
    EXPECT_EQ(ip->destination(), Ipv4Address::from_octets(8, 8, 8, 8));
    EXPECT_TRUE(ip->options().empty());
    EXPECT_FALSE(ip->has_router_alert());
    EXPECT_EQ(ip->payload().size(), 64u);
    EXPECT_EQ(ip->payload().data(), kPingPacket.data() + 20);
    EXPECT_TRUE(ip->is_complete());
    EXPECT_TRUE(ip->header_checksum_ok());
}

TEST(Ipv4, builds_linux_ping_header_byte_exact) {
    Ipv4Header h;
    h.identification = 0x3f3c;
    h.dont_fragment = true;
    h.ttl = 64;
    h.protocol = kIpProtoIcmp;
    h.source = kHostIp;
    h.destination = Ipv4Address::from_octets(8, 8, 8, 8);
    h.payload_len = 64;
    ASSERT_EQ(h.header_len(), 20u);
    ASSERT_EQ(h.total_length(), 84u);
    std::array<std::uint8_t, 20> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kPingPacket.begin()));
}

TEST(Ipv4, parses_fragment_flags_and_offset_in_bytes) {
    auto ip = Ipv4View::parse(kFragmentPacket);
    ASSERT_TRUE(ip.ok());
    EXPECT_FALSE(ip->dont_fragment());
    EXPECT_TRUE(ip->more_fragments());
    EXPECT_EQ(ip->fragment_offset(), 48u);
    EXPECT_TRUE(ip->is_fragment());
    EXPECT_EQ(ip->identification(), 0x1c46);
    EXPECT_EQ(ip->payload().size(), 48u);
    EXPECT_TRUE(ip->header_checksum_ok());
}

TEST(Ipv4, last_fragment_is_a_fragment_without_mf) {
    auto packet = bytes_of(kFragmentPacket);
    packet[6] = 0x00;  // MF off, offset 6 stays
    auto ip = Ipv4View::parse(packet);
    ASSERT_TRUE(ip.ok());
    EXPECT_FALSE(ip->more_fragments());
    EXPECT_TRUE(ip->is_fragment());
}

TEST(Ipv4, builds_fragment_header_byte_exact) {
    Ipv4Header h;
    h.identification = 0x1c46;
    h.more_fragments = true;
    h.fragment_offset = 48;
    h.protocol = kIpProtoUdp;
    h.source = kHostIp;
    h.destination = kRouterIp;
    h.payload_len = 48;
    std::array<std::uint8_t, 20> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kFragmentPacket.begin()));
}

TEST(Ipv4, parses_router_alert_option) {
    auto ip = Ipv4View::parse(kIgmpV2ReportPacket);
    ASSERT_TRUE(ip.ok()) << ip.error().reason;
    EXPECT_EQ(ip->header_len(), 24u);
    EXPECT_EQ(ip->dscp(), 48);  // TOS 0xc0
    EXPECT_EQ(ip->ttl(), 1);
    EXPECT_EQ(ip->protocol(), kIpProtoIgmp);
    ASSERT_EQ(ip->options().size(), 4u);
    EXPECT_TRUE(std::equal(ip->options().begin(), ip->options().end(), kIpv4RouterAlertOption.begin()));
    EXPECT_TRUE(ip->has_router_alert());
    std::vector<std::uint8_t> kinds;
    for (const TlvOption& o : ip->option_list()) {
        kinds.push_back(o.kind);
        EXPECT_EQ(o.data.size(), 2u);
    }
    EXPECT_EQ(kinds, std::vector<std::uint8_t>{kIpv4OptionRouterAlert});
    EXPECT_EQ(ip->payload().size(), 8u);
    EXPECT_TRUE(ip->header_checksum_ok());
}

TEST(Ipv4, builds_header_with_router_alert_byte_exact) {
    Ipv4Header h;
    h.dscp = 48;
    h.dont_fragment = true;
    h.ttl = 1;
    h.protocol = kIpProtoIgmp;
    h.source = kHostIp;
    h.destination = Ipv4Address::from_octets(239, 1, 2, 3);
    ASSERT_TRUE(h.add_router_alert().ok());
    h.payload_len = 8;
    ASSERT_EQ(h.header_len(), 24u);
    std::array<std::uint8_t, 24> out{};
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_TRUE(std::equal(out.begin(), out.end(), kIgmpV2ReportPacket.begin()));
}

TEST(Ipv4, trims_ethernet_padding_to_total_length) {
    auto eth = EthernetView::parse(kIgmpV2ReportFrame);
    ASSERT_TRUE(eth.ok());
    ASSERT_EQ(eth->payload().size(), 46u);
    auto ip = Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip.ok());
    EXPECT_EQ(ip->packet().size(), 32u);
    EXPECT_EQ(ip->payload().size(), 8u);  // not 8 + 14 bytes of padding
}

TEST(Ipv4, round_trips_every_fixture_through_value) {
    for (std::span<const std::uint8_t> fixture :
         {std::span<const std::uint8_t>(kPingPacket), std::span<const std::uint8_t>(kFragmentPacket),
          std::span<const std::uint8_t>(kIgmpV2ReportPacket)}) {
        auto ip = Ipv4View::parse(fixture);
        ASSERT_TRUE(ip.ok());
        const Ipv4Header h = Ipv4Header::from_view(*ip);
        std::vector<std::uint8_t> out(h.header_len());
        ASSERT_TRUE(h.emit(out).ok());
        EXPECT_TRUE(std::equal(out.begin(), out.end(), fixture.begin()));
    }
}

TEST(Ipv4, rejects_every_truncated_prefix) {
    for (std::span<const std::uint8_t> fixture :
         {std::span<const std::uint8_t>(kPingPacket), std::span<const std::uint8_t>(kIgmpV2ReportPacket)}) {
        for (std::size_t n = 0; n < fixture.size(); ++n) {
            std::vector<std::uint8_t> prefix(fixture.begin(), fixture.begin() + static_cast<std::ptrdiff_t>(n));
            auto ip = Ipv4View::parse(prefix);
            ASSERT_FALSE(ip.ok()) << n;
            EXPECT_EQ(ip.code(), Errc::truncated) << n;
        }
    }
}

TEST(Ipv4, rejects_ihl_below_five) {
    // Zero payload, so nothing after byte 20 could fail the parse for
    // another reason (it reads as End of Option List).
    Ipv4Header h;
    h.protocol = kIpProtoUdp;
    h.payload_len = 40;
    std::vector<std::uint8_t> packet(60);
    ASSERT_TRUE(h.emit(packet).ok());
    for (std::uint8_t ihl = 0; ihl < 5; ++ihl) {
        packet[0] = static_cast<std::uint8_t>(0x40 | ihl);
        auto ip = Ipv4View::parse(packet);
        ASSERT_FALSE(ip.ok()) << int{ihl};
        EXPECT_EQ(ip.code(), Errc::malformed) << int{ihl};
    }
    packet[0] = 0x45;
    EXPECT_TRUE(Ipv4View::parse(packet).ok());
}

TEST(Ipv4, rejects_version_other_than_four) {
    auto packet = bytes_of(kPingPacket);
    packet[0] = 0x65;
    auto ip = Ipv4View::parse(packet);
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.code(), Errc::malformed);
}

TEST(Ipv4, rejects_ihl_longer_than_buffer) {
    auto packet = std::vector<std::uint8_t>(kPingPacket.begin(), kPingPacket.begin() + 40);
    packet[0] = 0x4f;  // 60-byte header in 40 bytes
    auto ip = Ipv4View::parse(packet);
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.code(), Errc::truncated);
}

TEST(Ipv4, rejects_total_length_smaller_than_header) {
    auto packet = bytes_of(kIgmpV2ReportPacket);
    packet[3] = 23;  // the header alone is 24 bytes
    auto ip = Ipv4View::parse(packet);
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.code(), Errc::malformed);
    packet[3] = 24;  // header only, no payload: valid
    auto header_only = Ipv4View::parse(packet);
    ASSERT_TRUE(header_only.ok());
    EXPECT_TRUE(header_only->payload().empty());
}

TEST(Ipv4, rejects_total_length_beyond_buffer) {
    auto packet = bytes_of(kPingPacket);
    packet[3] = 85;
    auto ip = Ipv4View::parse(packet);
    ASSERT_FALSE(ip.ok());
    EXPECT_EQ(ip.code(), Errc::truncated);
}

TEST(Ipv4, rejects_option_length_zero_one_or_past_the_header) {
    // {option bytes in a 4-byte options area}: all must fail.
    const std::array<std::array<std::uint8_t, 4>, 5> bad = {{
        {0x44, 0x00, 0x00, 0x00},  // length 0
        {0x44, 0x01, 0x00, 0x00},  // length 1
        {0x44, 0x05, 0x00, 0x00},  // length 5 in 4 bytes
        {0x01, 0x01, 0x01, 0x44},  // kind at the last byte, no length octet
        {0x01, 0x94, 0x04, 0x00},  // Router Alert shifted by a NOP: 1 byte short
    }};
    for (const auto& opts : bad) {
        auto packet = bytes_of(kIgmpV2ReportPacket);
        std::copy(opts.begin(), opts.end(), packet.begin() + 20);
        auto ip = Ipv4View::parse(packet);
        ASSERT_FALSE(ip.ok()) << int{opts[0]} << "," << int{opts[1]};
        EXPECT_EQ(ip.code(), Errc::malformed);
    }
}

TEST(Ipv4, ignores_bytes_after_end_of_option_list) {
    auto packet = bytes_of(kIgmpV2ReportPacket);
    const std::array<std::uint8_t, 4> opts = {0x01, 0x00, 0x44, 0x00};  // NOP, EOL, then garbage
    std::copy(opts.begin(), opts.end(), packet.begin() + 20);
    auto ip = Ipv4View::parse(packet);
    ASSERT_TRUE(ip.ok()) << ip.error().reason;
    EXPECT_EQ(ip->option_list().begin(), std::default_sentinel);
    EXPECT_FALSE(ip->has_router_alert());
}

TEST(Ipv4, option_iteration_stops_safely_on_unchecked_garbage) {
    // NOP, kind 7 (length 3), kind 9 with length 0, then a well-formed
    // kind 5 that must not be reached: a bad length ends the walk.
    const std::array<std::uint8_t, 8> area = {0x01, 0x07, 0x03, 0xaa, 0x09, 0x00, 0x05, 0x02};
    std::vector<std::uint8_t> kinds;
    for (const TlvOption& o : TlvOptionRange(area)) kinds.push_back(o.kind);
    EXPECT_EQ(kinds, std::vector<std::uint8_t>{7});
    // A length running past the end stops it too.
    const std::array<std::uint8_t, 5> past = {0x07, 0x03, 0xaa, 0x44, 0x09};
    kinds.clear();
    for (const TlvOption& o : TlvOptionRange(past)) kinds.push_back(o.kind);
    EXPECT_EQ(kinds, std::vector<std::uint8_t>{7});
}

TEST(Ipv4, detects_bad_header_checksum) {
    auto packet = bytes_of(kPingPacket);
    packet[8] = 63;  // TTL changed without fixing the checksum
    auto ip = Ipv4View::parse(packet);
    ASSERT_TRUE(ip.ok());  // parse does not verify: offload may have done it
    EXPECT_FALSE(ip->header_checksum_ok());
    packet = bytes_of(kPingPacket);
    packet[11] ^= 0x01;
    EXPECT_FALSE(Ipv4View::parse(packet)->header_checksum_ok());
}

TEST(Ipv4, set_ttl_updates_checksum_like_full_recompute) {
    for (std::uint8_t ttl : {std::uint8_t{63}, std::uint8_t{0}, std::uint8_t{255}, std::uint8_t{1}}) {
        auto packet = bytes_of(kPingPacket);
        auto ip = Ipv4ViewMut::parse(packet);
        ASSERT_TRUE(ip.ok());
        ip->set_ttl(ttl);
        EXPECT_EQ(ip->ttl(), ttl);
        EXPECT_TRUE(ip->header_checksum_ok()) << int{ttl};
        const auto incremental = ip->header_checksum();
        ip->fill_header_checksum();
        EXPECT_EQ(ip->header_checksum(), incremental) << int{ttl};
    }
}

TEST(Ipv4, set_addresses_keeps_checksum_valid) {
    auto packet = bytes_of(kPingPacket);
    auto ip = Ipv4ViewMut::parse(packet);
    ASSERT_TRUE(ip.ok());
    ip->set_source(Ipv4Address::from_octets(10, 0, 0, 1));
    ip->set_destination(Ipv4Address::from_octets(172, 16, 255, 254));
    EXPECT_EQ(ip->source(), Ipv4Address::from_octets(10, 0, 0, 1));
    EXPECT_EQ(ip->destination(), Ipv4Address::from_octets(172, 16, 255, 254));
    EXPECT_TRUE(ip->header_checksum_ok());
}

TEST(Ipv4, parse_quoted_accepts_payload_cut_short_of_total_length) {
    // The ping's header and first 8 payload bytes, as RFC 792 quotes it.
    std::vector<std::uint8_t> quote(kPingPacket.begin(), kPingPacket.begin() + 28);
    EXPECT_EQ(Ipv4View::parse(quote).code(), Errc::truncated);
    auto ip = Ipv4View::parse_quoted(quote);
    ASSERT_TRUE(ip.ok());
    EXPECT_EQ(ip->total_length(), 84);
    EXPECT_EQ(ip->payload().size(), 8u);
    EXPECT_FALSE(ip->is_complete());
    EXPECT_TRUE(ip->header_checksum_ok());
    EXPECT_EQ(Ipv4Header::from_view(*ip).payload_len, 64);  // what the original carried
}

TEST(Ipv4, emit_refuses_bad_values_and_short_buffers) {
    std::array<std::uint8_t, 60> out{};
    Ipv4Header h;
    EXPECT_EQ(h.emit(std::span<std::uint8_t>(out).first(19)).code(), Errc::invalid_argument);
    h.fragment_offset = 12;  // not a multiple of 8
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.fragment_offset = 65528;  // the largest offset the 13-bit field holds
    EXPECT_TRUE(h.emit(out).ok());
    h.payload_len = 65535 - 20 + 1;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.payload_len = 65535 - 20;
    EXPECT_TRUE(h.emit(out).ok());
    h.dscp = 64;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
    h.dscp = 0;
    h.ecn = 4;
    EXPECT_EQ(h.emit(out).code(), Errc::invalid_argument);
}

TEST(Ipv4, pads_options_to_a_word_and_caps_them_at_40_bytes) {
    Ipv4Header h;
    const std::array<std::uint8_t, 3> odd = {0x07, 0x03, 0x04};  // record route, no slots
    ASSERT_TRUE(h.add_option(odd).ok());
    EXPECT_EQ(h.header_len(), 24u);
    std::array<std::uint8_t, 24> out{};
    out.fill(0xee);
    ASSERT_TRUE(h.emit(out).ok());
    EXPECT_EQ(out[23], 0x00);  // End of Option List padding
    auto ip = Ipv4View::parse(std::span<const std::uint8_t>(out));
    ASSERT_TRUE(ip.ok());
    EXPECT_TRUE(ip->header_checksum_ok());

    Ipv4Header full;
    const std::array<std::uint8_t, 40> big{};
    ASSERT_TRUE(full.add_option(big).ok());
    EXPECT_EQ(full.header_len(), 60u);
    EXPECT_EQ(full.add_router_alert().code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace kbnet::wire
