// What sysfs says about the Linux interface under a port spec.
#pragma once

#include <optional>
#include <string>

#include "kbnet/wire/address.hpp"

namespace kbnet::tools {

// The interface under a port (afxdp, afpacket, possibly inside fault(...));
// nothing for the other kinds or when unreadable. sysfs rather than ioctls:
// no socket needed, and `ip netns exec` mounts the namespace's own /sys.
struct DeviceInfo {
    std::string name;
    std::optional<wire::MacAddress> mac;
    std::optional<unsigned> mtu;
};

[[nodiscard]] DeviceInfo device_info(const std::string& spec_text);

}  // namespace kbnet::tools
