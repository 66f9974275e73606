// The shared address model (design.md, decision 4): the stack uses the
// kernel interface's address, and the kernel keeps ARP and ICMP. This file
// holds what the stack does with the kernel beside it:
//  - following the kernel's tables (KernelSource::poll about once a
//    millisecond from Stack::poll, a batched netlink read);
//  - next hops from the kernel's routes and neighbours, cached per
//    destination until the tables change;
//  - an unresolved next hop: the kernel is asked to resolve it (it sends the
//    ARP requests, kbnet never does in this mode) while the packet waits in
//    the neighbour table's bounded queue (RFC 1122 §2.3.2.2), and goes out
//    once a poll sees the kernel's answer;
//  - every UDP port bound is held by a kernel socket (so the kernel never
//    gives it to another application, nor answers it with ICMP Port
//    Unreachable) and steered to the stack by the port's XDP filter.
#include <exception>

#include "kbnet/core/log.hpp"
#include "kbnet/port/steering.hpp"
#include "kbnet/stack/stack.hpp"

namespace kbnet::stack {
namespace {

// The kernel's tables change rarely; a millisecond keeps a new neighbour's
// held packets waiting at most that long, at one non-blocking recv a ms.
constexpr std::uint64_t kKernelPollIntervalNs = 1'000'000;

std::size_t hop_slot(wire::Ipv4Address a) noexcept {
    // Fibonacci hashing: neighbouring addresses spread over the slots.
    return static_cast<std::size_t>((a.value * 2654435769u) >> 26);
}

}  // namespace

void Stack::kernel_poll() noexcept {
    next_kernel_poll_ns_ = now_ns_ + kKernelPollIntervalNs;
    (void)kernel_->poll();
    const std::uint64_t generation = kernel_->generation();
    // When the tables changed, every cached next hop (tagged with the older
    // generation) is dead from here on, and a watched next hop may have been
    // resolved. The watch list is walked on every kernel poll, not only on
    // a change: a next hop the neighbour table gave up on (the kernel never
    // answered, and may not tell us so) must free its slot too.
    const bool changed = generation != kernel_generation_;
    kernel_generation_ = generation;
    for (std::size_t i = 0; i < pending_count_;) {
        const wire::Ipv4Address ip = pending_[i];
        const auto held = neighbours_.find(ip);
        bool done = !held || held->state != NeighbourState::incomplete;  // sent, or given up on
        if (!done && changed) {
            const auto n = kernel_->neighbour(ip);
            if (n && n->resolved()) {
                // The kernel learned it: add_static sends the held packets
                // to n->mac at once; then the entry goes, so the kernel's
                // table stays the only reference for later packets.
                (void)neighbours_.add_static(ip, n->mac);
                (void)neighbours_.remove(ip);
                done = true;
            }
        }
        if (done) {
            pending_[i] = pending_[--pending_count_];
        } else {
            ++i;
        }
    }
}

Result<Stack::NextHop> Stack::shared_route(wire::Ipv4Address destination) noexcept {
    NextHop hop;
    HopCacheEntry& e = hop_cache_[hop_slot(destination)];
    if (e.generation == kernel_generation_ && e.destination == destination) {
        hop.mac = e.mac;
        return hop;
    }
    const auto r = kernel_->route(destination);
    if (!r) {
        ++counters_->ip.out_no_routes;
        return Error{Errc::invalid_argument,
                     "no route: the kernel's main table has no route to the destination through this interface"};
    }
    const auto n = kernel_->neighbour(r->next_hop);
    if (n && n->resolved()) {
        // A stale entry is usable, but only traffic the kernel sees makes
        // it re-confirm one (RFC 1122 §2.3.2.1), and ours bypasses it: ask
        // (rate-limited per address). Its answer changes the generation.
        if (n->state == KernelNeighbourState::stale) (void)kernel_->request_resolution(r->next_hop, now_ns_);
        e = HopCacheEntry{kernel_generation_, destination, r->next_hop, n->mac};
        hop.mac = n->mac;
        return hop;
    }
    hop.resolve = true;
    hop.ip = r->next_hop;
    return hop;
}

Status Stack::shared_link_output(PacketHandle packet, wire::Ipv4Address next_hop) noexcept {
    // Hold the packet only for a next hop kernel_poll watches; the rest are
    // dropped and counted (ip.OutDiscards), like a full resolution queue.
    bool tracked = false;
    for (std::size_t i = 0; i < pending_count_ && !tracked; ++i) tracked = pending_[i] == next_hop;
    if (!tracked) {
        if (pending_count_ == pending_.size()) {
            ++counters_->ip.out_discards;
            free_frame(packet);
            return Error{Errc::no_buffers, "too many next hops waiting for the kernel to resolve them"};
        }
        pending_[pending_count_++] = next_hop;
    }
    // resolve() queues the packet and calls send_arp_request, which in
    // shared mode asks the kernel instead of sending ARP.
    const ResolveResult r = neighbours_.resolve(next_hop, packet, now_ns_);
    switch (r.outcome) {
        case ResolveOutcome::resolved: transmit_resolved(packet, next_hop, r.mac); return {};
        case ResolveOutcome::queued: return {};
        case ResolveOutcome::failed: break;
    }
    ++counters_->ip.out_discards;
    free_frame(packet);
    return r.error;
}

Status Stack::udp_bind(std::uint32_t socket, wire::Ipv4Address local, std::uint16_t port) noexcept {
    if (!kernel_) return udp_.bind(socket, local, port);
    if (udp_.at(socket).bound) return Error{Errc::invalid_argument, "socket already bound"};
    // The first socket on a port holds it in the kernel; sockets sharing it
    // (SO_REUSEADDR) share the hold. An ephemeral port is the kernel's
    // choice, so the kernel and kbnet never disagree about who has it.
    const bool first = port == 0 || udp_.first_on_port(port) == UdpTable::kNone;
    std::uint16_t chosen = port;
    if (first) {
        auto held = kernel_->hold_udp_port(config_.address, port);
        if (!held) return held.error();
        chosen = *held;
    }
    if (Status st = udp_.bind(socket, local, chosen); !st) {
        if (first) kernel_->release_udp_port(chosen);
        return st;
    }
    port::Steering* steering = port_.steering();
    if (first && steering != nullptr) {
        try {
            steering->add_filter(wire::kIpProtoUdp, chosen, config_.address.value);
        } catch (const std::exception& e) {
            KBNET_LOG_WARN("stack {}: cannot steer UDP port {} to the stack: {}", config_.name, chosen, e.what());
            udp_.unbind(socket);
            kernel_->release_udp_port(chosen);
            return Error{Errc::io_error, "the port's steering refused the UDP filter (see the log)"};
        }
    }
    // Groups the socket joined before the bind: their datagrams come to this
    // port now (whether or not other sockets were on the port before).
    const UdpControlBlock& b = udp_.at(socket);
    for (std::uint16_t i = 0; i < b.group_count; ++i) {
        if (Status st = udp_steer_group(socket, b.groups[i], true); !st) {
            for (std::uint16_t k = 0; k < i; ++k) (void)udp_steer_group(socket, b.groups[k], false);
            udp_.unbind(socket);
            udp_unbind_port(chosen);
            return st;
        }
    }
    return {};
}

Status Stack::udp_steer_group(std::uint32_t socket, wire::Ipv4Address group, bool joining) noexcept {
    const UdpControlBlock& b = udp_.at(socket);
    if (!kernel_ || !b.bound) return {};
    port::Steering* steering = port_.steering();
    if (steering == nullptr) return {};
    // A socket that cannot take the group's datagrams (bound to a unicast
    // address) neither adds the filter nor keeps it. The filter is shared by
    // the sockets on the port that take the group: added by the first,
    // removed after the last.
    if (!b.takes_group(group)) return {};
    for (std::uint32_t i = udp_.first_on_port(b.local_port); i != UdpTable::kNone; i = udp_.next_on_port(i)) {
        if (i != socket && udp_.at(i).takes_group(group)) return {};
    }
    // UDP to (group, port) only: IGMP queries to the group stay with the
    // kernel, which holds the membership (on_first_join).
    try {
        if (joining) {
            steering->add_filter(wire::kIpProtoUdp, b.local_port, group.value);
        } else {
            (void)steering->remove_filter(wire::kIpProtoUdp, b.local_port, group.value);
        }
    } catch (const std::exception& e) {
        KBNET_LOG_WARN("stack {}: cannot {} the steering of UDP {}:{}: {}", config_.name, joining ? "add" : "remove",
                       group.to_string(), b.local_port, e.what());
        if (joining) return Error{Errc::io_error, "the port's steering refused the group's UDP filter (see the log)"};
    }
    return {};
}

void Stack::udp_unbind_port(std::uint16_t port) noexcept {
    if (!kernel_ || udp_.first_on_port(port) != UdpTable::kNone) return;  // others still use it
    if (port::Steering* steering = port_.steering()) {
        try {
            (void)steering->remove_filter(wire::kIpProtoUdp, port, config_.address.value);
        } catch (const std::exception& e) {
            KBNET_LOG_WARN("stack {}: cannot remove the steering of UDP port {}: {}", config_.name, port, e.what());
        }
    }
    kernel_->release_udp_port(port);
}

}  // namespace kbnet::stack
