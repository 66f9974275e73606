// IPv4 output (RFC 791, RFC 1122 §3.3.1): routing to a next hop on the
// connected subnet or through the gateway (shared mode: the kernel's
// routes, shared_mode.cpp), the header, fragmentation of
// datagrams larger than the MTU, and the Ethernet header in front.
#include <algorithm>
#include <array>
#include <cstring>

#include "kbnet/stack/ipv4_fragmenter.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {
namespace {

// Fragments of one datagram we send: 45 carry a 65535-byte datagram over a
// 1500-byte MTU; smaller MTUs are refused for datagrams needing more.
constexpr std::size_t kMaxFragments = 64;

}  // namespace

Result<Stack::NextHop> Stack::route(wire::Ipv4Address destination) noexcept {
    NextHop hop;
    if (destination.is_multicast()) {
        // RFC 1112 §6.4: the group's mapped Ethernet address, no ARP.
        hop.mac = wire::MacAddress::for_ipv4_multicast(destination.value);
        return hop;
    }
    if (is_broadcast(destination)) {
        hop.mac = wire::MacAddress::broadcast();
        return hop;
    }
    if (destination.is_unspecified() || destination == config_.address || destination.is_loopback()) {
        ++counters_->ip.out_no_routes;
        return Error{Errc::invalid_argument, "no route: the destination is 0.0.0.0, loopback or our own address"};
    }
    if (kernel_) return shared_route(destination);  // the kernel's routes and neighbours
    hop.resolve = true;
    // RFC 1122 §3.3.1.1: on the connected subnet, send to the destination
    // itself; otherwise to a gateway.
    if (((destination.value ^ config_.address.value) & netmask_) == 0) {
        hop.ip = destination;
    } else if (config_.gateway) {
        hop.ip = *config_.gateway;
    } else {
        ++counters_->ip.out_no_routes;
        return Error{Errc::invalid_argument,
                     "no route to host: destination outside the subnet and no gateway (StackConfig::gateway)"};
    }
    return hop;
}

wire::Ipv4Header Stack::make_header(const Ipv4SendParams& params, std::size_t payload_len) noexcept {
    wire::Ipv4Header h;
    h.dscp = params.dscp;
    // RFC 6864 §4.1: the identification only has to be unique per (source,
    // destination, protocol) within a datagram's lifetime when it may be
    // fragmented; a per-stack counter satisfies that and costs nothing.
    h.identification = next_ip_id_++;
    h.dont_fragment = params.dont_fragment;
    h.ttl = params.ttl != 0 ? params.ttl : config_.default_ttl;
    h.protocol = params.protocol;
    h.source = config_.address;
    h.destination = params.destination;
    const std::size_t opts = std::min(params.options.size(), wire::kIpv4MaxOptionsLen);
    std::copy_n(params.options.begin(), opts, h.options.begin());
    h.options_len = static_cast<std::uint8_t>(opts);
    h.payload_len = static_cast<std::uint16_t>(std::min<std::size_t>(payload_len, 0xffff));
    return h;
}

Status Stack::link_output(PacketHandle packet, const NextHop& hop) noexcept {
    if (!hop.resolve) {
        if (!prepend_ethernet(packet, hop.mac, wire::kEtherTypeIpv4)) {
            ++counters_->ip.out_discards;
            free_frame(packet);
            return Error{Errc::no_buffers, "no headroom for the Ethernet header"};
        }
        transmit(packet);
        return {};
    }
    if (kernel_) return shared_link_output(packet, hop.ip);
    const ResolveResult r = neighbours_.resolve(hop.ip, packet, now_ns_);
    switch (r.outcome) {
        case ResolveOutcome::resolved: transmit_resolved(packet, hop.ip, r.mac); return {};
        case ResolveOutcome::queued: return {};
        case ResolveOutcome::failed: break;
    }
    ++counters_->ip.out_discards;
    free_frame(packet);
    return r.error;
}

Status Stack::ipv4_output(const Ipv4SendParams& params, PacketHandle packet) noexcept {
    const wire::Ipv4Header header = make_header(params, packet.length);
    if (header.total_length() > mtu_) {
        // Too big for one frame on the link: fragment by copying into fresh
        // frames (the rare path), then give this one back.
        const Status st = ipv4_output_copy(params, {}, port_.area().bytes(packet));
        free_frame(packet);
        return st;
    }
    ++counters_->ip.out_requests;
    auto hop = route(params.destination);
    if (!hop) {
        free_frame(packet);
        return hop.error();
    }
    if (!packet.prepend(static_cast<std::uint16_t>(header.header_len())) ||
        !header.emit(port_.area().bytes(packet)).ok()) {
        ++counters_->ip.out_discards;
        free_frame(packet);
        return Error{Errc::invalid_argument, "IPv4 header does not fit in front of the payload"};
    }
    return link_output(packet, *hop);
}

Status Stack::ipv4_output_copy(const Ipv4SendParams& params, std::span<const std::uint8_t> head,
                               std::span<const std::uint8_t> body) noexcept {
    StackCounters& c = *counters_;
    ++c.ip.out_requests;
    const std::size_t length = head.size() + body.size();
    wire::Ipv4Header header = make_header(params, length);
    const std::size_t header_len = header.header_len();
    if (header_len + length > wire::kIpv4MaxTotalLen) {
        ++c.ip.out_discards;
        return Error{Errc::invalid_argument, "datagram larger than 65535 bytes (EMSGSIZE)"};
    }
    auto hop = route(params.destination);
    if (!hop) return hop.error();

    // RFC 791 §3.1 "Flags": a datagram with DF set is never fragmented.
    if (params.dont_fragment && header_len + length > mtu_) {
        ++c.ip.frag_fails;
        return Error{Errc::invalid_argument, "datagram larger than the MTU with DF set (EMSGSIZE)"};
    }
    // RFC 791 §2.3/§3.2 by the shared fragmenter (copied options only in
    // later fragments, offsets in 8-byte units), into frames of our port.
    auto planned = ipv4_fragment_count(header, length, mtu_);
    if (!planned || *planned > kMaxFragments) {
        ++c.ip.frag_fails;
        return planned ? Error{Errc::invalid_argument, "datagram needs more than 64 fragments at this MTU (EMSGSIZE)"}
                       : planned.error();
    }
    const std::size_t count = *planned;
    // All frames or none, so a datagram never leaves in part.
    std::array<PacketHandle, kMaxFragments> frames;
    const std::span<PacketHandle> taken(frames.data(), count);
    const std::uint16_t got = port_.alloc(queue_, taken);
    if (got < count) {
        port_.free(queue_, std::span<const PacketHandle>(frames.data(), got));
        ++c.link.tx_no_buffer;
        ++c.ip.out_discards;
        return Error{Errc::no_buffers, "no free transmit frames in the port's pool"};
    }
    if (auto written = ipv4_fragment(header, head, body, mtu_, port_.area(), taken); !written) {
        // Cannot happen for an MTU the constructor accepted; nothing left.
        port_.free(queue_, std::span<const PacketHandle>(taken));
        ++c.ip.out_discards;
        return written.error();
    }
    if (count > 1) {
        ++c.ip.frag_oks;
        c.ip.frag_creates += count;
    }
    Status result;
    for (std::size_t i = 0; i < count; ++i) {
        Status st = link_output(frames[i], *hop);
        if (!st && result) result = st;
    }
    return result;
}

}  // namespace kbnet::stack
