// The maps of kbnet's XDP program, seen from user space: the XSKMAP the
// sockets register in, the filter table, the mode and owner slots, and the
// per-CPU counters (layouts in bpf/kbnet_xdp_abi.h).
//
// The maps are reached either through the program this process loaded
// (the fds belong to its bpf_object) or by id through a program found on
// an interface (kbnet xdp status; the fds are then ours to close).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kbnet/port/steering.hpp"
#include "kbnet/port/xdp.hpp"

namespace kbnet::port::afxdp {

class XdpMaps {
  public:
    XdpMaps() = default;
    // owned: close the fds in the destructor.
    XdpMaps(int xsks, int filters, int config, int counters, bool owned) noexcept
        : xsks_(xsks), filters_(filters), config_(config), counters_(counters), owned_(owned) {}
    ~XdpMaps();
    XdpMaps(XdpMaps&& o) noexcept;
    XdpMaps& operator=(XdpMaps&& o) noexcept;
    XdpMaps(const XdpMaps&) = delete;
    XdpMaps& operator=(const XdpMaps&) = delete;

    // The maps of a loaded kbnet program, found through its map ids; nullopt
    // if the program does not have all four (not ours, or another version).
    [[nodiscard]] static std::optional<XdpMaps> of_program(int prog_fd);

    [[nodiscard]] bool valid() const noexcept { return xsks_ >= 0 && filters_ >= 0 && config_ >= 0 && counters_ >= 0; }
    [[nodiscard]] int xsks_fd() const noexcept { return xsks_; }
    [[nodiscard]] int filters_fd() const noexcept { return filters_; }

    // All of these throw PortError with the errno text on failure.
    void set_mode(SteerMode mode);
    [[nodiscard]] SteerMode mode() const;
    void set_owner(std::uint32_t pid);
    [[nodiscard]] std::uint32_t owner() const;
    void add_filter(const SteeringFilter& f);
    bool remove_filter(std::uint8_t protocol, std::uint16_t port, std::uint32_t address);
    [[nodiscard]] std::vector<SteeringFilter> filters() const;
    [[nodiscard]] XdpCounters counters() const;

  private:
    void close_all() noexcept;
    [[nodiscard]] std::uint32_t config_slot(std::uint32_t slot) const;
    void set_config_slot(std::uint32_t slot, std::uint32_t value);

    int xsks_ = -1;
    int filters_ = -1;
    int config_ = -1;
    int counters_ = -1;
    bool owned_ = false;
};

}  // namespace kbnet::port::afxdp
