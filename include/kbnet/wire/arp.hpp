// ARP for IPv4 over Ethernet (RFC 826), the only combination kbnet speaks.
//
// ArpView / ArpViewMut: a checked view over the 28-byte packet in an
// Ethernet payload. ArpPacket: the value type for building one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::wire {

// RFC 826 "Packet format": ar$hrd, ar$pro, ar$hln, ar$pln, ar$op, then
// sender and target hardware/protocol addresses.
inline constexpr std::uint16_t kArpHardwareEthernet = 1;  // ares_hrd$Ethernet
inline constexpr std::uint16_t kArpOpRequest = 1;         // ares_op$REQUEST
inline constexpr std::uint16_t kArpOpReply = 2;           // ares_op$REPLY
inline constexpr std::size_t kArpLen = 28;                // 8 fixed + 2 * (6 + 4)

namespace detail {
[[nodiscard]] Status arp_check(std::span<const std::uint8_t> packet) noexcept;
}  // namespace detail

template <typename Byte>
class BasicArpView {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks length and that hardware/protocol type and address sizes are
    // Ethernet/IPv4. Bytes past the 28th (Ethernet padding) are ignored and
    // not part of the view. The operation is not checked: RFC 826 leaves
    // unknown opcodes to the receiver (RFC 903 RARP, RFC 2390 InARP use
    // others), and the stack drops what it does not handle.
    // Errors: truncated, unsupported (not Ethernet/IPv4).
    [[nodiscard]] static Result<BasicArpView> parse(std::span<Byte> bytes) noexcept {
        if (auto st = detail::arp_check(bytes); !st) return st.error();
        return BasicArpView(bytes.first(kArpLen));
    }

    [[nodiscard]] std::uint16_t hardware_type() const noexcept { return load_be16(bytes_.data()); }
    [[nodiscard]] std::uint16_t protocol_type() const noexcept { return load_be16(bytes_.data() + 2); }
    [[nodiscard]] std::uint16_t operation() const noexcept { return load_be16(bytes_.data() + 6); }
    [[nodiscard]] MacAddress sender_mac() const noexcept { return mac_at(8); }
    [[nodiscard]] Ipv4Address sender_ip() const noexcept { return {load_be32(bytes_.data() + 14)}; }
    [[nodiscard]] MacAddress target_mac() const noexcept { return mac_at(18); }
    [[nodiscard]] Ipv4Address target_ip() const noexcept { return {load_be32(bytes_.data() + 24)}; }
    [[nodiscard]] std::span<Byte> bytes() const noexcept { return bytes_; }

    void set_operation(std::uint16_t op) noexcept requires kMutable { store_be16(bytes_.data() + 6, op); }
    void set_sender(const MacAddress& mac, Ipv4Address ip) noexcept requires kMutable {
        set_mac_at(8, mac);
        store_be32(bytes_.data() + 14, ip.value);
    }
    void set_target(const MacAddress& mac, Ipv4Address ip) noexcept requires kMutable {
        set_mac_at(18, mac);
        store_be32(bytes_.data() + 24, ip.value);
    }
    // Turns a request into the reply to it in place, as RFC 826 describes
    // the receiver's algorithm: swap sender and target fields, put the
    // local hardware and protocol addresses in the sender fields, and set
    // the opcode to reply.
    void make_reply(const MacAddress& local_mac) noexcept requires kMutable {
        const MacAddress requester_mac = sender_mac();
        const Ipv4Address requester_ip = sender_ip();
        const Ipv4Address local_ip = target_ip();
        set_target(requester_mac, requester_ip);
        set_sender(local_mac, local_ip);
        set_operation(kArpOpReply);
    }

    [[nodiscard]] BasicArpView<const std::uint8_t> as_const() const noexcept {
        return BasicArpView<const std::uint8_t>(bytes_);
    }
    operator BasicArpView<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicArpView;

    explicit BasicArpView(std::span<Byte> bytes) noexcept : bytes_(bytes) {}

    MacAddress mac_at(std::size_t at) const noexcept {
        MacAddress mac;
        for (std::size_t i = 0; i < 6; ++i) mac.bytes[i] = bytes_[at + i];
        return mac;
    }
    void set_mac_at(std::size_t at, const MacAddress& mac) const noexcept requires kMutable {
        for (std::size_t i = 0; i < 6; ++i) bytes_[at + i] = mac.bytes[i];
    }

    std::span<Byte> bytes_;
};

using ArpView = BasicArpView<const std::uint8_t>;
using ArpViewMut = BasicArpView<std::uint8_t>;

// An Ethernet/IPv4 ARP packet to build.
struct ArpPacket {
    std::uint16_t operation = kArpOpRequest;
    MacAddress sender_mac;
    Ipv4Address sender_ip;
    MacAddress target_mac;  // RFC 826: unknown (zero) in a request
    Ipv4Address target_ip;

    [[nodiscard]] static ArpPacket from_view(const ArpView& view) noexcept;
    // A request for target's hardware address.
    [[nodiscard]] static ArpPacket request(const MacAddress& sender_mac, Ipv4Address sender_ip,
                                           Ipv4Address target_ip) noexcept {
        return {kArpOpRequest, sender_mac, sender_ip, MacAddress{}, target_ip};
    }
    // The reply to this request from the owner of target_ip (RFC 826).
    [[nodiscard]] ArpPacket reply(const MacAddress& local_mac) const noexcept {
        return {kArpOpReply, local_mac, target_ip, sender_mac, sender_ip};
    }

    [[nodiscard]] static constexpr std::size_t len() noexcept { return kArpLen; }
    // Writes kArpLen bytes at the start of out; invalid_argument, and nothing
    // written, if out is shorter.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;

    friend constexpr bool operator==(const ArpPacket&, const ArpPacket&) = default;
};

}  // namespace kbnet::wire
