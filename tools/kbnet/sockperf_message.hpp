// sockperf's message header, as its server treats it (public source,
// src/message.h): 14 bytes at the start of every datagram, network order:
//   u64 sequence number, u16 flags, u32 length.
// Flags: bit 0 "client" (set on requests), bit 1 "pong request" (the client
// wants a reply), bit 2 "warmup". The server answers a pong request with the
// same datagram, client bit cleared; a client ignores replies that still
// carry it. Plain echo servers therefore do not work with sockperf.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kbnet/core/endian.hpp"

namespace kbnet::tools {

inline constexpr std::size_t kSockperfHeaderLen = 14;
inline constexpr std::size_t kSockperfFlagsOffset = 8;
inline constexpr std::size_t kSockperfLengthOffset = 10;
inline constexpr std::uint16_t kSockperfClient = 1;
inline constexpr std::uint16_t kSockperfPongRequest = 2;

enum class SockperfAction {
    reply,   // answer with the datagram as modified (client bit cleared)
    ignore,  // no reply wanted (throughput traffic, or a server's own reply)
    invalid  // shorter than the header: not sockperf
};

// True if datagram looks like a sockperf client's message: the header's
// length field is the datagram's size and the client bit is set. (A random
// payload matches the 32-bit length by chance once in 2^32, so a plain echo
// client is not mistaken for sockperf.)
[[nodiscard]] inline bool is_sockperf_request(std::span<const std::uint8_t> datagram) noexcept {
    return datagram.size() >= kSockperfHeaderLen &&
           load_be32(datagram.data() + kSockperfLengthOffset) == datagram.size() &&
           (load_be16(datagram.data() + kSockperfFlagsOffset) & kSockperfClient) != 0;
}

// Decides what a sockperf server does with one received datagram and, for a
// reply, turns it into the reply in place.
[[nodiscard]] inline SockperfAction sockperf_serve(std::span<std::uint8_t> datagram) noexcept {
    if (datagram.size() < kSockperfHeaderLen) return SockperfAction::invalid;
    std::uint8_t* flags_at = datagram.data() + kSockperfFlagsOffset;
    const std::uint16_t flags = load_be16(flags_at);
    if ((flags & kSockperfClient) == 0 || (flags & kSockperfPongRequest) == 0) return SockperfAction::ignore;
    store_be16(flags_at, static_cast<std::uint16_t>(flags & ~kSockperfClient));
    return SockperfAction::reply;
}

}  // namespace kbnet::tools
