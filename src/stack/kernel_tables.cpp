// Netlink mirror of the kernel's IPv4 tables: see kernel_tables.hpp.
//
// Messages are read with memcpy into the uapi structs at checked offsets
// instead of through the NLMSG_*/RTA_* macros: the macros cast pointers
// (our warnings refuse old-style casts) and assume the buffer holds what
// the header claims. Every length below is checked before it is used.
#include "kbnet/stack/kernel_tables.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <system_error>
#include <tuple>
#include <utility>

#include "kbnet/core/log.hpp"

namespace kbnet::stack {
namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;  // above the kernel's dump message size (32 KiB on 4K pages)
constexpr std::size_t kAlign = 4;                // NLMSG_ALIGNTO == RTA_ALIGNTO
constexpr int kDiscardPort = 9;                  // RFC 863
constexpr std::uint64_t kLogIntervalNs = 10'000'000'000;
// Notifications kept while a table is dumped (see keep_for_replay): about
// 700 neighbour or route messages, far more than arrive during the few
// milliseconds a dump takes unless the table is churning, in which case the
// dump is simply sent again.
constexpr std::size_t kReplayBytes = 64 * 1024;
// Polls in a row without a reply before a dump in flight is given up (about
// a second at the stack's once-a-millisecond pace, as long as the
// constructor waits), and polls to wait before retrying after a failure.
constexpr std::uint32_t kDumpStallPolls = 1000;
constexpr std::uint32_t kRetryPolls = 100;
constexpr int kSetupDumpAttempts = 5;  // constructor: dumps flagged NLM_F_DUMP_INTR in a row before giving up

constexpr std::size_t align4(std::size_t n) noexcept { return (n + kAlign - 1) & ~(kAlign - 1); }
constexpr std::size_t kHeaderBytes = align4(sizeof(nlmsghdr));

template <typename T>
T load(const std::uint8_t* p) noexcept {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// Calls f(type, data, length) for each attribute in [p, p + n), stopping at
// the first malformed one (the kernel never sends those; a short read would).
template <typename F>
void for_each_attribute(const std::uint8_t* p, std::size_t n, F&& f) noexcept {
    std::size_t offset = 0;
    while (offset + sizeof(rtattr) <= n) {
        const auto a = load<rtattr>(p + offset);
        if (a.rta_len < sizeof(rtattr) || offset + a.rta_len > n) return;
        const std::size_t header = align4(sizeof(rtattr));
        f(static_cast<std::uint16_t>(a.rta_type & NLA_TYPE_MASK), p + offset + header,
          a.rta_len >= header ? a.rta_len - header : 0);
        offset += align4(a.rta_len);
    }
}

std::uint32_t load_ipv4(const std::uint8_t* p, std::size_t n) noexcept {
    if (n < 4) return 0;
    return ntohl(load<std::uint32_t>(p));
}

std::uint32_t prefix_mask(std::uint8_t len) noexcept {
    return len == 0 ? 0 : (len >= 32 ? 0xffffffffu : ~((1u << (32 - len)) - 1u));
}

// Highest-priority NUD bit first: an entry carries one state, but read it
// defensively in case a future kernel sets more than one.
KernelNeighbourState from_nud(std::uint16_t nud) noexcept {
    if (nud & NUD_PERMANENT) return KernelNeighbourState::permanent;
    if (nud & NUD_NOARP) return KernelNeighbourState::noarp;
    if (nud & NUD_REACHABLE) return KernelNeighbourState::reachable;
    if (nud & NUD_PROBE) return KernelNeighbourState::probe;
    if (nud & NUD_DELAY) return KernelNeighbourState::delay;
    if (nud & NUD_STALE) return KernelNeighbourState::stale;
    if (nud & NUD_INCOMPLETE) return KernelNeighbourState::incomplete;
    if (nud & NUD_FAILED) return KernelNeighbourState::failed;
    return KernelNeighbourState::none;
}

// Every field of a route, for ordering and equality.
auto route_fields(const KernelTables::RouteEntry& r) noexcept {
    return std::tie(r.destination, r.mask, r.priority, r.gateway, r.source, r.oif, r.prefix_len, r.tos, r.type, r.dead);
}

bool route_before(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    if (a.prefix_len != b.prefix_len) return a.prefix_len > b.prefix_len;
    if (a.priority != b.priority) return a.priority < b.priority;
    // Lookups need only the two keys above: of routes with equal prefix
    // length and metric at most one destination matches an address. But
    // the order must be total, or the sorted dump and the table built by
    // notifications (inserted at upper_bound) could hold equal routes in
    // different orders, and same_routes would report a change that is not
    // one. Among the kernel's alternatives for one prefix (`ip route
    // append`: same prefix, TOS and metric) the one chosen is then a fixed
    // one (the lowest gateway), not the kernel's first.
    return route_fields(a) < route_fields(b);
}

bool same_route_fields(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    return route_fields(a) == route_fields(b);
}

bool same_route(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    // The kernel's own identity of an IPv4 route in one table (fib_table_delete):
    // prefix, length, TOS and metric.
    return a.destination == b.destination && a.prefix_len == b.prefix_len && a.tos == b.tos && a.priority == b.priority;
}

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

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::system_category().message(errno));
}

// A bound NETLINK_ROUTE socket, or -1 with errno set.
int try_open_netlink(int receive_buffer) noexcept {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -1;
    if (receive_buffer > 0) {
        // FORCE goes past net.core.rmem_max with CAP_NET_ADMIN; without it
        // the plain option gives what the sysctl allows.
        if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0)
            (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
        const int error = errno;
        ::close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

int open_netlink(int receive_buffer) {
    const int fd = try_open_netlink(receive_buffer);
    if (fd < 0) throw_errno("kernel tables: cannot open and bind a NETLINK_ROUTE socket (is netlink available here?)");
    return fd;
}

// The dump socket: the constructor waits on it (the only blocking reads);
// poll() reads it with MSG_DONTWAIT, which overrides the timeout.
int open_dump_socket() noexcept {
    const int fd = try_open_netlink(0);
    if (fd < 0) return -1;
    // A dump always completes, but a bound wait keeps a kernel bug or a
    // stuck namespace from hanging the constructor forever.
    timeval timeout{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

}  // namespace

const char* kernel_neighbour_state_name(KernelNeighbourState state) noexcept {
    switch (state) {
        case KernelNeighbourState::none: return "none";
        case KernelNeighbourState::incomplete: return "incomplete";
        case KernelNeighbourState::reachable: return "reachable";
        case KernelNeighbourState::stale: return "stale";
        case KernelNeighbourState::delay: return "delay";
        case KernelNeighbourState::probe: return "probe";
        case KernelNeighbourState::failed: return "failed";
        case KernelNeighbourState::noarp: return "noarp";
        case KernelNeighbourState::permanent: return "permanent";
    }
    return "?";
}

bool KernelNeighbour::resolved() const noexcept {
    switch (state) {
        case KernelNeighbourState::none:
        case KernelNeighbourState::incomplete:
        case KernelNeighbourState::failed: return false;
        default: return !mac.is_zero();
    }
}

bool InterfaceAddress::contains(wire::Ipv4Address a) const noexcept {
    const std::uint32_t mask = prefix_mask(prefix_len);
    return (a.value & mask) == (address.value & mask);
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

std::uint8_t KernelTables::sync_bit_of(std::uint16_t message_type) noexcept {
    switch (message_type) {
        case RTM_NEWLINK:
        case RTM_DELLINK: return kSyncLink;
        case RTM_NEWADDR:
        case RTM_DELADDR: return kSyncAddresses;
        case RTM_NEWROUTE:
        case RTM_DELROUTE: return kSyncRoutes;
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH: return kSyncNeighbours;
        default: return 0;
    }
}

KernelTables::KernelTables(std::string_view interface_name, const KernelTablesConfig& config)
    : KernelTables(
          [&] {
              const std::string name(interface_name);
              const unsigned index = ::if_nametoindex(name.c_str());
              if (index == 0)
                  throw std::runtime_error("kernel tables: no interface named '" + name +
                                           "' in this network namespace (check `ip link`)");
              return static_cast<int>(index);
          }(),
          config) {}

KernelTables::KernelTables(int ifindex, const KernelTablesConfig& config) : ifindex_(ifindex), config_(config) {
    if (ifindex <= 0) throw std::invalid_argument("kernel tables: interface index must be positive");
    if (config.max_addresses == 0 || config.max_routes == 0 || config.max_neighbours == 0)
        throw std::invalid_argument("kernel tables: max_addresses, max_routes and max_neighbours must be above zero");
    if (config.max_resolutions < 4 || config.max_resolutions % 4 != 0)
        throw std::invalid_argument("kernel tables: max_resolutions must be a positive multiple of 4 (4-way sets)");
    if (config.dump_reads_per_poll == 0)
        throw std::invalid_argument("kernel tables: dump_reads_per_poll must be above zero (or a resync never ends)");
    char name[IF_NAMESIZE] = {};
    if (::if_indextoname(static_cast<unsigned>(ifindex), name) == nullptr)
        throw std::runtime_error("kernel tables: no interface with index " + std::to_string(ifindex) +
                                 " in this network namespace (check `ip link`)");
    method_ = config.resolution_method == ResolutionMethod::udp_discard ? ResolutionMethod::udp_discard
                                                                        : ResolutionMethod::netlink_use;
    buffer_.resize(kBufferBytes);
    addresses_.reserve(config.max_addresses);
    routes_.reserve(config.max_routes);
    neighbours_.reserve(config.max_neighbours);
    staged_addresses_.reserve(config.max_addresses);
    staged_routes_.reserve(config.max_routes);
    staged_neighbours_.reserve(config.max_neighbours);
    replay_.resize(kReplayBytes);
    resolutions_.resize(config.max_resolutions);
    try {
        open_sockets();
        dump_all();
    } catch (...) {
        close_sockets();
        throw;
    }
}

KernelTables::~KernelTables() { close_sockets(); }

KernelTables::KernelTables(KernelTables&& other) noexcept
    : ifindex_(other.ifindex_),
      config_(other.config_),
      method_(other.method_),
      notify_fd_(std::exchange(other.notify_fd_, -1)),
      request_fd_(std::exchange(other.request_fd_, -1)),
      dump_fd_(std::exchange(other.dump_fd_, -1)),
      udp_fd_(std::exchange(other.udp_fd_, -1)),
      sequence_(other.sequence_),
      link_flags_(other.link_flags_),
      pending_sync_(other.pending_sync_),
      dump_table_(std::exchange(other.dump_table_, std::uint8_t{0})),
      dump_sequence_(other.dump_sequence_),
      dump_interrupted_(other.dump_interrupted_),
      replay_incomplete_(other.replay_incomplete_),
      dump_idle_polls_(other.dump_idle_polls_),
      retry_polls_(other.retry_polls_),
      generation_(other.generation_),
      counters_(other.counters_),
      buffer_(std::move(other.buffer_)),
      addresses_(std::move(other.addresses_)),
      routes_(std::move(other.routes_)),
      neighbours_(std::move(other.neighbours_)),
      staged_link_flags_(other.staged_link_flags_),
      staged_addresses_(std::move(other.staged_addresses_)),
      staged_routes_(std::move(other.staged_routes_)),
      staged_neighbours_(std::move(other.staged_neighbours_)),
      replay_(std::move(other.replay_)),
      replay_bytes_(std::exchange(other.replay_bytes_, std::size_t{0})),
      resolutions_(std::move(other.resolutions_)) {}

KernelTables& KernelTables::operator=(KernelTables&& other) noexcept {
    if (this != &other) {
        close_sockets();
        ifindex_ = other.ifindex_;
        config_ = other.config_;
        method_ = other.method_;
        notify_fd_ = std::exchange(other.notify_fd_, -1);
        request_fd_ = std::exchange(other.request_fd_, -1);
        dump_fd_ = std::exchange(other.dump_fd_, -1);
        udp_fd_ = std::exchange(other.udp_fd_, -1);
        sequence_ = other.sequence_;
        link_flags_ = other.link_flags_;
        pending_sync_ = other.pending_sync_;
        dump_table_ = std::exchange(other.dump_table_, std::uint8_t{0});
        dump_sequence_ = other.dump_sequence_;
        dump_interrupted_ = other.dump_interrupted_;
        replay_incomplete_ = other.replay_incomplete_;
        dump_idle_polls_ = other.dump_idle_polls_;
        retry_polls_ = other.retry_polls_;
        generation_ = other.generation_;
        counters_ = other.counters_;
        buffer_ = std::move(other.buffer_);
        addresses_ = std::move(other.addresses_);
        routes_ = std::move(other.routes_);
        neighbours_ = std::move(other.neighbours_);
        staged_link_flags_ = other.staged_link_flags_;
        staged_addresses_ = std::move(other.staged_addresses_);
        staged_routes_ = std::move(other.staged_routes_);
        staged_neighbours_ = std::move(other.staged_neighbours_);
        replay_ = std::move(other.replay_);
        replay_bytes_ = std::exchange(other.replay_bytes_, std::size_t{0});
        resolutions_ = std::move(other.resolutions_);
    }
    return *this;
}

void KernelTables::open_sockets() {
    notify_fd_ = open_netlink(config_.notify_buffer_bytes);
    // Subscribe before the first dump, so nothing that changes after the
    // dump's snapshot is missed (see the header).
    for (const int group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_NEIGH}) {
        if (::setsockopt(notify_fd_, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0)
            throw_errno("kernel tables: cannot subscribe to rtnetlink group " + std::to_string(group));
    }
    request_fd_ = open_netlink(0);
    dump_fd_ = open_dump_socket();
    if (dump_fd_ < 0) throw_errno("kernel tables: cannot open a NETLINK_ROUTE socket for dumps");
    udp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (udp_fd_ < 0) throw_errno("kernel tables: cannot open a UDP socket (for resolution requests)");
}

void KernelTables::close_sockets() noexcept {
    for (int* fd : {&notify_fd_, &request_fd_, &dump_fd_, &udp_fd_}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
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

std::size_t KernelTables::poll() noexcept {
    std::size_t applied = 0;
    if (notify_fd_ < 0) return 0;
    for (;;) {
        // MSG_TRUNC: recv returns the datagram's real length even when it
        // did not fit (recv(2), netlink since 2.6.22), so a cut one is seen.
        const ssize_t n = ::recv(notify_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) {
                // The socket overflowed and notifications were dropped: the
                // mirror cannot be patched, only rebuilt (netlink(7)).
                ++counters_.lost_notifications;
                notifications_lost();
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) ++counters_.errors;
            break;
        }
        if (n == 0) break;
        if (static_cast<std::size_t>(n) > buffer_.size()) {
            // Longer than the buffer (the kernel's notifications never are
            // today): its tail is gone, so it is as good as lost. Parsing
            // the head would apply half a message.
            ++counters_.errors;
            notifications_lost();
            continue;
        }
        std::size_t offset = 0;
        const auto length = static_cast<std::size_t>(n);
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            // Only messages the mirror acts on are kept: IPv6 neighbours,
            // other interfaces and other tables would fill replay_ and make
            // the dump restart for changes it does not care about.
            const bool relevant = apply(buffer_.data() + offset, h.nlmsg_len);
            if (relevant && dump_table_ != 0 && sync_bit_of(h.nlmsg_type) == dump_table_)
                keep_for_replay(buffer_.data() + offset, h.nlmsg_len);
            ++applied;
            offset += align4(h.nlmsg_len);
        }
    }
    counters_.notifications += applied;
    advance_resync();
    return applied;
}

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

bool KernelTables::apply(const std::uint8_t* message, std::size_t length) noexcept {
    const auto h = load<nlmsghdr>(message);
    const std::uint8_t* payload = message + kHeaderBytes;
    const std::size_t payload_len = length > kHeaderBytes ? length - kHeaderBytes : 0;
    switch (h.nlmsg_type) {
        case RTM_NEWADDR:
        case RTM_DELADDR: return apply_address(h.nlmsg_type, payload, payload_len);
        case RTM_NEWROUTE:
        case RTM_DELROUTE: return apply_route(h.nlmsg_type, payload, payload_len);
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH: return apply_neighbour(h.nlmsg_type, payload, payload_len);
        case RTM_NEWLINK:
        case RTM_DELLINK: return apply_link(payload, payload_len);
        default: return false;
    }
}

void KernelTables::overflow(const char* table) noexcept {
    ++counters_.overflows;
    KBNET_LOG_RATELIMITED(LogLevel::warn, kLogIntervalNs,
                          "kernel tables: the {} mirror is full; entries left out (raise KernelTablesConfig)", table);
}

bool KernelTables::apply_address(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ifaddrmsg)) return false;
    const auto m = load<ifaddrmsg>(payload);
    if (m.ifa_family != AF_INET || static_cast<int>(m.ifa_index) != ifindex_) return false;
    std::uint32_t local = 0;
    std::uint32_t flags = m.ifa_flags;
    bool have_local = false;
    const std::size_t header = align4(sizeof(ifaddrmsg));
    if (length < header) return false;
    for_each_attribute(payload + header, length - header, [&](std::uint16_t t, const std::uint8_t* d, std::size_t n) {
        // IFA_LOCAL is our end; IFA_ADDRESS is the peer on point-to-point
        // links and equal to IFA_LOCAL otherwise (rtnetlink(7)).
        if (t == IFA_LOCAL && n >= 4) {
            local = load_ipv4(d, n);
            have_local = true;
        } else if (t == IFA_ADDRESS && n >= 4 && !have_local) {
            local = load_ipv4(d, n);
        } else if (t == IFA_FLAGS && n >= 4) {
            flags = load<std::uint32_t>(d);
        }
    });
    const InterfaceAddress entry{{local}, m.ifa_prefixlen, (flags & IFA_F_SECONDARY) != 0};
    auto same = [&](const InterfaceAddress& a) {
        return a.address == entry.address && a.prefix_len == entry.prefix_len;
    };
    // A dump reply goes to the copy being built (unordered until the end).
    std::vector<InterfaceAddress>& table = dumping_ ? staged_addresses_ : addresses_;
    auto it = std::find_if(table.begin(), table.end(), same);
    if (type == RTM_DELADDR) {
        if (it != table.end()) table.erase(it);
    } else if (it != table.end()) {
        *it = entry;
    } else if (table.size() == table.capacity()) {
        overflow("address");
        return true;
    } else if (dumping_ || entry.secondary) {
        table.push_back(entry);
    } else {
        // A new primary goes after the existing primaries: the kernel makes
        // the first primary of a subnet the one it promotes and sources from.
        auto first_secondary =
            std::find_if(table.begin(), table.end(), [](const InterfaceAddress& a) { return a.secondary; });
        table.insert(first_secondary, entry);
    }
    if (!dumping_) {
        // Removing an address flushes the routes that use it as their source
        // (fib_sync_down_addr); older kernels do that without RTM_DELROUTE
        // (6.18 does announce it). One route dump per address change is
        // cheap insurance: re-read the routes.
        pending_sync_ |= kSyncRoutes;
        ++generation_;
    }
    return true;
}

bool KernelTables::apply_route(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(rtmsg)) return false;
    const auto m = load<rtmsg>(payload);
    if (m.rtm_family != AF_INET || (m.rtm_flags & RTM_F_CLONED) != 0) return false;
    RouteEntry entry;
    entry.prefix_len = m.rtm_dst_len > 32 ? 32 : m.rtm_dst_len;
    entry.mask = prefix_mask(entry.prefix_len);
    entry.tos = m.rtm_tos;
    entry.type = m.rtm_type;
    entry.dead = (m.rtm_flags & RTNH_F_DEAD) != 0;
    std::uint32_t table = m.rtm_table;
    bool multipath_found = false;
    const std::size_t header = align4(sizeof(rtmsg));
    if (length < header) return false;
    for_each_attribute(payload + header, length - header, [&](std::uint16_t t, const std::uint8_t* d, std::size_t n) {
        switch (t) {
            case RTA_DST: entry.destination = load_ipv4(d, n); break;
            case RTA_GATEWAY: entry.gateway = load_ipv4(d, n); break;
            case RTA_PREFSRC: entry.source = load_ipv4(d, n); break;
            case RTA_OIF:
                if (n >= 4) entry.oif = load<int>(d);
                break;
            case RTA_PRIORITY:
                if (n >= 4) entry.priority = load<std::uint32_t>(d);
                break;
            case RTA_TABLE:  // the full table id; rtm_table holds only 8 bits
                if (n >= 4) table = load<std::uint32_t>(d);
                break;
            case RTA_MULTIPATH: {
                // rtnexthop records, each followed by its own attributes:
                // take the first live hop on our interface.
                std::size_t off = 0;
                while (!multipath_found && off + sizeof(rtnexthop) <= n) {
                    const auto hop = load<rtnexthop>(d + off);
                    if (hop.rtnh_len < sizeof(rtnexthop) || off + hop.rtnh_len > n) break;
                    if (hop.rtnh_ifindex == ifindex_ && (hop.rtnh_flags & RTNH_F_DEAD) == 0) {
                        multipath_found = true;
                        entry.oif = hop.rtnh_ifindex;
                        const std::size_t hop_header = align4(sizeof(rtnexthop));
                        for_each_attribute(d + off + hop_header, hop.rtnh_len - hop_header,
                                           [&](std::uint16_t ht, const std::uint8_t* hd, std::size_t hn) {
                                               if (ht == RTA_GATEWAY) entry.gateway = load_ipv4(hd, hn);
                                           });
                    }
                    off += align4(hop.rtnh_len);
                }
                break;
            }
            default: break;
        }
    });
    if (table != RT_TABLE_MAIN) return false;
    entry.destination &= entry.mask;

    if (dumping_) {  // to the copy being built, sorted at the end
        if (staged_routes_.size() == staged_routes_.capacity()) {
            overflow("route");
            return true;
        }
        staged_routes_.push_back(entry);
        return true;
    }
    auto it = std::find_if(routes_.begin(), routes_.end(), [&](const RouteEntry& r) { return same_route(r, entry); });
    if (type == RTM_DELROUTE) {
        if (it == routes_.end()) return true;
        routes_.erase(it);
    } else if (it != routes_.end()) {
        // NLM_F_REPLACE, or a change of the same route: same identity, but
        // the fields after it in route_before may differ: move it to its
        // place (the table stays sorted, as a dump of it would be).
        if (same_route_fields(*it, entry)) return true;
        routes_.erase(it);
        routes_.insert(std::upper_bound(routes_.begin(), routes_.end(), entry, route_before), entry);
    } else {
        if (routes_.size() == routes_.capacity()) {
            overflow("route");
            return true;
        }
        routes_.insert(std::upper_bound(routes_.begin(), routes_.end(), entry, route_before), entry);
    }
    ++generation_;
    return true;
}

bool KernelTables::apply_neighbour(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ndmsg)) return false;
    const auto m = load<ndmsg>(payload);
    // Proxy entries (NTF_PROXY) answer ARP for others; they are not neighbours.
    if (m.ndm_family != AF_INET || m.ndm_ifindex != ifindex_ || (m.ndm_flags & NTF_PROXY) != 0) return false;
    NeighbourEntry entry;
    entry.value.state = from_nud(m.ndm_state);
    bool have_address = false;
    const std::size_t header = align4(sizeof(ndmsg));
    if (length < header) return false;
    for_each_attribute(payload + header, length - header, [&](std::uint16_t t, const std::uint8_t* d, std::size_t n) {
        if (t == NDA_DST && n >= 4) {
            entry.address = load_ipv4(d, n);
            have_address = true;
        } else if (t == NDA_LLADDR && n == entry.value.mac.bytes.size()) {
            std::memcpy(entry.value.mac.bytes.data(), d, n);
        }
    });
    if (!have_address) return false;
    if (dumping_) {  // to the copy being built, sorted (and repeats merged) at the end
        if (staged_neighbours_.size() == staged_neighbours_.capacity()) {
            overflow("neighbour");
            return true;
        }
        entry.dump_order = static_cast<std::uint32_t>(staged_neighbours_.size());
        staged_neighbours_.push_back(entry);
        return true;
    }
    auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), entry.address,
                               [](const NeighbourEntry& e, std::uint32_t a) { return e.address < a; });
    const bool found = it != neighbours_.end() && it->address == entry.address;
    if (type == RTM_DELNEIGH) {
        if (!found) return true;
        neighbours_.erase(it);
    } else if (found) {
        if (it->value.mac == entry.value.mac && it->value.state == entry.value.state) return true;
        it->value = entry.value;
    } else {
        if (neighbours_.size() == neighbours_.capacity()) {
            overflow("neighbour");
            return true;
        }
        neighbours_.insert(it, entry);
    }
    ++generation_;
    return true;
}

bool KernelTables::apply_link(const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ifinfomsg)) return false;
    const auto m = load<ifinfomsg>(payload);
    if (m.ifi_index != ifindex_) return false;
    // Taking a link down flushes its routes without RTM_DELROUTE and its
    // neighbours in bulk; bringing it up restores connected routes. Re-read
    // both whenever the administrative or operational state changes.
    // A dump only records the flags: it runs after lost notifications,
    // which re-read every table anyway.
    if (dumping_) {
        staged_link_flags_ = m.ifi_flags;
        return true;
    }
    constexpr std::uint32_t kStateFlags = IFF_UP | IFF_RUNNING;  // RUNNING follows the carrier
    if (((m.ifi_flags ^ link_flags_) & kStateFlags) != 0) pending_sync_ |= kSyncRoutes | kSyncNeighbours;
    link_flags_ = m.ifi_flags;
    return true;
}

std::optional<KernelRoute> KernelTables::route(wire::Ipv4Address destination) const noexcept {
    for (const RouteEntry& r : routes_) {
        if ((destination.value & r.mask) != r.destination || r.tos != 0 || r.dead) continue;
        // The kernel's answer for this destination is this route: if it does
        // not leave through our interface, kbnet must not send there either.
        if (r.type != RTN_UNICAST || r.oif != ifindex_) return std::nullopt;
        KernelRoute out;
        out.via_gateway = r.gateway != 0;
        out.next_hop = out.via_gateway ? wire::Ipv4Address{r.gateway} : destination;
        out.prefix_len = r.prefix_len;
        out.source = wire::Ipv4Address{r.source};
        return out;
    }
    return std::nullopt;
}

std::optional<KernelNeighbour> KernelTables::neighbour(wire::Ipv4Address address) const noexcept {
    auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), address.value,
                               [](const NeighbourEntry& e, std::uint32_t a) { return e.address < a; });
    if (it == neighbours_.end() || it->address != address.value) return std::nullopt;
    return it->value;
}

std::optional<InterfaceAddress> KernelTables::interface_address() const noexcept {
    if (addresses_.empty() || addresses_.front().secondary) return std::nullopt;
    return addresses_.front();
}

bool KernelTables::is_local_address(wire::Ipv4Address address) const noexcept {
    return std::any_of(addresses_.begin(), addresses_.end(),
                       [&](const InterfaceAddress& a) { return a.address == address; });
}

Status KernelTables::request_resolution(wire::Ipv4Address address, std::uint64_t now_ns) noexcept {
    // 4-way set-associative memory of recent requests: an address finds its
    // own slot or takes the set's oldest, so a busy set forgets the address
    // asked about longest ago (which may then be asked about once early).
    const std::size_t sets = resolutions_.size() / 4;
    const std::uint32_t hash = address.value * 0x9e3779b1u;  // Fibonacci hashing spreads subnets
    ResolutionSlot* set = resolutions_.data() + (hash >> 16) % sets * 4;
    ResolutionSlot* slot = nullptr;
    ResolutionSlot* oldest = set;
    for (std::size_t i = 0; i < 4; ++i) {
        if (set[i].used && set[i].address == address.value) {
            slot = &set[i];
            break;
        }
        if (!set[i].used || (oldest->used && set[i].last_ns < oldest->last_ns)) oldest = &set[i];
    }
    if (slot != nullptr && now_ns >= slot->last_ns && now_ns - slot->last_ns < config_.resolution_interval_ns) {
        ++counters_.resolutions_suppressed;
        return Error{Errc::would_block, "resolution of this neighbour was requested less than a second ago"};
    }
    if (slot == nullptr) slot = oldest;
    *slot = ResolutionSlot{address.value, now_ns, true};

    Status status = method_ == ResolutionMethod::netlink_use ? resolve_netlink(address) : resolve_udp(address);
    if (!status && method_ == ResolutionMethod::netlink_use &&
        config_.resolution_method == ResolutionMethod::automatic && (errno == EPERM || errno == EOPNOTSUPP)) {
        KBNET_LOG_INFO(
            "kernel tables: the kernel refused RTM_NEWNEIGH/NTF_USE ({}); resolving neighbours with "
            "UDP datagrams to the discard port from now on (grant CAP_NET_ADMIN to avoid them)",
            std::system_category().message(errno));
        method_ = ResolutionMethod::udp_discard;
        status = resolve_udp(address);
    }
    if (status)
        ++counters_.resolutions_sent;
    else
        ++counters_.resolution_errors;
    return status;
}

Status KernelTables::resolve_netlink(wire::Ipv4Address address) noexcept {
    // RTM_NEWNEIGH with NTF_USE (net/core/neighbour.c, neigh_add): the kernel
    // creates the entry if needed (NLM_F_CREATE) and calls neigh_event_send()
    // on it, exactly as when one of its own packets needs the neighbour: an
    // unknown or failed entry goes incomplete and the kernel broadcasts ARP
    // requests; a stale one goes to delay and then a unicast probe; it also
    // marks the entry used, so the kernel's garbage collector keeps an entry
    // that only kbnet's traffic (which the kernel never sees) depends on.
    struct {
        nlmsghdr header;
        ndmsg neigh;
        rtattr dst_attr;
        std::uint32_t dst;
    } request{};
    static_assert(sizeof(request) == kHeaderBytes + align4(sizeof(ndmsg)) + align4(sizeof(rtattr)) + 4);
    const std::uint32_t seq = ++sequence_;
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = RTM_NEWNEIGH;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_ACK;
    request.header.nlmsg_seq = seq;
    request.neigh.ndm_family = AF_INET;
    request.neigh.ndm_ifindex = ifindex_;
    request.neigh.ndm_state = NUD_NONE;
    request.neigh.ndm_flags = NTF_USE;
    request.dst_attr.rta_len = static_cast<unsigned short>(align4(sizeof(rtattr)) + 4);
    request.dst_attr.rta_type = NDA_DST;
    request.dst = htonl(address.value);
    if (::send(request_fd_, &request, sizeof request, MSG_DONTWAIT) < 0)
        return Error{Errc::io_error, "netlink RTM_NEWNEIGH (NTF_USE) could not be sent"};
    // The kernel handles a request inside send(), so the acknowledgement is
    // already queued: read it without blocking to learn whether it worked.
    for (;;) {
        const ssize_t n = ::recv(request_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {};  // no acknowledgement yet: assume it was taken
        }
        // Longer than the buffer (MSG_TRUNC gives the real length): not one
        // of our acknowledgements, which are a few dozen bytes; skip it.
        if (static_cast<std::size_t>(n) > buffer_.size()) continue;
        const auto length = static_cast<std::size_t>(n);
        std::size_t offset = 0;
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            if (h.nlmsg_seq == seq && h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= kHeaderBytes + sizeof(nlmsgerr)) {
                const auto e = load<nlmsgerr>(buffer_.data() + offset + kHeaderBytes);
                if (e.error == 0) return {};
                errno = -e.error;
                return Error{Errc::io_error,
                             "the kernel refused RTM_NEWNEIGH (NTF_USE); it needs CAP_NET_ADMIN "
                             "(or use ResolutionMethod::udp_discard)"};
            }
            offset += align4(h.nlmsg_len);  // a stale acknowledgement of an earlier request
        }
    }
}

Status KernelTables::resolve_udp(wire::Ipv4Address address) noexcept {
    // The kernel must resolve the next hop to send this datagram: it creates
    // the neighbour entry and sends ARP requests, holding the datagram in
    // the entry's queue (unres_qlen) meanwhile. IP_PKTINFO pins the
    // interface, so the request goes out on ours even if another route
    // would match. Port 9 is the discard service (RFC 863): a host that
    // runs nothing there answers with an ICMP port unreachable, which is
    // harmless.
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(kDiscardPort);
    to.sin_addr.s_addr = htonl(address.value);
    alignas(cmsghdr) std::array<std::uint8_t, CMSG_SPACE(sizeof(in_pktinfo))> control{};
    msghdr msg{};
    msg.msg_name = &to;
    msg.msg_namelen = sizeof to;
    msg.msg_control = control.data();
    msg.msg_controllen = control.size();
    cmsghdr c{};
    c.cmsg_level = IPPROTO_IP;
    c.cmsg_type = IP_PKTINFO;
    c.cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_ifindex = ifindex_;
    std::memcpy(control.data(), &c, sizeof c);
    std::memcpy(control.data() + CMSG_LEN(0), &info, sizeof info);
    if (::sendmsg(udp_fd_, &msg, MSG_DONTWAIT) < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        return Error{Errc::io_error, "a UDP datagram to the discard port (to make the kernel ARP) could not be sent"};
    return {};
}

}  // namespace kbnet::stack
