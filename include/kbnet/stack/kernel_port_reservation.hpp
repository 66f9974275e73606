// A kernel socket holding a port that kbnet serves, in the shared address
// model (design.md, decision 4): kbnet and the kernel use the same address,
// so without it the kernel could give the same port to another
// application's bind() or connect() (an ephemeral port), and the XDP filter
// would steer that application's traffic to kbnet.
//
//   auto r = KernelPortReservation::reserve_udp(address, 0);  // 0: kernel picks
//   if (!r) fail(r.error().reason);
//   bind kbnet's socket to r->port(), add the steering filter, keep *r alive
//
// The kernel socket never reads: datagrams the XDP program steers to kbnet
// never reach it, and any that do (before the filter is installed, or on a
// port without a filter) sit in its small receive buffer until it is full
// and are then dropped by the kernel, counted as UDP receive-buffer errors.
//
// Move-only; the destructor closes the socket, giving the port back.
#pragma once

#include <cstdint>

#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

class KernelPortReservation {
  public:
    // Binds a kernel UDP socket to address:port (address 0: every local
    // address, INADDR_ANY). Port 0 lets the kernel choose from its ephemeral
    // range (net.ipv4.ip_local_port_range); port() reports the choice.
    // SO_REUSEADDR and SO_REUSEPORT stay off, so the bind fails if any
    // kernel socket holds the port, and no later socket can share it.
    // Errors: Errc::would_block "port in use by a kernel socket"
    // (EADDRINUSE, the same code the stack's UDP table uses for a bound
    // port); Errc::invalid_argument for an address not on this host
    // (EADDRNOTAVAIL); Errc::io_error for the rest.
    [[nodiscard]] static Result<KernelPortReservation> reserve_udp(wire::Ipv4Address address,
                                                                   std::uint16_t port) noexcept;

    KernelPortReservation(KernelPortReservation&& other) noexcept;
    KernelPortReservation& operator=(KernelPortReservation&& other) noexcept;
    KernelPortReservation(const KernelPortReservation&) = delete;
    KernelPortReservation& operator=(const KernelPortReservation&) = delete;
    ~KernelPortReservation();

    [[nodiscard]] wire::Ipv4Address address() const noexcept { return address_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }  // host order, never 0 while held
    [[nodiscard]] bool held() const noexcept { return fd_ >= 0; }
    // Closes the socket now; the port is free for the kernel again.
    void release() noexcept;

  private:
    KernelPortReservation(int fd, wire::Ipv4Address address, std::uint16_t port) noexcept
        : fd_(fd), address_(address), port_(port) {}

    int fd_ = -1;
    wire::Ipv4Address address_;
    std::uint16_t port_ = 0;
};

}  // namespace kbnet::stack
