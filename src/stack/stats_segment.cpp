#include "kbnet/stack/stats_segment.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <new>
#include <stdexcept>
#include <system_error>
#include <tuple>
#include <utility>

#include <fmt/format.h>

#include "kbnet/core/cache.hpp"

namespace kbnet::stack {
namespace {

// The whole mapping. Counters and sockets start on their own cache lines so
// the stack's increments never share a line with the header a reader polls.
struct SegmentLayout {
    SegmentHeader header;
    alignas(kCacheLine) StackCounters counters;
    alignas(kCacheLine) std::array<SocketEntry, kStatsSocketCapacity> sockets;
};

// Readers copy the header and entries word by word (load_words), so both
// are whole words and word aligned.
static_assert(sizeof(SegmentHeader) % 8 == 0 && alignof(SegmentHeader) == 8);
static_assert(sizeof(SocketEntry) % 8 == 0 && alignof(SocketEntry) == 8);
static_assert(sizeof(SegmentLayout) < (std::size_t{1} << 32), "offsets are stored as 32 bits");

template <std::size_t N>
void put_text(std::array<char, N>& out, std::string_view text) noexcept {
    const std::size_t n = std::min(text.size(), N - 1);
    if (n > 0) std::memcpy(out.data(), text.data(), n);  // an empty view may hold nullptr
    std::memset(out.data() + n, 0, N - n);
}

template <std::size_t N>
std::string text_of(const std::array<char, N>& a) {
    return std::string(a.data(), strnlen(a.data(), N));
}

// Sequence counter, writer side (one writer: the stack's thread). The odd
// value and the release fence come before the data stores, so a reader that
// saw any of the new data also sees the odd value or a newer one when it
// re-reads, and retries. On x86-64 both orderings are compiler barriers only.
void begin_write(std::uint32_t& seq) noexcept {
    std::atomic_ref<std::uint32_t>(seq).store(seq + 1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_release);
}
void end_write(std::uint32_t& seq) noexcept {
    std::atomic_ref<std::uint32_t>(seq).store(seq + 1, std::memory_order_release);
}

// Copies `bytes` (a multiple of 8, 8-aligned) from memory another process
// writes, one relaxed atomic load per word: each word is one the writer
// stored, and the compiler cannot merge, tear or elide the loads.
void load_words(void* dst, const void* src, std::size_t bytes) noexcept {
    auto* d = static_cast<std::uint64_t*>(dst);
    auto* s = static_cast<std::uint64_t*>(const_cast<void*>(src));
    for (std::size_t i = 0; i < bytes / 8; ++i)
        d[i] = std::atomic_ref<std::uint64_t>(s[i]).load(std::memory_order_relaxed);
}

// Sequence counter, reader side: copies a seq-guarded object until two reads
// of its counter agree and are even. The writer changes these parts at human
// rates (bind, join), so a handful of tries is plenty; false if it never
// settles.
template <typename T>
bool load_consistent(T& out, const T& live, const std::uint32_t& seq) noexcept {
    auto& s = const_cast<std::uint32_t&>(seq);
    for (int attempt = 0; attempt < 1000; ++attempt) {
        const std::uint32_t before = std::atomic_ref<std::uint32_t>(s).load(std::memory_order_acquire);
        if ((before & 1u) != 0) continue;
        load_words(&out, &live, sizeof(T));
        std::atomic_thread_fence(std::memory_order_acquire);
        if (std::atomic_ref<std::uint32_t>(s).load(std::memory_order_relaxed) == before) return true;
    }
    return false;
}

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > kStatsMaxName) return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
               c == '.';
    });
}

// "239.1.1.1,239.1.1.2" into a fixed field, "..." at the end when the rest
// does not fit. No allocation: add_socket runs on the stack's thread.
template <std::size_t N>
void put_groups(std::array<char, N>& out, std::span<const wire::Ipv4Address> groups) noexcept {
    out.fill('\0');
    std::size_t at = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        char quad[16];
        char* p = quad;
        for (int shift = 24; shift >= 0; shift -= 8) {
            p = std::to_chars(p, quad + sizeof quad, (groups[g].value >> shift) & 0xffu).ptr;
            if (shift > 0) *p++ = '.';
        }
        const auto len = static_cast<std::size_t>(p - quad);
        const std::size_t sep = g > 0 ? 1 : 0;
        // Leave room for "..." unless this is the last group.
        const std::size_t room = N - 1 - at;
        const std::size_t need = sep + len + (g + 1 < groups.size() ? 4 : 0);
        if (need > room) {
            const char* more = g > 0 ? ",..." : "...";
            const std::size_t m = std::min(std::strlen(more), room);
            std::memcpy(out.data() + at, more, m);
            return;
        }
        if (sep != 0) out[at++] = ',';
        std::memcpy(out.data() + at, quad, len);
        at += len;
    }
}

void fill_entry(SocketEntry& e, const SocketInfo& info) noexcept {
    e.protocol = info.protocol;
    e.local_address = info.local_address.value;
    e.local_port = info.local_port;
    e.remote_address = info.remote_address.value;
    e.remote_port = info.remote_port;
    e.multicast_group_count = static_cast<std::uint16_t>(std::min<std::size_t>(info.multicast_groups.size(), 0xffff));
    put_text(e.state, info.state);
    put_groups(e.multicast_groups, info.multicast_groups);
}

std::system_error shm_error(int err, const std::string& what, std::string_view fix) {
    return std::system_error(err, std::generic_category(), fmt::format("{} ({})", what, fix));
}

std::string_view fix_for(int err) {
    switch (err) {
        case ENOENT: return "is /dev/shm mounted? mount -t tmpfs tmpfs /dev/shm";
        case EACCES:
        case EPERM:
        case EROFS: return "/dev/shm must be writable by this user: check its mount and permissions (mode 1777)";
        case ENOSPC:
        case ENOMEM: return "/dev/shm is full: remove stale objects or enlarge it (mount -o remount,size=... /dev/shm)";
        case EMFILE:
        case ENFILE: return "too many open files: raise the limit (ulimit -n)";
        default: return "check /dev/shm";
    }
}

// True when the process is certainly gone. EPERM means it exists but
// belongs to another user: alive.
bool process_gone(pid_t pid) noexcept { return kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

std::optional<std::uint64_t> process_start_ticks(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    if (!in) return std::nullopt;
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // Field 2 is the command name in parentheses and may itself hold spaces
    // and parentheses; the fields after the last ')' are plain numbers,
    // starting with field 3 (state). Field 22 is the 20th of those.
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::size_t at = close + 1;
    for (int field = 3; field <= 22; ++field) {
        while (at < stat.size() && stat[at] == ' ') ++at;
        const std::size_t end = std::min(stat.find(' ', at), stat.size());
        if (at >= end) return std::nullopt;
        if (field == 22) {
            std::uint64_t v = 0;
            const auto [p, ec] = std::from_chars(stat.data() + at, stat.data() + end, v);
            if (ec != std::errc{} || p != stat.data() + end) return std::nullopt;
            return v;
        }
        at = end;
    }
    return std::nullopt;
}

// ---- StatsSegment ----------------------------------------------------------

StatsSegment::StatsSegment(const StackIdentity& identity) {
    if (!valid_name(identity.name)) {
        throw std::invalid_argument(
            fmt::format("stack name '{}': use 1 to {} characters of A-Z a-z 0-9 _ . -", identity.name, kStatsMaxName));
    }
    const pid_t pid = getpid();
    // 0 when /proc is unavailable: readers then rely on kill(pid, 0) alone.
    const std::uint64_t start_ticks = process_start_ticks(pid).value_or(0);
    object_ = fmt::format("{}{}.{}", kStatsObjectPrefix, pid, identity.name);
    const std::string shm_name = "/" + object_;

    int fd = -1;
    for (int attempt = 0; attempt < 2 && fd < 0; ++attempt) {
        fd = shm_open(shm_name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0) break;
        const int err = errno;
        if (err != EEXIST || attempt > 0) {
            throw shm_error(err, fmt::format("cannot create the statistics segment {}", path()), fix_for(err));
        }
        // The pid in the name is ours, so the object is either this process's
        // (a second stack with the same name: refuse) or left by a dead
        // process that had our pid before (replace it).
        const int old = shm_open(shm_name.c_str(), O_RDONLY | O_CLOEXEC, 0);
        if (old >= 0) {
            SegmentHeader h{};
            const bool ours = pread(old, &h, sizeof h, 0) == static_cast<ssize_t>(sizeof h) && h.magic == kStatsMagic &&
                              h.pid == pid && h.process_start_ticks == start_ticks;
            close(old);
            if (ours) {
                throw std::invalid_argument(
                    fmt::format("a stack named '{}' already exists in this process ({}): give each stack its own name",
                                identity.name, path()));
            }
        }
        shm_unlink(shm_name.c_str());
    }

    size_ = sizeof(SegmentLayout);
    if (ftruncate(fd, static_cast<off_t>(size_)) != 0) {
        const int err = errno;
        close(fd);
        shm_unlink(shm_name.c_str());
        throw shm_error(err, fmt::format("cannot size the statistics segment {} to {} bytes", path(), size_),
                        fix_for(err));
    }
    base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    const int map_err = errno;
    close(fd);  // the mapping keeps the object
    if (base_ == MAP_FAILED) {
        base_ = nullptr;
        shm_unlink(shm_name.c_str());
        throw shm_error(map_err, fmt::format("cannot map the statistics segment {}", path()), fix_for(map_err));
    }

    // Value-initialising the layout also touches every page now, so the
    // data path never takes a first-touch fault on a counter.
    auto* layout = ::new (base_) SegmentLayout{};
    header_ = &layout->header;
    counters_ = &layout->counters;
    sockets_ = layout->sockets.data();

    SegmentHeader& h = *header_;
    h.layout_version = kStatsLayoutVersion;
    h.header_size = sizeof(SegmentHeader);
    h.counters_offset = static_cast<std::uint32_t>(offsetof(SegmentLayout, counters));
    h.counters_size = sizeof(StackCounters);
    h.sockets_offset = static_cast<std::uint32_t>(offsetof(SegmentLayout, sockets));
    h.socket_entry_size = sizeof(SocketEntry);
    h.socket_capacity = kStatsSocketCapacity;
    h.pid = pid;
    h.total_size = size_;
    h.process_start_ticks = start_ticks;
    h.started_unix_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    put_text(h.name, identity.name);
    put_text(h.port, identity.port);
    put_text(h.mode, identity.mode);
    put_text(h.addresses, identity.addresses);
    // Last, with release: a reader that sees the magic sees all of the above.
    std::atomic_ref<std::uint64_t>(h.magic).store(kStatsMagic, std::memory_order_release);
}

StatsSegment::~StatsSegment() { release(); }

StatsSegment::StatsSegment(StatsSegment&& other) noexcept
    : object_(std::move(other.object_)),
      base_(std::exchange(other.base_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      header_(std::exchange(other.header_, nullptr)),
      counters_(std::exchange(other.counters_, nullptr)),
      sockets_(std::exchange(other.sockets_, nullptr)) {}

StatsSegment& StatsSegment::operator=(StatsSegment&& other) noexcept {
    if (this != &other) {
        release();
        object_ = std::move(other.object_);
        base_ = std::exchange(other.base_, nullptr);
        size_ = std::exchange(other.size_, 0);
        header_ = std::exchange(other.header_, nullptr);
        counters_ = std::exchange(other.counters_, nullptr);
        sockets_ = std::exchange(other.sockets_, nullptr);
    }
    return *this;
}

void StatsSegment::release() noexcept {
    if (base_ == nullptr) return;
    munmap(base_, size_);
    base_ = nullptr;
    // ENOENT is fine: a reader may have judged us dead (it cannot be wrong
    // about a live process, but the object may have been removed by hand).
    shm_unlink(("/" + object_).c_str());
}

std::string StatsSegment::path() const { return "/dev/shm/" + object_; }

Result<SocketSlot> StatsSegment::add_socket(const SocketInfo& info) noexcept {
    for (std::size_t i = 0; i < kStatsSocketCapacity; ++i) {
        SocketEntry& e = sockets_[i];
        if (e.in_use != 0) continue;
        begin_write(e.seq);
        fill_entry(e, info);
        e.counters = SocketCounters{};
        e.in_use = 1;
        end_write(e.seq);
        return SocketSlot{static_cast<std::uint16_t>(i)};
    }
    ++header_->sockets_unlisted;
    return Error{Errc::no_buffers,
                 "statistics socket table full: the socket works but kbnet stackdump will not list it"};
}

void StatsSegment::update_socket(SocketSlot slot, const SocketInfo& info) noexcept {
    SocketEntry& e = sockets_[slot.index];
    begin_write(e.seq);
    fill_entry(e, info);
    end_write(e.seq);
}

void StatsSegment::remove_socket(SocketSlot slot) noexcept {
    SocketEntry& e = sockets_[slot.index];
    begin_write(e.seq);
    const std::uint32_t seq = e.seq;
    e = SocketEntry{};
    e.seq = seq;
    end_write(e.seq);
}

SocketCounters& StatsSegment::socket_counters(SocketSlot slot) noexcept { return sockets_[slot.index].counters; }

void StatsSegment::set_addresses(std::string_view addresses) noexcept {
    begin_write(header_->identity_seq);
    put_text(header_->addresses, addresses);
    end_write(header_->identity_seq);
}

// ---- list_stacks -----------------------------------------------------------

namespace {

// A read-only view of one object, unmapped on scope exit.
class Mapping {
  public:
    Mapping(int fd, std::size_t size) : size_(size) {
        void* p = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
        base_ = p == MAP_FAILED ? nullptr : p;
    }
    ~Mapping() {
        if (base_ != nullptr) munmap(base_, size_);
    }
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    [[nodiscard]] const std::byte* bytes() const noexcept { return static_cast<const std::byte*>(base_); }
    template <typename T>
    [[nodiscard]] const T& at(std::size_t offset) const noexcept {
        return *static_cast<const T*>(static_cast<const void*>(bytes() + offset));
    }

  private:
    void* base_ = nullptr;
    std::size_t size_;
};

class FdCloser {
  public:
    explicit FdCloser(int fd) : fd_(fd) {}
    ~FdCloser() {
        if (fd_ >= 0) close(fd_);
    }
    FdCloser(const FdCloser&) = delete;
    FdCloser& operator=(const FdCloser&) = delete;

  private:
    int fd_;
};

// "kbnet-stack.<pid>.<name>" -> pid; none if the name has another shape.
std::optional<pid_t> pid_of(std::string_view object) {
    std::string_view rest = object.substr(kStatsObjectPrefix.size());
    const std::size_t dot = rest.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == rest.size()) return std::nullopt;
    pid_t pid = 0;
    const auto [p, ec] = std::from_chars(rest.data(), rest.data() + dot, pid);
    if (ec != std::errc{} || p != rest.data() + dot || pid <= 0) return std::nullopt;
    return pid;
}

SocketSnapshot snapshot_of(const SocketEntry& e) {
    SocketSnapshot s;
    s.protocol = e.protocol;
    s.local_address = wire::Ipv4Address{e.local_address};
    s.local_port = e.local_port;
    s.remote_address = wire::Ipv4Address{e.remote_address};
    s.remote_port = e.remote_port;
    s.state = text_of(e.state);
    s.multicast_group_count = e.multicast_group_count;
    s.multicast_groups = text_of(e.multicast_groups);
    s.counters = e.counters;
    return s;
}

void scan_one(const std::filesystem::path& path, const std::string& object, const ListOptions& options,
              StackList& out) {
    const auto skip = [&](std::string reason) { out.skipped.push_back({object, std::move(reason)}); };
    const std::optional<pid_t> name_pid = pid_of(object);
    if (!name_pid) return skip("name is not kbnet-stack.<pid>.<name>: not a kbnet statistics segment");

    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT) return;  // removed since the directory was read
        return skip(fmt::format("cannot open: {} (read it as the stack's user or as root)", std::strerror(err)));
    }
    FdCloser closer(fd);
    struct stat st {};
    if (fstat(fd, &st) != 0) return skip(fmt::format("cannot stat: {}", std::strerror(errno)));

    // Removes the object if its owner is gone, else leaves it with `reason`.
    // The inode check narrows the window in which a new process that reused
    // the pid and the name could have replaced the object since we opened it.
    const auto clean_or_skip = [&](std::string reason, bool owner_gone) {
        if (!owner_gone) return skip(std::move(reason));
        if (!options.clean) return skip("stale: " + reason);
        struct stat now {};
        if (stat(path.c_str(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) return;
        if (unlink(path.c_str()) != 0) {
            return skip(fmt::format("stale ({}) but cannot remove it: {} (remove it as its owner or root: rm {})",
                                    reason, std::strerror(errno), path.string()));
        }
        out.cleaned.push_back({object, std::move(reason)});
    };
    const bool name_pid_gone = process_gone(*name_pid);
    const auto gone_reason = [&](std::string what) {
        return name_pid_gone ? fmt::format("{}; process {} is gone", what, *name_pid) : what;
    };

    const auto size = static_cast<std::size_t>(st.st_size);
    if (size < sizeof(SegmentHeader)) {
        return clean_or_skip(gone_reason(fmt::format("truncated: {} bytes, smaller than the {}-byte header (a stack "
                                                     "still starting, or not a kbnet segment)",
                                                     size, sizeof(SegmentHeader))),
                             name_pid_gone);
    }
    const Mapping map(fd, size);
    if (map.bytes() == nullptr) return skip(fmt::format("cannot map: {}", std::strerror(errno)));

    const auto& live_header = map.at<SegmentHeader>(0);
    const std::uint64_t magic =
        std::atomic_ref<std::uint64_t>(const_cast<std::uint64_t&>(live_header.magic)).load(std::memory_order_acquire);
    if (magic == 0) {
        return clean_or_skip(gone_reason("not initialised yet (a stack still starting)"), name_pid_gone);
    }
    if (magic != kStatsMagic) {
        return clean_or_skip(gone_reason(fmt::format("bad magic {:#018x}: not a kbnet statistics segment", magic)),
                             name_pid_gone);
    }
    SegmentHeader h{};
    if (!load_consistent(h, live_header, live_header.identity_seq)) {
        return skip("header kept changing while being read; try again");
    }
    if (h.layout_version != kStatsLayoutVersion) {
        return clean_or_skip(gone_reason(fmt::format("layout version {}, this kbnet reads version {}: use the kbnet "
                                                     "command built with the stack's library",
                                                     h.layout_version, kStatsLayoutVersion)),
                             name_pid_gone);
    }
    if (h.header_size != sizeof(SegmentHeader) || h.counters_size != sizeof(StackCounters) ||
        h.socket_entry_size != sizeof(SocketEntry) || h.counters_offset != offsetof(SegmentLayout, counters) ||
        h.sockets_offset != offsetof(SegmentLayout, sockets) || h.socket_capacity != kStatsSocketCapacity) {
        return clean_or_skip(
            gone_reason(fmt::format("layout version {} but different sizes (counters {} bytes, this kbnet {}): built "
                                    "from other sources; use the kbnet command built with the stack's library",
                                    h.layout_version, h.counters_size, sizeof(StackCounters))),
            name_pid_gone);
    }
    if (h.total_size != sizeof(SegmentLayout) || size < h.total_size) {
        return clean_or_skip(gone_reason(fmt::format("truncated: {} bytes, the layout needs {}", size, h.total_size)),
                             name_pid_gone);
    }
    if (h.pid != *name_pid) {
        return skip(fmt::format("header says pid {} but the name says {}: not written by kbnet", h.pid, *name_pid));
    }

    // The owner: gone, or alive but started at another time (the pid was
    // reused after the stack's process died).
    if (name_pid_gone) {
        return clean_or_skip(fmt::format("process {} exited without removing its segment", h.pid), true);
    }
    if (h.process_start_ticks != 0) {
        const std::optional<std::uint64_t> now_ticks = process_start_ticks(h.pid);
        if (now_ticks && *now_ticks != h.process_start_ticks) {
            return clean_or_skip(
                fmt::format("process {} exited; its pid now belongs to another process (started at tick {}, the "
                            "stack's at {})",
                            h.pid, *now_ticks, h.process_start_ticks),
                true);
        }
    }

    StackSnapshot s;
    s.object = object;
    s.name = text_of(h.name);
    s.pid = h.pid;
    s.process_start_ticks = h.process_start_ticks;
    s.started_unix_ns = h.started_unix_ns;
    s.port = text_of(h.port);
    s.mode = text_of(h.mode);
    s.addresses = text_of(h.addresses);
    s.sockets_unlisted = h.sockets_unlisted;
    s.counters = load_counters(map.at<StackCounters>(h.counters_offset));
    for (std::size_t i = 0; i < kStatsSocketCapacity; ++i) {
        const auto& live = map.at<SocketEntry>(h.sockets_offset + i * sizeof(SocketEntry));
        SocketEntry e{};
        if (!load_consistent(e, live, live.seq)) continue;  // changing right now; shown next time
        if (e.in_use != 0) s.sockets.push_back(snapshot_of(e));
    }
    out.stacks.push_back(std::move(s));
}

}  // namespace

StackList list_stacks(const ListOptions& options) {
    StackList out;
    std::error_code ec;
    std::filesystem::directory_iterator it(options.directory, ec);
    if (ec) {
        throw std::system_error(ec, fmt::format("cannot list {} for kbnet statistics segments (is it mounted and "
                                                "readable?)",
                                                options.directory));
    }
    for (const std::filesystem::directory_entry& entry : it) {
        const std::string object = entry.path().filename().string();
        if (!object.starts_with(kStatsObjectPrefix)) continue;
        scan_one(entry.path(), object, options, out);
    }
    std::sort(out.stacks.begin(), out.stacks.end(), [](const StackSnapshot& a, const StackSnapshot& b) {
        return std::tie(a.name, a.pid) < std::tie(b.name, b.pid);
    });
    return out;
}

}  // namespace kbnet::stack
