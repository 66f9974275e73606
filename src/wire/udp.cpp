#include "kbnet/wire/udp.hpp"

namespace kbnet::wire {

namespace detail {

Result<std::size_t> udp_check(std::span<const std::uint8_t> datagram) noexcept {
    if (datagram.size() < kUdpHeaderLen) return Error{Errc::truncated, "UDP datagram shorter than 8 bytes"};
    // RFC 768 "Length": the length in octets of the header and the data,
    // so the minimum value is eight.
    const std::size_t len = load_be16(datagram.data() + 4);
    if (len < kUdpHeaderLen) return Error{Errc::malformed, "UDP length below 8"};
    if (len > datagram.size()) return Error{Errc::truncated, "UDP length beyond the IPv4 payload"};
    return len;
}

std::uint16_t udp_checksum(std::span<const std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst) noexcept {
    const std::uint32_t pseudo =
        pseudo_header_sum(src.value, dst.value, kIpProtoUdp, static_cast<std::uint16_t>(datagram.size()));
    const std::uint16_t c = sum_to_checksum(checksum_sum(datagram, pseudo));
    return c == 0 ? std::uint16_t{0xffff} : c;
}

}  // namespace detail

namespace {

Status udp_emit(const UdpHeader& h, std::span<std::uint8_t> datagram) noexcept {
    if (datagram.size() < kUdpHeaderLen)
        return Error{Errc::invalid_argument, "UdpHeader: datagram shorter than 8 bytes"};
    if (datagram.size() > 0xffff) return Error{Errc::invalid_argument, "UdpHeader: datagram longer than 65535 bytes"};
    std::uint8_t* p = datagram.data();
    store_be16(p, h.source_port);
    store_be16(p + 2, h.destination_port);
    store_be16(p + 4, static_cast<std::uint16_t>(datagram.size()));
    store_be16(p + 6, 0);
    return {};
}

}  // namespace

Status UdpHeader::emit(std::span<std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst) const noexcept {
    if (auto st = udp_emit(*this, datagram); !st) return st;
    store_be16(datagram.data() + 6, detail::udp_checksum(datagram, src, dst));
    return {};
}

Status UdpHeader::emit_without_checksum(std::span<std::uint8_t> datagram) const noexcept {
    return udp_emit(*this, datagram);
}

}  // namespace kbnet::wire
