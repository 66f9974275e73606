#include "kbnet/wire/igmp.hpp"

#include <algorithm>

namespace kbnet::wire {

Result<IgmpView> IgmpView::parse(std::span<const std::uint8_t> message) noexcept {
    if (message.size() < kIgmpV2Len) return Error{Errc::truncated, "IGMP message shorter than 8 bytes"};
    switch (message[0]) {
        case kIgmpMembershipQuery: {
            // RFC 3376 §7.1: the length and Max Resp Code tell the version.
            if (message.size() == kIgmpV2Len) {
                return IgmpView(message, message[1] == 0 ? IgmpKind::v1_query : IgmpKind::v2_query);
            }
            if (message.size() < kIgmpV3QueryMinLen) {
                return Error{Errc::malformed, "IGMP query of 9 to 11 bytes (RFC 3376 §7.1: ignore it)"};
            }
            // RFC 3376 §4.1.8: N source addresses follow the fixed part.
            const std::size_t sources = load_be16(message.data() + 10);
            if (message.size() - kIgmpV3QueryMinLen < sources * 4) {
                return Error{Errc::truncated, "IGMPv3 query shorter than its number of sources"};
            }
            return IgmpView(message, IgmpKind::v3_query);
        }
        case kIgmpV1MembershipReport: return IgmpView(message, IgmpKind::v1_report);
        case kIgmpV2MembershipReport: return IgmpView(message, IgmpKind::v2_report);
        case kIgmpV2LeaveGroup: return IgmpView(message, IgmpKind::v2_leave);
        case kIgmpV3MembershipReport: {
            // RFC 3376 §4.2.3 - §4.2.7: M records, each 8 bytes, N sources
            // and Aux Data Len words.
            const std::size_t records = load_be16(message.data() + 6);
            std::size_t at = kIgmpV3ReportMinLen;
            for (std::size_t i = 0; i < records; ++i) {
                if (message.size() - at < kIgmpGroupRecordMinLen) {
                    return Error{Errc::truncated, "IGMPv3 report ends inside a group record header"};
                }
                const std::size_t len = IgmpGroupRecordList::record_len(message.data() + at);
                if (message.size() - at < len) {
                    return Error{Errc::truncated, "IGMPv3 group record's sources or aux data past the message"};
                }
                at += len;
            }
            return IgmpView(message, IgmpKind::v3_report);
        }
        default: return Error{Errc::unsupported, "IGMP message of unknown type (RFC 2236 §2.1: ignore it)"};
    }
}

std::uint32_t IgmpView::max_response_time_ds() const noexcept {
    switch (kind_) {
        case IgmpKind::v1_query: return 100;  // RFC 2236 §4: a v1 query's 0 means 10 s
        case IgmpKind::v2_query: return bytes_[1];
        case IgmpKind::v3_query: return igmp_v3_decode_code(bytes_[1]);
        default: return 0;
    }
}

Status IgmpV2Message::emit(std::span<std::uint8_t> out) const noexcept {
    if (out.size() < kIgmpV2Len) return Error{Errc::invalid_argument, "IgmpV2Message: buffer shorter than 8 bytes"};
    std::uint8_t* p = out.data();
    p[0] = type;
    p[1] = max_resp_time;
    store_be16(p + 2, 0);
    store_be32(p + 4, group.value);
    store_be16(p + 2, internet_checksum(out.first(kIgmpV2Len)));
    return {};
}

Status IgmpV3Query::emit(std::span<std::uint8_t> out) const noexcept {
    if (querier_robustness > 7) return Error{Errc::invalid_argument, "IgmpV3Query: QRV above 7"};
    if (sources.size() > 0xffff) return Error{Errc::invalid_argument, "IgmpV3Query: more than 65535 sources"};
    const std::size_t n = len();
    if (out.size() < n) return Error{Errc::invalid_argument, "IgmpV3Query: buffer shorter than len()"};
    std::uint8_t* p = out.data();
    p[0] = kIgmpMembershipQuery;
    p[1] = max_resp_code;
    store_be16(p + 2, 0);
    store_be32(p + 4, group.value);
    // RFC 3376 §4.1.5: Resv (4 bits, zero), S, QRV.
    p[8] = static_cast<std::uint8_t>((suppress_router_processing ? 0x08 : 0) | querier_robustness);
    p[9] = qqic;
    store_be16(p + 10, static_cast<std::uint16_t>(sources.size()));
    p += kIgmpV3QueryMinLen;
    for (const Ipv4Address& s : sources) {
        store_be32(p, s.value);
        p += 4;
    }
    store_be16(out.data() + 2, internet_checksum(out.first(n)));
    return {};
}

std::size_t IgmpV3Report::len() const noexcept {
    std::size_t n = kIgmpV3ReportMinLen;
    for (const IgmpV3GroupRecord& r : records) n += r.len();
    return n;
}

Status IgmpV3Report::emit(std::span<std::uint8_t> out) const noexcept {
    if (records.size() > 0xffff) return Error{Errc::invalid_argument, "IgmpV3Report: more than 65535 records"};
    for (const IgmpV3GroupRecord& r : records) {
        if (r.sources.size() > 0xffff) return Error{Errc::invalid_argument, "IgmpV3Report: record with >65535 sources"};
        // RFC 3376 §4.2.6: Aux Data Len counts 32-bit words in one byte.
        if (r.aux_data.size() % 4 != 0 || r.aux_data.size() / 4 > 0xff) {
            return Error{Errc::invalid_argument, "IgmpV3Report: aux data not whole words or above 1020 bytes"};
        }
    }
    const std::size_t n = len();
    if (out.size() < n) return Error{Errc::invalid_argument, "IgmpV3Report: buffer shorter than len()"};
    std::uint8_t* p = out.data();
    // RFC 3376 §4.2: type, reserved, checksum, reserved, M.
    p[0] = kIgmpV3MembershipReport;
    p[1] = 0;
    store_be16(p + 2, 0);
    store_be16(p + 4, 0);
    store_be16(p + 6, static_cast<std::uint16_t>(records.size()));
    p += kIgmpV3ReportMinLen;
    for (const IgmpV3GroupRecord& r : records) {
        p[0] = r.record_type;
        p[1] = static_cast<std::uint8_t>(r.aux_data.size() / 4);
        store_be16(p + 2, static_cast<std::uint16_t>(r.sources.size()));
        store_be32(p + 4, r.multicast_address.value);
        p += kIgmpGroupRecordMinLen;
        for (const Ipv4Address& s : r.sources) {
            store_be32(p, s.value);
            p += 4;
        }
        p = std::copy(r.aux_data.begin(), r.aux_data.end(), p);
    }
    store_be16(out.data() + 2, internet_checksum(out.first(n)));
    return {};
}

Ipv4Header igmp_ipv4_header(Ipv4Address source, Ipv4Address destination, std::uint16_t igmp_len) noexcept {
    Ipv4Header h;
    h.dscp = kIgmpDscp;
    h.dont_fragment = true;
    h.ttl = kIgmpTtl;
    h.protocol = kIpProtoIgmp;
    h.source = source;
    h.destination = destination;
    std::copy(kIpv4RouterAlertOption.begin(), kIpv4RouterAlertOption.end(), h.options.begin());
    h.options_len = static_cast<std::uint8_t>(kIpv4RouterAlertOption.size());
    h.payload_len = igmp_len;
    return h;
}

}  // namespace kbnet::wire
