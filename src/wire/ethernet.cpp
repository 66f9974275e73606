#include "kbnet/wire/ethernet.hpp"

namespace kbnet::wire {
namespace {

constexpr bool is_vlan_tpid(std::uint16_t type) noexcept { return type == kEtherTypeVlan || type == kEtherTypeQinQ; }

}  // namespace

namespace detail {

Result<std::size_t> ethernet_check(std::span<const std::uint8_t> frame) noexcept {
    if (frame.size() < kEthernetHeaderLen) return Error{Errc::truncated, "Ethernet frame shorter than 14 bytes"};
    // IEEE 802.1Q §9.5: a tag is recognised by its TPID in the type position.
    // 802.1ad puts an S-tag (0x88a8) before the C-tag (0x8100); older QinQ
    // gear stacks two 0x8100 tags. Accept either TPID at either position,
    // as Linux does, and refuse a third tag rather than mistake it for a
    // payload type.
    std::size_t tags = 0;
    while (is_vlan_tpid(load_be16(frame.data() + 12 + tags * kVlanTagLen))) {
        if (tags == kMaxVlanTags) return Error{Errc::unsupported, "Ethernet frame with more than two VLAN tags"};
        ++tags;
        if (frame.size() < kEthernetHeaderLen + tags * kVlanTagLen) {
            return Error{Errc::truncated, "Ethernet frame ends inside a VLAN tag"};
        }
    }
    return tags;
}

}  // namespace detail

EthernetHeader EthernetHeader::from_view(const EthernetView& view) noexcept {
    EthernetHeader h;
    h.destination = view.destination();
    h.source = view.source();
    h.vlan_count = static_cast<std::uint8_t>(view.vlan_count());
    for (std::size_t i = 0; i < view.vlan_count(); ++i) h.vlans[i] = view.vlan(i);
    h.ether_type = view.ether_type();
    return h;
}

Status EthernetHeader::emit(std::span<std::uint8_t> out) const noexcept {
    if (vlan_count > kMaxVlanTags) return Error{Errc::invalid_argument, "EthernetHeader: at most two VLAN tags"};
    if (out.size() < header_len())
        return Error{Errc::invalid_argument, "EthernetHeader: buffer shorter than header_len()"};
    for (std::size_t i = 0; i < vlan_count; ++i) {
        if (!is_vlan_tpid(vlans[i].tpid)) {
            return Error{Errc::invalid_argument, "EthernetHeader: VLAN tpid must be 0x8100 or 0x88a8"};
        }
        if (vlans[i].pcp > 7 || vlans[i].vid > 0x0fff) {
            return Error{Errc::invalid_argument, "EthernetHeader: VLAN pcp above 7 or vid above 4095"};
        }
    }
    std::uint8_t* p = out.data();
    for (std::size_t i = 0; i < 6; ++i) p[i] = destination.bytes[i];
    for (std::size_t i = 0; i < 6; ++i) p[6 + i] = source.bytes[i];
    p += 12;
    for (std::size_t i = 0; i < vlan_count; ++i) {
        store_be16(p, vlans[i].tpid);
        store_be16(p + 2, vlans[i].tci());
        p += kVlanTagLen;
    }
    store_be16(p, ether_type);
    return {};
}

bool operator==(const EthernetHeader& a, const EthernetHeader& b) noexcept {
    if (a.destination != b.destination || a.source != b.source || a.vlan_count != b.vlan_count ||
        a.ether_type != b.ether_type) {
        return false;
    }
    for (std::size_t i = 0; i < a.vlan_count && i < kMaxVlanTags; ++i) {
        if (a.vlans[i] != b.vlans[i]) return false;
    }
    return true;
}

}  // namespace kbnet::wire
