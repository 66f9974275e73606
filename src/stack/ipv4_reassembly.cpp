#include "kbnet/stack/ipv4_reassembly.hpp"

#include <cassert>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

#include "kbnet/core/endian.hpp"
#include "kbnet/wire/checksum.hpp"

namespace kbnet::stack {

namespace {

// Every buffer keeps this much room in front of the payload, so the first
// fragment's header (at most 60 bytes) can sit right before the payload and
// the datagram comes out contiguous whatever its header length.
constexpr std::size_t kHeaderRoom = wire::kIpv4MaxHeaderLen;

// RFC 1122 §3.3.2: "MUST be able to reassemble ... 576 octets".
constexpr std::uint32_t kMinReassemblySize = 576;
// A 576-byte datagram (556 bytes of payload after a 20-byte header) over a
// 68-byte MTU path (RFC 791 §3.2, 48 bytes of payload per fragment) comes in
// 12 fragments; fewer would break the same MUST.
constexpr std::uint16_t kMinFragments = 12;

const Ipv4ReassemblyConfig& checked(const Ipv4ReassemblyConfig& c) {
    auto bad = [](const std::string& what) { throw std::invalid_argument("IPv4 reassembly: " + what); };
    if (c.max_datagrams == 0 || c.max_datagrams > 65536) {
        bad("max_datagrams is " + std::to_string(c.max_datagrams) + ", must be 1 .. 65536");
    }
    if (c.max_datagram_size < kMinReassemblySize || c.max_datagram_size > wire::kIpv4MaxTotalLen) {
        bad("max_datagram_size is " + std::to_string(c.max_datagram_size) +
            ", must be 576 .. 65535 (RFC 1122 §3.3.2 requires 576; the total length field ends at 65535)");
    }
    if (c.max_bytes < kMinReassemblySize) {
        bad("max_bytes is " + std::to_string(c.max_bytes) +
            ", must be at least 576 so one 576-byte datagram fits (RFC 1122 §3.3.2)");
    }
    if (c.max_fragments < kMinFragments) {
        bad("max_fragments is " + std::to_string(c.max_fragments) +
            ", must be at least 12 (a 576-byte datagram over a 68-byte MTU, RFC 1122 §3.3.2)");
    }
    if (c.timeout_ns == 0) bad("timeout_ns is 0; use a positive timeout such as 30 s (30000000000)");
    return c;
}

}  // namespace

Ipv4Reassembler::Ipv4Reassembler(const Ipv4ReassemblyConfig& config)
    : config_(checked(config)),
      buffer_size_(kHeaderRoom + config.max_datagram_size - wire::kIpv4MinHeaderLen),
      // for_overwrite: the buffers' pages stay untouched (not resident) until
      // fragments are copied in, which is what max_bytes accounts for.
      buffers_(std::make_unique_for_overwrite<std::uint8_t[]>(buffer_size_ * config.max_datagrams)),
      extents_(std::make_unique<Extent[]>(std::size_t{config.max_fragments} * config.max_datagrams)),
      slots_(std::make_unique<Slot[]>(config.max_datagrams)),
      active_(std::make_unique<std::uint32_t[]>(config.max_datagrams)),
      free_(std::make_unique<std::uint32_t[]>(config.max_datagrams)),
      free_count_(config.max_datagrams) {
    // Lowest slot on top, so buffers are used from the start of the area.
    for (std::uint32_t i = 0; i < free_count_; ++i) free_[i] = free_count_ - 1 - i;
}

Ipv4Reassembler::~Ipv4Reassembler() = default;

std::uint8_t* Ipv4Reassembler::buffer_of(std::uint32_t slot) const noexcept {
    return buffers_.get() + buffer_size_ * slot;
}

Ipv4Reassembler::Extent* Ipv4Reassembler::extents_of(std::uint32_t slot) const noexcept {
    return extents_.get() + std::size_t{config_.max_fragments} * slot;
}

std::uint32_t Ipv4Reassembler::find(const Key& key) const noexcept {
    // A linear scan of the datagrams in progress: at most max_datagrams
    // (64 by default) and usually none, since fragmented traffic is rare.
    for (std::uint32_t i = 0; i < active_count_; ++i) {
        if (slots_[active_[i]].key == key) return active_[i];
    }
    return kNone;
}

void Ipv4Reassembler::free_slot(std::uint32_t slot) noexcept {
    Slot& s = slots_[slot];
    bytes_held_ -= s.received;
    s.state = SlotState::free;
    free_[free_count_++] = slot;
}

void Ipv4Reassembler::discard(std::uint32_t slot) noexcept {
    Slot& s = slots_[slot];
    // Swap-remove from the dense active list.
    const std::uint32_t last = active_[--active_count_];
    active_[s.active_index] = last;
    slots_[last].active_index = s.active_index;
    free_slot(slot);
}

Error Ipv4Reassembler::fail(std::uint32_t slot, std::uint64_t& reason_counter, Errc code, const char* why) noexcept {
    if (slot != kNone) discard(slot);
    ++reason_counter;
    ++counters_.reasm_fails;
    return Error{code, why};
}

Result<Ipv4ReassemblyOutcome> Ipv4Reassembler::add(const wire::Ipv4View& fragment, std::uint64_t now_ns) noexcept {
    if (!fragment.is_fragment()) {
        return Error{Errc::invalid_argument, "IPv4 reassembly: not a fragment (MF clear, offset 0); deliver it as is"};
    }
    ++counters_.reasm_reqds;

    const std::span<const std::uint8_t> payload = fragment.payload();
    const auto length = static_cast<std::uint32_t>(payload.size());
    const std::uint32_t begin = fragment.fragment_offset();
    const std::uint32_t end = begin + length;
    const bool more = fragment.more_fragments();

    // RFC 791 §3.2: every fragment but the last carries a multiple of 8
    // bytes, since offsets count 8-byte units. An empty fragment carries
    // nothing and could only move the end. Refuse the fragment alone: it
    // says nothing trustworthy about the datagram it names.
    if (length == 0 || (more && length % 8 != 0)) {
        return fail(kNone, counters_.bad_length, Errc::malformed,
                    "IPv4 reassembly: empty fragment, or MF set and payload not a multiple of 8 bytes");
    }

    // RFC 791 §3.2: a datagram is identified by source, destination,
    // protocol and identification.
    const Key key{fragment.source(), fragment.destination(), fragment.identification(), fragment.protocol()};
    std::uint32_t slot = find(key);

    // The datagram may not grow past max_datagram_size (at most 65535, the
    // total length field's range): the "ping of death" of 1996 was a last
    // fragment near offset 65528 that made a datagram past 65535 bytes. The header
    // header counted is fragment zero's once it is known (it is the header
    // the datagram will carry), and until then the smallest one can be.
    std::size_t header_len = wire::kIpv4MinHeaderLen;
    std::uint32_t reach = end;
    if (slot != kNone && slots_[slot].header_len != 0) {
        header_len = slots_[slot].header_len;
    } else if (begin == 0) {
        header_len = fragment.header_len();
        if (slot != kNone && slots_[slot].max_end > reach) reach = slots_[slot].max_end;
    }
    if (header_len + reach > config_.max_datagram_size) {
        return fail(slot, counters_.oversized, Errc::malformed,
                    "IPv4 reassembly: fragment reaches past the largest datagram (65535 bytes or max_datagram_size)");
    }

    if (slot == kNone) {
        // A full table or memory refuses the new datagram rather than
        // evicting one in progress (see the header for why).
        if (free_count_ == 0) {
            return fail(kNone, counters_.no_buffer, Errc::no_buffers,
                        "IPv4 reassembly: all reassembly buffers in use (raise max_datagrams)");
        }
        if (bytes_held_ + length > config_.max_bytes) {
            return fail(kNone, counters_.no_buffer, Errc::no_buffers,
                        "IPv4 reassembly: memory limit reached (raise max_bytes)");
        }
        slot = free_[--free_count_];
        Slot& s = slots_[slot];
        s = Slot{};
        s.key = key;
        // RFC 1122 §3.3.2: a fixed timeout from the first fragment, not the
        // TTL-driven timer of RFC 791 §3.2.
        const std::uint64_t never = std::numeric_limits<std::uint64_t>::max();
        s.deadline_ns = now_ns > never - config_.timeout_ns ? never : now_ns + config_.timeout_ns;
        s.state = SlotState::assembling;
        s.active_index = active_count_;
        active_[active_count_++] = slot;
    }
    Slot& s = slots_[slot];

    // The last fragment (MF clear) fixes the payload length; nothing may
    // reach past it and it may not change (RFC 791 §3.2: the total data
    // length is computed from the fragment with MF clear). A conflict means
    // a forged or corrupted fragment, and the datagram can no longer be
    // trusted.
    if (more ? (s.last_seen && end >= s.total) : ((s.last_seen && end != s.total) || s.max_end > end)) {
        return fail(slot, counters_.end_conflicts, Errc::malformed,
                    "IPv4 reassembly: fragment contradicts the datagram's end set by its last fragment");
    }

    // Find the extent list position: extents are sorted by begin and never
    // overlap.
    Extent* extents = extents_of(slot);
    std::uint16_t at = 0;
    while (at < s.fragments && extents[at].begin < begin) ++at;
    if (at < s.fragments && extents[at].begin == begin && extents[at].end == end) {
        // RFC 8200 §4.5 (and Linux for IPv4): an exact duplicate is dropped
        // while the datagram is kept; a network may duplicate packets.
        ++counters_.duplicates;
        return Ipv4ReassemblyOutcome{Ipv4ReassemblyState::duplicate, 0, {}};
    }
    if ((at > 0 && extents[at - 1].end > begin) || (at < s.fragments && extents[at].begin < end)) {
        // RFC 5722 §4 (IPv6), Linux for IPv4 since 4.19: overlapping
        // fragments drop the whole datagram, since overlaps are how attacks
        // rewrite headers a filter already approved.
        return fail(slot, counters_.reasm_overlaps, Errc::malformed,
                    "IPv4 reassembly: overlapping fragments; datagram dropped (RFC 5722 §4)");
    }
    if (s.fragments == config_.max_fragments) {
        return fail(slot, counters_.too_many_fragments, Errc::no_buffers,
                    "IPv4 reassembly: too many fragments for one datagram (raise max_fragments)");
    }
    if (bytes_held_ + length > config_.max_bytes) {
        return fail(slot, counters_.no_buffer, Errc::no_buffers,
                    "IPv4 reassembly: memory limit reached (raise max_bytes)");
    }

    // Accept: copy the payload in at its offset, and the first fragment's
    // header right in front of the payload area.
    std::uint8_t* buffer = buffer_of(slot);
    std::memcpy(buffer + kHeaderRoom + begin, payload.data(), length);
    if (begin == 0) {
        const auto header = fragment.header();
        std::memcpy(buffer + kHeaderRoom - header.size(), header.data(), header.size());
        s.header_len = static_cast<std::uint8_t>(header.size());
    }
    for (std::uint16_t i = s.fragments; i > at; --i) extents[i] = extents[i - 1];
    extents[at] = Extent{begin, end};
    ++s.fragments;
    s.received += length;
    bytes_held_ += length;
    if (end > s.max_end) s.max_end = end;
    if (!more) {
        s.last_seen = true;
        s.total = end;
    }

    // Complete when the end is known and every byte before it arrived: with
    // no overlaps, a byte count equal to the total means no hole is left
    // (what RFC 815's hole list tracks), so fragment zero is in too.
    if (!s.last_seen || s.received != s.total) return Ipv4ReassemblyOutcome{Ipv4ReassemblyState::held, 0, {}};

    // The datagram leaves the active list but keeps its buffer (and its
    // bytes counted against max_bytes) until release().
    const std::uint32_t last = active_[--active_count_];
    active_[s.active_index] = last;
    slots_[last].active_index = s.active_index;
    s.state = SlotState::complete;

    // RFC 791 §3.2: the reassembled header is fragment zero's, with the
    // total length of the whole datagram, MF clear and offset zero. DF and
    // the reserved bit are kept as fragment zero carried them.
    std::uint8_t* header = buffer + kHeaderRoom - s.header_len;
    const std::size_t total_length = std::size_t{s.header_len} + s.total;
    store_be16(header + 2, static_cast<std::uint16_t>(total_length));
    header[6] = static_cast<std::uint8_t>(header[6] & 0xc0);
    header[7] = 0;
    store_be16(header + 10, 0);
    store_be16(header + 10, wire::internet_checksum(std::span<const std::uint8_t>(header, s.header_len)));
    ++counters_.reasm_oks;
    return Ipv4ReassemblyOutcome{Ipv4ReassemblyState::complete, slot, std::span<std::uint8_t>(header, total_length)};
}

void Ipv4Reassembler::release(std::uint32_t buffer) noexcept {
    if (buffer >= config_.max_datagrams || slots_[buffer].state != SlotState::complete) {
        assert(false && "IPv4 reassembly: release() of a buffer that holds no completed datagram");
        return;
    }
    free_slot(buffer);
}

std::size_t Ipv4Reassembler::expire(std::uint64_t now_ns, std::span<Ipv4ExpiredDatagram> out) noexcept {
    std::size_t written = 0;
    std::uint32_t i = 0;
    while (i < active_count_) {
        const std::uint32_t slot = active_[i];
        const Slot& s = slots_[slot];
        if (s.deadline_ns > now_ns) {
            ++i;
            continue;
        }
        if (s.header_len != 0) {
            // RFC 1122 §3.3.2: Time Exceeded (RFC 792, code 1) goes back
            // only if fragment zero arrived; it quotes that fragment's
            // header and its first 64 bits of data (RFC 792 "Time Exceeded
            // Message"). Fragment zero has MF set and a non-empty multiple
            // of 8 bytes, so those 8 bytes are always there.
            if (written == out.size()) {
                ++i;
                continue;
            }
            Ipv4ExpiredDatagram& report = out[written++];
            const std::uint8_t* header = buffer_of(slot) + kHeaderRoom - s.header_len;
            report.length = static_cast<std::uint8_t>(s.header_len + 8u);
            std::memcpy(report.bytes.data(), header, report.length);
        }
        // discard() moves the last active slot into position i: look at i
        // again.
        discard(slot);
        ++counters_.reasm_timeout;
        ++counters_.reasm_fails;
    }
    return written;
}

std::uint64_t Ipv4Reassembler::next_expiry_ns() const noexcept {
    std::uint64_t next = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t i = 0; i < active_count_; ++i) {
        if (slots_[active_[i]].deadline_ns < next) next = slots_[active_[i]].deadline_ns;
    }
    return next;
}

}  // namespace kbnet::stack
