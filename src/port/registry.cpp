// open_port(): the one place that maps a spec's kind to its backend.
#include <fmt/format.h>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "port/afpacket/afpacket_port.hpp"
#include "port/afxdp/afxdp_port.hpp"
#include "port/fault/fault_port.hpp"
#include "port/memif/memif_port.hpp"
#include "port/pair/pair_port.hpp"
#include "port/pcap/pcap_port.hpp"

namespace kbnet::port {

std::unique_ptr<Port> open_port(std::string_view text, const PortOptions& options) {
    const PortSpec spec = parse_port_spec(text);
    if (spec.kind == "afxdp") return make_afxdp_port(spec, options);
    if (spec.kind == "afpacket") return make_afpacket_port(spec, options);
    if (spec.kind == "memif") return make_memif_port(spec, options);
    if (spec.kind == "pair") return make_pair_port(spec, options);
    if (spec.kind == "pcap") return make_pcap_port(spec, options);
    if (spec.kind == "fault") return make_fault_port(spec, open_port(spec.target, options));
    throw PortError(
        fmt::format("port '{}': the {} backend is not part of this kbnet build yet "
                    "(available now: afxdp, afpacket, memif, pcap, pair, fault; see README.md, Status)",
                    spec.text, spec.kind));
}

}  // namespace kbnet::port
