// The kernel tables' resync (see kernel_tables.hpp): re-dumping one table
// at a time without blocking while notifications keep patching the live
// one, then swapping in the dumped copy and replaying the notifications
// that arrived during the dump; why that replay is needed and enough is
// explained above keep_for_replay. Last, the constructor's dump of every
// table (dump_all), the only place that waits for the kernel. poll() (which
// feeds keep_for_replay and calls advance_resync), the apply_* functions
// that build both the live tables and the dumped copies, and the sockets
// are in kernel_tables.cpp.
#include "kbnet/stack/kernel_tables.hpp"

#include <errno.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "kbnet/core/log.hpp"
#include "stack/kernel_tables_internal.hpp"
#include "stack/netlink_message.hpp"

namespace kbnet::stack {

using namespace kernel_tables_detail;
using namespace netlink;

namespace {

// Polls in a row without a reply before a dump in flight is given up (about
// a second at the stack's once-a-millisecond pace, as long as the
// constructor waits), and polls to wait before retrying after a failure.
constexpr std::uint32_t kDumpStallPolls = 1000;
constexpr std::uint32_t kRetryPolls = 100;
constexpr int kSetupDumpAttempts = 5;  // constructor: dumps flagged NLM_F_DUMP_INTR in a row before giving up

// Contents equal, order included (what a reader can observe).
bool same_addresses(const std::vector<InterfaceAddress>& a, const std::vector<InterfaceAddress>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](const InterfaceAddress& x, const InterfaceAddress& y) {
        return x.address == y.address && x.prefix_len == y.prefix_len && x.secondary == y.secondary;
    });
}

bool same_routes(const std::vector<KernelTables::RouteEntry>& a,
                 const std::vector<KernelTables::RouteEntry>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), same_route_fields);
}

bool same_neighbours(const std::vector<KernelTables::NeighbourEntry>& a,
                     const std::vector<KernelTables::NeighbourEntry>& b) noexcept {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                      [](const KernelTables::NeighbourEntry& x, const KernelTables::NeighbourEntry& y) {
                          return x.address == y.address && x.value.mac == y.value.mac && x.value.state == y.value.state;
                      });
}

// Primaries first, each group in the kernel's order: a stable partition by
// rotation, because std::stable_partition may allocate a buffer and poll()
// must not allocate. Quadratic moves at worst, over at most max_addresses
// entries (64 by default).
void primaries_first(std::vector<InterfaceAddress>& table) noexcept {
    auto boundary = table.begin();  // end of the primaries moved so far
    for (auto it = table.begin(); it != table.end(); ++it) {
        if (it->secondary) continue;
        std::rotate(boundary, it, it + 1);  // *it to boundary, the secondaries between one place on
        ++boundary;
    }
}

// Dump replies in dump order, possibly with repeats: sorted by address, and
// of a repeated address the entry dumped last kept. Sorting on (address,
// later first) needs no buffer, unlike std::stable_sort.
void sort_dumped_neighbours(std::vector<KernelTables::NeighbourEntry>& table) noexcept {
    using Entry = KernelTables::NeighbourEntry;
    std::sort(table.begin(), table.end(), [](const Entry& a, const Entry& b) {
        return a.address != b.address ? a.address < b.address : a.dump_order > b.dump_order;
    });
    table.erase(
        std::unique(table.begin(), table.end(), [](const Entry& a, const Entry& b) { return a.address == b.address; }),
        table.end());
}

}  // namespace

// Why a dump in flight needs the notifications replayed, and why that is
// enough. The facts relied on: the kernel sends a change's notification
// after making the change; a netlink socket has one FIFO receive queue, so
// notifications are read in the order sent; when that queue overflows,
// messages are dropped and recvmsg reports ENOBUFS, after which the
// application must resynchronize (netlink(7)); a multipart dump is built
// part by part, each when the previous one is read (net/netlink/af_netlink.c,
// netlink_recvmsg -> netlink_dump), so it is not a snapshot.
//  - Needed: the staged copy holds each entry as it was when its part was
//    built. A change made after that (an entry already dumped is deleted)
//    reached the live table as a notification but not the copy, and no later
//    message says it again: swapping in the copy alone would lose it.
//  - Enough: every change after the dump request has a notification, in
//    order, on the notification socket. poll() applies it to the live table
//    and, while the dump of its table is in flight, keeps it in replay_
//    (if the mirror acts on it at all); finish_dump() applies the kept ones,
//    in order, to the new table; the ones read after the dump ended are
//    applied to the new table directly. A kept notification older than the
//    dump's view of an entry re-states an older value for a moment, but the
//    newer change the dump saw has its own notification later in the same
//    stream: the table ends at the newest. A dump during which some of
//    these did not fit in replay_, were lost (ENOBUFS) or cut (MSG_TRUNC)
//    is thrown away and sent again.
//  - Entries the dump missed or repeated without changing have no
//    notification. Each part resumes the kernel's walk from a position
//    saved in the previous one, so a table reshaped between parts shifts
//    the walk: an entry before the position removed skips an unchanged
//    one, an entry inserted repeats one. Link and address dumps record a
//    generation (dev_base_seq; inet_base_seq) and flag the parts built after
//    it moved with NLM_F_DUMP_INTR (nl_dump_check_consistent,
//    include/uapi/linux/netlink.h): such a dump is sent again. Neighbour and
//    IPv4 route dumps never set that flag: neigh_dump_table resumes at a
//    (hash bucket, index in bucket) pair, and a hash table grow reshuffles
//    everything; fib_table_dump resumes at a trie key, then by index among
//    that key's routes (fn_trie_dump_leaf), with no generation check in
//    inet_dump_fib. Spread over polls a millisecond apart, such a dump could
//    drop a live neighbour or route from the swapped-in table. So these two
//    are read whole within one poll (read_whole): the window shrinks to the
//    microseconds between two reads of one poll, in which a change on
//    another CPU can still shift the walk. A repeated entry is merged (the
//    one dumped last kept); a skipped one stays missing until a
//    notification names it or the next resync.
void KernelTables::keep_for_replay(const std::uint8_t* message, std::size_t length) noexcept {
    const std::size_t room = align4(length);
    if (replay_bytes_ + room > replay_.size()) {
        replay_incomplete_ = true;
        return;
    }
    std::memcpy(replay_.data() + replay_bytes_, message, length);
    replay_bytes_ += room;
}

void KernelTables::notifications_lost() noexcept {
    pending_sync_ = kSyncAll;
    // The dump in flight may miss one of the lost changes, which no replay
    // can restore: it must not be swapped in as consistent. finish_dump
    // throws it away and the bit just set dumps its table again.
    if (dump_table_ != 0) replay_incomplete_ = true;
}

bool KernelTables::read_whole(std::uint8_t table) noexcept {
    // Neither dump flags an inconsistent walk (see keep_for_replay). Reading
    // one whole never waits: the kernel builds the first part inside send()
    // and each next one inside the recvmsg that takes the previous one off
    // the queue (netlink_recvmsg calls netlink_dump after skb_free_datagram
    // while the dump runs and the queue is under half of SO_RCVBUF, which a
    // dump socket holding one part at a time always is), so every
    // MSG_DONTWAIT read finds a part, or the error that stopped the dump,
    // until NLMSG_DONE. The cost is the whole table's parts in one poll:
    // about ten 32 KiB reads for 4096 neighbours.
    return table == kSyncRoutes || table == kSyncNeighbours;
}

void KernelTables::advance_resync() noexcept {
    if (retry_polls_ > 0) {
        --retry_polls_;
        return;
    }
    // A budget of reads per poll bounds the time spent here: a big link or
    // address table takes several polls, and the next table's request waits
    // for a poll with reads left (the kernel builds the first part inside
    // send()). A route or neighbour dump is read whole and uses up the poll.
    std::uint32_t reads = config_.dump_reads_per_poll;
    while (reads > 0) {
        if (dump_table_ == 0) {
            // Link first (its flags decide which tables need re-reading),
            // then addresses (a change re-reads the routes), routes,
            // neighbours.
            std::uint8_t next = 0;
            for (const std::uint8_t table : {kSyncLink, kSyncAddresses, kSyncRoutes, kSyncNeighbours}) {
                if ((pending_sync_ & table) != 0) {
                    next = table;
                    break;
                }
            }
            if (next == 0) return;
            if (!start_dump(next)) {
                (void)dump_failed(next);
                log_dump_failure(next);
                return;
            }
        }
        const std::uint8_t table = dump_table_;
        DumpStep step = DumpStep::in_flight;
        if (read_whole(table)) {
            // Until NLMSG_DONE or an error. Should a read still find nothing
            // (not expected, see read_whole), the dump goes on next poll.
            std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
            step = read_dump(unlimited, false);
            reads = 0;
        } else {
            step = read_dump(reads, false);
        }
        if (step == DumpStep::failed) log_dump_failure(table);
        if (step != DumpStep::done) return;
    }
}

void KernelTables::log_dump_failure(std::uint8_t table) noexcept {
    KBNET_LOG_RATELIMITED(LogLevel::warn, kLogIntervalNs,
                          "kernel tables: the {} dump failed ({}); the mirror keeps following notifications "
                          "and the dump is retried",
                          table_name(table), std::system_category().message(errno));
}

bool KernelTables::start_dump(std::uint8_t table) noexcept {
    // The dump request: a header and the family-specific message with only
    // the family set (the kernel dumps every entry; we filter).
    struct {
        nlmsghdr header;
        union {
            ifaddrmsg addr;
            ifinfomsg link;
            rtmsg route;
            ndmsg neigh;
        } body;
    } request{};
    std::uint32_t body_len = 0;
    std::uint16_t type = 0;
    switch (table) {
        case kSyncAddresses:
            type = RTM_GETADDR;
            request.body.addr.ifa_family = AF_INET;
            body_len = sizeof(ifaddrmsg);
            break;
        case kSyncLink:
            type = RTM_GETLINK;
            request.body.link.ifi_family = AF_UNSPEC;
            body_len = sizeof(ifinfomsg);
            break;
        case kSyncRoutes:
            type = RTM_GETROUTE;
            request.body.route.rtm_family = AF_INET;
            body_len = sizeof(rtmsg);
            break;
        default:
            type = RTM_GETNEIGH;
            request.body.neigh.ndm_family = AF_INET;
            body_len = sizeof(ndmsg);
            break;
    }
    if (dump_fd_ < 0) dump_fd_ = open_dump_socket();  // dump_failed could not reopen it: try again
    if (dump_fd_ < 0) return false;
    const std::uint32_t seq = ++sequence_;
    request.header.nlmsg_len = static_cast<std::uint32_t>(kHeaderBytes) + body_len;
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = seq;
    // The kernel takes a request inside send() (rtnetlink_rcv runs in the
    // sender's context): nothing to wait for; MSG_DONTWAIT only makes sure.
    if (::send(dump_fd_, &request, request.header.nlmsg_len, MSG_DONTWAIT) < 0) return false;

    // From here the table's bit means "dump again after this one": a change
    // that asks for a re-read while this dump is in flight may not be in it.
    pending_sync_ &= static_cast<std::uint8_t>(~table);
    dump_table_ = table;
    dump_sequence_ = seq;
    dump_interrupted_ = false;
    replay_incomplete_ = false;
    replay_bytes_ = 0;
    dump_idle_polls_ = 0;
    // The copy is built from empty; capacity was reserved, nothing allocates.
    switch (table) {
        case kSyncLink: staged_link_flags_ = link_flags_; break;
        case kSyncAddresses: staged_addresses_.clear(); break;
        case kSyncRoutes: staged_routes_.clear(); break;
        default: staged_neighbours_.clear(); break;
    }
    return true;
}

KernelTables::DumpStep KernelTables::read_dump(std::uint32_t& reads, bool blocking) noexcept {
    while (reads > 0) {
        // MSG_TRUNC: the real length comes back, so a cut reply is seen.
        const int flags = MSG_TRUNC | (blocking ? 0 : MSG_DONTWAIT);
        const ssize_t n = ::recv(dump_fd_, buffer_.data(), buffer_.size(), flags);
        if (n <= 0) {
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && !blocking && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                // Nothing yet. The kernel builds each part while we read the
                // previous one, so this should not last; a dump that stays
                // silent for kDumpStallPolls polls (about a second at the
                // stack's pace) is given up and retried on a fresh socket.
                if (++dump_idle_polls_ < kDumpStallPolls) return DumpStep::in_flight;
                errno = ETIMEDOUT;
                return dump_failed(dump_table_);
            }
            // A socket error (the kernel stopped the dump: ENOBUFS, ...), or
            // the setup's one-second wait ran out (EAGAIN).
            if (n == 0) errno = EIO;
            return dump_failed(dump_table_);
        }
        if (static_cast<std::size_t>(n) > buffer_.size()) {
            // Longer than the buffer (the kernel sizes dump parts to at most
            // 32 KiB, half of it): the entries in the lost tail would be
            // missing from the copy.
            errno = EMSGSIZE;
            return dump_failed(dump_table_);
        }
        --reads;
        dump_idle_polls_ = 0;
        std::size_t offset = 0;
        const auto length = static_cast<std::size_t>(n);
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            const std::uint8_t* message = buffer_.data() + offset;
            offset += align4(h.nlmsg_len);
            if (h.nlmsg_seq != dump_sequence_) continue;  // left over from an earlier request
            // NLM_F_DUMP_INTR: the table changed during a multi-part dump,
            // so the parts may be inconsistent; dump again.
            if (h.nlmsg_flags & NLM_F_DUMP_INTR) dump_interrupted_ = true;
            if (h.nlmsg_type == NLMSG_DONE) {
                // Its payload, when present, is the dump's own result: a
                // negative errno if the kernel's dump callback failed
                // (netlink_dump_done in net/netlink/af_netlink.c).
                if (h.nlmsg_len >= kHeaderBytes + sizeof(int)) {
                    const int result = load<int>(message + kHeaderBytes);
                    if (result < 0) {
                        errno = -result;
                        return dump_failed(dump_table_);
                    }
                }
                return finish_dump();
            }
            if (h.nlmsg_type == NLMSG_ERROR) {
                // The request was refused (or the dump failed): it ends here.
                if (h.nlmsg_len >= kHeaderBytes + sizeof(nlmsgerr)) {
                    const auto e = load<nlmsgerr>(message + kHeaderBytes);
                    if (e.error == 0) continue;  // an acknowledgement (not asked for)
                    errno = -e.error;
                } else {
                    errno = EPROTO;
                }
                return dump_failed(dump_table_);
            }
            dumping_ = true;
            (void)apply(message, h.nlmsg_len);
            dumping_ = false;
        }
    }
    return DumpStep::in_flight;
}

KernelTables::DumpStep KernelTables::finish_dump() noexcept {
    const std::uint8_t table = dump_table_;
    dump_table_ = 0;
    if (dump_interrupted_ || replay_incomplete_) {
        // Not a consistent picture (see keep_for_replay): the live table
        // stays as notifications left it, and the table is dumped again.
        ++counters_.dumps_restarted;
        pending_sync_ |= table;
        return DumpStep::done;
    }
    // Sort the copy (replies arrive in the kernel's walk order), then swap:
    // the live table is replaced in one step between two lookups, so a
    // reader never sees a half-built one. After the swap the staged vectors
    // hold the previous table, kept for the comparison below. Nothing here
    // allocates: sort, rotate, unique and erase work in place.
    switch (table) {
        case kSyncLink: std::swap(link_flags_, staged_link_flags_); break;
        case kSyncAddresses:
            primaries_first(staged_addresses_);
            addresses_.swap(staged_addresses_);
            break;
        case kSyncRoutes:
            std::sort(staged_routes_.begin(), staged_routes_.end(), route_before);
            // A route the walk met twice (see keep_for_replay) is one route:
            // a copy left in would survive the RTM_DELROUTE that removes the
            // other. Only identical entries merge: routes sharing the kernel's
            // identity but not their next hop (`ip route append`) are distinct,
            // and the kernel refuses an exact duplicate (EEXIST).
            staged_routes_.erase(std::unique(staged_routes_.begin(), staged_routes_.end(), same_route_fields),
                                 staged_routes_.end());
            routes_.swap(staged_routes_);
            break;
        default:
            sort_dumped_neighbours(staged_neighbours_);
            neighbours_.swap(staged_neighbours_);
            break;
    }
    // The replay's side effects already happened when these notifications
    // were first applied (a re-read queued, the generation bumped): only
    // their effect on the table is wanted now.
    const std::uint8_t pending = pending_sync_;
    const std::uint64_t generation = generation_;
    std::size_t offset = 0;
    while (offset + sizeof(nlmsghdr) <= replay_bytes_) {
        const auto h = load<nlmsghdr>(replay_.data() + offset);
        (void)apply(replay_.data() + offset, h.nlmsg_len);
        ++counters_.replayed;
        offset += align4(h.nlmsg_len);
    }
    replay_bytes_ = 0;
    pending_sync_ = pending;
    generation_ = generation;
    ++counters_.resyncs;
    // Cached next hops stay valid if the dump found nothing the
    // notifications had not already said (the usual case): the generation
    // moves only when the replaced table differs from what readers saw.
    bool same = true;
    switch (table) {
        case kSyncLink: break;  // the flags only decide re-reads; no lookup uses them
        case kSyncAddresses: same = same_addresses(addresses_, staged_addresses_); break;
        case kSyncRoutes: same = same_routes(routes_, staged_routes_); break;
        default: same = same_neighbours(neighbours_, staged_neighbours_); break;
    }
    if (!same) ++generation_;
    return DumpStep::done;
}

KernelTables::DumpStep KernelTables::dump_failed(std::uint8_t table) noexcept {
    const int error = errno;
    ++counters_.errors;
    pending_sync_ |= table;
    dump_table_ = 0;
    replay_bytes_ = 0;
    retry_polls_ = kRetryPolls;
    // Always a fresh socket, whatever failed: a dump the kernel stopped on
    // an error (netlink_dump failing inside recvmsg, a cut reply, our own
    // timeout) can leave the socket's dump marked running (cb_running), and
    // every later request on it would be refused with EBUSY
    // (__netlink_dump_start); replies still queued would be read as the next
    // dump's. The kernel's dump state goes with the closed socket.
    if (dump_fd_ >= 0) {
        ::close(dump_fd_);
        dump_fd_ = open_dump_socket();  // -1: start_dump tries again
    }
    errno = error;  // for the caller's message
    return DumpStep::failed;
}

const char* KernelTables::table_name(std::uint8_t table) noexcept {
    switch (table) {
        case kSyncLink: return "link";
        case kSyncAddresses: return "address";
        case kSyncRoutes: return "route";
        case kSyncNeighbours: return "neighbour";
        default: return "?";
    }
}

void KernelTables::dump_all() {
    // Setup may wait: the dump socket's SO_RCVTIMEO bounds each wait to a
    // second. The order matters little here (no notification is read until
    // the first poll); it is the order poll() uses.
    for (const std::uint8_t table : {kSyncLink, kSyncAddresses, kSyncRoutes, kSyncNeighbours}) {
        for (int attempt = 1;; ++attempt) {
            if (!start_dump(table))
                throw_errno(std::string("kernel tables: cannot send the ") + table_name(table) + " dump request");
            std::uint32_t unlimited = std::numeric_limits<std::uint32_t>::max();
            DumpStep step = DumpStep::in_flight;
            while (step == DumpStep::in_flight) step = read_dump(unlimited, true);
            if (step == DumpStep::failed)
                throw_errno(std::string("kernel tables: the kernel's ") + table_name(table) +
                            " dump failed (EAGAIN here: no reply within a second)");
            if ((pending_sync_ & table) == 0) break;  // replaced
            // NLM_F_DUMP_INTR: the kernel's table kept changing under the dump.
            if (attempt == kSetupDumpAttempts)
                throw std::runtime_error(std::string("kernel tables: the kernel's ") + table_name(table) +
                                         " table changed during each of " + std::to_string(kSetupDumpAttempts) +
                                         " dumps; try again when it is quieter");
        }
    }
}

}  // namespace kbnet::stack
