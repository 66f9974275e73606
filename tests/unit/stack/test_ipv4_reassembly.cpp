// IPv4 reassembly (RFC 791 §3.2, RFC 1122 §3.3.2): orders, duplicates,
// overlaps, ends, sizes, limits, timeouts and buffer reuse.
#include "kbnet/stack/ipv4_reassembly.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>
#include <random>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {
namespace {

using Bytes = std::vector<std::uint8_t>;
using wire::Ipv4Address;

constexpr std::uint64_t kSecond = 1'000'000'000;

// One datagram under test: its header (fragment fields unset) and payload.
struct Datagram {
    wire::Ipv4Header header;
    Bytes payload;

    // The unfragmented datagram, as the reassembler should give it back.
    [[nodiscard]] Bytes whole() const {
        wire::Ipv4Header h = header;
        h.payload_len = static_cast<std::uint16_t>(payload.size());
        Bytes out(h.total_length());
        EXPECT_TRUE(h.emit(out).ok());
        std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(h.header_len()));
        return out;
    }
    // The fragment carrying payload bytes [begin, end), MF as given. Later
    // fragments drop the options unless keep_options.
    [[nodiscard]] Bytes piece(std::size_t begin, std::size_t end, bool more, bool keep_options = false) const {
        wire::Ipv4Header h = header;
        if (begin != 0 && !keep_options) h.options_len = 0;
        h.more_fragments = more;
        h.fragment_offset = static_cast<std::uint16_t>(begin);
        h.payload_len = static_cast<std::uint16_t>(end - begin);
        Bytes out(h.total_length());
        EXPECT_TRUE(h.emit(out).ok());
        std::copy(payload.begin() + static_cast<std::ptrdiff_t>(begin),
                  payload.begin() + static_cast<std::ptrdiff_t>(end),
                  out.begin() + static_cast<std::ptrdiff_t>(h.header_len()));
        return out;
    }
    // Fragments of at most chunk bytes (a multiple of 8), in order.
    [[nodiscard]] std::vector<Bytes> split(std::size_t chunk) const {
        std::vector<Bytes> out;
        for (std::size_t at = 0; at < payload.size(); at += chunk) {
            const std::size_t end = std::min(payload.size(), at + chunk);
            out.push_back(piece(at, end, end != payload.size()));
        }
        return out;
    }
};

Datagram make_datagram(std::size_t payload_len, std::uint16_t id = 0x1c46, std::uint32_t seed = 1) {
    Datagram d;
    d.header.identification = id;
    d.header.protocol = wire::kIpProtoUdp;
    d.header.source = Ipv4Address::from_octets(192, 168, 1, 10);
    d.header.destination = Ipv4Address::from_octets(192, 168, 1, 1);
    d.payload.resize(payload_len);
    std::mt19937 rng(seed);
    for (auto& b : d.payload) b = static_cast<std::uint8_t>(rng());
    return d;
}

wire::Ipv4View view_of(const Bytes& packet) {
    auto v = wire::Ipv4View::parse(packet);
    EXPECT_TRUE(v.ok());
    return *v;
}

Result<Ipv4ReassemblyOutcome> add(Ipv4Reassembler& r, const Bytes& packet, std::uint64_t now = 0) {
    return r.add(view_of(packet), now);
}

// Feeds the fragments; every one but the last must be held, the last must
// complete the datagram, whose bytes are returned (and released).
Bytes reassemble(Ipv4Reassembler& r, const std::vector<Bytes>& fragments) {
    for (std::size_t i = 0; i + 1 < fragments.size(); ++i) {
        auto out = add(r, fragments[i]);
        EXPECT_TRUE(out.ok()) << "fragment " << i << ": " << out.error().reason;
        if (!out.ok()) return {};
        EXPECT_EQ(out->state, Ipv4ReassemblyState::held) << "fragment " << i;
    }
    auto out = add(r, fragments.back());
    EXPECT_TRUE(out.ok()) << out.error().reason;
    if (!out.ok() || out->state != Ipv4ReassemblyState::complete) {
        ADD_FAILURE() << "last fragment did not complete the datagram";
        return {};
    }
    Bytes result(out->datagram.begin(), out->datagram.end());
    r.release(out->buffer);
    return result;
}

std::uint64_t sum_of_reasons(const Ipv4ReassemblyCounters& c) {
    return c.reasm_timeout + c.reasm_overlaps + c.oversized + c.too_many_fragments + c.no_buffer + c.bad_length +
           c.end_conflicts;
}

TEST(Ipv4Reassembly, reassembles_in_order_fragments_into_the_original_datagram) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(4008);
    const auto fragments = d.split(1480);
    ASSERT_EQ(fragments.size(), 3u);
    const Bytes result = reassemble(r, fragments);
    EXPECT_EQ(result, d.whole());
    auto v = wire::Ipv4View::parse(result);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->header_checksum_ok());
    EXPECT_FALSE(v->is_fragment());
    EXPECT_EQ(v->total_length(), 4028);
    EXPECT_EQ(r.counters().reasm_reqds, 3u);
    EXPECT_EQ(r.counters().reasm_oks, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 0u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.buffers_in_use(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
}

TEST(Ipv4Reassembly, reassembles_fragments_arriving_in_reverse_order) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(3000);
    auto fragments = d.split(512);
    std::reverse(fragments.begin(), fragments.end());
    EXPECT_EQ(reassemble(r, fragments), d.whole());
}

TEST(Ipv4Reassembly, reassembles_fragments_arriving_in_random_orders) {
    Ipv4Reassembler r;
    for (std::uint32_t seed = 1; seed <= 50; ++seed) {
        const Datagram d = make_datagram(1000 + seed * 97, static_cast<std::uint16_t>(seed), seed);
        auto fragments = d.split(8 * (20 + seed % 40));  // 37 fragments at most
        std::mt19937 rng(seed);
        std::shuffle(fragments.begin(), fragments.end(), rng);
        EXPECT_EQ(reassemble(r, fragments), d.whole()) << "seed " << seed;
    }
    EXPECT_EQ(r.counters().reasm_oks, 50u);
    EXPECT_EQ(r.buffers_in_use(), 0u);
}

TEST(Ipv4Reassembly, reassembled_header_is_fragment_zeros_with_length_set_and_mf_and_offset_cleared) {
    Ipv4Reassembler r;
    Datagram d = make_datagram(64);
    d.header.ttl = 9;
    d.header.dont_fragment = false;
    d.header.dscp = 46;
    ASSERT_TRUE(d.header.add_router_alert().ok());
    // Later fragments carry a different TTL and no options: the header that
    // comes out must still be fragment zero's.
    Datagram later = d;
    later.header.ttl = 200;
    const Bytes result = reassemble(r, {later.piece(32, 64, false), d.piece(0, 32, true)});
    EXPECT_EQ(result, d.whole());
    auto v = wire::Ipv4View::parse(result);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->header_len(), 24u);
    EXPECT_TRUE(v->has_router_alert());
    EXPECT_EQ(v->ttl(), 9);
    EXPECT_EQ(v->dscp(), 46);
    EXPECT_EQ(v->total_length(), 24 + 64);
    EXPECT_TRUE(v->header_checksum_ok());
}

TEST(Ipv4Reassembly, keeps_df_of_fragment_zero_in_the_reassembled_header) {
    Ipv4Reassembler r;
    Datagram d = make_datagram(64);
    d.header.dont_fragment = true;  // odd on a fragment, but what fragment zero carried is kept
    const Bytes result = reassemble(r, {d.piece(0, 32, true), d.piece(32, 64, false)});
    auto v = wire::Ipv4View::parse(result);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->dont_fragment());
    EXPECT_FALSE(v->more_fragments());
    EXPECT_TRUE(v->header_checksum_ok());
}

TEST(Ipv4Reassembly, reassembles_a_576_byte_datagram_sent_in_48_byte_fragments) {
    // RFC 1122 §3.3.2 MUST, over the smallest MTU (68 = 20 + 48).
    Ipv4Reassembler r;
    const Datagram d = make_datagram(556);
    const auto fragments = d.split(48);
    ASSERT_EQ(fragments.size(), 12u);
    EXPECT_EQ(reassemble(r, fragments), d.whole());
}

TEST(Ipv4Reassembly, ignores_an_exact_duplicate_and_still_completes) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(96);
    const auto f = d.split(32);
    ASSERT_EQ(add(r, f[0])->state, Ipv4ReassemblyState::held);
    ASSERT_EQ(add(r, f[1])->state, Ipv4ReassemblyState::held);
    auto dup = add(r, f[1]);
    ASSERT_TRUE(dup.ok());
    EXPECT_EQ(dup->state, Ipv4ReassemblyState::duplicate);
    EXPECT_EQ(r.bytes_held(), 64u);  // the duplicate's bytes are not counted twice
    auto done = add(r, f[2]);
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->state, Ipv4ReassemblyState::complete);
    EXPECT_EQ(Bytes(done->datagram.begin(), done->datagram.end()), d.whole());
    EXPECT_EQ(r.counters().duplicates, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 0u);
    EXPECT_EQ(r.counters().reasm_reqds, 4u);
}

TEST(Ipv4Reassembly, duplicate_keeps_the_first_copys_bytes) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(64);
    Datagram forged = d;
    std::fill(forged.payload.begin(), forged.payload.end(), std::uint8_t{0xee});
    ASSERT_TRUE(add(r, d.piece(0, 32, true)).ok());
    auto dup = add(r, forged.piece(0, 32, true));
    ASSERT_TRUE(dup.ok());
    EXPECT_EQ(dup->state, Ipv4ReassemblyState::duplicate);
    auto done = add(r, d.piece(32, 64, false));
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(Bytes(done->datagram.begin(), done->datagram.end()), d.whole());
}

struct OverlapCase {
    const char* name;
    std::size_t begin, end;  // the second fragment; the first holds [32, 64) with MF
};

class Ipv4ReassemblyOverlap : public testing::TestWithParam<OverlapCase> {};

TEST_P(Ipv4ReassemblyOverlap, drops_the_whole_datagram_with_overlapping_fragments) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(128);
    ASSERT_TRUE(add(r, d.piece(0, 8, true)).ok());
    ASSERT_TRUE(add(r, d.piece(32, 64, true)).ok());
    const auto& c = GetParam();
    auto out = add(r, d.piece(c.begin, c.end, true));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::malformed);
    EXPECT_EQ(r.counters().reasm_overlaps, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
    // The datagram is gone: the rest of its fragments start a new one that
    // lacks [0, 8) and [32, 64), so it cannot complete.
    ASSERT_TRUE(add(r, d.piece(8, 32, true)).ok());
    auto last = add(r, d.piece(64, 128, false));
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(last->state, Ipv4ReassemblyState::held);
    EXPECT_EQ(r.counters().reasm_oks, 0u);
}

INSTANTIATE_TEST_SUITE_P(Ipv4Reassembly, Ipv4ReassemblyOverlap,
                         testing::Values(OverlapCase{"head", 24, 40}, OverlapCase{"tail", 56, 72},
                                         OverlapCase{"inside", 40, 48}, OverlapCase{"covering", 24, 72},
                                         OverlapCase{"same_start_shorter", 32, 40},
                                         OverlapCase{"same_start_longer", 32, 72}, OverlapCase{"same_end", 40, 64}),
                         [](const testing::TestParamInfo<OverlapCase>& p) { return p.param.name; });

TEST(Ipv4Reassembly, refuses_fragment_with_mf_set_and_length_not_a_multiple_of_8) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(64);
    ASSERT_TRUE(add(r, d.piece(0, 16, true)).ok());
    auto bad = add(r, d.piece(16, 36, true));  // 20 bytes
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), Errc::malformed);
    EXPECT_EQ(r.counters().bad_length, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    // Only the fragment is refused: the datagram in progress completes.
    EXPECT_EQ(r.in_progress(), 1u);
    ASSERT_TRUE(add(r, d.piece(16, 48, true)).ok());
    auto done = add(r, d.piece(48, 64, false));
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->state, Ipv4ReassemblyState::complete);
}

TEST(Ipv4Reassembly, accepts_last_fragment_whose_length_is_not_a_multiple_of_8) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(37);
    EXPECT_EQ(reassemble(r, {d.piece(0, 32, true), d.piece(32, 37, false)}), d.whole());
}

TEST(Ipv4Reassembly, refuses_an_empty_fragment) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(64);
    auto out = add(r, d.piece(64, 64, false));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(r.counters().bad_length, 1u);
    EXPECT_EQ(r.in_progress(), 0u);
}

TEST(Ipv4Reassembly, rejects_an_unfragmented_packet_without_counting_it) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(64);
    auto out = add(r, d.whole());
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::invalid_argument);
    EXPECT_EQ(r.counters().reasm_reqds, 0u);
    EXPECT_EQ(r.counters().reasm_fails, 0u);
}

struct EndConflictCase {
    const char* name;
    std::size_t first_begin, first_end;
    bool first_more;
    std::size_t second_begin, second_end;
    bool second_more;
};

class Ipv4ReassemblyEndConflict : public testing::TestWithParam<EndConflictCase> {};

TEST_P(Ipv4ReassemblyEndConflict, drops_datagram_when_a_fragment_contradicts_the_known_end) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(256);
    const auto& c = GetParam();
    ASSERT_TRUE(add(r, d.piece(c.first_begin, c.first_end, c.first_more)).ok());
    auto out = add(r, d.piece(c.second_begin, c.second_end, c.second_more));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::malformed);
    EXPECT_EQ(r.counters().end_conflicts, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    EXPECT_EQ(r.in_progress(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Ipv4Reassembly, Ipv4ReassemblyEndConflict,
                         testing::Values(
                             // Two last fragments with different ends.
                             EndConflictCase{"second_last_ends_later", 64, 128, false, 128, 192, false},
                             EndConflictCase{"second_last_ends_earlier", 64, 128, false, 8, 64, false},
                             // A middle fragment reaching the known end or past it.
                             EndConflictCase{"middle_past_end", 64, 128, false, 128, 136, true},
                             EndConflictCase{"middle_reaching_end", 64, 128, false, 120, 128, true},
                             // A last fragment ending before data already held.
                             EndConflictCase{"last_before_held_data", 128, 192, true, 8, 64, false}),
                         [](const testing::TestParamInfo<EndConflictCase>& p) { return p.param.name; });

TEST(Ipv4Reassembly, reassembles_the_largest_datagram_of_65535_bytes) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(65535 - 20);
    auto fragments = d.split(1480);
    std::mt19937 rng(7);
    std::shuffle(fragments.begin(), fragments.end(), rng);
    const Bytes result = reassemble(r, fragments);
    ASSERT_EQ(result.size(), 65535u);
    EXPECT_EQ(result, d.whole());
}

TEST(Ipv4Reassembly, drops_datagram_when_a_fragment_reaches_past_65535_bytes) {
    // The "ping of death": a last fragment at offset 65512 carrying 8 bytes
    // makes 20 + 65520 = 65540 bytes.
    Ipv4Reassembler r;
    const Datagram d = make_datagram(65520);
    ASSERT_TRUE(add(r, d.piece(0, 1480, true)).ok());
    auto out = add(r, d.piece(65512, 65520, false));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::malformed);
    EXPECT_EQ(r.counters().oversized, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    EXPECT_EQ(r.in_progress(), 0u);  // the whole datagram, not only the fragment
    EXPECT_EQ(r.bytes_held(), 0u);
}

TEST(Ipv4Reassembly, accepts_a_fragment_ending_exactly_at_65535_bytes) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(65515);
    auto out = add(r, d.piece(65512, 65515, false));
    ASSERT_TRUE(out.ok()) << out.error().reason;
    EXPECT_EQ(out->state, Ipv4ReassemblyState::held);
}

TEST(Ipv4Reassembly, drops_datagram_when_fragment_zeros_options_push_it_past_65535_bytes) {
    // Later fragments fit with a 20-byte header; fragment zero brings 4
    // bytes of options, making 65536.
    Ipv4Reassembler r;
    Datagram d = make_datagram(65512);
    ASSERT_TRUE(d.header.add_router_alert().ok());
    ASSERT_TRUE(add(r, d.piece(65504, 65512, false)).ok());
    auto out = add(r, d.piece(0, 8, true));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(r.counters().oversized, 1u);
    EXPECT_EQ(r.in_progress(), 0u);
}

TEST(Ipv4Reassembly, applies_a_smaller_max_datagram_size) {
    Ipv4ReassemblyConfig config;
    config.max_datagram_size = 1500;
    Ipv4Reassembler r(config);
    const Datagram ok = make_datagram(1480, 1);
    EXPECT_EQ(reassemble(r, ok.split(744)), ok.whole());
    const Datagram big = make_datagram(1488, 2);
    auto out = add(r, big.piece(1480, 1488, false));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(r.counters().oversized, 1u);
}

TEST(Ipv4Reassembly, expires_datagram_at_its_deadline_and_reports_fragment_zero) {
    Ipv4ReassemblyConfig config;
    config.timeout_ns = 30 * kSecond;
    Ipv4Reassembler r(config);
    const Datagram d = make_datagram(96);
    const Bytes first = d.piece(0, 32, true);
    const std::uint64_t t0 = 1000 * kSecond;
    ASSERT_TRUE(add(r, first, t0).ok());
    ASSERT_TRUE(add(r, d.piece(64, 96, false), t0 + 10 * kSecond).ok());
    EXPECT_EQ(r.next_expiry_ns(), t0 + 30 * kSecond);  // from the first fragment, not the latest

    std::array<Ipv4ExpiredDatagram, 4> reports{};
    EXPECT_EQ(r.expire(t0 + 30 * kSecond - 1, reports), 0u);
    EXPECT_EQ(r.in_progress(), 1u);
    ASSERT_EQ(r.expire(t0 + 30 * kSecond, reports), 1u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
    EXPECT_EQ(r.next_expiry_ns(), UINT64_MAX);
    // The quote of RFC 792: fragment zero's header as received (MF set,
    // its own total length) and the first 8 bytes of its data.
    const Bytes expected(first.begin(), first.begin() + 28);
    EXPECT_EQ(Bytes(reports[0].quote().begin(), reports[0].quote().end()), expected);
    EXPECT_EQ(r.counters().reasm_timeout, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    // The missing fragment arriving late starts over and does not complete.
    auto late = add(r, d.piece(32, 64, true), t0 + 31 * kSecond);
    ASSERT_TRUE(late.ok());
    EXPECT_EQ(late->state, Ipv4ReassemblyState::held);
}

TEST(Ipv4Reassembly, reports_fragment_zeros_options_in_the_expiry_quote) {
    Ipv4Reassembler r;
    Datagram d = make_datagram(64);
    ASSERT_TRUE(d.header.add_router_alert().ok());
    const Bytes first = d.piece(0, 32, true);
    ASSERT_TRUE(add(r, first, 0).ok());
    std::array<Ipv4ExpiredDatagram, 1> reports{};
    ASSERT_EQ(r.expire(r.config().timeout_ns, reports), 1u);
    EXPECT_EQ(reports[0].length, 24 + 8);
    EXPECT_EQ(Bytes(reports[0].quote().begin(), reports[0].quote().end()), Bytes(first.begin(), first.begin() + 32));
}

TEST(Ipv4Reassembly, expires_datagram_without_fragment_zero_without_a_report) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(96);
    ASSERT_TRUE(add(r, d.piece(32, 64, true), 5).ok());
    std::array<Ipv4ExpiredDatagram, 4> reports{};
    EXPECT_EQ(r.expire(5 + r.config().timeout_ns, reports), 0u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.counters().reasm_timeout, 1u);
}

TEST(Ipv4Reassembly, expire_keeps_datagrams_it_has_no_room_to_report_until_the_next_call) {
    Ipv4Reassembler r;
    for (std::uint16_t id = 1; id <= 3; ++id) {
        const Datagram d = make_datagram(64, id);
        ASSERT_TRUE(add(r, d.piece(0, 32, true), 0).ok());
    }
    const Datagram headless = make_datagram(64, 9);
    ASSERT_TRUE(add(r, headless.piece(32, 64, true), 0).ok());
    const std::uint64_t later = r.config().timeout_ns;
    std::array<Ipv4ExpiredDatagram, 2> reports{};
    EXPECT_EQ(r.expire(later, reports), 2u);
    EXPECT_EQ(r.in_progress(), 1u);  // the headless one needed no room and went
    EXPECT_EQ(r.expire(later, reports), 1u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_EQ(r.counters().reasm_timeout, 4u);
}

TEST(Ipv4Reassembly, default_timeout_is_30_seconds) { EXPECT_EQ(Ipv4ReassemblyConfig{}.timeout_ns, 30 * kSecond); }

TEST(Ipv4Reassembly, completes_a_datagram_past_its_deadline_when_expire_has_not_run) {
    Ipv4Reassembler r;
    const Datagram d = make_datagram(64);
    ASSERT_TRUE(add(r, d.piece(0, 32, true), 0).ok());
    auto done = add(r, d.piece(32, 64, false), 2 * r.config().timeout_ns);
    ASSERT_TRUE(done.ok());
    EXPECT_EQ(done->state, Ipv4ReassemblyState::complete);
}

TEST(Ipv4Reassembly, next_expiry_is_the_earliest_deadline) {
    Ipv4Reassembler r;
    EXPECT_EQ(r.next_expiry_ns(), UINT64_MAX);
    ASSERT_TRUE(add(r, make_datagram(64, 1).piece(0, 32, true), 700).ok());
    ASSERT_TRUE(add(r, make_datagram(64, 2).piece(0, 32, true), 300).ok());
    ASSERT_TRUE(add(r, make_datagram(64, 3).piece(0, 32, true), 500).ok());
    EXPECT_EQ(r.next_expiry_ns(), 300 + r.config().timeout_ns);
}

TEST(Ipv4Reassembly, refuses_a_new_datagram_when_all_buffers_are_in_use) {
    Ipv4ReassemblyConfig config;
    config.max_datagrams = 2;
    Ipv4Reassembler r(config);
    const Datagram a = make_datagram(64, 1), b = make_datagram(64, 2), c = make_datagram(64, 3);
    ASSERT_TRUE(add(r, a.piece(0, 32, true)).ok());
    ASSERT_TRUE(add(r, b.piece(0, 32, true)).ok());
    auto refused = add(r, c.piece(0, 32, true));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.code(), Errc::no_buffers);
    EXPECT_EQ(r.counters().no_buffer, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    // Refused, not evicted: the datagrams already underway still complete.
    auto done = add(r, a.piece(32, 64, false));
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->state, Ipv4ReassemblyState::complete);
    // A completed datagram keeps its buffer until it is released.
    EXPECT_FALSE(add(r, c.piece(0, 32, true)).ok());
    EXPECT_EQ(r.counters().no_buffer, 2u);
    r.release(done->buffer);
    EXPECT_TRUE(add(r, c.piece(0, 32, true)).ok());
}

TEST(Ipv4Reassembly, completed_datagram_stays_intact_until_released_and_its_buffer_is_then_reused) {
    Ipv4ReassemblyConfig config;
    config.max_datagrams = 1;
    Ipv4Reassembler r(config);
    const Datagram a = make_datagram(64, 1, 11), b = make_datagram(64, 2, 22);
    ASSERT_TRUE(add(r, a.piece(0, 32, true)).ok());
    auto done = add(r, a.piece(32, 64, false));
    ASSERT_TRUE(done.ok());
    ASSERT_EQ(done->state, Ipv4ReassemblyState::complete);
    EXPECT_EQ(r.buffers_in_use(), 1u);
    EXPECT_EQ(r.bytes_held(), 64u);
    EXPECT_EQ(r.in_progress(), 0u);
    EXPECT_FALSE(add(r, b.piece(0, 32, true)).ok());  // the buffer is still the caller's
    EXPECT_EQ(Bytes(done->datagram.begin(), done->datagram.end()), a.whole());
    r.release(done->buffer);
    EXPECT_EQ(r.buffers_in_use(), 0u);
    EXPECT_EQ(r.bytes_held(), 0u);
    EXPECT_EQ(reassemble(r, {b.piece(32, 64, false), b.piece(0, 32, true)}), b.whole());
}

TEST(Ipv4Reassembly, refuses_a_new_datagram_over_the_memory_limit) {
    Ipv4ReassemblyConfig config;
    config.max_bytes = 1000;
    Ipv4Reassembler r(config);
    const Datagram a = make_datagram(2000, 1), b = make_datagram(2000, 2);
    ASSERT_TRUE(add(r, a.piece(0, 800, true)).ok());
    auto refused = add(r, b.piece(0, 400, true));
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.code(), Errc::no_buffers);
    EXPECT_EQ(r.counters().no_buffer, 1u);
    EXPECT_EQ(r.in_progress(), 1u);
    EXPECT_EQ(r.bytes_held(), 800u);
    // What still fits is taken.
    EXPECT_TRUE(add(r, b.piece(0, 200, true)).ok());
    EXPECT_EQ(r.bytes_held(), 1000u);
}

TEST(Ipv4Reassembly, drops_a_datagram_whose_next_fragment_passes_the_memory_limit) {
    Ipv4ReassemblyConfig config;
    config.max_bytes = 1000;
    Ipv4Reassembler r(config);
    const Datagram a = make_datagram(2000, 1);
    ASSERT_TRUE(add(r, a.piece(0, 800, true)).ok());
    auto out = add(r, a.piece(800, 1600, true));
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::no_buffers);
    EXPECT_EQ(r.counters().no_buffer, 1u);
    EXPECT_EQ(r.in_progress(), 0u);  // it could never complete: its memory goes back
    EXPECT_EQ(r.bytes_held(), 0u);
}

TEST(Ipv4Reassembly, drops_a_datagram_with_too_many_fragments) {
    Ipv4ReassemblyConfig config;
    config.max_fragments = 12;
    Ipv4Reassembler r(config);
    const Datagram d = make_datagram(13 * 8);
    const auto fragments = d.split(8);
    ASSERT_EQ(fragments.size(), 13u);
    for (std::size_t i = 0; i < 12; ++i) ASSERT_TRUE(add(r, fragments[i]).ok()) << i;
    auto out = add(r, fragments[12]);
    ASSERT_FALSE(out.ok());
    EXPECT_EQ(out.code(), Errc::no_buffers);
    EXPECT_EQ(r.counters().too_many_fragments, 1u);
    EXPECT_EQ(r.counters().reasm_fails, 1u);
    EXPECT_EQ(r.in_progress(), 0u);
    // Twelve is allowed.
    const Datagram ok = make_datagram(12 * 8, 2);
    EXPECT_EQ(reassemble(r, ok.split(8)), ok.whole());
}

TEST(Ipv4Reassembly, keeps_datagrams_with_the_same_id_from_different_sources_apart) {
    Ipv4Reassembler r;
    Datagram a = make_datagram(3000, 77, 1);
    Datagram b = make_datagram(3000, 77, 2);
    b.header.source = Ipv4Address::from_octets(192, 168, 1, 11);
    Datagram c = make_datagram(3000, 77, 3);
    c.header.protocol = wire::kIpProtoTcp;  // same addresses and id as a, other protocol
    Datagram e = make_datagram(3000, 77, 4);
    e.header.destination = Ipv4Address::from_octets(192, 168, 1, 2);
    const std::vector<const Datagram*> all = {&a, &b, &c, &e};
    std::vector<std::vector<Bytes>> pieces;
    for (const Datagram* d : all) pieces.push_back(d->split(1000));
    std::vector<Bytes> results(all.size());
    // Interleaved: fragment i of every datagram, then fragment i + 1.
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t k = 0; k < all.size(); ++k) {
            auto out = add(r, pieces[k][i]);
            ASSERT_TRUE(out.ok()) << out.error().reason;
            if (out->state == Ipv4ReassemblyState::complete) {
                results[k].assign(out->datagram.begin(), out->datagram.end());
                r.release(out->buffer);
            }
        }
    }
    for (std::size_t k = 0; k < all.size(); ++k) EXPECT_EQ(results[k], all[k]->whole()) << "datagram " << k;
    EXPECT_EQ(r.counters().reasm_oks, 4u);
}

TEST(Ipv4Reassembly, counts_every_failure_once_in_reasm_fails_and_once_in_a_reason) {
    Ipv4ReassemblyConfig config;
    config.max_datagrams = 2;
    config.max_fragments = 12;
    Ipv4Reassembler r(config);
    const Datagram a = make_datagram(256, 1), b = make_datagram(256, 2), c = make_datagram(256, 3);
    EXPECT_FALSE(add(r, a.piece(0, 12, true)).ok());  // bad length
    ASSERT_TRUE(add(r, a.piece(0, 64, true)).ok());
    EXPECT_FALSE(add(r, a.piece(32, 96, true)).ok());  // overlap
    ASSERT_TRUE(add(r, a.piece(0, 64, true)).ok());
    ASSERT_TRUE(add(r, b.piece(0, 64, true)).ok());
    EXPECT_FALSE(add(r, c.piece(0, 64, true)).ok());  // no buffer
    std::array<Ipv4ExpiredDatagram, 2> reports{};
    EXPECT_EQ(r.expire(r.config().timeout_ns, reports), 2u);  // two timeouts
    const auto& n = r.counters();
    EXPECT_EQ(n.reasm_fails, 5u);
    EXPECT_EQ(sum_of_reasons(n), n.reasm_fails);
    EXPECT_EQ(n.reasm_reqds, 6u);
}

TEST(Ipv4Reassembly, constructor_rejects_limits_out_of_range) {
    auto with = [](auto change) {
        Ipv4ReassemblyConfig c;
        change(c);
        return c;
    };
    auto build = [](const Ipv4ReassemblyConfig& c) { Ipv4Reassembler r(c); };
    EXPECT_THROW(build(with([](auto& c) { c.max_datagrams = 0; })), std::invalid_argument);
    EXPECT_THROW(build(with([](auto& c) { c.max_datagram_size = 575; })), std::invalid_argument);
    EXPECT_THROW(build(with([](auto& c) { c.max_datagram_size = 65536; })), std::invalid_argument);
    EXPECT_THROW(build(with([](auto& c) { c.max_bytes = 575; })), std::invalid_argument);
    EXPECT_THROW(build(with([](auto& c) { c.max_fragments = 11; })), std::invalid_argument);
    EXPECT_THROW(build(with([](auto& c) { c.timeout_ns = 0; })), std::invalid_argument);
    try {
        Ipv4Reassembler r(with([](auto& c) { c.max_fragments = 3; }));
        ADD_FAILURE() << "no exception";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("max_fragments"), std::string::npos) << e.what();
    }
    EXPECT_NO_THROW(build(with([](auto& c) {
        c.max_datagrams = 1;
        c.max_datagram_size = 576;
        c.max_bytes = 576;
        c.max_fragments = 12;
    })));
}

}  // namespace
}  // namespace kbnet::stack
