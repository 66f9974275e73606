// The UDP socket table of one stack: control blocks, port bindings and the
// demultiplexing of received datagrams to sockets (RFC 768, RFC 1122 §4.1).
//
// All memory (control blocks and every socket's receive queue) is taken at
// construction; open, bind and close only move indices, and lookups are a
// direct index by port followed by a short chain of the sockets bound to it.
// UdpSocket (udp_socket.hpp) is the application's handle onto a block here.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "kbnet/core/result.hpp"
#include "kbnet/stack/stats_segment.hpp"
#include "kbnet/stack/udp_socket.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

// RFC 6335 §6: the dynamic (ephemeral) port range, as IANA assigns it.
inline constexpr std::uint16_t kEphemeralFirst = 49152;
inline constexpr std::uint16_t kEphemeralLast = 65535;
// Groups one socket may join (Linux's IP_MAX_MEMBERSHIPS default is 20).
inline constexpr std::size_t kMaxGroupsPerSocket = 20;

// A datagram waiting in a socket's receive queue.
struct QueuedDatagram {
    DatagramStorage storage;
    const std::uint8_t* payload = nullptr;
    std::uint16_t length = 0;
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;
    wire::Ipv4Address source;
    wire::Ipv4Address destination;
};

struct UdpControlBlock {
    static constexpr std::uint32_t kNone = UINT32_MAX;

    bool in_use = false;
    bool bound = false;
    bool connected = false;
    bool broadcast = false;
    bool reuse_address = false;
    std::uint8_t multicast_ttl = 1;
    // IP_MULTICAST_LOOP: on by default, as in Linux (ip(7)).
    bool multicast_loop = true;
    wire::Ipv4Address local_address;
    std::uint16_t local_port = 0;
    wire::Ipv4Address remote_address;
    std::uint16_t remote_port = 0;
    std::uint32_t next_on_port = kNone;  // chain of the sockets bound to local_port
    std::uint32_t next_free = kNone;

    QueuedDatagram* queue = nullptr;  // ring of the table's queue_depth entries
    std::uint32_t queue_head = 0;
    std::uint32_t queue_count = 0;

    DatagramCallback callback = nullptr;
    void* callback_context = nullptr;
    std::optional<IcmpReport> error;

    std::array<wire::Ipv4Address, kMaxGroupsPerSocket> groups{};
    std::uint16_t group_count = 0;

    std::optional<SocketSlot> stats_slot;  // listed in the StatsSegment
    SocketCounters local_counters;         // used when not listed
    SocketCounters* counters = &local_counters;

    [[nodiscard]] bool joined(wire::Ipv4Address group) const noexcept {
        for (std::uint16_t i = 0; i < group_count; ++i) {
            if (groups[i] == group) return true;
        }
        return false;
    }
    // Joined group and bound where its datagrams can reach it: to the
    // wildcard address or to the group (a socket bound to a unicast address
    // takes no multicast).
    [[nodiscard]] bool takes_group(wire::Ipv4Address group) const noexcept {
        return joined(group) && (local_address.is_unspecified() || local_address == group);
    }
};

class UdpTable {
  public:
    static constexpr std::uint32_t kNone = UdpControlBlock::kNone;

    // Setup path: throws std::invalid_argument for a zero capacity or depth.
    UdpTable(std::uint32_t max_sockets, std::uint32_t queue_depth);
    UdpTable(const UdpTable&) = delete;
    UdpTable& operator=(const UdpTable&) = delete;

    // A fresh unbound block; no_buffers when all max_sockets are open.
    [[nodiscard]] Result<std::uint32_t> open() noexcept;
    // Unbinds and frees the block. Its queue must already be empty (the
    // stack releases the datagrams first).
    void close(std::uint32_t index) noexcept;
    // Undoes bind() (the socket stays open, unbound).
    void unbind(std::uint32_t index) noexcept;

    // Binds an open, unbound block. port 0: the next free ephemeral port.
    // Address validity is the caller's (the stack knows its addresses).
    [[nodiscard]] Status bind(std::uint32_t index, wire::Ipv4Address local, std::uint16_t port) noexcept;

    [[nodiscard]] UdpControlBlock& at(std::uint32_t index) noexcept { return blocks_[index]; }
    [[nodiscard]] const UdpControlBlock& at(std::uint32_t index) const noexcept { return blocks_[index]; }
    [[nodiscard]] std::uint32_t queue_depth() const noexcept { return queue_depth_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] std::uint32_t open_count() const noexcept { return open_count_; }

    // The socket a unicast datagram goes to: among those bound to dport
    // whose local address is any or dst and that, if connected, are
    // connected to (src, sport), the most specific (connected beats
    // unconnected, a specific address beats any), as Linux scores them.
    [[nodiscard]] std::uint32_t lookup_unicast(wire::Ipv4Address dst, std::uint16_t dport, wire::Ipv4Address src,
                                               std::uint16_t sport) const noexcept;
    // Does the socket take a broadcast or multicast datagram to (dst, its
    // port) from (src, sport)? Multicast needs the socket's own membership
    // (like Linux with IP_MULTICAST_ALL off).
    [[nodiscard]] bool accepts_group_datagram(std::uint32_t index, wire::Ipv4Address dst, wire::Ipv4Address src,
                                              std::uint16_t sport) const noexcept;
    // First socket bound to port, then the next of the chain.
    [[nodiscard]] std::uint32_t first_on_port(std::uint16_t port) const noexcept { return port_head_[port]; }
    [[nodiscard]] std::uint32_t next_on_port(std::uint32_t index) const noexcept { return blocks_[index].next_on_port; }
    // The connected socket an ICMP error quoting (local_port -> remote,
    // remote_port) is about; kNone if none.
    [[nodiscard]] std::uint32_t find_connected(std::uint16_t local_port, wire::Ipv4Address remote,
                                               std::uint16_t remote_port) const noexcept;

  private:
    [[nodiscard]] bool conflicts(wire::Ipv4Address local, std::uint16_t port, bool reuse) const noexcept;
    void unlink_port(std::uint32_t index) noexcept;

    std::uint32_t capacity_;
    std::uint32_t queue_depth_;
    std::uint32_t open_count_ = 0;
    std::uint32_t free_head_ = kNone;
    std::uint16_t ephemeral_next_ = kEphemeralFirst;
    std::unique_ptr<UdpControlBlock[]> blocks_;
    std::unique_ptr<QueuedDatagram[]> queues_;
    std::unique_ptr<std::uint32_t[]> port_head_;  // 65536 chain heads, kNone when no socket has the port
};

}  // namespace kbnet::stack
