// KernelPortReservation: a reserved UDP port is unavailable to kernel
// sockets until released, port 0 gets a real ephemeral port, and a port the
// kernel already holds is refused with a reason. Uses 127.0.0.1 in the
// test's own network namespace; no privilege needed.
#include "kbnet/stack/kernel_port_reservation.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <string>
#include <utility>

namespace kbnet::stack {
namespace {

using wire::Ipv4Address;

constexpr Ipv4Address kLoopback = Ipv4Address::from_octets(127, 0, 0, 1);

// 0 if a plain kernel UDP socket can bind address:port, else its errno.
int kernel_bind_errno(Ipv4Address address, std::uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(address.value);
    const int rc = ::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa);
    const int error = rc == 0 ? 0 : errno;
    ::close(fd);
    return error;
}

// A port free right now: the kernel picks one, we release it.
std::uint16_t free_port() {
    auto r = KernelPortReservation::reserve_udp(kLoopback, 0);
    EXPECT_TRUE(r.ok()) << r.error().reason;
    return r.ok() ? r->port() : 0;
}

TEST(KernelPortReservation, ReservedPortRefusesKernelBindsUntilReleased) {
    const std::uint16_t port = free_port();
    ASSERT_NE(port, 0);
    auto r = KernelPortReservation::reserve_udp(kLoopback, port);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    EXPECT_TRUE(r->held());
    EXPECT_EQ(r->port(), port);
    EXPECT_EQ(r->address(), kLoopback);
    EXPECT_EQ(kernel_bind_errno(kLoopback, port), EADDRINUSE);
    // A wildcard bind overlaps the specific address too.
    EXPECT_EQ(kernel_bind_errno(Ipv4Address{}, port), EADDRINUSE);
    r->release();
    EXPECT_FALSE(r->held());
    EXPECT_EQ(kernel_bind_errno(kLoopback, port), 0);
}

TEST(KernelPortReservation, DestructionGivesThePortBack) {
    std::uint16_t port = 0;
    {
        auto r = KernelPortReservation::reserve_udp(kLoopback, 0);
        ASSERT_TRUE(r.ok()) << r.error().reason;
        port = r->port();
        EXPECT_EQ(kernel_bind_errno(kLoopback, port), EADDRINUSE);
    }
    EXPECT_EQ(kernel_bind_errno(kLoopback, port), 0);
}

TEST(KernelPortReservation, PortZeroGetsARealEphemeralPortTheKernelThenRefuses) {
    auto r = KernelPortReservation::reserve_udp(kLoopback, 0);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    EXPECT_NE(r->port(), 0);
    EXPECT_EQ(kernel_bind_errno(kLoopback, r->port()), EADDRINUSE);
    auto other = KernelPortReservation::reserve_udp(kLoopback, 0);
    ASSERT_TRUE(other.ok()) << other.error().reason;
    EXPECT_NE(other->port(), r->port());
}

TEST(KernelPortReservation, SecondReservationOfAPortFailsWithAReason) {
    auto first = KernelPortReservation::reserve_udp(kLoopback, 0);
    ASSERT_TRUE(first.ok()) << first.error().reason;
    auto second = KernelPortReservation::reserve_udp(kLoopback, first->port());
    ASSERT_FALSE(second.ok());
    EXPECT_EQ(second.code(), Errc::would_block);
    EXPECT_NE(std::string(second.error().reason).find("port in use by a kernel socket"), std::string::npos);
}

TEST(KernelPortReservation, PortHeldByAnotherKernelSocketIsRefused) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(kLoopback.value);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa), 0);
    socklen_t len = sizeof sa;
    ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len), 0);
    auto r = KernelPortReservation::reserve_udp(kLoopback, ntohs(sa.sin_port));
    EXPECT_EQ(r.code(), Errc::would_block);
    ::close(fd);
}

TEST(KernelPortReservation, MoveTransfersTheHoldAndTheMovedFromDoesNotRelease) {
    auto r = KernelPortReservation::reserve_udp(kLoopback, 0);
    ASSERT_TRUE(r.ok()) << r.error().reason;
    const std::uint16_t port = r->port();
    KernelPortReservation moved(std::move(*r));
    EXPECT_FALSE(r->held());
    EXPECT_TRUE(moved.held());
    EXPECT_EQ(moved.port(), port);
    r->release();  // the moved-from object owns nothing: the port stays held
    EXPECT_EQ(kernel_bind_errno(kLoopback, port), EADDRINUSE);

    // Move assignment releases what the target held.
    auto other = KernelPortReservation::reserve_udp(kLoopback, 0);
    ASSERT_TRUE(other.ok()) << other.error().reason;
    const std::uint16_t other_port = other->port();
    *other = std::move(moved);
    EXPECT_EQ(other->port(), port);
    EXPECT_EQ(kernel_bind_errno(kLoopback, other_port), 0);
    EXPECT_EQ(kernel_bind_errno(kLoopback, port), EADDRINUSE);
}

TEST(KernelPortReservation, AddressNotOnThisHostIsAnInvalidArgument) {
    auto r = KernelPortReservation::reserve_udp(Ipv4Address::from_octets(192, 0, 2, 77), 0);  // TEST-NET-1
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.code(), Errc::invalid_argument);
}

}  // namespace
}  // namespace kbnet::stack
