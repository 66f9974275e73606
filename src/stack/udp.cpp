// UDP in the stack (RFC 768, RFC 1122 §4.1): input with checksum
// verification and demultiplexing to sockets, bounded receive queues,
// output with checksum generation, and the socket lifecycle's effects on
// the stats segment.
#include <algorithm>
#include <array>
#include <cstring>

#include "kbnet/core/endian.hpp"
#include "kbnet/stack/stack.hpp"
#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/udp.hpp"

namespace kbnet::stack {

void Stack::udp_input(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept {
    StackCounters& c = *counters_;
    auto udp = wire::UdpView::parse(datagram.payload().subspan(0));
    if (!udp) {
        ++c.udp.in_errors;
        release_storage(storage);
        return;
    }
    const wire::Ipv4Address src = datagram.source();
    const wire::Ipv4Address dst = datagram.destination();
    // RFC 1122 §4.1.3.4: a received checksum MUST be verified and a failing
    // datagram silently discarded; RFC 768: a zero checksum means the sender
    // computed none, and is accepted. A reassembled datagram was never seen
    // whole by the device, so its checksum is always verified here.
    const bool device_verified =
        port_.capabilities().rx_checksum_verified && storage.kind == DatagramStorage::Kind::frame;
    if (!device_verified && !udp->checksum_ok(src, dst)) {
        ++c.udp.in_csum_errors;
        ++c.udp.in_errors;
        release_storage(storage);
        return;
    }
    QueuedDatagram q;
    q.storage = storage;
    q.payload = udp->payload().data();
    q.length = static_cast<std::uint16_t>(udp->payload().size());
    q.source = src;
    q.source_port = udp->source_port();
    q.destination = dst;
    q.destination_port = udp->destination_port();

    if (kind == DestinationKind::unicast) {
        const std::uint32_t socket = udp_.lookup_unicast(dst, q.destination_port, src, q.source_port);
        if (socket == UdpTable::kNone) {
            // RFC 1122 §4.1.3.1: no socket on the port -> ICMP Port
            // Unreachable (rate-limited, and only for unicast).
            ++c.udp.no_ports;
            icmp_send_error(datagram.as_const(), wire::icmp_error_quote(datagram.as_const()), kind,
                            wire::kIcmpDestinationUnreachable, wire::kIcmpPortUnreachable);
            release_storage(storage);
            return;
        }
        udp_deliver(socket, q);
        return;
    }

    udp_deliver_all(q);
}

void Stack::udp_deliver_all(const QueuedDatagram& q) noexcept {
    StackCounters& c = *counters_;
    const wire::Ipv4Address src = q.source;
    const wire::Ipv4Address dst = q.destination;
    const DatagramStorage& storage = q.storage;
    // Broadcast and multicast: every socket that takes it gets it (RFC 1122
    // §4.1.3.5 leaves the choice to the host; Linux delivers to all). The
    // first gets the original storage, the others a copy in a fresh frame;
    // copies go first, so a callback releasing the original cannot pull the
    // bytes from under them.
    // takers_ holds one slot per socket the table can have (reserved at
    // setup), so every socket on the port is found; delivery never
    // re-enters this function (looped copies wait for the next poll).
    std::uint32_t* const takers = takers_.data();
    std::size_t n = 0;
    for (std::uint32_t i = udp_.first_on_port(q.destination_port); i != UdpTable::kNone; i = udp_.next_on_port(i)) {
        if (udp_.accepts_group_datagram(i, dst, src, q.source_port)) takers[n++] = i;
    }
    if (n == 0) {
        ++c.udp.no_ports;  // no ICMP about broadcast or multicast (RFC 1122 §3.2.2)
        release_storage(storage);
        return;
    }
    for (std::size_t k = 1; k < n; ++k) {
        PacketHandle frame;
        if (q.length > frame_room_ || !alloc_frame(frame)) {
            ++c.ip.in_discards;
            continue;
        }
        if (q.length > 0) std::memcpy(port_.area().data(frame), q.payload, q.length);
        frame.length = q.length;
        QueuedDatagram copy = q;
        copy.storage = DatagramStorage{DatagramStorage::Kind::frame, frame, 0};
        copy.payload = port_.area().data(frame);
        const UdpControlBlock& b = udp_.at(takers[k]);
        if (!b.in_use || !b.bound || b.local_port != q.destination_port) {
            free_frame(frame);  // closed by an earlier callback
            continue;
        }
        udp_deliver(takers[k], copy);
    }
    const UdpControlBlock& first = udp_.at(takers[0]);
    if (!first.in_use || !first.bound || first.local_port != q.destination_port) {
        release_storage(storage);
        return;
    }
    udp_deliver(takers[0], q);
}

UdpDatagram Stack::make_datagram(const QueuedDatagram& q) noexcept {
    UdpDatagram d;
    d.stack_ = this;
    d.storage_ = q.storage;
    d.payload_ = std::span<const std::uint8_t>(q.payload, q.length);
    d.source_ = q.source;
    d.source_port_ = q.source_port;
    d.destination_ = q.destination;
    d.destination_port_ = q.destination_port;
    return d;
}

void Stack::udp_deliver(std::uint32_t socket, const QueuedDatagram& q) noexcept {
    StackCounters& c = *counters_;
    UdpControlBlock& b = udp_.at(socket);
    if (b.callback != nullptr) {
        ++c.udp.in_datagrams;
        UdpDatagram d = make_datagram(q);
        b.callback(b.callback_context, d);
        return;  // d, unless moved out, releases the storage here
    }
    if (b.queue_count == udp_.queue_depth()) {
        // A bounded queue: the newest datagram is dropped, as a full socket
        // buffer does in Linux (counted in RcvbufErrors and InErrors).
        ++c.udp.rcvbuf_errors;
        ++c.udp.in_errors;
        ++b.counters->rx_drops;
        release_storage(q.storage);
        return;
    }
    ++c.udp.in_datagrams;
    b.queue[(b.queue_head + b.queue_count) % udp_.queue_depth()] = q;
    ++b.queue_count;
    b.counters->rx_queue_depth = b.queue_count;
}

Status Stack::udp_prepare_send(std::uint32_t socket, wire::Ipv4Address to, std::uint16_t port) noexcept {
    UdpControlBlock& b = udp_.at(socket);
    if (to.is_unspecified() || port == 0) {
        return Error{Errc::invalid_argument, "no destination: connect() the socket or give an address and port"};
    }
    // SO_BROADCAST: Linux refuses broadcast sends without it (EACCES).
    if (is_broadcast(to) && !b.broadcast) {
        return Error{Errc::invalid_argument, "broadcast destination: enable it with set_broadcast(true) (EACCES)"};
    }
    if (!b.bound) {
        // Like an implicit bind(INADDR_ANY, 0) on the first send.
        if (Status st = udp_bind(socket, wire::Ipv4Address{}, 0); !st) return st;
        udp_publish(socket);
    }
    return {};
}

void Stack::udp_count_send(const Status& st) noexcept {
    if (st) {
        ++counters_->udp.out_datagrams;
    } else if (st.code() == Errc::no_buffers) {
        ++counters_->udp.sndbuf_errors;
    }
}

Status Stack::udp_send_frame(std::uint32_t socket, PacketHandle frame, wire::Ipv4Address to,
                             std::uint16_t port) noexcept {
    if (Status st = udp_prepare_send(socket, to, port); !st) {
        free_frame(frame);
        return st;
    }
    const UdpControlBlock& b = udp_.at(socket);
    Ipv4SendParams params;
    params.destination = to;
    params.protocol = wire::kIpProtoUdp;
    if (to.is_multicast()) params.ttl = b.multicast_ttl;
    if (frame.length > 65507) {
        free_frame(frame);
        return Error{Errc::invalid_argument, "datagram too large for UDP (65507 bytes of payload at most)"};
    }
    // The loop-back copy is taken before the headers go on (it carries the
    // payload only) and withdrawn if the send fails, so an application that
    // retries a refused send does not receive its datagram twice.
    const std::size_t loop_mark = looped_count_;
    udp_loop_back(socket, {}, port_.area().bytes(frame), to, port);
    if (to.is_multicast() && b.multicast_ttl == 0) {
        // IP_MULTICAST_TTL 0: the datagram does not leave the host (RFC 1112
        // §6.1); the loop-back copy is the only delivery.
        free_frame(frame);
        const Status st{};
        udp_count_send(st);
        return st;
    }
    // Zero copy: the payload is in the frame; UDP and IPv4 headers go into
    // its headroom. RFC 768: the checksum covers the pseudo-header, and
    // UdpHeader::emit sends a computed zero as all ones.
    if (!frame.prepend(static_cast<std::uint16_t>(wire::kUdpHeaderLen)) ||
        !wire::UdpHeader{b.local_port, port}.emit(port_.area().bytes(frame), config_.address, to).ok()) {
        free_frame(frame);
        udp_withdraw_looped(loop_mark);
        return Error{Errc::invalid_argument, "no headroom in the frame for the UDP header"};
    }
    const Status st = ipv4_output(params, frame);
    if (!st) udp_withdraw_looped(loop_mark);
    udp_count_send(st);
    return st;
}

Status Stack::udp_send_copy(std::uint32_t socket, std::span<const std::uint8_t> payload, wire::Ipv4Address to,
                            std::uint16_t port) noexcept {
    if (payload.size() > 65507) {
        return Error{Errc::invalid_argument, "datagram too large for UDP (65507 bytes of payload at most)"};
    }
    if (Status st = udp_prepare_send(socket, to, port); !st) return st;
    const UdpControlBlock& b = udp_.at(socket);
    Ipv4SendParams params;
    params.destination = to;
    params.protocol = wire::kIpProtoUdp;
    if (to.is_multicast()) params.ttl = b.multicast_ttl;
    // The header is built apart from the payload, so the checksum is summed
    // over both pieces (the 8-byte header keeps the payload's words
    // aligned) rather than over one contiguous datagram.
    const auto length = static_cast<std::uint16_t>(wire::kUdpHeaderLen + payload.size());
    std::array<std::uint8_t, wire::kUdpHeaderLen> head{};
    store_be16(head.data(), b.local_port);
    store_be16(head.data() + 2, port);
    store_be16(head.data() + 4, length);
    std::uint32_t sum = wire::pseudo_header_sum(config_.address.value, to.value, wire::kIpProtoUdp, length);
    sum = wire::checksum_sum(head, sum);
    sum = wire::checksum_sum(payload, sum);
    std::uint16_t checksum = wire::sum_to_checksum(sum);
    if (checksum == 0) checksum = 0xffff;  // RFC 768: a computed zero is sent as all ones
    store_be16(head.data() + 6, checksum);
    const std::size_t loop_mark = looped_count_;
    udp_loop_back(socket, {}, payload, to, port);
    if (to.is_multicast() && b.multicast_ttl == 0) {
        const Status st{};  // IP_MULTICAST_TTL 0: host-local, as above
        udp_count_send(st);
        return st;
    }
    const Status st = ipv4_output_copy(params, head, payload);
    if (!st) udp_withdraw_looped(loop_mark);
    udp_count_send(st);
    return st;
}

void Stack::udp_withdraw_looped(std::size_t mark) noexcept {
    while (looped_count_ > mark) release_storage(looped_[--looped_count_].storage);
}

void Stack::udp_loop_back(std::uint32_t socket, std::span<const std::uint8_t> head, std::span<const std::uint8_t> body,
                          wire::Ipv4Address to, std::uint16_t port) noexcept {
    const UdpControlBlock& b = udp_.at(socket);
    // IP_MULTICAST_LOOP (RFC 1112 §6.1: a host that is a member of the
    // group it sends to may get its own datagram back; Linux does by
    // default). Only groups some socket joined, and 224.0.0.1, which every
    // host is in: nobody else would take it.
    if (!b.multicast_loop || !to.is_multicast() || !groups_.contains(to)) return;
    StackCounters& c = *counters_;
    const std::size_t length = head.size() + body.size();
    PacketHandle frame;
    // The copy lives in one frame: a datagram larger than that (sent
    // fragmented) is not looped, and counted like a datagram we could not
    // receive.
    if (length > frame_room_ || looped_count_ == looped_.size() || !alloc_frame(frame)) {
        ++c.udp.in_errors;
        return;
    }
    std::uint8_t* out = port_.area().data(frame);
    if (!head.empty()) std::memcpy(out, head.data(), head.size());
    if (!body.empty()) std::memcpy(out + head.size(), body.data(), body.size());
    frame.length = static_cast<std::uint16_t>(length);
    QueuedDatagram& q = looped_[looped_count_++];
    q.storage = DatagramStorage{DatagramStorage::Kind::frame, frame, 0};
    q.payload = out;
    q.length = static_cast<std::uint16_t>(length);
    q.source = config_.address;
    q.source_port = b.local_port;
    q.destination = to;
    q.destination_port = port;
}

void Stack::deliver_looped() noexcept {
    // Taken out first: a callback may send to the group again, which queues
    // for the poll after this one instead of recursing.
    std::array<QueuedDatagram, kBurst> batch;
    const std::size_t n = looped_count_;
    std::copy_n(looped_.begin(), n, batch.begin());
    looped_count_ = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!groups_.contains(batch[i].destination)) {
            release_storage(batch[i].storage);  // the group was left since
            continue;
        }
        udp_deliver_all(batch[i]);
    }
}

void Stack::udp_close(std::uint32_t socket) noexcept {
    UdpControlBlock& b = udp_.at(socket);
    if (!b.in_use) return;
    while (b.queue_count > 0) {
        release_storage(b.queue[b.queue_head].storage);
        b.queue_head = (b.queue_head + 1) % udp_.queue_depth();
        --b.queue_count;
    }
    for (std::uint16_t i = 0; i < b.group_count; ++i) {
        (void)udp_steer_group(socket, b.groups[i], false);
        (void)groups_.leave(b.groups[i]);
    }
    b.group_count = 0;
    if (b.stats_slot && stats_) stats_->remove_socket(*b.stats_slot);
    b.stats_slot.reset();
    b.counters = &b.local_counters;
    const bool was_bound = b.bound;
    const std::uint16_t port = b.local_port;
    udp_.close(socket);
    if (was_bound) udp_unbind_port(port);
}

void Stack::udp_publish(std::uint32_t socket) noexcept {
    UdpControlBlock& b = udp_.at(socket);
    if (!stats_ || !b.bound) return;
    SocketInfo info;
    info.protocol = wire::kIpProtoUdp;
    info.local_address = b.local_address;
    info.local_port = b.local_port;
    if (b.connected) {
        info.remote_address = b.remote_address;
        info.remote_port = b.remote_port;
    }
    info.multicast_groups = std::span<const wire::Ipv4Address>(b.groups.data(), b.group_count);
    if (b.stats_slot) {
        stats_->update_socket(*b.stats_slot, info);
        return;
    }
    auto slot = stats_->add_socket(info);
    if (!slot) return;  // table full: the socket works, stackdump counts it unlisted
    b.stats_slot = *slot;
    SocketCounters& live = stats_->socket_counters(*slot);
    live = b.local_counters;
    b.counters = &live;
}

}  // namespace kbnet::stack
