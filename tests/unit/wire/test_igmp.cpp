// IGMP v1/v2 (RFC 2236) and v3 (RFC 3376): every message kind, parsed and
// built, and the v3 code encoding.
#include "kbnet/wire/igmp.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark, checksums computed independently in
// Python). Linux sends IGMP with TOS 0xc0, DF, TTL 1, id 0 and Router
// Alert; the queries come from a router.
// clang-format off
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

constexpr std::array<std::uint8_t, 32> kIgmpV2LeavePacket = {
    // IPv4: IHL 6, TOS 0xc0, total length 32, id 0, DF, TTL 1, protocol 2 (IGMP), checksum
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x42, 0x63,
    // source 192.168.1.10, destination 224.0.0.2 (all routers)
    0xc0, 0xa8, 0x01, 0x0a, 0xe0, 0x00, 0x00, 0x02,
    // option: Router Alert
    0x94, 0x04, 0x00, 0x00,
    // IGMPv2: type 0x17 (leave group), max resp 0, checksum, group 239.1.2.3
    0x17, 0x00, 0xf7, 0xfa, 0xef, 0x01, 0x02, 0x03,
};

constexpr std::array<std::uint8_t, 32> kIgmpV2QueryPacket = {
    // IPv4: IHL 6, TOS 0xc0, total length 32, id 0, DF, TTL 1, protocol 2 (IGMP), checksum
    0x46, 0xc0, 0x00, 0x20, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x42, 0x6d,
    // source 192.168.1.1, destination 224.0.0.1 (all systems)
    0xc0, 0xa8, 0x01, 0x01, 0xe0, 0x00, 0x00, 0x01,
    // option: Router Alert
    0x94, 0x04, 0x00, 0x00,
    // IGMPv2: type 0x11 (query), max resp 100 (10 s), checksum, group 0 (general query)
    0x11, 0x64, 0xee, 0x9b, 0x00, 0x00, 0x00, 0x00,
};

constexpr std::array<std::uint8_t, 40> kIgmpV3ReportPacket = {
    // IPv4: IHL 6, TOS 0xc0, total length 40, id 0, DF, TTL 1, protocol 2 (IGMP), checksum
    0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x42, 0x47,
    // source 192.168.1.10, destination 224.0.0.22 (IGMPv3 routers)
    0xc0, 0xa8, 0x01, 0x0a, 0xe0, 0x00, 0x00, 0x16,
    // option: Router Alert
    0x94, 0x04, 0x00, 0x00,
    // IGMPv3 report: type 0x22, reserved, checksum, reserved, 1 group record
    0x22, 0x00, 0xe8, 0xf9, 0x00, 0x00, 0x00, 0x01,
    // record: type 4 (CHANGE_TO_EXCLUDE_MODE), aux 0, 0 sources, group 239.1.2.3
    0x04, 0x00, 0x00, 0x00, 0xef, 0x01, 0x02, 0x03,
};

constexpr std::array<std::uint8_t, 44> kIgmpV3QueryPacket = {
    // IPv4: IHL 6, TOS 0xc0, total length 44, id 0, DF, TTL 1, protocol 2 (IGMP), checksum
    0x46, 0xc0, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x31, 0x5e,
    // source 192.168.1.1, destination 239.1.2.3
    0xc0, 0xa8, 0x01, 0x01, 0xef, 0x01, 0x02, 0x03,
    // option: Router Alert
    0x94, 0x04, 0x00, 0x00,
    // IGMPv3 query: type 0x11, max resp code 100 (10 s), checksum, group 239.1.2.3
    0x11, 0x64, 0xe5, 0x12, 0xef, 0x01, 0x02, 0x03,
    // S 0, QRV 2, QQIC 125, 2 sources
    0x02, 0x7d, 0x00, 0x02,
    // sources 10.1.1.1, 10.1.1.2
    0x0a, 0x01, 0x01, 0x01, 0x0a, 0x01, 0x01, 0x02,
};

constexpr std::array<std::uint8_t, 40> kIgmpV3ReportRecords = {
    // IGMPv3 report: type 0x22, reserved, checksum, reserved, 2 group records
    0x22, 0x00, 0x33, 0x43, 0x00, 0x00, 0x00, 0x02,
    // record 1: type 1 (MODE_IS_INCLUDE), aux 0, 2 sources, group 239.1.2.3
    0x01, 0x00, 0x00, 0x02, 0xef, 0x01, 0x02, 0x03,
    // sources 10.1.1.1, 10.1.1.2
    0x0a, 0x01, 0x01, 0x01, 0x0a, 0x01, 0x01, 0x02,
    // record 2: type 5 (ALLOW_NEW_SOURCES), aux 1 word, 1 source, group 239.4.5.6
    0x05, 0x01, 0x00, 0x01, 0xef, 0x04, 0x05, 0x06,
    // source 10.2.2.2
    0x0a, 0x02, 0x02, 0x02,
    // auxiliary data 0xdeadbeef
    0xde, 0xad, 0xbe, 0xef,
};
// clang-format on

const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kRouterIp = Ipv4Address::from_octets(192, 168, 1, 1);
const Ipv4Address kGroup = Ipv4Address::from_octets(239, 1, 2, 3);

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

// The IGMP message of a fixture packet, parsed through IPv4.
IgmpView igmp_of(std::span<const std::uint8_t> packet) {
    auto ip = Ipv4View::parse(packet);
    EXPECT_TRUE(ip.ok());
    EXPECT_EQ(ip->protocol(), kIpProtoIgmp);
    EXPECT_TRUE(ip->has_router_alert());
    EXPECT_EQ(ip->ttl(), kIgmpTtl);
    auto igmp = IgmpView::parse(ip->payload());
    EXPECT_TRUE(igmp.ok()) << igmp.error().reason;
    return *igmp;
}

// Builds IPv4 header + message the way the stack will, into a packet.
std::vector<std::uint8_t> build_packet(Ipv4Address src, Ipv4Address dst, std::span<const std::uint8_t> message) {
    const Ipv4Header ip = igmp_ipv4_header(src, dst, static_cast<std::uint16_t>(message.size()));
    std::vector<std::uint8_t> packet(ip.total_length());
    EXPECT_TRUE(ip.emit(packet).ok());
    std::copy(message.begin(), message.end(), packet.begin() + static_cast<std::ptrdiff_t>(ip.header_len()));
    return packet;
}

TEST(Igmp, parses_v2_report) {
    const IgmpView igmp = igmp_of(kIgmpV2ReportPacket);
    EXPECT_EQ(igmp.kind(), IgmpKind::v2_report);
    EXPECT_EQ(igmp.type(), kIgmpV2MembershipReport);
    EXPECT_EQ(igmp.max_resp_code(), 0);
    EXPECT_EQ(igmp.max_response_time_ds(), 0u);
    EXPECT_EQ(igmp.group_address(), kGroup);
    EXPECT_TRUE(igmp.sources().empty());
    EXPECT_TRUE(igmp.group_records().empty());
    EXPECT_TRUE(igmp.checksum_ok());
}

TEST(Igmp, builds_linux_v2_report_packet_byte_exact) {
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE(IgmpV2Message::report(kGroup).emit(message).ok());
    EXPECT_EQ(build_packet(kHostIp, kGroup, message), bytes_of(kIgmpV2ReportPacket));
}

TEST(Igmp, parses_and_builds_v2_leave_to_all_routers) {
    const IgmpView igmp = igmp_of(kIgmpV2LeavePacket);
    EXPECT_EQ(igmp.kind(), IgmpKind::v2_leave);
    EXPECT_EQ(igmp.group_address(), kGroup);
    EXPECT_TRUE(igmp.checksum_ok());
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE(IgmpV2Message::leave(kGroup).emit(message).ok());
    EXPECT_EQ(build_packet(kHostIp, kIpv4AllRouters, message), bytes_of(kIgmpV2LeavePacket));
}

TEST(Igmp, parses_and_builds_v2_general_query) {
    const IgmpView igmp = igmp_of(kIgmpV2QueryPacket);
    EXPECT_EQ(igmp.kind(), IgmpKind::v2_query);
    EXPECT_EQ(igmp.max_response_time_ds(), 100u);
    EXPECT_TRUE(igmp.group_address().is_unspecified());
    EXPECT_TRUE(igmp.checksum_ok());
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE(IgmpV2Message::query(100).emit(message).ok());
    EXPECT_EQ(build_packet(kRouterIp, kIpv4AllSystems, message), bytes_of(kIgmpV2QueryPacket));
}

TEST(Igmp, treats_8_byte_query_with_zero_code_as_v1) {
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE(IgmpV2Message::query(0).emit(message).ok());
    auto igmp = IgmpView::parse(message);
    ASSERT_TRUE(igmp.ok());
    EXPECT_EQ(igmp->kind(), IgmpKind::v1_query);
    EXPECT_EQ(igmp->max_response_time_ds(), 100u);  // RFC 2236 §4: v1 queries mean 10 s
}

TEST(Igmp, parses_v1_report) {
    std::array<std::uint8_t, 8> message{};
    ASSERT_TRUE((IgmpV2Message{kIgmpV1MembershipReport, 0, kGroup}).emit(message).ok());
    auto igmp = IgmpView::parse(message);
    ASSERT_TRUE(igmp.ok());
    EXPECT_EQ(igmp->kind(), IgmpKind::v1_report);
    EXPECT_EQ(igmp->group_address(), kGroup);
    EXPECT_TRUE(igmp->checksum_ok());
}

TEST(Igmp, parses_linux_v3_join_report) {
    const IgmpView igmp = igmp_of(kIgmpV3ReportPacket);
    EXPECT_EQ(igmp.kind(), IgmpKind::v3_report);
    EXPECT_TRUE(igmp.group_address().is_unspecified());
    EXPECT_TRUE(igmp.checksum_ok());
    const auto records = igmp.group_records();
    ASSERT_EQ(records.size(), 1u);
    std::size_t seen = 0;
    for (const IgmpGroupRecordView r : records) {
        EXPECT_EQ(r.record_type(), kIgmpChangeToExclude);
        EXPECT_EQ(r.multicast_address(), kGroup);
        EXPECT_EQ(r.source_count(), 0);
        EXPECT_TRUE(r.sources().empty());
        EXPECT_TRUE(r.aux_data().empty());
        ++seen;
    }
    EXPECT_EQ(seen, 1u);
}

TEST(Igmp, builds_linux_v3_join_report_packet_byte_exact) {
    const std::array<IgmpV3GroupRecord, 1> records = {IgmpV3GroupRecord{kIgmpChangeToExclude, kGroup, {}, {}}};
    const IgmpV3Report report{records};
    ASSERT_EQ(report.len(), 16u);
    std::array<std::uint8_t, 16> message{};
    ASSERT_TRUE(report.emit(message).ok());
    EXPECT_EQ(build_packet(kHostIp, kIpv4IgmpV3Routers, message), bytes_of(kIgmpV3ReportPacket));
}

TEST(Igmp, parses_v3_report_records_with_sources_and_aux_data) {
    auto igmp = IgmpView::parse(kIgmpV3ReportRecords);
    ASSERT_TRUE(igmp.ok()) << igmp.error().reason;
    EXPECT_TRUE(igmp->checksum_ok());
    const auto records = igmp->group_records();
    ASSERT_EQ(records.size(), 2u);
    auto it = records.begin();
    const IgmpGroupRecordView first = *it;
    EXPECT_EQ(first.record_type(), kIgmpModeIsInclude);
    EXPECT_EQ(first.multicast_address(), kGroup);
    ASSERT_EQ(first.sources().size(), 2u);
    EXPECT_EQ(first.sources()[0], Ipv4Address::from_octets(10, 1, 1, 1));
    EXPECT_EQ(first.sources()[1], Ipv4Address::from_octets(10, 1, 1, 2));
    EXPECT_EQ(first.sources()[2], Ipv4Address{});  // past the end: no read
    EXPECT_TRUE(first.aux_data().empty());
    ++it;
    const IgmpGroupRecordView second = *it;
    EXPECT_EQ(second.record_type(), kIgmpAllowNewSources);
    EXPECT_EQ(second.multicast_address(), Ipv4Address::from_octets(239, 4, 5, 6));
    ASSERT_EQ(second.sources().size(), 1u);
    EXPECT_EQ(*second.sources().begin(), Ipv4Address::from_octets(10, 2, 2, 2));
    ASSERT_EQ(second.aux_data_len(), 4u);
    EXPECT_EQ(second.aux_data()[0], 0xde);
    EXPECT_EQ(second.aux_data()[3], 0xef);
    ++it;
    EXPECT_TRUE(it == records.end());
}

TEST(Igmp, builds_v3_report_with_records_byte_exact) {
    const std::array<Ipv4Address, 2> include_sources = {Ipv4Address::from_octets(10, 1, 1, 1),
                                                        Ipv4Address::from_octets(10, 1, 1, 2)};
    const std::array<Ipv4Address, 1> new_sources = {Ipv4Address::from_octets(10, 2, 2, 2)};
    const std::array<std::uint8_t, 4> aux = {0xde, 0xad, 0xbe, 0xef};
    const std::array<IgmpV3GroupRecord, 2> records = {
        IgmpV3GroupRecord{kIgmpModeIsInclude, kGroup, include_sources, {}},
        IgmpV3GroupRecord{kIgmpAllowNewSources, Ipv4Address::from_octets(239, 4, 5, 6), new_sources, aux}};
    const IgmpV3Report report{records};
    ASSERT_EQ(report.len(), kIgmpV3ReportRecords.size());
    std::array<std::uint8_t, kIgmpV3ReportRecords.size()> message{};
    ASSERT_TRUE(report.emit(message).ok());
    EXPECT_EQ(message, kIgmpV3ReportRecords);
}

TEST(Igmp, parses_v3_group_and_source_specific_query) {
    const IgmpView igmp = igmp_of(kIgmpV3QueryPacket);
    EXPECT_EQ(igmp.kind(), IgmpKind::v3_query);
    EXPECT_EQ(igmp.group_address(), kGroup);
    EXPECT_EQ(igmp.max_resp_code(), 100);
    EXPECT_EQ(igmp.max_response_time_ds(), 100u);
    EXPECT_FALSE(igmp.suppress_router_processing());
    EXPECT_EQ(igmp.querier_robustness(), 2);
    EXPECT_EQ(igmp.qqic(), 125);
    EXPECT_EQ(igmp.querier_query_interval_s(), 125u);
    const auto sources = igmp.sources();
    ASSERT_EQ(sources.size(), 2u);
    std::vector<Ipv4Address> seen(sources.begin(), sources.end());
    EXPECT_EQ(seen,
              (std::vector<Ipv4Address>{Ipv4Address::from_octets(10, 1, 1, 1), Ipv4Address::from_octets(10, 1, 1, 2)}));
    EXPECT_TRUE(igmp.group_records().empty());
    EXPECT_TRUE(igmp.checksum_ok());
}

TEST(Igmp, builds_v3_query_packet_byte_exact) {
    const std::array<Ipv4Address, 2> sources = {Ipv4Address::from_octets(10, 1, 1, 1),
                                                Ipv4Address::from_octets(10, 1, 1, 2)};
    IgmpV3Query q;
    q.max_resp_code = 100;
    q.group = kGroup;
    q.querier_robustness = 2;
    q.qqic = 125;
    q.sources = sources;
    ASSERT_EQ(q.len(), 20u);
    std::array<std::uint8_t, 20> message{};
    ASSERT_TRUE(q.emit(message).ok());
    EXPECT_EQ(build_packet(kRouterIp, kGroup, message), bytes_of(kIgmpV3QueryPacket));
}

TEST(Igmp, v3_query_s_flag_and_float_codes) {
    IgmpV3Query q;
    q.suppress_router_processing = true;
    q.querier_robustness = 7;
    q.max_resp_code = igmp_v3_encode_code(1000);  // 100 s
    q.qqic = igmp_v3_encode_code(300);
    std::array<std::uint8_t, 12> message{};
    ASSERT_TRUE(q.emit(message).ok());
    auto igmp = IgmpView::parse(message);
    ASSERT_TRUE(igmp.ok());
    EXPECT_TRUE(igmp->suppress_router_processing());
    EXPECT_EQ(igmp->querier_robustness(), 7);
    EXPECT_EQ(igmp->max_response_time_ds(), 992u);  // (0xf | 0x10) << 5: largest code not above 1000
    EXPECT_EQ(igmp->querier_query_interval_s(), 288u);
    EXPECT_EQ(igmp->sources().size(), 0u);
}

TEST(Igmp, v3_code_encoding_matches_rfc_3376_formula) {
    EXPECT_EQ(igmp_v3_decode_code(0), 0u);
    EXPECT_EQ(igmp_v3_decode_code(127), 127u);
    EXPECT_EQ(igmp_v3_decode_code(0x80), 128u);
    EXPECT_EQ(igmp_v3_decode_code(0xff), 31744u);  // (0xf | 0x10) << (7 + 3)
    for (unsigned code = 0; code < 256; ++code) {
        EXPECT_EQ(igmp_v3_encode_code(igmp_v3_decode_code(static_cast<std::uint8_t>(code))), code);
    }
    // Encoding picks the largest code whose value does not exceed the input.
    for (std::uint32_t value = 0; value < 40000; ++value) {
        const std::uint8_t code = igmp_v3_encode_code(value);
        ASSERT_LE(igmp_v3_decode_code(code), value) << value;
        if (code < 0xff) {
            ASSERT_GT(igmp_v3_decode_code(static_cast<std::uint8_t>(code + 1)), value) << value;
        }
    }
}

TEST(Igmp, rejects_query_of_9_to_11_bytes) {
    for (std::size_t n = 9; n < 12; ++n) {
        std::vector<std::uint8_t> message(n);
        message[0] = kIgmpMembershipQuery;
        auto igmp = IgmpView::parse(message);
        ASSERT_FALSE(igmp.ok());
        EXPECT_EQ(igmp.code(), Errc::malformed) << n;
    }
}

TEST(Igmp, rejects_every_truncated_v3_query) {
    const auto message = std::span<const std::uint8_t>(kIgmpV3QueryPacket).subspan(24);
    for (std::size_t n = 0; n < message.size(); ++n) {
        std::vector<std::uint8_t> prefix(message.begin(), message.begin() + static_cast<std::ptrdiff_t>(n));
        auto igmp = IgmpView::parse(prefix);
        if (n == 8) {
            // 8 bytes of a query are a complete v2 query.
            ASSERT_TRUE(igmp.ok());
            EXPECT_EQ(igmp->kind(), IgmpKind::v2_query);
            continue;
        }
        ASSERT_FALSE(igmp.ok()) << n;
        EXPECT_NE(igmp.code(), Errc::unsupported) << n;
    }
}

TEST(Igmp, rejects_every_truncated_v3_report) {
    for (std::size_t n = 0; n < kIgmpV3ReportRecords.size(); ++n) {
        std::vector<std::uint8_t> prefix(kIgmpV3ReportRecords.begin(),
                                         kIgmpV3ReportRecords.begin() + static_cast<std::ptrdiff_t>(n));
        auto igmp = IgmpView::parse(prefix);
        ASSERT_FALSE(igmp.ok()) << n;
        EXPECT_EQ(igmp.code(), Errc::truncated) << n;
    }
}

TEST(Igmp, rejects_v3_report_whose_record_count_overstates) {
    auto message = bytes_of(kIgmpV3ReportRecords);
    message[7] = 3;  // three records announced, two present
    auto igmp = IgmpView::parse(message);
    ASSERT_FALSE(igmp.ok());
    EXPECT_EQ(igmp.code(), Errc::truncated);
}

TEST(Igmp, rejects_unknown_type_as_unsupported) {
    std::array<std::uint8_t, 8> message = {0x13, 0, 0, 0, 0, 0, 0, 0};  // DVMRP (RFC 1075)
    auto igmp = IgmpView::parse(message);
    ASSERT_FALSE(igmp.ok());
    EXPECT_EQ(igmp.code(), Errc::unsupported);
}

TEST(Igmp, checksum_covers_bytes_beyond_the_message) {
    // RFC 2236 §2.5: ignore bytes past the first 8, but sum them.
    std::vector<std::uint8_t> message(kIgmpV2ReportPacket.begin() + 24, kIgmpV2ReportPacket.end());
    message.resize(12, 0);
    message[11] = 0x01;
    auto igmp = IgmpView::parse(message);
    ASSERT_TRUE(igmp.ok());
    EXPECT_EQ(igmp->kind(), IgmpKind::v2_report);
    EXPECT_EQ(igmp->message().size(), 12u);
    EXPECT_FALSE(igmp->checksum_ok());
    message[11] = 0x00;  // zero padding does not change the sum
    EXPECT_TRUE(IgmpView::parse(message)->checksum_ok());
}

TEST(Igmp, detects_bad_checksum) {
    auto message = bytes_of(kIgmpV3ReportRecords);
    message[20] ^= 0x04;  // a source address bit
    auto igmp = IgmpView::parse(message);
    ASSERT_TRUE(igmp.ok());
    EXPECT_FALSE(igmp->checksum_ok());
}

TEST(Igmp, emit_refuses_short_buffers_and_bad_fields) {
    std::array<std::uint8_t, 7> small{};
    EXPECT_EQ(IgmpV2Message{}.emit(small).code(), Errc::invalid_argument);
    std::array<std::uint8_t, 11> eleven{};
    EXPECT_EQ(IgmpV3Query{}.emit(eleven).code(), Errc::invalid_argument);
    std::array<std::uint8_t, 12> twelve{};
    IgmpV3Query q;
    q.querier_robustness = 8;
    EXPECT_EQ(q.emit(twelve).code(), Errc::invalid_argument);
    const std::array<std::uint8_t, 3> aux = {1, 2, 3};
    const std::array<IgmpV3GroupRecord, 1> records = {IgmpV3GroupRecord{kIgmpModeIsExclude, kGroup, {}, aux}};
    std::array<std::uint8_t, 64> out{};
    EXPECT_EQ(IgmpV3Report{records}.emit(out).code(), Errc::invalid_argument);
    const std::array<IgmpV3GroupRecord, 1> ok_records = {IgmpV3GroupRecord{kIgmpModeIsExclude, kGroup, {}, {}}};
    EXPECT_EQ(IgmpV3Report{ok_records}.emit(std::span<std::uint8_t>(out).first(15)).code(), Errc::invalid_argument);
}

TEST(Igmp, ip_header_helper_sets_ttl_router_alert_and_cs6) {
    const Ipv4Header h = igmp_ipv4_header(kHostIp, kGroup, 8);
    EXPECT_EQ(h.ttl, 1);
    EXPECT_EQ(h.protocol, kIpProtoIgmp);
    EXPECT_EQ(h.dscp, 48);
    EXPECT_TRUE(h.dont_fragment);
    EXPECT_EQ(h.header_len(), 24u);
    EXPECT_EQ(h.total_length(), 32u);
    EXPECT_TRUE(std::equal(kIpv4RouterAlertOption.begin(), kIpv4RouterAlertOption.end(), h.options.begin()));
}

}  // namespace
}  // namespace kbnet::wire
