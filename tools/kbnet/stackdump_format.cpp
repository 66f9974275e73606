#include "stackdump_format.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

namespace kbnet::tools {

using stack::CounterInfo;
using stack::kCounterLayers;
using stack::kCounterTable;
using stack::StackList;
using stack::StackSnapshot;

stack::StackList select_stacks(stack::StackList list, std::string_view selector) {
    if (selector.empty()) return list;
    long pid = -1;
    const auto [end, ec] = std::from_chars(selector.data(), selector.data() + selector.size(), pid);
    const bool numeric = ec == std::errc{} && end == selector.data() + selector.size();
    std::erase_if(list.stacks,
                  [&](const StackSnapshot& s) { return s.name != selector && !(numeric && s.pid == pid); });
    return list;
}

std::string format_uptime(std::int64_t ns) {
    const std::int64_t total = std::max<std::int64_t>(ns, 0) / 1'000'000'000;
    const std::int64_t d = total / 86400, h = total / 3600 % 24, m = total / 60 % 60, s = total % 60;
    if (d > 0) return fmt::format("{}d{:02}h{:02}m{:02}s", d, h, m, s);
    if (h > 0) return fmt::format("{}h{:02}m{:02}s", h, m, s);
    if (m > 0) return fmt::format("{}m{:02}s", m, s);
    return fmt::format("{}s", s);
}

std::string protocol_name(std::uint8_t protocol) {
    switch (protocol) {
        case IPPROTO_UDP: return "udp";
        case IPPROTO_TCP: return "tcp";
        case IPPROTO_ICMP: return "icmp";
        case IPPROTO_IGMP: return "igmp";
        default: return std::to_string(protocol);
    }
}

std::string format_endpoint(wire::Ipv4Address address, std::uint16_t port) {
    return fmt::format("{}:{}", address.is_unspecified() ? std::string("*") : address.to_string(), port);
}

std::string format_utc(std::int64_t unix_ns) {
    const auto secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
    std::tm tm{};
    if (gmtime_r(&secs, &tm) == nullptr) return "?";
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

namespace {

std::string remote_text(const stack::SocketSnapshot& s) {
    return s.connected() ? format_endpoint(s.remote_address, s.remote_port) : "*";
}

std::string groups_text(const stack::SocketSnapshot& s) {
    if (s.multicast_group_count == 0) return "";
    // The text is cut to fit the segment; the count says how many there are.
    if (s.multicast_groups.ends_with("..."))
        return fmt::format("{} ({} groups)", s.multicast_groups, s.multicast_group_count);
    return s.multicast_groups;
}

void append_stack(std::string& out, const StackSnapshot& s, const StackdumpTextOptions& o) {
    fmt::format_to(std::back_inserter(out), "stack {}: pid {}, port {}, mode {}{}{}, up {} (since {})\n", s.name, s.pid,
                   s.port.empty() ? "-" : s.port, s.mode.empty() ? "-" : s.mode, s.addresses.empty() ? "" : " ",
                   s.addresses, format_uptime(o.now_unix_ns - s.started_unix_ns), format_utc(s.started_unix_ns));

    fmt::format_to(std::back_inserter(out), "  sockets: {}", s.sockets.size());
    if (s.sockets_unlisted > 0)
        fmt::format_to(std::back_inserter(out), " (and {} not listed: table full)", s.sockets_unlisted);
    out += '\n';
    if (!s.sockets.empty()) {
        const auto row = [&out](std::string_view proto, std::string_view local, std::string_view remote,
                                std::string_view state, auto queue, auto drops, std::string_view groups) {
            std::string line = fmt::format("    {:<5} {:<21} {:<21} {:<11} {:>9} {:>9}  {}", proto, local, remote,
                                           state, queue, drops, groups);
            // No trailing blanks when the last column is empty: friendlier to diff and grep.
            line.erase(line.find_last_not_of(' ') + 1);
            out += line;
            out += '\n';
        };
        row("proto", "local", "remote", "state", "rx-queue", "rx-drops", "groups");
        for (const stack::SocketSnapshot& k : s.sockets) {
            row(protocol_name(k.protocol), format_endpoint(k.local_address, k.local_port), remote_text(k), k.state,
                k.counters.rx_queue_depth, k.counters.rx_drops, groups_text(k));
        }
    }

    std::size_t name_width = 0;
    for (const CounterInfo& c : kCounterTable) name_width = std::max(name_width, c.name.size());
    bool any = false;
    for (const stack::CounterLayer& layer : kCounterLayers) {
        bool titled = false;
        for (const CounterInfo& c : kCounterTable) {
            if (c.layer != layer.key) continue;
            const std::uint64_t v = stack::counter_value(s.counters, c);
            if (v == 0 && !o.all) continue;
            if (!titled) {
                fmt::format_to(std::back_inserter(out), "  {}:\n", layer.title);
                titled = true;
            }
            fmt::format_to(std::back_inserter(out), "    {:<{}} {:>14}  {}\n", c.name, name_width, v, c.description);
            any = true;
        }
    }
    if (!any) out += "  counters: all zero (--all lists them)\n";
}

}  // namespace

std::string stackdump_text(const StackList& list, const StackdumpTextOptions& options) {
    std::string out;
    if (list.stacks.empty()) {
        out += options.selector.empty() ? std::string("no kbnet stacks running\n")
                                        : fmt::format("no kbnet stack named '{}' running\n", options.selector);
    }
    for (std::size_t i = 0; i < list.stacks.size(); ++i) {
        if (i > 0) out += '\n';
        append_stack(out, list.stacks[i], options);
    }
    if (!list.cleaned.empty()) {
        fmt::format_to(std::back_inserter(out), "{}cleaned {} stale segment{} left by exited processes:\n", "\n",
                       list.cleaned.size(), list.cleaned.size() == 1 ? "" : "s");
        for (const stack::SegmentNote& n : list.cleaned) {
            fmt::format_to(std::back_inserter(out), "  {}: {}\n", n.object, n.reason);
        }
    }
    return out;
}

std::string stackdump_warnings(const StackList& list) {
    std::string out;
    for (const stack::SegmentNote& n : list.skipped) {
        fmt::format_to(std::back_inserter(out), "kbnet stackdump: skipped {}: {}\n", n.object, n.reason);
    }
    return out;
}

nlohmann::json stackdump_json(const StackList& list, std::int64_t now_unix_ns) {
    nlohmann::json stacks = nlohmann::json::array();
    for (const StackSnapshot& s : list.stacks) {
        nlohmann::json sockets = nlohmann::json::array();
        for (const stack::SocketSnapshot& k : s.sockets) {
            sockets.push_back({
                {"protocol", protocol_name(k.protocol)},
                {"local_address", k.local_address.to_string()},
                {"local_port", k.local_port},
                {"remote_address", k.connected() ? nlohmann::json(k.remote_address.to_string()) : nlohmann::json()},
                {"remote_port", k.connected() ? nlohmann::json(k.remote_port) : nlohmann::json()},
                {"state", k.state},
                {"rx_queue_depth", k.counters.rx_queue_depth},
                {"rx_drops", k.counters.rx_drops},
                {"multicast_group_count", k.multicast_group_count},
                {"multicast_groups", k.multicast_groups},
            });
        }
        nlohmann::json counters = nlohmann::json::object();
        for (const stack::CounterLayer& layer : kCounterLayers)
            counters[std::string(layer.key)] = nlohmann::json::object();
        for (const CounterInfo& c : kCounterTable) {
            counters[std::string(c.layer)][std::string(c.name)] = stack::counter_value(s.counters, c);
        }
        stacks.push_back({
            {"name", s.name},
            {"pid", s.pid},
            {"port", s.port},
            {"mode", s.mode},
            {"addresses", s.addresses},
            {"started", format_utc(s.started_unix_ns)},
            {"started_unix_ns", s.started_unix_ns},
            {"uptime_seconds", static_cast<double>(std::max<std::int64_t>(now_unix_ns - s.started_unix_ns, 0)) / 1e9},
            {"object", s.object},
            {"sockets", std::move(sockets)},
            {"sockets_unlisted", s.sockets_unlisted},
            {"counters", std::move(counters)},
        });
    }
    const auto notes = [](const std::vector<stack::SegmentNote>& v) {
        nlohmann::json a = nlohmann::json::array();
        for (const stack::SegmentNote& n : v) a.push_back({{"object", n.object}, {"reason", n.reason}});
        return a;
    };
    return {{"stacks", std::move(stacks)}, {"cleaned", notes(list.cleaned)}, {"skipped", notes(list.skipped)}};
}

}  // namespace kbnet::tools
