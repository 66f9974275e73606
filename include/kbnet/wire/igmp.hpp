// IGMP: version 2 (RFC 2236) membership query, report and leave, the
// version 1 messages it interoperates with (RFC 1112), and version 3
// (RFC 3376) queries with sources and reports made of group records.
//
// IgmpView: a checked view over an IGMP message (an IPv4 payload) of any
// of these kinds. IgmpV2Message, IgmpV3Query, IgmpV3Report: value types
// that write a whole message, checksum included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {

// Message types (RFC 2236 §2.1, RFC 3376 §4).
inline constexpr std::uint8_t kIgmpMembershipQuery = 0x11;
inline constexpr std::uint8_t kIgmpV1MembershipReport = 0x12;
inline constexpr std::uint8_t kIgmpV2MembershipReport = 0x16;
inline constexpr std::uint8_t kIgmpV2LeaveGroup = 0x17;
inline constexpr std::uint8_t kIgmpV3MembershipReport = 0x22;

// Group record types (RFC 3376 §4.2.12).
inline constexpr std::uint8_t kIgmpModeIsInclude = 1;
inline constexpr std::uint8_t kIgmpModeIsExclude = 2;
inline constexpr std::uint8_t kIgmpChangeToInclude = 3;
inline constexpr std::uint8_t kIgmpChangeToExclude = 4;
inline constexpr std::uint8_t kIgmpAllowNewSources = 5;
inline constexpr std::uint8_t kIgmpBlockOldSources = 6;

// Addresses (RFC 1112 §4, RFC 2236 §3, RFC 3376 §4.2.14).
inline constexpr Ipv4Address kIpv4AllSystems = Ipv4Address::from_octets(224, 0, 0, 1);      // queries
inline constexpr Ipv4Address kIpv4AllRouters = Ipv4Address::from_octets(224, 0, 0, 2);      // v2 leaves
inline constexpr Ipv4Address kIpv4IgmpV3Routers = Ipv4Address::from_octets(224, 0, 0, 22);  // v3 reports

// RFC 2236 §2 and RFC 3376 §4: IGMP messages are sent with TTL 1 (and the
// Router Alert option, Ipv4Header::add_router_alert()).
inline constexpr std::uint8_t kIgmpTtl = 1;
// Linux sends IGMP with TOS 0xc0 (DSCP CS6, network control; RFC 4594 §3.2).
inline constexpr std::uint8_t kIgmpDscp = 48;

inline constexpr std::size_t kIgmpV2Len = 8;
inline constexpr std::size_t kIgmpV3QueryMinLen = 12;
inline constexpr std::size_t kIgmpV3ReportMinLen = 8;
inline constexpr std::size_t kIgmpGroupRecordMinLen = 8;

// RFC 3376 §4.1.1 and §4.1.7: Max Resp Code (in 0.1 s) and QQIC (in s)
// share an encoding: below 128 the value itself, otherwise a float with a
// 3-bit exponent and 4-bit mantissa, (mant | 0x10) << (exp + 3).
[[nodiscard]] constexpr std::uint32_t igmp_v3_decode_code(std::uint8_t code) noexcept {
    if (code < 128) return code;
    const std::uint32_t mant = code & 0x0fu;
    const std::uint32_t exp = (code >> 4) & 0x07u;
    return (mant | 0x10u) << (exp + 3);
}
// The largest code whose value does not exceed value (so a querier never
// waits longer than asked); values above 31744 saturate to 0xff.
[[nodiscard]] constexpr std::uint8_t igmp_v3_encode_code(std::uint32_t value) noexcept {
    if (value < 128) return static_cast<std::uint8_t>(value);
    for (std::uint32_t exp = 7;; --exp) {
        const std::uint32_t base = 0x10u << (exp + 3);
        if (value >= base) {
            std::uint32_t mant = (value >> (exp + 3)) - 0x10u;
            if (mant > 0x0f) mant = 0x0f;
            return static_cast<std::uint8_t>(0x80u | exp << 4 | mant);
        }
        if (exp == 0) return 0x80;  // unreachable: value >= 128 == 0x10 << 3
    }
}

// A list of IPv4 addresses packed on the wire (v3 query and group record
// sources). Indexing past size() yields 0.0.0.0 rather than reading out
// of bounds.
class Ipv4AddressList {
  public:
    class Iterator {
      public:
        using value_type = Ipv4Address;
        using difference_type = std::ptrdiff_t;
        Iterator() = default;
        [[nodiscard]] Ipv4Address operator*() const noexcept { return {load_be32(p_)}; }
        Iterator& operator++() noexcept {
            p_ += 4;
            return *this;
        }
        Iterator operator++(int) noexcept {
            Iterator old = *this;
            p_ += 4;
            return old;
        }
        friend bool operator==(const Iterator&, const Iterator&) = default;

      private:
        friend class Ipv4AddressList;
        explicit Iterator(const std::uint8_t* p) noexcept : p_(p) {}
        const std::uint8_t* p_ = nullptr;
    };

    Ipv4AddressList() = default;
    // bytes.size() / 4 addresses; a partial trailing address is ignored.
    explicit Ipv4AddressList(std::span<const std::uint8_t> bytes) noexcept
        : bytes_(bytes.first(bytes.size() / 4 * 4)) {}
    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size() / 4; }
    [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }
    [[nodiscard]] Ipv4Address operator[](std::size_t i) const noexcept {
        return i < size() ? Ipv4Address{load_be32(bytes_.data() + 4 * i)} : Ipv4Address{};
    }
    [[nodiscard]] Iterator begin() const noexcept { return Iterator(bytes_.data()); }
    [[nodiscard]] Iterator end() const noexcept { return Iterator(bytes_.data() + bytes_.size()); }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

  private:
    std::span<const std::uint8_t> bytes_;
};

// One group record of a v3 report (RFC 3376 §4.2.4), already checked to
// lie inside its message.
class IgmpGroupRecordView {
  public:
    [[nodiscard]] std::uint8_t record_type() const noexcept { return bytes_[0]; }
    // Aux Data Len counts 32-bit words (RFC 3376 §4.2.6).
    [[nodiscard]] std::size_t aux_data_len() const noexcept { return bytes_[1] * 4u; }
    [[nodiscard]] std::uint16_t source_count() const noexcept { return load_be16(bytes_.data() + 2); }
    [[nodiscard]] Ipv4Address multicast_address() const noexcept { return {load_be32(bytes_.data() + 4)}; }
    [[nodiscard]] Ipv4AddressList sources() const noexcept {
        return Ipv4AddressList(bytes_.subspan(kIgmpGroupRecordMinLen, source_count() * 4u));
    }
    // RFC 3376 §4.2.10: no auxiliary data is defined; receivers skip it.
    [[nodiscard]] std::span<const std::uint8_t> aux_data() const noexcept {
        return bytes_.subspan(kIgmpGroupRecordMinLen + source_count() * 4u);
    }
    [[nodiscard]] std::span<const std::uint8_t> bytes() const noexcept { return bytes_; }

  private:
    friend class IgmpGroupRecordList;
    explicit IgmpGroupRecordView(std::span<const std::uint8_t> bytes) noexcept : bytes_(bytes) {}
    std::span<const std::uint8_t> bytes_;
};

// The group records of a v3 report. Only IgmpView makes one, over records
// parse() checked, so iteration cannot leave the message.
class IgmpGroupRecordList {
  public:
    class Iterator {
      public:
        using value_type = IgmpGroupRecordView;
        using difference_type = std::ptrdiff_t;
        Iterator() = default;
        [[nodiscard]] IgmpGroupRecordView operator*() const noexcept {
            return IgmpGroupRecordView(std::span<const std::uint8_t>(p_, record_len(p_)));
        }
        Iterator& operator++() noexcept {
            p_ += record_len(p_);
            --left_;
            return *this;
        }
        Iterator operator++(int) noexcept {
            Iterator old = *this;
            ++*this;
            return old;
        }
        friend bool operator==(const Iterator& it, std::default_sentinel_t) noexcept { return it.left_ == 0; }

      private:
        friend class IgmpGroupRecordList;
        Iterator(const std::uint8_t* p, std::size_t count) noexcept : p_(p), left_(count) {}
        const std::uint8_t* p_ = nullptr;
        std::size_t left_ = 0;
    };

    IgmpGroupRecordList() = default;
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool empty() const noexcept { return count_ == 0; }
    [[nodiscard]] Iterator begin() const noexcept { return {first_.data(), count_}; }
    [[nodiscard]] std::default_sentinel_t end() const noexcept { return {}; }

    // Length of the record starting at p: header, sources, aux data.
    [[nodiscard]] static std::size_t record_len(const std::uint8_t* p) noexcept {
        return kIgmpGroupRecordMinLen + load_be16(p + 2) * 4u + p[1] * 4u;
    }

  private:
    friend class IgmpView;
    IgmpGroupRecordList(std::span<const std::uint8_t> first, std::size_t count) noexcept
        : first_(first), count_(count) {}
    std::span<const std::uint8_t> first_;
    std::size_t count_ = 0;
};

// Which message an IgmpView holds. RFC 3376 §7.1 tells query versions
// apart by length and Max Resp Code.
enum class IgmpKind : std::uint8_t {
    v1_query,   // type 0x11, 8 bytes, Max Resp Code 0
    v2_query,   // type 0x11, 8 bytes, Max Resp Code != 0
    v3_query,   // type 0x11, 12 bytes or more
    v1_report,  // type 0x12
    v2_report,  // type 0x16
    v2_leave,   // type 0x17
    v3_report,  // type 0x22
};

class IgmpView {
  public:
    // Checks the message against its kind:
    //  - every message: at least 8 bytes, a known type (RFC 2236 §2.1 and
    //    RFC 3376 §4: unrecognised types are ignored, so the stack gets
    //    unsupported and drops them);
    //  - query: exactly 8 bytes (v1/v2) or at least 12 with all N sources
    //    present (v3); 9 to 11 bytes is malformed (RFC 3376 §7.1: "MUST be
    //    silently ignored");
    //  - v3 report: every one of the M group records, with its sources and
    //    aux data, inside the message.
    // Bytes beyond what the kind defines are ignored but kept in the view:
    // the checksum covers them (RFC 2236 §2.5, RFC 3376 §4.1.10, §4.2.11).
    // The checksum is not verified here; call checksum_ok().
    // Errors: truncated, malformed, unsupported.
    [[nodiscard]] static Result<IgmpView> parse(std::span<const std::uint8_t> message) noexcept;

    [[nodiscard]] IgmpKind kind() const noexcept { return kind_; }
    [[nodiscard]] std::uint8_t type() const noexcept { return bytes_[0]; }
    // The raw second byte: v2 Max Response Time, v3 Max Resp Code, 0 in v1
    // and v3 reports.
    [[nodiscard]] std::uint8_t max_resp_code() const noexcept { return bytes_[1]; }
    // Time a member may wait before answering a query, in tenths of a
    // second: v1 queries mean 10 s (RFC 2236 §4), v2 the byte itself, v3
    // the decoded code (RFC 3376 §4.1.1). 0 for non-queries.
    [[nodiscard]] std::uint32_t max_response_time_ds() const noexcept;
    [[nodiscard]] std::uint16_t checksum() const noexcept { return load_be16(bytes_.data() + 2); }
    // Group address of a query (0 for a general query), report or leave;
    // 0.0.0.0 for a v3 report, whose groups are in its records.
    [[nodiscard]] Ipv4Address group_address() const noexcept {
        return kind_ == IgmpKind::v3_report ? Ipv4Address{} : Ipv4Address{load_be32(bytes_.data() + 4)};
    }
    // v3 query fields (RFC 3376 §4.1.5 - §4.1.8); 0/false for other kinds.
    [[nodiscard]] bool suppress_router_processing() const noexcept {
        return kind_ == IgmpKind::v3_query && (bytes_[8] & 0x08) != 0;
    }
    [[nodiscard]] std::uint8_t querier_robustness() const noexcept {
        return kind_ == IgmpKind::v3_query ? static_cast<std::uint8_t>(bytes_[8] & 0x07) : 0;
    }
    [[nodiscard]] std::uint8_t qqic() const noexcept { return kind_ == IgmpKind::v3_query ? bytes_[9] : 0; }
    [[nodiscard]] std::uint32_t querier_query_interval_s() const noexcept { return igmp_v3_decode_code(qqic()); }
    [[nodiscard]] Ipv4AddressList sources() const noexcept {
        if (kind_ != IgmpKind::v3_query) return {};
        return Ipv4AddressList(bytes_.subspan(kIgmpV3QueryMinLen, load_be16(bytes_.data() + 10) * 4u));
    }
    // v3 report group records (RFC 3376 §4.2); empty for other kinds.
    [[nodiscard]] IgmpGroupRecordList group_records() const noexcept {
        if (kind_ != IgmpKind::v3_report) return {};
        return IgmpGroupRecordList(bytes_.subspan(kIgmpV3ReportMinLen), load_be16(bytes_.data() + 6));
    }
    [[nodiscard]] std::span<const std::uint8_t> message() const noexcept { return bytes_; }

    // RFC 2236 §2.3 and RFC 3376 §4.1.2: the checksum covers the whole IGMP
    // message (the whole IP payload).
    [[nodiscard]] bool checksum_ok() const noexcept { return internet_checksum(bytes_) == 0; }

  private:
    IgmpView(std::span<const std::uint8_t> bytes, IgmpKind kind) noexcept : bytes_(bytes), kind_(kind) {}

    std::span<const std::uint8_t> bytes_;
    IgmpKind kind_;
};

// An 8-byte message: v1/v2 query, v1/v2 report, leave (RFC 2236 §2).
struct IgmpV2Message {
    std::uint8_t type = kIgmpV2MembershipReport;
    std::uint8_t max_resp_time = 0;  // tenths of a second; queries only, 0 otherwise
    Ipv4Address group;

    [[nodiscard]] static IgmpV2Message report(Ipv4Address group) noexcept {
        return {kIgmpV2MembershipReport, 0, group};
    }
    [[nodiscard]] static IgmpV2Message leave(Ipv4Address group) noexcept { return {kIgmpV2LeaveGroup, 0, group}; }
    // A general query has group 0.0.0.0 (RFC 2236 §2.4).
    [[nodiscard]] static IgmpV2Message query(std::uint8_t max_resp_time, Ipv4Address group = {}) noexcept {
        return {kIgmpMembershipQuery, max_resp_time, group};
    }
    // The first 8 bytes of any view (for a v3 report they are not a v2 message).
    [[nodiscard]] static IgmpV2Message from_view(const IgmpView& view) noexcept {
        return {view.type(), view.max_resp_code(), view.group_address()};
    }

    static constexpr std::size_t len() noexcept { return kIgmpV2Len; }
    // Writes 8 bytes, checksum included, at the start of out;
    // invalid_argument (nothing written) if out is shorter.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;

    friend constexpr bool operator==(const IgmpV2Message&, const IgmpV2Message&) = default;
};

// A v3 query (RFC 3376 §4.1). Non-owning: sources must outlive emit().
struct IgmpV3Query {
    std::uint8_t max_resp_code = 100;  // igmp_v3_encode_code(tenths of a second); 100 = 10 s (§8.3)
    Ipv4Address group;                 // 0.0.0.0 for a general query
    bool suppress_router_processing = false;
    std::uint8_t querier_robustness = 2;  // QRV 0..7; RFC 3376 §8.1 default 2
    std::uint8_t qqic = 125;              // igmp_v3_encode_code(seconds); §8.2 default 125 s
    std::span<const Ipv4Address> sources;

    [[nodiscard]] std::size_t len() const noexcept { return kIgmpV3QueryMinLen + 4 * sources.size(); }
    // Writes len() bytes, checksum included, at the start of out;
    // invalid_argument (nothing written) if out is shorter, QRV is above 7
    // or there are more than 65535 sources.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;
};

// One group record to write (RFC 3376 §4.2.4). Non-owning.
struct IgmpV3GroupRecord {
    std::uint8_t record_type = kIgmpModeIsExclude;
    Ipv4Address multicast_address;
    std::span<const Ipv4Address> sources;
    std::span<const std::uint8_t> aux_data;  // a multiple of 4 bytes; none defined by RFC 3376

    [[nodiscard]] std::size_t len() const noexcept {
        return kIgmpGroupRecordMinLen + 4 * sources.size() + aux_data.size();
    }
};

// A v3 report (RFC 3376 §4.2). Non-owning: records (and their sources)
// must outlive emit().
struct IgmpV3Report {
    std::span<const IgmpV3GroupRecord> records;

    [[nodiscard]] std::size_t len() const noexcept;
    // Writes len() bytes, checksum included, at the start of out;
    // invalid_argument (nothing written) if out is shorter, a count does
    // not fit its 16-bit field, or aux data is not whole 32-bit words.
    [[nodiscard]] Status emit(std::span<std::uint8_t> out) const noexcept;
};

// The IPv4 header for an IGMP message of igmp_len bytes: TTL 1, Router
// Alert, protocol 2, DSCP CS6 and DF, as Linux sends them. The
// destination follows the message (RFC 2236 §9: report to the group,
// leave to all-routers; RFC 3376 §4.2.14: v3 report to 224.0.0.22).
[[nodiscard]] Ipv4Header igmp_ipv4_header(Ipv4Address source, Ipv4Address destination, std::uint16_t igmp_len) noexcept;

}  // namespace kbnet::wire
