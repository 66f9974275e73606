// Steering: which received traffic a port hands to kbnet, for ports that
// share their device with the kernel (design.md, decision 3).
//
// On AF_XDP our XDP program decides per frame, in the driver: in filtered
// mode only IPv4 UDP/TCP packets whose local address and port match a
// filter reach kbnet and everything else stays with the kernel (ssh, ARP,
// ICMP, the host's other connections); in all mode every frame on the
// port's queues reaches kbnet (L2 tools such as l2echo).
//
// Port::steering() returns this interface for ports that have it and
// nullptr for the rest (pcap, pair: nothing to share). Calls are setup
// path: they make syscalls, may be slow, and throw PortError with the
// reason and the fix. They may be made while other threads drive the
// port's queues; the change takes effect for the next frame received.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kbnet::port {

enum class SteerMode : std::uint8_t {
    filtered = 0,  // only filter matches (the default when a port opens)
    all = 1,       // every frame on the port's queues
};

enum class FilterAction : std::uint8_t {
    redirect = 1,  // to kbnet (the XDP socket of the queue it arrived on)
    drop = 2,      // discarded in the driver, before the kernel sees it
};

// SteeringFilter::protocol value that, with port 0, takes a whole address.
inline constexpr std::uint8_t kOwnedAddress = 0;

struct SteeringFilter {
    std::uint8_t protocol = 0;  // IPPROTO_UDP (17) or IPPROTO_TCP (6)
    std::uint16_t port = 0;     // local (destination) port, host byte order
    std::uint32_t address = 0;  // local IPv4 address, host byte order; 0 = any
    FilterAction action = FilterAction::redirect;

    friend bool operator==(const SteeringFilter&, const SteeringFilter&) = default;
};

// "udp:7777", "tcp:80@10.0.0.1", "udp:53 drop".
[[nodiscard]] std::string to_string(const SteeringFilter& f);
[[nodiscard]] std::string_view to_string(SteerMode mode) noexcept;

class Steering {
  public:
    virtual ~Steering() = default;

    // Every frame on the port's queues to kbnet.
    virtual void steer_all() = 0;
    // Only filter matches to kbnet; the rest to the kernel.
    virtual void steer_filtered() = 0;
    [[nodiscard]] virtual SteerMode steer_mode() const = 0;

    // Adds (or replaces the action of) the filter for protocol/port/address.
    // An exact address is matched before the any-address filter of the same
    // port. Protocol 0 with port 0 takes a whole address (kOwnedAddress):
    // every IPv4 packet to it, fragments included, and ARP whose target it
    // is, for a stack that owns the address (dedicated mode). Throws
    // PortError for another protocol than UDP or TCP, port 0 (unless the
    // whole address), a whole address of 0.0.0.0, or a full filter table.
    virtual void add_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address = 0,
                            FilterAction action = FilterAction::redirect) = 0;
    // False if there was no such filter.
    virtual bool remove_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address = 0) = 0;
    [[nodiscard]] virtual std::vector<SteeringFilter> filters() const = 0;

  protected:
    Steering() = default;
    Steering(const Steering&) = default;
    Steering& operator=(const Steering&) = default;
};

}  // namespace kbnet::port
