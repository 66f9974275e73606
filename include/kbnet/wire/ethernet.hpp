// Ethernet II frames with up to two IEEE 802.1Q tags (a C-tag, or an
// 802.1ad S-tag followed by a C-tag).
//
// EthernetView / EthernetViewMut: a checked view over a received frame
// (without FCS, as every port delivers it). EthernetHeader: the value type
// that writes a header in front of a payload.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::wire {

// EtherType values (IEEE Registration Authority; IEEE 802.1Q §9.5).
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;  // C-tag (802.1Q customer VLAN)
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;  // S-tag (802.1ad service VLAN)
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;
// Values below this are an IEEE 802.3 length, not a type (IEEE 802.3
// §3.2.6): such frames carry LLC and parse, but kbnet has no use for them.
inline constexpr std::uint16_t kEtherTypeMin = 0x0600;

inline constexpr std::size_t kEthernetHeaderLen = 14;  // destination, source, type
inline constexpr std::size_t kVlanTagLen = 4;          // TPID, TCI
inline constexpr std::size_t kMaxVlanTags = 2;
// Shortest frame on the wire without FCS (IEEE 802.3 §4.4.2: 64 with FCS).
// Senders pad to it, so a received payload can be longer than its contents.
inline constexpr std::size_t kEthernetMinFrameLen = 60;

// One 802.1Q tag: TPID, then the TCI made of priority code point (3 bits),
// drop eligible indicator (1 bit) and VLAN identifier (12 bits)
// (IEEE 802.1Q §9.6).
struct VlanTag {
    std::uint16_t tpid = kEtherTypeVlan;
    std::uint8_t pcp = 0;  // 0..7
    bool dei = false;
    std::uint16_t vid = 0;  // 0..4095; 0 means priority-tagged only, 4095 is reserved

    [[nodiscard]] constexpr std::uint16_t tci() const noexcept {
        return static_cast<std::uint16_t>((pcp & 0x7) << 13 | (dei ? 1 : 0) << 12 | (vid & 0x0fff));
    }
    [[nodiscard]] static constexpr VlanTag from_tci(std::uint16_t tpid, std::uint16_t tci) noexcept {
        return {tpid, static_cast<std::uint8_t>(tci >> 13), (tci & 0x1000) != 0,
                static_cast<std::uint16_t>(tci & 0x0fff)};
    }
    friend constexpr bool operator==(const VlanTag&, const VlanTag&) = default;
};

namespace detail {
// Number of VLAN tags in front of the frame's type, after checking that
// the frame holds its whole header. Shared by both view flavours.
[[nodiscard]] Result<std::size_t> ethernet_check(std::span<const std::uint8_t> frame) noexcept;
}  // namespace detail

// Byte is `const std::uint8_t` (EthernetView, read only) or `std::uint8_t`
// (EthernetViewMut, adds setters for in-place rewrites).
template <typename Byte>
class BasicEthernetView {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks that the destination, source, every VLAN tag and the final
    // type field are present. The payload is everything after the header,
    // including any padding up to kEthernetMinFrameLen: the layer above
    // (IPv4 total length, ARP's fixed size) knows where its data ends.
    // Errors: truncated (frame shorter than its header), unsupported (more
    // than two VLAN tags).
    [[nodiscard]] static Result<BasicEthernetView> parse(std::span<Byte> frame) noexcept {
        auto tags = detail::ethernet_check(frame);
        if (!tags) return tags.error();
        return BasicEthernetView(frame, static_cast<std::uint8_t>(*tags));
    }

    [[nodiscard]] MacAddress destination() const noexcept { return mac_at(0); }
    [[nodiscard]] MacAddress source() const noexcept { return mac_at(6); }
    [[nodiscard]] std::size_t vlan_count() const noexcept { return vlan_count_; }
    // Tag i, outermost first; a default tag when i >= vlan_count().
    [[nodiscard]] VlanTag vlan(std::size_t i) const noexcept {
        if (i >= vlan_count_) return VlanTag{};
        const Byte* p = frame_.data() + 12 + i * kVlanTagLen;
        return VlanTag::from_tci(load_be16(p), load_be16(p + 2));
    }
    // The type of the payload, after any tags.
    [[nodiscard]] std::uint16_t ether_type() const noexcept { return load_be16(frame_.data() + header_len() - 2); }
    [[nodiscard]] std::size_t header_len() const noexcept { return kEthernetHeaderLen + vlan_count_ * kVlanTagLen; }
    [[nodiscard]] std::span<Byte> header() const noexcept { return frame_.first(header_len()); }
    [[nodiscard]] std::span<Byte> payload() const noexcept { return frame_.subspan(header_len()); }
    [[nodiscard]] std::span<Byte> frame() const noexcept { return frame_; }

    void set_destination(const MacAddress& mac) noexcept requires kMutable { set_mac_at(0, mac); }
    void set_source(const MacAddress& mac) noexcept requires kMutable { set_mac_at(6, mac); }
    // Rewrites the VID of tag i (VLAN translation); no-op if i >= vlan_count().
    void set_vlan_id(std::size_t i, std::uint16_t vid) noexcept requires kMutable {
        if (i >= vlan_count_) return;
        Byte* p = frame_.data() + 14 + i * kVlanTagLen;
        store_be16(p, static_cast<std::uint16_t>((load_be16(p) & 0xf000) | (vid & 0x0fff)));
    }

    [[nodiscard]] BasicEthernetView<const std::uint8_t> as_const() const noexcept {
        return BasicEthernetView<const std::uint8_t>(frame_, vlan_count_);
    }
    operator BasicEthernetView<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicEthernetView;

    BasicEthernetView(std::span<Byte> frame, std::uint8_t vlan_count) noexcept
        : frame_(frame), vlan_count_(vlan_count) {}

    MacAddress mac_at(std::size_t at) const noexcept {
        MacAddress mac;
        for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = frame_[at + i];
        return mac;
    }
    void set_mac_at(std::size_t at, const MacAddress& mac) const noexcept requires kMutable {
        for (std::size_t i = 0; i < 6; ++i) frame_[at + i] = mac.bytes[i];
    }

    std::span<Byte> frame_;
    std::uint8_t vlan_count_ = 0;
};

using EthernetView = BasicEthernetView<const std::uint8_t>;
using EthernetViewMut = BasicEthernetView<std::uint8_t>;

// An Ethernet header to write in front of a payload.
struct EthernetHeader {
    MacAddress destination;
    MacAddress source;
    std::array<VlanTag, kMaxVlanTags> vlans{};  // the first vlan_count are used, outermost first
    std::uint8_t vlan_count = 0;
    std::uint16_t ether_type = kEtherTypeIpv4;

    [[nodiscard]] static EthernetHeader from_view(const EthernetView& view) noexcept;

    [[nodiscard]] std::size_t header_len() const noexcept {
        return kEthernetHeaderLen + (vlan_count > kMaxVlanTags ? kMaxVlanTags : vlan_count) * kVlanTagLen;
    }
    // Writes header_len() bytes at the start of out. Returns invalid_argument,
    // and writes nothing, if out is shorter than header_len(), vlan_count is
    // above kMaxVlanTags, or a tag's pcp/vid is out of range.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;

    friend bool operator==(const EthernetHeader& a, const EthernetHeader& b) noexcept;
};

}  // namespace kbnet::wire
