// ICMP (RFC 792, RFC 1122 §3.2.2, RFC 1191): echo, destination unreachable
// and time exceeded with their quoted datagrams.
#include "kbnet/wire/icmp.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "unit/wire/fixtures.hpp"

#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark, checksums computed independently in
// Python): a Linux ping; the port unreachable Linux returns for a DNS query
// to a closed port (whole datagram quoted); a router's time exceeded for a
// traceroute probe (header + 64 bits quoted, RFC 792).
// clang-format off
constexpr const auto& kPingPacket = fixtures::kPingPacket;


constexpr std::array<std::uint8_t, 85> kPortUnreachablePacket = {
    // IPv4: IHL 5, TOS 0xc0, total length 85, id 0x5c1d, no DF, TTL 64, protocol 1 (ICMP), checksum
    0x45, 0xc0, 0x00, 0x55, 0x5c, 0x1d, 0x00, 0x00, 0x40, 0x01, 0x9a, 0x6f,
    // source 192.168.1.1, destination 192.168.1.10
    0xc0, 0xa8, 0x01, 0x01, 0xc0, 0xa8, 0x01, 0x0a,
    // ICMP: type 3 (destination unreachable), code 3 (port), checksum, unused
    0x03, 0x03, 0x80, 0x8f, 0x00, 0x00, 0x00, 0x00,
    // quoted IPv4 header of the DNS query (192.168.1.10 -> 192.168.1.1, UDP)
    0x45, 0x00, 0x00, 0x39, 0x8a, 0x5e, 0x40, 0x00, 0x40, 0x11, 0x2c, 0xfa,
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01,
    // quoted UDP header: 54321 -> 53, length 37
    0xd4, 0x31, 0x00, 0x35, 0x00, 0x25, 0xc6, 0x3f,
    // quoted DNS query
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x07, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x03, 0x63, 0x6f, 0x6d,
    0x00, 0x00, 0x01, 0x00, 0x01,
};

constexpr std::array<std::uint8_t, 56> kTimeExceededPacket = {
    // IPv4: IHL 5, TOS 0xc0, total length 56, id 0x0d80, no DF, TTL 255, protocol 1 (ICMP), checksum
    0x45, 0xc0, 0x00, 0x38, 0x0d, 0x80, 0x00, 0x00, 0xff, 0x01, 0xe1, 0xd1,
    // source 10.0.0.1 (a router), destination 192.168.1.10
    0x0a, 0x00, 0x00, 0x01, 0xc0, 0xa8, 0x01, 0x0a,
    // ICMP: type 11 (time exceeded), code 0 (TTL), checksum, unused
    0x0b, 0x00, 0xec, 0xc6, 0x00, 0x00, 0x00, 0x00,
    // quoted IPv4 header: total length 60, TTL 1, UDP, 192.168.1.10 -> 93.184.216.34
    0x45, 0x00, 0x00, 0x3c, 0x7b, 0x2a, 0x40, 0x00, 0x01, 0x11, 0x06, 0xfa,
    0xc0, 0xa8, 0x01, 0x0a, 0x5d, 0xb8, 0xd8, 0x22,
    // quoted first 64 bits of data: UDP 40000 -> 33434, length 40, checksum
    0x9c, 0x40, 0x82, 0x9a, 0x00, 0x28, 0xe9, 0x35,
};
// clang-format on

const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(192, 168, 1, 1);

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

IcmpView icmp_of(std::span<const std::uint8_t> packet) {
    auto ip = Ipv4View::parse(packet);
    EXPECT_TRUE(ip.ok());
    auto icmp = IcmpView::parse(ip->payload());
    EXPECT_TRUE(icmp.ok());
    return *icmp;
}

TEST(Icmp, parses_linux_echo_request) {
    const IcmpView icmp = icmp_of(kPingPacket);
    EXPECT_EQ(icmp.type(), kIcmpEchoRequest);
    EXPECT_EQ(icmp.code(), 0);
    EXPECT_EQ(icmp.checksum(), 0x86c8);
    EXPECT_EQ(icmp.identifier(), 0x1c2b);
    EXPECT_EQ(icmp.sequence_number(), 1);
    EXPECT_EQ(icmp.rest_of_header(), 0x1c2b0001u);
    ASSERT_EQ(icmp.data().size(), 56u);
    for (std::size_t i = 16; i < 56; ++i) EXPECT_EQ(icmp.data()[i], i) << i;
    EXPECT_TRUE(icmp.checksum_ok());
    EXPECT_EQ(icmp.quoted_datagram().code(), Errc::invalid_argument);
}

TEST(Icmp, builds_linux_echo_request_packet_byte_exact) {
    std::vector<std::uint8_t> packet(84);
    std::copy(kPingPacket.begin() + 28, kPingPacket.end(), packet.begin() + 28);  // the echo data
    Ipv4Header ip;
    ip.identification = 0x3f3c;
    ip.dont_fragment = true;
    ip.protocol = kIpProtoIcmp;
    ip.source = kHostIp;
    ip.destination = Ipv4Address::from_octets(8, 8, 8, 8);
    ip.payload_len = 64;
    ASSERT_TRUE(ip.emit(packet).ok());
    ASSERT_TRUE(IcmpHeader::echo_request(0x1c2b, 1).emit(std::span<std::uint8_t>(packet).subspan(20)).ok());
    EXPECT_EQ(packet, bytes_of(kPingPacket));
}

TEST(Icmp, echo_reply_in_place_keeps_checksum_valid) {
    auto packet = bytes_of(kPingPacket);
    auto icmp = IcmpViewMut::parse(std::span<std::uint8_t>(packet).subspan(20));
    ASSERT_TRUE(icmp.ok());
    icmp->set_type_code(kIcmpEchoReply, 0);
    EXPECT_EQ(icmp->type(), kIcmpEchoReply);
    EXPECT_TRUE(icmp->checksum_ok());
    // RFC 1624 incremental update equals a full recompute...
    const auto incremental = icmp->checksum();
    icmp->fill_checksum();
    EXPECT_EQ(icmp->checksum(), incremental);
    // ...and equals building the reply from scratch.
    std::vector<std::uint8_t> built(kPingPacket.begin() + 20, kPingPacket.end());
    ASSERT_TRUE(IcmpHeader::echo_reply(0x1c2b, 1).emit(built).ok());
    EXPECT_TRUE(std::equal(built.begin(), built.end(), packet.begin() + 20));
    EXPECT_EQ(incremental, 0x8ec8);  // 0x86c8 + 0x0800 (type 8 -> 0)
}

TEST(Icmp, echo_reply_in_place_of_all_zero_message_gets_all_ones_checksum) {
    // Identifier 0, sequence 0, zero data: the reply's words other than the
    // checksum sum to zero, so its checksum is 0xffff, which RFC 1624
    // eqn. 3 alone gives as 0x0000 (the +0/-0 boundary of RFC 1624 §3).
    std::array<std::uint8_t, 16> message{};
    ASSERT_TRUE(IcmpHeader::echo_request(0, 0).emit(message).ok());
    EXPECT_EQ(load_be16(message.data() + 2), 0xf7ff);
    auto icmp = IcmpViewMut::parse(message);
    ASSERT_TRUE(icmp.ok());
    icmp->set_type_code(kIcmpEchoReply, 0);
    EXPECT_EQ(icmp->checksum(), 0xffff);
    EXPECT_TRUE(icmp->checksum_ok());
}

TEST(Icmp, parses_port_unreachable_and_its_quoted_udp_datagram) {
    auto ip = Ipv4View::parse(kPortUnreachablePacket);
    ASSERT_TRUE(ip.ok());
    EXPECT_EQ(ip->dscp(), 48);
    EXPECT_FALSE(ip->dont_fragment());
    auto icmp = IcmpView::parse(ip->payload());
    ASSERT_TRUE(icmp.ok());
    EXPECT_EQ(icmp->type(), kIcmpDestinationUnreachable);
    EXPECT_EQ(icmp->code(), kIcmpPortUnreachable);
    EXPECT_EQ(icmp->rest_of_header(), 0u);
    EXPECT_TRUE(icmp->checksum_ok());
    auto quoted = icmp->quoted_datagram();
    ASSERT_TRUE(quoted.ok()) << quoted.error().reason;
    EXPECT_TRUE(quoted->is_complete());
    EXPECT_EQ(quoted->source(), kHostIp);
    EXPECT_EQ(quoted->destination(), kRouterIp);
    EXPECT_EQ(quoted->protocol(), kIpProtoUdp);
    EXPECT_EQ(quoted->identification(), 0x8a5e);
    EXPECT_TRUE(quoted->header_checksum_ok());
    auto ports = icmp_quoted_ports(*quoted);
    ASSERT_TRUE(ports.ok());
    EXPECT_EQ(*ports, (QuotedPorts{54321, 53}));
}

TEST(Icmp, builds_port_unreachable_byte_exact) {
    // The original datagram is the quote inside the fixture.
    const auto original_bytes = std::span<const std::uint8_t>(kPortUnreachablePacket).subspan(28);
    auto original = Ipv4View::parse(original_bytes);
    ASSERT_TRUE(original.ok());
    const auto quote = icmp_error_quote(*original);
    ASSERT_EQ(quote.size(), 57u);  // small enough to quote whole

    std::vector<std::uint8_t> packet(20 + 8 + quote.size());
    std::copy(quote.begin(), quote.end(), packet.begin() + 28);
    Ipv4Header ip;
    ip.dscp = 48;
    ip.identification = 0x5c1d;
    ip.protocol = kIpProtoIcmp;
    ip.source = kRouterIp;
    ip.destination = kHostIp;
    ip.payload_len = static_cast<std::uint16_t>(8 + quote.size());
    ASSERT_TRUE(ip.emit(packet).ok());
    const IcmpHeader h = IcmpHeader::destination_unreachable(kIcmpPortUnreachable);
    ASSERT_TRUE(h.emit(std::span<std::uint8_t>(packet).subspan(20)).ok());
    EXPECT_EQ(packet, bytes_of(kPortUnreachablePacket));
}

TEST(Icmp, parses_time_exceeded_with_header_and_64_bits_quoted) {
    const IcmpView icmp = icmp_of(kTimeExceededPacket);
    EXPECT_EQ(icmp.type(), kIcmpTimeExceeded);
    EXPECT_EQ(icmp.code(), kIcmpTtlExceeded);
    EXPECT_TRUE(icmp.checksum_ok());
    auto quoted = icmp.quoted_datagram();
    ASSERT_TRUE(quoted.ok()) << quoted.error().reason;
    EXPECT_FALSE(quoted->is_complete());
    EXPECT_EQ(quoted->total_length(), 60);
    EXPECT_EQ(quoted->payload().size(), 8u);
    EXPECT_EQ(quoted->ttl(), 1);
    EXPECT_EQ(quoted->destination(), Ipv4Address::from_octets(93, 184, 216, 34));
    auto ports = icmp_quoted_ports(*quoted);
    ASSERT_TRUE(ports.ok());
    EXPECT_EQ(*ports, (QuotedPorts{40000, 33434}));
}

TEST(Icmp, builds_time_exceeded_byte_exact) {
    std::vector<std::uint8_t> message(kTimeExceededPacket.begin() + 20, kTimeExceededPacket.end());
    std::fill(message.begin(), message.begin() + 8, std::uint8_t{0});
    ASSERT_TRUE(IcmpHeader::time_exceeded(kIcmpTtlExceeded).emit(message).ok());
    EXPECT_TRUE(std::equal(message.begin(), message.end(), kTimeExceededPacket.begin() + 20));
}

TEST(Icmp, round_trips_header_values) {
    for (std::span<const std::uint8_t> fixture :
         {std::span<const std::uint8_t>(kPingPacket), std::span<const std::uint8_t>(kPortUnreachablePacket),
          std::span<const std::uint8_t>(kTimeExceededPacket)}) {
        const IcmpView icmp = icmp_of(fixture);
        std::vector<std::uint8_t> message(icmp.message().begin(), icmp.message().end());
        std::fill(message.begin(), message.begin() + 8, std::uint8_t{0});
        ASSERT_TRUE(IcmpHeader::from_view(icmp).emit(message).ok());
        EXPECT_TRUE(std::equal(message.begin(), message.end(), icmp.message().begin()));
    }
}

TEST(Icmp, fragmentation_needed_carries_next_hop_mtu) {
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE(IcmpHeader::destination_unreachable(kIcmpFragmentationNeeded, 1400).emit(message).ok());
    const std::array<std::uint8_t, 4> rest = {0x00, 0x00, 0x05, 0x78};  // RFC 1191 §4: unused, MTU
    EXPECT_TRUE(std::equal(rest.begin(), rest.end(), message.begin() + 4));
    auto icmp = IcmpView::parse(message);
    ASSERT_TRUE(icmp.ok());
    EXPECT_EQ(icmp->next_hop_mtu(), 1400);
    EXPECT_TRUE(icmp->checksum_ok());
}

TEST(Icmp, rejects_every_prefix_shorter_than_8_bytes) {
    for (std::size_t n = 0; n < kIcmpHeaderLen; ++n) {
        std::vector<std::uint8_t> prefix(kPingPacket.begin() + 20,
                                         kPingPacket.begin() + 20 + static_cast<std::ptrdiff_t>(n));
        auto icmp = IcmpView::parse(prefix);
        ASSERT_FALSE(icmp.ok());
        EXPECT_EQ(icmp.code(), Errc::truncated);
    }
}

TEST(Icmp, quoted_datagram_fails_cleanly_at_every_quote_length) {
    // Cut the time exceeded message at every length: the quote is usable
    // only with the whole quoted header and 8 bytes of its data.
    const auto full = std::span<const std::uint8_t>(kTimeExceededPacket).subspan(20);
    for (std::size_t n = kIcmpHeaderLen; n <= full.size(); ++n) {
        std::vector<std::uint8_t> message(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
        auto icmp = IcmpView::parse(message);
        ASSERT_TRUE(icmp.ok());
        auto quoted = icmp->quoted_datagram();
        EXPECT_EQ(quoted.ok(), n == full.size()) << n;
    }
}

TEST(Icmp, rejects_quote_that_is_not_ipv4) {
    auto packet = bytes_of(kTimeExceededPacket);
    packet[28] = 0x65;  // quoted version 6
    const IcmpView icmp = icmp_of(packet);
    EXPECT_EQ(icmp.quoted_datagram().code(), Errc::malformed);
}

TEST(Icmp, quoted_ports_refuse_other_protocols_and_later_fragments) {
    std::vector<std::uint8_t> quote(kTimeExceededPacket.begin() + 28, kTimeExceededPacket.end());
    quote[9] = kIpProtoIcmp;
    EXPECT_EQ(icmp_quoted_ports(*Ipv4View::parse_quoted(quote)).code(), Errc::unsupported);
    quote[9] = kIpProtoTcp;
    EXPECT_TRUE(icmp_quoted_ports(*Ipv4View::parse_quoted(quote)).ok());
    quote[7] = 0x01;  // offset 8 bytes
    EXPECT_EQ(icmp_quoted_ports(*Ipv4View::parse_quoted(quote)).code(), Errc::unsupported);
}

TEST(Icmp, detects_bad_checksum) {
    auto packet = bytes_of(kPingPacket);
    packet.back() ^= 0x01;
    EXPECT_FALSE(icmp_of(packet).checksum_ok());
    packet = bytes_of(kTimeExceededPacket);
    packet[20 + 8 + 12] ^= 0x80;  // a bit of the quoted source address
    EXPECT_FALSE(icmp_of(packet).checksum_ok());
}

TEST(Icmp, emit_refuses_message_shorter_than_header) {
    std::array<std::uint8_t, 7> out{};
    EXPECT_EQ(IcmpHeader{}.emit(out).code(), Errc::invalid_argument);
}

TEST(Icmp, error_quote_is_capped_at_576_byte_datagram) {
    std::vector<std::uint8_t> big(1500);
    Ipv4Header h;
    h.protocol = kIpProtoUdp;
    h.payload_len = 1480;
    ASSERT_TRUE(h.emit(big).ok());
    auto ip = Ipv4View::parse(big);
    ASSERT_TRUE(ip.ok());
    EXPECT_EQ(icmp_error_quote(*ip).size(), kIcmpMaxQuoteLen);
    EXPECT_EQ(20 + 8 + kIcmpMaxQuoteLen, 576u);
}

}  // namespace
}  // namespace kbnet::wire
