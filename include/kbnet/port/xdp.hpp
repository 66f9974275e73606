// Inspecting and removing kbnet's XDP program on an interface from outside
// the process that attached it: `kbnet xdp status IFACE` and
// `kbnet xdp unload IFACE`.
//
// The program normally goes away with its port (the port's destructor
// detaches it, and the tools turn SIGINT/SIGTERM into a normal exit). A
// process killed with SIGKILL cannot: its program stays attached, passing
// everything to the kernel once its sockets are gone, until the next port
// on that interface replaces it or `kbnet xdp unload` removes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "kbnet/port/steering.hpp"

namespace kbnet::port {

// Counters of the XDP program, summed over CPUs.
struct XdpCounters {
    std::uint64_t redirected = 0;  // handed to an XDP socket
    std::uint64_t passed = 0;      // handed to the kernel, for any reason
    std::uint64_t dropped = 0;     // matched a drop filter
    std::uint64_t no_socket = 0;   // of passed: for kbnet, but no socket on that queue
    std::uint64_t fragments = 0;   // of passed: IPv4 fragments (never matched by port)
};

struct XdpProgramInfo {
    std::uint32_t id = 0;         // kernel program id (bpftool prog show id N)
    std::string attach_mode;      // "native", "skb" or "hw"
    bool dispatcher = false;      // attached through libxdp's dispatcher (shares the interface)
    std::uint32_t owner_pid = 0;  // process that attached it
    bool owner_alive = false;     // false: left behind by a process that is gone
    SteerMode mode = SteerMode::filtered;
    std::vector<SteeringFilter> filters;
    std::vector<std::uint32_t> socket_queues;  // rx queues with an XDP socket bound now
    XdpCounters counters;
};

struct XdpStatus {
    std::string ifname;
    std::vector<XdpProgramInfo> kbnet;  // kbnet's programs (normally zero or one)
    std::vector<std::string> others;    // other XDP programs on the interface, "name (id N)"
};

// Setup path: throws PortError for a nonexistent interface or missing
// privilege (reading BPF maps needs CAP_BPF or root).
[[nodiscard]] XdpStatus xdp_status(std::string_view ifname);
// Several lines for a person.
[[nodiscard]] std::string format_xdp_status(const XdpStatus& status);

// Detaches every kbnet program from the interface, leaving other programs
// in place. Returns how many it removed. Throws PortError as xdp_status.
unsigned xdp_unload(std::string_view ifname);

}  // namespace kbnet::port
