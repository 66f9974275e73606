// Stack setup: configuration checks with messages naming the field, the
// MAC and MTU defaults, and the statistics segment (counters incremented in
// place, sockets listed with their queue depth and drops).
#include <gtest/gtest.h>

#include <stdexcept>

#include "stack_harness.hpp"

namespace kbnet::stack::testing {
namespace {

TEST(StackSetup, derives_a_locally_administered_mac_from_the_address_and_the_ethernet_mtu) {
    StackHarness h;
    EXPECT_EQ(h.stack().mac(), kStackMac);
    EXPECT_EQ(h.stack().mtu(), 1500u);
}

TEST(StackSetup, refuses_a_multicast_address_naming_the_field) {
    auto port = port::open_port(unique_pair_name(), small_area());
    StackConfig config = base_config(Ipv4Address::from_octets(224, 0, 0, 9));
    try {
        Stack s(*port, 0, config);
        FAIL() << "accepted a multicast address";
    } catch (const std::invalid_argument& e) {
        EXPECT_NE(std::string(e.what()).find("StackConfig::address"), std::string::npos);
    }
}

TEST(StackSetup, refuses_an_mtu_larger_than_the_port_carries) {
    auto port = port::open_port(unique_pair_name(), small_area());
    StackConfig config = base_config();
    config.mtu = 9000;
    EXPECT_THROW(Stack(*port, 0, config), std::invalid_argument);
}

TEST(StackSetup, parses_address_and_prefix_and_rejects_bad_text) {
    StackConfig c;
    c.set_address("192.168.7.9/20");
    EXPECT_EQ(c.address, Ipv4Address::from_octets(192, 168, 7, 9));
    EXPECT_EQ(c.prefix_len, 20);
    EXPECT_THROW(c.set_address("10.0.0.1/33"), std::invalid_argument);
    EXPECT_THROW(c.set_address("10.0.0/24"), std::invalid_argument);
}

TEST(StackSetup, publishes_counters_and_sockets_in_its_stats_segment) {
    StackConfig config = base_config();
    config.publish_stats = true;
    config.name = "stacktest-" + std::to_string(::getpid());
    config.udp_queue_depth = 2;
    StackHarness h(config);
    ASSERT_NE(h.stack().stats_segment(), nullptr);
    auto sock = h.stack().udp_open();
    ASSERT_TRUE(sock->bind(Ipv4Address{}, 6000).ok());
    for (int i = 0; i < 3; ++i) h.peer().send(udp_frame(kPeerIp, kStackIp, 5000, 6000, payload_of(4)));
    h.poll();

    ListOptions options;
    options.clean = false;
    const StackList list = list_stacks(options);
    const StackSnapshot* mine = nullptr;
    for (const auto& s : list.stacks) {
        if (s.name == config.name && s.pid == ::getpid()) mine = &s;
    }
    ASSERT_NE(mine, nullptr);
    EXPECT_EQ(mine->mode, "dedicated");
    EXPECT_EQ(mine->addresses, "10.0.0.1/24");
    EXPECT_EQ(mine->counters.udp.in_datagrams, 2u);
    EXPECT_EQ(mine->counters.udp.rcvbuf_errors, 1u);
    ASSERT_EQ(mine->sockets.size(), 1u);
    EXPECT_EQ(mine->sockets[0].local_port, 6000);
    EXPECT_EQ(mine->sockets[0].counters.rx_queue_depth, 2u);
    EXPECT_EQ(mine->sockets[0].counters.rx_drops, 1u);

    sock->close();
    const StackList after = list_stacks(options);
    for (const auto& s : after.stacks) {
        if (s.name == config.name && s.pid == ::getpid()) {
            EXPECT_TRUE(s.sockets.empty());
        }
    }
}

}  // namespace
}  // namespace kbnet::stack::testing
