// IgmpHost: reports on join and leave (v3 state changes, v2/v1 reports and
// leaves), answers to general and group-specific queries with the RFC 3376
// §5.2 pending-response rules, version compatibility (RFC 3376 §7.2.1),
// v2 report suppression, the all-systems group, bad input and capacity,
// in simulated time with a fixed random sequence. Every message sent is
// decoded again with the wire views.
#include "kbnet/stack/igmp.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <span>
#include <stdexcept>
#include <string_view>
#include <utility>
#include <vector>

#include "kbnet/stack/counters.hpp"
#include "kbnet/stack/timer_wheel.hpp"
#include "kbnet/wire/igmp.hpp"

namespace kbnet::stack {
namespace {

using wire::IgmpKind;
using wire::IgmpView;
using wire::Ipv4Address;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000 * kMs;

constexpr Ipv4Address kGroupA = Ipv4Address::from_octets(239, 1, 2, 3);
constexpr Ipv4Address kGroupB = Ipv4Address::from_octets(239, 9, 9, 9);
constexpr Ipv4Address kGroupC = Ipv4Address::from_octets(232, 0, 0, 7);
constexpr Ipv4Address kRouter = Ipv4Address::from_octets(10, 0, 0, 254);
constexpr Ipv4Address kOtherHost = Ipv4Address::from_octets(10, 0, 0, 9);

struct Sent {
    Ipv4Address destination;
    std::vector<std::uint8_t> bytes;
    std::uint64_t at;
};

struct Record {
    std::uint8_t type;
    Ipv4Address group;
    std::size_t sources;
    friend bool operator==(const Record&, const Record&) = default;
};

class FakeOwner : public IgmpOwner {
  public:
    explicit FakeOwner(const std::uint64_t& now) : now_(now) {}
    void send_igmp(Ipv4Address destination, std::span<const std::uint8_t> message) noexcept override {
        sent.push_back({destination, {message.begin(), message.end()}, now_});
    }
    // The queued values first, then `fallback` forever.
    std::uint32_t random() noexcept override {
        if (randoms.empty()) return fallback;
        const std::uint32_t r = randoms.front();
        randoms.pop_front();
        return r;
    }

    std::vector<Sent> sent;
    std::deque<std::uint32_t> randoms;
    std::uint32_t fallback = 0;

  private:
    const std::uint64_t& now_;
};

// The records of a v3 report, after checking it is one (type 0x22, to
// 224.0.0.22, valid checksum).
std::vector<Record> v3_records(const Sent& s) {
    std::vector<Record> out;
    EXPECT_EQ(s.destination, wire::kIpv4IgmpV3Routers) << "RFC 3376 §4.2.14";
    const auto view = IgmpView::parse(s.bytes);
    EXPECT_TRUE(view.ok());
    if (!view) return out;
    EXPECT_EQ(view->kind(), IgmpKind::v3_report);
    EXPECT_EQ(view->type(), 0x22);
    EXPECT_TRUE(view->checksum_ok());
    for (const auto& r : view->group_records()) {
        out.push_back({r.record_type(), r.multicast_address(), r.source_count()});
    }
    return out;
}

// An 8-byte message with a valid checksum: returns its type and group.
std::pair<std::uint8_t, Ipv4Address> v2_message(const Sent& s) {
    EXPECT_EQ(s.bytes.size(), 8u);
    const auto view = IgmpView::parse(s.bytes);
    EXPECT_TRUE(view.ok());
    if (!view) return {};
    EXPECT_TRUE(view->checksum_ok());
    return {view->type(), view->group_address()};
}

std::vector<std::uint8_t> v2_query(std::uint8_t max_resp_ds, Ipv4Address group = {}) {
    std::vector<std::uint8_t> b(8);
    EXPECT_TRUE(wire::IgmpV2Message::query(max_resp_ds, group).emit(b).ok());
    return b;
}

std::vector<std::uint8_t> v2_report(Ipv4Address group) {
    std::vector<std::uint8_t> b(8);
    EXPECT_TRUE(wire::IgmpV2Message::report(group).emit(b).ok());
    return b;
}

std::vector<std::uint8_t> v3_query(std::uint8_t max_resp_code, Ipv4Address group = {},
                                   std::span<const Ipv4Address> sources = {}, std::uint8_t qrv = 2,
                                   std::uint8_t qqic = 125) {
    wire::IgmpV3Query q;
    q.max_resp_code = max_resp_code;
    q.group = group;
    q.sources = sources;
    q.querier_robustness = qrv;
    q.qqic = qqic;
    std::vector<std::uint8_t> b(q.len());
    EXPECT_TRUE(q.emit(b).ok());
    return b;
}

IgmpConfig config_with(std::uint32_t capacity, std::uint8_t robustness = 2) {
    IgmpConfig c;
    c.capacity = capacity;
    c.robustness = robustness;
    return c;
}

class IgmpHostTest : public testing::Test {
  protected:
    explicit IgmpHostTest(const IgmpConfig& config = IgmpConfig{}) : host_(owner_, wheel_, config, counters_) {}

    // Advances the wheel through every deadline up to t, one at a time, so
    // each message is stamped with the time its timer fired.
    void run_until(std::uint64_t t) {
        for (;;) {
            wheel_.advance(now_);
            const std::uint64_t next = wheel_.next_event_ns();
            if (next > t) break;
            now_ = std::max(next, now_ + 1);
        }
        now_ = t;
        wheel_.advance(t);
    }
    void receive(const std::vector<std::uint8_t>& message, Ipv4Address destination = wire::kIpv4AllSystems,
                 Ipv4Address source = kRouter) {
        host_.on_message(message, source, destination, now_);
    }
    void join(Ipv4Address group) { ASSERT_TRUE(host_.join(group, now_).ok()); }
    void leave(Ipv4Address group) { ASSERT_TRUE(host_.leave(group, now_).ok()); }
    // Joins and lets the join's repetitions go out, then forgets them.
    void join_quietly(Ipv4Address group) {
        join(group);
        run_until(now_ + 30 * kSec);
        sent().clear();
    }
    std::vector<Sent>& sent() { return owner_.sent; }

    std::uint64_t now_ = 0;
    TimerWheel wheel_{TimerWheel::kDefaultTickNs, 0};
    FakeOwner owner_{now_};
    IgmpCounters counters_;
    IgmpHost host_;
};

// ---------------------------------------------------------------------------
// Join and leave, v3

TEST_F(IgmpHostTest, join_sends_change_to_exclude_report_at_once_byte_exact) {
    join(kGroupA);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].destination, Ipv4Address::from_octets(224, 0, 0, 22));
    EXPECT_EQ(sent()[0].at, 0u);
    // RFC 3376 §4.2: type 0x22, reserved, checksum, reserved, 1 record;
    // record CHANGE_TO_EXCLUDE_MODE (4), no aux, no sources, 239.1.2.3.
    const std::vector<std::uint8_t> expected{0x22, 0x00, 0xe8, 0xf9, 0x00, 0x00, 0x00, 0x01,
                                             0x04, 0x00, 0x00, 0x00, 0xef, 0x01, 0x02, 0x03};
    EXPECT_EQ(sent()[0].bytes, expected);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpChangeToExclude, kGroupA, 0}}));
    EXPECT_EQ(counters_.out_reports, 1u);
    EXPECT_TRUE(host_.is_member(kGroupA));
    EXPECT_EQ(host_.members(kGroupA), 1u);
    ASSERT_EQ(host_.groups().size(), 1u);
    EXPECT_EQ(host_.groups()[0], kGroupA);
}

TEST_F(IgmpHostTest, join_report_is_repeated_once_after_a_random_delay_within_the_unsolicited_interval) {
    owner_.randoms = {499};  // (0, 1 s] in ms: 1 + 499 % 1000 = 500 ms
    join(kGroupA);
    run_until(499 * kMs);
    EXPECT_EQ(sent().size(), 1u) << "not before the chosen delay";
    run_until(500 * kMs);
    ASSERT_EQ(sent().size(), 2u);
    EXPECT_EQ(sent()[1].at, 500 * kMs);
    EXPECT_EQ(v3_records(sent()[1]), (std::vector<Record>{{wire::kIgmpChangeToExclude, kGroupA, 0}}));
    run_until(60 * kSec);
    EXPECT_EQ(sent().size(), 2u) << "robustness 2: two reports in all";
    EXPECT_EQ(counters_.out_reports, 2u);
}

TEST_F(IgmpHostTest, second_join_of_the_same_group_sends_nothing_and_only_the_last_leave_goes_out) {
    join_quietly(kGroupA);
    join(kGroupA);
    EXPECT_EQ(host_.members(kGroupA), 2u);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty());

    leave(kGroupA);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty()) << "another socket is still a member";
    EXPECT_TRUE(host_.is_member(kGroupA));

    leave(kGroupA);
    EXPECT_FALSE(host_.is_member(kGroupA));
    EXPECT_TRUE(host_.groups().empty());
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpChangeToInclude, kGroupA, 0}}));
}

TEST_F(IgmpHostTest, leave_sends_change_to_include_robustness_times) {
    join_quietly(kGroupA);
    owner_.randoms = {249};  // 250 ms
    const std::uint64_t t0 = now_;
    leave(kGroupA);
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 2u);
    EXPECT_EQ(sent()[0].at, t0);
    EXPECT_EQ(sent()[1].at, t0 + 250 * kMs);
    for (const Sent& s : sent()) {
        EXPECT_EQ(v3_records(s), (std::vector<Record>{{wire::kIgmpChangeToInclude, kGroupA, 0}}));
    }
    EXPECT_EQ(counters_.out_leaves, 2u);
    EXPECT_EQ(host_.members(kGroupA), 0u);
}

TEST_F(IgmpHostTest, robustness_from_the_config_sets_the_number_of_repetitions) {
    IgmpConfig config = config_with(8, 3);
    IgmpHost host(owner_, wheel_, config, counters_);
    owner_.randoms = {499, 999};  // 500 ms, then 1000 ms
    ASSERT_TRUE(host.join(kGroupA, now_).ok());
    run_until(60 * kSec);
    ASSERT_EQ(sent().size(), 3u);
    EXPECT_EQ(sent()[0].at, 0u);
    EXPECT_EQ(sent()[1].at, 500 * kMs);
    EXPECT_EQ(sent()[2].at, 1500 * kMs);
}

TEST_F(IgmpHostTest, rejoin_while_leave_repeats_sends_change_to_exclude_and_stops_the_leave) {
    join_quietly(kGroupA);
    owner_.randoms = {499, 299};
    const std::uint64_t t0 = now_;
    leave(kGroupA);
    run_until(t0 + 100 * kMs);
    join(kGroupA);
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 3u);
    EXPECT_EQ(v3_records(sent()[0])[0].type, wire::kIgmpChangeToInclude);
    EXPECT_EQ(v3_records(sent()[1])[0].type, wire::kIgmpChangeToExclude);
    EXPECT_EQ(sent()[1].at, t0 + 100 * kMs);
    EXPECT_EQ(v3_records(sent()[2])[0].type, wire::kIgmpChangeToExclude) << "RFC 3376 §5.1: the new change repeats";
    EXPECT_EQ(sent()[2].at, t0 + 400 * kMs);
    EXPECT_TRUE(host_.is_member(kGroupA));
}

TEST_F(IgmpHostTest, join_and_leave_refuse_bad_addresses) {
    EXPECT_EQ(host_.join(Ipv4Address::from_octets(10, 0, 0, 1), 0).code(), Errc::invalid_argument);
    EXPECT_EQ(host_.leave(kGroupA, 0).code(), Errc::invalid_argument) << "never joined";
    EXPECT_TRUE(sent().empty());
}

TEST_F(IgmpHostTest, all_systems_group_is_always_a_member_and_never_reported) {
    EXPECT_TRUE(host_.is_member(wire::kIpv4AllSystems));
    join(wire::kIpv4AllSystems);
    run_until(30 * kSec);
    EXPECT_TRUE(sent().empty()) << "RFC 3376 §5: no IGMP message about 224.0.0.1";
    EXPECT_TRUE(host_.groups().empty());
    receive(v3_query(100));
    run_until(60 * kSec);
    EXPECT_TRUE(sent().empty());
    receive(v3_query(100, wire::kIpv4AllSystems), wire::kIpv4AllSystems);
    run_until(90 * kSec);
    EXPECT_TRUE(sent().empty());
    receive(v2_query(100));
    ASSERT_EQ(host_.mode(), IgmpMode::v2);
    run_until(120 * kSec);
    EXPECT_TRUE(sent().empty()) << "RFC 2236 §6: never a report for all-systems";
    leave(wire::kIpv4AllSystems);
    EXPECT_TRUE(sent().empty());
    EXPECT_TRUE(host_.is_member(wire::kIpv4AllSystems));
}

// ---------------------------------------------------------------------------
// Queries, v3

TEST_F(IgmpHostTest, general_query_answered_with_one_report_of_every_group_at_the_chosen_delay) {
    join_quietly(kGroupA);
    join_quietly(kGroupB);
    owner_.randoms = {4321};  // (0, 10 s]: 4322 ms
    const std::uint64_t t0 = now_;
    receive(v3_query(100));
    EXPECT_EQ(counters_.in_queries, 1u);
    EXPECT_EQ(counters_.in_msgs, 1u);
    run_until(t0 + 4321 * kMs);
    EXPECT_TRUE(sent().empty()) << "not earlier than scheduled";
    run_until(t0 + 4322 * kMs);
    ASSERT_EQ(sent().size(), 1u);
    auto records = v3_records(sent()[0]);
    std::sort(records.begin(), records.end(), [](const Record& a, const Record& b) { return a.group < b.group; });
    EXPECT_EQ(records,
              (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroupA, 0}, {wire::kIgmpModeIsExclude, kGroupB, 0}}));
    run_until(t0 + 60 * kSec);
    EXPECT_EQ(sent().size(), 1u);
}

TEST_F(IgmpHostTest, general_query_answers_fall_within_max_resp_time_for_any_random_value) {
    join_quietly(kGroupA);
    const std::array<std::uint32_t, 6> values{0, 1, 9'999, 10'000, 123'456'789, 0xffffffffu};
    for (const std::uint32_t r : values) {
        sent().clear();
        owner_.randoms = {r};
        const std::uint64_t t0 = now_;
        receive(v3_query(50));  // 5 s
        run_until(t0 + 5 * kSec);
        ASSERT_EQ(sent().size(), 1u) << "random " << r;
        EXPECT_GT(sent()[0].at, t0);
        EXPECT_LE(sent()[0].at, t0 + 5 * kSec);
        run_until(now_ + 10 * kSec);
    }
}

TEST_F(IgmpHostTest, max_resp_code_of_128_and_above_is_decoded_exponentially) {
    join_quietly(kGroupA);
    // RFC 3376 §4.1.1: 0x8f = exp 0, mant 15: (0x1f) << 3 = 248 = 24.8 s.
    owner_.randoms = {24'799};  // the largest delay: 24800 ms
    const std::uint64_t t0 = now_;
    receive(v3_query(0x8f));
    run_until(t0 + 24'799 * kMs);
    EXPECT_TRUE(sent().empty());
    run_until(t0 + 24'800 * kMs);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 24'800 * kMs);
}

TEST_F(IgmpHostTest, later_general_query_with_a_sooner_delay_replaces_the_pending_answer) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {2999, 999};  // 3 s, then 1 s
    receive(v3_query(100));
    receive(v3_query(100));
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u) << "one interface timer (RFC 3376 §5.2 rule 2)";
    EXPECT_EQ(sent()[0].at, t0 + 1 * kSec);
}

TEST_F(IgmpHostTest, later_query_with_a_later_delay_does_not_postpone_a_pending_general_answer) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {999, 7999, 4999};  // 1 s, 8 s, 5 s
    receive(v3_query(100));
    receive(v3_query(100));
    receive(v3_query(100, kGroupA), kGroupA);
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u) << "RFC 3376 §5.2 rule 1: no additional response";
    EXPECT_EQ(sent()[0].at, t0 + 1 * kSec);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroupA, 0}}));
}

TEST_F(IgmpHostTest, group_specific_query_is_answered_for_that_group_only) {
    join_quietly(kGroupA);
    join_quietly(kGroupB);
    const std::uint64_t t0 = now_;
    owner_.randoms = {1999};  // 2 s
    receive(v3_query(100, kGroupB), kGroupB);
    run_until(t0 + 1999 * kMs);
    EXPECT_TRUE(sent().empty());
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 2 * kSec);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroupB, 0}}));
}

TEST_F(IgmpHostTest, group_specific_query_keeps_the_earlier_of_two_pending_answers) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {1999, 6999, 499};  // 2 s, 7 s, 0.5 s
    receive(v3_query(100, kGroupA), kGroupA);
    receive(v3_query(100, kGroupA), kGroupA);  // later: ignored
    run_until(t0 + 100 * kMs);
    receive(v3_query(100, kGroupA), kGroupA);  // at 0.1 s + 0.5 s: sooner, taken
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u) << "RFC 3376 §5.2 rule 4: a single response per group";
    EXPECT_EQ(sent()[0].at, t0 + 600 * kMs);
}

TEST_F(IgmpHostTest, group_and_source_specific_query_is_answered_with_the_full_exclude_record) {
    join_quietly(kGroupA);
    const std::array<Ipv4Address, 2> sources{Ipv4Address::from_octets(10, 1, 1, 1),
                                             Ipv4Address::from_octets(10, 1, 1, 2)};
    owner_.randoms = {99};
    receive(v3_query(100, kGroupA, sources), kGroupA);
    run_until(now_ + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroupA, 0}}));
}

TEST_F(IgmpHostTest, query_for_a_group_not_joined_or_already_left_is_not_answered) {
    join_quietly(kGroupA);
    receive(v3_query(100, kGroupB), kGroupB);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty());

    receive(v3_query(100, kGroupA), kGroupA);
    leave(kGroupA);
    run_until(now_ + 30 * kSec);
    for (const Sent& s : sent()) {
        EXPECT_EQ(v3_records(s)[0].type, wire::kIgmpChangeToInclude) << "no IS_EX after the leave";
    }
}

TEST_F(IgmpHostTest, general_query_to_another_multicast_destination_is_ignored) {
    join_quietly(kGroupA);
    receive(v2_query(100), kGroupA);  // RFC 3376 §9.1
    receive(v3_query(100), kGroupA);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty());
}

TEST_F(IgmpHostTest, general_query_to_our_unicast_address_is_answered) {
    join_quietly(kGroupA);
    receive(v3_query(10), Ipv4Address::from_octets(10, 0, 0, 1));  // RFC 3376 §4.1.12
    run_until(now_ + 30 * kSec);
    EXPECT_EQ(sent().size(), 1u);
}

TEST_F(IgmpHostTest, general_query_packs_many_groups_into_as_few_reports_as_fit_the_mtu) {
    IgmpHost host(owner_, wheel_, config_with(200), counters_);
    for (std::uint32_t i = 0; i < 200; ++i) {
        ASSERT_TRUE(host.join(Ipv4Address{Ipv4Address::from_octets(239, 2, 0, 0).value + i}, now_).ok());
    }
    run_until(30 * kSec);
    sent().clear();
    host.on_message(v3_query(10), kRouter, wire::kIpv4AllSystems, now_);
    run_until(now_ + 30 * kSec);
    ASSERT_EQ(sent().size(), 2u);
    const auto first = v3_records(sent()[0]);
    const auto second = v3_records(sent()[1]);
    EXPECT_EQ(first.size(), IgmpHost::kMaxRecordsPerReport);
    EXPECT_EQ(first.size() + second.size(), 200u);
    EXPECT_LE(24 + sent()[0].bytes.size(), 1500u) << "IPv4 header with Router Alert + report fit 1500";
}

// ---------------------------------------------------------------------------
// Version compatibility

TEST_F(IgmpHostTest, v2_general_query_switches_to_v2_reports_sent_to_the_group) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {2999};
    receive(v2_query(50));
    EXPECT_EQ(host_.mode(), IgmpMode::v2);
    run_until(t0 + 2999 * kMs);
    EXPECT_TRUE(sent().empty());
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 3 * kSec);
    EXPECT_EQ(sent()[0].destination, kGroupA) << "RFC 2236 §9: a report goes to the group";
    EXPECT_EQ(v2_message(sent()[0]), std::make_pair(std::uint8_t{0x16}, kGroupA));

    sent().clear();
    join(kGroupB);
    ASSERT_FALSE(sent().empty());
    EXPECT_EQ(sent()[0].destination, kGroupB);
    EXPECT_EQ(v2_message(sent()[0]), std::make_pair(std::uint8_t{0x16}, kGroupB));
}

TEST_F(IgmpHostTest, v2_mode_repeats_the_unsolicited_report_within_ten_seconds) {
    receive(v2_query(100));
    ASSERT_EQ(host_.mode(), IgmpMode::v2);
    const std::uint64_t t0 = now_;
    owner_.randoms = {9999};  // (0, 10 s]: 10 s (RFC 2236 §8.10)
    join(kGroupA);
    run_until(t0 + 60 * kSec);
    ASSERT_EQ(sent().size(), 2u);
    EXPECT_EQ(sent()[0].at, t0);
    EXPECT_EQ(sent()[1].at, t0 + 10 * kSec);
    EXPECT_EQ(v2_message(sent()[1]), std::make_pair(std::uint8_t{0x16}, kGroupA));
}

TEST_F(IgmpHostTest, v2_mode_ends_after_the_older_version_querier_present_timeout) {
    const std::uint64_t t0 = now_;
    receive(v2_query(100));
    // RFC 3376 §8.12: 2 x 125 s + 10 s = 260 s.
    run_until(t0 + 260 * kSec - 1 * kMs);
    EXPECT_EQ(host_.mode(), IgmpMode::v2);
    run_until(t0 + 260 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
    join(kGroupA);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpChangeToExclude, kGroupA, 0}}));
}

TEST_F(IgmpHostTest, each_v2_general_query_restarts_the_timeout) {
    receive(v2_query(100));
    run_until(200 * kSec);
    receive(v2_query(100));
    run_until(459 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v2);
    run_until(460 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
}

TEST_F(IgmpHostTest, v2_group_specific_query_alone_does_not_leave_v3_mode) {
    join_quietly(kGroupA);
    owner_.randoms = {99};
    receive(v2_query(10, kGroupA), kGroupA);
    EXPECT_EQ(host_.mode(), IgmpMode::v3) << "RFC 3376 §7.2.1: only a v2 General Query";
    run_until(now_ + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(v3_records(sent()[0]), (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroupA, 0}}));
}

TEST_F(IgmpHostTest, timeout_uses_the_robustness_and_query_interval_of_the_last_v3_query) {
    receive(v3_query(100, {}, {}, /*qrv=*/3, /*qqic=*/60));
    EXPECT_EQ(host_.robustness(), 3u);
    EXPECT_EQ(host_.query_interval_ns(), 60 * kSec);
    run_until(now_ + 30 * kSec);
    const std::uint64_t t0 = now_;
    receive(v2_query(100));
    run_until(t0 + 190 * kSec - 1 * kMs);  // 3 x 60 s + 10 s
    EXPECT_EQ(host_.mode(), IgmpMode::v2);
    run_until(t0 + 190 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
    sent().clear();
    join(kGroupA);
    run_until(now_ + 30 * kSec);
    EXPECT_EQ(sent().size(), 3u) << "the querier's robustness 3";
}

TEST_F(IgmpHostTest, mode_change_cancels_pending_v3_answers) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {999, 4999};  // v3 answer at 1 s; v2 answer at 5 s
    receive(v3_query(100));
    receive(v2_query(100));
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u) << "RFC 3376 §7.2.1: pending response timers are cancelled";
    EXPECT_EQ(sent()[0].at, t0 + 5 * kSec);
    EXPECT_EQ(v2_message(sent()[0]).first, 0x16);
}

TEST_F(IgmpHostTest, v2_leave_goes_to_all_routers_when_we_sent_the_last_report) {
    receive(v2_query(100));
    join_quietly(kGroupA);
    leave(kGroupA);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].destination, Ipv4Address::from_octets(224, 0, 0, 2));
    EXPECT_EQ(v2_message(sent()[0]), std::make_pair(std::uint8_t{0x17}, kGroupA));
    EXPECT_EQ(counters_.out_leaves, 1u);
    run_until(now_ + 60 * kSec);
    EXPECT_EQ(sent().size(), 1u) << "one leave in v2";
}

TEST_F(IgmpHostTest, v2_leave_is_not_sent_when_another_host_reported_last) {
    receive(v2_query(100));
    join_quietly(kGroupA);
    receive(v2_report(kGroupA), kGroupA, kOtherHost);
    EXPECT_EQ(counters_.in_reports, 1u);
    leave(kGroupA);
    EXPECT_TRUE(sent().empty()) << "RFC 2236 §3";
    EXPECT_EQ(counters_.out_leaves, 0u);
}

TEST_F(IgmpHostTest, v2_report_suppression_cancels_only_that_group) {
    join_quietly(kGroupA);
    join_quietly(kGroupB);
    const std::uint64_t t0 = now_;
    owner_.fallback = 4999;  // every answer at 5 s
    receive(v2_query(100));
    run_until(t0 + 2 * kSec);
    receive(v2_report(kGroupA), kGroupA, kOtherHost);
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 5 * kSec);
    EXPECT_EQ(v2_message(sent()[0]), std::make_pair(std::uint8_t{0x16}, kGroupB));
}

TEST_F(IgmpHostTest, v2_report_also_stops_the_unsolicited_repetition) {
    receive(v2_query(100));
    owner_.randoms = {4999};
    const std::uint64_t t0 = now_;
    join(kGroupA);
    receive(v2_report(kGroupA), kGroupA, kOtherHost);
    run_until(t0 + 60 * kSec);
    EXPECT_EQ(sent().size(), 1u) << "RFC 2236 §6: Delaying Member -> Idle Member";
}

TEST_F(IgmpHostTest, v3_mode_does_not_suppress_on_other_reports) {
    join_quietly(kGroupA);
    owner_.randoms = {4999};
    receive(v3_query(100, kGroupA), kGroupA);
    receive(v2_report(kGroupA), kGroupA, kOtherHost);
    run_until(now_ + 30 * kSec);
    EXPECT_EQ(sent().size(), 1u);
}

TEST_F(IgmpHostTest, v2_timer_is_reset_only_by_a_shorter_max_response_time) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {8999, 499};  // 9 s, then 0.5 s
    receive(v2_query(100));
    run_until(t0 + 1 * kSec);
    receive(v2_query(100, kGroupA), kGroupA);  // 10 s > 8 s remaining: kept
    receive(v2_query(20, kGroupA), kGroupA);   // 2 s < 8 s remaining: reset
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 1 * kSec + 500 * kMs);
}

TEST_F(IgmpHostTest, v1_query_switches_to_v1_reports_and_no_leave) {
    join_quietly(kGroupA);
    const std::uint64_t t0 = now_;
    owner_.randoms = {9999};  // v1: within 10 s
    receive(v2_query(0));     // Max Resp Code 0: a v1 query (RFC 3376 §7.1)
    EXPECT_EQ(host_.mode(), IgmpMode::v1);
    run_until(t0 + 30 * kSec);
    ASSERT_EQ(sent().size(), 1u);
    EXPECT_EQ(sent()[0].at, t0 + 10 * kSec);
    EXPECT_EQ(sent()[0].destination, kGroupA);
    EXPECT_EQ(v2_message(sent()[0]), std::make_pair(std::uint8_t{0x12}, kGroupA));
    sent().clear();
    leave(kGroupA);
    EXPECT_TRUE(sent().empty()) << "RFC 2236 §4: no leave to a v1 querier";
    EXPECT_EQ(counters_.out_leaves, 0u);
}

TEST_F(IgmpHostTest, v1_mode_falls_back_to_v2_while_a_v2_querier_remains) {
    receive(v2_query(100));
    run_until(100 * kSec);
    receive(v2_query(0));
    EXPECT_EQ(host_.mode(), IgmpMode::v1);
    run_until(359 * kSec);
    receive(v2_query(100));  // keeps v2 present until 619 s
    EXPECT_EQ(host_.mode(), IgmpMode::v1) << "a v2 query does not end v1 mode";
    run_until(360 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v2);
    run_until(619 * kSec);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
}

// ---------------------------------------------------------------------------
// Bad input and limits

TEST_F(IgmpHostTest, bad_checksum_is_counted_and_never_trusted) {
    join_quietly(kGroupA);
    auto query = v2_query(100);
    query[2] ^= 0x01;
    receive(query);
    EXPECT_EQ(counters_.in_errors, 1u);
    EXPECT_EQ(counters_.in_msgs, 1u);
    EXPECT_EQ(counters_.in_queries, 0u);
    EXPECT_EQ(host_.mode(), IgmpMode::v3) << "a bad v2 query must not switch versions";
    auto v3 = v3_query(100);
    v3[9] ^= 0x40;  // QQIC changed after the checksum
    receive(v3);
    EXPECT_EQ(counters_.in_errors, 2u);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty());
}

TEST_F(IgmpHostTest, malformed_messages_are_counted_and_dropped) {
    join_quietly(kGroupA);
    const std::vector<std::uint8_t> short_message{0x11, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00};
    receive(short_message);
    auto ten_bytes = v3_query(100);
    ten_bytes.resize(10);  // RFC 3376 §7.1: 9..11 bytes is no query
    receive(ten_bytes);
    auto missing_sources = v3_query(100, kGroupA);
    missing_sources[11] = 3;  // claims 3 sources, carries none
    receive(missing_sources, kGroupA);
    receive(v2_query(100, Ipv4Address::from_octets(10, 0, 0, 1)));  // a query for a unicast "group"
    const std::array<Ipv4Address, 1> source{kOtherHost};
    receive(v3_query(100, {}, source));  // general query with sources
    EXPECT_EQ(counters_.in_errors, 5u);
    EXPECT_EQ(counters_.in_msgs, 5u);
    EXPECT_EQ(counters_.in_queries, 0u);
    EXPECT_EQ(host_.mode(), IgmpMode::v3);
    run_until(now_ + 30 * kSec);
    EXPECT_TRUE(sent().empty());
}

TEST_F(IgmpHostTest, unknown_types_are_ignored_without_an_error) {
    std::vector<std::uint8_t> dvmrp{0x13, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    receive(dvmrp);
    EXPECT_EQ(counters_.in_msgs, 1u);
    EXPECT_EQ(counters_.in_errors, 0u);
}

TEST_F(IgmpHostTest, other_hosts_reports_and_leaves_are_counted) {
    receive(v2_report(kGroupA), kGroupA, kOtherHost);
    std::vector<std::uint8_t> leave_msg(8);
    ASSERT_TRUE(wire::IgmpV2Message::leave(kGroupA).emit(leave_msg).ok());
    receive(leave_msg, wire::kIpv4AllRouters, kOtherHost);
    EXPECT_EQ(counters_.in_msgs, 2u);
    EXPECT_EQ(counters_.in_reports, 1u);
    EXPECT_EQ(counters_.in_errors, 0u);
    EXPECT_TRUE(sent().empty());
}

class IgmpHostCapacityTest : public IgmpHostTest {
  protected:
    IgmpHostCapacityTest() : IgmpHostTest(config_with(2)) {}
};

TEST_F(IgmpHostCapacityTest, join_beyond_capacity_fails_with_no_buffers_and_sends_nothing) {
    join_quietly(kGroupA);
    join_quietly(kGroupB);
    const Status s = host_.join(kGroupC, now_);
    EXPECT_EQ(s.code(), Errc::no_buffers);
    EXPECT_NE(std::string_view(s.error().reason).find("capacity"), std::string_view::npos);
    EXPECT_TRUE(sent().empty());
    EXPECT_FALSE(host_.is_member(kGroupC));
    join(kGroupA);  // another membership of a joined group still fits
    EXPECT_EQ(host_.members(kGroupA), 2u);
}

TEST_F(IgmpHostCapacityTest, a_group_repeating_its_leave_gives_its_place_to_a_new_join) {
    join_quietly(kGroupA);
    join_quietly(kGroupB);
    owner_.randoms = {499};
    const std::uint64_t t0 = now_;
    leave(kGroupA);  // TO_IN now, again at +500 ms
    join(kGroupC);
    run_until(t0 + 30 * kSec);
    ASSERT_GE(sent().size(), 2u);
    EXPECT_EQ(v3_records(sent()[0])[0], (Record{wire::kIgmpChangeToInclude, kGroupA, 0}));
    for (std::size_t i = 1; i < sent().size(); ++i) {
        EXPECT_EQ(v3_records(sent()[i])[0].group, kGroupC) << "A's remaining leave repetition was dropped";
    }
    EXPECT_TRUE(host_.is_member(kGroupC));
}

TEST(IgmpHostConfig, rejects_zero_capacity_and_robustness_out_of_range) {
    std::uint64_t now = 0;
    FakeOwner owner(now);
    TimerWheel wheel;
    IgmpCounters counters;
    EXPECT_THROW(IgmpHost(owner, wheel, config_with(0), counters), std::invalid_argument);
    EXPECT_THROW(IgmpHost(owner, wheel, config_with(4, 0), counters), std::invalid_argument);
    EXPECT_THROW(IgmpHost(owner, wheel, config_with(4, 8), counters), std::invalid_argument);
}

}  // namespace
}  // namespace kbnet::stack
