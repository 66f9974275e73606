// The memif wire format, version 2.0: what DPDK's net_memif and VPP's
// libmemif put on the control socket and in shared memory. Facts from their
// public headers (DPDK drivers/net/memif/memif.h, VPP extras/libmemif); the
// code is ours. Everything is little-endian host order (memif is a same-host
// protocol) and read and written at explicit byte offsets, never through
// packed structs.
//
// Control channel: AF_UNIX SOCK_SEQPACKET, one 128-byte message per packet:
//   u16 type at 0, then the body at 2.
// Shared memory: regions (memfds) holding rings and buffers. A ring is a
// 128-byte header (cookie, flags, head on the first cache line, tail on the
// second) followed by 2^log2 16-byte descriptors.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace kbnet::port::memif {

inline constexpr std::uint32_t kCookie = 0x3E31F20;
inline constexpr std::uint16_t kVersion = (2 << 8) | 0;  // 2.0
inline constexpr std::size_t kMessageSize = 128;
inline constexpr std::size_t kNameSize = 32;
inline constexpr std::size_t kSecretSize = 24;
inline constexpr std::size_t kDisconnectStringSize = 96;

enum class MsgType : std::uint16_t {
    none = 0,
    ack = 1,
    hello = 2,
    init = 3,
    add_region = 4,
    add_ring = 5,
    connect = 6,
    connected = 7,
    disconnect = 8,
};
std::string_view msg_type_name(std::uint16_t type) noexcept;

inline constexpr std::uint8_t kModeEthernet = 0;
inline constexpr std::uint16_t kAddRingFlagC2S = 1;  // ring carries client -> server traffic

// Body offsets (from the start of the 128-byte message).
namespace hello {
inline constexpr std::size_t kName = 2;            // u8[32]
inline constexpr std::size_t kMinVersion = 34;     // u16
inline constexpr std::size_t kMaxVersion = 36;     // u16
inline constexpr std::size_t kMaxRegion = 38;      // u16: highest region index allowed
inline constexpr std::size_t kMaxS2CRing = 40;     // u16: highest S2C ring index allowed
inline constexpr std::size_t kMaxC2SRing = 42;     // u16: highest C2S ring index allowed
inline constexpr std::size_t kMaxLog2RingSize = 44;  // u8
}  // namespace hello
namespace init {
inline constexpr std::size_t kVersion = 2;  // u16
inline constexpr std::size_t kId = 4;       // u32
inline constexpr std::size_t kMode = 8;     // u8
inline constexpr std::size_t kSecret = 9;   // u8[24]
inline constexpr std::size_t kName = 33;    // u8[32]
}  // namespace init
namespace add_region {
inline constexpr std::size_t kIndex = 2;  // u16
inline constexpr std::size_t kSize = 4;   // u64
}  // namespace add_region
namespace add_ring {
inline constexpr std::size_t kFlags = 2;            // u16
inline constexpr std::size_t kIndex = 4;            // u16
inline constexpr std::size_t kRegion = 6;           // u16
inline constexpr std::size_t kOffset = 8;           // u32
inline constexpr std::size_t kLog2RingSize = 12;    // u8
inline constexpr std::size_t kPrivateHdrSize = 13;  // u16
}  // namespace add_ring
namespace connect {
inline constexpr std::size_t kIfName = 2;  // u8[32] (CONNECT and CONNECTED alike)
}
namespace disconnect {
inline constexpr std::size_t kCode = 2;    // u32
inline constexpr std::size_t kString = 6;  // u8[96]
}  // namespace disconnect

// Ring layout. head and tail live on separate cache lines so producer and
// consumer never write the same line.
namespace ring {
inline constexpr std::size_t kCookie = 0;   // u32
inline constexpr std::size_t kFlags = 4;    // u16
inline constexpr std::size_t kHead = 6;     // u16
inline constexpr std::size_t kTail = 64;    // u16
inline constexpr std::size_t kDescs = 128;  // descriptors start here
inline constexpr std::uint16_t kFlagMaskInterrupt = 1;  // the receiver polls: no eventfd kick wanted
inline constexpr std::size_t kDescSize = 16;
inline constexpr std::size_t bytes(unsigned log2_size) { return kDescs + (kDescSize << log2_size); }
}  // namespace ring

// One descriptor: u16 flags, u16 region, u32 length, u32 offset, u32 metadata.
struct Descriptor {
    std::uint16_t flags;
    std::uint16_t region;
    std::uint32_t length;
    std::uint32_t offset;
    std::uint32_t metadata;
};
static_assert(sizeof(Descriptor) == ring::kDescSize);
inline constexpr std::uint16_t kDescFlagNext = 1;  // the packet continues in the next slot

// Little-endian field access within a message (x86-64 and every memif host
// are little-endian; memcpy keeps the accesses unaligned-safe).
using Message = std::array<std::uint8_t, kMessageSize>;

template <typename T>
inline T get(std::span<const std::uint8_t> m, std::size_t at) noexcept {
    T v;
    std::memcpy(&v, m.data() + at, sizeof v);
    return v;
}
template <typename T>
inline void put(Message& m, std::size_t at, T v) noexcept {
    std::memcpy(m.data() + at, &v, sizeof v);
}
// Copies a string into a fixed, NUL-padded field (truncated to fit).
inline void put_text(Message& m, std::size_t at, std::size_t size, std::string_view s) noexcept {
    const std::size_t n = s.size() < size ? s.size() : size;
    std::memcpy(m.data() + at, s.data(), n);
    std::memset(m.data() + at + n, 0, size - n);
}
// Reads a fixed, possibly unterminated text field.
inline std::string_view get_text(std::span<const std::uint8_t> m, std::size_t at, std::size_t size) noexcept {
    const auto* p = reinterpret_cast<const char*>(m.data() + at);
    std::size_t n = 0;
    while (n < size && p[n] != '\0') ++n;
    return {p, n};
}

inline Message make_message(MsgType type) noexcept {
    Message m{};
    put<std::uint16_t>(m, 0, static_cast<std::uint16_t>(type));
    return m;
}

}  // namespace kbnet::port::memif
