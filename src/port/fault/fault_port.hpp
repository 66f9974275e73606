// A decorator that injects faults into any port: drops, duplicates,
// reordering, bit corruption and delay, decided by a seeded PRNG so a failing
// run can be replayed exactly (the idea of smoltcp's FaultInjector, applied
// at the Port interface so it fits every backend).
//
//   fault(drop=P,duplicate=P,reorder=P,corrupt=P,delay_us=N,delay=P,seed=N,side=rx|tx|both):INNER-SPEC
//
// Pipeline, per packet, on each faulted side (receive: packets from the
// inner port on their way to the caller; transmit: packets from the caller
// on their way to the inner port):
//   1. drop      with probability `drop`: the frame is freed to the inner port.
//   2. corrupt   with probability `corrupt`: one random bit of one random byte
//                is flipped (empty packets are left alone).
//   3. duplicate with probability `duplicate`: a byte-for-byte copy in a frame
//                allocated from the inner port follows the original; with no
//                free frame the copy is skipped (duplicate_skipped).
//   4. reorder   with probability `reorder`: the packet is held back and
//                released after the next `reorder_distance` packets, or after
//                `reorder_max_hold_ns`, or when the inner port has finished,
//                whichever comes first. One packet is held at a time.
//   5. delay     every packet enters a FIFO line; with probability `delay` it
//                is due `delay_ns` after it entered, otherwise at once. The
//                line releases from its head only, so a packet never passes
//                one that entered before it: delay alone never reorders.
//                A full line drops the packet (delay_overflow), like a
//                drop-tail queue in a link.
// On transmit the line also absorbs the inner port's backpressure: what the
// inner port refuses stays at the head and is retried on the next tx_burst or
// flush, so tx_burst always takes every packet (a full line drops, counted).
//
// Determinism: each queue and direction has its own PRNG stream, derived
// from the seed, so the same input with the same seed and the same readings
// of now_ns gives exactly the same output, on every platform (xoshiro256**,
// seeded through splitmix64; https://prng.di.unimi.it/), and traffic on one
// side never changes the decisions on the other. With the real clock, when a
// delayed packet comes out and whether a held packet's timeout fires depend
// on timing; tests and simulations pass simulated time.
//
// Counters: fault_counters(queue) counts each fault. The port's own
// QueueCounters describe what the caller sees: rx_packets/rx_bytes delivered,
// tx_packets/tx_bytes accepted; rx_dropped/tx_dropped are the inner port's
// plus the packets this port dropped (injected or line overflow); rx_errors
// and tx_busy are the inner port's.
//
// Data path: no allocation, locks or exceptions; the lines and scratch
// arrays are allocated at construction. The clock (now_ns) is read once per
// burst, and only where a delay or a held packet needs it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"

namespace kbnet::port {

// xoshiro256** seeded with splitmix64: small, fast, and the same sequence on
// every platform and standard library (unlike std::*_distribution).
class FaultRng {
  public:
    explicit FaultRng(std::uint64_t seed) noexcept;
    [[nodiscard]] std::uint64_t next() noexcept;
    // True with probability p, for p in [0, 1]: p = 0 never, p = 1 always.
    [[nodiscard]] bool chance(double p) noexcept;
    // Uniform in [0, n) for n > 0 (Lemire's multiply-shift; the bias is
    // under n / 2^64, far below anything a test can see).
    [[nodiscard]] std::uint64_t below(std::uint64_t n) noexcept;

    // The splitmix64 step, exposed so tests can pin the reference values.
    [[nodiscard]] static std::uint64_t splitmix64(std::uint64_t& state) noexcept;

  private:
    std::uint64_t s_[4];
};

enum class FaultSide : std::uint8_t { rx, tx, both };

struct FaultConfig {
    double drop = 0.0;           // probability a packet is dropped
    double duplicate = 0.0;      // probability a packet is duplicated
    double reorder = 0.0;        // probability a packet is held back
    double corrupt = 0.0;        // probability one bit of a packet is flipped
    std::uint64_t delay_ns = 0;  // delay given to a delayed packet
    double delay = 1.0;          // probability a packet is delayed (when delay_ns > 0)
    std::uint64_t seed = 1;
    FaultSide side = FaultSide::rx;
    // A held packet is released after this many later packets...
    std::uint32_t reorder_distance = 1;
    // ...or after this long, so a quiet link does not hold a packet forever.
    std::uint64_t reorder_max_hold_ns = 1'000'000;
    // Line (delay queue) capacity per queue and direction; rounded up to a
    // power of two, at least 64.
    std::uint32_t line_capacity = 4096;
    // Time source in nanoseconds; empty = CLOCK_MONOTONIC. Tests pass
    // simulated time.
    std::function<std::uint64_t()> now_ns;
};

struct FaultCounters {
    std::uint64_t dropped = 0;            // injected drops
    std::uint64_t duplicated = 0;         // copies made
    std::uint64_t duplicate_skipped = 0;  // copies not made: the inner port had no free frame
    std::uint64_t reordered = 0;          // packets held back
    std::uint64_t corrupted = 0;          // packets with a flipped bit
    std::uint64_t delayed = 0;            // packets given the delay
    std::uint64_t delay_overflow = 0;     // packets dropped because the line was full
};

class FaultPort final : public Port {
  public:
    // Setup path: throws PortError for probabilities outside [0, 1], a null
    // inner port or a zero reorder distance. spec defaults to
    // "fault:" + the inner port's spec.
    FaultPort(std::unique_ptr<Port> inner, FaultConfig config, std::string spec = {});
    // Frees every held or delayed frame back to the inner port.
    ~FaultPort() override;

    [[nodiscard]] std::string_view kind() const noexcept override { return "fault"; }
    [[nodiscard]] Capabilities capabilities() const noexcept override { return inner_->capabilities(); }
    [[nodiscard]] const BufferArea& area() const noexcept override { return inner_->area(); }

    [[nodiscard]] std::uint16_t rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept override;
    [[nodiscard]] std::uint16_t tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override;
    [[nodiscard]] std::uint16_t alloc(std::uint16_t queue, std::span<PacketHandle> out) noexcept override {
        return inner_->alloc(queue, out);
    }
    void free(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept override { inner_->free(queue, pkts); }
    // Sends what is due on the transmit line (nothing early), then flushes
    // the inner port.
    void flush(std::uint16_t queue) noexcept override;
    // True when the inner port has finished and nothing is held or delayed.
    [[nodiscard]] bool rx_finished(std::uint16_t queue) const noexcept override;
    // Steering decides what reaches the inner device; faults do not change it.
    [[nodiscard]] Steering* steering() noexcept override { return inner_->steering(); }

    [[nodiscard]] const FaultCounters& fault_counters(std::uint16_t queue = 0) const noexcept {
        return queues_[queue].faults;
    }
    [[nodiscard]] const FaultConfig& config() const noexcept { return config_; }
    [[nodiscard]] Port& inner() noexcept { return *inner_; }
    [[nodiscard]] const Port& inner() const noexcept { return *inner_; }

  private:
    struct Entry {
        PacketHandle handle;
        std::uint64_t due_ns;
    };
    // Fixed-capacity FIFO with monotonic due times (a packet is never due
    // before the one ahead of it).
    struct Line {
        std::unique_ptr<Entry[]> slots;
        std::uint32_t mask = 0;
        std::uint32_t head = 0;  // free-running indices; slot = index & mask
        std::uint32_t tail = 0;
        [[nodiscard]] std::uint32_t size() const noexcept { return tail - head; }
        [[nodiscard]] bool full() const noexcept { return size() == mask + 1; }
        [[nodiscard]] bool empty() const noexcept { return head == tail; }
        [[nodiscard]] const Entry& front() const noexcept { return slots[head & mask]; }
    };
    // One direction of one queue.
    struct Stream {
        explicit Stream(std::uint64_t seed) : rng(seed) {}
        FaultRng rng;
        Line line;
        bool faulted = false;
        bool has_held = false;
        PacketHandle held{};
        std::uint32_t held_left = 0;  // packets still to pass the held one
        std::uint64_t held_since = 0;
        std::uint64_t dropped = 0;  // this port's drops on this side (injected + overflow)
    };
    struct QueueState {
        QueueState(std::uint64_t rx_seed, std::uint64_t tx_seed) : rx(rx_seed), tx(tx_seed) {}
        Stream rx;
        Stream tx;
        FaultCounters faults;
        std::unique_ptr<PacketHandle[]> scratch;  // kScratch handles
    };

    static constexpr std::uint32_t kScratch = 64;
    // Inner bursts one rx_burst may pull when everything pulled is dropped,
    // held or delayed.
    static constexpr std::uint32_t kMaxPulls = 8;

    [[nodiscard]] std::uint64_t now() const noexcept;
    // Steps 1-4 of the pipeline for one packet; survivors go to enter().
    void process(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept;
    // Step 5: onto the line (or dropped if it is full); releases a held
    // packet whose turn has come.
    void enter(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept;
    void push_line(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept;
    void release_held_if_stale(std::uint16_t queue, Stream& s, std::uint64_t now) noexcept;
    // The time for this burst: read only when a delay or a held packet can
    // depend on it; otherwise every packet is due at time 0, i.e. at once.
    [[nodiscard]] std::uint64_t burst_time() const noexcept { return use_clock_ ? now() : 0; }
    // Sends due packets from the head of the transmit line to the inner port
    // until it refuses some or nothing more is due.
    void drain_tx(std::uint16_t queue, Stream& s, std::uint64_t now) noexcept;
    void sync_counters(std::uint16_t queue) noexcept;

    std::unique_ptr<Port> inner_;
    FaultConfig config_;
    bool use_clock_ = false;
    std::vector<QueueState> queues_;
};

// The fault decorator's factory for the registry: spec.options are the fault
// options (drop, duplicate, reorder, corrupt, delay_us, delay, seed, side),
// inner the already opened inner port. Setup path: throws PortError.
[[nodiscard]] std::unique_ptr<Port> make_fault_port(const PortSpec& spec, std::unique_ptr<Port> inner);

}  // namespace kbnet::port
