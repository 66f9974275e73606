// TCP segments (RFC 9293 §3.1) and options: MSS, window scale and
// timestamps (RFC 7323), SACK (RFC 2018).
#include "kbnet/wire/tcp.hpp"

#include <array>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "kbnet/wire/ipv4.hpp"

namespace kbnet::wire {
namespace {

// Fixtures (checked with tshark, checksums computed independently in
// Python): a Linux SYN (the option layout of tcp_options_write, as captured
// from a 6.x kernel, with Ethernet's MSS) and a data segment carrying
// timestamps and two SACK blocks.
// clang-format off
constexpr std::array<std::uint8_t, 60> kSynPacket = {
    // IPv4: IHL 5, total length 60, id 0xedda, DF, TTL 64, protocol 6 (TCP), checksum
    0x45, 0x00, 0x00, 0x3c, 0xed, 0xda, 0x40, 0x00, 0x40, 0x06, 0xc9, 0x72,
    // source 192.168.1.10, destination 192.168.1.20
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x14,
    // TCP: port 51234 -> 443, seq 0xbf560c20, ack 0
    0xc8, 0x22, 0x01, 0xbb, 0xbf, 0x56, 0x0c, 0x20, 0x00, 0x00, 0x00, 0x00,
    // data offset 10 (40 bytes), flags SYN, window 64240, checksum, urgent 0
    0xa0, 0x02, 0xfa, 0xf0, 0x0c, 0xb6, 0x00, 0x00,
    // MSS 1460
    0x02, 0x04, 0x05, 0xb4,
    // SACK permitted
    0x04, 0x02,
    // timestamps TSval 0x137e1418 TSecr 0
    0x08, 0x0a, 0x13, 0x7e, 0x14, 0x18, 0x00, 0x00, 0x00, 0x00,
    // NOP, window scale 7
    0x01, 0x03, 0x03, 0x07,
};

constexpr std::array<std::uint8_t, 76> kSackPacket = {
    // IPv4: IHL 5, total length 76, id 0xeddb, DF, TTL 64, protocol 6 (TCP), checksum
    0x45, 0x00, 0x00, 0x4c, 0xed, 0xdb, 0x40, 0x00, 0x40, 0x06, 0xc9, 0x61,
    // source 192.168.1.10, destination 192.168.1.20
    0xc0, 0xa8, 0x01, 0x0a, 0xc0, 0xa8, 0x01, 0x14,
    // TCP: port 51234 -> 443, seq 0xbf560c21, ack 0x68920d2c
    0xc8, 0x22, 0x01, 0xbb, 0xbf, 0x56, 0x0c, 0x21, 0x68, 0x92, 0x0d, 0x2c,
    // data offset 13 (52 bytes), flags PSH|ACK, window 502, checksum, urgent 0
    0xd0, 0x18, 0x01, 0xf6, 0x6a, 0x06, 0x00, 0x00,
    // NOP, NOP, timestamps TSval 0x137e2000 TSecr 0xc104586d
    0x01, 0x01, 0x08, 0x0a, 0x13, 0x7e, 0x20, 0x00, 0xc1, 0x04, 0x58, 0x6d,
    // NOP, NOP, SACK length 18 (two blocks)
    0x01, 0x01, 0x05, 0x12,
    // SACK blocks 0x68921000-0x68921400, 0x68921800-0x68921c00
    0x68, 0x92, 0x10, 0x00, 0x68, 0x92, 0x14, 0x00, 0x68, 0x92, 0x18, 0x00,
    0x68, 0x92, 0x1c, 0x00,
    // payload "ping"
    0x70, 0x69, 0x6e, 0x67,
};
// clang-format on

const Ipv4Address kHostIp = Ipv4Address::from_octets(192, 168, 1, 10);
const Ipv4Address kPeerIp = Ipv4Address::from_octets(192, 168, 1, 20);

template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::array<std::uint8_t, N>& a) {
    return {a.begin(), a.end()};
}

// The TCP segment of a fixture packet (after its 20-byte IPv4 header).
template <std::size_t N>
std::vector<std::uint8_t> segment_of(const std::array<std::uint8_t, N>& packet) {
    return {packet.begin() + 20, packet.end()};
}

// A 20-byte header followed by the given options area (a multiple of 4).
std::vector<std::uint8_t> segment_with_options(std::span<const std::uint8_t> options) {
    std::vector<std::uint8_t> seg(20 + options.size());
    std::copy(kSynPacket.begin() + 20, kSynPacket.begin() + 40, seg.begin());
    std::copy(options.begin(), options.end(), seg.begin() + 20);
    seg[12] = static_cast<std::uint8_t>(seg.size() / 4 << 4);
    return seg;
}

TEST(Tcp, parses_linux_syn_header) {
    auto ip = Ipv4View::parse(kSynPacket);
    ASSERT_TRUE(ip.ok());
    auto tcp = TcpView::parse(ip->payload());
    ASSERT_TRUE(tcp.ok()) << tcp.error().reason;
    EXPECT_EQ(tcp->source_port(), 51234);
    EXPECT_EQ(tcp->destination_port(), 443);
    EXPECT_EQ(tcp->seq_number(), 0xbf560c20u);
    EXPECT_EQ(tcp->ack_number(), 0u);
    EXPECT_EQ(tcp->header_len(), 40u);
    EXPECT_EQ(tcp->reserved_bits(), 0);
    EXPECT_EQ(tcp->flags(), kTcpSyn);
    EXPECT_TRUE(tcp->syn());
    EXPECT_FALSE(tcp->ack() || tcp->fin() || tcp->rst() || tcp->psh() || tcp->urg() || tcp->ece() || tcp->cwr());
    EXPECT_EQ(tcp->window(), 64240);
    EXPECT_EQ(tcp->urgent_pointer(), 0);
    EXPECT_EQ(tcp->option_bytes().size(), 20u);
    EXPECT_TRUE(tcp->payload().empty());
    EXPECT_EQ(tcp->segment_length(), 1u);  // SYN occupies one sequence number
    EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));
}

TEST(Tcp, parses_linux_syn_options) {
    auto tcp = TcpView::parse(std::span<const std::uint8_t>(kSynPacket).subspan(20));
    ASSERT_TRUE(tcp.ok());
    const TcpOptions o = tcp->options();
    ASSERT_TRUE(o.mss.has_value());
    EXPECT_EQ(*o.mss, 1460);
    EXPECT_TRUE(o.sack_permitted);
    ASSERT_TRUE(o.timestamps.has_value());
    EXPECT_EQ(o.timestamps->value, 0x137e1418u);
    EXPECT_EQ(o.timestamps->echo_reply, 0u);
    ASSERT_TRUE(o.window_scale.has_value());
    EXPECT_EQ(*o.window_scale, 7);
    EXPECT_EQ(o.sack_count, 0);

    std::vector<std::uint8_t> kinds;
    for (const TlvOption& opt : tcp->option_list()) kinds.push_back(opt.kind);
    EXPECT_EQ(kinds, (std::vector<std::uint8_t>{kTcpOptionMss, kTcpOptionSackPermitted, kTcpOptionTimestamps,
                                                kTcpOptionWindowScale}));
}

TEST(Tcp, builds_linux_syn_packet_byte_exact) {
    TcpHeader h;
    h.source_port = 51234;
    h.destination_port = 443;
    h.seq_number = 0xbf560c20;
    h.flags = kTcpSyn;
    h.window = 64240;
    h.options.mss = 1460;
    h.options.sack_permitted = true;
    h.options.timestamps = TcpTimestamps{0x137e1418, 0};
    h.options.window_scale = 7;
    ASSERT_EQ(h.header_len(), 40u);

    std::vector<std::uint8_t> packet(60);
    Ipv4Header ip;
    ip.identification = 0xedda;
    ip.dont_fragment = true;
    ip.protocol = kIpProtoTcp;
    ip.source = kHostIp;
    ip.destination = kPeerIp;
    ip.payload_len = 40;
    ASSERT_TRUE(ip.emit(packet).ok());
    ASSERT_TRUE(h.emit(std::span<std::uint8_t>(packet).subspan(20), kHostIp, kPeerIp).ok());
    EXPECT_EQ(packet, bytes_of(kSynPacket));
}

TEST(Tcp, parses_timestamps_and_sack_blocks) {
    auto ip = Ipv4View::parse(kSackPacket);
    ASSERT_TRUE(ip.ok());
    auto tcp = TcpView::parse(ip->payload());
    ASSERT_TRUE(tcp.ok());
    EXPECT_EQ(tcp->flags(), kTcpPsh | kTcpAck);
    EXPECT_EQ(tcp->ack_number(), 0x68920d2cu);
    EXPECT_EQ(tcp->window(), 502);
    EXPECT_EQ(tcp->header_len(), 52u);
    const TcpOptions o = tcp->options();
    EXPECT_FALSE(o.mss.has_value());
    EXPECT_FALSE(o.window_scale.has_value());
    EXPECT_FALSE(o.sack_permitted);
    EXPECT_EQ(o.timestamps, (TcpTimestamps{0x137e2000, 0xc104586d}));
    ASSERT_EQ(o.sack_count, 2);
    EXPECT_EQ(o.sack_blocks[0], (TcpSackBlock{0x68921000, 0x68921400}));
    EXPECT_EQ(o.sack_blocks[1], (TcpSackBlock{0x68921800, 0x68921c00}));
    ASSERT_EQ(tcp->payload().size(), 4u);
    EXPECT_EQ(tcp->payload()[0], 'p');
    EXPECT_EQ(tcp->segment_length(), 4u);
    EXPECT_TRUE(tcp->checksum_ok(ip->source(), ip->destination()));
}

TEST(Tcp, builds_sack_segment_byte_exact) {
    auto packet = bytes_of(kSackPacket);
    std::fill(packet.begin() + 20, packet.end() - 4, std::uint8_t{0});  // keep only the payload
    TcpHeader h;
    h.source_port = 51234;
    h.destination_port = 443;
    h.seq_number = 0xbf560c21;
    h.ack_number = 0x68920d2c;
    h.flags = kTcpPsh | kTcpAck;
    h.window = 502;
    h.options.timestamps = TcpTimestamps{0x137e2000, 0xc104586d};
    h.options.sack_count = 2;
    h.options.sack_blocks[0] = {0x68921000, 0x68921400};
    h.options.sack_blocks[1] = {0x68921800, 0x68921c00};
    ASSERT_TRUE(h.emit(std::span<std::uint8_t>(packet).subspan(20), kHostIp, kPeerIp).ok());
    EXPECT_EQ(packet, bytes_of(kSackPacket));
}

TEST(Tcp, round_trips_fixtures_through_value) {
    for (auto seg : {segment_of(kSynPacket), segment_of(kSackPacket)}) {
        auto tcp = TcpView::parse(seg);
        ASSERT_TRUE(tcp.ok());
        const TcpHeader h = TcpHeader::from_view(*tcp);
        std::vector<std::uint8_t> out = seg;
        std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(h.header_len()), std::uint8_t{0});
        ASSERT_TRUE(h.emit(out, kHostIp, kPeerIp).ok());
        EXPECT_EQ(out, seg);
    }
}

TEST(Tcp, encodes_sack_permitted_and_timestamps_alone_like_linux) {
    TcpOptions o;
    o.sack_permitted = true;
    std::array<std::uint8_t, 40> out{};
    auto n = o.encode(out);
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(*n, 4u);
    EXPECT_EQ((std::array<std::uint8_t, 4>{out[0], out[1], out[2], out[3]}),
              (std::array<std::uint8_t, 4>{0x01, 0x01, 0x04, 0x02}));

    TcpOptions t;
    t.timestamps = TcpTimestamps{1, 2};
    auto tn = t.encode(out);
    ASSERT_TRUE(tn.ok());
    ASSERT_EQ(*tn, 12u);
    const std::array<std::uint8_t, 12> expect = {0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0, 2};
    EXPECT_TRUE(std::equal(expect.begin(), expect.end(), out.begin()));
    EXPECT_EQ(TcpOptions::decode(std::span<const std::uint8_t>(out).first(12)), t);
}

TEST(Tcp, skips_unknown_options) {
    // MPTCP-like kind 30 of length 6, then MSS 536, then an experimental
    // kind 253 of length 4 (RFC 6994), then EOL.
    const std::array<std::uint8_t, 16> opts = {30,   6,    0xaa, 0xbb, 0xcc, 0xdd, 2, 4,
                                               0x02, 0x18, 253,  4,    0xf9, 0x89, 0, 0};
    auto seg = segment_with_options(opts);
    auto tcp = TcpView::parse(seg);
    ASSERT_TRUE(tcp.ok()) << tcp.error().reason;
    const TcpOptions o = tcp->options();
    ASSERT_TRUE(o.mss.has_value());
    EXPECT_EQ(*o.mss, 536);
    std::vector<std::uint8_t> kinds;
    for (const TlvOption& opt : tcp->option_list()) kinds.push_back(opt.kind);
    EXPECT_EQ(kinds, (std::vector<std::uint8_t>{30, kTcpOptionMss, 253}));
}

TEST(Tcp, ignores_known_options_with_wrong_length) {
    // MSS of length 3, window scale of length 4, SACK-permitted of length 3,
    // SACK of length 14 (one block and 4 stray bytes, not 8n + 2),
    // timestamps of length 6, EOL padding.
    const std::array<std::uint8_t, 32> opts = {2, 3, 0x05, 3, 4, 7,  0,  4,  3, 0, 5, 14, 1, 2, 3, 4,
                                               5, 6, 7,    8, 9, 10, 11, 12, 8, 6, 1, 2,  3, 4, 0, 0};
    auto seg = segment_with_options(opts);
    auto tcp = TcpView::parse(seg);
    ASSERT_TRUE(tcp.ok()) << tcp.error().reason;
    EXPECT_EQ(tcp->options(), TcpOptions{});
}

TEST(Tcp, rejects_data_offset_below_five) {
    // Zero bytes after the fixed header, so nothing else could fail the
    // parse (they read as End of Option List).
    std::vector<std::uint8_t> seg(40);
    std::copy(kSynPacket.begin() + 20, kSynPacket.begin() + 40, seg.begin());
    for (std::uint8_t doff = 0; doff < 5; ++doff) {
        seg[12] = static_cast<std::uint8_t>(doff << 4);
        auto tcp = TcpView::parse(seg);
        ASSERT_FALSE(tcp.ok()) << int{doff};
        EXPECT_EQ(tcp.code(), Errc::malformed) << int{doff};
    }
    seg[12] = 0x50;
    EXPECT_TRUE(TcpView::parse(seg).ok());
}

TEST(Tcp, rejects_data_offset_beyond_segment) {
    auto seg = segment_of(kSynPacket);
    seg[12] = 0xb0;  // 44 bytes of header in a 40-byte segment
    auto tcp = TcpView::parse(seg);
    ASSERT_FALSE(tcp.ok());
    EXPECT_EQ(tcp.code(), Errc::truncated);
}

TEST(Tcp, rejects_every_prefix_shorter_than_the_header) {
    const auto seg = segment_of(kSackPacket);
    for (std::size_t n = 0; n < seg.size(); ++n) {
        std::vector<std::uint8_t> prefix(seg.begin(), seg.begin() + static_cast<std::ptrdiff_t>(n));
        auto tcp = TcpView::parse(prefix);
        if (n < 52) {
            ASSERT_FALSE(tcp.ok()) << n;
            EXPECT_EQ(tcp.code(), Errc::truncated) << n;
        } else {
            // TCP has no length field: a shorter segment is shorter data,
            // which IPv4's total length (and the checksum) catch.
            ASSERT_TRUE(tcp.ok()) << n;
            EXPECT_EQ(tcp->payload().size(), n - 52);
            EXPECT_FALSE(tcp->checksum_ok(kHostIp, kPeerIp)) << n;
        }
    }
}

TEST(Tcp, rejects_option_length_zero_one_or_past_options_area) {
    const std::array<std::array<std::uint8_t, 4>, 5> bad = {{
        {2, 0, 0, 0},     // length 0 (the example of RFC 9293 MUST-7)
        {2, 1, 0, 0},     // length 1
        {8, 10, 0, 0},    // timestamps running past the area
        {1, 1, 1, 2},     // kind at the last byte, no length octet
        {30, 255, 0, 0},  // unknown kind with a huge length
    }};
    for (std::size_t i = 0; i < bad.size(); ++i) {
        auto seg = segment_with_options(bad[i]);
        auto tcp = TcpView::parse(seg);
        ASSERT_FALSE(tcp.ok()) << i;
        EXPECT_EQ(tcp.code(), Errc::malformed) << i;
    }
}

TEST(Tcp, accepts_option_ending_exactly_at_options_area_end) {
    const std::array<std::uint8_t, 4> opts = {1, 3, 3, 7};  // NOP, window scale 7
    auto seg = segment_with_options(opts);
    auto tcp = TcpView::parse(seg);
    ASSERT_TRUE(tcp.ok());
    EXPECT_EQ(tcp->options().window_scale, std::optional<std::uint8_t>{7});
}

TEST(Tcp, ignores_bytes_after_end_of_option_list) {
    const std::array<std::uint8_t, 8> opts = {2, 4, 0x05, 0xb4, 0, 0xff, 0x00, 0xff};
    auto seg = segment_with_options(opts);
    auto tcp = TcpView::parse(seg);
    ASSERT_TRUE(tcp.ok());
    EXPECT_EQ(tcp->options().mss, std::optional<std::uint16_t>{1460});
}

TEST(Tcp, decode_is_safe_over_unchecked_garbage) {
    const std::array<std::uint8_t, 6> area = {3, 3, 9, 5, 200, 1};  // window scale, then a SACK past the end
    const TcpOptions o = TcpOptions::decode(area);
    EXPECT_EQ(o.window_scale, std::optional<std::uint8_t>{9});
    EXPECT_EQ(o.sack_count, 0);
}

TEST(Tcp, detects_bad_checksum) {
    auto seg = segment_of(kSackPacket);
    seg.back() ^= 0x01;
    auto tcp = TcpView::parse(seg);
    ASSERT_TRUE(tcp.ok());
    EXPECT_FALSE(tcp->checksum_ok(kHostIp, kPeerIp));
    auto good = segment_of(kSackPacket);
    auto tcp_good = TcpView::parse(good);
    EXPECT_FALSE(tcp_good->checksum_ok(kHostIp, Ipv4Address::from_octets(192, 168, 1, 21)));
}

TEST(Tcp, rewrites_keep_checksum_valid) {
    auto seg = segment_of(kSackPacket);
    auto tcp = TcpViewMut::parse(seg);
    ASSERT_TRUE(tcp.ok());
    tcp->set_source_port(1024);
    tcp->set_destination_port(8443);
    tcp->set_window(65535);
    EXPECT_EQ(tcp->source_port(), 1024);
    EXPECT_EQ(tcp->destination_port(), 8443);
    EXPECT_EQ(tcp->window(), 65535);
    EXPECT_TRUE(tcp->checksum_ok(kHostIp, kPeerIp));
    const auto incremental = tcp->checksum();
    tcp->fill_checksum(kHostIp, kPeerIp);
    EXPECT_EQ(tcp->checksum(), incremental);
}

TEST(Tcp, emit_refuses_options_over_40_bytes_and_short_buffers) {
    TcpHeader h;
    h.options.mss = 1460;
    h.options.timestamps = TcpTimestamps{};
    h.options.window_scale = 7;
    h.options.sack_count = 3;  // 4 + 12 + 4 + 28 = 48
    std::vector<std::uint8_t> seg(80);
    EXPECT_EQ(h.emit(seg, kHostIp, kPeerIp).code(), Errc::invalid_argument);
    h.options.sack_count = 5;
    EXPECT_EQ(h.emit(seg, kHostIp, kPeerIp).code(), Errc::invalid_argument);
    h.options.sack_count = 2;  // 40 bytes: fits exactly
    ASSERT_EQ(h.header_len(), 60u);
    EXPECT_TRUE(h.emit(seg, kHostIp, kPeerIp).ok());
    std::vector<std::uint8_t> short_seg(59, 0xee);
    EXPECT_EQ(h.emit(short_seg, kHostIp, kPeerIp).code(), Errc::invalid_argument);
    for (auto b : short_seg) EXPECT_EQ(b, 0xee);
}

}  // namespace
}  // namespace kbnet::wire
