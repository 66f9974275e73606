#include "kbnet/wire/ipv4.hpp"

#include <algorithm>

namespace kbnet::wire {

namespace detail {

bool tlv_options_valid(std::span<const std::uint8_t> area) noexcept {
    std::size_t i = 0;
    while (i < area.size()) {
        const std::uint8_t kind = area[i];
        if (kind == kIpv4OptionEnd) return true;  // the rest is padding
        if (kind == kIpv4OptionNop) {
            ++i;
            continue;
        }
        // RFC 791 §3.1 case 2 and RFC 9293 §3.1: the length octet counts
        // the kind and length octets, so below 2 it would not advance, and
        // it must not run past the header (RFC 9293 §3.2 MUST-7: be ready
        // for illegal lengths such as zero).
        if (area.size() - i < 2) return false;
        const std::size_t len = area[i + 1];
        if (len < 2 || len > area.size() - i) return false;
        i += len;
    }
    return true;
}

Result<std::size_t> ipv4_check(std::span<const std::uint8_t> packet, bool quoted) noexcept {
    if (packet.size() < kIpv4MinHeaderLen) return Error{Errc::truncated, "IPv4 packet shorter than 20 bytes"};
    if ((packet[0] >> 4) != 4) return Error{Errc::malformed, "IP version field is not 4"};
    // RFC 791 §3.1 "IHL": the minimum value for a correct header is 5.
    const std::size_t header_len = (packet[0] & 0x0fu) * 4u;
    if (header_len < kIpv4MinHeaderLen) return Error{Errc::malformed, "IPv4 IHL below 5"};
    if (header_len > packet.size()) return Error{Errc::truncated, "IPv4 header (IHL) longer than the packet"};
    // RFC 1122 §3.2.1.1 / RFC 791 "Total Length": header and data; it can
    // be no shorter than the header, and the link must have delivered it
    // all (shorter than the link payload is fine: Ethernet pads).
    const std::size_t total = load_be16(packet.data() + 2);
    if (total < header_len) return Error{Errc::malformed, "IPv4 total length smaller than its header"};
    if (total > packet.size() && !quoted) {
        return Error{Errc::truncated, "IPv4 total length beyond the received bytes"};
    }
    if (!tlv_options_valid(packet.subspan(kIpv4MinHeaderLen, header_len - kIpv4MinHeaderLen))) {
        return Error{Errc::malformed, "IPv4 option length below 2 or past the end of the header"};
    }
    return std::min(total, packet.size());
}

}  // namespace detail

Ipv4Header Ipv4Header::from_view(const Ipv4View& view) noexcept {
    Ipv4Header h;
    h.dscp = view.dscp();
    h.ecn = view.ecn();
    h.identification = view.identification();
    h.dont_fragment = view.dont_fragment();
    h.more_fragments = view.more_fragments();
    h.fragment_offset = static_cast<std::uint16_t>(view.fragment_offset());
    h.ttl = view.ttl();
    h.protocol = view.protocol();
    h.source = view.source();
    h.destination = view.destination();
    const auto opts = view.options();
    std::copy(opts.begin(), opts.end(), h.options.begin());
    h.options_len = static_cast<std::uint8_t>(opts.size());
    h.payload_len = static_cast<std::uint16_t>(view.total_length() - view.header_len());
    return h;
}

Status Ipv4Header::add_option(std::span<const std::uint8_t> option) noexcept {
    if (option.size() > kIpv4MaxOptionsLen - options_len) {
        return Error{Errc::invalid_argument, "Ipv4Header: options longer than 40 bytes"};
    }
    std::copy(option.begin(), option.end(), options.begin() + options_len);
    options_len = static_cast<std::uint8_t>(options_len + option.size());
    return {};
}

Status Ipv4Header::emit(std::span<std::uint8_t> out) const noexcept {
    if (options_len > kIpv4MaxOptionsLen)
        return Error{Errc::invalid_argument, "Ipv4Header: options longer than 40 bytes"};
    const std::size_t hlen = header_len();
    if (out.size() < hlen) return Error{Errc::invalid_argument, "Ipv4Header: buffer shorter than header_len()"};
    if (total_length() > kIpv4MaxTotalLen) {
        return Error{Errc::invalid_argument, "Ipv4Header: header plus payload longer than 65535 bytes"};
    }
    if (dscp > 63 || ecn > 3) return Error{Errc::invalid_argument, "Ipv4Header: dscp above 63 or ecn above 3"};
    // RFC 791 §3.1 "Fragment Offset" counts 8-octet units.
    if (fragment_offset % 8 != 0) {
        return Error{Errc::invalid_argument, "Ipv4Header: fragment offset not a multiple of 8 bytes"};
    }
    std::uint8_t* p = out.data();
    p[0] = static_cast<std::uint8_t>(0x40 | hlen / 4);
    p[1] = static_cast<std::uint8_t>(dscp << 2 | ecn);
    store_be16(p + 2, static_cast<std::uint16_t>(total_length()));
    store_be16(p + 4, identification);
    store_be16(p + 6, static_cast<std::uint16_t>((dont_fragment ? 0x4000 : 0) | (more_fragments ? 0x2000 : 0) |
                                                 fragment_offset / 8));
    p[8] = ttl;
    p[9] = protocol;
    store_be16(p + 10, 0);
    store_be32(p + 12, source.value);
    store_be32(p + 16, destination.value);
    // RFC 791 §3.1 "Padding": zeros up to a 32-bit boundary, which also
    // reads as End of Option List.
    std::copy(options.begin(), options.begin() + options_len, p + kIpv4MinHeaderLen);
    std::fill(p + kIpv4MinHeaderLen + options_len, p + hlen, std::uint8_t{0});
    store_be16(p + 10, internet_checksum(out.first(hlen)));
    return {};
}

bool operator==(const Ipv4Header& a, const Ipv4Header& b) noexcept {
    return a.dscp == b.dscp && a.ecn == b.ecn && a.identification == b.identification &&
           a.dont_fragment == b.dont_fragment && a.more_fragments == b.more_fragments &&
           a.fragment_offset == b.fragment_offset && a.ttl == b.ttl && a.protocol == b.protocol &&
           a.source == b.source && a.destination == b.destination && a.options_len == b.options_len &&
           a.payload_len == b.payload_len &&
           std::equal(a.options.begin(), a.options.begin() + std::min<std::size_t>(a.options_len, kIpv4MaxOptionsLen),
                      b.options.begin());
}

}  // namespace kbnet::wire
