#include "feeder.hpp"

#include <cstring>

#include "kbnet/core/endian.hpp"
#include "kbnet/wire/checksum.hpp"

namespace kbnet::tools {
namespace {

constexpr std::uint8_t kSrcMac[6] = {0x02, 0, 0, 0, 0, 0x01};
constexpr std::uint8_t kDstMac[6] = {0x02, 0, 0, 0, 0, 0x02};

// Ethernet + IPv4 + UDP 10.0.0.1:9 -> 10.0.0.2:9 (discard), zero payload,
// with correct IPv4 and UDP checksums.
std::vector<std::uint8_t> make_frame(unsigned size) {
    std::vector<std::uint8_t> f(size, 0);
    std::memcpy(f.data(), kDstMac, 6);
    std::memcpy(f.data() + 6, kSrcMac, 6);
    store_be16(f.data() + 12, 0x0800);
    std::uint8_t* ip = f.data() + 14;
    const auto ip_len = static_cast<std::uint16_t>(size - 14);
    const std::uint32_t src = 0x0a000001, dst = 0x0a000002;
    ip[0] = 0x45;
    store_be16(ip + 2, ip_len);
    store_be16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 17;
    store_be32(ip + 12, src);
    store_be32(ip + 16, dst);
    store_be16(ip + 10, wire::internet_checksum({ip, 20}));
    std::uint8_t* udp = ip + 20;
    const auto udp_len = static_cast<std::uint16_t>(ip_len - 20);
    store_be16(udp, 9);
    store_be16(udp + 2, 9);
    store_be16(udp + 4, udp_len);
    std::uint16_t c =
        wire::sum_to_checksum(wire::checksum_sum({udp, udp_len}, wire::pseudo_header_sum(src, dst, 17, udp_len)));
    store_be16(udp + 6, c == 0 ? 0xffff : c);  // RFC 768: a computed 0 is sent as all ones
    return f;
}

}  // namespace

Feeder::Feeder(std::unique_ptr<port::Port> port, unsigned frame_size, unsigned burst)
    : port_(std::move(port)), frame_(make_frame(frame_size)), burst_(burst) {}

void Feeder::run() {
    std::vector<PacketHandle> pkts(burst_);
    const std::uint16_t queues = port_->queue_count();
    const BufferArea& area = port_->area();
    while (!stop_.load(std::memory_order_relaxed)) {
        for (std::uint16_t q = 0; q < queues; ++q) {
            // Send while the window has room.
            const std::uint64_t in_flight = stats_.sent - stats_.echoed - stats_.bad_echoes;
            if (in_flight + burst_ <= kWindow) {
                const std::uint16_t n = port_->alloc(q, pkts);
                for (std::uint16_t i = 0; i < n; ++i) {
                    std::memcpy(area.data(pkts[i]), frame_.data(), frame_.size());
                    pkts[i].length = static_cast<std::uint16_t>(frame_.size());
                }
                const std::uint16_t sent = port_->tx_burst(q, std::span<const PacketHandle>(pkts.data(), n));
                if (sent < n) port_->free(q, std::span<const PacketHandle>(pkts.data() + sent, n - sent));
                stats_.sent += sent;
            }
            // Take back the echoes.
            const std::uint16_t got = port_->rx_burst(q, pkts);
            for (std::uint16_t i = 0; i < got; ++i) {
                const std::uint8_t* d = area.data(pkts[i]);
                const bool swapped =
                    pkts[i].length >= 12 && std::memcmp(d, kSrcMac, 6) == 0 && std::memcmp(d + 6, kDstMac, 6) == 0;
                ++(swapped ? stats_.echoed : stats_.bad_echoes);
            }
            if (got > 0) port_->free(q, std::span<const PacketHandle>(pkts.data(), got));
        }
    }
}

}  // namespace kbnet::tools
