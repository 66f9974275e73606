// sockperf's server rule: reply to pong requests with the client bit cleared.
#include "sockperf_message.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>

namespace kbnet::tools {
namespace {

// A ping-pong request as sockperf 3.7 sends it: sequence 0x0102030405060708,
// flags client|pong (0x0003), length 64, then payload.
std::array<std::uint8_t, 64> request(std::uint16_t flags) {
    std::array<std::uint8_t, 64> m{};
    const std::uint8_t head[14] = {1, 2, 3, 4, 5, 6, 7, 8, static_cast<std::uint8_t>(flags >> 8),
                                   static_cast<std::uint8_t>(flags), 0, 0, 0, 64};  // length 64: the whole datagram
    for (std::size_t i = 0; i < 14; ++i) m[i] = head[i];
    for (std::size_t i = 14; i < m.size(); ++i) m[i] = static_cast<std::uint8_t>(i);
    return m;
}

TEST(SockperfMessage, pong_request_is_answered_with_the_client_bit_cleared_and_nothing_else_changed) {
    auto m = request(0x0003);
    const auto before = m;
    ASSERT_EQ(sockperf_serve(m), SockperfAction::reply);
    EXPECT_EQ(m[8], 0x00);
    EXPECT_EQ(m[9], 0x02) << "pong bit kept, client bit cleared";
    for (std::size_t i = 0; i < m.size(); ++i) {
        if (i != 9) {
            EXPECT_EQ(m[i], before[i]) << "byte " << i;
        }
    }
}

TEST(SockperfMessage, warmup_pong_requests_are_answered_too) {
    auto m = request(0x0007);
    ASSERT_EQ(sockperf_serve(m), SockperfAction::reply);
    EXPECT_EQ(m[9], 0x06);
}

TEST(SockperfMessage, no_reply_without_pong_request_or_to_a_server_message) {
    auto throughput = request(0x0001);
    EXPECT_EQ(sockperf_serve(throughput), SockperfAction::ignore);
    EXPECT_EQ(throughput[9], 0x01) << "unchanged";
    auto from_server = request(0x0002);
    EXPECT_EQ(sockperf_serve(from_server), SockperfAction::ignore);
}

TEST(SockperfMessage, request_is_recognised_by_its_length_field_and_client_bit) {
    EXPECT_TRUE(is_sockperf_request(request(0x0003)));
    EXPECT_TRUE(is_sockperf_request(request(0x0001)));
    EXPECT_FALSE(is_sockperf_request(request(0x0002))) << "a server's reply";
    auto other_length = request(0x0003);
    other_length[13] = 65;
    EXPECT_FALSE(is_sockperf_request(other_length)) << "arbitrary bytes with the client bit set are not sockperf";
    std::array<std::uint8_t, 13> shorter{};
    EXPECT_FALSE(is_sockperf_request(shorter));
}

TEST(SockperfMessage, datagram_shorter_than_the_header_is_invalid) {
    std::array<std::uint8_t, 13> m{};
    m[9] = 3;
    EXPECT_EQ(sockperf_serve(m), SockperfAction::invalid);
}

}  // namespace
}  // namespace kbnet::tools
