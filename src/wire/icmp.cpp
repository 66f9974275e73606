#include "kbnet/wire/icmp.hpp"

namespace kbnet::wire {

Status IcmpHeader::emit(std::span<std::uint8_t> message) const noexcept {
    if (message.size() < kIcmpHeaderLen)
        return Error{Errc::invalid_argument, "IcmpHeader: message shorter than 8 bytes"};
    std::uint8_t* p = message.data();
    p[0] = type;
    p[1] = code;
    store_be16(p + 2, 0);  // RFC 792: the field is zero while the checksum is computed
    store_be32(p + 4, rest_of_header);
    store_be16(p + 2, internet_checksum(message));
    return {};
}

Result<QuotedPorts> icmp_quoted_ports(const Ipv4View& quoted) noexcept {
    if (quoted.protocol() != kIpProtoTcp && quoted.protocol() != kIpProtoUdp) {
        return Error{Errc::unsupported, "quoted datagram is neither TCP nor UDP"};
    }
    if (quoted.fragment_offset() != 0) {
        return Error{Errc::unsupported, "quoted datagram is a non-first fragment: no transport header"};
    }
    const auto data = quoted.payload();
    if (data.size() < 4) return Error{Errc::truncated, "quoted datagram holds fewer than 4 bytes of transport header"};
    return QuotedPorts{load_be16(data.data()), load_be16(data.data() + 2)};
}

}  // namespace kbnet::wire
