// IGMP and multicast in the stack: reports on the wire when sockets join
// and leave (byte-checked with the wire views: TTL 1, Router Alert, DSCP,
// destination), answers to queries, v2 compatibility, several sockets on
// one group, multicast TTL and loopback. The IgmpHost's own rules are in
// test_igmp.cpp; these check the stack's wiring of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/igmp.hpp"
#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

constexpr Ipv4Address kGroup = Ipv4Address::from_octets(239, 1, 2, 3);
constexpr Ipv4Address kGroup2 = Ipv4Address::from_octets(239, 9, 9, 9);
const MacAddress kGroupMac = MacAddress::for_ipv4_multicast(kGroup.value);

// One IGMP message the stack sent, with the IPv4 header fields that carry it.
struct SentIgmp {
    MacAddress eth_destination;
    Ipv4Address ip_source;
    Ipv4Address ip_destination;
    std::uint8_t ttl = 0;
    std::uint8_t dscp = 0;
    bool dont_fragment = false;
    bool header_checksum_ok = false;
    Bytes options;
    Bytes message;
};

std::vector<SentIgmp> igmp_messages(const std::vector<Bytes>& frames) {
    std::vector<SentIgmp> out;
    for (const Bytes& f : frames) {
        auto eth = wire::EthernetView::parse(f);
        if (!eth || eth->ether_type() != wire::kEtherTypeIpv4) continue;
        auto ip = wire::Ipv4View::parse(eth->payload());
        if (!ip || ip->protocol() != wire::kIpProtoIgmp) continue;
        SentIgmp s;
        s.eth_destination = eth->destination();
        s.ip_source = ip->source();
        s.ip_destination = ip->destination();
        s.ttl = ip->ttl();
        s.dscp = ip->dscp();
        s.dont_fragment = ip->dont_fragment();
        s.header_checksum_ok = ip->header_checksum_ok();
        s.options.assign(ip->options().begin(), ip->options().end());
        s.message.assign(ip->payload().begin(), ip->payload().end());
        out.push_back(std::move(s));
    }
    return out;
}

struct Record {
    std::uint8_t type = 0;
    Ipv4Address group;
    friend bool operator==(const Record&, const Record&) = default;
};

// The group records of a v3 report; empty (and a test failure) otherwise.
std::vector<Record> v3_records(const SentIgmp& s) {
    auto v = wire::IgmpView::parse(s.message);
    EXPECT_TRUE(v);
    if (!v) return {};
    EXPECT_EQ(v->kind(), wire::IgmpKind::v3_report);
    EXPECT_TRUE(v->checksum_ok());
    std::vector<Record> out;
    for (const wire::IgmpGroupRecordView r : v->group_records()) {
        EXPECT_EQ(r.source_count(), 0u);
        out.push_back({r.record_type(), r.multicast_address()});
    }
    return out;
}

// An IGMP message from the peer, as a querier sends it (TTL 1, Router Alert).
Bytes igmp_frame(Ipv4Address dst, std::span<const std::uint8_t> message, Ipv4Address src = kPeerIp) {
    wire::Ipv4Header h = wire::igmp_ipv4_header(src, dst, static_cast<std::uint16_t>(message.size()));
    return ethernet(MacAddress::for_ipv4_multicast(dst.value), kPeerMac, wire::kEtherTypeIpv4, ipv4(h, message));
}

Bytes v3_general_query(std::uint8_t max_resp_code = 10) {
    wire::IgmpV3Query q;
    q.max_resp_code = max_resp_code;
    Bytes b(q.len());
    EXPECT_TRUE(q.emit(b).ok());
    return b;
}

Bytes v2_message(const wire::IgmpV2Message& m) {
    Bytes b(wire::IgmpV2Message::len());
    EXPECT_TRUE(m.emit(b).ok());
    return b;
}

// Polls in 10 ms steps for up to `span_ns`, collecting what the stack sends.
std::vector<Bytes> run_for(StackHarness& h, std::uint64_t span_ns) {
    std::vector<Bytes> out;
    for (std::uint64_t t = 0; t < span_ns; t += 10 * kMs) {
        h.poll(10 * kMs);
        for (Bytes& f : h.peer().receive()) out.push_back(std::move(f));
    }
    return out;
}

UdpSocket joined_socket(Stack& s, std::uint16_t port, Ipv4Address group = kGroup) {
    auto sock = s.udp_open();
    EXPECT_TRUE(sock);
    sock->set_reuse_address(true);
    EXPECT_TRUE(sock->bind(Ipv4Address{}, port).ok());
    EXPECT_TRUE(sock->join_group(group).ok());
    return std::move(*sock);
}

bool same(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(StackIgmp, first_join_sends_a_v3_report_with_ttl_one_and_router_alert_to_224_0_0_22) {
    StackHarness h;
    UdpSocket sock = joined_socket(h.stack(), 5000);
    h.poll();
    const auto sent = igmp_messages(h.peer().receive());
    ASSERT_EQ(sent.size(), 1u);
    const SentIgmp& s = sent[0];
    // RFC 3376 §4: TTL 1, Internetwork Control, Router Alert; §4.2.14: v3
    // reports go to 224.0.0.22, on its mapped MAC (RFC 1112 §6.4).
    EXPECT_EQ(s.ip_destination, wire::kIpv4IgmpV3Routers);
    EXPECT_EQ(s.eth_destination, MacAddress::for_ipv4_multicast(wire::kIpv4IgmpV3Routers.value));
    EXPECT_EQ(s.ip_source, kStackIp);
    EXPECT_EQ(s.ttl, 1);
    EXPECT_EQ(s.dscp, wire::kIgmpDscp);
    EXPECT_TRUE(s.dont_fragment);
    EXPECT_TRUE(s.header_checksum_ok);
    EXPECT_EQ(s.options, Bytes(wire::kIpv4RouterAlertOption.begin(), wire::kIpv4RouterAlertOption.end()));
    EXPECT_EQ(v3_records(s), (std::vector<Record>{{wire::kIgmpChangeToExclude, kGroup}}));
    EXPECT_EQ(h.counters().igmp.out_reports, 1u);
}

TEST(StackIgmp, join_report_is_repeated_once_within_the_unsolicited_report_interval) {
    StackHarness h;
    UdpSocket sock = joined_socket(h.stack(), 5000);
    // RFC 3376 §5.1: [Robustness Variable] (2) transmissions in all, the
    // repetition within [Unsolicited Report Interval] (1 s).
    const auto sent = igmp_messages(run_for(h, 3 * kSec));
    ASSERT_EQ(sent.size(), 2u);
    EXPECT_EQ(v3_records(sent[1]), (std::vector<Record>{{wire::kIgmpChangeToExclude, kGroup}}));
    EXPECT_EQ(h.counters().igmp.out_reports, 2u);
}

TEST(StackIgmp, a_second_socket_joining_the_same_group_sends_nothing) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    UdpSocket b = joined_socket(h.stack(), 5000);
    EXPECT_TRUE(igmp_messages(run_for(h, 3 * kSec)).empty());
    EXPECT_EQ(h.stack().igmp().members(kGroup), 1u);  // the interface's membership, once
    EXPECT_EQ(h.stack().multicast_groups().members(kGroup), 2u);
}

TEST(StackIgmp, general_query_is_answered_with_the_current_state) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    UdpSocket b = joined_socket(h.stack(), 6000, kGroup2);
    (void)run_for(h, 3 * kSec);
    h.peer().send(igmp_frame(wire::kIpv4AllSystems, v3_general_query(10)));  // answer within 1 s
    const auto sent = igmp_messages(run_for(h, 1100 * kMs));
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].ip_destination, wire::kIpv4IgmpV3Routers);
    EXPECT_EQ(sent[0].ttl, 1);
    auto records = v3_records(sent[0]);
    std::sort(records.begin(), records.end(), [](const Record& x, const Record& y) { return x.group < y.group; });
    EXPECT_EQ(records, (std::vector<Record>{{wire::kIgmpModeIsExclude, kGroup}, {wire::kIgmpModeIsExclude, kGroup2}}));
    EXPECT_EQ(h.counters().igmp.in_queries, 1u);
    EXPECT_EQ(h.counters().igmp.in_msgs, 1u);
}

TEST(StackIgmp, last_leave_sends_change_to_include_and_closing_counts_as_leaving) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    UdpSocket b = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    ASSERT_TRUE(a.leave_group(kGroup).ok());
    EXPECT_TRUE(igmp_messages(run_for(h, 100 * kMs)).empty());  // b is still a member
    b.close();
    h.poll();
    const auto sent = igmp_messages(h.peer().receive());
    ASSERT_EQ(sent.size(), 1u);
    EXPECT_EQ(sent[0].ip_destination, wire::kIpv4IgmpV3Routers);
    EXPECT_EQ(v3_records(sent[0]), (std::vector<Record>{{wire::kIgmpChangeToInclude, kGroup}}));
    EXPECT_FALSE(h.stack().accepts_multicast(kGroup));
}

TEST(StackIgmp, after_a_v2_query_the_stack_reports_in_v2_and_leaves_to_all_routers) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    // RFC 3376 §7.2.1: a v2 query moves the host to v2 mode; it answers with
    // a v2 report sent to the group itself (RFC 2236 §3).
    h.peer().send(igmp_frame(wire::kIpv4AllSystems, v2_message(wire::IgmpV2Message::query(10))));
    const auto reports = igmp_messages(run_for(h, 1100 * kMs));
    ASSERT_EQ(reports.size(), 1u);
    EXPECT_EQ(reports[0].ip_destination, kGroup);
    EXPECT_EQ(reports[0].eth_destination, kGroupMac);
    EXPECT_EQ(reports[0].ttl, 1);
    EXPECT_EQ(reports[0].options, Bytes(wire::kIpv4RouterAlertOption.begin(), wire::kIpv4RouterAlertOption.end()));
    auto v = wire::IgmpView::parse(reports[0].message);
    ASSERT_TRUE(v);
    EXPECT_EQ(wire::IgmpV2Message::from_view(*v), wire::IgmpV2Message::report(kGroup));
    EXPECT_EQ(h.stack().igmp().mode(), IgmpMode::v2);

    a.close();
    h.poll();
    const auto leaves = igmp_messages(h.peer().receive());
    ASSERT_EQ(leaves.size(), 1u);
    EXPECT_EQ(leaves[0].ip_destination, wire::kIpv4AllRouters);
    auto l = wire::IgmpView::parse(leaves[0].message);
    ASSERT_TRUE(l);
    EXPECT_EQ(wire::IgmpV2Message::from_view(*l), wire::IgmpV2Message::leave(kGroup));
    EXPECT_EQ(h.counters().igmp.out_leaves, 1u);
}

TEST(StackIgmp, own_reports_are_not_looped_back_to_the_igmp_host) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    EXPECT_EQ(h.counters().igmp.out_reports, 2u);
    EXPECT_EQ(h.counters().igmp.in_msgs, 0u);
    EXPECT_EQ(h.counters().igmp.in_reports, 0u);
}

TEST(StackIgmp, malformed_and_bad_checksum_messages_are_counted_and_change_nothing) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    Bytes bad = v3_general_query(10);
    bad[2] ^= 0xff;  // checksum
    h.peer().send(igmp_frame(wire::kIpv4AllSystems, bad));
    const Bytes short_query = {0x11, 0x0a, 0x00};  // shorter than any IGMP message
    h.peer().send(igmp_frame(wire::kIpv4AllSystems, short_query));
    EXPECT_TRUE(igmp_messages(run_for(h, 2 * kSec)).empty());  // no answer to either
    EXPECT_EQ(h.counters().igmp.in_msgs, 2u);
    EXPECT_EQ(h.counters().igmp.in_errors, 2u);
    EXPECT_EQ(h.counters().igmp.in_queries, 0u);
    EXPECT_EQ(h.counters().ip.in_unknown_protos, 0u);  // IGMP is served, not "protocol unreachable"
}

TEST(StackIgmp, a_query_to_a_group_not_joined_is_not_accepted) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    // A group-specific query is sent to the group (RFC 3376 §4.1.12); one
    // for a group we are not in never reaches IGMP.
    h.peer().send(igmp_frame(kGroup2, v2_message(wire::IgmpV2Message::query(10, kGroup2))));
    EXPECT_TRUE(igmp_messages(run_for(h, 2 * kSec)).empty());
    EXPECT_EQ(h.counters().igmp.in_msgs, 0u);
}

TEST(StackIgmp, two_sockets_joined_to_a_group_both_receive_every_datagram) {
    StackHarness h;
    UdpSocket a = joined_socket(h.stack(), 5000);
    UdpSocket b = joined_socket(h.stack(), 5000);
    UdpSocket other = joined_socket(h.stack(), 5000, kGroup2);  // same port, another group
    for (std::uint8_t i = 0; i < 10; ++i) {
        h.peer().send(udp_frame(kPeerIp, kGroup, 4000, 5000, payload_of(100 + i, i), kGroupMac));
    }
    h.poll();
    for (std::uint8_t i = 0; i < 10; ++i) {
        auto da = a.receive();
        auto db = b.receive();
        ASSERT_TRUE(da);
        ASSERT_TRUE(db);
        EXPECT_TRUE(same(da->payload(), payload_of(100 + i, i)));
        EXPECT_TRUE(same(db->payload(), payload_of(100 + i, i)));
        EXPECT_EQ(da->destination(), kGroup);
    }
    EXPECT_FALSE(a.receive());
    EXPECT_FALSE(other.receive());
    EXPECT_EQ(h.counters().udp.in_datagrams, 20u);
}

TEST(StackIgmp, multicast_ttl_option_sets_the_ttl_of_sent_datagrams) {
    StackHarness h;
    auto s = h.stack().udp_open();
    ASSERT_TRUE(s);
    s->set_multicast_ttl(7);
    ASSERT_TRUE(s->send_to(payload_of(8), kGroup, 5000).ok());
    h.poll();
    const auto out = h.peer().receive();
    ASSERT_EQ(out.size(), 1u);
    auto u = parse_udp(out[0]);
    ASSERT_TRUE(u);
    EXPECT_EQ(u->ip.ttl(), 7);
    EXPECT_EQ(u->eth.destination(), kGroupMac);
}

TEST(StackIgmp, loopback_on_by_default_delivers_own_group_datagrams_to_joined_sockets) {
    StackHarness h;
    UdpSocket member = joined_socket(h.stack(), 5000);
    UdpSocket member2 = joined_socket(h.stack(), 5000);
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(sender);
    ASSERT_TRUE(sender->bind(Ipv4Address{}, 7000).ok());
    (void)run_for(h, 3 * kSec);
    const Bytes data = payload_of(300, 9);
    ASSERT_TRUE(sender->send_to(data, kGroup, 5000).ok());  // copying send
    auto tx = sender->alloc_tx();                           // and zero-copy send
    ASSERT_TRUE(tx);
    std::copy(data.begin(), data.end(), tx->data().begin());
    ASSERT_TRUE(tx->set_length(data.size()));
    ASSERT_TRUE(sender->send_to(std::move(*tx), kGroup, 5000).ok());
    h.poll();
    // Both still go on the wire.
    std::size_t on_wire = 0;
    for (const Bytes& f : h.peer().receive()) on_wire += parse_udp(f).has_value();
    EXPECT_EQ(on_wire, 2u);
    for (UdpSocket* s : {&member, &member2}) {
        for (int i = 0; i < 2; ++i) {
            auto d = s->receive();
            ASSERT_TRUE(d);
            EXPECT_TRUE(same(d->payload(), data));
            EXPECT_EQ(d->source(), kStackIp);
            EXPECT_EQ(d->source_port(), 7000);
            EXPECT_EQ(d->destination(), kGroup);
        }
        EXPECT_FALSE(s->receive());
    }
    EXPECT_FALSE(sender->receive());  // not joined
}

TEST(StackIgmp, loopback_off_keeps_own_group_datagrams_off_local_sockets) {
    StackHarness h;
    UdpSocket member = joined_socket(h.stack(), 5000);
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(sender);
    sender->set_multicast_loop(false);
    ASSERT_TRUE(sender->send_to(payload_of(50), kGroup, 5000).ok());
    h.poll();
    std::size_t on_wire = 0;
    for (const Bytes& f : h.peer().receive()) on_wire += parse_udp(f).has_value();
    EXPECT_EQ(on_wire, 1u);
    EXPECT_FALSE(member.receive());
    EXPECT_EQ(h.counters().udp.in_datagrams, 0u);
}

TEST(StackIgmp, looped_datagram_reaches_a_callback_at_the_next_poll_not_inside_send) {
    StackHarness h;
    UdpSocket member = joined_socket(h.stack(), 5000);
    int calls = 0;
    member.set_on_datagram([](void* ctx, UdpDatagram&) { ++*static_cast<int*>(ctx); }, &calls);
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(sender);
    ASSERT_TRUE(sender->send_to(payload_of(10), kGroup, 5000).ok());
    EXPECT_EQ(calls, 0);  // a callback sending to the group again cannot recurse
    h.poll();
    EXPECT_EQ(calls, 1);
}

TEST(StackIgmp, multicast_ttl_zero_loops_back_and_sends_nothing_on_the_wire) {
    // IP_MULTICAST_TTL 0: the datagram stays on the host (RFC 1112 §6.1).
    StackHarness h;
    UdpSocket member = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);  // the join's reports are out of the way
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(sender);
    sender->set_multicast_ttl(0);
    ASSERT_TRUE(sender->send_to(payload_of(40), kGroup, 5000).ok());
    auto tx = sender->alloc_tx();
    ASSERT_TRUE(tx);
    ASSERT_TRUE(tx->set_length(20));
    ASSERT_TRUE(sender->send_to(std::move(*tx), kGroup, 5000).ok());
    h.poll();
    EXPECT_TRUE(h.peer().receive().empty());
    auto first = member.receive();
    ASSERT_TRUE(first);
    EXPECT_TRUE(same(first->payload(), payload_of(40)));
    auto second = member.receive();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->payload().size(), 20u);
    EXPECT_EQ(h.counters().udp.out_datagrams, 2u);
}

TEST(StackIgmp, a_send_that_fails_takes_back_its_loopback_copy) {
    // A refused send (here: no frames for the second fragment) must not
    // deliver the datagram to local members: the application will retry.
    StackHarness h;
    UdpSocket member = joined_socket(h.stack(), 5000);
    (void)run_for(h, 3 * kSec);
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(sender);
    std::vector<TxBuffer> held;
    for (;;) {
        auto tx = sender->alloc_tx();
        if (!tx) break;
        held.push_back(std::move(*tx));
    }
    ASSERT_GE(held.size(), 2u);
    held.resize(held.size() - 2);           // two frames free: the loop-back copy takes one
    const Bytes big = payload_of(1700, 3);  // two fragments at MTU 1500
    const Status st = sender->send_to(big, kGroup, 5000);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), Errc::no_buffers);
    h.poll();
    EXPECT_FALSE(member.receive());
    held.clear();
    ASSERT_TRUE(sender->send_to(big, kGroup, 5000).ok());  // the retry is delivered once
    h.poll();
    auto d = member.receive();
    ASSERT_TRUE(d);
    EXPECT_TRUE(same(d->payload(), big));
    EXPECT_FALSE(member.receive());
}

TEST(StackIgmp, datagrams_to_all_systems_reach_every_socket_on_the_port_without_a_join) {
    // Every host is a member of 224.0.0.1 (RFC 1112 §4); no socket joins it.
    StackHarness h;
    auto a = h.stack().udp_open();
    auto b = h.stack().udp_open();
    ASSERT_TRUE(a && b);
    a->set_reuse_address(true);
    b->set_reuse_address(true);
    ASSERT_TRUE(a->bind(Ipv4Address{}, 5000).ok());
    ASSERT_TRUE(b->bind(Ipv4Address{}, 5000).ok());
    const Ipv4Address all = wire::kIpv4AllSystems;
    h.peer().send(udp_frame(kPeerIp, all, 4000, 5000, payload_of(30), MacAddress::for_ipv4_multicast(all.value)));
    h.poll();
    EXPECT_TRUE(a->receive());
    EXPECT_TRUE(b->receive());
}

TEST(StackIgmp, every_member_socket_gets_the_datagram_however_many_share_the_port) {
    StackConfig c = base_config();
    c.max_udp_sockets = 100;
    StackHarness h(c);
    std::vector<UdpSocket> members;
    for (int i = 0; i < 100; ++i) members.push_back(joined_socket(h.stack(), 5000));
    h.peer().send(udp_frame(kPeerIp, kGroup, 4000, 5000, payload_of(64), kGroupMac));
    h.poll();
    for (UdpSocket& m : members) {
        auto d = m.receive();
        ASSERT_TRUE(d);
        EXPECT_TRUE(same(d->payload(), payload_of(64)));
    }
    EXPECT_EQ(h.counters().udp.in_datagrams, 100u);
}

TEST(StackIgmp, a_joined_group_is_steered_to_the_stack_until_its_last_member_leaves) {
    // Dedicated mode on a port shared with the kernel (AF_XDP): the stack
    // is the group's member on the wire, so everything to the group comes
    // to it (datagrams and group-specific queries), as for its address.
    StackHarness h(base_config(), /*steered=*/true);
    SteeredPort& port = h.steered_port();
    UdpSocket a = joined_socket(h.stack(), 5000);
    EXPECT_TRUE(port.has_filter(port::kOwnedAddress, 0, kGroup));
    UdpSocket b = joined_socket(h.stack(), 6000);
    EXPECT_EQ(port.filters().size(), 1u);
    a.close();
    EXPECT_TRUE(port.has_filter(port::kOwnedAddress, 0, kGroup));
    ASSERT_TRUE(b.leave_group(kGroup).ok());
    EXPECT_TRUE(port.filters().empty());
}

TEST(StackIgmp, a_group_the_port_will_not_steer_is_refused_with_nothing_left_behind) {
    StackHarness h(base_config(), /*steered=*/true);
    h.steered_port().refuse_filters = true;
    auto s = h.stack().udp_open();
    ASSERT_TRUE(s);
    ASSERT_TRUE(s->bind(Ipv4Address{}, 5000).ok());
    EXPECT_FALSE(s->join_group(kGroup).ok());
    EXPECT_EQ(h.stack().multicast_groups().members(kGroup), 0u);
    EXPECT_TRUE(igmp_messages(run_for(h, 2 * kSec)).empty());  // no report for a refused join
}

TEST(StackIgmp, own_datagrams_to_all_systems_are_looped_back_to_sockets_on_the_port) {
    StackHarness h;
    auto listener = h.stack().udp_open();
    auto sender = h.stack().udp_open();
    ASSERT_TRUE(listener && sender);
    ASSERT_TRUE(listener->bind(Ipv4Address{}, 5000).ok());
    ASSERT_TRUE(sender->send_to(payload_of(12), wire::kIpv4AllSystems, 5000).ok());
    h.poll();
    auto d = listener->receive();
    ASSERT_TRUE(d);
    EXPECT_EQ(d->destination(), wire::kIpv4AllSystems);
}

}  // namespace
}  // namespace kbnet::stack::testing
