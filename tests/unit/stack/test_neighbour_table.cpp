// NeighbourTable: resolution with queued packets, request back-off and
// failure, RFC 826 merge and reply decisions, ageing, stale re-checks,
// eviction, the negative cache and static entries, all in simulated time.
#include "kbnet/stack/neighbour_table.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "kbnet/stack/timer_wheel.hpp"
#include "kbnet/wire/arp.hpp"

namespace kbnet::stack {
namespace {

using wire::Ipv4Address;
using wire::MacAddress;

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kSec = 1'000 * kMs;

constexpr Ipv4Address kLocalIp = Ipv4Address::from_octets(10, 0, 0, 1);
constexpr MacAddress kLocalMac{{0x02, 0, 0, 0, 0, 0x01}};
constexpr Ipv4Address kPeerIp = Ipv4Address::from_octets(10, 0, 0, 2);
constexpr MacAddress kPeerMac{{0x02, 0, 0, 0, 0, 0x02}};
constexpr MacAddress kPeerMac2{{0x02, 0, 0, 0, 0, 0x22}};

Ipv4Address host(std::uint32_t n) { return {Ipv4Address::from_octets(10, 1, 0, 0).value + n}; }
MacAddress mac_of(std::uint32_t n) {
    return {{0x02, 0x00, static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
             static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)}};
}
PacketHandle packet(std::uint32_t n) { return {n, 0, 64}; }

struct Request {
    Ipv4Address target;
    MacAddress destination;
    std::uint64_t at;
    friend bool operator==(const Request&, const Request&) = default;
};
struct Sent {
    PacketHandle packet;
    Ipv4Address ip;
    MacAddress mac;
    friend bool operator==(const Sent&, const Sent&) = default;
};

class FakeOwner : public NeighbourOwner {
  public:
    explicit FakeOwner(const std::uint64_t& now) : now_(now) {}
    void send_arp_request(Ipv4Address target, const MacAddress& destination) noexcept override {
        requests.push_back({target, destination, now_});
    }
    void transmit_resolved(PacketHandle p, Ipv4Address ip, const MacAddress& mac) noexcept override {
        sent.push_back({p, ip, mac});
    }
    void release_unresolved(PacketHandle p) noexcept override { released.push_back(p); }

    std::vector<Request> requests;
    std::vector<Sent> sent;
    std::vector<PacketHandle> released;

  private:
    const std::uint64_t& now_;
};

class NeighbourTableTest : public testing::Test {
  protected:
    static NeighbourConfig small_config() {
        NeighbourConfig c;
        c.capacity = 8;
        return c;
    }
    explicit NeighbourTableTest(const NeighbourConfig& config = small_config())
        : owner_(now_), table_(config, owner_, wheel_) {}

    // Moves simulated time to t in 1 ms steps, running the timers at each
    // as a poll loop does (a timer callback acts at the `now` it is given,
    // so one big jump would compress a back-off into one instant).
    void advance_to(std::uint64_t t) {
        while (now_ + kMs < t) {
            now_ += kMs;
            wheel_.advance(now_);
        }
        now_ = t;
        wheel_.advance(t);
    }
    ResolveResult resolve(Ipv4Address ip, PacketHandle p) { return table_.resolve(ip, p, now_); }

    ArpReceiveResult arp(std::uint16_t op, MacAddress sender_mac, Ipv4Address sender_ip, Ipv4Address target_ip,
                         bool target_is_local) {
        const wire::ArpPacket pkt{op, sender_mac, sender_ip, op == wire::kArpOpReply ? kLocalMac : MacAddress{},
                                  target_ip};
        std::array<std::uint8_t, wire::kArpLen> bytes{};
        EXPECT_TRUE(pkt.emit(bytes).ok());
        auto view = wire::ArpView::parse(std::span<const std::uint8_t>(bytes));
        EXPECT_TRUE(view.ok());
        return table_.on_arp(*view, target_is_local, now_);
    }
    // The reply to our request from the peer.
    ArpReceiveResult reply_from(MacAddress mac, Ipv4Address ip) {
        return arp(wire::kArpOpReply, mac, ip, kLocalIp, true);
    }
    NeighbourState state_of(Ipv4Address ip) const {
        auto info = table_.find(ip);
        EXPECT_TRUE(info.has_value());
        return info ? info->state : NeighbourState::incomplete;
    }
    // Resolves ip to mac through a request and its reply, and forgets the
    // request it took.
    void learn(Ipv4Address ip, MacAddress mac) {
        ASSERT_EQ(resolve(ip, packet(999)).outcome, ResolveOutcome::queued);
        (void)reply_from(mac, ip);
        owner_.requests.clear();
        owner_.sent.clear();
    }

    std::uint64_t now_ = 0;
    TimerWheel wheel_;
    FakeOwner owner_;
    NeighbourTable table_;
};

// ---- resolution ----------------------------------------------------------------

TEST_F(NeighbourTableTest, miss_queues_the_packet_and_broadcasts_one_request) {
    auto r = resolve(kPeerIp, packet(1));
    EXPECT_EQ(r.outcome, ResolveOutcome::queued);
    ASSERT_EQ(owner_.requests.size(), 1u);
    EXPECT_EQ(owner_.requests[0], (Request{kPeerIp, MacAddress::broadcast(), 0}));
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::incomplete);
    EXPECT_EQ(table_.find(kPeerIp)->queued, 1);
    // More packets while incomplete queue without another request.
    EXPECT_EQ(resolve(kPeerIp, packet(2)).outcome, ResolveOutcome::queued);
    EXPECT_EQ(owner_.requests.size(), 1u);
    EXPECT_EQ(table_.counters().requests_sent, 1u);
    EXPECT_EQ(table_.counters().packets_queued, 2u);
}

TEST_F(NeighbourTableTest, reply_transmits_the_queued_packets_in_order_with_the_learned_mac) {
    (void)resolve(kPeerIp, packet(1));
    (void)resolve(kPeerIp, packet(2));
    (void)resolve(kPeerIp, packet(3));
    advance_to(300 * kMs);
    auto a = reply_from(kPeerMac, kPeerIp);
    EXPECT_TRUE(a.merged);
    EXPECT_FALSE(a.reply_due);
    EXPECT_EQ(owner_.sent,
              (std::vector<Sent>{
                  {packet(1), kPeerIp, kPeerMac}, {packet(2), kPeerIp, kPeerMac}, {packet(3), kPeerIp, kPeerMac}}));
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::reachable);
    EXPECT_EQ(table_.counters().resolved, 1u);
    EXPECT_EQ(table_.counters().packets_flushed, 3u);
    // No retry once resolved.
    advance_to(20 * kSec);
    EXPECT_EQ(owner_.requests.size(), 1u);
}

TEST_F(NeighbourTableTest, hit_returns_the_mac_and_leaves_the_packet_with_the_caller) {
    learn(kPeerIp, kPeerMac);
    auto r = resolve(kPeerIp, packet(7));
    EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
    EXPECT_EQ(r.mac, kPeerMac);
    EXPECT_TRUE(owner_.sent.empty());
    EXPECT_TRUE(owner_.released.empty());
    EXPECT_TRUE(owner_.requests.empty());
}

TEST_F(NeighbourTableTest, retries_request_with_doubling_backoff_then_gives_up) {
    (void)resolve(kPeerIp, packet(1));
    // Requests at 0 s, 1 s and 3 s (waits of 1 s, 2 s); failure 4 s later.
    advance_to(10 * kSec);
    ASSERT_EQ(owner_.requests.size(), 3u);
    EXPECT_EQ(owner_.requests[0].at, 0u);
    EXPECT_EQ(owner_.requests[1].at, 1 * kSec);
    EXPECT_EQ(owner_.requests[2].at, 3 * kSec);
    for (const auto& r : owner_.requests) EXPECT_EQ(r.destination, MacAddress::broadcast());
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::failed);
    EXPECT_EQ(table_.counters().resolution_failures, 1u);
}

TEST_F(NeighbourTableTest, gives_up_exactly_after_the_last_wait_and_frees_the_queued_packets) {
    (void)resolve(kPeerIp, packet(1));
    (void)resolve(kPeerIp, packet(2));
    advance_to(7 * kSec - 1);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::incomplete);
    EXPECT_TRUE(owner_.released.empty());
    advance_to(7 * kSec);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::failed);
    EXPECT_EQ(owner_.released, (std::vector<PacketHandle>{packet(1), packet(2)}));
    EXPECT_TRUE(owner_.sent.empty());
    EXPECT_EQ(table_.counters().unresolved_drops, 2u);
}

TEST_F(NeighbourTableTest, full_queue_drops_the_oldest_packet_and_counts_it) {
    // Default queue_len 4.
    for (std::uint32_t i = 1; i <= 6; ++i) EXPECT_EQ(resolve(kPeerIp, packet(i)).outcome, ResolveOutcome::queued);
    EXPECT_EQ(owner_.released, (std::vector<PacketHandle>{packet(1), packet(2)}));
    EXPECT_EQ(table_.counters().queue_overflow_drops, 2u);
    EXPECT_EQ(table_.find(kPeerIp)->queued, 4);
    (void)reply_from(kPeerMac, kPeerIp);
    ASSERT_EQ(owner_.sent.size(), 4u);
    for (std::uint32_t i = 0; i < 4; ++i) EXPECT_EQ(owner_.sent[i].packet, packet(i + 3)) << "newest four, in order";
}

TEST_F(NeighbourTableTest, failed_entry_refuses_sends_without_requests_until_failed_time_passes) {
    (void)resolve(kPeerIp, packet(1));
    advance_to(7 * kSec);  // failed; negative cache until 27 s
    ASSERT_EQ(owner_.requests.size(), 3u);
    for (std::uint32_t i = 0; i < 1000; ++i) {
        now_ = 7 * kSec + i * 10 * kMs;
        auto r = resolve(kPeerIp, packet(100 + i));
        ASSERT_EQ(r.outcome, ResolveOutcome::failed);
        ASSERT_EQ(r.error.code, Errc::would_block);
    }
    EXPECT_EQ(owner_.requests.size(), 3u) << "a send flood causes no ARP flood";
    EXPECT_EQ(table_.counters().negative_hits, 1000u);
    // Past failed_ns a send starts a fresh resolution, even before the
    // wheel has removed the entry.
    now_ = 27 * kSec;
    EXPECT_EQ(resolve(kPeerIp, packet(2)).outcome, ResolveOutcome::queued);
    EXPECT_EQ(owner_.requests.size(), 4u);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::incomplete);
}

TEST_F(NeighbourTableTest, failed_entry_is_removed_when_failed_time_passes) {
    (void)resolve(kPeerIp, packet(1));
    advance_to(7 * kSec);
    advance_to(27 * kSec - 1);
    EXPECT_TRUE(table_.find(kPeerIp).has_value());
    advance_to(27 * kSec);
    EXPECT_FALSE(table_.find(kPeerIp).has_value());
    EXPECT_EQ(table_.size(), 0u);
}

TEST_F(NeighbourTableTest, rejects_a_next_hop_that_is_not_unicast) {
    for (Ipv4Address ip : {Ipv4Address{}, Ipv4Address::from_octets(224, 0, 0, 1), Ipv4Address{0xffffffffu}}) {
        auto r = resolve(ip, packet(1));
        EXPECT_EQ(r.outcome, ResolveOutcome::failed);
        EXPECT_EQ(r.error.code, Errc::invalid_argument);
    }
    EXPECT_TRUE(owner_.requests.empty());
    EXPECT_EQ(table_.size(), 0u);
}

// ---- RFC 826 reception -----------------------------------------------------------

TEST_F(NeighbourTableTest, merge_updates_an_existing_entry_even_when_the_target_is_not_us) {
    learn(kPeerIp, kPeerMac);
    // The peer asks someone else, from a new address (its NIC was swapped).
    auto a = arp(wire::kArpOpRequest, kPeerMac2, kPeerIp, Ipv4Address::from_octets(10, 0, 0, 99), false);
    EXPECT_TRUE(a.merged);
    EXPECT_FALSE(a.added);
    EXPECT_FALSE(a.reply_due);
    EXPECT_EQ(table_.find(kPeerIp)->mac, kPeerMac2);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale) << "a new, unconfirmed address";
    EXPECT_EQ(table_.counters().mac_changes, 1u);
}

TEST_F(NeighbourTableTest, unsolicited_arp_with_the_same_mac_keeps_the_entry_reachable) {
    learn(kPeerIp, kPeerMac);
    auto a = arp(wire::kArpOpRequest, kPeerMac, kPeerIp, Ipv4Address::from_octets(10, 0, 0, 99), false);
    EXPECT_TRUE(a.merged);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::reachable);
    EXPECT_EQ(table_.counters().mac_changes, 0u);
}

TEST_F(NeighbourTableTest, unknown_sender_is_added_only_when_we_are_the_target) {
    auto other = arp(wire::kArpOpRequest, kPeerMac, kPeerIp, Ipv4Address::from_octets(10, 0, 0, 99), false);
    EXPECT_FALSE(other.merged);
    EXPECT_FALSE(other.added);
    EXPECT_FALSE(table_.find(kPeerIp).has_value());

    auto ours = arp(wire::kArpOpRequest, kPeerMac, kPeerIp, kLocalIp, true);
    EXPECT_FALSE(ours.merged);
    EXPECT_TRUE(ours.added);
    EXPECT_EQ(table_.find(kPeerIp)->mac, kPeerMac);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale);
    // Usable at once, without a request of our own before the first send.
    auto r = resolve(kPeerIp, packet(1));
    EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
    EXPECT_EQ(r.mac, kPeerMac);
}

TEST_F(NeighbourTableTest, reply_is_due_only_for_a_request_to_a_local_address) {
    EXPECT_TRUE(arp(wire::kArpOpRequest, kPeerMac, kPeerIp, kLocalIp, true).reply_due);
    EXPECT_FALSE(arp(wire::kArpOpReply, kPeerMac, kPeerIp, kLocalIp, true).reply_due);
    EXPECT_FALSE(arp(wire::kArpOpRequest, kPeerMac, kPeerIp, Ipv4Address::from_octets(10, 0, 0, 99), false).reply_due);
    EXPECT_FALSE(arp(7, kPeerMac, kPeerIp, kLocalIp, true).reply_due) << "unknown opcode";
    EXPECT_EQ(table_.counters().requests_received, 2u);
    EXPECT_EQ(table_.counters().replies_received, 1u);
}

TEST_F(NeighbourTableTest, arp_probe_from_zero_address_is_answered_but_not_learned) {
    auto a = arp(wire::kArpOpRequest, kPeerMac, Ipv4Address{}, kLocalIp, true);
    EXPECT_TRUE(a.reply_due);
    EXPECT_FALSE(a.added);
    EXPECT_EQ(table_.size(), 0u);
}

TEST_F(NeighbourTableTest, sender_with_broadcast_or_multicast_address_is_ignored) {
    learn(kPeerIp, kPeerMac);
    auto a = arp(wire::kArpOpRequest, MacAddress::broadcast(), kPeerIp, kLocalIp, true);
    EXPECT_FALSE(a.reply_due);
    EXPECT_FALSE(a.merged);
    auto b = arp(wire::kArpOpRequest, kPeerMac2, Ipv4Address::from_octets(224, 0, 0, 5), kLocalIp, true);
    EXPECT_FALSE(b.reply_due);
    EXPECT_FALSE(b.added);
    EXPECT_EQ(table_.find(kPeerIp)->mac, kPeerMac) << "not poisoned";
    EXPECT_EQ(table_.counters().arp_ignored, 2u);
}

TEST_F(NeighbourTableTest, request_from_the_peer_resolves_an_incomplete_entry_and_flushes_it) {
    (void)resolve(kPeerIp, packet(1));
    auto a = arp(wire::kArpOpRequest, kPeerMac, kPeerIp, kLocalIp, true);
    EXPECT_TRUE(a.merged);
    EXPECT_TRUE(a.reply_due);
    EXPECT_EQ(owner_.sent, (std::vector<Sent>{{packet(1), kPeerIp, kPeerMac}}));
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale) << "learned, not confirmed by a reply to us";
}

// ---- ageing --------------------------------------------------------------------------

TEST_F(NeighbourTableTest, reachable_becomes_stale_after_reachable_time_then_is_removed_after_gc_time) {
    learn(kPeerIp, kPeerMac);  // confirmed at 0
    advance_to(30 * kSec - 1);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::reachable);
    advance_to(30 * kSec);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale);
    advance_to(90 * kSec - 1);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale);
    advance_to(90 * kSec);
    EXPECT_FALSE(table_.find(kPeerIp).has_value());
    EXPECT_EQ(table_.counters().aged_out, 1u);
    EXPECT_TRUE(owner_.requests.empty()) << "an unused entry is never re-requested";
}

TEST_F(NeighbourTableTest, using_a_stale_entry_sends_a_unicast_request_and_keeps_the_old_mac) {
    learn(kPeerIp, kPeerMac);
    advance_to(40 * kSec);
    ASSERT_EQ(state_of(kPeerIp), NeighbourState::stale);
    auto r = resolve(kPeerIp, packet(1));
    EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
    EXPECT_EQ(r.mac, kPeerMac);
    ASSERT_EQ(owner_.requests.size(), 1u);
    EXPECT_EQ(owner_.requests[0], (Request{kPeerIp, kPeerMac, 40 * kSec}));
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::probe);
    // Further sends during the probe go out, without more requests.
    EXPECT_EQ(resolve(kPeerIp, packet(2)).outcome, ResolveOutcome::resolved);
    EXPECT_EQ(owner_.requests.size(), 1u);
    EXPECT_EQ(table_.counters().probes_sent, 1u);
    // The answer confirms it; no more probes.
    advance_to(40 * kSec + 200 * kMs);
    (void)reply_from(kPeerMac, kPeerIp);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::reachable);
    advance_to(60 * kSec);
    EXPECT_EQ(owner_.requests.size(), 1u);
}

TEST_F(NeighbourTableTest, reachable_entry_used_after_its_reachable_time_probes_before_the_timer_runs) {
    learn(kPeerIp, kPeerMac);
    now_ = 31 * kSec;  // the wheel has not been advanced yet
    auto r = resolve(kPeerIp, packet(1));
    EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
    ASSERT_EQ(owner_.requests.size(), 1u);
    EXPECT_EQ(owner_.requests[0].destination, kPeerMac);
}

TEST_F(NeighbourTableTest, unanswered_probes_back_off_then_fail_the_entry) {
    learn(kPeerIp, kPeerMac);
    advance_to(40 * kSec);
    (void)resolve(kPeerIp, packet(1));
    advance_to(50 * kSec);
    ASSERT_EQ(owner_.requests.size(), 3u);
    EXPECT_EQ(owner_.requests[1].at, 41 * kSec);
    EXPECT_EQ(owner_.requests[2].at, 43 * kSec);
    for (const auto& q : owner_.requests) EXPECT_EQ(q.destination, kPeerMac);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::failed);
    EXPECT_EQ(resolve(kPeerIp, packet(2)).outcome, ResolveOutcome::failed);
}

TEST_F(NeighbourTableTest, upper_layer_confirmation_keeps_an_entry_reachable) {
    learn(kPeerIp, kPeerMac);
    for (std::uint64_t t = 10 * kSec; t <= 100 * kSec; t += 10 * kSec) {
        advance_to(t);
        table_.confirm(kPeerIp, t);
    }
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::reachable);
    EXPECT_EQ(resolve(kPeerIp, packet(1)).outcome, ResolveOutcome::resolved);
    EXPECT_TRUE(owner_.requests.empty());
    advance_to(130 * kSec);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::stale) << "stale reachable_ns after the last confirmation";
}

// ---- capacity ----------------------------------------------------------------------

TEST_F(NeighbourTableTest, full_table_evicts_the_least_recently_used_entry) {
    for (std::uint32_t i = 0; i < 8; ++i) {
        now_ = i * kMs;
        learn(host(i), mac_of(i));
    }
    // host(0) is used again, so host(1) is now the least recently used.
    now_ = 10 * kMs;
    EXPECT_EQ(resolve(host(0), packet(1)).outcome, ResolveOutcome::resolved);
    EXPECT_EQ(resolve(host(100), packet(2)).outcome, ResolveOutcome::queued);
    EXPECT_FALSE(table_.find(host(1)).has_value());
    EXPECT_TRUE(table_.find(host(0)).has_value());
    EXPECT_TRUE(table_.find(host(100)).has_value());
    EXPECT_EQ(table_.counters().evictions, 1u);
    EXPECT_EQ(table_.size(), 8u);
}

TEST_F(NeighbourTableTest, full_table_of_incomplete_entries_refuses_a_new_destination) {
    for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(resolve(host(i), packet(i)).outcome, ResolveOutcome::queued);
    auto r = resolve(host(100), packet(100));
    EXPECT_EQ(r.outcome, ResolveOutcome::failed);
    EXPECT_EQ(r.error.code, Errc::no_buffers);
    EXPECT_EQ(table_.counters().table_full, 1u);
    EXPECT_EQ(table_.counters().evictions, 0u);
    EXPECT_TRUE(owner_.released.empty()) << "no queued packet was dropped for it";
    for (std::uint32_t i = 0; i < 8; ++i) EXPECT_EQ(table_.find(host(i))->queued, 1);
}

TEST_F(NeighbourTableTest, static_entries_are_not_evicted) {
    for (std::uint32_t i = 0; i < 7; ++i) EXPECT_TRUE(table_.add_static(host(i), mac_of(i)).ok());
    learn(host(7), mac_of(7));
    EXPECT_EQ(resolve(host(100), packet(1)).outcome, ResolveOutcome::queued);  // evicts host(7)
    EXPECT_FALSE(table_.find(host(7)).has_value());
    auto r = resolve(host(101), packet(2));  // only static and incomplete left
    EXPECT_EQ(r.outcome, ResolveOutcome::failed);
    for (std::uint32_t i = 0; i < 7; ++i) EXPECT_EQ(state_of(host(i)), NeighbourState::permanent);
}

// ---- static entries ----------------------------------------------------------------

TEST_F(NeighbourTableTest, static_entry_resolves_never_ages_and_ignores_arp) {
    ASSERT_TRUE(table_.add_static(kPeerIp, kPeerMac).ok());
    advance_to(1'000 * kSec);
    auto r = resolve(kPeerIp, packet(1));
    EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
    EXPECT_EQ(r.mac, kPeerMac);
    auto a = arp(wire::kArpOpReply, kPeerMac2, kPeerIp, kLocalIp, true);
    EXPECT_TRUE(a.merged);
    EXPECT_EQ(table_.find(kPeerIp)->mac, kPeerMac);
    EXPECT_EQ(state_of(kPeerIp), NeighbourState::permanent);
    EXPECT_TRUE(owner_.requests.empty());
}

TEST_F(NeighbourTableTest, static_entry_over_an_incomplete_one_sends_its_queued_packets) {
    (void)resolve(kPeerIp, packet(1));
    ASSERT_TRUE(table_.add_static(kPeerIp, kPeerMac).ok());
    EXPECT_EQ(owner_.sent, (std::vector<Sent>{{packet(1), kPeerIp, kPeerMac}}));
    advance_to(60 * kSec);
    EXPECT_EQ(owner_.requests.size(), 1u) << "no retries for a static entry";
}

TEST_F(NeighbourTableTest, static_entry_with_a_multicast_mac_is_rejected) {
    auto st = table_.add_static(kPeerIp, MacAddress::broadcast());
    EXPECT_EQ(st.code(), Errc::invalid_argument);
    EXPECT_EQ(table_.size(), 0u);
}

TEST_F(NeighbourTableTest, remove_releases_the_queued_packets) {
    (void)resolve(kPeerIp, packet(1));
    (void)resolve(kPeerIp, packet(2));
    EXPECT_TRUE(table_.remove(kPeerIp));
    EXPECT_FALSE(table_.remove(kPeerIp));
    EXPECT_EQ(owner_.released, (std::vector<PacketHandle>{packet(1), packet(2)}));
    advance_to(60 * kSec);
    EXPECT_EQ(owner_.requests.size(), 1u) << "its retry timer went with it";
}

TEST(NeighbourTable, destructor_hands_held_packets_back_to_the_owner) {
    std::uint64_t now = 0;
    TimerWheel wheel;
    FakeOwner owner(now);
    {
        NeighbourTable table(NeighbourConfig{}, owner, wheel);
        (void)table.resolve(kPeerIp, packet(1), now);
    }
    EXPECT_EQ(owner.released, (std::vector<PacketHandle>{packet(1)}));
    EXPECT_EQ(wheel.armed_count(), 0u);
}

TEST(NeighbourTable, a_huge_retry_interval_saturates_instead_of_wrapping_to_an_immediate_retry) {
    // retry_ns << requests would wrap past 2^64 on the third wait; the wait
    // saturates to "never" instead of becoming zero.
    std::uint64_t now = 0;
    TimerWheel wheel;
    FakeOwner owner(now);
    NeighbourConfig c;
    c.retry_ns = std::uint64_t{1} << 62;
    c.max_requests = 4;
    NeighbourTable table(c, owner, wheel);
    (void)table.resolve(kPeerIp, packet(1), now);
    for (const std::uint64_t t : {std::uint64_t{1} << 62, (std::uint64_t{1} << 62) + (std::uint64_t{1} << 63)}) {
        now = t;
        wheel.advance(now);
    }
    ASSERT_EQ(owner.requests.size(), 3u);
    now += 10 * kSec;
    wheel.advance(now);
    EXPECT_EQ(owner.requests.size(), 3u);
    EXPECT_EQ(table.find(kPeerIp)->state, NeighbourState::incomplete);
}

TEST(NeighbourTable, rejects_a_retry_interval_under_one_second_citing_rfc_1122) {
    std::uint64_t now = 0;
    TimerWheel wheel;
    FakeOwner owner(now);
    NeighbourConfig c;
    c.retry_ns = 100 * kMs;
    try {
        NeighbourTable table(c, owner, wheel);
        FAIL() << "expected std::invalid_argument";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("RFC 1122"), std::string::npos) << e.what();
    }
    c = NeighbourConfig{};
    c.queue_len = 0;
    EXPECT_THROW(NeighbourTable(c, owner, wheel), std::invalid_argument);
    c = NeighbourConfig{};
    c.capacity = 0;
    EXPECT_THROW(NeighbourTable(c, owner, wheel), std::invalid_argument);
}

// Entries come and go in random order through every path (learn, static,
// remove, eviction, ageing) while a map says what must be findable: the
// open-addressing index must never lose or invent an entry.
TEST(NeighbourTable, index_stays_consistent_under_random_adds_and_removals) {
    std::uint64_t now = 0;
    TimerWheel wheel;
    FakeOwner owner(now);
    NeighbourConfig c;
    c.capacity = 64;
    NeighbourTable table(c, owner, wheel);
    std::map<std::uint32_t, MacAddress> model;
    std::mt19937 rng(5);
    for (int step = 0; step < 50'000; ++step) {
        const auto n = static_cast<std::uint32_t>(rng() % 200);
        if (rng() % 3 == 0) {
            EXPECT_EQ(table.remove(host(n)), model.erase(n) == 1);
        } else if (model.size() < 64 || model.count(n) != 0) {
            ASSERT_TRUE(table.add_static(host(n), mac_of(n)).ok());
            model[n] = mac_of(n);
        }
        ASSERT_EQ(table.size(), model.size());
        if (step % 97 == 0) {
            for (std::uint32_t k = 0; k < 200; ++k) {
                auto info = table.find(host(k));
                ASSERT_EQ(info.has_value(), model.count(k) == 1) << "step " << step << " host " << k;
                if (info) {
                    ASSERT_EQ(info->mac, model[k]);
                }
            }
        }
    }
}

// The owner may call back into the table while it hands packets over.
class ReentrantOwner : public FakeOwner {
  public:
    using FakeOwner::FakeOwner;
    NeighbourTable* table = nullptr;
    void transmit_resolved(PacketHandle p, Ipv4Address ip, const MacAddress& mac) noexcept override {
        FakeOwner::transmit_resolved(p, ip, mac);
        auto r = table->resolve(ip, packet(p.frame + 100), 0);
        EXPECT_EQ(r.outcome, ResolveOutcome::resolved);
        (void)table->resolve(host(p.frame), packet(p.frame + 200), 0);  // creates entries, may evict
    }
};

TEST(NeighbourTable, owner_may_call_back_into_the_table_while_queued_packets_are_sent) {
    std::uint64_t now = 0;
    TimerWheel wheel;
    ReentrantOwner owner(now);
    NeighbourConfig c;
    c.capacity = 2;
    NeighbourTable table(c, owner, wheel);
    owner.table = &table;
    (void)table.resolve(kPeerIp, packet(1), 0);
    (void)table.resolve(kPeerIp, packet(2), 0);
    const wire::ArpPacket reply{wire::kArpOpReply, kPeerMac, kPeerIp, kLocalMac, kLocalIp};
    std::array<std::uint8_t, wire::kArpLen> bytes{};
    ASSERT_TRUE(reply.emit(bytes).ok());
    auto view = wire::ArpView::parse(std::span<const std::uint8_t>(bytes));
    ASSERT_TRUE(view.ok());
    (void)table.on_arp(*view, true, 0);
    ASSERT_EQ(owner.sent.size(), 2u);
    EXPECT_EQ(owner.sent[0].packet, packet(1));
    EXPECT_EQ(owner.sent[1].packet, packet(2));
    EXPECT_EQ(table.size(), 2u);
}

}  // namespace
}  // namespace kbnet::stack
