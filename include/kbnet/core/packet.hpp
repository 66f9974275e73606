// The packet handle: which frame of a buffer area holds a packet, where in
// the frame it starts and how long it is. Handles are 8 bytes and trivially
// copyable, so bursts of them move through rings by value. Ownership of the
// frame travels with the handle: whoever holds it must pass it on (tx_burst,
// a ring) or free it; there are no reference counts on the fast path.
#pragma once

#include <cstdint>
#include <type_traits>

namespace kbnet {

struct PacketHandle {
    std::uint32_t frame = 0;   // index of the frame in its buffer area
    std::uint16_t offset = 0;  // first byte of the packet, from the frame start
    std::uint16_t length = 0;  // bytes of packet data

    // Grows the packet by n bytes at the front, into the headroom (to put a
    // header in front of a payload). False, and no change, if the headroom
    // is smaller than n or the length would not fit in 16 bits.
    [[nodiscard]] constexpr bool prepend(std::uint16_t n) noexcept {
        if (n > offset || n > 0xffffu - length) return false;
        offset = static_cast<std::uint16_t>(offset - n);
        length = static_cast<std::uint16_t>(length + n);
        return true;
    }
    // Removes n bytes from the front (to strip a header). False, and no
    // change, if the packet is shorter than n.
    [[nodiscard]] constexpr bool trim_front(std::uint16_t n) noexcept {
        if (n > length) return false;
        offset = static_cast<std::uint16_t>(offset + n);
        length = static_cast<std::uint16_t>(length - n);
        return true;
    }
    // Removes n bytes from the end (Ethernet padding, a trailer).
    [[nodiscard]] constexpr bool trim_back(std::uint16_t n) noexcept {
        if (n > length) return false;
        length = static_cast<std::uint16_t>(length - n);
        return true;
    }

    friend constexpr bool operator==(const PacketHandle&, const PacketHandle&) = default;
};

static_assert(sizeof(PacketHandle) == 8);
static_assert(std::is_trivially_copyable_v<PacketHandle>);

// Default burst size of every rx/tx loop: large enough to amortise a ring
// update or a wakeup over many packets, small enough that a burst of
// handles and the headers it touches stay in L1.
inline constexpr std::uint16_t kDefaultBurst = 32;

}  // namespace kbnet
