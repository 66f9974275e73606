// The neighbour (ARP) table: IPv4 next hop -> Ethernet address, for one
// interface of one stack.
//
// Fixed capacity, all memory taken at construction; no allocation, lock or
// exception afterwards. The owner (the interface) implements NeighbourOwner
// to put ARP requests on the wire and to take back packets that were held
// while an address was being resolved.
//
// States (a simplified Linux NUD machine):
//   incomplete  request sent, no answer yet; packets wait in a small queue
//   reachable   confirmed within reachable_ns: used as is
//   stale       address known but not confirmed lately: still used; the
//               first use sends a unicast request and moves to probe
//   probe       re-request in flight; the old address is still used
//   failed      no answer after max_requests: sends are refused until
//               failed_ns passes (negative cache)
//   permanent   static entry: never aged, never changed by ARP
//
// Time is passed in, and the table arms one timer per entry on the owner's
// TimerWheel for request retries and ageing. The data path (resolve) also
// checks the entry's deadlines against its own `now`, so the answer does
// not depend on whether the wheel has been advanced to `now` yet (the poll
// loop runs protocols before timers).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "kbnet/core/packet.hpp"
#include "kbnet/core/result.hpp"
#include "kbnet/stack/timer_wheel.hpp"
#include "kbnet/wire/address.hpp"
#include "kbnet/wire/arp.hpp"

namespace kbnet::stack {

// What the table needs from the interface that owns it. Calls happen from
// inside resolve(), on_arp(), add_static(), remove() and the owner's
// TimerWheel::advance(); the owner may call back into the table from them.
class NeighbourOwner {
  public:
    virtual ~NeighbourOwner() = default;
    // Send an ARP request for target to the Ethernet destination:
    // broadcast to resolve an unknown address, the cached address to
    // re-check a stale one (RFC 1122 §2.3.2.1 "unicast poll").
    virtual void send_arp_request(wire::Ipv4Address target, const wire::MacAddress& destination) noexcept = 0;
    // A packet held while its next hop was incomplete, now resolved: the
    // owner takes it back and transmits it to mac. Called in queue order.
    virtual void transmit_resolved(PacketHandle packet, wire::Ipv4Address next_hop,
                                   const wire::MacAddress& mac) noexcept = 0;
    // A held packet that will not be sent (resolution failed, the queue
    // overflowed, the entry was removed): the owner takes it back to free.
    virtual void release_unresolved(PacketHandle packet) noexcept = 0;
};

enum class NeighbourState : std::uint8_t { incomplete, reachable, stale, probe, failed, permanent };

[[nodiscard]] const char* neighbour_state_name(NeighbourState state) noexcept;

struct NeighbourConfig {
    std::uint32_t capacity = 1024;  // entries; the table never grows
    // Packets held per incomplete entry. RFC 1122 §2.3.2.2 asks for at
    // least one; a few cover a burst (a TCP handshake plus data). 1 .. 64.
    std::uint8_t queue_len = 4;
    // Requests for one resolution before giving up: 3 like Linux's
    // mcast_solicit. Also the number of unicast probes of a stale entry.
    // 1 .. 16.
    std::uint8_t max_requests = 3;
    // Wait after the first request; doubles after each one (1 s, 2 s, 4 s).
    // At least 1 s: RFC 1122 §2.3.2.1 recommends at most one request per
    // second per destination.
    std::uint64_t retry_ns = 1'000'000'000;
    // A confirmed entry is reachable this long, then stale (Linux's
    // base_reachable_time, 30 s).
    std::uint64_t reachable_ns = 30'000'000'000;
    // A stale entry not used for this long is removed (Linux's
    // gc_stale_time, 60 s).
    std::uint64_t gc_ns = 60'000'000'000;
    // A failed entry refuses sends this long before a new resolution may
    // start (FreeBSD's host_down_time, 20 s), so a flood of sends to a dead
    // host costs no ARP flood.
    std::uint64_t failed_ns = 20'000'000'000;
};

// Plain per-thread counters (design.md, decision 8).
struct NeighbourCounters {
    std::uint64_t requests_sent = 0;         // broadcast requests (resolution)
    std::uint64_t probes_sent = 0;           // unicast requests (stale re-check)
    std::uint64_t requests_received = 0;     // ARP requests given to on_arp
    std::uint64_t replies_received = 0;      // ARP replies given to on_arp
    std::uint64_t arp_ignored = 0;           // bogus sender: not merged, no reply
    std::uint64_t resolved = 0;              // incomplete -> known
    std::uint64_t resolution_failures = 0;   // incomplete or probe -> failed
    std::uint64_t packets_queued = 0;        // held by an incomplete entry
    std::uint64_t packets_flushed = 0;       // held, then sent on resolution
    std::uint64_t queue_overflow_drops = 0;  // oldest held packet dropped for a newer one
    std::uint64_t unresolved_drops = 0;      // held packets released when resolution failed or entry removed
    std::uint64_t negative_hits = 0;         // resolves refused by a failed entry
    std::uint64_t table_full = 0;            // resolves (or ARP adds) refused: nothing evictable
    std::uint64_t evictions = 0;             // LRU entries evicted to make room
    std::uint64_t mac_changes = 0;           // a known entry's address changed
    std::uint64_t aged_out = 0;              // stale or failed entries removed by ageing
};

enum class ResolveOutcome : std::uint8_t {
    resolved,  // mac is valid: the caller sends the packet (it still owns it)
    queued,    // the table holds the packet: it comes back via transmit_resolved or release_unresolved
    failed,    // not taken: the caller still owns the packet and frees it; error says why
};

struct [[nodiscard]] ResolveResult {
    ResolveOutcome outcome = ResolveOutcome::failed;
    wire::MacAddress mac{};
    Error error{};
};

// The outcome of on_arp(): RFC 826's merge flag, and whether the owner
// should answer (turn the request into a reply, ArpViewMut::make_reply).
struct [[nodiscard]] ArpReceiveResult {
    bool merged = false;     // an entry for the sender existed and was updated
    bool added = false;      // an entry for the sender was created
    bool reply_due = false;  // target is ours and the packet is a request
};

// A snapshot of one entry, for tests and stackdump.
struct NeighbourInfo {
    wire::Ipv4Address ip;
    wire::MacAddress mac;  // zero while incomplete
    NeighbourState state = NeighbourState::incomplete;
    std::uint8_t queued = 0;    // packets held
    std::uint8_t requests = 0;  // requests sent in the current resolution or probe
};

class NeighbourTable {
  public:
    // The owner and the wheel must outlive the table. Setup path: throws
    // std::invalid_argument naming the field and its allowed range.
    NeighbourTable(const NeighbourConfig& config, NeighbourOwner& owner, TimerWheel& wheel);
    // Hands every held packet back to the owner (release_unresolved).
    ~NeighbourTable();
    NeighbourTable(const NeighbourTable&) = delete;
    NeighbourTable& operator=(const NeighbourTable&) = delete;

    // The Ethernet address for next_hop, to send packet to.
    //  - known (reachable, stale, probe, permanent): resolved with the mac;
    //    a stale entry also starts a unicast re-request and keeps its mac.
    //  - unknown: an incomplete entry is created, a broadcast request sent
    //    and the packet queued; while incomplete, further packets queue (the
    //    oldest is dropped when full, RFC 1122 §2.3.2.2).
    //  - failed within failed_ns: failed (would_block), nothing sent.
    //  - table full of incomplete and permanent entries: failed (no_buffers).
    //  - next_hop not a unicast address: failed (invalid_argument).
    ResolveResult resolve(wire::Ipv4Address next_hop, PacketHandle packet, std::uint64_t now_ns) noexcept;

    // RFC 826 reception, after the view checked hardware and protocol
    // types. target_is_local: the target protocol address is one the owner
    // answers for. Updates (merges) an entry for the sender, adds one if the
    // target is ours, flushes the queue of an entry that resolves, and says
    // whether a reply is due.
    ArpReceiveResult on_arp(const wire::ArpView& arp, bool target_is_local, std::uint64_t now_ns) noexcept;

    // Upper-layer reachability advice (RFC 1122 §2.3.2.1 "higher-level
    // advice", e.g. a TCP ACK of new data from the neighbour): marks a known
    // entry reachable again without an ARP exchange. Cheap: no timer moves.
    void confirm(wire::Ipv4Address ip, std::uint64_t now_ns) noexcept;

    // A permanent entry (tests, a static route's gateway, an entry mirrored
    // from the kernel). Replaces a dynamic entry for the same address; an
    // incomplete one's queued packets go out to mac. Fails with no_buffers
    // if the table is full of entries that cannot be evicted.
    [[nodiscard]] Status add_static(wire::Ipv4Address ip, const wire::MacAddress& mac) noexcept;
    // Removes the entry of any state; held packets are released. False if
    // there was none.
    bool remove(wire::Ipv4Address ip) noexcept;

    [[nodiscard]] std::optional<NeighbourInfo> find(wire::Ipv4Address ip) const noexcept;
    [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
    [[nodiscard]] std::uint32_t capacity() const noexcept { return capacity_; }
    [[nodiscard]] const NeighbourCounters& counters() const noexcept { return counters_; }
    [[nodiscard]] const NeighbourConfig& config() const noexcept { return config_; }

  private:
    static constexpr std::uint32_t kNone = UINT32_MAX;
    static constexpr std::uint8_t kMaxQueue = 64;  // bounds the copy made before handing packets back

    struct Entry {
        Timer timer;
        NeighbourTable* table = nullptr;
        wire::Ipv4Address ip;
        wire::MacAddress mac;
        NeighbourState state = NeighbourState::incomplete;
        bool in_use = false;
        std::uint8_t requests = 0;
        std::uint8_t queue_head = 0;
        std::uint8_t queue_count = 0;
        std::uint32_t lru_prev = kNone;  // list of evictable entries; also the free list's link
        std::uint32_t lru_next = kNone;
        std::uint64_t reachable_until_ns = 0;  // reachable: confirmed time + reachable_ns
        std::uint64_t failed_until_ns = 0;     // failed: when a new resolution may start
    };

    static void on_timer(void* context, Timer& timer, std::uint64_t now_ns) noexcept;
    void expire(Entry& e, std::uint64_t now_ns) noexcept;

    [[nodiscard]] std::uint32_t lookup(wire::Ipv4Address ip) const noexcept;
    [[nodiscard]] std::uint32_t home_bucket(wire::Ipv4Address ip) const noexcept;
    [[nodiscard]] std::uint32_t create(wire::Ipv4Address ip) noexcept;  // kNone if full
    void destroy(std::uint32_t index) noexcept;
    [[nodiscard]] std::uint32_t index_of(const Entry& e) const noexcept {
        return static_cast<std::uint32_t>(&e - entries_.get());
    }

    void lru_push_front(std::uint32_t index) noexcept;
    void lru_unlink(std::uint32_t index) noexcept;
    void touch(Entry& e) noexcept;
    [[nodiscard]] static bool evictable(NeighbourState s) noexcept {
        return s != NeighbourState::incomplete && s != NeighbourState::permanent;
    }
    void set_state(Entry& e, NeighbourState state) noexcept;

    void start_resolution(Entry& e, std::uint64_t now_ns) noexcept;
    void start_probe(Entry& e, std::uint64_t now_ns) noexcept;
    void send_request(Entry& e, std::uint64_t now_ns) noexcept;
    void fail(Entry& e, std::uint64_t now_ns) noexcept;
    void make_reachable(Entry& e, std::uint64_t now_ns) noexcept;
    void make_stale(Entry& e, std::uint64_t now_ns) noexcept;
    void update_from_arp(Entry& e, const wire::MacAddress& mac, bool solicited, std::uint64_t now_ns) noexcept;

    void enqueue(Entry& e, PacketHandle packet) noexcept;
    void flush_queue(Entry& e) noexcept;    // transmit_resolved, in order
    void release_queue(Entry& e) noexcept;  // release_unresolved
    [[nodiscard]] PacketHandle* queue_of(const Entry& e) const noexcept {
        return queue_storage_.get() + static_cast<std::size_t>(index_of(e)) * config_.queue_len;
    }

    NeighbourConfig config_;
    NeighbourOwner& owner_;
    TimerWheel& wheel_;
    std::uint32_t capacity_;
    std::uint32_t size_ = 0;
    std::uint32_t bucket_mask_ = 0;
    std::uint32_t bucket_bits_ = 0;
    std::uint32_t free_head_ = kNone;
    std::uint32_t lru_head_ = kNone;  // most recently used evictable entry
    std::uint32_t lru_tail_ = kNone;  // least recently used: the next to evict
    NeighbourCounters counters_;
    std::unique_ptr<Entry[]> entries_;
    std::unique_ptr<std::uint32_t[]> buckets_;  // open addressing, linear probing: entry index or kNone
    std::unique_ptr<PacketHandle[]> queue_storage_;
};

}  // namespace kbnet::stack
