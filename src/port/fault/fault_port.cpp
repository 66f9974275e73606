#include "port/fault/fault_port.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "kbnet/core/clock.hpp"

namespace kbnet::port {

// ---- PRNG -----------------------------------------------------------------

std::uint64_t FaultRng::splitmix64(std::uint64_t& state) noexcept {
    // Reference: https://prng.di.unimi.it/splitmix64.c
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

FaultRng::FaultRng(std::uint64_t seed) noexcept {
    // splitmix64 spreads any seed (0, 1, 2 ...) over the whole state, as the
    // xoshiro authors recommend; it never yields the all-zero state.
    std::uint64_t st = seed;
    for (std::uint64_t& w : s_) w = splitmix64(st);
}

std::uint64_t FaultRng::next() noexcept {
    // Reference: https://prng.di.unimi.it/xoshiro256starstar.c
    const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = std::rotl(s_[3], 45);
    return result;
}

bool FaultRng::chance(double p) noexcept {
    // Compare the top 53 bits (a double's precision) with p * 2^53 in
    // integers: exact at p = 0 (never) and p = 1 (always), and one draw
    // per call whatever p is, so a decision never shifts the sequence.
    constexpr double kTwo53 = 9007199254740992.0;
    const std::uint64_t draw = next() >> 11;
    const double scaled = p * kTwo53;
    if (!(scaled > 0.0)) return false;
    if (scaled >= kTwo53) return true;
    return draw < static_cast<std::uint64_t>(scaled);
}

std::uint64_t FaultRng::below(std::uint64_t n) noexcept {
    // Multiply-shift on the top 32 bits: uniform enough for n up to 2^32,
    // which covers byte positions of any frame, with no 128-bit arithmetic.
    return ((next() >> 32) * (n & 0xffffffffULL)) >> 32;
}

// ---- FaultPort ----------------------------------------------------------------

namespace {

const Port& require_inner(const std::unique_ptr<Port>& inner) {
    if (!inner) throw PortError("fault port: no inner port to wrap");
    return *inner;
}

void check_probability(const char* name, double p) {
    if (!(p >= 0.0 && p <= 1.0)) {
        throw PortError(fmt::format("fault port: {}={} is not a probability; use a value from 0 to 1", name, p));
    }
}

// A separate, well-mixed seed per queue and direction: streams are
// independent, and queue 0's receive sequence does not change when the port
// gets more queues or when transmit traffic appears.
std::uint64_t stream_seed(std::uint64_t seed, std::uint32_t queue, std::uint32_t direction) noexcept {
    std::uint64_t st = seed ^ (0xd1b54a32d192ed03ULL * (std::uint64_t{queue} * 2 + direction + 1));
    return FaultRng::splitmix64(st);
}

}  // namespace

FaultPort::FaultPort(std::unique_ptr<Port> inner, FaultConfig config, std::string spec)
    : Port(spec.empty() ? "fault:" + require_inner(inner).spec() : std::move(spec), require_inner(inner).queue_count()),
      inner_(std::move(inner)),
      config_(std::move(config)) {
    check_probability("drop", config_.drop);
    check_probability("duplicate", config_.duplicate);
    check_probability("reorder", config_.reorder);
    check_probability("corrupt", config_.corrupt);
    check_probability("delay", config_.delay);
    if (config_.reorder_distance == 0) throw PortError("fault port: reorder_distance must be at least 1");
    if (!config_.now_ns) config_.now_ns = [] { return monotonic_ns(); };
    use_clock_ = config_.delay_ns > 0 || config_.reorder > 0;

    // At least a few bursts' worth so a burst with duplicates fits; at most
    // 2^24 entries (256 MiB of entries per line is far past any use).
    const std::uint32_t capacity = std::bit_ceil(std::clamp<std::uint32_t>(config_.line_capacity, 64, 1u << 24));
    const bool rx_faulted = config_.side != FaultSide::tx;
    const bool tx_faulted = config_.side != FaultSide::rx;

    const std::uint16_t queues = inner_->queue_count();
    queues_.reserve(queues);
    for (std::uint16_t q = 0; q < queues; ++q) {
        QueueState& qs = queues_.emplace_back(stream_seed(config_.seed, q, 0), stream_seed(config_.seed, q, 1));
        for (Stream* s : {&qs.rx, &qs.tx}) {
            s->faulted = s == &qs.rx ? rx_faulted : tx_faulted;
            if (!s->faulted) continue;
            s->line.slots.reset(new Entry[capacity]);
            s->line.mask = capacity - 1;
        }
        qs.scratch.reset(new PacketHandle[kScratch]);
    }
}

FaultPort::~FaultPort() {
    // Held and delayed frames belong to the inner port: give them back
    // before it goes (inner_ is destroyed after this body).
    for (std::uint16_t q = 0; q < queues_.size(); ++q) {
        for (Stream* s : {&queues_[q].rx, &queues_[q].tx}) {
            for (; !s->line.empty(); ++s->line.head) inner_->free(q, {&s->line.front().handle, 1});
            if (s->has_held) inner_->free(q, {&s->held, 1});
            s->has_held = false;
        }
    }
}

std::uint64_t FaultPort::now() const noexcept { return config_.now_ns(); }

void FaultPort::push_line(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept {
    const bool delayed = config_.delay_ns > 0 && s.rng.chance(config_.delay);
    Line& line = s.line;
    if (line.full()) {
        inner_->free(queue, {&h, 1});
        ++queues_[queue].faults.delay_overflow;
        ++s.dropped;
        return;
    }
    std::uint64_t due = delayed ? now + config_.delay_ns : now;
    // FIFO: never due before the packet ahead, so the line's head is always
    // the first packet due and delay alone cannot reorder.
    if (!line.empty()) due = std::max(due, line.slots[(line.tail - 1) & line.mask].due_ns);
    line.slots[line.tail & line.mask] = Entry{h, due};
    ++line.tail;
    if (delayed) ++queues_[queue].faults.delayed;
}

void FaultPort::enter(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept {
    push_line(queue, s, h, now);
    if (s.has_held && --s.held_left == 0) {
        s.has_held = false;
        push_line(queue, s, s.held, now);
    }
}

void FaultPort::release_held_if_stale(std::uint16_t queue, Stream& s, std::uint64_t now) noexcept {
    if (s.has_held && now - s.held_since >= config_.reorder_max_hold_ns) {
        s.has_held = false;
        push_line(queue, s, s.held, now);
    }
}

void FaultPort::process(std::uint16_t queue, Stream& s, PacketHandle h, std::uint64_t now) noexcept {
    FaultCounters& f = queues_[queue].faults;
    if (config_.drop > 0 && s.rng.chance(config_.drop)) {
        inner_->free(queue, {&h, 1});
        ++f.dropped;
        ++s.dropped;
        return;
    }
    if (config_.corrupt > 0 && s.rng.chance(config_.corrupt) && h.length > 0) {
        std::uint8_t* data = inner_->area().data(h);
        const std::uint64_t byte = s.rng.below(h.length);
        const std::uint64_t bit = s.rng.below(8);
        data[byte] = static_cast<std::uint8_t>(data[byte] ^ (1u << bit));
        ++f.corrupted;
    }
    PacketHandle copy{};
    bool has_copy = false;
    if (config_.duplicate > 0 && s.rng.chance(config_.duplicate)) {
        if (inner_->alloc(queue, {&copy, 1}) == 1) {
            // Same offset as the original, so the copy fits whatever headroom
            // the original used (frames of one area have one size).
            const BufferArea& area = inner_->area();
            copy.offset = h.offset;
            copy.length = h.length;
            if (h.length > 0) std::memcpy(area.data(copy), area.data(h), h.length);
            has_copy = true;
            ++f.duplicated;
        } else {
            ++f.duplicate_skipped;
        }
    }
    if (config_.reorder > 0 && s.rng.chance(config_.reorder) && !s.has_held) {
        s.has_held = true;
        s.held = h;
        s.held_left = config_.reorder_distance;
        s.held_since = now;
        ++f.reordered;
    } else {
        enter(queue, s, h, now);
    }
    if (has_copy) enter(queue, s, copy, now);
}

namespace {

// Moves due packets from the head of a line into out; returns how many.
template <typename Line>
std::size_t pop_due(Line& line, std::span<PacketHandle> out, std::uint64_t now) noexcept {
    std::size_t k = 0;
    while (k < out.size() && !line.empty() && line.front().due_ns <= now) {
        out[k++] = line.front().handle;
        ++line.head;
    }
    return k;
}

}  // namespace

std::uint16_t FaultPort::rx_burst(std::uint16_t queue, std::span<PacketHandle> out) noexcept {
    if (queue >= queues_.size()) return 0;
    QueueState& qs = queues_[queue];
    Stream& s = qs.rx;
    out = out.first(std::min<std::size_t>(out.size(), std::numeric_limits<std::uint16_t>::max()));
    std::size_t n = 0;
    if (!s.faulted) {
        n = inner_->rx_burst(queue, out);
    } else {
        const std::uint64_t t = burst_time();
        release_held_if_stale(queue, s, t);
        n = pop_due(s.line, out, t);
        // Pull only what the caller has room for, so the line does not grow
        // beyond duplicates and delayed packets. Pull again while the inner
        // port had a full burst and nothing came out (all dropped, held or
        // delayed): a burst of 0 should mean "nothing there", not "all of it
        // was dropped", or a polling loop would go idle with work waiting.
        // Bounded, so one call never does unbounded work.
        for (std::uint32_t pulls = 0; n < out.size() && pulls < kMaxPulls; ++pulls) {
            const std::size_t want = std::min<std::size_t>(out.size() - n, kScratch);
            const std::uint16_t m = inner_->rx_burst(queue, {qs.scratch.get(), want});
            for (std::uint16_t i = 0; i < m; ++i) process(queue, s, qs.scratch[i], t);
            // No packet will come to pass a held one once the inner port has
            // finished: let it go rather than keep it forever.
            if (m == 0 && s.has_held && inner_->rx_finished(queue)) {
                s.has_held = false;
                push_line(queue, s, s.held, t);
            }
            n += pop_due(s.line, out.subspan(n), t);
            if (m < want) break;  // the inner port has nothing more now
        }
    }
    QueueCounters& c = counters_of(queue);
    c.rx_packets += n;
    for (std::size_t i = 0; i < n; ++i) c.rx_bytes += out[i].length;
    sync_counters(queue);
    return static_cast<std::uint16_t>(n);
}

void FaultPort::drain_tx(std::uint16_t queue, Stream& s, std::uint64_t now) noexcept {
    PacketHandle* scratch = queues_[queue].scratch.get();
    Line& line = s.line;
    for (;;) {
        // Peek rather than pop: what the inner port refuses stays at the head.
        std::uint32_t k = 0;
        for (std::uint32_t i = line.head; k < kScratch && i != line.tail; ++i) {
            const Entry& e = line.slots[i & line.mask];
            if (e.due_ns > now) break;
            scratch[k++] = e.handle;
        }
        if (k == 0) return;
        const std::uint16_t sent = inner_->tx_burst(queue, {scratch, k});
        line.head += sent;
        if (sent < k) return;
    }
}

std::uint16_t FaultPort::tx_burst(std::uint16_t queue, std::span<const PacketHandle> pkts) noexcept {
    if (queue >= queues_.size()) return 0;
    QueueState& qs = queues_[queue];
    Stream& s = qs.tx;
    pkts = pkts.first(std::min<std::size_t>(pkts.size(), std::numeric_limits<std::uint16_t>::max()));
    QueueCounters& c = counters_of(queue);
    std::size_t taken = 0;
    if (!s.faulted) {
        taken = inner_->tx_burst(queue, pkts);
        for (std::size_t i = 0; i < taken; ++i) c.tx_bytes += pkts[i].length;
    } else {
        const std::uint64_t t = burst_time();
        release_held_if_stale(queue, s, t);
        drain_tx(queue, s, t);
        for (const PacketHandle& h : pkts) {
            c.tx_bytes += h.length;
            // Make room before a packet (with its copy and a released held
            // packet, up to three entries) would find the line full.
            if (s.line.size() + 3 > s.line.mask + 1) drain_tx(queue, s, t);
            process(queue, s, h, t);
        }
        drain_tx(queue, s, t);
        taken = pkts.size();
    }
    c.tx_packets += taken;
    sync_counters(queue);
    return static_cast<std::uint16_t>(taken);
}

void FaultPort::flush(std::uint16_t queue) noexcept {
    if (queue >= queues_.size()) return;
    Stream& s = queues_[queue].tx;
    if (s.faulted) {
        const std::uint64_t t = burst_time();
        release_held_if_stale(queue, s, t);
        drain_tx(queue, s, t);
    }
    inner_->flush(queue);
    sync_counters(queue);
}

bool FaultPort::rx_finished(std::uint16_t queue) const noexcept {
    if (queue >= queues_.size()) return true;
    const Stream& s = queues_[queue].rx;
    return inner_->rx_finished(queue) && s.line.empty() && !s.has_held;
}

void FaultPort::sync_counters(std::uint16_t queue) noexcept {
    const QueueCounters& in = inner_->counters(queue);
    const QueueState& qs = queues_[queue];
    QueueCounters& c = counters_of(queue);
    c.rx_dropped = in.rx_dropped + qs.rx.dropped;
    c.tx_dropped = in.tx_dropped + qs.tx.dropped;
    c.rx_errors = in.rx_errors;
    c.tx_busy = in.tx_busy;
}

std::unique_ptr<Port> make_fault_port(const PortSpec& spec, std::unique_ptr<Port> inner) {
    FaultConfig config;
    config.drop = spec.probability_or("drop", 0.0);
    config.duplicate = spec.probability_or("duplicate", 0.0);
    config.reorder = spec.probability_or("reorder", 0.0);
    config.corrupt = spec.probability_or("corrupt", 0.0);
    // Up to a minute: longer is a stuck link, not a delay, and would need a
    // line holding a minute of traffic.
    const std::uint64_t delay_us = spec.uint_or("delay_us", 0, 0, 60'000'000);
    if (spec.option("delay") && delay_us == 0) {
        throw PortError(
            fmt::format("{}: delay=P is the probability of a delay; give the delay too with delay_us=N", spec.text));
    }
    config.delay_ns = delay_us * 1000;
    config.delay = spec.probability_or("delay", 1.0);
    // A fixed default seed: a run without seed= is still reproducible.
    config.seed = spec.uint_or("seed", 1, 0, std::numeric_limits<std::uint64_t>::max());
    const std::string side = spec.choice_or("side", "rx", {"rx", "tx", "both"});
    config.side = side == "tx" ? FaultSide::tx : side == "both" ? FaultSide::both : FaultSide::rx;
    return std::make_unique<FaultPort>(std::move(inner), std::move(config), spec.text);
}

}  // namespace kbnet::port
