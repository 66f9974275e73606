// ICMP (RFC 792, RFC 1122 §3.2.2): echo replies in dedicated mode, errors
// we generate (port and protocol unreachable, reassembly time exceeded)
// under RFC 1122's rules and a rate limit, and errors we receive, handed
// to the connected UDP socket they are about (RFC 1122 §4.1.3.3).
#include <cstring>

#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/udp.hpp"

namespace kbnet::stack {
namespace {

// RFC 1122 §3.2.1.3: a source address that names no single host.
bool names_single_host(wire::Ipv4Address a) noexcept {
    return !a.is_unspecified() && !a.is_loopback() && !a.is_multicast() && (a.value >> 28) != 0xf;
}

// Query (informational) ICMP types, the only ICMP messages an error may be
// sent about (RFC 1122 §3.2.2: never about an ICMP error message).
bool is_icmp_query(std::uint8_t type) noexcept {
    return type == wire::kIcmpEchoRequest || type == wire::kIcmpEchoReply || (type >= 13 && type <= 18);
}

}  // namespace

void Stack::icmp_input(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept {
    StackCounters& c = *counters_;
    ++c.icmp.in_msgs;
    auto icmp = wire::IcmpViewMut::parse(datagram.payload());
    if (!icmp) {
        ++c.icmp.in_errors;
        release_storage(storage);
        return;
    }
    // RFC 1122 §3.2.2: the checksum covers the whole message; a message
    // that fails it is discarded.
    if (!icmp->checksum_ok()) {
        ++c.icmp.in_csum_errors;
        ++c.icmp.in_errors;
        release_storage(storage);
        return;
    }
    switch (icmp->type()) {
        case wire::kIcmpEchoRequest: {
            ++c.icmp.in_echos;
            // RFC 1122 §3.2.2.6: an echo request to a broadcast or multicast
            // address MAY be silently discarded; Linux does by default.
            const wire::Ipv4Address to = datagram.source();
            // Shared mode: the kernel answers pings to its address.
            if (kernel_) break;
            if ((kind != DestinationKind::unicast && !config_.echo_broadcast) || !names_single_host(to)) break;
            // RFC 792: the reply is the request with type 0 and a new
            // checksum; RFC 1122 §3.2.2.6: the data MUST be returned entire.
            icmp->set_type_code(wire::kIcmpEchoReply, 0);
            Ipv4SendParams params;
            params.destination = to;
            params.protocol = wire::kIpProtoIcmp;
            Status st;
            if (storage.kind == DatagramStorage::Kind::frame) {
                // Reuse the request's frame: the reply is its ICMP message,
                // with a new IPv4 and Ethernet header written in front.
                PacketHandle packet = storage.frame;
                const std::uint8_t* start = port_.area().frame_start(packet.frame);
                packet.offset = static_cast<std::uint16_t>(icmp->message().data() - start);
                packet.length = static_cast<std::uint16_t>(icmp->message().size());
                st = ipv4_output(params, packet);
            } else {
                st = ipv4_output_copy(params, {}, icmp->message());
                release_storage(storage);
            }
            if (st) {
                ++c.icmp.out_msgs;
                ++c.icmp.out_echo_reps;
            }
            return;
        }
        case wire::kIcmpDestinationUnreachable:
            ++c.icmp.in_dest_unreachs;
            icmp_error_input(icmp->as_const(), datagram.source());
            break;
        case wire::kIcmpTimeExceeded: ++c.icmp.in_time_excds; break;
        default: break;
    }
    release_storage(storage);
}

void Stack::icmp_error_input(const wire::IcmpView& icmp, wire::Ipv4Address reporter) noexcept {
    // Net, host, protocol and port unreachable are hard errors for the
    // socket (RFC 1122 §4.1.3.3 passes them up; Linux's icmp_err_convert
    // makes them ENETUNREACH, EHOSTUNREACH, ENOPROTOOPT, ECONNREFUSED).
    if (icmp.code() > wire::kIcmpPortUnreachable) return;
    auto quoted = icmp.quoted_datagram();
    if (!quoted) {
        ++counters_->icmp.in_errors;
        return;
    }
    if (quoted->protocol() != wire::kIpProtoUdp || quoted->source() != config_.address) return;
    auto ports = wire::icmp_quoted_ports(*quoted);
    if (!ports) return;
    const std::uint32_t socket =
        udp_.find_connected(ports->source_port, quoted->destination(), ports->destination_port);
    if (socket == UdpTable::kNone) return;
    udp_.at(socket).error = IcmpReport{icmp.type(), icmp.code(), reporter};
}

void Stack::icmp_send_error(const wire::Ipv4View& original, std::span<const std::uint8_t> quote, DestinationKind kind,
                            std::uint8_t type, std::uint8_t code) noexcept {
    // RFC 1122 §3.2.2: an ICMP error MUST NOT be sent about a datagram to a
    // broadcast or multicast address (or a link-layer broadcast, which the
    // input path already refused for unicast IP), a non-initial fragment, a
    // source that names no single host, or an ICMP error message.
    if (kind != DestinationKind::unicast) return;
    // Shared mode: the kernel owns the address's ICMP. A port unreachable
    // from us would duplicate (or contradict) the kernel's own answer for
    // a port it serves, so the stack sends no errors at all.
    if (kernel_) return;
    if (original.fragment_offset() != 0) return;
    const wire::Ipv4Address to = original.source();
    if (!names_single_host(to) || is_broadcast(to)) return;
    if (original.protocol() == wire::kIpProtoIcmp) {
        const auto payload = original.payload();
        if (payload.empty() || !is_icmp_query(payload[0])) return;
    }
    // RFC 1122 §3.2.2 / RFC 1812 §4.3.2.8: limit the rate of errors.
    if (!icmp_errors_.allow(now_ns_)) {
        ++counters_->icmp.out_rate_limited;
        return;
    }
    PacketHandle frame;
    if (!alloc_frame(frame)) return;
    const std::size_t length = wire::kIcmpHeaderLen + quote.size();
    if (!port_.area().append(frame, static_cast<std::uint32_t>(length))) {
        free_frame(frame);
        return;
    }
    auto message = port_.area().bytes(frame);
    std::memcpy(message.data() + wire::kIcmpHeaderLen, quote.data(), quote.size());
    if (!wire::IcmpHeader{type, code, 0}.emit(message).ok()) {
        free_frame(frame);
        return;
    }
    Ipv4SendParams params;
    params.destination = to;
    params.protocol = wire::kIpProtoIcmp;
    if (!ipv4_output(params, frame)) return;
    ++counters_->icmp.out_msgs;
    if (type == wire::kIcmpDestinationUnreachable) ++counters_->icmp.out_dest_unreachs;
}

}  // namespace kbnet::stack
