#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>

#include "kbnet/core/cpu.hpp"

using kbnet::parse_cpu_list;

TEST(CpuList, parses_singles_and_ranges_in_order) {
    EXPECT_EQ(parse_cpu_list("0"), (std::vector<unsigned>{0}));
    EXPECT_EQ(parse_cpu_list("0-3,6,8-9"), (std::vector<unsigned>{0, 1, 2, 3, 6, 8, 9}));
    EXPECT_EQ(parse_cpu_list("5,1"), (std::vector<unsigned>{5, 1}));
}

TEST(CpuList, rejects_malformed_lists_with_the_expected_format) {
    for (const char* bad : {"", ",", "1,", "a", "1-", "-1", "3-1", "1,1", "0-2,2", "99999", "1 2"}) {
        try {
            (void)parse_cpu_list(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const std::invalid_argument& e) {
            EXPECT_NE(std::string(e.what()).find("expected e.g. 0-3,6,8-9"), std::string::npos) << e.what();
        }
    }
}

TEST(CpuPin, pins_to_an_allowed_cpu_and_runs_there) {
    const auto cpus = kbnet::allowed_cpus();
    ASSERT_FALSE(cpus.empty());
    std::thread t([&] {
        const unsigned target = cpus.back();
        ASSERT_TRUE(kbnet::pin_current_thread(target).ok());
        EXPECT_EQ(kbnet::current_cpu(), target);
    });
    t.join();
}

TEST(CpuPin, refuses_a_cpu_outside_the_set_with_a_reason) {
    const kbnet::Status s = kbnet::pin_current_thread(100000);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), kbnet::Errc::invalid_argument);
    EXPECT_NE(std::string(s.error().reason), "");
}
