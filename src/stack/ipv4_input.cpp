// IPv4 input (RFC 791 §3.1/§3.2, RFC 1122 §3.2.1 and §3.3): header
// validation with one counter per reason, address acceptance, reassembly,
// and delivery to ICMP, UDP or a registered protocol handler.
#include <array>

#include "kbnet/core/endian.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {

bool Stack::is_broadcast(wire::Ipv4Address a) const noexcept {
    if (a.is_broadcast()) return true;
    // The subnet's directed broadcast (RFC 919, RFC 1122 §3.2.1.3 (c)); a
    // /31 (RFC 3021) or /32 has none.
    if (config_.prefix_len >= 31) return false;
    return a.value == ((config_.address.value & netmask_) | ~netmask_);
}

std::optional<DestinationKind> Stack::classify_destination(wire::Ipv4Address dst) const noexcept {
    if (dst == config_.address) return DestinationKind::unicast;
    if (is_broadcast(dst)) return DestinationKind::broadcast;
    if (dst.is_multicast() && groups_.contains(dst)) return DestinationKind::multicast;
    return std::nullopt;
}

void Stack::ipv4_input(PacketHandle frame, wire::EthernetViewMut ethernet) noexcept {
    StackCounters& c = *counters_;
    ++c.ip.in_receives;
    const std::span<std::uint8_t> bytes = ethernet.payload();

    // Classify the header error first, so each reason has its counter;
    // Ipv4View::parse then re-checks the same rules (and the options).
    // RFC 1122 §3.2.1.1: silently discard a datagram whose version is not 4;
    // RFC 791 §3.1: IHL >= 5 and total length >= IHL*4; the datagram must
    // be inside the frame (what follows it is Ethernet padding).
    if (bytes.size() < wire::kIpv4MinHeaderLen) {
        ++c.ip.in_hdr_errors_total_length;
        free_frame(frame);
        return;
    }
    const std::size_t ihl = (bytes[0] & 0x0fu) * 4u;
    const std::size_t total = load_be16(bytes.data() + 2);
    if ((bytes[0] >> 4) != 4) {
        ++c.ip.in_hdr_errors_version;
        free_frame(frame);
        return;
    }
    if (ihl < wire::kIpv4MinHeaderLen || ihl > bytes.size()) {
        ++c.ip.in_hdr_errors_ihl;
        free_frame(frame);
        return;
    }
    if (total < ihl || total > bytes.size()) {
        ++c.ip.in_hdr_errors_total_length;
        free_frame(frame);
        return;
    }
    auto ip = wire::Ipv4ViewMut::parse(bytes);
    if (!ip) {
        // Only malformed options are left: an option's length running past
        // the header, so the header length itself is wrong.
        ++c.ip.in_hdr_errors_ihl;
        free_frame(frame);
        return;
    }
    // RFC 1122 §3.2.1.2: a host MUST verify the header checksum and
    // silently discard a datagram that fails. Skipped when the port says
    // the device verified it.
    if (!port_.capabilities().rx_checksum_verified && !ip->header_checksum_ok()) {
        ++c.ip.in_hdr_errors_checksum;
        free_frame(frame);
        return;
    }
    // No TTL check: RFC 1122 §3.2.1.7 "A host MUST NOT discard a datagram
    // just because it was received with TTL less than 2"; TTL is for
    // forwarding, and a host does not forward. (ip.InHdrErrorsTtl stays
    // for a forwarding path.)

    // RFC 1122 §3.2.1.3: a host MUST silently discard a datagram whose
    // source is not a single host: broadcast, multicast (class D/E), or
    // loopback ("MUST NOT appear outside a host", (g)). 0.0.0.0 is allowed:
    // a host that does not know its address yet (BOOTP, DHCP) sends from it.
    const wire::Ipv4Address src = ip->source();
    if (src.is_multicast() || (src.value >> 28) == 0xf || is_broadcast(src) || src.is_loopback() ||
        src == config_.address) {
        ++c.ip.in_addr_errors;
        free_frame(frame);
        return;
    }
    const auto kind = classify_destination(ip->destination());
    if (!kind) {
        ++c.ip.in_addr_errors;
        free_frame(frame);
        return;
    }
    // RFC 1122 §3.3.6: a host SHOULD discard a datagram received as a
    // link-layer broadcast (or multicast) whose IP destination is neither
    // a broadcast nor a multicast address.
    if (*kind == DestinationKind::unicast && ethernet.destination().is_multicast()) {
        ++c.ip.in_addr_errors;
        free_frame(frame);
        return;
    }

    // Trim the Ethernet padding: the frame ends where the datagram does.
    frame.length = static_cast<std::uint16_t>(ethernet.header_len() + total);

    if (ip->is_fragment()) {
        // RFC 791 §3.2 / RFC 1122 §3.3.2: reassemble. The reassembler copies
        // the fragment, so the frame goes back at once; a completed datagram
        // is delivered from its reassembly buffer (released with it).
        auto outcome = reassembler_.add(ip->as_const(), now_ns_);
        free_frame(frame);
        if (!outcome || outcome->state != Ipv4ReassemblyState::complete) return;
        auto whole = wire::Ipv4ViewMut::parse(outcome->datagram);
        DatagramStorage storage{DatagramStorage::Kind::reassembly, {}, outcome->buffer};
        if (!whole) {
            ++c.ip.in_discards;
            release_storage(storage);
            return;
        }
        ipv4_deliver(*whole, storage, *kind);
        return;
    }
    ipv4_deliver(*ip, DatagramStorage{DatagramStorage::Kind::frame, frame, 0}, *kind);
}

void Stack::ipv4_deliver(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept {
    StackCounters& c = *counters_;
    const std::uint8_t protocol = datagram.protocol();
    switch (protocol) {
        case wire::kIpProtoIcmp:
            ++c.ip.in_delivers;
            icmp_input(datagram, storage, kind);
            return;
        case wire::kIpProtoUdp:
            ++c.ip.in_delivers;
            udp_input(datagram, storage, kind);
            return;
        case wire::kIpProtoIgmp:
            ++c.ip.in_delivers;
            igmp_input(datagram.as_const());
            release_storage(storage);
            return;
        default: break;
    }
    if (Ipv4ProtocolHandler* handler = handlers_[protocol]) {
        ++c.ip.in_delivers;
        handler->on_ipv4(datagram.as_const(), kind, now_ns_);
        release_storage(storage);
        return;
    }
    // RFC 1122 §3.2.2.1: a host SHOULD send Protocol Unreachable when the
    // designated transport protocol is not supported.
    ++c.ip.in_unknown_protos;
    icmp_send_error(datagram.as_const(), wire::icmp_error_quote(datagram.as_const()), kind,
                    wire::kIcmpDestinationUnreachable, wire::kIcmpProtocolUnreachable);
    release_storage(storage);
}

void Stack::expire_reassembly(std::uint64_t now_ns) noexcept {
    std::array<Ipv4ExpiredDatagram, 8> expired;
    for (;;) {
        const std::size_t n = reassembler_.expire(now_ns, expired);
        for (std::size_t i = 0; i < n; ++i) {
            // RFC 792 / RFC 1122 §3.3.2: Time Exceeded, code 1, when fragment
            // zero had arrived (the reassembler only reports those).
            const auto quote = expired[i].quote();
            auto original = wire::Ipv4View::parse_quoted(quote);
            if (!original) continue;
            const auto kind = classify_destination(original->destination());
            if (!kind) continue;
            icmp_send_error(*original, quote, *kind, wire::kIcmpTimeExceeded, wire::kIcmpReassemblyTimeExceeded);
        }
        if (n < expired.size()) break;
    }
}

}  // namespace kbnet::stack
