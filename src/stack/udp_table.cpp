#include "kbnet/stack/udp_table.hpp"

#include <stdexcept>

#include "kbnet/wire/igmp.hpp"

namespace kbnet::stack {

UdpTable::UdpTable(std::uint32_t max_sockets, std::uint32_t queue_depth)
    : capacity_(max_sockets), queue_depth_(queue_depth) {
    if (max_sockets == 0 || max_sockets > 65535) {
        throw std::invalid_argument("StackConfig::max_udp_sockets must be 1 .. 65535");
    }
    if (queue_depth == 0 || queue_depth > 65536) {
        throw std::invalid_argument("StackConfig::udp_queue_depth must be 1 .. 65536");
    }
    blocks_ = std::make_unique<UdpControlBlock[]>(capacity_);
    queues_ = std::make_unique<QueuedDatagram[]>(static_cast<std::size_t>(capacity_) * queue_depth_);
    port_head_ = std::make_unique<std::uint32_t[]>(65536);
    for (std::size_t p = 0; p < 65536; ++p) port_head_[p] = kNone;
    for (std::uint32_t i = capacity_; i-- > 0;) {
        blocks_[i].next_free = free_head_;
        blocks_[i].queue = queues_.get() + static_cast<std::size_t>(i) * queue_depth_;
        free_head_ = i;
    }
}

Result<std::uint32_t> UdpTable::open() noexcept {
    if (free_head_ == kNone) {
        return Error{Errc::no_buffers, "all UDP sockets of the stack are open (raise StackConfig::max_udp_sockets)"};
    }
    const std::uint32_t index = free_head_;
    UdpControlBlock& b = blocks_[index];
    free_head_ = b.next_free;
    QueuedDatagram* queue = b.queue;
    b = UdpControlBlock{};
    b.queue = queue;
    b.counters = &b.local_counters;
    b.in_use = true;
    ++open_count_;
    return index;
}

void UdpTable::close(std::uint32_t index) noexcept {
    UdpControlBlock& b = blocks_[index];
    if (!b.in_use) return;
    if (b.bound) unlink_port(index);
    b.in_use = false;
    b.bound = false;
    b.callback = nullptr;
    b.next_free = free_head_;
    free_head_ = index;
    --open_count_;
}

void UdpTable::unbind(std::uint32_t index) noexcept {
    UdpControlBlock& b = blocks_[index];
    if (!b.bound) return;
    unlink_port(index);
    b.bound = false;
    b.local_address = {};
    b.local_port = 0;
}

void UdpTable::unlink_port(std::uint32_t index) noexcept {
    std::uint32_t* link = &port_head_[blocks_[index].local_port];
    while (*link != kNone) {
        if (*link == index) {
            *link = blocks_[index].next_on_port;
            break;
        }
        link = &blocks_[*link].next_on_port;
    }
    blocks_[index].next_on_port = kNone;
}

bool UdpTable::conflicts(wire::Ipv4Address local, std::uint16_t port, bool reuse) const noexcept {
    for (std::uint32_t i = port_head_[port]; i != kNone; i = blocks_[i].next_on_port) {
        const UdpControlBlock& o = blocks_[i];
        // Two bindings overlap when one could receive what the other is
        // bound for: the same address, or either is the wildcard.
        const bool overlap = o.local_address == local || o.local_address.is_unspecified() || local.is_unspecified();
        if (overlap && !(reuse && o.reuse_address)) return true;
    }
    return false;
}

Status UdpTable::bind(std::uint32_t index, wire::Ipv4Address local, std::uint16_t port) noexcept {
    UdpControlBlock& b = blocks_[index];
    if (b.bound) return Error{Errc::invalid_argument, "socket already bound"};
    if (port == 0) {
        // RFC 6056 §3.3.1 style sequential search from a moving cursor:
        // consecutive binds get different ports, and a port freed a moment
        // ago is not handed out again at once.
        constexpr std::uint32_t kRange = kEphemeralLast - kEphemeralFirst + 1u;
        for (std::uint32_t tries = 0; tries < kRange; ++tries) {
            const std::uint16_t candidate = ephemeral_next_;
            ephemeral_next_ = candidate == kEphemeralLast ? kEphemeralFirst : static_cast<std::uint16_t>(candidate + 1);
            if (port_head_[candidate] == kNone) {
                port = candidate;
                break;
            }
        }
        if (port == 0) return Error{Errc::no_buffers, "no free ephemeral UDP port (49152-65535 all bound)"};
    } else if (conflicts(local, port, b.reuse_address)) {
        return Error{Errc::would_block, "UDP port already bound to an overlapping address (EADDRINUSE)"};
    }
    b.local_address = local;
    b.local_port = port;
    b.bound = true;
    b.next_on_port = port_head_[port];
    port_head_[port] = index;
    return {};
}

std::uint32_t UdpTable::lookup_unicast(wire::Ipv4Address dst, std::uint16_t dport, wire::Ipv4Address src,
                                       std::uint16_t sport) const noexcept {
    std::uint32_t best = kNone;
    int best_score = -1;
    for (std::uint32_t i = port_head_[dport]; i != kNone; i = blocks_[i].next_on_port) {
        const UdpControlBlock& b = blocks_[i];
        int score = 0;
        if (!b.local_address.is_unspecified()) {
            if (b.local_address != dst) continue;
            score += 1;
        }
        if (b.connected) {
            if (b.remote_address != src || b.remote_port != sport) continue;
            score += 2;
        }
        if (score > best_score) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

bool UdpTable::accepts_group_datagram(std::uint32_t index, wire::Ipv4Address dst, wire::Ipv4Address src,
                                      std::uint16_t sport) const noexcept {
    const UdpControlBlock& b = blocks_[index];
    if (!b.local_address.is_unspecified() && b.local_address != dst) return false;
    if (b.connected && (b.remote_address != src || b.remote_port != sport)) return false;
    // A multicast datagram goes to the sockets that joined its group, and
    // one to all-systems (224.0.0.1) to every socket on the port: every host
    // is a member of that group on every interface (RFC 1112 §4), so no
    // socket joins it, and Linux delivers it to them too.
    if (dst.is_multicast() && dst != wire::kIpv4AllSystems && !b.joined(dst)) return false;
    return true;
}

std::uint32_t UdpTable::find_connected(std::uint16_t local_port, wire::Ipv4Address remote,
                                       std::uint16_t remote_port) const noexcept {
    for (std::uint32_t i = port_head_[local_port]; i != kNone; i = blocks_[i].next_on_port) {
        const UdpControlBlock& b = blocks_[i];
        if (b.connected && b.remote_address == remote && b.remote_port == remote_port) return i;
    }
    return kNone;
}

}  // namespace kbnet::stack
