// IPv4 headers (RFC 791 §3.1, with the host requirements of RFC 1122
// §3.2.1) and the option encoding IPv4 shares with TCP.
//
// Ipv4View / Ipv4ViewMut: a checked view over a received packet, trimmed
// to its total length. Ipv4Header: the value type that writes a header.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/checksum.hpp"

namespace kbnet::wire {

// Protocol numbers (IANA "Assigned Internet Protocol Numbers").
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIgmp = 2;
inline constexpr std::uint8_t kIpProtoTcp = 6;
inline constexpr std::uint8_t kIpProtoUdp = 17;

inline constexpr std::size_t kIpv4MinHeaderLen = 20;  // IHL 5
inline constexpr std::size_t kIpv4MaxHeaderLen = 60;  // IHL 15, the largest a 4-bit field holds
inline constexpr std::size_t kIpv4MaxOptionsLen = kIpv4MaxHeaderLen - kIpv4MinHeaderLen;
inline constexpr std::size_t kIpv4MaxTotalLen = 65535;
// RFC 1700 / RFC 1122 §3.2.1.7 recommend 64 for the default TTL.
inline constexpr std::uint8_t kIpv4DefaultTtl = 64;

// Option types (RFC 791 §3.1 "Options"; RFC 2113 Router Alert).
inline constexpr std::uint8_t kIpv4OptionEnd = 0;
inline constexpr std::uint8_t kIpv4OptionNop = 1;
inline constexpr std::uint8_t kIpv4OptionRouterAlert = 148;  // copied flag set, class 0, number 20
// RFC 2113 §2.1: type 148, length 4, value 0 = "Router shall examine packet".
// IGMP messages carry it (RFC 2236 §2, RFC 3376 §4).
inline constexpr std::array<std::uint8_t, 4> kIpv4RouterAlertOption = {0x94, 0x04, 0x00, 0x00};

// One option of the type-length-value encoding of RFC 791 §3.1, which TCP
// reuses (RFC 9293 §3.1 "Options"): a single-octet End of Option List (0)
// or No-Operation (1), or a kind octet, a length octet counting the kind
// and length octets themselves, and length - 2 octets of data.
struct TlvOption {
    std::uint8_t kind = 0;
    std::span<const std::uint8_t> data;  // after the kind and length octets
};

// Iterates over the options of an options area, skipping No-Operation and
// stopping at End of Option List. It stops too at an option whose length
// does not fit, so it is safe over any bytes; over a view's options, which
// parse() validated, it sees every option.
class TlvOptionRange {
  public:
    class Iterator {
      public:
        using value_type = TlvOption;
        using difference_type = std::ptrdiff_t;

        Iterator() = default;
        [[nodiscard]] const TlvOption& operator*() const noexcept { return current_; }
        [[nodiscard]] const TlvOption* operator->() const noexcept { return &current_; }
        Iterator& operator++() noexcept {
            pos_ += 2 + current_.data.size();
            settle();
            return *this;
        }
        Iterator operator++(int) noexcept {
            Iterator old = *this;
            ++*this;
            return old;
        }
        friend bool operator==(const Iterator& it, std::default_sentinel_t) noexcept { return it.pos_ == it.end_; }

      private:
        friend class TlvOptionRange;
        Iterator(const std::uint8_t* pos, const std::uint8_t* end) noexcept : pos_(pos), end_(end) { settle(); }
        void settle() noexcept;

        const std::uint8_t* pos_ = nullptr;
        const std::uint8_t* end_ = nullptr;
        TlvOption current_{};
    };

    TlvOptionRange() = default;
    explicit TlvOptionRange(std::span<const std::uint8_t> area) noexcept : area_(area) {}
    [[nodiscard]] Iterator begin() const noexcept { return {area_.data(), area_.data() + area_.size()}; }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

  private:
    std::span<const std::uint8_t> area_;
};

inline void TlvOptionRange::Iterator::settle() noexcept {
    while (pos_ != end_) {
        const std::uint8_t kind = *pos_;
        if (kind == kIpv4OptionEnd) break;
        if (kind == kIpv4OptionNop) {
            ++pos_;
            continue;
        }
        const auto left = static_cast<std::size_t>(end_ - pos_);
        if (left < 2 || pos_[1] < 2 || pos_[1] > left) break;
        current_ = {kind, std::span<const std::uint8_t>(pos_ + 2, pos_[1] - 2u)};
        return;
    }
    pos_ = end_;
}

namespace detail {
// True when every option of the area has a length of at least 2 that ends
// inside the area (options after End of Option List are not looked at).
[[nodiscard]] bool tlv_options_valid(std::span<const std::uint8_t> area) noexcept;
// Length of the view parse() builds over packet, or why there is none.
// quoted: the packet is the copy inside an ICMP error, whose payload may be
// cut short of the total length.
[[nodiscard]] Result<std::size_t> ipv4_check(std::span<const std::uint8_t> packet, bool quoted) noexcept;
}  // namespace detail

template <typename Byte>
class BasicIpv4View {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks, in this order (RFC 791 §3.1, RFC 1122 §3.2.1.1 and
    // §3.2.1.8): at least 20 bytes; version 4; IHL >= 5; the header fits;
    // IHL*4 <= total length <= bytes available; each option's length fits
    // the options area. The view ends at the total length, so link-layer
    // padding after the packet is not payload.
    // Errors: truncated (bytes missing), malformed (a field contradicts
    // the format). The header checksum is not verified here; call
    // header_checksum_ok() unless the NIC already did.
    [[nodiscard]] static Result<BasicIpv4View> parse(std::span<Byte> packet) noexcept {
        auto len = detail::ipv4_check(packet, false);
        if (!len) return len.error();
        return BasicIpv4View(packet.first(*len));
    }
    // The same checks for the datagram an ICMP error quotes, which RFC 792
    // cuts after the header and 64 bits of data (RFC 1812 §4.3.2.3 lets a
    // router send more): the total length may exceed the bytes present, and
    // payload() is what was quoted.
    [[nodiscard]] static Result<BasicIpv4View> parse_quoted(std::span<Byte> packet) noexcept {
        auto len = detail::ipv4_check(packet, true);
        if (!len) return len.error();
        return BasicIpv4View(packet.first(*len));
    }

    [[nodiscard]] std::uint8_t version() const noexcept { return static_cast<std::uint8_t>(bytes_[0] >> 4); }
    [[nodiscard]] std::size_t header_len() const noexcept { return (bytes_[0] & 0x0fu) * 4u; }
    // RFC 2474 DSCP (upper six bits of the former TOS) and RFC 3168 ECN.
    [[nodiscard]] std::uint8_t dscp() const noexcept { return static_cast<std::uint8_t>(bytes_[1] >> 2); }
    [[nodiscard]] std::uint8_t ecn() const noexcept { return static_cast<std::uint8_t>(bytes_[1] & 0x3); }
    [[nodiscard]] std::uint16_t total_length() const noexcept { return load_be16(bytes_.data() + 2); }
    [[nodiscard]] std::uint16_t identification() const noexcept { return load_be16(bytes_.data() + 4); }
    // Flags (RFC 791 §3.1): bit 0 reserved, bit 1 DF, bit 2 MF.
    [[nodiscard]] bool reserved_flag() const noexcept { return (bytes_[6] & 0x80) != 0; }
    [[nodiscard]] bool dont_fragment() const noexcept { return (bytes_[6] & 0x40) != 0; }
    [[nodiscard]] bool more_fragments() const noexcept { return (bytes_[6] & 0x20) != 0; }
    // Offset of this fragment's data in the original datagram, in bytes
    // (the field counts 8-byte units).
    [[nodiscard]] std::uint32_t fragment_offset() const noexcept {
        return static_cast<std::uint32_t>(load_be16(bytes_.data() + 6) & 0x1fff) * 8u;
    }
    // Part of a fragmented datagram: not the only fragment (RFC 791 §3.2
    // "Fragmentation and reassembly").
    [[nodiscard]] bool is_fragment() const noexcept { return more_fragments() || fragment_offset() != 0; }
    [[nodiscard]] std::uint8_t ttl() const noexcept { return bytes_[8]; }
    [[nodiscard]] std::uint8_t protocol() const noexcept { return bytes_[9]; }
    [[nodiscard]] std::uint16_t header_checksum() const noexcept { return load_be16(bytes_.data() + 10); }
    [[nodiscard]] Ipv4Address source() const noexcept { return {load_be32(bytes_.data() + 12)}; }
    [[nodiscard]] Ipv4Address destination() const noexcept { return {load_be32(bytes_.data() + 16)}; }

    [[nodiscard]] std::span<Byte> header() const noexcept { return bytes_.first(header_len()); }
    [[nodiscard]] std::span<Byte> options() const noexcept {
        return bytes_.subspan(kIpv4MinHeaderLen, header_len() - kIpv4MinHeaderLen);
    }
    [[nodiscard]] TlvOptionRange option_list() const noexcept { return TlvOptionRange(options()); }
    // RFC 2113: routers (and IGMPv3 receivers, RFC 3376 §9.1) look for it.
    [[nodiscard]] bool has_router_alert() const noexcept {
        for (const TlvOption& o : option_list()) {
            if (o.kind == kIpv4OptionRouterAlert) return true;
        }
        return false;
    }
    [[nodiscard]] std::span<Byte> payload() const noexcept { return bytes_.subspan(header_len()); }
    // The packet up to its total length (or all that was quoted).
    [[nodiscard]] std::span<Byte> packet() const noexcept { return bytes_; }
    // False only for a quoted datagram cut short of its total length.
    [[nodiscard]] bool is_complete() const noexcept { return bytes_.size() == total_length(); }

    // RFC 791 §3.1 "Header Checksum": the one's complement sum over the
    // header, checksum field included, is all ones.
    [[nodiscard]] bool header_checksum_ok() const noexcept { return internet_checksum(header()) == 0; }

    // Setters keep the header checksum valid incrementally (RFC 1624), so
    // they assume it was valid before; fill_header_checksum() recomputes it.
    void set_ttl(std::uint8_t ttl) noexcept requires kMutable {
        // TTL shares its 16-bit checksum word with the protocol.
        const std::uint16_t old_word = load_be16(bytes_.data() + 8);
        bytes_[8] = ttl;
        update_checksum16(old_word, load_be16(bytes_.data() + 8));
    }
    void set_source(Ipv4Address a) noexcept requires kMutable { set_address_at(12, a); }
    void set_destination(Ipv4Address a) noexcept requires kMutable { set_address_at(16, a); }
    void fill_header_checksum() noexcept requires kMutable {
        store_be16(bytes_.data() + 10, 0);
        store_be16(bytes_.data() + 10, internet_checksum(header()));
    }

    [[nodiscard]] BasicIpv4View<const std::uint8_t> as_const() const noexcept {
        return BasicIpv4View<const std::uint8_t>(bytes_);
    }
    operator BasicIpv4View<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicIpv4View;

    explicit BasicIpv4View(std::span<Byte> bytes) noexcept : bytes_(bytes) {}

    void update_checksum16(std::uint16_t old_word, std::uint16_t new_word) const noexcept requires kMutable {
        store_be16(bytes_.data() + 10, checksum_update16(header_checksum(), old_word, new_word));
    }
    void set_address_at(std::size_t at, Ipv4Address a) const noexcept requires kMutable {
        const std::uint32_t old_value = load_be32(bytes_.data() + at);
        store_be32(bytes_.data() + at, a.value);
        store_be16(bytes_.data() + 10, checksum_update32(header_checksum(), old_value, a.value));
    }

    std::span<Byte> bytes_;
};

using Ipv4View = BasicIpv4View<const std::uint8_t>;
using Ipv4ViewMut = BasicIpv4View<std::uint8_t>;

// An IPv4 header to write in front of a payload of payload_len bytes.
struct Ipv4Header {
    std::uint8_t dscp = 0;  // 0..63
    std::uint8_t ecn = 0;   // 0..3
    std::uint16_t identification = 0;
    bool dont_fragment = false;
    bool more_fragments = false;
    std::uint16_t fragment_offset = 0;  // bytes; a multiple of 8 below 65536
    std::uint8_t ttl = kIpv4DefaultTtl;
    std::uint8_t protocol = 0;
    Ipv4Address source;
    Ipv4Address destination;
    std::array<std::uint8_t, kIpv4MaxOptionsLen> options{};  // the first options_len bytes are used
    std::uint8_t options_len = 0;                            // emit pads to a multiple of 4 with End of Option List
    std::uint16_t payload_len = 0;

    // The header of a view; payload_len follows the total length field, so
    // for a quoted datagram it is what the original carried.
    [[nodiscard]] static Ipv4Header from_view(const Ipv4View& view) noexcept;

    [[nodiscard]] std::size_t header_len() const noexcept {
        const std::size_t opts = options_len > kIpv4MaxOptionsLen ? kIpv4MaxOptionsLen : options_len;
        return kIpv4MinHeaderLen + (opts + 3) / 4 * 4;
    }
    [[nodiscard]] std::size_t total_length() const noexcept { return header_len() + payload_len; }

    // Appends one encoded option; invalid_argument if it does not fit.
    [[nodiscard]] Status add_option(std::span<const std::uint8_t> option) noexcept;
    [[nodiscard]] Status add_router_alert() noexcept { return add_option(kIpv4RouterAlertOption); }

    // Writes header_len() bytes at the start of out, header checksum
    // included. The payload is not touched (it may be written before or
    // after). Returns invalid_argument, and writes nothing, if out is
    // shorter than header_len(), the total length exceeds 65535, a field is
    // out of range or the fragment offset is not a multiple of 8.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;

    friend bool operator==(const Ipv4Header& a, const Ipv4Header& b) noexcept;
};

}  // namespace kbnet::wire
