// The stack's per-layer counters, in the style of `netstat -s` and
// /proc/net/snmp (RFC 1213 / RFC 4293 names where one exists).
//
// Written only by the stack's own polling thread, in place, as plain
// integers: an increment is one `add` to memory the thread already owns, no
// atomic, no lock, no call (design.md, decision 8). The struct normally lives
// inside the stack's shared-memory statistics segment (stats_segment.hpp), so
// `kbnet stackdump` reads the very words the stack increments.
//
// Every field is a std::uint64_t and every layer struct holds nothing else,
// so StackCounters is an array of words in disguise: kCounterTable names each
// word by (layer, counter, offset), and a reader walks the table to print or
// JSON-encode all of them without knowing the struct. Adding a counter means
// adding the field AND its table row; the static_assert below and
// tests/unit/stack/counters_test.cpp fail until both are there.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace kbnet::stack {

// Ethernet: what came off and went onto the port.
struct LinkCounters {
    std::uint64_t rx_frames = 0;
    std::uint64_t tx_frames = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_bytes = 0;
    std::uint64_t rx_too_short = 0;          // shorter than an Ethernet header
    std::uint64_t rx_unknown_ethertype = 0;  // neither IPv4 nor ARP
    std::uint64_t rx_not_for_us = 0;         // destination MAC neither ours, broadcast nor a joined group
    std::uint64_t rx_vlan = 0;               // 802.1Q tagged: the stack serves untagged ports only
    std::uint64_t tx_no_buffer = 0;          // no free frame to build into
    std::uint64_t tx_port_full = 0;          // the port's tx ring refused the frame
};

struct ArpCounters {
    std::uint64_t in_requests = 0;
    std::uint64_t in_replies = 0;
    std::uint64_t out_requests = 0;
    std::uint64_t out_replies = 0;
    std::uint64_t in_malformed = 0;      // too short, or lengths that disagree with the types
    std::uint64_t in_bad_type = 0;       // hardware type not Ethernet or protocol type not IPv4
    std::uint64_t in_not_for_us = 0;     // target address not ours (normal on a shared LAN)
    std::uint64_t unresolved_drops = 0;  // packets dropped because a neighbour never answered
    std::uint64_t queue_overflows = 0;   // packets dropped because the wait-for-resolution queue was full
};

// RFC 4293 ipSystemStats names. InHdrErrors is split by reason, so a person
// can tell a checksum-corrupting link from a peer sending odd headers; the
// RFC's single figure is IpCounters::in_hdr_errors().
struct IpCounters {
    std::uint64_t in_receives = 0;
    std::uint64_t in_hdr_errors_version = 0;
    std::uint64_t in_hdr_errors_ihl = 0;
    std::uint64_t in_hdr_errors_total_length = 0;
    std::uint64_t in_hdr_errors_checksum = 0;
    std::uint64_t in_hdr_errors_ttl = 0;
    std::uint64_t in_addr_errors = 0;
    std::uint64_t in_unknown_protos = 0;
    std::uint64_t in_discards = 0;
    std::uint64_t in_delivers = 0;
    std::uint64_t out_requests = 0;
    std::uint64_t out_no_routes = 0;
    std::uint64_t out_discards = 0;
    std::uint64_t reasm_reqds = 0;
    std::uint64_t reasm_oks = 0;
    std::uint64_t reasm_fails = 0;
    std::uint64_t frag_oks = 0;
    std::uint64_t frag_fails = 0;
    std::uint64_t frag_creates = 0;

    [[nodiscard]] constexpr std::uint64_t in_hdr_errors() const noexcept {
        return in_hdr_errors_version + in_hdr_errors_ihl + in_hdr_errors_total_length + in_hdr_errors_checksum +
               in_hdr_errors_ttl;
    }
};

struct IcmpCounters {
    std::uint64_t in_msgs = 0;
    std::uint64_t in_errors = 0;
    std::uint64_t in_csum_errors = 0;
    std::uint64_t in_echos = 0;
    std::uint64_t in_dest_unreachs = 0;
    std::uint64_t in_time_excds = 0;
    std::uint64_t out_msgs = 0;
    std::uint64_t out_echo_reps = 0;
    std::uint64_t out_dest_unreachs = 0;
    std::uint64_t out_rate_limited = 0;
};

struct UdpCounters {
    std::uint64_t in_datagrams = 0;
    std::uint64_t no_ports = 0;
    std::uint64_t in_errors = 0;
    std::uint64_t in_csum_errors = 0;
    std::uint64_t rcvbuf_errors = 0;
    std::uint64_t out_datagrams = 0;
    std::uint64_t sndbuf_errors = 0;
};

struct IgmpCounters {
    std::uint64_t in_msgs = 0;
    std::uint64_t in_queries = 0;
    std::uint64_t in_reports = 0;
    std::uint64_t in_errors = 0;
    std::uint64_t out_reports = 0;
    std::uint64_t out_leaves = 0;
};

struct StackCounters {
    LinkCounters link;
    ArpCounters arp;
    IpCounters ip;
    IcmpCounters icmp;
    UdpCounters udp;
    IgmpCounters igmp;
};

// One counter as a reader sees it. `layer` is the lower-case key used in
// JSON ("ip"), `name` the SNMP-style name ("InReceives"), `offset` the byte
// offset of its std::uint64_t inside StackCounters.
struct CounterInfo {
    std::string_view layer;
    std::string_view name;
    std::string_view description;  // for the text listing: what one unit of it is
    std::size_t offset;
};

// Every counter, grouped by layer in StackCounters order.
inline constexpr std::array kCounterTable = {
    // Link
    CounterInfo{"link", "RxFrames", "frames received",
                offsetof(StackCounters, link) + offsetof(LinkCounters, rx_frames)},
    CounterInfo{"link", "TxFrames", "frames sent", offsetof(StackCounters, link) + offsetof(LinkCounters, tx_frames)},
    CounterInfo{"link", "RxBytes", "bytes received", offsetof(StackCounters, link) + offsetof(LinkCounters, rx_bytes)},
    CounterInfo{"link", "TxBytes", "bytes sent", offsetof(StackCounters, link) + offsetof(LinkCounters, tx_bytes)},
    CounterInfo{"link", "RxDropTooShort", "frames dropped: shorter than an Ethernet header",
                offsetof(StackCounters, link) + offsetof(LinkCounters, rx_too_short)},
    CounterInfo{"link", "RxDropUnknownEthertype", "frames dropped: EtherType neither IPv4 nor ARP",
                offsetof(StackCounters, link) + offsetof(LinkCounters, rx_unknown_ethertype)},
    CounterInfo{"link", "RxDropNotForUs", "frames dropped: destination MAC not ours",
                offsetof(StackCounters, link) + offsetof(LinkCounters, rx_not_for_us)},
    CounterInfo{"link", "RxDropVlan", "frames dropped: VLAN tagged",
                offsetof(StackCounters, link) + offsetof(LinkCounters, rx_vlan)},
    CounterInfo{"link", "TxDropNoBuffer", "frames not sent: no free buffer",
                offsetof(StackCounters, link) + offsetof(LinkCounters, tx_no_buffer)},
    CounterInfo{"link", "TxDropPortFull", "frames not sent: port tx ring full",
                offsetof(StackCounters, link) + offsetof(LinkCounters, tx_port_full)},
    // Arp
    CounterInfo{"arp", "InRequests", "requests received",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, in_requests)},
    CounterInfo{"arp", "InReplies", "replies received",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, in_replies)},
    CounterInfo{"arp", "OutRequests", "requests sent",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, out_requests)},
    CounterInfo{"arp", "OutReplies", "replies sent", offsetof(StackCounters, arp) + offsetof(ArpCounters, out_replies)},
    CounterInfo{"arp", "InErrorsMalformed", "packets dropped: malformed",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, in_malformed)},
    CounterInfo{"arp", "InErrorsBadType", "packets dropped: hardware type not Ethernet or protocol not IPv4",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, in_bad_type)},
    CounterInfo{"arp", "InNotForUs", "packets ignored: target address not ours",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, in_not_for_us)},
    CounterInfo{"arp", "UnresolvedDrops", "packets dropped: neighbour did not answer",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, unresolved_drops)},
    CounterInfo{"arp", "QueueOverflows", "packets dropped: resolution queue full",
                offsetof(StackCounters, arp) + offsetof(ArpCounters, queue_overflows)},
    // Ip
    CounterInfo{"ip", "InReceives", "datagrams received, errors included",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_receives)},
    CounterInfo{"ip", "InHdrErrorsVersion", "datagrams dropped: version not 4",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_hdr_errors_version)},
    CounterInfo{"ip", "InHdrErrorsIhl", "datagrams dropped: header length below 20 bytes or beyond the packet",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_hdr_errors_ihl)},
    CounterInfo{"ip", "InHdrErrorsTotalLength", "datagrams dropped: total length shorter than header or than frame",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_hdr_errors_total_length)},
    CounterInfo{"ip", "InHdrErrorsChecksum", "datagrams dropped: bad header checksum",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_hdr_errors_checksum)},
    CounterInfo{"ip", "InHdrErrorsTtl", "datagrams dropped: TTL zero",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_hdr_errors_ttl)},
    CounterInfo{"ip", "InAddrErrors", "datagrams dropped: destination not ours",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_addr_errors)},
    CounterInfo{"ip", "InUnknownProtos", "datagrams dropped: unknown protocol",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_unknown_protos)},
    CounterInfo{"ip", "InDiscards", "datagrams dropped for lack of resources",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_discards)},
    CounterInfo{"ip", "InDelivers", "datagrams delivered to ICMP, UDP, TCP or IGMP",
                offsetof(StackCounters, ip) + offsetof(IpCounters, in_delivers)},
    CounterInfo{"ip", "OutRequests", "datagrams handed down for sending",
                offsetof(StackCounters, ip) + offsetof(IpCounters, out_requests)},
    CounterInfo{"ip", "OutNoRoutes", "datagrams dropped: no route",
                offsetof(StackCounters, ip) + offsetof(IpCounters, out_no_routes)},
    CounterInfo{"ip", "OutDiscards", "outgoing datagrams dropped for lack of resources",
                offsetof(StackCounters, ip) + offsetof(IpCounters, out_discards)},
    CounterInfo{"ip", "ReasmReqds", "fragments received needing reassembly",
                offsetof(StackCounters, ip) + offsetof(IpCounters, reasm_reqds)},
    CounterInfo{"ip", "ReasmOKs", "datagrams reassembled",
                offsetof(StackCounters, ip) + offsetof(IpCounters, reasm_oks)},
    CounterInfo{"ip", "ReasmFails", "reassembly failures (timeout, overlap, no memory)",
                offsetof(StackCounters, ip) + offsetof(IpCounters, reasm_fails)},
    CounterInfo{"ip", "FragOKs", "datagrams fragmented", offsetof(StackCounters, ip) + offsetof(IpCounters, frag_oks)},
    CounterInfo{"ip", "FragFails", "datagrams dropped: needed fragmenting, DF set",
                offsetof(StackCounters, ip) + offsetof(IpCounters, frag_fails)},
    CounterInfo{"ip", "FragCreates", "fragments created",
                offsetof(StackCounters, ip) + offsetof(IpCounters, frag_creates)},
    // Icmp
    CounterInfo{"icmp", "InMsgs", "messages received, errors included",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_msgs)},
    CounterInfo{"icmp", "InErrors", "messages dropped: malformed",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_errors)},
    CounterInfo{"icmp", "InCsumErrors", "messages dropped: bad checksum",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_csum_errors)},
    CounterInfo{"icmp", "InEchos", "echo requests received",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_echos)},
    CounterInfo{"icmp", "InDestUnreachs", "destination unreachable received",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_dest_unreachs)},
    CounterInfo{"icmp", "InTimeExcds", "time exceeded received",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, in_time_excds)},
    CounterInfo{"icmp", "OutMsgs", "messages sent", offsetof(StackCounters, icmp) + offsetof(IcmpCounters, out_msgs)},
    CounterInfo{"icmp", "OutEchoReps", "echo replies sent",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, out_echo_reps)},
    CounterInfo{"icmp", "OutDestUnreachs", "destination unreachable sent",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, out_dest_unreachs)},
    CounterInfo{"icmp", "OutRateLimited", "messages not sent: rate limit",
                offsetof(StackCounters, icmp) + offsetof(IcmpCounters, out_rate_limited)},
    // Udp
    CounterInfo{"udp", "InDatagrams", "datagrams delivered to sockets",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, in_datagrams)},
    CounterInfo{"udp", "NoPorts", "datagrams dropped: no socket on the port",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, no_ports)},
    CounterInfo{"udp", "InErrors", "datagrams dropped: malformed, bad checksum or receive buffer full",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, in_errors)},
    CounterInfo{"udp", "InCsumErrors", "datagrams dropped: bad checksum",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, in_csum_errors)},
    CounterInfo{"udp", "RcvbufErrors", "datagrams dropped: receive queue full",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, rcvbuf_errors)},
    CounterInfo{"udp", "OutDatagrams", "datagrams sent",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, out_datagrams)},
    CounterInfo{"udp", "SndbufErrors", "datagrams not sent: no buffer",
                offsetof(StackCounters, udp) + offsetof(UdpCounters, sndbuf_errors)},
    // Igmp
    CounterInfo{"igmp", "InMsgs", "messages received, errors included",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, in_msgs)},
    CounterInfo{"igmp", "InQueries", "membership queries received",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, in_queries)},
    CounterInfo{"igmp", "InReports", "membership reports received",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, in_reports)},
    CounterInfo{"igmp", "InErrors", "messages dropped: malformed or bad checksum",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, in_errors)},
    CounterInfo{"igmp", "OutReports", "membership reports sent",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, out_reports)},
    CounterInfo{"igmp", "OutLeaves", "leave group messages sent",
                offsetof(StackCounters, igmp) + offsetof(IgmpCounters, out_leaves)},
};

// Fails to compile when a field is added without its table row (or a field
// of another type sneaks in). The test checks the offsets are distinct.
static_assert(sizeof(StackCounters) == kCounterTable.size() * sizeof(std::uint64_t),
              "every StackCounters field is a std::uint64_t with one row in kCounterTable");
static_assert(alignof(StackCounters) == alignof(std::uint64_t));

// The layers in table order, with their titles for the text listing.
struct CounterLayer {
    std::string_view key;    // "ip": JSON key, CounterInfo::layer
    std::string_view title;  // "Ip": as /proc/net/snmp and netstat -s print it
};
inline constexpr std::array kCounterLayers = {
    CounterLayer{"link", "Link"}, CounterLayer{"arp", "Arp"}, CounterLayer{"ip", "Ip"},
    CounterLayer{"icmp", "Icmp"}, CounterLayer{"udp", "Udp"}, CounterLayer{"igmp", "Igmp"},
};

// The word a row names. The plain accessors are for the owning thread and
// for copies; another thread reading a live struct uses load_counters.
[[nodiscard]] std::uint64_t& counter_ref(StackCounters& c, const CounterInfo& info) noexcept;
[[nodiscard]] std::uint64_t counter_value(const StackCounters& c, const CounterInfo& info) noexcept;

// The row of (layer key, name), e.g. ("ip", "InReceives"); none if unknown.
[[nodiscard]] std::optional<CounterInfo> find_counter(std::string_view layer, std::string_view name) noexcept;

// A copy of counters that another thread (or process, through shared memory)
// is incrementing. Each word is read with a relaxed std::atomic_ref load:
// on x86-64 and arm64 an aligned 64-bit load is never torn, so each value is
// one the writer really stored, while the writer itself stays plain. The
// copy is not a consistent cut across counters (InReceives may already
// count a datagram InDelivers does not yet): fine for statistics.
[[nodiscard]] StackCounters load_counters(const StackCounters& live) noexcept;

}  // namespace kbnet::stack
