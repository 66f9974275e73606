// afxdp port: what it checks before touching a device. Each bad input is a
// PortError whose one line names the problem and the fix; none of these
// attach anything (the checks run before the XDP program is loaded).
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <fmt/format.h>

#include "kbnet/port/port.hpp"
#include "kbnet/port/spec.hpp"
#include "kbnet/port/steering.hpp"
#include "port/afxdp/afxdp_port.hpp"
#include "port/afxdp/netdev.hpp"
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
        auto p = make_afxdp_port(parse_port_spec(spec), options);
    } catch (const PortError& e) {
        return e.what();
    }
    return {};
}

bool is_root() { return ::geteuid() == 0; }

}  // namespace

TEST(AfxdpSpec, accepts_queue_steer_mode_and_busy_poll) {
    const PortSpec s = parse_port_spec("afxdp:eth0,queues=2,queue=4,mode=copy,busy_poll=50,steer=all");
    EXPECT_EQ(s.kind, "afxdp");
    EXPECT_EQ(s.target, "eth0");
    EXPECT_EQ(s.option("queue"), "4");
    EXPECT_EQ(s.option("steer"), "all");
}

TEST(AfxdpSpec, grammar_lists_the_new_options) {
    const std::string g(port_spec_grammar());
    EXPECT_NE(g.find("queue=Q"), std::string::npos) << g;
    EXPECT_NE(g.find("steer=filtered|all"), std::string::npos) << g;
}

TEST(AfxdpSpec, bad_values_are_errors_naming_the_key) {
    EXPECT_NE(open_error("afxdp:lo,steer=some").find("steer=some must be one of filtered|all"), std::string::npos);
    EXPECT_NE(open_error("afxdp:lo,mode=turbo").find("mode=turbo must be one of auto|copy|zc"), std::string::npos);
    EXPECT_NE(open_error("afxdp:lo,queues=0").find("queues=0 must be a whole number from 1"), std::string::npos);
    EXPECT_NE(open_error("afxdp:lo,busy_poll=-1").find("busy_poll=-1"), std::string::npos);
    EXPECT_NE(open_error("afxdp:lo,queue=1000,queues=100").find("passes the 1024 queues"), std::string::npos);
}

TEST(AfxdpErrors, nonexistent_interface_says_so_and_points_at_ip_link) {
    // Checked first, so this needs no privilege.
    EXPECT_EQ(open_error("afxdp:kbtnope0"), "no interface 'kbtnope0' (see `ip link`)");
    EXPECT_NE(open_error("afxdp:an-interface-name-far-too-long").find("no interface"), std::string::npos);
}

TEST(AfxdpErrors, missing_capabilities_are_named) {
    using afxdp::missing_capabilities;
    EXPECT_EQ(missing_capabilities(0), "CAP_NET_ADMIN, CAP_NET_RAW, CAP_BPF");
    const std::uint64_t all = (1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW) | (1ull << CAP_BPF);
    EXPECT_EQ(missing_capabilities(all), "");
    // CAP_SYS_ADMIN covers BPF on kernels before CAP_BPF (5.8).
    EXPECT_EQ(missing_capabilities((1ull << CAP_NET_ADMIN) | (1ull << CAP_NET_RAW) | (1ull << CAP_SYS_ADMIN)), "");
    EXPECT_EQ(missing_capabilities(1ull << CAP_NET_RAW | 1ull << CAP_BPF), "CAP_NET_ADMIN");
}

TEST(AfxdpErrors, without_privilege_the_error_names_root_and_the_capabilities) {
    // As root, a child drops its effective capabilities first; otherwise
    // this process already lacks them.
    auto check = [] {
        const std::string e = open_error("afxdp:lo");
        return e.find("needs root or the capabilities CAP_NET_ADMIN, CAP_NET_RAW and CAP_BPF") != std::string::npos &&
               e.find("lacks CAP_NET_ADMIN") != std::string::npos;
    };
    if (!is_root()) {
        EXPECT_TRUE(check()) << open_error("afxdp:lo");
        return;
    }
    EXPECT_EQ(test_support::run_without_capabilities(check), 0)
        << "child could not drop capabilities (3) or got another message (1)";
}

TEST(AfxdpErrors, queue_index_out_of_range_names_the_count) {
    if (!is_root()) GTEST_SKIP() << "needs root: the privilege check comes before the queue check";
    const std::string e = open_error("afxdp:lo,queue=5");
    EXPECT_NE(e.find("queue index 5 is out of range: 'lo' has 1 rx queue(s)"), std::string::npos) << e;
    const std::string e2 = open_error("afxdp:lo,queues=3");
    EXPECT_NE(e2.find("queue index 2 is out of range"), std::string::npos) << e2;
}

TEST(AfxdpErrors, mtu_too_large_for_the_frame_names_the_limit) {
    if (!is_root()) GTEST_SKIP() << "needs root: the privilege check comes before the MTU check";
    const unsigned mtu = afxdp::interface_mtu("lo");
    if (mtu <= 1778) GTEST_SKIP() << "lo has MTU " << mtu << ", small enough for a 2048-byte frame";
    const std::string e = open_error("afxdp:lo");
    EXPECT_NE(e.find(fmt::format("MTU {} is too large for AF_XDP", mtu)), std::string::npos) << e;
    EXPECT_NE(e.find("at most 1778"), std::string::npos) << e;
    EXPECT_NE(e.find("ip link set dev lo mtu 1778"), std::string::npos) << e;
    // A 4096-byte frame moves the limit (still below lo's 65536).
    PortOptions big = small_options();
    big.area.frame_size = 4096;
    EXPECT_NE(open_error("afxdp:lo", big).find("at most 3826"), std::string::npos);
}

TEST(AfxdpErrors, frame_size_outside_an_aligned_umem_is_refused) {
    // Checked before the interface, so this needs no privilege.
    PortOptions o = small_options();
    o.area.frame_size = 1024;
    const std::string e = open_error("afxdp:lo", o);
    EXPECT_NE(e.find("frame size 1024 is not usable for AF_XDP; use 2048 or"), std::string::npos) << e;
}

TEST(AfxdpNetdev, loopback_has_an_index_a_queue_and_an_mtu) {
    const int idx = afxdp::interface_index("lo");
    EXPECT_GT(idx, 0);
    const afxdp::QueueCount qc = afxdp::rx_queue_count("lo", idx);
    EXPECT_GE(qc.count, 1u);
    EXPECT_FALSE(qc.source.empty());
    EXPECT_GT(afxdp::interface_mtu("lo"), 0u);
}

TEST(Steering, filters_print_as_proto_port_address_action) {
    EXPECT_EQ(to_string(SteeringFilter{17, 7777, 0, FilterAction::redirect}), "udp:7777");
    EXPECT_EQ(to_string(SteeringFilter{6, 80, 0x0a000001, FilterAction::redirect}), "tcp:80@10.0.0.1");
    EXPECT_EQ(to_string(SteeringFilter{17, 53, 0, FilterAction::drop}), "udp:53 drop");
    EXPECT_EQ(to_string(SteerMode::all), "all");
    EXPECT_EQ(to_string(SteerMode::filtered), "filtered");
}

TEST(Steering, ports_without_steering_return_null) {
    PortOptions o = small_options();
    auto a = open_port("pair:afxdp-steering-none", o);
    EXPECT_EQ(a->steering(), nullptr);
}
