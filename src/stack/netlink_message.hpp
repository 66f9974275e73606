// Reading rtnetlink messages (rtnetlink(7)): the helpers that
// kernel_tables.cpp, kernel_tables_resync.cpp and kernel_tables_resolve.cpp
// share to walk the kernel's replies and notifications. Internal to src/stack.
//
// Messages are read with memcpy into the uapi structs at checked offsets
// instead of through the NLMSG_*/RTA_* macros: the macros cast pointers
// (our warnings refuse old-style casts) and assume the buffer holds what
// the header claims. Every length is checked before it is used, here and
// in the parsers that use these helpers.
#pragma once

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace kbnet::stack::netlink {

inline constexpr std::size_t kAlign = 4;  // NLMSG_ALIGNTO == RTA_ALIGNTO

constexpr std::size_t align4(std::size_t n) noexcept { return (n + kAlign - 1) & ~(kAlign - 1); }
inline constexpr std::size_t kHeaderBytes = align4(sizeof(nlmsghdr));

template <typename T>
T load(const std::uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Calls f(type, data, length) for each attribute in [p, p + n), stopping at
// the first malformed one (the kernel never sends those; a short read would).
template <typename F>
void for_each_attribute(const std::uint8_t* p, std::size_t n, F&& f) noexcept {
    std::size_t offset = 0;
    while (offset + sizeof(rtattr) <= n) {
        const auto a = load<rtattr>(p + offset);
        if (a.rta_len < sizeof(rtattr) || offset + a.rta_len > n) return;
        const std::size_t header = align4(sizeof(rtattr));
        f(static_cast<std::uint16_t>(a.rta_type & NLA_TYPE_MASK), p + offset + header,
          a.rta_len >= header ? a.rta_len - header : 0);
        offset += align4(a.rta_len);
    }
}

inline std::uint32_t load_ipv4(const std::uint8_t* p, std::size_t n) noexcept {
    if (n < 4) return 0;
    return ntohl(load<std::uint32_t>(p));
}

}  // namespace kbnet::stack::netlink
