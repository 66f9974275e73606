#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <deque>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "kbnet/core/endian.hpp"
#include "kbnet/core/frame_pool.hpp"
#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "pcap_test_support.hpp"
#include "port/fault/fault_port.hpp"
#include "port/pcap/pcap_file.hpp"

using namespace kbnet;
using namespace kbnet::port;
using namespace kbnet::test;
using ::testing::HasSubstr;

namespace {

// The inner port of these tests: per queue, a script of frames to receive
// and a record of frames transmitted, over its own area and pools, so every
// frame can be accounted for.
class FakePort final : public Port {
  public:
    // leak_report, if given, receives at destruction the number of frames
    // that are neither free nor queued nor sent: frames someone lost.
    explicit FakePort(std::uint16_t queues = 1, std::uint32_t frames_per_queue = 1024,
                      std::uint32_t* leak_report = nullptr)
        : Port("fake:test", queues),
          area_(area_config(queues, frames_per_queue)),
          rx_(queues),
          sent_(queues),
          flushes_(queues, 0),
          leak_report_(leak_report) {
        for (std::uint16_t q = 0; q < queues; ++q) {
            pools_.push_back(std::make_unique<FramePool>(area_, q * frames_per_queue, frames_per_queue));
        }
    }
    ~FakePort() override {
        if (leak_report_ == nullptr) return;
        std::uint32_t lost = 0;
        for (std::uint16_t q = 0; q < queue_count(); ++q) lost += pools_[q]->capacity() - accounted(q);
        *leak_report_ = lost;
    }

    // ---- test side ----
    bool inject(std::uint16_t q, std::span<const std::uint8_t> bytes) {
        PacketHandle h;
        if (!pools_[q]->alloc(h)) return false;
        EXPECT_TRUE(area_.append(h, static_cast<std::uint32_t>(bytes.size())));
        std::copy(bytes.begin(), bytes.end(), area_.data(h));
        rx_[q].push_back(h);
        return true;
    }
    // Transmitted packets as bytes, in order; their frames are freed.
    std::vector<Bytes> take_sent(std::uint16_t q = 0) {
        std::vector<Bytes> out;
        for (PacketHandle h : sent_[q]) {
            const auto b = area_.bytes(h);
            out.emplace_back(b.begin(), b.end());
        }
        pools_[q]->free(sent_[q]);
        sent_[q].clear();
        return out;
    }
    [[nodiscard]] const std::vector<PacketHandle>& sent(std::uint16_t q = 0) const { return sent_[q]; }
    [[nodiscard]] std::uint32_t available(std::uint16_t q = 0) const { return pools_[q]->available(); }
    [[nodiscard]] std::uint32_t capacity(std::uint16_t q = 0) const { return pools_[q]->capacity(); }
    [[nodiscard]] std::uint32_t flushes(std::uint16_t q = 0) const { return flushes_[q]; }
    void set_tx_limit(std::size_t n) { tx_limit_ = n; }
    void finish() { finished_ = true; }

    // ---- Port ----
    [[nodiscard]] std::string_view kind() const noexcept override { return "fake"; }
    [[nodiscard]] Capabilities capabilities() const noexcept override {
        Capabilities c;
        c.rx_queues = c.tx_queues = queue_count();
        c.max_frame = 1234;
        return c;
    }
    [[nodiscard]] const BufferArea& area() const noexcept override { return area_; }
    [[nodiscard]] std::uint16_t rx_burst(std::uint16_t q, std::span<PacketHandle> out) noexcept override {
        std::uint16_t n = 0;
        while (n < out.size() && !rx_[q].empty()) {
            out[n++] = rx_[q].front();
            rx_[q].pop_front();
        }
        counters_of(q).rx_packets += n;
        return n;
    }
    [[nodiscard]] std::uint16_t tx_burst(std::uint16_t q, std::span<const PacketHandle> pkts) noexcept override {
        const std::size_t n = std::min(pkts.size(), tx_limit_);
        sent_[q].insert(sent_[q].end(), pkts.begin(), pkts.begin() + static_cast<std::ptrdiff_t>(n));
        counters_of(q).tx_packets += n;
        counters_of(q).tx_busy += pkts.size() - n;
        return static_cast<std::uint16_t>(n);
    }
    [[nodiscard]] std::uint16_t alloc(std::uint16_t q, std::span<PacketHandle> out) noexcept override {
        return static_cast<std::uint16_t>(pools_[q]->alloc_burst(out));
    }
    void free(std::uint16_t q, std::span<const PacketHandle> pkts) noexcept override { pools_[q]->free(pkts); }
    void flush(std::uint16_t q) noexcept override { ++flushes_[q]; }
    [[nodiscard]] bool rx_finished(std::uint16_t q) const noexcept override { return finished_ && rx_[q].empty(); }

  private:
    static BufferAreaConfig area_config(std::uint16_t queues, std::uint32_t frames) {
        BufferAreaConfig c;
        c.frame_count = queues * frames;
        c.frame_size = 512;
        c.headroom = 64;
        c.hugepages = false;
        return c;
    }
    [[nodiscard]] std::uint32_t accounted(std::uint16_t q) const {
        return pools_[q]->available() + static_cast<std::uint32_t>(rx_[q].size() + sent_[q].size());
    }

    BufferArea area_;
    std::vector<std::unique_ptr<FramePool>> pools_;
    std::vector<std::deque<PacketHandle>> rx_;
    std::vector<std::vector<PacketHandle>> sent_;
    std::vector<std::uint32_t> flushes_;
    std::size_t tx_limit_ = std::numeric_limits<std::size_t>::max();
    bool finished_ = false;
    std::uint32_t* leak_report_;
};

struct Rig {
    FakePort* fake;  // owned by port
    std::unique_ptr<FaultPort> port;
};

Rig make_rig(FaultConfig config, std::uint16_t queues = 1, std::uint32_t frames = 1024,
             std::uint32_t* leak_report = nullptr) {
    // Tests run on simulated time: with the real clock, a packet held for
    // reordering is released by its timeout whenever a slow run (a sanitizer
    // build, a loaded machine) takes over a millisecond, and the output would
    // depend on timing. A frozen clock unless the test brings its own.
    if (!config.now_ns) config.now_ns = [] { return std::uint64_t{0}; };
    auto fake = std::make_unique<FakePort>(queues, frames, leak_report);
    FakePort* raw = fake.get();
    return {raw, std::make_unique<FaultPort>(std::move(fake), std::move(config))};
}

// A packet whose first 4 bytes are its sequence number.
Bytes seq_packet(std::uint32_t seq, std::size_t size = 64) {
    Bytes b = pattern(size, seq);
    store_be32(b.data(), seq);
    return b;
}
std::uint32_t seq_of(const Bytes& b) { return load_be32(b.data()); }

void feed(FakePort& f, std::uint32_t first, std::uint32_t n, std::uint16_t q = 0) {
    for (std::uint32_t i = 0; i < n; ++i) ASSERT_TRUE(f.inject(q, seq_packet(first + i)));
}

// One rx_burst; the packets are copied out and their frames freed.
std::vector<Bytes> rx_once(Port& p, std::size_t burst = 32, std::uint16_t q = 0) {
    std::vector<PacketHandle> rx(burst);
    const std::uint16_t n = p.rx_burst(q, rx);
    std::vector<Bytes> out;
    for (std::uint16_t i = 0; i < n; ++i) {
        const auto b = p.bytes(rx[i]);
        out.emplace_back(b.begin(), b.end());
    }
    p.free(q, std::span<const PacketHandle>(rx.data(), n));
    return out;
}

// Bursts until the port has been empty for a while. One empty burst is not
// enough: a burst whose every packet was dropped comes back empty too.
std::vector<Bytes> rx_drain(Port& p, std::uint16_t q = 0) {
    std::vector<Bytes> all;
    for (int empty = 0; empty < 16;) {
        auto got = rx_once(p, 32, q);
        empty = got.empty() ? empty + 1 : 0;
        all.insert(all.end(), got.begin(), got.end());
    }
    return all;
}

std::vector<std::uint32_t> seqs(const std::vector<Bytes>& pkts) {
    std::vector<std::uint32_t> out;
    for (const auto& p : pkts) out.push_back(seq_of(p));
    return out;
}

std::vector<std::uint32_t> iota(std::uint32_t n) {
    std::vector<std::uint32_t> v(n);
    std::iota(v.begin(), v.end(), 0u);
    return v;
}

// Allocates frames on p holding seq_packet(first ..).
std::vector<PacketHandle> make_tx(Port& p, std::uint32_t first, std::uint32_t n, std::uint16_t q = 0) {
    std::vector<PacketHandle> v(n);
    EXPECT_EQ(p.alloc(q, v), n);
    for (std::uint32_t i = 0; i < n; ++i) {
        const Bytes b = seq_packet(first + i);
        EXPECT_TRUE(p.area().append(v[i], static_cast<std::uint32_t>(b.size())));
        std::copy(b.begin(), b.end(), p.area().data(v[i]));
    }
    return v;
}

int bits_differing(const Bytes& a, const Bytes& b) {
    int n = 0;
    for (std::size_t i = 0; i < a.size(); ++i) n += std::popcount(static_cast<unsigned>(a[i] ^ b[i]));
    return n;
}

// Receives n packets through a fault port with every fault on, in chunks,
// and returns what came out.
std::vector<Bytes> run_all_faults(std::uint64_t seed, std::uint32_t n = 2000) {
    FaultConfig c;
    c.drop = 0.1;
    c.duplicate = 0.1;
    c.reorder = 0.1;
    c.corrupt = 0.1;
    c.seed = seed;
    Rig r = make_rig(c);
    std::vector<Bytes> out;
    for (std::uint32_t first = 0; first < n; first += 200) {
        feed(*r.fake, first, 200);
        auto got = rx_drain(*r.port);
        out.insert(out.end(), got.begin(), got.end());
    }
    r.fake->finish();
    auto rest = rx_drain(*r.port);
    out.insert(out.end(), rest.begin(), rest.end());
    return out;
}

}  // namespace

// ---- PRNG -------------------------------------------------------------------------

TEST(FaultRng, matches_the_reference_splitmix64_and_xoshiro256starstar_outputs) {
    // Values from the reference C code (prng.di.unimi.it): the sequences are
    // the same on every platform, so a seed names one run everywhere.
    std::uint64_t st = 0;
    EXPECT_EQ(FaultRng::splitmix64(st), 0xe220a8397b1dcdafULL);
    EXPECT_EQ(FaultRng::splitmix64(st), 0x6e789e6aa1b965f4ULL);
    EXPECT_EQ(FaultRng::splitmix64(st), 0x06c45d188009454fULL);
    FaultRng rng(0);
    EXPECT_EQ(rng.next(), 0x99ec5f36cb75f2b4ULL);
    EXPECT_EQ(rng.next(), 0xbf6e1f784956452aULL);
    EXPECT_EQ(rng.next(), 0x1a5f849d4933e6e0ULL);
}

TEST(FaultRng, chance_is_never_at_zero_and_always_at_one) {
    FaultRng rng(3);
    int zero = 0, one = 0;
    for (int i = 0; i < 10000; ++i) {
        zero += rng.chance(0.0) ? 1 : 0;
        one += rng.chance(1.0) ? 1 : 0;
    }
    EXPECT_EQ(zero, 0);
    EXPECT_EQ(one, 10000);
}

TEST(FaultRng, below_stays_in_range_and_reaches_every_value) {
    FaultRng rng(11);
    std::set<std::uint64_t> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::uint64_t v = rng.below(8);
        ASSERT_LT(v, 8u);
        seen.insert(v);
    }
    EXPECT_EQ(seen.size(), 8u);
}

// ---- pass-through -----------------------------------------------------------------

TEST(FaultPort, without_faults_passes_every_packet_unchanged_and_in_order) {
    Rig r = make_rig({});
    feed(*r.fake, 0, 100);
    const auto got = rx_drain(*r.port);
    ASSERT_EQ(got.size(), 100u);
    for (std::uint32_t i = 0; i < 100; ++i) EXPECT_EQ(got[i], seq_packet(i));
    EXPECT_EQ(r.port->counters(0).rx_packets, 100u);
    EXPECT_EQ(r.port->counters(0).rx_bytes, 6400u);
    EXPECT_EQ(r.port->fault_counters().dropped + r.port->fault_counters().duplicated +
                  r.port->fault_counters().reordered + r.port->fault_counters().corrupted,
              0u);
}

TEST(FaultPort, forwards_area_capabilities_queues_alloc_and_flush_to_the_inner_port) {
    Rig r = make_rig({}, 2);
    EXPECT_EQ(&r.port->area(), &r.fake->area());
    EXPECT_EQ(r.port->capabilities().max_frame, 1234u);
    EXPECT_EQ(r.port->queue_count(), 2);
    EXPECT_EQ(r.port->kind(), "fault");
    EXPECT_EQ(r.port->spec(), "fault:fake:test");
    std::array<PacketHandle, 3> h{};
    ASSERT_EQ(r.port->alloc(1, h), 3);
    EXPECT_EQ(r.fake->available(1), r.fake->capacity(1) - 3);
    r.port->free(1, h);
    EXPECT_EQ(r.fake->available(1), r.fake->capacity(1));
    r.port->flush(1);
    EXPECT_EQ(r.fake->flushes(1), 1u);
}

TEST(FaultPort, rx_finished_follows_the_inner_port_when_nothing_is_held) {
    Rig r = make_rig({});
    EXPECT_FALSE(r.port->rx_finished(0));
    r.fake->finish();
    EXPECT_TRUE(r.port->rx_finished(0));
}

// ---- determinism ------------------------------------------------------------------

TEST(FaultPort, same_seed_gives_exactly_the_same_output) {
    const auto a = run_all_faults(7);
    const auto b = run_all_faults(7);
    EXPECT_EQ(a, b);
    EXPECT_NE(a.size(), 2000u);  // the faults did something
}

TEST(FaultPort, different_seeds_give_different_output) { EXPECT_NE(run_all_faults(7), run_all_faults(8)); }

TEST(FaultPort, queues_have_independent_streams) {
    // Queue 0's output does not depend on traffic on queue 1, and the two
    // queues do not make the same decisions.
    FaultConfig c;
    c.drop = 0.3;
    c.seed = 5;
    Rig alone = make_rig(c, 2);
    feed(*alone.fake, 0, 500, 0);
    const auto q0_alone = rx_drain(*alone.port, 0);

    Rig both = make_rig(c, 2);
    feed(*both.fake, 0, 500, 1);
    const auto q1 = rx_drain(*both.port, 1);
    feed(*both.fake, 0, 500, 0);
    const auto q0_with_q1 = rx_drain(*both.port, 0);

    EXPECT_EQ(q0_alone, q0_with_q1);
    EXPECT_NE(q0_alone, q1);
}

// ---- drop -------------------------------------------------------------------------

TEST(FaultPort, drops_about_p_of_the_packets_and_frees_them) {
    FaultConfig c;
    c.drop = 0.1;
    c.seed = 12345;
    Rig r = make_rig(c);
    std::uint64_t delivered = 0;
    for (std::uint32_t first = 0; first < 100'000; first += 1000) {
        feed(*r.fake, first, 1000);
        delivered += rx_drain(*r.port).size();
    }
    const FaultCounters& f = r.port->fault_counters();
    EXPECT_EQ(delivered + f.dropped, 100'000u);
    // Binomial(100000, 0.1): standard deviation about 95.
    EXPECT_GT(f.dropped, 9'500u);
    EXPECT_LT(f.dropped, 10'500u);
    // The seed fixes the exact count; a change here means the PRNG or the
    // order of its draws changed, which changes every recorded run.
    EXPECT_EQ(f.dropped, 9'958u);
    EXPECT_EQ(r.port->counters(0).rx_dropped, f.dropped);
    EXPECT_EQ(r.port->counters(0).rx_packets, delivered);
    EXPECT_EQ(r.fake->available(), r.fake->capacity());
}

TEST(FaultPort, drop_one_delivers_nothing_and_leaks_nothing) {
    FaultConfig c;
    c.drop = 1.0;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 300);
    EXPECT_TRUE(rx_drain(*r.port).empty());
    EXPECT_EQ(r.port->fault_counters().dropped, 300u);
    EXPECT_EQ(r.fake->available(), r.fake->capacity());
}

// ---- duplicate --------------------------------------------------------------------

TEST(FaultPort, duplicates_are_byte_identical_copies_in_new_frames) {
    FaultConfig c;
    c.duplicate = 1.0;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 50);
    // Keep every frame until the end, so a frame used twice would show.
    std::vector<PacketHandle> all;
    for (;;) {
        std::array<PacketHandle, 32> rx{};
        const std::uint16_t n = r.port->rx_burst(0, rx);
        if (n == 0) break;
        all.insert(all.end(), rx.begin(), rx.begin() + n);
    }
    std::set<std::uint32_t> frames;
    std::vector<Bytes> got;
    for (const PacketHandle& h : all) {
        EXPECT_TRUE(frames.insert(h.frame).second) << "frame " << h.frame << " delivered twice";
        const auto b = r.port->bytes(h);
        got.emplace_back(b.begin(), b.end());
    }
    r.port->free(0, all);
    ASSERT_EQ(got.size(), 100u);
    for (std::uint32_t i = 0; i < 50; ++i) {
        EXPECT_EQ(got[2 * i], seq_packet(i));
        EXPECT_EQ(got[2 * i + 1], seq_packet(i));  // the copy follows its original
    }
    EXPECT_EQ(r.port->fault_counters().duplicated, 50u);
    EXPECT_EQ(r.fake->available(), r.fake->capacity());
}

TEST(FaultPort, skips_and_counts_a_duplicate_when_no_frame_is_free) {
    FaultConfig c;
    c.duplicate = 1.0;
    Rig r = make_rig(c, 1, 8);
    feed(*r.fake, 0, 8);  // every frame of the inner port is in use
    EXPECT_EQ(seqs(rx_drain(*r.port)), iota(8));
    EXPECT_EQ(r.port->fault_counters().duplicated, 0u);
    EXPECT_EQ(r.port->fault_counters().duplicate_skipped, 8u);
}

// ---- corrupt ----------------------------------------------------------------------

TEST(FaultPort, corruption_flips_exactly_one_bit) {
    FaultConfig c;
    c.corrupt = 1.0;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 200);
    const auto got = rx_drain(*r.port);
    ASSERT_EQ(got.size(), 200u);
    std::set<std::size_t> positions;
    for (std::uint32_t i = 0; i < 200; ++i) {
        const Bytes want = seq_packet(i);
        ASSERT_EQ(got[i].size(), want.size());
        EXPECT_EQ(bits_differing(got[i], want), 1) << i;
        for (std::size_t k = 0; k < want.size(); ++k) {
            if (got[i][k] != want[k]) positions.insert(k);
        }
    }
    EXPECT_EQ(r.port->fault_counters().corrupted, 200u);
    EXPECT_GT(positions.size(), 40u);  // spread over the packet, not one fixed byte
}

TEST(FaultPort, corrupts_only_the_counted_fraction_of_packets) {
    FaultConfig c;
    c.corrupt = 0.25;
    c.seed = 99;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 1000);
    const auto got = rx_drain(*r.port);
    ASSERT_EQ(got.size(), 1000u);
    std::uint64_t changed = 0;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        // Compare with the original of the same position (order is kept).
        const int bits = bits_differing(got[i], seq_packet(i));
        EXPECT_LE(bits, 1);
        changed += bits == 1 ? 1 : 0;
    }
    EXPECT_EQ(changed, r.port->fault_counters().corrupted);
    EXPECT_GT(changed, 180u);
    EXPECT_LT(changed, 320u);
}

// ---- reorder ----------------------------------------------------------------------

TEST(FaultPort, reorder_one_swaps_every_pair) {
    FaultConfig c;
    c.reorder = 1.0;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 10);
    EXPECT_EQ(seqs(rx_drain(*r.port)), (std::vector<std::uint32_t>{1, 0, 3, 2, 5, 4, 7, 6, 9, 8}));
    EXPECT_EQ(r.port->fault_counters().reordered, 5u);
}

TEST(FaultPort, a_held_packet_is_released_after_reorder_distance_packets) {
    FaultConfig c;
    c.reorder = 1.0;
    c.reorder_distance = 3;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 8);
    EXPECT_EQ(seqs(rx_drain(*r.port)), (std::vector<std::uint32_t>{1, 2, 3, 0, 5, 6, 7, 4}));
}

TEST(FaultPort, reorder_preserves_the_multiset_of_packets) {
    FaultConfig c;
    c.reorder = 0.2;
    c.seed = 31;
    Rig r = make_rig(c, 1, 16384);
    feed(*r.fake, 0, 10'000);
    r.fake->finish();
    const auto got = seqs(rx_drain(*r.port));
    EXPECT_TRUE(r.port->rx_finished(0));
    auto sorted = got;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(sorted, iota(10'000));
    // With distance 1, each held packet comes out right after the one that
    // followed it: one descent per held packet (none for a last packet held
    // until the end).
    std::uint64_t descents = 0;
    for (std::size_t i = 1; i < got.size(); ++i) descents += got[i] < got[i - 1] ? 1u : 0u;
    const std::uint64_t held = r.port->fault_counters().reordered;
    EXPECT_TRUE(descents == held || descents + 1 == held) << descents << " vs " << held;
    // One packet held at a time: about p / (1 + p) of the packets.
    EXPECT_GT(held, 1'300u);
    EXPECT_LT(held, 2'000u);
}

TEST(FaultPort, a_held_packet_is_released_when_the_inner_port_finishes) {
    FaultConfig c;
    c.reorder = 1.0;
    Rig r = make_rig(c);
    feed(*r.fake, 0, 1);
    EXPECT_TRUE(rx_once(*r.port).empty());
    r.fake->finish();
    EXPECT_FALSE(r.port->rx_finished(0));  // the inner port is done, but one packet is still held
    EXPECT_EQ(seqs(rx_once(*r.port)), std::vector<std::uint32_t>{0});
    EXPECT_TRUE(r.port->rx_finished(0));
}

TEST(FaultPort, a_held_packet_is_released_after_the_maximum_hold_time) {
    std::uint64_t sim = 1000;
    FaultConfig c;
    c.reorder = 1.0;
    c.reorder_max_hold_ns = 500;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    feed(*r.fake, 0, 1);
    EXPECT_TRUE(rx_once(*r.port).empty());
    sim = 1499;
    EXPECT_TRUE(rx_once(*r.port).empty());
    sim = 1500;
    EXPECT_EQ(seqs(rx_once(*r.port)), std::vector<std::uint32_t>{0});
}

// ---- delay ------------------------------------------------------------------------

TEST(FaultPort, delay_holds_packets_until_simulated_time_passes_then_releases_them_in_order) {
    std::uint64_t sim = 10'000;
    FaultConfig c;
    c.delay_ns = 1000;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    feed(*r.fake, 0, 5);
    EXPECT_TRUE(rx_once(*r.port).empty());
    r.fake->finish();
    sim = 10'999;
    EXPECT_TRUE(rx_once(*r.port).empty());
    EXPECT_FALSE(r.port->rx_finished(0));  // five packets still on their way
    sim = 11'000;
    EXPECT_EQ(seqs(rx_once(*r.port)), iota(5));
    EXPECT_TRUE(r.port->rx_finished(0));
    EXPECT_EQ(r.port->fault_counters().delayed, 5u);
}

TEST(FaultPort, a_probabilistic_delay_never_reorders) {
    std::uint64_t sim = 0;
    FaultConfig c;
    c.delay_ns = 1000;
    c.delay = 0.5;
    c.seed = 4;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    std::vector<Bytes> got;
    for (std::uint32_t first = 0; first < 1000; first += 10) {
        feed(*r.fake, first, 10);
        auto part = rx_once(*r.port);
        got.insert(got.end(), part.begin(), part.end());
        sim += 100;
    }
    sim += 1000;
    auto rest = rx_drain(*r.port);
    got.insert(got.end(), rest.begin(), rest.end());
    EXPECT_EQ(seqs(got), iota(1000));
    EXPECT_GT(r.port->fault_counters().delayed, 400u);
    EXPECT_LT(r.port->fault_counters().delayed, 600u);
}

TEST(FaultPort, a_full_delay_line_drops_and_counts_the_overflow) {
    std::uint64_t sim = 0;
    FaultConfig c;
    c.delay_ns = 1000;
    c.line_capacity = 64;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    feed(*r.fake, 0, 100);
    for (int i = 0; i < 4; ++i) EXPECT_TRUE(rx_once(*r.port).empty());
    EXPECT_EQ(r.port->fault_counters().delay_overflow, 36u);
    EXPECT_EQ(r.port->counters(0).rx_dropped, 36u);
    sim = 1000;
    EXPECT_EQ(seqs(rx_drain(*r.port)), iota(64));
    EXPECT_EQ(r.fake->available(), r.fake->capacity());
}

// ---- transmit side ----------------------------------------------------------------

TEST(FaultPort, transmit_side_drops_and_frees_while_receive_passes_through) {
    FaultConfig c;
    c.drop = 1.0;
    c.side = FaultSide::tx;
    Rig r = make_rig(c);
    const std::uint32_t start = r.fake->available();
    const auto tx = make_tx(*r.port, 0, 10);
    EXPECT_EQ(r.port->tx_burst(0, tx), 10);
    EXPECT_TRUE(r.fake->sent().empty());
    EXPECT_EQ(r.fake->available(), start);
    EXPECT_EQ(r.port->counters(0).tx_packets, 10u);
    EXPECT_EQ(r.port->counters(0).tx_dropped, 10u);
    feed(*r.fake, 0, 5);
    EXPECT_EQ(seqs(rx_drain(*r.port)), iota(5));
}

TEST(FaultPort, transmit_side_duplicates_reach_the_inner_port) {
    FaultConfig c;
    c.duplicate = 1.0;
    c.side = FaultSide::tx;
    Rig r = make_rig(c);
    const auto tx = make_tx(*r.port, 0, 10);
    EXPECT_EQ(r.port->tx_burst(0, tx), 10);
    const auto sent = r.fake->take_sent();
    ASSERT_EQ(sent.size(), 20u);
    for (std::uint32_t i = 0; i < 10; ++i) {
        EXPECT_EQ(sent[2 * i], seq_packet(i));
        EXPECT_EQ(sent[2 * i + 1], seq_packet(i));
    }
}

TEST(FaultPort, transmit_side_keeps_what_the_inner_port_refuses_and_retries_in_order) {
    FaultConfig c;
    c.side = FaultSide::tx;
    Rig r = make_rig(c);
    r.fake->set_tx_limit(4);
    const auto tx = make_tx(*r.port, 0, 10);
    EXPECT_EQ(r.port->tx_burst(0, tx), 10);  // all taken; none lost
    EXPECT_EQ(r.fake->sent().size(), 4u);
    r.port->flush(0);
    EXPECT_EQ(r.fake->sent().size(), 8u);
    r.port->flush(0);
    EXPECT_EQ(seqs(r.fake->take_sent()), iota(10));
    EXPECT_EQ(r.port->counters(0).tx_dropped, 0u);
    EXPECT_EQ(r.fake->flushes(), 2u);
}

TEST(FaultPort, transmit_delay_sends_nothing_early_even_on_flush) {
    std::uint64_t sim = 0;
    FaultConfig c;
    c.side = FaultSide::tx;
    c.delay_ns = 1000;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    const auto tx = make_tx(*r.port, 0, 3);
    EXPECT_EQ(r.port->tx_burst(0, tx), 3);
    sim = 999;
    r.port->flush(0);
    EXPECT_TRUE(r.fake->sent().empty());
    sim = 1000;
    r.port->flush(0);
    EXPECT_EQ(seqs(r.fake->take_sent()), iota(3));
}

TEST(FaultPort, side_both_injects_in_both_directions) {
    FaultConfig c;
    c.drop = 1.0;
    c.side = FaultSide::both;
    Rig r = make_rig(c);
    const auto tx = make_tx(*r.port, 0, 4);
    EXPECT_EQ(r.port->tx_burst(0, tx), 4);
    feed(*r.fake, 0, 4);
    EXPECT_TRUE(rx_drain(*r.port).empty());
    EXPECT_TRUE(r.fake->sent().empty());
    EXPECT_EQ(r.port->fault_counters().dropped, 8u);
    EXPECT_EQ(r.port->counters(0).rx_dropped, 4u);
    EXPECT_EQ(r.port->counters(0).tx_dropped, 4u);
}

// ---- frames are never lost --------------------------------------------------------

TEST(FaultPort, all_frames_return_to_the_inner_pool_after_draining) {
    std::uint64_t sim = 0;
    FaultConfig c;
    c.drop = 0.1;
    c.duplicate = 0.2;
    c.reorder = 0.2;
    c.corrupt = 0.1;
    c.delay_ns = 50;
    c.delay = 0.5;
    c.side = FaultSide::both;
    c.now_ns = [&sim] { return sim; };
    Rig r = make_rig(c);
    const std::uint32_t start = r.fake->available();
    for (std::uint32_t round = 0; round < 50; ++round) {
        feed(*r.fake, round * 20, 20);
        (void)rx_once(*r.port);
        const auto tx = make_tx(*r.port, round * 20, 20);
        ASSERT_EQ(r.port->tx_burst(0, tx), 20);
        (void)r.fake->take_sent();
        sim += 10;
    }
    r.fake->finish();
    sim += 10'000'000;  // past every delay and hold time
    (void)rx_drain(*r.port);
    r.port->flush(0);
    (void)r.fake->take_sent();
    EXPECT_TRUE(r.port->rx_finished(0));
    EXPECT_EQ(r.fake->available(), start);
}

TEST(FaultPort, destruction_gives_held_and_delayed_frames_back_to_the_inner_port) {
    std::uint32_t lost = 12345;
    {
        std::uint64_t sim = 0;
        FaultConfig c;
        c.reorder = 0.5;
        c.delay_ns = 1000;
        c.side = FaultSide::both;
        c.now_ns = [&sim] { return sim; };
        Rig r = make_rig(c, 1, 1024, &lost);
        feed(*r.fake, 0, 20);
        EXPECT_TRUE(rx_once(*r.port).empty());  // all 20 now held or delayed
        const auto tx = make_tx(*r.port, 100, 20);
        ASSERT_EQ(r.port->tx_burst(0, tx), 20);
        EXPECT_TRUE(r.fake->sent().empty());
    }
    EXPECT_EQ(lost, 0u);
}

// ---- setup ------------------------------------------------------------------------

TEST(FaultPort, rejects_a_probability_outside_zero_to_one_and_a_missing_inner_port) {
    FaultConfig c;
    c.drop = 1.5;
    EXPECT_THROW(FaultPort(std::make_unique<FakePort>(), c), PortError);
    EXPECT_THROW(FaultPort(nullptr, FaultConfig{}), PortError);
}

TEST(FaultPort, factory_reads_every_option_from_the_spec) {
    const PortSpec spec = parse_port_spec(
        "fault(drop=0.25,duplicate=0.5,reorder=0.125,corrupt=0.0625,delay_us=7,delay=0.75,seed=99,side=both):pcap:-");
    auto p = make_fault_port(spec, std::make_unique<FakePort>());
    const auto* f = dynamic_cast<const FaultPort*>(p.get());
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->config().drop, 0.25);
    EXPECT_EQ(f->config().duplicate, 0.5);
    EXPECT_EQ(f->config().reorder, 0.125);
    EXPECT_EQ(f->config().corrupt, 0.0625);
    EXPECT_EQ(f->config().delay_ns, 7000u);
    EXPECT_EQ(f->config().delay, 0.75);
    EXPECT_EQ(f->config().seed, 99u);
    EXPECT_EQ(f->config().side, FaultSide::both);
    EXPECT_EQ(p->spec(), spec.text);
}

TEST(FaultPort, factory_defaults_are_receive_side_fixed_seed_and_no_delay) {
    auto p = make_fault_port(parse_port_spec("fault(drop=0.1):pcap:-"), std::make_unique<FakePort>());
    const auto& cfg = dynamic_cast<const FaultPort&>(*p).config();
    EXPECT_EQ(cfg.side, FaultSide::rx);
    EXPECT_EQ(cfg.seed, 1u);
    EXPECT_EQ(cfg.delay_ns, 0u);
    EXPECT_EQ(cfg.duplicate, 0.0);
}

TEST(FaultPort, factory_rejects_a_delay_probability_without_a_delay) {
    try {
        (void)make_fault_port(parse_port_spec("fault(delay=0.5):pcap:-"), std::make_unique<FakePort>());
        FAIL() << "expected PortError";
    } catch (const PortError& e) {
        EXPECT_THAT(e.what(), HasSubstr("delay_us"));
    }
}

TEST(FaultPort, opens_through_the_registry_around_a_pcap_port) {
    TempDir dir;
    const std::string out = dir.file("out.pcap");
    PortOptions o;
    o.area.frame_count = 64;
    o.area.hugepages = false;
    {
        auto p = open_port("fault(drop=1,side=tx):pcap:-,out=" + out, o);
        EXPECT_EQ(p->kind(), "fault");
        const auto tx = make_tx(*p, 0, 10);
        EXPECT_EQ(p->tx_burst(0, tx), 10);
        p->flush(0);
        EXPECT_EQ(p->counters(0).tx_dropped, 10u);
    }
    PcapReader r(out);
    PcapRecord rec;
    EXPECT_EQ(r.next(rec), PcapNext::end);
}
