// TCP segments over IPv4 (RFC 9293 §3.1) and the options kbnet speaks:
// MSS (RFC 9293 §3.7.1), window scale and timestamps (RFC 7323), SACK
// (RFC 2018).
//
// TcpView / TcpViewMut: a checked view over a segment (an IPv4 payload).
// TcpOptions: the decoded options. TcpHeader: the value type that writes
// header, options and checksum in front of a payload already in place.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <type_traits>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {

inline constexpr std::size_t kTcpMinHeaderLen = 20;  // data offset 5
inline constexpr std::size_t kTcpMaxHeaderLen = 60;  // data offset 15
inline constexpr std::size_t kTcpMaxOptionsLen = kTcpMaxHeaderLen - kTcpMinHeaderLen;

// Control bits (RFC 9293 §3.1; CWR and ECE from RFC 3168 §23.2).
inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpRst = 0x04;
inline constexpr std::uint8_t kTcpPsh = 0x08;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpUrg = 0x20;
inline constexpr std::uint8_t kTcpEce = 0x40;
inline constexpr std::uint8_t kTcpCwr = 0x80;

// Option kinds and their lengths.
inline constexpr std::uint8_t kTcpOptionEnd = 0;            // RFC 9293 §3.2
inline constexpr std::uint8_t kTcpOptionNop = 1;            // RFC 9293 §3.2
inline constexpr std::uint8_t kTcpOptionMss = 2;            // RFC 9293 §3.2, length 4
inline constexpr std::uint8_t kTcpOptionWindowScale = 3;    // RFC 7323 §2.2, length 3
inline constexpr std::uint8_t kTcpOptionSackPermitted = 4;  // RFC 2018 §2, length 2
inline constexpr std::uint8_t kTcpOptionSack = 5;           // RFC 2018 §3, length 2 + 8n
inline constexpr std::uint8_t kTcpOptionTimestamps = 8;     // RFC 7323 §3.2, length 10
inline constexpr std::size_t kTcpMaxSackBlocks = 4;         // (40 - 2) / 8
// RFC 7323 §2.3: a shift count above 14 is used as 14.
inline constexpr std::uint8_t kTcpMaxWindowScale = 14;

struct TcpSackBlock {
    std::uint32_t left = 0;   // first sequence number of the block
    std::uint32_t right = 0;  // sequence number just after the block
    friend constexpr bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

struct TcpTimestamps {
    std::uint32_t value = 0;       // TSval
    std::uint32_t echo_reply = 0;  // TSecr
    friend constexpr bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// The options kbnet understands, decoded. Unknown kinds are skipped
// (RFC 9293 §3.2 MUST-6); so is a known kind whose length is wrong for
// it, as Linux's tcp_parse_options() does. When a kind repeats, the last
// one wins. Values are as received: clamping a window scale above 14
// (RFC 7323 §2.3) and ignoring MSS outside SYN are the stack's rules.
struct TcpOptions {
    std::optional<std::uint16_t> mss;
    std::optional<std::uint8_t> window_scale;
    bool sack_permitted = false;
    std::optional<TcpTimestamps> timestamps;
    std::array<TcpSackBlock, kTcpMaxSackBlocks> sack_blocks{};  // the first sack_count are used
    std::uint8_t sack_count = 0;

    // Decodes an options area. Safe over any bytes: it stops at End of
    // Option List or at an option that does not fit.
    [[nodiscard]] static TcpOptions decode(std::span<const std::uint8_t> area) noexcept;

    // Bytes encode() writes, always a multiple of 4.
    [[nodiscard]] std::size_t encoded_len() const noexcept;
    // Writes the options in the layout Linux uses (tcp_options_write), so
    // SYNs look like Linux's to middleboxes and to fixtures:
    //   MSS | SACK-permitted + timestamps (or NOP NOP + timestamps) |
    //   NOP NOP SACK-permitted (without timestamps) | NOP + window scale |
    //   NOP NOP + SACK blocks.
    // Returns the length, or invalid_argument (nothing written) if the
    // options exceed 40 bytes, sack_count exceeds 4, or out is too short.
    [[nodiscard]] Result<std::size_t> encode(std::span<std::uint8_t> out) const noexcept;

    friend bool operator==(const TcpOptions& a, const TcpOptions& b) noexcept;
};

namespace detail {
[[nodiscard]] Status tcp_check(std::span<const std::uint8_t> segment) noexcept;
}  // namespace detail

template <typename Byte>
class BasicTcpView {
    static_assert(std::is_same_v<std::remove_const_t<Byte>, std::uint8_t>);

  public:
    static constexpr bool kMutable = !std::is_const_v<Byte>;

    // Checks (RFC 9293 §3.1): at least 20 bytes; data offset >= 5; the
    // header it gives fits the segment; every option's length is at least 2
    // and ends inside the options area (§3.2 MUST-7: an illegal option
    // length, such as zero, must be handled, not trusted). segment must be
    // exactly the IPv4 payload: TCP has no length field of its own. The
    // checksum is not verified here; call checksum_ok().
    // Errors: truncated, malformed.
    [[nodiscard]] static Result<BasicTcpView> parse(std::span<Byte> segment) noexcept {
        if (auto st = detail::tcp_check(segment); !st) return st.error();
        return BasicTcpView(segment);
    }

    [[nodiscard]] std::uint16_t source_port() const noexcept { return load_be16(bytes_.data()); }
    [[nodiscard]] std::uint16_t destination_port() const noexcept { return load_be16(bytes_.data() + 2); }
    [[nodiscard]] std::uint32_t seq_number() const noexcept { return load_be32(bytes_.data() + 4); }
    [[nodiscard]] std::uint32_t ack_number() const noexcept { return load_be32(bytes_.data() + 8); }
    [[nodiscard]] std::size_t header_len() const noexcept { return static_cast<std::size_t>(bytes_[12] >> 4) * 4u; }
    // The four bits between data offset and flags, reserved by RFC 9293
    // (formerly holding the experimental NS bit of RFC 3540).
    [[nodiscard]] std::uint8_t reserved_bits() const noexcept { return static_cast<std::uint8_t>(bytes_[12] & 0xf); }
    [[nodiscard]] std::uint8_t flags() const noexcept { return bytes_[13]; }
    [[nodiscard]] bool fin() const noexcept { return (flags() & kTcpFin) != 0; }
    [[nodiscard]] bool syn() const noexcept { return (flags() & kTcpSyn) != 0; }
    [[nodiscard]] bool rst() const noexcept { return (flags() & kTcpRst) != 0; }
    [[nodiscard]] bool psh() const noexcept { return (flags() & kTcpPsh) != 0; }
    [[nodiscard]] bool ack() const noexcept { return (flags() & kTcpAck) != 0; }
    [[nodiscard]] bool urg() const noexcept { return (flags() & kTcpUrg) != 0; }
    [[nodiscard]] bool ece() const noexcept { return (flags() & kTcpEce) != 0; }
    [[nodiscard]] bool cwr() const noexcept { return (flags() & kTcpCwr) != 0; }
    [[nodiscard]] std::uint16_t window() const noexcept { return load_be16(bytes_.data() + 14); }
    [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 16); }
    [[nodiscard]] std::uint16_t urgent_pointer() const noexcept { return load_be16(bytes_.data() + 18); }

    [[nodiscard]] std::span<Byte> option_bytes() const noexcept {
        return bytes_.subspan(kTcpMinHeaderLen, header_len() - kTcpMinHeaderLen);
    }
    [[nodiscard]] TlvOptionRange option_list() const noexcept { return TlvOptionRange(option_bytes()); }
    [[nodiscard]] TcpOptions options() const noexcept { return TcpOptions::decode(option_bytes()); }
    [[nodiscard]] std::span<Byte> payload() const noexcept { return bytes_.subspan(header_len()); }
    [[nodiscard]] std::span<Byte> segment() const noexcept { return bytes_; }
    // SEG.LEN (RFC 9293 §3.4): octets of data, plus one each for SYN and FIN.
    [[nodiscard]] std::size_t segment_length() const noexcept {
        return payload().size() + (syn() ? 1u : 0u) + (fin() ? 1u : 0u);
    }

    // RFC 9293 §3.1 "Checksum": over the pseudo-header (source,
    // destination, zero, protocol 6, TCP length), header and data.
    [[nodiscard]] bool checksum_ok(Ipv4Address src, Ipv4Address dst) const noexcept {
        const std::uint32_t pseudo =
            pseudo_header_sum(src.value, dst.value, kIpProtoTcp, static_cast<std::uint16_t>(bytes_.size()));
        return sum_to_checksum(checksum_sum(bytes_, pseudo)) == 0;
    }

    // Port rewrites keep the checksum valid incrementally (RFC 1624).
    void set_source_port(std::uint16_t port) noexcept requires kMutable { set_word_at(0, port); }
    void set_destination_port(std::uint16_t port) noexcept requires kMutable { set_word_at(2, port); }
    void set_window(std::uint16_t window) noexcept requires kMutable { set_word_at(14, window); }
    void fill_checksum(Ipv4Address src, Ipv4Address dst) noexcept requires kMutable {
        store_be16(bytes_.data() + 16, 0);
        const std::uint32_t pseudo =
            pseudo_header_sum(src.value, dst.value, kIpProtoTcp, static_cast<std::uint16_t>(bytes_.size()));
        store_be16(bytes_.data() + 16, sum_to_checksum(checksum_sum(bytes_, pseudo)));
    }

    [[nodiscard]] BasicTcpView<const std::uint8_t> as_const() const noexcept {
        return BasicTcpView<const std::uint8_t>(bytes_);
    }
    operator BasicTcpView<const std::uint8_t>() const noexcept requires kMutable { return as_const(); }

  private:
    template <typename>
    friend class BasicTcpView;

    explicit BasicTcpView(std::span<Byte> bytes) noexcept : bytes_(bytes) {}

    void set_word_at(std::size_t at, std::uint16_t value) const noexcept requires kMutable {
        const std::uint16_t old_value = load_be16(bytes_.data() + at);
        store_be16(bytes_.data() + at, value);
        store_be16(bytes_.data() + 16, checksum_update16(checksum(), old_value, value));
    }

    std::span<Byte> bytes_;
};

using TcpView = BasicTcpView<const std::uint8_t>;
using TcpViewMut = BasicTcpView<std::uint8_t>;

// A TCP header to write at the start of a segment.
struct TcpHeader {
    std::uint16_t source_port = 0;
    std::uint16_t destination_port = 0;
    std::uint32_t seq_number = 0;
    std::uint32_t ack_number = 0;
    std::uint8_t flags = 0;  // kTcp* bits
    std::uint16_t window = 0;
    std::uint16_t urgent_pointer = 0;
    TcpOptions options;

    // Options kbnet does not understand are not carried over.
    [[nodiscard]] static TcpHeader from_view(const TcpView& view) noexcept;

    // 20 plus the encoded options (above 60 if the options do not fit, in
    // which case emit() fails).
    [[nodiscard]] std::size_t header_len() const noexcept { return kTcpMinHeaderLen + options.encoded_len(); }

    // segment is the whole segment: header_len() bytes followed by the
    // payload, already in place. Writes header and options and the checksum
    // over the pseudo-header and the whole segment. Returns
    // invalid_argument, and writes nothing, if segment is shorter than
    // header_len() or longer than 65535 bytes, or the options do not fit in
    // 40 bytes.
    [[nodiscard]] Status emit(std::span<std::uint8_t> segment, Ipv4Address src, Ipv4Address dst) const noexcept;

    friend bool operator==(const TcpHeader&, const TcpHeader&) noexcept = default;
};

}  // namespace kbnet::wire
