// The real KernelSource: the netlink mirror and kernel port reservations.
#include "kbnet/stack/kernel_source.hpp"

#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <utility>
#include <vector>

#include "kbnet/core/log.hpp"
#include "kbnet/stack/kernel_port_reservation.hpp"
#include "kbnet/stack/multicast_groups.hpp"

namespace kbnet::stack {
namespace {

class KernelTablesSource final : public KernelSource {
  public:
    KernelTablesSource(std::string_view interface, std::uint32_t max_ports, const KernelTablesConfig& config)
        : tables_(interface, config) {
        held_.reserve(max_ports);
        memberships_.reserve(kMaxGroups);
    }

    ~KernelTablesSource() override {
        for (const Membership& m : memberships_) ::close(m.fd);
    }
    KernelTablesSource(const KernelTablesSource&) = delete;
    KernelTablesSource& operator=(const KernelTablesSource&) = delete;

    std::size_t poll() noexcept override { return tables_.poll(); }
    std::uint64_t generation() const noexcept override { return tables_.generation(); }
    std::optional<InterfaceAddress> interface_address() const noexcept override { return tables_.interface_address(); }
    std::optional<KernelRoute> route(wire::Ipv4Address destination) const noexcept override {
        return tables_.route(destination);
    }
    std::optional<KernelNeighbour> neighbour(wire::Ipv4Address address) const noexcept override {
        return tables_.neighbour(address);
    }
    Status request_resolution(wire::Ipv4Address address, std::uint64_t now_ns) noexcept override {
        return tables_.request_resolution(address, now_ns);
    }

    Result<std::uint16_t> hold_udp_port(wire::Ipv4Address address, std::uint16_t port) noexcept override {
        if (held_.size() == held_.capacity()) {
            return Error{Errc::no_buffers, "every kernel port reservation is in use (raise max_udp_sockets)"};
        }
        auto r = KernelPortReservation::reserve_udp(address, port);
        if (!r) return r.error();
        const std::uint16_t got = r->port();
        held_.push_back(std::move(*r));  // within the reserved capacity: no allocation
        return got;
    }

    void release_udp_port(std::uint16_t port) noexcept override {
        for (std::size_t i = 0; i < held_.size(); ++i) {
            if (held_[i].port() != port) continue;
            held_[i] = std::move(held_.back());
            held_.pop_back();
            return;
        }
    }

    Status join_group(wire::Ipv4Address group) noexcept override {
        for (const Membership& m : memberships_) {
            if (m.group == group) return {};
        }
        if (memberships_.size() == memberships_.capacity()) {
            return Error{Errc::no_buffers, "the stack holds the most kernel group memberships it may"};
        }
        // One socket per group: a socket may hold only igmp_max_memberships
        // (20 by default). Never bound, so the kernel delivers nothing to it.
        const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            KBNET_LOG_WARN("kernel membership of {}: socket: {}", group.to_string(), std::strerror(errno));
            return Error{Errc::io_error, "cannot open a kernel UDP socket for the group membership (file limit?)"};
        }
        ip_mreqn request{};
        request.imr_multiaddr.s_addr = htonl(group.value);
        request.imr_ifindex = tables_.ifindex();
        if (::setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &request, sizeof request) != 0) {
            const int error = errno;
            ::close(fd);
            KBNET_LOG_WARN("kernel membership of {} on ifindex {}: IP_ADD_MEMBERSHIP: {}", group.to_string(),
                           tables_.ifindex(), std::strerror(error));
            return Error{Errc::io_error, "the kernel refused to join the group on the interface (see the log)"};
        }
        memberships_.push_back(Membership{group, fd});  // within the reserved capacity
        return {};
    }

    void leave_group(wire::Ipv4Address group) noexcept override {
        for (std::size_t i = 0; i < memberships_.size(); ++i) {
            if (memberships_[i].group != group) continue;
            ::close(memberships_[i].fd);  // closing drops the membership; the kernel reports the leave
            memberships_[i] = memberships_.back();
            memberships_.pop_back();
            return;
        }
    }

  private:
    struct Membership {
        wire::Ipv4Address group;
        int fd = -1;
    };
    static constexpr std::size_t kMaxGroups = MulticastGroups::kCapacity;

    KernelTables tables_;
    std::vector<KernelPortReservation> held_;
    std::vector<Membership> memberships_;
};

}  // namespace

std::unique_ptr<KernelSource> make_kernel_source(std::string_view interface, std::uint32_t max_ports,
                                                 const KernelTablesConfig& config) {
    return std::make_unique<KernelTablesSource>(interface, max_ports, config);
}

}  // namespace kbnet::stack
