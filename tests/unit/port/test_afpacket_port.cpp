// afpacket port: spec validation and setup errors (one line each, naming
// the fix), and, as root, the rings themselves: frames sent on the loopback
// interface of a private network namespace come back through the receive
// ring byte for byte, VLAN tag included, and two queues share the flows.
//
// The private namespace belongs to one thread (unshare(CLONE_NEWNET) moves
// only the calling thread), so the host's interfaces are never touched.
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "port/afpacket/afpacket_port.hpp"
#include "unit/port/privilege_test_support.hpp"

using namespace kbnet;
using namespace kbnet::port;

namespace {

PortOptions small_options() {
    PortOptions o;
    o.area.frame_count = 256;
    o.area.hugepages = false;
    return o;
}

// The PortError text of opening `spec`, or "" if it opened.
std::string open_error(const std::string& spec, const PortOptions& options = small_options()) {
    try {
        auto p = make_afpacket_port(parse_port_spec(spec), options);
    } catch (const PortError& e) {
        return e.what();
    }
    return {};
}

bool is_root() { return ::geteuid() == 0; }

// Runs body on a thread of its own in a new, empty network namespace (only
// lo, and down). Setup failures are test failures.
void in_private_netns(const std::function<void()>& body) {
    std::thread t([&body] {
        if (::unshare(CLONE_NEWNET) != 0) {
            ADD_FAILURE() << "unshare(CLONE_NEWNET): " << std::strerror(errno);
            return;
        }
        body();
    });
    t.join();
}

// Brings lo of the calling thread's namespace up with the given MTU.
void loopback_up(int mtu) {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    ifreq ifr{};
    std::strcpy(ifr.ifr_name, "lo");
    ifr.ifr_mtu = mtu;
    EXPECT_EQ(::ioctl(fd, SIOCSIFMTU, &ifr), 0) << std::strerror(errno);
    ASSERT_EQ(::ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    EXPECT_EQ(::ioctl(fd, SIOCSIFFLAGS, &ifr), 0) << std::strerror(errno);
    ::close(fd);
}

constexpr std::uint8_t kOurMac[6] = {0x02, 0, 0, 0, 0, 0x01};

// A test frame: Ethernet (optionally one 802.1Q tag), IPv4, UDP from
// src_port to 9, payload filled from `seed`. EtherType and addresses are
// real so the kernel's flow hash sees a distinct flow per source port.
std::vector<std::uint8_t> make_frame(std::uint16_t src_port, std::size_t payload, std::uint8_t seed,
                                     bool vlan = false) {
    std::vector<std::uint8_t> f = {0x02, 0, 0, 0, 0, 0x02};
    f.insert(f.end(), kOurMac, kOurMac + 6);
    if (vlan) f.insert(f.end(), {0x81, 0x00, 0x20, 0x05});  // priority 1, VLAN 5
    f.insert(f.end(), {0x08, 0x00});
    const auto ip_len = static_cast<std::uint16_t>(20 + 8 + payload);
    const std::uint8_t ip[20] = {0x45,
                                 0,
                                 static_cast<std::uint8_t>(ip_len >> 8),
                                 static_cast<std::uint8_t>(ip_len),
                                 0,
                                 1,
                                 0,
                                 0,
                                 64,
                                 17,
                                 0,
                                 0,
                                 10,
                                 1,
                                 2,
                                 3,
                                 10,
                                 4,
                                 5,
                                 6};
    f.insert(f.end(), ip, ip + 20);
    const auto udp_len = static_cast<std::uint16_t>(8 + payload);
    const std::uint8_t udp[8] = {static_cast<std::uint8_t>(src_port >> 8), static_cast<std::uint8_t>(src_port), 0, 9,
                                 static_cast<std::uint8_t>(udp_len >> 8),  static_cast<std::uint8_t>(udp_len),  0, 0};
    f.insert(f.end(), udp, udp + 8);
    for (std::size_t i = 0; i < payload; ++i) f.push_back(static_cast<std::uint8_t>(seed + i * 7));
    return f;
}

// Sends every frame on the port's queue 0 (a burst at a time).
void send_all(Port& p, const std::vector<std::vector<std::uint8_t>>& frames) {
    std::size_t i = 0;
    while (i < frames.size()) {
        std::array<PacketHandle, 16> h;
        const std::size_t want = std::min(h.size(), frames.size() - i);
        const std::uint16_t got = p.alloc(0, std::span<PacketHandle>(h.data(), want));
        ASSERT_GT(got, 0);
        for (std::uint16_t k = 0; k < got; ++k) {
            const auto& f = frames[i + k];
            std::memcpy(p.area().data(h[k]), f.data(), f.size());
            h[k].length = static_cast<std::uint16_t>(f.size());
        }
        std::uint16_t sent = 0;
        for (int tries = 0; sent < got && tries < 1000; ++tries) {
            sent = static_cast<std::uint16_t>(
                sent + p.tx_burst(0, std::span<const PacketHandle>(h.data() + sent, got - sent)));
        }
        ASSERT_EQ(sent, got);
        i += got;
    }
}

// Receives on every queue until `count` frames from kOurMac arrived
// or two seconds passed; returns them per queue.
std::vector<std::vector<std::vector<std::uint8_t>>> receive(Port& p, std::size_t count) {
    std::vector<std::vector<std::vector<std::uint8_t>>> got(p.queue_count());
    std::size_t total = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (total < count && std::chrono::steady_clock::now() < deadline) {
        for (std::uint16_t q = 0; q < p.queue_count(); ++q) {
            std::array<PacketHandle, 32> h;
            const std::uint16_t n = p.rx_burst(q, h);
            for (std::uint16_t k = 0; k < n; ++k) {
                const auto b = p.bytes(h[k]);
                if (b.size() >= 12 && std::memcmp(b.data() + 6, kOurMac, 6) == 0) {
                    got[q].emplace_back(b.begin(), b.end());
                    ++total;
                }
            }
            p.free(q, std::span<const PacketHandle>(h.data(), n));
            p.flush(q);
        }
    }
    return got;
}

}  // namespace

TEST(AfpacketSpec, accepts_queues_promisc_and_ring_options) {
    const PortSpec s = parse_port_spec("afpacket:eth0,queues=4,promisc=1,block=1048576,blocks=16,timeout=5");
    EXPECT_EQ(s.kind, "afpacket");
    EXPECT_EQ(s.target, "eth0");
    EXPECT_EQ(s.option("blocks"), "16");
    const std::string g(port_spec_grammar());
    EXPECT_NE(g.find("afpacket:IFACE[,queues=N][,promisc=0|1][,block=BYTES][,blocks=N][,timeout=MS]"),
              std::string::npos)
        << g;
}

TEST(AfpacketSpec, unknown_option_lists_the_allowed_ones) {
    const std::string e = open_error("afpacket:eth0,mode=zc");
    EXPECT_NE(e.find("unknown option 'mode' for afpacket (allowed: queues, promisc, block, blocks, timeout)"),
              std::string::npos)
        << e;
}

TEST(AfpacketSpec, bad_values_are_errors_naming_the_key) {
    // All checked before the interface is looked at: no privilege needed.
    EXPECT_NE(open_error("afpacket:lo,queues=0").find("queues=0 must be a whole number from 1 to 64"),
              std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,queues=65").find("queues=65"), std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,promisc=yes").find("promisc=yes must be one of 0|1"), std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,block=100").find("block=100 must be a whole number from"), std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,block=12288").find("block=12288 must be a power of two"), std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,blocks=1").find("blocks=1 must be a whole number from 2"), std::string::npos);
    EXPECT_NE(open_error("afpacket:lo,timeout=0").find("timeout=0 must be a whole number from 1"), std::string::npos);
    const std::string big = open_error("afpacket:lo,block=67108864,blocks=32");
    EXPECT_NE(big.find("2048 MiB of receive ring per queue; the limit is 1024 MiB"), std::string::npos) << big;
}

TEST(AfpacketErrors, nonexistent_interface_says_so_and_points_at_ip_link) {
    // Checked first, so this needs no privilege.
    EXPECT_EQ(open_error("afpacket:kbtnope0"), "no interface 'kbtnope0' (see `ip link`)");
    EXPECT_NE(open_error("afpacket:an-interface-name-far-too-long").find("no interface"), std::string::npos);
}

TEST(AfpacketErrors, without_cap_net_raw_the_error_names_it_and_root) {
    auto check = [] {
        const std::string e = open_error("afpacket:lo");
        return e ==
               "afpacket:lo needs root or the capability CAP_NET_RAW, which this process lacks (run as root, "
               "or setcap cap_net_raw+ep on the binary)";
    };
    if (!is_root()) {
        EXPECT_TRUE(check()) << open_error("afpacket:lo");
        return;
    }
    // As root, a child drops its effective capabilities first.
    EXPECT_EQ(test_support::run_without_capabilities(check), 0)
        << "child could not drop capabilities (3) or got another message (1)";
}

TEST(AfpacketErrors, interface_down_is_an_error_naming_the_fix) {
    if (!is_root()) GTEST_SKIP() << "needs root: a private network namespace (and the privilege check comes first)";
    in_private_netns([] {
        // A new namespace's lo starts down.
        EXPECT_EQ(open_error("afpacket:lo"), "afpacket:lo: interface 'lo' is down (ip link set dev lo up)");
    });
}

TEST(AfpacketErrors, mtu_too_large_for_the_frame_names_the_limit) {
    if (!is_root()) GTEST_SKIP() << "needs root: a private network namespace";
    in_private_netns([] {
        loopback_up(9000);
        const std::string e = open_error("afpacket:lo");
        // 2048-byte frames, 256 of headroom: 1792 bytes = MTU + 14 + 4 (a VLAN tag).
        EXPECT_EQ(e,
                  "afpacket:lo: MTU 9000 does not fit a 2048-byte buffer frame with 256 bytes of headroom, which "
                  "carries an MTU of at most 1774 (ip link set dev lo mtu 1774, or use larger frames)");
        PortOptions big = small_options();
        big.area.frame_size = 16384;
        EXPECT_EQ(open_error("afpacket:lo", big), "");
    });
}

TEST(AfpacketPort, frames_sent_on_loopback_come_back_byte_identical) {
    if (!is_root()) GTEST_SKIP() << "needs root: a private network namespace and CAP_NET_RAW";
    in_private_netns([] {
        loopback_up(1500);
        auto p = open_port("afpacket:lo,block=65536,blocks=8", small_options());
        EXPECT_EQ(p->kind(), "afpacket");
        EXPECT_EQ(p->queue_count(), 1);
        const Capabilities caps = p->capabilities();
        EXPECT_FALSE(caps.zero_copy);
        // lo is not ARPHRD_ETHER, so the kernel allows no VLAN tag on top of MTU + 14.
        EXPECT_EQ(caps.max_frame, 1500u + 14);

        std::vector<std::vector<std::uint8_t>> frames;
        const std::size_t sizes[] = {18, 100, 1000, 1472};
        for (std::uint16_t i = 0; i < 200; ++i) {
            frames.push_back(
                make_frame(static_cast<std::uint16_t>(40000 + i), sizes[i % 4], static_cast<std::uint8_t>(i)));
        }
        // The kernel takes the tag off into metadata before packet sockets
        // see a frame; the port must put it back where it was.
        frames.push_back(make_frame(41000, 50, 9, true));
        frames.push_back(make_frame(41001, 1468, 10, true));  // 1514 bytes with the tag
        send_all(*p, frames);
        const auto got = receive(*p, frames.size());
        ASSERT_EQ(got[0].size(), frames.size());
        // Loopback keeps the order of one sender.
        for (std::size_t i = 0; i < frames.size(); ++i) EXPECT_EQ(got[0][i], frames[i]) << "frame " << i;
        const QueueCounters& c = p->counters(0);
        EXPECT_EQ(c.tx_packets, frames.size());
        EXPECT_EQ(c.rx_packets, frames.size());
        EXPECT_EQ(c.tx_dropped, 0u);
        EXPECT_EQ(c.rx_dropped, 0u);
    });
}

TEST(AfpacketPort, frames_the_kernel_would_refuse_are_taken_and_counted_as_dropped) {
    if (!is_root()) GTEST_SKIP() << "needs root: a private network namespace and CAP_NET_RAW";
    in_private_netns([] {
        loopback_up(1500);
        auto p = open_port("afpacket:lo,block=65536,blocks=8", small_options());
        std::array<PacketHandle, 4> h;
        ASSERT_EQ(p->alloc(0, h), 4);
        std::memset(p->area().data(h[0]), 0x02, 1600);
        h[0].length = 1515;  // MTU + 14 + 1, untagged
        h[1].length = 13;    // shorter than an Ethernet header
        // MTU + 14 + a tag: fine on Ethernet, too long on lo (not ARPHRD_ETHER).
        const auto tagged = make_frame(42001, 1472, 2, true);
        std::memcpy(p->area().data(h[2]), tagged.data(), tagged.size());
        h[2].length = static_cast<std::uint16_t>(tagged.size());
        const auto ok = make_frame(42000, 64, 1);
        std::memcpy(p->area().data(h[3]), ok.data(), ok.size());
        h[3].length = static_cast<std::uint16_t>(ok.size());
        EXPECT_EQ(p->tx_burst(0, h), 4);  // all taken: retrying would not help
        const QueueCounters& c = p->counters(0);
        EXPECT_EQ(c.tx_dropped, 3u);
        EXPECT_EQ(c.tx_packets, 1u);
        const auto got = receive(*p, 1);
        ASSERT_EQ(got[0].size(), 1u);
        EXPECT_EQ(got[0][0], ok);
    });
}

TEST(AfpacketPort, two_queues_share_the_flows_and_each_flow_stays_on_one) {
    if (!is_root()) GTEST_SKIP() << "needs root: a private network namespace and CAP_NET_RAW";
    in_private_netns([] {
        loopback_up(1500);
        auto p = open_port("afpacket:lo,queues=2,block=65536,blocks=8", small_options());
        ASSERT_EQ(p->queue_count(), 2);
        std::vector<std::vector<std::uint8_t>> frames;
        for (std::uint16_t flow = 0; flow < 64; ++flow) {
            for (std::uint8_t k = 0; k < 4; ++k)
                frames.push_back(make_frame(static_cast<std::uint16_t>(30000 + flow), 32, k));
        }
        send_all(*p, frames);
        const auto got = receive(*p, frames.size());
        EXPECT_EQ(got[0].size() + got[1].size(), frames.size()) << "each frame exactly once";
        EXPECT_GT(got[0].size(), 0u) << "64 flows, all hashed to queue 1?";
        EXPECT_GT(got[1].size(), 0u) << "64 flows, all hashed to queue 0?";
        // A flow (source port at bytes 34..35) is seen by one queue only.
        std::map<unsigned, std::uint16_t> queue_of_flow;
        for (std::uint16_t q = 0; q < 2; ++q) {
            for (const auto& f : got[q]) {
                const unsigned port = unsigned{f[34]} << 8 | f[35];
                const auto [it, inserted] = queue_of_flow.emplace(port, q);
                EXPECT_EQ(it->second, q) << "flow " << port << " on both queues";
            }
        }
        EXPECT_EQ(p->counters(0).rx_packets + p->counters(1).rx_packets, frames.size());
    });
}
