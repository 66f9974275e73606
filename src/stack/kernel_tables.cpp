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
#include <stdexcept>
#include <string>
#include <system_error>

#include "kbnet/core/log.hpp"

namespace kbnet::stack {
namespace {

constexpr std::size_t kBufferBytes = 64 * 1024;  // above the kernel's dump message size (32 KiB on 4K pages)
constexpr std::size_t kAlign = 4;                // NLMSG_ALIGNTO == RTA_ALIGNTO
constexpr int kDiscardPort = 9;                  // RFC 863
constexpr std::uint64_t kLogIntervalNs = 10'000'000'000;

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

bool route_before(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    if (a.prefix_len != b.prefix_len) return a.prefix_len > b.prefix_len;
    return a.priority < b.priority;
}

bool same_route(const KernelTables::RouteEntry& a, const KernelTables::RouteEntry& b) noexcept {
    // The kernel's own identity of an IPv4 route in one table (fib_table_delete):
    // prefix, length, TOS and metric.
    return a.destination == b.destination && a.prefix_len == b.prefix_len && a.tos == b.tos && a.priority == b.priority;
}

[[noreturn]] void throw_errno(const std::string& what) {
    throw std::runtime_error(what + ": " + std::system_category().message(errno));
}

int open_netlink(int receive_buffer) {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw_errno("kernel tables: cannot open a NETLINK_ROUTE socket (is netlink available here?)");
    if (receive_buffer > 0) {
        // FORCE goes past net.core.rmem_max with CAP_NET_ADMIN; without it
        // the plain option gives what the sysctl allows.
        if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_buffer, sizeof receive_buffer) != 0)
            (void)::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
    }
    sockaddr_nl local{};
    local.nl_family = AF_NETLINK;
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0) {
        ::close(fd);
        throw_errno("kernel tables: cannot bind a NETLINK_ROUTE socket");
    }
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
    resolutions_.resize(config.max_resolutions);
    try {
        open_sockets();
        if (!dump(kSyncAll)) throw_errno("kernel tables: cannot dump the kernel's addresses, routes and neighbours");
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
      udp_fd_(std::exchange(other.udp_fd_, -1)),
      sequence_(other.sequence_),
      link_flags_(other.link_flags_),
      pending_sync_(other.pending_sync_),
      generation_(other.generation_),
      counters_(other.counters_),
      buffer_(std::move(other.buffer_)),
      addresses_(std::move(other.addresses_)),
      routes_(std::move(other.routes_)),
      neighbours_(std::move(other.neighbours_)),
      resolutions_(std::move(other.resolutions_)) {}

KernelTables& KernelTables::operator=(KernelTables&& other) noexcept {
    if (this != &other) {
        close_sockets();
        ifindex_ = other.ifindex_;
        config_ = other.config_;
        method_ = other.method_;
        notify_fd_ = std::exchange(other.notify_fd_, -1);
        request_fd_ = std::exchange(other.request_fd_, -1);
        udp_fd_ = std::exchange(other.udp_fd_, -1);
        sequence_ = other.sequence_;
        link_flags_ = other.link_flags_;
        pending_sync_ = other.pending_sync_;
        generation_ = other.generation_;
        counters_ = other.counters_;
        buffer_ = std::move(other.buffer_);
        addresses_ = std::move(other.addresses_);
        routes_ = std::move(other.routes_);
        neighbours_ = std::move(other.neighbours_);
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
    // A dump always completes, but a bound wait keeps a kernel bug or a
    // stuck namespace from hanging the polling thread forever.
    timeval timeout{1, 0};
    (void)::setsockopt(request_fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    udp_fd_ = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (udp_fd_ < 0) throw_errno("kernel tables: cannot open a UDP socket (for resolution requests)");
}

void KernelTables::close_sockets() noexcept {
    for (int* fd : {&notify_fd_, &request_fd_, &udp_fd_}) {
        if (*fd >= 0) ::close(*fd);
        *fd = -1;
    }
}

std::size_t KernelTables::poll() noexcept {
    std::size_t applied = 0;
    if (notify_fd_ < 0) return 0;
    for (;;) {
        const ssize_t n = ::recv(notify_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOBUFS) {
                // The socket overflowed and notifications were dropped: the
                // mirror cannot be patched, only rebuilt (netlink(7)).
                ++counters_.lost_notifications;
                pending_sync_ = kSyncAll;
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) ++counters_.errors;
            break;
        }
        if (n == 0) break;
        std::size_t offset = 0;
        const auto length = static_cast<std::size_t>(n);
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            apply(buffer_.data() + offset, h.nlmsg_len);
            ++applied;
            offset += align4(h.nlmsg_len);
        }
    }
    if (pending_sync_ != 0) (void)dump(pending_sync_);
    counters_.notifications += applied;
    return applied;
}

bool KernelTables::dump(std::uint8_t which) noexcept {
    bool ok = true;
    ++counters_.resyncs;
    if (which & kSyncLink) {
        if (dump_one(RTM_GETLINK))
            pending_sync_ &= static_cast<std::uint8_t>(~kSyncLink);
        else
            ok = false;
    }
    if (which & kSyncAddresses) {
        if (dump_one(RTM_GETADDR))
            pending_sync_ &= static_cast<std::uint8_t>(~kSyncAddresses);
        else
            ok = false;
    }
    if (which & kSyncRoutes) {
        if (dump_one(RTM_GETROUTE))
            pending_sync_ &= static_cast<std::uint8_t>(~kSyncRoutes);
        else
            ok = false;
    }
    if (which & kSyncNeighbours) {
        if (dump_one(RTM_GETNEIGH))
            pending_sync_ &= static_cast<std::uint8_t>(~kSyncNeighbours);
        else
            ok = false;
    }
    if (!ok) {
        ++counters_.errors;
        pending_sync_ |= which;
    }
    ++generation_;
    return ok;
}

bool KernelTables::dump_one(std::uint16_t type) noexcept {
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
    switch (type) {
        case RTM_GETADDR:
            request.body.addr.ifa_family = AF_INET;
            body_len = sizeof(ifaddrmsg);
            break;
        case RTM_GETLINK:
            request.body.link.ifi_family = AF_UNSPEC;
            body_len = sizeof(ifinfomsg);
            break;
        case RTM_GETROUTE:
            request.body.route.rtm_family = AF_INET;
            body_len = sizeof(rtmsg);
            break;
        default:
            request.body.neigh.ndm_family = AF_INET;
            body_len = sizeof(ndmsg);
            break;
    }
    const std::uint32_t seq = ++sequence_;
    request.header.nlmsg_len = static_cast<std::uint32_t>(kHeaderBytes) + body_len;
    request.header.nlmsg_type = type;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = seq;
    if (::send(request_fd_, &request, request.header.nlmsg_len, 0) < 0) return false;

    // Replace the table with the dump's contents. Entries are appended and
    // sorted once at the end; capacity was reserved, so nothing allocates.
    switch (type) {
        case RTM_GETLINK: break;
        case RTM_GETADDR: addresses_.clear(); break;
        case RTM_GETROUTE: routes_.clear(); break;
        default: neighbours_.clear(); break;
    }
    dumping_ = true;
    bool done = false;
    bool ok = true;
    bool interrupted = false;
    while (!done) {
        const ssize_t n = ::recv(request_fd_, buffer_.data(), buffer_.size(), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            ok = false;
            break;
        }
        std::size_t offset = 0;
        const auto length = static_cast<std::size_t>(n);
        while (offset + sizeof(nlmsghdr) <= length) {
            const auto h = load<nlmsghdr>(buffer_.data() + offset);
            if (h.nlmsg_len < sizeof(nlmsghdr) || offset + h.nlmsg_len > length) break;
            if (h.nlmsg_seq == seq) {
                // NLM_F_DUMP_INTR: the table changed during a multi-part
                // dump, so the parts may be inconsistent; dump again.
                if (h.nlmsg_flags & NLM_F_DUMP_INTR) interrupted = true;
                if (h.nlmsg_type == NLMSG_DONE) {
                    done = true;
                } else if (h.nlmsg_type == NLMSG_ERROR) {
                    done = true;
                    ok = false;
                } else {
                    apply(buffer_.data() + offset, h.nlmsg_len);
                }
            }
            offset += align4(h.nlmsg_len);
        }
    }
    dumping_ = false;
    switch (type) {
        case RTM_GETLINK: break;
        case RTM_GETADDR:
            // Primaries first, each group in the kernel's order.
            std::stable_partition(addresses_.begin(), addresses_.end(),
                                  [](const InterfaceAddress& a) { return !a.secondary; });
            break;
        case RTM_GETROUTE: std::sort(routes_.begin(), routes_.end(), route_before); break;
        default:
            std::sort(neighbours_.begin(), neighbours_.end(),
                      [](const NeighbourEntry& a, const NeighbourEntry& b) { return a.address < b.address; });
            break;
    }
    return ok && !interrupted;
}

void KernelTables::apply(const std::uint8_t* message, std::size_t length) noexcept {
    const auto h = load<nlmsghdr>(message);
    const std::uint8_t* payload = message + kHeaderBytes;
    const std::size_t payload_len = length > kHeaderBytes ? length - kHeaderBytes : 0;
    switch (h.nlmsg_type) {
        case RTM_NEWADDR:
        case RTM_DELADDR: apply_address(h.nlmsg_type, payload, payload_len); break;
        case RTM_NEWROUTE:
        case RTM_DELROUTE: apply_route(h.nlmsg_type, payload, payload_len); break;
        case RTM_NEWNEIGH:
        case RTM_DELNEIGH: apply_neighbour(h.nlmsg_type, payload, payload_len); break;
        case RTM_NEWLINK:
        case RTM_DELLINK: apply_link(payload, payload_len); break;
        default: return;
    }
}

void KernelTables::overflow(const char* table) noexcept {
    ++counters_.overflows;
    KBNET_LOG_RATELIMITED(LogLevel::warn, kLogIntervalNs,
                          "kernel tables: the {} mirror is full; entries left out (raise KernelTablesConfig)", table);
}

void KernelTables::apply_address(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ifaddrmsg)) return;
    const auto m = load<ifaddrmsg>(payload);
    if (m.ifa_family != AF_INET || static_cast<int>(m.ifa_index) != ifindex_) return;
    std::uint32_t local = 0;
    std::uint32_t flags = m.ifa_flags;
    bool have_local = false;
    const std::size_t header = align4(sizeof(ifaddrmsg));
    if (length < header) return;
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
    auto it = std::find_if(addresses_.begin(), addresses_.end(), same);
    if (type == RTM_DELADDR) {
        if (it != addresses_.end()) addresses_.erase(it);
    } else if (it != addresses_.end()) {
        *it = entry;
    } else if (addresses_.size() == addresses_.capacity()) {
        overflow("address");
        return;
    } else if (dumping_ || entry.secondary) {
        addresses_.push_back(entry);
    } else {
        // A new primary goes after the existing primaries: the kernel makes
        // the first primary of a subnet the one it promotes and sources from.
        auto first_secondary =
            std::find_if(addresses_.begin(), addresses_.end(), [](const InterfaceAddress& a) { return a.secondary; });
        addresses_.insert(first_secondary, entry);
    }
    if (!dumping_) {
        // Removing an address flushes the routes that use it as their source
        // (fib_sync_down_addr); older kernels do that without RTM_DELROUTE
        // (6.18 does announce it). One route dump per address change is
        // cheap insurance: re-read the routes.
        pending_sync_ |= kSyncRoutes;
        ++generation_;
    }
}

void KernelTables::apply_route(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(rtmsg)) return;
    const auto m = load<rtmsg>(payload);
    if (m.rtm_family != AF_INET || (m.rtm_flags & RTM_F_CLONED) != 0) return;
    RouteEntry entry;
    entry.prefix_len = m.rtm_dst_len > 32 ? 32 : m.rtm_dst_len;
    entry.mask = prefix_mask(entry.prefix_len);
    entry.tos = m.rtm_tos;
    entry.type = m.rtm_type;
    entry.dead = (m.rtm_flags & RTNH_F_DEAD) != 0;
    std::uint32_t table = m.rtm_table;
    bool multipath_found = false;
    const std::size_t header = align4(sizeof(rtmsg));
    if (length < header) return;
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
    if (table != RT_TABLE_MAIN) return;
    entry.destination &= entry.mask;

    if (dumping_) {
        if (routes_.size() == routes_.capacity()) return overflow("route");
        routes_.push_back(entry);
        return;
    }
    auto it = std::find_if(routes_.begin(), routes_.end(), [&](const RouteEntry& r) { return same_route(r, entry); });
    if (type == RTM_DELROUTE) {
        if (it == routes_.end()) return;
        routes_.erase(it);
    } else if (it != routes_.end()) {
        // NLM_F_REPLACE, or a change of the same route: same identity, so
        // the same place in the order.
        *it = entry;
    } else {
        if (routes_.size() == routes_.capacity()) return overflow("route");
        routes_.insert(std::upper_bound(routes_.begin(), routes_.end(), entry, route_before), entry);
    }
    ++generation_;
}

void KernelTables::apply_neighbour(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ndmsg)) return;
    const auto m = load<ndmsg>(payload);
    // Proxy entries (NTF_PROXY) answer ARP for others; they are not neighbours.
    if (m.ndm_family != AF_INET || m.ndm_ifindex != ifindex_ || (m.ndm_flags & NTF_PROXY) != 0) return;
    NeighbourEntry entry;
    entry.value.state = from_nud(m.ndm_state);
    bool have_address = false;
    const std::size_t header = align4(sizeof(ndmsg));
    if (length < header) return;
    for_each_attribute(payload + header, length - header, [&](std::uint16_t t, const std::uint8_t* d, std::size_t n) {
        if (t == NDA_DST && n >= 4) {
            entry.address = load_ipv4(d, n);
            have_address = true;
        } else if (t == NDA_LLADDR && n == entry.value.mac.bytes.size()) {
            std::memcpy(entry.value.mac.bytes.data(), d, n);
        }
    });
    if (!have_address) return;
    if (dumping_) {
        if (neighbours_.size() == neighbours_.capacity()) return overflow("neighbour");
        neighbours_.push_back(entry);
        return;
    }
    auto it = std::lower_bound(neighbours_.begin(), neighbours_.end(), entry.address,
                               [](const NeighbourEntry& e, std::uint32_t a) { return e.address < a; });
    const bool found = it != neighbours_.end() && it->address == entry.address;
    if (type == RTM_DELNEIGH) {
        if (!found) return;
        neighbours_.erase(it);
    } else if (found) {
        if (it->value.mac == entry.value.mac && it->value.state == entry.value.state) return;
        it->value = entry.value;
    } else {
        if (neighbours_.size() == neighbours_.capacity()) return overflow("neighbour");
        neighbours_.insert(it, entry);
    }
    ++generation_;
}

void KernelTables::apply_link(const std::uint8_t* payload, std::size_t length) noexcept {
    if (length < sizeof(ifinfomsg)) return;
    const auto m = load<ifinfomsg>(payload);
    if (m.ifi_index != ifindex_) return;
    // Taking a link down flushes its routes without RTM_DELROUTE and its
    // neighbours in bulk; bringing it up restores connected routes. Re-read
    // both whenever the administrative or operational state changes.
    constexpr std::uint32_t kStateFlags = IFF_UP | IFF_RUNNING;  // RUNNING follows the carrier
    if (!dumping_ && ((m.ifi_flags ^ link_flags_) & kStateFlags) != 0) pending_sync_ |= kSyncRoutes | kSyncNeighbours;
    link_flags_ = m.ifi_flags;
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
        const ssize_t n = ::recv(request_fd_, buffer_.data(), buffer_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR) continue;
            return {};  // no acknowledgement yet: assume it was taken
        }
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
