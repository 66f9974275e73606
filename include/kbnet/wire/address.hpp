// Link and network addresses as small value types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kbnet::wire {

struct MacAddress {
    std::array<std::uint8_t, 6> bytes{};

    [[nodiscard]] static constexpr MacAddress broadcast() noexcept { return {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}; }
    [[nodiscard]] constexpr bool is_broadcast() const noexcept { return *this == broadcast(); }
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return (bytes[0] & 0x01) != 0; }
    [[nodiscard]] constexpr bool is_zero() const noexcept { return *this == MacAddress{}; }
    // 01:00:5e + low 23 bits of the group (RFC 1112 §6.4).
    [[nodiscard]] static constexpr MacAddress for_ipv4_multicast(std::uint32_t group) noexcept {
        return {{0x01, 0x00, 0x5e, static_cast<std::uint8_t>((group >> 16) & 0x7f),
                 static_cast<std::uint8_t>(group >> 8), static_cast<std::uint8_t>(group)}};
    }
    [[nodiscard]] static std::optional<MacAddress> parse(std::string_view text) noexcept;  // "aa:bb:cc:dd:ee:ff"
    [[nodiscard]] std::string to_string() const;

    friend constexpr bool operator==(const MacAddress&, const MacAddress&) = default;
};

// An IPv4 address held in host byte order (10.0.0.1 == 0x0a000001).
struct Ipv4Address {
    std::uint32_t value = 0;

    [[nodiscard]] static constexpr Ipv4Address from_octets(std::uint8_t a, std::uint8_t b, std::uint8_t c,
                                                           std::uint8_t d) noexcept {
        return {static_cast<std::uint32_t>(a) << 24 | static_cast<std::uint32_t>(b) << 16 |
                static_cast<std::uint32_t>(c) << 8 | d};
    }
    [[nodiscard]] constexpr bool is_multicast() const noexcept { return (value >> 28) == 0xe; }  // 224/4
    [[nodiscard]] constexpr bool is_broadcast() const noexcept { return value == 0xffffffffu; }
    [[nodiscard]] constexpr bool is_unspecified() const noexcept { return value == 0; }
    [[nodiscard]] constexpr bool is_loopback() const noexcept { return (value >> 24) == 127; }
    [[nodiscard]] static std::optional<Ipv4Address> parse(std::string_view text) noexcept;  // dotted quad
    [[nodiscard]] std::string to_string() const;

    friend constexpr auto operator<=>(const Ipv4Address&, const Ipv4Address&) = default;
};

}  // namespace kbnet::wire
