#include "kbnet/port/spec.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace kbnet::port {
namespace {

struct KindInfo {
    std::string_view kind;
    std::string_view target;  // what the first field names, for messages
    std::initializer_list<std::string_view> options;
};

// The grammar in one table: parse_port_spec() validates against it and
// port_spec_grammar() prints it, so the two cannot drift apart.
constexpr std::string_view kGrammar =
    "port spec grammar:\n"
    "  afxdp:IFACE[,queues=N][,queue=Q][,mode=auto|copy|zc][,busy_poll=US][,steer=filtered|all]\n"
    "                                                                AF_XDP socket per queue on IFACE, queues\n"
    "                                                                Q..Q+N-1; steer=all takes every frame\n"
    "  afpacket:IFACE[,queues=N][,promisc=0|1][,block=BYTES][,blocks=N][,timeout=MS]\n"
    "                                                                AF_PACKET (TPACKET_V3) on IFACE, N sockets\n"
    "                                                                in a hash fanout group; rx ring of blocks\n"
    "                                                                handed over when full or after timeout ms\n"
    "  memif:SOCKET[,role=server|client][,id=N][,queues=N][,ring=LOG2][,buffer=BYTES][,secret=S]"
    "[,mode=poll|interrupt]\n"
    "                                                                shared memory with a DPDK/VPP/kbnet peer;\n"
    "                                                                SOCKET is a path or @NAME (abstract);\n"
    "                                                                role=server (default) listens\n"
    "  pcap:IN[,out=OUT][,format=us|ns][,repeat=N]                   receive from pcap file IN ('-' for none),\n"
    "                                                                transmit to OUT; repeat=0 loops forever\n"
    "  pair:NAME[,queues=N][,depth=N]                                in-process pair; the two opens of NAME\n"
    "                                                                are its two ends\n"
    "  dpdk:EAL-ARGS                                                 a DPDK ethdev\n"
    "  fault(drop=P,duplicate=P,reorder=P,corrupt=P,delay_us=N,delay=P,seed=N,side=rx|tx|both):SPEC\n"
    "                                                                inject faults into another port\n"
    "  (P is a probability from 0 to 1)";

const std::array<KindInfo, 7> kKinds{{
    {"afxdp", "IFACE", {"queues", "queue", "mode", "busy_poll", "steer"}},
    {"afpacket", "IFACE", {"queues", "promisc", "block", "blocks", "timeout"}},
    {"memif", "SOCKET", {"role", "id", "queues", "ring", "buffer", "secret", "mode"}},
    {"pcap", "IN", {"out", "format", "repeat"}},
    {"pair", "NAME", {"queues", "depth"}},
    {"dpdk", "EAL-ARGS", {}},
    {"fault", "SPEC", {"drop", "duplicate", "reorder", "corrupt", "delay_us", "delay", "seed", "side"}},
}};

[[noreturn]] void fail(std::string_view spec, const std::string& why) {
    throw PortError(fmt::format("bad port spec '{}': {}\n{}", spec, why, kGrammar));
}

const KindInfo* find_kind(std::string_view kind) {
    for (const KindInfo& k : kKinds) {
        if (k.kind == kind) return &k;
    }
    return nullptr;
}

void parse_options(std::string_view whole, const KindInfo& info, std::string_view list, PortSpec& out) {
    // Every comma separates two options, so "a=1,,b=2" and a trailing comma
    // are errors rather than silently ignored.
    std::size_t pos = 0;
    for (;;) {
        const std::size_t comma = list.find(',', pos);
        const std::string_view item = list.substr(pos, comma == std::string_view::npos ? list.npos : comma - pos);
        const std::size_t eq = item.find('=');
        if (item.empty()) fail(whole, "empty option (two commas in a row, or a trailing comma)");
        if (eq == std::string_view::npos)
            fail(whole, fmt::format("option '{}' has no value (expected KEY=VALUE)", item));
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        if (key.empty() || value.empty()) fail(whole, fmt::format("option '{}' needs a key and a value", item));
        bool known = false;
        for (std::string_view k : info.options) known = known || k == key;
        if (!known) {
            std::string allowed;
            for (std::string_view k : info.options) allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", k);
            fail(whole, fmt::format("unknown option '{}' for {} (allowed: {})", key, info.kind,
                                    allowed.empty() ? "none" : allowed));
        }
        if (out.option(key)) fail(whole, fmt::format("option '{}' given twice", key));
        out.options.emplace_back(std::string(key), std::string(value));
        if (comma == std::string_view::npos) break;
        pos = comma + 1;
    }
}

}  // namespace

std::string_view port_spec_grammar() noexcept { return kGrammar; }

PortSpec parse_port_spec(std::string_view text) {
    PortSpec spec;
    spec.text = std::string(text);
    if (text.empty()) fail(text, "empty spec");

    // fault(OPTIONS):INNER — the options are inside the parentheses so the
    // inner spec keeps its own commas.
    if (text.starts_with("fault(")) {
        const std::size_t close = text.find("):");
        if (close == std::string_view::npos) fail(text, "expected fault(OPTIONS):SPEC");
        spec.kind = "fault";
        spec.target = std::string(text.substr(close + 2));
        if (spec.target.empty()) fail(text, "fault needs an inner port spec after '):'");
        parse_options(text, *find_kind("fault"), text.substr(6, close - 6), spec);
        (void)parse_port_spec(spec.target);  // validate the inner spec now, with its own message
        return spec;
    }

    const std::size_t colon = text.find(':');
    if (colon == std::string_view::npos) fail(text, "expected KIND:TARGET");
    const std::string_view kind = text.substr(0, colon);
    const KindInfo* info = find_kind(kind);
    if (info == nullptr || kind == "fault") fail(text, fmt::format("unknown port kind '{}'", kind));
    spec.kind = std::string(kind);
    std::string_view rest = text.substr(colon + 1);

    // DPDK's EAL arguments have commas of their own: the whole rest is the target.
    if (kind == "dpdk") {
        if (rest.empty()) fail(text, "dpdk needs EAL arguments");
        spec.target = std::string(rest);
        return spec;
    }

    const std::size_t comma = rest.find(',');
    const std::string_view target = rest.substr(0, comma);
    if (target.empty()) fail(text, fmt::format("{} needs {} before any option", kind, info->target));
    spec.target = std::string(target);
    if (comma != std::string_view::npos) parse_options(text, *info, rest.substr(comma + 1), spec);
    return spec;
}

std::optional<std::string_view> PortSpec::option(std::string_view key) const noexcept {
    for (const auto& [k, v] : options) {
        if (k == key) return std::string_view(v);
    }
    return std::nullopt;
}

std::string PortSpec::string_or(std::string_view key, std::string_view fallback) const {
    return std::string(option(key).value_or(fallback));
}

std::uint64_t PortSpec::uint_or(std::string_view key, std::uint64_t fallback, std::uint64_t min,
                                std::uint64_t max) const {
    const auto v = option(key);
    if (!v) return fallback;
    std::uint64_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || end != v->data() + v->size() || n < min || n > max) {
        throw PortError(
            fmt::format("bad port spec '{}': {}={} must be a whole number from {} to {}", text, key, *v, min, max));
    }
    return n;
}

double PortSpec::probability_or(std::string_view key, double fallback) const {
    const auto v = option(key);
    if (!v) return fallback;
    // std::from_chars for double is in libstdc++ 11+, so no locale surprises.
    double p = -1;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), p);
    if (ec != std::errc{} || end != v->data() + v->size() || !std::isfinite(p) || p < 0.0 || p > 1.0) {
        throw PortError(
            fmt::format("bad port spec '{}': {}={} must be a probability from 0 to 1 (e.g. 0.01)", text, key, *v));
    }
    return p;
}

std::string PortSpec::choice_or(std::string_view key, std::string_view fallback,
                                std::initializer_list<std::string_view> choices) const {
    const auto v = option(key);
    if (!v) return std::string(fallback);
    std::string list;
    for (std::string_view c : choices) {
        if (c == *v) return std::string(c);
        list += fmt::format("{}{}", list.empty() ? "" : "|", c);
    }
    throw PortError(fmt::format("bad port spec '{}': {}={} must be one of {}", text, key, *v, list));
}

}  // namespace kbnet::port
