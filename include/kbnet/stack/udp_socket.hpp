// The native UDP API (design.md, decision 7): zero-copy receive views and
// transmit buffers over the port's own frames, no syscalls, no allocation.
//
//   auto sock = stack.udp_open();                 // Result<UdpSocket>
//   sock->bind(Ipv4Address{}, 7);                 // any address, port 7
//   // poll style
//   if (auto d = sock->receive()) {               // std::optional<UdpDatagram>
//       auto tx = sock->alloc_tx();               // Result<TxBuffer>
//       std::memcpy(tx->data().data(), d->payload().data(), d->payload().size());
//       tx->set_length(d->payload().size());
//       (void)sock->send_to(std::move(*tx), d->source(), d->source_port());
//   }                                             // d's frame goes back to the port here
//   // or callback style: sock->set_on_datagram(fn, ctx), called from Stack::poll
//
// Ownership: a UdpDatagram owns the frame (or reassembly buffer) its payload
// lives in and gives it back when destroyed or release()d; a TxBuffer owns a
// transmit frame until a send consumes it or it is destroyed. Sockets,
// datagrams and buffers belong to the stack's polling thread and must not
// outlive the Stack. Sends are queued and leave at the end of the next
// Stack::poll (or at Stack::flush), so a burst of sends becomes one tx burst.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "kbnet/core/packet.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

class Stack;
class UdpSocket;

// Where a received datagram's bytes live: a received frame (the common case,
// zero copy), or a reassembly buffer of the stack's Ipv4Reassembler (a
// datagram reassembled from fragments, which can be larger than a frame and
// is delivered from the buffer without a copy; the buffer is released with
// the datagram).
struct DatagramStorage {
    enum class Kind : std::uint8_t { none, frame, reassembly };
    Kind kind = Kind::none;
    PacketHandle frame{};
    std::uint32_t buffer = 0;
};

// A received datagram: a view of its payload in place, and its addresses.
class UdpDatagram {
  public:
    UdpDatagram() = default;
    UdpDatagram(UdpDatagram&& other) noexcept { *this = std::move(other); }
    UdpDatagram& operator=(UdpDatagram&& other) noexcept;
    UdpDatagram(const UdpDatagram&) = delete;
    UdpDatagram& operator=(const UdpDatagram&) = delete;
    ~UdpDatagram() { release(); }

    [[nodiscard]] std::span<const std::uint8_t> payload() const noexcept { return payload_; }
    [[nodiscard]] wire::Ipv4Address source() const noexcept { return source_; }
    [[nodiscard]] std::uint16_t source_port() const noexcept { return source_port_; }
    // Our address, or the broadcast or multicast address it was sent to.
    [[nodiscard]] wire::Ipv4Address destination() const noexcept { return destination_; }
    [[nodiscard]] std::uint16_t destination_port() const noexcept { return destination_port_; }
    [[nodiscard]] bool valid() const noexcept { return stack_ != nullptr; }

    // Gives the storage back now (the destructor does it otherwise); the
    // payload span is invalid afterwards.
    void release() noexcept;

  private:
    friend class Stack;
    Stack* stack_ = nullptr;
    DatagramStorage storage_{};
    std::span<const std::uint8_t> payload_;
    wire::Ipv4Address source_;
    wire::Ipv4Address destination_;
    std::uint16_t source_port_ = 0;
    std::uint16_t destination_port_ = 0;
};

// A transmit frame with room for the headers in front: the application
// writes up to capacity() payload bytes into data() and sets the length.
class TxBuffer {
  public:
    TxBuffer() = default;
    TxBuffer(TxBuffer&& other) noexcept { *this = std::move(other); }
    TxBuffer& operator=(TxBuffer&& other) noexcept;
    TxBuffer(const TxBuffer&) = delete;
    TxBuffer& operator=(const TxBuffer&) = delete;
    ~TxBuffer() { release(); }

    // The whole writable payload room (capacity() bytes).
    [[nodiscard]] std::span<std::uint8_t> data() const noexcept { return room_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return room_.size(); }
    [[nodiscard]] std::size_t length() const noexcept { return length_; }
    // False, and no change, if n > capacity().
    bool set_length(std::size_t n) noexcept {
        if (n > room_.size()) return false;
        length_ = n;
        return true;
    }
    [[nodiscard]] bool valid() const noexcept { return stack_ != nullptr; }
    // Frees the frame unsent.
    void release() noexcept;

  private:
    friend class Stack;
    friend class UdpSocket;
    Stack* stack_ = nullptr;
    PacketHandle frame_{};
    std::span<std::uint8_t> room_;
    std::size_t length_ = 0;
};

// An ICMP error the network reported for a connected socket's traffic
// (RFC 1122 §4.1.3.3: UDP MUST pass ICMP errors up to the application).
// type 3 code 3 is "connection refused" (ECONNREFUSED), codes 0 and 1
// network/host unreachable, code 2 protocol unreachable.
struct IcmpReport {
    std::uint8_t type = 0;
    std::uint8_t code = 0;
    wire::Ipv4Address reporter;  // who sent the ICMP message

    [[nodiscard]] bool connection_refused() const noexcept { return type == 3 && code == 3; }
};

// Called from Stack::poll for each datagram of a socket that has a callback
// (the receive queue is bypassed); context is what set_on_datagram was
// given (typically the application object that owns the socket). The
// callback may keep the datagram by moving it out; otherwise it is released
// when the callback returns. It may send, but must not close sockets nor
// call Stack::poll (the stack's per-poll state is in use around it).
using DatagramCallback = void (*)(void* context, UdpDatagram& datagram);

class UdpSocket {
  public:
    UdpSocket() = default;
    UdpSocket(UdpSocket&& other) noexcept { *this = std::move(other); }
    UdpSocket& operator=(UdpSocket&& other) noexcept;
    UdpSocket(const UdpSocket&) = delete;
    UdpSocket& operator=(const UdpSocket&) = delete;
    ~UdpSocket() { close(); }

    [[nodiscard]] bool is_open() const noexcept { return stack_ != nullptr; }

    // local: 0.0.0.0 (any), the stack's address, or a broadcast or multicast
    // address to receive only what is sent there. port 0 picks a free
    // ephemeral port (49152-65535, RFC 6335 §6). Errors: invalid_argument
    // (already bound; address not ours, EADDRNOTAVAIL), would_block (the
    // port is in use by an overlapping binding, EADDRINUSE, unless both set
    // reuse_address), no_buffers (no ephemeral port left).
    [[nodiscard]] Status bind(wire::Ipv4Address local, std::uint16_t port) noexcept;
    // Sets the default destination and receives only from it (RFC 1122
    // §4.1.3.4 lets a connected socket filter by source). Binds an
    // ephemeral port first if unbound. Clears a pending ICMP error.
    [[nodiscard]] Status connect(wire::Ipv4Address remote, std::uint16_t port) noexcept;
    void disconnect() noexcept;

    // SO_BROADCAST: sending to a broadcast address is refused without it.
    void set_broadcast(bool on) noexcept;
    // SO_REUSEADDR for UDP: several sockets may bind the same port when all
    // set it (the multicast receiver pattern); each gets a copy of a
    // broadcast or multicast datagram.
    void set_reuse_address(bool on) noexcept;
    // IP_MULTICAST_TTL; default 1 (RFC 1112 §6.1: a multicast datagram
    // stays on the local network unless the application asks otherwise).
    void set_multicast_ttl(std::uint8_t ttl) noexcept;
    // IP_MULTICAST_LOOP; default on, as in Linux: a datagram this socket
    // sends to a group the stack has joined is also delivered to the
    // stack's sockets joined to it (this one included), at the next
    // Stack::poll (RFC 1112 §6.1: delivery to the sending host's own
    // members is the sender's choice). A looped datagram larger than one
    // frame is dropped and counted in udp.InErrors.
    void set_multicast_loop(bool on) noexcept;
    // IP_ADD_MEMBERSHIP / IP_DROP_MEMBERSHIP on the stack's interface.
    [[nodiscard]] Status join_group(wire::Ipv4Address group) noexcept;
    [[nodiscard]] Status leave_group(wire::Ipv4Address group) noexcept;

    // The oldest queued datagram, or none.
    [[nodiscard]] std::optional<UdpDatagram> receive() noexcept;
    // nullptr to go back to the queue.
    void set_on_datagram(DatagramCallback callback, void* context) noexcept;

    // An empty transmit buffer (the stack's, any socket may send it).
    [[nodiscard]] Result<TxBuffer> alloc_tx() noexcept;
    // Sends the buffer's length() bytes as one datagram and consumes the
    // buffer whatever the outcome. Larger than the MTU allows: fragmented
    // (RFC 791 §2.3). Errors: invalid_argument (no destination, broadcast
    // without set_broadcast, no route: see the reason), no_buffers (the pool
    // or resolution queue is out of frames), would_block (neighbour known
    // unreachable).
    [[nodiscard]] Status send(TxBuffer&& buffer) noexcept;
    [[nodiscard]] Status send_to(TxBuffer&& buffer, wire::Ipv4Address to, std::uint16_t port) noexcept;
    // Copying variants, for payloads of any size up to 65507 bytes.
    [[nodiscard]] Status send(std::span<const std::uint8_t> payload) noexcept;
    [[nodiscard]] Status send_to(std::span<const std::uint8_t> payload, wire::Ipv4Address to,
                                 std::uint16_t port) noexcept;

    // The pending ICMP error, cleared by reading it (SO_ERROR semantics).
    [[nodiscard]] std::optional<IcmpReport> take_error() noexcept;

    [[nodiscard]] wire::Ipv4Address local_address() const noexcept;
    [[nodiscard]] std::uint16_t local_port() const noexcept;
    [[nodiscard]] wire::Ipv4Address remote_address() const noexcept;
    [[nodiscard]] std::uint16_t remote_port() const noexcept;
    [[nodiscard]] std::size_t rx_queue_depth() const noexcept;
    [[nodiscard]] std::uint64_t rx_drops() const noexcept;

    // Releases queued datagrams, leaves groups and frees the port.
    void close() noexcept;

  private:
    friend class Stack;
    UdpSocket(Stack* stack, std::uint32_t index) noexcept : stack_(stack), index_(index) {}
    Stack* stack_ = nullptr;
    std::uint32_t index_ = 0;
};

}  // namespace kbnet::stack
