#include "device_info.hpp"

#include <fstream>

#include "kbnet/port/spec.hpp"

namespace kbnet::tools {

DeviceInfo device_info(const std::string& spec_text) {
    port::PortSpec spec = port::parse_port_spec(spec_text);
    while (spec.kind == "fault") spec = port::parse_port_spec(spec.target);
    DeviceInfo d;
    if (spec.kind != "afxdp" && spec.kind != "afpacket") return d;
    d.name = spec.target;
    std::ifstream mac_file("/sys/class/net/" + spec.target + "/address");
    std::string text;
    if (mac_file >> text) {
        d.mac = wire::MacAddress::parse(text);
        if (d.mac && d.mac->is_zero()) d.mac.reset();
    }
    std::ifstream mtu_file("/sys/class/net/" + spec.target + "/mtu");
    unsigned mtu = 0;
    if (mtu_file >> mtu && mtu > 0) d.mtu = mtu;
    return d;
}

}  // namespace kbnet::tools
