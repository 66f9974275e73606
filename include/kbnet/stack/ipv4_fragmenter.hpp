// IPv4 fragmentation on output (RFC 791 §2.3 and §3.2 "An Example
// Fragmentation Procedure").
//
// ipv4_fragment() writes a datagram (a header value and its payload bytes)
// into frames of a FramePool, or into frames the caller allocated (the
// stack, whose frames come from its port), one fragment per frame, each
// IPv4 header at the handle's offset so the headroom stays free for the
// link header the caller prepends. A datagram that fits the MTU comes out as one
// unfragmented packet, so the output path can call it for every datagram.
//
// The rules it applies:
//  - Every fragment but the last carries a multiple of 8 payload bytes and
//    has MF set; offsets count 8-byte units; all share the identification
//    (RFC 791 §3.2). The header checksum is computed per fragment.
//  - DF set and larger than the MTU is an error, never a silent fragment
//    (RFC 791 §3.1 "Flags"): the caller reports EMSGSIZE.
//  - Options: the first fragment carries them all; later fragments only
//    those whose copied flag (the type's high bit) is set, which RFC 791
//    §3.1 "Options" requires, so their header may be shorter and their
//    payload share larger.
//  - A header that is itself a fragment (forwarding one on): offsets add to
//    its offset and the last piece keeps its MF (RFC 791 §3.2 procedure).
//  - All or nothing: frames come from FramePool::alloc_bulk, so on any
//    error no frame is taken. The caller-allocated variant writes nothing
//    the caller could send on error: it keeps its frames and frees them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "kbnet/core/buffer_area.hpp"
#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/packet.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {

// RFC 791 §3.2: "Every internet module must be able to forward a datagram
// of 68 octets without further fragmentation" (a 60-byte header and 8
// bytes of data): the smallest MTU an IPv4 link may have.
inline constexpr std::uint32_t kIpv4MinMtu = 68;

// How many packets ipv4_fragment() writes for this header, payload length
// and MTU (1 if the datagram fits), so the caller can size its handle span.
// The same errors as ipv4_fragment(), except those about the pool.
[[nodiscard]] Result<std::size_t> ipv4_fragment_count(const wire::Ipv4Header& header, std::size_t payload_len,
                                                      std::uint32_t mtu) noexcept;

// Writes the datagram header + payload as fragments of at most mtu bytes
// into frames allocated from pool, handles into out[0 .. n) in offset order,
// and returns n. header.payload_len is ignored (payload.size() is the
// length); every other field is used as given, identification included
// (the caller picks it, unique per RFC 6864 for fragmentable datagrams).
// Errors, with no frame taken:
//   invalid_argument: DF set and the datagram larger than the MTU (map to
//     EMSGSIZE); header + payload over 65535 bytes (EMSGSIZE too); MTU
//     below 68 or larger than a frame's room after the headroom; malformed
//     options; a fragment offset that would pass the field's range; out
//     shorter than the fragment count;
//   no_buffers: the pool has fewer free frames than fragments.
[[nodiscard]] Result<std::size_t> ipv4_fragment(const wire::Ipv4Header& header, std::span<const std::uint8_t> payload,
                                                std::uint32_t mtu, FramePool& pool,
                                                std::span<PacketHandle> out) noexcept;

// The same into frames the caller allocated from area: frames[0 .. n) with
// n = ipv4_fragment_count() (more is an error: the caller would not know
// which to free), fresh handles whose offset leaves the headroom free; the
// payload is head followed by body (a transport header built apart from
// its data needs no copy to join them). The lengths of the handles are
// set. The same errors, no_buffers aside; on error the caller still owns
// every frame and frees them.
[[nodiscard]] Result<std::size_t> ipv4_fragment(const wire::Ipv4Header& header, std::span<const std::uint8_t> head,
                                                std::span<const std::uint8_t> body, std::uint32_t mtu,
                                                const BufferArea& area, std::span<PacketHandle> frames) noexcept;

}  // namespace kbnet::stack
