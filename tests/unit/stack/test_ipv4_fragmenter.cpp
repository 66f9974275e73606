// IPv4 fragmentation (RFC 791 §2.3, §3.2): byte-exact headers, MTU edges,
// DF, options, all-or-nothing allocation, and round trips through the
// reassembler.
#include "kbnet/stack/ipv4_fragmenter.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "kbnet/core/buffer_area.hpp"
#include "kbnet/core/frame_pool.hpp"
#include "kbnet/core/log.hpp"
#include "kbnet/stack/ipv4_reassembly.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {
namespace {

using Bytes = std::vector<std::uint8_t>;
using wire::Ipv4Address;

// The headers of a 4000-byte UDP datagram (4008 bytes of IP payload) from
// 192.168.1.10 to 192.168.1.1, id 0x1c46, TTL 64, at MTU 1500: payloads of
// 1480, 1480 and 1048 bytes at offsets 0, 185 and 370 (8-byte units), MF
// on the first two. Checksums computed independently (Python).
// clang-format off
constexpr std::array<std::array<std::uint8_t, 20>, 3> kExpectedHeaders = {{
    // total length 1500, flags MF, offset 0
    {0x45, 0x00, 0x05, 0xdc, 0x1c, 0x46, 0x20, 0x00, 0x40, 0x11, 0xb5, 0x6f,
     0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01},
    // total length 1500, flags MF, offset 185
    {0x45, 0x00, 0x05, 0xdc, 0x1c, 0x46, 0x20, 0xb9, 0x40, 0x11, 0xb4, 0xb6,
     0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01},
    // total length 1068, no flags, offset 370
    {0x45, 0x00, 0x04, 0x2c, 0x1c, 0x46, 0x01, 0x72, 0x40, 0x11, 0xd5, 0xad,
     0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x01},
}};
// clang-format on

wire::Ipv4Header udp_header(std::uint16_t id = 0x1c46) {
    wire::Ipv4Header h;
    h.identification = id;
    h.protocol = wire::kIpProtoUdp;
    h.source = Ipv4Address::from_octets(192, 168, 1, 10);
    h.destination = Ipv4Address::from_octets(192, 168, 1, 1);
    return h;
}

Bytes random_bytes(std::size_t n, std::uint32_t seed) {
    Bytes b(n);
    std::mt19937 rng(seed);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

// The datagram unfragmented, as reassembly must give it back.
Bytes whole(wire::Ipv4Header h, const Bytes& payload) {
    h.payload_len = static_cast<std::uint16_t>(payload.size());
    Bytes out(h.total_length());
    EXPECT_TRUE(h.emit(out).ok());
    std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(h.header_len()));
    return out;
}

class Ipv4Fragmenter : public testing::Test {
  protected:
    static constexpr std::uint16_t kHeadroom = 128;
    static BufferAreaConfig config() {
        BufferAreaConfig c;
        c.frame_count = 128;
        c.frame_size = 2048;
        c.headroom = kHeadroom;
        c.hugepages = false;
        return c;
    }
    Ipv4Fragmenter() : quiet_(), area_(config()), pool_(area_, 0, 128) {}
    ~Ipv4Fragmenter() override { set_log_level(LogLevel::info); }

    std::span<const std::uint8_t> bytes(PacketHandle h) const { return area_.bytes(h); }
    wire::Ipv4View view(PacketHandle h) const {
        auto v = wire::Ipv4View::parse(bytes(h));
        EXPECT_TRUE(v.ok());
        return *v;
    }

    struct Quiet {
        Quiet() { set_log_level(LogLevel::warn); }
    } quiet_;
    BufferArea area_;
    FramePool pool_;
    std::array<PacketHandle, 64> out_{};
};

TEST_F(Ipv4Fragmenter, splits_a_4000_byte_udp_datagram_at_mtu_1500_into_exact_headers) {
    const Bytes payload = random_bytes(4008, 1);
    auto n = ipv4_fragment(udp_header(), payload, 1500, pool_, out_);
    ASSERT_TRUE(n.ok()) << n.error().reason;
    ASSERT_EQ(*n, 3u);
    const std::array<std::size_t, 3> sizes = {1480, 1480, 1048};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        const auto b = bytes(out_[i]);
        ASSERT_EQ(b.size(), 20 + sizes[i]) << i;
        EXPECT_TRUE(std::equal(kExpectedHeaders[i].begin(), kExpectedHeaders[i].end(), b.begin())) << "header " << i;
        EXPECT_TRUE(std::equal(b.begin() + 20, b.end(), payload.begin() + static_cast<std::ptrdiff_t>(offset)))
            << "payload " << i;
        offset += sizes[i];
    }
    EXPECT_EQ(pool_.available(), 125u);
    pool_.free(std::span<const PacketHandle>(out_.data(), 3));
}

TEST_F(Ipv4Fragmenter, fragments_pass_view_validation_with_valid_checksums) {
    const Bytes payload = random_bytes(5000, 2);
    auto n = ipv4_fragment(udp_header(), payload, 1500, pool_, out_);
    ASSERT_TRUE(n.ok());
    std::size_t expected_offset = 0;
    for (std::size_t i = 0; i < *n; ++i) {
        auto v = wire::Ipv4View::parse(bytes(out_[i]));
        ASSERT_TRUE(v.ok()) << i;
        EXPECT_TRUE(v->header_checksum_ok()) << i;
        EXPECT_LE(v->total_length(), 1500u);
        EXPECT_EQ(v->identification(), 0x1c46);
        EXPECT_EQ(v->fragment_offset(), expected_offset);
        EXPECT_EQ(v->more_fragments(), i + 1 < *n);
        if (i + 1 < *n) {
            EXPECT_EQ(v->payload().size() % 8, 0u);
        }
        expected_offset += v->payload().size();
    }
    EXPECT_EQ(expected_offset, payload.size());
    pool_.free(std::span<const PacketHandle>(out_.data(), *n));
}

TEST_F(Ipv4Fragmenter, leaves_the_pools_headroom_in_front_of_each_fragment) {
    auto n = ipv4_fragment(udp_header(), random_bytes(3000, 3), 1500, pool_, out_);
    ASSERT_TRUE(n.ok());
    for (std::size_t i = 0; i < *n; ++i) {
        EXPECT_EQ(out_[i].offset, kHeadroom) << i;
        EXPECT_EQ(area_.data(out_[i])[0], 0x45) << i;  // the IPv4 header starts at the offset
    }
    pool_.free(std::span<const PacketHandle>(out_.data(), *n));
}

TEST_F(Ipv4Fragmenter, refuses_a_df_datagram_larger_than_the_mtu_and_takes_no_frame) {
    wire::Ipv4Header h = udp_header();
    h.dont_fragment = true;
    auto n = ipv4_fragment(h, random_bytes(1481, 4), 1500, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, sends_a_df_datagram_that_fits_the_mtu_as_one_packet) {
    wire::Ipv4Header h = udp_header();
    h.dont_fragment = true;
    const Bytes payload = random_bytes(1480, 5);
    auto n = ipv4_fragment(h, payload, 1500, pool_, out_);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 1u);
    const Bytes sent(bytes(out_[0]).begin(), bytes(out_[0]).end());
    EXPECT_EQ(sent, whole(h, payload));
    EXPECT_FALSE(view(out_[0]).is_fragment());
    pool_.free(out_[0]);
}

TEST_F(Ipv4Fragmenter, splits_a_payload_of_an_exact_multiple_of_the_fragment_size_with_no_empty_tail) {
    auto n = ipv4_fragment(udp_header(), random_bytes(2960, 6), 1500, pool_, out_);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 2u);
    EXPECT_EQ(view(out_[0]).total_length(), 1500);
    EXPECT_TRUE(view(out_[0]).more_fragments());
    EXPECT_EQ(view(out_[1]).total_length(), 1500);
    EXPECT_FALSE(view(out_[1]).more_fragments());
    EXPECT_EQ(view(out_[1]).fragment_offset(), 1480u);
    pool_.free(std::span<const PacketHandle>(out_.data(), 2));
}

TEST_F(Ipv4Fragmenter, fragments_at_the_minimum_mtu_of_68_carry_48_bytes_each) {
    const Bytes payload = random_bytes(100, 7);
    auto count = ipv4_fragment_count(udp_header(), payload.size(), kIpv4MinMtu);
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 3u);
    auto n = ipv4_fragment(udp_header(), payload, kIpv4MinMtu, pool_, out_);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 3u);
    const std::array<std::size_t, 3> sizes = {48, 48, 4};
    const std::array<std::uint32_t, 3> offsets = {0, 48, 96};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(view(out_[i]).payload().size(), sizes[i]) << i;
        EXPECT_EQ(view(out_[i]).fragment_offset(), offsets[i]) << i;
        EXPECT_LE(out_[i].length, 68u);
    }
    pool_.free(std::span<const PacketHandle>(out_.data(), 3));
}

TEST_F(Ipv4Fragmenter, rejects_an_mtu_below_68) {
    auto n = ipv4_fragment(udp_header(), random_bytes(100, 8), 67, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, rejects_an_mtu_larger_than_a_frames_room) {
    // 2048-byte frames with 128 bytes of headroom leave 1920.
    auto n = ipv4_fragment(udp_header(), random_bytes(4000, 9), 9000, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
    EXPECT_EQ(pool_.available(), 128u);
    // A large MTU is fine when the datagram itself fits a frame.
    auto small = ipv4_fragment(udp_header(), random_bytes(1000, 9), 9000, pool_, out_);
    ASSERT_TRUE(small.ok());
    pool_.free(out_[0]);
}

TEST_F(Ipv4Fragmenter, rejects_a_datagram_longer_than_65535_bytes) {
    const Bytes payload(65516);
    auto n = ipv4_fragment(udp_header(), payload, 1500, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
}

TEST_F(Ipv4Fragmenter, takes_no_frame_when_the_pool_has_too_few) {
    FramePool small(area_, 0, 2);
    auto n = ipv4_fragment(udp_header(), random_bytes(4008, 10), 1500, small, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::no_buffers);
    EXPECT_EQ(small.available(), 2u);
    // With enough frames the same call succeeds and takes them all.
    FramePool enough(area_, 2, 3);
    auto ok = ipv4_fragment(udp_header(), random_bytes(4008, 10), 1500, enough, out_);
    ASSERT_TRUE(ok.ok());
    EXPECT_EQ(enough.available(), 0u);
}

TEST_F(Ipv4Fragmenter, rejects_a_handle_span_shorter_than_the_fragment_count) {
    std::array<PacketHandle, 2> two{};
    auto n = ipv4_fragment(udp_header(), random_bytes(4008, 11), 1500, pool_, two);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, frees_every_frame_when_a_header_field_is_out_of_range) {
    wire::Ipv4Header h = udp_header();
    h.dscp = 64;  // six bits only: emit() refuses it
    auto n = ipv4_fragment(h, random_bytes(4008, 12), 1500, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, copies_only_options_with_the_copied_flag_into_later_fragments) {
    wire::Ipv4Header h = udp_header();
    // Router Alert (type 148, copied), No Operation, Record Route (type 7,
    // not copied) with room for one address: 12 bytes, a 32-byte header.
    const std::array<std::uint8_t, 12> options = {0x94, 0x04, 0x00, 0x00, 0x01, 0x07,
                                                  0x07, 0x04, 0x00, 0x00, 0x00, 0x00};
    ASSERT_TRUE(h.add_option(options).ok());
    const Bytes payload = random_bytes(200, 13);
    auto n = ipv4_fragment(h, payload, 100, pool_, out_);
    ASSERT_TRUE(n.ok());
    // First: (100 - 32) / 8 * 8 = 64 bytes; later: (100 - 24) / 8 * 8 = 72.
    ASSERT_EQ(*n, 3u);
    const auto first = view(out_[0]);
    EXPECT_EQ(first.header_len(), 32u);
    EXPECT_TRUE(std::equal(options.begin(), options.end(), first.options().begin()));
    EXPECT_EQ(first.payload().size(), 64u);
    for (std::size_t i = 1; i < 3; ++i) {
        const auto later = view(out_[i]);
        EXPECT_EQ(later.header_len(), 24u) << i;
        const std::array<std::uint8_t, 4> router_alert = {0x94, 0x04, 0x00, 0x00};
        EXPECT_TRUE(std::equal(router_alert.begin(), router_alert.end(), later.options().begin())) << i;
        EXPECT_TRUE(later.header_checksum_ok());
    }
    EXPECT_EQ(view(out_[1]).payload().size(), 72u);
    EXPECT_EQ(view(out_[1]).fragment_offset(), 64u);
    EXPECT_EQ(view(out_[2]).payload().size(), 64u);
    EXPECT_EQ(view(out_[2]).fragment_offset(), 136u);
    pool_.free(std::span<const PacketHandle>(out_.data(), 3));
}

TEST_F(Ipv4Fragmenter, rejects_an_option_whose_length_runs_past_the_options_area) {
    wire::Ipv4Header h = udp_header();
    const std::array<std::uint8_t, 4> bad = {0x94, 0x08, 0x00, 0x00};
    ASSERT_TRUE(h.add_option(bad).ok());
    auto n = ipv4_fragment(h, random_bytes(200, 14), 100, pool_, out_);
    ASSERT_FALSE(n.ok());
    EXPECT_EQ(n.code(), Errc::invalid_argument);
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, fragments_a_fragment_again_keeping_its_offset_and_last_mf) {
    // A middle fragment (offset 1480, MF set) forwarded over a smaller MTU.
    wire::Ipv4Header h = udp_header();
    h.fragment_offset = 1480;
    h.more_fragments = true;
    auto n = ipv4_fragment(h, random_bytes(1480, 15), 576, pool_, out_);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 3u);
    EXPECT_EQ(view(out_[0]).fragment_offset(), 1480u);
    EXPECT_EQ(view(out_[1]).fragment_offset(), 1480u + 552);
    EXPECT_EQ(view(out_[2]).fragment_offset(), 1480u + 1104);
    for (std::size_t i = 0; i < 3; ++i) EXPECT_TRUE(view(out_[i]).more_fragments()) << i;
    pool_.free(std::span<const PacketHandle>(out_.data(), 3));
}

TEST_F(Ipv4Fragmenter, fragment_count_matches_what_fragment_writes) {
    for (std::uint32_t mtu : {68u, 576u, 1280u, 1500u}) {
        for (std::size_t len : {0u, 1u, 48u, 1472u, 1480u, 1481u, 4008u, 20000u}) {
            auto count = ipv4_fragment_count(udp_header(), len, mtu);
            ASSERT_TRUE(count.ok());
            if (*count > out_.size()) continue;
            auto n = ipv4_fragment(udp_header(), random_bytes(len, 16), mtu, pool_, out_);
            ASSERT_TRUE(n.ok()) << mtu << " " << len << ": " << n.error().reason;
            EXPECT_EQ(*n, *count) << mtu << " " << len;
            pool_.free(std::span<const PacketHandle>(out_.data(), *n));
        }
    }
}

TEST_F(Ipv4Fragmenter, round_trips_through_the_reassembler_in_shuffled_orders) {
    Ipv4ReassemblyConfig config;
    config.max_fragments = 512;
    Ipv4Reassembler reassembler(config);
    std::vector<PacketHandle> handles(128);
    std::uint32_t seed = 0;
    for (std::uint32_t mtu : {68u, 576u, 1500u}) {
        for (std::size_t len : {8u, 1000u, 4008u, 6000u}) {
            ++seed;
            wire::Ipv4Header h = udp_header(static_cast<std::uint16_t>(seed));
            if (seed % 2 == 0) {
                ASSERT_TRUE(h.add_router_alert().ok());
            }
            const Bytes payload = random_bytes(len, seed);
            auto count = ipv4_fragment_count(h, len, mtu);
            ASSERT_TRUE(count.ok());
            if (*count > handles.size()) continue;  // 6000 bytes at MTU 68 is more frames than the pool
            auto n = ipv4_fragment(h, payload, mtu, pool_, handles);
            ASSERT_TRUE(n.ok()) << n.error().reason;
            std::vector<PacketHandle> sent(handles.begin(), handles.begin() + static_cast<std::ptrdiff_t>(*n));
            std::mt19937 rng(seed);
            std::shuffle(sent.begin(), sent.end(), rng);
            if (*n == 1) {
                // Fits the MTU: not a fragment, and equal to the datagram.
                EXPECT_EQ(Bytes(bytes(sent[0]).begin(), bytes(sent[0]).end()), whole(h, payload));
                pool_.free(sent[0]);
                continue;
            }
            Bytes result;
            for (std::size_t i = 0; i < sent.size(); ++i) {
                auto out = reassembler.add(view(sent[i]), 0);
                pool_.free(sent[i]);  // the reassembler copied it
                ASSERT_TRUE(out.ok()) << out.error().reason;
                if (out->state == Ipv4ReassemblyState::complete) {
                    EXPECT_EQ(i + 1, sent.size());
                    result.assign(out->datagram.begin(), out->datagram.end());
                    reassembler.release(out->buffer);
                }
            }
            EXPECT_EQ(result, whole(h, payload)) << "mtu " << mtu << " payload " << len << " seed " << seed;
        }
    }
    EXPECT_EQ(pool_.available(), 128u);
    EXPECT_EQ(reassembler.counters().reasm_fails, 0u);
}

// ---- into frames the caller allocated (the stack's output path)

TEST_F(Ipv4Fragmenter, caller_frames_get_the_same_exact_headers_with_the_payload_gathered_from_two_pieces) {
    const Bytes payload = random_bytes(4008, 1);
    // An 8-byte transport header built apart from its data, as UDP sends.
    const std::span<const std::uint8_t> head(payload.data(), 8);
    const std::span<const std::uint8_t> body(payload.data() + 8, payload.size() - 8);
    auto count = ipv4_fragment_count(udp_header(), payload.size(), 1500);
    ASSERT_TRUE(count.ok());
    ASSERT_EQ(*count, 3u);
    std::array<PacketHandle, 3> frames{};
    ASSERT_TRUE(pool_.alloc_bulk(frames));
    auto n = ipv4_fragment(udp_header(), head, body, 1500, area_, frames);
    ASSERT_TRUE(n.ok()) << n.error().reason;
    ASSERT_EQ(*n, 3u);
    const std::array<std::size_t, 3> sizes = {1480, 1480, 1048};
    std::size_t offset = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        const auto b = bytes(frames[i]);
        ASSERT_EQ(b.size(), 20 + sizes[i]) << i;
        EXPECT_EQ(frames[i].offset, kHeadroom);  // the link header still fits in front
        EXPECT_TRUE(std::equal(kExpectedHeaders[i].begin(), kExpectedHeaders[i].end(), b.begin())) << "header " << i;
        EXPECT_TRUE(std::equal(b.begin() + 20, b.end(), payload.begin() + static_cast<std::ptrdiff_t>(offset)))
            << "payload " << i;
        offset += sizes[i];
    }
    pool_.free(frames);
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, caller_frames_hold_an_unfragmented_datagram_that_fits) {
    const Bytes payload = random_bytes(100, 2);
    PacketHandle frame{};
    ASSERT_TRUE(pool_.alloc(frame));
    auto n = ipv4_fragment(udp_header(), {}, payload, 1500, area_, std::span<PacketHandle>(&frame, 1));
    ASSERT_TRUE(n.ok()) << n.error().reason;
    EXPECT_EQ(*n, 1u);
    EXPECT_EQ(Bytes(bytes(frame).begin(), bytes(frame).end()), whole(udp_header(), payload));
    pool_.free(frame);
}

TEST_F(Ipv4Fragmenter, caller_frames_refuse_a_span_not_the_fragment_count_and_df) {
    const Bytes payload = random_bytes(4008, 3);
    std::array<PacketHandle, 4> frames{};
    ASSERT_TRUE(pool_.alloc_bulk(frames));
    // One more frame than fragments: the caller could not tell which to send.
    auto extra = ipv4_fragment(udp_header(), {}, payload, 1500, area_, frames);
    ASSERT_FALSE(extra.ok());
    EXPECT_EQ(extra.code(), Errc::invalid_argument);
    wire::Ipv4Header df = udp_header();
    df.dont_fragment = true;
    auto refused = ipv4_fragment(df, {}, payload, 1500, area_, std::span<PacketHandle>(frames).first(3));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.code(), Errc::invalid_argument);
    pool_.free(frames);  // the caller kept them all
    EXPECT_EQ(pool_.available(), 128u);
}

TEST_F(Ipv4Fragmenter, caller_frames_keep_only_copied_options_after_the_first_fragment) {
    wire::Ipv4Header h = udp_header();
    // Router Alert (type 148: copied flag set) and a record-route-like
    // option without the flag (type 7, 7 bytes: RFC 791 Record Route).
    ASSERT_TRUE(h.add_option(wire::kIpv4RouterAlertOption).ok());
    const std::array<std::uint8_t, 7> record_route = {7, 7, 4, 0, 0, 0, 0};
    ASSERT_TRUE(h.add_option(record_route).ok());
    const Bytes payload = random_bytes(3000, 4);
    auto count = ipv4_fragment_count(h, payload.size(), 1500);
    ASSERT_TRUE(count.ok());
    std::vector<PacketHandle> frames(*count);
    ASSERT_TRUE(pool_.alloc_bulk(frames));
    auto n = ipv4_fragment(h, {}, payload, 1500, area_, frames);
    ASSERT_TRUE(n.ok()) << n.error().reason;
    EXPECT_EQ(view(frames[0]).header_len(), 32u);  // 20 + 4 + 7, padded to 32
    for (std::size_t i = 1; i < frames.size(); ++i) {
        EXPECT_EQ(view(frames[i]).header_len(), 24u) << i;  // Router Alert only
        EXPECT_TRUE(std::equal(wire::kIpv4RouterAlertOption.begin(), wire::kIpv4RouterAlertOption.end(),
                               view(frames[i]).options().begin()));
    }
    pool_.free(frames);
}

}  // namespace
}  // namespace kbnet::stack
