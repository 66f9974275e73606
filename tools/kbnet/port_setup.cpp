#include "port_setup.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "device_info.hpp"
#include "kbnet/core/cpu.hpp"
#include "kbnet/port/steering.hpp"
#include "signals.hpp"

namespace kbnet::tools {

bool wait_for_link(port::Port& p, const char* tool, const std::string& spec) {
    if (p.link_up()) return true;
    fmt::print(stderr, "{}: waiting for the peer of {}\n", tool, spec);
    while (!p.link_up() && !stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return p.link_up();
}

void pin_to_core(int core) {
    if (core < 0) return;
    if (Status s = pin_current_thread(static_cast<unsigned>(core)); !s) {
        throw std::invalid_argument(fmt::format("--core {}: {}", core, s.error().reason));
    }
}

bool set_address_mode(stack::StackConfig& cfg, const std::string& address, const std::string& spec) {
    if (!address.empty()) {
        cfg.set_address(address);
        return false;
    }
    const DeviceInfo dev = device_info(spec);
    if (dev.name.empty() || !dev.mac) {
        throw std::invalid_argument(
            fmt::format("{} has no kernel interface to share an address with: give the stack its own with --address "
                        "IP/PREFIX (dedicated mode), or use an afxdp: or afpacket: port",
                        spec));
    }
    cfg.mode = stack::AddressMode::shared;
    cfg.interface = dev.name;
    return true;
}

void apply_device_defaults(stack::StackConfig& cfg, const std::string& spec) {
    const DeviceInfo dev = device_info(spec);
    if (dev.mac) cfg.mac = dev.mac;
    if (dev.mtu) cfg.mtu = std::min<std::uint32_t>(*dev.mtu, 1500);
}

std::unique_ptr<port::Port> open_stack_port(const std::string& spec, std::span<const wire::Ipv4Address> owned,
                                            const char* tool) {
    std::unique_ptr<port::Port> p = port::open_port(spec);
    if (port::Steering* s = p->steering()) {
        for (const wire::Ipv4Address a : owned) s->add_filter(port::kOwnedAddress, 0, a.value);
        s->steer_filtered();
    }
    (void)wait_for_link(*p, tool, spec);
    return p;
}

}  // namespace kbnet::tools
