// IPv4 fragment reassembly (RFC 791 §3.2, RFC 1122 §3.3.2).
//
// Fragments are keyed by (source, destination, protocol, identification),
// RFC 791 §3.2 "Fragmentation and reassembly". Each fragment's payload is
// copied at its offset into one of a fixed set of reassembly buffers
// allocated at construction, so the caller frees the fragment's frame as
// soon as add() returns, and a reassembled datagram (up to 65535 bytes,
// larger than any frame) comes out as one contiguous span of header and
// payload that stays valid until release().
//
// Hole tracking: RFC 815 keeps a list of holes. Because any overlap drops
// the whole datagram here (see below), the bytes received never count twice,
// so "no holes left" reduces to "bytes received == total length": a byte
// count replaces the hole list, and a small sorted list of fragment extents
// per datagram is kept only to detect overlaps and exact duplicates.
//
// Policies (each has its reason next to the code that applies it):
//  - Overlapping fragments drop the whole datagram: Linux has done so for
//    IPv4 since 4.19 (2018, "ip: discard IPv4 datagrams with overlapping
//    segments"), and RFC 5722 §4 requires it for IPv6, because overlaps are
//    how fragment attacks smuggle data past filters.
//  - An exact duplicate (same offset and length as a fragment already held)
//    is ignored and the datagram kept, as RFC 8200 §4.5 allows (Linux also
//    keeps the datagram); the first copy's bytes win, the duplicate's are
//    not compared.
//  - A full table or memory refuses the new datagram (it is not the oldest
//    that is evicted): eviction lets a flood of fresh fragments kill every
//    legitimate datagram in progress, while refusal keeps the ones already
//    underway, and is what Linux does since 4.17 (ipfrag_low_thresh became
//    obsolete when the evictor was removed).
//  - Timeout 30 s by default, Linux's ipfrag_time, below RFC 1122 §3.3.2's
//    suggested 60-120 s: the 16-bit identification wraps within seconds at
//    today's rates, and the longer a stale datagram waits the likelier a
//    fragment of a later datagram with the same id is glued into it
//    (RFC 4963); it also frees buffers held by junk sooner.
//  - Timeouts happen only in expire(), never inside add(), so that every
//    expiry can report the first fragment for an ICMP Time Exceeded message
//    (RFC 1122 §3.3.2). The poll loop calls expire() in its timer phase;
//    next_expiry_ns() says when.
//
// Counters follow the names of /proc/net/snmp and /proc/net/netstat
// (ReasmReqds, ReasmOKs, ReasmFails, ReasmTimeout, ReasmOverlaps). Every
// failure is counted once in reasm_fails and once in exactly one reason
// counter; duplicates are not failures.
//
// Data path: no allocation, no exceptions, not thread-safe (one per stack).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/ipv4.hpp"

namespace kbnet::stack {

struct Ipv4ReassemblyConfig {
    // Reassembly buffers: datagrams in progress plus reassembled ones not yet
    // released. Each is max_datagram_size + 40 bytes (room for the largest
    // header in front of the payload), so 64 full-size buffers are the 4 MiB
    // of max_bytes below; fragmented traffic is rare enough that 64
    // datagrams in flight per stack is plenty, and a lookup scans them.
    std::uint32_t max_datagrams = 64;
    // Payload bytes held in all buffers at once (in progress and awaiting
    // release): Linux's ipfrag_high_thresh default, 4 MiB. Buffers are
    // allocated at full size but their pages are only touched as bytes are
    // copied in, so this bounds the resident memory a flood can make us use.
    std::uint32_t max_bytes = 4u << 20;
    // Fragments of one datagram. 64 covers a 65535-byte datagram over
    // Ethernet (45 fragments of 1480 bytes) and a 576-byte datagram over a
    // 68-byte MTU (12 fragments of 48 bytes); a larger datagram over a
    // smaller MTU needs more. Bounds the per-fragment work (the extent list
    // is scanned linearly) and the bookkeeping allocated per buffer.
    std::uint16_t max_fragments = 64;
    // From the first fragment's arrival; see the file comment for why 30 s.
    std::uint64_t timeout_ns = 30'000'000'000;
    // Header plus payload of the reassembled datagram. A fragment reaching
    // beyond it drops the whole datagram. At most 65535, the total length
    // field's range (RFC 791 §3.1); at least 576 (RFC 1122 §3.3.2: MUST be
    // able to reassemble 576-byte datagrams).
    std::uint32_t max_datagram_size = 65535;
};

struct Ipv4ReassemblyCounters {
    std::uint64_t reasm_reqds = 0;         // ReasmReqds: fragments given to add()
    std::uint64_t reasm_oks = 0;           // ReasmOKs: datagrams reassembled
    std::uint64_t reasm_fails = 0;         // ReasmFails: failures of any reason below
    std::uint64_t reasm_timeout = 0;       // ReasmTimeout: datagrams expired
    std::uint64_t reasm_overlaps = 0;      // ReasmOverlaps: datagrams dropped for an overlap
    std::uint64_t oversized = 0;           // datagrams dropped for reaching past max_datagram_size
    std::uint64_t too_many_fragments = 0;  // datagrams dropped at max_fragments
    std::uint64_t no_buffer = 0;           // new datagrams refused (table or memory full), or dropped at max_bytes
    std::uint64_t bad_length = 0;          // fragments refused: empty, or MF set and not a multiple of 8
    std::uint64_t end_conflicts = 0;       // datagrams dropped: a fragment contradicted the known end
    std::uint64_t duplicates = 0;          // exact duplicate fragments ignored (not failures)
};

// What add() did with a fragment it accepted.
enum class Ipv4ReassemblyState : std::uint8_t {
    held,       // stored; the datagram is not complete yet
    duplicate,  // an exact duplicate of a fragment held; ignored
    complete,   // the datagram is complete: see datagram and buffer
};

struct Ipv4ReassemblyOutcome {
    Ipv4ReassemblyState state = Ipv4ReassemblyState::held;
    // When complete: the buffer to release(), and the whole datagram, header
    // and payload, contiguous. The header is the first fragment's (RFC 791
    // §3.2: "the header of the fragment with offset zero") with MF and the
    // fragment offset cleared, the total length set and the checksum
    // recomputed; the caller may modify the bytes until it releases them.
    std::uint32_t buffer = 0;
    std::span<std::uint8_t> datagram;
};

// A datagram that timed out after its first fragment arrived: the first
// fragment's header as received followed by the first 8 bytes of its
// payload, the quote RFC 792 puts in an ICMP Time Exceeded message (code 1,
// "fragment reassembly time exceeded"). RFC 1122 §3.3.2: send it only when
// fragment zero had arrived, which is why only such datagrams are reported.
struct Ipv4ExpiredDatagram {
    std::array<std::uint8_t, wire::kIpv4MaxHeaderLen + 8> bytes{};
    std::uint8_t length = 0;

    [[nodiscard]] std::span<const std::uint8_t> quote() const noexcept { return {bytes.data(), length}; }
};

class Ipv4Reassembler {
  public:
    // Setup path: allocates every buffer; throws std::invalid_argument if a
    // limit is out of range (the message names the field and its range).
    explicit Ipv4Reassembler(const Ipv4ReassemblyConfig& config = {});
    ~Ipv4Reassembler();
    Ipv4Reassembler(const Ipv4Reassembler&) = delete;
    Ipv4Reassembler& operator=(const Ipv4Reassembler&) = delete;

    // Takes one fragment (view.is_fragment() must hold; its header checksum
    // already verified). The bytes are copied: the caller frees the frame
    // whatever the result. Errors (all counted):
    //   malformed: bad length, overlap, conflicting end, oversized;
    //   no_buffers: table or memory full, too many fragments;
    //   invalid_argument: not a fragment (not counted; deliver it directly).
    // A fragment that arrives for a datagram past its deadline is still
    // accepted: only expire() times datagrams out.
    [[nodiscard]] Result<Ipv4ReassemblyOutcome> add(const wire::Ipv4View& fragment, std::uint64_t now_ns) noexcept;

    // Gives back the buffer of a completed datagram; its span is invalid
    // from now on. Releasing a buffer that holds no completed datagram is a
    // caller bug: it asserts in debug builds and is ignored otherwise.
    void release(std::uint32_t buffer) noexcept;

    // Discards every datagram in progress whose deadline (first fragment's
    // arrival + timeout) is at or before now_ns, and writes a report into out
    // for each one whose first fragment had arrived. Returns the number of
    // reports written. A datagram that would need a report when out is full
    // is left for the next call, so call again while the return equals
    // out.size().
    [[nodiscard]] std::size_t expire(std::uint64_t now_ns, std::span<Ipv4ExpiredDatagram> out) noexcept;

    // Earliest deadline of the datagrams in progress, or UINT64_MAX if none:
    // when the timer phase needs to call expire().
    [[nodiscard]] std::uint64_t next_expiry_ns() const noexcept;

    [[nodiscard]] std::uint32_t in_progress() const noexcept { return active_count_; }
    [[nodiscard]] std::uint32_t buffers_in_use() const noexcept { return config_.max_datagrams - free_count_; }
    [[nodiscard]] std::uint64_t bytes_held() const noexcept { return bytes_held_; }
    [[nodiscard]] const Ipv4ReassemblyConfig& config() const noexcept { return config_; }
    [[nodiscard]] const Ipv4ReassemblyCounters& counters() const noexcept { return counters_; }

  private:
    struct Key {
        wire::Ipv4Address source;
        wire::Ipv4Address destination;
        std::uint16_t identification = 0;
        std::uint8_t protocol = 0;
        friend bool operator==(const Key&, const Key&) = default;
    };
    // One fragment's payload: bytes [begin, end) of the datagram's payload.
    struct Extent {
        std::uint32_t begin;
        std::uint32_t end;
    };
    enum class SlotState : std::uint8_t { free, assembling, complete };
    struct Slot {
        Key key;
        std::uint64_t deadline_ns = 0;
        std::uint32_t received = 0;   // payload bytes held (no overlaps, so no byte counts twice)
        std::uint32_t max_end = 0;    // highest end of a fragment held
        std::uint32_t total = 0;      // payload length, once the last fragment (MF clear) arrived
        std::uint16_t fragments = 0;  // entries of the extent list
        std::uint8_t header_len = 0;  // first fragment's header length; 0 until it arrives
        bool last_seen = false;
        SlotState state = SlotState::free;
        std::uint32_t active_index = 0;  // position in active_ while assembling
    };

    [[nodiscard]] std::uint8_t* buffer_of(std::uint32_t slot) const noexcept;
    [[nodiscard]] Extent* extents_of(std::uint32_t slot) const noexcept;
    [[nodiscard]] std::uint32_t find(const Key& key) const noexcept;
    [[nodiscard]] Error fail(std::uint32_t slot, std::uint64_t& reason_counter, Errc code, const char* why) noexcept;
    void discard(std::uint32_t slot) noexcept;
    void free_slot(std::uint32_t slot) noexcept;

    static constexpr std::uint32_t kNone = 0xffffffffu;

    Ipv4ReassemblyConfig config_;
    Ipv4ReassemblyCounters counters_;
    std::size_t buffer_size_ = 0;  // header room + largest payload
    std::unique_ptr<std::uint8_t[]> buffers_;
    std::unique_ptr<Extent[]> extents_;
    std::unique_ptr<Slot[]> slots_;
    std::unique_ptr<std::uint32_t[]> active_;  // slots assembling, dense: active_[0 .. active_count_)
    std::unique_ptr<std::uint32_t[]> free_;    // free slots, a stack: free_[0 .. free_count_)
    std::uint32_t active_count_ = 0;
    std::uint32_t free_count_ = 0;
    std::uint64_t bytes_held_ = 0;
};

}  // namespace kbnet::stack
