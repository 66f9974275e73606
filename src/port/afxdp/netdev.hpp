// Facts about a network interface that the afxdp port checks before it
// touches the device, so each problem becomes a one-line PortError that
// names the fix (and nothing is left attached).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace kbnet::port::afxdp {

// ifindex of the interface in this network namespace. Throws PortError
// "no interface 'X' (see `ip link`)".
[[nodiscard]] int interface_index(std::string_view ifname);

// Number of rx queues (channels) an XDP socket can bind to, and where the
// number came from ("/sys/class/net/X/queues" or "ethtool channels").
struct QueueCount {
    unsigned count = 1;
    std::string source;
};
[[nodiscard]] QueueCount rx_queue_count(std::string_view ifname, int ifindex);

// The interface's MTU (SIOCGIFMTU). Throws PortError if it cannot be read.
[[nodiscard]] unsigned interface_mtu(std::string_view ifname);

// The driver's name ("veth", "mlx5_core", ...), or "" if unknown.
[[nodiscard]] std::string driver_name(std::string_view ifname);

// Capabilities an AF_XDP port needs: CAP_NET_ADMIN (attach XDP, bind XDP
// sockets), CAP_NET_RAW (create them) and CAP_BPF or CAP_SYS_ADMIN (load the
// program and its maps). Returns the names of those missing from an
// effective set (the CapEff bitmask of /proc/PID/status), "" if none.
[[nodiscard]] std::string missing_capabilities(std::uint64_t effective);
// The same for this process (reads /proc/self/status).
[[nodiscard]] std::string missing_capabilities_of_self();

}  // namespace kbnet::port::afxdp
