// Kernel port reservation for the shared address model: see the header.
#include "kbnet/stack/kernel_port_reservation.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <utility>

namespace kbnet::stack {

Result<KernelPortReservation> KernelPortReservation::reserve_udp(wire::Ipv4Address address,
                                                                 std::uint16_t port) noexcept {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return Error{Errc::io_error, "cannot open a kernel UDP socket to reserve the port (file limit?)"};
    // A small receive buffer: the socket exists to hold the port, and
    // anything the kernel delivers to it is dropped once this fills (the
    // kernel rounds it up to its minimum).
    const int receive_buffer = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(port);
    local.sin_addr.s_addr = htonl(address.value);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
        const int error = errno;
        ::close(fd);
        switch (error) {
            case EADDRINUSE: return Error{Errc::would_block, "port in use by a kernel socket (EADDRINUSE)"};
            case EADDRNOTAVAIL:
                return Error{Errc::invalid_argument, "address is not one of this host's (EADDRNOTAVAIL)"};
            case EACCES:
                return Error{Errc::invalid_argument,
                             "port below net.ipv4.ip_unprivileged_port_start needs CAP_NET_BIND_SERVICE (EACCES)"};
            default: return Error{Errc::io_error, "kernel UDP bind to reserve the port failed"};
        }
    }
    sockaddr_in bound{};
    socklen_t bound_len = sizeof bound;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
        ::close(fd);
        return Error{Errc::io_error, "getsockname on the reservation socket failed"};
    }
    return KernelPortReservation(fd, address, ntohs(bound.sin_port));
}

KernelPortReservation::KernelPortReservation(KernelPortReservation&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), address_(other.address_), port_(std::exchange(other.port_, 0)) {}

KernelPortReservation& KernelPortReservation::operator=(KernelPortReservation&& other) noexcept {
    if (this != &other) {
        release();
        fd_ = std::exchange(other.fd_, -1);
        address_ = other.address_;
        port_ = std::exchange(other.port_, 0);
    }
    return *this;
}

KernelPortReservation::~KernelPortReservation() { release(); }

void KernelPortReservation::release() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

}  // namespace kbnet::stack
