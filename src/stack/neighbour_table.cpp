#include "kbnet/stack/neighbour_table.hpp"

#include <array>
#include <stdexcept>
#include <string>

namespace kbnet::stack {

namespace {

std::uint64_t add_saturating(std::uint64_t a, std::uint64_t b) noexcept {
    return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

}  // namespace

const char* neighbour_state_name(NeighbourState state) noexcept {
    switch (state) {
        case NeighbourState::incomplete: return "incomplete";
        case NeighbourState::reachable: return "reachable";
        case NeighbourState::stale: return "stale";
        case NeighbourState::probe: return "probe";
        case NeighbourState::failed: return "failed";
        case NeighbourState::permanent: return "permanent";
    }
    return "unknown";
}

NeighbourTable::NeighbourTable(const NeighbourConfig& config, NeighbourOwner& owner, TimerWheel& wheel)
    : config_(config), owner_(owner), wheel_(wheel), capacity_(config.capacity) {
    if (config.capacity == 0 || config.capacity > (1u << 24)) {
        throw std::invalid_argument("neighbour table capacity must be 1 .. 16777216 entries, got " +
                                    std::to_string(config.capacity));
    }
    if (config.queue_len == 0 || config.queue_len > kMaxQueue) {
        throw std::invalid_argument("neighbour queue_len must be 1 .. 64 packets per unresolved entry, got " +
                                    std::to_string(config.queue_len));
    }
    if (config.max_requests == 0 || config.max_requests > 16) {
        throw std::invalid_argument("neighbour max_requests must be 1 .. 16, got " +
                                    std::to_string(config.max_requests));
    }
    if (config.retry_ns < 1'000'000'000) {
        throw std::invalid_argument(
            "neighbour retry_ns must be at least 1'000'000'000 (1 s): RFC 1122 2.3.2.1 allows one ARP request "
            "per second per destination; got " +
            std::to_string(config.retry_ns));
    }
    if (config.reachable_ns == 0 || config.gc_ns == 0 || config.failed_ns == 0) {
        throw std::invalid_argument("neighbour reachable_ns, gc_ns and failed_ns must be above zero");
    }

    // Buckets: a power of two at least twice the capacity, so the load is
    // at most 1/2 and a linear probe stays short and always meets an empty
    // bucket.
    bucket_bits_ = 1;
    while ((1u << bucket_bits_) < 2 * capacity_) ++bucket_bits_;
    bucket_mask_ = (1u << bucket_bits_) - 1;
    buckets_ = std::make_unique<std::uint32_t[]>(std::size_t{bucket_mask_} + 1);
    for (std::uint32_t i = 0; i <= bucket_mask_; ++i) buckets_[i] = kNone;

    entries_ = std::make_unique<Entry[]>(capacity_);
    queue_storage_ = std::make_unique<PacketHandle[]>(std::size_t{capacity_} * config_.queue_len);
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Entry& e = entries_[i];
        e.table = this;
        e.timer.set_callback(&NeighbourTable::on_timer, &e);
        e.lru_next = i + 1 < capacity_ ? i + 1 : kNone;  // free list
    }
    free_head_ = 0;
}

NeighbourTable::~NeighbourTable() {
    for (std::uint32_t i = 0; i < capacity_; ++i) {
        Entry& e = entries_[i];
        wheel_.cancel(e.timer);
        if (!e.in_use) continue;
        const PacketHandle* q = queue_of(e);
        for (std::uint8_t n = 0; n < e.queue_count; ++n) {
            owner_.release_unresolved(q[(e.queue_head + n) % config_.queue_len]);
        }
        e.queue_count = 0;
    }
}

// ---- hash index -------------------------------------------------------------

std::uint32_t NeighbourTable::home_bucket(wire::Ipv4Address ip) const noexcept {
    // Fibonacci hashing: addresses of one subnet differ in their low bits,
    // which the multiply spreads over the high bits kept here.
    return (ip.value * 0x9e3779b1u) >> (32 - bucket_bits_);
}

std::uint32_t NeighbourTable::lookup(wire::Ipv4Address ip) const noexcept {
    for (std::uint32_t b = home_bucket(ip);; b = (b + 1) & bucket_mask_) {
        const std::uint32_t index = buckets_[b];
        if (index == kNone) return kNone;
        if (entries_[index].ip == ip) return index;
    }
}

std::uint32_t NeighbourTable::create(wire::Ipv4Address ip) noexcept {
    if (free_head_ == kNone) {
        // Full: evict the least recently used entry that holds no packets
        // and is not static. Incomplete entries are never evicted, so a
        // burst of new destinations cannot drop packets already queued.
        if (lru_tail_ == kNone) return kNone;
        ++counters_.evictions;
        destroy(lru_tail_);
    }
    const std::uint32_t index = free_head_;
    Entry& e = entries_[index];
    free_head_ = e.lru_next;
    e.in_use = true;
    e.ip = ip;
    e.mac = {};
    e.state = NeighbourState::incomplete;  // not on the LRU list until it leaves this state
    e.requests = 0;
    e.queue_head = e.queue_count = 0;
    e.lru_prev = e.lru_next = kNone;
    e.reachable_until_ns = e.failed_until_ns = 0;
    std::uint32_t b = home_bucket(ip);
    while (buckets_[b] != kNone) b = (b + 1) & bucket_mask_;
    buckets_[b] = index;
    ++size_;
    return index;
}

// Unhooks the entry from everything, then gives its held packets back, so
// an owner that calls into the table from release_unresolved sees a
// consistent table.
void NeighbourTable::destroy(std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    wheel_.cancel(e.timer);
    if (evictable(e.state)) lru_unlink(index);

    std::array<PacketHandle, kMaxQueue> held;
    const std::uint8_t n = e.queue_count;
    const PacketHandle* q = queue_of(e);
    for (std::uint8_t i = 0; i < n; ++i) held[i] = q[(e.queue_head + i) % config_.queue_len];
    e.queue_count = 0;

    // Backward-shift deletion (Knuth 6.4, algorithm R): no tombstones, so
    // lookups never slow down as entries come and go.
    std::uint32_t hole = home_bucket(e.ip);
    while (buckets_[hole] != index) hole = (hole + 1) & bucket_mask_;
    buckets_[hole] = kNone;
    for (std::uint32_t next = (hole + 1) & bucket_mask_; buckets_[next] != kNone; next = (next + 1) & bucket_mask_) {
        const std::uint32_t home = home_bucket(entries_[buckets_[next]].ip);
        // The entry at `next` stays unless the hole lies on its probe path,
        // that is unless its home is not cyclically within (hole, next].
        const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (stays) continue;
        buckets_[hole] = buckets_[next];
        buckets_[next] = kNone;
        hole = next;
    }
    e.in_use = false;
    e.state = NeighbourState::incomplete;
    e.lru_next = free_head_;
    free_head_ = index;
    --size_;

    counters_.unresolved_drops += n;
    for (std::uint8_t i = 0; i < n; ++i) owner_.release_unresolved(held[i]);
}

// ---- LRU of evictable entries -----------------------------------------------

void NeighbourTable::lru_push_front(std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    e.lru_prev = kNone;
    e.lru_next = lru_head_;
    if (lru_head_ != kNone) entries_[lru_head_].lru_prev = index;
    lru_head_ = index;
    if (lru_tail_ == kNone) lru_tail_ = index;
}

void NeighbourTable::lru_unlink(std::uint32_t index) noexcept {
    Entry& e = entries_[index];
    if (e.lru_prev != kNone) {
        entries_[e.lru_prev].lru_next = e.lru_next;
    } else {
        lru_head_ = e.lru_next;
    }
    if (e.lru_next != kNone) {
        entries_[e.lru_next].lru_prev = e.lru_prev;
    } else {
        lru_tail_ = e.lru_prev;
    }
    e.lru_prev = e.lru_next = kNone;
}

void NeighbourTable::touch(Entry& e) noexcept {
    const std::uint32_t index = index_of(e);
    if (!evictable(e.state) || lru_head_ == index) return;
    lru_unlink(index);
    lru_push_front(index);
}

void NeighbourTable::set_state(Entry& e, NeighbourState state) noexcept {
    const bool was = evictable(e.state), will = evictable(state);
    if (was && !will) lru_unlink(index_of(e));
    if (!was && will) lru_push_front(index_of(e));
    e.state = state;
}

// ---- packet queue -------------------------------------------------------------

void NeighbourTable::enqueue(Entry& e, PacketHandle packet) noexcept {
    PacketHandle* q = queue_of(e);
    ++counters_.packets_queued;
    if (e.queue_count < config_.queue_len) {
        q[(e.queue_head + e.queue_count) % config_.queue_len] = packet;
        ++e.queue_count;
        return;
    }
    // Full: drop the oldest. RFC 1122 2.3.2.2: "SHOULD save ... at least
    // one (the latest) packet"; the newest is also what a retransmitting
    // sender would want delivered. The new packet takes the oldest's slot,
    // which becomes the tail once the head moves past it.
    const PacketHandle oldest = q[e.queue_head];
    q[e.queue_head] = packet;
    e.queue_head = static_cast<std::uint8_t>((e.queue_head + 1) % config_.queue_len);
    ++counters_.queue_overflow_drops;
    owner_.release_unresolved(oldest);
}

void NeighbourTable::flush_queue(Entry& e) noexcept {
    // Copied out first: the owner may call back into the table (resolve
    // another packet, even evict this entry) while transmitting.
    std::array<PacketHandle, kMaxQueue> held;
    const std::uint8_t n = e.queue_count;
    const PacketHandle* q = queue_of(e);
    for (std::uint8_t i = 0; i < n; ++i) held[i] = q[(e.queue_head + i) % config_.queue_len];
    e.queue_count = 0;
    e.queue_head = 0;
    const wire::Ipv4Address ip = e.ip;
    const wire::MacAddress mac = e.mac;
    counters_.packets_flushed += n;
    for (std::uint8_t i = 0; i < n; ++i) owner_.transmit_resolved(held[i], ip, mac);
}

void NeighbourTable::release_queue(Entry& e) noexcept {
    std::array<PacketHandle, kMaxQueue> held;
    const std::uint8_t n = e.queue_count;
    const PacketHandle* q = queue_of(e);
    for (std::uint8_t i = 0; i < n; ++i) held[i] = q[(e.queue_head + i) % config_.queue_len];
    e.queue_count = 0;
    e.queue_head = 0;
    counters_.unresolved_drops += n;
    for (std::uint8_t i = 0; i < n; ++i) owner_.release_unresolved(held[i]);
}

// ---- state machine ------------------------------------------------------------

// Each request arms the entry's timer for the next one, waiting retry_ns,
// then twice that, and so on: with the defaults, requests at 0 s, 1 s and
// 3 s and failure at 7 s. The wait is never under retry_ns >= 1 s, so at
// most one request per second per destination (RFC 1122 2.3.2.1).
void NeighbourTable::send_request(Entry& e, std::uint64_t now_ns) noexcept {
    const unsigned shift = e.requests;
    ++e.requests;
    // retry_ns << shift, saturated: a large retry_ns with many requests
    // must not wrap to a short wait.
    const std::uint64_t wait =
        shift >= 64 || config_.retry_ns > (~std::uint64_t{0} >> shift) ? ~std::uint64_t{0} : config_.retry_ns << shift;
    wheel_.schedule(e.timer, add_saturating(now_ns, wait));
    // Unicast to the address being re-checked (RFC 1122 2.3.2.1 "unicast
    // poll"): it does not disturb every host on the segment, and a host
    // whose address changed is found again by the broadcast that follows
    // the probe's failure (or sooner, by its own gratuitous ARP).
    const bool probe = e.state == NeighbourState::probe;
    if (probe) {
        ++counters_.probes_sent;
    } else {
        ++counters_.requests_sent;
    }
    owner_.send_arp_request(e.ip, probe ? e.mac : wire::MacAddress::broadcast());  // last: may re-enter
}

void NeighbourTable::start_resolution(Entry& e, std::uint64_t now_ns) noexcept {
    set_state(e, NeighbourState::incomplete);
    e.mac = {};
    e.requests = 0;
    send_request(e, now_ns);
}

void NeighbourTable::start_probe(Entry& e, std::uint64_t now_ns) noexcept {
    set_state(e, NeighbourState::probe);
    e.requests = 0;
    send_request(e, now_ns);
}

void NeighbourTable::fail(Entry& e, std::uint64_t now_ns) noexcept {
    ++counters_.resolution_failures;
    set_state(e, NeighbourState::failed);
    e.mac = {};
    e.failed_until_ns = add_saturating(now_ns, config_.failed_ns);
    wheel_.schedule(e.timer, e.failed_until_ns);
    release_queue(e);  // last: may re-enter
}

void NeighbourTable::make_reachable(Entry& e, std::uint64_t now_ns) noexcept {
    set_state(e, NeighbourState::reachable);
    e.requests = 0;
    e.reachable_until_ns = add_saturating(now_ns, config_.reachable_ns);
    wheel_.schedule(e.timer, e.reachable_until_ns);
}

void NeighbourTable::make_stale(Entry& e, std::uint64_t now_ns) noexcept {
    set_state(e, NeighbourState::stale);
    e.requests = 0;
    // Removed when unused for gc_ns: any use moves it to probe first.
    wheel_.schedule(e.timer, add_saturating(now_ns, config_.gc_ns));
}

void NeighbourTable::on_timer(void* context, Timer&, std::uint64_t now_ns) noexcept {
    Entry& e = *static_cast<Entry*>(context);
    e.table->expire(e, now_ns);
}

void NeighbourTable::expire(Entry& e, std::uint64_t now_ns) noexcept {
    switch (e.state) {
        case NeighbourState::incomplete:
        case NeighbourState::probe:
            if (e.requests < config_.max_requests) {
                send_request(e, now_ns);
            } else {
                fail(e, now_ns);
            }
            return;
        case NeighbourState::reachable:
            // confirm() extends reachable_until_ns without moving the timer.
            if (now_ns < e.reachable_until_ns) {
                wheel_.schedule(e.timer, e.reachable_until_ns);
            } else {
                make_stale(e, now_ns);
            }
            return;
        case NeighbourState::stale:
        case NeighbourState::failed:
            ++counters_.aged_out;
            destroy(index_of(e));
            return;
        case NeighbourState::permanent: return;
    }
}

// ---- data path ----------------------------------------------------------------

ResolveResult NeighbourTable::resolve(wire::Ipv4Address next_hop, PacketHandle packet, std::uint64_t now_ns) noexcept {
    if (next_hop.is_unspecified() || next_hop.is_multicast() || next_hop.is_broadcast()) {
        return {ResolveOutcome::failed,
                {},
                Error{Errc::invalid_argument,
                      "next hop is not a unicast address; multicast and broadcast map to Ethernet addresses "
                      "without ARP"}};
    }
    std::uint32_t index = lookup(next_hop);
    if (index == kNone) {
        index = create(next_hop);
        if (index == kNone) {
            ++counters_.table_full;
            return {ResolveOutcome::failed,
                    {},
                    Error{Errc::no_buffers,
                          "neighbour table full of unresolved and static entries; raise NeighbourConfig::capacity"}};
        }
        Entry& e = entries_[index];
        enqueue(e, packet);
        start_resolution(e, now_ns);
        return {ResolveOutcome::queued, {}, {}};
    }

    Entry& e = entries_[index];
    switch (e.state) {
        case NeighbourState::reachable:
            if (now_ns < e.reachable_until_ns) break;
            // Past its reachable time even if the wheel has not said so
            // yet: this use is the stale entry's first.
            [[fallthrough]];
        case NeighbourState::stale:
            // Keep sending to the cached address while it is re-checked.
            start_probe(e, now_ns);
            break;
        case NeighbourState::probe:
        case NeighbourState::permanent: break;
        case NeighbourState::incomplete: enqueue(e, packet); return {ResolveOutcome::queued, {}, {}};
        case NeighbourState::failed:
            if (now_ns < e.failed_until_ns) {
                ++counters_.negative_hits;
                return {ResolveOutcome::failed,
                        {},
                        Error{Errc::would_block,
                              "next hop did not answer ARP; sends to it are refused for NeighbourConfig::failed_ns"}};
            }
            enqueue(e, packet);
            start_resolution(e, now_ns);
            return {ResolveOutcome::queued, {}, {}};
    }
    // A probe's request may have re-entered and removed the entry: look at
    // it again only if it is still the one for next_hop.
    if (!e.in_use || e.ip != next_hop || e.state == NeighbourState::failed) {
        return {ResolveOutcome::failed, {}, Error{Errc::would_block, "neighbour entry removed while resolving"}};
    }
    touch(e);
    return {ResolveOutcome::resolved, e.mac, {}};
}

void NeighbourTable::update_from_arp(Entry& e, const wire::MacAddress& mac, bool solicited,
                                     std::uint64_t now_ns) noexcept {
    switch (e.state) {
        case NeighbourState::permanent:
            // A static entry is configuration, not a cache: ARP must not
            // override it (that is what makes it a defence against spoofing).
            return;
        case NeighbourState::incomplete:
            e.mac = mac;
            ++counters_.resolved;
            if (solicited) {
                make_reachable(e, now_ns);
            } else {
                make_stale(e, now_ns);
            }
            flush_queue(e);  // last: may re-enter
            return;
        case NeighbourState::failed:
            e.mac = mac;  // the host is back
            if (solicited) {
                make_reachable(e, now_ns);
            } else {
                make_stale(e, now_ns);
            }
            return;
        case NeighbourState::reachable:
        case NeighbourState::stale:
        case NeighbourState::probe: {
            const bool changed = e.mac != mac;
            if (changed) {
                ++counters_.mac_changes;
                e.mac = mac;
            }
            // Only a reply to us proves two-way reachability; an unsolicited
            // packet with a new address gives an address still to confirm,
            // one with the same address changes nothing (as Linux's
            // neigh_update).
            if (solicited) {
                make_reachable(e, now_ns);
            } else if (changed) {
                make_stale(e, now_ns);
            }
            return;
        }
    }
}

ArpReceiveResult NeighbourTable::on_arp(const wire::ArpView& arp, bool target_is_local, std::uint64_t now_ns) noexcept {
    ArpReceiveResult result;
    const std::uint16_t op = arp.operation();
    if (op == wire::kArpOpRequest) ++counters_.requests_received;
    if (op == wire::kArpOpReply) ++counters_.replies_received;

    const wire::MacAddress sender_mac = arp.sender_mac();
    const wire::Ipv4Address sender_ip = arp.sender_ip();
    // A station's own address is never multicast, broadcast or zero: such
    // a packet is forged or broken, and learning from or answering it would
    // point traffic at a whole segment.
    if (sender_mac.is_multicast() || sender_mac.is_zero() || sender_ip.is_multicast() || sender_ip.is_broadcast()) {
        ++counters_.arp_ignored;
        return result;
    }
    // RFC 826: "?Am I the target protocol address? ... ?Is the opcode
    // ares_op$REQUEST? (NOW look at the opcode!!)": a reply is due for a
    // request to us, whatever the table does with the sender.
    result.reply_due = target_is_local && op == wire::kArpOpRequest;
    // RFC 5227 2.1.1: an ARP probe has sender address 0.0.0.0 so that it
    // pollutes no cache; there is nothing to learn from it.
    if (sender_ip.is_unspecified()) return result;

    // A reply addressed to us is the answer to our request (or probe).
    const bool solicited = op == wire::kArpOpReply && target_is_local;
    // RFC 826: "If the pair <protocol type, sender protocol address> is
    // already in my translation table, update the sender hardware address
    // field of the entry with the new information in the packet and set
    // Merge_flag to true."
    const std::uint32_t index = lookup(sender_ip);
    if (index != kNone) {
        result.merged = true;
        update_from_arp(entries_[index], sender_mac, solicited, now_ns);
        return result;
    }
    // RFC 826: "?Am I the target protocol address? Yes: If Merge_flag is
    // false, add the triplet <protocol type, sender protocol address,
    // sender hardware address> to the translation table." Only then: a
    // host does not cache every sender on the segment.
    if (!target_is_local) return result;
    const std::uint32_t added = create(sender_ip);
    if (added == kNone) {
        ++counters_.table_full;
        return result;
    }
    Entry& e = entries_[added];
    e.mac = sender_mac;
    result.added = true;
    if (solicited) {
        make_reachable(e, now_ns);
    } else {
        // The sender will most likely be answered by us next: we hold its
        // address but have not confirmed it (Linux adds such entries STALE).
        make_stale(e, now_ns);
    }
    return result;
}

void NeighbourTable::confirm(wire::Ipv4Address ip, std::uint64_t now_ns) noexcept {
    const std::uint32_t index = lookup(ip);
    if (index == kNone) return;
    Entry& e = entries_[index];
    switch (e.state) {
        case NeighbourState::reachable:
            e.reachable_until_ns = add_saturating(now_ns, config_.reachable_ns);  // the timer catches up when it fires
            return;
        case NeighbourState::stale:
        case NeighbourState::probe: make_reachable(e, now_ns); return;
        case NeighbourState::incomplete:
        case NeighbourState::failed:
        case NeighbourState::permanent: return;
    }
}

// ---- management ---------------------------------------------------------------

Status NeighbourTable::add_static(wire::Ipv4Address ip, const wire::MacAddress& mac) noexcept {
    if (ip.is_unspecified() || ip.is_multicast() || ip.is_broadcast()) {
        return Error{Errc::invalid_argument, "static neighbour address must be unicast IPv4"};
    }
    if (mac.is_multicast() || mac.is_zero()) {
        return Error{Errc::invalid_argument, "static neighbour MAC must be a unicast, non-zero Ethernet address"};
    }
    std::uint32_t index = lookup(ip);
    if (index == kNone) index = create(ip);
    if (index == kNone) {
        ++counters_.table_full;
        return Error{Errc::no_buffers,
                     "neighbour table full of unresolved and static entries; raise NeighbourConfig::capacity"};
    }
    Entry& e = entries_[index];
    const bool was_incomplete = e.state == NeighbourState::incomplete && e.queue_count > 0;
    wheel_.cancel(e.timer);
    e.mac = mac;
    e.requests = 0;
    set_state(e, NeighbourState::permanent);
    if (was_incomplete) {
        ++counters_.resolved;
        flush_queue(e);
    }
    return {};
}

bool NeighbourTable::remove(wire::Ipv4Address ip) noexcept {
    const std::uint32_t index = lookup(ip);
    if (index == kNone) return false;
    destroy(index);
    return true;
}

std::optional<NeighbourInfo> NeighbourTable::find(wire::Ipv4Address ip) const noexcept {
    const std::uint32_t index = lookup(ip);
    if (index == kNone) return std::nullopt;
    const Entry& e = entries_[index];
    return NeighbourInfo{e.ip, e.mac, e.state, e.queue_count, e.requests};
}

}  // namespace kbnet::stack
