#include "port/afpacket/afpacket_port.hpp"

#include <linux/capability.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if_arp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/log.hpp"
#include "port/afpacket/packet_socket.hpp"
#include "port/netdev/netdev.hpp"

// Linux 6.2 (older uapi headers lack it): the fanout group's own hook skips
// frames leaving the interface, as PACKET_IGNORE_OUTGOING does for a single
// socket. Older kernels keep the bit as an opaque group flag and ignore it;
// the receive path skips outgoing frames itself either way.
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif

namespace kbnet::port {
namespace {

using afpacket::PacketSocket;
using afpacket::RingGeometry;
using afpacket::SocketConfig;

constexpr std::uint32_t kEthHeader = 14;
constexpr std::uint32_t kVlanTag = 4;
constexpr std::uint32_t kMacAddresses = 12;  // destination and source, before the EtherType or a tag
// TPACKET_ALIGN without the signed ~ of the uapi macro.
constexpr std::uint32_t tpacket_align(std::size_t x) {
    constexpr std::size_t a = TPACKET_ALIGNMENT;
    return static_cast<std::uint32_t>((x + a - 1) / a * a);
}
// Where transmit data starts in a frame: after the tpacket3_hdr, aligned
// (tpacket_parse_header: tp_hdrlen - sizeof(sockaddr_ll) = TPACKET_ALIGN(48)).
constexpr std::uint32_t kTxDataOffset = tpacket_align(sizeof(tpacket3_hdr));
// Where a received packet's sockaddr_ll sits: right after its aligned
// header (tpacket_rcv: "sll = h.raw + TPACKET_ALIGN(hdrlen)").
constexpr std::uint32_t kRxAddrOffset = tpacket_align(sizeof(tpacket3_hdr));
static_assert(kTxDataOffset == 48);
// The transmit ring holds this many bytes of frames per queue: 1024 frames
// of 2 KiB, about the depth of a NIC's transmit ring, so a burst rarely
// finds it full.
constexpr std::uint32_t kTxRingBytes = 2u << 20;
constexpr std::uint32_t kMaxQueues = 64;
// How often flush() reads PACKET_STATISTICS (a syscall, so not on every idle poll).
constexpr std::uint64_t kStatsIntervalNs = 100'000'000;
// Ring memory per queue above which a spec is refused rather than left to
// fail in the kernel with ENOMEM.
constexpr std::uint64_t kMaxRxRingBytes = 1ull << 30;
// Hash fanout: a flow (by the kernel's symmetric flow hash) always goes to
// the same socket. No PACKET_FANOUT_FLAG_DEFRAG: it would hand us
// reassembled datagrams larger than the MTU, and fragments already travel
// together, since the flow hash of a fragment covers only the addresses.
constexpr std::uint16_t kFanout = PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_IGNORE_OUTGOING;

struct Config {
    std::string ifname;
    std::uint16_t queues = 1;
    bool promisc = false;
    RingGeometry rings;
};

// What check_before_open() learnt about the interface.
struct Device {
    int ifindex = 0;
    unsigned mtu = 0;
    // Bytes a frame carrying an 802.1Q tag may have beyond MTU + header:
    // 4 on Ethernet devices, 0 on the others (the kernel allows the extra
    // tag only for ARPHRD_ETHER: packet_extra_vlan_len_allowed).
    std::uint32_t vlan_extra = 0;
};

std::uint32_t page_size() {
    const long p = ::sysconf(_SC_PAGESIZE);
    return p > 0 ? static_cast<std::uint32_t>(p) : 4096u;
}

bool is_pow2(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

std::uint32_t next_pow2(std::uint32_t v) {
    std::uint32_t p = 1;
    while (p < v) p <<= 1;
    return p;
}

Config parse_config(const PortSpec& spec) {
    Config c;
    c.ifname = spec.target;
    c.queues = static_cast<std::uint16_t>(spec.uint_or("queues", 1, 1, kMaxQueues));
    c.promisc = spec.choice_or("promisc", "0", {"0", "1"}) == "1";
    const std::uint32_t page = page_size();
    c.rings.rx_block_size =
        static_cast<std::uint32_t>(spec.uint_or("block", c.rings.rx_block_size, page, std::uint64_t{1} << 26));
    if (!is_pow2(c.rings.rx_block_size)) {
        throw PortError(
            fmt::format("bad port spec '{}': block={} must be a power of two (and at least the {}-byte page)",
                        spec.text, c.rings.rx_block_size, page));
    }
    c.rings.rx_block_count = static_cast<std::uint32_t>(spec.uint_or("blocks", c.rings.rx_block_count, 2, 65536));
    c.rings.rx_timeout_ms = static_cast<std::uint32_t>(spec.uint_or("timeout", c.rings.rx_timeout_ms, 1, 60'000));
    const std::uint64_t rx_bytes = std::uint64_t{c.rings.rx_block_size} * c.rings.rx_block_count;
    if (rx_bytes > kMaxRxRingBytes) {
        throw PortError(fmt::format(
            "bad port spec '{}': block={} times blocks={} is {} MiB of receive ring per queue; "
            "the limit is {} MiB",
            spec.text, c.rings.rx_block_size, c.rings.rx_block_count, rx_bytes >> 20, kMaxRxRingBytes >> 20));
    }
    return c;
}

// One queue: its socket and rings, its slice of the buffer area, and where
// the port is in each ring. Only the thread driving the queue touches it;
// aligned so two queues' hot fields never share a cache line.
struct alignas(kCacheLine) Queue {
    Queue(const SocketConfig& sc, const BufferArea& area, std::uint32_t first_frame, std::uint32_t frames)
        : sock(sc), pool(area, first_frame, frames) {}

    // Receive cursor: block rx_block is ours (TP_STATUS_USER) while rx_left
    // packets of it are still unread, the next one at rx_next.
    std::uint32_t rx_block = 0;
    std::uint32_t rx_left = 0;
    const std::uint8_t* rx_next = nullptr;
    // Transmit: the next frame to fill. The kernel sends in ring order from
    // its own head, which follows ours because we never skip a frame.
    std::uint32_t tx_head = 0;
    std::uint64_t next_stats_ns = 0;
    PacketSocket sock;
    FramePool pool;
};

class AfpacketPort final : public Port {
  public:
    AfpacketPort(const PortSpec& spec, const Config& cfg, const PortOptions& options, const Device& dev);

    std::string_view kind() const noexcept override { return "afpacket"; }
    Capabilities capabilities() const noexcept override {
        Capabilities c;
        c.rx_queues = c.tx_queues = queue_count();
        c.zero_copy = false;
        // The MTU and the Ethernet header, plus a VLAN tag on an Ethernet
        // device: the largest frame the kernel sends, and the largest this
        // port delivers with its tag put back.
        c.max_frame = tx_max_len_ + vlan_extra_;
        return c;
    }
    const BufferArea& area() const noexcept override { return area_; }

    std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    void flush(std::uint16_t queue) noexcept override;

  private:
    bool open_next_block(Queue& q) noexcept;
    void next_packet(Queue& q) noexcept;
    [[nodiscard]] bool copy_in(const tpacket3_hdr& hdr, const std::uint8_t* frame, PacketHandle& h) const noexcept;

    std::string ifname_;
    std::uint32_t tx_mask_ = 0;
    std::uint32_t tx_max_len_ = 0;  // MTU + Ethernet header
    std::uint32_t vlan_extra_ = 0;  // what a frame with an 802.1Q tag may have on top (Device::vlan_extra)
    // Destroyed in reverse: the sockets (and their rings) first, then the
    // memory their pools index.
    BufferArea area_;
    std::vector<std::unique_ptr<Queue>> queues_;
};

BufferAreaConfig area_config(const Config& cfg, const PortOptions& options) {
    BufferAreaConfig a = options.area;
    const std::uint64_t total = std::uint64_t{a.frame_count} * cfg.queues;
    if (a.frame_count < 64) {
        throw PortError(
            fmt::format("afpacket:{}: {} frames per queue is too few; use at least 64", cfg.ifname, a.frame_count));
    }
    if (total > (1u << 24)) {
        throw PortError(
            fmt::format("afpacket:{}: {} frames per queue on {} queues is more than a buffer area holds; "
                        "lower queues or the frame count",
                        cfg.ifname, a.frame_count, cfg.queues));
    }
    a.frame_count = static_cast<std::uint32_t>(total);
    return a;
}

AfpacketPort::AfpacketPort(const PortSpec& spec, const Config& cfg, const PortOptions& options, const Device& dev)
    : Port(spec.text, cfg.queues), ifname_(cfg.ifname), area_(area_config(cfg, options)) {
    RingGeometry rings = cfg.rings;
    // A transmit frame holds its header and the largest frame the kernel
    // accepts (MTU + Ethernet header + one VLAN tag: tpacket_snd's size_max).
    rings.tx_frame_size = std::max<std::uint32_t>(2048, next_pow2(kTxDataOffset + dev.mtu + kEthHeader + kVlanTag));
    rings.tx_frame_count = std::max<std::uint32_t>(64, kTxRingBytes / rings.tx_frame_size);
    tx_mask_ = rings.tx_frame_count - 1;
    tx_max_len_ = dev.mtu + kEthHeader;
    vlan_extra_ = dev.vlan_extra;

    const std::uint32_t per_queue = options.area.frame_count;
    for (std::uint16_t q = 0; q < cfg.queues; ++q) {
        SocketConfig sc;
        sc.what =
            cfg.queues > 1 ? fmt::format("afpacket:{} queue {}", ifname_, q) : fmt::format("afpacket:{}", ifname_);
        sc.ifindex = dev.ifindex;
        sc.rings = rings;
        sc.hold_traffic = cfg.queues > 1;
        queues_.push_back(std::make_unique<Queue>(sc, area_, q * per_queue, per_queue));
    }
    std::uint16_t group = 0;
    if (cfg.queues > 1) {
        group = queues_[0]->sock.create_fanout_group(kFanout);
        for (std::size_t q = 1; q < queues_.size(); ++q) queues_[q]->sock.join_fanout_group(group, kFanout);
        for (auto& q : queues_) q->sock.open_for_traffic();
    }
    // Once per port: the device counts promiscuity requests, and the
    // socket's close drops ours.
    if (cfg.promisc) queues_[0]->sock.enable_promiscuous();

    const RingGeometry& g = rings;
    KBNET_LOG_INFO(
        "afpacket {}: ready, {} queue(s){}; per queue: rx ring {} blocks of {} KiB handed over when full or after {} "
        "ms, tx ring {} frames of {} bytes, {} buffer frames of {} bytes (copy mode){}",
        ifname_, cfg.queues, cfg.queues > 1 ? fmt::format(" in hash fanout group {}", group) : std::string(),
        g.rx_block_count, g.rx_block_size >> 10, g.rx_timeout_ms, g.tx_frame_count, g.tx_frame_size, per_queue,
        area_.frame_size(), cfg.promisc ? ", promiscuous" : "");
}

// Takes the next block if the kernel has handed it over. False if not.
bool AfpacketPort::open_next_block(Queue& q) noexcept {
    const RingGeometry& g = q.sock.rings();
    for (std::uint32_t tries = 0; tries < g.rx_block_count; ++tries) {
        tpacket_block_desc* b = q.sock.rx_block(q.rx_block);
        // Acquire pairs with the kernel's smp_wmb() before it sets
        // TP_STATUS_USER (prb_close_block, prb_flush_block): once we see the
        // status, the packets and headers it wrote are visible too, and
        // none of our reads below can move before this load.
        const std::uint32_t status = __atomic_load_n(&b->hdr.bh1.block_status, __ATOMIC_ACQUIRE);
        if ((status & TP_STATUS_USER) == 0) return false;
        const std::uint32_t n = b->hdr.bh1.num_pkts;
        if (KBNET_LIKELY(n > 0)) {
            q.rx_left = n;
            q.rx_next = reinterpret_cast<const std::uint8_t*>(b) + b->hdr.bh1.offset_to_first_pkt;
            return true;
        }
        // An empty block (the kernel does not retire those, but it costs
        // nothing to be sure): give it straight back and look at the next.
        __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
        q.rx_block = q.rx_block + 1 == g.rx_block_count ? 0 : q.rx_block + 1;
    }
    return false;
}

// Moves past the packet at rx_next; after the block's last one, gives the
// block back to the kernel at once, so the ring never waits on a burst
// boundary of ours.
void AfpacketPort::next_packet(Queue& q) noexcept {
    const auto* hdr = reinterpret_cast<const tpacket3_hdr*>(q.rx_next);
    q.rx_next += hdr->tp_next_offset;
    if (--q.rx_left > 0) return;
    tpacket_block_desc* b = q.sock.rx_block(q.rx_block);
    // Release: every read of this block's packets (the copies above) happens
    // before the kernel can see it free and write new packets into it
    // (packet_mmap.rst: "once the packet is read the user must zero the
    // status field, so the kernel can use again that frame buffer").
    __atomic_store_n(&b->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    q.rx_block = q.rx_block + 1 == q.sock.rings().rx_block_count ? 0 : q.rx_block + 1;
}

// Copies one received frame into h's buffer frame. The kernel removes a
// VLAN tag into the packet's metadata before packet sockets see the frame
// (__netif_receive_skb_core: skb_vlan_untag), so it is put back where it
// was, after the two MAC addresses: the caller sees the frame as it was on
// the wire. False if it does not fit (then h is untouched).
bool AfpacketPort::copy_in(const tpacket3_hdr& hdr, const std::uint8_t* frame, PacketHandle& h) const noexcept {
    const std::uint32_t snap = hdr.tp_snaplen;
    const bool tagged = (hdr.tp_status & TP_STATUS_VLAN_VALID) != 0;
    const std::uint32_t len = snap + (tagged ? kVlanTag : 0);
    // Truncated by the kernel (snaplen < len: larger than a ring block), a
    // GRO/LRO aggregate larger than our frame, or a tag on a frame too short
    // to have MAC addresses: not a frame we can pass on intact.
    if (snap < hdr.tp_len || len > area_.frame_size() - h.offset || (tagged && snap < kMacAddresses)) return false;
    std::uint8_t* dst = area_.data(h);
    if (!tagged) {
        std::memcpy(dst, frame, snap);
    } else {
        const std::uint16_t tpid =
            (hdr.tp_status & TP_STATUS_VLAN_TPID_VALID) != 0 ? hdr.hv1.tp_vlan_tpid : ETH_P_8021Q;
        const auto tci = static_cast<std::uint16_t>(hdr.hv1.tp_vlan_tci);
        const std::uint8_t tag[kVlanTag] = {static_cast<std::uint8_t>(tpid >> 8), static_cast<std::uint8_t>(tpid),
                                            static_cast<std::uint8_t>(tci >> 8), static_cast<std::uint8_t>(tci)};
        std::memcpy(dst, frame, kMacAddresses);
        std::memcpy(dst + kMacAddresses, tag, kVlanTag);
        std::memcpy(dst + kMacAddresses + kVlanTag, frame + kMacAddresses, snap - kMacAddresses);
    }
    h.length = static_cast<std::uint16_t>(len);
    return true;
}

std::uint16_t AfpacketPort::rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    Queue& q = *queues_[queue];
    // Idle polls cost one load: nothing is allocated unless a block is ready.
    if (q.rx_left == 0 && !open_next_block(q)) return 0;
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(out.size(), 0xffff));
    // Fresh handles for the whole burst at once; the unused ones go back.
    const std::uint32_t have = q.pool.alloc_burst(out.first(want));
    QueueCounters& c = counters_of(queue);
    std::uint32_t n = 0;
    std::uint64_t bytes = 0;
    while (n < have) {
        if (q.rx_left == 0 && !open_next_block(q)) break;
        const auto* hdr = reinterpret_cast<const tpacket3_hdr*>(q.rx_next);
        const auto* from = reinterpret_cast<const sockaddr_ll*>(q.rx_next + kRxAddrOffset);
        // Frames leaving the interface reach a fanout group even with
        // PACKET_IGNORE_OUTGOING on its sockets (before Linux 6.2): skip them.
        if (KBNET_LIKELY(from->sll_pkttype != PACKET_OUTGOING)) {
            if (KBNET_LIKELY(copy_in(*hdr, q.rx_next + hdr->tp_mac, out[n]))) {
                bytes += out[n].length;
                ++n;
            } else {
                ++c.rx_dropped;
            }
        }
        next_packet(q);
    }
    if (n < have) q.pool.free(out.subspan(n, have - n));
    c.rx_packets += n;
    c.rx_bytes += bytes;
    return static_cast<std::uint16_t>(n);
}

std::uint16_t AfpacketPort::tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    Queue& q = *queues_[queue];
    QueueCounters& c = counters_of(queue);
    const auto want = static_cast<std::uint32_t>(std::min<std::size_t>(pkts.size(), 0xffff));
    std::uint32_t n = 0;
    std::uint32_t marked = 0;
    std::uint64_t bytes = 0;
    for (; n < want; ++n) {
        const PacketHandle h = pkts[n];
        // Its frame goes back to this queue's pool below: a handle from
        // elsewhere (a caller bug) ends the prefix and stays with the caller.
        if (KBNET_UNLIKELY(!q.pool.owns(h.frame) || !area_.contains(h))) break;
        const std::uint8_t* data = area_.data(h);
        // The kernel's own limits (tpacket_snd): at least an Ethernet
        // header, at most MTU + header, plus 4 if the frame carries an 802.1Q
        // tag. Anything else it would discard (PACKET_LOSS); we do it here so
        // the count is right. Taken (and freed), not refused: retrying cannot help.
        const bool vlan = h.length >= kEthHeader && data[12] == 0x81 && data[13] == 0x00;
        if (KBNET_UNLIKELY(h.length < kEthHeader || h.length > tx_max_len_ + (vlan ? vlan_extra_ : 0))) {
            ++c.tx_dropped;
            continue;
        }
        tpacket3_hdr* slot = q.sock.tx_frame(q.tx_head);
        // Acquire pairs with the kernel's smp_wmb() after it sets the status
        // back to TP_STATUS_AVAILABLE (__packet_set_status in the skb's
        // destructor): the kernel is done reading the frame before we write
        // it. SEND_REQUEST or SENDING: the ring is full up to here.
        const std::uint32_t status = __atomic_load_n(&slot->tp_status, __ATOMIC_ACQUIRE);
        if (status & (TP_STATUS_SEND_REQUEST | TP_STATUS_SENDING)) break;
        std::memcpy(reinterpret_cast<std::uint8_t*>(slot) + kTxDataOffset, data, h.length);
        slot->tp_len = h.length;
        slot->tp_snaplen = h.length;
        slot->tp_next_offset = 0;  // V3 transmit has fixed-size frames only
        // Release: the data and length are visible before the kernel can see
        // the request (it reads the status, then smp_rmb(), then the frame).
        __atomic_store_n(&slot->tp_status, TP_STATUS_SEND_REQUEST, __ATOMIC_RELEASE);
        q.tx_head = (q.tx_head + 1) & tx_mask_;
        ++marked;
        bytes += h.length;
    }
    // Copy semantics: the frames are in the ring now, so the buffers are free.
    if (n > 0) q.pool.free(pkts.first(n));
    // One syscall per burst, not per frame.
    if (marked > 0) q.sock.kick_tx();
    c.tx_packets += marked;
    c.tx_bytes += bytes;
    c.tx_busy += want - n;
    return static_cast<std::uint16_t>(n);
}

std::uint16_t AfpacketPort::alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    return static_cast<std::uint16_t>(
        queues_[queue]->pool.alloc_burst(out.first(std::min<std::size_t>(out.size(), 0xffff))));
}

void AfpacketPort::free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    // Another queue's or port's frame is a caller bug: counted, not trusted.
    counters_of(queue).rx_errors += queues_[queue]->pool.free_owned(pkts);
}

void AfpacketPort::flush(std::uint16_t queue) noexcept {
    Queue& q = *queues_[queue];
    // A kick that stopped early (send buffer or device queue full) leaves
    // frames marked; the newest marked frame still waiting means some are.
    const tpacket3_hdr* last = q.sock.tx_frame((q.tx_head - 1) & tx_mask_);
    if (__atomic_load_n(&last->tp_status, __ATOMIC_ACQUIRE) & TP_STATUS_SEND_REQUEST) q.sock.kick_tx();
    const std::uint64_t now = coarse_now_ns();
    if (now >= q.next_stats_ns) {
        q.next_stats_ns = now + kStatsIntervalNs;
        // Frames the kernel could not put in the ring (it was full): lost
        // before we saw them.
        counters_of(queue).rx_dropped += q.sock.read_drops();
    }
}

Device check_before_open(const Config& cfg, const PortOptions& options) {
    Device dev;
    dev.ifindex = netdev::interface_index(cfg.ifname);
    if (const auto eff = netdev::effective_capabilities(); eff && !netdev::has_capability(*eff, CAP_NET_RAW)) {
        throw PortError(
            fmt::format("afpacket:{} needs root or the capability CAP_NET_RAW, which this process lacks "
                        "(run as root, or setcap cap_net_raw+ep on the binary)",
                        cfg.ifname));
    }
    // Down: the kernel would accept the sockets and deliver nothing until
    // the link comes up, which looks like a hang. An error says why at once.
    const netdev::LinkState link = netdev::link_state(cfg.ifname);
    if (!link.up) {
        throw PortError(fmt::format("afpacket:{}: interface '{}' is down (ip link set dev {} up)", cfg.ifname,
                                    cfg.ifname, cfg.ifname));
    }
    if (!link.carrier) {
        KBNET_LOG_WARN(
            "afpacket {}: '{}' is up but has no carrier (cable, or the veth peer down); frames flow once it has",
            cfg.ifname, cfg.ifname);
    }
    // kbnet frames start with an Ethernet header; a tun device or a
    // WireGuard interface would take them for IP packets.
    const unsigned type = netdev::link_type(cfg.ifname);
    if (type != ARPHRD_ETHER && type != ARPHRD_LOOPBACK) {
        throw PortError(
            fmt::format("afpacket:{}: '{}' is not an Ethernet interface (link type {}, see "
                        "include/uapi/linux/if_arp.h); kbnet ports carry Ethernet frames",
                        cfg.ifname, cfg.ifname, type));
    }
    dev.vlan_extra = type == ARPHRD_ETHER ? kVlanTag : 0;
    const unsigned mtu = dev.mtu = netdev::interface_mtu(cfg.ifname);
    const std::uint32_t frame = options.area.frame_size;
    const std::uint32_t headroom = options.area.headroom;
    const std::uint64_t need = std::uint64_t{mtu} + kEthHeader + kVlanTag;
    if (frame <= headroom || need > frame - headroom) {
        const std::uint32_t max_mtu =
            frame > headroom + kEthHeader + kVlanTag ? frame - headroom - kEthHeader - kVlanTag : 0;
        throw PortError(fmt::format(
            "afpacket:{}: MTU {} does not fit a {}-byte buffer frame with {} bytes of headroom, which carries an "
            "MTU of at most {} (ip link set dev {} mtu {}, or use larger frames)",
            cfg.ifname, mtu, frame, headroom, max_mtu, cfg.ifname, max_mtu));
    }
    return dev;
}

}  // namespace

std::unique_ptr<Port> make_afpacket_port(const PortSpec& spec, const PortOptions& options) {
    const Config cfg = parse_config(spec);
    const Device dev = check_before_open(cfg, options);
    return std::make_unique<AfpacketPort>(spec, cfg, options, dev);
}

}  // namespace kbnet::port
