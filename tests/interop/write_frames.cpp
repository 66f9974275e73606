// Writes one frame of every kind kbnet's wire layer builds to a pcap file,
// through the pcap port, and prints a manifest line per frame: the protocol
// chain tshark should find. tests/interop/test_tshark_frames.py dissects the
// file with tshark and fails on any malformed packet or bad checksum.
//
// usage: write_frames OUT.pcap
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "kbnet/port/port.hpp"
#include "kbnet/wire/arp.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/igmp.hpp"
#include "kbnet/wire/ipv4.hpp"
#include "kbnet/wire/tcp.hpp"
#include "kbnet/wire/udp.hpp"

using namespace kbnet;
using namespace kbnet::wire;

namespace {

const MacAddress kMacA = *MacAddress::parse("02:00:00:00:00:0a");
const MacAddress kMacB = *MacAddress::parse("02:00:00:00:00:0b");
const Ipv4Address kIpA = Ipv4Address::from_octets(10, 0, 0, 1);
const Ipv4Address kIpB = Ipv4Address::from_octets(10, 0, 0, 2);

void must(Status s, const char* what) {
    if (!s) {
        std::fprintf(stderr, "write_frames: %s: %s\n", what, s.error().reason);
        std::exit(1);
    }
}

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(seed + i * 7);
    return v;
}

// A frame under construction: Ethernet header, then an IPv4 header, then a
// transport built by the caller into the rest.
struct Builder {
    std::vector<std::uint8_t> bytes;

    std::span<std::uint8_t> ethernet(const EthernetHeader& eth, std::size_t payload_len) {
        bytes.assign(eth.header_len() + payload_len, 0);
        must(eth.emit(bytes), "ethernet");
        return std::span(bytes).subspan(eth.header_len());
    }
    std::span<std::uint8_t> ipv4(const EthernetHeader& eth, Ipv4Header ip, std::size_t payload_len) {
        ip.payload_len = static_cast<std::uint16_t>(payload_len);
        auto l3 = ethernet(eth, ip.total_length());
        must(ip.emit(l3), "ipv4");
        return l3.subspan(ip.header_len());
    }
};

EthernetHeader eth_ab(std::uint16_t type = kEtherTypeIpv4) {
    EthernetHeader e;
    e.destination = kMacB;
    e.source = kMacA;
    e.ether_type = type;
    return e;
}

Ipv4Header ip_ab(std::uint8_t proto, std::uint16_t id = 1) {
    Ipv4Header ip;
    ip.protocol = proto;
    ip.source = kIpA;
    ip.destination = kIpB;
    ip.identification = id;
    ip.dont_fragment = true;
    return ip;
}

std::vector<std::uint8_t> udp_frame(EthernetHeader eth, Ipv4Header ip, std::size_t payload_len, std::uint16_t port) {
    Builder b;
    auto l4 = b.ipv4(eth, ip, kUdpHeaderLen + payload_len);
    const auto data = pattern(payload_len, 3);
    std::memcpy(l4.data() + kUdpHeaderLen, data.data(), data.size());
    must(UdpHeader{40000, port}.emit(l4, ip.source, ip.destination), "udp");
    return b.bytes;
}

std::vector<std::uint8_t> tcp_frame(const TcpHeader& tcp, std::size_t payload_len) {
    Builder b;
    const Ipv4Header ip = ip_ab(kIpProtoTcp);
    auto l4 = b.ipv4(eth_ab(), ip, tcp.header_len() + payload_len);
    const auto data = pattern(payload_len, 9);
    std::memcpy(l4.data() + tcp.header_len(), data.data(), data.size());
    must(tcp.emit(l4, ip.source, ip.destination), "tcp");
    return b.bytes;
}

std::vector<std::uint8_t> icmp_frame(const IcmpHeader& icmp, std::span<const std::uint8_t> data) {
    Builder b;
    auto l4 = b.ipv4(eth_ab(), ip_ab(kIpProtoIcmp), kIcmpHeaderLen + data.size());
    std::memcpy(l4.data() + kIcmpHeaderLen, data.data(), data.size());
    must(icmp.emit(l4), "icmp");
    return b.bytes;
}

template <typename Msg>
std::vector<std::uint8_t> igmp_frame(const Msg& msg, std::size_t len, Ipv4Address dst) {
    Builder b;
    EthernetHeader eth = eth_ab();
    eth.destination = MacAddress::for_ipv4_multicast(dst.value);
    auto l4 = b.ipv4(eth, igmp_ipv4_header(kIpA, dst, static_cast<std::uint16_t>(len)), len);
    must(msg.emit(l4), "igmp");
    return b.bytes;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: write_frames OUT.pcap\n");
        return 2;
    }
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> frames;

    // ARP (RFC 826): a request and its reply.
    {
        const ArpPacket req = ArpPacket::request(kMacA, kIpA, kIpB);
        Builder b;
        EthernetHeader eth = eth_ab(kEtherTypeArp);
        eth.destination = MacAddress::broadcast();
        must(req.emit(b.ethernet(eth, kArpLen)), "arp request");
        frames.emplace_back("eth:ethertype:arp", b.bytes);
        Builder r;
        EthernetHeader reth = eth_ab(kEtherTypeArp);
        reth.destination = kMacA;
        reth.source = kMacB;
        must(req.reply(kMacB).emit(r.ethernet(reth, kArpLen)), "arp reply");
        frames.emplace_back("eth:ethertype:arp", r.bytes);
    }
    // UDP: even and odd payloads, an empty one, a full-size one.
    for (std::size_t n : {18u, 19u, 0u, 1472u}) {
        frames.emplace_back("eth:ethertype:ip:udp", udp_frame(eth_ab(), ip_ab(kIpProtoUdp), n, 9));
    }
    // UDP behind an 802.1Q tag and behind 802.1ad + 802.1Q tags.
    {
        EthernetHeader eth = eth_ab();
        eth.vlan_count = 1;
        eth.vlans[0] = VlanTag{kEtherTypeVlan, 5, false, 100};
        frames.emplace_back("eth:ethertype:vlan:ethertype:ip:udp", udp_frame(eth, ip_ab(kIpProtoUdp), 32, 9));
        eth.vlan_count = 2;
        eth.vlans[0] = VlanTag{kEtherTypeQinQ, 0, false, 10};
        eth.vlans[1] = VlanTag{kEtherTypeVlan, 3, true, 200};
        frames.emplace_back("eth:ethertype:ieee8021ad:ethertype:vlan:ethertype:ip:udp",
                            udp_frame(eth, ip_ab(kIpProtoUdp), 32, 9));
    }
    // IPv4 with an option (Router Alert, RFC 2113) carrying UDP.
    {
        Ipv4Header ip = ip_ab(kIpProtoUdp);
        must(ip.add_router_alert(), "router alert");
        frames.emplace_back("eth:ethertype:ip:udp", udp_frame(eth_ab(), ip, 40, 9));
    }
    // IPv4 fragments (RFC 791 §3.2): a 1000-byte UDP datagram in two pieces.
    {
        const std::vector<std::uint8_t> whole = udp_frame(eth_ab(), ip_ab(kIpProtoUdp, 77), 992, 9);
        const std::span<const std::uint8_t> udp = std::span(whole).subspan(kEthernetHeaderLen + kIpv4MinHeaderLen);
        for (int part = 0; part < 2; ++part) {
            Ipv4Header ip = ip_ab(kIpProtoUdp, 77);
            ip.dont_fragment = false;
            ip.more_fragments = part == 0;
            ip.fragment_offset = part == 0 ? 0 : 504;
            const auto piece = part == 0 ? udp.first(504) : udp.subspan(504);
            Builder b;
            auto l4 = b.ipv4(eth_ab(), ip, piece.size());
            std::memcpy(l4.data(), piece.data(), piece.size());
            // tshark reassembles: the first piece is a fragment, the second
            // completes the UDP datagram.
            frames.emplace_back(part == 0 ? "eth:ethertype:ip:data" : "eth:ethertype:ip:udp", b.bytes);
        }
    }
    // TCP: a SYN with Linux's options, an ACK with SACK blocks and data.
    {
        TcpHeader syn;
        syn.source_port = 40000;
        syn.destination_port = 80;
        syn.seq_number = 0x01020304;
        syn.flags = kTcpSyn;
        syn.window = 64240;
        syn.options.mss = 1460;
        syn.options.sack_permitted = true;
        syn.options.timestamps = TcpTimestamps{123456, 0};
        syn.options.window_scale = 7;
        frames.emplace_back("eth:ethertype:ip:tcp", tcp_frame(syn, 0));

        TcpHeader ack;
        ack.source_port = 80;
        ack.destination_port = 40000;
        ack.seq_number = 1000;
        ack.ack_number = 5000;
        ack.flags = kTcpAck | kTcpPsh;
        ack.window = 501;
        ack.options.timestamps = TcpTimestamps{2222, 1111};
        ack.options.sack_count = 2;
        ack.options.sack_blocks[0] = TcpSackBlock{6000, 7000};
        ack.options.sack_blocks[1] = TcpSackBlock{8000, 9000};
        frames.emplace_back("eth:ethertype:ip:tcp", tcp_frame(ack, 101));
    }
    // ICMP (RFC 792): echo request and reply, port unreachable and time
    // exceeded, each quoting the datagram that caused it.
    {
        const auto data = pattern(56, 1);
        frames.emplace_back("eth:ethertype:ip:icmp:data", icmp_frame(IcmpHeader::echo_request(0x1234, 1), data));
        frames.emplace_back("eth:ethertype:ip:icmp:data", icmp_frame(IcmpHeader::echo_reply(0x1234, 1), data));
        const auto offending = udp_frame(eth_ab(), ip_ab(kIpProtoUdp), 20, 5555);
        const auto quote = std::span(offending).subspan(kEthernetHeaderLen);
        frames.emplace_back("eth:ethertype:ip:icmp:ip:udp",
                            icmp_frame(IcmpHeader::destination_unreachable(kIcmpPortUnreachable), quote));
        frames.emplace_back("eth:ethertype:ip:icmp:ip:udp",
                            icmp_frame(IcmpHeader::time_exceeded(kIcmpTtlExceeded), quote));
    }
    // IGMP: v2 report, leave and query (RFC 2236), v3 report and query (RFC 3376).
    {
        const Ipv4Address group = Ipv4Address::from_octets(239, 1, 2, 3);
        frames.emplace_back("eth:ethertype:ip:igmp", igmp_frame(IgmpV2Message::report(group), kIgmpV2Len, group));
        frames.emplace_back("eth:ethertype:ip:igmp",
                            igmp_frame(IgmpV2Message::leave(group), kIgmpV2Len, kIpv4AllRouters));
        frames.emplace_back("eth:ethertype:ip:igmp",
                            igmp_frame(IgmpV2Message::query(100), kIgmpV2Len, kIpv4AllSystems));
        const std::array<Ipv4Address, 2> sources = {kIpB, Ipv4Address::from_octets(10, 0, 0, 3)};
        const std::array<IgmpV3GroupRecord, 2> records = {
            IgmpV3GroupRecord{kIgmpChangeToExclude, group, {}, {}},
            IgmpV3GroupRecord{kIgmpAllowNewSources, Ipv4Address::from_octets(239, 9, 9, 9), sources, {}}};
        const IgmpV3Report report{records};
        frames.emplace_back("eth:ethertype:ip:igmp", igmp_frame(report, report.len(), kIpv4IgmpV3Routers));
        IgmpV3Query query;
        query.group = group;
        query.sources = sources;
        frames.emplace_back("eth:ethertype:ip:igmp", igmp_frame(query, query.len(), group));
    }

    // Write them through the pcap port, as any kbnet transmit path would.
    port::PortOptions options;
    options.area.frame_count = 64;
    options.area.hugepages = false;
    auto p = port::open_port(std::string("pcap:-,out=") + argv[1], options);
    for (const auto& [protocols, bytes] : frames) {
        PacketHandle h;
        if (p->alloc(0, std::span(&h, 1)) != 1 || !p->area().append(h, static_cast<std::uint32_t>(bytes.size()))) {
            std::fprintf(stderr, "write_frames: no frame for %zu bytes\n", bytes.size());
            return 1;
        }
        std::memcpy(p->area().data(h), bytes.data(), bytes.size());
        if (p->tx_burst(0, std::span<const PacketHandle>(&h, 1)) != 1) {
            std::fprintf(stderr, "write_frames: pcap port refused a frame\n");
            return 1;
        }
        std::printf("%s\n", protocols.c_str());
    }
    p->flush(0);
    return 0;
}
