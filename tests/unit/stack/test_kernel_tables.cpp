// KernelTables against the real kernel: every test runs in a child process
// inside a private network namespace (unshare(CLONE_NEWNET), root only), so
// it builds interfaces, addresses, routes and neighbours with `ip` without
// touching the host's. The child reports each failed check through a pipe
// and its exit status; the parent turns them into gtest failures.
#include "kbnet/stack/kernel_tables.hpp"

#include <gtest/gtest.h>
#include <linux/capability.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

namespace kbnet::stack {
namespace {

using wire::Ipv4Address;
using wire::MacAddress;

constexpr int kSkipStatus = 77;
constexpr std::uint64_t kSec = 1'000'000'000;

Ipv4Address ip(const char* text) { return *Ipv4Address::parse(text); }
MacAddress mac(const char* text) { return *MacAddress::parse(text); }

// What a check in the child process reports to the parent.
class Reporter {
  public:
    explicit Reporter(int fd) : fd_(fd) {}
    void fail(int line, const std::string& what) {
        failed_ = true;
        const std::string text = "line " + std::to_string(line) + ": " + what + "\n";
        (void)!::write(fd_, text.data(), text.size());
    }
    void note(const std::string& text) { (void)!::write(fd_, text.data(), text.size()); }
    [[nodiscard]] bool failed() const { return failed_; }

  private:
    int fd_;
    bool failed_ = false;
};

#define NS_CHECK(cond)                                           \
    do {                                                         \
        if (!(cond)) rep.fail(__LINE__, "check failed: " #cond); \
    } while (0)
#define NS_REQUIRE(cond)                                      \
    do {                                                      \
        if (!(cond)) {                                        \
            rep.fail(__LINE__, "requirement failed: " #cond); \
            return;                                           \
        }                                                     \
    } while (0)

// `ip ARGS` in the child's namespace; false (and a report) if it failed.
bool sh(Reporter& rep, const std::string& command) {
    const std::string full = command + " >/dev/null 2>&1";
    if (std::system(full.c_str()) == 0) return true;
    rep.fail(0, "command failed: " + command);
    return false;
}

// Runs body in a child in a fresh network namespace; skips without root or
// namespaces, fails with every message the child reported.
void in_private_netns(const std::function<void(Reporter&)>& body) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: creates a private network namespace (unshare CLONE_NEWNET)";
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        Reporter rep(fds[1]);
        if (::unshare(CLONE_NEWNET) != 0) {
            rep.note(std::string("unshare(CLONE_NEWNET) failed: ") + std::strerror(errno));
            ::_exit(kSkipStatus);
        }
        try {
            // No IPv6: its neighbour discovery would add unrelated noise.
            (void)!std::system("sysctl -qw net.ipv6.conf.all.disable_ipv6=1 >/dev/null 2>&1");
            (void)!std::system("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1");
            if (sh(rep, "ip link set lo up")) body(rep);
        } catch (const std::exception& e) {
            rep.fail(0, std::string("exception: ") + e.what());
        }
        ::_exit(rep.failed() ? 1 : 0);
    }
    ::close(fds[1]);
    std::string output;
    std::array<char, 512> chunk{};
    for (;;) {
        const ssize_t n = ::read(fds[0], chunk.data(), chunk.size());
        if (n <= 0) break;
        output.append(chunk.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status)) << "child died: " << output;
    if (WEXITSTATUS(status) == kSkipStatus) GTEST_SKIP() << output;
    EXPECT_EQ(WEXITSTATUS(status), 0) << output;
    EXPECT_TRUE(output.empty()) << output;
}

// va (10.20.0.1/24, 02:00:00:00:00:0a) <-> vb (no address), both up.
bool make_veth(Reporter& rep) {
    return sh(rep, "ip link add va address 02:00:00:00:00:0a type veth peer name vb address 02:00:00:00:00:0b") &&
           sh(rep, "ip addr add 10.20.0.1/24 dev va") && sh(rep, "ip link set va up") && sh(rep, "ip link set vb up");
}

// Runs `ip -batch` over the lines given.
bool ip_batch(Reporter& rep, const std::string& lines) {
    FILE* f = ::popen("ip -batch - >/dev/null 2>&1", "w");
    if (f == nullptr) {
        rep.fail(0, "popen(ip -batch) failed");
        return false;
    }
    std::fputs(lines.c_str(), f);
    if (::pclose(f) == 0) return true;
    rep.fail(0, "ip -batch failed");
    return false;
}

// The i-th (from 0) of the many neighbours below: 10.21.x.y, y never 0.
Ipv4Address many_neighbour(std::uint32_t i) {
    return Ipv4Address{ip("10.21.0.0").value + (i / 250) * 256 + i % 250 + 1};
}

// `count` permanent neighbours on va, 10.21.0.1 on, MAC 02:00:00:01:xx:yy.
bool add_many_neighbours(Reporter& rep, std::uint32_t count) {
    std::string batch;
    for (std::uint32_t i = 0; i < count; ++i) {
        char line[128];
        std::snprintf(line, sizeof line, "neigh replace %s lladdr 02:00:00:01:%02x:%02x dev va nud permanent\n",
                      many_neighbour(i).to_string().c_str(), (i >> 8) & 0xff, i & 0xff);
        batch += line;
    }
    return ip_batch(rep, batch);
}

// `count` more veth pairs, xa<i> <-> xb<i>, left down: with their ~1-2 KiB
// link messages, the link dump takes several 32 KiB parts.
bool add_links(Reporter& rep, int count) {
    std::string batch;
    for (int i = 0; i < count; ++i)
        batch += "link add xa" + std::to_string(i) + " type veth peer name xb" + std::to_string(i) + "\n";
    return ip_batch(rep, batch);
}

// Polls until no resync is queued or in flight (each poll does a bounded
// part of one); false if that takes more than `limit` polls.
bool poll_until_synced(KernelTables& tables, int limit = 100) {
    for (int i = 0; i < limit; ++i) {
        tables.poll();
        if (!tables.resync_pending()) return true;
    }
    return false;
}

TEST(KernelTables, RejectsAnUnknownInterfaceWithAMessageNamingIt) {
    try {
        KernelTables tables("kbnet-no-such0");
        FAIL() << "constructed for a missing interface";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("kbnet-no-such0"), std::string::npos) << e.what();
    }
}

TEST(KernelTables, RejectsZeroCapacities) {
    KernelTablesConfig config;
    config.max_routes = 0;
    EXPECT_THROW(KernelTables(1, config), std::invalid_argument);
}

TEST(KernelTables, DumpsTheInterfaceAddressRoutesAndStaticNeighbours) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(sh(rep, "ip route add 10.30.0.0/16 via 10.20.0.254 dev va"));
        NS_REQUIRE(sh(rep, "ip neigh replace 10.20.0.254 lladdr 02:00:00:00:00:fe dev va nud permanent"));
        NS_REQUIRE(sh(rep, "ip neigh replace 10.20.0.7 lladdr 02:00:00:00:00:07 dev va nud reachable"));

        KernelTables tables("va");
        NS_CHECK(tables.ifindex() == static_cast<int>(::if_nametoindex("va")));
        const auto address = tables.interface_address();
        NS_REQUIRE(address.has_value());
        NS_CHECK(address->address == ip("10.20.0.1"));
        NS_CHECK(address->prefix_len == 24);
        NS_CHECK(tables.is_local_address(ip("10.20.0.1")));
        NS_CHECK(!tables.is_local_address(ip("10.20.0.2")));

        // On-link: the destination is its own next hop.
        const auto on_link = tables.route(ip("10.20.0.7"));
        NS_REQUIRE(on_link.has_value());
        NS_CHECK(on_link->next_hop == ip("10.20.0.7"));
        NS_CHECK(on_link->prefix_len == 24);
        NS_CHECK(!on_link->via_gateway);
        NS_CHECK(on_link->source == ip("10.20.0.1"));  // the connected route's prefsrc

        const auto via = tables.route(ip("10.30.4.5"));
        NS_REQUIRE(via.has_value());
        NS_CHECK(via->next_hop == ip("10.20.0.254"));
        NS_CHECK(via->prefix_len == 16);
        NS_CHECK(via->via_gateway);

        NS_CHECK(!tables.route(ip("192.0.2.1")).has_value());  // no default route

        const auto gw = tables.neighbour(ip("10.20.0.254"));
        NS_REQUIRE(gw.has_value());
        NS_CHECK(gw->mac == mac("02:00:00:00:00:fe"));
        NS_CHECK(gw->state == KernelNeighbourState::permanent);
        NS_CHECK(gw->resolved());
        const auto host = tables.neighbour(ip("10.20.0.7"));
        NS_REQUIRE(host.has_value());
        NS_CHECK(host->state == KernelNeighbourState::reachable);
        NS_CHECK(host->mac == mac("02:00:00:00:00:07"));
        NS_CHECK(!tables.neighbour(ip("10.20.0.8")).has_value());
    });
}

TEST(KernelTables, IgnoresNeighboursAndAddressesOfOtherInterfaces) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(sh(rep, "ip addr add 10.40.0.1/24 dev vb"));
        NS_REQUIRE(sh(rep, "ip neigh replace 10.40.0.9 lladdr 02:00:00:00:00:09 dev vb nud permanent"));
        KernelTables tables("va");
        NS_CHECK(!tables.neighbour(ip("10.40.0.9")).has_value());
        NS_CHECK(!tables.is_local_address(ip("10.40.0.1")));
        NS_REQUIRE(sh(rep, "ip neigh replace 10.40.0.10 lladdr 02:00:00:00:00:10 dev vb nud permanent"));
        tables.poll();
        NS_CHECK(!tables.neighbour(ip("10.40.0.10")).has_value());
        // The best route to vb's subnet leaves by vb: not ours to use.
        NS_CHECK(!tables.route(ip("10.40.0.9")).has_value());
    });
}

TEST(KernelTables, PollFollowsNeighbourChanges) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        KernelTables tables("va");
        const std::uint64_t g0 = tables.generation();
        tables.poll();  // drain whatever setup left

        NS_REQUIRE(sh(rep, "ip neigh replace 10.20.0.5 lladdr 02:00:00:00:00:05 dev va nud permanent"));
        NS_CHECK(tables.poll() > 0);
        auto n = tables.neighbour(ip("10.20.0.5"));
        NS_REQUIRE(n.has_value());
        NS_CHECK(n->mac == mac("02:00:00:00:00:05"));
        NS_CHECK(n->state == KernelNeighbourState::permanent);
        const std::uint64_t g1 = tables.generation();
        NS_CHECK(g1 > g0);

        NS_REQUIRE(sh(rep, "ip neigh change 10.20.0.5 lladdr 02:00:00:00:00:55 dev va nud stale"));
        tables.poll();
        n = tables.neighbour(ip("10.20.0.5"));
        NS_REQUIRE(n.has_value());
        NS_CHECK(n->mac == mac("02:00:00:00:00:55"));
        NS_CHECK(n->state == KernelNeighbourState::stale);
        NS_CHECK(n->resolved());  // stale is still usable
        NS_CHECK(tables.generation() > g1);

        NS_REQUIRE(sh(rep, "ip neigh del 10.20.0.5 dev va"));
        tables.poll();
        NS_CHECK(!tables.neighbour(ip("10.20.0.5")).has_value());

        // Nothing changed: the generation stays (cached next hops stay valid).
        const std::uint64_t g2 = tables.generation();
        tables.poll();
        NS_CHECK(tables.generation() == g2);
    });
}

TEST(KernelTables, PollFollowsRouteChangesWithLongestPrefixAndLowestMetric) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(sh(rep, "ip addr add 10.50.0.1/24 dev vb"));
        KernelTables tables("va");
        NS_CHECK(!tables.route(ip("198.51.100.1")).has_value());

        NS_REQUIRE(sh(rep, "ip route add default via 10.20.0.254 dev va"));
        tables.poll();
        auto r = tables.route(ip("198.51.100.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.254"));
        NS_CHECK(r->prefix_len == 0);

        // A longer prefix wins over the default route.
        NS_REQUIRE(sh(rep, "ip route add 198.51.100.0/24 via 10.20.0.253 dev va"));
        tables.poll();
        r = tables.route(ip("198.51.100.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.253"));
        NS_CHECK(r->prefix_len == 24);
        r = tables.route(ip("198.51.101.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.254"));

        // Equal prefix: the lower metric wins, whichever came first.
        NS_REQUIRE(sh(rep, "ip route add 203.0.113.0/24 via 10.20.0.251 dev va metric 200"));
        NS_REQUIRE(sh(rep, "ip route add 203.0.113.0/24 via 10.20.0.252 dev va metric 100"));
        tables.poll();
        r = tables.route(ip("203.0.113.9"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.252"));
        NS_REQUIRE(sh(rep, "ip route del 203.0.113.0/24 metric 100"));
        tables.poll();
        r = tables.route(ip("203.0.113.9"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.251"));

        // Replacing a route moves its next hop.
        NS_REQUIRE(sh(rep, "ip route replace 198.51.100.0/24 via 10.20.0.250 dev va"));
        tables.poll();
        r = tables.route(ip("198.51.100.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.250"));

        // The best route leaving by another interface, or a blackhole, is no route.
        NS_REQUIRE(sh(rep, "ip route add 198.51.100.128/25 via 10.50.0.2 dev vb"));
        NS_REQUIRE(sh(rep, "ip route add blackhole 198.51.100.64/26"));
        tables.poll();
        NS_CHECK(!tables.route(ip("198.51.100.200")).has_value());
        NS_CHECK(!tables.route(ip("198.51.100.70")).has_value());
        NS_CHECK(tables.route(ip("198.51.100.1")).has_value());

        // Deleting restores the shorter match.
        NS_REQUIRE(sh(rep, "ip route del 198.51.100.0/24"));
        NS_REQUIRE(sh(rep, "ip route del blackhole 198.51.100.64/26"));
        tables.poll();
        r = tables.route(ip("198.51.100.70"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.254"));
        NS_CHECK(r->prefix_len == 0);

        // Routes in another table are not the main table's.
        NS_REQUIRE(sh(rep, "ip route add 192.0.2.0/24 via 10.20.0.249 dev va table 100"));
        tables.poll();
        r = tables.route(ip("192.0.2.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.254"));  // still the default route
    });
}

TEST(KernelTables, PollFollowsAddressChanges) {
    in_private_netns([](Reporter& rep) {
        // A veth end (this kernel may lack the dummy driver).
        NS_REQUIRE(sh(rep, "ip link add d0 type veth peer name d1"));
        NS_REQUIRE(sh(rep, "ip link set d0 up"));
        NS_REQUIRE(sh(rep, "ip link set d1 up"));
        KernelTables tables("d0");
        NS_CHECK(!tables.interface_address().has_value());
        NS_CHECK(!tables.route(ip("10.60.0.9")).has_value());

        NS_REQUIRE(sh(rep, "ip addr add 10.60.0.1/24 dev d0"));
        tables.poll();
        auto a = tables.interface_address();
        NS_REQUIRE(a.has_value());
        NS_CHECK(a->address == ip("10.60.0.1"));
        NS_CHECK(a->prefix_len == 24);
        NS_CHECK(!a->secondary);
        // The connected route came with it.
        auto r = tables.route(ip("10.60.0.9"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.60.0.9"));

        // A second address in the same subnet is secondary; the first stays primary.
        NS_REQUIRE(sh(rep, "ip addr add 10.60.0.2/24 dev d0"));
        NS_REQUIRE(sh(rep, "ip addr add 10.61.0.1/16 dev d0"));
        tables.poll();
        NS_CHECK(tables.interface_addresses().size() == 3);
        a = tables.interface_address();
        NS_REQUIRE(a.has_value());
        NS_CHECK(a->address == ip("10.60.0.1"));
        NS_CHECK(tables.is_local_address(ip("10.60.0.2")));
        NS_CHECK(tables.is_local_address(ip("10.61.0.1")));

        // A route whose preferred source is the primary: the kernel flushes
        // it with the address (fib_sync_down_addr; older kernels silently).
        NS_REQUIRE(sh(rep, "ip route add 10.70.0.0/16 via 10.60.0.254 dev d0 src 10.60.0.1"));
        tables.poll();
        NS_REQUIRE(tables.route(ip("10.70.1.1")).has_value());

        // Removing the primary (and its subnet's routes) leaves 10.61.0.1/16.
        // The kernel deletes the secondary with it (promote_secondaries is off).
        // The address change re-reads the routes, over the next few polls.
        NS_REQUIRE(sh(rep, "ip addr del 10.60.0.1/24 dev d0"));
        NS_REQUIRE(poll_until_synced(tables));
        a = tables.interface_address();
        NS_REQUIRE(a.has_value());
        NS_CHECK(a->address == ip("10.61.0.1"));
        NS_CHECK(a->prefix_len == 16);
        NS_CHECK(!tables.is_local_address(ip("10.60.0.1")));
        NS_CHECK(!tables.route(ip("10.60.0.9")).has_value());
        NS_CHECK(!tables.route(ip("10.70.1.1")).has_value());
    });
}

TEST(KernelTables, LinkDownAndUpRereadTheRoutes) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(sh(rep, "ip route add default via 10.20.0.254 dev va"));
        KernelTables tables("va");
        NS_REQUIRE(tables.route(ip("198.51.100.1")).has_value());
        // Each link change re-reads routes and neighbours over the next polls.
        NS_REQUIRE(sh(rep, "ip link set va down"));
        NS_REQUIRE(poll_until_synced(tables));
        NS_CHECK(!tables.route(ip("198.51.100.1")).has_value());
        NS_CHECK(!tables.route(ip("10.20.0.9")).has_value());
        NS_REQUIRE(sh(rep, "ip link set va up"));
        NS_REQUIRE(poll_until_synced(tables));
        // The kernel restores the connected route, not the gateway route.
        NS_CHECK(tables.route(ip("10.20.0.9")).has_value());
        NS_CHECK(!tables.route(ip("198.51.100.1")).has_value());
    });
}

TEST(KernelTables, RedumpsAfterNotificationsAreLost) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        KernelTablesConfig config;
        config.notify_buffer_bytes = 1;  // the kernel's minimum: a few messages
        KernelTables tables("va", config);
        const std::uint64_t g0 = tables.generation();
        // One `ip -batch` run: hundreds of notifications while nobody reads.
        std::string batch;
        for (int i = 1; i <= 200; ++i)
            batch += "neigh replace 10.20.1." + std::to_string(i) +
                     " lladdr 02:00:00:00:01:" + std::to_string(10 + i % 89) + " dev va nud permanent\n";
        NS_REQUIRE(ip_batch(rep, batch));
        tables.poll();
        NS_CHECK(tables.counters().lost_notifications > 0);
        NS_REQUIRE(poll_until_synced(tables));
        int found = 0;
        for (std::uint32_t i = 1; i <= 200; ++i)
            if (tables.neighbour(Ipv4Address{ip("10.20.1.0").value + i}).has_value()) ++found;
        NS_CHECK(found == 200);
        NS_CHECK(tables.generation() > g0);
    });
}

TEST(KernelTables, ResyncIsSpreadOverPollsWhileTheTablesStayComplete) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        constexpr std::uint32_t kCount = 1500;  // ~76 bytes each: at least four 32 KiB dump parts
        NS_REQUIRE(add_many_neighbours(rep, kCount));
        NS_REQUIRE(sh(rep, "ip route add 10.30.0.0/16 via 10.20.0.254 dev va"));
        KernelTablesConfig config;
        config.dump_reads_per_poll = 1;  // one recv per poll: every step of the resync is a poll
        KernelTables tables("va", config);
        NS_REQUIRE(poll_until_synced(tables));  // whatever the setup left
        const KernelTablesCounters before = tables.counters();
        const std::uint64_t generation = tables.generation();

        tables.request_resync();
        NS_CHECK(tables.resync_pending());
        int polls = 0;
        auto slowest = std::chrono::steady_clock::duration::zero();
        while (tables.resync_pending() && polls < 100) {
            const auto start = std::chrono::steady_clock::now();
            tables.poll();
            slowest = std::max(slowest, std::chrono::steady_clock::now() - start);
            ++polls;
            // Between any two polls, in flight or not, lookups answer from a
            // complete table: the one being rebuilt is not visible yet.
            std::uint32_t found = 0;
            for (std::uint32_t i = 0; i < kCount; ++i) {
                const auto n = tables.neighbour(many_neighbour(i));
                if (n && n->state == KernelNeighbourState::permanent) ++found;
            }
            if (found != kCount)
                rep.fail(__LINE__, "poll " + std::to_string(polls) + ": " + std::to_string(found) + " of " +
                                       std::to_string(kCount) + " neighbours visible");
            NS_CHECK(tables.route(ip("10.30.1.1")).has_value());
            NS_CHECK(tables.interface_address().has_value());
        }
        NS_CHECK(!tables.resync_pending());
        // One read per poll: the link and address dumps take a poll each at
        // least; the route and neighbour dumps are read whole, each in a
        // poll of its own. So the first poll (and more) returned with the
        // resync still in flight.
        if (polls < 4) rep.fail(__LINE__, "the resync took only " + std::to_string(polls) + " polls");
        NS_CHECK(tables.counters().resyncs == before.resyncs + 4);
        NS_CHECK(tables.counters().errors == before.errors);
        // Every table was replaced by an identical one: cached next hops
        // stay valid.
        NS_CHECK(tables.generation() == generation);
        // Loose: a poll does one recv of at most 32 KiB and some parsing
        // (the blocking version could wait a second in recv).
        NS_CHECK(slowest < std::chrono::milliseconds(250));
    });
}

TEST(KernelTables, ResyncKeepsChangesMadeWhileItIsInFlightAndMatchesTheKernel) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(add_links(rep, 20));  // a link dump of several parts
        constexpr std::uint32_t kCount = 1500;
        NS_REQUIRE(add_many_neighbours(rep, kCount));
        KernelTablesConfig config;
        config.dump_reads_per_poll = 1;
        KernelTables tables("va", config);
        NS_REQUIRE(poll_until_synced(tables));

        // After every poll of the resync: delete a neighbour, change one's
        // MAC, add one, add a route, and change va's MTU. The neighbour and
        // route changes land before or after their table's dump (each is
        // read whole in one poll), and are applied to the new table after
        // the swap; the first MTU change lands while the link dump is in
        // flight, and only the replayed notification brings it to the new
        // copy.
        tables.request_resync();
        std::uint32_t changes = 0;
        while (tables.resync_pending() && changes < 100) {
            tables.poll();
            const std::string k = std::to_string(changes + 1);
            NS_REQUIRE(sh(rep, "ip neigh del " + many_neighbour(changes).to_string() + " dev va"));
            NS_REQUIRE(sh(rep, "ip neigh change " + many_neighbour(kCount - 1 - changes).to_string() +
                                   " lladdr 02:00:00:00:ff:ff dev va nud permanent"));
            NS_REQUIRE(sh(rep, "ip neigh replace 10.22.0." + k + " lladdr 02:00:00:00:22:01 dev va nud permanent"));
            NS_REQUIRE(sh(rep, "ip route add 10.40." + k + ".0/24 via 10.20.0.254 dev va"));
            NS_REQUIRE(sh(rep, "ip link set va mtu " + std::to_string(1400 + changes)));
            ++changes;
        }
        NS_REQUIRE(poll_until_synced(tables));  // and the notifications of the last changes
        NS_CHECK(changes >= 4);
        NS_CHECK(tables.counters().replayed > 0);
        NS_CHECK(tables.counters().errors == 0);

        // The mirror equals a fresh dump, and says what the changes said.
        const KernelTables fresh("va");
        auto same = [&](Ipv4Address a) {
            const auto x = tables.neighbour(a);
            const auto y = fresh.neighbour(a);
            return x.has_value() == y.has_value() && (!x || (x->mac == y->mac && x->state == y->state));
        };
        std::uint32_t differ = 0;
        for (std::uint32_t i = 0; i < kCount; ++i) differ += same(many_neighbour(i)) ? 0u : 1u;
        for (std::uint32_t i = 1; i <= changes; ++i) differ += same(Ipv4Address{ip("10.22.0.0").value + i}) ? 0u : 1u;
        NS_CHECK(differ == 0);
        for (std::uint32_t i = 0; i < changes; ++i) {
            NS_CHECK(!tables.neighbour(many_neighbour(i)).has_value());
            const auto changed = tables.neighbour(many_neighbour(kCount - 1 - i));
            NS_CHECK(changed && changed->mac == mac("02:00:00:00:ff:ff"));
            NS_CHECK(tables.neighbour(Ipv4Address{ip("10.22.0.0").value + i + 1}).has_value());
            const auto r = tables.route(Ipv4Address{ip("10.40.0.9").value + (i + 1) * 256});
            NS_CHECK(r && r->next_hop == ip("10.20.0.254"));
        }
        NS_CHECK(tables.neighbour(many_neighbour(changes)).has_value());  // the first one left alone
    });
}

TEST(KernelTables, NeighbourDumpIsReadWholeInOnePollWhateverTheReadBudget) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        constexpr std::uint32_t kCount = 1500;  // at least four 32 KiB dump parts
        NS_REQUIRE(add_many_neighbours(rep, kCount));
        KernelTablesConfig config;
        config.dump_reads_per_poll = 1;
        KernelTables tables("va", config);
        NS_REQUIRE(poll_until_synced(tables));
        const KernelTablesCounters before = tables.counters();
        const std::uint64_t generation = tables.generation();

        // Link, addresses, routes: the route dump ends its poll, so the
        // neighbour dump starts in a poll of its own.
        tables.request_resync();
        for (int i = 0; i < 100 && tables.counters().resyncs < before.resyncs + 3; ++i) tables.poll();
        NS_REQUIRE(tables.counters().resyncs == before.resyncs + 3);
        NS_REQUIRE(tables.resync_pending());  // the neighbours

        // One poll, one read allowed: the whole neighbour dump all the same
        // (a dump spread over polls lets the kernel skip entries unflagged).
        tables.poll();
        NS_CHECK(!tables.resync_pending());
        NS_CHECK(tables.counters().resyncs == before.resyncs + 4);
        NS_CHECK(tables.counters().dumps_restarted == before.dumps_restarted);
        NS_CHECK(tables.counters().errors == before.errors);
        NS_CHECK(tables.generation() == generation);
        std::uint32_t found = 0;
        for (std::uint32_t i = 0; i < kCount; ++i) found += tables.neighbour(many_neighbour(i)).has_value() ? 1u : 0u;
        NS_CHECK(found == kCount);
    });
}

TEST(KernelTables, RoutesOfEqualPrefixLengthAndMetricKeepTheirOrderAcrossAResync) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        KernelTables tables("va");
        // Added after the first dump, in descending order: the notifications
        // insert them in that order, the dump returns them ascending (the
        // kernel's trie walk). Only a total order makes the two agree.
        NS_REQUIRE(sh(rep, "ip route add 10.32.0.0/16 via 10.20.0.254 dev va"));
        NS_REQUIRE(sh(rep, "ip route add 10.31.0.0/16 via 10.20.0.253 dev va"));
        NS_REQUIRE(sh(rep, "ip route add 10.30.0.0/16 via 10.20.0.252 dev va"));
        tables.poll();
        auto r = tables.route(ip("10.31.1.1"));
        NS_REQUIRE(r.has_value());
        NS_CHECK(r->next_hop == ip("10.20.0.253"));
        const std::uint64_t generation = tables.generation();

        tables.request_resync();
        NS_REQUIRE(poll_until_synced(tables));
        // Every table was replaced by an equal one: cached next hops stay.
        NS_CHECK(tables.generation() == generation);
        NS_CHECK(tables.counters().errors == 0);
        r = tables.route(ip("10.30.1.1"));
        NS_CHECK(r && r->next_hop == ip("10.20.0.252"));
        r = tables.route(ip("10.32.1.1"));
        NS_CHECK(r && r->next_hop == ip("10.20.0.254"));
    });
}

TEST(KernelTables, ChangesTheMirrorIgnoresDoNotRestartADumpInFlight) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        constexpr int kLinks = 40;
        NS_REQUIRE(add_links(rep, kLinks));
        KernelTablesConfig config;
        config.dump_reads_per_poll = 1;
        KernelTables tables("va", config);
        NS_REQUIRE(poll_until_synced(tables));
        const KernelTablesCounters before = tables.counters();

        tables.request_resync();
        tables.poll();
        NS_REQUIRE(tables.counters().resyncs == before.resyncs);  // the link dump is in flight
        // Link changes of other interfaces: well over 64 KiB of RTM_NEWLINK
        // (120 of a kilobyte or more) arriving while the link dump is in
        // flight. Kept for replay, they would overflow it and restart the
        // dump; the mirror does nothing with them, so they are not kept.
        std::string batch;
        for (int round = 0; round < 3; ++round)
            for (int i = 0; i < kLinks; ++i)
                batch += "link set xa" + std::to_string(i) + " mtu " + std::to_string(1400 + round) + "\n";
        NS_REQUIRE(ip_batch(rep, batch));
        NS_REQUIRE(poll_until_synced(tables));
        NS_CHECK(tables.counters().dumps_restarted == before.dumps_restarted);
        NS_CHECK(tables.counters().replayed == before.replayed);
        NS_CHECK(tables.counters().resyncs == before.resyncs + 4);
        NS_CHECK(tables.counters().errors == before.errors);
        NS_CHECK(tables.counters().lost_notifications == before.lost_notifications);
    });
}

TEST(KernelTables, NotificationsLostDuringADumpMakeItRestart) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(add_links(rep, 20));  // a link dump of several parts
        KernelTablesConfig config;
        config.dump_reads_per_poll = 1;
        config.notify_buffer_bytes = 1;  // the kernel's minimum: a few messages
        KernelTables tables("va", config);
        NS_REQUIRE(poll_until_synced(tables));
        const KernelTablesCounters before = tables.counters();

        tables.request_resync();
        tables.poll();
        NS_REQUIRE(tables.counters().resyncs == before.resyncs);  // the link dump is in flight
        // Hundreds of notifications while nobody reads: some are dropped
        // (ENOBUFS). The dump in flight may lack one of those changes, and
        // no replay can bring it back: it must not be swapped in.
        std::string batch;
        for (int i = 1; i <= 200; ++i)
            batch += "neigh replace 10.20.1." + std::to_string(i) +
                     " lladdr 02:00:00:00:01:" + std::to_string(10 + i % 89) + " dev va nud permanent\n";
        NS_REQUIRE(ip_batch(rep, batch));
        NS_REQUIRE(poll_until_synced(tables));
        NS_CHECK(tables.counters().lost_notifications > before.lost_notifications);
        NS_CHECK(tables.counters().dumps_restarted > before.dumps_restarted);
        int found = 0;
        for (std::uint32_t i = 1; i <= 200; ++i)
            if (tables.neighbour(Ipv4Address{ip("10.20.1.0").value + i}).has_value()) ++found;
        NS_CHECK(found == 200);
    });
}

// An AF_PACKET socket on vb sees what va sends.
class ArpCapture {
  public:
    explicit ArpCapture(const char* ifname) {
        fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
        if (fd_ < 0) throw std::runtime_error("AF_PACKET socket");
        sockaddr_ll sll{};
        sll.sll_family = AF_PACKET;
        sll.sll_protocol = htons(ETH_P_ARP);
        sll.sll_ifindex = static_cast<int>(::if_nametoindex(ifname));
        if (::bind(fd_, reinterpret_cast<const sockaddr*>(&sll), sizeof sll) != 0) throw std::runtime_error("bind");
        timeval tv{0, 100'000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~ArpCapture() { ::close(fd_); }
    ArpCapture(const ArpCapture&) = delete;
    ArpCapture& operator=(const ArpCapture&) = delete;

    // Waits up to timeout for an ARP request (RFC 826, opcode 1) whose target
    // is `target`; returns the sender's MAC and IP (bytes of the frame).
    std::optional<std::array<std::uint8_t, 42>> wait_request_for(Ipv4Address target, int timeout_ms) {
        for (int waited = 0; waited < timeout_ms; waited += 100) {
            std::array<std::uint8_t, 1514> frame{};
            const ssize_t n = ::recv(fd_, frame.data(), frame.size(), 0);
            if (n < 42) continue;
            const std::uint32_t tpa = static_cast<std::uint32_t>(frame[38]) << 24 |
                                      static_cast<std::uint32_t>(frame[39]) << 16 |
                                      static_cast<std::uint32_t>(frame[40]) << 8 | frame[41];
            if (frame[20] == 0 && frame[21] == 1 && tpa == target.value) {
                std::array<std::uint8_t, 42> out{};
                std::memcpy(out.data(), frame.data(), out.size());
                return out;
            }
        }
        return std::nullopt;
    }

    // Answers a request as `who` at `who_mac` (an ARP reply unicast to the asker).
    bool reply(const std::array<std::uint8_t, 42>& request, Ipv4Address who, const MacAddress& who_mac) {
        std::array<std::uint8_t, 42> r{};
        std::memcpy(r.data(), request.data() + 6, 6);  // to the asker
        std::memcpy(r.data() + 6, who_mac.bytes.data(), 6);
        r[12] = 0x08;
        r[13] = 0x06;
        std::memcpy(r.data() + 14, request.data() + 14, 6);  // htype, ptype, hlen, plen
        r[20] = 0;
        r[21] = 2;  // reply
        std::memcpy(r.data() + 22, who_mac.bytes.data(), 6);
        const std::uint32_t who_be = htonl(who.value);
        std::memcpy(r.data() + 28, &who_be, 4);
        std::memcpy(r.data() + 32, request.data() + 22, 10);  // target: the asker's MAC and IP
        return ::send(fd_, r.data(), r.size(), 0) == static_cast<ssize_t>(r.size());
    }

  private:
    int fd_ = -1;
};

void check_resolution(Reporter& rep, ResolutionMethod method) {
    NS_REQUIRE(make_veth(rep));
    KernelTablesConfig config;
    config.resolution_method = method;
    KernelTables tables("va", config);
    ArpCapture capture("vb");
    const Ipv4Address peer = ip("10.20.0.9");
    const MacAddress peer_mac = mac("02:00:00:00:00:99");
    NS_CHECK(!tables.neighbour(peer).has_value());

    const Status st = tables.request_resolution(peer, 5 * kSec);
    NS_REQUIRE(st.ok());
    NS_CHECK(tables.resolution_method() == method);
    const auto request = capture.wait_request_for(peer, 2000);
    NS_REQUIRE(request.has_value());
    // The request comes from va, for the kernel's own address.
    NS_CHECK(std::memcmp(request->data() + 22, mac("02:00:00:00:00:0a").bytes.data(), 6) == 0);
    NS_CHECK((*request)[28] == 10 && (*request)[29] == 20 && (*request)[30] == 0 && (*request)[31] == 1);

    // The kernel does not announce the entry's creation or its move to
    // incomplete (neigh_event_send changes state without a notification),
    // so the mirror shows no entry or an unresolved one until the answer.
    tables.poll();
    const auto pending = tables.neighbour(peer);
    NS_CHECK(!pending.has_value() || !pending->resolved());

    NS_REQUIRE(capture.reply(*request, peer, peer_mac));
    // The reply is processed in softirq after send(); give it a moment.
    std::optional<KernelNeighbour> resolved;
    for (int i = 0; i < 100; ++i) {
        tables.poll();
        resolved = tables.neighbour(peer);
        if (resolved && resolved->resolved()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    NS_REQUIRE(resolved.has_value());
    NS_CHECK(resolved->state == KernelNeighbourState::reachable);
    NS_CHECK(resolved->mac == peer_mac);
    NS_CHECK(tables.counters().resolutions_sent == 1);
}

TEST(KernelTables, RequestResolutionByNetlinkMakesTheKernelArpAndTheMirrorSeesTheAnswer) {
    in_private_netns([](Reporter& rep) { check_resolution(rep, ResolutionMethod::netlink_use); });
}

TEST(KernelTables, RequestResolutionByUdpDiscardMakesTheKernelArpAndTheMirrorSeesTheAnswer) {
    in_private_netns([](Reporter& rep) { check_resolution(rep, ResolutionMethod::udp_discard); });
}

TEST(KernelTables, RequestResolutionReconfirmsAStaleNeighbourWithAUnicastProbe) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        NS_REQUIRE(sh(rep, "ip neigh replace 10.20.0.9 lladdr 02:00:00:00:00:99 dev va nud stale"));
        NS_REQUIRE(sh(rep, "sysctl -qw net.ipv4.neigh.va.delay_first_probe_time=1"));
        KernelTablesConfig config;
        config.resolution_method = ResolutionMethod::netlink_use;
        KernelTables tables("va", config);
        ArpCapture capture("vb");
        NS_REQUIRE(tables.request_resolution(ip("10.20.0.9"), kSec).ok());
        tables.poll();
        const auto delayed = tables.neighbour(ip("10.20.0.9"));
        NS_REQUIRE(delayed.has_value());
        NS_CHECK(delayed->resolved());  // still usable while the kernel re-checks
        // The probe follows delay_first_probe_time (shortened to 1 s for va
        // by the setup, in this namespace only).
        const auto request = capture.wait_request_for(ip("10.20.0.9"), 4000);
        NS_REQUIRE(request.has_value());
        // Unicast to the cached address (RFC 1122 §2.3.2.1), not broadcast.
        NS_CHECK(std::memcmp(request->data(), mac("02:00:00:00:00:99").bytes.data(), 6) == 0);
        // The kernel announces the probe: the mirror follows.
        tables.poll();
        const auto probing = tables.neighbour(ip("10.20.0.9"));
        NS_REQUIRE(probing.has_value());
        NS_CHECK(probing->state == KernelNeighbourState::probe);
    });
}

TEST(KernelTables, RequestResolutionIsRateLimitedPerAddress) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        KernelTables tables("va");
        const Ipv4Address a = ip("10.20.0.30");
        const Ipv4Address b = ip("10.20.0.31");
        NS_CHECK(tables.request_resolution(a, 10 * kSec).ok());
        const Status again = tables.request_resolution(a, 10 * kSec + kSec / 2);
        NS_CHECK(again.code() == Errc::would_block);
        NS_CHECK(tables.request_resolution(b, 10 * kSec + kSec / 2).ok());  // another address is not limited
        NS_CHECK(tables.request_resolution(a, 11 * kSec).ok());             // a second later it may go again
        NS_CHECK(tables.counters().resolutions_sent == 3);
        NS_CHECK(tables.counters().resolutions_suppressed == 1);
    });
}

TEST(KernelTables, RequestResolutionFallsBackToUdpWithoutCapNetAdmin) {
    in_private_netns([](Reporter& rep) {
        NS_REQUIRE(make_veth(rep));
        KernelTables tables("va");  // automatic
        ArpCapture capture("vb");
        // Drop CAP_NET_ADMIN from the effective set: RTM_NEWNEIGH is refused.
        __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
        __user_cap_data_struct data[2]{};
        NS_REQUIRE(::syscall(SYS_capget, &hdr, data) == 0);
        data[0].effective &= ~(1u << CAP_NET_ADMIN);
        NS_REQUIRE(::syscall(SYS_capset, &hdr, data) == 0);
        NS_CHECK(tables.request_resolution(ip("10.20.0.9"), kSec).ok());
        NS_CHECK(tables.resolution_method() == ResolutionMethod::udp_discard);
        NS_CHECK(capture.wait_request_for(ip("10.20.0.9"), 2000).has_value());
    });
}

}  // namespace
}  // namespace kbnet::stack
