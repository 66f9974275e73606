#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include "kbnet/wire/checksum.hpp"
#include "kbnet/wire/ethernet.hpp"
#include "kbnet/wire/ipv4.hpp"
#include "kbnet/wire/udp.hpp"
#include "pktgen_frame.hpp"
#include "pktgen_payload.hpp"

namespace kbnet::tools {
namespace {

// ---- the 18-byte payload --------------------------------------------------

TEST(PktgenPayload, layout_is_magic_then_sequence_then_timestamp_in_network_order) {
    std::array<std::uint8_t, kPayloadLen> b{};
    write_payload(b.data(), {0x0102030405060708ull, 0x1112131415161718ull});
    const std::array<std::uint8_t, kPayloadLen> expected = {0x6b, 0x50,                                      // "kP"
                                                            0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // seq
                                                            0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
    EXPECT_EQ(b, expected);
}

TEST(PktgenPayload, reads_back_what_was_written) {
    std::array<std::uint8_t, kPayloadLen> b{};
    for (const Payload v : {Payload{0, 0}, Payload{1, 2}, Payload{~0ull, ~0ull}, Payload{123456789, 987654321987}}) {
        write_payload(b.data(), v);
        Payload got{7, 7};
        ASSERT_TRUE(read_payload(b, got));
        EXPECT_EQ(got, v);
    }
}

TEST(PktgenPayload, rejects_a_wrong_magic_or_short_bytes_and_leaves_the_output_alone) {
    std::array<std::uint8_t, kPayloadLen> b{};
    write_payload(b.data(), {5, 6});
    Payload out{1, 1};
    EXPECT_FALSE(read_payload(std::span<const std::uint8_t>(b).first(kPayloadLen - 1), out));
    b[1] ^= 0x01;
    EXPECT_FALSE(read_payload(b, out));
    EXPECT_EQ(out, (Payload{1, 1}));
}

TEST(PktgenPayload, sum_of_be64_words_matches_the_bytewise_checksum_sum) {
    std::mt19937_64 rng(3);
    const std::array<std::uint64_t, 3> edges = {0, ~0ull, 0xffff0000ffff0000ull};
    for (std::size_t i = 0; i < 10000; ++i) {
        const std::uint64_t v = i < edges.size() ? edges[i] : rng();
        std::array<std::uint8_t, 8> b{};
        store_be64(b.data(), v);
        ASSERT_EQ(wire::sum_fold(sum_be64_words(v)), wire::sum_fold(wire::checksum_sum_reference(b))) << v;
    }
}

// ---- frames ---------------------------------------------------------------

TrafficConfig config(std::uint32_t size, std::uint32_t flows = 8) {
    TrafficConfig c;
    c.src_mac = {{0x02, 0, 0, 0, 0, 0x01}};
    c.dst_mac = {{0x02, 0, 0, 0, 0, 0x02}};
    c.src_ip = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    c.dst_ip = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    c.src_port = 1024;
    c.dst_port = 9;
    c.flows = flows;
    c.frame_size = size;
    c.run_tag = 0xbeef;
    return c;
}

// Checks a frame with kbnet's checked views and a full checksum recompute.
void expect_valid_frame(std::span<std::uint8_t> f, const TrafficConfig& c, std::uint32_t flow, std::uint64_t seq,
                        std::uint64_t tsc) {
    auto eth = wire::EthernetView::parse(f);
    ASSERT_TRUE(eth);
    EXPECT_EQ(eth->destination(), c.dst_mac);
    EXPECT_EQ(eth->source(), c.src_mac);
    EXPECT_EQ(eth->ether_type(), wire::kEtherTypeIpv4);
    auto ip = wire::Ipv4View::parse(eth->payload());
    ASSERT_TRUE(ip);
    EXPECT_TRUE(ip->header_checksum_ok());
    EXPECT_EQ(ip->total_length(), f.size() - 14);
    EXPECT_EQ(ip->identification(), c.run_tag);
    EXPECT_EQ(ip->protocol(), wire::kIpProtoUdp);
    EXPECT_EQ(ip->source(), c.src_ip);
    EXPECT_EQ(ip->destination(), c.dst_ip);
    EXPECT_FALSE(ip->is_fragment());
    auto udp = wire::UdpView::parse(ip->payload());
    ASSERT_TRUE(udp);
    EXPECT_EQ(udp->source_port(), c.src_port + flow);
    EXPECT_EQ(udp->destination_port(), c.dst_port);
    EXPECT_EQ(udp->length(), f.size() - 34);
    EXPECT_NE(udp->checksum(), 0);  // present, never the "no checksum" zero
    EXPECT_TRUE(udp->checksum_ok(c.src_ip, c.dst_ip)) << "seq " << seq << " tsc " << tsc << " flow " << flow;
    // The incremental checksum is the one a full recompute gives.
    std::vector<std::uint8_t> copy(f.begin(), f.end());
    auto udp_copy = wire::UdpViewMut::parse(std::span<std::uint8_t>(copy).subspan(34));
    ASSERT_TRUE(udp_copy);
    udp_copy->fill_checksum(c.src_ip, c.dst_ip);
    EXPECT_EQ(udp->checksum(), udp_copy->checksum()) << "seq " << seq << " tsc " << tsc;
    Payload p;
    ASSERT_TRUE(read_payload(udp->payload(), p));
    EXPECT_EQ(p, (Payload{seq, tsc}));
    for (std::size_t i = kMinFrameSize; i < f.size(); ++i) ASSERT_EQ(f[i], 0) << "padding byte " << i;
}

TEST(PktgenFrame, stamped_frames_are_valid_udp_with_the_right_checksum_for_every_size) {
    std::mt19937_64 rng(11);
    for (std::uint32_t size : {60u, 61u, 64u, 65u, 127u, 128u, 1024u, 1514u, 9000u}) {
        const TrafficConfig c = config(size);
        auto t = FrameTemplate::build(c);
        ASSERT_TRUE(t) << size;
        ASSERT_EQ(t->size(), size);
        std::vector<std::uint8_t> f(size, 0xa5);  // a recycled buffer: old bytes everywhere
        for (std::uint64_t i = 0; i < 200; ++i) {
            const std::uint64_t seq = i < 2 ? i * ~0ull : rng();
            const std::uint64_t tsc = rng();
            const auto flow = static_cast<std::uint32_t>(rng() % c.flows);
            t->stamp(f.data(), flow, seq, tsc);
            expect_valid_frame(f, c, flow, seq, tsc);
            if (HasFatalFailure() || HasNonfatalFailure()) return;
        }
    }
}

TEST(PktgenFrame, a_computed_zero_udp_checksum_is_sent_as_all_ones) {
    const TrafficConfig c = config(64);
    auto t = FrameTemplate::build(c);
    ASSERT_TRUE(t);
    std::vector<std::uint8_t> f(64);
    t->stamp(f.data(), 0, 0, 0);
    // A timestamp whose low word equals that checksum completes the sum to
    // all ones: the computed checksum becomes 0, which RFC 768 sends as
    // 0xffff.
    const std::uint16_t c0 = load_be16(f.data() + kUdpOffset + 6);
    t->stamp(f.data(), 0, 0, c0);
    EXPECT_EQ(load_be16(f.data() + kUdpOffset + 6), 0xffff);
    expect_valid_frame(f, c, 0, 0, c0);
}

TEST(PktgenFrame, flows_are_consecutive_source_ports) {
    auto t = FrameTemplate::build(config(64, 3));
    ASSERT_TRUE(t);
    std::vector<std::uint8_t> f(64);
    for (std::uint32_t flow = 0; flow < 3; ++flow) {
        t->stamp(f.data(), flow, 0, 0);
        EXPECT_EQ(load_be16(f.data() + kUdpOffset), 1024 + flow);
    }
}

TEST(PktgenFrame, matches_its_own_frames_after_the_echo_swapped_the_macs) {
    const TrafficConfig c = config(128);
    auto t = FrameTemplate::build(c);
    ASSERT_TRUE(t);
    std::vector<std::uint8_t> f(128);
    t->stamp(f.data(), 5, 42, 0x1234567890ull);
    std::swap_ranges(f.begin(), f.begin() + 6, f.begin() + 6);
    Echo e;
    ASSERT_TRUE(t->match(f, e));
    EXPECT_EQ(e.seq, 42u);
    EXPECT_EQ(e.tsc, 0x1234567890ull);
    EXPECT_EQ(e.flow, 5u);
}

TEST(PktgenFrame, does_not_match_frames_that_are_not_this_runs) {
    const TrafficConfig c = config(64, 4);
    auto t = FrameTemplate::build(c);
    ASSERT_TRUE(t);
    std::vector<std::uint8_t> good(64);
    t->stamp(good.data(), 1, 9, 9);
    Echo e;
    ASSERT_TRUE(t->match(good, e));

    auto changed = [&](std::size_t at, std::uint8_t value) {
        std::vector<std::uint8_t> f = good;
        f[at] = value;
        return f;
    };
    EXPECT_FALSE(t->match(std::span<const std::uint8_t>(good).first(59), e)) << "truncated";
    EXPECT_FALSE(t->match(changed(12, 0x86), e)) << "not IPv4";
    EXPECT_FALSE(t->match(changed(14, 0x46), e)) << "IPv4 options";
    EXPECT_FALSE(t->match(changed(23, 6), e)) << "TCP";
    EXPECT_FALSE(t->match(changed(19, 0xee), e)) << "another run's tag";
    EXPECT_FALSE(t->match(changed(37, 10), e)) << "another destination port";
    EXPECT_FALSE(t->match(changed(35, 4 + 4), e)) << "source port past the last flow (1032 >= 1024 + 4)";
    EXPECT_FALSE(t->match(changed(34, 0x03), e)) << "source port below the first flow";
    EXPECT_FALSE(t->match(changed(43, 0x51), e)) << "no magic";
}

TEST(PktgenFrame, refuses_configurations_it_cannot_send) {
    EXPECT_EQ(FrameTemplate::build(config(59)).code(), Errc::invalid_argument);
    EXPECT_EQ(FrameTemplate::build(config(65536)).code(), Errc::invalid_argument);
    EXPECT_EQ(FrameTemplate::build(config(64, 0)).code(), Errc::invalid_argument);
    TrafficConfig c = config(64, 2);
    c.src_port = 0;
    EXPECT_EQ(FrameTemplate::build(c).code(), Errc::invalid_argument);
    c.src_port = 65535;
    EXPECT_EQ(FrameTemplate::build(c).code(), Errc::invalid_argument);  // 65535 + 1 is no port
    c.flows = 1;
    EXPECT_TRUE(FrameTemplate::build(c));
}

}  // namespace
}  // namespace kbnet::tools
