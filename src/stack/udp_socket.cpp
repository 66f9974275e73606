// The native UDP API's handles: UdpSocket, UdpDatagram and TxBuffer. Each
// is an index or a frame plus a pointer to its stack; the work is done by
// the stack (udp.cpp) and the socket table (udp_table.cpp).
#include "kbnet/stack/udp_socket.hpp"

#include "kbnet/stack/stack.hpp"

namespace kbnet::stack {

// ---- UdpDatagram

UdpDatagram& UdpDatagram::operator=(UdpDatagram&& other) noexcept {
    if (this == &other) return *this;
    release();
    stack_ = other.stack_;
    storage_ = other.storage_;
    payload_ = other.payload_;
    source_ = other.source_;
    destination_ = other.destination_;
    source_port_ = other.source_port_;
    destination_port_ = other.destination_port_;
    other.stack_ = nullptr;
    other.payload_ = {};
    return *this;
}

void UdpDatagram::release() noexcept {
    if (stack_ == nullptr) return;
    stack_->release_storage(storage_);
    stack_ = nullptr;
    payload_ = {};
}

// ---- TxBuffer

TxBuffer& TxBuffer::operator=(TxBuffer&& other) noexcept {
    if (this == &other) return *this;
    release();
    stack_ = other.stack_;
    frame_ = other.frame_;
    room_ = other.room_;
    length_ = other.length_;
    other.stack_ = nullptr;
    other.room_ = {};
    return *this;
}

void TxBuffer::release() noexcept {
    if (stack_ == nullptr) return;
    stack_->free_frame(frame_);
    stack_ = nullptr;
    room_ = {};
}

// ---- UdpSocket

UdpSocket& UdpSocket::operator=(UdpSocket&& other) noexcept {
    if (this == &other) return *this;
    close();
    stack_ = other.stack_;
    index_ = other.index_;
    other.stack_ = nullptr;
    return *this;
}

void UdpSocket::close() noexcept {
    if (stack_ == nullptr) return;
    stack_->udp_close(index_);
    stack_ = nullptr;
}

Status UdpSocket::bind(wire::Ipv4Address local, std::uint16_t port) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    // The addresses a socket may bind: any, ours, and those datagrams can
    // reach us at (broadcast, multicast); anything else is EADDRNOTAVAIL.
    if (!local.is_unspecified() && local != stack_->address() && !stack_->is_broadcast(local) &&
        !local.is_multicast()) {
        return Error{Errc::invalid_argument, "address is not the stack's (EADDRNOTAVAIL)"};
    }
    if (Status st = stack_->udp_bind(index_, local, port); !st) return st;
    stack_->udp_publish(index_);
    return {};
}

Status UdpSocket::connect(wire::Ipv4Address remote, std::uint16_t port) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    if (remote.is_unspecified() || port == 0) {
        return Error{Errc::invalid_argument, "connect needs an address and a non-zero port"};
    }
    UdpControlBlock& b = stack_->udp_.at(index_);
    if (!b.bound) {
        if (Status st = stack_->udp_bind(index_, wire::Ipv4Address{}, 0); !st) return st;
    }
    b.connected = true;
    b.remote_address = remote;
    b.remote_port = port;
    b.error.reset();
    stack_->udp_publish(index_);
    return {};
}

void UdpSocket::disconnect() noexcept {
    if (stack_ == nullptr) return;
    UdpControlBlock& b = stack_->udp_.at(index_);
    b.connected = false;
    b.remote_address = {};
    b.remote_port = 0;
    stack_->udp_publish(index_);
}

void UdpSocket::set_broadcast(bool on) noexcept {
    if (stack_ != nullptr) stack_->udp_.at(index_).broadcast = on;
}

void UdpSocket::set_reuse_address(bool on) noexcept {
    if (stack_ != nullptr) stack_->udp_.at(index_).reuse_address = on;
}

void UdpSocket::set_multicast_ttl(std::uint8_t ttl) noexcept {
    if (stack_ != nullptr) stack_->udp_.at(index_).multicast_ttl = ttl;
}

void UdpSocket::set_multicast_loop(bool on) noexcept {
    if (stack_ != nullptr) stack_->udp_.at(index_).multicast_loop = on;
}

Status UdpSocket::join_group(wire::Ipv4Address group) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    UdpControlBlock& b = stack_->udp_.at(index_);
    if (b.joined(group)) return Error{Errc::invalid_argument, "socket already joined this group (EADDRINUSE)"};
    if (b.group_count == b.groups.size()) {
        return Error{Errc::no_buffers, "socket joined the most groups it may (20, like Linux's IP_MAX_MEMBERSHIPS)"};
    }
    if (Status st = stack_->groups_.join(group); !st) return st;
    b.groups[b.group_count++] = group;
    if (Status st = stack_->udp_steer_group(index_, group, true); !st) {
        --b.group_count;
        (void)stack_->groups_.leave(group);
        return st;
    }
    stack_->udp_publish(index_);
    return {};
}

Status UdpSocket::leave_group(wire::Ipv4Address group) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    UdpControlBlock& b = stack_->udp_.at(index_);
    for (std::uint16_t i = 0; i < b.group_count; ++i) {
        if (b.groups[i] != group) continue;
        (void)stack_->udp_steer_group(index_, group, false);  // removal failures are logged
        b.groups[i] = b.groups[--b.group_count];
        (void)stack_->groups_.leave(group);
        stack_->udp_publish(index_);
        return {};
    }
    return Error{Errc::invalid_argument, "socket has not joined this group (EADDRNOTAVAIL)"};
}

std::optional<UdpDatagram> UdpSocket::receive() noexcept {
    if (stack_ == nullptr) return std::nullopt;
    UdpControlBlock& b = stack_->udp_.at(index_);
    if (b.queue_count == 0) return std::nullopt;
    const QueuedDatagram q = b.queue[b.queue_head];
    b.queue_head = (b.queue_head + 1) % stack_->udp_.queue_depth();
    --b.queue_count;
    b.counters->rx_queue_depth = b.queue_count;
    return stack_->make_datagram(q);
}

void UdpSocket::set_on_datagram(DatagramCallback callback, void* context) noexcept {
    if (stack_ == nullptr) return;
    UdpControlBlock& b = stack_->udp_.at(index_);
    b.callback = callback;
    b.callback_context = context;
}

Result<TxBuffer> UdpSocket::alloc_tx() noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    return stack_->alloc_tx_buffer();
}

Status UdpSocket::send(TxBuffer&& buffer) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    const UdpControlBlock& b = stack_->udp_.at(index_);
    if (!b.connected) {
        buffer.release();
        return Error{Errc::invalid_argument, "socket not connected: use send_to (EDESTADDRREQ)"};
    }
    return send_to(std::move(buffer), b.remote_address, b.remote_port);
}

Status UdpSocket::send_to(TxBuffer&& buffer, wire::Ipv4Address to, std::uint16_t port) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    if (buffer.stack_ != stack_) {
        buffer.release();
        return Error{Errc::invalid_argument, "transmit buffer of another stack"};
    }
    PacketHandle frame = buffer.frame_;
    frame.length = static_cast<std::uint16_t>(buffer.length_);
    buffer.stack_ = nullptr;  // the stack owns the frame now
    buffer.room_ = {};
    return stack_->udp_send_frame(index_, frame, to, port);
}

Status UdpSocket::send(std::span<const std::uint8_t> payload) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    const UdpControlBlock& b = stack_->udp_.at(index_);
    if (!b.connected) return Error{Errc::invalid_argument, "socket not connected: use send_to (EDESTADDRREQ)"};
    return stack_->udp_send_copy(index_, payload, b.remote_address, b.remote_port);
}

Status UdpSocket::send_to(std::span<const std::uint8_t> payload, wire::Ipv4Address to, std::uint16_t port) noexcept {
    if (stack_ == nullptr) return Error{Errc::closed, "socket is closed"};
    return stack_->udp_send_copy(index_, payload, to, port);
}

std::optional<IcmpReport> UdpSocket::take_error() noexcept {
    if (stack_ == nullptr) return std::nullopt;
    UdpControlBlock& b = stack_->udp_.at(index_);
    std::optional<IcmpReport> e = b.error;
    b.error.reset();
    return e;
}

wire::Ipv4Address UdpSocket::local_address() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).local_address : wire::Ipv4Address{};
}
std::uint16_t UdpSocket::local_port() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).local_port : std::uint16_t{0};
}
wire::Ipv4Address UdpSocket::remote_address() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).remote_address : wire::Ipv4Address{};
}
std::uint16_t UdpSocket::remote_port() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).remote_port : std::uint16_t{0};
}
std::size_t UdpSocket::rx_queue_depth() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).queue_count : 0;
}
std::uint64_t UdpSocket::rx_drops() const noexcept {
    return stack_ != nullptr ? stack_->udp_.at(index_).counters->rx_drops : 0;
}

}  // namespace kbnet::stack
