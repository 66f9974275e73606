// Facts about a Linux network interface and about this process's
// privileges, shared by the backends that open a kernel device (afxdp,
// afpacket). Each backend checks them before it touches the device, so
// every problem becomes a one-line PortError that names the fix and
// nothing is left half set up.
//
// All answers are for the caller's network namespace: the ioctls run on a
// socket created in it, and /sys is trusted only when its ifindex matches
// (`ip netns exec` remounts /sys, a plain setns does not).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kbnet::port::netdev {

// ifindex of the interface. Throws PortError "no interface 'X' (see `ip link`)".
[[nodiscard]] int interface_index(std::string_view ifname);

// Number of rx queues (channels) of the device, and where the number came
// from ("/sys/class/net/X/queues" or "ethtool channels").
struct QueueCount {
    unsigned count = 1;
    std::string source;
};
[[nodiscard]] QueueCount rx_queue_count(std::string_view ifname, int ifindex);

// The interface's MTU (SIOCGIFMTU). Throws PortError if it cannot be read.
[[nodiscard]] unsigned interface_mtu(std::string_view ifname);

// Administrative state (IFF_UP: `ip link set dev X up`) and carrier
// (IFF_RUNNING: the link is operational, e.g. a veth whose peer is up too).
struct LinkState {
    bool up = false;
    bool carrier = false;
};
// SIOCGIFFLAGS. Throws PortError if it cannot be read.
[[nodiscard]] LinkState link_state(std::string_view ifname);

// The link-layer type (ARPHRD_ETHER, ARPHRD_LOOPBACK, ARPHRD_NONE for a
// tun device, ...) from SIOCGIFHWADDR. Throws PortError if it cannot be read.
[[nodiscard]] unsigned link_type(std::string_view ifname);

// The driver's name ("veth", "mlx5_core", ...), or "" if unknown.
[[nodiscard]] std::string driver_name(std::string_view ifname);

// The effective capability set of this process (the CapEff bitmask of
// /proc/self/status), or nullopt when it cannot be read (no /proc): then
// the caller lets the operations themselves report EPERM.
[[nodiscard]] std::optional<std::uint64_t> effective_capabilities();
[[nodiscard]] constexpr bool has_capability(std::uint64_t effective, unsigned cap) noexcept {
    return cap < 64 && ((effective >> cap) & 1u) != 0;
}

}  // namespace kbnet::port::netdev
