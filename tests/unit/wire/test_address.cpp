// MacAddress and Ipv4Address: text forms and classification.
#include "kbnet/wire/address.hpp"

#include <gtest/gtest.h>

namespace kbnet::wire {
namespace {

TEST(MacAddress, parses_colon_and_dash_separated_hex_in_either_case) {
    const MacAddress expect{{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}};
    EXPECT_EQ(MacAddress::parse("52:54:00:ab:cd:ef"), expect);
    EXPECT_EQ(MacAddress::parse("52-54-00-AB-CD-EF"), expect);
    EXPECT_EQ(MacAddress::parse("52:54:00:Ab:cD:ef"), expect);
}

TEST(MacAddress, rejects_malformed_text) {
    for (const char* bad :
         {"", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:", "52:54:00:ab:cd:eg", "5254.00ab.cdef", "52:54:00:ab:cd:e",
          "52 54 00 ab cd ef", "52:54:00:ab:cd:ef0", "g2:54:00:ab:cd:ef", "52:54:00:ab:cdef0"}) {
        EXPECT_FALSE(MacAddress::parse(bad).has_value()) << bad;
    }
}

TEST(MacAddress, formats_lowercase_and_round_trips) {
    const MacAddress mac{{0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x5e}};
    EXPECT_EQ(mac.to_string(), "00:1b:21:3a:4f:5e");
    EXPECT_EQ(MacAddress::parse(mac.to_string()), mac);
    EXPECT_EQ(MacAddress::broadcast().to_string(), "ff:ff:ff:ff:ff:ff");
}

TEST(MacAddress, classifies_broadcast_multicast_and_zero) {
    EXPECT_TRUE(MacAddress::broadcast().is_broadcast());
    EXPECT_TRUE(MacAddress::broadcast().is_multicast());  // the group bit is set in ff
    EXPECT_TRUE(MacAddress{}.is_zero());
    const MacAddress unicast{{0x52, 0x54, 0x00, 0x12, 0x34, 0x56}};
    EXPECT_FALSE(unicast.is_multicast());
    EXPECT_FALSE(unicast.is_broadcast());
    EXPECT_FALSE(unicast.is_zero());
}

TEST(MacAddress, maps_ipv4_group_to_low_23_bits) {
    // RFC 1112 §6.4: 239.129.2.3 and 239.1.2.3 share 01:00:5e:01:02:03.
    const MacAddress expect{{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}};
    EXPECT_EQ(MacAddress::for_ipv4_multicast(Ipv4Address::from_octets(239, 129, 2, 3).value), expect);
    EXPECT_EQ(MacAddress::for_ipv4_multicast(Ipv4Address::from_octets(239, 1, 2, 3).value), expect);
    EXPECT_TRUE(expect.is_multicast());
}

TEST(Ipv4Address, parses_dotted_quad_into_host_order_value) {
    EXPECT_EQ(Ipv4Address::parse("10.0.0.1"), Ipv4Address{0x0a000001u});
    EXPECT_EQ(Ipv4Address::parse("192.168.1.10"), Ipv4Address::from_octets(192, 168, 1, 10));
    EXPECT_EQ(Ipv4Address::parse("0.0.0.0"), Ipv4Address{});
    EXPECT_EQ(Ipv4Address::parse("255.255.255.255"), Ipv4Address{0xffffffffu});
}

TEST(Ipv4Address, rejects_malformed_text) {
    for (const char* bad :
         {"", "1.2.3", "1.2.3.4.", "1.2.3.4.5", "256.0.0.1", "1.2.3.-4", "1..2.3", " 1.2.3.4", "1.2.3.4 ", "01.2.3.4",
          "1.2.3.00", "a.b.c.d", "1.2.3.4x", "+1.2.3.4", "4294967297.1.1.1"}) {
        EXPECT_FALSE(Ipv4Address::parse(bad).has_value()) << bad;
    }
}

TEST(Ipv4Address, formats_dotted_quad_and_round_trips) {
    const Ipv4Address a = Ipv4Address::from_octets(224, 0, 0, 22);
    EXPECT_EQ(a.to_string(), "224.0.0.22");
    EXPECT_EQ(Ipv4Address::parse(a.to_string()), a);
    EXPECT_EQ(Ipv4Address{}.to_string(), "0.0.0.0");
}

TEST(Ipv4Address, classifies_special_ranges) {
    EXPECT_TRUE(Ipv4Address::from_octets(224, 0, 0, 1).is_multicast());
    EXPECT_TRUE(Ipv4Address::from_octets(239, 255, 255, 255).is_multicast());
    EXPECT_FALSE(Ipv4Address::from_octets(240, 0, 0, 0).is_multicast());
    EXPECT_FALSE(Ipv4Address::from_octets(223, 255, 255, 255).is_multicast());
    EXPECT_TRUE(Ipv4Address{0xffffffffu}.is_broadcast());
    EXPECT_TRUE(Ipv4Address{}.is_unspecified());
    EXPECT_TRUE(Ipv4Address::from_octets(127, 0, 0, 1).is_loopback());
    EXPECT_FALSE(Ipv4Address::from_octets(128, 0, 0, 1).is_loopback());
}

TEST(Ipv4Address, orders_by_numeric_value) {
    EXPECT_LT(Ipv4Address::from_octets(9, 255, 255, 255), Ipv4Address::from_octets(10, 0, 0, 0));
    EXPECT_GT(Ipv4Address::from_octets(192, 168, 1, 10), Ipv4Address::from_octets(192, 168, 1, 9));
}

}  // namespace
}  // namespace kbnet::wire
