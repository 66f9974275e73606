// kbnet stackdump's output, apart from the command so the unit tests can
// check it on hand-made snapshots: the netstat -s style text and the JSON
// document.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kbnet/stack/stats_segment.hpp"

namespace kbnet::tools {

struct StackdumpTextOptions {
    bool all = false;              // every counter, not only the non-zero ones
    std::int64_t now_unix_ns = 0;  // for uptimes
    std::string_view selector;     // the NAME asked for, if any: says which stack is not running
};

// The stacks whose name is `selector`, or whose pid it is when it is a
// number. An empty selector keeps them all.
[[nodiscard]] stack::StackList select_stacks(stack::StackList list, std::string_view selector);

// For stdout: each stack (identity, sockets, counters) and a line saying how
// many stale segments were cleaned; "no kbnet stacks running" when none
// (or "no kbnet stack named X running" when one was asked for).
[[nodiscard]] std::string stackdump_text(const stack::StackList& list, const StackdumpTextOptions& options);

// For stderr: one line per segment that was skipped, with its reason.
[[nodiscard]] std::string stackdump_warnings(const stack::StackList& list);

// {"stacks":[{"name","pid","port","mode","addresses","started","started_unix_ns","uptime_seconds",
//   "object","sockets":[...],"sockets_unlisted","counters":{"ip":{"InReceives":N,...},...}}],
//  "cleaned":[{"object","reason"}],"skipped":[{"object","reason"}]}
// Every counter is present, zero or not, so keys are stable.
[[nodiscard]] nlohmann::json stackdump_json(const stack::StackList& list, std::int64_t now_unix_ns);

// "3d04h05m06s", "1h02m03s", "5m06s", "12s".
[[nodiscard]] std::string format_uptime(std::int64_t ns);
// "udp", "tcp", or the number.
[[nodiscard]] std::string protocol_name(std::uint8_t protocol);
// "10.0.0.1:9000", "*:9000" for an unspecified address.
[[nodiscard]] std::string format_endpoint(wire::Ipv4Address address, std::uint16_t port);
// ISO 8601 UTC, seconds: "2024-05-01T12:00:00Z".
[[nodiscard]] std::string format_utc(std::int64_t unix_ns);

}  // namespace kbnet::tools
