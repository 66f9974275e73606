// The host side of IGMP for one interface of one stack: IGMPv3 (RFC 3376)
// with the IGMPv2 (RFC 2236) and IGMPv1 (RFC 1112) compatibility modes an
// IGMPv3 host must keep (RFC 3376 §7.2.1).
//
// What it does:
//  - counts socket memberships per group; only the first join and the last
//    leave change the interface state and go on the wire (RFC 1112 §7.2,
//    RFC 3376 §3.2);
//  - on a change, sends a State-Change Report at once and repeats it
//    ([Robustness Variable] - 1) more times (RFC 3376 §5.1), or in v1/v2
//    mode an unsolicited report repeated the same way (RFC 2236 §3) and a
//    Leave Group when the last member leaves (v2 only, and only if we were
//    the last host to report, RFC 2236 §3);
//  - answers queries after a random delay (RFC 3376 §5.2, RFC 2236 §3),
//    with v2 report suppression in v1/v2 mode;
//  - follows the querier's version with the Older Version Querier Present
//    timers (RFC 3376 §7.2.1, §8.12).
// Only any-source membership exists (a socket joins a group, no source
// filters), so a member group is always EXCLUDE {} and a non-member
// INCLUDE {} (RFC 3376 §3.2): joins are CHANGE_TO_EXCLUDE_MODE {}, leaves
// CHANGE_TO_INCLUDE_MODE {}, answers MODE_IS_EXCLUDE {}.
//
// The stack's part (see IgmpOwner): give on_message() every IGMP message
// (IPv4 protocol 2) addressed to 224.0.0.1, to a group is_member() accepts
// or to our unicast address; call join()/leave() for each socket
// membership; advance the TimerWheel; wrap what send_igmp() hands over in
// an IPv4 header.
//
// Fixed capacity, all memory taken at construction; no allocation, lock or
// exception afterwards. Time is passed in; the host arms timers on the
// stack's TimerWheel (design.md, decision 5).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kbnet/core/result.hpp"
#include "kbnet/stack/counters.hpp"
#include "kbnet/stack/timer_wheel.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/igmp.hpp"

namespace kbnet::stack {

// What IgmpHost needs from the stack. Calls happen from inside join(),
// leave(), on_message() and the TimerWheel's advance(); the owner must not
// call back into the IgmpHost from them.
class IgmpOwner {
  public:
    virtual ~IgmpOwner() = default;
    // Send one IGMP message (checksum included) to ip_destination. The
    // owner adds the IPv4 header, wire::igmp_ipv4_header(our address,
    // ip_destination, size): TTL 1 and the Router Alert option (RFC 2236
    // §2, RFC 3376 §4), protocol 2, TOS 0xc0 (RFC 3376 §4: Internetwork
    // Control). The bytes are only valid during the call.
    virtual void send_igmp(wire::Ipv4Address ip_destination, std::span<const std::uint8_t> igmp_message) noexcept = 0;
    // Uniformly distributed 32 bits for the random report delays (RFC 2236
    // §3, RFC 3376 §5.1 and §5.2: hosts that heard the same query must not
    // answer together). Seeded by the stack; tests pass a fixed sequence.
    virtual std::uint32_t random() noexcept = 0;
};

// The host compatibility mode (RFC 3376 §7.2.1), i.e. which protocol the
// host speaks on the interface.
enum class IgmpMode : std::uint8_t { v1, v2, v3 };

struct IgmpConfig {
    // Groups joined at once (plus groups still repeating their v3 leave).
    // Linux's default IP_MAX_MEMBERSHIPS is 20 per socket; a stack serving a
    // few sockets needs a few times that. 1 .. 65535.
    std::uint32_t capacity = 64;
    // [Robustness Variable] (RFC 3376 §8.1, RFC 2236 §8.1): how many times
    // a change is sent, and a factor of the older-querier timeout. A v3
    // query's non-zero QRV replaces it (RFC 3376 §4.1.6). 1 .. 7 (the QRV
    // field's range; §8.1: it MUST NOT be 0).
    std::uint8_t robustness = 2;
    // [Query Interval] (RFC 3376 §8.2): 125 s. A v3 query's QQIC replaces
    // it (§4.1.7); only used for the Older Version Querier Present Timeout.
    std::uint64_t query_interval_ns = 125'000'000'000;
    // [Query Response Interval] (RFC 3376 §8.3): 10 s; the other term of
    // the Older Version Querier Present Timeout (§8.12).
    std::uint64_t query_response_interval_ns = 10'000'000'000;
    // [Unsolicited Report Interval] in v3 mode (RFC 3376 §8.11): 1 s.
    std::uint64_t unsolicited_report_interval_ns = 1'000'000'000;
    // [Unsolicited Report Interval] in v1/v2 mode (RFC 2236 §8.10): 10 s.
    std::uint64_t v2_unsolicited_report_interval_ns = 10'000'000'000;
};

class IgmpHost {
  public:
    // Reports of a general query answer carry at most this many records
    // (8 bytes each for EXCLUDE {}): one report must fit an Ethernet MTU
    // of 1500 after the 24-byte IPv4 header with Router Alert and the
    // 8-byte report header (RFC 3376 §5.2: records "packed into individual
    // Report messages, to the extent possible"; DF is set, so no fragments).
    static constexpr std::size_t kMaxRecordsPerReport = (1500 - 24 - wire::kIgmpV3ReportMinLen) / 8;

    // owner, wheel and counters must outlive the host. Setup path: throws
    // std::invalid_argument naming a config field outside its range.
    IgmpHost(IgmpOwner& owner, TimerWheel& wheel, const IgmpConfig& config, IgmpCounters& counters);
    IgmpHost(const IgmpHost&) = delete;
    IgmpHost& operator=(const IgmpHost&) = delete;
    ~IgmpHost() = default;

    // One more socket membership of group. The first one makes the
    // interface a member and reports it at once (v3: CHANGE_TO_EXCLUDE_MODE
    // {} to 224.0.0.22; v2: Membership Report to the group; v1: v1 report),
    // then robustness - 1 more times. 224.0.0.1 is accepted and never
    // reported (RFC 2236 §6, RFC 3376 §5): every host is always a member.
    // Errors: invalid_argument for a non-multicast address; no_buffers when
    // capacity groups are joined.
    [[nodiscard]] Status join(wire::Ipv4Address group, std::uint64_t now_ns) noexcept;
    // One socket membership less. The last one makes the interface leave:
    // v3: CHANGE_TO_INCLUDE_MODE {} sent robustness times; v2: one Leave
    // Group to 224.0.0.2 if we sent the last report for the group; v1:
    // nothing (RFC 2236 §4). invalid_argument if the group has no member.
    [[nodiscard]] Status leave(wire::Ipv4Address group, std::uint64_t now_ns) noexcept;

    // An IGMP message (the IPv4 payload) received on the interface, with
    // the addresses of its IPv4 header. Malformed or bad-checksum messages
    // are counted in InErrors and change nothing; unknown types (other
    // users of protocol 2: DVMRP, PIM v1, mtrace) are ignored (RFC 2236
    // §2.1). The source address is not used by any rule: queries from
    // 0.0.0.0 (snooping switches, RFC 4541 §2.1.1) count like any other.
    // The stack must not loop our own reports back here: our v2 report
    // heard as another host's would cancel our Leave (Linux drops looped
    // IGMP the same way).
    void on_message(std::span<const std::uint8_t> message, wire::Ipv4Address source, wire::Ipv4Address destination,
                    std::uint64_t now_ns) noexcept;

    // For the receive filter: true for a joined group and for 224.0.0.1.
    [[nodiscard]] bool is_member(wire::Ipv4Address group) const noexcept;
    // The joined groups (224.0.0.1 not included), in no particular order.
    // Valid until the next join() or leave().
    [[nodiscard]] std::span<const wire::Ipv4Address> groups() const noexcept { return {joined_.get(), joined_count_}; }
    // Socket memberships of group (0 if not joined).
    [[nodiscard]] std::uint32_t members(wire::Ipv4Address group) const noexcept;
    [[nodiscard]] IgmpMode mode() const noexcept { return mode_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    // The current [Robustness Variable] and [Query Interval] (the config's,
    // or adopted from the last v3 query).
    [[nodiscard]] std::uint8_t robustness() const noexcept { return robustness_; }
    [[nodiscard]] std::uint64_t query_interval_ns() const noexcept { return query_interval_ns_; }

  private:
    // One group the interface is a member of, or has just left and is
    // still repeating the leave (v3: refs == 0 while in_use).
    struct Group {
        IgmpHost* host = nullptr;
        wire::Ipv4Address address;
        std::uint32_t refs = 0;
        bool in_use = false;
        // RFC 2236 §3: we sent the last report heard for the group, so our
        // leave is the one the querier waits for.
        bool last_reporter = false;
        // Repetitions of the last change still to send (RFC 3376 §5.1),
        // and the record that change sends (v3 only).
        std::uint8_t retransmissions = 0;
        std::uint8_t change_record = wire::kIgmpChangeToExclude;
        Timer change_timer;    // next repetition of the state change / unsolicited report
        Timer response_timer;  // pending answer to a query for this group (RFC 3376 §5.2 group timer)
    };

    static void on_change_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;
    static void on_response_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;
    static void on_general_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;
    static void on_querier_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;

    [[nodiscard]] Group* find(wire::Ipv4Address group) noexcept;
    [[nodiscard]] const Group* find(wire::Ipv4Address group) const noexcept;
    [[nodiscard]] Group* allocate() noexcept;
    void release(Group& g) noexcept;
    void add_joined(wire::Ipv4Address group) noexcept;
    void remove_joined(wire::Ipv4Address group) noexcept;

    void on_query(const wire::IgmpView& query, wire::Ipv4Address destination, std::uint64_t now_ns) noexcept;
    void on_older_query(std::uint32_t max_resp_ds, wire::Ipv4Address group, std::uint64_t now_ns) noexcept;
    void on_v3_query(const wire::IgmpView& query, std::uint64_t now_ns) noexcept;
    void on_older_report(wire::Ipv4Address group) noexcept;
    void set_mode(IgmpMode mode) noexcept;
    [[nodiscard]] std::uint64_t older_querier_timeout_ns() const noexcept;
    [[nodiscard]] std::uint64_t random_delay(std::uint64_t max_ns) noexcept;
    [[nodiscard]] std::uint64_t unsolicited_interval_ns() const noexcept;

    void send_change(Group& g) noexcept;
    void send_older_report(Group& g) noexcept;
    void send_current_state(std::span<const wire::Ipv4Address> groups) noexcept;
    void send_v3(std::span<const wire::IgmpV3GroupRecord> records, bool leave) noexcept;

    IgmpOwner& owner_;
    TimerWheel& wheel_;
    IgmpCounters& counters_;
    IgmpConfig config_;
    std::uint32_t capacity_;
    std::unique_ptr<Group[]> groups_;
    std::unique_ptr<wire::Ipv4Address[]> joined_;  // compact list of member groups, for groups()/is_member()
    std::uint32_t joined_count_ = 0;
    IgmpMode mode_ = IgmpMode::v3;
    std::uint8_t robustness_;
    std::uint64_t query_interval_ns_;
    Timer general_timer_;     // RFC 3376 §5.2 interface timer: pending answer to a general query
    Timer v1_querier_timer_;  // IGMPv1 Querier Present (RFC 3376 §7.2.1)
    Timer v2_querier_timer_;  // IGMPv2 Querier Present
    std::array<wire::IgmpV3GroupRecord, kMaxRecordsPerReport> records_{};
    std::array<std::uint8_t, wire::kIgmpV3ReportMinLen + 8 * kMaxRecordsPerReport> tx_{};
};

}  // namespace kbnet::stack
