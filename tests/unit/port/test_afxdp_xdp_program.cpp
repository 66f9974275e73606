// kbnet's XDP program, run by the kernel on frames we build (BPF_PROG_TEST_RUN):
// which frames it sends toward kbnet, which it passes to the kernel, and
// how it counts them. Nothing is attached to any interface.
//
// In a test run the XSKMAP is empty, so a frame steered to kbnet comes back
// as XDP_PASS through bpf_redirect_map's fallback and is counted as
// "no_socket": that counter is how these tests see a match.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "kbnet/core/endian.hpp"
#include "kbnet/port/port.hpp"
#include "port/afxdp/bpf/kbnet_xdp_abi.h"
#include "port/afxdp/xdp_maps.hpp"
#include "port/afxdp/xdp_program.hpp"

using namespace kbnet;
using namespace kbnet::port;
using namespace kbnet::port::afxdp;

namespace {

constexpr std::uint32_t kLocal = 0x0a4d0101;  // 10.77.1.1
constexpr std::uint32_t kOther = 0x0a4d0102;  // 10.77.1.2

struct FrameSpec {
    std::uint8_t protocol = IPPROTO_UDP;
    std::uint16_t dport = 7777;
    std::uint32_t daddr = kLocal;
    bool vlan = false;
    std::uint16_t frag_off = 0;  // host order: flags << 13 | offset
    std::uint8_t ihl = 5;
    std::size_t cut_to = 0;  // truncate the frame to this many bytes (0: no)
    std::uint16_t ethertype = 0x0800;
};

std::vector<std::uint8_t> build(const FrameSpec& s) {
    std::vector<std::uint8_t> f(14, 0);
    for (int i = 0; i < 6; ++i) {
        f[static_cast<std::size_t>(i)] = 0x02;
        f[static_cast<std::size_t>(6 + i)] = 0x04;
    }
    if (s.vlan) {
        store_be16(&f[12], 0x8100);
        f.resize(18);
        store_be16(&f[14], 5);  // TCI: VLAN 5
        store_be16(&f[16], s.ethertype);
    } else {
        store_be16(&f[12], s.ethertype);
    }
    const std::size_t ip = f.size();
    const std::size_t ip_len = std::size_t{s.ihl} * 4;
    f.resize(ip + ip_len + 20 + 32, 0);
    f[ip] = static_cast<std::uint8_t>(0x40 | s.ihl);
    store_be16(&f[ip + 2], static_cast<std::uint16_t>(f.size() - ip));
    store_be16(&f[ip + 6], s.frag_off);
    f[ip + 8] = 64;
    f[ip + 9] = s.protocol;
    store_be32(&f[ip + 12], kOther);
    store_be32(&f[ip + 16], s.daddr);
    const std::size_t l4 = ip + ip_len;
    store_be16(&f[l4], 40000);
    store_be16(&f[l4 + 2], s.dport);
    if (s.cut_to != 0) f.resize(s.cut_to);
    return f;
}

class XdpProgramTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (CAP_BPF) to load and test-run a BPF program";
        obj_ = open_kbnet_object();
        if (bpf_object__load(obj_.get()) != 0) {
            GTEST_SKIP() << "the kernel refused to load kbnet's XDP program: " << std::strerror(errno);
        }
        prog_fd_ = bpf_program__fd(bpf_object__find_program_by_name(obj_.get(), KBNET_XDP_PROG_NAME));
        ASSERT_GE(prog_fd_, 0);
        maps_ = XdpMaps(bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_XSKS),
                        bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_FILTERS),
                        bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_CONFIG),
                        bpf_object__find_map_fd_by_name(obj_.get(), KBNET_XDP_MAP_COUNTERS), false);
        ASSERT_TRUE(maps_.valid());
    }

    // Runs the program on the frame; returns its verdict and, in *delta,
    // how the counters moved.
    int run(const std::vector<std::uint8_t>& frame, XdpCounters* delta = nullptr) {
        const XdpCounters before = maps_.counters();
        std::vector<std::uint8_t> out(frame.size() + 256);
        bpf_test_run_opts opts{};
        opts.sz = sizeof opts;
        opts.data_in = frame.data();
        opts.data_size_in = static_cast<std::uint32_t>(frame.size());
        opts.data_out = out.data();
        opts.data_size_out = static_cast<std::uint32_t>(out.size());
        opts.repeat = 1;
        EXPECT_EQ(bpf_prog_test_run_opts(prog_fd_, &opts), 0) << std::strerror(errno);
        const XdpCounters after = maps_.counters();
        if (delta != nullptr) {
            delta->redirected = after.redirected - before.redirected;
            delta->passed = after.passed - before.passed;
            delta->dropped = after.dropped - before.dropped;
            delta->no_socket = after.no_socket - before.no_socket;
            delta->fragments = after.fragments - before.fragments;
        }
        return static_cast<int>(opts.retval);
    }

    // True if the program steered the frame toward kbnet.
    bool steered(const FrameSpec& s) {
        XdpCounters d;
        EXPECT_EQ(run(build(s), &d), XDP_PASS);  // no socket: the fallback
        EXPECT_EQ(d.passed, 1u);
        return d.no_socket == 1;
    }

    BpfObjectPtr obj_;
    int prog_fd_ = -1;
    XdpMaps maps_;
};

}  // namespace

TEST_F(XdpProgramTest, filtered_mode_with_no_filters_passes_everything_to_the_kernel) {
    EXPECT_EQ(maps_.mode(), SteerMode::filtered);
    EXPECT_FALSE(steered({}));
    EXPECT_FALSE(steered({.protocol = IPPROTO_TCP}));
}

TEST_F(XdpProgramTest, all_mode_steers_every_frame_even_non_ip) {
    maps_.set_mode(SteerMode::all);
    EXPECT_TRUE(steered({}));
    EXPECT_TRUE(steered({.ethertype = 0x0806}));  // ARP
    EXPECT_TRUE(steered({.frag_off = 0x2000}));   // a fragment
    EXPECT_TRUE(steered({.cut_to = 20}));         // a runt
}

TEST_F(XdpProgramTest, any_address_filter_matches_its_protocol_and_port_only) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    EXPECT_TRUE(steered({.dport = 7777}));
    EXPECT_TRUE(steered({.dport = 7777, .daddr = kOther}));
    EXPECT_FALSE(steered({.dport = 7778}));
    EXPECT_FALSE(steered({.protocol = IPPROTO_TCP, .dport = 7777}));
    EXPECT_FALSE(steered({.protocol = IPPROTO_ICMP, .dport = 7777}));
}

TEST_F(XdpProgramTest, exact_address_filter_matches_only_that_address) {
    maps_.add_filter({IPPROTO_TCP, 80, kLocal, FilterAction::redirect});
    EXPECT_TRUE(steered({.protocol = IPPROTO_TCP, .dport = 80, .daddr = kLocal}));
    EXPECT_FALSE(steered({.protocol = IPPROTO_TCP, .dport = 80, .daddr = kOther}));
}

TEST_F(XdpProgramTest, exact_address_filter_wins_over_any_address_filter) {
    maps_.add_filter({IPPROTO_UDP, 53, 0, FilterAction::redirect});
    maps_.add_filter({IPPROTO_UDP, 53, kLocal, FilterAction::drop});
    XdpCounters d;
    EXPECT_EQ(run(build({.dport = 53, .daddr = kLocal}), &d), XDP_DROP);
    EXPECT_EQ(d.dropped, 1u);
    EXPECT_EQ(d.passed, 0u);
    EXPECT_TRUE(steered({.dport = 53, .daddr = kOther}));
}

TEST_F(XdpProgramTest, vlan_tagged_frames_are_matched_through_one_tag) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    EXPECT_TRUE(steered({.vlan = true}));
    EXPECT_FALSE(steered({.dport = 1, .vlan = true}));
}

TEST_F(XdpProgramTest, ip_options_do_not_hide_the_port) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    EXPECT_TRUE(steered({.ihl = 15}));  // 40 bytes of options
}

TEST_F(XdpProgramTest, fragments_go_to_the_kernel_and_are_counted) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    for (std::uint16_t frag : {std::uint16_t{0x2000}, std::uint16_t{0x2000 | 100}, std::uint16_t{100}}) {
        XdpCounters d;
        EXPECT_EQ(run(build({.frag_off = frag}), &d), XDP_PASS);
        EXPECT_EQ(d.fragments, 1u) << frag;
        EXPECT_EQ(d.no_socket, 0u) << frag;
    }
    // Don't Fragment is not a fragment.
    EXPECT_TRUE(steered({.frag_off = 0x4000}));
}

TEST_F(XdpProgramTest, truncated_and_malformed_frames_go_to_the_kernel) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    EXPECT_FALSE(steered({.cut_to = 14 + 20 + 3}));  // ports cut short
    EXPECT_FALSE(steered({.cut_to = 14 + 10}));      // IP header cut short
    EXPECT_FALSE(steered({.ihl = 4}));               // ihl below the minimum
    EXPECT_FALSE(steered({.ethertype = 0x86dd}));    // IPv6
}

TEST_F(XdpProgramTest, filters_round_trip_through_the_map) {
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});
    maps_.add_filter({IPPROTO_TCP, 80, kLocal, FilterAction::drop});
    maps_.add_filter({IPPROTO_UDP, 7777, 0, FilterAction::redirect});  // again: no duplicate
    const std::vector<SteeringFilter> want{{IPPROTO_TCP, 80, kLocal, FilterAction::drop},
                                           {IPPROTO_UDP, 7777, 0, FilterAction::redirect}};
    EXPECT_EQ(maps_.filters(), want);
    EXPECT_TRUE(maps_.remove_filter(IPPROTO_UDP, 7777, 0));
    EXPECT_FALSE(maps_.remove_filter(IPPROTO_UDP, 7777, 0));
    EXPECT_EQ(maps_.filters().size(), 1u);
}

TEST_F(XdpProgramTest, bad_filters_are_refused_with_the_reason) {
    try {
        maps_.add_filter({IPPROTO_ICMP, 1, 0, FilterAction::redirect});
        FAIL() << "ICMP filter accepted";
    } catch (const PortError& e) {
        EXPECT_NE(std::string(e.what()).find("not UDP (17) or TCP (6)"), std::string::npos) << e.what();
    }
    EXPECT_THROW(maps_.add_filter({IPPROTO_UDP, 0, 0, FilterAction::redirect}), PortError);
}

TEST_F(XdpProgramTest, owner_and_mode_slots_read_back) {
    maps_.set_owner(4242);
    EXPECT_EQ(maps_.owner(), 4242u);
    maps_.set_mode(SteerMode::all);
    EXPECT_EQ(maps_.mode(), SteerMode::all);
}

TEST(XdpProgramObject, embedded_object_is_an_elf_file_for_bpf) {
    const auto bytes = kbnet_xdp_object();
    ASSERT_GT(bytes.size(), 64u);
    EXPECT_EQ(bytes[0], 0x7f);
    EXPECT_EQ(bytes[1], 'E');
    EXPECT_EQ(bytes[2], 'L');
    EXPECT_EQ(bytes[3], 'F');
    EXPECT_EQ(load_le16(bytes.data() + 18), 247);  // e_machine: EM_BPF
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes.data()) % 8, 0u);
}

TEST(XdpProgramObject, veth_limit_is_a_page_minus_headroom_shared_info_and_ethernet) {
    if (::sysconf(_SC_PAGESIZE) != 4096) GTEST_SKIP() << "computed for 4 KiB pages";
    EXPECT_EQ(veth_native_xdp_max_mtu(), 3506u);  // measured on Linux 6.18 with veth
}
