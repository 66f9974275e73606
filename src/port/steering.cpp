#include "kbnet/port/steering.hpp"

#include <fmt/format.h>

namespace kbnet::port {

std::string to_string(const SteeringFilter& f) {
    std::string proto = f.protocol == 17 ? "udp" : f.protocol == 6 ? "tcp" : fmt::format("proto{}", f.protocol);
    std::string text = f.protocol == 0 && f.port == 0 ? std::string("all") : fmt::format("{}:{}", proto, f.port);
    if (f.address != 0) {
        text += fmt::format("@{}.{}.{}.{}", f.address >> 24, (f.address >> 16) & 0xff, (f.address >> 8) & 0xff,
                            f.address & 0xff);
    }
    if (f.action == FilterAction::drop) text += " drop";
    return text;
}

std::string_view to_string(SteerMode mode) noexcept { return mode == SteerMode::all ? "all" : "filtered"; }

}  // namespace kbnet::port
