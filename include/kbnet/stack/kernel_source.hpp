// What a stack in the shared address model (design.md, decision 4) needs
// from the kernel beside it: the interface's address, routes and neighbours
// (the kernel keeps ARP), a way to make the kernel resolve a neighbour, and
// kernel sockets holding the UDP ports the stack serves so the kernel never
// hands them to another application, and kernel memberships of the groups
// its sockets join (the kernel keeps IGMP, as it keeps ARP).
//
// An interface so the stack's shared-mode logic can be tested with a fake
// (tests/unit/stack/test_stack_shared.cpp); make_kernel_source() gives the
// real one: a KernelTables netlink mirror and KernelPortReservations.
//
// Calls come from the stack's polling thread only. poll() and the lookups
// are on the data path (no allocation, no blocking); hold_udp_port and
// release_udp_port are control path (a syscall each, made by bind/close).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

#include "kbnet/core/result.hpp"
#include "kbnet/stack/kernel_tables.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

class KernelSource {
  public:
    virtual ~KernelSource() = default;

    // Follows the kernel's changes (the stack calls it about once a
    // millisecond); returns the changes applied.
    virtual std::size_t poll() noexcept = 0;
    // Changes whenever a table may have changed: the stack flushes what it
    // cached under an older value.
    [[nodiscard]] virtual std::uint64_t generation() const noexcept = 0;
    [[nodiscard]] virtual std::optional<InterfaceAddress> interface_address() const noexcept = 0;
    [[nodiscard]] virtual std::optional<KernelRoute> route(wire::Ipv4Address destination) const noexcept = 0;
    [[nodiscard]] virtual std::optional<KernelNeighbour> neighbour(wire::Ipv4Address address) const noexcept = 0;
    // Makes the kernel resolve (or re-confirm) the neighbour; rate-limited
    // per address (Errc::would_block when suppressed).
    [[nodiscard]] virtual Status request_resolution(wire::Ipv4Address address, std::uint64_t now_ns) noexcept = 0;

    // Binds a kernel UDP socket to address:port and keeps it until
    // release_udp_port(port); port 0 lets the kernel choose. Returns the
    // port held. Errors as KernelPortReservation::reserve_udp (would_block:
    // a kernel socket has the port, EADDRINUSE).
    [[nodiscard]] virtual Result<std::uint16_t> hold_udp_port(wire::Ipv4Address address,
                                                              std::uint16_t port) noexcept = 0;
    virtual void release_udp_port(std::uint16_t port) noexcept = 0;

    // Makes the kernel a member of group on the interface until
    // leave_group(group) (a kernel socket's IP_ADD_MEMBERSHIP): the kernel
    // then sends the IGMP reports and answers the queries for the host, as
    // it does ARP, and the device's multicast filter lets the group in.
    // Control path (a socket and a setsockopt, made by the first join).
    [[nodiscard]] virtual Status join_group(wire::Ipv4Address group) noexcept = 0;
    virtual void leave_group(wire::Ipv4Address group) noexcept = 0;
};

// KernelTables(interface) plus up to max_ports KernelPortReservations
// (memory for them taken here). Throws what KernelTables throws.
[[nodiscard]] std::unique_ptr<KernelSource> make_kernel_source(std::string_view interface, std::uint32_t max_ports,
                                                               const KernelTablesConfig& config = {});

}  // namespace kbnet::stack
