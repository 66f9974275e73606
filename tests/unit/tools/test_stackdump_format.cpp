// kbnet stackdump's output on hand-made snapshots: the text shows what is
// non-zero (or everything with --all) and says when nothing runs or what was
// cleaned; the JSON carries every counter under stable keys.
#include "stackdump_format.hpp"

#include <netinet/in.h>

#include <gtest/gtest.h>

#include <string>

namespace kbnet::tools {
namespace {

constexpr std::int64_t kStart = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z

stack::StackSnapshot sample_stack() {
    stack::StackSnapshot s;
    s.object = "kbnet-stack.1234.main";
    s.name = "main";
    s.pid = 1234;
    s.started_unix_ns = kStart;
    s.port = "afxdp:eth0,queues=2";
    s.mode = "shared";
    s.addresses = "10.0.0.1/24";
    s.counters.ip.in_receives = 1500;
    s.counters.udp.no_ports = 3;
    stack::SocketSnapshot udp;
    udp.protocol = IPPROTO_UDP;
    udp.local_address = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    udp.local_port = 9000;
    udp.multicast_group_count = 1;
    udp.multicast_groups = "239.1.1.1";
    udp.counters.rx_queue_depth = 4;
    udp.counters.rx_drops = 2;
    s.sockets.push_back(udp);
    stack::SocketSnapshot tcp;
    tcp.protocol = IPPROTO_TCP;
    tcp.local_port = 80;
    tcp.remote_address = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    tcp.remote_port = 40000;
    tcp.state = "ESTABLISHED";
    s.sockets.push_back(tcp);
    return s;
}

stack::StackList one_stack() {
    stack::StackList list;
    list.stacks.push_back(sample_stack());
    return list;
}

bool has_line_with(const std::string& text, std::string_view a, std::string_view b) {
    std::size_t at = 0;
    while (at < text.size()) {
        const std::size_t end = std::min(text.find('\n', at), text.size());
        const std::string_view line(text.data() + at, end - at);
        if (line.find(a) != std::string_view::npos && line.find(b) != std::string_view::npos) return true;
        at = end + 1;
    }
    return false;
}

TEST(StackdumpText, says_no_stacks_running_when_there_are_none) {
    EXPECT_EQ(stackdump_text({}, {}), "no kbnet stacks running\n");
    StackdumpTextOptions o;
    o.selector = "web";
    EXPECT_EQ(stackdump_text({}, o), "no kbnet stack named 'web' running\n");
}

TEST(StackdumpText, shows_identity_uptime_and_sockets) {
    StackdumpTextOptions o;
    o.now_unix_ns = kStart + 3'723'000'000'000;  // 1h02m03s later
    const std::string text = stackdump_text(one_stack(), o);
    EXPECT_TRUE(has_line_with(text, "stack main: pid 1234", "port afxdp:eth0,queues=2")) << text;
    EXPECT_TRUE(has_line_with(text, "mode shared 10.0.0.1/24", "up 1h02m03s (since 2023-11-14T22:13:20Z)")) << text;
    EXPECT_TRUE(has_line_with(text, "sockets: 2", "")) << text;
    EXPECT_TRUE(has_line_with(text, "udp   10.0.0.1:9000", "239.1.1.1")) << text;
    EXPECT_TRUE(has_line_with(text, "tcp   *:80                  10.0.0.2:40000", "ESTABLISHED")) << text;
}

TEST(StackdumpText, lists_only_non_zero_counters_unless_asked_for_all) {
    const std::string some = stackdump_text(one_stack(), {});
    EXPECT_TRUE(has_line_with(some, "InReceives", "1500")) << some;
    EXPECT_TRUE(has_line_with(some, "NoPorts", "3")) << some;
    EXPECT_TRUE(has_line_with(some, "  Ip:", "")) << some;
    EXPECT_FALSE(has_line_with(some, "InDelivers", "")) << some;
    EXPECT_FALSE(has_line_with(some, "  Igmp:", "")) << "a layer with nothing to show has no title\n" << some;

    StackdumpTextOptions all;
    all.all = true;
    const std::string every = stackdump_text(one_stack(), all);
    for (const stack::CounterInfo& c : stack::kCounterTable) {
        EXPECT_TRUE(has_line_with(every, std::string(" ") + std::string(c.name) + " ", c.description)) << c.name;
    }
    for (const stack::CounterLayer& l : stack::kCounterLayers) {
        EXPECT_TRUE(has_line_with(every, std::string("  ") + std::string(l.title) + ":", "")) << l.title;
    }
}

TEST(StackdumpText, says_when_every_counter_is_zero) {
    stack::StackList list;
    list.stacks.push_back(sample_stack());
    list.stacks[0].counters = {};
    EXPECT_TRUE(has_line_with(stackdump_text(list, {}), "counters: all zero", "--all"));
}

TEST(StackdumpText, reports_how_many_stale_segments_were_cleaned) {
    stack::StackList list;
    list.cleaned.push_back({"kbnet-stack.77.a", "process 77 exited without removing its segment"});
    list.cleaned.push_back({"kbnet-stack.78.b", "process 78 exited without removing its segment"});
    const std::string text = stackdump_text(list, {});
    EXPECT_TRUE(text.starts_with("no kbnet stacks running\n")) << text;
    EXPECT_TRUE(has_line_with(text, "cleaned 2 stale segments", "")) << text;
    EXPECT_TRUE(has_line_with(text, "kbnet-stack.77.a", "process 77 exited")) << text;
}

TEST(StackdumpText, warnings_name_each_skipped_segment_and_why) {
    stack::StackList list;
    list.skipped.push_back({"kbnet-stack.5.x", "layout version 2, this kbnet reads version 1"});
    EXPECT_EQ(stackdump_warnings(list),
              "kbnet stackdump: skipped kbnet-stack.5.x: layout version 2, this kbnet reads version 1\n");
    EXPECT_EQ(stackdump_warnings({}), "");
}

TEST(StackdumpJson, carries_every_counter_of_every_layer_under_stable_keys) {
    const nlohmann::json j = stackdump_json(one_stack(), kStart + 5'000'000'000);
    ASSERT_EQ(j["stacks"].size(), 1u);
    const nlohmann::json& s = j["stacks"][0];
    EXPECT_EQ(s["name"], "main");
    EXPECT_EQ(s["pid"], 1234);
    EXPECT_EQ(s["port"], "afxdp:eth0,queues=2");
    EXPECT_EQ(s["mode"], "shared");
    EXPECT_EQ(s["addresses"], "10.0.0.1/24");
    EXPECT_EQ(s["started"], "2023-11-14T22:13:20Z");
    EXPECT_DOUBLE_EQ(s["uptime_seconds"].get<double>(), 5.0);
    EXPECT_EQ(s["counters"]["ip"]["InReceives"], 1500);
    EXPECT_EQ(s["counters"]["udp"]["NoPorts"], 3);
    std::size_t n = 0;
    for (const stack::CounterInfo& c : stack::kCounterTable) {
        ASSERT_TRUE(s["counters"][std::string(c.layer)].contains(std::string(c.name))) << c.layer << "." << c.name;
        ++n;
    }
    std::size_t in_json = 0;
    for (const auto& layer : s["counters"].items()) in_json += layer.value().size();
    EXPECT_EQ(in_json, n) << "no counter beyond the table";
    EXPECT_TRUE(j["cleaned"].is_array());
    EXPECT_TRUE(j["skipped"].is_array());
}

TEST(StackdumpJson, sockets_have_null_remote_when_not_connected) {
    const nlohmann::json j = stackdump_json(one_stack(), kStart);
    const nlohmann::json& sockets = j["stacks"][0]["sockets"];
    ASSERT_EQ(sockets.size(), 2u);
    EXPECT_EQ(sockets[0]["protocol"], "udp");
    EXPECT_EQ(sockets[0]["local_address"], "10.0.0.1");
    EXPECT_EQ(sockets[0]["local_port"], 9000);
    EXPECT_TRUE(sockets[0]["remote_address"].is_null());
    EXPECT_TRUE(sockets[0]["remote_port"].is_null());
    EXPECT_EQ(sockets[0]["rx_queue_depth"], 4);
    EXPECT_EQ(sockets[0]["rx_drops"], 2);
    EXPECT_EQ(sockets[0]["multicast_groups"], "239.1.1.1");
    EXPECT_EQ(sockets[1]["remote_address"], "10.0.0.2");
    EXPECT_EQ(sockets[1]["remote_port"], 40000);
    EXPECT_EQ(sockets[1]["state"], "ESTABLISHED");
}

TEST(StackdumpJson, lists_cleaned_and_skipped_segments_with_reasons) {
    stack::StackList list;
    list.cleaned.push_back({"kbnet-stack.77.a", "gone"});
    list.skipped.push_back({"kbnet-stack.5.x", "bad magic"});
    const nlohmann::json j = stackdump_json(list, 0);
    EXPECT_TRUE(j["stacks"].empty());
    ASSERT_EQ(j["cleaned"].size(), 1u);
    EXPECT_EQ(j["cleaned"][0]["object"], "kbnet-stack.77.a");
    EXPECT_EQ(j["cleaned"][0]["reason"], "gone");
    ASSERT_EQ(j["skipped"].size(), 1u);
    EXPECT_EQ(j["skipped"][0]["reason"], "bad magic");
}

TEST(StackdumpSelect, picks_by_name_or_by_pid_and_keeps_all_without_a_selector) {
    stack::StackList list = one_stack();
    list.stacks.push_back(sample_stack());
    list.stacks[1].name = "other";
    list.stacks[1].pid = 99;
    list.cleaned.push_back({"kbnet-stack.1.x", "gone"});
    EXPECT_EQ(select_stacks(list, "").stacks.size(), 2u);
    const stack::StackList by_name = select_stacks(list, "other");
    ASSERT_EQ(by_name.stacks.size(), 1u);
    EXPECT_EQ(by_name.stacks[0].pid, 99);
    EXPECT_EQ(by_name.cleaned.size(), 1u) << "the cleaning report is kept";
    const stack::StackList by_pid = select_stacks(list, "1234");
    ASSERT_EQ(by_pid.stacks.size(), 1u);
    EXPECT_EQ(by_pid.stacks[0].name, "main");
    EXPECT_TRUE(select_stacks(list, "nosuch").stacks.empty());
}

TEST(StackdumpFormat, uptime_uses_the_largest_unit_needed) {
    EXPECT_EQ(format_uptime(0), "0s");
    EXPECT_EQ(format_uptime(-5'000'000'000), "0s");
    EXPECT_EQ(format_uptime(12'900'000'000), "12s");
    EXPECT_EQ(format_uptime(306'000'000'000), "5m06s");
    EXPECT_EQ(format_uptime(3'723'000'000'000), "1h02m03s");
    EXPECT_EQ(format_uptime(273'906'000'000'000), "3d04h05m06s");
}

TEST(StackdumpFormat, endpoints_and_protocols_read_like_netstat) {
    EXPECT_EQ(format_endpoint(wire::Ipv4Address::from_octets(192, 168, 1, 2), 53), "192.168.1.2:53");
    EXPECT_EQ(format_endpoint({}, 9000), "*:9000");
    EXPECT_EQ(protocol_name(IPPROTO_UDP), "udp");
    EXPECT_EQ(protocol_name(IPPROTO_TCP), "tcp");
    EXPECT_EQ(protocol_name(132), "132");
    EXPECT_EQ(format_utc(kStart), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace kbnet::tools
