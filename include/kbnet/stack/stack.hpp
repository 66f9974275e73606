// The stack: one per polling thread, shared-nothing (design.md, decision 5),
// serving one queue of one port with one IPv4 address, in one of the two
// address models of design.md, decision 4:
//  - dedicated: the stack owns the address and answers ARP and ICMP for it
//    itself (memif, pair, pcap, DPDK; or an extra address on AF_XDP);
//  - shared: the stack uses the kernel interface's own address. The kernel
//    keeps ARP and ICMP (the stack answers neither and sends no ICMP
//    errors); next hops come from a netlink mirror of the kernel's routes
//    and neighbours (KernelSource), an unresolved one makes the kernel
//    resolve it while the packet waits in the neighbour queue; every UDP
//    port the stack binds is also held by a kernel socket, and on AF_XDP
//    steered to the stack by a (UDP, port, address) filter while bound.
//
// IGMP (RFC 3376 with v1/v2 compatibility) runs inside the stack: sockets
// joining and leaving groups make it report, queries are answered.
//
//   Stack stack(*port, 0, config);
//   for (;;) {
//       const std::size_t work = stack.poll(TscClock::instance().now_ns());
//       if (work == 0) { /* idle: spin, back off, or sleep until next_event_ns() */ }
//   }
//
// poll(now): rx burst (32) -> Ethernet -> ARP / IPv4 (reassembly) -> ICMP /
// UDP (sockets: callbacks run here, queues fill) -> timers (neighbour
// retries and ageing, ARP announcements, reassembly timeouts) -> tx burst
// of everything queued during the poll and since the last one.
//
// Time is only ever the argument of poll(): nothing inside reads a clock, so
// tests drive the stack with simulated time. Work done outside poll (a send
// from application code between polls) uses the time of the last poll.
//
// Data path (poll, sends, receives): no allocation, no exceptions, no locks,
// no syscalls. Malformed input is dropped and counted in StackCounters, by
// reason. Setup (the constructor) may throw, with a message naming the fix.
//
// Threading: everything, sockets included, belongs to the thread that
// polls. Pin that thread (kbnet/core/cpu.hpp) to a core near the NIC queue.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kbnet/core/packet.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/stack/counters.hpp"
#include "kbnet/stack/igmp.hpp"
#include "kbnet/stack/ipv4_reassembly.hpp"
#include "kbnet/stack/kernel_source.hpp"
#include "kbnet/stack/multicast_groups.hpp"
#include "kbnet/stack/neighbour_table.hpp"
#include "kbnet/stack/stats_segment.hpp"
#include "kbnet/stack/timer_wheel.hpp"
#include "kbnet/stack/token_bucket.hpp"
#include "kbnet/stack/udp_socket.hpp"
#include "kbnet/stack/udp_table.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/icmp.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {

// design.md, decision 4.
enum class AddressMode : std::uint8_t {
    dedicated,  // the stack owns StackConfig::address, answers ARP and ICMP
    shared,     // the kernel interface's address; the kernel keeps ARP and ICMP
};

struct StackConfig {
    // Stack name: the StatsSegment object is kbnet-stack.<pid>.<name>
    // (1..63 of [A-Za-z0-9_.-], unique in the process).
    std::string name = "kbnet";
    // The port spec, for the stats segment's identity only.
    std::string port_spec;
    AddressMode mode = AddressMode::dedicated;
    // Shared mode: the kernel interface whose address, routes and
    // neighbours the stack uses (the one under the port). address,
    // prefix_len and gateway are then taken from the kernel and ignored
    // here; mac must be the interface's.
    std::string interface;
    // Dedicated mode: our address and the connected subnet's prefix length
    // (0 .. 32).
    wire::Ipv4Address address;
    std::uint8_t prefix_len = 24;
    // Next hop for destinations outside the subnet; without one they are
    // dropped and counted in ip.OutNoRoutes.
    std::optional<wire::Ipv4Address> gateway;
    // IP MTU; 0 takes the port's largest frame minus the Ethernet header,
    // capped at 1500 (the Ethernet MTU, RFC 894).
    std::uint32_t mtu = 0;
    // Our MAC address. None: for pair/memif ports (no device address) a
    // locally administered address derived from the IPv4 address,
    // 02:00:a:b:c:d, so two stacks on one link never collide.
    std::optional<wire::MacAddress> mac;
    // Publish counters and sockets in a shared-memory StatsSegment for
    // `kbnet stackdump`. Tests that create many stacks turn it off.
    bool publish_stats = true;

    std::uint32_t max_udp_sockets = 64;
    // Datagrams each socket's receive queue holds before new ones are
    // dropped (and counted in udp.RcvbufErrors and the socket's rx_drops).
    std::uint32_t udp_queue_depth = 256;
    NeighbourConfig neighbours{};
    Ipv4ReassemblyConfig reassembly{};
    // ICMP error rate limit: Linux's icmp_msgs_per_sec and icmp_msgs_burst
    // defaults (RFC 1812 §4.3.2.8 token bucket). Echo replies are not
    // limited (Linux's icmp_ratemask leaves them out too).
    std::uint32_t icmp_error_rate = 1000;
    std::uint32_t icmp_error_burst = 50;
    // RFC 5227 §3 announcements when the stack starts (ANNOUNCE_NUM 2,
    // ANNOUNCE_INTERVAL 2 s).
    bool gratuitous_arp = true;
    // Answer echo requests sent to a broadcast or multicast address. Off, as
    // Linux's icmp_echo_ignore_broadcasts=1 (RFC 1122 §3.2.2.6 allows either).
    bool echo_broadcast = false;
    // RFC 1122 §3.2.1.7: a fixed default TTL, 64 as RFC 1700 recommends.
    std::uint8_t default_ttl = wire::kIpv4DefaultTtl;
    IgmpConfig igmp{};
    // Seeds the random report delays of IGMP (RFC 3376 §5.2: hosts that
    // heard one query must not answer together). 0: derived from the
    // address, which differs between the hosts of a link; tests fix it.
    std::uint64_t random_seed = 0;

    // Sets address and prefix_len from "10.0.0.1/24" (a bare address means
    // /32). Throws std::invalid_argument naming the expected form.
    void set_address(std::string_view cidr);
};

// How an IPv4 datagram was addressed to us.
enum class DestinationKind : std::uint8_t {
    unicast,    // our address
    broadcast,  // 255.255.255.255 or the subnet's directed broadcast
    multicast,  // a group we accept (joined, or 224.0.0.1)
};

// An extra IPv4 protocol served on top of the stack (IGMP next): it gets
// every valid datagram of its protocol addressed to us, reassembled, with
// the header checksum verified. The datagram's bytes are the stack's and
// valid only during the call.
class Ipv4ProtocolHandler {
  public:
    virtual ~Ipv4ProtocolHandler() = default;
    virtual void on_ipv4(const wire::Ipv4View& datagram, DestinationKind kind, std::uint64_t now_ns) noexcept = 0;
};

// One datagram for Stack::send_ipv4.
struct Ipv4SendParams {
    wire::Ipv4Address destination;
    std::uint8_t protocol = 0;
    std::uint8_t ttl = 0;  // 0: the stack's default TTL
    std::uint8_t dscp = 0;
    bool dont_fragment = false;
    // Encoded options (e.g. wire::kIpv4RouterAlertOption for IGMP), at
    // most 40 bytes.
    std::span<const std::uint8_t> options{};
};

class Stack final : private NeighbourOwner, private IgmpOwner, private MulticastMembershipObserver {
  public:
    static constexpr std::size_t kBurst = kDefaultBurst;

    // Setup path: throws std::invalid_argument (config out of range, the
    // message names the field), port::PortError (queue out of range, the
    // port's headroom too small for the headers) or what StatsSegment
    // throws; in shared mode also what KernelTables throws (no such
    // interface), or std::invalid_argument when the interface has no IPv4
    // address or config.mac is unset. The port must outlive the stack.
    Stack(port::Port& port, std::uint16_t queue, const StackConfig& config);
    // Shared mode with the given kernel view (tests pass a fake); ignored
    // (may be null) in dedicated mode.
    Stack(port::Port& port, std::uint16_t queue, const StackConfig& config, std::unique_ptr<KernelSource> kernel);
    // Flushes queued output, then frees every frame the stack still holds.
    // Sockets, datagrams and tx buffers must be gone before the stack.
    ~Stack() override;
    Stack(const Stack&) = delete;
    Stack& operator=(const Stack&) = delete;

    // One round of the loop; returns the work done (frames received plus
    // timers fired plus frames sent), 0 when idle.
    std::size_t poll(std::uint64_t now_ns) noexcept;
    // Hands queued output to the port now (poll does it at its end).
    std::size_t flush() noexcept;

    // ---- native UDP API (udp_socket.hpp)
    [[nodiscard]] Result<UdpSocket> udp_open() noexcept;
    [[nodiscard]] Result<TxBuffer> alloc_tx_buffer() noexcept;

    // ---- hooks for protocols built on the stack (IGMP)
    // Sends payload as one IPv4 datagram (fragmented if larger than the
    // MTU), from our address. Errors as UdpSocket::send.
    [[nodiscard]] Status send_ipv4(const Ipv4SendParams& params, std::span<const std::uint8_t> payload) noexcept;
    // Receives datagrams of protocol (not ICMP or UDP, which the stack
    // serves); nullptr removes. The handler must outlive the stack or be
    // removed.
    void set_protocol_handler(std::uint8_t protocol, Ipv4ProtocolHandler* handler) noexcept;
    // The groups joined by sockets.
    [[nodiscard]] const MulticastGroups& multicast_groups() const noexcept { return groups_; }
    // Told of each group's first join and last leave, after IGMP (the stack
    // is the groups' own observer); nullptr removes. Must outlive the stack
    // or be removed.
    void set_membership_observer(MulticastMembershipObserver* observer) noexcept { membership_observer_ = observer; }
    [[nodiscard]] const IgmpHost& igmp() const noexcept { return *igmp_; }
    // True for a group whose datagrams the stack accepts.
    [[nodiscard]] bool accepts_multicast(wire::Ipv4Address group) const noexcept { return groups_.contains(group); }

    // ---- state, for tools and tests
    [[nodiscard]] const StackConfig& config() const noexcept { return config_; }
    [[nodiscard]] wire::Ipv4Address address() const noexcept { return config_.address; }
    [[nodiscard]] AddressMode mode() const noexcept { return config_.mode; }
    [[nodiscard]] bool shared() const noexcept { return config_.mode == AddressMode::shared; }
    // Shared mode's kernel view; nullptr in dedicated mode.
    [[nodiscard]] const KernelSource* kernel() const noexcept { return kernel_.get(); }
    [[nodiscard]] const wire::MacAddress& mac() const noexcept { return mac_; }
    [[nodiscard]] std::uint32_t mtu() const noexcept { return mtu_; }
    [[nodiscard]] StackCounters& counters() noexcept { return *counters_; }
    [[nodiscard]] const StackCounters& counters() const noexcept { return *counters_; }
    [[nodiscard]] NeighbourTable& neighbours() noexcept { return neighbours_; }
    [[nodiscard]] const Ipv4Reassembler& reassembler() const noexcept { return reassembler_; }
    [[nodiscard]] const TimerWheel& timers() const noexcept { return wheel_; }
    [[nodiscard]] StatsSegment* stats_segment() noexcept { return stats_ ? &*stats_ : nullptr; }
    [[nodiscard]] port::Port& port() noexcept { return port_; }
    [[nodiscard]] std::uint16_t queue() const noexcept { return queue_; }
    // The earliest time a timer wants poll(): a loop may sleep until then
    // when the port is idle.
    [[nodiscard]] std::uint64_t next_event_ns() const noexcept;
    [[nodiscard]] std::uint64_t now_ns() const noexcept { return now_ns_; }

  private:
    friend class UdpSocket;
    friend class UdpDatagram;
    friend class TxBuffer;

    // Where an outgoing datagram goes on the link.
    struct NextHop {
        bool resolve = false;  // resolve ip through the neighbour table
        wire::Ipv4Address ip;  // the neighbour to resolve
        wire::MacAddress mac;  // known: broadcast or a multicast mapping
    };

    // stack.cpp: the loop, Ethernet, transmission
    void start(std::uint64_t now_ns) noexcept;
    void ethernet_input(PacketHandle frame) noexcept;
    void transmit(PacketHandle frame) noexcept;
    void free_frame(PacketHandle frame) noexcept { port_.free(queue_, std::span<const PacketHandle>(&frame, 1)); }
    [[nodiscard]] bool alloc_frame(PacketHandle& out) noexcept;
    void release_storage(const DatagramStorage& storage) noexcept;
    [[nodiscard]] bool prepend_ethernet(PacketHandle& frame, const wire::MacAddress& destination,
                                        std::uint16_t ether_type) noexcept;
    void sync_counters() noexcept;

    // arp_input.cpp
    void arp_input(PacketHandle frame, wire::EthernetViewMut ethernet) noexcept;
    void send_arp(std::uint16_t operation, wire::Ipv4Address target_ip, const wire::MacAddress& target_mac,
                  const wire::MacAddress& destination) noexcept;
    static void on_announce_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;
    void send_arp_request(wire::Ipv4Address target, const wire::MacAddress& destination) noexcept override;
    void transmit_resolved(PacketHandle packet, wire::Ipv4Address next_hop,
                           const wire::MacAddress& mac) noexcept override;
    void release_unresolved(PacketHandle packet) noexcept override;

    // ipv4_input.cpp
    void ipv4_input(PacketHandle frame, wire::EthernetViewMut ethernet) noexcept;
    void ipv4_deliver(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept;
    [[nodiscard]] std::optional<DestinationKind> classify_destination(wire::Ipv4Address dst) const noexcept;
    [[nodiscard]] bool is_broadcast(wire::Ipv4Address a) const noexcept;
    void expire_reassembly(std::uint64_t now_ns) noexcept;

    // igmp_glue.cpp: IgmpHost's owner and the groups' observer
    void send_igmp(wire::Ipv4Address ip_destination, std::span<const std::uint8_t> igmp_message) noexcept override;
    std::uint32_t random() noexcept override;
    [[nodiscard]] Status on_first_join(wire::Ipv4Address group) noexcept override;
    void on_last_leave(wire::Ipv4Address group) noexcept override;
    // What the stack itself undoes at a last leave (or a refused first join).
    void on_last_leave_local(wire::Ipv4Address group) noexcept;
    void igmp_input(const wire::Ipv4View& datagram) noexcept;

    // shared_mode.cpp: the kernel beside a shared-mode stack
    void kernel_poll() noexcept;
    [[nodiscard]] Result<NextHop> shared_route(wire::Ipv4Address destination) noexcept;
    [[nodiscard]] Status shared_link_output(PacketHandle packet, wire::Ipv4Address next_hop) noexcept;
    // Binds socket (UdpTable::bind) and, in shared mode, holds the port in
    // the kernel and steers it to the stack. Every bind goes through here.
    [[nodiscard]] Status udp_bind(std::uint32_t socket, wire::Ipv4Address local, std::uint16_t port) noexcept;
    void udp_unbind_port(std::uint16_t port) noexcept;
    // Shared mode: keeps an XDP filter for UDP to group on socket's bound
    // port while any socket on that port takes the group
    // (UdpControlBlock::takes_group); call with the socket joined: after
    // its join (joining) or before its leave (!joining). A no-op elsewhere.
    // Fails (io_error, logged) only when the port refuses a filter it adds.
    [[nodiscard]] Status udp_steer_group(std::uint32_t socket, wire::Ipv4Address group, bool joining) noexcept;
    // Dedicated mode: every packet to address to this stack (or not). Fails
    // (io_error, logged) only when the port refuses to add the filter.
    [[nodiscard]] Status steer_address(wire::Ipv4Address address, bool add) noexcept;

    // ipv4_output.cpp
    [[nodiscard]] Result<NextHop> route(wire::Ipv4Address destination) noexcept;
    // The L4 message is in packet (handle at its first byte, headroom in
    // front); always consumes packet.
    [[nodiscard]] Status ipv4_output(const Ipv4SendParams& params, PacketHandle packet) noexcept;
    // The L4 message is head followed by body, copied into new frames.
    [[nodiscard]] Status ipv4_output_copy(const Ipv4SendParams& params, std::span<const std::uint8_t> head,
                                          std::span<const std::uint8_t> body) noexcept;
    [[nodiscard]] Status link_output(PacketHandle packet, const NextHop& hop) noexcept;
    [[nodiscard]] wire::Ipv4Header make_header(const Ipv4SendParams& params, std::size_t payload_len) noexcept;

    // icmp.cpp
    void icmp_input(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept;
    void icmp_error_input(const wire::IcmpView& icmp, wire::Ipv4Address reporter) noexcept;
    // RFC 1122 §3.2.2 error to the source of original, if the rules allow
    // one and the rate limit has a token. original may be a quote.
    void icmp_send_error(const wire::Ipv4View& original, std::span<const std::uint8_t> quote, DestinationKind kind,
                         std::uint8_t type, std::uint8_t code) noexcept;

    // udp.cpp
    void udp_input(wire::Ipv4ViewMut datagram, const DatagramStorage& storage, DestinationKind kind) noexcept;
    void udp_deliver(std::uint32_t socket, const QueuedDatagram& datagram) noexcept;
    // A broadcast or multicast datagram to every socket that takes it.
    void udp_deliver_all(const QueuedDatagram& datagram) noexcept;
    // IP_MULTICAST_LOOP: a copy of what socket sends to a joined group,
    // delivered at the next poll.
    void udp_loop_back(std::uint32_t socket, std::span<const std::uint8_t> head, std::span<const std::uint8_t> body,
                       wire::Ipv4Address to, std::uint16_t port) noexcept;
    void deliver_looped() noexcept;
    // Takes back the copies udp_loop_back queued after mark (a failed send).
    void udp_withdraw_looped(std::size_t mark) noexcept;
    // Zero copy: the payload is in frame (consumed whatever the outcome).
    [[nodiscard]] Status udp_send_frame(std::uint32_t socket, PacketHandle frame, wire::Ipv4Address to,
                                        std::uint16_t port) noexcept;
    [[nodiscard]] Status udp_send_copy(std::uint32_t socket, std::span<const std::uint8_t> payload,
                                       wire::Ipv4Address to, std::uint16_t port) noexcept;
    void udp_count_send(const Status& st) noexcept;
    [[nodiscard]] Status udp_prepare_send(std::uint32_t socket, wire::Ipv4Address to, std::uint16_t port) noexcept;
    void udp_close(std::uint32_t socket) noexcept;
    void udp_publish(std::uint32_t socket) noexcept;
    [[nodiscard]] UdpDatagram make_datagram(const QueuedDatagram& q) noexcept;

    port::Port& port_;
    std::uint16_t queue_;
    StackConfig config_;
    std::unique_ptr<KernelSource> kernel_;  // shared mode only
    wire::MacAddress mac_;
    std::uint32_t netmask_ = 0;
    std::uint32_t mtu_ = 0;
    std::uint16_t headroom_ = 0;
    std::uint32_t frame_room_ = 0;  // bytes from a fresh handle's offset to the frame's end

    std::optional<StatsSegment> stats_;
    StackCounters local_counters_;
    StackCounters* counters_ = &local_counters_;

    TimerWheel wheel_;
    NeighbourTable neighbours_;
    Ipv4Reassembler reassembler_;
    UdpTable udp_;
    MulticastGroups groups_;
    MulticastMembershipObserver* membership_observer_ = nullptr;
    std::optional<IgmpHost> igmp_;  // made once the counters' home is known
    std::uint64_t random_state_ = 0;
    // Looped-back multicast copies waiting for the next poll (not delivered
    // from inside a send: a callback sending to the group would recurse).
    std::array<QueuedDatagram, kBurst> looped_{};
    std::size_t looped_count_ = 0;
    // Scratch for udp_deliver_all: the sockets a broadcast or multicast
    // datagram goes to, one slot per socket the table can hold.
    std::vector<std::uint32_t> takers_;
    TokenBucket icmp_errors_;
    Timer announce_timer_;
    std::uint8_t announcements_left_ = 0;

    bool started_ = false;
    std::uint64_t now_ns_ = 0;
    std::uint16_t next_ip_id_ = 0;
    std::array<PacketHandle, kBurst> tx_{};
    std::size_t tx_count_ = 0;
    std::size_t tx_sent_ = 0;  // frames handed to the port in this poll
    std::array<Ipv4ProtocolHandler*, 256> handlers_{};

    // Shared mode: next hops resolved through the kernel's tables, cached
    // per destination until the tables' generation changes.
    struct HopCacheEntry {
        std::uint64_t generation = 0;  // 0: empty (KernelTables starts at 1)
        wire::Ipv4Address destination;
        wire::Ipv4Address next_hop;
        wire::MacAddress mac;
    };
    static constexpr std::size_t kHopCacheSize = 64;
    static constexpr std::size_t kMaxPendingResolutions = 16;
    std::array<HopCacheEntry, kHopCacheSize> hop_cache_{};
    std::uint64_t kernel_generation_ = 0;
    std::uint64_t next_kernel_poll_ns_ = 0;
    // Next hops with packets held in neighbours_ until the kernel resolves them.
    std::array<wire::Ipv4Address, kMaxPendingResolutions> pending_{};
    std::size_t pending_count_ = 0;
};

}  // namespace kbnet::stack
