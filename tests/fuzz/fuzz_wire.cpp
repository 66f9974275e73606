// Fuzzes every wire/ parser: the input is an Ethernet frame, walked down
// through VLAN tags, ARP, IPv4 and its options, ICMP (with the quoted
// datagram), UDP, TCP and its options, and IGMP v1/v2/v3 with sources and
// group records. Every accessor and checksum check runs; every view's
// spans must lie inside the input; and each header goes view -> value ->
// emit -> parse and must come back equal. The same bytes are also handed
// to each parser directly, so the fuzzer reaches the inner formats without
// first having to build valid outer headers.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kbnet/wire/arp.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/igmp.hpp"
#include "kbnet/wire/ipv4.hpp"
#include "kbnet/wire/tcp.hpp"
#include "kbnet/wire/udp.hpp"

namespace {

using namespace kbnet;
using namespace kbnet::wire;

// Keeps accessor results alive so the optimiser cannot drop the reads.
volatile std::uint64_t g_sink = 0;
void sink(std::uint64_t v) { g_sink = g_sink + v; }

// A broken invariant is a crash the fuzzer reports.
void require(bool ok) {
    if (!ok) __builtin_trap();
}

// An empty span may point anywhere (a default-constructed one is null).
void require_inside(std::span<const std::uint8_t> inner, std::span<const std::uint8_t> outer) {
    if (inner.empty()) return;
    require(inner.data() >= outer.data() && inner.data() + inner.size() <= outer.data() + outer.size());
}

const Ipv4Address kSrc = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kDst = Ipv4Address::from_octets(192, 168, 1, 20);

void walk_options(TlvOptionRange options, std::span<const std::uint8_t> area) {
    for (const TlvOption& o : options) {
        require_inside(o.data, area);
        sink(o.kind + o.data.size());
    }
}

// ---- ICMP ------------------------------------------------------------------

void fuzz_ipv4(std::span<const std::uint8_t> bytes, bool quoted);

void fuzz_icmp(std::span<const std::uint8_t> bytes, bool inside_quote) {
    auto icmp = IcmpView::parse(bytes);
    if (!icmp) return;
    sink(icmp->type() + icmp->code() + icmp->checksum() + icmp->rest_of_header() + icmp->identifier() +
         icmp->sequence_number() + icmp->next_hop_mtu() + icmp->pointer() + icmp->checksum_ok());
    require_inside(icmp->data(), bytes);
    require(icmp->message().size() == bytes.size());

    auto quote = icmp->quoted_datagram();
    if (!icmp_type_quotes_datagram(icmp->type())) require(quote.code() == Errc::invalid_argument);
    if (quote && !inside_quote) {
        require_inside(quote->packet(), icmp->data());
        fuzz_ipv4(quote->packet(), true);
        auto ports = icmp_quoted_ports(*quote);
        if (ports) sink(ports->source_port + ports->destination_port);
        sink(icmp_error_quote(*quote).size());
    }

    // Round trip: the header rebuilt over the same data verifies and
    // parses back to the same value.
    std::vector<std::uint8_t> copy(bytes.begin(), bytes.end());
    std::fill(copy.begin(), copy.begin() + kIcmpHeaderLen, std::uint8_t{0});
    const IcmpHeader h = IcmpHeader::from_view(*icmp);
    require(h.emit(copy).ok());
    auto again = IcmpView::parse(copy);
    require(again.ok() && IcmpHeader::from_view(*again) == h && again->checksum_ok());

    // An in-place type change keeps a valid checksum valid (RFC 1624).
    std::vector<std::uint8_t> mut_bytes(bytes.begin(), bytes.end());
    auto mut = IcmpViewMut::parse(mut_bytes);
    require(mut.ok());
    const bool was_ok = mut->checksum_ok();
    mut->set_type_code(kIcmpEchoReply, 0);
    require(!was_ok || mut->checksum_ok());
    mut->set_type_code(icmp->type(), icmp->code());
    require(!was_ok || mut->checksum_ok());
}

// ---- UDP -------------------------------------------------------------------

void fuzz_udp(std::span<const std::uint8_t> bytes, Ipv4Address src, Ipv4Address dst) {
    auto udp = UdpView::parse(bytes);
    if (!udp) return;
    const bool ok = udp->checksum_ok(src, dst);
    sink(udp->source_port() + udp->destination_port() + udp->length() + udp->checksum() + udp->has_checksum() + ok);
    require(udp->datagram().size() == udp->length() && udp->length() >= kUdpHeaderLen);
    require_inside(udp->payload(), bytes);

    std::vector<std::uint8_t> copy(udp->datagram().begin(), udp->datagram().end());
    const UdpHeader h = UdpHeader::from_view(*udp);
    require(h.emit(copy, src, dst).ok());
    auto again = UdpView::parse(copy);
    require(again.ok() && UdpHeader::from_view(*again) == h && again->has_checksum() && again->checksum_ok(src, dst));
    require(std::equal(again->payload().begin(), again->payload().end(), udp->payload().begin()));

    // Port rewrites keep a valid checksum valid and an absent one absent.
    std::vector<std::uint8_t> mut_bytes(udp->datagram().begin(), udp->datagram().end());
    auto mut = UdpViewMut::parse(mut_bytes);
    require(mut.ok());
    mut->set_source_port(static_cast<std::uint16_t>(udp->source_port() ^ 0x5a5a));
    mut->set_destination_port(static_cast<std::uint16_t>(~udp->destination_port()));
    require(mut->has_checksum() == udp->has_checksum());
    require(mut->checksum_ok(src, dst) == ok);
}

// ---- TCP -------------------------------------------------------------------

void fuzz_tcp(std::span<const std::uint8_t> bytes, Ipv4Address src, Ipv4Address dst) {
    auto tcp = TcpView::parse(bytes);
    if (!tcp) return;
    const bool ok = tcp->checksum_ok(src, dst);
    sink(tcp->source_port() + tcp->destination_port() + tcp->seq_number() + tcp->ack_number() + tcp->header_len() +
         tcp->reserved_bits() + tcp->flags() + tcp->fin() + tcp->syn() + tcp->rst() + tcp->psh() + tcp->ack() +
         tcp->urg() + tcp->ece() + tcp->cwr() + tcp->window() + tcp->checksum() + tcp->urgent_pointer() +
         tcp->segment_length() + ok);
    require(tcp->header_len() >= kTcpMinHeaderLen && tcp->header_len() <= bytes.size());
    require_inside(tcp->option_bytes(), bytes);
    require_inside(tcp->payload(), bytes);
    walk_options(tcp->option_list(), tcp->option_bytes());

    // parse() validated the options, so the iterator sees all of them: the
    // lengths of the options it yields, plus NOPs and what follows an EOL,
    // account for the whole area.
    const TcpOptions o = tcp->options();
    require(o.sack_count <= kTcpMaxSackBlocks);
    sink(o.mss.value_or(0) + o.window_scale.value_or(0) + o.sack_permitted);
    if (o.timestamps) sink(o.timestamps->value + o.timestamps->echo_reply);
    for (std::size_t i = 0; i < o.sack_count; ++i) sink(o.sack_blocks[i].left + o.sack_blocks[i].right);

    // Round trip: our re-encoding (Linux layout, unknown options dropped)
    // of the same header over the same payload decodes to the same value.
    const TcpHeader h = TcpHeader::from_view(*tcp);
    const std::size_t hlen = h.header_len();
    std::vector<std::uint8_t> rebuilt(hlen + tcp->payload().size());
    std::copy(tcp->payload().begin(), tcp->payload().end(), rebuilt.begin() + static_cast<std::ptrdiff_t>(hlen));
    const auto st = h.emit(rebuilt, src, dst);
    if (st) {
        auto again = TcpView::parse(rebuilt);
        require(again.ok() && TcpHeader::from_view(*again) == h && again->checksum_ok(src, dst));
    } else {
        // Only when the known options no longer fit in Linux's layout.
        require(st.code() == Errc::invalid_argument && hlen > kTcpMaxHeaderLen);
    }

    std::vector<std::uint8_t> mut_bytes(bytes.begin(), bytes.end());
    auto mut = TcpViewMut::parse(mut_bytes);
    require(mut.ok());
    mut->set_source_port(static_cast<std::uint16_t>(tcp->source_port() + 1));
    mut->set_destination_port(static_cast<std::uint16_t>(tcp->destination_port() ^ 0x8000));
    mut->set_window(static_cast<std::uint16_t>(~tcp->window()));
    require(mut->checksum_ok(src, dst) == ok);
    mut->fill_checksum(src, dst);
    require(mut->checksum_ok(src, dst));
}

// ---- IGMP ------------------------------------------------------------------

void fuzz_igmp(std::span<const std::uint8_t> bytes) {
    auto igmp = IgmpView::parse(bytes);
    if (!igmp) return;
    sink(static_cast<std::uint64_t>(igmp->kind()) + igmp->type() + igmp->max_resp_code() +
         igmp->max_response_time_ds() + igmp->checksum() + igmp->group_address().value +
         igmp->suppress_router_processing() + igmp->querier_robustness() + igmp->qqic() +
         igmp->querier_query_interval_s() + igmp->checksum_ok());
    require(igmp->message().size() == bytes.size());

    std::vector<Ipv4Address> query_sources;
    const Ipv4AddressList sources = igmp->sources();
    require_inside(sources.bytes(), bytes);
    for (Ipv4Address a : sources) query_sources.push_back(a);
    require(query_sources.size() == sources.size());
    sink(sources[sources.size()].value);  // past the end: 0, no read

    // Records: copies of their sources and aux data, for the round trip.
    std::vector<std::vector<Ipv4Address>> record_sources;
    std::vector<IgmpV3GroupRecord> records;
    const IgmpGroupRecordList list = igmp->group_records();
    for (const IgmpGroupRecordView r : list) {
        require_inside(r.bytes(), bytes);
        require_inside(r.aux_data(), r.bytes());
        require(r.aux_data().size() == r.aux_data_len());
        require(r.sources().size() == r.source_count());
        auto& copy = record_sources.emplace_back();
        for (Ipv4Address a : r.sources()) copy.push_back(a);
        records.push_back({r.record_type(), r.multicast_address(), {}, r.aux_data()});
    }
    require(records.size() == list.size());
    for (std::size_t i = 0; i < records.size(); ++i) records[i].sources = record_sources[i];

    std::vector<std::uint8_t> out;
    switch (igmp->kind()) {
        case IgmpKind::v3_query: {
            IgmpV3Query q;
            q.max_resp_code = igmp->max_resp_code();
            q.group = igmp->group_address();
            q.suppress_router_processing = igmp->suppress_router_processing();
            q.querier_robustness = igmp->querier_robustness();
            q.qqic = igmp->qqic();
            q.sources = query_sources;
            out.resize(q.len());
            require(q.emit(out).ok());
            auto again = IgmpView::parse(out);
            require(again.ok() && again->kind() == IgmpKind::v3_query && again->checksum_ok());
            require(again->group_address() == q.group && again->qqic() == q.qqic &&
                    again->querier_robustness() == q.querier_robustness &&
                    again->suppress_router_processing() == q.suppress_router_processing &&
                    again->sources().size() == query_sources.size());
            require(std::equal(query_sources.begin(), query_sources.end(), again->sources().begin()));
            break;
        }
        case IgmpKind::v3_report: {
            const IgmpV3Report report{records};
            out.resize(report.len());
            require(report.emit(out).ok());
            auto again = IgmpView::parse(out);
            require(again.ok() && again->kind() == IgmpKind::v3_report && again->checksum_ok());
            require(again->group_records().size() == records.size());
            std::size_t i = 0;
            for (const IgmpGroupRecordView r : again->group_records()) {
                require(r.record_type() == records[i].record_type &&
                        r.multicast_address() == records[i].multicast_address &&
                        r.source_count() == records[i].sources.size() &&
                        std::equal(r.aux_data().begin(), r.aux_data().end(), records[i].aux_data.begin(),
                                   records[i].aux_data.end()));
                require(std::equal(r.sources().begin(), r.sources().end(), records[i].sources.begin()));
                ++i;
            }
            break;
        }
        default: {
            const IgmpV2Message m = IgmpV2Message::from_view(*igmp);
            out.resize(m.len());
            require(m.emit(out).ok());
            auto again = IgmpView::parse(out);
            require(again.ok() && again->kind() == igmp->kind() && IgmpV2Message::from_view(*again) == m &&
                    again->checksum_ok());
            break;
        }
    }
}

// ---- IPv4 ------------------------------------------------------------------

void fuzz_ipv4(std::span<const std::uint8_t> bytes, bool quoted) {
    auto ip = quoted ? Ipv4View::parse_quoted(bytes) : Ipv4View::parse(bytes);
    if (!ip) return;
    const bool ok = ip->header_checksum_ok();
    sink(ip->version() + ip->header_len() + ip->dscp() + ip->ecn() + ip->total_length() + ip->identification() +
         ip->reserved_flag() + ip->dont_fragment() + ip->more_fragments() + ip->fragment_offset() + ip->is_fragment() +
         ip->ttl() + ip->protocol() + ip->header_checksum() + ip->source().value + ip->destination().value +
         ip->has_router_alert() + ip->is_complete() + ok);
    require(ip->version() == 4 && ip->header_len() >= kIpv4MinHeaderLen);
    require(ip->header_len() <= ip->packet().size() && ip->packet().size() <= ip->total_length());
    require(quoted || ip->is_complete());
    require_inside(ip->packet(), bytes);
    require_inside(ip->options(), ip->header());
    walk_options(ip->option_list(), ip->options());

    // Round trip through the value type over the same payload.
    const Ipv4Header h = Ipv4Header::from_view(*ip);
    require(h.header_len() == ip->header_len() && h.total_length() == ip->total_length());
    std::vector<std::uint8_t> copy(ip->packet().begin(), ip->packet().end());
    require(h.emit(copy).ok());
    auto again = Ipv4View::parse_quoted(copy);
    require(again.ok() && Ipv4Header::from_view(*again) == h && again->header_checksum_ok());

    // In-place rewrites keep a valid header checksum valid.
    auto mut = Ipv4ViewMut::parse_quoted(std::span<std::uint8_t>(copy));
    require(mut.ok());
    mut->set_ttl(static_cast<std::uint8_t>(ip->ttl() - 1));
    mut->set_source(Ipv4Address{~ip->source().value});
    mut->set_destination(kDst);
    require(mut->header_checksum_ok());

    if (quoted || ip->fragment_offset() != 0) return;  // no transport header to look at
    const auto payload = ip->payload();
    switch (ip->protocol()) {
        case kIpProtoIcmp: fuzz_icmp(payload, false); break;
        case kIpProtoIgmp: fuzz_igmp(payload); break;
        case kIpProtoUdp: fuzz_udp(payload, ip->source(), ip->destination()); break;
        case kIpProtoTcp: fuzz_tcp(payload, ip->source(), ip->destination()); break;
        default: break;
    }
}

// ---- ARP and Ethernet --------------------------------------------------------

void fuzz_arp(std::span<const std::uint8_t> bytes) {
    auto arp = ArpView::parse(bytes);
    if (!arp) return;
    sink(arp->hardware_type() + arp->protocol_type() + arp->operation() + arp->sender_mac().bytes[5] +
         arp->sender_ip().value + arp->target_mac().bytes[0] + arp->target_ip().value);
    require(arp->bytes().size() == kArpLen);
    const ArpPacket p = ArpPacket::from_view(*arp);
    std::vector<std::uint8_t> out(kArpLen);
    require(p.emit(out).ok());
    require(std::equal(out.begin(), out.end(), arp->bytes().begin()));
    auto mut = ArpViewMut::parse(out);
    require(mut.ok());
    mut->make_reply(MacAddress::broadcast());
    require(ArpPacket::from_view(*mut) == p.reply(MacAddress::broadcast()));
}

void fuzz_ethernet(std::span<const std::uint8_t> bytes) {
    auto eth = EthernetView::parse(bytes);
    if (!eth) return;
    sink(eth->destination().bytes[0] + eth->source().bytes[5] + eth->vlan_count() + eth->ether_type() +
         eth->header_len());
    for (std::size_t i = 0; i <= kMaxVlanTags; ++i) sink(eth->vlan(i).tci());
    require(eth->vlan_count() <= kMaxVlanTags);
    require_inside(eth->payload(), bytes);
    require(eth->header().size() + eth->payload().size() == bytes.size());

    const EthernetHeader h = EthernetHeader::from_view(*eth);
    std::vector<std::uint8_t> out(h.header_len());
    require(h.emit(out).ok());
    require(std::equal(out.begin(), out.end(), bytes.begin()));
    auto again = EthernetView::parse(out);
    require(again.ok() && EthernetHeader::from_view(*again) == h);

    switch (eth->ether_type()) {
        case kEtherTypeArp: fuzz_arp(eth->payload()); break;
        case kEtherTypeIpv4: fuzz_ipv4(eth->payload(), false); break;
        default: break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    // A copy of exactly size bytes, so ASan flags a read one past the end.
    const std::vector<std::uint8_t> input(data, data + size);
    const std::span<const std::uint8_t> bytes(input);

    fuzz_ethernet(bytes);

    // Every parser straight on the raw bytes as well.
    fuzz_ipv4(bytes, false);
    fuzz_ipv4(bytes, true);
    fuzz_arp(bytes);
    fuzz_icmp(bytes, false);
    fuzz_udp(bytes, kSrc, kDst);
    fuzz_tcp(bytes, kSrc, kDst);
    fuzz_igmp(bytes);
    walk_options(TlvOptionRange(bytes), bytes);
    const TcpOptions o = TcpOptions::decode(bytes);
    require(o.sack_count <= kTcpMaxSackBlocks);
    for (Ipv4Address a : Ipv4AddressList(bytes)) sink(a.value);
    return 0;
}
