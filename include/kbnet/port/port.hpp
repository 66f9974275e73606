// The Port interface: poll-mode, burst-oriented packet I/O over one buffer
// area, per queue (design.md, decision 1).
//
// Threading: each queue is driven by at most one thread at a time; two
// queues of one port may be driven by two threads. Nothing in the data
// path calls (rx_burst, tx_burst, alloc, free, flush) allocates, locks,
// throws or makes a syscall per packet.
//
// Ownership: a handle returned by rx_burst or alloc belongs to the caller
// until it gives it back with tx_burst (which takes the first n it returns)
// or free. Handles must go back on the queue they came from.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kbnet/core/buffer_area.hpp"
#include "kbnet/core/cache.hpp"
#include "kbnet/core/packet.hpp"

namespace kbnet::port {

// Setup-time failure of a port (bad spec, missing file, no permission). The
// message names the problem and what to do about it.
class PortError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

class Steering;  // kbnet/port/steering.hpp

struct Capabilities {
    std::uint16_t rx_queues = 1;
    std::uint16_t tx_queues = 1;
    bool zero_copy = false;            // rx frames are the device's own buffers, no copy on the way in
    bool rx_checksum_verified = false; // the device verified L3/L4 checksums of received frames
    bool tx_checksum_offload = false;  // the device fills L4 checksums on transmit
    std::uint32_t max_frame = 1514;    // largest frame (without FCS) the port carries
};

// Counters of one queue, written only by the thread that drives the queue
// (plain integers, no atomics on the fast path: design.md, decision 8).
// One cache line each, so two queues' threads never share a line.
struct alignas(kCacheLine) QueueCounters {
    std::uint64_t rx_packets = 0;
    std::uint64_t rx_bytes = 0;
    std::uint64_t tx_packets = 0;
    std::uint64_t tx_bytes = 0;
    std::uint64_t rx_dropped = 0;  // frames lost before the caller saw them (no buffer, injected loss)
    std::uint64_t tx_dropped = 0;  // frames accepted by tx_burst that never left (write error, injected loss)
    std::uint64_t tx_busy = 0;     // frames tx_burst refused because the ring was full (caller kept them)
    std::uint64_t rx_errors = 0;   // malformed input from the device or file

    QueueCounters& operator+=(const QueueCounters& o) noexcept;
};

class Port {
  public:
    virtual ~Port() = default;
    Port(const Port&) = delete;
    Port& operator=(const Port&) = delete;

    // The spec the port was opened with, and its kind ("pcap", "pair").
    [[nodiscard]] const std::string& spec() const noexcept { return spec_; }
    [[nodiscard]] virtual std::string_view kind() const noexcept = 0;
    [[nodiscard]] virtual Capabilities capabilities() const noexcept = 0;
    [[nodiscard]] std::uint16_t queue_count() const noexcept { return static_cast<std::uint16_t>(counters_.size()); }

    // The buffer area the port's handles index into.
    [[nodiscard]] virtual const BufferArea& area() const noexcept = 0;
    [[nodiscard]] std::span<std::uint8_t> bytes(PacketHandle h) const noexcept { return area().bytes(h); }

    // Up to out.size() received packets; the count is returned.
    [[nodiscard]] virtual std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept = 0;
    // Transmits a prefix of pkts, in order, and returns its length; the port
    // owns those handles now. The caller keeps the rest (retry or free).
    [[nodiscard]] virtual std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept = 0;
    // Up to out.size() empty transmit buffers (offset = headroom, length 0).
    [[nodiscard]] virtual std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept = 0;
    // Gives packets back without sending them.
    virtual void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept = 0;

    // Housekeeping that needs no packet (flush buffered output, refill a
    // fill ring, kick a wakeup). Polling loops call it when idle and before
    // they stop; ports that need none ignore it.
    virtual void flush(std::uint16_t /*queue*/) noexcept {}

    // True once the queue will never deliver another packet: a pcap file at
    // its end, a pair whose peer has gone. Live devices never finish.
    [[nodiscard]] virtual bool rx_finished(std::uint16_t /*queue*/) const noexcept { return false; }

    // False while a port that needs a peer has none (a memif port waiting
    // for its server or client): rx_burst returns nothing and tx_burst takes
    // nothing until it comes. Devices and files are always up.
    [[nodiscard]] virtual bool link_up() const noexcept { return true; }

    // Blocks until queue may have packets or timeout_ms passes, for a
    // receiver with nothing to do that would rather sleep than spin. Ports
    // that can wait (memif in mode=interrupt) return true; the others return
    // false at once, and the caller goes on polling.
    [[nodiscard]] virtual bool wait_rx(std::uint16_t /*queue*/, int /*timeout_ms*/) noexcept { return false; }

    // Which received traffic reaches this port, for ports that share their
    // device with the kernel (afxdp); nullptr for the others.
    [[nodiscard]] virtual Steering* steering() noexcept { return nullptr; }

    [[nodiscard]] const QueueCounters& counters(std::uint16_t queue) const noexcept { return counters_[queue]; }
    [[nodiscard]] QueueCounters totals() const noexcept;

  protected:
    Port(std::string spec, std::uint16_t queues) : spec_(std::move(spec)), counters_(queues) {}
    [[nodiscard]] QueueCounters& counters_of(std::uint16_t queue) noexcept { return counters_[queue]; }

  private:
    std::string spec_;
    std::vector<QueueCounters> counters_;
};

// Settings every backend shares; the spec string carries the rest.
struct PortOptions {
    BufferAreaConfig area{};
};

// Opens a port from its spec string ("pcap:in.pcap,out=out.pcap",
// "pair:demo"). Setup path: throws PortError (bad spec, with the grammar;
// unavailable backend; open failure, with the reason and the fix).
[[nodiscard]] std::unique_ptr<Port> open_port(std::string_view spec, const PortOptions& options = {});

}  // namespace kbnet::port
