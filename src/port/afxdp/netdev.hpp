// Facts about a network interface that the afxdp port checks before it
// touches the device, so each problem becomes a one-line PortError that
// names the fix (and nothing is left attached).
//
// The interface facts themselves live in port/netdev/ (the afpacket port
// uses them too); this header keeps their afxdp:: names and adds the
// capability set that AF_XDP in particular needs.
#pragma once

#include <cstdint>
#include <string>

#include "port/netdev/netdev.hpp"

namespace kbnet::port::afxdp {

using netdev::driver_name;
using netdev::interface_index;
using netdev::interface_mtu;
using netdev::QueueCount;
using netdev::rx_queue_count;

// Capabilities an AF_XDP port needs: CAP_NET_ADMIN (attach XDP, bind XDP
// sockets), CAP_NET_RAW (create them) and CAP_BPF or CAP_SYS_ADMIN (load the
// program and its maps). Returns the names of those missing from an
// effective set (the CapEff bitmask of /proc/PID/status), "" if none.
[[nodiscard]] std::string missing_capabilities(std::uint64_t effective);
// The same for this process (reads /proc/self/status).
[[nodiscard]] std::string missing_capabilities_of_self();

}  // namespace kbnet::port::afxdp
