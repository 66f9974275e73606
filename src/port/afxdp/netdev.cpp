#include "port/afxdp/netdev.hpp"

#include <linux/capability.h>

#include <fmt/format.h>

namespace kbnet::port::afxdp {

std::string missing_capabilities(std::uint64_t effective) {
    auto has = [effective](unsigned cap) { return netdev::has_capability(effective, cap); };
    std::string missing;
    auto add = [&missing](std::string_view name) { missing += fmt::format("{}{}", missing.empty() ? "" : ", ", name); };
    if (!has(CAP_NET_ADMIN)) add("CAP_NET_ADMIN");
    if (!has(CAP_NET_RAW)) add("CAP_NET_RAW");
    // CAP_BPF exists since Linux 5.8; CAP_SYS_ADMIN covers BPF before and after.
    if (!has(CAP_BPF) && !has(CAP_SYS_ADMIN)) add("CAP_BPF");
    return missing;
}

std::string missing_capabilities_of_self() {
    // No /proc: let the operations themselves report EPERM.
    const auto eff = netdev::effective_capabilities();
    return eff ? missing_capabilities(*eff) : std::string{};
}

}  // namespace kbnet::port::afxdp
