// ICMP for IPv4 (RFC 792, with RFC 1122 §3.2.2 and RFC 1191 §4): echo
// request and reply, and the error messages that quote the datagram that
// caused them (destination unreachable, time exceeded, parameter problem).
//
// IcmpView / IcmpViewMut: a checked view over an ICMP message (an IPv4
// payload). IcmpHeader: the value type that writes the 8-byte header and
// the checksum over a message whose data is already in place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {

// Types (RFC 792; IANA "ICMP Type Numbers").
inline constexpr std::uint8_t kIcmpEchoReply = 0;
inline constexpr std::uint8_t kIcmpDestinationUnreachable = 3;
inline constexpr std::uint8_t kIcmpSourceQuench = 4;  // deprecated by RFC 6633, still quotes a datagram
inline constexpr std::uint8_t kIcmpRedirect = 5;
inline constexpr std::uint8_t kIcmpEchoRequest = 8;
inline constexpr std::uint8_t kIcmpTimeExceeded = 11;
inline constexpr std::uint8_t kIcmpParameterProblem = 12;

// Destination unreachable codes (RFC 792; 6..12 RFC 1122 §3.2.2.1; 13
// RFC 1812 §5.2.7.1).
inline constexpr std::uint8_t kIcmpNetUnreachable = 0;
inline constexpr std::uint8_t kIcmpHostUnreachable = 1;
inline constexpr std::uint8_t kIcmpProtocolUnreachable = 2;
inline constexpr std::uint8_t kIcmpPortUnreachable = 3;
inline constexpr std::uint8_t kIcmpFragmentationNeeded = 4;  // with next-hop MTU (RFC 1191 §4)
inline constexpr std::uint8_t kIcmpSourceRouteFailed = 5;
inline constexpr std::uint8_t kIcmpAdminProhibited = 13;
// Time exceeded codes (RFC 792).
inline constexpr std::uint8_t kIcmpTtlExceeded = 0;
inline constexpr std::uint8_t kIcmpReassemblyTimeExceeded = 1;

inline constexpr std::size_t kIcmpHeaderLen = 8;  // type, code, checksum, 4 bytes that depend on the type
// RFC 792: an error quotes "the internet header plus the first 64 bits of
// the original datagram's data".
inline constexpr std::size_t kIcmpMinQuotedData = 8;
// RFC 1812 §4.3.2.3: an ICMP error should not make a datagram above 576
// bytes; quote at most this much of the original (576 - 20 - 8).
inline constexpr std::size_t kIcmpMaxQuoteLen = 548;

// True for the types whose data is an IPv4 header and the start of its
// payload (RFC 792: unreachable, time exceeded, parameter problem, source
// quench and redirect).
[[nodiscard]] constexpr bool icmp_type_quotes_datagram(std::uint8_t type) noexcept {
    return type == kIcmpDestinationUnreachable || type == kIcmpTimeExceeded || type == kIcmpParameterProblem ||
           type == kIcmpSourceQuench || type == kIcmpRedirect;
}

template <typename Byte>
class BasicIcmpView {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks only that the 8-byte header is present: the message is the
    // whole IPv4 payload (its length comes from IPv4), and every type has
    // the same header. Quoted datagrams are checked by quoted_datagram().
    // The checksum is not verified here; call checksum_ok().
    // Errors: truncated.
    [[nodiscard]] static Result<BasicIcmpView> parse(std::span<Byte> message) noexcept {
        if (message.size() < kIcmpHeaderLen) return Error{Errc::truncated, "ICMP message shorter than 8 bytes"};
        return BasicIcmpView(message);
    }

    [[nodiscard]] std::uint8_t type() const noexcept { return bytes_[0]; }
    [[nodiscard]] std::uint8_t code() const noexcept { return bytes_[1]; }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 2); }
    // The type-dependent second word of the header.
    [[nodiscard]] std::uint32_t rest_of_header() const noexcept { return load_be32(bytes_.data() + 4); }
    // Echo and echo reply (RFC 792): identifier and sequence number.
    [[nodiscard]] std::uint16_t identifier() const noexcept { return load_be16(bytes_.data() + 4); }
    [[nodiscard]] std::uint16_t sequence_number() const noexcept { return load_be16(bytes_.data() + 6); }
    // Fragmentation needed (RFC 1191 §4): the MTU of the next-hop network
    // in the low 16 bits; 0 from routers that predate RFC 1191.
    [[nodiscard]] std::uint16_t next_hop_mtu() const noexcept { return load_be16(bytes_.data() + 6); }
    // Parameter problem (RFC 792): the octet of the quoted header at fault.
    [[nodiscard]] std::uint8_t pointer() const noexcept { return bytes_[4]; }
    // Everything after the 8-byte header: echo data, or the quoted datagram.
    [[nodiscard]] std::span<Byte> data() const noexcept { return bytes_.subspan(kIcmpHeaderLen); }
    [[nodiscard]] std::span<Byte> message() const noexcept { return bytes_; }

    // RFC 792: the 16-bit one's complement of the one's complement sum of
    // the whole ICMP message; summed with the field it is all ones.
    [[nodiscard]] bool checksum_ok() const noexcept { return internet_checksum(bytes_) == 0; }

    // The datagram an error message quotes, checked as an IPv4 header
    // whose payload may be cut short (Ipv4View::parse_quoted). RFC 1122
    // §3.2.2 requires the header and at least 8 bytes of its data, enough
    // for the transport ports; fewer is malformed.
    // Errors: invalid_argument (this type quotes nothing), truncated or
    // malformed (the quote is not a usable IPv4 header and 8 data bytes).
    [[nodiscard]] Result<BasicIpv4View<Byte>> quoted_datagram() const noexcept {
        if (!icmp_type_quotes_datagram(type())) {
            return Error{Errc::invalid_argument, "ICMP message type carries no quoted datagram"};
        }
        auto quoted = BasicIpv4View<Byte>::parse_quoted(data());
        if (!quoted) return quoted.error();
        const std::size_t carried = quoted->total_length() - quoted->header_len();
        if (quoted->payload().size() < kIcmpMinQuotedData && quoted->payload().size() < carried) {
            return Error{Errc::malformed, "ICMP error quotes fewer than 8 bytes of the datagram's data"};
        }
        return quoted;
    }

    // Sets type and code (echo request to echo reply in place), keeping a
    // valid checksum valid incrementally (RFC 1624).
    void set_type_code(std::uint8_t type, std::uint8_t code) noexcept requires kMutable {
        const std::uint16_t old_word = load_be16(bytes_.data());
        bytes_[0] = type;
        bytes_[1] = code;
        std::uint16_t c = checksum_update16(checksum(), old_word, load_be16(bytes_.data()));
        // RFC 1624 eqn. 3 yields 0x0000 both when the new sum is 0xffff
        // (right) and when every other word of the message is zero, whose
        // checksum from scratch is 0xffff: the +0/-0 ambiguity of RFC 1624
        // §3. Only an all-zero message (echo reply, id 0, seq 0, zero data)
        // hits the second case, so the data is read only then.
        if (c == 0 && type == 0 && code == 0 && rest_of_header() == 0 && all_zero(data())) c = 0xffff;
        store_be16(bytes_.data() + 2, c);
    }
    void fill_checksum() noexcept requires kMutable {
        store_be16(bytes_.data() + 2, 0);
        store_be16(bytes_.data() + 2, internet_checksum(bytes_));
    }

    [[nodiscard]] BasicIcmpView<const std::uint8_t> as_const() const noexcept {
        return BasicIcmpView<const std::uint8_t>(bytes_);
    }
    operator BasicIcmpView<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicIcmpView;

    explicit BasicIcmpView(std::span<Byte> bytes) noexcept : bytes_(bytes) {}

    static bool all_zero(std::span<Byte> bytes) noexcept {
        for (const std::uint8_t b : bytes) {
            if (b != 0) return false;
        }
        return true;
    }

    std::span<Byte> bytes_;
};

using IcmpView = BasicIcmpView<const std::uint8_t>;
using IcmpViewMut = BasicIcmpView<std::uint8_t>;

// The 8-byte ICMP header to write at the start of a message.
struct IcmpHeader {
    std::uint8_t type = kIcmpEchoRequest;
    std::uint8_t code = 0;
    std::uint32_t rest_of_header = 0;

    [[nodiscard]] static IcmpHeader from_view(const IcmpView& view) noexcept {
        return {view.type(), view.code(), view.rest_of_header()};
    }
    [[nodiscard]] static constexpr IcmpHeader echo_request(std::uint16_t identifier, std::uint16_t sequence) noexcept {
        return {kIcmpEchoRequest, 0, static_cast<std::uint32_t>(identifier) << 16 | sequence};
    }
    [[nodiscard]] static constexpr IcmpHeader echo_reply(std::uint16_t identifier, std::uint16_t sequence) noexcept {
        return {kIcmpEchoReply, 0, static_cast<std::uint32_t>(identifier) << 16 | sequence};
    }
    // next_hop_mtu only for kIcmpFragmentationNeeded (RFC 1191 §4); the
    // rest of the word is unused and zero (RFC 792).
    [[nodiscard]] static constexpr IcmpHeader destination_unreachable(std::uint8_t code,
                                                                      std::uint16_t next_hop_mtu = 0) noexcept {
        return {kIcmpDestinationUnreachable, code, next_hop_mtu};
    }
    [[nodiscard]] static constexpr IcmpHeader time_exceeded(std::uint8_t code) noexcept {
        return {kIcmpTimeExceeded, code, 0};
    }

    static constexpr std::size_t header_len() noexcept { return kIcmpHeaderLen; }

    // message is the whole ICMP message: 8 header bytes followed by the
    // data, already in place. Writes the header and the checksum over the
    // whole message. Returns invalid_argument, and writes nothing, if
    // message is shorter than 8 bytes.
    [[nodiscard]] Status emit(std::span<std::uint8_t> message) const noexcept;

    friend constexpr bool operator==(const IcmpHeader&, const IcmpHeader&) = default;
};

// The part of a received datagram an ICMP error about it should quote:
// its header and as much of its data as fits in kIcmpMaxQuoteLen (RFC 1812
// §4.3.2.3; RFC 1122 §3.2.2 asks for at least 8 bytes of data).
[[nodiscard]] inline std::span<const std::uint8_t> icmp_error_quote(const Ipv4View& original) noexcept {
    const auto p = original.packet();
    return p.first(p.size() < kIcmpMaxQuoteLen ? p.size() : kIcmpMaxQuoteLen);
}

// The ports of the TCP or UDP datagram an ICMP error quotes, which is how
// the stack finds the socket the error is for (RFC 1122 §3.2.2: pass it to
// the transport). Both keep the ports in their first four bytes (RFC 768,
// RFC 9293 §3.1), inside the 64 bits RFC 792 guarantees; a full transport
// view would fail on a quote, whose lengths describe the original.
struct QuotedPorts {
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;
    friend constexpr bool operator==(const QuotedPorts&, const QuotedPorts&) = default;
};
// Errors: unsupported (not TCP or UDP, or not the first fragment, whose
// data does not start with the transport header), truncated (fewer than 4
// data bytes quoted).
[[nodiscard]] Result<QuotedPorts> icmp_quoted_ports(const Ipv4View& quoted) noexcept;

}  // namespace kbnet::wire
