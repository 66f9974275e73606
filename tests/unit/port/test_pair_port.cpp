#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <thread>
#include <vector>

#include "kbnet/core/endian.hpp"
#include "kbnet/port/port.hpp"
#include "port/pair/pair_port.hpp"

using namespace kbnet;
using namespace kbnet::port;

namespace {

PortOptions small_options(std::uint32_t frames = 256) {
    PortOptions o;
    o.area.frame_count = frames;
    o.area.hugepages = false;
    return o;
}

std::unique_ptr<Port> open(const std::string& spec, std::uint32_t frames = 256) {
    return make_pair_port(parse_port_spec(spec), small_options(frames));
}

// Allocates n frames on p, each holding a 4-byte sequence number.
std::vector<PacketHandle> make_packets(Port& p, std::uint32_t first_seq, std::size_t n) {
    std::vector<PacketHandle> v(n);
    EXPECT_EQ(p.alloc(0, v), n);
    for (std::size_t i = 0; i < n; ++i) {
        EXPECT_TRUE(p.area().append(v[i], 64));
        store_be32(p.area().data(v[i]), first_seq + static_cast<std::uint32_t>(i));
    }
    return v;
}

}  // namespace

TEST(PairPort, frames_sent_on_one_end_arrive_on_the_other_unchanged) {
    auto a = open("pair:basic");
    auto b = open("pair:basic");
    auto pkts = make_packets(*a, 100, 8);
    ASSERT_EQ(a->tx_burst(0, pkts), 8);
    std::array<PacketHandle, 32> rx{};
    ASSERT_EQ(b->rx_burst(0, rx), 8);
    for (std::uint32_t i = 0; i < 8; ++i) {
        EXPECT_EQ(rx[i].length, 64);
        EXPECT_EQ(load_be32(b->area().data(rx[i])), 100 + i);
    }
    EXPECT_EQ(a->counters(0).tx_packets, 8u);
    EXPECT_EQ(a->counters(0).tx_bytes, 8u * 64);
    EXPECT_EQ(b->counters(0).rx_packets, 8u);
    EXPECT_EQ(a->rx_burst(0, rx), 0);  // nothing travels the other way
    b->free(0, std::span<const PacketHandle>(rx.data(), 8));
}

TEST(PairPort, freed_frames_go_home_to_the_sending_end) {
    auto a = open("pair:home", 64);
    auto b = open("pair:home", 64);
    // Drain a's pool completely into b, twice over: without the return path
    // the second round could not allocate.
    for (int round = 0; round < 2; ++round) {
        auto pkts = make_packets(*a, 0, 64);
        std::array<PacketHandle, 1> extra{};
        EXPECT_EQ(a->alloc(0, extra), 0) << "pool of 64 frames should be empty";
        ASSERT_EQ(a->tx_burst(0, pkts), 64);
        std::vector<PacketHandle> rx(64);
        ASSERT_EQ(b->rx_burst(0, rx), 64);
        b->free(0, rx);
    }
    EXPECT_EQ(b->counters(0).rx_errors, 0u);
}

TEST(PairPort, echoed_frames_can_be_freed_by_their_owner) {
    auto a = open("pair:echo");
    auto b = open("pair:echo");
    auto pkts = make_packets(*a, 0, 16);
    ASSERT_EQ(a->tx_burst(0, pkts), 16);
    std::vector<PacketHandle> rx(16);
    ASSERT_EQ(b->rx_burst(0, rx), 16);
    ASSERT_EQ(b->tx_burst(0, rx), 16);  // b echoes a's own frames back
    ASSERT_EQ(a->rx_burst(0, rx), 16);
    a->free(0, rx);
    std::vector<PacketHandle> all(256);
    EXPECT_EQ(a->alloc(0, all), 256) << "every frame should be back in a's pool";
    a->free(0, all);
}

TEST(PairPort, full_ring_refuses_the_rest_and_counts_it_busy) {
    auto a = open("pair:full,depth=16");
    auto b = open("pair:full,depth=16");
    auto pkts = make_packets(*a, 0, 20);
    EXPECT_EQ(a->tx_burst(0, pkts), 16);
    EXPECT_EQ(a->counters(0).tx_busy, 4u);
    a->free(0, std::span<const PacketHandle>(pkts).subspan(16));
}

TEST(PairPort, third_open_and_mismatched_options_are_errors) {
    auto a = open("pair:three,queues=2");
    EXPECT_THROW(open("pair:three,queues=1"), PortError);
    auto b = open("pair:three,queues=2");
    EXPECT_THROW(open("pair:three,queues=2"), PortError);
}

TEST(PairPort, name_is_reusable_after_both_ends_close) {
    {
        auto a = open("pair:reuse");
        auto b = open("pair:reuse");
    }
    auto a = open("pair:reuse");
    auto b = open("pair:reuse");
    EXPECT_NE(a.get(), nullptr);
}

TEST(PairPort, rx_finishes_only_after_peer_closes_and_ring_drains) {
    auto a = open("pair:fin");
    auto b = open("pair:fin");
    EXPECT_FALSE(b->rx_finished(0));
    auto pkts = make_packets(*a, 0, 4);
    ASSERT_EQ(a->tx_burst(0, pkts), 4);
    a.reset();
    EXPECT_FALSE(b->rx_finished(0)) << "4 frames are still queued";
    std::array<PacketHandle, 8> rx{};
    ASSERT_EQ(b->rx_burst(0, rx), 4);
    EXPECT_TRUE(b->rx_finished(0));
    b->free(0, std::span<const PacketHandle>(rx.data(), 4));  // peer gone: frames still freed safely
}

TEST(PairPort, queues_are_independent_lanes) {
    auto a = open("pair:lanes,queues=2");
    auto b = open("pair:lanes,queues=2");
    std::array<PacketHandle, 1> h{};
    ASSERT_EQ(a->alloc(1, h), 1);
    ASSERT_TRUE(a->area().append(h[0], 60));
    ASSERT_EQ(a->tx_burst(1, h), 1);
    std::array<PacketHandle, 4> rx{};
    EXPECT_EQ(b->rx_burst(0, rx), 0);
    EXPECT_EQ(b->rx_burst(1, rx), 1);
    b->free(1, std::span<const PacketHandle>(rx.data(), 1));
    EXPECT_EQ(b->counters(1).rx_packets, 1u);
    EXPECT_EQ(b->counters(0).rx_packets, 0u);
}

// Two threads, as the pair is used for real: one end sends sequenced frames
// and takes back echoes, the other echoes; every frame comes back once, in
// order, and every frame is home at the end.
TEST(PairPort, two_threads_echo_a_million_frames_in_order) {
    constexpr std::uint32_t kTotal = 1'000'000;
    auto a = open("pair:threads", 1024);
    auto b = open("pair:threads", 1024);
    std::atomic<bool> done{false};
    std::thread echo([&] {
        std::array<PacketHandle, 32> rx{};
        while (!done.load(std::memory_order_relaxed)) {
            const std::uint16_t n = b->rx_burst(0, rx);
            std::uint16_t sent = 0;
            while (sent < n)
                sent = static_cast<std::uint16_t>(sent + b->tx_burst(0, std::span(rx).subspan(sent, n - sent)));
        }
    });
    std::uint32_t next_send = 0, next_expect = 0;
    std::array<PacketHandle, 32> buf{};
    while (next_expect < kTotal) {
        if (next_send < kTotal && next_send - next_expect < 512) {
            const auto want = std::min<std::uint32_t>(32, kTotal - next_send);
            const std::uint16_t n = a->alloc(0, std::span(buf).first(want));
            for (std::uint16_t i = 0; i < n; ++i) {
                ASSERT_TRUE(a->area().append(buf[i], 60));
                store_be32(a->area().data(buf[i]), next_send + i);
            }
            const std::uint16_t sent = a->tx_burst(0, std::span(buf).first(n));
            a->free(0, std::span<const PacketHandle>(buf).subspan(sent, n - sent));
            next_send += sent;
        }
        const std::uint16_t got = a->rx_burst(0, buf);
        for (std::uint16_t i = 0; i < got; ++i) ASSERT_EQ(load_be32(a->area().data(buf[i])), next_expect++);
        a->free(0, std::span(buf).first(got));
    }
    done = true;
    echo.join();
    std::vector<PacketHandle> all(1024);
    EXPECT_EQ(a->alloc(0, all), 1024) << "frames leaked";
    EXPECT_EQ(a->counters(0).rx_packets, kTotal);
    EXPECT_EQ(b->counters(0).tx_packets, kTotal);
}
