// The statistics segment: what a stack publishes is what list_stacks reads,
// live; the object goes away with the stack; objects left by dead processes
// are cleaned; anything unreadable is skipped with a reason, never crashed on.
//
// The tests use the real /dev/shm with names unique to this run (pid and a
// counter), and look only at their own objects: other stacks may be running.
#include "kbnet/stack/stats_segment.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include <fmt/format.h>

namespace kbnet::stack {
namespace {

std::string unique_name(std::string_view what) {
    static std::atomic<int> counter{0};
    return fmt::format("t{}-{}-{}", getpid(), counter.fetch_add(1), what);
}

bool shm_exists(const std::string& object) { return std::filesystem::exists("/dev/shm/" + object); }

const StackSnapshot* find_stack(const StackList& list, const std::string& object) {
    for (const StackSnapshot& s : list.stacks) {
        if (s.object == object) return &s;
    }
    return nullptr;
}

const SegmentNote* find_note(const std::vector<SegmentNote>& notes, const std::string& object) {
    for (const SegmentNote& n : notes) {
        if (n.object == object) return &n;
    }
    return nullptr;
}

StackIdentity identity(std::string name) {
    return StackIdentity{std::move(name), "pair:stats-test", "dedicated", "10.0.0.1/24"};
}

// Maps an existing object read-write to tamper with it, as a bug or another
// program might.
class Tamper {
  public:
    explicit Tamper(const std::string& object) {
        const int fd = shm_open(("/" + object).c_str(), O_RDWR, 0);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "shm_open " + object);
        struct stat st {};
        fstat(fd, &st);
        size_ = static_cast<std::size_t>(st.st_size);
        base_ = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        close(fd);
        if (base_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap " + object);
    }
    ~Tamper() { munmap(base_, size_); }
    Tamper(const Tamper&) = delete;
    Tamper& operator=(const Tamper&) = delete;
    SegmentHeader& header() { return *static_cast<SegmentHeader*>(base_); }

  private:
    void* base_ = nullptr;
    std::size_t size_ = 0;
};

// An object written by hand, removed at scope exit.
class RawObject {
  public:
    RawObject(std::string object, const void* bytes, std::size_t size) : object_(std::move(object)) {
        const int fd = shm_open(("/" + object_).c_str(), O_RDWR | O_CREAT | O_EXCL, 0644);
        if (fd < 0) throw std::system_error(errno, std::generic_category(), "shm_open " + object_);
        if (size > 0 && write(fd, bytes, size) != static_cast<ssize_t>(size)) {
            close(fd);
            throw std::runtime_error("short write");
        }
        close(fd);
    }
    ~RawObject() { shm_unlink(("/" + object_).c_str()); }
    RawObject(const RawObject&) = delete;
    RawObject& operator=(const RawObject&) = delete;
    [[nodiscard]] const std::string& object() const { return object_; }

  private:
    std::string object_;
};

// A pid that certainly belongs to no process: a reaped child's.
pid_t dead_pid() {
    const pid_t child = fork();
    if (child == 0) _exit(0);
    int status = 0;
    waitpid(child, &status, 0);
    return child;
}

TEST(StatsSegment, list_finds_a_live_stack_with_its_identity_and_counters_written_after_creation) {
    const std::string name = unique_name("live");
    StatsSegment seg(identity(name));
    EXPECT_EQ(seg.object_name(), fmt::format("kbnet-stack.{}.{}", getpid(), name));
    ASSERT_TRUE(shm_exists(seg.object_name()));

    // In place, as the stack's thread does it: no publish step.
    StackCounters& c = seg.counters();
    c.ip.in_receives += 42;
    c.udp.in_datagrams = 7;
    c.link.rx_bytes = 1ull << 40;

    const StackList list = list_stacks();
    const StackSnapshot* s = find_stack(list, seg.object_name());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->name, name);
    EXPECT_EQ(s->pid, getpid());
    EXPECT_EQ(s->port, "pair:stats-test");
    EXPECT_EQ(s->mode, "dedicated");
    EXPECT_EQ(s->addresses, "10.0.0.1/24");
    EXPECT_EQ(s->process_start_ticks, process_start_ticks(getpid()).value());
    const auto now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    EXPECT_LE(s->started_unix_ns, now_ns);
    EXPECT_GT(s->started_unix_ns, now_ns - 60'000'000'000);
    EXPECT_EQ(s->counters.ip.in_receives, 42u);
    EXPECT_EQ(s->counters.udp.in_datagrams, 7u);
    EXPECT_EQ(s->counters.link.rx_bytes, 1ull << 40);
    EXPECT_EQ(s->counters.icmp.in_msgs, 0u);
    EXPECT_TRUE(s->sockets.empty());
    EXPECT_EQ(find_note(list.cleaned, seg.object_name()), nullptr);
    EXPECT_EQ(find_note(list.skipped, seg.object_name()), nullptr);

    // A second read sees later increments: the reader copies from the live mapping.
    ++c.ip.in_receives;
    const StackList list2 = list_stacks();
    ASSERT_NE(find_stack(list2, seg.object_name()), nullptr);
    EXPECT_EQ(find_stack(list2, seg.object_name())->counters.ip.in_receives, 43u);
}

TEST(StatsSegment, destroying_the_segment_removes_the_object) {
    std::string object;
    {
        StatsSegment seg(identity(unique_name("gone")));
        object = seg.object_name();
        ASSERT_TRUE(shm_exists(object));
    }
    EXPECT_FALSE(shm_exists(object));
    EXPECT_EQ(find_stack(list_stacks(), object), nullptr);
}

TEST(StatsSegment, a_moved_segment_keeps_its_mapping_and_unlinks_once) {
    std::string object;
    {
        StatsSegment a(identity(unique_name("move")));
        object = a.object_name();
        StackCounters* counters = &a.counters();
        StatsSegment b(std::move(a));
        EXPECT_EQ(&b.counters(), counters);
        b.counters().udp.out_datagrams = 5;
        const StackList list = list_stacks();
        const StackSnapshot* s = find_stack(list, object);
        ASSERT_NE(s, nullptr);
        EXPECT_EQ(s->counters.udp.out_datagrams, 5u);
    }
    EXPECT_FALSE(shm_exists(object));
}

TEST(StatsSegment, socket_table_shows_added_updated_and_removed_sockets) {
    StatsSegment seg(identity(unique_name("sockets")));
    SocketInfo udp;
    udp.protocol = IPPROTO_UDP;
    udp.local_address = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    udp.local_port = 9000;
    const Result<SocketSlot> a = seg.add_socket(udp);
    ASSERT_TRUE(a.ok());

    SocketInfo tcp;
    tcp.protocol = IPPROTO_TCP;
    tcp.local_address = wire::Ipv4Address::from_octets(10, 0, 0, 1);
    tcp.local_port = 80;
    tcp.state = "LISTEN";
    const Result<SocketSlot> b = seg.add_socket(tcp);
    ASSERT_TRUE(b.ok());
    EXPECT_NE(a->index, b->index);
    seg.socket_counters(*a).rx_queue_depth = 3;
    seg.socket_counters(*a).rx_drops = 11;

    {
        const StackList list = list_stacks();
        const StackSnapshot* s = find_stack(list, seg.object_name());
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(s->sockets.size(), 2u);
        const SocketSnapshot& u = s->sockets[0];
        EXPECT_EQ(u.protocol, IPPROTO_UDP);
        EXPECT_EQ(u.local_address, udp.local_address);
        EXPECT_EQ(u.local_port, 9000);
        EXPECT_FALSE(u.connected());
        EXPECT_EQ(u.counters.rx_queue_depth, 3u);
        EXPECT_EQ(u.counters.rx_drops, 11u);
        EXPECT_EQ(s->sockets[1].protocol, IPPROTO_TCP);
        EXPECT_EQ(s->sockets[1].state, "LISTEN");
    }

    // connect() and a group join on the UDP socket; the counters stay.
    udp.remote_address = wire::Ipv4Address::from_octets(10, 0, 0, 2);
    udp.remote_port = 5000;
    const wire::Ipv4Address groups[] = {wire::Ipv4Address::from_octets(239, 1, 1, 1),
                                        wire::Ipv4Address::from_octets(239, 1, 1, 2)};
    udp.multicast_groups = groups;
    seg.update_socket(*a, udp);
    seg.remove_socket(*b);
    {
        const StackList list = list_stacks();
        const StackSnapshot* s = find_stack(list, seg.object_name());
        ASSERT_NE(s, nullptr);
        ASSERT_EQ(s->sockets.size(), 1u);
        const SocketSnapshot& u = s->sockets[0];
        EXPECT_TRUE(u.connected());
        EXPECT_EQ(u.remote_address, udp.remote_address);
        EXPECT_EQ(u.remote_port, 5000);
        EXPECT_EQ(u.multicast_group_count, 2);
        EXPECT_EQ(u.multicast_groups, "239.1.1.1,239.1.1.2");
        EXPECT_EQ(u.counters.rx_drops, 11u);
    }

    // A removed slot is reused, with fresh counters.
    const Result<SocketSlot> c = seg.add_socket(tcp);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->index, b->index);
    EXPECT_EQ(seg.socket_counters(*c).rx_drops, 0u);
}

TEST(StatsSegment, many_multicast_groups_are_cut_with_an_ellipsis_and_counted) {
    StatsSegment seg(identity(unique_name("groups")));
    std::vector<wire::Ipv4Address> groups;
    for (std::uint8_t i = 0; i < 20; ++i) groups.push_back(wire::Ipv4Address::from_octets(239, 255, 255, i));
    SocketInfo info;
    info.protocol = IPPROTO_UDP;
    info.local_port = 5353;
    info.multicast_groups = groups;
    ASSERT_TRUE(seg.add_socket(info).ok());
    const StackList list = list_stacks();
    const StackSnapshot* s = find_stack(list, seg.object_name());
    ASSERT_NE(s, nullptr);
    ASSERT_EQ(s->sockets.size(), 1u);
    EXPECT_EQ(s->sockets[0].multicast_group_count, 20);
    const std::string& text = s->sockets[0].multicast_groups;
    EXPECT_TRUE(text.starts_with("239.255.255.0,239.255.255.1,")) << text;
    EXPECT_TRUE(text.ends_with(",...")) << text;
    EXPECT_LT(text.size(), sizeof(SocketEntry::multicast_groups));
}

TEST(StatsSegment, a_full_socket_table_refuses_and_counts_the_unlisted_socket) {
    StatsSegment seg(identity(unique_name("full")));
    SocketInfo info;
    info.protocol = IPPROTO_UDP;
    for (std::size_t i = 0; i < kStatsSocketCapacity; ++i) {
        info.local_port = static_cast<std::uint16_t>(1000 + i);
        ASSERT_TRUE(seg.add_socket(info).ok()) << i;
    }
    const Result<SocketSlot> extra = seg.add_socket(info);
    EXPECT_FALSE(extra.ok());
    EXPECT_EQ(extra.code(), Errc::no_buffers);
    const StackList list = list_stacks();
    const StackSnapshot* s = find_stack(list, seg.object_name());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->sockets.size(), kStatsSocketCapacity);
    EXPECT_EQ(s->sockets_unlisted, 1u);
}

TEST(StatsSegment, set_addresses_is_seen_by_readers) {
    StatsSegment seg(identity(unique_name("addr")));
    seg.set_addresses("192.168.1.5/24 (learned)");
    const StackList list = list_stacks();
    const StackSnapshot* s = find_stack(list, seg.object_name());
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->addresses, "192.168.1.5/24 (learned)");
}

TEST(StatsSegment, refuses_names_that_cannot_be_part_of_an_object_name) {
    EXPECT_THROW(StatsSegment(identity("")), std::invalid_argument);
    EXPECT_THROW(StatsSegment(identity("a/b")), std::invalid_argument);
    EXPECT_THROW(StatsSegment(identity("has space")), std::invalid_argument);
    EXPECT_THROW(StatsSegment(identity(std::string(kStatsMaxName + 1, 'x'))), std::invalid_argument);
}

TEST(StatsSegment, refuses_a_second_stack_of_the_same_name_in_one_process) {
    const std::string name = unique_name("dup");
    StatsSegment first(identity(name));
    try {
        StatsSegment second(identity(name));
        FAIL() << "a second segment with the same name was created";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("already exists in this process"), std::string::npos) << e.what();
    }
    // The first one is untouched.
    EXPECT_TRUE(shm_exists(first.object_name()));
    EXPECT_NE(find_stack(list_stacks(), first.object_name()), nullptr);
}

TEST(StatsSegment, replaces_an_object_left_by_an_earlier_process_with_the_same_pid) {
    const std::string name = unique_name("reused");
    const std::string object = fmt::format("kbnet-stack.{}.{}", getpid(), name);
    SegmentHeader old{};
    old.magic = kStatsMagic;
    old.layout_version = kStatsLayoutVersion;
    old.pid = getpid();
    old.process_start_ticks = process_start_ticks(getpid()).value() + 12345;  // not us
    RawObject raw(object, &old, sizeof old);
    StatsSegment seg(identity(name));
    seg.counters().igmp.in_msgs = 1;
    const StackList list = list_stacks();
    const StackSnapshot* s = find_stack(list, object);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->counters.igmp.in_msgs, 1u);
}

// ---- cleaning and skipping ---------------------------------------------------

TEST(StatsList, cleans_the_segment_of_a_process_that_died_without_removing_it) {
    const std::string name = unique_name("dead");
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // _exit skips the destructor: the object stays, as after kill -9.
        try {
            auto* seg = new StatsSegment(identity(name));
            seg->counters().ip.in_receives = 1;
            const char ok = 1;
            (void)!write(pipe_fds[1], &ok, 1);
        } catch (...) {
        }
        _exit(0);
    }
    close(pipe_fds[1]);
    char ok = 0;
    const bool created = read(pipe_fds[0], &ok, 1) == 1;
    close(pipe_fds[0]);
    int status = 0;
    waitpid(child, &status, 0);
    ASSERT_TRUE(created) << "the child could not create its segment";
    const std::string object = fmt::format("kbnet-stack.{}.{}", child, name);
    ASSERT_TRUE(shm_exists(object));

    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, object), nullptr);
    const SegmentNote* note = find_note(list.cleaned, object);
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("exited"), std::string::npos) << note->reason;
    EXPECT_FALSE(shm_exists(object));
}

TEST(StatsList, without_cleaning_a_dead_segment_is_reported_stale_and_left_in_place) {
    // In a directory of its own: a test running beside this one that lists
    // /dev/shm with cleaning on would otherwise remove the object first.
    char dir_template[] = "/tmp/kbnet-stats-test-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    ASSERT_NE(dir, nullptr);
    const pid_t pid = dead_pid();
    const std::string object = fmt::format("kbnet-stack.{}.{}", pid, unique_name("stale"));
    const std::string path = std::string(dir) + "/" + object;
    {
        SegmentHeader h{};  // all zeros: never initialised
        std::FILE* f = std::fopen(path.c_str(), "wb");
        ASSERT_NE(f, nullptr);
        ASSERT_EQ(std::fwrite(&h, sizeof h, 1, f), 1u);
        std::fclose(f);
    }
    ListOptions options;
    options.directory = dir;
    options.clean = false;
    const StackList list = list_stacks(options);
    const SegmentNote* note = find_note(list.skipped, object);
    ASSERT_NE(note, nullptr);
    EXPECT_TRUE(note->reason.starts_with("stale")) << note->reason;
    EXPECT_EQ(access(path.c_str(), F_OK), 0) << "left in place";
    EXPECT_EQ(find_note(list.cleaned, object), nullptr);
    std::remove(path.c_str());
    rmdir(dir);
}

TEST(StatsList, cleans_a_segment_whose_pid_now_belongs_to_another_process) {
    StatsSegment seg(identity(unique_name("pidreuse")));
    {
        Tamper t(seg.object_name());
        t.header().process_start_ticks += 1000;  // as if written by an earlier process with our pid
    }
    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, seg.object_name()), nullptr);
    const SegmentNote* note = find_note(list.cleaned, seg.object_name());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("belongs to another process"), std::string::npos) << note->reason;
    EXPECT_FALSE(shm_exists(seg.object_name()));
}

TEST(StatsList, skips_a_live_segment_with_a_bad_magic_and_says_why) {
    std::vector<std::uint8_t> junk(4096, 0x5a);
    RawObject raw(fmt::format("kbnet-stack.{}.{}", getpid(), unique_name("magic")), junk.data(), junk.size());
    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, raw.object()), nullptr);
    const SegmentNote* note = find_note(list.skipped, raw.object());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("bad magic"), std::string::npos) << note->reason;
    EXPECT_TRUE(shm_exists(raw.object())) << "a live process's object must not be removed";
}

TEST(StatsList, skips_a_segment_of_another_layout_version_and_names_the_versions) {
    StatsSegment seg(identity(unique_name("version")));
    {
        Tamper t(seg.object_name());
        t.header().layout_version = kStatsLayoutVersion + 1;
    }
    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, seg.object_name()), nullptr);
    const SegmentNote* note = find_note(list.skipped, seg.object_name());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find(fmt::format("layout version {}", kStatsLayoutVersion + 1)), std::string::npos)
        << note->reason;
    EXPECT_TRUE(shm_exists(seg.object_name()));
}

TEST(StatsList, skips_a_segment_whose_counters_have_another_size) {
    StatsSegment seg(identity(unique_name("size")));
    {
        Tamper t(seg.object_name());
        t.header().counters_size = sizeof(StackCounters) - 8;
    }
    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, seg.object_name()), nullptr);
    const SegmentNote* note = find_note(list.skipped, seg.object_name());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("different sizes"), std::string::npos) << note->reason;
}

TEST(StatsList, skips_an_object_smaller_than_the_header) {
    const std::uint8_t few[10] = {};
    RawObject raw(fmt::format("kbnet-stack.{}.{}", getpid(), unique_name("short")), few, sizeof few);
    RawObject empty(fmt::format("kbnet-stack.{}.{}", getpid(), unique_name("empty")), nullptr, 0);
    const StackList list = list_stacks();
    for (const RawObject* r : {&raw, &empty}) {
        const SegmentNote* note = find_note(list.skipped, r->object());
        ASSERT_NE(note, nullptr) << r->object();
        EXPECT_NE(note->reason.find("truncated"), std::string::npos) << note->reason;
        EXPECT_TRUE(shm_exists(r->object()));
    }
}

TEST(StatsList, skips_an_object_cut_short_after_its_header) {
    StatsSegment seg(identity(unique_name("cut")));
    ASSERT_EQ(truncate(seg.path().c_str(), static_cast<off_t>(sizeof(SegmentHeader) + 8)), 0);
    const StackList list = list_stacks();
    EXPECT_EQ(find_stack(list, seg.object_name()), nullptr);
    const SegmentNote* note = find_note(list.skipped, seg.object_name());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("truncated"), std::string::npos) << note->reason;
}

TEST(StatsList, skips_names_without_a_pid) {
    RawObject raw("kbnet-stack." + unique_name("nopid"), nullptr, 0);
    const StackList list = list_stacks();
    const SegmentNote* note = find_note(list.skipped, raw.object());
    ASSERT_NE(note, nullptr);
    EXPECT_NE(note->reason.find("kbnet-stack.<pid>.<name>"), std::string::npos) << note->reason;
}

TEST(StatsList, reports_an_unreadable_directory_as_an_error) {
    ListOptions options;
    options.directory = "/nonexistent/kbnet-stats-test";
    EXPECT_THROW((void)list_stacks(options), std::system_error);
}

TEST(StatsList, reads_segments_from_another_directory_when_told) {
    // Objects are files; list_stacks can scan a copy (a tmpfs of a container).
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / fmt::format("kbnet-stats-test-{}", getpid());
    std::filesystem::create_directories(dir);
    StatsSegment seg(identity(unique_name("copy")));
    seg.counters().arp.in_replies = 9;
    std::filesystem::copy_file(seg.path(), dir / seg.object_name());
    ListOptions options;
    options.directory = dir.string();
    const StackList list = list_stacks(options);
    std::filesystem::remove_all(dir);
    ASSERT_EQ(list.stacks.size(), 1u);
    EXPECT_EQ(list.stacks[0].counters.arp.in_replies, 9u);
}

TEST(ProcessStartTicks, is_known_for_this_process_and_unknown_for_a_dead_one) {
    const std::optional<std::uint64_t> mine = process_start_ticks(getpid());
    ASSERT_TRUE(mine.has_value());
    EXPECT_EQ(process_start_ticks(getpid()), mine);
    EXPECT_FALSE(process_start_ticks(dead_pid()).has_value());
}

}  // namespace
}  // namespace kbnet::stack
