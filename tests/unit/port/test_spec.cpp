#include <gtest/gtest.h>

#include <string>

#include "kbnet/port/spec.hpp"

using kbnet::port::parse_port_spec;
using kbnet::port::PortError;
using kbnet::port::PortSpec;

namespace {

// The message of the PortError a spec raises, or "" if it parses.
std::string error_of(const std::string& text) {
    try {
        (void)parse_port_spec(text);
    } catch (const PortError& e) {
        return e.what();
    }
    return "";
}

}  // namespace

TEST(PortSpec, parses_kind_target_and_options_in_order) {
    const PortSpec s = parse_port_spec("pcap:in.pcap,out=out.pcap,format=ns");
    EXPECT_EQ(s.kind, "pcap");
    EXPECT_EQ(s.target, "in.pcap");
    ASSERT_EQ(s.options.size(), 2u);
    EXPECT_EQ(s.options[0].first, "out");
    EXPECT_EQ(s.options[0].second, "out.pcap");
    EXPECT_EQ(s.option("format").value(), "ns");
    EXPECT_FALSE(s.option("repeat").has_value());
}

TEST(PortSpec, target_may_contain_slashes_and_dots) {
    const PortSpec s = parse_port_spec("memif:/run/vpp/memif.sock,role=client,id=3");
    EXPECT_EQ(s.target, "/run/vpp/memif.sock");
    EXPECT_EQ(s.uint_or("id", 0, 0, 255), 3u);
}

TEST(PortSpec, dpdk_keeps_commas_of_eal_arguments_in_target) {
    const PortSpec s = parse_port_spec("dpdk:--vdev=net_memif0,role=server");
    EXPECT_EQ(s.target, "--vdev=net_memif0,role=server");
    EXPECT_TRUE(s.options.empty());
}

TEST(PortSpec, fault_wraps_inner_spec_with_its_own_commas) {
    const PortSpec s = parse_port_spec("fault(drop=0.1,seed=7):pcap:a.pcap,out=b.pcap");
    EXPECT_EQ(s.kind, "fault");
    EXPECT_EQ(s.target, "pcap:a.pcap,out=b.pcap");
    EXPECT_DOUBLE_EQ(s.probability_or("drop", 0), 0.1);
    EXPECT_EQ(s.uint_or("seed", 0, 0, ~0ull), 7u);
}

TEST(PortSpec, unknown_kind_is_an_error_showing_the_grammar) {
    const std::string e = error_of("nic:eth0");
    EXPECT_NE(e.find("unknown port kind 'nic'"), std::string::npos) << e;
    EXPECT_NE(e.find("port spec grammar"), std::string::npos) << e;
    EXPECT_NE(e.find("afxdp:IFACE"), std::string::npos) << e;
}

TEST(PortSpec, malformed_specs_are_errors_that_say_what_is_wrong) {
    EXPECT_NE(error_of("").find("empty spec"), std::string::npos);
    EXPECT_NE(error_of("pcap").find("expected KIND:TARGET"), std::string::npos);
    EXPECT_NE(error_of("pcap:").find("needs IN"), std::string::npos);
    EXPECT_NE(error_of("pcap:,out=x").find("needs IN"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,out").find("has no value"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,out=").find("needs a key and a value"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,=x").find("needs a key and a value"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,out=x,").find("empty option"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,,out=x").find("empty option"), std::string::npos);
    EXPECT_NE(error_of("pcap:a,out=x,out=y").find("given twice"), std::string::npos);
    EXPECT_NE(error_of("fault(drop=0.1)").find("fault(OPTIONS):SPEC"), std::string::npos);
    EXPECT_NE(error_of("fault(drop=0.1):").find("inner port spec"), std::string::npos);
    EXPECT_NE(error_of("fault:pcap:a").find("unknown port kind 'fault'"), std::string::npos);
}

TEST(PortSpec, option_of_another_kind_is_rejected_with_the_allowed_list) {
    const std::string e = error_of("pair:x,out=y");
    EXPECT_NE(e.find("unknown option 'out' for pair"), std::string::npos) << e;
    EXPECT_NE(e.find("allowed: queues, depth"), std::string::npos) << e;
}

TEST(PortSpec, fault_validates_its_inner_spec) {
    EXPECT_NE(error_of("fault(drop=0.1):nic:x").find("unknown port kind 'nic'"), std::string::npos);
    EXPECT_NE(error_of("fault(bogus=1):pair:x").find("unknown option 'bogus' for fault"), std::string::npos);
}

TEST(PortSpec, typed_readers_enforce_ranges_and_forms) {
    const PortSpec s = parse_port_spec("afxdp:eth0,queues=70,mode=turbo,busy_poll=x");
    EXPECT_THROW((void)s.uint_or("queues", 1, 1, 64), PortError);
    EXPECT_THROW((void)s.uint_or("busy_poll", 0, 0, 1000), PortError);
    EXPECT_THROW((void)s.choice_or("mode", "auto", {"auto", "copy", "zc"}), PortError);
    EXPECT_EQ(s.uint_or("absent", 5, 1, 10), 5u);
    EXPECT_EQ(s.choice_or("absent", "auto", {"auto"}), "auto");
    try {
        (void)s.choice_or("mode", "auto", {"auto", "copy", "zc"});
    } catch (const PortError& e) {
        EXPECT_NE(std::string(e.what()).find("must be one of auto|copy|zc"), std::string::npos) << e.what();
    }
}

TEST(PortSpec, probabilities_outside_zero_to_one_are_rejected) {
    EXPECT_THROW((void)parse_port_spec("fault(drop=1.5):pair:x").probability_or("drop", 0), PortError);
    EXPECT_THROW((void)parse_port_spec("fault(drop=-0.1):pair:x").probability_or("drop", 0), PortError);
    EXPECT_THROW((void)parse_port_spec("fault(drop=nan):pair:x").probability_or("drop", 0), PortError);
    EXPECT_THROW((void)parse_port_spec("fault(drop=0.5x):pair:x").probability_or("drop", 0), PortError);
    EXPECT_DOUBLE_EQ(parse_port_spec("fault(drop=1):pair:x").probability_or("drop", 0), 1.0);
}
