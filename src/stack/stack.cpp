// The stack object: construction, the poll loop, Ethernet input and the
// transmit batch. The protocols are in arp_input.cpp, ipv4_input.cpp,
// ipv4_output.cpp, icmp.cpp and udp.cpp.
#include "kbnet/stack/stack.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "kbnet/core/log.hpp"
#include "kbnet/stack/ipv4_fragmenter.hpp"
#include "kbnet/wire/udp.hpp"

namespace kbnet::stack {
namespace {

// RFC 894: the largest IP datagram an Ethernet frame carries.
constexpr std::uint32_t kEthernetMtu = 1500;
// RFC 5227 §1.1: ANNOUNCE_NUM announcements, ANNOUNCE_INTERVAL apart.
constexpr std::uint8_t kAnnounceNum = 2;
constexpr std::uint64_t kAnnounceIntervalNs = 2'000'000'000;
// The most a UDP datagram can carry over IPv4 (65535 - 20 - 8).
constexpr std::size_t kMaxUdpPayload = 65507;

wire::MacAddress derived_mac(wire::Ipv4Address a) noexcept {
    // 02: the locally administered bit set, unicast (IEEE 802 §8.2.2).
    return {{0x02, 0x00, static_cast<std::uint8_t>(a.value >> 24), static_cast<std::uint8_t>(a.value >> 16),
             static_cast<std::uint8_t>(a.value >> 8), static_cast<std::uint8_t>(a.value)}};
}

std::uint32_t pick_mtu(const StackConfig& config, const port::Port& port, std::uint32_t frame_room) {
    const std::uint32_t max_frame = port.capabilities().max_frame;
    std::uint32_t mtu = config.mtu;
    if (mtu == 0) mtu = std::min<std::uint32_t>(kEthernetMtu, max_frame > 14 ? max_frame - 14 : 0);
    if (mtu < kIpv4MinMtu || mtu + wire::kEthernetHeaderLen > max_frame || mtu > frame_room) {
        throw std::invalid_argument(fmt::format(
            "StackConfig::mtu {} does not fit the port: it must be 68 .. {} (the port's largest frame {} minus the "
            "14-byte Ethernet header, and at most the {} bytes a frame holds after its headroom)",
            mtu, std::min(max_frame > 14 ? max_frame - 14 : 0, frame_room), max_frame, frame_room));
    }
    return mtu;
}

// Shared mode: the address, prefix and default gateway are the kernel's.
StackConfig with_kernel_address(const StackConfig& config, const KernelSource* kernel) {
    if (config.mode != AddressMode::shared) return config;
    if (kernel == nullptr) throw std::invalid_argument("shared mode needs a KernelSource");
    if (!config.mac) {
        throw std::invalid_argument(fmt::format(
            "StackConfig::mac must be set in shared mode: the MAC address of interface '{}' (frames to the kernel's "
            "address carry it)",
            config.interface));
    }
    const auto a = kernel->interface_address();
    if (!a) {
        throw std::invalid_argument(fmt::format(
            "interface '{}' has no IPv4 address for shared mode: add one (ip addr add IP/PREFIX dev {}) or give the "
            "stack its own address (dedicated mode)",
            config.interface, config.interface));
    }
    StackConfig c = config;
    c.address = a->address;
    c.prefix_len = a->prefix_len;
    c.gateway.reset();         // routes come from the kernel
    c.gratuitous_arp = false;  // ARP is the kernel's
    return c;
}

const StackConfig& validated(const StackConfig& c) {
    if (c.address.is_unspecified() || c.address.is_multicast() || c.address.is_broadcast() || c.address.is_loopback()) {
        throw std::invalid_argument("StackConfig::address must be a unicast address (e.g. 10.0.0.1), not " +
                                    c.address.to_string());
    }
    if (c.prefix_len > 32) throw std::invalid_argument("StackConfig::prefix_len must be 0 .. 32");
    if (c.icmp_error_rate == 0 || c.icmp_error_burst == 0) {
        throw std::invalid_argument("StackConfig::icmp_error_rate and icmp_error_burst must be at least 1");
    }
    if (c.default_ttl == 0)
        throw std::invalid_argument("StackConfig::default_ttl must be 1 .. 255 (RFC 1122 §3.2.1.7)");
    if (c.mac && (c.mac->is_multicast() || c.mac->is_zero())) {
        throw std::invalid_argument("StackConfig::mac must be a unicast, non-zero address");
    }
    return c;
}

}  // namespace

void StackConfig::set_address(std::string_view cidr) {
    const std::size_t slash = cidr.find('/');
    const auto addr = wire::Ipv4Address::parse(cidr.substr(0, slash));
    unsigned prefix = 32;
    bool ok = addr.has_value();
    if (ok && slash != std::string_view::npos) {
        const std::string_view p = cidr.substr(slash + 1);
        const auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
        ok = ec == std::errc{} && end == p.data() + p.size() && !p.empty() && prefix <= 32;
    }
    if (!ok) throw std::invalid_argument(fmt::format("bad address '{}': expected IP/PREFIX, e.g. 10.0.0.1/24", cidr));
    address = *addr;
    prefix_len = static_cast<std::uint8_t>(prefix);
}

namespace {

std::unique_ptr<KernelSource> kernel_source_for(const StackConfig& config) {
    if (config.mode != AddressMode::shared) return nullptr;
    if (config.interface.empty()) {
        throw std::invalid_argument("StackConfig::interface must name the kernel interface in shared mode");
    }
    return make_kernel_source(config.interface, config.max_udp_sockets);
}

std::uint64_t seed_of(const StackConfig& c) noexcept {
    // splitmix64's increment: any odd constant mixes the address in.
    return c.random_seed != 0 ? c.random_seed
                              : (std::uint64_t{c.address.value} << 32 | c.address.value) ^ 0x9e3779b97f4a7c15ull;
}

}  // namespace

Stack::Stack(port::Port& port, std::uint16_t queue, const StackConfig& config)
    : Stack(port, queue, config, kernel_source_for(config)) {}

Stack::Stack(port::Port& port, std::uint16_t queue, const StackConfig& config, std::unique_ptr<KernelSource> kernel)
    : port_(port),
      queue_(queue),
      config_(validated(with_kernel_address(config, kernel.get()))),
      kernel_(config.mode == AddressMode::shared ? std::move(kernel) : nullptr),
      mac_(config_.mac.value_or(derived_mac(config_.address))),
      netmask_(config_.prefix_len == 0 ? 0 : ~0u << (32 - config_.prefix_len)),
      headroom_(port.area().headroom()),
      frame_room_(port.area().frame_size() - port.area().headroom()),
      neighbours_(config.neighbours, *this, wheel_),
      reassembler_(config.reassembly),
      udp_(config.max_udp_sockets, config.udp_queue_depth),
      random_state_(seed_of(config_)),
      icmp_errors_(config.icmp_error_rate, config.icmp_error_burst) {
    if (queue >= port.queue_count()) {
        throw port::PortError(fmt::format("stack {}: queue {} does not exist; port {} has {} queue(s)", config.name,
                                          queue, port.spec(), port.queue_count()));
    }
    // Room in front of a fresh buffer for Ethernet, the largest IPv4
    // header and UDP, so no send ever has to move its payload.
    constexpr std::size_t kHeaders = wire::kEthernetHeaderLen + wire::kIpv4MaxHeaderLen + wire::kUdpHeaderLen;
    if (headroom_ < kHeaders) {
        throw port::PortError(
            fmt::format("stack {}: the port's buffers have {} bytes of headroom, the stack needs {} "
                        "(raise BufferAreaConfig::headroom)",
                        config.name, headroom_, kHeaders));
    }
    mtu_ = pick_mtu(config_, port_, frame_room_);
    takers_.resize(udp_.capacity());
    announce_timer_.set_callback(&Stack::on_announce_timer, this);
    if (config_.publish_stats) {
        StackIdentity identity;
        identity.name = config_.name;
        identity.port = config_.port_spec.empty() ? port_.spec() : config_.port_spec;
        identity.mode = shared() ? "shared" : "dedicated";
        identity.addresses = fmt::format("{}/{}", config_.address.to_string(), config_.prefix_len);
        stats_.emplace(identity);
        counters_ = &stats_->counters();
    }
    // IGMP counts into the published counters, so it is made once they
    // have their home.
    igmp_.emplace(static_cast<IgmpOwner&>(*this), wheel_, config_.igmp, counters_->igmp);
    groups_.set_observer(this);
    if (kernel_) kernel_generation_ = kernel_->generation();
    KBNET_LOG_INFO("stack {}: {}/{} mac {} mtu {} on {} queue {} ({} address)", config_.name,
                   config_.address.to_string(), config_.prefix_len, mac_.to_string(), mtu_, port_.spec(), queue_,
                   shared() ? "shared" : "dedicated");
}

Stack::~Stack() {
    for (std::uint32_t i = 0; i < udp_.capacity(); ++i) {
        if (udp_.at(i).in_use) udp_close(i);
    }
    for (std::size_t i = 0; i < looped_count_; ++i) release_storage(looped_[i].storage);
    looped_count_ = 0;
    groups_.set_observer(nullptr);
    flush();
}

std::uint64_t Stack::next_event_ns() const noexcept {
    return std::min(wheel_.next_event_ns(), reassembler_.next_expiry_ns());
}

void Stack::start(std::uint64_t now_ns) noexcept {
    started_ = true;
    if (!config_.gratuitous_arp) return;
    // RFC 5227 §2.3: announce the address we now use, so neighbours that
    // cached an older owner's MAC update it; §3 gives the packet: a request
    // whose sender and target protocol addresses are both ours.
    send_arp(wire::kArpOpRequest, config_.address, wire::MacAddress{}, wire::MacAddress::broadcast());
    announcements_left_ = kAnnounceNum - 1;
    wheel_.schedule(announce_timer_, now_ns + kAnnounceIntervalNs);
}

std::size_t Stack::poll(std::uint64_t now_ns) noexcept {
    if (now_ns > now_ns_) now_ns_ = now_ns;
    tx_sent_ = 0;
    if (!started_) start(now_ns_);

    // Shared mode: follow the kernel's tables about once a millisecond (a
    // batched, non-blocking netlink read; one comparison otherwise).
    if (kernel_ && now_ns_ >= next_kernel_poll_ns_) kernel_poll();
    std::size_t looped = looped_count_;
    if (looped_count_ > 0) deliver_looped();

    std::array<PacketHandle, kBurst> rx;
    const std::uint16_t n = port_.rx_burst(queue_, rx);
    for (std::uint16_t i = 0; i < n; ++i) ethernet_input(rx[i]);

    std::size_t work = n + looped;
    work += wheel_.advance(now_ns_);
    if (now_ns_ >= reassembler_.next_expiry_ns()) expire_reassembly(now_ns_);

    flush();
    sync_counters();
    return work + tx_sent_;
}

std::size_t Stack::flush() noexcept {
    if (tx_count_ == 0) return 0;
    const std::uint16_t sent = port_.tx_burst(queue_, std::span<const PacketHandle>(tx_.data(), tx_count_));
    StackCounters& c = *counters_;
    for (std::size_t i = 0; i < sent; ++i) {
        ++c.link.tx_frames;
        c.link.tx_bytes += tx_[i].length;
    }
    if (sent < tx_count_) {
        // The port's ring is full: drop rather than hold, so a stalled port
        // cannot make the stack run out of frames.
        c.link.tx_port_full += tx_count_ - sent;
        port_.free(queue_, std::span<const PacketHandle>(tx_.data() + sent, tx_count_ - sent));
    }
    tx_count_ = 0;
    tx_sent_ += sent;
    return sent;
}

void Stack::transmit(PacketHandle frame) noexcept {
    // IEEE 802.3 §4.4.2: frames are at least 60 bytes before the FCS. NICs
    // pad short frames themselves, but memif and pair peers do not.
    if (frame.length < wire::kEthernetMinFrameLen) {
        const std::uint32_t pad = wire::kEthernetMinFrameLen - frame.length;
        const std::uint16_t old_len = frame.length;
        if (port_.area().append(frame, pad)) std::memset(port_.area().data(frame) + old_len, 0, pad);
    }
    if (tx_count_ == tx_.size()) flush();
    tx_[tx_count_++] = frame;
}

bool Stack::alloc_frame(PacketHandle& out) noexcept {
    if (port_.alloc(queue_, std::span<PacketHandle>(&out, 1)) == 1) return true;
    ++counters_->link.tx_no_buffer;
    return false;
}

void Stack::release_storage(const DatagramStorage& storage) noexcept {
    switch (storage.kind) {
        case DatagramStorage::Kind::frame: free_frame(storage.frame); break;
        case DatagramStorage::Kind::reassembly: reassembler_.release(storage.buffer); break;
        case DatagramStorage::Kind::none: break;
    }
}

bool Stack::prepend_ethernet(PacketHandle& frame, const wire::MacAddress& destination,
                             std::uint16_t ether_type) noexcept {
    if (!frame.prepend(static_cast<std::uint16_t>(wire::kEthernetHeaderLen))) return false;
    wire::EthernetHeader eth;
    eth.destination = destination;
    eth.source = mac_;
    eth.ether_type = ether_type;
    return eth.emit(port_.area().bytes(frame)).ok();
}

void Stack::ethernet_input(PacketHandle frame) noexcept {
    StackCounters& c = *counters_;
    ++c.link.rx_frames;
    c.link.rx_bytes += frame.length;
    if (!port_.area().contains(frame)) {
        // A handle the port should never have given us; not ours to free.
        ++c.link.rx_too_short;
        return;
    }
    auto eth = wire::EthernetViewMut::parse(port_.area().bytes(frame));
    if (!eth) {
        if (eth.code() == Errc::unsupported) {
            ++c.link.rx_vlan;  // more than two tags
        } else {
            ++c.link.rx_too_short;
        }
        free_frame(frame);
        return;
    }
    if (eth->vlan_count() != 0) {
        // The stack serves untagged frames; a VLAN is a port of its own.
        ++c.link.rx_vlan;
        free_frame(frame);
        return;
    }
    const wire::MacAddress dst = eth->destination();
    if (dst != mac_ && !dst.is_broadcast() && !groups_.accepts_mac(dst)) {
        ++c.link.rx_not_for_us;
        free_frame(frame);
        return;
    }
    switch (eth->ether_type()) {
        case wire::kEtherTypeArp: arp_input(frame, *eth); return;
        case wire::kEtherTypeIpv4: ipv4_input(frame, *eth); return;
        default:
            ++c.link.rx_unknown_ethertype;
            free_frame(frame);
            return;
    }
}

void Stack::sync_counters() noexcept {
    // The neighbour table and the reassembler keep their own counters;
    // mirror the ones StackCounters publishes (plain stores, once a poll).
    StackCounters& c = *counters_;
    const NeighbourCounters& n = neighbours_.counters();
    c.arp.unresolved_drops = n.unresolved_drops + n.negative_hits + n.table_full;
    c.arp.queue_overflows = n.queue_overflow_drops;
    const Ipv4ReassemblyCounters& r = reassembler_.counters();
    c.ip.reasm_reqds = r.reasm_reqds;
    c.ip.reasm_oks = r.reasm_oks;
    c.ip.reasm_fails = r.reasm_fails;
}

Result<UdpSocket> Stack::udp_open() noexcept {
    auto index = udp_.open();
    if (!index) return index.error();
    return UdpSocket(this, *index);
}

Result<TxBuffer> Stack::alloc_tx_buffer() noexcept {
    PacketHandle frame;
    if (!alloc_frame(frame)) {
        ++counters_->udp.sndbuf_errors;
        return Error{Errc::no_buffers, "no free transmit frame in the port's pool"};
    }
    TxBuffer buffer;
    buffer.stack_ = this;
    buffer.frame_ = frame;
    buffer.room_ =
        std::span<std::uint8_t>(port_.area().data(frame), std::min<std::size_t>(frame_room_, kMaxUdpPayload));
    return buffer;
}

Status Stack::send_ipv4(const Ipv4SendParams& params, std::span<const std::uint8_t> payload) noexcept {
    return ipv4_output_copy(params, {}, payload);
}

void Stack::set_protocol_handler(std::uint8_t protocol, Ipv4ProtocolHandler* handler) noexcept {
    handlers_[protocol] = handler;
}

}  // namespace kbnet::stack
