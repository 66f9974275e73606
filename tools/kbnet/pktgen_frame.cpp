#include "pktgen_frame.hpp"

namespace kbnet::tools {

Result<FrameTemplate> FrameTemplate::build(const TrafficConfig& config) {
    if (config.frame_size < kMinFrameSize || config.frame_size > 0xffff) {
        return Error{Errc::invalid_argument, "frame size must be 60 to 65535 bytes"};
    }
    if (config.flows == 0) return Error{Errc::invalid_argument, "flows must be at least 1"};
    // RFC 768: source port 0 means "no port"; a reply could not come back to it.
    if (config.src_port == 0) return Error{Errc::invalid_argument, "the first source port must be 1 to 65535"};
    if (std::uint64_t{config.src_port} + config.flows - 1 > 0xffff) {
        return Error{Errc::invalid_argument, "source port + flows - 1 must stay at or below 65535"};
    }

    FrameTemplate t(config);
    std::span<std::uint8_t> frame(t.bytes_);

    wire::EthernetHeader eth;
    eth.destination = config.dst_mac;
    eth.source = config.src_mac;
    eth.ether_type = wire::kEtherTypeIpv4;
    if (auto st = eth.emit(frame); !st) return st.error();

    wire::Ipv4Header ip;
    ip.identification = config.run_tag;
    // DF: the frames are sized to the link; a router that would have to
    // fragment them should say so rather than change what is measured.
    ip.dont_fragment = true;
    ip.protocol = wire::kIpProtoUdp;
    ip.source = config.src_ip;
    ip.destination = config.dst_ip;
    ip.payload_len = static_cast<std::uint16_t>(config.frame_size - kUdpOffset);
    if (auto st = ip.emit(frame.subspan(kIpOffset)); !st) return st.error();

    // The payload goes in before the UDP header, whose checksum covers it:
    // the magic, and zeros where the sequence and timestamp will be.
    write_payload(frame.data() + kPayloadOffset, {0, 0});
    const wire::UdpHeader udp{0, config.dst_port};  // source port 0: stamp() adds each flow's
    if (auto st = udp.emit(frame.subspan(kUdpOffset), config.src_ip, config.dst_ip); !st) return st.error();
    t.base_sum_ = static_cast<std::uint16_t>(~load_be16(frame.data() + kUdpOffset + 6));
    return t;
}

}  // namespace kbnet::tools
