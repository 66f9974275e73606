// What the kernel tables' source files (kernel_tables.cpp and
// kernel_tables_resync.cpp) share besides message parsing, which is in
// netlink_message.hpp: the log rate limit, the order of the route table
// (kept by apply_route, restored by finish_dump after a dump), the setup's
// error helper, and the dump socket that the constructor opens and the
// resync reopens after a failed dump. Internal to src/stack.
#pragma once

#include <errno.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>

#include "kbnet/stack/kernel_tables.hpp"

namespace kbnet::stack::kernel_tables_detail {

inline constexpr std::uint64_t kLogIntervalNs = 10'000'000'000;

// Every field of a route, for ordering and equality.
inline auto route_fields(const KernelTables::RouteEntry& r) noexcept {
    return std::tie(r.destination, r.mask, r.priority, r.gateway, r.source, r.oif, r.prefix_len, r.tos, r.type, r.dead);
}

inline bool route_before(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    if (a.prefix_len != b.prefix_len) return a.prefix_len > b.prefix_len;
    if (a.priority != b.priority) return a.priority < b.priority;
    // Lookups need only the two keys above: of routes with equal prefix
    // length and metric at most one destination matches an address. But
    // the order must be total, or the sorted dump and the table built by
    // notifications (inserted at upper_bound) could hold equal routes in
    // different orders, and same_routes would report a change that is not
    // one. Among the kernel's alternatives for one prefix (`ip route
    // append`: same prefix, TOS and metric) the one chosen is then a fixed
    // one (the lowest gateway), not the kernel's first.
    return route_fields(a) < route_fields(b);
}

inline bool same_route_fields(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    return route_fields(a) == route_fields(b);
}

[[noreturn]] inline void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::system_category().message(errno));
}

// The dump socket, or -1 with errno set (kernel_tables.cpp).
int open_dump_socket() noexcept;

}  // namespace kbnet::stack::kernel_tables_detail
