#include "kbnet/wire/arp.hpp"

#include "kbnet/wire/ethernet.hpp"

namespace kbnet::wire {

namespace detail {

Status arp_check(std::span<const std::uint8_t> packet) noexcept {
    if (packet.size() < kArpLen) return Error{Errc::truncated, "ARP packet shorter than 28 bytes"};
    // RFC 826 reception: "?Do I have the hardware type in ar$hrd? ... ?Do I
    // speak the protocol in ar$pro?" — if not, discard. The address lengths
    // must match too, or the offsets of every later field are wrong.
    if (load_be16(packet.data()) != kArpHardwareEthernet || load_be16(packet.data() + 2) != kEtherTypeIpv4 ||
        packet[4] != 6 || packet[5] != 4) {
        return Error{Errc::unsupported, "ARP packet is not for IPv4 over Ethernet"};
    }
    return {};
}

}  // namespace detail

ArpPacket ArpPacket::from_view(const ArpView& view) noexcept {
    return {view.operation(), view.sender_mac(), view.sender_ip(), view.target_mac(), view.target_ip()};
}

Status ArpPacket::emit(std::span<std::uint8_t> out) const noexcept {
    if (out.size() < kArpLen) return Error{Errc::invalid_argument, "ArpPacket: buffer shorter than 28 bytes"};
    std::uint8_t* p = out.data();
    store_be16(p, kArpHardwareEthernet);
    store_be16(p + 2, kEtherTypeIpv4);
    p[4] = 6;
    p[5] = 4;
    store_be16(p + 6, operation);
    for (std::size_t i = 0; i < 6; ++i) p[8 + i] = sender_mac.bytes[i];
    store_be32(p + 14, sender_ip.value);
    for (std::size_t i = 0; i < 6; ++i) p[18 + i] = target_mac.bytes[i];
    store_be32(p + 24, target_ip.value);
    return {};
}

}  // namespace kbnet::wire
