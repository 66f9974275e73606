// A stack's statistics in shared memory, for `kbnet stackdump` to read from
// outside the process (design.md, decision 8; like onload_stackdump).
//
// Writer: each stack creates one StatsSegment at setup. The segment is a
// POSIX shared-memory object /dev/shm/kbnet-stack.<pid>.<name> holding
//   - a header: magic, layout version and sizes, then the stack's identity
//     (name, pid, the pid's start time, port spec, address mode, addresses);
//   - the StackCounters the stack increments in place (counters() is a
//     reference into the mapping: no copy, no publish step);
//   - a fixed table of kStatsSocketCapacity sockets.
// The destructor unlinks the object. A process that dies without running it
// leaves the object behind; list_stacks() recognises and removes those.
//
// Readers (list_stacks) map segments read-only while their writers run.
// Counters are read with relaxed atomic loads (load_counters): aligned 64-bit
// loads are single instructions on x86-64 and arm64, so no value is torn and
// the writer needs no atomics. The rarely changing parts (identity text,
// socket entries) are guarded by sequence counters, so a reader never shows
// half of an update: it retries instead.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kbnet/core/result.hpp"
#include "kbnet/stack/counters.hpp"
#include "kbnet/wire/address.hpp"

namespace kbnet::stack {

// "kbnetSTA" read as a little-endian word.
inline constexpr std::uint64_t kStatsMagic = 0x41545374656e626bull;
// Bump on any change to SegmentHeader, SocketEntry, StackCounters or their
// order: a reader refuses other versions rather than misreading them.
inline constexpr std::uint32_t kStatsLayoutVersion = 1;
// Enough for the sockets a polling thread usually serves; beyond it sockets
// still work and are counted in SegmentHeader::sockets_unlisted.
inline constexpr std::size_t kStatsSocketCapacity = 256;
// Object names are kStatsObjectPrefix + "<pid>.<name>".
inline constexpr std::string_view kStatsObjectPrefix = "kbnet-stack.";
// A stack name: 1..kStatsMaxName characters of [A-Za-z0-9_.-].
inline constexpr std::size_t kStatsMaxName = 63;

// What a stack says about itself at creation.
struct StackIdentity {
    std::string name;       // unique per process; becomes part of the object name
    std::string port;       // the port spec, e.g. "afxdp:eth0,queues=2"
    std::string mode;       // address mode, e.g. "shared" or "dedicated"
    std::string addresses;  // e.g. "10.0.0.1/24"; may be set later with set_addresses
};

// The start of the mapping. Text fields are NUL-terminated and truncated to
// fit. All of it is written before `magic`, which is stored last with
// release order, so a reader that sees the magic sees a whole header.
struct SegmentHeader {
    std::uint64_t magic;
    std::uint32_t layout_version;
    std::uint32_t header_size;        // sizeof(SegmentHeader)
    std::uint32_t counters_offset;    // where StackCounters starts
    std::uint32_t counters_size;      // sizeof(StackCounters)
    std::uint32_t sockets_offset;     // where the socket table starts
    std::uint32_t socket_entry_size;  // sizeof(SocketEntry)
    std::uint32_t socket_capacity;
    std::int32_t pid;
    std::uint64_t total_size;           // the whole mapping
    std::uint64_t process_start_ticks;  // /proc/PID/stat field 22: tells a reused pid apart
    std::int64_t started_unix_ns;       // wall clock at creation
    std::uint64_t sockets_unlisted;     // sockets the full table could not take
    std::uint32_t identity_seq;         // odd while set_addresses rewrites `addresses`
    std::uint32_t reserved;
    std::array<char, kStatsMaxName + 1> name;
    std::array<char, 128> port;
    std::array<char, 32> mode;
    std::array<char, 128> addresses;
};

// Per-socket counters the stack updates in place on the data path, like
// StackCounters: plain words, read with relaxed loads.
struct SocketCounters {
    std::uint64_t rx_queue_depth = 0;  // datagrams/segments waiting for the application
    std::uint64_t rx_drops = 0;        // dropped because the receive queue was full
};

// One slot of the socket table. The address fields change only on bind,
// connect, join and leave, under `seq` (odd while the writer changes them);
// `counters` change per packet and are outside it.
struct SocketEntry {
    std::uint32_t seq;
    std::uint8_t in_use;
    std::uint8_t protocol;  // IPPROTO_UDP, IPPROTO_TCP, ...
    std::uint16_t local_port;
    std::uint32_t local_address;   // host byte order, as wire::Ipv4Address
    std::uint32_t remote_address;  // 0 with remote_port 0: not connected
    std::uint16_t remote_port;
    std::uint16_t multicast_group_count;
    std::array<char, 16> state;             // e.g. "LISTEN"; empty for UDP
    std::array<char, 48> multicast_groups;  // "239.1.1.1,239.1.1.2", "..." when more than fit
    SocketCounters counters;
};

// What the stack says about one socket.
struct SocketInfo {
    std::uint8_t protocol = 0;
    wire::Ipv4Address local_address;
    std::uint16_t local_port = 0;
    wire::Ipv4Address remote_address;  // unspecified with remote_port 0: not connected
    std::uint16_t remote_port = 0;
    std::string_view state;
    std::span<const wire::Ipv4Address> multicast_groups;
};

// Index of a socket's slot in the table.
struct SocketSlot {
    std::uint16_t index;
};

class StatsSegment {
  public:
    // Creates and maps /dev/shm/kbnet-stack.<pid>.<name>. A leftover object
    // of the same name from an earlier process that had this pid is
    // replaced. Throws std::invalid_argument for a bad name or a name this
    // process already uses, std::system_error (naming the fix) when the
    // object cannot be created or sized.
    explicit StatsSegment(const StackIdentity& identity);
    ~StatsSegment();  // unmaps and unlinks
    StatsSegment(StatsSegment&& other) noexcept;
    StatsSegment& operator=(StatsSegment&& other) noexcept;
    StatsSegment(const StatsSegment&) = delete;
    StatsSegment& operator=(const StatsSegment&) = delete;

    // The stack's counters, inside the mapping: increment them in place.
    // The reference stays valid for the segment's life (a move keeps it).
    [[nodiscard]] StackCounters& counters() noexcept { return *counters_; }

    // Control path (bind, connect, join, close): no allocation, no syscall.
    // add_socket fails when the table is full; the socket still works,
    // stackdump counts it as unlisted.
    [[nodiscard]] Result<SocketSlot> add_socket(const SocketInfo& info) noexcept;
    void update_socket(SocketSlot slot, const SocketInfo& info) noexcept;
    void remove_socket(SocketSlot slot) noexcept;
    // The slot's live counters, to update in place on the data path.
    [[nodiscard]] SocketCounters& socket_counters(SocketSlot slot) noexcept;

    void set_addresses(std::string_view addresses) noexcept;

    // "kbnet-stack.<pid>.<name>" and its path under /dev/shm.
    [[nodiscard]] const std::string& object_name() const noexcept { return object_; }
    [[nodiscard]] std::string path() const;

  private:
    void release() noexcept;

    std::string object_;
    void* base_ = nullptr;
    std::size_t size_ = 0;
    SegmentHeader* header_ = nullptr;
    StackCounters* counters_ = nullptr;
    SocketEntry* sockets_ = nullptr;
};

// ---- reading ---------------------------------------------------------------

struct SocketSnapshot {
    std::uint8_t protocol = 0;
    wire::Ipv4Address local_address;
    std::uint16_t local_port = 0;
    wire::Ipv4Address remote_address;
    std::uint16_t remote_port = 0;
    std::string state;
    std::uint16_t multicast_group_count = 0;
    std::string multicast_groups;
    SocketCounters counters;

    [[nodiscard]] bool connected() const noexcept { return remote_port != 0; }
};

struct StackSnapshot {
    std::string object;  // "kbnet-stack.<pid>.<name>"
    std::string name;
    pid_t pid = 0;
    std::uint64_t process_start_ticks = 0;
    std::int64_t started_unix_ns = 0;
    std::string port;
    std::string mode;
    std::string addresses;
    std::vector<SocketSnapshot> sockets;  // in slot order
    std::uint64_t sockets_unlisted = 0;
    StackCounters counters;
};

// An object list_stacks left alone or removed, and why.
struct SegmentNote {
    std::string object;
    std::string reason;
};

struct StackList {
    std::vector<StackSnapshot> stacks;  // live stacks, by name then pid
    std::vector<SegmentNote> skipped;   // unreadable or incompatible, owner alive: left in place
    std::vector<SegmentNote> cleaned;   // owner gone: unlinked
};

struct ListOptions {
    std::string directory = "/dev/shm";  // where shm_open puts objects on Linux
    bool clean = true;                   // unlink segments whose process is gone
};

// Scans `directory` for kbnet-stack.* objects and snapshots every live
// stack. Never throws for a bad object (it is skipped or cleaned with a
// reason); throws std::system_error only if the directory cannot be read.
[[nodiscard]] StackList list_stacks(const ListOptions& options = {});

// Field 22 of /proc/PID/stat (clock ticks after boot when the process
// started); none if the process is gone or its stat unreadable.
[[nodiscard]] std::optional<std::uint64_t> process_start_ticks(pid_t pid);

}  // namespace kbnet::stack
