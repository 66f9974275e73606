// Netlink mirror of the kernel's IPv4 tables: see kernel_tables.hpp.
//
// This file: construction and the sockets, poll() reading notifications,
// apply() and apply_* patching the tables with them, and the lookups.
// Elsewhere: kernel_tables_resync.cpp re-dumps a table without blocking and
// replays the notifications that arrived meanwhile (with why that is needed
// and enough), and holds the constructor's blocking first dump;
// kernel_tables_resolve.cpp asks the kernel to resolve neighbours;
// netlink_message.hpp reads messages (and says why with memcpy, not the
// NLMSG_*/RTA_* macros); kernel_tables_internal.hpp is what the files share.
#include "kbnet/stack/kernel_tables.hpp"

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
#include <stdexcept>
#include <string>
#include <utility>

#include "kbnet/core/log.hpp"
#include "stack/kernel_tables_internal.hpp"
#include "stack/netlink_message.hpp"

namespace kbnet::stack {

using namespace kernel_tables_detail;
using namespace netlink;

namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;  // above the kernel's dump message size (32 KiB on 4K pages)
// Notifications kept while a table is dumped (see keep_for_replay, in
// kernel_tables_resync.cpp): about 700 neighbour or route messages, far more
// than arrive during the few milliseconds a dump takes unless the table is
// churning, in which case the dump is simply sent again.
constexpr std::size_t kReplayBytes = 64 * 1024;

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

bool same_route(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    // The kernel's own identity of an IPv4 route in one table (fib_table_delete):
    // prefix, length, TOS and metric.
    return a.destination == b.destination && a.prefix_len == b.prefix_len && a.tos == b.tos && a.priority == b.priority;
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

}  // namespace

// The dump socket: the constructor waits on it (the only blocking reads);
// poll() reads it with MSG_DONTWAIT, which overrides the timeout.
int kernel_tables_detail::open_dump_socket() noexcept {
    const int fd = try_open_netlink(0);
    if (fd < 0) return -1;
    // A dump always completes, but a bound wait keeps a kernel bug or a
    // stuck namespace from hanging the constructor forever.
    timeval timeout{1, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    return fd;
}

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

}  // namespace kbnet::stack
