// Port spec strings (design.md, decision 1): one syntax for the CLI, the
// environment and configuration files.
//
//   KIND:TARGET[,KEY=VALUE...]
//   fault(KEY=VALUE,...):INNER-SPEC      (a fault-injecting wrapper)
//
// The first comma-separated field after the colon is the target (an
// interface, a file, a socket path, a name); the rest are options, each
// allowed only for its kind. Anything else is an error whose message shows
// the grammar.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kbnet/port/port.hpp"

namespace kbnet::port {

struct PortSpec {
    std::string text;    // the whole spec as given
    std::string kind;    // afxdp, afpacket, memif, pcap, pair, dpdk, fault
    std::string target;  // IFACE, SOCKET, IN, NAME or EAL args; for fault, the inner spec
    std::vector<std::pair<std::string, std::string>> options;  // in the order given

    [[nodiscard]] std::optional<std::string_view> option(std::string_view key) const noexcept;

    // Typed option readers; they throw PortError naming the key and the
    // expected form when a value does not parse or is out of range.
    [[nodiscard]] std::string string_or(std::string_view key, std::string_view fallback) const;
    [[nodiscard]] std::uint64_t uint_or(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                                        std::uint64_t max) const;
    [[nodiscard]] double probability_or(std::string_view key, double fallback) const;  // 0.0 .. 1.0
    // One of `choices`, or fallback.
    [[nodiscard]] std::string choice_or(std::string_view key, std::string_view fallback,
                                        std::initializer_list<std::string_view> choices) const;
};

// Parses and validates a spec: known kind, non-empty target, options known
// to that kind and not repeated. Throws PortError with the grammar.
[[nodiscard]] PortSpec parse_port_spec(std::string_view text);

// The grammar of every kind, for error messages and --help.
[[nodiscard]] std::string_view port_spec_grammar() noexcept;

}  // namespace kbnet::port
