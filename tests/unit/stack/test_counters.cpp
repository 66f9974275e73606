// The counter table: every StackCounters word has exactly one row, rows
// name the field they claim to, names are unique within a layer, and a copy
// taken for another thread carries every value.
#include "kbnet/stack/counters.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <set>
#include <string>
#include <utility>

namespace kbnet::stack {
namespace {

TEST(CounterTable, covers_every_word_of_stack_counters_exactly_once) {
    constexpr std::size_t kWords = sizeof(StackCounters) / sizeof(std::uint64_t);
    ASSERT_EQ(kCounterTable.size(), kWords);
    std::set<std::size_t> seen;
    for (const CounterInfo& info : kCounterTable) {
        EXPECT_EQ(info.offset % sizeof(std::uint64_t), 0u) << info.layer << "." << info.name;
        EXPECT_LT(info.offset, sizeof(StackCounters)) << info.layer << "." << info.name;
        EXPECT_TRUE(seen.insert(info.offset).second) << info.layer << "." << info.name << " shares an offset";
    }
    EXPECT_EQ(seen.size(), kWords);
}

TEST(CounterTable, names_are_unique_within_a_layer_and_every_row_has_a_description) {
    std::set<std::pair<std::string_view, std::string_view>> names;
    for (const CounterInfo& info : kCounterTable) {
        EXPECT_TRUE(names.insert({info.layer, info.name}).second) << info.layer << "." << info.name;
        EXPECT_FALSE(info.name.empty());
        EXPECT_FALSE(info.description.empty()) << info.layer << "." << info.name;
    }
}

// A row's offset must fall inside its own layer's struct, so "ip" rows
// never point at an Icmp field.
TEST(CounterTable, each_row_lies_inside_the_struct_of_its_layer) {
    struct Range {
        std::string_view layer;
        std::size_t begin, size;
    };
    const Range ranges[] = {
        {"link", offsetof(StackCounters, link), sizeof(LinkCounters)},
        {"arp", offsetof(StackCounters, arp), sizeof(ArpCounters)},
        {"ip", offsetof(StackCounters, ip), sizeof(IpCounters)},
        {"icmp", offsetof(StackCounters, icmp), sizeof(IcmpCounters)},
        {"udp", offsetof(StackCounters, udp), sizeof(UdpCounters)},
        {"igmp", offsetof(StackCounters, igmp), sizeof(IgmpCounters)},
    };
    for (const CounterInfo& info : kCounterTable) {
        bool found = false;
        for (const Range& r : ranges) {
            if (r.layer != info.layer) continue;
            found = true;
            EXPECT_GE(info.offset, r.begin) << info.layer << "." << info.name;
            EXPECT_LT(info.offset, r.begin + r.size) << info.layer << "." << info.name;
        }
        EXPECT_TRUE(found) << "unknown layer " << info.layer;
    }
}

TEST(CounterTable, layers_list_every_layer_of_the_table_in_table_order) {
    std::size_t layer = 0;
    for (const CounterInfo& info : kCounterTable) {
        while (layer < kCounterLayers.size() && kCounterLayers[layer].key != info.layer) ++layer;
        ASSERT_LT(layer, kCounterLayers.size()) << info.layer << " out of order or missing from kCounterLayers";
    }
}

// Spot checks that names and fields agree (the offsets alone cannot tell
// InReceives from InDelivers).
TEST(CounterTable, rows_name_the_fields_they_point_at) {
    StackCounters c;
    c.link.rx_frames = 1;
    c.arp.in_requests = 2;
    c.ip.in_receives = 3;
    c.ip.in_hdr_errors_checksum = 4;
    c.ip.frag_creates = 5;
    c.icmp.out_rate_limited = 6;
    c.udp.no_ports = 7;
    c.udp.rcvbuf_errors = 8;
    c.igmp.out_leaves = 9;
    const std::pair<std::pair<std::string_view, std::string_view>, std::uint64_t> expected[] = {
        {{"link", "RxFrames"}, 1},  {{"arp", "InRequests"}, 2},
        {{"ip", "InReceives"}, 3},  {{"ip", "InHdrErrorsChecksum"}, 4},
        {{"ip", "FragCreates"}, 5}, {{"icmp", "OutRateLimited"}, 6},
        {{"udp", "NoPorts"}, 7},    {{"udp", "RcvbufErrors"}, 8},
        {{"igmp", "OutLeaves"}, 9},
    };
    for (const auto& [key, value] : expected) {
        const auto info = find_counter(key.first, key.second);
        ASSERT_TRUE(info.has_value()) << key.first << "." << key.second;
        EXPECT_EQ(counter_value(c, *info), value) << key.first << "." << key.second;
    }
    std::uint64_t total = 0;
    for (const CounterInfo& info : kCounterTable) total += counter_value(c, info);
    EXPECT_EQ(total, 45u) << "a row outside the spot checks reads a set field";
}

TEST(CounterTable, find_counter_knows_nothing_of_unknown_names) {
    EXPECT_FALSE(find_counter("ip", "NoSuchCounter").has_value());
    EXPECT_FALSE(find_counter("tcp", "InReceives").has_value());
    EXPECT_TRUE(find_counter("udp", "InDatagrams").has_value());
}

TEST(CounterTable, counter_ref_writes_the_field_the_struct_reads) {
    StackCounters c;
    counter_ref(c, *find_counter("icmp", "InEchos")) = 12;
    EXPECT_EQ(c.icmp.in_echos, 12u);
}

TEST(Counters, load_counters_copies_every_word) {
    StackCounters live;
    std::uint64_t v = 1;
    for (const CounterInfo& info : kCounterTable) counter_ref(live, info) = v++ * 1000003;
    const StackCounters copy = load_counters(live);
    EXPECT_EQ(std::memcmp(&copy, &live, sizeof live), 0);
}

TEST(Counters, in_hdr_errors_sums_its_reasons) {
    IpCounters ip;
    ip.in_hdr_errors_version = 1;
    ip.in_hdr_errors_ihl = 2;
    ip.in_hdr_errors_total_length = 4;
    ip.in_hdr_errors_checksum = 8;
    ip.in_hdr_errors_ttl = 16;
    ip.in_addr_errors = 100;  // not a header error
    EXPECT_EQ(ip.in_hdr_errors(), 31u);
}

}  // namespace
}  // namespace kbnet::stack
