// The real KernelSource: the netlink mirror and kernel port reservations.
#include "kbnet/stack/kernel_source.hpp"

#include <vector>

#include "kbnet/stack/kernel_port_reservation.hpp"

namespace kbnet::stack {
namespace {

class KernelTablesSource final : public KernelSource {
  public:
    KernelTablesSource(std::string_view interface, std::uint32_t max_ports, const KernelTablesConfig& config)
        : tables_(interface, config) {
        held_.reserve(max_ports);
    }

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

  private:
    KernelTables tables_;
    std::vector<KernelPortReservation> held_;
};

}  // namespace

std::unique_ptr<KernelSource> make_kernel_source(std::string_view interface, std::uint32_t max_ports,
                                                 const KernelTablesConfig& config) {
    return std::make_unique<KernelTablesSource>(interface, max_ports, config);
}

}  // namespace kbnet::stack
