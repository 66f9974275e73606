// ARP in dedicated address mode (design.md, decision 4): answering requests
// for our address (RFC 826), learning through the neighbour table,
// announcements at start (RFC 5227 §3), and the NeighbourOwner side of
// resolution (requests out, held packets back).
#include <cstring>

#include "kbnet/core/log.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/arp.hpp"

namespace kbnet::stack {

void Stack::arp_input(PacketHandle frame, wire::EthernetViewMut ethernet) noexcept {
    StackCounters& c = *counters_;
    if (kernel_) {
        // Shared mode: ARP is the kernel's (it answers for the address and
        // resolves our next hops); AF_XDP never steers ARP to us then, and
        // a port that copies every frame (afpacket) gets it ignored here.
        ++c.arp.in_not_for_us;
        free_frame(frame);
        return;
    }
    auto arp = wire::ArpViewMut::parse(ethernet.payload());
    if (!arp) {
        if (arp.code() == Errc::unsupported) {
            ++c.arp.in_bad_type;
        } else {
            ++c.arp.in_malformed;
        }
        free_frame(frame);
        return;
    }
    const std::uint16_t op = arp->operation();
    if (op == wire::kArpOpRequest) {
        ++c.arp.in_requests;
    } else if (op == wire::kArpOpReply) {
        ++c.arp.in_replies;
    } else {
        // RFC 826 leaves other opcodes (RARP, InARP) to other modules; we
        // have none.
        ++c.arp.in_malformed;
        free_frame(frame);
        return;
    }
    if (arp->sender_ip() == config_.address) {
        // Another station claims our address (RFC 5227 §2.4 conflict), or
        // our own announcement came back: never learn our own address as a
        // neighbour. Defending the address is left to the operator.
        if (arp->sender_mac() != mac_) {
            KBNET_LOG_RATELIMITED(LogLevel::warn, 1'000'000'000, "stack {}: {} claims our address {}", config_.name,
                                  arp->sender_mac().to_string(), config_.address.to_string());
        }
        free_frame(frame);
        return;
    }
    const bool target_is_local = arp->target_ip() == config_.address;
    if (!target_is_local) ++c.arp.in_not_for_us;
    const ArpReceiveResult result = neighbours_.on_arp(*arp, target_is_local, now_ns_);
    if (!result.reply_due) {
        free_frame(frame);
        return;
    }
    // RFC 826: swap sender and target, put our addresses in as sender, set
    // the opcode to reply, and send it back to the requester. Done in the
    // request's own frame: no allocation, no copy.
    arp->make_reply(mac_);
    ethernet.set_destination(arp->target_mac());
    ethernet.set_source(mac_);
    const auto keep = static_cast<std::uint16_t>(ethernet.header_len() + wire::kArpLen);
    frame.length = keep;  // drops the request's padding; transmit pads again
    ++c.arp.out_replies;
    transmit(frame);
}

void Stack::send_arp(std::uint16_t operation, wire::Ipv4Address target_ip, const wire::MacAddress& target_mac,
                     const wire::MacAddress& destination) noexcept {
    PacketHandle frame;
    if (!alloc_frame(frame)) return;
    wire::ArpPacket packet{operation, mac_, config_.address, target_mac, target_ip};
    if (!port_.area().append(frame, wire::kArpLen) || !packet.emit(port_.area().bytes(frame)).ok() ||
        !prepend_ethernet(frame, destination, wire::kEtherTypeArp)) {
        free_frame(frame);
        return;
    }
    if (operation == wire::kArpOpRequest) ++counters_->arp.out_requests;
    transmit(frame);
}

void Stack::on_announce_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept {
    auto* self = static_cast<Stack*>(context);
    self->send_arp(wire::kArpOpRequest, self->config_.address, wire::MacAddress{}, wire::MacAddress::broadcast());
    if (self->announcements_left_ > 0 && --self->announcements_left_ > 0) {
        self->wheel_.schedule(timer, now_ns + 2'000'000'000);
    }
}

void Stack::send_arp_request(wire::Ipv4Address target, const wire::MacAddress& destination) noexcept {
    if (kernel_) {
        // Shared mode: the kernel resolves (its own ARP, retries and NUD
        // states); kernel_poll() sees the answer. Rate-limited per address.
        (void)kernel_->request_resolution(target, now_ns_);
        return;
    }
    // RFC 826: the target hardware address of a request is unknown (zero).
    send_arp(wire::kArpOpRequest, target, wire::MacAddress{}, destination);
}

void Stack::transmit_resolved(PacketHandle packet, wire::Ipv4Address /*next_hop*/,
                              const wire::MacAddress& mac) noexcept {
    if (!prepend_ethernet(packet, mac, wire::kEtherTypeIpv4)) {
        ++counters_->ip.out_discards;
        free_frame(packet);
        return;
    }
    transmit(packet);
}

void Stack::release_unresolved(PacketHandle packet) noexcept {
    // Counted by the table (unresolved_drops, queue_overflow_drops) and
    // mirrored into StackCounters::arp by sync_counters().
    free_frame(packet);
}

}  // namespace kbnet::stack
