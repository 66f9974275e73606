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
// in src/stack/netlink_message.hpp; this keeps the stack free of a new dependency and of a CMake
// change, and libmnl would add only its attribute-walking helpers.
//
// Three sockets: one subscribed to the change groups (read in poll), one for
// dumps and one for resolution requests (whose acknowledgements must not be
// read in place of a dump's replies, or the other way round). Subscribing
// before dumping and applying notifications in order makes the mirror
// converge: a notification older than the dump only re-states what a later
// one or the dump says.
//
// Resync: lost notifications (ENOBUFS), a link going up or down, or an
// address change make a table be dumped again. The constructor dumps every
// table and waits for the replies; after that, poll() never waits: it sends
// one table's dump request, reads the replies without blocking, and builds
// the new table in a second copy reserved at construction. Link and address
// dumps are read at most dump_reads_per_poll replies per call; route and
// neighbour dumps are read whole in one call (the kernel does not flag an
// inconsistent one, kernel_tables_resync.cpp says why; reading never waits, the
// kernel builds each next part inside the read). Lookups keep answering from
// the complete current table, which notifications keep patching, until the
// dump has ended; then the copy takes its place and the notifications that
// arrived meanwhile are applied to it once more (kernel_tables_resync.cpp says why
// that is needed and enough). resync_pending() tells whether one is queued
// or under way.
//
// Setup (constructors) throws std::runtime_error naming the fix. poll(),
// lookups and request_resolution() never throw, never block and never
// allocate: tables (and their rebuild copies) have a fixed capacity reserved
// at construction (entries beyond it are counted in counters().overflows
// and left out). Not thread-safe: call everything from the stack's polling
// thread.
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
    // Dump replies read per poll() while the link or address table is being
    // re-dumped. Each read is one non-blocking recv of up to 32 KiB of
    // messages (a few hundred entries) that the kernel builds during that
    // recv: this bounds the time one poll() spends on a resync. Route and
    // neighbour dumps ignore it: they are read whole in one poll() (about
    // ten reads for 4096 entries), because spreading them over polls lets
    // the kernel skip or repeat entries without telling.
    std::uint32_t dump_reads_per_poll = 2;
};

struct KernelTablesCounters {
    std::uint64_t notifications = 0;       // change messages applied
    std::uint64_t resyncs = 0;             // tables replaced by a complete dump (the constructor's included)
    std::uint64_t dumps_restarted = 0;     // dumps thrown away and sent again (NLM_F_DUMP_INTR, too many
                                           // changes during the dump to keep for replaying, or
                                           // notifications lost or cut while it was in flight)
    std::uint64_t replayed = 0;            // notifications applied again to a freshly dumped table
    std::uint64_t lost_notifications = 0;  // ENOBUFS reports on the notification socket
    std::uint64_t overflows = 0;           // entries left out because a table was full
    std::uint64_t resolutions_sent = 0;
    std::uint64_t resolutions_suppressed = 0;  // by the per-address rate limit
    std::uint64_t resolution_errors = 0;
    // Socket or dump errors in poll (a failed dump is retried ~100 polls
    // later), and datagrams too long for the receive buffer (a cut
    // notification is handled as a lost one; a cut dump reply fails the dump).
    std::uint64_t errors = 0;
};

class KernelTables {
  public:
    // Throws std::runtime_error (no such interface; netlink socket cannot be
    // opened or dumped) or std::invalid_argument (a zero capacity or
    // dump_reads_per_poll).
    explicit KernelTables(int ifindex, const KernelTablesConfig& config = {});
    explicit KernelTables(std::string_view interface_name, const KernelTablesConfig& config = {});
    ~KernelTables();
    KernelTables(const KernelTables&) = delete;
    KernelTables& operator=(const KernelTables&) = delete;
    KernelTables(KernelTables&& other) noexcept;
    KernelTables& operator=(KernelTables&& other) noexcept;

    [[nodiscard]] int ifindex() const noexcept { return ifindex_; }

    // Applies every pending notification without blocking, then moves a
    // resync along (see above): never blocks, does bounded work. Returns
    // the number of notifications applied.
    std::size_t poll() noexcept;

    // Makes the following polls re-dump every table, as after lost
    // notifications. For tests (a resync on demand, without overflowing a
    // socket) and for a caller that has reason to distrust the mirror.
    void request_resync() noexcept { pending_sync_ |= kSyncAll; }
    // A re-dump is queued or in flight: the tables are complete and usable
    // meanwhile, but may not yet show what the kernel changed silently.
    [[nodiscard]] bool resync_pending() const noexcept { return pending_sync_ != 0 || dump_table_ != 0; }

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
    // files' helpers can name it.
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
        // Position in the dump that produced the entry: of two replies for
        // one address in a dump, the later one is kept. Meaningless otherwise.
        std::uint32_t dump_order = 0;
        KernelNeighbour value;
    };
    struct ResolutionSlot {
        std::uint32_t address = 0;
        std::uint64_t last_ns = 0;
        bool used = false;
    };

  private:
    enum : std::uint8_t { kSyncAddresses = 1, kSyncRoutes = 2, kSyncNeighbours = 4, kSyncLink = 8, kSyncAll = 15 };
    enum class DumpStep : std::uint8_t { in_flight, done, failed };

    void open_sockets();
    void close_sockets() noexcept;
    void dump_all();  // the constructor's: each table in turn, waiting for the replies; throws
    void advance_resync() noexcept;
    // Route and neighbour dumps: read to the end within one poll.
    static bool read_whole(std::uint8_t table) noexcept;
    bool start_dump(std::uint8_t table) noexcept;
    // Reads the dump's replies while reads > 0 (decremented per recv);
    // blocking only for the constructor.
    DumpStep read_dump(std::uint32_t& reads, bool blocking) noexcept;
    DumpStep finish_dump() noexcept;
    DumpStep dump_failed(std::uint8_t table) noexcept;
    void log_dump_failure(std::uint8_t table) noexcept;
    static const char* table_name(std::uint8_t table) noexcept;
    static std::uint8_t sync_bit_of(std::uint16_t message_type) noexcept;  // 0: not a table's message
    void keep_for_replay(const std::uint8_t* message, std::size_t length) noexcept;
    void notifications_lost() noexcept;
    // Each returns whether the message is about the mirror (this
    // interface's link, addresses and neighbours, main-table IPv4 routes),
    // whether or not it changed anything: only those are kept for replay.
    bool apply(const std::uint8_t* message, std::size_t length) noexcept;
    bool apply_address(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    bool apply_route(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    bool apply_neighbour(std::uint16_t type, const std::uint8_t* payload, std::size_t length) noexcept;
    bool apply_link(const std::uint8_t* payload, std::size_t length) noexcept;
    Status resolve_netlink(wire::Ipv4Address address) noexcept;
    Status resolve_udp(wire::Ipv4Address address) noexcept;
    void overflow(const char* table) noexcept;

    int ifindex_ = 0;
    KernelTablesConfig config_;
    ResolutionMethod method_ = ResolutionMethod::netlink_use;
    int notify_fd_ = -1;
    int request_fd_ = -1;
    int dump_fd_ = -1;
    int udp_fd_ = -1;
    std::uint32_t sequence_ = 1;
    std::uint32_t link_flags_ = 0;
    std::uint8_t pending_sync_ = 0;  // kSync* bits of the tables waiting for a dump
    // The dump in flight: its table's kSync* bit (0: none) and sequence.
    std::uint8_t dump_table_ = 0;
    std::uint32_t dump_sequence_ = 0;
    bool dump_interrupted_ = false;  // a reply carried NLM_F_DUMP_INTR
    // The dump in flight may lack a change: a notification for it did not fit
    // in replay_, or notifications were lost (ENOBUFS) or cut (MSG_TRUNC).
    bool replay_incomplete_ = false;
    bool dumping_ = false;               // apply() is handling a dump reply: it goes to the staged copy
    std::uint32_t dump_idle_polls_ = 0;  // polls in a row that found no reply to the dump in flight
    std::uint32_t retry_polls_ = 0;      // polls to wait before retrying after a failed dump
    std::uint64_t generation_ = 1;
    KernelTablesCounters counters_;
    std::vector<std::uint8_t> buffer_;  // one receive buffer, sized at construction
    std::vector<InterfaceAddress> addresses_;
    std::vector<RouteEntry> routes_;          // by prefix length (longest first), metric, then the rest (route_before)
    std::vector<NeighbourEntry> neighbours_;  // by address
    // The table being dumped is built here (unsorted until the dump ends),
    // then swapped with the one above; same capacities.
    std::uint32_t staged_link_flags_ = 0;
    std::vector<InterfaceAddress> staged_addresses_;
    std::vector<RouteEntry> staged_routes_;
    std::vector<NeighbourEntry> staged_neighbours_;
    // Notifications for the table being dumped, as received, applied again
    // to the new table when it takes over (fixed size; replay_bytes_ used).
    std::vector<std::uint8_t> replay_;
    std::size_t replay_bytes_ = 0;
    std::vector<ResolutionSlot> resolutions_;
};

}  // namespace kbnet::stack
