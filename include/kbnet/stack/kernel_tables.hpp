// A mirror of the kernel's IPv4 address, route and neighbour tables for one
// interface, kept current over netlink: the "shared" address model
// (design.md, decision 4), where the stack uses the interface's own address
// and the kernel keeps ARP. kbnet never answers or sends ARP itself in that
// mode; it reads what the kernel learned, and asks the kernel to resolve
// what it has not.
//
//   KernelTables tables("eth0");               // dumps the three tables
//   loop:
//     tables.poll();                            // every ms or so: follow changes
//     if (tables.generation() != seen) flush cached next hops;
//     auto r = tables.route(dst);               // nullopt: not via this interface
//     auto n = tables.neighbour(r->next_hop);
//     if (!n || !n->resolved() || n->state == KernelNeighbourState::stale)
//         (void)tables.request_resolution(r->next_hop, now_ns);
//
// Raw NETLINK_ROUTE (rtnetlink(7)) rather than libmnl: the six message types
// used here are a few fixed structs and attributes, parsed with bounds checks
// in one file; this keeps the stack free of a new dependency and of a CMake
// change, and libmnl would add only its attribute-walking helpers.
//
// Two sockets: one subscribed to the change groups (read in poll) and one for
// requests (dumps, resolution). Subscribing before dumping and applying
// notifications in order makes the mirror converge: a notification older
// than the dump only re-states what a later one or the dump says.
//
// Setup (constructors) throws std::runtime_error naming the fix. poll(),
// lookups and request_resolution() never throw and never allocate: tables
// have a fixed capacity reserved at construction (entries beyond it are
// counted in counters().overflows and left out). Not thread-safe: call
// everything from the stack's polling thread.
//
// Scope: the main routing table only (policy rules, `ip rule`, are not
// followed); routes with a TOS are ignored; of a multipath route the first
// next hop on this interface is used.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kbnet/core/result.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

// The kernel's NUD state of a neighbour (include/uapi/linux/neighbour.h).
enum class KernelNeighbourState : std::uint8_t {
    none,        // entry exists without an address (being created)
    incomplete,  // the kernel's ARP requests are out, no answer yet
    reachable,   // confirmed recently
    stale,       // address known, not confirmed lately: usable, worth re-confirming
    delay,       // stale and used: the kernel will probe soon
    probe,       // unicast re-confirmation in flight
    failed,      // resolution failed
    noarp,       // no resolution needed (broadcast, multicast, point-to-point)
    permanent,   // static (`ip neigh ... nud permanent`)
};

[[nodiscard]] const char* kernel_neighbour_state_name(KernelNeighbourState state) noexcept;

struct KernelNeighbour {
    wire::MacAddress mac;
    KernelNeighbourState state = KernelNeighbourState::none;

    // Usable for sending: the kernel's NUD_VALID set, with a link address.
    // none, incomplete and failed are "unresolved".
    [[nodiscard]] bool resolved() const noexcept;
};

struct KernelRoute {
    wire::Ipv4Address next_hop;   // the gateway, or the destination itself when on-link
    std::uint8_t prefix_len = 0;  // of the route that matched (0: the default route)
    bool via_gateway = false;
    wire::Ipv4Address source;  // the route's preferred source (RTA_PREFSRC); 0 if it names none
};

struct InterfaceAddress {
    wire::Ipv4Address address;
    std::uint8_t prefix_len = 0;
    bool secondary = false;  // IFA_F_SECONDARY: another address of the same subnet came first

    [[nodiscard]] bool contains(wire::Ipv4Address a) const noexcept;
};

enum class ResolutionMethod : std::uint8_t {
    // RTM_NEWNEIGH with NTF_USE: the kernel runs its own NUD machine for
    // the address (ARP request, retries, unicast probe of a stale entry), as
    // if it had a packet for it. Needs CAP_NET_ADMIN.
    netlink_use,
    // An empty UDP datagram to the address's discard port (RFC 863) from a
    // kernel socket: the kernel resolves the next hop to send it. Works
    // without privilege, but puts a datagram on the wire.
    udp_discard,
    // netlink_use, switching for good to udp_discard if the kernel refuses
    // it (EPERM without CAP_NET_ADMIN, EOPNOTSUPP).
    automatic,
};

struct KernelTablesConfig {
    std::uint32_t max_addresses = 64;      // IPv4 addresses of the interface
    std::uint32_t max_routes = 4096;       // main-table IPv4 routes, all interfaces
    std::uint32_t max_neighbours = 4096;   // IPv4 neighbours of the interface (4x gc_thresh3's default)
    std::uint32_t max_resolutions = 1024;  // addresses remembered for the rate limit (4-way sets)
    // At most one resolution request per address per interval: RFC 1122
    // §2.3.2.1 asks for no more than one ARP request per second per
    // destination. The kernel enforces its own retransmit timer too; this
    // limit keeps a stream of packets to an unresolved next hop from
    // turning into a stream of syscalls.
    std::uint64_t resolution_interval_ns = 1'000'000'000;
    ResolutionMethod resolution_method = ResolutionMethod::automatic;
    // Receive buffer of the notification socket. A burst (a link flap
    // flushing thousands of neighbours) beyond it loses notifications,
    // which poll() detects (ENOBUFS) and repairs with a fresh dump.
    int notify_buffer_bytes = 4 << 20;
};

struct KernelTablesCounters {
    std::uint64_t notifications = 0;       // change messages applied
    std::uint64_t resyncs = 0;             // table re-dumps (lost notifications, link or address changes)
    std::uint64_t lost_notifications = 0;  // ENOBUFS reports on the notification socket
    std::uint64_t overflows = 0;           // entries left out because a table was full
    std::uint64_t resolutions_sent = 0;
    std::uint64_t resolutions_suppressed = 0;  // by the per-address rate limit
    std::uint64_t resolution_errors = 0;
    std::uint64_t errors = 0;  // socket or dump errors in poll (the dump is retried next poll)
};

class KernelTables {
  public:
    // Throws std::runtime_error (no such interface; netlink socket cannot be
    // opened or dumped) or std::invalid_argument (a zero capacity).
    explicit KernelTables(int ifindex, const KernelTablesConfig& config = {});
    explicit KernelTables(std::string_view interface_name, const KernelTablesConfig& config = {});
    ~KernelTables();
    KernelTables(const KernelTables&) = delete;
    KernelTables& operator=(const KernelTables&) = delete;
    KernelTables(KernelTables&& other) noexcept;
    KernelTables& operator=(KernelTables&& other) noexcept;

    [[nodiscard]] int ifindex() const noexcept { return ifindex_; }

    // Applies every pending notification without blocking, then re-dumps
    // any table that needs it. Returns the number of messages applied.
    std::size_t poll() noexcept;

    // Longest-prefix match in the main table (lowest metric among equal
    // prefixes). nullopt: no route, an unreachable/blackhole/prohibit
    // route, or the best route leaves by another interface.
    [[nodiscard]] std::optional<KernelRoute> route(wire::Ipv4Address destination) const noexcept;
    [[nodiscard]] std::optional<KernelNeighbour> neighbour(wire::Ipv4Address address) const noexcept;
    // The interface's first primary address: what shared mode uses.
    [[nodiscard]] std::optional<InterfaceAddress> interface_address() const noexcept;
    // All of them, primaries first, in the kernel's order.
    [[nodiscard]] std::span<const InterfaceAddress> interface_addresses() const noexcept { return addresses_; }
    [[nodiscard]] bool is_local_address(wire::Ipv4Address address) const noexcept;

    // Makes the kernel resolve (or re-confirm) the neighbour; at most once
    // per address per resolution_interval_ns. The answer shows up in a
    // later poll() as a neighbour change. Errc::would_block: rate-limited
    // (nothing sent); Errc::io_error: the kernel refused.
    [[nodiscard]] Status request_resolution(wire::Ipv4Address address, std::uint64_t now_ns) noexcept;
    [[nodiscard]] ResolutionMethod resolution_method() const noexcept { return method_; }

    // Changes whenever any table may have changed: a stack caching next
    // hops compares it with the value it cached them under.
    [[nodiscard]] std::uint64_t generation() const noexcept { return generation_; }
    [[nodiscard]] const KernelTablesCounters& counters() const noexcept { return counters_; }

    // A private type of the implementation; public only so that the source
    // file's helpers can name it.
    struct RouteEntry {
        std::uint32_t destination = 0;  // host order, masked
        std::uint32_t mask = 0;
        std::uint32_t priority = 0;  // metric: lower wins among equal prefixes
        std::uint32_t gateway = 0;
        std::uint32_t source = 0;
        int oif = 0;
        std::uint8_t prefix_len = 0;
        std::uint8_t tos = 0;
        std::uint8_t type = 0;  // RTN_*
        bool dead = false;      // RTNH_F_DEAD: the kernel skips it too
    };
    struct NeighbourEntry {
        std::uint32_t address = 0;
        KernelNeighbour value;
    };
    struct ResolutionSlot {
        std::uint32_t address = 0;
        std::uint64_t last_ns = 0;
        bool used = false;
    };

  private:
    enum : std::uint8_t { kSyncAddresses = 1, kSyncRoutes = 2, kSyncNeighbours = 4, kSyncLink = 8, kSyncAll = 15 };

    void open_sockets();
    void close_sockets() noexcept;
    bool dump(std::uint8_t which) noexcept;  // false: a dump failed; its bit stays pending
    bool dump_one(std::uint16_t type) noexcept;
    void apply(const std::uint8_t* message, std::size_t length) noexcept;
    void apply_address(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    void apply_route(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    void apply_neighbour(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    void apply_link(const std::uint8_t* payload, std::size_t length) noexcept;
    Status resolve_netlink(wire::Ipv4Address address) noexcept;
    Status resolve_udp(wire::Ipv4Address address) noexcept;
    void overflow(const char* table) noexcept;

    int ifindex_ = 0;
    KernelTablesConfig config_;
    ResolutionMethod method_ = ResolutionMethod::netlink_use;
    int notify_fd_ = -1;
    int request_fd_ = -1;
    int udp_fd_ = -1;
    std::uint32_t sequence_ = 1;
    std::uint32_t link_flags_ = 0;
    std::uint8_t pending_sync_ = 0;
    bool dumping_ = false;  // dump replies land in the tables without sorting
    std::uint64_t generation_ = 1;
    KernelTablesCounters counters_;
    std::vector<std::uint8_t> buffer_;  // one receive buffer, sized at construction
    std::vector<InterfaceAddress> addresses_;
    std::vector<RouteEntry> routes_;          // by prefix length (longest first), then metric
    std::vector<NeighbourEntry> neighbours_;  // by address
    std::vector<ResolutionSlot> resolutions_;
};

}  // namespace kbnet::stack
