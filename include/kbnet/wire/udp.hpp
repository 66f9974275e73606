// UDP over IPv4 (RFC 768, RFC 1122 §4.1).
//
// UdpView / UdpViewMut: a checked view over a datagram (an IPv4 payload),
// trimmed to its UDP length. UdpHeader: the value type that writes the
// header and checksum in front of a payload already in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {

inline constexpr std::size_t kUdpHeaderLen = 8;

namespace detail {
[[nodiscard]] Result<std::size_t> udp_check(std::span<const std::uint8_t> datagram) noexcept;
// The checksum to send for a datagram whose checksum field holds zero:
// RFC 768 "If the computed checksum is zero, it is transmitted as all
// ones", since zero on the wire means "no checksum".
[[nodiscard]] std::uint16_t udp_checksum(std::span<const std::uint8_t> datagram, Ipv4Address src,
                                         Ipv4Address dst) noexcept;
}  // namespace detail

template <typename Byte>
class BasicUdpView {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks the 8-byte header and that 8 <= length <= bytes available
    // (RFC 768 "Length" counts header and data). The view ends at the UDP
    // length, as Linux trims a datagram to it. The checksum is not
    // verified here; call checksum_ok().
    // Errors: truncated, malformed (length below 8).
    [[nodiscard]] static Result<BasicUdpView> parse(std::span<Byte> datagram) noexcept {
        auto len = detail::udp_check(datagram);
        if (!len) return len.error();
        return BasicUdpView(datagram.first(*len));
    }

    [[nodiscard]] std::uint16_t source_port() const noexcept { return load_be16(bytes_.data()); }
    [[nodiscard]] std::uint16_t destination_port() const noexcept { return load_be16(bytes_.data() + 2); }
    [[nodiscard]] std::uint16_t length() const noexcept { return load_be16(bytes_.data() + 4); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 6); }
    // RFC 768: a zero checksum field means the sender computed none.
    [[nodiscard]] bool has_checksum() const noexcept { return checksum() != 0; }
    [[nodiscard]] std::span<Byte> payload() const noexcept { return bytes_.subspan(kUdpHeaderLen); }
    [[nodiscard]] std::span<Byte> datagram() const noexcept { return bytes_; }

    // RFC 768 / RFC 1122 §4.1.3.4: sum over the pseudo-header (source,
    // destination, zero, protocol, UDP length) and the datagram. A
    // datagram without a checksum passes: the caller that requires one
    // checks has_checksum().
    [[nodiscard]] bool checksum_ok(Ipv4Address src, Ipv4Address dst) const noexcept {
        if (!has_checksum()) return true;
        const std::uint32_t pseudo = pseudo_header_sum(src.value, dst.value, kIpProtoUdp, length());
        return sum_to_checksum(checksum_sum(bytes_, pseudo)) == 0;
    }

    // Port rewrites keep the checksum valid incrementally (RFC 1624), and
    // leave an absent (zero) checksum absent.
    void set_source_port(std::uint16_t port) noexcept requires kMutable { set_word_at(0, port); }
    void set_destination_port(std::uint16_t port) noexcept requires kMutable { set_word_at(2, port); }
    void fill_checksum(Ipv4Address src, Ipv4Address dst) noexcept requires kMutable {
        store_be16(bytes_.data() + 6, 0);
        store_be16(bytes_.data() + 6, detail::udp_checksum(bytes_, src, dst));
    }

    [[nodiscard]] BasicUdpView<const std::uint8_t> as_const() const noexcept {
        return BasicUdpView<const std::uint8_t>(bytes_);
    }
    operator BasicUdpView<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicUdpView;

    explicit BasicUdpView(std::span<Byte> bytes) noexcept : bytes_(bytes) {}

    void set_word_at(std::size_t at, std::uint16_t value) const noexcept requires kMutable {
        const std::uint16_t old_value = load_be16(bytes_.data() + at);
        store_be16(bytes_.data() + at, value);
        if (!has_checksum()) return;
        std::uint16_t c = checksum_update16(checksum(), old_value, value);
        store_be16(bytes_.data() + 6, c == 0 ? std::uint16_t{0xffff} : c);  // RFC 768: never send a computed 0
    }

    std::span<Byte> bytes_;
};

using UdpView = BasicUdpView<const std::uint8_t>;
using UdpViewMut = BasicUdpView<std::uint8_t>;

// The UDP header to write at the start of a datagram.
struct UdpHeader {
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;

    [[nodiscard]] static UdpHeader from_view(const UdpView& view) noexcept {
        return {view.source_port(), view.destination_port()};
    }
    static constexpr std::size_t header_len() noexcept { return kUdpHeaderLen; }

    // datagram is the whole datagram: 8 header bytes followed by the
    // payload, already in place. Writes the header with length =
    // datagram.size() and the checksum over the pseudo-header and the
    // datagram (a computed 0 is sent as 0xffff, RFC 768). Returns
    // invalid_argument, and writes nothing, if datagram is shorter than 8
    // or longer than 65535 bytes.
    [[nodiscard]] Status emit(std::span<std::uint8_t> datagram, Ipv4Address src, Ipv4Address dst) const noexcept;
    // The same with a zero checksum field, which RFC 768 allows over IPv4
    // (for a NIC that fills it, or a protocol that checks its own data).
    [[nodiscard]] Status emit_without_checksum(std::span<std::uint8_t> datagram) const noexcept;

    friend constexpr bool operator==(const UdpHeader&, const UdpHeader&) = default;
};

}  // namespace kbnet::wire
